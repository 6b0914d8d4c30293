"""A training run end to end: task + backbone + init → trained prompt evaluated on test, saved with its record."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from promptbank import scoring
from promptbank.backbones import DEFAULT_BACKBONE, load_backbone
from promptbank.errors import BadArgumentError
from promptbank.evaluate import Evaluation, evaluate
from promptbank.metrics import majority_accuracy
from promptbank.prompt import SoftPrompt, check_compatible, init_prompt, load_prompt, save_prompt
from promptbank.tasks import fingerprint, few_shot, get_task, split
from promptbank.train import TrainConfig, TrainResult, train_prompt


@dataclass(frozen=True)
class RunSpec:
    task: str
    backbone: str = DEFAULT_BACKBONE
    shots: int | None = None  # examples per class for train and dev; None uses the whole train split
    prompt_length: int = 20
    init: str = "random"
    init_text: str | None = None
    init_prompt: Path | None = None
    dtype: str = "auto"
    dev_size: int = 200  # dev examples when not few-shot (from the validation split)
    test_size: int | None = None  # evaluate on the first N test examples (None: the whole test split)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.shots is not None and self.shots <= 0:
            raise BadArgumentError(f"--shots must be a positive number of examples per class, not {self.shots}.")
        if self.prompt_length <= 0:
            raise BadArgumentError(f"--prompt-length must be a positive number of tokens, not {self.prompt_length}.")
        if self.dev_size <= 0 or (self.test_size is not None and self.test_size <= 0):
            raise BadArgumentError("--dev-size and --test-size must be positive.")


@dataclass
class RunResult:
    prompt: SoftPrompt
    training: TrainResult
    test: Evaluation
    majority: float  # test accuracy of always predicting the most frequent training label


def run_training(spec: RunSpec, out: Path, progress: bool = True) -> RunResult:
    """Train a prompt as `spec` says and save it to `out` (complete, or not at all).

    Checkpoints go to `<out>.partial/`; running the same spec again after a kill resumes from there.
    """
    out = Path(out)
    if out.exists():
        raise BadArgumentError(f"{out} already exists; choose another --out or remove it.")
    task = get_task(spec.task)
    backbone = load_backbone(spec.backbone, spec.dtype)
    splits = split(task)
    seed = spec.train.seed
    train = few_shot(splits.train, spec.shots, seed) if spec.shots else splits.train
    dev = few_shot(splits.validation, spec.shots, seed) if spec.shots else splits.validation[:spec.dev_size]
    test = splits.test[:spec.test_size]
    prompt = init_prompt(backbone, spec.prompt_length, spec.init, seed=seed, text=spec.init_text, task=task,
                         source=spec.init_prompt)
    partial = out.with_name(out.name + ".partial")
    training = train_prompt(backbone, scoring.encode(backbone, task, train), scoring.encode(backbone, task, dev),
                            prompt, spec.train, checkpoint_dir=partial, progress=progress)
    test_eval = evaluate(backbone, training.prompt.tensor, scoring.encode(backbone, task, test),
                         spec.train.eval_batch_size)
    majority = majority_accuracy([ex.label for ex in train], [ex.label for ex in test])
    trained = training.prompt
    trained.info = {
        "task": task.name, "task_format": task.format, "task_kind": task.kind, "labels": list(task.labels),
        "shots": spec.shots, "train_examples": len(train), "data_fingerprint": fingerprint(train),
        "training": asdict(spec.train) | {"dtype": spec.dtype, "steps_done": training.steps_done,
                                          "best_step": training.best_step, "stopped_early": training.stopped_early},
        "metrics": {"dev": {"accuracy": training.best_dev}, "test": test_eval.as_dict(),
                    "test_majority_accuracy": majority},
        "curve": training.curve,
    }
    save_prompt(trained, out)
    shutil.rmtree(partial, ignore_errors=True)
    return RunResult(trained, training, test_eval, majority)


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
