"""Pre-trained prompts (PPT): training one prompt per pre-training format on the corpus, storing it in a bank as
kind "pretrained", and finding the one a downstream task should start from.

Each format trains from random init on `examples` corpus examples, with `dev_size` more held out to keep the best
checkpoint. A format already in the bank with the same settings and corpus is skipped, and a killed format
continues from its checkpoint in `work_dir`, so the same command run again finishes the job.
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
from promptbank.pretraining.formats import PRETRAINING_TASKS, format_for
from promptbank.tasks import Task
from promptbank.tuning.config import Reparam, Schedule, Step, TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import train_prompt
from promptbank.tuning.prompt import SoftPrompt

FORMAT_TAG = "ppt-format:"  # + the format name: how a bank finds the prompt of a format
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
        settings = {k: v for k, v in asdict(self).items() if k != "formats"} | {"format": fmt}
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


def pretrain_format(unit: FormatUnit, corpus: Corpus | None = None) -> SoftPrompt:
    """Pre-train one format's prompt (with its info: metrics, curve): a worker's part, which writes nothing but
    its checkpoints. `corpus` is the driver's when it runs in the driver's process; a worker loads its own."""
    spec, fmt = unit.spec, unit.format
    corpus = corpus or load_corpus(spec.documents, spec.seed)
    if corpus.fingerprint != unit.corpus:
        raise DataError(f"The corpus on {socket.gethostname()} is not the driver's ({corpus.fingerprint[:12]}, not "
                        f"{unit.corpus[:12]}); install the same promptbank there and run `promptbank fetch-data`.")
    backbone = load_backbone(spec.backbone, spec.dtype)
    train_task, dev_task = _task_for(spec, fmt, corpus)
    train_items = scoring.encode(backbone, train_task, train_task.examples)
    dev_items = scoring.encode(backbone, dev_task, dev_task.examples)
    start = init_prompt(backbone, spec.prompt_length, "random", seed=spec.seed)
    result = train_prompt(backbone, train_items, dev_items, start, spec.train, checkpoint_dir=unit.checkpoint_dir,
                          progress=unit.progress)
    prompt = result.prompt
    prompt.info = {"task": f"ppt-{fmt}", "task_format": train_task.format, "task_category": "pretrained",
                   "labels": list(train_task.labels), "train_examples": spec.examples,
                   "training": asdict(spec.train) | {"dtype": spec.dtype, "steps_done": result.steps_done,
                                                     "best_step": result.best_step},
                   "metrics": {"dev": {"accuracy": result.best_dev}}, "curve": result.curve}
    return prompt


def pretrain(spec: PretrainSpec, bank: PromptBank, work_dir: Path, progress: bool = True,
             executor: Executor = Executor()) -> list[PromptRecord]:
    """Pre-train a prompt per format (or find it already done) and return their bank records, in format order.

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

    def store(unit: FormatUnit, prompt: SoftPrompt) -> None:
        fmt = unit.format
        lineage = {"method": "ppt", "sources": [], "format": fmt, "corpus": corpus.fingerprint,
                   "corpus_counts": corpus.counts, "settings": spec.settings(fmt)}
        records[fmt] = bank.add(prompt, name=f"ppt-{fmt}-{spec.backbone}", kind="pretrained",
                                tags=["pretrained", FORMAT_TAG + fmt], lineage=lineage)
        shutil.rmtree(unit.checkpoint_dir, ignore_errors=True)  # the prompt is in the bank: the checkpoint is spent

    # In this process the corpus is loaded already; a Ray worker loads its own (it is not sent with every unit).
    work = partial(pretrain_format, corpus=corpus) if executor.kind == "local" else pretrain_format
    run_units(work, units, store, executor, progress)
    return [records[fmt] for fmt in spec.formats]


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
