"""The sites index: a DuckDB database beside the Spark tables, for point look-ups.

Spark answers a single-variant question in hundreds of milliseconds (planning, scheduling a job);
Beacon and allele look-ups need milliseconds. So a Spark node keeps ``index/sites-v<N>.duckdb``,
built from catalog version ``N``:

- ``variant_sites`` whole (one row per allele and batch), in the batches' file order -- by position
  within each chromosome of a batch -- so DuckDB's zone maps skip to a position;
- ``variant_calls`` as carrier keys only: position, allele, ``individual_id``, ``analysis_id``,
  zygosity, copies, origin, filter and ``batch_id`` (no depths, genotypes or allele fractions, which
  look-ups never read: a statement that asks for them fails rather than reading nulls);
- the per-person tables (individuals, diagnoses, specimens, analyses, ...) whole: they hold a row per
  person or sample, small beside the calls.

It is built by DuckDB from the same Parquet batches (through the NodeStore's views), into a temporary
file renamed into place; while one caller builds it, look-ups go on against the previous version, so
they never wait for a rebuild. Older versions are removed.
``execute`` takes the same DuckDB statements as ``NodeStore.execute``. The index holds the rows the
default (QC-respecting) views show; inside ``including_failed_qc()`` look-ups read the Parquet
through the NodeStore instead.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from genofed.errors import StoreError
from genofed.model import TABLES

from ._store import _INCLUDE_FAILED_QC, NodeStore

__all__ = ["CARRIER_KEYS", "SitesIndex"]

#: The columns of ``variant_calls`` the index keeps.
CARRIER_KEYS = (
    "chrom",
    "start",
    "end",
    "ref",
    "alt",
    "variant_id",
    "individual_id",
    "analysis_id",
    "zygosity",
    "alt_copies",
    "origin",
    "filter_pass",
    "batch_id",
)


class SitesIndex:
    """A DuckDB copy of the sites, carrier keys and per-person tables of a store, per catalog version."""

    def __init__(self, store: NodeStore) -> None:
        self.store = store
        self.folder = store.root / "index"
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._version: int | None = None
        # Look-ups running per connection: a replaced index's connection closes when its last ends.
        self._running: dict[duckdb.DuckDBPyConnection, int] = {}

    def path(self, version: int) -> Path:
        """The index file of catalog version ``version``."""
        return self.folder / f"sites-v{version}.duckdb"

    def refresh(self) -> Path:
        """Make sure the index of the current catalog exists and is open; return the open index's path.

        One caller builds a new version; meanwhile the others keep answering from the previous
        index (the catalog as it was a moment ago), so look-ups never wait for a rebuild.
        """
        version = self.store.catalog.version
        path = self.path(version)
        with self._lock:
            if self._version == version and self._con is not None:
                return path
            previous = self._version if self._con is not None else None
        if not self._build_lock.acquire(blocking=previous is None):
            return self.path(previous) if previous is not None else path
        try:
            if not path.exists():
                self._build(path)
            with self._lock:
                if self._version != version:
                    if self._con is not None and not self._running.get(self._con):
                        self._con.close()  # else the last look-up on it closes it
                    self._con = duckdb.connect(str(path), read_only=True)
                    self._version = version
        finally:
            self._build_lock.release()
        for old in self.folder.glob("sites-v*.duckdb"):
            if old != path:
                old.unlink(missing_ok=True)  # open connections keep reading the unlinked file
        return path

    def _build(self, path: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".build-{uuid.uuid4().hex}.duckdb"
        con = self.store.connection()
        alias = f"idx_{uuid.uuid4().hex[:8]}"
        try:
            con.execute(f"ATTACH '{tmp}' AS {alias}")
            try:
                for name in TABLES:
                    # No ORDER BY: DuckDB keeps the files' order, and each batch's files are sorted
                    # by position within a chromosome, so row groups cover narrow position ranges
                    # and zone maps skip to a site without the cost of a global sort.
                    if name == "variant_calls":
                        keys = ", ".join(f'"{c}"' for c in CARRIER_KEYS)
                        select = f'SELECT {keys} FROM "{name}"'
                    else:
                        select = f'SELECT * FROM "{name}"'
                    con.execute(f'CREATE TABLE {alias}."{name}" AS {select}')
            finally:
                con.execute(f"DETACH {alias}")
            tmp.rename(path)
        except duckdb.Error as exc:
            raise StoreError(f"cannot build the sites index {path}: {exc}") from exc
        finally:
            con.close()
            tmp.unlink(missing_ok=True)

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
        """Run one statement on the index (DuckDB's dialect) and return Arrow.

        Raises
        ------
        StoreError
            The statement fails (e.g. it reads a call column the index does not keep).
        """
        if _INCLUDE_FAILED_QC.get():
            # The index holds the QC-respecting rows; a study that waives QC reads the Parquet
            # through DuckDB (still a point look-up there: sorted, partitioned files).
            return self.store.execute(sql, parameters)
        self.refresh()
        with self._lock:
            con = self._con
            assert con is not None
            self._running[con] = self._running.get(con, 0) + 1
            cursor = con.cursor()
        try:
            return cursor.sql(sql, params=list(parameters or [])).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"look-up failed in the sites index: {exc}") from exc
        finally:
            cursor.close()
            with self._lock:
                self._running[con] -= 1
                if not self._running[con]:
                    del self._running[con]
                    if con is not self._con:
                        con.close()  # a replaced index, its last look-up done

    def close(self) -> None:
        """Close the index's connection."""
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con = None
            self._version = None
