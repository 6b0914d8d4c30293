"""A training run end to end: task + backbone + init → trained prompt evaluated on test, saved with its record."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from promptbank import scoring
from promptbank.backbones import DEFAULT_BACKBONE, Backbone, dtype_name, load_backbone
from promptbank.bank import PromptBank
from promptbank.bank.peft import CONFIG as ADAPTER_CONFIG
from promptbank.bank.peft import read_peft
from promptbank.errors import BadArgumentError, DataError
from promptbank.pretraining.run import PRETRAINED_INITS, pretrained_for
from promptbank.scoring.evaluate import Evaluation, evaluate
from promptbank.scoring.metrics import majority_accuracy
from promptbank.tasks import Example, Task, few_shot, fingerprint, get_task, split
from promptbank.tuning.config import TrainConfig
from promptbank.tuning.init import init_prompt
from promptbank.tuning.loop import TrainResult, train_prompt
from promptbank.tuning.prompt import SoftPrompt, check_compatible, load_prompt, save_prompt


def check_sizes(shots: int | None, prompt_length: int, test_size: int | None, dev_size: int = 1) -> None:
    """The numbers every run takes, checked before any model is loaded."""
    if shots is not None and shots <= 0:
        raise BadArgumentError(f"--shots must be a positive number of examples per class, not {shots}.")
    if prompt_length <= 0:
        raise BadArgumentError(f"--prompt-length must be a positive number of tokens, not {prompt_length}.")
    if dev_size <= 0 or (test_size is not None and test_size <= 0):
        raise BadArgumentError("--dev-size and --test-size must be positive.")


@dataclass(frozen=True)
class RunSpec:
    task: str
    backbone: str = DEFAULT_BACKBONE
    shots: int | None = None  # examples per class for train and dev; None uses the whole train split
    prompt_length: int = 20
    init: str = "random"
    init_text: str | None = None
    init_prompt: str | None = None  # with init "prompt": a saved prompt dir, a PEFT adapter dir, or a bank id
    bank: Path | None = None  # where a bank id in init_prompt is looked up (default: $PROMPTBANK_HOME)
    dtype: str = "auto"
    dev_size: int = 200  # dev examples when not few-shot (from the validation split)
    test_size: int | None = None  # evaluate on the first N test examples (None: the whole test split)
    train_size: int | None = None  # when not few-shot, train on the first N of the (shuffled) training split
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_sizes(self.shots, self.prompt_length, self.test_size, self.dev_size)
        if self.train_size is not None and self.train_size <= 0:
            raise BadArgumentError(f"--train-size must be positive, not {self.train_size}.")
        object.__setattr__(self, "train", self.train.for_backbone(self.backbone))  # the recipe, as the CLI gets it


@dataclass
class RunResult:
    prompt: SoftPrompt
    training: TrainResult
    test: Evaluation
    majority: float  # test accuracy of always answering the training split's most frequent label
    test_items: list  # the encoded test examples, to score other prompts (or none) on the same ones


@dataclass(frozen=True)
class TargetData:
    """A task's examples for one run (few-shot or not), encoded once for the backbone."""

    task: Task
    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]
    train_items: list
    dev_items: list
    test_items: list
    majority: float  # test accuracy of always answering the most frequent label of the whole training split


def dev_examples(validation: tuple[Example, ...], shots: int | None, seed: int, dev_size: int) -> tuple[Example, ...]:
    """A run's dev examples: K per class of the validation split when few-shot, else its first `dev_size`."""
    return few_shot(validation, shots, seed) if shots else validation[:dev_size]


def target_data(backbone: Backbone, task_name: str, shots: int | None, seed: int, dev_size: int = 200,
                test_size: int | None = None, train_size: int | None = None) -> TargetData:
    """Train/dev from the task's fixed splits (K per class of each when few-shot), test from its test split."""
    task = get_task(task_name)
    parts = split(task)
    train = few_shot(parts.train, shots, seed) if shots else parts.train[:train_size]
    dev = dev_examples(parts.validation, shots, seed, dev_size)
    test = parts.test[:test_size]
    # From the whole split: K-per-class samples are balanced, and their "most frequent" label is an arbitrary tie.
    majority = majority_accuracy([ex.label for ex in parts.train], [ex.label for ex in test])
    return TargetData(task, train, dev, test, *(scoring.encode(backbone, task, part) for part in (train, dev, test)),
                      majority)


def run_info(data: TargetData, shots: int | None, config: TrainConfig, dtype: str, training: TrainResult,
             test: Evaluation) -> dict:
    """What a trained prompt records about its run (saved beside it and in the bank)."""
    return {
        "task": data.task.name, "task_format": data.task.format, "task_category": data.task.category,
        "labels": list(data.task.labels), "shots": shots, "train_examples": len(data.train),
        "data_fingerprint": fingerprint(data.train),
        "training": asdict(config) | {"dtype": dtype_name(dtype), "steps_done": training.steps_done,
                                      "best_step": training.best_step, "stopped_early": training.stopped_early},
        "metrics": {"dev": {"accuracy": training.best_dev}, "test": test.as_dict(),
                    "test_majority_accuracy": data.majority},
        "curve": training.curve,
    }


