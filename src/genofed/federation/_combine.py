"""Exact combination of the nodes' released numbers, as intervals.

Every number a node releases is a :class:`~genofed.privacy.ReleasedCount`: the true count lies in
``[lower, upper]`` (a point when exact, ``1..k-1`` for a "<k" cell, ``[0, ∞)`` for a cell withheld by
secondary suppression, the rounding interval for a rounded count). A sum over nodes is then known to
lie in the sum of the intervals -- interval arithmetic, with nothing estimated -- so the combined
count is exact when every part is, and otherwise a range such as ``120–128`` or ``≥ 45``.

Tables carry more: their cells sum to their margins. Before summing, each node's table is tightened
by interval constraint propagation over ``row = Σ cells``, ``column = Σ cells`` and
``total = Σ rows = Σ columns`` (a withheld cell in a row with an exact total is bounded by what the
row's other cells leave), and the combined table is propagated again. Propagation only ever uses
released numbers and the identities every table satisfies, so every bound holds for the true counts
and nothing is learnt that the node's own audited release did not already imply (the node audits
against the stronger integer-programming attack; Hundepool et al., *Statistical Disclosure Control*,
2012, §5).

Allele frequencies combine allele counts (AC) and allele numbers (AN) as sums; the frequency is
AC/AN when both are exact, else the smallest and largest AC/AN the bounds allow (with AC ≤ AN).

Answers that cannot be combined -- the same node answering twice under two registry names, a table
whose labels differ from the others', or numbers that contradict their own margins -- are taken out
of the combination and reported as that node's failure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from genofed.api import (
    AlleleFrequencyAnalysis,
    AlleleFrequencyResult,
    AnalysisRequest,
    AnalysisResult,
    BenefitCell,
    CountResult,
    CrossTabResult,
    KaplanMeierCounts,
    PopulationAlleleFrequencyResult,
    ProficiencyResult,
    ScoreInformation,
    SummaryResult,
    VariantRef,
    WgsBenefitResult,
)
from genofed.privacy import CellStatus, ReleasedCount

from ._answer import (
    CombinedAlleleFrequencies,
    CombinedAlleleFrequency,
    CombinedCount,
    CombinedCountResult,
    CombinedCrossTab,
    CombinedResult,
    NodeOutcome,
    OutcomeStatus,
)

__all__ = [
    "combine",
    "combine_allele_frequencies",
    "combine_counts",
    "combine_crosstabs",
    "combined_count",
    "disclosure_effects",
]

# An interval [lo, hi] with hi = inf for "no upper bound"; floats so that inf composes with sums.
_Bound = list[float]
_INF = math.inf


class CombineError(ValueError):
    """A node's answer cannot enter the combination (stated reason)."""


def _bound(count: ReleasedCount) -> _Bound:
    return [float(count.lower), _INF if count.upper is None else float(count.upper)]


def combined_count(lower: float, upper: float) -> CombinedCount:
    """A :class:`CombinedCount` for the interval ``[lower, upper]`` (``upper`` may be ``inf``).

    >>> combined_count(120, 128).display, combined_count(45, float("inf")).display
    ('120–128', '≥ 45')
    >>> combined_count(7, 7).value
    7
    """
    lo = int(lower)
    if math.isinf(upper):
        return CombinedCount(value=None, lower=lo, upper=None, display=f"≥ {lo}")
    hi = int(upper)
    if hi == lo:
        return CombinedCount(value=lo, lower=lo, upper=hi, display=str(lo))
    return CombinedCount(value=None, lower=lo, upper=hi, display=f"{lo}–{hi}")


def _sum(bounds: Iterable[_Bound]) -> _Bound:
    lo, hi = 0.0, 0.0
    for b in bounds:
        lo += b[0]
        hi += b[1]
    return [lo, hi]


def combine_counts(counts: Iterable[ReleasedCount]) -> CombinedCount:
    """The sum of released counts, exact or as an interval.

    >>> from genofed.privacy import DisclosurePolicy, release_count
    >>> p = DisclosurePolicy()
    >>> combine_counts([release_count(120, p), release_count(3, p), release_count(0, p)]).display
    '121–124'
    """
    lo, hi = _sum(_bound(c) for c in counts)
    return combined_count(lo, hi)


