"""The typed query language: cohort filters and aggregations, compiled to SQL plans the store runs.

Build a query (:class:`AlleleFrequencyQuery`, :class:`RegionCarriersQuery`,
:class:`CohortCountQuery`, each with a :class:`CohortFilter` where it selects people), compile it to a
:class:`Plan` (a sqlglot expression with bound parameters, renderable for DuckDB or Spark SQL), and
answer it with :func:`run`. :func:`export_frequencies` and its writers export per-allele AC/AN/AF.
"""

from ._compile import Plan, compile
from ._export import (
    FREQUENCY_SCHEMA,
    chromosome_sort_key,
    export_frequencies,
    write_frequencies_tsv,
    write_frequencies_vcf,
)
from ._models import (
    AlleleFrequencyQuery,
    AlleleFrequencyResult,
    CohortCountQuery,
    CohortCountResult,
    CohortFilter,
    Query,
    QueryResult,
    RegionCarriersQuery,
    RegionCarriersResult,
    parse_query,
)
from ._run import Executor, run

__all__ = [
    "FREQUENCY_SCHEMA",
    "AlleleFrequencyQuery",
    "AlleleFrequencyResult",
    "CohortCountQuery",
    "CohortCountResult",
    "CohortFilter",
    "Executor",
    "Plan",
    "Query",
    "QueryResult",
    "RegionCarriersQuery",
    "RegionCarriersResult",
    "chromosome_sort_key",
    "compile",
    "export_frequencies",
    "parse_query",
    "run",
    "write_frequencies_tsv",
    "write_frequencies_vcf",
]
