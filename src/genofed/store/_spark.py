"""The Spark backend: the query layer's SQL run as Spark SQL over the Parquet batches NodeStore writes.

Shape of the module:

- :class:`SparkStore` wraps a :class:`~genofed.store.NodeStore` (which keeps the catalog, the node
  secret and the writing) and a ``SparkSession``. For each model table it registers a temporary view
  over the live batches' folders (``catalog.json`` names them) with the same columns as the DuckDB
  views: the model's columns (null where an older batch lacks one), the Hive partition ``chrom``,
  and ``batch_id`` taken from each file's path. The views are rebuilt when the catalog's version
  changes.
- :func:`spark_sql` transpiles a statement in DuckDB's dialect -- the text the query layer renders
  from its sqlglot plans -- to Spark SQL with sqlglot, turning ``$n`` / ``?`` placeholders into
  Spark's named parameter markers ``:pN``. One plan, one semantics; no value is spliced into SQL.
- ``execute`` returns the result as Arrow. Plans are aggregates, so what reaches the driver is the
  aggregate result (counts, sums, per-cell member lists) -- never a table of calls.
- ``lookup`` is the DuckDB sites index beside the Spark tables (:mod:`._spark_index`), for Beacon and
  allele look-ups that Spark would answer in hundreds of milliseconds.

PySpark is imported only here (and in the other ``_spark_*`` modules), never at ``genofed`` import.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from genofed.errors import StoreError
from genofed.model import TABLES, Record, columns

from ._backend import SparkOptions
from ._catalog import BatchInfo, Catalog
from ._spark_ingest import ChunkSource, ingest_parallel
from ._store import _INCLUDE_FAILED_QC, ALL_SAMPLES, NodeStore, _qc_filtered_select

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ._spark_index import SitesIndex

__all__ = ["SparkStore", "spark_session", "spark_sql"]

# Spark SQL types of the model's Arrow types.
_SPARK_TYPES = {
    pa.string(): "STRING",
    pa.int64(): "BIGINT",
    pa.int32(): "INT",
    pa.int8(): "TINYINT",
    pa.float64(): "DOUBLE",
    pa.float32(): "FLOAT",
    pa.bool_(): "BOOLEAN",
}

# Settings a node's session always gets: partition values stay strings ("chrom=1" is chromosome
# "1", not the integer 1), and the console progress bar would interleave with the node's log.
_SESSION_DEFAULTS = {
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
}


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise StoreError(
            "store backend 'spark' needs PySpark and a Java runtime: pip install 'genofed[spark]'"
        ) from exc


def spark_session(options: SparkOptions | None = None) -> SparkSession:
    """Get or create the process's SparkSession for ``options`` (master, app name, extra conf).

    Raises
    ------
    StoreError
        PySpark is not installed, or the session cannot start (no Java runtime, master unreachable).
    """
    _require_pyspark()
    from pyspark.sql import SparkSession

    options = options or SparkOptions()
    builder = SparkSession.builder.master(options.master).appName(options.app_name)
    defaults = dict(_SESSION_DEFAULTS)
    if options.master.startswith("local"):
        # Local-mode Python workers run this interpreter (its environment has genofed); on a cluster
        # the executors' Python is the deployment's (set spark.pyspark.python in conf).
        # PySpark reads PYSPARK_PYTHON when the context starts; the conf key is spark-submit's.
        defaults["spark.pyspark.python"] = sys.executable
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**defaults, **options.conf}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j / Java start-up errors have no common base class
        raise StoreError(
            f"cannot start Spark at master {options.master!r}: {exc} (is Java 17+ installed and on PATH?)"
        ) from exc
    session.sparkContext.setLogLevel(os.environ.get("GENOFED_SPARK_LOG_LEVEL", "ERROR"))
    return session


@functools.lru_cache(maxsize=1024)
def spark_sql(sql: str) -> tuple[str, int]:
    """Transpile one statement from DuckDB's dialect to Spark SQL.

    Placeholders ``$n`` become ``:pn``; ``?`` placeholders become ``:p1``, ``:p2``, ... in order.

    >>> spark_sql('SELECT COUNT(DISTINCT "c"."individual_id") FROM variant_calls AS c WHERE "start" < $1')
    ('SELECT COUNT(DISTINCT `c`.`individual_id`) FROM `variant_calls` AS `c` WHERE `start` < :p1', 1)

    Returns
    -------
    tuple[str, int]
        The Spark SQL text and the number of parameters it takes.

    Raises
    ------
    StoreError
        The statement is not valid DuckDB SQL or has no Spark equivalent.
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError as exc:
        raise StoreError(f"cannot read the statement for Spark: {exc}") from exc
    positional = 0
    highest = 0

    def rename(node: exp.Expr) -> exp.Expr:
        nonlocal positional, highest
        if isinstance(node, exp.Placeholder):
            if node.this is None:
                positional += 1
                number = positional
            elif str(node.this).isdigit():
                number = int(node.this)
            else:
                return node
            highest = max(highest, number)
            return exp.Placeholder(this=f"p{number}")
        return node

    tree = tree.transform(rename)
    if positional and highest != positional:
        raise StoreError("a statement mixes ? and $n placeholders; use one style")
    try:
        text = tree.sql(dialect="spark", identify=True, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise StoreError(f"the statement has no Spark SQL equivalent: {exc}") from exc
    return text, highest


class SparkStore:
    """A node store whose queries run on Spark; the data stay the Parquet batches NodeStore writes.

    Open with :meth:`open`, or wrap an open :class:`NodeStore` and a session directly. ``execute``
    takes the same statements as ``NodeStore.execute`` (DuckDB's dialect) and returns Arrow.

    Parameters
    ----------
    store
        The local store: catalog, secret and writing (batches are published through it).
    session
        The SparkSession to run on (shared; :meth:`close` stops it only if :meth:`open` made it).
    uri
        The store's root as Spark reads it (``file:///...``, ``hdfs://...``, ``s3a://...``);
        default: ``store.root``.
    """

    def __init__(
        self, store: NodeStore, session: SparkSession, *, uri: str | None = None, owns_session: bool = False
    ) -> None:
        self.local = store
        self.session = session
        self.uri = (uri or str(store.root)).rstrip("/")
        self._owns_session = owns_session
        self._lock = threading.Lock()
        self._views_for: int | None = None
        # Temporary views are per session; a prefix keeps two stores on one session apart.
        self._prefix = f"gf{id(self):x}_"
        self._index: SitesIndex | None = None

    @classmethod
    def open(
        cls,
        root: str | Path,
        *,
        options: SparkOptions | None = None,
        uri: str | None = None,
        create: bool = False,
        session: SparkSession | None = None,
    ) -> SparkStore:
        """Open the store at ``root`` and a SparkSession for ``options`` (or use ``session``).

        Raises
        ------
        StoreError
            ``root`` is not a store, PySpark is missing, or Spark does not start.
        """
        store = NodeStore.open(root, create=create)
        if session is None:
            # A session already running in this process (another node, a notebook) is shared, and
            # left running on close; one started here is stopped on close.
            started = _running_session() is None
            try:
                session = spark_session(options)
            except BaseException:
                store.close()
                raise
            return cls(store, session, uri=uri, owns_session=started)
        return cls(store, session, uri=uri)

    # -- what the node needs ------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The local store folder."""
        return self.local.root

    @property
    def catalog(self) -> Catalog:
        """The live batches, read fresh."""
        return self.local.catalog

    @property
    def secret(self) -> bytes:
        """The node secret; never sent."""
        return self.local.secret

    def pseudonymise(self, source_id: str) -> str:
        """The node-local pseudonym of a source identifier."""
        return self.local.pseudonymise(source_id)

    @property
    def lookup(self) -> SitesIndex:
        """The DuckDB sites index for point look-ups (Beacon, allele frequencies)."""
        from ._spark_index import SitesIndex

        with self._lock:
            if self._index is None:
                self._index = SitesIndex(self.local)
            return self._index

    def ingest(
        self,
        items: Sequence[Any],
        open_reader: Callable[[Any], ChunkSource],
        *,
        kind: str,
        source: str,
        key: str,
    ) -> BatchInfo:
        """Ingest ``items`` (e.g. VCF paths) in parallel Spark tasks as one atomic batch.

        See :func:`genofed.store.ingest_parallel`: ``open_reader(item)`` is the adapter, e.g.
        ``functools.partial(VcfReader, samples=sheet)``; if any item fails, nothing is published.
        """
        return ingest_parallel(
            self.local, self.session, items, open_reader, kind=kind, source=source, key=key
        )

    # -- views ----------------------------------------------------------------------------------------
    def view(self, table: str) -> str:
        """The name of ``table``'s temporary view in this store's session (current with the catalog)."""
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
        self._refresh()
        return f"{self._prefix}{table}"

    def _refresh(self) -> None:
        with self._lock:
            catalog = self.local.catalog
            if self._views_for == catalog.version:
                return
            # As the DuckDB store: ``all_<table>`` holds every live row; ``<table>`` leaves out the
            # analyses that failed sample QC (and their share of the sites' allele counts) when the
            # ``sample_qc`` table names any -- the same SQL as DuckDB's views, transpiled.
            for name, record in TABLES.items():
                self._frame(record, catalog.batches).createOrReplaceTempView(f"{self._prefix}all_{name}")
            failed = self.session.sql(
                f"SELECT count(*) AS n FROM `{self._prefix}all_sample_qc` WHERE NOT passed"
            ).first()
            for name, record in TABLES.items():
                if failed is not None and failed["n"]:
                    view = self.session.sql(self._qc_view(name, record))
                else:
                    view = self.session.table(f"`{self._prefix}all_{name}`")
                view.createOrReplaceTempView(f"{self._prefix}{name}")
            self._views_for = catalog.version

    def _qc_view(self, name: str, record: type[Record]) -> str:
        """The QC-respecting rows of ``name``: DuckDB's view definition, as Spark SQL over this store."""
        tree = sqlglot.parse_one(_qc_filtered_select(name, record), read="duckdb")
        # Spark has no SELECT * REPLACE: spell out the columns, replacing the named ones.
        for star in list(tree.find_all(exp.Star)):
            replace = star.args.get("replace")
            column = star.parent
            if not replace or not isinstance(column, exp.Column):
                continue
            alias = column.table
            replaced = {r.alias: r for r in replace}
            names = [c.name for c in columns(record)] + ["batch_id"]
            spelled = [replaced.get(n) or exp.column(n, table=alias, quoted=True) for n in names]
            select = column.parent
            assert isinstance(select, exp.Select)
            index = select.expressions.index(column)
            select.set(
                "expressions", [*select.expressions[:index], *spelled, *select.expressions[index + 1 :]]
            )
        for table in tree.find_all(exp.Table):
            if table.db == ALL_SAMPLES and table.name in TABLES:
                table.set("this", exp.to_identifier(f"{self._prefix}all_{table.name}", quoted=True))
                table.set("db", None)
        return tree.sql(dialect="spark", identify=True, unsupported_level=sqlglot.ErrorLevel.RAISE)

    def _frame(self, record: type[Record], batches: Sequence[BatchInfo]) -> DataFrame:
        """The table over the live batches, with the DuckDB view's columns and types."""
        from pyspark.sql import functions as sf

        name = record.table
        folders = [
            (f"{self.uri}/batches/batch_id={b.batch_id}/{name}", b.batch_id)
            for b in batches
            if b.rows.get(name)
        ]
        wanted = [*columns(record)]
        if not folders:
            parts = [f"CAST(NULL AS {_SPARK_TYPES[c.arrow]}) AS `{c.name}`" for c in wanted]
            parts.append("CAST(NULL AS STRING) AS `batch_id`")
            return self.session.sql(f"SELECT {', '.join(parts)} WHERE false")
        # One read per batch, unioned by name: Spark's partition discovery takes each table folder
        # as a separate root (the batch folder above it is not part of the table), and refuses to
        # read several roots at once. Batches written under an older model lack its newer columns.
        frame: DataFrame | None = None
        for folder, batch in folders:
            part = self.session.read.parquet(folder).withColumn("batch_id", sf.lit(batch))
            frame = part if frame is None else frame.unionByName(part, allowMissingColumns=True)
        assert frame is not None
        stored = set(frame.columns)
        selected = [
            sf.col(f"`{c.name}`").cast(_SPARK_TYPES[c.arrow]).alias(c.name)
            if c.name in stored
            else sf.lit(None).cast(_SPARK_TYPES[c.arrow]).alias(c.name)
            for c in wanted
        ]
        return frame.select(*selected, sf.col("batch_id"))

    # -- running -------------------------------------------------------------------------------------
    def frame(self, sql: str, parameters: Sequence[Any] | None = None) -> DataFrame:
        """A lazy Spark DataFrame for one statement in DuckDB's dialect (see :func:`spark_sql`)."""
        text, wanted = spark_sql(sql)
        values = list(parameters or [])
        if len(values) != wanted:
            raise StoreError(f"the statement takes {wanted} parameter(s), {len(values)} given")
        self._refresh()
        text = self._qualify(text)
        args = {f"p{i}": _spark_value(v) for i, v in enumerate(values, start=1)}
        try:
            return self.session.sql(text, args=args or None)
        except Exception as exc:  # pyspark.errors.* and py4j errors share no base class
            raise StoreError(f"query failed in Spark: {_first_line(exc)}") from exc

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
        """Run one statement (DuckDB's dialect, as the query layer renders it) on Spark; return Arrow.

        Raises
        ------
        StoreError
            The statement cannot be transpiled, or Spark fails to run it.
        """
        frame = self.frame(sql, parameters)
        try:
            return _to_arrow(frame)
        except Exception as exc:
            raise StoreError(f"query failed in Spark: {_first_line(exc)}") from exc

    def _qualify(self, text: str) -> str:
        """Point the statement's table names at this store's views (``all_*`` when QC is waived)."""
        return _qualified(text, f"{self._prefix}all_" if _INCLUDE_FAILED_QC.get() else self._prefix)

    def including_failed_qc(self, include: bool = True) -> AbstractContextManager[None]:
        """Within the block, reads in this context also see analyses that failed sample QC."""
        return self.local.including_failed_qc(include)

    def close(self) -> None:
        """Close the sites index and the local store; stop the session if this store started it."""
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None
        self.local.close()
        if self._owns_session:
            self.session.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.lru_cache(maxsize=1024)
def _qualified(text: str, prefix: str) -> str:
    tree = sqlglot.parse_one(text, read="spark")
    for table in tree.find_all(exp.Table):
        if table.name in TABLES and not table.args.get("db"):
            table.set("this", exp.to_identifier(f"{prefix}{table.name}", quoted=True))
    return tree.sql(dialect="spark", identify=True)


def _running_session() -> SparkSession | None:
    _require_pyspark()
    from pyspark.sql import SparkSession

    # The process-wide session (getActiveSession alone is per thread; a node opens its store in
    # the server's start-up thread).
    running: SparkSession | None = getattr(SparkSession, "_instantiatedSession", None)
    return running or SparkSession.getActiveSession()


def _spark_value(value: Any) -> Any:
    # Spark's parameter markers take Python literals; enum members bind by their value.
    return getattr(value, "value", value) if not isinstance(value, str | int | float | bool) else value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _to_arrow(frame: DataFrame) -> pa.Table:
    """Collect an (aggregate) result as Arrow: ``toArrow`` on Spark 4, Arrow batches on 3.5."""
    to_arrow = getattr(frame, "toArrow", None)  # Spark 4
    if callable(to_arrow):
        table: pa.Table = to_arrow()
        return table
    # Spark 3.5's DataFrame lacks toArrow; its Arrow collection is a private method.
    collect = getattr(frame, "_collect_as_arrow", None)
    if not callable(collect):
        raise StoreError("this PySpark cannot return Arrow; install pyspark>=3.5")
    batches = collect()
    from pyspark.sql.pandas.types import to_arrow_schema

    return pa.Table.from_batches(batches, schema=to_arrow_schema(frame.schema))
