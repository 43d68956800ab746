"""The typed query language: cohort filters and aggregations, compiled to SQL plans the store runs.

Build a query (:class:`AlleleFrequencyQuery`, :class:`RegionCarriersQuery`,
:class:`CohortCountQuery`, each with a :class:`CohortFilter` where it selects people), compile it to a
:class:`Plan` (a sqlglot expression with bound parameters, renderable for DuckDB or Spark SQL), and
answer it with :func:`run`. :func:`export_frequencies` and its writers export per-allele AC/AN/AF.
The node's analyses use the plan builders beside them (:func:`cohort_members_plan`,
:func:`crosstab_plan` with a :data:`Split` per axis, :func:`allele_counts_plan`, ...), which also
return the pseudonyms behind each count for the node's differencing guard.
"""

from ._compile import Plan, compile
from ._design import design_plan
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
from ._tabulate import (
    AgeBandSplit,
    GeneStatusSplit,
    SexSplit,
    Split,
    TumourTypeSplit,
    VitalStatusSplit,
    allele_carriers_plan,
    allele_counts_plan,
    allele_sites_plan,
    cohort_members_plan,
    crosstab_plan,
    genotyped_plan,
)

__all__ = [
    "FREQUENCY_SCHEMA",
    "AgeBandSplit",
    "AlleleFrequencyQuery",
    "AlleleFrequencyResult",
    "CohortCountQuery",
    "CohortCountResult",
    "CohortFilter",
    "Executor",
    "GeneStatusSplit",
    "Plan",
    "Query",
    "QueryResult",
    "RegionCarriersQuery",
    "RegionCarriersResult",
    "SexSplit",
    "Split",
    "TumourTypeSplit",
    "VitalStatusSplit",
    "allele_carriers_plan",
    "allele_counts_plan",
    "allele_sites_plan",
    "chromosome_sort_key",
    "cohort_members_plan",
    "compile",
    "crosstab_plan",
    "design_plan",
    "export_frequencies",
    "genotyped_plan",
    "parse_query",
    "run",
    "write_frequencies_tsv",
    "write_frequencies_vcf",
]
