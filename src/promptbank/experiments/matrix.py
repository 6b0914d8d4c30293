"""The transfer matrix: which source prompts help which targets, how much, how fast — and which similarity
metric predicts it.

For every target and seed (a "cell", few-shot data drawn with that seed):
- random init is trained on the step budget: its test accuracy and best dev score are the reference;
- every source prompt is scored zero-shot on the target's test set (many prompts per forward pass);
- with `per_source`, the target is trained from each source prompt on the same budget: gain = test
  accuracy − random init's, and the steps it took to reach random init's best dev score;
- every similarity metric compares each source prompt with the target's trained random-init prompt
  (saved with the cell; similarities are computed when results are summarised);
- every transfer strategy (retrieval + init from the bank) is trained on the same budget too.
Cells are saved as they finish, so a long run that is stopped continues where it was, and a run with more
targets or seeds trains only their cells. A cell in training checkpoints at every dev evaluation into
cells/<cell>.partial/ (removed once the cell is saved), so a stopped cell continues from its last evaluation too.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from promptbank.atomic import write_atomic
from promptbank.backbones import DEFAULT_BACKBONE, Backbone, dtype_name, load_backbone
from promptbank.bank import PromptBank, PromptRecord
from promptbank.errors import BadArgumentError, DataError
from promptbank.executor import Executor, run_units
from promptbank.experiments.folder import ExperimentFolder
from promptbank.experiments.stats import (
    dev_auc,
    gain_interval,
    run_json,
    spearman,
    steps_to_reach,
)
from promptbank.pretraining.run import PRETRAINED_INITS
from promptbank.scoring.evaluate import accuracy_of_many, evaluate_many
from promptbank.tasks import base_task, check_task, get_task, task_category
from promptbank.transfer.inits import BASELINES, check_choice
from promptbank.transfer.guard import check_alpha
from promptbank.transfer.mixture import AttentionMixture
from promptbank.transfer.run import (
    TransferSpec,
    retrieve,
    trained_lineage,
    transfer_job,
    transfer_start,
    transfer_test,
)
from promptbank.transfer.similarity import METRICS, MODEL_METRICS, similarity_matrix
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import train_many
from promptbank.tuning.prompt import SoftPrompt
from promptbank.tuning.run import TargetData, check_sizes, target_data


@dataclass(frozen=True)
class MatrixSpec:
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    backbone: str = DEFAULT_BACKBONE
    shots: int | None = 16  # None: the whole training split (capped by train_size), dev_size validation examples
    train_size: int | None = None
    dev_size: int = 200
    prompt_length: int = 20
    strategies: tuple[str, ...] = ("weighted-average", "best-of-k", "mixture")
    k: int = 3
    by: str = "zero-shot"
    base: str = "target"  # what delta-average and delta-best add to (transfer.inits.BASES)
    guard: float | None = None  # transfer.guard's level: a target no source fits starts from random init
    metrics: tuple[str, ...] = METRICS
    per_source: bool = True
    per_source_seeds: int | None = None  # per-source runs only in seeds below this (None: every seed); they are
    # most of a cell's cost, and the gain matrix and correlations need fewer seeds than the strategies' intervals
    test_size: int = 200
    dtype: str = "auto"
    # every run's settings (the same budget for all); its seed is each cell's
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=30, eval_every=5, patience=0))

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", self.train.for_backbone(self.backbone))
        if not self.targets or not self.seeds:
            raise BadArgumentError("An experiment needs at least one target and one seed.")
        if not self.sources and (self.per_source or set(self.strategies) - set(BASELINES + PRETRAINED_INITS)):
            raise BadArgumentError("Training from each source and retrieving from the bank need at least one source "
                                   "task; only --no-per-source with baseline or pretrained strategies runs without.")
        for strategy in self.strategies:
            check_choice(strategy, self.k, self.by)
        check_alpha(self.guard)
        check_sizes(self.shots, self.prompt_length, self.test_size, self.dev_size)
        # Recorded as the precision in use, so cells that a continued run adds on another host are not
        # silently computed in another one.
        object.__setattr__(self, "dtype", dtype_name(self.dtype))

    def config(self, seed: int) -> TrainConfig:
        return replace(self.train, seed=seed)


def source_prompts(bank: PromptBank, backbone: Backbone, tasks: tuple[str, ...],
                   length: int) -> tuple[torch.Tensor, list[PromptRecord]]:
    """One source prompt per task (the first stored), in the order the tasks are given."""
    prompts, records = bank.stack(backbone.name, length_policy="truncate", length=length)
    chosen = []
    for task in tasks:
        found = [i for i, r in enumerate(records) if r.task == task]
        if not found:
            raise DataError(f"The bank at {bank.root} has no {backbone.name} prompt for source task {task!r}; "
                            "train it with `promptbank bank build`.")
        chosen.append(found[0])
    return prompts[chosen], [records[i] for i in chosen]


def zero_shot_split(spec: MatrixSpec) -> str:
    """Where a cell scores the sources zero-shot: on the target's test set when per-source runs make it a predictor
    of their gains (measured on test), else on the cell's few-shot dev set, the scores retrieval ranks by (a table
    to read beside the strategies' choice, at a fraction of the cost)."""
    return "test" if spec.per_source else "dev"


