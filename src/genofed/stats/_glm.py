"""Federated generalised linear models: the node's score and information, the coordinator's Newton.

A GLM with a canonical link (gaussian/identity, binomial/logit, poisson/log) has log-likelihood
``ℓ(β) = Σ_i [y_i η_i − b(η_i)] / φ + c(y_i, φ)`` with ``η = Xβ + offset``. Its score ``Xᵀ(y − μ)`` and
(expected = observed) information ``Xᵀ diag(b''(η)) X`` are sums over rows, so each node sends only
these ``p`` and ``p × p`` sums (with ``N`` and its deviance) for the β the coordinator sends, and the
coordinator's Newton–Raphson on the summed pieces is Fisher scoring / IRLS on the pooled data
(McCullagh & Nelder, *Generalized Linear Models*, 2nd ed., 1989, §2.5). The result equals the pooled fit.

The gaussian dispersion is estimated as statsmodels' ``GLM`` does, by the Pearson statistic over the
residual degrees of freedom, ``φ̂ = Σ(y − μ̂)² / (N − p)``, from the summed residual sums of squares at
the final β; the binomial and poisson dispersions are 1. Wald standard errors are
``sqrt(diag(φ̂ · I(β̂)⁻¹))`` with normal-theory z, p-values and intervals.
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

__all__ = ["Family", "GlmNodeStep", "GlmResult", "fit_glm", "glm_node_step", "glm_update"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class Family(StrEnum):
    """A GLM family, each with its canonical link."""

    GAUSSIAN = "gaussian"  # identity link
    BINOMIAL = "binomial"  # logit link; binary 0/1 outcome
    POISSON = "poisson"  # log link; counts, with an offset for log exposure


@dataclass(frozen=True, slots=True)
class GlmNodeStep:
    """What one node releases for one β: sums over its rows, nothing row-level.

    Attributes
    ----------
    family
        The family the sums were computed for.
    score
        ``Xᵀ(y − μ)``, shape ``(p,)`` (the score with dispersion 1).
    information
        ``Xᵀ W X`` with ``W = b''(η)``, shape ``(p, p)`` (with dispersion 1).
    n
        The node's number of rows.
    deviance
        The node's deviance at β (for gaussian: the residual sum of squares).
    log_likelihood
        The node's log-likelihood at β with dispersion 1.
    """

    family: Family
    score: FloatArray
    information: FloatArray
    n: int
    deviance: float
    log_likelihood: float


@dataclass(frozen=True, slots=True)
class GlmResult:
    """A pooled GLM fit from the nodes' summed score and information.

    ``covariance`` is ``scale · I(β̂)⁻¹``; intervals are Wald intervals at ``confidence``;
    ``log_likelihood`` is the pooled one at ``β̂`` (for gaussian, profiled over the dispersion as
    statsmodels reports it: ``−N/2 · (log(2π · RSS/N) + 1)``).
    """

    family: Family
    coefficients: FloatArray
    standard_errors: FloatArray
    z_values: FloatArray
    p_values: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    covariance: FloatArray
    confidence: float
    scale: float
    deviance: float
    log_likelihood: float
    n: int
    df_residual: int
    iterations: int
    converged: bool
    message: str


def _node_sums(
    x: FloatArray, y: FloatArray, beta: FloatArray, offset: FloatArray, family: Family
) -> tuple[FloatArray, FloatArray, float, float]:
    """Score, information, deviance and log-likelihood (dispersion 1) of one node's rows at β."""
    eta = x @ beta + offset
    # Wild trial steps of the coordinator's step halving may overflow exp(); the result is then
    # infinite or NaN, the coordinator rejects that step, and nothing here should warn.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if family is Family.GAUSSIAN:
            mu = eta
            weight = np.ones_like(eta)
            residual_ss = float(np.sum((y - mu) ** 2))
            deviance = residual_ss
            log_likelihood = -0.5 * residual_ss - 0.5 * y.shape[0] * _LOG_2PI
        elif family is Family.BINOMIAL:
            # log μ = −log(1 + e^−η) and log(1 − μ) = −log(1 + e^η), computed without overflow.
            log_mu = -np.logaddexp(0.0, -eta)
            log_1m_mu = -np.logaddexp(0.0, eta)
            mu = np.exp(log_mu)
            weight = np.exp(log_mu + log_1m_mu)
            log_likelihood = float(np.sum(y * log_mu + (1.0 - y) * log_1m_mu))
            deviance = -2.0 * log_likelihood  # the saturated binary model has likelihood 1
        else:
            from scipy.special import gammaln, xlogy

            mu = np.exp(eta)
            weight = mu
            log_likelihood = float(np.sum(y * eta - mu - gammaln(y + 1.0)))
            deviance = float(2.0 * np.sum(xlogy(y, y) - y * eta - (y - mu)))
        score = x.T @ (y - mu)
        information = (x * weight[:, None]).T @ x
    return score, information, float(deviance), float(log_likelihood)


