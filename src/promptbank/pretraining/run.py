"""Pre-trained prompts (PPT): training one prompt per pre-training format on the corpus, storing it in a bank as
kind "pretrained", and finding the one a downstream task should start from.

Each format trains from random init on `examples` corpus examples, with `dev_size` more held out to keep the best
checkpoint. A format already in the bank with the same settings and corpus is skipped, and a killed format
continues from its checkpoint in `work_dir`, so the same command run again finishes the job.

A prompt that has not learnt its pre-training task is a random prompt with noise, not a PPT init, so a format
enters the bank only if its held-out accuracy is at least its chance level plus `gate` (15 points by default);
each record keeps both as `dev.accuracy` and `dev.chance`. A format below the gate is saved under `work_dir` for
inspection, and reported.
"""

from __future__ import annotations

import random
import shutil
import socket
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from promptbank import scoring
from promptbank.backbones import DEFAULT_BACKBONE, dtype_name, load_backbone
from promptbank.bank import PromptBank, PromptRecord
from promptbank.errors import BadArgumentError, DataError
from promptbank.executor import Executor, run_units
from promptbank.pretraining.corpus import Corpus, load_corpus
from promptbank.pretraining.formats import FORMATS_VERSION, PRETRAINING_TASKS, format_for
from promptbank.tasks import Task
from promptbank.tuning.config import Reparam, Schedule, Step, TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import Job, TrainResult, train_many
from promptbank.tuning.prompt import SoftPrompt, save_prompt

FORMAT_TAG = "ppt-format:"  # + the format name: how a bank finds the prompt of a format
GATE = 0.15  # a pre-trained prompt is stored when its held-out accuracy is at least chance + GATE
PRETRAINED_INITS = ("pretrained", "pretrained-unified")  # the format matching the task, or the unified one


@dataclass(frozen=True)
class PretrainSpec:
    backbone: str = DEFAULT_BACKBONE
    formats: tuple[str, ...] = tuple(PRETRAINING_TASKS)
    examples: int = 20_000  # training examples per format
    dev_size: int = 200
    documents: int | None = None  # corpus documents drawn with the seed (None: the whole corpus)
    prompt_length: int = 20
    seed: int = 0
    dtype: str = "auto"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1000, eval_every=100, patience=0))
    gate: float | None = GATE  # None: store whatever was learnt
    def __post_init__(self) -> None:
        if not self.formats:
            raise BadArgumentError("Pre-training needs at least one format.")
        if unknown := [f for f in self.formats if f not in PRETRAINING_TASKS]:
            raise BadArgumentError(f"Unknown pre-training format {unknown[0]!r}; use {', '.join(PRETRAINING_TASKS)}.")
        if self.examples <= 0 or self.dev_size <= 0 or self.prompt_length <= 0:
            raise BadArgumentError("--examples, --dev-size and --prompt-length must be positive.")
        if self.documents is not None and self.documents <= 0:
            raise BadArgumentError(f"--documents must be positive, not {self.documents}.")
        object.__setattr__(self, "dtype", dtype_name(self.dtype))
        object.__setattr__(self, "train", self.train.for_backbone(self.backbone))  # the recipe, as the CLI gets it

    def settings(self, fmt: str) -> dict:
        """What makes two pre-trained prompts of a format the same: everything but the other formats. The train
        settings added since prompts were first stored are left out at the value those prompts used (a linear
        schedule, an absolute step, no reparameterisation), as they record none of them."""
        settings = {k: v for k, v in asdict(self).items() if k not in ("formats", "gate")} | {
            "format": fmt, "formats_version": FORMATS_VERSION}  # prompts of version 1 (answers as texts) record none
        for name, used in (("schedule", Schedule.LINEAR), ("step", Step.ABSOLUTE), ("reparam", Reparam.NONE)):
            if getattr(self.train, name) == used:
                del settings["train"][name]
        return settings


def _task_for(spec: PretrainSpec, fmt: str, corpus) -> tuple[Task, Task]:
    """The format's training and dev examples, drawn once from the corpus and split with the seed."""
    task = PRETRAINING_TASKS[fmt](corpus, spec.examples + spec.dev_size, seed=spec.seed)
    examples = list(task.examples)
    random.Random(spec.seed).shuffle(examples)
    return task.with_examples(examples[:spec.examples]), task.with_examples(examples[spec.examples:])


