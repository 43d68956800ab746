"""Rendering helpers shared by the commands: progress while a batch streams, Rich tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from genofed.ingest import SourceReader
from genofed.store import BatchInfo, NodeStore

from ._app import console, error_console

__all__ = ["print_batch", "publish_with_progress", "rich_table"]


def publish_with_progress(node: NodeStore, reader: SourceReader, *, unit: str = "rows") -> BatchInfo:
    """Stream an adapter's chunks into one atomic batch, showing rows per table as they arrive."""
    counts: dict[str, int] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"ingesting {reader.source}", detail="", total=None)

        def counted(chunks: Iterable[tuple[str, pa.Table]]) -> Iterator[tuple[str, pa.Table]]:
            for name, table in chunks:
                counts[name] = counts.get(name, 0) + table.num_rows
                detail = "  ".join(f"{t}: {n:,}" for t, n in counts.items())
                progress.update(task, detail=detail)
                yield name, table

        return node.write_stream(
            counted(reader.chunks()), kind=reader.kind, source=reader.source, key=reader.batch_key
        )


def rich_table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A Rich table with right-aligned numbers."""
    table = Table(title=title, title_justify="left", header_style="bold")
    materialised = [list(r) for r in rows]
    for i, name in enumerate(header):
        numeric = bool(materialised) and all(isinstance(r[i], int | float) for r in materialised)
        table.add_column(name, justify="right" if numeric else "left")
    for row in materialised:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    return table


def print_batch(info: BatchInfo) -> None:
    """Say what a published batch holds."""
    console.print(f"[green]published[/] batch {info.batch_id} from {info.source} ({info.kind})")
    console.print(rich_table("rows written", ["table", "rows"], sorted(info.rows.items())))
