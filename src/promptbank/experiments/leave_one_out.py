"""Leave-one-task-out evaluation of a cross-model projector: does it carry a task it never saw?

Over tasks that both backbones' banks hold, each fold trains a projector on all tasks but one (`folds`), then
projects every task's source prompt with it and scores them on the held-out task's test split:
- the held-out task's own projection against the other tasks' projections (a projector that carries the task
  gives the held-out task's prompt the best score on it; one that learnt one prompt for all gives them alike),
  the target's native prompt, a random prompt and the template;
- the mean pairwise cosine of the projector's outputs for the tasks beside that of its inputs;
- the own projection as the init of few-shot training on the held-out task, against random init, paired by seed.
A fold's projector, zero-shot column and few-shot cells are saved as they finish; the same command continues.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from promptbank.atomic import write_atomic
from promptbank.backbones import dtype_name, load_backbone
from promptbank.bank import PromptBank
from promptbank.errors import BadArgumentError, DataError
from promptbank.experiments.cross_model import few_shot_cell, zero_shot_column
from promptbank.experiments.folder import ExperimentFolder
from promptbank.experiments.report import write_leave_one_out_report
from promptbank.experiments.stats import gain_interval
from promptbank.projection.bank import ProjectionSpec, native_prompt, train_projector
from promptbank.projection.model import (
    METHODS,
    Projector,
    load_projector,
    project,
    projector_input,
    save_projector,
    target_init,
)
from promptbank.projection.train import ProjectorConfig, mean_pairwise_cosine
from promptbank.tasks import check_task
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt


@dataclass(frozen=True)
class LeaveOneOutSpec:
    source: str
    target: str
    tasks: tuple[str, ...]  # each is held out once; the projector of its fold is trained on the others
    method: str = "task"
    config: ProjectorConfig = field(default_factory=ProjectorConfig)
    train_size: int = 2000  # training examples per task, for the task method
    prompt_length: int = 20
    test_size: int = 1000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # few-shot runs per fold; none scores the zero-shot columns only
    shots: int = 16
    dtype: str = "auto"
    # the few-shot runs' settings; lr and warmup left open are the target backbone's recipe
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=30, eval_every=5, patience=0))

    def __post_init__(self) -> None:
        if len(set(self.tasks)) < 3:
            raise BadArgumentError("Leaving one task out needs at least 3 tasks (each fold trains on 2 or more).")
        if len(set(self.tasks)) != len(self.tasks):
            raise BadArgumentError("Each task is held out once: name it once.")
        if self.method not in METHODS:
            raise BadArgumentError(f"--method must be one of {', '.join(METHODS)}, not {self.method!r}.")
        if self.shots <= 0 or self.test_size <= 0:
            raise BadArgumentError("The experiment needs positive --shots and --test-size.")
        object.__setattr__(self, "dtype", dtype_name(self.dtype))


def folds(tasks: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """(the tasks a fold's projector trains on, the task it holds out), one fold per task."""
    return [(tuple(t for t in tasks if t != held), held) for held in tasks]


def _projector(spec: LeaveOneOutSpec, bank: PromptBank, folder: ExperimentFolder, trained_on: tuple[str, ...],
               held: str) -> Projector:
    """The fold's projector, trained on `trained_on` (or read back); one that saw the held-out task is refused."""
    path = folder.root / "folds" / held / "projector"
    if not path.exists():
        projection = ProjectionSpec(spec.source, spec.target, spec.method, trained_on, spec.prompt_length,
                                    spec.train_size, spec.dtype, spec.config)
        projector, _ = train_projector(projection, bank)
        folder.save(f"folds/{held}/trained_on", {"tasks": list(trained_on)})  # opens the folder (spec first)
        save_projector(projector, path)
    projector = load_projector(path)
    if held in projector.info.get("tasks", []) or set(projector.info.get("tasks", [])) != set(trained_on):
        raise DataError(f"The projector in {path} was not trained on the fold's tasks without {held!r}; remove it.")
    return projector


def _prompts(spec: LeaveOneOutSpec, bank: PromptBank, projector: Projector, source, target,
             held: str) -> tuple[dict[str, torch.Tensor], dict[str, float | None]]:
    """Every task's source prompt projected (`projected:<task>`), the held-out task's native prompt where the bank
    has one, and a random prompt; with the cosines between the projector's outputs and between its inputs."""
    deltas = projector.inputs == "delta"
    sources = {t: native_prompt(bank, source.name, t, spec.prompt_length, source if deltas else None)
               for t in spec.tasks}
    prompts = {f"projected:{t}": project(projector, p, target).tensor for t, p in sources.items()}
    try:
        prompts["native"] = native_prompt(bank, target.name, held, spec.prompt_length).tensor
    except DataError:
        pass  # no prompt of the held-out task trained on the target backbone
    prompts["random"] = init_prompt(target, spec.prompt_length, "random", seed=0).tensor
    base = target_init(projector, target, spec.prompt_length)
    outputs = torch.stack([prompts[f"projected:{t}"] - base for t in spec.tasks]).flatten(1)
    inputs = torch.stack([projector_input(projector, p) for p in sources.values()]).flatten(1)
    return prompts, {"output_cosine": mean_pairwise_cosine(outputs), "input_cosine": mean_pairwise_cosine(inputs)}


def summarize(spec: LeaveOneOutSpec, columns: dict[str, dict], cells: list[dict]) -> dict:
    """Per fold: the held-out task's own projection against the others' on it, the baselines, the cosines and the
    few-shot gain of the own projection over random init; and over the folds, how often own beats the others and
    how far own is above a random prompt on average (what tells projectors apart when none carries its task)."""
    mean = lambda values: sum(values) / len(values) if values else None
    rows = {}
    for held, column in columns.items():
        scores = column["accuracy"]
        others = {t: scores[f"projected:{t}"] for t in spec.tasks if t != held}
        own = scores[f"projected:{held}"]
        fold_cells = [c for c in cells if c["task"] == held]
        runs, randoms = [c["projected"]["own"] for c in fold_cells], [c["random"] for c in fold_cells]
        rows[held] = {"own": own, "others_mean": mean(list(others.values())), "best_other": max(others.values()),
                      "own_beats_others_mean": own > mean(list(others.values())),
                      "own_beats_every_other": own > max(others.values()),
                      "native": scores.get("native"), "random_prompt": scores["random"],
                      "template": column["template"], "majority": column["majority"],
                      "output_cosine": column["output_cosine"], "input_cosine": column["input_cosine"],
                      "seeds": len(fold_cells),
                      "few_shot_gain": mean([r["test_accuracy"] - q["test_accuracy"] for r, q in zip(runs, randoms)]),
                      "few_shot_gain_ci": gain_interval(runs, randoms) if runs else None}
    return {"folds": rows, "own_beats_others_mean": sum(r["own_beats_others_mean"] for r in rows.values()),
            "own_beats_every_other": sum(r["own_beats_every_other"] for r in rows.values()),
            "own_minus_random": mean([r["own"] - r["random_prompt"] for r in rows.values()]),
            "output_cosine": mean([r["output_cosine"] for r in rows.values() if r["output_cosine"] is not None]),
            "input_cosine": mean([r["input_cosine"] for r in rows.values() if r["input_cosine"] is not None]),
            "gain_ci_above_zero": sum(bool(r["few_shot_gain_ci"] and r["few_shot_gain_ci"]["low"] > 0)
                                      for r in rows.values())}


def run_leave_one_out(spec: LeaveOneOutSpec, bank: PromptBank, out: Path, progress: bool = True,
                      run_missing: bool = True) -> dict:
    """Run (or continue) every fold and write results.json, summary.md and report.html (with zero_shot.png and
    convergence.png) into `out`; with `run_missing` off, only what `out` holds is reported."""
    from tqdm.auto import tqdm

    for task in spec.tasks:
        check_task(task)
    spec = replace(spec, train=spec.train.for_backbone(spec.target))
    folder = ExperimentFolder(out, spec, "a leave-one-task-out experiment", may_differ=("seeds",))
    source = target = None
    columns, cells = {}, []
    for trained_on, held in tqdm(folds(spec.tasks), desc="folds", disable=not progress):
        column = folder.load(f"folds/{held}/zero_shot")
        missing = [s for s in spec.seeds if folder.load(f"folds/{held}/seed{s}") is None]
        if (column is None or missing) and run_missing:
            source = source or load_backbone(spec.source, spec.dtype)
            target = target or load_backbone(spec.target, spec.dtype)
            projector = _projector(spec, bank, folder, trained_on, held)
            prompts, cosines = _prompts(spec, bank, projector, source, target, held)
            if column is None:
                column = folder.save(f"folds/{held}/zero_shot",
                                     zero_shot_column(spec, target, prompts, held, progress) | cosines)
            for seed in missing:
                folder.save(f"folds/{held}/seed{seed}", few_shot_cell(
                    spec, target, {"own": prompts[f"projected:{held}"]}, held, seed, progress))
        if column is not None:
            columns[held] = column
            cells += folder.units(f"folds/{held}", "seed*.json")  # earlier runs' seeds too: SEEDS=0 hides none
    folder.require(columns, "folds")
    summary = summarize(spec, columns, cells)
    write_atomic(folder.root / "results.json", json.dumps({"spec": asdict(spec), "summary": summary,
                                                            "zero_shot": columns, "cells": cells}, indent=1))
    write_atomic(folder.root / "summary.md", summary_markdown(spec, summary))
    write_leave_one_out_report(folder.root, spec, fold_table(summary), columns, cells)
    return summary


def _number(value: float | None, signed: bool = False) -> str:
    return "–" if value is None else f"{value:+.3f}" if signed else f"{value:.3f}"


def fold_table(summary: dict) -> tuple[list[str], list[list[str]]]:
    """The per-fold table that summary.md and report.html both show: its header and its rows, formatted."""
    header = ["held-out task", "own projection", "other tasks' (mean)", "best other", "native", "random prompt",
              "template", "majority", "output cosine", "input cosine", "seeds", "few-shot gain over random", "95% CI"]
    numbers = ("own", "others_mean", "best_other", "native", "random_prompt", "template", "majority", "output_cosine",
               "input_cosine")
    rows = [[held, *(_number(r[k]) for k in numbers), str(r["seeds"]), _number(r["few_shot_gain"], True),
             f"[{ci['low']:+.3f}, {ci['high']:+.3f}]" if (ci := r["few_shot_gain_ci"]) else "–"]
            for held, r in summary["folds"].items()]
    return header, rows


def summary_markdown(spec: LeaveOneOutSpec, summary: dict) -> str:
    header, rows = fold_table(summary)
    lines = [f"Leave-one-task-out: projectors {spec.source} → {spec.target} ({spec.method}, "
             f"{spec.config.architecture}, inputs {spec.config.inputs}), each trained without the held-out task.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    folds_done = len(summary["folds"])
    lines += ["", f"Own projection above the other tasks' mean in {summary['own_beats_others_mean']} of {folds_done} "
              f"folds, above every other in {summary['own_beats_every_other']}, above a random prompt by "
              f"{_number(summary['own_minus_random'], True)} on average; mean output cosine "
              f"{_number(summary['output_cosine'])} (inputs {_number(summary['input_cosine'])}); few-shot gain "
              f"interval above zero in {summary['gain_ci_above_zero']} of {folds_done} folds."]
    return "\n".join(lines) + "\n"
