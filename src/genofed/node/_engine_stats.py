"""The node side of the exact federated statistics: Kaplan–Meier counts and Cox / GLM steps.

The cohort's members are read with :func:`genofed.query.design_plan` (one row per member: clinical
values, RECIST response, split indices); the rows stay in this module's locals and become sums:

- **Kaplan–Meier**: :func:`genofed.stats.km_node_counts` on the study's public grid. Every cell
  (events, at risk, censored, per group and grid point) is then released through
  :func:`genofed.privacy.release_count` under the node's policy, so no count of 1..k-1 leaves the
  node: it is shown as ``<k`` and the coordinator withholds the curve from that grid point on
  (see :mod:`genofed.federation._iterative`). A group with 1..k-1 members refuses the whole answer.
- **Cox / GLM**: :func:`genofed.stats.cox_node_step` / :func:`genofed.stats.glm_node_step` at the
  ``beta`` the coordinator sent, under the policy's ``statistics`` limits and minimum cell count.
  They check before computing, so a refusal (403 ``disclosure-refused``) carries no matrix at all.

Members without the values a model needs (a survival time; for covariates sex female/male, an age;
for a GLM its outcome) are left out; how many is released as a count (``<k`` when small). With
differential privacy on, the node releases no statistics (score and information are not noised).

Every answer names the people behind its numbers (:attr:`StatisticsRelease.groups`): the rows of a
fit, each Kaplan–Meier group, the members left out. The engine passes them through the differencing
guard like a count's cohort, so two statistics requests whose cohorts differ by 1..k-1 people are
refused.

The design rows are read once per fit: :class:`~genofed.node._context.DesignCache` keeps them per
design query (cohort and covariates, not ``beta``) and catalog version, so the Newton iterations
after the first do not query the store again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genofed.api import (
    AgeCovariate,
    Covariate,
    CoxAnalysis,
    GeneStatusCovariate,
    GlmAnalysis,
    KaplanMeierAnalysis,
    KaplanMeierCounts,
    KaplanMeierGroupCounts,
    Outcome,
    PopulationAlleleFrequencyResult,
    ScoreInformation,
    SexCovariate,
    SummaryResult,
    WgsBenefitResult,
)
from genofed.errors import DisclosureError
from genofed.privacy import CellStatus, DisclosurePolicy, ReleasedCount, release_count
from genofed.query import CohortFilter, GeneStatusSplit, Split, TumourTypeSplit, design_plan
from genofed.stats import Family, Ties, cox_node_step, glm_node_step, km_node_counts

from ._context import NodeContext

__all__ = ["StatisticsAnalysis", "StatisticsRelease", "StatisticsResult", "design_columns", "statistics"]

StatisticsAnalysis = KaplanMeierAnalysis | CoxAnalysis | GlmAnalysis
#: What a statistics answer releases.
StatisticsResult = (
    KaplanMeierCounts | ScoreInformation | SummaryResult | PopulationAlleleFrequencyResult | WgsBenefitResult
)


@dataclass
class StatisticsRelease:
    """A statistics answer, what was applied and what the audit log records."""

    result: StatisticsResult
    applied: list[str]
    displays: dict[str, Any]
    groups: list[frozenset[str]] = field(default_factory=list)  # people behind numbers released with a value
    small_groups: list[frozenset[str]] = field(default_factory=list)  # ... and behind numbers shown as "<k"


def _covariate_split(covariate: Covariate) -> Split | None:
    if isinstance(covariate, GeneStatusCovariate):
        variant = CohortFilter(
            gene=covariate.gene, consequence=covariate.consequence, protein_change=covariate.protein_change
        )
        return GeneStatusSplit(variant)
    if isinstance(covariate, SexCovariate | AgeCovariate):
        return None
    return TumourTypeSplit((covariate.code,))


def design_columns(
    node: NodeContext, cohort: CohortFilter, splits: Sequence[Split] = (), biomarkers: Sequence[str] = ()
) -> tuple[dict[str, np.ndarray[Any, Any]], int]:
    """The members' columns as read-only arrays (object dtype; None for missing), and the member count.

    Served from the node's design cache when the same design query ran at the same catalog version.
    """
    plan = design_plan(cohort, splits=splits, biomarkers=biomarkers)
    sql = plan.sql("duckdb")

    def read() -> tuple[dict[str, np.ndarray[Any, Any]], int]:
        table = node.store.execute(sql, plan.params)
        columns = {}
        for name in table.column_names:
            column = np.asarray(table.column(name).to_pylist(), dtype=object)
            column.setflags(write=False)  # shared by later iterations: nobody may change it
            columns[name] = column
        return columns, table.num_rows

    key = (sql, tuple(plan.params))
    result: tuple[dict[str, np.ndarray[Any, Any]], int] = node.design_cache.get(
        node.catalog_version(), key, read
    )
    return result


def _people(columns: dict[str, np.ndarray[Any, Any]], rows: np.ndarray[Any, Any]) -> frozenset[str]:
    """The pseudonyms of the selected rows (a boolean mask)."""
    return frozenset(str(p) for p in columns["individual_id"][rows])


def _guarded(
    release: StatisticsRelease,
    columns: dict[str, np.ndarray[Any, Any]],
    shown: Sequence[tuple[ReleasedCount, np.ndarray[Any, Any]]],
) -> StatisticsRelease:
    """``release`` with the groups of people behind each released count (value or "<k") attached."""
    for count, rows in shown:
        people = _people(columns, rows)
        if not people:
            continue
        if count.value is not None:
            release.groups.append(people)
        elif count.status is CellStatus.SMALL:
            release.small_groups.append(people)
    release.groups = list(dict.fromkeys(release.groups))
    release.small_groups = list(dict.fromkeys(release.small_groups))
    return release


def _covariate_matrix(
    columns: dict[str, np.ndarray[Any, Any]], covariates: Sequence[Covariate], first_split: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The covariates as a float matrix, and which rows have every covariate."""
    n = len(columns["individual_id"])
    matrix = np.zeros((n, len(covariates)))
    usable = np.ones(n, dtype=bool)
    split = first_split
    for j, covariate in enumerate(covariates):
        if isinstance(covariate, SexCovariate):
            sex = columns["sex"]
            usable &= (sex == "female") | (sex == "male")
            matrix[:, j] = sex == "female"
        elif isinstance(covariate, AgeCovariate):
            age = columns["age_at_diagnosis"]
            present = np.array([a is not None for a in age], dtype=bool)
            usable &= present
            matrix[present, j] = age[present].astype(np.float64)
        else:
            # Label index 0 is "carrier" / the listed tumour type.
            matrix[:, j] = columns[f"s{split}"] == 0
            split += 1
    return matrix, usable


