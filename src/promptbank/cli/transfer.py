"""Reusing the bank: `promptbank transfer` and `promptbank similarity`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from promptbank.cli.app import app, console, use_device
from promptbank.cli.options import (
    DEFAULT_BACKBONE,
    BackboneOption,
    Base,
    BaseOption,
    BankOption,
    ByOption,
    GuardOption,
    Compared,
    DeviceOption,
    Dtype,
    DtypeOption,
    EvalEveryOption,
    KOption,
    LengthPolicy,
    LrOption,
    Metric,
    MetricOption,
    OnOption,
    PromptLengthOption,
    Retrieval,
    ScoringPathOption,
    SeedOption,
    ShotsOption,
    Step,
    StepOption,
    StepsOption,
    Strategy,
    StrategyOption,
    TestSizeOption,
    IMAGE_SUFFIXES,
    bank_option,
    file_to_write,
)
from promptbank.errors import BadArgumentError


@app.command()
def transfer(
    target: Annotated[str, typer.Option(help="The target task (its own prompts in the bank are never used).")],
    bank: bank_option("The bank of source prompts, where the target's new prompt is stored too") = None,
    strategy: StrategyOption = Strategy.WEIGHTED_AVERAGE,
    k: KOption = 3,
    metric: MetricOption = Metric.SPOT_AVG_COSINE,
    on: OnOption = Compared.DELTA,
    base: BaseOption = Base.TARGET,
    by: ByOption = Retrieval.SIMILARITY,
    guard: GuardOption = None,
    prefilter: Annotated[int, typer.Option(help="With --by staged: how many prompts most similar to the task "
                                                "embedding go on to be scored (all of a bank this size or smaller)."
                                           )] = 256,
    backbone: BackboneOption = DEFAULT_BACKBONE,
    shots: ShotsOption = 16,
    steps: StepsOption = 100,
    prompt_length: PromptLengthOption = 20,
    eval_every: EvalEveryOption = 10,
    lr: LrOption = None,
    step: StepOption = Step.ABSOLUTE,
    test_size: TestSizeOption = None,
    seed: SeedOption = 0,
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
) -> None:
    """Initialise a target task's prompt from the bank's source prompts, train it, and store it with its lineage."""
    use_device(device, scoring_path)
    from promptbank.bank import PromptBank
    from promptbank.transfer.run import TransferSpec, transfer_run
    from promptbank.tuning.config import TrainConfig
    spec = TransferSpec(target=target, strategy=strategy.value, k=k, by=by.value, metric=metric.value, on=on.value,
                        base=base.value,
                        backbone=backbone, shots=shots, prompt_length=prompt_length, prefilter=prefilter,
                        guard=guard,
                        dtype=dtype.value, test_size=test_size,
                        train=TrainConfig(steps=steps, eval_every=eval_every, lr=lr, patience=0, seed=seed,
                                          step=step))
    with PromptBank(bank) as store:
        result = transfer_run(spec, store)
        record = store.add(result.prompt, lineage=result.lineage)
    if result.ranking:
        compared = "prompts" if metric == Metric.ON else f"{on.value}s"
        how = {"similarity": f" ({metric.value} of {compared})", "zero-shot": " (dev accuracy)",
               "staged": f" (dev accuracy of the prompts scored; prefilter by {metric.value})"}[by.value]
        ranking = Table("rank", "source", "task", "score", "used", title=f"sources ranked by {by.value}{how}")
        scored = [r for r in result.ranking if r.score == r.score]  # staged retrieval leaves most unscored (NaN)
        for i, ranked in enumerate(scored, 1):
            ranking.add_row(str(i), ranked.record.id, ranked.record.task or "-", f"{ranked.score:.4f}",
                            "yes" if i <= k else "")
        console.print(ranking)
    table = Table("", "", title=f"promptbank transfer → {target}", show_header=False)
    for label, value in (("strategy", strategy.value), ("best dev accuracy", f"{result.training.best_dev:.3f}"),
                         ("test accuracy", f"{result.test.accuracy:.3f} on {result.test.n}"),
                         ("test macro-F1", f"{result.test.macro_f1:.3f}"),
                         ("majority-class accuracy", f"{result.majority:.3f}"), ("stored as", record.id)):
        table.add_row(label, value)
    if "guard" in result.lineage:  # what the guard saw, and whether the run fell back to random init
        verdict = result.lineage["guard"]
        table.add_row("guard", f"best source {verdict['best_dev_accuracy']:.3f} on dev against floor "
                               f"{verdict['floor']:.3f}, p = {verdict['p_value']:.3g} over {verdict['candidates']}: "
                      + ("transferred" if verdict["fits"] else "no source fits, started from random init"))
    if "learned_weights" in result.lineage:  # what the learned mixture took from each source
        table.add_row("learned weights", ", ".join(f"{task} {w:.3f}" for task, w in zip(
            [r.record.task for r in result.ranking[:k]], result.lineage["learned_weights"])))
        table.add_row("learned scale", f"{result.lineage['learned_scale']:.3f}")
    if "weights_spread" in result.lineage:  # a per-input mixture: the stored prompt is its train items' mean
        table.add_row("weights' spread over inputs", f"{result.lineage['weights_spread']:.3f}")
        table.add_row("stored prompt's test accuracy", f"{result.lineage['stored_prompt_test_accuracy']:.3f}")
    console.print(table)


@app.command()
def similarity(
    bank: BankOption = None,
    metric: MetricOption = Metric.SPOT_AVG_COSINE,
    backbone: Annotated[str, typer.Option(help="Compare the bank's prompts of this backbone.")] = DEFAULT_BACKBONE,
    length_policy: Annotated[LengthPolicy, typer.Option(help="Prompts of different lengths: reject them, pad with zero "
                                                             "vectors to the longest, or truncate to the shortest.")]
    = LengthPolicy.REJECT,
    on: Annotated[Compared | None, typer.Option(help="What the metric compares: delta, the task vectors (each prompt "
                                                     "minus the exact tensor it began from), or prompt, the prompts "
                                                     "as they are (default: delta where every prompt's init is known, "
                                                     "else prompt; the on metric always reads the prompts).")] = None,
    out: Annotated[Path, typer.Option(help="Heatmap image to write (.png, .pdf, .svg or .jpg).")]
    = Path("similarity.png"),
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
) -> None:
    """The similarity matrix of a bank's prompts (task similarity), printed and drawn as a heatmap.

    A prompt stored before inits were kept has its init rebuilt from its recipe on the backbone, loaded in --dtype
    (the precision it was trained in)."""
    use_device(device)
    file_to_write(out, "--out", IMAGE_SUFFIXES)
    from promptbank.backbones import load_backbone
    from promptbank.bank import PromptBank
    from promptbank.errors import DataError
    from promptbank.experiments.plots import heatmap
    from promptbank.transfer.similarity import similarity_matrix
    compared = Compared.PROMPT if metric == Metric.ON else on or Compared.DELTA
    with PromptBank(bank) as store:
        prompts, records = store.stack(backbone, length_policy=length_policy.value)
        if not records:
            raise BadArgumentError(f"The bank has no prompts of backbone {backbone!r}.")
        if compared == Compared.DELTA:
            try:
                prompts, _ = store.stack(backbone, length_policy=length_policy.value, delta=True,
                                         loaded=load_backbone(backbone, dtype.value))
            except DataError as error:
                if on is not None:  # asked for: the reason is the answer
                    raise
                compared = Compared.PROMPT
                console.print(f"[yellow]Comparing the prompts, not their task vectors[/]: {error}")
    model = load_backbone(backbone, dtype.value) if metric == Metric.ON else None
    matrix = similarity_matrix(metric.value, prompts, prompts, backbone=model)
    labels = [f"{r.task or r.name} ({r.id[:6]})" for r in records]
    what = "task vectors" if compared == Compared.DELTA else "prompts"
    table = Table("", *labels, title=f"{metric.value} similarity of {len(records)} {what}")
    for label, row in zip(labels, matrix.tolist()):
        table.add_row(label, *(f"{v:.3f}" for v in row))
    console.print(table)
    heatmap(matrix.tolist(), labels, labels, f"{metric.value} similarity ({backbone})", "similarity", out)
    console.print(f"heatmap: {out}")
