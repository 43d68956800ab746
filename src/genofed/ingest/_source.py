"""What every ingest adapter produces: a stream of model-table chunks plus the batch's identity.

Adapters never write: they read a source, validate it, convert it to the common data model and
yield ``(table name, Arrow table)`` chunks in the model's schema, with *source* identifiers (the
store pseudonymises them). The caller hands the stream to ``NodeStore.write_stream``, which
publishes it atomically, so an error raised part-way through a file leaves the store unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import pyarrow as pa

from genofed.model import TABLES, conform

__all__ = ["GROUP_CHUNK_ROWS", "Chunk", "SourceGroup", "SourceReader"]

Chunk = tuple[str, pa.Table]


class SourceReader(Protocol):
    """An adapter bound to one source (a file, a folder, a table with its mapping)."""

    #: adapter name recorded in the catalog (``vcf``, ``clinical``, ...)
    kind: str

    @property
    def source(self) -> str:
        """Base name of the source, for the catalog and messages."""
        ...

    @property
    def batch_key(self) -> str:
        """What a re-ingest of the same data replaces (e.g. ``vcf:`` + the analyses it holds)."""
        ...

    def chunks(self) -> Iterator[Chunk]:
        """Read, validate and convert; raise an :class:`~genofed.errors.InputError` naming the fault."""
        ...


#: rows of one table gathered before a :class:`SourceGroup` hands them on
GROUP_CHUNK_ROWS = 500_000


class SourceGroup:
    """Several readers as one :class:`SourceReader`: one atomic batch for all of them.

    A store publishes each batch at a fixed cost, and every batch adds files that each query must
    consider, so a cohort of small sources (one folder per case or sample) ingests and queries much
    faster as one batch. Chunks are gathered per table into large ones; an error in any reader
    publishes nothing. The batch key is the kind and the sorted member keys: re-ingesting the same set
    replaces it.
    """

    def __init__(self, readers: Sequence[SourceReader], *, kind: str, source: str) -> None:
        if not readers:
            raise ValueError("a source group needs at least one reader")
        self.readers = tuple(readers)
        self.kind = kind
        self._source = source

    @property
    def source(self) -> str:
        """The name given for the group (e.g. the cohort folder's)."""
        return self._source

    @property
    def batch_key(self) -> str:
        """The kind and the sorted batch keys of the members."""
        return f"{self.kind}-group:" + "|".join(sorted(r.batch_key for r in self.readers))

    def chunks(self) -> Iterator[Chunk]:
        """Every reader's rows, gathered per table into chunks of up to ``GROUP_CHUNK_ROWS`` rows."""
        pending: dict[str, list[pa.Table]] = {}
        rows: dict[str, int] = {}
        for reader in self.readers:
            for name, table in reader.chunks():
                # Conformed so that chunks of one table share a schema and concatenate: many small
                # chunks would each become a small row group.
                pending.setdefault(name, []).append(conform(TABLES[name], table))
                rows[name] = rows.get(name, 0) + table.num_rows
                if rows[name] >= GROUP_CHUNK_ROWS:
                    yield name, pa.concat_tables(pending.pop(name))
                    rows[name] = 0
        for name, tables in pending.items():
            yield name, pa.concat_tables(tables)
