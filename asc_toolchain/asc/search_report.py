"""The results of `asc-tool search` (asc/search.py): the Pareto set, the table (CSV and JSON)
and the Pareto plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..core.runs import write_json
from .search_budget import COLUMNS, SCORE_LEVEL, Budget


# status, marker, colour, legend; a stopped trial is drawn at its first inner fold's last
# validation UAR, an infeasible one (never trained) at 0
STYLES = (("complete", "o", "tab:blue", "complete: inner clip UAR"),
          ("stopped", "s", "tab:grey", "stopped early: first-fold validation UAR"),
          ("infeasible", "x", "tab:red", "infeasible (never trained)"))


def mark_pareto(rows: list, best: dict) -> None:
    """Set ``pareto`` (no complete trial is as good in all three objectives and better in one)
    and ``best`` on every row."""
    done = [r for r in rows if r["status"] == "complete"]
    for r in rows:
        r["pareto"] = r["status"] == "complete" and not any(_dominates(o, r) for o in done)
        r["best"] = r is best


def _dominates(a: dict, b: dict) -> bool:
    """``a`` is at least as good as ``b`` in all three objectives and better in one."""
    ge = (a["inner_clip_uar"] >= b["inner_clip_uar"] and a["instructions"] <= b["instructions"]
          and a["ram_bytes"] <= b["ram_bytes"])
    gt = (a["inner_clip_uar"] > b["inner_clip_uar"] or a["instructions"] < b["instructions"]
          or a["ram_bytes"] < b["ram_bytes"])
    return ge and gt


def write_table(rows: list, folder: Path) -> None:
    write_json(folder / "results.json", rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*COLUMNS, "pareto", "best"], extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in [*COLUMNS, "pareto", "best"]})
    (folder / "results.csv").write_text(buf.getvalue(), encoding="utf-8")


def plot_pareto(rows: list, budget: Budget, path: Path) -> Path:
    """Inner clip UAR against estimated instructions (left) and RAM (right); the Pareto set
    joined, the best marked, the other trials as STYLES says, and the budget lines."""
    from ..core.plots import _pyplot, _save

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    limits = {"instructions": budget.network_instructions_max(),
              "ram_bytes": budget.ram_bytes}
    for ax, key, label in ((axes[0], "instructions", "estimated network instructions per window"),
                           (axes[1], "ram_bytes", "estimated RAM (bytes)")):
        for status, marker, colour, legend in STYLES:
            pts = [r for r in rows if r["status"] == status and _finite(r.get(key))]
            if pts:
                ys = [r["inner_clip_uar"] if status == "complete" else r.get("val_uar") or 0.0 if status == "stopped"
                      else 0.0 for r in pts]
                ax.scatter([r[key] for r in pts], ys, marker=marker, c=colour, label=legend, alpha=0.8)
        front = sorted((r for r in rows if r.get("pareto")), key=lambda r: r[key])
        if front:
            ax.plot([r[key] for r in front], [r["inner_clip_uar"] for r in front], "-", c="tab:blue", lw=0.8)
        for r in rows:
            if r.get("best"):
                ax.scatter([r[key]], [r["inner_clip_uar"]], s=160, facecolors="none", edgecolors="k",
                           label=f"chosen: {r['family']} w{r['width']} d{r['depth']}")
        ax.axvline(limits[key], color="tab:red", ls="--", lw=0.8, label="budget")
        ax.set_xlabel(label)
        ax.set_ylabel(f"inner clip UAR ({SCORE_LEVEL})")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(plt, fig, path, f"model search on {budget.board.name}")


def _finite(v) -> bool:
    return v is not None and np.isfinite(float(v))
