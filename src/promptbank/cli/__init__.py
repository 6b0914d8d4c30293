"""The `promptbank` command: a thin shell that parses arguments, calls the library and prints with rich.

One module per command group; importing them registers their commands on the app. None of them loads torch until
a command runs, so `--help` is instant.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.markup import escape

from promptbank.cli.app import app
from promptbank.errors import PromptbankError

# Importing a command module registers its commands: in pipeline order, the order `promptbank --help` lists them in.
COMMAND_MODULES = ("info", "training", "bank", "transfer", "pretraining", "projection", "experiment")
for _name in COMMAND_MODULES:
    importlib.import_module(f"promptbank.cli.{_name}")


def _fail(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    sys.exit(2)


def _wrong_kind(err: OSError) -> str:
    """A file where a folder belongs, or the reverse, in one sentence (the commands check the paths they are given;
    this covers a path met deeper, such as a folder's parent that is a file)."""
    what = {NotADirectoryError: "is a file where a folder is needed", IsADirectoryError: "is a folder where a file is "
            "needed", FileExistsError: "already exists"}[type(err)]
    return f"{err.filename} {what}; give another path."


def main() -> None:
    """Entry point: user mistakes, the library's and the command line's alike (an unknown option, a choice that does
    not exist, a number that is not one), end as one sentence on stderr and exit code 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as err:  # usage errors, before any library code ran
        if type(err).__name__ == "NoArgsIsHelpError":  # the help was printed
            sys.exit(err.exit_code)
        _fail(" ".join(err.format_message().replace("Value error, ", "").split()))
    except typer.Abort:
        Console(stderr=True).print("Aborted.")
        sys.exit(1)
    except PromptbankError as err:
        _fail(str(err))
    except (NotADirectoryError, IsADirectoryError, FileExistsError) as err:  # a path of the wrong kind
        _fail(_wrong_kind(err))
    sys.exit(code if isinstance(code, int) else 0)  # as a standalone click app does (^C ends as 130)
