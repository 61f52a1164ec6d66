"""Tables in the `dalil` command: never a number cut to "…" because the output is 80 columns wide."""
from __future__ import annotations


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
