"""The `promptbank` command: a thin shell that parses arguments, calls the library and prints with rich.

One module per command group; importing them registers their commands on the app.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

from promptbank.cli.app import app
# In pipeline order, which is the order `promptbank --help` lists them in.
from promptbank.cli import info, training, bank, transfer, pretraining, projection, experiment  # noqa: E402,F401,I001  (they register commands)
from promptbank.errors import PromptbankError


def main() -> None:
    """Entry point: user mistakes end as one sentence on stderr and exit code 2, never a traceback."""
    try:
        app()
    except PromptbankError as err:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        sys.exit(2)
