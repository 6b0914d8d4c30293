"""Tasks: the built-in ones (real data from PyPI packages) and user tasks from a JSON spec file."""

from __future__ import annotations

from pathlib import Path

from promptbank.tasks.builtin import BUILTIN, CATEGORY_OF, load_builtin
from promptbank.tasks.files import load_spec
from promptbank.tasks.task import CHOICE_SCORINGS, Example, Task, few_shot, fingerprint, scored_as, split

__all__ = ["Example", "Task", "base_task", "check_task", "few_shot", "fingerprint", "get_task", "split",
           "task_category", "task_names"]


def _scoring_suffix(name_or_path: str) -> tuple[str, str | None]:
    """`name:letters` → (name, letters): the task, and how its choices are scored when the name says."""
    base, sep, scoring = name_or_path.rpartition(":")
    return (base, scoring) if sep and scoring in CHOICE_SCORINGS else (name_or_path, None)


def base_task(name_or_path: str) -> str:
    """The task a name refers to, whatever its choice scoring (a target's own prompt is its task's, however scored)."""
    return _scoring_suffix(name_or_path)[0]


def get_task(name_or_path: str) -> Task:
    """A built-in task by name, or a user task from the path of its .json spec file; either may end in
    `:sum`, `:mean` or `:letters`, how its choices are scored (tasks.task.scored_as)."""
    base, scoring = _scoring_suffix(name_or_path)
    if scoring is not None:
        return scored_as(get_task(base), scoring)
    if name_or_path not in BUILTIN and Path(name_or_path).suffix.lower() == ".json":
        return load_spec(name_or_path)
    return load_builtin(name_or_path)


def task_names() -> tuple[str, ...]:
    """The built-in task names, grouped by category."""
    return tuple(BUILTIN)


def check_task(name_or_path: str) -> None:
    """Refuse an unknown task name or a bad spec file, without reading a built-in task's data (a source whose
    prompt comes from a bank needs none)."""
    if base_task(name_or_path) not in BUILTIN:
        get_task(name_or_path)


def task_category(name_or_path: str) -> str:
    """A task's category; a built-in task's is known without its data."""
    if base_task(name_or_path) in CATEGORY_OF:
        return CATEGORY_OF[base_task(name_or_path)]
    return get_task(name_or_path).category
