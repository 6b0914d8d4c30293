"""The `promptbank` Typer app and what every command group shares: the console, the device and the executor.

Nothing imported here (or by any command module at import time) loads torch: commands import the library inside
their bodies, so `--help` answers at once. The shared options are in `promptbank.cli.options`.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from promptbank.errors import BadArgumentError
from promptbank.executor import Executor, check_reachable

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Soft prompt tuning and prompt transfer on frozen language models.")
# Piped output (logs, CI) is not squeezed into 80 columns, so table rows stay one line each.
console = Console(width=None if sys.stdout.isatty() else 160)


def use_device(device: str | None, scoring_path: str | None = None) -> None:
    """Make `device` the one every backbone this command loads goes to (checked first: one sentence if absent), and
    `scoring_path` the way causal backbones score (on Ray workers too)."""
    if device is not None:
        from promptbank.backbones import resolve_device
        os.environ["PROMPTBANK_DEVICE"] = resolve_device(device)
    if scoring_path is not None:
        os.environ["PROMPTBANK_SCORING_PATH"] = str(scoring_path)


def use_executor(kind: str, address: str | None, cpus: float | None, gpus: float | None,
                 device: str | None) -> Executor:
    """The executor the options name, checked before anything starts (one sentence on a mistake)."""
    if kind == "local" and (cpus is not None or gpus is not None):
        raise BadArgumentError("--cpus-per-unit and --gpus-per-unit go with --executor ray.")
    if kind == "ray" and device is not None:
        raise BadArgumentError("--device goes with --executor local; on Ray a unit runs on the GPU it holds "
                               "(--gpus-per-unit), else on CPU.")
    executor = Executor(str(kind), address, 1 if cpus is None else cpus, gpus)
    if executor.kind == "ray":
        check_reachable(address)
    return executor
