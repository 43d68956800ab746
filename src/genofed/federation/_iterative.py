"""The coordinator side of the exact federated statistics: Kaplan–Meier, log-rank, Cox and GLM fits.

**Kaplan–Meier** is one round: each node releases its events, numbers at risk and censored counts per
group on the study's public grid, every cell under its own policy (a count of 1..k-1 shows as ``<k``).
The pooled curve is formed with :func:`genofed.stats.combine_km` over the grid points up to the first
one where some node's events or number at risk are not exact (survival is a product over earlier
points, so nothing after it is exact either); later points are withheld, as are points with fewer
than ``min_at_risk`` pooled at risk. The log-rank test (:func:`genofed.stats.logrank_test`) uses the
same exact prefix of the grid: it is the log-rank test with follow-up censored at that time.

**Summaries** are one round too: the nodes' per-group ``n``, means and sums of squared deviations
are pooled exactly (:mod:`genofed.federation._combine_summary`).

**Cox and GLM** are iterative: :func:`genofed.stats.fit_cox` / :func:`genofed.stats.fit_glm` run
Newton–Raphson; each step sends the current ``beta`` to every node (the federation's fan-out, run on
its event loop while the fit itself runs in a worker thread) and sums their score and information.
A fit must use the same nodes in every iteration, so when a node refuses or fails in any iteration
the fit restarts from zeros without it; the answer names the excluded nodes (``missing``, and
``CombinedModelFit.excluded``) and the fit covers the others only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np

from genofed.api import (
    AnalysisRequest,
    CoxAnalysis,
    GlmAnalysis,
    KaplanMeierAnalysis,
    KaplanMeierCounts,
    ScoreInformation,
    SummaryAnalysis,
)
from genofed.errors import GenofedError
from genofed.privacy import CellStatus
from genofed.stats import (
    CoxNodeStep,
    CoxResult,
    Family,
    GlmNodeStep,
    GlmResult,
    KmNodeCounts,
    Ties,
    combine_km,
    fit_cox,
    fit_glm,
    logrank_test,
)

from ._answer import (
    Coefficient,
    CombinedKaplanMeier,
    CombinedModelFit,
    CombinedSummary,
    FederatedAnswer,
    KaplanMeierCurve,
    KaplanMeierPoint,
    NodeOutcome,
    OutcomeStatus,
)
from ._client import FanOut
from ._combine import disclosure_effects
from ._combine_summary import CONFIDENCE, combine_summary
from ._registry import NodeEntry

__all__ = ["STATISTICS_KINDS", "ask_statistics", "combine_kaplan_meier", "describe_statistics"]

#: Analysis kinds this module answers.
STATISTICS_KINDS = frozenset({"kaplan_meier", "cox", "glm", "summary"})


def describe_statistics(analysis: KaplanMeierAnalysis | CoxAnalysis | GlmAnalysis | SummaryAnalysis) -> str:
    """A one-line description of a statistics analysis, for tables and reports."""
    if isinstance(analysis, SummaryAnalysis):
        names = ", ".join(v.label for v in analysis.variables)
        by = f" by {' × '.join(d.kind for d in analysis.by)}" if analysis.by else ""
        return f"mean, SD and {CONFIDENCE:.0%} CI of {names}{by}"
    if isinstance(analysis, KaplanMeierAnalysis):
        by = f" by {analysis.group.kind}" if analysis.group is not None else ""
        if analysis.group is not None and getattr(analysis.group, "gene", None):
            by = f" by {analysis.group.gene} status"  # type: ignore[union-attr]
        return f"Kaplan–Meier overall survival{by} ({len(analysis.grid)} grid points, days)"
    names = ", ".join(c.name for c in analysis.covariates) or "intercept only"
    if isinstance(analysis, CoxAnalysis):
        return f"Cox model of overall survival, stratified by node ({analysis.ties} ties): {names}"
    return f"{analysis.family.value} GLM of {analysis.outcome.value}: {names}"


def _failed(outcome: NodeOutcome, reason: str) -> NodeOutcome:
    return outcome.model_copy(
        update={"status": OutcomeStatus.FAILED, "reason": f"answer not combinable: {reason}"}
    )


def _hidden(time: float) -> KaplanMeierPoint:
    return KaplanMeierPoint(time=time, survival=None, ci_lower=None, ci_upper=None, at_risk=None, events=None)


def _bounds(counts: Sequence[Any]) -> tuple[int, float]:
    """The pooled interval of released counts (an unbounded part makes the upper bound infinite)."""
    upper = [c.upper for c in counts]
    return sum(c.lower for c in counts), (float("inf") if None in upper else float(sum(upper)))


def _factor_low(d_hi: float, n_lo: int, d_lo: int) -> float:
    """Smallest 1 − d/n with d ≤ n, d in [d_lo, d_hi], n ≥ n_lo (n = 0 means no one at risk: 1)."""
    if n_lo == 0 and d_lo == 0 and d_hi == 0:
        return 1.0
    n = max(n_lo, 1)
    return max(0.0, 1.0 - min(d_hi, n) / n)


def _factor_high(d_lo: int, n_hi: float) -> float:
    """Largest 1 − d/n: the fewest events over the most at risk."""
    return 1.0 if n_hi == 0 or d_lo == 0 else 1.0 - d_lo / n_hi


def _value(count: Any) -> int:
    return int(count.value)


def combine_kaplan_meier(
    analysis: KaplanMeierAnalysis, outcomes: Sequence[NodeOutcome]
) -> tuple[CombinedKaplanMeier | None, tuple[NodeOutcome, ...]]:
    """Pool the answered nodes' Kaplan–Meier counts into curves and the log-rank test.

    Returns the combination (None when no node's counts could be used) and the outcomes, where an
    answer on another grid or other groups than the first has become a failure.
    """
    final = list(outcomes)
    kept: list[KaplanMeierCounts] = []
    reference: KaplanMeierCounts | None = None
    for n, outcome in enumerate(outcomes):
        if outcome.response is None or outcome.status is not OutcomeStatus.ANSWERED:
            continue
        result = outcome.response.result
        assert isinstance(result, KaplanMeierCounts)
        labels = tuple(g.group for g in result.groups)
        if result.grid != analysis.grid or any(len(g.events) != len(result.grid) for g in result.groups):
            final[n] = _failed(outcome, "its counts are not on the study's grid")
            continue
        if reference is not None and labels != tuple(g.group for g in reference.groups):
            final[n] = _failed(outcome, f"its groups {list(labels)} differ from the first node's")
            continue
        reference = reference or result
        kept.append(result)
    if reference is None:
        return None, tuple(final)
    grid, labels = analysis.grid, tuple(g.group for g in reference.groups)

    def exact(k: int) -> bool:
        return all(
            c.status is CellStatus.EXACT for r in kept for g in r.groups for c in (g.events[k], g.at_risk[k])
        )

    prefix = 0
    while prefix < len(grid) and exact(prefix):
        prefix += 1
    notes: list[str] = []
    if prefix < len(grid):
        notes.append(
            f"from day {grid[prefix]:g} on some node's count is <k or rounded: survival is given as "
            "guaranteed bounds, not an estimate"
        )
    curves: list[KaplanMeierCurve] = []
    statistic: dict[str, Any] = {}
    confidence = 0.95
    exact_curves: dict[str, Any] = {}
    counts: list[KmNodeCounts] = []
    if prefix:
        counts = [
            KmNodeCounts(
                grid=grid[:prefix],
                groups=labels,
                events=np.array([[_value(c) for c in g.events[:prefix]] for g in r.groups], dtype=np.int64),
                at_risk=np.array([[_value(c) for c in g.at_risk[:prefix]] for g in r.groups], dtype=np.int64),
                censored=np.zeros((len(labels), prefix), dtype=np.int64),
            )
            for r in kept
        ]
        km = combine_km(counts, min_at_risk=analysis.min_at_risk)
        confidence = km.confidence
        exact_curves = {c.group: c for c in km.curves}
    hidden = 0
    for g, label in enumerate(labels):
        points = []
        low = high = 1.0
        for k, time in enumerate(grid):
            d_lo, d_hi = _bounds([r.groups[g].events[k] for r in kept])
            n_lo, n_hi = _bounds([r.groups[g].at_risk[k] for r in kept])
            low *= _factor_low(d_hi, n_lo, d_lo)
            high *= _factor_high(d_lo, n_hi)
            if n_lo < analysis.min_at_risk:
                hidden += 1
                points.append(_hidden(time))
            elif k < prefix:
                curve = exact_curves[label]
                value = float(curve.survival[k])
                points.append(
                    KaplanMeierPoint(
                        time=time,
                        survival=value,
                        ci_lower=float(curve.ci_lower[k]),
                        ci_upper=float(curve.ci_upper[k]),
                        at_risk=int(curve.at_risk[k]),
                        events=int(curve.events[k]),
                        lower_bound=value,
                        upper_bound=value,
                    )
                )
            else:
                points.append(_hidden(time).model_copy(update={"lower_bound": low, "upper_bound": high}))
        curves.append(KaplanMeierCurve(group=label, points=tuple(points)))
    if hidden:
        notes.append(f"{hidden} point(s) withheld: fewer than {analysis.min_at_risk} at risk in all")
    if prefix and len(labels) > 1 and not any(np.any(c.events) for c in counts):
        notes.append("no log-rank test: no events in the part of the grid where every count is exact")
    elif prefix and len(labels) > 1:
        test = logrank_test(counts)
        statistic = {
            "logrank_statistic": test.statistic,
            "logrank_df": test.df,
            "logrank_p_value": test.p_value,
            "observed": tuple(float(v) for v in test.observed),
            "expected": tuple(float(v) for v in test.expected),
        }
        if prefix < len(grid):
            notes.append(f"log-rank test over follow-up up to day {grid[prefix - 1]:g} (the exact part)")
    combined = CombinedKaplanMeier(
        grid=grid,
        curves=tuple(curves),
        confidence=confidence,
        min_at_risk=analysis.min_at_risk,
        exact_until=grid[prefix - 1] if prefix else None,
        notes=tuple(notes),
        **statistic,
    )
    return combined, tuple(final)


class _RestartError(Exception):
    """A node refused or failed in an iteration: the fit restarts without it."""


def _coefficients(result: CoxResult | GlmResult, names: Sequence[str]) -> tuple[Coefficient, ...]:
    rows = []
    for j, name in enumerate(names):
        extra: dict[str, float] = {}
        if isinstance(result, CoxResult):
            extra = {
                "hazard_ratio": float(result.hazard_ratios[j]),
                "hazard_ratio_ci_lower": float(result.hazard_ratio_ci_lower[j]),
                "hazard_ratio_ci_upper": float(result.hazard_ratio_ci_upper[j]),
            }
        rows.append(
            Coefficient(
                name=name,
                estimate=float(result.coefficients[j]),
                standard_error=float(result.standard_errors[j]),
                z=float(result.z_values[j]),
                p_value=float(result.p_values[j]),
                ci_lower=float(result.ci_lower[j]),
                ci_upper=float(result.ci_upper[j]),
                **extra,
            )
        )
    return tuple(rows)


def _step(result: ScoreInformation, analysis: CoxAnalysis | GlmAnalysis) -> CoxNodeStep | GlmNodeStep:
    score = np.asarray(result.score, dtype=np.float64)
    information = np.asarray(result.information, dtype=np.float64)
    if isinstance(analysis, CoxAnalysis):
        return CoxNodeStep(
            ties=Ties(analysis.ties),
            score=score,
            information=information,
            log_likelihood=result.log_likelihood,
            n=result.n,
            events=result.events or 0,
        )
    return GlmNodeStep(
        family=Family(analysis.family.value),
        score=score,
        information=information,
        n=result.n,
        deviance=result.deviance or 0.0,
        log_likelihood=result.log_likelihood,
    )


async def _fit(
    fanout: FanOut,
    request: AnalysisRequest,
    analysis: CoxAnalysis | GlmAnalysis,
    targets: Sequence[NodeEntry],
) -> FederatedAnswer:
    loop = asyncio.get_running_loop()
    active = list(targets)
    excluded: dict[str, NodeOutcome] = {}
    p = len(analysis.names)
    while True:
        last: list[tuple[NodeOutcome, ...]] = []

        def node_steps(beta: Any, active: list[NodeEntry] = active, last: list[Any] = last) -> list[Any]:
            sent = analysis.model_copy(update={"beta": tuple(float(b) for b in beta)})
            ask = request.model_copy(update={"analysis": sent})
            outcomes = asyncio.run_coroutine_threadsafe(fanout.ask(ask, active), loop).result()
            last[:] = [outcomes]
            steps = []
            for outcome in outcomes:
                result = outcome.response.result if outcome.response is not None else None
                if outcome.status is not OutcomeStatus.ANSWERED or not isinstance(result, ScoreInformation):
                    excluded[outcome.node] = outcome
                    continue
                if len(result.score) != p or result.beta != sent.beta:
                    excluded[outcome.node] = _failed(outcome, "its score is not for the beta sent")
                    continue
                steps.append(_step(result, analysis))
            if any(o.node in excluded for o in outcomes):
                raise _RestartError
            return steps

        fit: CoxResult | GlmResult | None = None
        message = ""
        if active:
            try:
                if isinstance(analysis, CoxAnalysis):
                    fit = await asyncio.to_thread(fit_cox, node_steps, p, ties=Ties(analysis.ties))
                else:
                    fit = await asyncio.to_thread(
                        fit_glm, node_steps, p, family=Family(analysis.family.value)
                    )
            except _RestartError:
                active = [t for t in active if t.id not in excluded]
                continue
            except (GenofedError, ValueError, np.linalg.LinAlgError) as exc:
                message = f"the fit failed: {exc}"
        break
    outcomes = [*(last[0] if last else ()), *excluded.values()]
    order = {t.id: n for n, t in enumerate(targets)}
    outcomes.sort(key=lambda o: order.get(o.node, len(order)))
    combined: CombinedModelFit | None = None
    if fit is not None:
        combined = CombinedModelFit(
            kind=analysis.kind,
            family=analysis.family.value if isinstance(analysis, GlmAnalysis) else None,
            ties=analysis.ties if isinstance(analysis, CoxAnalysis) else None,
            coefficients=_coefficients(fit, analysis.names),
            confidence=fit.confidence,
            n=fit.n,
            events=fit.events if isinstance(fit, CoxResult) else None,
            log_likelihood=fit.log_likelihood,
            deviance=fit.deviance if isinstance(fit, GlmResult) else None,
            scale=fit.scale if isinstance(fit, GlmResult) else None,
            iterations=fit.iterations,
            converged=fit.converged,
            message=fit.message,
            nodes=tuple(t.id for t in active),
            excluded=tuple(excluded),
        )
    effects = list(disclosure_effects(outcomes))
    if excluded:
        effects.append(f"the fit excludes {', '.join(excluded)}: they refused or failed in an iteration")
    if message:
        effects.append(message)
    return FederatedAnswer(
        request=request,
        outcomes=tuple(outcomes),
        combined=combined,
        missing=tuple(
            o.node for o in outcomes if o.status is not OutcomeStatus.ANSWERED or o.node in excluded
        ),
        disclosure_effects=tuple(dict.fromkeys(effects)),
    )


async def ask_statistics(
    fanout: FanOut, request: AnalysisRequest, targets: Sequence[NodeEntry]
) -> FederatedAnswer:
    """Answer a Kaplan–Meier, Cox, GLM or summary request across ``targets`` (see the module docs)."""
    analysis = request.analysis
    if isinstance(analysis, CoxAnalysis | GlmAnalysis):
        return await _fit(fanout, request, analysis, targets)
    outcomes = await fanout.ask(request, targets)
    combined: CombinedKaplanMeier | CombinedSummary | None
    if isinstance(analysis, SummaryAnalysis):
        combined, final = combine_summary(analysis, outcomes)
    else:
        assert isinstance(analysis, KaplanMeierAnalysis)
        combined, final = combine_kaplan_meier(analysis, outcomes)
    return FederatedAnswer(
        request=request,
        outcomes=final,
        combined=combined,
        missing=tuple(o.node for o in final if o.status is not OutcomeStatus.ANSWERED),
        disclosure_effects=disclosure_effects(final),
    )
