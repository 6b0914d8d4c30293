"""Reusing the bank: `promptbank transfer` and `promptbank similarity`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from promptbank.cli.app import LR_HELP, DeviceOption, app, console, train_config, use_device
from promptbank.errors import BadArgumentError


@app.command()
def transfer(
    target: Annotated[str, typer.Option(help="The target task (its own prompts in the bank are not used).")],
    bank: Annotated[Optional[Path], typer.Option(help="Bank of source prompts (default: $PROMPTBANK_HOME).")] = None,
    strategy: Annotated[str, typer.Option(help="best-of-k, weighted-average, mixture; or a baseline: random, "
                                               "vocab, labels.")] = "weighted-average",
    k: Annotated[int, typer.Option(help="How many top-ranked sources to use.")] = 3,
    metric: Annotated[str, typer.Option(help="Similarity metric for retrieval.")] = "spot-avg-cosine",
    by: Annotated[str, typer.Option(help="Rank sources by similarity, by zero-shot dev accuracy, or staged (a "
                                         "similarity prefilter, then successive halving of zero-shot dev accuracy: "
                                         "for large banks).")] = "similarity",
    prefilter: Annotated[int, typer.Option(help="With --by staged: how many prompts most similar to the task "
                                                "embedding go on to be scored (all of a bank this size or smaller)."
                                         )] = 256,
    backbone: Annotated[str, typer.Option()] = "smollm2-135m",
    shots: Annotated[int, typer.Option(help="Examples per class for train and dev.")] = 16,
    steps: Annotated[int, typer.Option(help="Training steps of the target prompt.")] = 100,
    prompt_length: Annotated[int, typer.Option()] = 20,
    eval_every: Annotated[int, typer.Option()] = 10,
    lr: Annotated[Optional[float], typer.Option(help=LR_HELP)] = None,
    test_size: Annotated[Optional[int], typer.Option()] = None,
    seed: Annotated[int, typer.Option()] = 0,
    dtype: Annotated[str, typer.Option()] = "auto",
    device: DeviceOption = None,
) -> None:
    """Initialise a target task's prompt from the bank's source prompts, train it, and store it with its lineage."""
    use_device(device)
    from promptbank.bank import PromptBank
    from promptbank.transfer.run import TransferSpec, transfer_run
    config = train_config(backbone, steps=steps, eval_every=eval_every, lr=lr, patience=0, seed=seed)
    spec = TransferSpec(target=target, strategy=strategy, k=k, by=by, metric=metric, backbone=backbone, shots=shots,
                        prompt_length=prompt_length, prefilter=prefilter, dtype=dtype, test_size=test_size,
                        train=config)
    with PromptBank(bank) as store:
        result = transfer_run(spec, store)
        record = store.add(result.prompt, lineage=result.lineage)
    if result.ranking:
        how = {"similarity": f" ({metric})", "zero-shot": " (dev accuracy)",
               "staged": f" (dev accuracy of the prompts scored; prefilter by {metric})"}[by]
        ranking = Table("rank", "source", "task", "score", "used", title=f"sources ranked by {by}{how}")
        scored = [r for r in result.ranking if r.score == r.score]  # staged retrieval leaves most unscored (NaN)
        for i, ranked in enumerate(scored, 1):
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
    device: DeviceOption = None,
) -> None:
    """The similarity matrix of a bank's prompts (task similarity), printed and drawn as a heatmap."""
    use_device(device)
    from promptbank.backbones import load_backbone
    from promptbank.bank import PromptBank
    from promptbank.experiments.plots import heatmap
    from promptbank.transfer.similarity import similarity_matrix
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


