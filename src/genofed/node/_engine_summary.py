"""The node side of federated summaries (means and variances) and of allele counts per population.

**Summaries.** The cohort's members are read with the design plan (one row per member, with the
group indices of the requested dimensions and the requested biomarkers); per variable and group,
:func:`genofed.stats.summary_node_stats` turns the members' values into ``n``, the mean and the sum
of squared deviations. A group with 1..k-1 values is suppressed: its ``n`` shows as ``<k`` and no
sums leave the node. A released ``n`` is exact even under a rounding policy, because the sums
released beside it determine it anyway (they are exact, as every model statistic is). Minimum and
maximum are single people's values: released only when the study asks and the node's policy sets
``statistics.release_extremes``. No dominance rule applies (see ``docs/privacy.md``).

**Allele counts per population.** The members' ``geographic_origin`` or ``ethnicity_id`` (latest
clinical record) splits the genotyped members into populations: the study's public labels, then
``other`` and ``unknown``; without public labels the node names its own populations, and a value held
by fewer than k genotyped members joins ``other``, so a rare origin is never named. Per population and
allele: AC = the carriers' copies, AN = 2 × the population's members with a germline analysis on the
allele's assembly (as for any sub-cohort). Fewer than k carriers (AC) or k people (AN) withhold the
number, as the unsplit analysis does. No total over the populations is released: with it, one
withheld population would follow by subtraction.

Both pass the differencing guard: every released number names the people behind it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from genofed.api import (
    OTHER_POPULATION,
    UNKNOWN_POPULATION,
    AlleleFrequencyAnalysis,
    BiomarkerVariable,
    PopulationAlleleFrequencyResult,
    PopulationAlleles,
    SummaryAnalysis,
    SummaryCell,
    SummaryResult,
    VariableSummary,
    group_labels,
)
from genofed.errors import DisclosureError
from genofed.privacy import DisclosurePolicy, ReleasedCount, release_count
from genofed.query import (
    AlleleFrequencyQuery,
    CohortFilter,
    allele_carriers_plan,
    genotyped_plan,
)
from genofed.stats import summary_node_stats

from ._context import NodeContext
from ._engine_stats import StatisticsRelease, _guarded, design_columns

__all__ = ["population_allele_frequency", "summary"]

# Joins a group's labels into one key for summary_node_stats (labels never hold this character).
_SEP = "\x1f"


def _refuse_noise(kind: str) -> DisclosureError:
    return DisclosureError(
        f"{kind} analyses are not released by this node: its differential privacy covers counts "
        "only, and these sums are not noised"
    )


def _values(column: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """A float column and which rows have a value."""
    present = np.array([v is not None and v == v for v in column], dtype=bool)  # v == v: not NaN
    values = np.zeros(len(column))
    values[present] = column[present].astype(np.float64)
    return values, present


def summary(
    node: NodeContext,
    cohort: CohortFilter,
    analysis: SummaryAnalysis,
    policy: DisclosurePolicy,
    *,
    noise: bool,
) -> StatisticsRelease:
    """Each variable's per-group ``n``, mean and sum of squared deviations, released under ``policy``.

    Raises
    ------
    DisclosureError
        Differential privacy is on (summaries are not noised).
    QueryError
        A dimension cannot be computed as asked (a bad gene condition).
    """
    from ._engine import _split  # the wire dimension's split, as cross-tabs use it

    if noise:
        raise _refuse_noise("summary")
    splits = [_split(d) for d in analysis.by]
    biomarkers = [v.name for v in analysis.variables if isinstance(v, BiomarkerVariable)]
    columns, n_rows = design_columns(node, cohort, splits, biomarkers)
    label_sets = tuple(s.labels for s in splits)
    groups = group_labels(label_sets)
    index = np.zeros(n_rows, dtype=np.int64)
    for n, labels in enumerate(label_sets):  # first dimension slowest, as group_labels orders them
        index = index * len(labels) + columns[f"s{n}"].astype(np.int64)
    keys = tuple(_SEP.join(g) if g else "all" for g in groups)
    k = policy.min_cell_count
    exact_policy = policy.model_copy(update={"rounding_base": 1})
    extremes = analysis.extremes and policy.statistics.release_extremes
    summaries: list[VariableSummary] = []
    shown: list[tuple[ReleasedCount, np.ndarray[Any, Any]]] = []
    suppressed = 0
    biomarker_column = {name: f"b{j}" for j, name in enumerate(biomarkers)}
    for variable in analysis.variables:
        name = biomarker_column[variable.name] if isinstance(variable, BiomarkerVariable) else variable.name
        values, present = _values(columns[name])
        stats = summary_node_stats(
            values[present],
            [keys[i] for i in index[present]],
            groups=keys,
            min_cell_count=k,
        )
        cells = []
        for g, group in enumerate(groups):
            rows = present & (index == g)
            count = int(rows.sum())
            released = release_count(count, exact_policy)
            shown.append((released, rows))
            if stats.suppressed[g] or count == 0:
                suppressed += bool(stats.suppressed[g])
                cells.append(SummaryCell(group=group, n=released, mean=None, sum_squares=None))
                continue
            cells.append(
                SummaryCell(
                    group=group,
                    n=released,
                    mean=float(stats.mean[g]),
                    sum_squares=float(stats.sum_squares[g]),
                    minimum=float(values[rows].min()) if extremes else None,
                    maximum=float(values[rows].max()) if extremes else None,
                )
            )
        summaries.append(VariableSummary(variable=variable.label, cells=tuple(cells)))
    applied: list[str] = []
    if suppressed:
        applied.append(f"{suppressed} group(s) with 1 to {k - 1} values withheld: n shown as <{k}, no sums")
    if policy.rounding_base > 1:
        applied.append("n not rounded: the released mean and sum of squares determine it")
    if analysis.extremes and not extremes:
        applied.append("minimum and maximum withheld: this node's policy does not release single values")
    applied.append("no dominance rule applied (see docs/privacy.md)")
    result = SummaryResult(dimensions=tuple(d.kind for d in analysis.by), variables=tuple(summaries))
    displays = {
        "variables": {
            v.variable: [
                {"group": list(c.group), "n": c.n.display, "mean": c.mean, "sum_squares": c.sum_squares}
                for c in v.cells
            ]
            for v in summaries
        }
    }
    return _guarded(StatisticsRelease(result=result, applied=applied, displays=displays), columns, shown)


def _populations(
    values: dict[str, str | None], genotyped: frozenset[str], labels: tuple[str, ...] | None, k: int
) -> tuple[tuple[str, ...], dict[str, frozenset[str]]]:
    """The population labels in order, and each population's genotyped members."""
    if labels is not None:
        named = labels
    else:
        sizes = Counter(values.get(p) for p in genotyped)
        named = tuple(sorted(str(v) for v, size in sizes.items() if v is not None and size >= k))
    known = set(named)
    members: dict[str, set[str]] = {label: set() for label in (*named, OTHER_POPULATION, UNKNOWN_POPULATION)}
    for person in genotyped:
        value = values.get(person)
        if value is None:
            members[UNKNOWN_POPULATION].add(person)
        elif value in known:
            members[value].add(person)
        else:
            members[OTHER_POPULATION].add(person)
    return tuple(members), {label: frozenset(people) for label, people in members.items()}


