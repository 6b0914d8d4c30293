"""Building a bank of source prompts: one prompt per task and seed, kept only when it is worth transferring from.

A source is trained from random init (so sources differ only by what they learnt), few-shot or on its whole
training split with early stopping on a dev set, and then held to a bar on the full test split: it must beat
the majority class by a margin and the task's template with no prompt at all. A weak source would otherwise
pass its weakness to every target initialised from it. Every outcome, kept or left out, is written to
`<bank>/.build/`, so a stopped build continues where it was and says why each source was left out.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from promptbank.atomic import write_atomic
from promptbank.backbones import DEFAULT_BACKBONE, Backbone, load_backbone
from promptbank.bank import PromptBank
from promptbank.executor import Executor, run_units
from promptbank.scoring.evaluate import template_accuracy
from promptbank.tasks import fingerprint, get_task
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.loop import Job, train_many
from promptbank.tuning.prompt import SoftPrompt
from promptbank.tuning.run import RunResult, RunSpec, finish_run, prepare_run, train_task

BAR_MARGIN = 0.05  # a source must beat its task's majority class by this much on the test split
BUILD_DIR = ".build"  # outcomes and checkpoints of a build, inside the bank's folder


@dataclass(frozen=True)
class SourceOutcome:
    """What training one source gave, and whether it went into the bank."""

    task: str
    seed: int
    test_accuracy: float
    test_examples: int
    majority: float  # always answering the training split's most frequent label
    template_accuracy: float  # the task's template with no prompt
    dev_accuracy: float
    steps_done: int
    kept: bool
    reason: str  # why it was left out ("" when kept)
    record_id: str | None


def verdict(test_accuracy: float, majority: float, template_accuracy: float, margin: float | None) -> str:
    """Why a source fails the bar, or "" when it passes (or no bar is set)."""
    if margin is None:
        return ""
    if test_accuracy < majority + margin:
        return f"test accuracy {test_accuracy:.3f} is not {margin:.2f} above the majority class ({majority:.3f})"
    if test_accuracy <= template_accuracy:
        return f"test accuracy {test_accuracy:.3f} does not beat the template with no prompt ({template_accuracy:.3f})"
    return ""


@dataclass(frozen=True)
class SourceUnit:
    """One source to train, as a worker gets it: everything but the bank."""

    spec: RunSpec
    margin: float | None
    checkpoint_dir: Path  # on the machine that trains it (the driver's own disk, locally)
    progress: bool = True

    @property
    def name(self) -> str:
        return f"{self.spec.task}-s{self.spec.train.seed}"


@dataclass
class TrainedSource:
    """What a worker sends back: the prompt (with its info: metrics, curve) and its outcome, not yet stored."""

    prompt: SoftPrompt
    outcome: SourceOutcome  # record_id None until the driver adds the prompt


def _judge(unit: SourceUnit, backbone: Backbone, result: RunResult) -> TrainedSource:
    """A trained source held to the bar: its test accuracy against the majority class and the bare template."""
    spec = unit.spec
    template = template_accuracy(backbone, result.test_items, spec.train.eval_batch_size)
    result.prompt.info["metrics"]["test_template_accuracy"] = template
    reason = verdict(result.test.accuracy, result.majority, template, unit.margin)
    return TrainedSource(result.prompt, SourceOutcome(spec.task, spec.train.seed, result.test.accuracy, result.test.n,
                                                      result.majority, template, result.training.best_dev,
                                                      result.training.steps_done, not reason, reason, None))


def train_source(unit: SourceUnit) -> TrainedSource:
    """Train one source and hold it to the bar: a worker's part, which writes nothing but its checkpoints."""
    result = train_task(unit.spec, unit.progress, checkpoint_dir=unit.checkpoint_dir)
    return _judge(unit, load_backbone(unit.spec.backbone, unit.spec.dtype), result)  # the model train_task loaded


