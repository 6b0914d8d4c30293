"""The `promptbank` Typer app and what every command group shares: the console and the training options."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from promptbank.errors import BadArgumentError
from promptbank.executor import Executor
from promptbank.tuning.config import TrainConfig

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Soft prompt tuning and prompt transfer on frozen language models.")
# Piped output (logs, CI) is not squeezed into 80 columns, so table rows stay one line each.
console = Console(width=None if sys.stdout.isatty() else 160)
BankOption = Annotated[Optional[Path], typer.Option("--bank", help="Bank directory (default: $PROMPTBANK_HOME or "
                                                                   "~/.local/share/promptbank).")]
DeviceOption = Annotated[Optional[str], typer.Option(help="cpu, cuda or cuda:N (default: $PROMPTBANK_DEVICE, else cuda "
                                                          "where there is one, else cpu).")]
LR_HELP = "Learning rate (default: the backbone's recipe, chosen on dev data; see `promptbank backbones`)."
ExecutorOption = Annotated[str, typer.Option(help="local (units one after another in this process) or ray (units as "
                                                "Ray tasks; needs the ray extra). Only this process writes the bank.")]
AddressOption = Annotated[Optional[str], typer.Option(help="With --executor ray: a Ray cluster's address (default: "
                                                           "a Ray started on this machine for the run).")]
CpusOption = Annotated[Optional[float], typer.Option("--cpus-per-unit", help="With --executor ray: CPUs each unit "
                                                                             "holds (default 1).")]
GpusOption = Annotated[Optional[float], typer.Option("--gpus-per-unit", help="With --executor ray: GPUs each unit "
                                                                             "holds (default: 1 where the cluster "
                                                                             "has GPUs, else 0).")]


def use_device(device: str | None) -> None:
    """Make `device` the one every backbone this command loads goes to (checked first: one sentence if absent)."""
    if device is not None:
        from promptbank.backbones import resolve_device
        os.environ["PROMPTBANK_DEVICE"] = resolve_device(device)


def use_executor(kind: str, address: str | None, cpus: float | None, gpus: float | None,
                 device: str | None) -> Executor:
    """The executor the options name, checked before anything starts (one sentence on a mistake)."""
    if kind == "local" and (cpus is not None or gpus is not None):
        raise BadArgumentError("--cpus-per-unit and --gpus-per-unit go with --executor ray.")
    if kind == "ray" and device is not None:
        raise BadArgumentError("--device goes with --executor local; on Ray a unit runs on the GPU it holds "
                               "(--gpus-per-unit), else on CPU.")
    return Executor(kind, address, 1 if cpus is None else cpus, gpus)


def train_config(backbone: str, **fields) -> TrainConfig:
    """A TrainConfig from command-line values; an option left out (None) keeps the backbone's recipe (its learning
    rate and warmup) or else the library default."""
    from promptbank.tuning.config import recipe_for
    recipe = recipe_for(backbone)
    given = {name: value for name, value in fields.items() if value is not None}
    return TrainConfig(**{"lr": recipe.lr, "warmup": recipe.warmup, **given})


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names, empty items dropped."""
    return tuple(name for name in text.split(",") if name)
