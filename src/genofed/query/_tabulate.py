"""Plans for the node's analyses: a cohort's members, its cross-tabulation, its allele counts.

The node API answers typed analyses (``genofed.api``) under disclosure control, which needs more than
a number: the differencing guard compares the *member sets* of answered cohorts and cells. So these
plans return, beside each count, the pseudonyms it counts (``ARRAY_AGG``); they never leave the node.

Every plan shares one signature shape -- the cohort first, then keyword-only details -- and reuses the
cohort-set builders of :mod:`._compile`, so "the cohort" means exactly what
:class:`~genofed.query.CohortCountQuery` counts.

Cross-tabulation: each member of the cohort falls in exactly one cell. A :data:`Split` says how one
axis divides people (the SQL yields the 0-based index of the member's label in ``Split.labels``):

- :class:`SexSplit`: female, male, other, unknown (no clinical record: unknown);
- :class:`VitalStatusSplit`: alive, deceased, unknown;
- :class:`AgeBandSplit`: age at diagnosis in bands at the edges, then unknown;
- :class:`TumourTypeSplit`: the first listed OncoTree code whose subtree holds one of the person's
  *primary* diagnoses (latest clinical batch), else ``other``;
- :class:`GeneStatusSplit`: carrier of a call of an allele meeting the gene, consequence and protein
  change conditions (as a :class:`CohortFilter`'s variant conditions), else non-carrier; people without
  genomic data are non-carriers.

Allele counts are germline statistics: calls and sites of ``origin = 'germline'``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from genofed.errors import QueryError
from genofed.model import oncotree, variant_id

from ._compile import (
    Plan,
    _and,
    _carrier_set,
    _clinical_set,
    _col,
    _diagnosis_set,
    _float32,
    _intersect,
    _latest,
    _Params,
    _population,
    _table,
)
from ._models import AlleleFrequencyQuery, CohortFilter

__all__ = [
    "AgeBandSplit",
    "GeneStatusSplit",
    "SexSplit",
    "Split",
    "TumourTypeSplit",
    "VitalStatusSplit",
    "allele_carriers_plan",
    "allele_counts_plan",
    "allele_sites_plan",
    "cohort_members_plan",
    "crosstab_plan",
    "genotyped_plan",
]

_GERMLINE = "germline"


@dataclass(frozen=True, slots=True)
class SexSplit:
    """Split by recorded sex."""

    @property
    def labels(self) -> tuple[str, ...]:
        return ("female", "male", "other", "unknown")


@dataclass(frozen=True, slots=True)
class VitalStatusSplit:
    """Split by vital status at last follow-up."""

    @property
    def labels(self) -> tuple[str, ...]:
        return ("alive", "deceased", "unknown")


def _years(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class AgeBandSplit:
    """Split by age at diagnosis at increasing ``edges``: ``[50, 65]`` gives <50, 50–64, ≥65, unknown.

    >>> AgeBandSplit((50, 65)).labels
    ('<50', '50–64', '≥65', 'unknown')
    >>> AgeBandSplit((50.5, 65)).labels
    ('<50.5', '50.5–<65', '≥65', 'unknown')
    """

    edges: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.edges or any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise QueryError(f"age band edges must be a non-empty increasing list, got {list(self.edges)}")
        if not all(math.isfinite(e) for e in self.edges):
            raise QueryError("age band edges must be finite numbers")

    @property
    def labels(self) -> tuple[str, ...]:
        inner = []
        for low, high in zip(self.edges, self.edges[1:], strict=False):
            if float(low).is_integer() and float(high).is_integer():
                last = int(high) - 1
                inner.append(_years(low) if last == int(low) else f"{_years(low)}–{last}")
            else:
                inner.append(f"{_years(low)}–<{_years(high)}")
        return (f"<{_years(self.edges[0])}", *inner, f"≥{_years(self.edges[-1])}", "unknown")


@dataclass(frozen=True, slots=True)
class TumourTypeSplit:
    """Split by primary tumour type: the first listed OncoTree code whose subtree holds it, else other."""

    codes: tuple[str, ...]

    def __post_init__(self) -> None:
        tree = oncotree()
        unknown = [c for c in self.codes if c not in tree]
        if not self.codes or unknown:
            raise QueryError(f"tumour type split: not OncoTree codes: {', '.join(unknown) or '(none given)'}")

    @property
    def labels(self) -> tuple[str, ...]:
        return (*self.codes, "other")


@dataclass(frozen=True, slots=True)
class GeneStatusSplit:
    """Split into carriers and non-carriers of an allele meeting ``variant``'s gene conditions."""

    variant: CohortFilter

    def __post_init__(self) -> None:
        if not self.variant.genomic or self.variant.clinical or self.variant.tumour_type is not None:
            raise QueryError("gene status split: give gene, consequence or protein change, and nothing else")

    @property
    def labels(self) -> tuple[str, ...]:
        return ("carrier", "non-carrier")