def run_cell(spec: MatrixSpec, bank: PromptBank, backbone: Backbone, prompts: torch.Tensor,
             records: list[PromptRecord], target: str, seed: int,
             zero_shot: dict[str, float] | None = None, progress: bool = False,
             checkpoint_dir: Path | None = None) -> tuple[dict, torch.Tensor]:
    """Every measurement of one (target, seed) cell, as plain JSON-ready data, and the target's trained
    random-init prompt. `zero_shot`, the source prompts' test accuracies on the target, is computed when
    not given (it does not depend on the seed: the test examples and the source prompts are the same).

    Every run of the cell starts from its own prompt but trains on the same batches, so they are trained together
    (`train_many`): the same prompts as separate runs, in shared forward passes. `progress` shows the training
    steps and the test examples scored; `checkpoint_dir` keeps that training's checkpoints (`train_many`)."""
    data: TargetData = target_data(backbone, target, spec.shots, seed, spec.dev_size, spec.test_size, spec.train_size)
    config = spec.config(seed)
    gold = [item.label for item in data.test_items]
    label = f"{target} seed {seed}"

    starts = {("random", "random"): init_prompt(backbone, spec.prompt_length, "random", seed=seed)}
    if spec.per_source and (spec.per_source_seeds is None or seed < spec.per_source_seeds):
        for record, tensor in zip(records, prompts):
            if base_task(record.task) != base_task(target):
                starts["per_source", record.task] = SoftPrompt(tensor, backbone.name, backbone.tokenizer_fingerprint,
                                                               "prompt", source=record.id)
    retrieval, transfers = None, {}  # one ranking of the bank serves every strategy of the cell
    for strategy in spec.strategies:
        transfer_spec = TransferSpec(target, strategy, spec.k, spec.by, base=spec.base, guard=spec.guard,
                                     backbone=spec.backbone,
                                     shots=spec.shots,
                                     prompt_length=spec.prompt_length, dtype=spec.dtype, test_size=spec.test_size,
                                     train=config)
        if strategy not in BASELINES + PRETRAINED_INITS:
            retrieval = retrieval or retrieve(transfer_spec, backbone, bank, data)
        start, ranking, lineage = transfer_start(transfer_spec, backbone, bank, data, retrieval, progress)
        starts["strategies", strategy], transfers[strategy] = start, (ranking, lineage)
    trained = train_many(backbone, [transfer_job(start, data) for start in starts.values()],
                         config, checkpoint_dir, progress=progress, desc=f"{label}: training {len(starts)} prompts")
    tests = evaluate_many(backbone, torch.stack([result.prompt.tensor for result in trained]), data.test_items,
                          progress=progress and f"{label}: testing {len(trained)} prompts")
    for k, (start, result) in enumerate(zip(starts.values(), trained)):
        if isinstance(start, AttentionMixture):  # its prompts depend on each input: tested with those
            tests[k] = transfer_test(backbone, start, result.prompt.tensor, data.test_items)
    runs = dict(zip(starts, zip(trained, tests)))

    random_result, random_test = runs["random", "random"]
    reference = random_result.best_dev
    cell = {"target": target, "seed": seed, "majority": data.majority,
            "random": run_json(random_result, random_test, gold) | {
                "steps_to_random_best": steps_to_reach(random_result.curve, reference)},
            **_zero_shot(spec, backbone, prompts, records, data, retrieval, zero_shot, progress and label),
            "per_source": {}, "strategies": {}}
    for (group, name), (result, test) in runs.items():
        if group == "random":
            continue
        cell[group][name] = run_json(result, test, gold) | {
            "gain": test.accuracy - random_test.accuracy, "steps_to_random_best": steps_to_reach(result.curve, reference)}
        if group == "strategies":
            ranking, lineage = transfers[name]
            lineage = trained_lineage(starts[group, name], lineage)  # a learned mixture's weights, once trained
            task_of = {r.record.id: r.record.task for r in ranking}
            cell[group][name] |= {"lineage": lineage,
                                  "source_tasks": [task_of.get(i) or bank.get(i).task for i in lineage["sources"]]}
    return cell, random_result.prompt.tensor


