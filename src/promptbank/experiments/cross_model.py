"""The cross-model transfer experiment (Su et al.): prompts of held-out tasks, trained on one backbone and mapped
into another by learned projectors, evaluated there.

For every held-out task (never one a projector was trained on) and every projector (e.g. one per training
method), the task's source-backbone prompt is projected, then:
- zero-shot on its own task's test split, beside the target backbone's native prompt of the task (where the bank
  has one), a random prompt, the template with no prompt and the majority class;
- zero-shot on every other held-out task (does a projected prompt carry its task, or just some skill?);
- as the initialisation of few-shot training on the target backbone, against random init on the same budget and
  seeds: the paired gain with a 95% bootstrap interval over seeds × test examples, and the steps to random
  init's best dev score.
The prompts of the projectors' own training tasks are projected too and scored on those tasks' test splits
beside the target's native prompt: Su et al.'s headline setting (a projector trained on SST-2, tested on SST-2).
Zero-shot columns and few-shot cells are saved as they finish; the same command continues a stopped run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from promptbank import scoring
from promptbank.atomic import write_atomic
from promptbank.backbones import dtype_name, load_backbone
from promptbank.bank import PromptBank
from promptbank.errors import BadArgumentError, DataError
from promptbank.experiments.folder import ExperimentFolder
from promptbank.experiments.stats import gain_interval, run_json, steps_to_reach
from promptbank.projection.bank import native_prompt
from promptbank.projection.model import Projector, load_projector, project
from promptbank.scoring.evaluate import accuracy_of_many, evaluate, template_accuracy
from promptbank.scoring.metrics import majority_accuracy
from promptbank.tasks import get_task, split
from promptbank.transfer.similarity import cosine
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import train_prompt
from promptbank.tuning.prompt import SoftPrompt
from promptbank.tuning.run import target_data


@dataclass(frozen=True)
class CrossModelSpec:
    projectors: tuple[str, ...]  # saved projector directories, all from one source backbone to one target
    tasks: tuple[str, ...]  # held-out tasks whose source-backbone prompts are projected
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    shots: int = 16
    prompt_length: int = 20
    test_size: int = 1000
    dtype: str = "auto"
    # the few-shot runs' settings; lr and warmup left open are the target backbone's recipe; seeds are the cells'
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=30, eval_every=5, patience=0))

    def __post_init__(self) -> None:
        if not self.projectors or not self.tasks or not self.seeds:
            raise BadArgumentError("The experiment needs at least one projector, one held-out task and one seed.")
        if self.shots <= 0 or self.test_size <= 0:
            raise BadArgumentError("--shots and --test-size must be positive.")
        object.__setattr__(self, "dtype", dtype_name(self.dtype))


def _label(projector: Projector, path: str, taken: set[str]) -> str:
    """A short name for a projector in tables: its method, or its directory's name when methods repeat."""
    label = projector.info.get("method") or Path(path).name
    return Path(path).name if label in taken else label


def load_projectors(spec: CrossModelSpec) -> dict[str, Projector]:
    projectors: dict[str, Projector] = {}
    for path in spec.projectors:
        projector = load_projector(Path(path))
        projectors[_label(projector, path, set(projectors))] = projector
    pairs = {(p.source.name, p.target.name) for p in projectors.values()}
    if len(pairs) > 1:
        raise BadArgumentError(f"The projectors map between different backbones ({sorted(pairs)}); compare "
                               "projectors of one source and one target backbone.")
    for label, projector in projectors.items():
        if trained := set(projector.info.get("tasks", [])) & set(spec.tasks):
            raise BadArgumentError(f"Projector {label!r} was trained on {min(trained)!r}; the experiment's "
                                   "tasks must be held out from every projector.")
    return projectors


def zero_shot_column(spec, target, prompts: dict[str, torch.Tensor], task_name: str,
                      progress: bool = False) -> dict:
    """One task's test accuracy of every prompt (as is), the random prompt, the template and the majority class
    (`spec` gives test_size: a cross-model or a leave-one-out spec)."""
    task = get_task(task_name)
    parts = split(task)
    test = parts.test[:spec.test_size]
    items = scoring.encode(target, task, test)
    names = list(prompts)
    accuracy = accuracy_of_many(target, torch.stack([prompts[n] for n in names]), items,
                                progress=progress and f"{task_name}: {len(names)} prompts").tolist()
    return {"task": task_name, "test_examples": len(test), "accuracy": dict(zip(names, accuracy)),
            "template": template_accuracy(target, items),
            "majority": majority_accuracy([ex.label for ex in parts.train], [ex.label for ex in test])}


