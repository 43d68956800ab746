"""A node's storage: atomic batches of Parquet datasets, their catalog, and DuckDB or Spark execution."""

from ._backend import Backend, SparkOptions, StoreBackend, StoreOptions, open_backend
from ._catalog import BatchInfo, Catalog
from ._pseudonym import Pseudonymiser
from ._spark import SparkStore, spark_session, spark_sql
from ._spark_index import SitesIndex
from ._spark_ingest import ChunkSource, ingest_parallel
from ._spark_stats import GlmSums, glm_sums
from ._store import BatchWriter, NodeStore, StoreSettings

__all__ = [
    "Backend",
    "BatchInfo",
    "BatchWriter",
    "Catalog",
    "ChunkSource",
    "GlmSums",
    "NodeStore",
    "Pseudonymiser",
    "SitesIndex",
    "SparkOptions",
    "SparkStore",
    "StoreBackend",
    "StoreOptions",
    "StoreSettings",
    "glm_sums",
    "ingest_parallel",
    "open_backend",
    "spark_session",
    "spark_sql",
]
