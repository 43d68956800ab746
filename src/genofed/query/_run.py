"""Execute compiled plans on a store and turn the rows into result models.

The executor is anything with the store's ``execute(sql, parameters) -> pyarrow.Table``
(:class:`~genofed.store.NodeStore` today, a Spark backend later), so ``query`` does not import
``store``. Every query a node answers goes through :func:`run`: the benchmarks and the node API use
the same path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, overload

import pyarrow as pa

from genofed.errors import StoreError

from ._compile import compile
from ._models import (
    AlleleFrequencyQuery,
    AlleleFrequencyResult,
    CohortCountQuery,
    CohortCountResult,
    RegionCarriersQuery,
    RegionCarriersResult,
)

__all__ = ["Executor", "run"]


class Executor(Protocol):
    """What :func:`run` executes on: SQL with positional ``$n`` parameters in DuckDB's dialect."""

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
        """Run one statement and return its rows as Arrow."""
        ...


@overload
def run(store: Executor, query: AlleleFrequencyQuery) -> AlleleFrequencyResult: ...
@overload
def run(store: Executor, query: RegionCarriersQuery) -> RegionCarriersResult: ...
@overload
def run(store: Executor, query: CohortCountQuery) -> CohortCountResult: ...


def run(
    store: Executor, query: AlleleFrequencyQuery | RegionCarriersQuery | CohortCountQuery
) -> AlleleFrequencyResult | RegionCarriersResult | CohortCountResult:
    """Answer ``query`` on ``store``: compile it, execute the plan, and build the result model.

    Parameters
    ----------
    store
        A :class:`~genofed.store.NodeStore` or anything with its ``execute(sql, parameters)``.
    query
        A validated query (:class:`AlleleFrequencyQuery`, :class:`RegionCarriersQuery` or
        :class:`CohortCountQuery`).

    Returns
    -------
    AlleleFrequencyResult | RegionCarriersResult | CohortCountResult
        The query's ``Result`` model, with exact (undisclosed) numbers: disclosure control is the
        caller's job.

    Raises
    ------
    QueryError
        The query is not one this module knows.
    StoreError
        The store failed to execute the plan.
    """
    plan = compile(query)
    table = store.execute(plan.sql("duckdb"), plan.params)
    rows = table.to_pylist()
    if len(rows) != 1:
        raise StoreError(f"{query.kind} query returned {len(rows)} rows; expected one aggregate row")
    row = rows[0]
    if isinstance(query, AlleleFrequencyQuery):
        ac, an = int(row["allele_count"]), int(row["allele_number"])
        return AlleleFrequencyResult(
            allele_count=ac,
            allele_number=an,
            allele_frequency=ac / an if an else 0.0,
            homozygous_count=int(row["homozygous_count"]),
        )
    if isinstance(query, RegionCarriersQuery):
        return RegionCarriersResult(carriers=int(row["carriers"]), variants=int(row["variants"]))
    return CohortCountResult(individuals=int(row["individuals"]))
