"""The node-side computation of each analysis, and the disclosure control every answer passes.

One path for every analysis (:func:`answer`):

1. **Compute** the exact numbers by SQL through the store (plans of :mod:`genofed.query`), keeping,
   beside each number, the pseudonyms it counts. Pseudonyms never leave this module's locals.
2. **Protect** them under the node's policy tightened by the request (never weakened): with
   differential privacy on, first add discrete Gaussian noise (OpenDP) to the numbers and protect the
   noisy ones -- so every later decision is post-processing; then small counts become "<k"
   (:func:`~genofed.privacy.release_count`) and tables get audited secondary suppression
   (:func:`~genofed.privacy.protect_table`).
3. **Guard** against differencing: every number released with a value counts a *group* of people (a
   cohort, a cell, a margin, an allele's carriers, the people an allele number covers). The node
   refuses an answer if one of its groups differs from a group already answered to the same
   researcher -- or from another group of the same answer -- by 1..k-1 people; else it remembers the
   groups (salted hashes only). Groups of numbers shown as "<k" are remembered apart and compared
   with groups released with a value only ("5", then "<5" for the same people but one, isolates that
   person; two "<k" say nothing of each other). Guarding every released group, not just the cohort,
   is what stops a cell of one table minus a cell of another (shifted age-band edges, a cohort and the
   same cohort split by one more condition) from isolating a person. What it does not stop: attacks
   that combine three or more answers linearly (A − B − C), which no pairwise memory can see; a node
   that needs that guarantee turns on differential privacy.
4. **Spend** the privacy budget (DP only) and **log** the release (displays only, never a raw small
   count), under one lock, then answer.

Allele frequencies are germline statistics. For the whole node (an empty cohort) AC and AN are the
sums of the germline sites' AC and AN, so AN counts called alleles only. For a sub-cohort the store,
which keeps no reference or no-call genotypes, can only count: AC = the members' copies of the allele
in their germline calls, AN = 2 × the members with a germline analysis on the allele's assembly
(diploid, no-calls counted as reference).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genofed.api import (
    AgeBandDimension,
    AlleleCounts,
    AlleleFrequencyAnalysis,
    AlleleFrequencyResult,
    AnalysisRequest,
    AnalysisResponse,
    CountResult,
    CoxAnalysis,
    CrossTabAnalysis,
    CrossTabResult,
    Dimension,
    DisclosureStatement,
    GeneStatusDimension,
    GlmAnalysis,
    KaplanMeierAnalysis,
    ProficiencyAnalysis,
    ProficiencyResult,
    SexDimension,
    SummaryAnalysis,
    TumourTypeDimension,
    VariantRef,
    WgsBenefitAnalysis,
)
from genofed.auth import AccessLevel, Identity
from genofed.errors import DisclosureError
from genofed.privacy import (
    BudgetStatement,
    CellStatus,
    DisclosurePolicy,
    ProtectedTable,
    ReleasedCount,
    discrete_gaussian_count,
    protect_table,
    release_count,
)
from genofed.query import (
    AgeBandSplit,
    AlleleFrequencyQuery,
    CohortFilter,
    GeneStatusSplit,
    Plan,
    SexSplit,
    Split,
    TumourTypeSplit,
    VitalStatusSplit,
    allele_counts_plan,
    allele_sites_plan,
    cohort_members_plan,
    crosstab_plan,
    genotyped_plan,
)

from ._context import NodeContext
from ._engine_cds import wgs_benefit
from ._engine_qa import proficiency
from ._engine_stats import StatisticsResult, statistics
from ._engine_summary import population_allele_frequency, summary
from ._problems import AccessDeniedError, DatasetNotFoundError

__all__ = ["answer", "authorise"]

#: A one-way table is a single column; its one column label.
ONE_WAY_COLUMN = "all"


def authorise(node: NodeContext, request: AnalysisRequest, identity: Identity) -> str:
    """The dataset the request is about, after checking the caller may ask it.

    Counts and cross-tabs need a registered caller; allele frequencies need controlled access to the
    dataset (a ``ControlledAccessGrants`` visa for it). Access changes nothing about disclosure.

    Raises
    ------
    DatasetNotFoundError
        The node does not hold the dataset (404).
    AccessDeniedError
        The caller's access level for the dataset is too low (403).
    """
    held = node.settings.dataset_id
    dataset = request.dataset or held
    if dataset != held:
        raise DatasetNotFoundError(
            f"node {node.settings.node_id!r} holds dataset {held!r}, not {dataset!r} (see /service-info)"
        )
    if isinstance(request.analysis, AlleleFrequencyAnalysis):
        needed, why = AccessLevel.CONTROLLED, f"a ControlledAccessGrants visa for dataset {dataset!r}"
    else:
        needed, why = AccessLevel.REGISTERED, "a verified passport"
    if identity.level_for(dataset) < needed:
        raise AccessDeniedError(f"{request.analysis.kind} analyses of {dataset!r} need {why}")
    return dataset


@dataclass
class _Release:
    """One analysis's protected answer, and what the guard and the audit log need to know of it."""

    result: CountResult | CrossTabResult | AlleleFrequencyResult | StatisticsResult | ProficiencyResult
    groups: list[frozenset[str]]  # the people behind each number released with a value
    small_groups: list[frozenset[str]]  # ... and behind each number shown as "<k" (1..k-1 people)
    applied: list[str]
    displays: dict[str, Any]
    rho: float = 0.0  # privacy cost when noised
    budget: BudgetStatement | None = field(default=None)


