"""Tasks: the built-in ones (real data from PyPI packages) and user tasks from a JSON spec file."""

from __future__ import annotations

from pathlib import Path

from promptbank.tasks.builtin import BUILTIN, load_builtin
from promptbank.tasks.files import load_spec
from promptbank.tasks.task import Example, Task, few_shot, fingerprint, split

__all__ = ["Task", "Example", "split", "few_shot", "fingerprint", "get_task", "task_names"]


def get_task(name_or_path: str) -> Task:
    """A built-in task by name, or a user task from the path of its .json spec file."""
    if name_or_path not in BUILTIN and Path(name_or_path).suffix.lower() == ".json":
        return load_spec(name_or_path)
    return load_builtin(name_or_path)


def task_names() -> tuple[str, ...]:
    """The built-in task names, grouped by category."""
    return tuple(BUILTIN)
