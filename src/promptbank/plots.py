"""Figures (PNG, matplotlib's Agg backend): similarity/transfer heatmaps and convergence curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from promptbank.atomic import atomic_file  # noqa: E402


def _save(figure, path: Path) -> None:
    with atomic_file(path) as out:
        figure.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def heatmap(matrix: Sequence[Sequence[float]], row_labels: Sequence[str], col_labels: Sequence[str], title: str,
            value_label: str, path: Path) -> None:
    """A labelled heatmap; cells are annotated when the matrix is at most 15 × 15 (NaN cells stay blank)."""
    rows, cols = len(row_labels), len(col_labels)
    figure, axes = plt.subplots(figsize=(max(4.0, 1.1 * cols + 2.5), max(3.0, 0.45 * rows + 1.5)))
    image = axes.imshow(matrix, cmap="viridis", aspect="auto")
    axes.set_xticks(range(cols), labels=col_labels, rotation=35, ha="right")
    axes.set_yticks(range(rows), labels=row_labels)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label=value_label)
    if rows <= 15 and cols <= 15:
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                if not math.isnan(value):  # dark text on the bright end of the colour map, light on the dark end
                    color = "black" if image.norm(value) > 0.6 else "white"
                    axes.text(j, i, f"{value:.2f}", ha="center", va="center", color=color, fontsize=8)
    _save(figure, path)


def curves(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, x_label: str, y_label: str,
           path: Path) -> None:
    """One line per named (x, y) series, e.g. dev accuracy by training step for each init."""
    figure, axes = plt.subplots(figsize=(6.5, 4))
    for name, (x, y) in series.items():
        axes.plot(x, y, marker="o", markersize=3, label=name)
    axes.set(title=title, xlabel=x_label, ylabel=y_label)
    axes.grid(alpha=0.3)
    axes.legend()
    _save(figure, path)
