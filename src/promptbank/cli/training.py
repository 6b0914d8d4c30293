"""Training and evaluating one prompt: `promptbank train` and `promptbank eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from promptbank.cli.app import LR_HELP, DeviceOption, app, console, train_config, use_device


@app.command()
def train(
    task: Annotated[str, typer.Option(help="A built-in task name, or a task spec .json file.")],
    out: Annotated[Path, typer.Option(help="Directory to write the trained prompt to (must not exist).")],
    backbone: Annotated[str, typer.Option(help="Bundled backbone name, or a local HF model dir/id.")] = "smollm2-135m",
    shots: Annotated[Optional[int], typer.Option(help="Examples per class (few-shot); default: all.")] = None,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 200,
    prompt_length: Annotated[int, typer.Option(help="Number of soft prompt tokens.")] = 20,
    init: Annotated[str, typer.Option(help="random, vocab, text, labels, prompt, or a pre-trained prompt from --bank: "
                                           "pretrained (the format matching the task) or pretrained-unified.")]
    = "random",
    init_text: Annotated[Optional[str], typer.Option(help="Text to start from, with --init text.")] = None,
    init_prompt: Annotated[Optional[str], typer.Option(help="With --init prompt: a saved prompt directory, a PEFT "
                                                            "adapter directory, or a bank id (see --bank).")] = None,
    lr: Annotated[Optional[float], typer.Option(help=LR_HELP)] = None,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 8,
    eval_every: Annotated[int, typer.Option(help="Evaluate on dev every N steps.")] = 20,
    patience: Annotated[int, typer.Option(help="Stop after N evaluations without dev gain (0: never).")] = 5,
    test_size: Annotated[Optional[int], typer.Option(help="Evaluate on the first N test examples.")] = None,
    dtype: Annotated[str, typer.Option(help="auto (bfloat16 where native), float32 or bfloat16.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for sampling, init and batch order.")] = 0,
    bank: Annotated[Optional[Path], typer.Option(help="Add the trained prompt to this bank (and look up a bank id "
                                                      "given to --init-prompt, or a pre-trained prompt, there).")]
    = None,
    device: DeviceOption = None,
) -> None:
    """Train a soft prompt on a task with the backbone frozen, evaluate it on test and save it."""
    use_device(device)
    from promptbank.tuning.run import RunSpec, run_training
    config = train_config(backbone, steps=steps, batch_size=batch_size, lr=lr, eval_every=eval_every,
                          patience=patience, seed=seed)
    spec = RunSpec(task=task, backbone=backbone, shots=shots, prompt_length=prompt_length, init=init,
                   init_text=init_text, init_prompt=init_prompt, bank=bank, dtype=dtype, test_size=test_size,
                   train=config)
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
    if bank is not None:
        from promptbank.bank import PromptBank
        with PromptBank(bank, create=True) as store:
            record = store.add(result.prompt)
        console.print(f"added to the bank at {store.root} as {record.id}")


@app.command("eval")
def eval_(
    prompt: Annotated[Path, typer.Option(help="A saved prompt directory.")],
    task: Annotated[str, typer.Option(help="A built-in task name, or a task spec .json file.")],
    backbone: Annotated[Optional[str], typer.Option(help="Backbone (default: the prompt's own).")] = None,
    split: Annotated[str, typer.Option(help="train, validation or test.")] = "test",
    limit: Annotated[Optional[int], typer.Option(help="Evaluate on the first N examples only.")] = None,
    dtype: Annotated[str, typer.Option(help="auto, float32 or bfloat16.")] = "auto",
    device: DeviceOption = None,
) -> None:
    """Evaluate a saved prompt on a task split."""
    use_device(device)
    from promptbank.tuning.run import evaluate_saved
    result = evaluate_saved(prompt, task, backbone, split, limit, dtype)
    table = Table("prompt", "task", "split", "examples", "accuracy", "macro-F1", title="promptbank eval")
    table.add_row(str(prompt), task, split, str(result.n), f"{result.accuracy:.3f}", f"{result.macro_f1:.3f}")
    console.print(table)


