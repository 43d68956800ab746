"""The Typer application: command groups, and errors printed as ``Type: message`` without a traceback."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from genofed.errors import GenofedError

__all__ = ["app", "console", "error_console", "main", "sub_app"]

console = Console()
error_console = Console(stderr=True)


class _Group(TyperGroup):
    """Turns any :class:`GenofedError` raised by a command into a one-line message and exit code 1."""

    # Typer vendors click (typer._click); its Context is not importable publicly, hence Any.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except GenofedError as exc:
            error_console.print(f"[bold red]{type(exc).__name__}[/]: {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


def sub_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=_Group, help=help_text, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
    )


app = sub_app("genofed: a national genomic-medicine node and the federation around it.")
ingest_app = sub_app("Ingest source files into a node store (atomic: all of a batch or none).")
query_app = sub_app("Query a node store.")
export_app = sub_app("Export aggregate files from a node store.")
app.add_typer(ingest_app, name="ingest")
app.add_typer(query_app, name="query")
app.add_typer(export_app, name="export")


def main() -> None:
    """Entry point of the ``genofed`` command (the command modules register on ``genofed.cli`` import)."""
    app()