def _propagate(bounds: list[_Bound], constraints: Sequence[tuple[int, Sequence[int]]]) -> None:
    """Tighten ``bounds`` in place under ``bounds[whole] = Σ bounds[parts]`` for each constraint.

    Raises :class:`CombineError` when the bounds contradict a constraint (an empty interval).
    """
    for _ in range(50):  # converges in a few rounds on real tables; the cap only guards pathologies
        changed = False
        for whole, parts in constraints:
            lo_sum = sum(bounds[p][0] for p in parts)
            hi_sum = sum(bounds[p][1] for p in parts)
            w = bounds[whole]
            if lo_sum > w[0]:
                w[0], changed = lo_sum, True
            if hi_sum < w[1]:
                w[1], changed = hi_sum, True
            for p in parts:
                b = bounds[p]
                # x_p = whole - Σ others: bounded by the whole's bounds less the others' extreme bounds.
                others_hi = hi_sum - b[1] if not math.isinf(b[1]) else _others(bounds, parts, p, 1)
                others_lo = lo_sum - b[0]
                new_lo = w[0] - others_hi
                new_hi = w[1] - others_lo
                if new_lo > b[0]:
                    b[0], changed = new_lo, True
                if new_hi < b[1]:
                    b[1], changed = new_hi, True
        for b in bounds:
            if b[0] > b[1]:
                raise CombineError("its released cells contradict its released margins")
        if not changed:
            return


def _others(bounds: list[_Bound], parts: Sequence[int], skip: int, side: int) -> float:
    return sum(bounds[p][side] for p in parts if p != skip)


def _table_bounds(result: CrossTabResult) -> list[_Bound]:
    """A node's table as bounds over cells, row totals, column totals and the total, tightened.

    Layout: cells row-major (``r * n_cols + c``), then the row totals, the column totals, the total.
    Margins the node did not release (an axis of length one) start unbounded and follow from cells.
    """
    table = result.table
    n_rows, n_cols = len(result.row_labels), len(result.column_labels)
    if len(table.cells) != n_rows or any(len(row) != n_cols for row in table.cells):
        raise CombineError(f"its table is not {n_rows} × {n_cols} as its labels say")
    for name, margin, size in (
        ("row totals", table.row_totals, n_rows),
        ("column totals", table.column_totals, n_cols),
    ):
        if margin and len(margin) != size:
            raise CombineError(f"its table has {len(margin)} {name}, expected {size}")
    bounds = [_bound(c) for row in table.cells for c in row]
    bounds += [_bound(c) for c in table.row_totals] if table.row_totals else [[0.0, _INF]] * n_rows
    bounds += [_bound(c) for c in table.column_totals] if table.column_totals else [[0.0, _INF]] * n_cols
    bounds.append(_bound(table.total))
    bounds = [list(b) for b in bounds]  # fresh lists: the fill-ins above share one object
    _propagate(bounds, _table_constraints(n_rows, n_cols))
    return bounds


def _table_constraints(n_rows: int, n_cols: int) -> list[tuple[int, list[int]]]:
    cells = n_rows * n_cols
    row0, col0, total = cells, cells + n_rows, cells + n_rows + n_cols
    constraints = [(row0 + r, [r * n_cols + c for c in range(n_cols)]) for r in range(n_rows)]
    constraints += [(col0 + c, [r * n_cols + c for r in range(n_rows)]) for c in range(n_cols)]
    constraints.append((total, [row0 + r for r in range(n_rows)]))
    constraints.append((total, [col0 + c for c in range(n_cols)]))
    return constraints


def _aligned(result: CrossTabResult, rows: tuple[str, ...], columns: tuple[str, ...]) -> CrossTabResult:
    """``result`` with its rows and columns put in the given label order (same label sets required)."""
    if result.row_labels == rows and result.column_labels == columns:
        return result
    for what, mine, theirs in (("row", result.row_labels, rows), ("column", result.column_labels, columns)):
        if len(set(mine)) != len(mine) or set(mine) != set(theirs):
            raise CombineError(
                f"its {what} labels ({', '.join(mine)}) differ from the other nodes' ({', '.join(theirs)})"
            )
    r_index = [result.row_labels.index(r) for r in rows]
    c_index = [result.column_labels.index(c) for c in columns]
    t = result.table
    table = t.model_copy(
        update={
            "cells": [[t.cells[r][c] for c in c_index] for r in r_index],
            "row_totals": [t.row_totals[r] for r in r_index] if t.row_totals else [],
            "column_totals": [t.column_totals[c] for c in c_index] if t.column_totals else [],
        }
    )
    return result.model_copy(update={"row_labels": rows, "column_labels": columns, "table": table})


