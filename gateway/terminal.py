"""What the `dalil` command shows: tables that never cut a number to "…" because the output is 80 columns wide,
progress bars, and refusals as one line."""
from __future__ import annotations

from contextlib import contextmanager

import click


def console():
    """A rich console; piped or redirected output (a file, `less`, a script) is as wide as its tables need."""
    from rich.console import Console
    found = Console()
    return found if found.is_terminal else Console(width=max(found.width, 1000))


def print_tables(target, *tables) -> None:
    """On a narrow terminal, cells fold onto more lines rather than lose digits behind an ellipsis."""
    for table in tables:
        for column in table.columns:
            column.overflow = "fold"
        target.print(table)


def progress(target, description: str):
    """A progress bar with a count (13,000/20,000) and the time taken, kept on screen when done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=target, transient=False)


@contextmanager
def refused(*errors: type[Exception]):
    """A command's expected refusals (bad input, a state that does not allow it) as click's one line and exit 1,
    never a traceback."""
    try:
        yield
    except errors as e:
        raise click.ClickException(str(e)) from None
