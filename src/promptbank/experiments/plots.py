"""Figures (PNG, matplotlib's Agg backend): similarity/transfer heatmaps and convergence curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from promptbank.atomic import atomic_file

ANNOTATE_MAX, LABEL_MAX, MAX_INCHES = 15, 60, 24.0


def _save(figure: Figure, path: Path) -> None:
    """PNG written beside `path` and renamed into place: a reader never sees half a figure."""
    with atomic_file(path) as out:
        figure.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def heatmap(matrix: Sequence[Sequence[float]], row_labels: Sequence[str], col_labels: Sequence[str], title: str,
            value_label: str, path: Path) -> None:
    """A heatmap with a colour bar. Cells are annotated when the matrix is at most ANNOTATE_MAX × ANNOTATE_MAX
    (NaN cells stay blank) and rows/columns are labelled up to LABEL_MAX; larger matrices (a whole bank) get
    index ticks and a capped figure size, so any size can be drawn."""
    rows, cols = len(row_labels), len(col_labels)
    annotate = rows <= ANNOTATE_MAX and cols <= ANNOTATE_MAX
    cell = 0.75 if annotate else 0.3  # inches per column: room for a "0.00" annotation, else for a label
    figure, axes = plt.subplots(figsize=(min(MAX_INCHES, max(4.0, cell * cols + 3)),
                                         min(MAX_INCHES, max(3.0, 0.4 * rows + 1.5))))
    image = axes.imshow(matrix, cmap="viridis", aspect="auto", interpolation="nearest")
    if cols <= LABEL_MAX:
        axes.set_xticks(range(cols), labels=col_labels, rotation=40, ha="right", rotation_mode="anchor")
    if rows <= LABEL_MAX:
        axes.set_yticks(range(rows), labels=row_labels)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label=value_label)
    if annotate:
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                if not math.isnan(value):  # dark text on the bright end of the colour map, light on the dark end
                    color = "black" if image.norm(value) > 0.6 else "white"
                    axes.text(j, i, f"{value:.2f}", ha="center", va="center", color=color, fontsize=8)
    _save(figure, path)


def curves(panels: dict[str, dict[str, tuple[Sequence[float], Sequence[float]]]], title: str, x_label: str,
           y_label: str, path: Path) -> None:
    """One panel per entry of `panels` (two to a row), one line per named (x, y) series in it:
    e.g. dev accuracy by training step for each init, a panel per target task."""
    columns = min(2, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(6.5 * columns, 4 * rows), squeeze=False,
                                layout="constrained")
    for axes, (panel, series) in zip(grid.flat, panels.items()):
        for name, (x, y) in series.items():
            axes.plot(x, y, marker="o", markersize=3, label=name)
        axes.set(title=panel, xlabel=x_label, ylabel=y_label)
        axes.grid(alpha=0.3)
        axes.legend()
    for axes in list(grid.flat)[len(panels):]:
        axes.set_visible(False)
    figure.suptitle(title)
    _save(figure, path)