def _stored(bank: PromptBank, spec: PretrainSpec, fmt: str, corpus_fingerprint: str) -> PromptRecord | None:
    for record in bank.list(backbone=spec.backbone, kind="pretrained", tag=FORMAT_TAG + fmt):
        lineage = record.lineage
        if lineage.get("settings") == spec.settings(fmt) and lineage.get("corpus") == corpus_fingerprint:
            return record
    return None


@dataclass(frozen=True)
class FormatUnit:
    """One format to pre-train, as a worker gets it: everything but the bank."""

    spec: PretrainSpec
    format: str
    corpus: str  # the driver's corpus fingerprint: a worker with another corpus refuses to train
    checkpoint_dir: Path  # on the machine that trains it (the driver's own disk, locally)
    progress: bool = True


def _format_job(unit: FormatUnit, backbone, corpus: Corpus) -> tuple[Job, Task, Task]:
    spec = unit.spec
    train_task, dev_task = _task_for(spec, unit.format, corpus)
    start = init_prompt(backbone, spec.prompt_length, "random", seed=spec.seed)
    job = Job(scoring.encode(backbone, train_task, train_task.examples),
              scoring.encode(backbone, dev_task, dev_task.examples), start, name=unit.format)
    return job, train_task, dev_task


def _with_info(spec: PretrainSpec, fmt: str, train_task: Task, dev_task: Task, result: TrainResult) -> SoftPrompt:
    prompt = result.prompt
    prompt.info = {"task": f"ppt-{fmt}", "task_format": train_task.format, "task_category": "pretrained",
                   "labels": list(train_task.labels), "train_examples": spec.examples,
                   "training": asdict(spec.train) | {"dtype": spec.dtype, "steps_done": result.steps_done,
                                                     "best_step": result.best_step},
                   "metrics": {"dev": {"accuracy": result.best_dev, "chance": chance_level(dev_task)}},
                   "curve": result.curve}
    return prompt


def _check_corpus(corpus: Corpus, expected: str) -> None:
    if corpus.fingerprint != expected:
        raise DataError(f"The corpus on {socket.gethostname()} is not the driver's ({corpus.fingerprint[:12]}, not "
                        f"{expected[:12]}); install the same promptbank there and run `promptbank fetch-data`.")


def pretrain_format(unit: FormatUnit, corpus: Corpus | None = None) -> SoftPrompt:
    """Pre-train one format's prompt (with its info: metrics, curve): a worker's part, which writes nothing but
    its checkpoints. `corpus` is the driver's when it runs in the driver's process; a worker loads its own."""
    spec = unit.spec
    corpus = corpus or load_corpus(spec.documents, spec.seed)
    _check_corpus(corpus, unit.corpus)
    backbone = load_backbone(spec.backbone, spec.dtype)
    job, train_task, dev_task = _format_job(unit, backbone, corpus)
    result = train_many(backbone, [job], spec.train, unit.checkpoint_dir, unit.progress)[0]
    return _with_info(spec, unit.format, train_task, dev_task, result)


def pretrain_together(units: list[FormatUnit], corpus: Corpus, checkpoint_dir: Path,
                      progress: bool = True) -> list[SoftPrompt]:
    """Pre-train the formats of `units` (one spec) together in one `train_many` pass, each on its own examples:
    what each would give alone, with every step's passes shared. One checkpoint holds them all."""
    spec = units[0].spec
    backbone = load_backbone(spec.backbone, spec.dtype)
    built = [_format_job(unit, backbone, corpus) for unit in units]
    results = train_many(backbone, [job for job, _, _ in built], spec.train, checkpoint_dir, progress,
                         desc=f"pre-training {len(units)} formats")
    return [_with_info(spec, unit.format, train_task, dev_task, result)
            for unit, (_, train_task, dev_task), result in zip(units, built, results)]


def chance_level(task: Task) -> float:
    """The accuracy of a uniform guess among each example's options, averaged over the task's examples."""
    return sum(1 / len(task.options(ex)) for ex in task.examples) / len(task.examples)


