"""What every ingest adapter produces: a stream of model-table chunks plus the batch's identity.

Adapters never write: they read a source, validate it, convert it to the common data model and
yield ``(table name, Arrow table)`` chunks in the model's schema, with *source* identifiers (the
store pseudonymises them). The caller hands the stream to ``NodeStore.write_stream``, which
publishes it atomically, so an error raised part-way through a file leaves the store unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import pyarrow as pa

__all__ = ["Chunk", "SourceReader"]

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
