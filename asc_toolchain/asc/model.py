"""The seed CNN for 30×32 log-mel inputs and its training.

Conv2D 16 3×3 relu → MaxPool 2 → Conv2D 16 3×3 relu → MaxPool 2 → Flatten → Dense 9 relu →
Dense 3 softmax: 7,703 parameters for three classes (SPEC §5).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """Shape of the seed CNN; the defaults are the seed's."""

    filters: tuple[int, int] = (16, 16)
    dense_units: int = 9
    n_mels: int = 30
    n_columns: int = 32
    n_classes: int = 3


def build_seed_cnn(spec: ModelSpec = ModelSpec()):
    """Return the uncompiled Keras model for ``spec`` (input H×W×1 = n_mels×n_columns×1)."""
    import keras
    from keras import layers

    model = keras.Sequential(name="asc_cnn")
    model.add(keras.Input(shape=(spec.n_mels, spec.n_columns, 1), name="logmel"))
    for i, n in enumerate(spec.filters):
        model.add(layers.Conv2D(n, 3, activation="relu", name=f"conv{i + 1}"))
        model.add(layers.MaxPooling2D(2, name=f"pool{i + 1}"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(spec.dense_units, activation="relu", name="dense1"))
    model.add(layers.Dense(spec.n_classes, activation="softmax", name="scores"))
    return model