def _survival(columns: dict[str, np.ndarray[Any, Any]]) -> tuple[np.ndarray[Any, Any], ...]:
    time = columns["overall_survival_days"]
    present = np.array([t is not None for t in time], dtype=bool)
    days = np.zeros(len(time))
    days[present] = time[present].astype(np.float64)
    event = (columns["vital_status"] == "deceased").astype(np.float64)
    return days, event, present


def _left_out(count: int, policy: DisclosurePolicy, why: str, applied: list[str]) -> ReleasedCount:
    shown = release_count(count, policy)
    if count:
        applied.append(f"{shown.display} cohort member(s) left out: {why}")
    return shown


def _kaplan_meier(
    node: NodeContext, cohort: CohortFilter, analysis: KaplanMeierAnalysis, policy: DisclosurePolicy
) -> StatisticsRelease:
    from ._engine import _split  # the wire dimension's split, as cross-tabs use it

    split = _split(analysis.group) if analysis.group is not None else None
    columns, n = design_columns(node, cohort, [split] if split is not None else [])
    days, event, present = _survival(columns)
    labels = split.labels if split is not None else ("all",)
    group = [labels[int(i)] for i in columns["s0"][present]] if split is not None else None
    applied: list[str] = []
    left_out = _left_out(n - int(present.sum()), policy, "no overall survival time", applied)
    counts = km_node_counts(
        days[present],
        event[present],
        group,
        grid=analysis.grid,
        groups=labels,
        min_cell_count=policy.min_cell_count,
    )
    small = 0

    def released(values: np.ndarray[Any, Any]) -> tuple[ReleasedCount, ...]:
        nonlocal small
        shown = tuple(release_count(int(v), policy) for v in values)
        small += sum(s.status is CellStatus.SMALL for s in shown)
        return shown

    groups = tuple(
        KaplanMeierGroupCounts(
            group=label,
            events=released(counts.events[g]),
            at_risk=released(counts.at_risk[g]),
            censored=released(counts.censored[g]),
        )
        for g, label in enumerate(labels)
    )
    k = policy.min_cell_count
    if small:
        applied.append(f"{small} cell(s) between 1 and {k - 1} shown as <{k}")
    if policy.rounding_base > 1:
        applied.append(f"counts rounded to multiples of {policy.rounding_base}")
    displays = {
        "grid": list(analysis.grid),
        "groups": {
            g.group: {
                "events": [c.display for c in g.events],
                "at_risk": [c.display for c in g.at_risk],
                "censored": [c.display for c in g.censored],
            }
            for g in groups
        },
        "left_out": left_out.display,
    }
    result = KaplanMeierCounts(grid=analysis.grid, groups=groups, left_out=left_out)
    # Each group's members with a time (a group of 1..k-1 has already refused), and the left out.
    shown = [(left_out, ~present)]
    for g in range(len(labels)):
        rows = present & (columns["s0"] == g) if split is not None else present
        shown.append((ReleasedCount.exact(int(rows.sum())), rows))
    return _guarded(StatisticsRelease(result=result, applied=applied, displays=displays), columns, shown)