def few_shot_cell(spec, target, starts: dict[str, torch.Tensor], task_name: str, seed: int,
          progress: bool = False) -> dict:
    """Few-shot training on the target backbone from random init and from each projected prompt."""
    data = target_data(target, task_name, spec.shots, seed, test_size=spec.test_size)
    config = replace(spec.train, seed=seed)
    gold = [item.label for item in data.test_items]

    def train_from(tensor: torch.Tensor, init: str, label: str) -> dict:
        start = SoftPrompt(tensor, target.name, target.tokenizer_fingerprint, init)
        name = f"{task_name} seed {seed} from {label}"
        result = train_prompt(target, data.train_items, data.dev_items, start, config, progress=progress, desc=name)
        return run_json(result, evaluate(target, result.prompt.tensor, data.test_items,
                                         progress=progress and f"{name}: testing"), gold)

    random = train_from(init_prompt(target, spec.prompt_length, "random", seed=seed).tensor, "random", "random")
    runs = {label: train_from(tensor, "projected", label) for label, tensor in starts.items()}
    for run in (random, *runs.values()):
        run["steps_to_random_best"] = steps_to_reach(run["curve"], random["best_dev"])
    return {"task": task_name, "seed": seed, "random": random, "projected": runs}


def _seen_prompts(bank: PromptBank, projectors: dict[str, Projector], target, task: str,
                  length: int) -> dict[str, torch.Tensor]:
    """A training task's source prompt through each projector trained on it, and the target's native prompt."""
    source = native_prompt(bank, next(iter(projectors.values())).source.name, task, length)
    prompts = {label: project(p, source, target).tensor for label, p in projectors.items()
               if task in p.info.get("tasks", [])}
    try:
        prompts["native"] = native_prompt(bank, target.name, task, length).tensor
    except DataError:
        pass  # no prompt of this task trained on the target backbone
    return prompts


def _seen_column(spec: CrossModelSpec, bank: PromptBank, projectors: dict[str, Projector], target, task: str,
                 progress: bool = False) -> dict:
    """A projectors' training task's column: its projected prompts and the target's native one on its test split."""
    prompts = _seen_prompts(bank, projectors, target, task, spec.prompt_length)
    return zero_shot_column(spec, target, prompts, task, progress)


def cosine_between_tasks(prompts: dict[str, torch.Tensor], spec: CrossModelSpec,
                         labels: list[str]) -> dict[str, float]:
    """Mean cosine between the prompts of two different held-out tasks: of the source prompts, of each projector's
    outputs and of the target's native prompts. A projector whose outputs are all alike (near 1) has learned one
    prompt for the target, not a map of tasks, whatever its scores."""
    spread = {}
    for label in ["source", *labels, "native"]:
        found = [prompts[f"{label}:{t}"] for t in spec.tasks if f"{label}:{t}" in prompts]
        if len(found) > 1:
            stack = torch.stack(found)
            matrix = cosine(stack, stack)
            spread[label] = ((matrix.sum() - matrix.diagonal().sum()) / (len(found) * (len(found) - 1))).item()
    return spread


def spread_sentence(spread: dict[str, float]) -> str:
    """`cosine_between_tasks` in words, for summary.md and the terminal."""
    return ("Mean cosine between two held-out tasks' prompts (near 1: one prompt for every task): "
            + ", ".join(f"{label} {value:.3f}" for label, value in spread.items()) + ".")