def _zero_shot(spec: MatrixSpec, backbone: Backbone, prompts: torch.Tensor, records: list[PromptRecord],
               data: TargetData, retrieval, given: dict[str, float] | None, progress: str | bool) -> dict:
    """A cell's zero-shot table (each source prompt as is on the target) and the split it was scored on: `given`
    (a finished cell's test scores), retrieval's dev scores when it ranked by zero-shot, or scored here."""
    split = zero_shot_split(spec)
    if given is not None or not records:
        return {"zero_shot": given or {}, "zero_shot_split": "test" if given else split}
    ranked = {r.record.id: r.score for r in retrieval.ranking} if retrieval and spec.by == "zero-shot" else {}
    if split == "dev" and all(r.id in ranked for r in records):
        scores = [ranked[r.id] for r in records]
    else:
        items = data.test_items if split == "test" else data.dev_items
        scores = accuracy_of_many(backbone, prompts, items,
                                  progress=progress and f"{progress}: {len(records)} sources zero-shot on {split}")
        scores = scores.tolist()
    return {"zero_shot": dict(zip([r.task for r in records], scores)), "zero_shot_split": split}


def add_similarities(spec: MatrixSpec, backbone: Backbone, prompts: torch.Tensor, records: list[PromptRecord],
                     cell: dict, target_prompt: torch.Tensor, deltas: torch.Tensor | None = None) -> None:
    """Every metric between each source prompt and the target's trained random-init prompt (cheap, so it is
    computed from the saved prompt whenever results are summarised, and new metrics need no retraining); with the
    sources' task vectors, every embedding metric on task vectors too ("<metric> (delta)"), the target's measured
    from its random init (rebuilt from the cell's seed)."""
    cell["similarity"] = {}
    for metric in spec.metrics:
        values = similarity_matrix(metric, prompts, target_prompt.unsqueeze(0), backbone=backbone)[:, 0].tolist()
        cell["similarity"][metric] = dict(zip([r.task for r in records], values))
    if deltas is None:
        return
    target = target_prompt - init_prompt(backbone, spec.prompt_length, "random", seed=cell["seed"]).tensor
    for metric in spec.metrics:
        if metric not in MODEL_METRICS:  # ON reads what the prompts activate: it has no task-vector form
            values = similarity_matrix(metric, deltas, target.unsqueeze(0))[:, 0].tolist()
            cell["similarity"][f"{metric} (delta)"] = dict(zip([r.task for r in records], values))


def source_deltas(bank: PromptBank, backbone: Backbone, records: list[PromptRecord],
                  length: int) -> torch.Tensor | None:
    """The sources' task vectors in the order of `records`, or None where there are none or some source's init is
    not known."""
    if not records:
        return None
    try:
        return bank.stack(backbone.name, ids=[r.id for r in records], length_policy="truncate", length=length,
                          delta=True, loaded=backbone)[0]
    except DataError:
        return None


def _sources_shown(run: dict) -> list[str]:
    """A strategy's source tasks as reports show them: with the weight a learned mixture gave each, and the task
    vectors' λ chosen on dev."""
    lineage = run.get("lineage", {})
    shown = [f"{task} ({w:.2f})" for task, w in zip(run["source_tasks"], lineage["learned_weights"])] if (
        "learned_weights" in lineage) else list(run["source_tasks"])
    return shown + ([f"λ {lineage['lambda']:g}"] if "lambda" in lineage else [])


