"""The coordinator's Newton–Raphson loop and Wald inference, shared by the GLM and the Cox model.

Both models have a log-likelihood that is a sum over nodes, so its score vector and information
matrix are sums of the nodes' too: the coordinator maximises the pooled likelihood by Newton's
method with only those sums in hand, and gets the pooled fit exactly. Each evaluation of the
likelihood is one round trip to the nodes, so the loop counts them.

The loop declares convergence when the Newton step computed at the current β is below
``tol · (1 + |β_j|)`` in every coordinate, and then reports *that* β together with the score,
information and likelihood evaluated there, so every reported number belongs to one β. A step that
lowers the likelihood is halved (Newton with step halving; e.g. Nocedal & Wright, *Numerical
Optimization*, 2006, §3.1); a singular information matrix, or a likelihood that no halving can raise,
ends the loop with ``converged=False`` and a message instead of an exception, because the usual cause
is the data (perfect separation, a covariate constant in the pooled cohort), not a bug.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._arrays import FloatArray, frozen

__all__ = ["Evaluation", "NewtonOutcome", "WaldTable", "newton_maximise", "wald_table"]

_MAX_HALVINGS = 30


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The pooled log-likelihood, score and information at one β."""

    log_likelihood: float
    score: FloatArray
    information: FloatArray

    @property
    def finite(self) -> bool:
        return bool(
            np.isfinite(self.log_likelihood)
            and np.all(np.isfinite(self.score))
            and np.all(np.isfinite(self.information))
        )


@dataclass(frozen=True, slots=True)
class NewtonOutcome:
    """Where the loop stopped, and why."""

    beta: FloatArray
    evaluation: Evaluation
    iterations: int
    converged: bool
    message: str


def newton_maximise(
    evaluate: Callable[[FloatArray], Evaluation], start: FloatArray, *, tol: float, max_iter: int
) -> NewtonOutcome:
    """Maximise a log-likelihood by Newton–Raphson with step halving, from ``start``."""
    if tol <= 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    beta = start.copy()
    current = evaluate(beta)
    if not current.finite:
        return NewtonOutcome(beta, current, 0, False, "the log-likelihood is not finite at the start")
    for iteration in range(max_iter + 1):
        try:
            delta = np.linalg.solve(current.information, current.score)
        except np.linalg.LinAlgError:
            return NewtonOutcome(
                beta,
                current,
                iteration,
                False,
                "the summed information matrix is singular: a covariate is constant or collinear in the"
                " pooled cohort, or the fit diverges (e.g. perfect separation)",
            )
        if np.all(np.abs(delta) <= tol * (1.0 + np.abs(beta))):
            return NewtonOutcome(beta, current, iteration, True, "converged")
        if iteration == max_iter:
            break
        floor = current.log_likelihood - 1e-12 * (1.0 + abs(current.log_likelihood))
        for _ in range(_MAX_HALVINGS):
            candidate = beta + delta
            trial = evaluate(candidate)
            if trial.finite and trial.log_likelihood >= floor:
                beta, current = candidate, trial
                break
            delta = delta / 2.0
        else:
            return NewtonOutcome(
                beta,
                current,
                iteration,
                False,
                "no halving of the Newton step raises the log-likelihood: the fit is numerically unstable",
            )
    return NewtonOutcome(
        beta,
        current,
        max_iter,
        False,
        f"did not converge in {max_iter} iterations: the estimates may be infinite"
        " (e.g. perfect separation) or need a larger max_iter",
    )


@dataclass(frozen=True, slots=True)
class WaldTable:
    """Wald inference for coefficients: covariance, standard errors, z, two-sided p, CI bounds."""

    covariance: FloatArray
    standard_errors: FloatArray
    z_values: FloatArray
    p_values: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray


def wald_table(beta: FloatArray, information: FloatArray, *, scale: float, confidence: float) -> WaldTable:
    """Wald statistics from the (summed) information: ``cov = scale · I⁻¹``, normal z and intervals.

    A singular information gives NaN standard errors rather than an exception.
    """
    # SciPy is a runtime dependency, but heavy to import: load it only when a fit is reported.
    from scipy.special import ndtr, ndtri

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    p = beta.shape[0]
    try:
        covariance = np.asarray(np.linalg.inv(information) * scale, dtype=np.float64)
    except np.linalg.LinAlgError:
        covariance = np.full((p, p), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        standard_errors = np.sqrt(np.diag(covariance))
        z_values = beta / standard_errors
    p_values = np.asarray(2.0 * ndtr(-np.abs(z_values)), dtype=np.float64)
    critical = float(ndtri(0.5 + confidence / 2.0))
    return WaldTable(
        covariance=frozen(covariance),
        standard_errors=frozen(standard_errors),
        z_values=frozen(z_values),
        p_values=frozen(p_values),
        ci_lower=frozen(beta - critical * standard_errors),
        ci_upper=frozen(beta + critical * standard_errors),
    )
