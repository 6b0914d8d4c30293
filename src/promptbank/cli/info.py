"""Commands that describe what is installed: bundled backbones, built-in tasks, the task data."""

from __future__ import annotations

from rich.table import Table

from promptbank.cli.app import app, console


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
    for name in task_names():
        task = get_task(name)
        parts = split(task)
        classes = " / ".join(task.verbalizer) if task.verbalizer else f"{len(task.labels)} choices per example"
        table.add_row(name, task.category, task.format, classes, *(str(len(s)) for s in
                                                                (parts.train, parts.validation, parts.test)))
    console.print(table)


@app.command("fetch-data")
def fetch_data() -> None:
    """Download the data archives the built-in tasks need and extract only the files they use."""
    from promptbank.tasks.sources import fetch_data as fetch
    console.print(f"task data ready in {fetch()}")


