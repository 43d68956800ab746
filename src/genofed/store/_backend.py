"""Choosing a node's storage backend by configuration: DuckDB (default) or Spark over the same Parquet.

The node's YAML names the backend under ``store``::

    store:
      backend: spark              # duckdb (default) | spark
      uri: s3a://bucket/se-store  # where Spark reads the batches; default: the node's data_dir
      spark:
        master: spark://spark-master:7077   # or local[*], local[N], k8s://https://host:port, yarn
        conf: {spark.executor.memory: 8g}

Both backends answer the query layer's ``execute(sql, parameters) -> pyarrow.Table`` on the same
datasets (the ones :class:`~genofed.store.NodeStore` writes); :func:`open_backend` picks one. Every
backend also has a ``lookup`` executor for point look-ups (Beacon, single alleles): the DuckDB store
itself, or the DuckDB sites index kept beside the Spark tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._catalog import Catalog

__all__ = ["Backend", "SparkOptions", "StoreBackend", "StoreOptions", "open_backend"]

# The master URL forms Spark accepts that make sense for a node (no client-mode shells).
_MASTERS = (
    (re.compile(r"^local(\[(\*|\d+)(,\s*\d+)?\])?$"), "local, local[*] or local[N]"),
    (re.compile(r"^spark://[^/\s]+(:\d+)?(,[^/\s]+(:\d+)?)*$"), "spark://host:port (standalone)"),
    (re.compile(r"^k8s://(https?://)?[^\s]+$"), "k8s://https://host:port (Kubernetes)"),
    (re.compile(r"^yarn$"), "yarn"),
)


class Backend(StrEnum):
    """Which engine runs a node's queries."""

    DUCKDB = "duckdb"
    SPARK = "spark"


class SparkOptions(BaseModel):
    """How to reach Spark: the master URL and extra Spark configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    master: str = Field(default="local[*]", description="Spark master URL")
    conf: dict[str, str] = Field(default_factory=dict, description="extra spark.* settings")
    app_name: str = Field(default="genofed-node", description="the Spark application name")

    @field_validator("master")
    @classmethod
    def _known_master(cls, value: str) -> str:
        if not any(pattern.match(value) for pattern, _ in _MASTERS):
            forms = "; ".join(form for _, form in _MASTERS)
            raise ValueError(f"unknown Spark master {value!r}; use one of: {forms}")
        return value

    @field_validator("conf", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        # YAML reads `spark.sql.shuffle.partitions: 8` as an int; Spark wants strings.
        if isinstance(value, dict):
            return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
        return value


class StoreOptions(BaseModel):
    """The ``store`` section of a node's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Backend = Backend.DUCKDB
    uri: str | None = Field(
        default=None,
        description="the store root as Spark sees it (file://, hdfs://, s3a://); default: data_dir",
    )
    spark: SparkOptions = Field(default_factory=SparkOptions)


class StoreBackend(Protocol):
    """What a node needs of its store, whichever engine runs it."""

    @property
    def secret(self) -> bytes:
        """The node secret (audit log MAC, differencing-guard salt); never sent."""
        ...

    @property
    def catalog(self) -> Catalog:
        """The live batches, read fresh (its version changes at every publish)."""
        ...

    @property
    def lookup(self) -> Any:
        """An executor for point look-ups (Beacon, single alleles), in DuckDB's dialect."""
        ...

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
        """Run one statement (DuckDB's dialect, ``$n`` or ``?`` parameters) and return Arrow."""
        ...

    def pseudonymise(self, source_id: str) -> str:
        """The node-local pseudonym of a source identifier."""
        ...

    def including_failed_qc(self, include: bool = True) -> AbstractContextManager[None]:
        """Within the block, reads also see the analyses that failed sample QC."""
        ...

    def close(self) -> None:
        """Release the engine."""
        ...


def open_backend(root: str | Path, options: StoreOptions | None = None) -> StoreBackend:
    """Open the store at ``root`` on the configured backend.

    Parameters
    ----------
    root
        The store folder (``genofed-store.json``, ``catalog.json``, ``batches/``) on this machine.
    options
        The node's ``store`` settings; default DuckDB.

    Returns
    -------
    StoreBackend
        A :class:`~genofed.store.NodeStore` (DuckDB) or a :class:`~genofed.store.SparkStore`.

    Raises
    ------
    StoreError
        ``root`` is not a store, or Spark is asked for but PySpark is not installed.
    """
    options = options or StoreOptions()
    if options.backend is Backend.DUCKDB:
        from ._store import NodeStore

        return NodeStore.open(root)
    from ._spark import SparkStore

    return SparkStore.open(root, options=options.spark, uri=options.uri)
