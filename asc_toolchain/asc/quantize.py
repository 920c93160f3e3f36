"""Full-integer int8 post-training quantization of a run's Keras model, checked with TFLite Micro.

`quantize(run)` writes RUN/model_int8.tflite (int8 input and output, batch fixed to 1, weights
per channel, calibrated on a seeded sample of standardized training windows) and
RUN/quant_report.json: float vs int8 accuracy and macro-F1 on the test split, the int8 side
computed by TFLite Micro's reference kernels (the golden reference), and how many test windows
change their argmax.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np

from ..core.errors import DataError, RunError, ToolMissingError
from ..core.quiet import quiet_native

TFLM_PACKAGE = "tflite-micro==0.dev20261023182759"
MODEL_FILE = "model_int8.tflite"
REPORT_FILE = "quant_report.json"


def fixed_batch_model(model):
    """A copy of ``model`` whose input batch is fixed to 1 (no SHAPE/STRIDED_SLICE/PACK ops)."""
    import keras

    shape = tuple(model.inputs[0].shape[1:])
    inp = keras.Input(shape=shape, batch_size=1, name=model.inputs[0].name.split(":")[0])
    clone = keras.models.clone_model(model, input_tensors=inp)
    clone.set_weights(model.get_weights())
    return clone


def convert_int8(model, representative: np.ndarray) -> bytes:
    """Convert a Keras model to full-integer int8 TFLite calibrated on ``representative``.

    ``representative`` holds float inputs (n, *input_shape) as the model sees them.
    """
    import tensorflow as tf

    fixed = fixed_batch_model(model)
    data = np.asarray(representative, np.float32).reshape((-1, *fixed.inputs[0].shape[1:]))

    def samples():
        for x in data:
            yield [x[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # The Keras export prints "Saved artifact at ..." on stdout, where --json output goes: it
    # goes to stderr, and only with -v (quiet_native keeps it for a failure otherwise).
    with quiet_native(), contextlib.redirect_stdout(sys.stderr):
        return converter.convert()


def tflm_runtime():
    """TFLite Micro's Python runtime; ToolMissingError naming the pinned package if absent."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise ToolMissingError("TFLite Micro (the int8 reference) is not installed",
                               f"pip install '{TFLM_PACKAGE}'") from None
    return runtime


def io_quantization(tflite: bytes) -> dict:
    """Input/output scale, zero point and shape of an int8 model, as TFLite Micro reads them.

    DataError if the bytes are not a TensorFlow Lite model.
    """
    data = bytes(tflite)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise DataError("model bytes: not a TensorFlow Lite model (no TFL3 identifier)",
                        "run `asc-tool quantize --run RUN` to produce model_int8.tflite")
    try:
        interp = tflm_runtime().Interpreter.from_bytes(data)
        i, o = interp.get_input_details(0), interp.get_output_details(0)
    except (RuntimeError, ValueError, TypeError, struct.error) as exc:
        raise DataError(f"model bytes: damaged TensorFlow Lite model ({exc})",
                        "quantize the run again") from None
    qi, qo = i["quantization_parameters"], o["quantization_parameters"]
    return {"input_scale": float(qi["scales"][0]), "input_zero_point": int(qi["zero_points"][0]),
            "output_scale": float(qo["scales"][0]), "output_zero_point": int(qo["zero_points"][0]),
            "input_shape": [int(v) for v in i["shape"]], "output_shape": [int(v) for v in o["shape"]]}


