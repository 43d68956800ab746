"""Compile typed queries to SQL plans: sqlglot expressions with bound parameters.

A :class:`Plan` holds a sqlglot expression whose every user-supplied value is a numbered placeholder,
and the values in number order. The expression is rendered per dialect only at the end, so the same
plan runs on DuckDB today and on Spark SQL later: DuckDB gets positional ``$1, $2, ...`` with a list;
other dialects get named ``:p1, :p2, ...`` with :attr:`Plan.named_params` (Spark's ``spark.sql(sql,
args=...)``). No user text is ever spliced into SQL.

The plans read the store's views (``individuals``, ``diagnoses``, ``analyses``, ``variant_sites``,
``variant_calls``), each with a ``batch_id`` column, and keep to SQL that both engines share: joins,
``GROUP BY``, ``UNION``/``INTERSECT`` and ``COUNT(DISTINCT ...)``, no window functions or ``QUALIFY``.
Position predicates always name the chromosome (a Hive partition) and a start/end range (sorted
row groups), so both engines prune files and row groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlglot import exp
from sqlglot.errors import ErrorLevel

from genofed.errors import QueryError

from ._models import AlleleFrequencyQuery, CohortCountQuery, CohortFilter, RegionCarriersQuery

__all__ = ["Plan", "compile", "frequencies_plan", "site_contigs_plan"]

#: Dialects whose placeholders are positional ``$n`` taking a list of values.
_POSITIONAL = frozenset({"duckdb", "postgres"})


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled query: a sqlglot expression with numbered placeholders, and their values.

    >>> plan = compile(CohortCountQuery(filter=CohortFilter(sex="female")))
    >>> plan.params
    ('female',)
    >>> "$1" in plan.sql("duckdb") and ":p1" in plan.sql("spark")
    True
    """

    expression: exp.Query
    params: tuple[Any, ...]
    #: What the SQL text depends on (query kind and the labels of bound values); None: no caching.
    shape: tuple[str, ...] | None = field(default=None, compare=False)

    def sql(self, dialect: str = "duckdb", *, pretty: bool = False) -> str:
        """The plan as SQL text of ``dialect`` (``duckdb``, ``spark``, any sqlglot dialect).

        Raises
        ------
        QueryError
            The dialect cannot express part of the plan.
        """
        if self.shape is None:
            return _render(self.expression, dialect, pretty)
        key = (self.shape, dialect, pretty)
        text = _RENDERED.get(key)
        if text is None:
            if len(_RENDERED) >= _RENDERED_MAX:
                _RENDERED.clear()
            text = _RENDERED[key] = _render(self.expression, dialect, pretty)
        return text

    @property
    def named_params(self) -> dict[str, Any]:
        """The values keyed by placeholder name (``p1``, ``p2``, ...), for named-parameter dialects."""
        return {f"p{i}": value for i, value in enumerate(self.params, start=1)}


# Rendering is most of the cost of compiling a small query; plans of one shape share their text.
_RENDERED: dict[tuple[tuple[str, ...], str, bool], str] = {}
_RENDERED_MAX = 4096


def _render(expression: exp.Query, dialect: str, pretty: bool) -> str:
    tree: exp.Expr = expression
    if dialect not in _POSITIONAL:
        tree = expression.transform(_named_placeholder, copy=True)
    try:
        return tree.sql(dialect=dialect, identify=True, pretty=pretty, unsupported_level=ErrorLevel.RAISE)
    except Exception as exc:  # sqlglot raises UnsupportedError, ValueError or KeyError by dialect
        raise QueryError(f"the query cannot be written in the {dialect!r} SQL dialect: {exc}") from exc


def _named_placeholder(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Placeholder) and str(node.this).isdigit():
        return exp.Placeholder(this=f"p{node.this}")
    return node