def _score_information(
    node: NodeContext, cohort: CohortFilter, analysis: CoxAnalysis | GlmAnalysis, policy: DisclosurePolicy
) -> StatisticsRelease:
    splits = [s for s in (_covariate_split(c) for c in analysis.covariates) if s is not None]
    columns, n = design_columns(node, cohort, splits)
    x, usable = _covariate_matrix(columns, analysis.covariates, 0)
    applied: list[str] = []
    limits, k = policy.statistics, policy.min_cell_count
    if isinstance(analysis, CoxAnalysis):
        days, event, present = _survival(columns)
        keep = usable & present
        left_out = _left_out(n - int(keep.sum()), policy, "no survival time or a missing covariate", applied)
        beta = np.asarray(analysis.beta if analysis.beta is not None else np.zeros(x.shape[1]))
        step = cox_node_step(
            x[keep], days[keep], event[keep], beta, ties=Ties(analysis.ties), limits=limits, min_cell_count=k
        )
        result = ScoreInformation(
            model="cox",
            beta=tuple(float(b) for b in beta),
            score=tuple(float(s) for s in step.score),
            information=tuple(tuple(float(v) for v in row) for row in step.information),
            n=step.n,
            events=step.events,
            log_likelihood=step.log_likelihood,
            left_out=left_out,
        )
    else:
        if analysis.outcome is Outcome.RESPONSE:
            raw = columns["responded"]
            present = np.array([r is not None for r in raw], dtype=bool)
            y = np.array([bool(r) for r in raw], dtype=np.float64)
        elif analysis.outcome is Outcome.DECEASED:
            status = columns["vital_status"]
            present = (status == "deceased") | (status == "alive")
            y = (status == "deceased").astype(np.float64)
        else:
            y, _, present = _survival(columns)
        offset = None
        if analysis.offset is not None:  # the only offset: log follow-up in years
            days, _, timed = _survival(columns)
            present = present & timed & (days > 0)
            offset = np.log(np.where(days > 0, days, 1.0) / 365.25)
        keep = usable & present
        left_out = _left_out(n - int(keep.sum()), policy, "no outcome or a missing covariate", applied)
        design = np.column_stack([np.ones(int(keep.sum())), x[keep]])
        beta = np.asarray(analysis.beta if analysis.beta is not None else np.zeros(design.shape[1]))
        glm = glm_node_step(
            design,
            y[keep],
            beta,
            family=Family(analysis.family.value),
            offset=None if offset is None else offset[keep],
            limits=limits,
            min_cell_count=k,
        )
        result = ScoreInformation(
            model="glm",
            beta=tuple(float(b) for b in beta),
            score=tuple(float(s) for s in glm.score),
            information=tuple(tuple(float(v) for v in row) for row in glm.information),
            n=glm.n,
            deviance=glm.deviance,
            log_likelihood=glm.log_likelihood,
            left_out=left_out,
        )
    applied.append(
        f"score and information released: {result.n} rows (at least {limits.min_rows}), "
        f"p/N at most {limits.max_parameters_per_row}, binary levels of at least {k}"
    )
    displays = {
        "model": result.model,
        "beta": list(result.beta),
        "score": list(result.score),
        "information": [list(r) for r in result.information],
        "n": result.n,
        "events": result.events,
        "deviance": result.deviance,
        "log_likelihood": result.log_likelihood,
        "left_out": left_out.display,
    }
    release = StatisticsRelease(result=result, applied=applied, displays=displays)
    return _guarded(release, columns, [(left_out, ~keep), (ReleasedCount.exact(result.n), keep)])


def statistics(
    node: NodeContext,
    cohort: CohortFilter,
    analysis: StatisticsAnalysis,
    policy: DisclosurePolicy,
    *,
    noise: bool,
) -> StatisticsRelease:
    """Compute a statistics analysis of the cohort and release it under ``policy``.

    Raises
    ------
    DisclosureError
        A disclosure rule refuses (nothing computed is returned), or differential privacy is on.
    QueryError
        The analysis cannot be computed as asked.
    """
    if noise:
        raise DisclosureError(
            f"{analysis.kind} analyses are not released by this node: its differential privacy "
            "covers counts only, and score vectors, information matrices and survival counts are not noised"
        )
    if isinstance(analysis, KaplanMeierAnalysis):
        return _kaplan_meier(node, cohort, analysis, policy)
    return _score_information(node, cohort, analysis, policy)
