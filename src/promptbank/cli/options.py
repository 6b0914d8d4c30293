"""The options the commands share, each defined once with its help line, and every fixed set of choices as a `str`
enum, so `--help` lists the choices and a typo is refused before anything runs.

Nothing here imports torch: `promptbank --help` and every command's `--help` load only this, the app and the errors.
The enums mirror the library's tuples (tests/test_cli_help.py holds them equal); the library itself keeps taking
plain strings, and a command hands it each choice's `.value`.

One name means one thing in every command:
- `--bank DIR`: the prompt bank; left out, the default bank ($PROMPTBANK_HOME, else ~/.local/share/promptbank).
- `--seeds N`: how many seeds, the seeds being 0..N-1 (never a list).
- `--shots N`: N examples per class for train and dev; `--shots all`: the whole training split (commands that can
  train on it), with dev examples from the validation split (`--dev-size`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from promptbank.errors import BadArgumentError
from promptbank.tuning.config import Reparam, Step

DEFAULT_BACKBONE = "smollm2-135m"  # promptbank.backbones.DEFAULT_BACKBONE, without loading torch
DEFAULT_BANK = "$PROMPTBANK_HOME, else ~/.local/share/promptbank"


# ---- the fixed choices ------------------------------------------------------------------------------------------

class Init(StrEnum):
    """How a prompt starts (promptbank.tuning.init.INIT_METHODS + promptbank.pretraining.run.PRETRAINED_INITS)."""

    RANDOM = "random"
    VOCAB = "vocab"
    TEXT = "text"
    LABELS = "labels"
    PROMPT = "prompt"
    PRETRAINED = "pretrained"
    PRETRAINED_UNIFIED = "pretrained-unified"


class Strategy(StrEnum):
    """A transfer init from the bank's sources (promptbank.transfer.inits.STRATEGIES), a baseline (BASELINES) or
    a pre-trained prompt (PRETRAINED_INITS)."""

    WEIGHTED_AVERAGE = "weighted-average"
    BEST_OF_K = "best-of-k"
    MIXTURE = "mixture"
    LEARNED_MIXTURE = "learned-mixture"
    ATTENTION_MIXTURE = "attention-mixture"
    DELTA_AVERAGE = "delta-average"
    DELTA_BEST = "delta-best"
    RANDOM = "random"
    VOCAB = "vocab"
    LABELS = "labels"
    PRETRAINED = "pretrained"
    PRETRAINED_UNIFIED = "pretrained-unified"


class Retrieval(StrEnum):
    """How sources are ranked (promptbank.transfer.retrieval.RETRIEVALS)."""

    SIMILARITY = "similarity"
    ZERO_SHOT = "zero-shot"
    STAGED = "staged"


class Base(StrEnum):
    """What a task-vector init adds to (promptbank.transfer.inits.BASES)."""

    TARGET = "target"
    SOURCES = "sources"
    PRETRAINED = "pretrained"


BaseOption = Annotated[Base, typer.Option(help="With delta-average and delta-best: the start the task vectors are "
                                               "added to, target (the target's own random init), sources (their "
                                               "init) or pretrained (the bank's PPT prompt for the target's format: "
                                               "PPT plus transfer).")]


class Compared(StrEnum):
    """What a similarity metric compares (promptbank.transfer.similarity.COMPARED)."""

    DELTA = "delta"
    PROMPT = "prompt"


class Metric(StrEnum):
    """A similarity metric between prompts (promptbank.transfer.similarity.METRICS)."""

    SPOT_AVG_COSINE = "spot-avg-cosine"
    SPOT_TOKEN_COSINE = "spot-token-cosine"
    COSINE = "cosine"
    EUCLIDEAN = "euclidean"
    TOKEN_COSINE = "token-cosine"
    TOKEN_EUCLIDEAN = "token-euclidean"
    ON = "on"


class Dtype(StrEnum):
    """The compute precision (promptbank.backbones.resolve_dtype)."""

    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


class ScoringPath(StrEnum):
    """How a causal backbone reads candidates (promptbank.scoring.causal.SCORING_PATHS)."""

    AUTO = "auto"
    ONE_PASS = "one-pass"
    SHARED_CACHE = "shared-cache"


class ExecutorKind(StrEnum):
    """Where units of work run (promptbank.executor.EXECUTORS)."""

    LOCAL = "local"
    RAY = "ray"


class ChoiceScoring(StrEnum):
    """How a task's choices are scored (promptbank.tasks.task.CHOICE_SCORINGS)."""

    SUM = "sum"
    MEAN = "mean"
    LETTERS = "letters"