class _Params:
    """Collects bound values; each call returns the placeholder that stands for the value.

    Each call also records a label (the column the value is compared with). The labels in binding
    order identify the plan's SQL text: every structural choice the compiler makes is taken because
    some condition is present, and each condition binds at least one labelled value. So plans with
    the same (kind, labels) render to the same SQL, and the text is rendered once per shape.
    """

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.labels: list[str] = []

    def __call__(self, value: Any, label: str) -> exp.Placeholder:
        self.values.append(value.value if isinstance(value, Enum) else value)
        self.labels.append(label)
        return exp.Placeholder(this=str(len(self.values)))

    def many(self, values: Iterable[Any], label: str) -> list[exp.Expr]:
        # Sorted so the same filter always gives the same SQL text and parameter order.
        return [self(v, label) for v in sorted(values)]

    def plan(self, kind: str, expression: exp.Query) -> Plan:
        return Plan(expression, tuple(self.values), shape=(kind, *self.labels))


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, copy=False)


def _table(name: str, alias: str | None = None) -> exp.Table:
    return exp.table_(name, alias=alias)


def _and(conditions: Sequence[exp.Expr]) -> exp.Expr:
    return exp.and_(*conditions, copy=False) if len(conditions) > 1 else conditions[0]


def _bigint_sum(name: str, table: str, alias: str) -> exp.Expr:
    # DuckDB widens SUM(INTEGER) to HUGEINT and Spark to BIGINT; cast so both return 64-bit integers.
    total = exp.Coalesce(this=exp.Sum(this=_col(name, table)), expressions=[exp.Literal.number(0)])
    return exp.alias_(
        exp.cast(total, exp.DataType(this=exp.DataType.Type.BIGINT), copy=False), alias, copy=False
    )


def _latest(table: str, alias: str) -> exp.Select:
    """``table`` AS alias joined to each individual's latest batch in that table (latest batch wins)."""
    latest = (
        exp.select(
            _col("individual_id"),
            exp.alias_(exp.Max(this=_col("batch_id")), "batch_id", copy=False),
            copy=False,
        )
        .from_(_table(table), copy=False)
        .group_by(_col("individual_id"), copy=False)
        .subquery("latest", copy=False)
    )
    on = exp.and_(
        exp.EQ(this=_col("individual_id", alias), expression=_col("individual_id", "latest")),
        exp.EQ(this=_col("batch_id", alias), expression=_col("batch_id", "latest")),
        copy=False,
    )
    return (
        exp.select(_col("individual_id", alias), copy=False)
        .from_(_table(table, alias), copy=False)
        .join(latest, on=on, copy=False)
    )


def _float32(placeholder: exp.Expr) -> exp.Expr:
    return exp.cast(placeholder, exp.DataType(this=exp.DataType.Type.FLOAT), copy=False)


def _clinical_set(flt: CohortFilter, bind: _Params) -> exp.Select | None:
    """Individuals whose latest clinical record meets sex and age (None when neither is asked)."""
    if not flt.clinical:
        return None
    conditions: list[exp.Expr] = []
    if flt.sex is not None:
        conditions.append(exp.EQ(this=_col("sex", "i"), expression=bind(flt.sex, "sex")))
    # Ages are stored as FLOAT (32-bit); compare in that type so a bound 61.3 equals a stored 61.3.
    age = _col("age_at_diagnosis", "i")
    if flt.age_min is not None:
        conditions.append(exp.GTE(this=age, expression=_float32(bind(flt.age_min, "age_min"))))
    if flt.age_max is not None:
        conditions.append(exp.LTE(this=age, expression=_float32(bind(flt.age_max, "age_max"))))
    return _latest("individuals", "i").where(_and(conditions), copy=False)


def _diagnosis_set(flt: CohortFilter, bind: _Params) -> exp.Select | None:
    """Individuals with a latest-batch diagnosis of the tumour type or a descendant."""
    codes = flt.tumour_types()
    if not codes:
        return None
    condition = exp.In(this=_col("tumour_type", "d"), expressions=bind.many(codes, "tumour_type"))
    return _latest("diagnoses", "d").where(condition, copy=False)