def summarize(spec: CrossModelSpec, labels: list[str], columns: dict[str, dict], cells: list[dict],
              seen: dict[str, dict]) -> dict:
    """Per task and projector: zero-shot on its own task and on the other tasks, and the few-shot init's figures;
    per training task of the projectors, its projected prompts against the native one."""
    mean = lambda values: sum(values) / len(values) if values else None
    tasks = {}
    for task in spec.tasks:
        own = columns[task]
        row = {"majority": own["majority"], "template": own["template"], "random_prompt": own["accuracy"]["random"],
               "native": own["accuracy"].get(f"native:{task}"), "projected": {}}
        task_cells = [c for c in cells if c["task"] == task]
        randoms = [c["random"] for c in task_cells]
        for label in labels:
            others = [columns[u]["accuracy"][f"{label}:{task}"] - columns[u]["majority"] for u in spec.tasks
                      if u != task]
            runs = [c["projected"][label] for c in task_cells]
            reached = [r["steps_to_random_best"] for r in runs]
            row["projected"][label] = {
                "zero_shot": own["accuracy"][f"{label}:{task}"], "other_tasks_over_majority": mean(others),
                "test_accuracy": mean([r["test_accuracy"] for r in runs]),
                "random_test_accuracy": mean([r["test_accuracy"] for r in randoms]),
                "gain": mean([r["test_accuracy"] - q["test_accuracy"] for r, q in zip(runs, randoms)]),
                "gain_ci": gain_interval(runs, randoms) if runs else None,
                "steps_to_random_best": mean([s for s in reached if s is not None]),
                "reached_random_best": mean([s is not None for s in reached]),
                "random_steps_to_best": mean([r["steps_to_random_best"] for r in randoms])}
        tasks[task] = row
    trained = {task: {"projected": {k: v for k, v in c["accuracy"].items() if k != "native"},
                      "native": c["accuracy"].get("native"), "template": c["template"], "majority": c["majority"],
                      "test_examples": c["test_examples"]} for task, c in seen.items()}
    return {"tasks": tasks, "projectors": labels, "training_tasks": trained}


def run_cross_model(spec: CrossModelSpec, bank: PromptBank, out: Path, progress: bool = True,
                    run_missing: bool = True) -> dict:
    """Run (or continue) the experiment and write results.json, results.csv, summary.md, zero_shot.png and
    report.html into `out`. With `run_missing` off, nothing is scored or trained: the columns and cells finished
    so far are reported."""
    from tqdm.auto import tqdm

    for name in spec.tasks:
        get_task(name)
    projectors = load_projectors(spec)
    first = next(iter(projectors.values()))
    # the learning rate and warmup left open are the target backbone's, recorded as such
    spec = replace(spec, train=spec.train.for_backbone(first.target.name))
    folder = ExperimentFolder(out, spec, "a cross-model experiment", may_differ=("seeds",))  # a cell per seed
    target = load_backbone(first.target.name, spec.dtype)
    source_prompts = {t: native_prompt(bank, first.source.name, t, spec.prompt_length) for t in spec.tasks}
    prompts = {f"{label}:{t}": project(p, source_prompts[t], target).tensor
               for label, p in projectors.items() for t in spec.tasks}
    for task in spec.tasks:
        try:
            prompts[f"native:{task}"] = native_prompt(bank, target.name, task, spec.prompt_length).tensor
        except DataError:
            pass  # the bank has no prompt of this task trained on the target backbone: no native row
    prompts["random"] = init_prompt(target, spec.prompt_length, "random", seed=0).tensor

    def unit(name: str, compute, *args) -> dict | None:
        """A saved column or cell; computed by compute(*args) and saved first when missing (and `run_missing`)."""
        done = folder.load(name)
        return done if done is not None or not run_missing else folder.save(name, compute(*args, progress))

    columns = {task: column for task in tqdm(spec.tasks, desc="zero-shot columns", disable=not progress)
               if (column := unit(f"zero_shot/{task}", zero_shot_column, spec, target, prompts, task))}
    keys = [(t, s) for t in spec.tasks for s in spec.seeds]
    cells = [cell for task, seed in tqdm(keys, desc="few-shot cells", disable=not progress)
             if (cell := unit(f"cells/{task}-seed{seed}", few_shot_cell, spec, target,
                              {label: prompts[f"{label}:{task}"] for label in projectors}, task, seed))]
    # a report of an unfinished run covers the tasks whose zero-shot column is done (few-shot figures where cells are)
    folder.require(columns, "zero-shot columns")
    reported = replace(spec, tasks=tuple(columns))
    cells = [c for c in cells if c["task"] in columns]
    trained_on = list(dict.fromkeys(t for p in projectors.values() for t in p.info.get("tasks", [])))
    seen = {task: column for task in tqdm(trained_on, desc="training-task columns", disable=not progress)
            if (column := unit(f"training_tasks/{task}", _seen_column, spec, bank, projectors, target, task))}
    summary = summarize(reported, list(projectors), columns, cells, seen)
    summary["cosine_between_tasks"] = cosine_between_tasks(
        prompts | {f"source:{t}": p.tensor for t, p in source_prompts.items()}, reported, list(projectors))
    meta = {label: {k: p.metadata()[k] for k in ("method", "tasks", "digest", "metrics") if k in p.metadata()}
            for label, p in projectors.items()}
    for item in meta.values():
        item.get("metrics", {}).pop("loss_curve", None)
    out = folder.root
    write_atomic(out / "results.json", json.dumps({"spec": asdict(spec), "source": first.source.name,
                                                   "target": target.name, "projectors": meta, "summary": summary,
                                                   "zero_shot": columns, "cells": cells,
                                                   "training_tasks": seen}, indent=1))
    write_atomic(out / "summary.md", summary_markdown(first.source.name, target.name, summary))
    write_atomic(out / "results.csv", summary_csv(summary))
    from promptbank.experiments.report import (
        write_cross_model_report,  # matplotlib loads only once results are in
    )
    write_cross_model_report(out, reported, first.source.name, target.name, meta, summary, columns, cells)
    return summary


