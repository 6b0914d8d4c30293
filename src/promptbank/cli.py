"""The `promptbank` command: a thin shell that parses arguments, calls the library and prints with rich."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from promptbank.bank_cli import bank_app, console
from promptbank.cli_training import LR_HELP, train_config
from promptbank.errors import BadArgumentError, PromptbankError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Soft prompt tuning and prompt transfer on frozen language models.")
app.add_typer(bank_app, name="bank")


@app.command()
def backbones() -> None:
    """List the bundled backbones (any local Hugging Face model directory or id also works)."""
    from promptbank.backbones import BUILTIN, DEFAULT_BACKBONE
    table = Table("name", "model")
    for name, description in BUILTIN.items():
        table.add_row(name + (" (default)" if name == DEFAULT_BACKBONE else ""), description)
    console.print(table)


@app.command()
def tasks() -> None:
    """List the built-in tasks with their format, classes and split sizes."""
    from promptbank.tasks import get_task, split, task_names
    table = Table("task", "kind", "format", "classes", "train", "validation", "test")
    for column in table.columns[:3]:
        column.no_wrap = True
    for name in task_names():
        task = get_task(name)
        parts = split(task)
        classes = " / ".join(task.verbalizer) if task.verbalizer else f"{len(task.labels)} choices per example"
        table.add_row(name, task.kind, task.format, classes, *(str(len(s)) for s in
                                                                (parts.train, parts.validation, parts.test)))
    console.print(table)


@app.command("fetch-data")
def fetch_data() -> None:
    """Download the data archives the built-in tasks need and extract only the files they use."""
    from promptbank.tasks.sources import fetch_data as fetch
    console.print(f"task data ready in {fetch()}")


@app.command()
def train(
    task: Annotated[str, typer.Option(help="A built-in task name, or a task spec .json file.")],
    out: Annotated[Path, typer.Option(help="Directory to write the trained prompt to (must not exist).")],
    backbone: Annotated[str, typer.Option(help="Bundled backbone name, or a local HF model dir/id.")] = "smollm2-135m",
    shots: Annotated[Optional[int], typer.Option(help="Examples per class (few-shot); default: all.")] = None,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 200,
    prompt_length: Annotated[int, typer.Option(help="Number of soft prompt tokens.")] = 20,
    init: Annotated[str, typer.Option(help="random, vocab, text, labels or prompt.")] = "random",
    init_text: Annotated[Optional[str], typer.Option(help="Text to start from, with --init text.")] = None,
    init_prompt: Annotated[Optional[Path], typer.Option(help="Saved prompt to start from, --init prompt.")] = None,
    lr: Annotated[Optional[float], typer.Option(help=LR_HELP)] = None,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 8,
    eval_every: Annotated[int, typer.Option(help="Evaluate on dev every N steps.")] = 20,
    patience: Annotated[int, typer.Option(help="Stop after N evaluations without dev gain (0: never).")] = 5,
    test_size: Annotated[Optional[int], typer.Option(help="Evaluate on the first N test examples.")] = None,
    dtype: Annotated[str, typer.Option(help="auto (bfloat16 where native), float32 or bfloat16.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for sampling, init and batch order.")] = 0,
    bank: Annotated[Optional[Path], typer.Option(help="Also add the trained prompt to this bank.")] = None,
) -> None:
    """Train a soft prompt on a task with the backbone frozen, evaluate it on test and save it."""
    from promptbank.runs import RunSpec, run_training
    config = train_config(steps=steps, batch_size=batch_size, lr=lr, eval_every=eval_every, patience=patience,
                          seed=seed)
    spec = RunSpec(task=task, backbone=backbone, shots=shots, prompt_length=prompt_length, init=init,
                   init_text=init_text, init_prompt=init_prompt, dtype=dtype, test_size=test_size, train=config)
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


@app.command()
def transfer(
    target: Annotated[str, typer.Option(help="The target task (its own prompts in the bank are not used).")],
    bank: Annotated[Optional[Path], typer.Option(help="Bank of source prompts (default: $PROMPTBANK_HOME).")] = None,
    strategy: Annotated[str, typer.Option(help="best-of-k, weighted-average, mixture; or a baseline: random, "
                                               "vocab, labels.")] = "weighted-average",
    k: Annotated[int, typer.Option(help="How many top-ranked sources to use.")] = 3,
    metric: Annotated[str, typer.Option(help="Similarity metric for retrieval.")] = "spot-avg-cosine",
    by: Annotated[str, typer.Option(help="Rank sources by similarity or by zero-shot dev accuracy.")] = "similarity",
    backbone: Annotated[str, typer.Option()] = "smollm2-135m",
    shots: Annotated[int, typer.Option(help="Examples per class for train and dev.")] = 16,
    steps: Annotated[int, typer.Option(help="Training steps of the target prompt.")] = 100,
    prompt_length: Annotated[int, typer.Option()] = 20,
    eval_every: Annotated[int, typer.Option()] = 10,
    lr: Annotated[Optional[float], typer.Option(help=LR_HELP)] = None,
    test_size: Annotated[Optional[int], typer.Option()] = None,
    seed: Annotated[int, typer.Option()] = 0,
    dtype: Annotated[str, typer.Option()] = "auto",
) -> None:
    """Initialise a target task's prompt from the bank's source prompts, train it, and store it with its lineage."""
    from promptbank.bank import PromptBank
    from promptbank.runs import TransferSpec, transfer_run
    config = train_config(steps=steps, eval_every=eval_every, lr=lr, patience=0, seed=seed)
    spec = TransferSpec(target=target, strategy=strategy, k=k, by=by, metric=metric, backbone=backbone, shots=shots,
                        prompt_length=prompt_length, dtype=dtype, test_size=test_size, train=config)
    with PromptBank(bank) as store:
        result = transfer_run(spec, store)
        record = store.add(result.prompt, lineage=result.lineage)
    if result.ranking:
        ranking = Table("rank", "source", "task", "score", "used", title=f"sources ranked by {by}"
                        + (f" ({metric})" if by == "similarity" else " (dev accuracy)"))
        for i, ranked in enumerate(result.ranking, 1):
            ranking.add_row(str(i), ranked.record.id, ranked.record.task or "-", f"{ranked.score:.4f}",
                            "yes" if i <= k else "")
        console.print(ranking)
    table = Table("", "", title=f"promptbank transfer → {target}", show_header=False)
    for label, value in (("strategy", strategy), ("best dev accuracy", f"{result.training.best_dev:.3f}"),
                         ("test accuracy", f"{result.test.accuracy:.3f} on {result.test.n}"),
                         ("test macro-F1", f"{result.test.macro_f1:.3f}"),
                         ("majority-class accuracy", f"{result.majority:.3f}"), ("stored as", record.id)):
        table.add_row(label, value)
    console.print(table)


@app.command()
def similarity(
    bank: Annotated[Optional[Path], typer.Option(help="Bank directory (default: $PROMPTBANK_HOME).")] = None,
    metric: Annotated[str, typer.Option(help="spot-avg-cosine, spot-token-cosine, cosine, euclidean, token-cosine, "
                                             "token-euclidean or on.")] = "spot-avg-cosine",
    backbone: Annotated[str, typer.Option(help="Compare the prompts of this backbone.")] = "smollm2-135m",
    length_policy: Annotated[str, typer.Option(help="Prompts of different lengths: reject, pad or truncate.")] =
        "reject",
    out: Annotated[Path, typer.Option(help="Heatmap PNG to write.")] = Path("similarity.png"),
) -> None:
    """The similarity matrix of a bank's prompts (task similarity), printed and drawn as a heatmap."""
    from promptbank.backbones import load_backbone
    from promptbank.bank import PromptBank
    from promptbank.plots import heatmap
    from promptbank.similarity import similarity_matrix
    with PromptBank(bank) as store:
        prompts, records = store.stack(backbone, length_policy=length_policy)
    if not records:
        raise BadArgumentError(f"The bank has no prompts of backbone {backbone!r}.")
    model = load_backbone(backbone) if metric == "on" else None
    matrix = similarity_matrix(metric, prompts, prompts, backbone=model)
    labels = [f"{r.task or r.name} ({r.id[:6]})" for r in records]
    table = Table("", *labels, title=f"{metric} similarity of {len(records)} prompts")
    for label, row in zip(labels, matrix.tolist()):
        table.add_row(label, *(f"{v:.3f}" for v in row))
    console.print(table)
    heatmap(matrix.tolist(), labels, labels, f"{metric} similarity ({backbone})", "similarity", out)
    console.print(f"heatmap: {out}")