def _site_conditions(flt: CohortFilter, bind: _Params) -> list[exp.Expr]:
    conditions: list[exp.Expr] = []
    if flt.gene is not None:
        conditions.append(exp.EQ(this=_col("gene", "s"), expression=bind(flt.gene, "gene")))
    if flt.consequence is not None:
        terms = bind.many(flt.consequences(), "consequence")
        conditions.append(exp.In(this=_col("consequence", "s"), expressions=terms))
    if flt.protein_change is not None:
        conditions.append(
            exp.EQ(this=_col("protein_change", "s"), expression=bind(flt.protein_change, "protein_change"))
        )
    return conditions


def _matching_sites(conditions: Sequence[exp.Expr]) -> exp.Subquery:
    """Distinct alleles (chrom, start, variant_id) of ``variant_sites`` meeting all conditions."""
    return (
        exp.select(_col("chrom", "s"), _col("start", "s"), _col("variant_id", "s"), copy=False)
        .distinct(copy=False)
        .from_(_table("variant_sites", "s"), copy=False)
        .where(_and(conditions), copy=False)
        .subquery("v", copy=False)
    )


def _join_sites(select: exp.Select, sites: exp.Subquery) -> exp.Select:
    # chrom and start are redundant with variant_id but let the engines prune calls by partition and
    # row-group statistics from the (small) set of matching sites.
    on = exp.and_(
        *(exp.EQ(this=_col(c, "c"), expression=_col(c, "v")) for c in ("chrom", "start", "variant_id")),
        copy=False,
    )
    return select.join(sites, on=on, copy=False)


def _carrier_set(flt: CohortFilter, bind: _Params) -> exp.Select | None:
    """Individuals with a call of one allele that meets all the filter's variant conditions."""
    if not flt.genomic:
        return None
    select = exp.select(_col("individual_id", "c"), copy=False).from_(
        _table("variant_calls", "c"), copy=False
    )
    return _join_sites(select, _matching_sites(_site_conditions(flt, bind)))


def _population() -> exp.Query:
    """Everyone the node knows: named by individuals, diagnoses, analyses or variant_calls."""
    parts = [
        exp.select(_col("individual_id"), copy=False).from_(_table(table), copy=False)
        for table in ("individuals", "diagnoses", "analyses", "variant_calls")
    ]
    union: exp.Query = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=True, copy=False)
    return union


def _intersect(sets: Sequence[exp.Query]) -> exp.Query:
    result = sets[0]
    for other in sets[1:]:
        result = exp.intersect(result, other, distinct=True, copy=False)
    return result


def _compile_cohort_count(query: CohortCountQuery, bind: _Params) -> exp.Query:
    flt = query.filter
    sets = [
        s
        for s in (_clinical_set(flt, bind), _diagnosis_set(flt, bind), _carrier_set(flt, bind))
        if s is not None
    ]
    matched = _intersect(sets) if sets else _population()
    # DISTINCT: a single set is a plain SELECT (INTERSECT and UNION would have removed duplicates).
    distinct = exp.Count(this=exp.Distinct(expressions=[_col("individual_id", "matched")]))
    return exp.select(exp.alias_(distinct, "individuals", copy=False), copy=False).from_(
        matched.subquery("matched", copy=False), copy=False
    )