ChoiceScoringOption = Annotated[ChoiceScoring | None, typer.Option(
    help="How the task's choices are scored: sum (summed log-likelihood of each answer), mean (per token) or letters "
         "(the options listed as (A) ... in the input, the letter scored); the same as naming the task "
         "<task>:<mode>. Default: as the task's name says (sum).")]


def scored_name(task: str, choice_scoring: ChoiceScoring | None) -> str:
    """The task's name with --choice-scoring applied (`<task>:<mode>`)."""
    return task if choice_scoring is None else f"{task}:{choice_scoring.value}"


class Split(StrEnum):
    """A task split."""

    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


class LengthPolicy(StrEnum):
    """Prompts of different lengths, stacked (promptbank.bank.store.LENGTH_POLICIES)."""

    REJECT = "reject"
    PAD = "pad"
    TRUNCATE = "truncate"


class Kind(StrEnum):
    """A bank record's kind (promptbank.bank.catalog.KINDS)."""

    TASK = "task"
    PRETRAINED = "pretrained"
    PROJECTED = "projected"
    MIXTURE = "mixture"


class SortColumn(StrEnum):
    """The catalog columns `bank list` sorts by (promptbank.bank.catalog.SORTS); a metric path also sorts."""

    CREATED = "created"
    NAME = "name"
    TASK = "task"
    BACKBONE = "backbone"
    LENGTH = "length"


class ProjectionMethod(StrEnum):
    """How a projector is trained (promptbank.projection.model.METHODS)."""

    DISTANCE = "distance"
    TASK = "task"
    RIDGE = "ridge"


class ProjectorArchitecture(StrEnum):
    """A projector's network (promptbank.projection.model.ARCHITECTURES)."""

    PER_TOKEN = "per-token"
    WHOLE = "whole"
    LINEAR = "linear"


class ProjectorInputs(StrEnum):
    """What a projector reads of a prompt (promptbank.projection.model.INPUTS)."""

    PROMPT = "prompt"
    DELTA = "delta"


# the projector's options, shared by `project train` and `experiment projector-loo` (each keeps its own defaults)
ProjectorArchitectureOption = Annotated[ProjectorArchitecture, typer.Option(
    help="per-token (one network applied to each token), whole (Su et al.: the flattened prompt, a LayerNorm per "
         "token) or linear.")]
ProjectorInputsOption = Annotated[ProjectorInputs, typer.Option(
    help="prompt (the source prompt itself) or delta (its task vector, projected onto the target's own init).")]
DistanceWeightOption = Annotated[float, typer.Option(help="Task method: add this times the distance to the target's "
                                                          "own prompts of the tasks.")]
ContrastWeightOption = Annotated[float, typer.Option(help="Task method: add this times the contrastive term (each "
                                                          "task's projection must beat the others' on its items).")]
ContrastItemsOption = Annotated[int, typer.Option(help="Items per task the contrastive term scores under every "
                                                       "task's projection, each step.")]
RidgeOption = Annotated[float, typer.Option(help="Ridge method: the L2 penalty, in units of the source embeddings' "
                                                 "squared RMS (task vectors far smaller than the embeddings want a "
                                                 "smaller one).")]