experiment_app = typer.Typer(no_args_is_help=True, help="Transfer experiments with reports.")
app.add_typer(experiment_app, name="experiment")


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.split(",") if name)


@experiment_app.command("matrix")
def matrix(
    sources: Annotated[str, typer.Option(help="Comma-separated source tasks (their prompts come from the bank).")],
    targets: Annotated[str, typer.Option(help="Comma-separated target tasks.")],
    out: Annotated[Path, typer.Option(help="Folder for report.html, results.json, matrix.csv (reruns continue).")],
    bank: Annotated[Optional[Path], typer.Option(help="Bank of source prompts (default: $PROMPTBANK_HOME).")] = None,
    seeds: Annotated[int, typer.Option(help="Number of seeds (few-shot draws and inits): 0..N-1.")] = 3,
    backbone: Annotated[str, typer.Option()] = "smollm2-135m",
    shots: Annotated[int, typer.Option()] = 16,
    steps: Annotated[int, typer.Option(help="Training steps of every run (the same budget for all).")] = 30,
    eval_every: Annotated[int, typer.Option()] = 5,
    lr: Annotated[Optional[float], typer.Option(help=LR_HELP)] = None,
    prompt_length: Annotated[int, typer.Option()] = 20,
    strategies: Annotated[str, typer.Option(help="Comma-separated transfer strategies.")] =
        "weighted-average,best-of-k,mixture",
    k: Annotated[int, typer.Option()] = 3,
    by: Annotated[str, typer.Option(help="Retrieval for the strategies: zero-shot or similarity.")] = "zero-shot",
    per_source: Annotated[bool, typer.Option(help="Train the target from every source (the gain matrix).")] = True,
    test_size: Annotated[int, typer.Option()] = 200,
    dtype: Annotated[str, typer.Option()] = "auto",
    report_only: Annotated[bool, typer.Option(help="Train nothing: report the cells finished so far.")] = False,
) -> None:
    """Source × target matrix of zero-shot scores and transfer gains, metric correlations, convergence curves."""
    from promptbank.bank import PromptBank
    from promptbank.experiments import MatrixSpec, run_matrix
    if seeds <= 0:
        raise BadArgumentError(f"--seeds must be positive, not {seeds}.")
    spec = MatrixSpec(sources=_names(sources), targets=_names(targets), seeds=tuple(range(seeds)), backbone=backbone,
                      shots=shots, steps=steps, eval_every=eval_every, prompt_length=prompt_length,
                      **({} if lr is None else {"lr": lr}),
                      strategies=_names(strategies), k=k, by=by, per_source=per_source, test_size=test_size,
                      dtype=dtype)
    with PromptBank(bank) as store:
        _, summary = run_matrix(spec, store, out, run_missing=not report_only)
    print_summary(spec, summary)
    console.print(f"{len(summary['cells_done'])} of {summary['cells_planned']} (target, seed) cells finished")
    console.print(f"report: {out / 'report.html'}")