# -- computing -------------------------------------------------------------------------------------
def _rows(node: NodeContext, plan: Plan, *, lookup: bool = False) -> list[dict[str, Any]]:
    # Allele look-ups go to the store's look-up executor (the sites index beside Spark tables).
    executor = node.store.lookup if lookup else node.store
    return list(executor.execute(plan.sql("duckdb"), plan.params).to_pylist())


def _split(dimension: Dimension) -> Split:
    """The query layer's split for a wire dimension."""
    if isinstance(dimension, SexDimension):
        return SexSplit()
    if isinstance(dimension, AgeBandDimension):
        return AgeBandSplit(dimension.edges)
    if isinstance(dimension, TumourTypeDimension):
        return TumourTypeSplit(dimension.codes)
    if isinstance(dimension, GeneStatusDimension):
        variant = CohortFilter(
            gene=dimension.gene, consequence=dimension.consequence, protein_change=dimension.protein_change
        )
        return GeneStatusSplit(variant)
    return VitalStatusSplit()


def _noise(count: int, rho: float) -> int:
    # Post-processing: a negative noisy count carries no more information clamped to zero.
    return max(0, discrete_gaussian_count(count, rho))


def _noised(shown: ReleasedCount) -> ReleasedCount:
    """A count released from a noisy value: its value is not exact, and the true count is not bounded."""
    status = CellStatus.ROUNDED if shown.status is CellStatus.EXACT else shown.status
    return shown.model_copy(update={"lower": 0, "upper": None, "status": status})


def _noised_table(table: ProtectedTable) -> ProtectedTable:
    return ProtectedTable(
        cells=[[_noised(c) for c in row] for row in table.cells],
        row_totals=[_noised(c) for c in table.row_totals],
        column_totals=[_noised(c) for c in table.column_totals],
        total=_noised(table.total),
    )


def _dp_words(rho: float) -> str:
    sigma = math.sqrt(1.0 / (2.0 * rho))
    return f"discrete Gaussian noise added (σ = {sigma:.2f}; zCDP, OpenDP)"


def _count(node: NodeContext, cohort: CohortFilter, policy: DisclosurePolicy, *, noise: bool) -> _Release:
    members = frozenset(r["individual_id"] for r in _rows(node, cohort_members_plan(cohort)))
    k = policy.min_cell_count
    applied: list[str] = []
    rho = policy.differential_privacy.rho_per_count
    if noise:
        shown = _noised(release_count(_noise(len(members), rho), policy))
        applied.append(_dp_words(rho))
    else:
        shown = release_count(len(members), policy)
    if shown.status is CellStatus.SMALL:
        applied.append(f"count between 1 and {k - 1} shown as <{k}")
    elif policy.rounding_base > 1:
        applied.append(f"count rounded to a multiple of {policy.rounding_base}")
    groups = [members] if shown.value is not None and members else []
    small = [members] if shown.status is CellStatus.SMALL and not noise else []
    return _Release(
        result=CountResult(count=shown),
        groups=groups,
        small_groups=small,
        applied=applied,
        displays={"count": shown.display},
        rho=rho if noise else 0.0,
    )


def _table_words(table: ProtectedTable, policy: DisclosurePolicy) -> list[str]:
    k = policy.min_cell_count
    cells = [c for row in table.cells for c in row]
    margins = [*table.row_totals, *table.column_totals, table.total]
    small = sum(c.status is CellStatus.SMALL for c in cells)
    withheld = sum(c.status is CellStatus.COMPLEMENTARY for c in cells)
    hidden_margins = sum(m.value is None for m in margins)
    words = []
    if small:
        words.append(f"{small} cell(s) between 1 and {k - 1} shown as <{k}")
    if withheld:
        words.append(f"{withheld} further cell(s) withheld (×) so that no small cell follows from the rest")
    if hidden_margins:
        words.append(f"{hidden_margins} margin(s) withheld or shown as <{k}")
    if policy.rounding_base > 1:
        words.append(f"counts rounded to multiples of {policy.rounding_base}")
    return words


