"""A node's storage: atomic batches of Parquet datasets, their catalog, and DuckDB execution."""

from ._catalog import BatchInfo, Catalog
from ._pseudonym import Pseudonymiser
from ._store import BatchWriter, NodeStore, StoreSettings

__all__ = ["BatchInfo", "BatchWriter", "Catalog", "NodeStore", "Pseudonymiser", "StoreSettings"]
