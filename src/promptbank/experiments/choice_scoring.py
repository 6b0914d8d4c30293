"""How to score a choice among candidates, measured: each multiple-choice task's bare template (no prompt) under
every mode of `tasks.task.CHOICE_SCORINGS` on its validation and test splits, and the mode validation prefers.

Summed log-likelihood favours short answers whatever they say; the mean per token removes the length; PPT's
lettered form lists the options and scores one letter, so every option costs the same. Which reads a backbone best
is measured, not assumed, and chosen on validation only. Tasks are saved as they finish (a stopped run continues).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from promptbank import scoring
from promptbank.backbones import dtype_name, load_backbone
from promptbank.errors import BadArgumentError
from promptbank.experiments.folder import ExperimentFolder
from promptbank.scoring.evaluate import template_accuracy
from promptbank.tasks import get_task, split
from promptbank.tasks.task import CHOICE_SCORINGS, scored_as

SPLITS = ("validation", "test")


@dataclass(frozen=True)
class ChoiceScoringSpec:
    backbone: str
    tasks: tuple[str, ...]
    test_size: int = 1000
    dtype: str = "auto"

    def __post_init__(self) -> None:
        if not self.tasks:
            raise BadArgumentError("Measuring choice scoring needs at least one task.")
        if self.test_size <= 0:
            raise BadArgumentError(f"--test-size must be positive, not {self.test_size}.")
        object.__setattr__(self, "dtype", dtype_name(self.dtype))


def measure_task(spec: ChoiceScoringSpec, name: str) -> dict:
    """One task: its template's accuracy under each mode on each split, chance (1 / mean options), and the mode
    with the best validation accuracy (the first of CHOICE_SCORINGS on a tie)."""
    backbone = load_backbone(spec.backbone, spec.dtype)
    task = get_task(name)
    parts = split(task)
    examples = {"validation": parts.validation, "test": parts.test[:spec.test_size]}
    accuracy = {mode: {part: template_accuracy(backbone, scoring.encode(backbone, scored_as(task, mode), chosen))
                       for part, chosen in examples.items()} for mode in CHOICE_SCORINGS}
    chance = sum(1 / len(task.options(ex)) for ex in examples["test"]) / len(examples["test"])
    chosen = max(CHOICE_SCORINGS, key=lambda mode: (accuracy[mode]["validation"], -CHOICE_SCORINGS.index(mode)))
    return {"task": name, "examples": {part: len(chosen_) for part, chosen_ in examples.items()}, "chance": chance,
            "accuracy": accuracy, "chosen": chosen}


def run_choice_scoring(spec: ChoiceScoringSpec, out: Path, progress: bool = True,
                       run_missing: bool = True) -> list[dict]:
    """Measure (or continue measuring) every task, writing a unit per task and results.json; with `run_missing`
    off, only what --out holds is reported."""
    from tqdm.auto import tqdm

    for name in spec.tasks:
        get_task(name)
    folder = ExperimentFolder(out, spec, "a choice-scoring measurement", may_differ=("tasks",))
    results = []
    for name in tqdm(spec.tasks, desc="tasks", disable=not progress):
        unit = folder.load(f"tasks/{name}")
        if unit is None and run_missing:
            unit = folder.save(f"tasks/{name}", measure_task(spec, name))
        if unit is not None:
            results.append(unit)
    if results:
        folder.save("results", {"tasks": results})
    return results