def combine_crosstabs(results: Sequence[CrossTabResult]) -> CombinedCrossTab:
    """Sum cross-tabs cell by cell (aligned by label to the first), with margins, as intervals.

    Raises
    ------
    ValueError
        No tables, labels that differ, or a table that contradicts its own margins.
    """
    if not results:
        raise ValueError("no tables to combine")
    rows, columns = results[0].row_labels, results[0].column_labels
    per_node = [_table_bounds(_aligned(r, rows, columns)) for r in results]
    total = [_sum(node[i] for node in per_node) for i in range(len(per_node[0]))]
    n_rows, n_cols = len(rows), len(columns)
    _propagate(total, _table_constraints(n_rows, n_cols))
    counts = [combined_count(lo, hi) for lo, hi in total]
    cells = n_rows * n_cols
    return CombinedCrossTab(
        row_labels=rows,
        column_labels=columns,
        cells=tuple(tuple(counts[r * n_cols : (r + 1) * n_cols]) for r in range(n_rows)),
        row_totals=tuple(counts[cells : cells + n_rows]),
        column_totals=tuple(counts[cells + n_rows : cells + n_rows + n_cols]),
        total=counts[-1],
    )


def _frequency(ac: _Bound, an: _Bound) -> tuple[float | None, float | None, float | None, str]:
    """AC/AN as a point or bounds, using AC ≤ AN."""
    if an[1] == 0:
        return None, None, None, "no calls"
    if ac[0] == ac[1] and an[0] == an[1]:
        af = ac[0] / an[0]
        return af, af, af, f"{af:.4g}"
    low = 0.0 if math.isinf(an[1]) else ac[0] / an[1]
    high = 1.0 if math.isinf(ac[1]) else min(1.0, ac[1] / max(an[0], ac[1])) if ac[1] > 0 else 0.0
    return None, low, high, f"{low:.4g}–{high:.4g}"


def combine_allele_frequencies(
    variants: Sequence[VariantRef], results: Sequence[AlleleFrequencyResult]
) -> CombinedAlleleFrequencies:
    """Sum AC and AN per requested allele over the nodes' results; the frequency with bounds.

    Raises
    ------
    ValueError
        A result lacks one of the requested alleles, or says AC > AN.
    """
    sums: dict[VariantRef, tuple[_Bound, _Bound]] = {v: ([0.0, 0.0], [0.0, 0.0]) for v in variants}
    for result in results:
        by_variant = {a.variant: a for a in result.alleles}
        for variant in variants:
            counts = by_variant.get(variant)
            if counts is None:
                raise CombineError(f"it gave no counts for {_variant_label(variant)}")
            ac, an = _bound(counts.allele_count), _bound(counts.allele_number)
            # AC <= AN at every node: tightens each side with the other's bound.
            ac[1], an[0] = min(ac[1], an[1]), max(an[0], ac[0])
            if ac[0] > ac[1] or an[0] > an[1]:
                raise CombineError(
                    f"its allele count exceeds its allele number for {_variant_label(variant)}"
                )
            total_ac, total_an = sums[variant]
            total_ac[0] += ac[0]
            total_ac[1] += ac[1]
            total_an[0] += an[0]
            total_an[1] += an[1]
    alleles = []
    for variant in variants:
        ac, an = sums[variant]
        af, low, high, display = _frequency(ac, an)
        alleles.append(
            CombinedAlleleFrequency(
                variant=variant,
                allele_count=combined_count(*ac),
                allele_number=combined_count(*an),
                frequency=af,
                frequency_lower=low,
                frequency_upper=high,
                display=display,
            )
        )
    return CombinedAlleleFrequencies(alleles=tuple(alleles))


def _variant_label(v: VariantRef) -> str:
    return f"{v.chrom}-{v.pos}-{v.ref}-{v.alt} ({v.assembly.value})"


def _failed(outcome: NodeOutcome, reason: str) -> NodeOutcome:
    return outcome.model_copy(
        update={"status": OutcomeStatus.FAILED, "reason": f"answer not combinable: {reason}"}
    )


