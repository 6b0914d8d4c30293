"""`promptbank project ...`: cross-model projectors, trained between two backbones and applied to bank prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from promptbank.cli.app import app, console, use_device
from promptbank.cli.options import (
    BatchSizeOption,
    DeviceOption,
    Dtype,
    DtypeOption,
    Nonlinearity,
    ProjectionMethod,
    ContrastItemsOption,
    ContrastWeightOption,
    DistanceWeightOption,
    ProjectorArchitecture,
    ProjectorArchitectureOption,
    ProjectorInputs,
    ProjectorInputsOption,
    RidgeOption,
    PromptLengthOption,
    bank_option,
    names,
    ScoringPathOption,
)

KEPT_SHARE_LOW = 0.5  # below it a ridge fit is more bias than map (Gemma's task vectors at ridge 1: 0.09)

project_app = typer.Typer(no_args_is_help=True, help="Cross-model projectors: train, apply to bank prompts, list.")
app.add_typer(project_app, name="project")


@project_app.command("train")
def train(
    source: Annotated[str, typer.Option("--from", help="The backbone whose prompts are projected.")],
    target: Annotated[str, typer.Option("--to", help="The backbone they are projected into.")],
    tasks: Annotated[str, typer.Option(help="Comma-separated training tasks (their prompts come from the bank).")],
    out: Annotated[Path, typer.Option(help="Directory to save the projector to (must not exist).")],
    method: Annotated[ProjectionMethod, typer.Option(help="distance: fit the target backbone's own prompts of the "
                                                          "tasks; task: the tasks' loss through the frozen target; "
                                                          "ridge: a linear map fitted in closed form (with "
                                                          "--architecture linear).")]
    = ProjectionMethod.TASK,
    architecture: ProjectorArchitectureOption = ProjectorArchitecture.PER_TOKEN,
    inputs: ProjectorInputsOption = ProjectorInputs.PROMPT,
    distance_weight: DistanceWeightOption = 0.0,
    contrast_weight: ContrastWeightOption = 0.0,
    contrast_items: ContrastItemsOption = 2,
    ridge: RidgeOption = 1.0,
    bank: bank_option("The bank holding the tasks' prompts") = None,
    steps: Annotated[int, typer.Option(help="The projector's training steps.")] = 500,
    hidden: Annotated[int, typer.Option(help="The projector's hidden width.")] = 768,
    nonlinearity: Annotated[Nonlinearity, typer.Option(help="The projector's activation between its two linear "
                                                            "layers.")] = Nonlinearity.TANH,
    lr: Annotated[float, typer.Option(help="The projector's learning rate.")] = 1e-3,
    batch_size: BatchSizeOption = 8,
    train_size: Annotated[int, typer.Option(help="Training examples per task (task method).")] = 2000,
    measure_size: Annotated[int, typer.Option(help="Training examples per task whose loss and accuracy are measured "
                                                   "before and after training (task method).")] = 250,
    prompt_length: PromptLengthOption = 20,
    seed: Annotated[int, typer.Option(help="Seed for the projector's weights and the batch order.")] = 0,
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
    scoring_path: ScoringPathOption = None,
) -> None:
    """Train a projector from one backbone's prompts into another backbone's embedding space (Su et al.)."""
    use_device(device, scoring_path)
    from promptbank.bank import PromptBank
    from promptbank.errors import BadArgumentError
    from promptbank.projection.bank import ProjectionSpec, train_projector
    from promptbank.projection.model import save_projector
    from promptbank.projection.train import ProjectorConfig
    if out.exists():
        raise BadArgumentError(f"{out} already exists; choose another --out or remove it.")
    spec = ProjectionSpec(source, target, method.value, names(tasks), prompt_length, train_size, dtype.value,
                          ProjectorConfig(hidden=hidden, nonlinearity=nonlinearity.value,
                                          architecture=architecture.value, inputs=inputs.value, steps=steps, lr=lr,
                                          batch_size=batch_size, seed=seed, measure_size=measure_size,
                                          distance_weight=distance_weight, contrast_weight=contrast_weight,
                                          contrast_items=contrast_items, ridge=ridge))
    with PromptBank(bank) as store:
        projector, metrics = train_projector(spec, store)
    save_projector(projector, out)
    table = Table("", "", title=f"projector {source} → {target} ({method.value})", show_header=False)
    for key, value in metrics.items():
        if key != "loss_curve" and value is not None:
            table.add_row(key.replace("_", " "), f"{value:.4f}")
    console.print(table)
    if metrics.get("kept_share", 1.0) < KEPT_SHARE_LOW:
        console.print(f"[yellow]The ridge penalty keeps {metrics['kept_share']:.0%} of the least-squares fit, so the "
                      "map is mostly its bias and gives every task nearly the same prompt; its units are the source "
                      "embeddings' squared RMS, so inputs this small want a smaller --ridge.[/yellow]")
    console.print(f"saved to {out} (digest {projector.digest})")


@project_app.command("apply")
def apply(
    projector: Annotated[Path, typer.Option(help="A saved projector directory (from `promptbank project train`).")],
    bank: bank_option("The bank holding the prompts to project") = None,
    into: Annotated[Path | None, typer.Option(metavar="DIR", help="The bank to store the projected prompts in "
                                                                  "(default: --bank).")] = None,
    tasks: Annotated[str | None, typer.Option(help="Project only the prompts of these comma-separated tasks.")]
    = None,
    ids: Annotated[str | None, typer.Option(help="Project only these comma-separated bank ids.")] = None,
    dtype: DtypeOption = Dtype.AUTO,
    device: DeviceOption = None,
) -> None:
    """Project bank prompts of the projector's source backbone into its target, stored as kind projected."""
    use_device(device)
    from promptbank.bank import PromptBank
    from promptbank.projection.bank import project_bank
    with PromptBank(bank) as source_bank, PromptBank(into or source_bank.root, create=True) as target_bank:
        records = project_bank(projector, source_bank, target_bank, names(tasks) if tasks else None,
                               names(ids) if ids else None, dtype.value)
    table = Table("projected id", "task", "from", "backbone", title="projected prompts")
    for r in records:
        table.add_row(r.id, r.task or "-", r.lineage["sources"][0], r.backbone)
    console.print(table)
    console.print(f"{len(records)} prompts stored in {target_bank.root}")


@project_app.command("list")
def list_(folder: Annotated[Path, typer.Argument(help="Folder holding saved projectors.")]) -> None:
    """The projectors saved in a folder, with their backbones, method, tasks and final metric."""
    from promptbank.projection.model import list_projectors
    table = Table("projector", "from", "to", "method", "tasks", "final", "created", title=f"projectors in {folder}")
    for path, meta in list_projectors(folder):
        metrics = meta.get("metrics", {})
        final = metrics.get("final_distance", metrics.get("final_loss"))
        table.add_row(path.name, meta["source"]["name"], meta["target"]["name"], meta.get("method", "-"),
                      ",".join(meta.get("tasks", [])), "-" if final is None else f"{final:.4f}", meta.get("created", "-"))
    console.print(table)
