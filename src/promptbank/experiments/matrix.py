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
targets or seeds trains only their cells.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from promptbank.atomic import write_atomic
from promptbank.backbones import DEFAULT_BACKBONE, Backbone, dtype_name, load_backbone
from promptbank.bank import PromptBank, PromptRecord
from promptbank.errors import BadArgumentError, DataError
from promptbank.executor import Executor, run_units
from promptbank.experiments.stats import paired_gain
from promptbank.pretraining.run import PRETRAINED_INITS
from promptbank.scoring.evaluate import Evaluation, accuracy_of_many, evaluate
from promptbank.tasks import get_task
from promptbank.transfer.inits import BASELINES, check_choice
from promptbank.transfer.run import TransferSpec, retrieve, transfer_start
from promptbank.transfer.similarity import METRICS, similarity_matrix
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import Job, TrainResult, train_many
from promptbank.tuning.prompt import SoftPrompt
from promptbank.tuning.run import TargetData, check_sizes, target_data


@dataclass(frozen=True)
class MatrixSpec:
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    backbone: str = DEFAULT_BACKBONE
    shots: int = 16
    prompt_length: int = 20
    strategies: tuple[str, ...] = ("weighted-average", "best-of-k", "mixture")
    k: int = 3
    by: str = "zero-shot"
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
        check_sizes(self.shots, self.prompt_length, self.test_size)
        # Recorded as the precision in use, so cells that a continued run adds on another host are not
        # silently computed in another one.
        object.__setattr__(self, "dtype", dtype_name(self.dtype))

    def config(self, seed: int) -> TrainConfig:
        return replace(self.train, seed=seed)


