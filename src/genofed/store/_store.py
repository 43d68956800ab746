"""A node's store: Parquet datasets per table, written in atomic batches, read through DuckDB.

Layout of a store directory::

    genofed-store.json                  format marker
    node.secret                         the pseudonymisation key (0600), unless given by the environment
    catalog.json                        the live batches (replaced atomically)
    batches/batch_id=<id>/<table>/chrom=<c>/part-<n>.parquet   partitioned tables (calls, sites, CNAs)
    batches/batch_id=<id>/<table>/part-<n>.parquet             the other tables
    staging/<id>/...                    a batch being written
    spill/                              DuckDB's spill directory

Reading: the tables are DuckDB views in two schemas. ``all_samples`` holds every live row; the default
schema holds the same views without the analyses that failed the node's sample QC (the ``sample_qc``
table, written by ``genofed qa flag``), without the people whose every analysis failed, and with the
allele counts of ``variant_sites`` reduced by the failed samples' calls. ``including_failed_qc()``
switches the reads of a block of code to ``all_samples``, for a study that asks for them.

Writing a batch: every table goes to ``staging/<id>``; on success the directory is renamed into
``batches/`` (still invisible) and a new catalog that lists it, and drops any batch with the same
replacement key, replaces ``catalog.json`` by one rename. An error or a crash at any point before that
rename leaves the store as it was. The ``batch_id=`` and ``chrom=`` path segments are Hive partitions,
so DuckDB and Spark read them as columns and prune files by them.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import queue
import secrets
import shutil
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from genofed.errors import StoreError
from genofed.model import TABLES, Record, arrow_schema, columns, conform

from ._catalog import BatchInfo, Catalog, read_catalog, write_catalog
from ._pseudonym import Pseudonymiser

__all__ = ["BatchWriter", "NodeStore", "StoreSettings"]

STORE_FORMAT = 1
SECRET_ENV = "GENOFED_NODE_SECRET"
ROW_GROUP_ROWS = 100_000
_WARNINGS_LOCK = threading.Lock()
ALL_SAMPLES = "all_samples"
# Set by NodeStore.including_failed_qc(): reads in this context see the analyses that failed QC.
_INCLUDE_FAILED_QC: ContextVar[bool] = ContextVar("genofed_include_failed_qc", default=False)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Resource limits of the store's DuckDB engine."""

    memory_limit: str = "2GB"
    threads: int | None = None
    row_group_rows: int = ROW_GROUP_ROWS


