"""Commands that describe what is installed: bundled backbones, built-in tasks, the task data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from promptbank.cli.app import app, console
from promptbank.errors import BadArgumentError, DataError


@app.command()
def backbones() -> None:
    """List the bundled backbones (any local Hugging Face model directory or id also works)."""
    from promptbank.backbones import BUILTIN, DEFAULT_BACKBONE
    from promptbank.tuning.config import recipe_for
    table = Table("name", "model", "licence", "lr", "warmup")
    for name, bundled in BUILTIN.items():
        recipe = recipe_for(name)
        table.add_row(name + (" (default)" if name == DEFAULT_BACKBONE else ""), bundled.description, bundled.licence,
                      f"{recipe.lr:g}", f"{recipe.warmup:g}")
    console.print(table)


@app.command()
def tasks() -> None:
    """List the built-in tasks with their format, classes and split sizes."""
    from promptbank.tasks import get_task, split, task_names
    table = Table("task", "category", "format", "classes", "train", "validation", "test")
    for column in table.columns[:3]:
        column.no_wrap = True
    missing = []
    for name in task_names():
        try:
            task = get_task(name)
        except DataError:  # its source archive was not fetched
            missing.append(name)
            continue
        parts = split(task)
        classes = " / ".join(task.verbalizer) if task.verbalizer else f"{len(task.labels)} choices per example"
        table.add_row(name, task.category, task.format, classes, *(str(len(s)) for s in
                                                                (parts.train, parts.validation, parts.test)))
    console.print(table)
    if missing:
        console.print(f"Without their data (see `promptbank fetch-data`): {', '.join(missing)}.")


@app.command("fetch-data")
def fetch_data(
    archives: Annotated[Path | None, typer.Option(help="A folder holding source archives (e.g. "
                                                       "bigbench-1.0.0.tar.gz) to use instead of downloading them.")]
    = None,
) -> None:
    """Download the data archives the built-in tasks need and extract only the files they use.

    An archive that cannot be had leaves its tasks unavailable and is reported; the other tasks are ready.
    """
    from promptbank.tasks.builtin import ARCHIVE_OF
    from promptbank.tasks.sources import data_dir
    from promptbank.tasks.sources import fetch_data as fetch
    if archives is not None and not archives.is_dir():
        raise BadArgumentError(f"--archives {archives} is not a folder.")
    unavailable = fetch(archives)
    for archive, why in unavailable.items():
        tasks = [task for task, source in ARCHIVE_OF.items() if source == archive]
        console.print(f"[yellow]{archive} is not available[/]: {why}\n  Unavailable until it is supplied "
                      f"(`promptbank fetch-data --archives DIR`): {', '.join(tasks)}.")
    console.print(f"task data {'partly ' if unavailable else ''}ready in {data_dir()}")
