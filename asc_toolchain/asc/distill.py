"""Knowledge distillation: a small student learns from a larger teacher's soft scores as well as
from the labels.

The loss of a training window is (1 - alpha) · CE(label, student) + alpha · T² · KL(teacher_T ‖
student_T), where p_T = softmax(log p / T) softens a model's probabilities p by the temperature T
(both families end in a softmax, so log p are their logits up to a constant that softmax drops).
The teacher's scores are computed on the same augmented batch the student sees, with its weights
frozen.

Where the teacher comes from:
- ``--distill FAMILY[:WIDTH[:DEPTH]]``: trained first on the same training split (in ``cv``, on
  each fold's training recordings), with the same scaler, recipe and early stopping; FAMILY is
  one of the deployable families or a teacher-only one (model.TEACHERS: EfficientNet-Lite0 from
  its ImageNet weights);
- ``--teacher RUN``: a trained stm32-asc run with the same classes and feature parameters; its
  own scaler is honoured (the student's standardised input is mapped to the teacher's).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ..core.errors import ConfigError

EPS = 1e-7


class Distiller(keras.Model):
    """Trains ``student`` against labels and the frozen ``teacher``; predicts with the student.

    ``gain``/``bias`` (arrays shaped like one input, or None) map the student's standardised input
    to the teacher's: x_teacher = x · gain + bias."""

    def __init__(self, student, teacher, alpha: float, temperature: float, gain=None, bias=None):
        super().__init__(name="distiller")
        self.student, self.teacher = student, teacher
        self.teacher.trainable = False
        self.alpha, self.temperature = float(alpha), float(temperature)
        self.gain = None if gain is None else ops.convert_to_tensor(np.asarray(gain, np.float32))
        self.bias = None if bias is None else ops.convert_to_tensor(np.asarray(bias, np.float32))

    def call(self, x, training=False):
        return self.student(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        t = 1.0 / self.temperature
        teacher_x = x if self.gain is None else x * self.gain + self.bias
        teacher = ops.stop_gradient(self.teacher(teacher_x, training=False))
        soft_t = ops.softmax(ops.log(teacher + EPS) * t, axis=-1)
        log_s = ops.log_softmax(ops.log(y_pred + EPS) * t, axis=-1)
        kl = ops.sum(soft_t * (ops.log(soft_t + EPS) - log_s), axis=-1) * (self.temperature ** 2)
        hard = keras.losses.sparse_categorical_crossentropy(y, y_pred)
        loss = (1.0 - self.alpha) * hard + self.alpha * kl
        if sample_weight is not None:
            weight = ops.cast(ops.reshape(sample_weight, ops.shape(loss)), loss.dtype)
            return ops.sum(loss * weight) / ops.maximum(ops.sum(weight), EPS)
        return ops.mean(loss)


def parse_distill(text: str):
    """``FAMILY[:WIDTH[:DEPTH]]`` → (family, width or None, depth or None); ConfigError otherwise."""
    from .model import MODELS, TEACHERS

    parts = str(text).split(":")
    family = parts[0].strip()
    try:
        sizes = [int(p) for p in parts[1:]]
    except ValueError:
        sizes = [0]
    families = [m for m in (*MODELS, *TEACHERS) if m != "seed_cnn"]
    sized = len(parts) <= (1 if family in TEACHERS else 3)
    if family not in families or not sized or any(v < 1 for v in sizes):
        names = ", ".join(families)
        raise ConfigError(f"--distill {text!r}: expected FAMILY[:WIDTH[:DEPTH]] with a family of {names}",
                          "e.g. --distill inverted:32:4 (a teacher 32 wide, 4 blocks deep; "
                          "efficientnet_lite0 takes no size)")
    return family, *(sizes + [None, None])[:2]


def check_options(cfg: dict, params) -> None:
    """ConfigError for distillation options that cannot work (before any work): both teachers
    named, a --distill text that is not a family, a --teacher run of other features."""
    if cfg.get("teacher") and cfg.get("distill"):
        raise ConfigError("--teacher and --distill both name a teacher",
                          "give one: a trained run, or a family to train")
    if cfg.get("distill"):
        parse_distill(cfg["distill"])
    if cfg.get("teacher"):
        open_teacher(cfg["teacher"], params)


def teacher_cfg(cfg: dict) -> dict:
    """The training options of the ``--distill`` teacher: ``cfg`` with its family and size."""
    family, width, depth = parse_distill(cfg["distill"])
    return cfg | {"model": family, "width": width, "depth": depth, "distill": None, "teacher": None}


def open_teacher(path, params, classes=None):
    """The run at ``path``, checked as a teacher: ConfigError unless its feature parameters (and,
    given, its classes) are this training's."""
    from .run import open_asc_run

    run = open_asc_run(path)
    if classes is not None and list(run.class_names) != list(classes):
        raise ConfigError(f"--teacher {path}: its classes {', '.join(run.class_names)} are not these "
                          f"({', '.join(classes)})", "train the teacher on the same label map")
    theirs = run.feature_params
    if theirs != params:
        raise ConfigError(f"--teacher {path}: its features ({theirs.n_mels} mels x {theirs.n_columns} columns, "
                          f"n_fft {theirs.n_fft}) are not this training's",
                          "give the same --n-mels/--columns/--n-fft as the teacher's run")
    return run


def load_teacher(path, classes: list, params, scaler):
    """(the Keras model of the teacher run at ``path``, gain, bias): gain and bias map ``scaler``'s
    standardised input to the teacher's own."""
    run = open_teacher(path, params, classes)
    theirs = run.scaler()
    gain = (np.asarray(scaler.scale, np.float64) / np.asarray(theirs.scale, np.float64))[..., None]
    bias = ((np.asarray(scaler.mean, np.float64) - np.asarray(theirs.mean, np.float64))
            / np.asarray(theirs.scale, np.float64))[..., None]
    return run.load_keras(), gain, bias
