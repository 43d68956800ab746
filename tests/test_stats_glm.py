"""Federated GLMs against statsmodels' GLM on the pooled rows (the oracle), to 1e-6."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
import statsmodels.api as sm

import genofed.stats
from genofed.errors import DisclosureError, QueryError
from genofed.privacy import StatisticsLimits
from genofed.stats import Family, GlmNodeStep, fit_glm, glm_node_step, glm_update

LIMITS = StatisticsLimits()
MIN_CELL = 5
SIZES = (80, 250, 600)
TOL = {"rtol": 1e-6, "atol": 1e-9}

Node = tuple[np.ndarray, np.ndarray, np.ndarray]  # X, y, offset


def _cohort(family: Family, seed: int = 7) -> list[Node]:
    """Three nodes of unequal size with node-specific covariate distributions."""
    rng = np.random.default_rng(seed)
    nodes = []
    for index, size in enumerate(SIZES):
        age = rng.normal(60 + 5 * index, 10, size)
        treated = (rng.random(size) < 0.4 + 0.1 * index).astype(float)
        x = np.column_stack([np.ones(size), (age - 60) / 10, treated])
        eta = x @ np.array([0.2, 0.6, -0.5])
        log_exposure = np.log(rng.uniform(0.5, 3.0, size))
        if family is Family.GAUSSIAN:
            y = 1.0 + x @ np.array([0.5, 2.0, -1.5]) + rng.normal(0, 1.0 + index, size)
        elif family is Family.BINOMIAL:
            y = (rng.random(size) < 1 / (1 + np.exp(-eta))).astype(float)
        else:
            y = rng.poisson(np.exp(eta + log_exposure)).astype(float)
        nodes.append((x, y, log_exposure if family is Family.POISSON else np.zeros(size)))
    return nodes


def _gather(nodes: Sequence[Node], family: Family) -> Callable[[np.ndarray], list[GlmNodeStep]]:
    def node_steps(beta: np.ndarray) -> list[GlmNodeStep]:
        return [
            glm_node_step(x, y, beta, family=family, offset=offset, limits=LIMITS, min_cell_count=MIN_CELL)
            for x, y, offset in nodes
        ]

    return node_steps


def _oracle(nodes: Sequence[Node], family: Family) -> sm.regression.linear_model.RegressionResults:
    x = np.vstack([n[0] for n in nodes])
    y = np.concatenate([n[1] for n in nodes])
    offset = np.concatenate([n[2] for n in nodes])
    sm_family = {
        Family.GAUSSIAN: sm.families.Gaussian(),
        Family.BINOMIAL: sm.families.Binomial(),
        Family.POISSON: sm.families.Poisson(),
    }[family]
    return sm.GLM(y, x, family=sm_family, offset=offset).fit(tol=1e-12)


@pytest.mark.parametrize("family", list(Family))
def test_fit_glm__equals_pooled_statsmodels(family: Family) -> None:
    nodes = _cohort(family)
    result = fit_glm(_gather(nodes, family), 3, family=family)
    oracle = _oracle(nodes, family)
    assert result.converged, result.message
    np.testing.assert_allclose(result.coefficients, oracle.params, **TOL)
    np.testing.assert_allclose(result.standard_errors, oracle.bse, **TOL)
    np.testing.assert_allclose(result.z_values, oracle.tvalues, **TOL)
    np.testing.assert_allclose(result.p_values, oracle.pvalues, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(result.ci_lower, oracle.conf_int()[:, 0], **TOL)
    np.testing.assert_allclose(result.ci_upper, oracle.conf_int()[:, 1], **TOL)
    np.testing.assert_allclose(result.covariance, oracle.cov_params(), **TOL)
    np.testing.assert_allclose(result.scale, oracle.scale, **TOL)
    np.testing.assert_allclose(result.deviance, oracle.deviance, **TOL)
    np.testing.assert_allclose(result.log_likelihood, oracle.llf, **TOL)
    assert result.n == sum(SIZES) == oracle.nobs
    assert result.df_residual == oracle.df_resid


def test_fit_glm__gaussian_scale_is_pearson_over_residual_df() -> None:
    nodes = _cohort(Family.GAUSSIAN)
    result = fit_glm(_gather(nodes, Family.GAUSSIAN), 3, family=Family.GAUSSIAN)
    assert result.scale == pytest.approx(result.deviance / (sum(SIZES) - 3), rel=1e-12)
    assert result.scale > 1.5  # the noise has sd 1 to 3, so a scale fixed at 1 would be wrong


def test_fit_glm__binomial_and_poisson_have_unit_scale() -> None:
    for family in (Family.BINOMIAL, Family.POISSON):
        assert fit_glm(_gather(_cohort(family), family), 3, family=family).scale == 1.0


def test_fit_glm__poisson_offset_changes_the_fit() -> None:
    nodes = _cohort(Family.POISSON)
    without = [(x, y, np.zeros_like(y)) for x, y, _ in nodes]
    with_offset = fit_glm(_gather(nodes, Family.POISSON), 3, family=Family.POISSON)
    no_offset = fit_glm(_gather(without, Family.POISSON), 3, family=Family.POISSON)
    np.testing.assert_allclose(no_offset.coefficients, _oracle(without, Family.POISSON).params, **TOL)
    assert abs(with_offset.coefficients[0] - no_offset.coefficients[0]) > 0.1


def test_fit_glm__node_split_does_not_matter() -> None:
    nodes = _cohort(Family.BINOMIAL)
    pooled = [tuple(np.concatenate([n[i] for n in nodes]) for i in range(3))]
    split = fit_glm(_gather(nodes, Family.BINOMIAL), 3, family=Family.BINOMIAL)
    single = fit_glm(_gather(pooled, Family.BINOMIAL), 3, family=Family.BINOMIAL)
    np.testing.assert_allclose(split.coefficients, single.coefficients, rtol=1e-10)
    np.testing.assert_allclose(split.standard_errors, single.standard_errors, rtol=1e-10)


def test_glm_update__one_gaussian_step_is_least_squares() -> None:
    nodes = _cohort(Family.GAUSSIAN)
    steps = _gather(nodes, Family.GAUSSIAN)(np.zeros(3))
    x = np.vstack([n[0] for n in nodes])
    y = np.concatenate([n[1] for n in nodes])
    np.testing.assert_allclose(glm_update(np.zeros(3), steps), np.linalg.lstsq(x, y)[0], rtol=1e-10)


def test_glm_node_step__releases_sums_only() -> None:
    x, y, _offset = _cohort(Family.BINOMIAL)[1]
    step = glm_node_step(x, y, [0.1, 0.2, 0.3], family=Family.BINOMIAL, limits=LIMITS, min_cell_count=5)
    mu = 1 / (1 + np.exp(-(x @ [0.1, 0.2, 0.3])))
    np.testing.assert_allclose(step.score, x.T @ (y - mu), rtol=1e-12)
    np.testing.assert_allclose(step.information, x.T @ (x * (mu * (1 - mu))[:, None]), rtol=1e-12)
    assert step.score.shape == (3,)
    assert step.information.shape == (3, 3)
    assert step.n == 250
    with pytest.raises(ValueError, match="read-only"):
        step.score[0] = 0.0


def test_fit_glm__perfect_separation_reports_non_convergence() -> None:
    # y is 1 exactly where x > 0: the logistic MLE is infinite. statsmodels raises or warns here;
    # the federated fit must stop cleanly and say that it did not converge.
    rng = np.random.default_rng(3)
    nodes = []
    for size in SIZES:
        x1 = rng.normal(size=size)
        nodes.append((np.column_stack([np.ones(size), x1]), (x1 > 0).astype(float), np.zeros(size)))
    result = fit_glm(_gather(nodes, Family.BINOMIAL), 2, family=Family.BINOMIAL, max_iter=30)
    assert not result.converged
    assert "separation" in result.message
    assert result.iterations <= 30
    assert result.coefficients[1] > 10  # heading for +∞
    assert result.deviance < 1e-3


def test_fit_glm__collinear_design_reports_singular_information() -> None:
    nodes = [(np.column_stack([x, x[:, 1]]), y, o) for x, y, o in _cohort(Family.GAUSSIAN)]
    result = fit_glm(_gather(nodes, Family.GAUSSIAN), 4, family=Family.GAUSSIAN)
    assert not result.converged
    assert "singular" in result.message


def test_fit_glm__refusing_node_stops_the_fit() -> None:
    nodes = _cohort(Family.GAUSSIAN)
    x, y, offset = nodes[0]
    nodes[0] = (x[:9], y[:9], offset[:9])
    with pytest.raises(DisclosureError, match="fewer than 10 rows"):
        fit_glm(_gather(nodes, Family.GAUSSIAN), 3, family=Family.GAUSSIAN)


def test_fit_glm__steps_of_another_family_are_refused() -> None:
    nodes = _cohort(Family.BINOMIAL)
    with pytest.raises(QueryError, match="for the binomial family, not poisson"):
        fit_glm(_gather(nodes, Family.BINOMIAL), 3, family=Family.POISSON)


def test_glm_node_step__wrong_beta_length_is_a_query_error() -> None:
    x, y, _ = _cohort(Family.GAUSSIAN)[0]
    with pytest.raises(QueryError, match="beta must have 3 entries, got 2"):
        glm_node_step(x, y, [0.0, 0.0], family=Family.GAUSSIAN, limits=LIMITS, min_cell_count=5)


def test_glm_node_step__binomial_outcome_must_be_binary() -> None:
    x, y, _ = _cohort(Family.BINOMIAL)[0]
    with pytest.raises(QueryError, match="binomial outcome y must be 0 or 1"):
        glm_node_step(x, y * 2, np.zeros(3), family=Family.BINOMIAL, limits=LIMITS, min_cell_count=5)


def test_glm_node_step__poisson_outcome_must_be_a_count() -> None:
    x, y, _ = _cohort(Family.POISSON)[0]
    with pytest.raises(QueryError, match="non-negative integer count"):
        glm_node_step(x, y - 0.5, np.zeros(3), family=Family.POISSON, limits=LIMITS, min_cell_count=5)


def test_glm_node_step__nan_is_a_query_error() -> None:
    x, y, _ = _cohort(Family.GAUSSIAN)[0]
    x = x.copy()
    x[3, 1] = np.nan
    with pytest.raises(QueryError, match="finite numbers only"):
        glm_node_step(x, y, np.zeros(3), family=Family.GAUSSIAN, limits=LIMITS, min_cell_count=5)


def test_all__is_complete_and_sorted() -> None:
    public = {name for name in dir(genofed.stats) if not name.startswith("_")}
    assert set(genofed.stats.__all__) == public
    assert genofed.stats.__all__ == sorted(genofed.stats.__all__)


def test_fit_glm__poisson_with_large_counts_converges_by_step_halving() -> None:
    # Counts near e^8 ≈ 3000: the first Newton step from β = 0 overshoots to exp(3000), which
    # overflows; step halving must bring the fit back and still land on the pooled MLE.
    rng = np.random.default_rng(1)
    nodes = []
    for size in SIZES:
        x = np.column_stack([np.ones(size), rng.normal(size=size)])
        nodes.append((x, rng.poisson(np.exp(8 + 0.3 * x[:, 1])).astype(float), np.zeros(size)))
    rounds = 0
    gather = _gather(nodes, Family.POISSON)

    def counting(beta: np.ndarray) -> list[GlmNodeStep]:
        nonlocal rounds
        rounds += 1
        return gather(beta)

    result = fit_glm(counting, 2, family=Family.POISSON)
    oracle = _oracle(nodes, Family.POISSON)
    assert result.converged, result.message
    assert rounds > result.iterations + 1  # some trial steps were rejected and halved
    np.testing.assert_allclose(result.coefficients, oracle.params, **TOL)
    np.testing.assert_allclose(result.standard_errors, oracle.bse, **TOL)