def quantize_input(x_std: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Quantize standardized features to the network's int8 input, as the C front end does.

    float32 ``x / scale``, rounded half away from zero (TFLite's rounding), plus the zero
    point, clamped to [-128, 127].
    """
    v = (np.asarray(x_std, np.float32) / np.float32(scale)).astype(np.float64)
    rounded = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))   # exact in float64
    return np.clip(rounded + int(zero_point), -128, 127).astype(np.int8)


def quantize_inputs(x_std: np.ndarray, tflite: bytes) -> np.ndarray:
    """Standardized float windows -> the int8 input tensors, exactly as the C front end does."""
    q = io_quantization(tflite)
    return quantize_input(x_std, q["input_scale"], q["input_zero_point"])


def tflm_outputs(tflite: bytes, x_int8: np.ndarray) -> np.ndarray:
    """Run TFLite Micro's reference interpreter on every int8 input; (n, outputs) int8."""
    interp = tflm_runtime().Interpreter.from_bytes(bytes(tflite))
    shape = tuple(int(s) for s in interp.get_input_details(0)["shape"])
    outs = []
    for x in np.asarray(x_int8, np.int8).reshape((-1, *shape[1:])):
        interp.set_input(x.reshape(shape), 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(outs) if outs else np.zeros((0, 0), np.int8)


def tflite_outputs(tflite: bytes, x_int8: np.ndarray) -> np.ndarray:
    """The stock TFLite interpreter's outputs (optimized kernels; may differ by 1 LSB)."""
    import tensorflow as tf

    with quiet_native():                # a deprecation warning and an XNNPACK line on stderr
        interp = tf.lite.Interpreter(model_content=bytes(tflite))
        interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    outs = []
    for x in np.asarray(x_int8, np.int8).reshape((-1, *inp["shape"][1:])):
        interp.set_tensor(inp["index"], x.reshape(inp["shape"]))
        interp.invoke()
        outs.append(interp.get_tensor(out["index"]).reshape(-1).copy())
    return np.stack(outs)


def representative_sample(x: np.ndarray, count: int = 300, seed: int = 0) -> np.ndarray:
    """A seeded sample of ``count`` windows (all of them if there are fewer)."""
    if len(x) <= count:
        return x
    idx = np.sort(np.random.default_rng(seed).choice(len(x), size=count, replace=False))
    return x[idx]


def quantize(run, representative_count: int = 300, seed: int = 0) -> Path:
    """Write RUN/model_int8.tflite and RUN/quant_report.json; return the model path."""
    from .pipeline import stream_index
    from ..core.runs import write_json

    tflm_runtime()                                   # fail before the slow part if missing
    if run.target != "stm32-asc":
        raise RunError(f"{run.path}: target {run.target!r} has no int8 microcontroller build",
                       "quantize runs trained with --target stm32-asc")
    max_s = run.manifest.get("training", {}).get("max_seconds")
    scaler, params = run.scaler(), run.feature_params
    # every recording is read before anything is written: a bad one stops here, not half-way
    test = stream_index(run.items("test"), run.class_names, params, max_s, desc="test")
    train = stream_index(run.items("train"), run.class_names, params, max_s, desc="calibration")
    chosen = representative_sample(np.arange(len(train)), representative_count, seed)
    calibration = scaler.transform(train.windows(chosen))
    del train
    model = run.load_keras()
    tflite = convert_int8(model, calibration[..., None])
    report = compare_float_int8(model, tflite, test, scaler, run.class_names)
    path = run.path / MODEL_FILE
    tmp = path.with_name(f".{MODEL_FILE}.tmp")
    tmp.write_bytes(tflite)
    tmp.replace(path)
    report.update(representative_windows=len(calibration),
                  representative_seed=seed, model_file=MODEL_FILE, model_bytes=len(tflite),
                  model_sha256=hashlib.sha256(tflite).hexdigest(), versions=versions())
    write_json(run.path / REPORT_FILE, report)
    return path


def compare_float_int8(model, tflite: bytes, index, scaler, class_names) -> dict:
    """Float (Keras) vs int8 (TFLite Micro) accuracy/macro-F1 and argmax changes per window of
    ``index`` (a pipeline.WindowIndex), standardised by ``scaler`` a chunk at a time."""
    from .pipeline import predict_scores, scaled_chunks
    from ..evaluate.metrics import scores_report

    y = index.y
    float_pred = predict_scores(model, index, scaler).argmax(axis=1)
    int8_pred = np.concatenate([tflm_outputs(tflite, quantize_inputs(x, tflite)).argmax(axis=1)
                                for _, x in scaled_chunks(index, scaler)])
    f, q = scores_report(y, float_pred, class_names), scores_report(y, int8_pred, class_names)
    changed = int(np.sum(float_pred != int8_pred))
    return {"split": "test", "n_windows": int(len(y)),
            "float": {k: f[k] for k in ("accuracy", "macro_f1", "uar")},
            "int8": {k: q[k] for k in ("accuracy", "macro_f1", "uar")},
            "int8_engine": "tflm",
            "argmax_changed": changed,
            "argmax_changed_pct": round(100.0 * changed / max(1, len(y)), 3),
            **io_quantization(tflite)}


def versions() -> dict:
    """Versions of the converter and the reference runtime used (TensorFlow under its own key
    whichever wheel, tensorflow or tensorflow-cpu, provides it)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for key, dists in (("tensorflow", ("tensorflow", "tensorflow-cpu")), ("keras", ("keras",)),
                       ("tflite-micro", ("tflite-micro",))):
        for dist in dists:
            try:
                out[key] = version(dist)
                break
            except PackageNotFoundError:
                continue
    return out
