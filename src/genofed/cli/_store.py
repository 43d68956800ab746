"""``genofed store info|vacuum``: what a node store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genofed.model import TABLES
from genofed.store import NodeStore

from ._app import app, console, sub_app
from ._render import rich_table

__all__ = ["store_info", "store_vacuum"]

store_app = sub_app("Inspect and maintain a node store.")
app.add_typer(store_app, name="store")


@store_app.command("info")
def store_info(store: Annotated[Path, typer.Option("--store", help="node store directory")]) -> None:
    """List the live batches and the rows of every table."""
    with NodeStore.open(store) as node:
        catalog = node.catalog
    console.print(
        rich_table(
            f"{store}: {len(catalog.batches)} batches (catalog version {catalog.version})",
            ["batch", "kind", "source", "published", "rows"],
            [(b.batch_id, b.kind, b.source, b.created, sum(b.rows.values())) for b in catalog.batches],
        )
    )
    console.print(rich_table("tables", ["table", "rows"], [(t, catalog.rows(t)) for t in TABLES]))


@store_app.command("vacuum")
def store_vacuum(store: Annotated[Path, typer.Option("--store", help="node store directory")]) -> None:
    """Remove what no live batch uses (staging left by a crash, replaced batches)."""
    with NodeStore.open(store) as node:
        removed = node.vacuum()
    console.print(f"removed {len(removed)} director{'y' if len(removed) == 1 else 'ies'}")