def combine(
    request: AnalysisRequest, outcomes: Sequence[NodeOutcome]
) -> tuple[CombinedResult | None, tuple[NodeOutcome, ...]]:
    """Combine the answered nodes' results for ``request``.

    Returns the combined result (None when no node answered) and the outcomes, where an answer that
    cannot enter the combination has become a failure saying why: a node identity already seen
    (two registry entries for one node would count its patients twice), a table with other labels
    or contradictory margins, allele counts missing or inconsistent.
    """
    kept: list[NodeOutcome] = []
    final: list[NodeOutcome] = []
    seen: dict[str, str] = {}
    for outcome in outcomes:
        if outcome.response is None or outcome.status is not OutcomeStatus.ANSWERED:
            final.append(outcome)
            continue
        identity = outcome.response.node.node_id
        if identity in seen:
            final.append(_failed(outcome, f"it answered as node {identity!r}, as {seen[identity]!r} did"))
            continue
        seen[identity] = outcome.node
        kept.append(outcome)
        final.append(outcome)

    def replace(outcome: NodeOutcome, reason: str) -> None:
        final[final.index(outcome)] = _failed(outcome, reason)
        kept.remove(outcome)

    analysis = request.analysis
    if isinstance(analysis, AlleleFrequencyAnalysis) and analysis.population is not None:
        from ._combine_summary import combine_population_frequencies  # it builds on this module

        return combine_population_frequencies(analysis, final)
    if analysis.kind == "crosstab":
        reference: CrossTabResult | None = None
        for outcome in list(kept):
            assert outcome.response is not None
            assert isinstance(outcome.response.result, CrossTabResult)
            result = outcome.response.result
            try:
                if reference is None:
                    _table_bounds(result)
                    reference = result
                else:
                    _table_bounds(_aligned(result, reference.row_labels, reference.column_labels))
            except CombineError as exc:
                replace(outcome, str(exc))
    elif isinstance(analysis, AlleleFrequencyAnalysis):
        for outcome in list(kept):
            assert outcome.response is not None
            assert isinstance(outcome.response.result, AlleleFrequencyResult)
            try:
                combine_allele_frequencies(analysis.variants, [outcome.response.result])
            except CombineError as exc:
                replace(outcome, str(exc))
    if not kept:
        return None, tuple(final)
    results = [o.response.result for o in kept if o.response is not None]
    combined: CombinedResult
    if analysis.kind == "count":
        combined = CombinedCountResult(
            count=combine_counts(r.count for r in results if isinstance(r, CountResult))
        )
    elif analysis.kind == "crosstab":
        combined = combine_crosstabs([r for r in results if isinstance(r, CrossTabResult)])
    else:
        assert isinstance(analysis, AlleleFrequencyAnalysis)
        combined = combine_allele_frequencies(
            analysis.variants, [r for r in results if isinstance(r, AlleleFrequencyResult)]
        )
    return combined, tuple(final)


def _released(result: AnalysisResult) -> list[ReleasedCount]:
    if isinstance(result, KaplanMeierCounts):
        counts = [result.left_out]
        for g in result.groups:
            counts += [*g.events, *g.at_risk, *g.censored]
        return counts
    if isinstance(result, ScoreInformation):
        return [result.left_out]
    if isinstance(result, SummaryResult):
        return [c.n for v in result.variables for c in v.cells]
    if isinstance(result, PopulationAlleleFrequencyResult):
        return [c for p in result.populations for c in (*p.allele_count, *p.allele_number)]
    if isinstance(result, WgsBenefitResult):
        return [c for cell in result.cells for c in _benefit_counts(cell)]
    if isinstance(result, CountResult):
        return [result.count]
    if isinstance(result, CrossTabResult):
        t = result.table
        return [c for row in t.cells for c in row] + [*t.row_totals, *t.column_totals, t.total]
    if isinstance(result, ProficiencyResult):
        return []  # exact benchmark counts of reference material: no disclosure control applies
    return [c for a in result.alleles for c in (a.allele_count, a.allele_number)]


def _benefit_counts(cell: BenefitCell) -> list[ReleasedCount]:
    return [getattr(cell, name) for name in BenefitCell.model_fields if name not in ("tumour_type", "group")]


def disclosure_effects(outcomes: Iterable[NodeOutcome]) -> tuple[str, ...]:
    """What disclosure control did at each answering node, in words.

    The node's own statement (``disclosure.applied``) when it gives one; otherwise a summary of its
    released numbers' statuses (how many shown as "<k", withheld, rounded).
    """
    effects: list[str] = []
    for outcome in outcomes:
        if outcome.response is None or outcome.status is not OutcomeStatus.ANSWERED:
            continue
        statement = outcome.response.disclosure
        if statement.applied:
            effects.extend(f"{outcome.node}: {text}" for text in statement.applied)
            continue
        statuses = [c.status for c in _released(outcome.response.result)]
        parts = []
        if small := statuses.count(CellStatus.SMALL):
            k = statement.min_cell_count
            parts.append(f"{small} number(s) below {k} shown as <{k}")
        if complementary := statuses.count(CellStatus.COMPLEMENTARY):
            parts.append(f"{complementary} withheld to protect them (secondary suppression)")
        if rounded := statuses.count(CellStatus.ROUNDED):
            parts.append(f"{rounded} rounded to a multiple of {statement.rounding_base}")
        if parts:
            effects.append(f"{outcome.node}: " + "; ".join(parts))
    return tuple(dict.fromkeys(effects))