def population_allele_frequency(
    node: NodeContext,
    cohort: CohortFilter,
    analysis: AlleleFrequencyAnalysis,
    policy: DisclosurePolicy,
    *,
    noise: bool,
) -> StatisticsRelease:
    """Allele counts and numbers per population of the cohort's genotyped members.

    Raises
    ------
    DisclosureError
        Differential privacy is on (per-population counts are not noised).
    """
    from ._engine import _rows, _small

    split = analysis.population
    assert split is not None
    if noise:
        raise _refuse_noise("per-population allele frequency")
    k = policy.min_cell_count
    alleles = [
        AlleleFrequencyQuery(chrom=v.chrom, pos=v.pos, ref=v.ref, alt=v.alt, assembly=v.assembly)
        for v in analysis.variants
    ]
    genotyped = {
        str(r["assembly"]): frozenset(r["members"]) for r in _rows(node, genotyped_plan(cohort), lookup=True)
    }
    everyone = frozenset().union(*genotyped.values())
    columns, _ = design_columns(node, cohort)
    attribute = dict(zip(columns["individual_id"], columns[split.attribute], strict=True))
    labels, members = _populations(attribute, everyone, split.labels, k)
    copies: dict[int, dict[str, int]] = {}
    for row in _rows(node, allele_carriers_plan(cohort, alleles=alleles), lookup=True):
        copies.setdefault(int(row["idx"]), {})[str(row["individual_id"])] = int(row["copies"])
    groups: list[frozenset[str]] = []
    small_groups: list[frozenset[str]] = []
    rows: list[PopulationAlleles] = []
    small_ac = small_an = 0
    for label in labels:
        population = members[label]
        acs: list[ReleasedCount] = []
        ans: list[ReleasedCount] = []
        for n, allele in enumerate(alleles):
            people = genotyped.get(str(allele.assembly), frozenset()) & population
            carried = copies.get(n, {})
            holders = frozenset(p for p in carried if p in people)
            ac, an = sum(carried[p] for p in holders), 2 * len(people)
            an_shown = _small(2 * (k - 1)) if 0 < len(people) < k else release_count(an, policy)
            ac_shown = _small(2 * (k - 1)) if 0 < len(holders) < k else release_count(ac, policy)
            small_an += an_shown.value is None
            small_ac += ac_shown.value is None
            for shown, group in ((an_shown, people), (ac_shown, holders)):
                if not group:
                    continue
                (groups if shown.value is not None else small_groups).append(group)
            acs.append(ac_shown)
            ans.append(an_shown)
        rows.append(PopulationAlleles(population=label, allele_count=tuple(acs), allele_number=tuple(ans)))
    applied: list[str] = []
    if small_ac:
        applied.append(f"{small_ac} allele count(s) of fewer than {k} carriers withheld")
    if small_an:
        applied.append(f"{small_an} allele number(s) over fewer than {k} people withheld")
    if policy.rounding_base > 1:
        applied.append(f"counts rounded to multiples of {policy.rounding_base}")
    if split.labels is None:
        applied.append(f"{split.attribute} values of fewer than {k} genotyped members counted as other")
    applied.append("AN = 2 × population members with a germline analysis (no-calls count as reference)")
    displays = {
        "populations": {
            r.population: {
                "allele_count": [c.display for c in r.allele_count],
                "allele_number": [c.display for c in r.allele_number],
            }
            for r in rows
        }
    }
    return StatisticsRelease(
        result=PopulationAlleleFrequencyResult(attribute=split.attribute, populations=tuple(rows)),
        applied=applied,
        displays=displays,
        groups=list(dict.fromkeys(groups)),
        small_groups=list(dict.fromkeys(small_groups)),
    )
