"""The catalog of a node store: which ingest batches are live, published by one atomic rename.

``catalog.json`` lists the live batches in publish order. A batch directory that the catalog does
not name is invisible (staging left by a crash, or a batch replaced by a re-ingest) and is removed
by :meth:`NodeStore.vacuum`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BatchInfo", "Catalog", "read_catalog", "write_catalog"]

CATALOG_FORMAT = 1


class BatchInfo(BaseModel):
    """One published batch: what it came from and how many rows it holds per table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str = Field(description="sortable id: publish sequence, then a random suffix")
    key: str = Field(description="keyed hash of the replacement key (e.g. the analyses it holds)")
    kind: str = Field(description="adapter that produced the batch (vcf, clinical, ...)")
    source: str = Field(description="base name of the source file or folder")
    created: str = Field(description="UTC time of publication, ISO 8601")
    rows: dict[str, int] = Field(description="rows written per table")


class Catalog(BaseModel):
    """The live batches of a store, oldest first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = CATALOG_FORMAT
    version: int = 0
    batches: tuple[BatchInfo, ...] = ()

    def rows(self, table: str) -> int:
        """Rows of ``table`` over all live batches."""
        return sum(b.rows.get(table, 0) for b in self.batches)


def read_catalog(path: Path) -> Catalog:
    """Read ``catalog.json``; an absent file is an empty catalog."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Catalog()
    return Catalog.model_validate_json(text)


def write_catalog(path: Path, catalog: Catalog) -> None:
    """Replace ``catalog.json`` atomically: write a temporary file, fsync, rename over the old one."""
    tmp = path.with_suffix(".json.tmp")
    with tmp.open("w") as handle:
        handle.write(json.dumps(catalog.model_dump(mode="json"), indent=1))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
