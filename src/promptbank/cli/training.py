"""Training and evaluating one prompt: `promptbank train` and `promptbank eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from promptbank.cli.app import app, console, use_device
from promptbank.cli.options import (
    DEFAULT_BACKBONE,
    BackboneOption,
    BatchSizeOption,
    ChoiceScoringOption,
    DevSizeOption,
    DeviceOption,
    Dtype,
    DtypeOption,
    EvalEveryOption,
    Init,
    InitOption,
    LrOption,
    PatienceOption,
    PromptLengthOption,
    Reparam,
    ReparamOption,
    ScoringPathOption,
    SeedOption,
    ShotsOption,
    Split,
    Step,
    StepOption,
    StepsOption,
    TestSizeOption,
    TrainSizeOption,
    bank_option,
    scored_name,
)

TaskOption = Annotated[str, typer.Option(help="A built-in task name (see `promptbank tasks`), or a task spec .json "
                                              "file; either may end in :sum, :mean or :letters (see "
                                              "--choice-scoring).")]


@app.command()
def train(
    task: TaskOption,
    out: Annotated[Path, typer.Option(help="Directory to write the trained prompt to (must not exist); its checkpoints "
                                           "go to <out>.partial/, and the same command resumes from them.")],
    backbone: BackboneOption = DEFAULT_BACKBONE,
    shots: ShotsOption = "all",
    steps: StepsOption = 200,
    prompt_length: PromptLengthOption = 20,
    init: InitOption = Init.RANDOM,
    init_text: Annotated[str | None, typer.Option(help="With --init text: the text whose token embeddings the "
                                                       "prompt starts from.")] = None,
    init_prompt: Annotated[str | None, typer.Option(help="With --init prompt: a saved prompt directory, a PEFT "
                                                         "adapter directory, or a prompt id in --bank.")] = None,
    lr: LrOption = None,
    step: StepOption = Step.ABSOLUTE,
    reparam: ReparamOption = Reparam.NONE,
    batch_size: BatchSizeOption = 8,
    eval_every: EvalEveryOption = 20,
    patience: PatienceOption = 5,
    train_size: TrainSizeOption = None,
    dev_size: DevSizeOption = 200,
    test_size: TestSizeOption = None,
    dtype: DtypeOption = Dtype.AUTO,
    seed: SeedOption = 0,
    bank: bank_option("The bank the trained prompt is stored in, where --init-prompt ids and pre-trained prompts "
                      "are looked up") = None,
    store: Annotated[bool, typer.Option(help="Store the trained prompt in the bank (--no-store: only in --out).")]
    = True,
    choice_scoring: ChoiceScoringOption = None,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
) -> None:
    """Train a soft prompt on a task with the backbone frozen, evaluate it on test and save it.

    The prompt is written to --out and stored in the bank: --bank, else the default bank ($PROMPTBANK_HOME, else
    ~/.local/share/promptbank); --no-store leaves the bank alone. --init-prompt ids and pre-trained prompts are
    looked up in the same bank."""
    use_device(device, scoring_path)
    from promptbank.tuning.config import TrainConfig
    from promptbank.tuning.run import RunSpec, run_training
    spec = RunSpec(task=scored_name(task, choice_scoring), backbone=backbone, shots=shots, prompt_length=prompt_length, init=init.value,
                   init_text=init_text, init_prompt=init_prompt, bank=bank, dtype=dtype.value, dev_size=dev_size,
                   test_size=test_size, train_size=train_size,
                   train=TrainConfig(steps=steps, batch_size=batch_size, lr=lr, step=step, reparam=reparam,
                                     eval_every=eval_every, patience=patience, seed=seed))
    result = run_training(spec, out)
    info = result.prompt.info
    table = Table("", "", title="promptbank train", show_header=False)
    for label, value in (("task", info["task"]), ("backbone", result.prompt.backbone), ("init", result.prompt.init),
                         ("train examples", info["train_examples"]), ("steps", result.training.steps_done),
                         ("best dev accuracy", f"{result.training.best_dev:.3f} (step {result.training.best_step})"),
                         ("test accuracy", f"{result.test.accuracy:.3f} on {result.test.n}"),
                         ("test macro-F1", f"{result.test.macro_f1:.3f}"),
                         ("majority-class accuracy", f"{result.majority:.3f}")):
        table.add_row(label, str(value))
    console.print(table)
    console.print(f"saved to {out}")
    if store:
        from promptbank.bank import PromptBank
        with PromptBank(bank, create=True) as prompts:
            record = prompts.add(result.prompt)
        console.print(f"added to the bank at {prompts.root} as {record.id}")


@app.command("eval")
def eval_(
    prompt: Annotated[Path, typer.Option(help="A saved prompt directory (from `promptbank train --out`).")],
    task: TaskOption,
    backbone: Annotated[str | None, typer.Option(help="The backbone to evaluate on (default: the prompt's "
                                                      "own).")] = None,
    split: Annotated[Split, typer.Option(help="The split to evaluate on.")] = Split.TEST,
    limit: Annotated[int | None, typer.Option(help="Evaluate on the first N examples only.")] = None,
    dtype: DtypeOption = Dtype.AUTO,
    choice_scoring: ChoiceScoringOption = None,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
) -> None:
    """Evaluate a saved prompt on a task split."""
    use_device(device, scoring_path)
    task = scored_name(task, choice_scoring)
    from promptbank.tuning.run import evaluate_saved
    result = evaluate_saved(prompt, task, backbone, split.value, limit, dtype.value)
    table = Table("prompt", "task", "split", "examples", "accuracy", "macro-F1", title="promptbank eval")
    table.add_row(str(prompt), task, split.value, str(result.n), f"{result.accuracy:.3f}", f"{result.macro_f1:.3f}")
    console.print(table)
