"""The `promptbank` Typer app and what every command group shares: the console and the training options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from promptbank.train import TrainConfig

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Soft prompt tuning and prompt transfer on frozen language models.")
# Piped output (logs, CI) is not squeezed into 80 columns, so table rows stay one line each.
console = Console(width=None if sys.stdout.isatty() else 160)
BankOption = Annotated[Optional[Path], typer.Option("--bank", help="Bank directory (default: $PROMPTBANK_HOME or "
                                                                   "~/.local/share/promptbank).")]
LR_HELP = "Learning rate (default: the backbone's recipe, chosen on dev data; see `promptbank backbones`)."


def train_config(backbone: str, **fields) -> TrainConfig:
    """A TrainConfig from command-line values; an option left out (None) keeps the backbone's recipe (its learning
    rate and warmup) or else the library default."""
    from promptbank.recipe import recipe_for
    recipe = recipe_for(backbone)
    given = {name: value for name, value in fields.items() if value is not None}
    return TrainConfig(**{"lr": recipe.lr, "warmup": recipe.warmup, **given})


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names, empty items dropped."""
    return tuple(name for name in text.split(",") if name)