def train_sources_together(units: list[SourceUnit], checkpoint_dir: Path, progress: bool) -> list[TrainedSource]:
    """Every unit's run in one `train_many` call: the same prompts as `train_source` one by one (each with its own
    data, seed, dev scores and early stopping), in shared forward passes. One checkpoint holds them all."""
    spec = units[0].spec
    backbone = load_backbone(spec.backbone, spec.dtype)
    prepared = [prepare_run(unit.spec, backbone) for unit in units]
    jobs = [Job(data.train_items, data.dev_items, start, unit.spec.train.seed,
                f"{unit.name}:{fingerprint(data.train)}") for unit, (data, start) in zip(units, prepared)]
    trained = train_many(backbone, jobs, spec.train, checkpoint_dir, progress)
    return [_judge(unit, backbone, finish_run(unit.spec, backbone, data, result))
            for unit, (data, _), result in zip(units, prepared, trained)]


def build_bank(tasks: list[str], bank: PromptBank, backbone: str = DEFAULT_BACKBONE, shots: int | None = 16,
               prompt_length: int = 20, seeds: tuple[int, ...] = (0,), config: TrainConfig = TrainConfig(),
               dtype: str = "auto", test_size: int | None = None, dev_size: int = 200, train_size: int | None = None,
               margin: float | None = BAR_MARGIN, progress: bool = True,
               executor: Executor = Executor()) -> list[SourceOutcome]:
    """Train one source prompt per task and seed and add each that passes the bar to the bank.

    `shots` None trains on the whole training split (its first `train_size` examples where given; the split
    is already shuffled) with dev scores on `dev_size` validation examples; set `config.patience` for early
    stopping. Sources already built into this bank (kept or not) are not trained again. Locally, the sources are
    trained together (`train_sources_together`) and stored when all are done; a killed build continues from their
    shared checkpoint. On Ray, each is a task, stored as it finishes. Either way this process alone adds them to
    the bank and writes their outcomes.
    """
    for name in tasks:
        get_task(name)  # every task name is checked before hours of training start
    work = bank.root.absolute() / BUILD_DIR
    outcomes: dict[str, SourceOutcome] = {}
    units = []
    for name, seed in dict.fromkeys((name, seed) for name in tasks for seed in seeds):
        done = work / f"{name}-s{seed}.json"
        if not done.exists() and (stored := _stored(bank, backbone, f"{name}-s{seed}")):
            write_atomic(done, json.dumps(asdict(stored), indent=1))  # a build killed after adding it
        if done.exists():
            outcomes[f"{name}-s{seed}"] = SourceOutcome(**json.loads(done.read_text()))
            continue
        spec = RunSpec(name, backbone, shots, prompt_length, dtype=dtype, dev_size=dev_size, test_size=test_size,
                       train_size=train_size, train=replace(config, seed=seed))
        units.append(SourceUnit(spec, margin, work / f"{name}-s{seed}.partial", progress and executor.kind == "local"))

    def store(unit: SourceUnit, trained: TrainedSource) -> None:
        outcome = trained.outcome
        if outcome.kept:
            outcome = replace(outcome, record_id=bank.add(trained.prompt, name=unit.name, tags=["source"]).id)
        write_atomic(work / f"{unit.name}.json", json.dumps(asdict(outcome), indent=1))
        shutil.rmtree(unit.checkpoint_dir, ignore_errors=True)
        outcomes[unit.name] = outcome

    if executor.kind == "local" and units:  # one process: its units share forward passes
        together = work / "together.partial"
        for unit, trained in zip(units, train_sources_together(units, together, progress)):
            store(unit, trained)
        shutil.rmtree(together, ignore_errors=True)
    else:
        run_units(train_source, units, store, executor, progress)
    return [outcomes[f"{name}-s{seed}"] for name in tasks for seed in seeds]


def _stored(bank: PromptBank, backbone: str, name: str) -> SourceOutcome | None:
    """The outcome of a source already in the bank under `name`, read back from its record."""
    record = next((r for r in bank.list(backbone=backbone) if r.name == name and "source" in r.tags), None)
    if record is None:
        return None
    metrics = record.metrics
    return SourceOutcome(record.task, int(name.rsplit("-s", 1)[1]), metrics["test"]["accuracy"], metrics["test"]["n"],
                         metrics["test_majority_accuracy"], metrics.get("test_template_accuracy", float("nan")),
                         metrics["dev"]["accuracy"], (record.training or {}).get("steps_done", 0), True, "", record.id)
