"""Federated Cox proportional hazards, stratified by node: each node's risk sets stay at the node.

In a Cox model stratified by node, every risk set lies within one node, so the partial
log-likelihood is a sum of the nodes' own partial log-likelihoods, and so are its score and
information. A node computes these for the β the coordinator sends, over its own event times,
and releases only the ``p`` score, the ``p × p`` information, the log-likelihood and its counts: no
event time leaves the node. The coordinator's Newton–Raphson on the sums is the pooled stratified fit
(Cox 1972; stratification: Kalbfleisch & Prentice, *The Statistical Analysis of Failure Time Data*,
2nd ed., 2002, §4.4).

Tied event times follow Breslow (1974) or Efron (1977). At a distinct event time with ``d`` events
``D`` and risk set ``R``, with ``w_j = exp(x_jβ)``:

* Breslow: ``ℓ += Σ_D x_jβ − d · log Σ_R w_j``;
* Efron: ``ℓ += Σ_D x_jβ − Σ_{l=0}^{d−1} log(Σ_R w_j − (l/d) Σ_D w_j)``,

and the score and information are the first and (negated) second derivatives of the same terms.
The risk set at ``t`` is everyone with time ≥ t (censored at ``t`` are at risk, as usual).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from genofed.errors import QueryError
from genofed.privacy import StatisticsLimits

from ._arrays import FloatArray, as_indicator, as_matrix, as_vector, frozen
from ._disclosure import check_model_release
from ._newton import Evaluation, newton_maximise, wald_table

__all__ = ["CoxNodeStep", "CoxResult", "Ties", "cox_node_step", "fit_cox"]


class Ties(StrEnum):
    """How tied event times enter the partial likelihood."""

    BRESLOW = "breslow"
    EFRON = "efron"


@dataclass(frozen=True, slots=True)
class CoxNodeStep:
    """What one node releases for one β: its stratum's partial-likelihood sums and counts.

    Attributes
    ----------
    ties
        The tie handling the sums were computed with.
    score
        The gradient of the node's partial log-likelihood, shape ``(p,)``.
    information
        Minus its Hessian, shape ``(p, p)``.
    log_likelihood
        The node's partial log-likelihood at β.
    n
        The node's number of rows.
    events
        The node's number of events.
    """

    ties: Ties
    score: FloatArray
    information: FloatArray
    log_likelihood: float
    n: int
    events: int


@dataclass(frozen=True, slots=True)
class CoxResult:
    """A pooled node-stratified Cox fit: log hazard ratios, hazard ratios and Wald inference."""

    ties: Ties
    coefficients: FloatArray
    hazard_ratios: FloatArray
    standard_errors: FloatArray
    z_values: FloatArray
    p_values: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    hazard_ratio_ci_lower: FloatArray
    hazard_ratio_ci_upper: FloatArray
    covariance: FloatArray
    confidence: float
    log_likelihood: float
    n: int
    events: int
    iterations: int
    converged: bool
    message: str


def _reverse_cumsum(values: FloatArray) -> FloatArray:
    """Suffix sums along the first axis, with a trailing zero: ``out[i] = Σ_{j ≥ i} values[j]``."""
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]))
    out[:-1] = np.cumsum(values[::-1], axis=0)[::-1]
    return out


def _partial_likelihood(
    x: FloatArray, time: FloatArray, event: FloatArray, beta: FloatArray, ties: Ties
) -> tuple[FloatArray, FloatArray, float]:
    """Score, information and partial log-likelihood of one stratum at β."""
    p = x.shape[1]
    score = np.zeros(p)
    information = np.zeros((p, p))
    is_event = event == 1
    if not np.any(is_event):
        return score, information, 0.0
    # Centring x and shifting η by a constant leave every term unchanged (each cancels between the
    # events' x_jβ and the log risk sums) but keep exp() finite and S2/S0 − aaᵀ free of cancellation.
    xc = x - x.mean(axis=0)
    eta = xc @ beta
    with np.errstate(over="ignore", invalid="ignore"):
        eta = eta - eta.max()
        weight = np.exp(eta)
    order = np.argsort(time, kind="stable")
    sorted_time = time[order]
    xs, ws = xc[order], weight[order]
    outer = xs[:, :, None] * xs[:, None, :]
    risk0 = _reverse_cumsum(ws)
    risk1 = _reverse_cumsum(ws[:, None] * xs)
    risk2 = _reverse_cumsum(ws[:, None, None] * outer)

    event_times = np.unique(time[is_event])
    first = np.searchsorted(sorted_time, event_times, side="left")  # risk set: time ≥ t
    s0, s1, s2 = risk0[first], risk1[first], risk2[first]
    which = np.searchsorted(event_times, time[is_event])
    k = event_times.shape[0]
    d = np.bincount(which, minlength=k).astype(np.float64)
    xe, we = xc[is_event], weight[is_event]
    d0 = np.bincount(which, weights=we, minlength=k)
    d1 = np.zeros((k, p))
    np.add.at(d1, which, we[:, None] * xe)
    d2 = np.zeros((k, p, p))
    np.add.at(d2, which, we[:, None, None] * (xe[:, :, None] * xe[:, None, :]))

    log_likelihood = float(eta[is_event].sum())
    score += xe.sum(axis=0)
    if ties is Ties.BRESLOW:
        a = s1 / s0[:, None]
        log_likelihood -= float(np.sum(d * np.log(s0)))
        score -= np.sum(d[:, None] * a, axis=0)
        information += np.sum(
            d[:, None, None] * (s2 / s0[:, None, None] - a[:, :, None] * a[:, None, :]), axis=0
        )
    else:
        for tied in range(int(d.max())):
            rows = d > tied
            fraction = tied / d[rows]
            phi0 = s0[rows] - fraction * d0[rows]
            phi1 = s1[rows] - fraction[:, None] * d1[rows]
            phi2 = s2[rows] - fraction[:, None, None] * d2[rows]
            a = phi1 / phi0[:, None]
            log_likelihood -= float(np.sum(np.log(phi0)))
            score -= a.sum(axis=0)
            information += np.sum(phi2 / phi0[:, None, None] - a[:, :, None] * a[:, None, :], axis=0)
    return score, information, log_likelihood


def cox_node_step(
    x: npt.ArrayLike,
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    beta: npt.ArrayLike,
    *,
    ties: Ties = Ties.EFRON,
    limits: StatisticsLimits,
    min_cell_count: int,
) -> CoxNodeStep:
    """One node's stratum of a node-stratified Cox model: partial-likelihood score and information at β.

    The disclosure rules of :func:`check_model_release` (rows, parameters per row, levels of binary
    covariates and of the event indicator) are checked first; a refusal raises before anything is
    computed. Event times never leave the node: only sums over its risk sets do.

    Parameters
    ----------
    x
        Covariates ``(N, p)``, without an intercept (the baseline hazard absorbs it).
    time
        Follow-up time of each row ``(N,)``.
    event
        1 where the row's time is an event, 0 where it is censored ``(N,)``.
    beta
        The log hazard ratios ``(p,)`` the coordinator sent.
    ties
        Breslow or Efron handling of tied event times.
    limits
        The node's model-fitting limits.
    min_cell_count
        The node's minimum cell count, for binary covariates and for events / censored rows.

    Returns
    -------
    CoxNodeStep
        The sums and counts; nothing row-level.

    Raises
    ------
    genofed.errors.DisclosureError
        When a disclosure rule refuses (before anything is computed).
    genofed.errors.QueryError
        When the arrays do not fit together.

    References
    ----------
    Cox, D. R. (1972). Regression models and life-tables. *J. R. Stat. Soc. B* 34(2), 187–220.
    Breslow, N. (1974). Covariance analysis of censored survival data. *Biometrics* 30(1), 89–99.
    Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. *JASA* 72, 557–565.

    Examples
    --------
    >>> import numpy as np
    >>> from genofed.privacy import StatisticsLimits
    >>> rng = np.random.default_rng(1)
    >>> step = cox_node_step(rng.normal(size=(30, 1)), rng.exponential(size=30), np.r_[[1] * 20, [0] * 10],
    ...                      [0.0], limits=StatisticsLimits(), min_cell_count=5)
    >>> step.n, step.events, step.information.shape
    (30, 20, (1, 1))
    """
    ties = Ties(ties)
    x = as_matrix(x, "the covariates X")
    n, p = x.shape
    times = as_vector(time, "time", length=n)
    events = as_indicator(event, "the event indicator", length=n)
    coefficients = as_vector(beta, "beta", length=p)
    check_model_release(
        x,
        outcome=events,
        outcome_name="event indicator",
        cross_cells=False,
        limits=limits,
        min_cell_count=min_cell_count,
    )
    score, information, log_likelihood = _partial_likelihood(x, times, events, coefficients, ties)
    return CoxNodeStep(
        ties=ties,
        score=frozen(score),
        information=frozen(information),
        log_likelihood=log_likelihood,
        n=n,
        events=int(events.sum()),
    )


def _summed(steps: Sequence[CoxNodeStep], p: int, ties: Ties) -> tuple[Evaluation, int, int]:
    if not steps:
        raise QueryError("a federated Cox model needs at least one node's step, got none")
    for index, step in enumerate(steps):
        if step.ties is not ties:
            raise QueryError(f"node step {index} used {step.ties} ties, not {ties}")
        if step.score.shape != (p,) or step.information.shape != (p, p):
            raise QueryError(
                f"node step {index} has {step.score.shape[0]} parameters where {p} were expected"
            )
    evaluation = Evaluation(
        log_likelihood=float(sum(s.log_likelihood for s in steps)),
        score=np.sum([s.score for s in steps], axis=0),
        information=np.sum([s.information for s in steps], axis=0),
    )
    return evaluation, sum(s.n for s in steps), sum(s.events for s in steps)


def fit_cox(
    node_steps: Callable[[FloatArray], Sequence[CoxNodeStep]],
    p: int,
    *,
    ties: Ties = Ties.EFRON,
    start: npt.ArrayLike | None = None,
    tol: float = 1e-10,
    max_iter: int = 50,
    confidence: float = 0.95,
) -> CoxResult:
    """Fit a Cox model stratified by node, by Newton–Raphson with step halving on the summed pieces.

    Parameters
    ----------
    node_steps
        Sends β to every node and returns their :class:`CoxNodeStep` answers (one round trip).
    p
        The number of covariates.
    ties
        The tie handling every node must use.
    start
        Starting log hazard ratios (default zeros).
    tol
        Convergence when every Newton step is below ``tol · (1 + |β_j|)``.
    max_iter
        Most Newton steps; without convergence the result says so (``converged=False``).
    confidence
        Level of the Wald intervals (for β, and exponentiated for the hazard ratios).

    Returns
    -------
    CoxResult
        Log hazard ratios, hazard ratios with intervals, Wald standard errors (from the inverse
        summed information), z and p-values, the pooled partial log-likelihood and counts.

    References
    ----------
    Kalbfleisch, J. D. & Prentice, R. L. (2002). *The Statistical Analysis of Failure Time Data*,
    2nd ed., §4.4 (stratified Cox model).
    Lu, C.-L. et al. (2015). WebDISCO: a web service for distributed Cox model learning without
    patient-level data sharing. *JAMIA* 22(6), 1212–1219.
    """
    ties = Ties(ties)
    if p < 1:
        raise ValueError(f"a Cox model needs at least one covariate, got p={p}")
    counts: dict[bytes, tuple[int, int]] = {}

    def evaluate(beta: FloatArray) -> Evaluation:
        evaluation, n, events = _summed(node_steps(beta.copy()), p, ties)
        counts[beta.tobytes()] = (n, events)
        return evaluation

    begin = np.zeros(p) if start is None else as_vector(start, "start", length=p)
    outcome = newton_maximise(evaluate, begin, tol=tol, max_iter=max_iter)
    n, events = counts[outcome.beta.tobytes()]
    table = wald_table(outcome.beta, outcome.evaluation.information, scale=1.0, confidence=confidence)
    return CoxResult(
        ties=ties,
        coefficients=frozen(outcome.beta),
        hazard_ratios=frozen(np.exp(outcome.beta)),
        standard_errors=table.standard_errors,
        z_values=table.z_values,
        p_values=table.p_values,
        ci_lower=table.ci_lower,
        ci_upper=table.ci_upper,
        hazard_ratio_ci_lower=frozen(np.exp(table.ci_lower)),
        hazard_ratio_ci_upper=frozen(np.exp(table.ci_upper)),
        covariance=table.covariance,
        confidence=confidence,
        log_likelihood=outcome.evaluation.log_likelihood,
        n=n,
        events=events,
        iterations=outcome.iterations,
        converged=outcome.converged,
        message=outcome.message,
    )