def glm_node_step(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    beta: npt.ArrayLike,
    *,
    family: Family,
    offset: npt.ArrayLike | None = None,
    limits: StatisticsLimits,
    min_cell_count: int,
) -> GlmNodeStep:
    """One node's contribution to a federated GLM iteration: score, information, N and deviance at β.

    The disclosure rules of :func:`check_model_release` are checked first, on the rows alone; a
    refusal raises before any sum is formed, so a refused node releases no matrix at all.

    Parameters
    ----------
    x
        The node's design matrix ``(N, p)``, with the intercept column if the model has one.
    y
        The outcome ``(N,)``: real for gaussian, 0/1 for binomial, non-negative integers for poisson.
    beta
        The coefficients ``(p,)`` the coordinator sent.
    family
        The GLM family (canonical link).
    offset
        A known term added to the linear predictor, e.g. log exposure time for poisson rates.
    limits
        The node's model-fitting limits (minimum rows, parameters per row).
    min_cell_count
        The node's minimum cell count, for binary covariates and a binary outcome.

    Returns
    -------
    GlmNodeStep
        The sums; nothing row-level.

    Raises
    ------
    genofed.errors.DisclosureError
        When a disclosure rule refuses (before anything is computed).
    genofed.errors.QueryError
        When the arrays do not fit together or ``y`` lies outside the family's support.

    References
    ----------
    McCullagh, P. & Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed., §2.5 (Fisher scoring).
    Karr, A. F. et al. (2005). Secure regression on distributed databases. *J. Comput. Graph. Stat.* 14(2).

    Examples
    --------
    >>> import numpy as np
    >>> from genofed.privacy import StatisticsLimits
    >>> x = np.column_stack([np.ones(20), np.arange(20.0)])
    >>> step = glm_node_step(x, 2.0 + 0.5 * np.arange(20.0), [0.0, 0.0], family=Family.GAUSSIAN,
    ...                      limits=StatisticsLimits(), min_cell_count=5)
    >>> step.n, step.information.tolist(), step.score.tolist()
    (20, [[20.0, 190.0], [190.0, 2470.0]], [135.0, 1615.0])
    """
    family = Family(family)
    x = as_matrix(x, "the design matrix X")
    n, p = x.shape
    response = (
        as_indicator(y, "the binomial outcome y", length=n)
        if family is Family.BINOMIAL
        else as_vector(y, "the outcome y", length=n)
    )
    if family is Family.POISSON and not np.all((response >= 0) & (response == np.round(response))):
        raise QueryError("the poisson outcome y must be a non-negative integer count in every row")
    coefficients = as_vector(beta, "beta", length=p)
    shift = np.zeros(n) if offset is None else as_vector(offset, "the offset", length=n)
    check_model_release(
        x,
        outcome=response if family is Family.BINOMIAL else None,
        limits=limits,
        min_cell_count=min_cell_count,
    )
    score, information, deviance, log_likelihood = _node_sums(x, response, coefficients, shift, family)
    return GlmNodeStep(
        family=family,
        score=frozen(score),
        information=frozen(information),
        n=n,
        deviance=deviance,
        log_likelihood=log_likelihood,
    )


def _summed(
    steps: Sequence[GlmNodeStep], p: int, family: Family | None = None
) -> tuple[Evaluation, int, float]:
    """The pooled evaluation, N and deviance; refuses steps of another family or dimension."""
    if not steps:
        raise QueryError("a federated GLM needs at least one node's step, got none")
    for index, step in enumerate(steps):
        if family is not None and step.family is not family:
            raise QueryError(f"node step {index} is for the {step.family} family, not {family}")
        if step.score.shape != (p,) or step.information.shape != (p, p):
            raise QueryError(
                f"node step {index} has {step.score.shape[0]} parameters where {p} were expected"
            )
    evaluation = Evaluation(
        log_likelihood=float(sum(s.log_likelihood for s in steps)),
        score=np.sum([s.score for s in steps], axis=0),
        information=np.sum([s.information for s in steps], axis=0),
    )
    return evaluation, sum(s.n for s in steps), float(sum(s.deviance for s in steps))