Split = SexSplit | VitalStatusSplit | AgeBandSplit | TumourTypeSplit | GeneStatusSplit
"""How one axis of a cross-tabulation divides the cohort."""


def _matched(cohort: CohortFilter, bind: _Params) -> exp.Query:
    """The cohort's members (a set of ``individual_id``), exactly as :class:`CohortCountQuery` counts."""
    sets = [
        s
        for s in (_clinical_set(cohort, bind), _diagnosis_set(cohort, bind), _carrier_set(cohort, bind))
        if s is not None
    ]
    return _intersect(sets) if sets else _population()


def _number(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def cohort_members_plan(cohort: CohortFilter) -> Plan:
    """The distinct pseudonyms of the cohort's members (column ``individual_id``).

    >>> "DISTINCT" in cohort_members_plan(CohortFilter(sex="female")).sql()
    True
    """
    bind = _Params()
    matched = _matched(cohort, bind).subquery("m", copy=False)
    expression = exp.select(_col("individual_id", "m")).distinct().from_(matched)
    return bind.plan("cohort_members", expression)


def _individual_index(split: SexSplit | VitalStatusSplit | AgeBandSplit, bind: _Params) -> exp.Expr:
    """The label index from the member's latest clinical record (alias ``i``; NULL when absent)."""
    if isinstance(split, AgeBandSplit):
        age = _col("age_at_diagnosis", "i")
        case = exp.case().when(exp.Is(this=age, expression=exp.Null()), _number(len(split.edges) + 1))
        for n, edge in enumerate(split.edges):
            # Ages are FLOAT (32-bit) in the store; compare in that type (as the cohort filter does).
            case = case.when(exp.LT(this=age, expression=_float32(bind(float(edge), "age_edge"))), _number(n))
        return case.else_(_number(len(split.edges)))
    column = _col("sex" if isinstance(split, SexSplit) else "vital_status", "i")
    case = exp.case()
    for n, label in enumerate(split.labels[:-1]):
        case = case.when(exp.EQ(this=column, expression=exp.Literal.string(label)), _number(n))
    return case.else_(_number(len(split.labels) - 1))


def _tumour_index(split: TumourTypeSplit, alias: str, bind: _Params) -> tuple[exp.Expr, exp.Subquery]:
    """Per individual, the smallest index of a listed code whose subtree holds a primary diagnosis."""
    tree = oncotree()
    case = exp.case()
    for n, code in enumerate(split.codes):
        codes = bind.many(tree.descendants(code), f"tumour_type{n}")
        case = case.when(exp.In(this=_col("tumour_type", "d"), expressions=codes), _number(n))
    per_person = (
        _latest("diagnoses", "d")
        .select(exp.alias_(exp.Min(this=case), "idx", copy=False), copy=False)
        .where(_col("primary", "d"), copy=False)
        .group_by(_col("individual_id", "d"), copy=False)
        .subquery(alias, copy=False)
    )
    index = exp.Coalesce(this=_col("idx", alias), expressions=[_number(len(split.codes))])
    return index, per_person


def _carrier_index(split: GeneStatusSplit, alias: str, bind: _Params) -> tuple[exp.Expr, exp.Subquery]:
    carriers = _carrier_set(split.variant, bind)
    assert carriers is not None  # GeneStatusSplit requires a variant condition
    subquery = carriers.distinct(copy=False).subquery(alias, copy=False)
    index = (
        exp.case()
        .when(exp.Is(this=_col("individual_id", alias), expression=exp.Null()), _number(1))
        .else_(_number(0))
    )
    return index, subquery


def crosstab_plan(cohort: CohortFilter, *, rows: Split, columns: Split | None = None) -> Plan:
    """Counts (and member pseudonyms) of the cohort per cell of ``rows`` × ``columns``.

    Returns one row per non-empty cell: ``row_index``, ``column_index`` (0 when there are no
    columns), ``individuals`` (distinct members) and ``members`` (their pseudonyms). Indices point
    into each split's ``labels``; every member is in exactly one cell, so the cells sum to the
    cohort's count.
    """
    bind = _Params()
    matched = _matched(cohort, bind).subquery("m", copy=False)
    on_member = {
        alias: exp.EQ(this=_col("individual_id", alias), expression=_col("individual_id", "m"))
        for alias in ("i", "rows_t", "columns_t", "rows_g", "columns_g")
    }
    joins: list[tuple[exp.Subquery, str]] = []
    indices: list[exp.Expr] = []
    clinical = False
    for role, split in (("rows", rows), ("columns", columns)):
        if split is None:
            indices.append(_number(0))
        elif isinstance(split, SexSplit | VitalStatusSplit | AgeBandSplit):
            clinical = True
            indices.append(_individual_index(split, bind))
        elif isinstance(split, TumourTypeSplit):
            index, subquery = _tumour_index(split, f"{role}_t", bind)
            indices.append(index)
            joins.append((subquery, f"{role}_t"))
        else:
            index, subquery = _carrier_index(split, f"{role}_g", bind)
            indices.append(index)
            joins.append((subquery, f"{role}_g"))
    per_member = exp.select(
        _col("individual_id", "m"),
        # MAX: one row per member even if a clinical batch repeated someone (any value is one label).
        exp.alias_(exp.Max(this=indices[0]), "row_index", copy=False),
        exp.alias_(exp.Max(this=indices[1]), "column_index", copy=False),
        copy=False,
    ).from_(matched, copy=False)
    if clinical:
        latest = (
            _latest("individuals", "i")
            .select(_col("sex", "i"), _col("vital_status", "i"), _col("age_at_diagnosis", "i"), copy=False)
            .subquery("i", copy=False)
        )
        per_member = per_member.join(latest, on=on_member["i"], join_type="left", copy=False)
    for subquery, alias in joins:
        per_member = per_member.join(subquery, on=on_member[alias], join_type="left", copy=False)
    per_member = per_member.group_by(_col("individual_id", "m"), copy=False)
    keys = [_col("row_index", "p"), _col("column_index", "p")]
    expression = (
        exp.select(
            *keys,
            exp.alias_(exp.Count(this=exp.Star()), "individuals", copy=False),
            exp.alias_(exp.ArrayAgg(this=_col("individual_id", "p")), "members", copy=False),
            copy=False,
        )
        .from_(per_member.subquery("p", copy=False), copy=False)
        .group_by(*keys, copy=False)
    )
    # The SQL depends on the splits' kinds and roles, which bound labels alone do not capture:
    # no shared rendering cache for cross-tabs.
    return Plan(expression, tuple(bind.values), shape=None)


def genotyped_plan(cohort: CohortFilter) -> Plan:
    """Per reference assembly, the cohort's members with a germline analysis, and their pseudonyms.

    Columns ``assembly``, ``individuals``, ``members``. These members are who an allele number
    counts (two alleles each).
    """
    bind = _Params()
    conditions: list[exp.Expr] = [
        exp.EQ(this=_col("origin", "a"), expression=exp.Literal.string(_GERMLINE)),
    ]
    if not cohort.empty:
        members = _matched(cohort, bind).subquery(copy=False)
        conditions.append(exp.In(this=_col("individual_id", "a"), query=members))
    people = (
        exp.select(
            exp.alias_(_col("reference_assembly", "a"), "assembly", copy=False),
            _col("individual_id", "a"),
            copy=False,
        )
        .distinct(copy=False)
        .from_(_table("analyses", "a"), copy=False)
        .where(_and(conditions), copy=False)
        .subquery("g", copy=False)
    )
    expression = (
        exp.select(
            _col("assembly", "g"),
            exp.alias_(exp.Count(this=exp.Star()), "individuals", copy=False),
            exp.alias_(exp.ArrayAgg(this=_col("individual_id", "g")), "members", copy=False),
            copy=False,
        )
        .from_(people, copy=False)
        .group_by(_col("assembly", "g"), copy=False)
    )
    return bind.plan("genotyped", expression)


def _requested(alleles: Sequence[AlleleFrequencyQuery], bind: _Params) -> exp.Values:
    """The requested alleles as a VALUES table ``r(idx, chrom, start, variant_id)``."""
    if not alleles:
        raise QueryError("no alleles requested")
    rows = [
        exp.tuple_(
            bind(n, "idx"),
            bind(a.chrom, "chrom"),
            bind(a.position, "start"),
            bind(variant_id(a.assembly, a.chrom, a.position, a.ref, a.alt), "variant_id"),
        )
        for n, a in enumerate(alleles)
    ]
    return exp.values(rows, alias="r", columns=["idx", "chrom", "start", "variant_id"])


def _on_allele(alias: str) -> exp.Expr:
    return exp.and_(
        *(exp.EQ(this=_col(c, alias), expression=_col(c, "r")) for c in ("chrom", "start", "variant_id")),
        copy=False,
    )


def allele_counts_plan(cohort: CohortFilter, *, alleles: Sequence[AlleleFrequencyQuery]) -> Plan:
    """Per requested allele (by index), the cohort's carriers, their allele count, and their pseudonyms.

    Germline calls only; each carrier counts once per allele with their largest number of copies
    (two analyses of one person do not count twice). Alleles without a carrier have no row.
    Columns ``idx``, ``carriers``, ``allele_count``, ``members``.
    """
    bind = _Params()
    values = _requested(alleles, bind)
    conditions: list[exp.Expr] = [
        exp.EQ(this=_col("origin", "c"), expression=exp.Literal.string(_GERMLINE)),
    ]
    if not cohort.empty:
        members = _matched(cohort, bind).subquery(copy=False)
        conditions.append(exp.In(this=_col("individual_id", "c"), query=members))
    per_carrier = (
        exp.select(
            _col("idx", "r"),
            _col("individual_id", "c"),
            exp.alias_(exp.Max(this=_col("alt_copies", "c")), "copies", copy=False),
            copy=False,
        )
        .from_(values, copy=False)
        .join(_table("variant_calls", "c"), on=_on_allele("c"), copy=False)
        .where(_and(conditions), copy=False)
        .group_by(_col("idx", "r"), _col("individual_id", "c"), copy=False)
        .subquery("q", copy=False)
    )
    copies = exp.cast(
        exp.Sum(this=_col("copies", "q")), exp.DataType(this=exp.DataType.Type.BIGINT), copy=False
    )
    expression = (
        exp.select(
            _col("idx", "q"),
            exp.alias_(exp.Count(this=exp.Star()), "carriers", copy=False),
            exp.alias_(copies, "allele_count", copy=False),
            exp.alias_(exp.ArrayAgg(this=_col("individual_id", "q")), "members", copy=False),
            copy=False,
        )
        .from_(per_carrier, copy=False)
        .group_by(_col("idx", "q"), copy=False)
    )
    return bind.plan("allele_counts", expression)


def allele_carriers_plan(cohort: CohortFilter, *, alleles: Sequence[AlleleFrequencyQuery]) -> Plan:
    """Per requested allele (by index), each carrier in the cohort and their copies of the allele.

    Germline calls only; a carrier's copies are the largest over their analyses, as in
    :func:`allele_counts_plan` (whose ``allele_count`` is the sum of these rows). Columns ``idx``,
    ``individual_id``, ``copies``.
    """
    bind = _Params()
    values = _requested(alleles, bind)
    conditions: list[exp.Expr] = [
        exp.EQ(this=_col("origin", "c"), expression=exp.Literal.string(_GERMLINE)),
    ]
    if not cohort.empty:
        members = _matched(cohort, bind).subquery(copy=False)
        conditions.append(exp.In(this=_col("individual_id", "c"), query=members))
    copies = exp.cast(
        exp.Max(this=_col("alt_copies", "c")), exp.DataType(this=exp.DataType.Type.BIGINT), copy=False
    )
    expression = (
        exp.select(
            _col("idx", "r"),
            _col("individual_id", "c"),
            exp.alias_(copies, "copies", copy=False),
            copy=False,
        )
        .from_(values, copy=False)
        .join(_table("variant_calls", "c"), on=_on_allele("c"), copy=False)
        .where(_and(conditions), copy=False)
        .group_by(_col("idx", "r"), _col("individual_id", "c"), copy=False)
    )
    return bind.plan("allele_carriers", expression)


def allele_sites_plan(alleles: Sequence[AlleleFrequencyQuery]) -> Plan:
    """Per requested allele (by index), AC and AN of the node's germline sites, summed over batches.

    Used when the cohort is the whole node: the sites' AN counts only *called* alleles, which the
    sparse calls cannot tell for a sub-cohort. Columns ``idx``, ``allele_count``, ``allele_number``.
    """
    bind = _Params()
    values = _requested(alleles, bind)
    on = exp.and_(
        _on_allele("s"),
        exp.EQ(this=_col("origin", "s"), expression=exp.Literal.string(_GERMLINE)),
        copy=False,
    )
    sums = [
        exp.alias_(
            exp.cast(
                exp.Coalesce(this=exp.Sum(this=_col(name, "s")), expressions=[_number(0)]),
                exp.DataType(this=exp.DataType.Type.BIGINT),
                copy=False,
            ),
            name,
            copy=False,
        )
        for name in ("allele_count", "allele_number")
    ]
    expression = (
        exp.select(_col("idx", "r"), *sums, copy=False)
        .from_(values, copy=False)
        .join(_table("variant_sites", "s"), on=on, join_type="left", copy=False)
        .group_by(_col("idx", "r"), copy=False)
    )
    return bind.plan("allele_sites", expression)