def _crosstab(
    node: NodeContext,
    cohort: CohortFilter,
    analysis: CrossTabAnalysis,
    policy: DisclosurePolicy,
    *,
    noise: bool,
) -> _Release:
    rows = _split(analysis.rows)
    columns = _split(analysis.columns) if analysis.columns is not None else None
    row_labels = rows.labels
    column_labels = columns.labels if columns is not None else (ONE_WAY_COLUMN,)
    counts = np.zeros((len(row_labels), len(column_labels)), dtype=np.int64)
    members: dict[tuple[int, int], frozenset[str]] = {}
    for row in _rows(node, crosstab_plan(cohort, rows=rows, columns=columns)):
        cell = (int(row["row_index"]), int(row["column_index"]))
        counts[cell] = int(row["individuals"])
        members[cell] = frozenset(row["members"])
    applied: list[str] = []
    rho = policy.differential_privacy.rho_per_count
    if noise:
        # Each person is in one cell: the table is a histogram of L2 sensitivity 1, so noising every
        # cell costs ρ once (Bun & Steinke 2016); margins are sums of noisy cells (post-processing).
        # Noisy values below k still show as "<k", but secondary suppression has nothing to protect:
        # what subtraction recovers is a noisy value, and it would withhold most cells (the noise
        # lifts empty cells into 1..k-1).
        noisy = np.vectorize(lambda n: _noise(int(n), rho), otypes=[np.int64])(counts)
        unsuppressed = policy.model_copy(update={"secondary_suppression": False})
        table = _noised_table(protect_table(noisy, unsuppressed))
        applied.append(_dp_words(rho))
        applied.append("no secondary suppression: values recoverable by subtraction are themselves noisy")
    else:
        table = protect_table(counts, policy)
    applied += _table_words(table, policy)

    def people(cells: Sequence[tuple[int, int]]) -> frozenset[str]:
        return frozenset().union(*(members.get(c, frozenset()) for c in cells))

    n_rows, n_cols = counts.shape
    released: list[tuple[ReleasedCount, frozenset[str]]] = [
        (table.cells[r][c], members.get((r, c), frozenset())) for r in range(n_rows) for c in range(n_cols)
    ]
    released += [(shown, people([(r, c) for c in range(n_cols)])) for r, shown in enumerate(table.row_totals)]
    released += [
        (shown, people([(r, c) for r in range(n_rows)])) for c, shown in enumerate(table.column_totals)
    ]
    released.append((table.total, people(list(members))))
    groups = list({group for shown, group in released if shown.value is not None and group})
    small = [] if noise else list({g for shown, g in released if shown.status is CellStatus.SMALL and g})
    displays = {
        "row_labels": list(row_labels),
        "column_labels": list(column_labels),
        "cells": [[c.display for c in row] for row in table.cells],
        "row_totals": [c.display for c in table.row_totals],
        "column_totals": [c.display for c in table.column_totals],
        "total": table.total.display,
    }
    return _Release(
        result=CrossTabResult(row_labels=row_labels, column_labels=column_labels, table=table),
        groups=groups,
        small_groups=small,
        applied=applied,
        displays=displays,
        rho=rho if noise else 0.0,
    )


def _small(upper: int) -> ReleasedCount:
    """A number withheld because it counts fewer than k people; it lies in [0, upper]."""
    return ReleasedCount(value=None, lower=0, upper=upper, status=CellStatus.SMALL, display=f"<{upper + 1}")


def _allele_key(variant: VariantRef) -> str:
    return f"{variant.assembly}:{variant.chrom}-{variant.pos}-{variant.ref}-{variant.alt}"