class Nonlinearity(StrEnum):
    """The projector's activation (promptbank.projection.model.NONLINEARITIES)."""

    TANH = "tanh"
    RELU = "relu"
    GELU = "gelu"


class PretrainFormat(StrEnum):
    """A PPT pre-training format (promptbank.pretraining.formats.PRETRAINING_TASKS)."""

    NSP3 = "nsp3"
    NEXT_SENTENCE_SELECTION = "next_sentence_selection"
    SENTENCE_SENTIMENT5 = "sentence_sentiment5"
    UNIFIED = "unified"


class SweepInit(StrEnum):
    """An init the recipe sweep compares (promptbank.experiments.sweep.SWEEP_INITS)."""

    RANDOM = "random"
    VOCAB = "vocab"
    LABELS = "labels"
    TRANSFER = "transfer"


# ---- values the command line spells in its own way ---------------------------------------------------------------

def seed_count(value: object) -> int:
    """`--seeds N`: a positive count; the seeds are 0..N-1. A list is refused (it once meant a list in one command,
    so `--seeds 5` must never quietly mean seed 5)."""
    if isinstance(value, int):
        count = value
    else:
        try:
            count = int(str(value).strip())
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a number of seeds: --seeds N runs seeds 0 to N-1, so give 3 "
                                     "for seeds 0,1,2.") from None
    if count <= 0:
        raise typer.BadParameter(f"{count} is not a positive number of seeds (--seeds N runs seeds 0 to N-1).")
    return count


def few_shot_seed_count(value: object) -> int:
    """`--seeds N` of an experiment whose few-shot runs are optional: 0 runs none (its zero-shot part only)."""
    return 0 if str(value).strip() == "0" else seed_count(value)