def passes_gate(prompt: SoftPrompt, gate: float | None) -> bool:
    dev = prompt.info["metrics"]["dev"]
    return gate is None or dev["accuracy"] >= dev["chance"] + gate - 1e-9


def pretrain(spec: PretrainSpec, bank: PromptBank, work_dir: Path, progress: bool = True,
             executor: Executor = Executor()) -> tuple[list[PromptRecord], dict[str, SoftPrompt]]:
    """Pre-train a prompt per format (or find it already done): the bank records of the formats that pass the gate,
    in format order, and the prompts of those that do not (saved under `work_dir/below-gate/`).

    The formats are trained by `executor`'s workers; this process alone adds them to the bank.
    """
    corpus = load_corpus(spec.documents, spec.seed)
    records: dict[str, PromptRecord] = {}
    units = []
    for fmt in dict.fromkeys(spec.formats):
        if (done := _stored(bank, spec, fmt, corpus.fingerprint)) is not None:
            records[fmt] = done
            continue
        checkpoints = Path(work_dir).absolute() / f"{spec.backbone.replace('/', '_')}-{fmt}-seed{spec.seed}"
        units.append(FormatUnit(spec, fmt, corpus.fingerprint, checkpoints, progress and executor.kind == "local"))

    refused: dict[str, SoftPrompt] = {}

    def store(unit: FormatUnit, prompt: SoftPrompt) -> None:
        fmt = unit.format
        if not passes_gate(prompt, spec.gate):
            refused[fmt] = prompt
            kept = Path(work_dir).absolute() / "below-gate" / unit.checkpoint_dir.name
            shutil.rmtree(kept, ignore_errors=True)  # an earlier try's
            save_prompt(prompt, kept)
            shutil.rmtree(unit.checkpoint_dir, ignore_errors=True)
            return
        lineage = {"method": "ppt", "sources": [], "format": fmt, "corpus": corpus.fingerprint,
                   "corpus_counts": corpus.counts, "settings": spec.settings(fmt)}
        records[fmt] = bank.add(prompt, name=f"ppt-{fmt}-{spec.backbone}", kind="pretrained",
                                tags=["pretrained", FORMAT_TAG + fmt], lineage=lineage)
        shutil.rmtree(unit.checkpoint_dir, ignore_errors=True)  # the prompt is in the bank: the checkpoint is spent

    if executor.kind == "local" and len(units) > 1:  # one pass trains them all
        together = Path(work_dir).absolute() / (f"{spec.backbone.replace('/', '_')}-"
                                                f"{'+'.join(u.format for u in units)}-seed{spec.seed}")
        for unit, prompt in zip(units, pretrain_together(units, corpus, together, progress)):
            store(unit, prompt)
        shutil.rmtree(together, ignore_errors=True)
    else:  # a format per worker; in this process the corpus is loaded already, a Ray worker loads its own
        work = partial(pretrain_format, corpus=corpus) if executor.kind == "local" else pretrain_format
        run_units(work, units, store, executor, progress)
    return [records[fmt] for fmt in spec.formats if fmt in records], refused


def pretrained_for(bank: PromptBank, backbone: str, task: Task, init: str, length: int) -> SoftPrompt:
    """The bank's newest pre-trained prompt for a downstream task: of the format that matches the task's
    (`pretrained`: sentence pair → NSP-3, multiple choice → next-sentence selection, single text → 5-level
    sentiment) or the unified one (`pretrained-unified`)."""
    if init not in PRETRAINED_INITS:
        raise BadArgumentError(f"Unknown pre-trained init {init!r}; use {' or '.join(PRETRAINED_INITS)}.")
    fmt = "unified" if init == "pretrained-unified" else format_for(task)
    found = bank.list(backbone=backbone, kind="pretrained", tag=FORMAT_TAG + fmt, sort="created", descending=True)
    if not found:
        raise DataError(f"The bank at {bank.root} has no pre-trained {fmt} prompt for backbone {backbone!r}; "
                        f"make one with `promptbank pretrain --formats {fmt}`.")
    if found[0].length != length:
        raise BadArgumentError(f"The pre-trained {fmt} prompt has {found[0].length} tokens, not --prompt-length "
                               f"{length}.")
    return bank.load(found[0].id)
