"""Tasks: the built-in ones (real data from PyPI packages) and user tasks from a JSON spec file."""

from __future__ import annotations

from pathlib import Path

from promptbank.tasks.builtin import BUILTIN, CATEGORY_OF, load_builtin
from promptbank.tasks.files import load_spec
from promptbank.tasks.task import Example, Task, few_shot, fingerprint, split

__all__ = ["Example", "Task", "check_task", "few_shot", "fingerprint", "get_task", "split", "task_category",
           "task_names"]


def get_task(name_or_path: str) -> Task:
    """A built-in task by name, or a user task from the path of its .json spec file."""
    if name_or_path not in BUILTIN and Path(name_or_path).suffix.lower() == ".json":
        return load_spec(name_or_path)
    return load_builtin(name_or_path)


def task_names() -> tuple[str, ...]:
    """The built-in task names, grouped by category."""
    return tuple(BUILTIN)


def check_task(name_or_path: str) -> None:
    """Refuse an unknown task name or a bad spec file, without reading a built-in task's data (a source whose
    prompt comes from a bank needs none)."""
    if name_or_path not in BUILTIN:
        get_task(name_or_path)


def task_category(name_or_path: str) -> str:
    """A task's category; a built-in task's is known without its data."""
    if name_or_path in CATEGORY_OF:
        return CATEGORY_OF[name_or_path]
    return get_task(name_or_path).category
