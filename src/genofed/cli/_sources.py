"""``genofed sources``: the ingest adapters and the formats and versions each reads."""

from __future__ import annotations

from typing import Annotated

import typer

from genofed.ingest import registered_adapters

from ._app import app, console
from ._render import rich_table

__all__ = ["sources_command"]


@app.command("sources")
def sources_command(
    plain: Annotated[bool, typer.Option("--plain", help="tab-separated lines instead of a table")] = False,
) -> None:
    """List the ingest adapters, what each reads (formats, versions, layouts) and how to run it."""
    adapters = registered_adapters()
    if plain:
        for adapter in adapters:
            typer.echo("\t".join((adapter.name, "; ".join(adapter.reads), adapter.usage)))
        return
    rows = [(a.name, a.description, "\n".join(a.reads), a.usage) for a in adapters]
    console.print(rich_table("ingest adapters", ["adapter", "source", "reads", "usage"], rows))