def _oracle_retrieved(cells: list[dict]) -> dict | None:
    """How often the sources retrieved for a target (every retrieving strategy of a cell shares one ranking) hold
    its oracle: the source whose own run on that cell reached the best test accuracy. None without per-source runs
    or retrieval."""
    hits = []
    for cell in cells:
        retrieved = next((run["source_tasks"] for run in cell["strategies"].values() if run.get("source_tasks")), None)
        if cell["per_source"] and retrieved:
            oracle = max(cell["per_source"], key=lambda s: (cell["per_source"][s]["test_accuracy"], s))
            hits.append(oracle in retrieved)
    return {"hits": sum(hits), "cells": len(hits)} if hits else None


def summarize(spec: MatrixSpec, cells: list[dict]) -> dict:
    """Means over seeds of every matrix, and each metric's Spearman correlation with the transfer gains (over all
    (source, target) pairs and within each target)."""
    def mean(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return sum(kept) / len(kept) if kept else None

    def per_target(target: str) -> list[dict]:
        return [c for c in cells if c["target"] == target]

    targets = [t for t in spec.targets if per_target(t)]
    zero_shot = {s: {t: mean([c["zero_shot"][s] for c in per_target(t)]) for t in targets} for s in spec.sources}
    gains = {s: {t: mean([c["per_source"][s]["gain"] for c in per_target(t) if s in c["per_source"]])
                 for t in targets} for s in spec.sources}
    metrics = [m for m in dict.fromkeys(m for c in cells for m in c.get("similarity", {}))
               if all(m in c.get("similarity", {}) for c in cells)]  # the metrics, then their task-vector forms
    similarity = {m: {s: {t: mean([c["similarity"][m][s] for c in per_target(t)]) for t in targets}
                      for s in spec.sources} for m in metrics}
    pairs = [(s, t) for s in spec.sources for t in targets if gains[s][t] is not None]
    predictors = {**similarity, "zero-shot": zero_shot}
    groups = {"all pairs": pairs, **{t: [(s, u) for s, u in pairs if u == t] for t in targets}}
    # Pooled over targets, a predictor is also rewarded for telling targets apart; per target it is not.
    correlations = {name: {group: spearman([values[s][t] for s, t in kept], [gains[s][t] for s, t in kept])
                           for group, kept in groups.items()} for name, values in predictors.items()}
    def means(runs: list[dict], randoms: list[dict]) -> dict:
        """Means over seeds, with the std of test accuracy across seeds and the paired gain's bootstrap interval."""
        summary = {key: mean([run.get(key) for run in runs])
                   for key in ("test_accuracy", "gain", "steps_to_random_best")}
        # convergence as the papers measure it: the mean dev accuracy along training, and the steps to 95% of
        # random init's final dev accuracy (None where a run never gets there; `reached_95` says how often)
        summary["dev_auc"] = mean([dev_auc(run["curve"]) for run in runs])
        steps = [steps_to_reach(run["curve"], 0.95 * random["curve"][-1]["dev_accuracy"])
                 for run, random in zip(runs, randoms)]
        summary["steps_to_95_random_final"] = mean(steps)
        summary["reached_95"] = sum(s is not None for s in steps) / len(steps)
        accuracies = torch.tensor([run["test_accuracy"] for run in runs])
        summary["test_accuracy_std"] = accuracies.std().item() if len(runs) > 1 else None
        summary["gain_ci"] = gain_interval(runs, randoms)
        summary["fell_back"] = sum("fallback" in run.get("lineage", {}) for run in runs)  # the guard's random starts
        return summary

    strategies = {}
    for t in targets:
        cells_t = per_target(t)
        randoms = [c["random"] for c in cells_t]
        strategies[t] = {"random": means([r | {"gain": 0.0} for r in randoms], randoms)}
        for name in spec.strategies:
            strategies[t][name] = means([c["strategies"][name] for c in cells_t], randoms) | {
                "sources_seed0": _sources_shown(cells_t[0]["strategies"][name])}
        with_sources = [c for c in cells_t if c["per_source"]]
        if with_sources:
            paired = [c["random"] for c in with_sources]
            # the source a user with K shots would pick: the best dev score after training from it
            chosen = [max(c["per_source"].values(), key=lambda run: run["best_dev"]) for c in with_sources]
            strategies[t]["best single source (dev)"] = means(chosen, paired) | {"sources_seed0": [next(
                s for s, run in with_sources[0]["per_source"].items() if run is chosen[0])]}
            # an upper bound no user could pick: the source with the best mean test accuracy
            oracle = max(spec.sources, key=lambda s: gains[s][t] if gains[s][t] is not None else -math.inf)
            if gains[oracle][t] is not None:
                strategies[t]["best single source (oracle, test)"] = means(
                    [c["per_source"][oracle] for c in with_sources], paired) | {"sources_seed0": [oracle]}
    categories = {name: task_category(name) for name in dict.fromkeys((*spec.sources, *targets))}  # fixed order
    retrieval = {t: _oracle_retrieved(per_target(t)) for t in targets}
    same = [gains[s][t] for s, t in pairs if categories[s] == categories[t]]
    other = [gains[s][t] for s, t in pairs if categories[s] != categories[t]]
    # test, or dev for cells scored on their few-shot dev sets (see zero_shot_split); cells saved before: test
    split = " and ".join(sorted({c.get("zero_shot_split", "test") for c in cells if c["zero_shot"]}))
    return {"targets": targets, "zero_shot": zero_shot, "zero_shot_split": split or None, "gain": gains,
            "similarity": similarity,
            "spearman_with_gain": correlations, "strategies": strategies, "categories": categories,
            "oracle_in_retrieved": retrieval,
            "mean_gain_same_category": mean(same), "mean_gain_other_category": mean(other),
            "majority": {t: mean([c["majority"] for c in per_target(t)]) for t in targets},
            "random_test": {t: mean([c["random"]["test_accuracy"] for c in per_target(t)]) for t in targets}}


@dataclass(frozen=True)
class CellUnit:
    """One (target, seed) cell as a worker gets it. Workers read the bank at `bank` (on a cluster: a shared
    filesystem, or the same copy on every node) and write nothing; the driver writes the cells."""

    spec: MatrixSpec
    bank: Path
    target: str
    seed: int
    zero_shot: dict[str, float] | None = None  # the target's test scores, when a finished cell already has them
    progress: bool = False  # show the cell's training steps and test examples (a local run's terminal)
    checkpoint_dir: Path | None = None  # on the machine that trains it (the driver's own disk, locally)


def train_cell(unit: CellUnit) -> tuple[dict, torch.Tensor]:
    """A worker's part: `run_cell` for one unit."""
    spec = unit.spec
    backbone = load_backbone(spec.backbone, spec.dtype)
    with PromptBank(unit.bank) as bank:
        prompts, records = source_prompts(bank, backbone, spec.sources, spec.prompt_length)
        return run_cell(spec, bank, backbone, prompts, records, unit.target, unit.seed, unit.zero_shot, unit.progress,
                        unit.checkpoint_dir)


def run_matrix(spec: MatrixSpec, bank: PromptBank, out: Path, progress: bool = True,
               run_missing: bool = True, executor: Executor | None = None) -> tuple[list[dict], dict]:
    """Run (or continue) every cell, then write results.json, matrix.csv and report.html into `out`, over every cell
    the folder holds (targets and seeds that earlier commands added too: the report is the folder's, not one
    command's).

    Cells run as `executor`'s units, in two waves: first one cell of each target with none finished (with per-source
    runs it scores the sources zero-shot on the target's test set), then the rest, which reuse those scores. With
    `run_missing` off, nothing is trained: the cells finished so far are summarised (to look at a long experiment
    while it runs, or at one that was stopped).
    """
    executor = executor or Executor()
    for name in spec.sources:  # their prompts come from the bank: no data needed
        check_task(name)
    for name in spec.targets:  # a report of finished cells reads no target's data
        (get_task if run_missing else check_task)(name)
    # Cells are kept per (target, seed), so targets and seeds may grow or shrink; nothing else may change.
    folder = ExperimentFolder(out, spec, "an experiment", may_differ=("targets", "seeds"))
    names = {(t, s): f"cells/{cell_name(t, s)}" for t in spec.targets for s in spec.seeds}

    def partial(target: str, seed: int) -> Path:
        return folder.root.absolute() / f"{names[target, seed]}.partial"

    finished = {key: cell for key, name in names.items() if (cell := folder.load(name)) is not None}
    if not run_missing:  # a report of the folder, whose other targets may have cells where this command's have none
        folder.require(finished or folder.units("cells"))
    backbone = load_backbone(spec.backbone, spec.dtype)
    prompts, records = source_prompts(bank, backbone, spec.sources, spec.prompt_length)  # the bank has them all
    missing = [key for key in names if key not in finished] if run_missing else []

    def store(unit: CellUnit, result: tuple[dict, torch.Tensor]) -> None:
        cell, target_prompt = result
        folder.save_file(f"{names[unit.target, unit.seed]}.safetensors", save({"prompt": target_prompt.contiguous()}))
        finished[unit.target, unit.seed] = folder.save(names[unit.target, unit.seed], cell)  # last: the cell is done
        shutil.rmtree(partial(unit.target, unit.seed), ignore_errors=True)
        bar.update()

    def units(keys: list[tuple[str, int]]) -> list[CellUnit]:
        shared = {t: c["zero_shot"] for (t, _), c in finished.items() if c.get("zero_shot_split", "test") == "test"}
        return [CellUnit(spec, bank.root.absolute(), t, s, shared.get(t), progress and executor.kind == "local",
                         partial(t, s)) for t, s in keys]

    from tqdm.auto import tqdm
    with tqdm(total=len(names), initial=len(finished), desc="experiment cells", disable=not progress) as bar:
        started, first = {t for t, _ in finished}, {}
        for target, seed in missing:
            if target not in started:
                first.setdefault(target, (target, seed))
        run_units(train_cell, units(list(first.values())), store, executor)
        run_units(train_cell, units([key for key in missing if key not in finished]), store, executor)
    saved = {(c["target"], c["seed"]): c for c in folder.units("cells")}
    folder.require(saved)
    shown = folder_spec(spec, set(saved))
    cells = [saved[t, s] for t in shown.targets for s in shown.seeds if (t, s) in saved]
    deltas = source_deltas(bank, backbone, records, spec.prompt_length)
    for cell in cells:
        name = cell_name(cell["target"], cell["seed"])
        add_similarities(spec, backbone, prompts, records, cell,
                         load_file(folder.root / f"cells/{name}.safetensors")["prompt"], deltas)
    summary = summarize(shown, cells) | {"cells_done": [cell_name(c["target"], c["seed"]) for c in cells],
                                          "cells_planned": len(set(names) | set(saved))}
    out = folder.root
    write_atomic(out / "results.json", json.dumps({"spec": asdict(shown), "sources": [asdict(r) for r in records],
                                                   "summary": summary, "cells": cells}, indent=1))
    write_csv(out / "matrix.csv", shown, cells)
    from promptbank.experiments.report import (
        write_report,  # matplotlib loads only once results are in
    )
    write_report(out / "report.html", shown, summary, cells)
    return cells, summary


def cell_name(target: str, seed: int) -> str:
    """A cell's file name under cells/ (its .json and .safetensors), and how results.json lists it as done."""
    return f"{target}-seed{seed}"


def folder_spec(spec: MatrixSpec, saved: set[tuple[str, int]]) -> MatrixSpec:
    """`spec` widened to every (target, seed) saved in its folder: this command's targets first, then those that
    earlier commands added, in name order; the seeds in order."""
    targets = tuple(dict.fromkeys((*spec.targets, *sorted(t for t, _ in saved))))
    seeds = tuple(sorted({*spec.seeds, *(s for _, s in saved)}))
    return replace(spec, targets=targets, seeds=seeds)


def write_csv(path: Path, spec: MatrixSpec, cells: list[dict]) -> None:
    """One row per (source, target, seed): zero-shot, transfer, gain, steps, and every similarity."""
    header = ["source", "target", "seed", "zero_shot", "random_test", "transfer_test", "gain", "steps_to_random_best",
              *spec.metrics]
    lines = [",".join(header)]
    for c in cells:
        for s in spec.sources:
            run = c["per_source"].get(s, {})
            row = [s, c["target"], c["seed"], c["zero_shot"][s], c["random"]["test_accuracy"],
                   run.get("test_accuracy"), run.get("gain"), run.get("steps_to_random_best"),
                   *(c["similarity"][m][s] for m in spec.metrics)]
            lines.append(",".join("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in row))
    write_atomic(path, "\n".join(lines) + "\n")