CSV_FIELDS = ("zero_shot", "other_tasks_over_majority", "test_accuracy", "random_test_accuracy", "gain",
              "steps_to_random_best", "random_steps_to_best", "reached_random_best")


def summary_csv(summary: dict) -> str:
    """One row per (task, projector): the summary's figures, the task's baselines and the gain's interval."""
    header = ["task", "projector", "native", "random_prompt", "template", "majority", *CSV_FIELDS, "gain_low",
              "gain_high"]
    lines = [",".join(header)]
    for task, row in summary["tasks"].items():
        for label, p in row["projected"].items():
            ci = p["gain_ci"] or {}
            values = [row["native"], row["random_prompt"], row["template"], row["majority"],
                      *(p[f] for f in CSV_FIELDS), ci.get("low"), ci.get("high")]
            lines.append(",".join([task, label, *("" if v is None else f"{v:.4f}" for v in values)]))
    return "\n".join(lines) + "\n"


def summary_markdown(source: str, target: str, summary: dict) -> str:
    """The experiment's tables, for reports/ and the terminal."""
    f = lambda v, signed=False: "–" if v is None else (f"{v:+.3f}" if signed else f"{v:.3f}")
    lines = [f"Prompts of {source} projected into {target}.", "",
             ("| task | projector | zero-shot (own task) | native | random prompt | template | majority | "
              "other tasks over majority | few-shot from projected | from random | gain | 95% CI | "
              "steps to random's best (reached) |"), "|" + "---|" * 13]
    for task, row in summary["tasks"].items():
        for label, p in row["projected"].items():
            ci = p["gain_ci"]
            lines.append(f"| {task} | {label} | {f(p['zero_shot'])} | {f(row['native'])} | {f(row['random_prompt'])} | "
                         f"{f(row['template'])} | {f(row['majority'])} | {f(p['other_tasks_over_majority'], True)} | "
                         f"{f(p['test_accuracy'])} | {f(p['random_test_accuracy'])} | {f(p['gain'], True)} | "
                         + (f"[{ci['low']:+.3f}, {ci['high']:+.3f}]" if ci else "–") + " | "
                         f"{f(p['steps_to_random_best'])} vs {f(p['random_steps_to_best'])} "
                         f"({f(p['reached_random_best'])}) |")
    labels = summary["projectors"]
    if spread := summary.get("cosine_between_tasks"):
        lines += ["", spread_sentence(spread)]
    lines += ["", "The projectors' own training tasks, their projected prompts on the test split:", "",
              "| task | " + " | ".join(labels) + " | native | template | majority |", "|" + "---|" * (len(labels) + 4)]
    for task, row in summary["training_tasks"].items():
        lines.append(f"| {task} | " + " | ".join(f(row["projected"].get(label)) for label in labels)
                     + f" | {f(row['native'])} | {f(row['template'])} | {f(row['majority'])} |")
    return "\n".join(lines) + "\n"