def _allele_frequency(
    node: NodeContext,
    cohort: CohortFilter,
    analysis: AlleleFrequencyAnalysis,
    policy: DisclosurePolicy,
    *,
    noise: bool,
) -> _Release:
    variants = analysis.variants
    alleles = [
        AlleleFrequencyQuery(chrom=v.chrom, pos=v.pos, ref=v.ref, alt=v.alt, assembly=v.assembly)
        for v in variants
    ]
    k = policy.min_cell_count
    genotyped = {
        str(r["assembly"]): frozenset(r["members"]) for r in _rows(node, genotyped_plan(cohort), lookup=True)
    }
    carriers: dict[int, frozenset[str]] = {}
    allele_count: dict[int, int] = {}
    for row in _rows(node, allele_counts_plan(cohort, alleles=alleles), lookup=True):
        carriers[int(row["idx"])] = frozenset(row["members"])
        allele_count[int(row["idx"])] = int(row["allele_count"])
    allele_number: dict[int, int] = {}
    if cohort.empty:
        for row in _rows(node, allele_sites_plan(alleles), lookup=True):
            allele_count[int(row["idx"])] = int(row["allele_count"])
            allele_number[int(row["idx"])] = int(row["allele_number"])
    else:
        for n, allele in enumerate(alleles):
            allele_number[n] = 2 * len(genotyped.get(str(allele.assembly), frozenset()))
    rho = policy.differential_privacy.rho_per_count
    applied: list[str] = []
    small_ac = small_an = 0
    results: list[AlleleCounts] = []
    groups: set[frozenset[str]] = set()
    small_groups: set[frozenset[str]] = set()
    for n, (variant, allele) in enumerate(zip(variants, alleles, strict=True)):
        people = genotyped.get(str(allele.assembly), frozenset())
        holders = carriers.get(n, frozenset())
        ac, an = allele_count.get(n, 0), allele_number.get(n, 0)
        if noise:
            # AC and AN each change by at most 2 when one person is added or removed: noise each
            # with ρ/4 of a count's scale so that each costs ρ (2ρ per allele in all).
            ac_shown = _noised(release_count(_noise(ac, rho / 4), policy))
            an_shown = _noised(release_count(_noise(an, rho / 4), policy))
        else:
            # AN counts people (two alleles each); AC's carriers are people: fewer than k of either
            # is withheld as a whole, whatever the allele count.
            an_shown = _small(2 * (k - 1)) if 0 < len(people) < k else release_count(an, policy)
            ac_shown = _small(2 * (k - 1)) if 0 < len(holders) < k else release_count(ac, policy)
        small_ac += ac_shown.value is None
        small_an += an_shown.value is None
        if an_shown.value is not None and people:
            groups.add(people)
        if ac_shown.value is not None and holders:
            groups.add(holders)
        if not noise:
            small_groups.update(
                g for shown, g in ((an_shown, people), (ac_shown, holders)) if shown.value is None and g
            )
        results.append(AlleleCounts(variant=variant, allele_count=ac_shown, allele_number=an_shown))
    if noise:
        applied.append(_dp_words(rho / 4))
    if small_ac:
        applied.append(f"{small_ac} allele count(s) of fewer than {k} carriers withheld")
    if small_an:
        applied.append(f"{small_an} allele number(s) over fewer than {k} people withheld")
    if policy.rounding_base > 1:
        applied.append(f"counts rounded to multiples of {policy.rounding_base}")
    if not cohort.empty:
        applied.append("AN = 2 × cohort members with a germline analysis (no-calls count as reference)")
    displays = {
        "alleles": [
            {
                "variant": _allele_key(r.variant),
                "allele_count": r.allele_count.display,
                "allele_number": r.allele_number.display,
            }
            for r in results
        ]
    }
    return _Release(
        result=AlleleFrequencyResult(alleles=tuple(results)),
        groups=list(groups),
        small_groups=list(small_groups),
        applied=applied,
        displays=displays,
        rho=2 * len(alleles) * rho if noise else 0.0,
    )


# -- answering -------------------------------------------------------------------------------------
def _refusal(policy: DisclosurePolicy) -> DisclosureError:
    # The guard's own message gives the exact difference, itself a small count: say less.
    return DisclosureError(
        "refused by the differencing guard: a number in this answer counts a group of people that "
        "differs from a group counted in an earlier answer to you (or in this one) by fewer than "
        f"{policy.min_difference} individuals, which could single a person out; ask about groups "
        "that differ more"
    )


