"""Plots for a run: confusion matrices and training curves (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(report: dict, path: Path, title: str = "") -> Path:
    """Window- and clip-level confusion matrices side by side, counts and row-normalised colour."""
    plt = _pyplot()
    names = report["class_names"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, level in zip(axes, ("window", "clip")):
        r = report[level]
        draw_confusion(ax, r["confusion_matrix"], names,
                       f"per {level}: acc {r['accuracy']:.1%}, UAR {r['uar']:.1%}, F1 {r['macro_f1']:.2f}")
    return _save(plt, fig, path, title)


def draw_confusion(ax, matrix, names, title: str) -> None:
    """One confusion matrix on ``ax``: counts and row-normalised colour (rows = truth)."""
    cm = np.asarray(matrix, float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)


def plot_history(history: dict, path: Path, title: str = "") -> Path:
    """Loss and accuracy/UAR per epoch for train and validation."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            left.plot(epochs, history[key], style, label=key)
    for key, style in (("accuracy", "-"), ("val_accuracy", "--"), ("val_uar", ":")):
        if key in history:
            right.plot(epochs, history[key], style, label=key)
    left.set_title("loss")
    right.set_title("accuracy / UAR")
    best = int(np.argmax(history["val_uar"])) + 1 if history.get("val_uar") else None
    for ax in (left, right):
        if best:
            ax.axvline(best, color="grey", lw=0.8, ls="--", label=f"kept: epoch {best}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(plt, fig, path, title)


def _save(plt, fig, path: Path, title: str) -> Path:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_layer_profile(layers: list[dict], path: Path, title: str = "") -> Path:
    """Per-layer bars of a network profile: executed instructions and estimated cycles."""
    plt = _pyplot()
    names = [f"{r['name']}" for r in layers]
    instr = np.array([r.get("instructions") or 0 for r in layers], float)
    cycles = np.array([r.get("estimated_cycles") or 0 for r in layers], float)
    x = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(layers) + 2), 4.2))
    ax.bar(x - 0.2, instr / 1e3, 0.4, label="instructions (emulator)")
    ax.bar(x + 0.2, cycles / 1e3, 0.4, label="cycles (estimate)")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("thousands per inference")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, Path(path), title)