class NodeStore:
    """A node's storage: atomic batch writes, the catalog, and a long-lived DuckDB connection.

    Open with :meth:`open` (``create=True`` makes a new store). ``execute`` runs SQL over views named
    after the model's tables (``individuals``, ``variant_calls``, ...), each with a ``batch_id`` column.
    """

    def __init__(self, root: Path, secret: bytes, settings: StoreSettings) -> None:
        self.root = root
        self.settings = settings
        self._pseudonymiser = Pseudonymiser(secret)
        self._node_secret = secret
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._views_for: int | None = None

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, root: str | Path, *, create: bool = False, settings: StoreSettings | None = None
    ) -> NodeStore:
        """Open the store at ``root``; with ``create``, make it (and its secret) when absent."""
        path = Path(root)
        marker = path / "genofed-store.json"
        if not marker.exists():
            if not create:
                raise StoreError(
                    f"{path} is not a genofed store (no genofed-store.json); ingest into it first"
                )
            if path.exists() and any(path.iterdir()):
                raise StoreError(
                    f"{path} exists and is not empty; choose an empty or new directory for a store"
                )
            cls._initialise(path)
        try:
            meta = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{marker}: unreadable store marker: {exc}") from exc
        if meta.get("format") != STORE_FORMAT:
            raise StoreError(
                f"{path}: store format {meta.get('format')} is not supported (expected {STORE_FORMAT})"
            )
        return cls(path, cls._secret(path), settings or StoreSettings())

    @staticmethod
    def _initialise(path: Path) -> None:
        for sub in ("batches", "staging", "spill"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        if SECRET_ENV not in os.environ:
            secret_file = path / "node.secret"
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        (path / "genofed-store.json").write_text(json.dumps({"format": STORE_FORMAT}))

    @staticmethod
    def _secret(path: Path) -> bytes:
        env = os.environ.get(SECRET_ENV)
        if env:
            return env.encode()
        try:
            return (path / "node.secret").read_text().strip().encode()
        except FileNotFoundError:
            raise StoreError(
                f"{path}: no node.secret and {SECRET_ENV} is not set; cannot pseudonymise"
            ) from None

    # -- catalog ---------------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        """The live batches, read fresh."""
        return read_catalog(self.root / "catalog.json")

    @property
    def secret(self) -> bytes:
        """The node secret, for keys derived from it (audit log MAC, differencing-guard salt); never sent."""
        return self._node_secret

    def pseudonymise(self, source_id: str) -> str:
        """The node-local pseudonym of a source identifier."""
        return self._pseudonymiser(source_id)

    @property
    def lookup(self) -> NodeStore:
        """The executor for point look-ups (Beacon, alleles): DuckDB is fast at them, so the store itself."""
        return self

    # -- writing ---------------------------------------------------------------------------------
    def begin_batch(self, *, kind: str, source: str, key: str, derived: bool = False) -> BatchWriter:
        """Start an atomic batch. Use as a context manager; it publishes on success.

        ``key`` says what the batch replaces: a published batch with the same key (e.g. the same
        analyses re-ingested) is dropped when this one is published. ``derived`` batches are computed
        from the store itself: their identifiers are pseudonyms already and are written as they are.
        """
        return BatchWriter(self, kind=kind, source=source, key=self._pseudonymiser(key), derived=derived)

    def write_batch(self, tables: Mapping[str, pa.Table], *, kind: str, source: str, key: str) -> BatchInfo:
        """Write whole tables as one atomic batch (the non-streaming form of :meth:`begin_batch`)."""
        return self.write_stream(tables.items(), kind=kind, source=source, key=key)

    def write_stream(
        self,
        chunks: Iterable[tuple[str, pa.Table]],
        *,
        kind: str,
        source: str,
        key: str,
        derived: bool = False,
    ) -> BatchInfo:
        """Write a stream of ``(table name, rows)`` chunks as one atomic batch.

        This is how adapters' output reaches the store: if the stream raises part-way (a bad record
        at line N), nothing is published and the store is exactly as before.
        """
        with self.begin_batch(kind=kind, source=source, key=key, derived=derived) as writer:
            for name, table in chunks:
                writer.write(name, table)
        assert writer.info is not None
        return writer.info

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        with (self.root / "genofed-store.json").open() as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _publish(self, staged: Path, batch_id: str, info: BatchInfo) -> None:
        with self._writer_lock():
            final = self.root / "batches" / f"batch_id={batch_id}"
            os.rename(staged, final)
            current = self.catalog
            replaced = [b for b in current.batches if b.key == info.key]
            kept = tuple(b for b in current.batches if b.key != info.key)
            write_catalog(
                self.root / "catalog.json",
                Catalog(version=current.version + 1, batches=(*kept, info)),
            )
        for old in replaced:
            shutil.rmtree(self.root / "batches" / f"batch_id={old.batch_id}", ignore_errors=True)

    def _next_batch_id(self) -> str:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        return f"{stamp}-{uuid.uuid4().hex[:8]}"

    def vacuum(self) -> list[str]:
        """Remove batch and staging directories the catalog does not name; return what was removed."""
        removed: list[str] = []
        with self._writer_lock():
            live = {f"batch_id={b.batch_id}" for b in self.catalog.batches}
            for path in (self.root / "batches").iterdir():
                if path.name not in live:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name)
            for path in (self.root / "staging").iterdir():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(f"staging/{path.name}")
        return removed

    # -- reading ---------------------------------------------------------------------------------
    def files(self, table: str) -> list[Path]:
        """Parquet files of ``table`` in live batches, in publish order."""
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
        found: list[Path] = []
        for batch in self.catalog.batches:
            base = self.root / "batches" / f"batch_id={batch.batch_id}" / table
            if base.exists():
                found.extend(sorted(base.rglob("*.parquet")))
        return found

    @contextmanager
    def including_failed_qc(self, include: bool = True) -> Iterator[None]:
        """Within the block, reads in this context (thread or task) also see analyses that failed QC."""
        token = _INCLUDE_FAILED_QC.set(include)
        try:
            yield
        finally:
            _INCLUDE_FAILED_QC.reset(token)

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the store's long-lived DuckDB database, its views current with the catalog.

        Its tables leave out analyses that failed sample QC, unless inside :meth:`including_failed_qc`.
        """
        with self._lock:
            if self._con is None:
                self._con = duckdb.connect(config=self._duckdb_config())
                # A setting of the parquet extension: only settable once that extension is loaded.
                self._con.execute("SET parquet_metadata_cache = true")
                self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {ALL_SAMPLES}")
            catalog = self.catalog
            if self._views_for != catalog.version:
                self._create_views(self._con)
                self._views_for = catalog.version
            cursor = self._con.cursor()
        if _INCLUDE_FAILED_QC.get():
            cursor.execute(f"SET search_path = '{ALL_SAMPLES}'")
        return cursor

    def failed_qc_analyses(self) -> int:
        """How many live analyses the sample-QC verdicts leave out."""
        with self.including_failed_qc():
            table = self.execute("SELECT count(*) AS n FROM sample_qc WHERE NOT passed")
        return int(table.column("n")[0].as_py())

    def _duckdb_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "memory_limit": self.settings.memory_limit,
            "temp_directory": str(self.root / "spill"),
        }
        if self.settings.threads:
            config["threads"] = self.settings.threads
        return config

    def _create_views(self, con: duckdb.DuckDBPyConnection) -> None:
        self._create_source_views(con)
        failed = con.execute(f"SELECT count(*) FROM {ALL_SAMPLES}.sample_qc WHERE NOT passed").fetchone()
        for name, record in TABLES.items():
            if failed and failed[0]:
                select = _qc_filtered_select(name, record)
            else:
                select = f'SELECT * FROM {ALL_SAMPLES}."{name}"'
            con.execute(f'CREATE OR REPLACE VIEW main."{name}" AS {select}')

    def _create_source_views(self, con: duckdb.DuckDBPyConnection) -> None:
        for name, record in TABLES.items():
            paths = [str(p) for p in self.files(name)]
            if paths:
                file_list = ", ".join(_sql_string(p) for p in paths)
                hive_types = ", ".join(
                    f"{_sql_string(c)}: 'VARCHAR'" for c in ("batch_id", *record.partition_by)
                )
                # Reconciling schemas by name costs per file on every query; it is only needed
                # when batches were written under different versions of the model.
                schemas = [pq.read_schema(p) for p in paths]
                union = "" if all(s.equals(schemas[0]) for s in schemas[1:]) else ", union_by_name = true"
                stored = {n for s in schemas for n in s.names} | set(record.partition_by)
                source = (
                    f"read_parquet([{file_list}], hive_partitioning = true, "
                    f"hive_types = {{{hive_types}}}{union})"
                )
                # A column the model gained after every live batch was written reads as null.
                select = ", ".join(
                    f'"{c.name}"'
                    if c.name in stored
                    else f'CAST(NULL AS {_DUCKDB_TYPES[c.arrow]}) AS "{c.name}"'
                    for c in columns(record)
                )
                view = f'{ALL_SAMPLES}."{name}"'
                con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT {select}, batch_id FROM {source}")
            else:
                con.execute(f'CREATE OR REPLACE VIEW {ALL_SAMPLES}."{name}" AS {_empty_select(record)}')

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
        """Run one SQL statement over the store's views and return the result as Arrow."""
        cursor = self.connection()
        try:
            result = cursor.execute(sql, list(parameters or []))
            # catch_warnings swaps process-wide state: concurrent calls (a node's thread pool) must not
            # interleave it, or one thread's exit lets another's warning through. Only the fetch waits.
            with _WARNINGS_LOCK, warnings.catch_warnings():
                # DuckDB warns that Arrow output of a DB-API result is copied; our results are
                # aggregates, and the alternative (a lazy relation) prepares every query twice.
                warnings.filterwarnings(
                    "ignore", message="Arrow output on a DB-API result", category=UserWarning
                )
                return result.to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"query failed in DuckDB: {exc}") from exc
        finally:
            cursor.close()

    def close(self) -> None:
        """Close the DuckDB connection."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
                self._views_for = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.int8(): "TINYINT",
    pa.float64(): "DOUBLE",
    pa.float32(): "FLOAT",
    pa.bool_(): "BOOLEAN",
}


_FAILED_ANALYSES = f"SELECT analysis_id FROM {ALL_SAMPLES}.sample_qc WHERE NOT passed"
# People with at least one verdict and no passing analysis.
_FAILED_PEOPLE = (
    f"SELECT individual_id FROM {ALL_SAMPLES}.sample_qc GROUP BY individual_id HAVING NOT bool_or(passed)"
)


def _qc_filtered_select(name: str, record: type[Record]) -> str:
    """The rows of ``name`` that a QC-respecting analysis may use."""
    source = f'{ALL_SAMPLES}."{name}"'
    if name == "sample_qc":
        return f"SELECT * FROM {source}"
    if name == "variant_sites":
        # Sites hold AC/AN/hom counted at ingest; take the failed samples' share back out. A failed
        # sample is assumed to have been called (two alleles) at every site of its batch: the same
        # no-no-calls assumption the per-cohort AN of allele-frequency queries makes.
        return f"""
            SELECT s.* REPLACE (
                s.allele_count - coalesce(f.ac, 0) AS allele_count,
                s.allele_number - 2 * coalesce(b.samples, 0) AS allele_number,
                s.homozygous_count - coalesce(f.hom, 0) AS homozygous_count)
            FROM {source} AS s
            LEFT JOIN (
                SELECT c.batch_id, c.variant_id, sum(c.alt_copies)::INTEGER AS ac,
                       count(*) FILTER (WHERE c.zygosity = 'hom')::INTEGER AS hom
                FROM {ALL_SAMPLES}.variant_calls AS c
                WHERE c.analysis_id IN ({_FAILED_ANALYSES})
                GROUP BY c.batch_id, c.variant_id
            ) AS f ON f.batch_id = s.batch_id AND f.variant_id = s.variant_id
            LEFT JOIN (
                SELECT a.batch_id, count(DISTINCT a.analysis_id)::INTEGER AS samples
                FROM {ALL_SAMPLES}.analyses AS a
                WHERE a.analysis_id IN ({_FAILED_ANALYSES})
                GROUP BY a.batch_id
            ) AS b ON b.batch_id = s.batch_id
            WHERE s.allele_count - coalesce(f.ac, 0) > 0"""
    names = {c.name for c in columns(record)}
    conditions = []
    if "analysis_id" in names:
        conditions.append(f"analysis_id NOT IN ({_FAILED_ANALYSES})")
    if "individual_id" in names:
        conditions.append(f"individual_id NOT IN ({_FAILED_PEOPLE})")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT * FROM {source}{where}"


def _empty_select(record: type[Record]) -> str:
    parts = [f'CAST(NULL AS {_DUCKDB_TYPES[c.arrow]}) AS "{c.name}"' for c in columns(record)]
    parts.append('CAST(NULL AS VARCHAR) AS "batch_id"')
    return f"SELECT {', '.join(parts)} WHERE false"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class _PartitionFile:
    path: Path
    writer: pq.ParquetWriter
    sort_keys: tuple[str, ...]
    last_key: tuple[Any, ...] | None = None
    sorted_so_far: bool = True
    rows: int = 0


# Bound on the identifiers whose pseudonyms a batch remembers (a clinical batch can have millions).
_PSEUDONYM_CACHE = 200_000
# Chunks waiting for the staging thread: enough to keep it busy, few enough to bound memory.
_STAGING_QUEUE = 2
# A chunk nearly in order is re-ordered as at most this many zero-copy slices, else by a take.
_SORT_SLICES = 64


class _StagingThread(threading.Thread):
    """Sorts a batch's chunks and writes them to Parquet beside the caller.

    Meanwhile the caller produces the next chunk. Arrow's sorting, encoding, compression and file
    writing release the GIL for long stretches, so an adapter's parsing and the writing overlap on
    two cores. (Conforming and pseudonymising stay with the caller: they are many short Arrow
    calls, and each time a thread takes the GIL back from a caller busy in Python it may wait up
    to the interpreter's switch interval.) A failure is kept and raised in the caller at its next
    ``submit`` or at ``finish``; after one, the chunks still queued are dropped.
    """

    def __init__(self, stage: Callable[[type[Record], str, pa.Table], None]) -> None:
        super().__init__(name="genofed-store-staging", daemon=True)
        self._stage = stage
        self._queue: queue.Queue[tuple[type[Record], str, pa.Table] | None] = queue.Queue(
            maxsize=_STAGING_QUEUE
        )
        self._error: BaseException | None = None
        self._cancelled = False

    def submit(self, record: type[Record], table: str, data: pa.Table) -> None:
        self._raise()
        self._queue.put((record, table, data))

    def finish(self) -> None:
        """Wait until every submitted chunk is written; raise a failure."""
        self._queue.put(None)
        self.join()
        self._raise()

    def cancel(self) -> None:
        """Drop what is queued and stop (the batch is being abandoned)."""
        self._cancelled = True
        self._queue.put(None)
        self.join()

    def _raise(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            self._cancelled = True
            raise error

    def run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._cancelled or self._error is not None:
                continue  # keep taking, so the caller never blocks on a full queue
            try:
                self._stage(*item)
            except BaseException as exc:  # re-raised in the caller's thread
                self._error = exc


@dataclass
class BatchWriter:
    """Streams tables of one batch into staging, then publishes them atomically (see :class:`NodeStore`).

    Chunks of a partitioned table may arrive in several calls; chunks in sort order are appended as
    they come, and a partition that received them out of order is re-sorted before publication.
    ``write`` conforms and pseudonymises a chunk (a chunk outside the model raises StoreError
    there), then hands it to a background thread that sorts and writes it while the caller
    produces the next chunk; a failure there is raised at a later ``write`` or when the batch
    closes, and nothing is published.
    """

    store: NodeStore
    kind: str
    source: str
    key: str
    derived: bool = False
    info: BatchInfo | None = None
    _batch_id: str = ""
    _staging: Path = field(default_factory=Path)
    _files: dict[tuple[str, str | None], _PartitionFile] = field(default_factory=dict)
    _rows: dict[str, int] = field(default_factory=dict)
    # Identifiers seen in this batch and their pseudonyms, position for position.
    _sources: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    _pseudonyms: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    _thread: _StagingThread | None = None

    def __enter__(self) -> Self:
        self._batch_id = self.store._next_batch_id()
        self._staging = self.store.root / "staging" / self._batch_id
        self._staging.mkdir(parents=True)
        self._thread = _StagingThread(self._stage)
        self._thread.start()
        return self

    def write(self, table: str, data: pa.Table) -> None:
        """Conform ``data`` to the model's schema for ``table``, pseudonymise it, and stage it."""
        record = TABLES.get(table)
        if record is None:
            raise StoreError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
        if data.num_rows == 0:
            self._rows.setdefault(table, 0)
            return
        if self._thread is None:
            raise StoreError("BatchWriter.write outside its with-block")
        try:
            conformed = conform(record, data)
        except ValueError as exc:
            raise StoreError(f"batch from {self.source}: {exc}") from exc
        if not self.derived:
            conformed = self._pseudonymise(record, conformed)
        self._rows[table] = self._rows.get(table, 0) + conformed.num_rows
        self._thread.submit(record, table, conformed)

    def _stage(self, record: type[Record], table: str, conformed: pa.Table) -> None:
        """Split a chunk by partition and append it to the partitions' files (in the staging thread)."""
        if record.partition_by:
            (part_col,) = record.partition_by
            values = pc.unique(conformed.column(part_col)).to_pylist()
            if len(values) == 1:
                # The usual case (one chromosome per chunk): no filter, which would copy every column.
                self._append(record, table, str(values[0]), conformed.drop_columns([part_col]))
                return
            for value in values:
                chunk = conformed.filter(pc.equal(conformed.column(part_col), value)).drop_columns([part_col])
                self._append(record, table, str(value), chunk)
        else:
            self._append(record, table, None, conformed)

    def _pseudonymise(self, record: type[Record], table: pa.Table) -> pa.Table:
        for c in columns(record):
            if c.pseudonymised:
                index = table.schema.get_field_index(c.name)
                table = table.set_column(
                    index, table.schema.field(index), self._pseudonyms_of(table.column(c.name))
                )
        return table

    def _pseudonyms_of(self, values: pa.ChunkedArray) -> pa.Array:
        """Pseudonymise a string column, hashing each distinct identifier once per batch.

        An adapter's chunks repeat the same identifiers (every chunk of a cohort VCF has the
        same 2,504 samples), so the batch remembers the pseudonyms it made. Lookups are Arrow
        hash joins, with no per-value Python; only identifiers new to the batch are hashed in
        Python. Nulls stay null.
        """
        combined = values.combine_chunks()
        index = pc.index_in(combined, value_set=self._sources)
        new = pc.filter(combined, pc.and_(pc.is_null(index), pc.is_valid(combined)))
        if len(new):
            fresh = pc.unique(new)
            if len(self._sources) + len(fresh) > _PSEUDONYM_CACHE:
                self._sources = self._pseudonyms = pa.array([], pa.string())
            pseudonymise = self.store._pseudonymiser
            made = pa.array([pseudonymise(v) for v in fresh.to_pylist()], pa.string())
            self._sources = pa.concat_arrays([self._sources, fresh])
            self._pseudonyms = pa.concat_arrays([self._pseudonyms, made])
            index = pc.index_in(combined, value_set=self._sources)
        return pc.take(self._pseudonyms, index)

    def _append(self, record: type[Record], table: str, partition: str | None, chunk: pa.Table) -> None:
        sort_keys = tuple(k for k in record.sort_by if k in chunk.column_names)
        if sort_keys:
            chunk = _sort_runs(chunk, sort_keys)
        handle = self._files.get((table, partition))
        if handle is None:
            directory = self._staging / table
            if partition is not None:
                directory = directory / f"{record.partition_by[0]}={partition}"
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / "part-0.parquet"
            schema = arrow_schema(record, with_partitions=False)
            writer = pq.ParquetWriter(path, schema, compression="zstd", write_statistics=True)
            handle = self._files[(table, partition)] = _PartitionFile(path, writer, sort_keys)
        if sort_keys and chunk.num_rows:
            first = tuple(chunk.column(k)[0].as_py() for k in sort_keys)
            if handle.last_key is not None and first < handle.last_key:
                handle.sorted_so_far = False
            handle.last_key = tuple(chunk.column(k)[-1].as_py() for k in sort_keys)
        handle.writer.write_table(chunk, row_group_size=self.store.settings.row_group_rows)
        handle.rows += chunk.num_rows

    def _finish_files(self) -> None:
        if self._thread is not None:
            self._thread.finish()
        for handle in self._files.values():
            handle.writer.close()
            if not handle.sorted_so_far:
                data = pq.read_table(handle.path)
                data = data.sort_by([(k, "ascending") for k in handle.sort_keys])
                pq.write_table(
                    data,
                    handle.path,
                    compression="zstd",
                    row_group_size=self.store.settings.row_group_rows,
                )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            if self._thread is not None:
                self._thread.cancel()
            for handle in self._files.values():
                handle.writer.close()
            shutil.rmtree(self._staging, ignore_errors=True)
            return
        try:
            self._finish_files()
            info = BatchInfo(
                batch_id=self._batch_id,
                key=self.key,
                kind=self.kind,
                source=self.source,
                created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                rows=dict(sorted(self._rows.items())),
            )
            (self._staging / "manifest.json").write_text(info.model_dump_json(indent=1))
            self.store._publish(self._staging, self._batch_id, info)
            self.info = info
        except BaseException:
            for handle in self._files.values():
                handle.writer.close()
            shutil.rmtree(self._staging, ignore_errors=True)
            raise


def _sort_runs(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """``table`` stably sorted by ``keys``; cheap when it is in order already, or nearly.

    Adapters write rows grouped by key (all calls of one site together, sites in file order), so
    the table is a sequence of runs of equal keys. Only one row per run is sorted. A table whose
    runs are in order is returned as it is; one with a few runs out of place (a trimmed indel whose
    start passes the next site's) becomes a few zero-copy slices of itself; otherwise one take.
    """
    rows = table.num_rows
    if rows < 2:
        return table
    changed: Any = None
    for key in keys:
        column = table.column(key)
        differs = pc.not_equal(column.slice(1), column.slice(0, rows - 1))
        if differs.null_count:
            differs = pc.fill_null(differs, True)
        changed = differs if changed is None else pc.or_(changed, differs)
    starts = np.flatnonzero(np.concatenate([[True], changed.to_numpy()]))
    heads = table.select(list(keys)).take(pa.array(starts.astype(np.int32)))
    order = pc.sort_indices(heads, sort_keys=[(k, "ascending") for k in keys]).to_numpy()
    if bool((order[1:] > order[:-1]).all()):
        return table
    lengths = np.diff(np.append(starts, rows))[order]
    first = starts[order]
    # Runs that stay neighbours in the sorted order make one slice of the table.
    pieces = np.flatnonzero(np.diff(order) != 1) + 1
    if len(pieces) < _SORT_SLICES:
        bounds = np.concatenate([[0], pieces, [len(order)]])
        ends = np.cumsum(lengths)
        return pa.concat_tables(
            table.slice(int(first[lo]), int(ends[hi - 1] - ends[lo] + lengths[lo]))
            for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        )
    # Row p of the output, in the run placed j-th, is row first[j] + (p - where run j begins).
    index = np.repeat(first - (np.cumsum(lengths) - lengths), lengths) + np.arange(rows)
    # int32 indices: Arrow's take is several times faster with them than with int64.
    return table.take(pa.array(index.astype(np.int32 if rows < 2**31 else np.int64)))