def _guard_and_spend(node: NodeContext, release: _Release, researcher: str, policy: DisclosurePolicy) -> None:
    """Check the released groups against the researcher's earlier ones, spend the budget, remember.

    Groups released with a value are checked against every remembered group and against each other;
    groups shown as "<k" only against remembered groups released with a value (two "<k" tell nothing
    about each other, and within one table secondary suppression already keeps small cells hidden).
    """
    guarded = policy.differencing.enabled and (release.groups or release.small_groups)
    # The same groups again (each Newton iteration of a fit) were checked and recorded already, and
    # every group recorded since was checked against them: hashing them anew would change nothing.
    memo = (
        (researcher, policy.min_difference, frozenset(release.groups), frozenset(release.small_groups))
        if guarded
        else None
    )
    fresh = memo is not None and not node.guarded_before(memo)
    exact = node.guard(policy.min_difference) if fresh else None
    small = node.guard(policy.min_difference, small=True) if fresh else None
    with node.disclosure_lock:
        if exact is not None and small is not None:
            try:
                exact.check_many(researcher, release.groups)
                small.check_many(researcher, release.groups)
                for group in release.small_groups:
                    exact.check(researcher, group)
            except DisclosureError as exc:
                raise _refusal(policy) from exc
        if release.rho:
            release.budget = node.ledger.spend(researcher, release.rho)
        if exact is not None and small is not None:
            for group in release.groups:
                exact.record(researcher, group)
            for group in release.small_groups:
                small.record(researcher, group)
            node.remember_guarded(memo)
    if guarded:
        checked = len(release.groups) + len(release.small_groups)
        release.applied.append(
            f"differencing guard: {checked} released group(s) differ from your earlier "
            f"ones by 0 or at least {policy.min_difference} people"
        )


def answer(
    node: NodeContext, request: AnalysisRequest, identity: Identity, *, request_id: str, dataset: str
) -> AnalysisResponse:
    """Compute, protect, guard, log and answer one analysis request.

    Raises
    ------
    QueryError
        The request cannot be answered as asked (a bad gene condition in a dimension, ref equal to alt).
    DisclosureError
        The differencing guard or the privacy budget refuses the answer.
    StoreError
        The store failed.
    """
    disclosure = request.disclosure
    policy = node.policy.tightened(
        min_cell_count=disclosure.min_cell_count, rounding_base=disclosure.rounding_base
    )
    noise = policy.differential_privacy.enabled
    analysis = request.analysis
    if isinstance(analysis, CrossTabAnalysis):
        release = _crosstab(node, request.cohort, analysis, policy, noise=noise)
    elif isinstance(analysis, AlleleFrequencyAnalysis) and analysis.population is None:
        release = _allele_frequency(node, request.cohort, analysis, policy, noise=noise)
    elif isinstance(analysis, AlleleFrequencyAnalysis):
        stats = population_allele_frequency(node, request.cohort, analysis, policy, noise=noise)
        release = _Release(
            stats.result,
            groups=stats.groups,
            small_groups=stats.small_groups,
            applied=stats.applied,
            displays=stats.displays,
        )
    elif isinstance(
        analysis, KaplanMeierAnalysis | CoxAnalysis | GlmAnalysis | SummaryAnalysis | WgsBenefitAnalysis
    ):
        # Statistics name the people behind their numbers (fit rows, groups, cells): guarded like counts.
        if isinstance(analysis, SummaryAnalysis):
            stats = summary(node, request.cohort, analysis, policy, noise=noise)
        elif isinstance(analysis, WgsBenefitAnalysis):
            stats = wgs_benefit(node, request.cohort, analysis, policy, noise=noise)
        else:
            stats = statistics(node, request.cohort, analysis, policy, noise=noise)
        release = _Release(
            stats.result,
            groups=stats.groups,
            small_groups=stats.small_groups,
            applied=stats.applied,
            displays=stats.displays,
        )
    elif isinstance(analysis, ProficiencyAnalysis):
        # Counts about listed reference material, not people: nothing to guard, noise or suppress.
        qa = proficiency(node, analysis)
        release = _Release(qa.result, groups=[], small_groups=[], applied=qa.applied, displays=qa.displays)
    else:
        release = _count(node, request.cohort, policy, noise=noise)
    _guard_and_spend(node, release, identity.researcher, policy)
    if not release.applied:
        release.applied.append("no suppression needed")
    node.audit.append(
        {
            "type": "release",
            "request_id": request_id,
            "researcher": identity.researcher,
            "study": request.study,
            "dataset": dataset,
            "analysis": analysis.kind,
            "released": release.displays,
            "applied": release.applied,
            "budget": release.budget.model_dump() if release.budget else None,
        }
    )
    return AnalysisResponse(
        node=node.identity,
        request_id=request_id,
        study=request.study,
        result=release.result,
        disclosure=DisclosureStatement(
            min_cell_count=policy.min_cell_count,
            rounding_base=policy.rounding_base,
            secondary_suppression=policy.secondary_suppression and not noise,
            differential_privacy=noise,
            applied=tuple(release.applied),
            budget=release.budget,
        ),
    )