def print_summary(spec, summary: dict) -> None:
    """The experiment's headline numbers as rich tables."""
    def number(value) -> str:
        return "-" if value is None else f"{value:.3f}"
    table = Table("target", "init", "retrieved sources (seed 0)", "test acc", "gain", "steps to random's best",
                  title="random vs transfer init, same step budget (means over seeds)")
    for column in table.columns[:2]:
        column.no_wrap = True
    for target, runs in summary["strategies"].items():
        for name, run in runs.items():
            table.add_row(target, name, ", ".join(run.get("sources_seed0", [])) or "-", number(run["test_accuracy"]),
                          number(run["gain"]),
                          "-" if run["steps_to_random_best"] is None else f"{run['steps_to_random_best']:.1f}")
    console.print(table)
    zero_shot = Table("source", *summary["targets"], title="zero-shot test accuracy (source prompt as is)")
    for source in spec.sources:
        zero_shot.add_row(source, *(number(summary["zero_shot"][source][t]) for t in summary["targets"]))
    console.print(zero_shot)
    if spec.per_source:
        gains = Table("source", *summary["targets"], title="transfer gain over random init")
        for source in spec.sources:
            gains.add_row(source, *(number(summary["gain"][source][t]) for t in summary["targets"]))
        console.print(gains)
        groups = ["all pairs", *summary["targets"]]
        correlations = Table("predictor", *groups, title="Spearman rho of each predictor with the transfer gain")
        for name, rho in summary["spearman_with_gain"].items():
            correlations.add_row(name, *(number(rho[group]) for group in groups))
        console.print(correlations)


@app.command("eval")
def eval_(
    prompt: Annotated[Path, typer.Option(help="A saved prompt directory.")],
    task: Annotated[str, typer.Option(help="A built-in task name, or a task spec .json file.")],
    backbone: Annotated[Optional[str], typer.Option(help="Backbone (default: the prompt's own).")] = None,
    split: Annotated[str, typer.Option(help="train, validation or test.")] = "test",
    limit: Annotated[Optional[int], typer.Option(help="Evaluate on the first N examples only.")] = None,
    dtype: Annotated[str, typer.Option(help="auto, float32 or bfloat16.")] = "auto",
) -> None:
    """Evaluate a saved prompt on a task split."""
    from promptbank.runs import evaluate_saved
    result = evaluate_saved(prompt, task, backbone, split, limit, dtype)
    table = Table("prompt", "task", "split", "examples", "accuracy", "macro-F1", title="promptbank eval")
    table.add_row(str(prompt), task, split, str(result.n), f"{result.accuracy:.3f}", f"{result.macro_f1:.3f}")
    console.print(table)


def main() -> None:
    """Entry point: user mistakes end as one sentence on stderr and exit code 2, never a traceback."""
    try:
        app()
    except PromptbankError as err:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        sys.exit(2)