def steps_to_reach(curve: list[dict], threshold: float) -> int | None:
    """The first evaluated step whose dev accuracy reaches `threshold`; None if it never does."""
    return next((p["step"] for p in curve if p["dev_accuracy"] >= threshold - 1e-9), None)


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when it is undefined."""
    if len(x) < 3:
        return None

    def ranks(values: list[float]) -> torch.Tensor:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for t in range(i, j + 1):
                out[order[t]] = (i + j) / 2
            i = j + 1
        return torch.tensor(out)

    a, b = ranks(x), ranks(y)
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.norm() * b.norm()).item()
    return None if denominator == 0 else (a @ b).item() / denominator


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


def run_json(result: TrainResult, test: Evaluation, gold: list[int]) -> dict:
    """A run as JSON: its test accuracy, which test examples it got right (for paired bootstrap intervals), its
    dev scores and curve."""
    correct = "".join("1" if p == g else "0" for p, g in zip(test.predictions, gold))
    return {"test_accuracy": test.accuracy, "test_correct": correct, "best_dev": result.best_dev,
            "best_step": result.best_step, "curve": result.curve}


def run_cell(spec: MatrixSpec, bank: PromptBank, backbone: Backbone, prompts: torch.Tensor,
             records: list[PromptRecord], target: str, seed: int,
             zero_shot: dict[str, float] | None = None) -> tuple[dict, torch.Tensor]:
    """Every measurement of one (target, seed) cell, as plain JSON-ready data, and the target's trained
    random-init prompt. `zero_shot`, the source prompts' test accuracies on the target, is computed when
    not given (it does not depend on the seed: the test examples and the source prompts are the same).

    Every run of the cell starts from its own prompt but trains on the same batches, so they are trained together
    (`train_many`): the same prompts as separate runs, in shared forward passes."""
    data: TargetData = target_data(backbone, target, spec.shots, seed, test_size=spec.test_size)
    config = spec.config(seed)
    gold = [item.label for item in data.test_items]

    starts = {("random", "random"): init_prompt(backbone, spec.prompt_length, "random", seed=seed)}
    if spec.per_source and (spec.per_source_seeds is None or seed < spec.per_source_seeds):
        for record, tensor in zip(records, prompts):
            if record.task != target:
                starts["per_source", record.task] = SoftPrompt(tensor, backbone.name, backbone.tokenizer_fingerprint,
                                                               "prompt", source=record.id)
    retrieval, transfers = None, {}  # one ranking of the bank serves every strategy of the cell
    for strategy in spec.strategies:
        transfer_spec = TransferSpec(target, strategy, spec.k, spec.by, backbone=spec.backbone, shots=spec.shots,
                                     prompt_length=spec.prompt_length, dtype=spec.dtype, test_size=spec.test_size,
                                     train=config)
        if strategy not in BASELINES + PRETRAINED_INITS:
            retrieval = retrieval or retrieve(transfer_spec, backbone, bank, data)
        start, ranking, lineage = transfer_start(transfer_spec, backbone, bank, data, retrieval)
        starts["strategies", strategy], transfers[strategy] = start, (ranking, lineage)
    trained = train_many(backbone, [Job(data.train_items, data.dev_items, start) for start in starts.values()],
                         config, progress=False)
    runs = {key: (result, evaluate(backbone, result.prompt.tensor, data.test_items))
            for key, result in zip(starts, trained)}

    random_result, random_test = runs["random", "random"]
    reference = random_result.best_dev
    cell = {"target": target, "seed": seed, "majority": data.majority,
            "random": run_json(random_result, random_test, gold) | {
                "steps_to_random_best": steps_to_reach(random_result.curve, reference)},
            "zero_shot": zero_shot or (dict(zip([r.task for r in records],
                                                accuracy_of_many(backbone, prompts, data.test_items).tolist()))
                                       if records else {}),
            "per_source": {}, "strategies": {}}
    for (group, name), (result, test) in runs.items():
        if group == "random":
            continue
        cell[group][name] = run_json(result, test, gold) | {
            "gain": test.accuracy - random_test.accuracy, "steps_to_random_best": steps_to_reach(result.curve, reference)}
        if group == "strategies":
            ranking, lineage = transfers[name]
            task_of = {r.record.id: r.record.task for r in ranking}
            cell[group][name] |= {"lineage": lineage,
                                  "source_tasks": [task_of.get(i) or bank.get(i).task for i in lineage["sources"]]}
    return cell, random_result.prompt.tensor


def add_similarities(spec: MatrixSpec, backbone: Backbone, prompts: torch.Tensor, records: list[PromptRecord],
                     cell: dict, target_prompt: torch.Tensor) -> None:
    """Every metric between each source prompt and the target's trained random-init prompt (cheap, so it is
    computed from the saved prompt whenever results are summarised, and new metrics need no retraining)."""
    cell["similarity"] = {}
    for metric in spec.metrics:
        values = similarity_matrix(metric, prompts, target_prompt.unsqueeze(0), backbone=backbone)[:, 0].tolist()
        cell["similarity"][metric] = dict(zip([r.task for r in records], values))


def gain_interval(runs: list[dict], randoms: list[dict]) -> dict | None:
    """The paired gain over random init with its 95% bootstrap interval over seeds and test examples (None for
    cells saved before runs recorded which test examples they got right)."""
    if any("test_correct" not in run for run in runs + randoms):
        return None
    correct = lambda rows: torch.tensor([[c == "1" for c in run["test_correct"]] for run in rows], dtype=torch.float32)
    return paired_gain(correct(runs), correct(randoms)).as_dict()


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
    similarity = {m: {s: {t: mean([c["similarity"][m][s] for c in per_target(t)]) for t in targets}
                      for s in spec.sources} for m in spec.metrics}
    pairs = [(s, t) for s in spec.sources for t in targets if gains[s][t] is not None]
    predictors = {**{m: similarity[m] for m in spec.metrics}, "zero-shot": zero_shot}
    groups = {"all pairs": pairs, **{t: [(s, u) for s, u in pairs if u == t] for t in targets}}
    # Pooled over targets, a predictor is also rewarded for telling targets apart; per target it is not.
    correlations = {name: {group: spearman([values[s][t] for s, t in kept], [gains[s][t] for s, t in kept])
                           for group, kept in groups.items()} for name, values in predictors.items()}
    def means(runs: list[dict], randoms: list[dict]) -> dict:
        """Means over seeds, with the std of test accuracy across seeds and the paired gain's bootstrap interval."""
        summary = {key: mean([run.get(key) for run in runs])
                   for key in ("test_accuracy", "gain", "steps_to_random_best")}
        accuracies = torch.tensor([run["test_accuracy"] for run in runs])
        summary["test_accuracy_std"] = accuracies.std().item() if len(runs) > 1 else None
        summary["gain_ci"] = gain_interval(runs, randoms)
        return summary

    strategies = {}
    for t in targets:
        cells_t = per_target(t)
        randoms = [c["random"] for c in cells_t]
        strategies[t] = {"random": means([r | {"gain": 0.0} for r in randoms], randoms)}
        for name in spec.strategies:
            strategies[t][name] = means([c["strategies"][name] for c in cells_t], randoms) | {
                "sources_seed0": cells_t[0]["strategies"][name]["source_tasks"]}
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
    kinds = {name: get_task(name).category for name in dict.fromkeys((*spec.sources, *targets))}  # fixed order
    same = [gains[s][t] for s, t in pairs if kinds[s] == kinds[t]]
    other = [gains[s][t] for s, t in pairs if kinds[s] != kinds[t]]
    return {"targets": targets, "zero_shot": zero_shot, "gain": gains, "similarity": similarity,
            "spearman_with_gain": correlations, "strategies": strategies, "kinds": kinds,
            "mean_gain_same_kind": mean(same), "mean_gain_other_kind": mean(other),
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
    zero_shot: dict[str, float] | None = None  # the target's, when a finished cell already has them


def train_cell(unit: CellUnit) -> tuple[dict, torch.Tensor]:
    """A worker's part: `run_cell` for one unit."""
    spec = unit.spec
    backbone = load_backbone(spec.backbone, spec.dtype)
    with PromptBank(unit.bank) as bank:
        prompts, records = source_prompts(bank, backbone, spec.sources, spec.prompt_length)
        return run_cell(spec, bank, backbone, prompts, records, unit.target, unit.seed, unit.zero_shot)


def _flat(settings: dict) -> dict:
    """The embedded training settings as top-level keys (steps, lr, ...), as older spec.json files have them."""
    return {k: v for k, v in settings.items() if k != "train"} | settings.get("train", {})


def run_matrix(spec: MatrixSpec, bank: PromptBank, out: Path, progress: bool = True,
               run_missing: bool = True, executor: Executor = Executor()) -> tuple[list[dict], dict]:
    """Run (or continue) every cell, then write results.json, matrix.csv and report.html into `out`.

    Cells run as `executor`'s units, in two waves: first one cell of each target with none finished (it scores
    the sources zero-shot on the target's test set), then the rest, which reuse those scores. With `run_missing`
    off, nothing is trained: the cells finished so far are summarised (to look at a long experiment while it
    runs, or at one that was stopped).
    """
    for name in spec.sources + spec.targets:
        get_task(name)
    out = Path(out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    settings = out / "spec.json"
    if settings.exists():
        recorded, given = _flat(json.loads(settings.read_text())), _flat(json.loads(json.dumps(asdict(spec))))
        # Cells are kept per (target, seed), so targets and seeds may grow or shrink; nothing else may change.
        if differ := [f"{key} {recorded.get(key)!r} there, {value!r} here" for key, value in given.items()
                      if key not in ("targets", "seeds") and recorded.get(key) != value]:
            raise BadArgumentError(f"{out} holds an experiment with other settings ({'; '.join(differ)}); "
                                   "pass the same settings, choose another --out, or remove it.")
    write_atomic(settings, json.dumps(asdict(spec), indent=1))
    paths = {(t, s): out / "cells" / f"{t}-seed{s}" for t in spec.targets for s in spec.seeds}
    finished = {key: json.loads(path.with_suffix(".json").read_text()) for key, path in paths.items()
                if path.with_suffix(".json").exists()}
    missing = [key for key in paths if key not in finished] if run_missing else []

    def store(unit: CellUnit, result: tuple[dict, torch.Tensor]) -> None:
        cell, target_prompt = result
        path = paths[unit.target, unit.seed]
        write_atomic(path.with_suffix(".safetensors"), save({"prompt": target_prompt.contiguous()}))
        text = json.dumps(cell, indent=1)
        write_atomic(path.with_suffix(".json"), text)  # last: the cell is now done
        finished[unit.target, unit.seed] = json.loads(text)
        bar.update()

    def units(keys: list[tuple[str, int]]) -> list[CellUnit]:
        shared = {t: c["zero_shot"] for (t, _), c in finished.items()}
        return [CellUnit(spec, bank.root.absolute(), t, s, shared.get(t)) for t, s in keys]

    from tqdm.auto import tqdm
    with tqdm(total=len(paths), initial=len(finished), desc="experiment cells", disable=not progress) as bar:
        started, first = {t for t, _ in finished}, {}
        for target, seed in missing:
            if target not in started:
                first.setdefault(target, (target, seed))
        run_units(train_cell, units(list(first.values())), store, executor)
        run_units(train_cell, units([key for key in missing if key not in finished]), store, executor)
    backbone = load_backbone(spec.backbone, spec.dtype)
    prompts, records = source_prompts(bank, backbone, spec.sources, spec.prompt_length)
    cells = [finished[key] for key in paths if key in finished]
    for key, cell in finished.items():
        add_similarities(spec, backbone, prompts, records, cell,
                         load_file(paths[key].with_suffix(".safetensors"))["prompt"])
    if not cells:
        raise DataError(f"{out} holds no finished experiment cells yet.")
    summary = summarize(spec, cells) | {"cells_done": [f"{c['target']}-seed{c['seed']}" for c in cells],
                                         "cells_planned": len(paths)}
    write_atomic(out / "results.json", json.dumps({"spec": asdict(spec), "sources": [asdict(r) for r in records],
                                                   "summary": summary, "cells": cells}, indent=1))
    write_csv(out / "matrix.csv", spec, cells)
    from promptbank.experiments.report import write_report  # matplotlib loads only once results are in
    write_report(out / "report.html", spec, summary, cells)
    return cells, summary


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
