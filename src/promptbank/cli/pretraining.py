"""`promptbank pretrain`: PPT's self-supervised prompt pre-training on the bundled corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from promptbank.cli.app import app, console, use_device, use_executor
from promptbank.cli.options import (
    DEFAULT_BACKBONE,
    AddressOption,
    BackboneOption,
    CpusOption,
    DeviceOption,
    Dtype,
    DtypeOption,
    ExecutorKind,
    ExecutorOption,
    GpusOption,
    LrOption,
    PretrainFormat,
    PromptLengthOption,
    Step,
    StepOption,
    bank_option,
    choices,
    ScoringPathOption,
)


@app.command()
def pretrain(
    bank: bank_option("The bank the pre-trained prompts are stored in (kind pretrained)") = None,
    formats: Annotated[str, typer.Option(help="Comma-separated formats: nsp3 (sentence pairs), "
                                              "next_sentence_selection (multiple choice), sentence_sentiment5 (single "
                                              "text), unified (lettered next sentence selection, 2 to 16 options).")]
    = ",".join(PretrainFormat),
    backbone: BackboneOption = DEFAULT_BACKBONE,
    steps: Annotated[int, typer.Option(help="Training steps per format.")] = 1000,
    examples: Annotated[int, typer.Option(help="Training examples per format, drawn from the corpus.")] = 20000,
    dev_size: Annotated[int, typer.Option(help="Held-out corpus examples that pick each format's best checkpoint.")]
    = 200,
    documents: Annotated[int | None, typer.Option(help="Corpus size: documents drawn with the seed "
                                                       "(default: all 13,747).")] = None,
    prompt_length: PromptLengthOption = 20,
    lr: LrOption = None,
    step: StepOption = Step.ABSOLUTE,
    eval_every: Annotated[int, typer.Option(help="Evaluate on the held-out examples every N steps.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed for the corpus sample, the examples, the init and batches.")] = 0,
    gate: Annotated[float, typer.Option(help="Store a format's prompt only if its held-out accuracy is at least its "
                                             "chance level plus this (a prompt that has not learnt its task is no "
                                             "PPT init); a negative value stores any.")] = 0.15,
    work_dir: Annotated[Path, typer.Option(help="Checkpoints of unfinished formats (rerun to continue).")]
    = Path("runs/pretrain"),
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
    executor: ExecutorOption = ExecutorKind.LOCAL,
    address: AddressOption = None,
    cpus_per_unit: CpusOption = None,
    gpus_per_unit: GpusOption = None,
) -> None:
    """Pre-train one prompt per format on self-supervised tasks built from unlabeled text (PPT), into the bank."""
    chosen = choices(formats, PretrainFormat, "--formats", "pre-training format")
    runner = use_executor(executor, address, cpus_per_unit, gpus_per_unit, device)
    use_device(device, scoring_path)
    from promptbank.bank import PromptBank
    from promptbank.pretraining.run import PretrainSpec
    from promptbank.pretraining.run import pretrain as run
    from promptbank.tuning.config import TrainConfig
    spec = PretrainSpec(backbone=backbone, formats=chosen, examples=examples, dev_size=dev_size, documents=documents,
                        prompt_length=prompt_length, seed=seed, dtype=dtype.value,
                        train=TrainConfig(steps=steps, lr=lr, step=step, eval_every=eval_every, patience=0, seed=seed),
                        gate=gate if gate >= 0 else None)
    with PromptBank(bank, create=True) as store:
        stored, refused = run(spec, store, work_dir, executor=runner)
        records = [store.get(r.id) for r in stored]  # with their curves
    table = Table("format", "bank id", "start dev", "best dev", "chance", "best step", "minutes",
                  title="pre-trained prompts")
    rows = [(r.lineage["format"], r.id, r.curve, r.metrics["dev"], r.training["best_step"]) for r in records]
    rows += [(fmt, f"not stored: below chance + {gate:g}", p.info["curve"], p.info["metrics"]["dev"],
              p.info["training"]["best_step"]) for fmt, p in refused.items()]
    for fmt, where, curve, dev, best_step in rows:
        chance = f"{dev['chance']:.3f}" if "chance" in dev else "not recorded"
        table.add_row(fmt, where, f"{curve[0]['dev_accuracy']:.3f}", f"{dev['accuracy']:.3f}", chance,
                      str(best_step), f"{curve[-1]['wall_seconds'] / 60:.1f}")
    console.print(table)
    if rows:
        from promptbank.experiments.plots import curves
        panels = {}
        for fmt, _, curve, dev, _ in rows:
            steps = [p["step"] for p in curve]
            panels[fmt] = {"held-out accuracy": (steps, [p["dev_accuracy"] for p in curve])}
            if "chance" in dev:
                panels[fmt] |= {"chance": (steps, [dev["chance"]] * len(steps)),
                                "gate": (steps, [dev["chance"] + max(gate, 0.0)] * len(steps))}
        curves(panels, f"pre-training on {backbone}", "step", "accuracy", work_dir / "curves.png")
        console.print(f"curves: {work_dir / 'curves.png'}")
    if records:
        console.print(f"corpus {records[0].lineage['corpus']}; bank {store.root}")
    if refused:
        console.print(f"below the gate, kept for inspection: {work_dir / 'below-gate'}")
