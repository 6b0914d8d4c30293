"""The zero-shot transfer matrix (Su et al.): every source prompt of a bank, used as it is, on every task's test split.

A source prompt trained on one task is evaluated unchanged on another task's test examples (with that task's
template and answers). Beside it, every task gets two floors: the majority class and its template with no
prompt. The diagonal (a source on its own task) is the native score the off-diagonal cells are read against.
Columns (tasks) are saved as they finish, so a stopped run continues where it was.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from promptbank import scoring
from promptbank.atomic import write_atomic
from promptbank.backbones import dtype_name, load_backbone
from promptbank.bank import PromptBank
from promptbank.errors import BadArgumentError, DataError
from promptbank.experiments.folder import ExperimentFolder
from promptbank.scoring.evaluate import accuracy_of_many, template_accuracy
from promptbank.scoring.metrics import majority_accuracy
from promptbank.tasks import get_task, split, task_category

LEARNABLE_MARGIN = 0.05  # a task is learnable when some prompt beats its majority class by this much


@dataclass(frozen=True)
class ZeroShotSpec:
    backbone: str
    tasks: tuple[str, ...]  # the columns: every task the sources are tried on
    test_size: int = 1000
    prompt_length: int = 20
    dtype: str = "auto"

    def __post_init__(self) -> None:
        if not self.tasks:
            raise BadArgumentError("The zero-shot matrix needs at least one task.")
        if self.test_size <= 0:
            raise BadArgumentError(f"--test-size must be positive, not {self.test_size}.")
        object.__setattr__(self, "dtype", dtype_name(self.dtype))


def bank_sources(bank: PromptBank, backbone: str, length: int) -> tuple[torch.Tensor, list]:
    """The bank's source prompts of a backbone (tagged "source"), one per task, in task order."""
    first: dict[str, object] = {}
    for record in bank.list(backbone=backbone, tag="source"):  # oldest first: the first prompt of each task
        if record.length >= length:
            first.setdefault(record.task, record)
    if not first:
        raise DataError(f"The bank at {bank.root} has no source prompts of backbone {backbone!r} with at least "
                        f"{length} tokens; build them with `promptbank bank build`.")
    prompts, records = bank.stack(backbone, ids=[r.id for r in first.values()], length_policy="truncate", length=length)
    order = sorted(range(len(records)), key=lambda i: records[i].task)
    return prompts[order], [records[i] for i in order]


def score_column(spec: ZeroShotSpec, prompts: torch.Tensor, tasks_of_sources: list[str], task_name: str,
                 progress: bool = False) -> dict:
    """One task's column: every source's test accuracy, the majority class and the bare template."""
    backbone = load_backbone(spec.backbone, spec.dtype)
    task = get_task(task_name)
    parts = split(task)
    test = parts.test[:spec.test_size]
    items = scoring.encode(backbone, task, test)
    accuracy = accuracy_of_many(backbone, prompts, items, progress=progress and f"{task_name}: sources").tolist()
    return {"task": task_name, "category": task.category, "test_examples": len(test),
            "majority": majority_accuracy([ex.label for ex in parts.train], [ex.label for ex in test]),
            "template": template_accuracy(backbone, items),
            "zero_shot": dict(zip(tasks_of_sources, accuracy))}


def with_categories(data: dict) -> dict:
    """A column, a source or a summary as written now: files written before call a task's category its kind
    (keys "kind", "..._same_kind", "..._other_kind")."""
    renamed = {}
    for key, value in data.items():
        if key == "kind":
            key = "category"
        elif key.endswith(("_same_kind", "_other_kind")):
            key = key.removesuffix("_kind") + "_category"
        renamed[key] = value
    return renamed