def _compile_region(query: RegionCarriersQuery, bind: _Params) -> exp.Query:
    flt = query.filter
    select = exp.select(
        exp.alias_(
            exp.Count(this=exp.Distinct(expressions=[_col("individual_id", "c")])), "carriers", copy=False
        ),
        exp.alias_(
            exp.Count(this=exp.Distinct(expressions=[_col("variant_id", "c")])), "variants", copy=False
        ),
        copy=False,
    ).from_(_table("variant_calls", "c"), copy=False)
    # Overlap of half-open intervals: call.start < region.end and call.end > region.start.
    where: list[exp.Expr] = [
        exp.EQ(this=_col("chrom", "c"), expression=bind(query.chrom, "chrom")),
        exp.LT(this=_col("start", "c"), expression=bind(query.end, "start")),
        exp.GT(this=_col("end", "c"), expression=bind(query.start, "end")),
    ]
    site_conditions = _site_conditions(flt, bind)
    if query.assembly is not None:
        site_conditions.append(
            exp.EQ(this=_col("assembly", "s"), expression=bind(query.assembly, "assembly"))
        )
    if site_conditions:
        region: list[exp.Expr] = [
            exp.EQ(this=_col("chrom", "s"), expression=bind(query.chrom, "chrom")),
            exp.LT(this=_col("start", "s"), expression=bind(query.end, "start")),
            exp.GT(this=_col("end", "s"), expression=bind(query.start, "end")),
        ]
        select = _join_sites(select, _matching_sites(region + site_conditions))
    people = [s for s in (_clinical_set(flt, bind), _diagnosis_set(flt, bind)) if s is not None]
    if people:
        subquery = _intersect(people).subquery(copy=False)
        where.append(exp.In(this=_col("individual_id", "c"), query=subquery))
    return select.where(_and(where), copy=False)


def _compile_allele_frequency(query: AlleleFrequencyQuery, bind: _Params) -> exp.Query:
    conditions = [
        exp.EQ(this=_col("chrom", "s"), expression=bind(query.chrom, "chrom")),
        exp.EQ(this=_col("start", "s"), expression=bind(query.position, "start")),
        exp.EQ(this=_col("ref", "s"), expression=bind(query.ref, "ref")),
        exp.EQ(this=_col("alt", "s"), expression=bind(query.alt, "alt")),
        exp.EQ(this=_col("assembly", "s"), expression=bind(query.assembly, "assembly")),
    ]
    return (
        exp.select(
            _bigint_sum("allele_count", "s", "allele_count"),
            _bigint_sum("allele_number", "s", "allele_number"),
            _bigint_sum("homozygous_count", "s", "homozygous_count"),
            copy=False,
        )
        .from_(_table("variant_sites", "s"), copy=False)
        .where(_and(conditions), copy=False)
    )


def compile(query: AlleleFrequencyQuery | RegionCarriersQuery | CohortCountQuery) -> Plan:
    """Compile a query to a :class:`Plan` (a sqlglot expression and its bound values).

    Parameters
    ----------
    query
        A validated query.

    Returns
    -------
    Plan
        Render it with ``plan.sql("duckdb")`` and execute with ``plan.params``.

    Raises
    ------
    QueryError
        The object is not a query this module knows.
    """
    bind = _Params()
    if isinstance(query, AlleleFrequencyQuery):
        expression = _compile_allele_frequency(query, bind)
    elif isinstance(query, RegionCarriersQuery):
        expression = _compile_region(query, bind)
    elif isinstance(query, CohortCountQuery):
        expression = _compile_cohort_count(query, bind)
    else:
        raise QueryError(f"cannot compile {type(query).__name__}: not a genofed query")
    return bind.plan(query.kind, expression)


def site_contigs_plan() -> Plan:
    """Distinct (assembly, chrom) pairs of ``variant_sites``: the contigs an export covers."""
    expression = (
        exp.select(_col("assembly", "s"), _col("chrom", "s")).distinct().from_(_table("variant_sites", "s"))
    )
    return Plan(expression, (), shape=("site_contigs",))


def frequencies_plan(chrom: str, assembly: str) -> Plan:
    """AC and AN per allele of one chromosome on one assembly, summed over batches, by position."""
    bind = _Params()
    keys = [_col(c, "s") for c in ("start", "ref", "alt")]
    expression = (
        exp.select(
            *keys,
            _bigint_sum("allele_count", "s", "allele_count"),
            _bigint_sum("allele_number", "s", "allele_number"),
        )
        .from_(_table("variant_sites", "s"))
        .where(
            exp.and_(
                exp.EQ(this=_col("chrom", "s"), expression=bind(chrom, "chrom")),
                exp.EQ(this=_col("assembly", "s"), expression=bind(assembly, "assembly")),
            )
        )
        .group_by(*keys)
        .order_by(*[_col(c, "s") for c in ("start", "ref", "alt")])
    )
    return bind.plan("frequencies", expression)