def shot_count(value: object) -> int | None:
    """`--shots N` (examples per class for train and dev) or `--shots all` (the whole training split): None."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    if text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither a number of examples per class nor all (the whole training "
                                 "split).") from None


def sort_key(value: object) -> str:
    """A catalog column, or a metric path with a dot (dev.accuracy): a typo such as 'crated' is refused rather than
    sorting by a metric no record has."""
    text = str(value)
    parts = text.split(".")
    if text in tuple(SortColumn) or (len(parts) > 1 and all(p.replace("_", "").isalnum() for p in parts)):
        return text
    raise typer.BadParameter(f"{text!r} is neither one of {', '.join(SortColumn)} nor a metric path such as "
                             "dev.accuracy.")


IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def file_to_write(path: Path, option: str, suffixes: tuple[str, ...] = ()) -> Path:
    """A file a command will write: not a folder, in a folder (or a place one can be made), of a known kind; checked
    before any model loads, so a mistake costs nothing and leaves nothing."""
    if path.is_dir():
        raise BadArgumentError(f"{option} {path} is a folder; give a file name.")
    if any(parent.exists() and not parent.is_dir() for parent in path.parents):
        raise BadArgumentError(f"{option} {path} is inside a file, not a folder.")
    if suffixes and path.suffix.lower() not in suffixes:
        raise BadArgumentError(f"{option} {path} should end in {', '.join(suffixes)}.")
    return path


def folder_to_read(path: Path, option: str, what: str) -> Path:
    """An existing folder a command reads."""
    if not path.exists():
        raise BadArgumentError(f"{option} {path} does not exist; give {what}.")
    if not path.is_dir():
        raise BadArgumentError(f"{option} {path} is a file; give {what}.")
    return path


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names, empty items dropped."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def choices(text: str, allowed: type[StrEnum], option: str, noun: str) -> tuple[str, ...]:
    """Comma-separated choices, each checked: one sentence naming the first unknown one and what `option` takes."""
    items = names(text)
    for item in items:
        if item not in tuple(allowed):
            raise BadArgumentError(f"Unknown {noun} {item!r} in {option}; use one of {', '.join(allowed)}.")
    return items


def bank_option(role: str = "The prompt bank") -> object:
    """`--bank DIR` with what the command does with it; left out, the default bank."""
    return Annotated[Path | None, typer.Option("--bank", metavar="DIR", help=f"{role} (default: {DEFAULT_BANK}).",
                                               callback=_bank_folder)]


def _bank_folder(path: Path | None) -> Path | None:
    """--bank (or, left out, $PROMPTBANK_HOME) checked as the command line is parsed: a file where the bank's folder
    belongs would otherwise be found only when the bank is opened, after the training that fills it."""
    import os
    where = path if path is not None else os.environ.get("PROMPTBANK_HOME")
    if where and Path(where).exists() and not Path(where).is_dir():
        raise typer.BadParameter(f"{where} is a file, not a prompt bank folder.", param_hint="'--bank'")
    return path


# ---- the shared options -------------------------------------------------------------------------------------------

BankOption = bank_option()
BackboneOption = Annotated[str, typer.Option(help="A bundled backbone (see `promptbank backbones`), or a local Hugging "
                                                  "Face model directory or id.")]
DeviceOption = Annotated[str | None, typer.Option(help="cpu, cuda or cuda:N (default: $PROMPTBANK_DEVICE, else cuda "
                                                       "where there is one, else cpu).")]
ScoringPathOption = Annotated[ScoringPath | None, typer.Option(
    help="How a causal backbone reads each example's candidates: one-pass reads [prompt ; input ; candidate] as one "
         "sequence (fewest kernel launches), shared-cache reads each input once and its candidates after its cached "
         "keys and values (least compute); auto: one-pass on a GPU, shared-cache on the CPU. The scores are the same "
         "(default: $PROMPTBANK_SCORING_PATH, else auto).")]
DtypeOption = Annotated[Dtype, typer.Option(help="Compute precision: auto is bfloat16 where the hardware runs it "
                                                 "natively, else float32.")]
ExecutorOption = Annotated[ExecutorKind, typer.Option(help="local: units one after another in this process; ray: "
                                                           "units as Ray tasks (needs the ray extra). Only this process "
                                                           "writes the bank.")]
AddressOption = Annotated[str | None, typer.Option(help="With --executor ray: a Ray cluster's address (default: "
                                                        "a Ray started on this machine for the run).")]
CpusOption = Annotated[float | None, typer.Option("--cpus-per-unit", help="With --executor ray: CPUs each unit "
                                                                          "holds (default 1).")]
GpusOption = Annotated[float | None, typer.Option("--gpus-per-unit", help="With --executor ray: GPUs each unit "
                                                                          "holds (default: 1 where the cluster "
                                                                          "has GPUs, else 0).")]

ShotsOption = Annotated[int | None, typer.Option(parser=shot_count, metavar="N|all",
                                                 help="Examples per class for train and dev (few-shot), or all: the "
                                                      "whole training split, with dev examples from the validation "
                                                      "split.")]
FewShotsOption = Annotated[int, typer.Option(help="Examples per class for train and dev (few-shot).")]
SeedsOption = Annotated[int, typer.Option(parser=seed_count, metavar="N",
                                          help="How many seeds (few-shot draws, inits and batch orders): seeds 0 to "
                                               "N-1.")]
FewShotSeedsOption = Annotated[int, typer.Option(parser=few_shot_seed_count, metavar="N",
                                                 help="How many few-shot seeds (draws, inits and batch orders): "
                                                      "seeds 0 to N-1; 0 scores the zero-shot part only.")]
SeedOption = Annotated[int, typer.Option(help="Seed for the few-shot draw, the init and the batch order.")]
TrainSizeOption = Annotated[int | None, typer.Option(help="With --shots all: train on at most this many examples "
                                                          "of the (shuffled) training split.")]
DevSizeOption = Annotated[int, typer.Option(help="Dev examples from the validation split (with --shots all).")]
TestSizeOption = Annotated[int | None, typer.Option(help="Test examples: the first N of the test split (left out: "
                                                         "all of it).")]
TestLimitOption = Annotated[int, typer.Option(help="Test examples per task: the first N of its test split (all of a "
                                                   "smaller one).")]

StepsOption = Annotated[int, typer.Option(help="Training steps of each run (the same budget for every init).")]
EvalEveryOption = Annotated[int, typer.Option(help="Evaluate on the dev set every N steps.")]
StepOption = Annotated[Step, typer.Option("--step", help="How far an optimiser step moves the prompt: absolute (about "
                                                          "--lr) or relative (about --lr times the RMS of the "
                                                          "embeddings the model reads, so a backbone whose "
                                                          "embeddings are scaled, such as Gemma, moves as far); "
                                                          "--lr left out is the recipe's for either.")]
ReparamOption = Annotated[Reparam, typer.Option(help="How the prompt is parameterised while it trains: none, or "
                                                    "residual (Residual Prompt Tuning's MLP with a skip connection "
                                                    "over the prompt, folded back into a plain prompt at the end).")]
LrOption = Annotated[float | None, typer.Option(help="Learning rate (default: the backbone's recipe, chosen on dev "
                                                     "data; see `promptbank backbones`).")]
PatienceOption = Annotated[int, typer.Option(help="Stop after N evaluations without a dev gain (0: never stop "
                                                  "early).")]
BatchSizeOption = Annotated[int, typer.Option(help="Training examples per step.")]
PromptLengthOption = Annotated[int, typer.Option(help="Soft prompt tokens.")]
ReportOnlyOption = Annotated[bool, typer.Option(help="Train and score nothing: report what --out holds so far "
                                                       "(a long run's progress, from another shell).")]
InitOption = Annotated[Init, typer.Option(help="How the prompt starts: random, vocab (random vocabulary embeddings), "
                                               "text (--init-text), labels (the label words), prompt (--init-prompt), "
                                               "or a pre-trained prompt from --bank: pretrained (the format matching "
                                               "the task) or pretrained-unified.")]

StrategyOption = Annotated[Strategy, typer.Option(help="A transfer init from the top --k sources (best-of-k, "
                                                       "weighted-average, mixture, learned-mixture, attention-mixture "
                                                       "(weights per input), delta-average, delta-best), a baseline "
                                                       "(random, vocab, labels) "
                                                       "or a pre-trained prompt (pretrained, pretrained-unified).")]
StrategiesOption = Annotated[str, typer.Option(help="Comma-separated strategies, each one of: "
                                                    + ", ".join(Strategy) + ".")]
KOption = Annotated[int, typer.Option(help="How many top-ranked sources a strategy starts from.")]
ByOption = Annotated[Retrieval, typer.Option(help="Rank sources by similarity (to a briefly trained target prompt), "
                                                  "zero-shot (dev accuracy of each source as it is) or staged "
                                                  "(a similarity prefilter, then successive halving of zero-shot dev "
                                                  "accuracy: for large banks).")]
GuardOption = Annotated[float | None, typer.Option(
    help="Guard against negative transfer at this significance level (e.g. 0.05): start from random init instead "
         "when the best retrieved source's zero-shot dev accuracy is not above always answering the dev set's most "
         "frequent label (one-sided binomial test, Bonferroni over the sources it was the best of).")]
MetricOption = Annotated[Metric, typer.Option(help="Similarity metric between prompts (on: overlap of activated "
                                                   "feed-forward neurons, loads the backbone).")]
OnOption = Annotated[Compared, typer.Option(help="What the metric compares: delta, the task vectors (each prompt minus "
                                                 "the exact tensor it began from, where the task is; a shared init "
                                                 "would otherwise dominate), or prompt, the prompts as they are. The "
                                                 "on metric always reads the prompts.")]
TasksOption = Annotated[str, typer.Option(help="Comma-separated task names (see `promptbank tasks`).")]
RecordIdArgument = Annotated[str, typer.Argument(metavar="ID", help="A prompt id (or a unique prefix).")]
