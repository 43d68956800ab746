"""Exact combination of the nodes' summaries and of their allele counts per population.

**Summaries**: per variable and group, each answering node released ``n``, the mean and the sum of
squared deviations (or withheld the group, showing ``n`` as ``<k``). The released cells are pooled
with :func:`genofed.stats.combine_summaries` (the parallel-variance update of Chan, Golub &
LeVeque), which equals the mean and sample variance of the pooled values; the interval of the mean
is Student's t with n − 1 degrees of freedom (:func:`genofed.stats.mean_interval`). A group some node
withheld is pooled over the others, and the row names those nodes.

**Allele counts per population**: AC and AN are summed per population and allele over the nodes
that name the population, as intervals (``<k`` parts make a range), beside each node's own row (a
node is one country).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from genofed.api import (
    OTHER_POPULATION,
    UNKNOWN_POPULATION,
    AlleleFrequencyAnalysis,
    PopulationAlleleFrequencyResult,
    SummaryAnalysis,
    SummaryResult,
)
from genofed.stats import SummaryNodeStats, combine_summaries, mean_interval

from ._answer import (
    CombinedPopulationAlleleFrequencies,
    CombinedSummary,
    NodeOutcome,
    OutcomeStatus,
    PopulationFrequency,
    SummaryRow,
)
from ._combine import _Bound, _bound, _frequency, combine_counts, combined_count

__all__ = ["combine_population_frequencies", "combine_summary"]

#: Level of the intervals of the pooled means.
CONFIDENCE = 0.95


def _failed(outcome: NodeOutcome, reason: str) -> NodeOutcome:
    return outcome.model_copy(
        update={"status": OutcomeStatus.FAILED, "reason": f"answer not combinable: {reason}"}
    )


def _optional(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _extreme(values: list[float | None], pick: Callable[[list[float]], float]) -> float | None:
    """The pooled minimum or maximum, when every pooled node released its own."""
    known = [v for v in values if v is not None]
    return pick(known) if known and len(known) == len(values) else None


def combine_summary(
    analysis: SummaryAnalysis, outcomes: Sequence[NodeOutcome]
) -> tuple[CombinedSummary | None, tuple[NodeOutcome, ...]]:
    """Pool the answered nodes' summaries per variable and group.

    Returns the combination (None when no node's summary could be used) and the outcomes, where an
    answer with other variables or groups than the first usable one has become a failure.
    """
    final = list(outcomes)
    kept: list[tuple[str, SummaryResult]] = []
    names = tuple(v.label for v in analysis.variables)
    reference: tuple[tuple[str, ...], ...] | None = None
    for n, outcome in enumerate(outcomes):
        if outcome.response is None or outcome.status is not OutcomeStatus.ANSWERED:
            continue
        result = outcome.response.result
        assert isinstance(result, SummaryResult)
        if tuple(v.variable for v in result.variables) != names:
            final[n] = _failed(outcome, "its variables are not the ones asked")
            continue
        groups = tuple(c.group for c in result.variables[0].cells)
        if any(tuple(c.group for c in v.cells) != groups for v in result.variables) or (
            reference is not None and groups != reference
        ):
            final[n] = _failed(outcome, "its groups differ from the other nodes'")
            continue
        reference = groups
        kept.append((outcome.node, result))
    if reference is None:
        return None, tuple(final)
    keys = tuple("\x1f".join(g) or "all" for g in reference)
    rows: list[SummaryRow] = []
    for v, name in enumerate(names):
        stats = []
        for _, result in kept:
            cells = result.variables[v].cells
            withheld = np.array([c.n.value is None for c in cells])
            stats.append(
                SummaryNodeStats(
                    groups=keys,
                    n=np.array([-1 if c.n.value is None else c.n.value for c in cells], dtype=np.int64),
                    mean=np.array([np.nan if c.mean is None else c.mean for c in cells]),
                    sum_squares=np.array([np.nan if c.sum_squares is None else c.sum_squares for c in cells]),
                    suppressed=withheld,
                )
            )
        for g, (group, pooled) in enumerate(zip(reference, combine_summaries(stats), strict=True)):
            at = [(node, result.variables[v].cells[g]) for node, result in kept]
            pooled_nodes = tuple(node for node, c in at if c.n.value)
            low, high = mean_interval(pooled, confidence=CONFIDENCE) if pooled.n else (np.nan, np.nan)
            minima = [c.minimum for _, c in at if c.n.value]
            maxima = [c.maximum for _, c in at if c.n.value]
            rows.append(
                SummaryRow(
                    variable=name,
                    group=group,
                    n=pooled.n,
                    n_all=combine_counts(c.n for _, c in at),
                    mean=_optional(pooled.mean),
                    variance=_optional(pooled.variance),
                    sd=_optional(pooled.sd),
                    standard_error=_optional(pooled.standard_error),
                    ci_lower=_optional(low),
                    ci_upper=_optional(high),
                    minimum=_extreme(minima, min),
                    maximum=_extreme(maxima, max),
                    nodes=pooled_nodes,
                    nodes_suppressed=tuple(node for node, c in at if c.n.value is None),
                )
            )
    notes = []
    if any(r.nodes_suppressed for r in rows):
        notes.append("a group some node withheld (1..k-1 values there) is pooled over the other nodes")
    combined = CombinedSummary(
        dimensions=tuple(d.kind for d in analysis.by),
        confidence=CONFIDENCE,
        rows=tuple(rows),
        notes=tuple(notes),
    )
    return combined, tuple(final)


def _frequency_row(
    analysis: AlleleFrequencyAnalysis,
    i: int,
    population: str,
    parts: Sequence[tuple[_Bound, _Bound]],
    *,
    node: str | None,
    country: str | None,
    nodes: tuple[str, ...],
) -> PopulationFrequency:
    ac = [sum(p[0][0] for p in parts), sum(p[0][1] for p in parts)]
    an = [sum(p[1][0] for p in parts), sum(p[1][1] for p in parts)]
    af, low, high, display = _frequency(ac, an)
    return PopulationFrequency(
        variant=analysis.variants[i],
        population=population,
        node=node,
        country=country,
        allele_count=combined_count(*ac),
        allele_number=combined_count(*an),
        frequency=af,
        frequency_lower=low,
        frequency_upper=high,
        display=display,
        nodes=nodes,
    )


def combine_population_frequencies(
    analysis: AlleleFrequencyAnalysis, outcomes: Sequence[NodeOutcome]
) -> tuple[CombinedPopulationAlleleFrequencies | None, tuple[NodeOutcome, ...]]:
    """Per node and summed over the nodes, each allele's AC, AN and frequency in each population.

    Returns the combination (None when no node's counts could be used) and the outcomes, where an
    answer that does not give one AC and AN per requested allele (or says AC > AN) has become a
    failure.
    """
    assert analysis.population is not None
    final = list(outcomes)
    kept: list[tuple[NodeOutcome, dict[str, list[tuple[_Bound, _Bound]]]]] = []
    for n, outcome in enumerate(outcomes):
        if outcome.response is None or outcome.status is not OutcomeStatus.ANSWERED:
            continue
        result = outcome.response.result
        assert isinstance(result, PopulationAlleleFrequencyResult)
        bounds: dict[str, list[tuple[_Bound, _Bound]]] = {}
        problem = None
        for counts in result.populations:
            if len(counts.allele_count) != len(analysis.variants) or counts.population in bounds:
                problem = "it does not give one count per population and requested allele"
                break
            pairs = []
            for ac_count, an_count in zip(counts.allele_count, counts.allele_number, strict=True):
                ac, an = _bound(ac_count), _bound(an_count)
                ac[1], an[0] = min(ac[1], an[1]), max(an[0], ac[0])  # AC <= AN at every node
                if ac[0] > ac[1] or an[0] > an[1]:
                    problem = f"its allele count exceeds its allele number in {counts.population!r}"
                pairs.append((ac, an))
            bounds[counts.population] = pairs
        if problem is not None or result.attribute != analysis.population.attribute:
            final[n] = _failed(outcome, problem or f"it split by {result.attribute}, not the attribute asked")
            continue
        kept.append((outcome, bounds))
    if not kept:
        return None, tuple(final)
    order = list(analysis.population.labels or ())
    for _, bounds in kept:
        order += [p for p in bounds if p not in order and p not in (OTHER_POPULATION, UNKNOWN_POPULATION)]
    if analysis.population.labels is None:
        order = sorted(order)
    populations = (*order, OTHER_POPULATION, UNKNOWN_POPULATION)
    rows: list[PopulationFrequency] = []
    for i in range(len(analysis.variants)):
        for population in populations:
            parts = []
            for outcome, bounds in kept:
                if population not in bounds:
                    continue
                parts.append((outcome.node, bounds[population][i]))
                rows.append(
                    _frequency_row(
                        analysis,
                        i,
                        population,
                        [bounds[population][i]],
                        node=outcome.node,
                        country=outcome.country,
                        nodes=(outcome.node,),
                    )
                )
            if parts:
                nodes = tuple(node for node, _ in parts)
                rows.append(
                    _frequency_row(
                        analysis, i, population, [p for _, p in parts], node=None, country=None, nodes=nodes
                    )
                )
    notes = []
    if analysis.population.labels is None:
        notes.append(
            "populations are named by the nodes: 'other' holds each node's unlisted and rare values, "
            "which differ from node to node"
        )
    combined = CombinedPopulationAlleleFrequencies(
        attribute=analysis.population.attribute,
        populations=tuple(p for p in populations if any(r.population == p for r in rows)),
        rows=tuple(rows),
        notes=tuple(notes),
    )
    return combined, tuple(final)