def glm_update(beta: npt.ArrayLike, steps: Sequence[GlmNodeStep]) -> FloatArray:
    """One Newton–Raphson (Fisher scoring) update from the nodes' steps at β: ``β + I⁻¹U``, summed.

    Parameters
    ----------
    beta
        The coefficients the steps were computed at.
    steps
        One :class:`GlmNodeStep` per node, all at ``beta``.

    Returns
    -------
    numpy.ndarray
        The updated coefficients.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the summed information is singular.

    Examples
    --------
    >>> import numpy as np
    >>> from genofed.privacy import StatisticsLimits
    >>> x = np.column_stack([np.ones(40), np.arange(40.0)])
    >>> y = 2.0 + 0.5 * np.arange(40.0)
    >>> steps = [glm_node_step(x[i::2], y[i::2], [0.0, 0.0], family=Family.GAUSSIAN,
    ...                        limits=StatisticsLimits(), min_cell_count=5) for i in (0, 1)]
    >>> glm_update([0.0, 0.0], steps).round(6)
    array([2. , 0.5])
    """
    current = as_vector(beta, "beta")
    evaluation, _, _ = _summed(steps, current.shape[0])
    return current + np.linalg.solve(evaluation.information, evaluation.score)


def fit_glm(
    node_steps: Callable[[FloatArray], Sequence[GlmNodeStep]],
    p: int,
    *,
    family: Family,
    start: npt.ArrayLike | None = None,
    tol: float = 1e-10,
    max_iter: int = 50,
    confidence: float = 0.95,
) -> GlmResult:
    """Fit a GLM on the union of the nodes' rows by Newton–Raphson on their summed score and information.

    Parameters
    ----------
    node_steps
        Sends β to every node and returns their :class:`GlmNodeStep` answers (one round trip);
        a node's refusal propagates as its :class:`~genofed.errors.DisclosureError`.
    p
        The number of coefficients.
    family
        The GLM family; every node step must be for it.
    start
        Starting coefficients (default zeros).
    tol
        Convergence when every Newton step is below ``tol · (1 + |β_j|)``.
    max_iter
        Most Newton steps to take; without convergence the result says so (``converged=False``).
    confidence
        Level of the Wald intervals.

    Returns
    -------
    GlmResult
        Coefficients, standard errors, z, p-values and intervals, dispersion, deviance and the
        pooled N; ``converged`` and ``message`` tell whether the estimates can be trusted
        (perfect separation in a logistic model ends with ``converged=False``, not an exception).

    References
    ----------
    McCullagh, P. & Nelder, J. A. (1989). *Generalized Linear Models*, 2nd ed., §2.5 and §4.4.
    Jones, E. M. et al. (2013). DataSHIELD – shared individual-level analysis without sharing the data.
    *Int. J. Epidemiol.* 42(6) (the federated GLM by summed score and information).
    """
    family = Family(family)
    if p < 1:
        raise ValueError(f"a GLM needs at least one coefficient, got p={p}")
    # The deviance belongs to the β it was computed at; Newton's trial steps evaluate other βs too.
    deviances: dict[bytes, tuple[int, float]] = {}

    def evaluate(beta: FloatArray) -> Evaluation:
        evaluation, n, deviance = _summed(node_steps(beta.copy()), p, family)
        deviances[beta.tobytes()] = (n, deviance)
        return evaluation

    begin = np.zeros(p) if start is None else as_vector(start, "start", length=p)
    outcome = newton_maximise(evaluate, begin, tol=tol, max_iter=max_iter)
    evaluation = outcome.evaluation
    n, deviance = deviances[outcome.beta.tobytes()]
    df_residual = n - p
    if family is Family.GAUSSIAN:
        scale = deviance / df_residual if df_residual > 0 else float("nan")
        log_likelihood = -0.5 * n * (np.log(2.0 * np.pi * deviance / n) + 1.0)
    else:
        scale = 1.0
        log_likelihood = evaluation.log_likelihood
    table = wald_table(outcome.beta, evaluation.information, scale=scale, confidence=confidence)
    return GlmResult(
        family=family,
        coefficients=frozen(outcome.beta),
        standard_errors=table.standard_errors,
        z_values=table.z_values,
        p_values=table.p_values,
        ci_lower=table.ci_lower,
        ci_upper=table.ci_upper,
        covariance=table.covariance,
        confidence=confidence,
        scale=float(scale),
        deviance=deviance,
        log_likelihood=float(log_likelihood),
        n=n,
        df_residual=df_residual,
        iterations=outcome.iterations,
        converged=outcome.converged,
        message=outcome.message,
    )