def summarize(columns: list[dict], categories_of_sources: dict[str, str]) -> dict:
    """Native scores, and the mean zero-shot score of same-category and other-category (source, task) pairs: raw,
    relative to the task's native score (Su et al.'s relative performance) where the bank has a native prompt, and
    over the two floors a prompt must clear to have added anything (the majority class and the template with no
    prompt). The floors are also given over the learnable tasks only (those where some prompt, the task's own
    included, scores `LEARNABLE_MARGIN` over the majority class): tasks that no prompt learns sit at chance in every
    row and would make any transfer look like it "falls to chance"."""
    native = {c["task"]: c["zero_shot"][c["task"]] for c in columns if c["task"] in c["zero_shot"]}
    learnable = [c["task"] for c in columns if max(c["zero_shot"].values()) >= c["majority"] + LEARNABLE_MARGIN]
    pairs = [("same" if categories_of_sources[source] == c["category"] else "other", c, value)
             for c in columns for source, value in c["zero_shot"].items() if source != c["task"]]
    mean = lambda values: sum(values) / len(values) if values else None
    summary = {"native": native, "learnable_margin": LEARNABLE_MARGIN, "learnable_tasks": learnable}
    for group in ("same", "other"):
        mine = [(c, value) for g, c, value in pairs if g == group]
        summary |= {f"mean_{group}_category": mean([v for _, v in mine]),
                    f"relative_{group}_category": mean([v / native[c["task"]] for c, v in mine
                                                        if native.get(c["task"], 0) > 0])}
        for prefix, chosen in (("", mine), ("learnable_", [(c, v) for c, v in mine if c["task"] in learnable])):
            summary |= {f"{prefix}pairs_{group}_category": len(chosen),
                        f"{prefix}over_majority_{group}_category": mean([v - c["majority"] for c, v in chosen]),
                        f"{prefix}over_template_{group}_category": mean([v - c["template"] for c, v in chosen])}
    return summary


# A summary's same-category / other-category means, as (label, key) pairs: what the report and the CLI print.
SUMMARY_ROWS = (("mean zero-shot accuracy", "mean"), ("mean relative to the task's own prompt", "relative"),
                ("mean over the majority class", "over_majority"),
                ("mean over the template, no prompt", "over_template"),
                ("learnable tasks: mean over the majority class", "learnable_over_majority"),
                ("learnable tasks: mean over the template", "learnable_over_template"))


def summary_rows(summary: dict) -> list[tuple[str, float | None, float | None]]:
    """(label, same-category mean, other-category mean) for each row of SUMMARY_ROWS (a summary of any age)."""
    summary = with_categories(summary)
    return [(label, summary[f"{key}_same_category"], summary[f"{key}_other_category"]) for label, key in SUMMARY_ROWS]


def run_zero_shot_matrix(spec: ZeroShotSpec, bank: PromptBank, out: Path, progress: bool = True,
                         run_missing: bool = True) -> dict:
    """Run (or continue) every column and write zero_shot.json, zero_shot.csv, zero_shot.png and report.html. With
    `run_missing` off, nothing is scored: the columns finished so far are reported."""
    from tqdm.auto import tqdm

    for name in spec.tasks:
        get_task(name)
    folder = ExperimentFolder(out, spec, "a zero-shot matrix", may_differ=("tasks",))  # a column per task
    prompts, records = bank_sources(bank, spec.backbone, spec.prompt_length)
    sources = [r.task for r in records]
    columns = []
    for task in tqdm(spec.tasks, desc="zero-shot columns", disable=not progress):
        column = folder.load(f"columns/{task}")
        if column is None or column["zero_shot"].keys() != set(sources):  # not done, or done with another bank
            if not run_missing:
                continue
            column = folder.save(f"columns/{task}", score_column(spec, prompts, sources, task, progress))
        columns.append(with_categories(column))
    folder.require(columns, "zero-shot columns")
    categories = {r.task: task_category(r.task) for r in records}
    summary = summarize(columns, categories)
    out = folder.root
    write_atomic(out / "zero_shot.json", json.dumps({"spec": asdict(spec), "sources": [
        {"task": r.task, "id": r.id, "category": categories[r.task]} for r in records], "summary": summary,
        "columns": columns}, indent=1))
    tasks = [c["task"] for c in columns]
    lines = [",".join(["source", *tasks])]
    lines += [",".join([s, *(f"{c['zero_shot'][s]:.4f}" for c in columns)]) for s in sources]
    lines += [",".join([floor, *(f"{c[floor]:.4f}" for c in columns)]) for floor in ("majority", "template")]
    write_atomic(out / "zero_shot.csv", "\n".join(lines) + "\n")
    from promptbank.experiments.report import (
        write_zero_shot_report,  # matplotlib loads only once results are in
    )
    write_zero_shot_report(out, spec, sources, categories, columns, summary)
    return summary