def starting_prompt(reference: str | None, backbone: Backbone, bank: Path | None = None) -> Path | SoftPrompt | None:
    """The prompt `--init-prompt` names, for `init_prompt`: a saved prompt directory (as is), a PEFT prompt-tuning
    adapter directory or the id (or unique prefix) of a prompt in the bank (loaded)."""
    if reference is None:
        return None
    path = Path(reference)
    if path.is_dir() and (path / ADAPTER_CONFIG).exists():
        return read_peft(path, backbone)
    if path.exists():
        return path
    try:
        with PromptBank(bank) as store:
            return store.load(reference)
    except DataError as err:  # not in a bank either: say what --init-prompt takes
        raise DataError(f"--init-prompt {reference!r} is not a prompt or PEFT adapter directory, nor a bank id "
                        f"({str(err).rstrip('.')}).") from None


def pretrained_start(bank: PromptBank, backbone: Backbone, task: Task, init: str, length: int) -> SoftPrompt:
    """A copy of the bank's pre-trained prompt for the task (`pretrained`: the format that matches it;
    `pretrained-unified`), recorded as that init."""
    found = pretrained_for(bank, backbone.name, task, init, length)
    start = init_prompt(backbone, length, "prompt", source=found)
    start.init = f"{init}:{bank.get(found.info['bank_id']).name}"
    return start


def prepare_run(spec: RunSpec, backbone: Backbone) -> tuple[TargetData, SoftPrompt]:
    """A run's encoded data and starting prompt, as `spec` says."""
    seed = spec.train.seed
    data = target_data(backbone, spec.task, spec.shots, seed, spec.dev_size, spec.test_size, spec.train_size)
    if spec.init in PRETRAINED_INITS:
        with PromptBank(spec.bank) as bank:
            return data, pretrained_start(bank, backbone, data.task, spec.init, spec.prompt_length)
    source = starting_prompt(spec.init_prompt, backbone, spec.bank) if spec.init == "prompt" else None
    return data, init_prompt(backbone, spec.prompt_length, spec.init, seed=seed, text=spec.init_text, task=data.task,
                             source=source)


def finish_run(spec: RunSpec, backbone: Backbone, data: TargetData, training: TrainResult) -> RunResult:
    """A trained run evaluated on test, its prompt carrying what it records about the run."""
    test = evaluate(backbone, training.prompt.tensor, data.test_items, spec.train.eval_batch_size)
    training.prompt.info = run_info(data, spec.shots, spec.train, spec.dtype, training, test)
    return RunResult(training.prompt, training, test, data.majority, data.test_items)


def train_task(spec: RunSpec, progress: bool = True, checkpoint_dir: Path | None = None) -> RunResult:
    """Train a prompt as `spec` says and evaluate it on test (nothing is written but checkpoints)."""
    backbone = load_backbone(spec.backbone, spec.dtype)
    data, prompt = prepare_run(spec, backbone)
    training = train_prompt(backbone, data.train_items, data.dev_items, prompt, spec.train,
                            checkpoint_dir=checkpoint_dir, progress=progress)
    return finish_run(spec, backbone, data, training)


def run_training(spec: RunSpec, out: Path, progress: bool = True) -> RunResult:
    """Train as `spec` says and save the prompt to `out` (complete, or not at all).

    Checkpoints go to `<out>.partial/`; running the same spec again after a kill resumes from there.
    """
    out = Path(out)
    if out.exists():
        raise BadArgumentError(f"{out} already exists; choose another --out or remove it.")
    get_task(spec.task)  # an unknown task is reported before any model is loaded
    partial = out.with_name(out.name + ".partial")
    result = train_task(spec, progress, checkpoint_dir=partial)
    save_prompt(result.prompt, out)
    shutil.rmtree(partial, ignore_errors=True)
    return result


def evaluate_saved(prompt_dir: Path, task_name: str, backbone_name: str | None = None, split_name: str = "test",
                   limit: int | None = None, dtype: str = "auto", batch_size: int = 32) -> Evaluation:
    """Evaluate a saved prompt on a split of a task, on the backbone it was trained on unless told otherwise."""
    if split_name not in ("train", "validation", "test"):
        raise BadArgumentError(f"--split must be train, validation or test, not {split_name!r}.")
    if limit is not None and limit <= 0:
        raise BadArgumentError(f"--limit must be positive, not {limit}.")
    prompt = load_prompt(prompt_dir)
    task = get_task(task_name)
    backbone = load_backbone(backbone_name or prompt.backbone, dtype)
    check_compatible(prompt, backbone)
    examples = getattr(split(task), split_name)[:limit]
    return evaluate(backbone, prompt.tensor, scoring.encode(backbone, task, examples), batch_size)
