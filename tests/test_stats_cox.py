"""Node-stratified federated Cox models against lifelines (Efron) and statsmodels PHReg (Breslow, Efron)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from statsmodels.duration.hazard_regression import PHReg

from genofed.errors import DisclosureError, QueryError
from genofed.privacy import StatisticsLimits
from genofed.stats import CoxNodeStep, Ties, cox_node_step, fit_cox

LIMITS = StatisticsLimits()
MIN_CELL = 5
SIZES = (80, 250, 600)
TOL = {"rtol": 1e-6, "atol": 1e-9}

Node = tuple[np.ndarray, np.ndarray, np.ndarray]  # X, time, event


def _cohort(seed: int = 11) -> list[Node]:
    """Three nodes of unequal size, with node-specific baseline hazards and many tied times.

    At the smallest node nobody treated has an event (all treated are censored early), so that node
    has zero events in one group.
    """
    rng = np.random.default_rng(seed)
    nodes = []
    for index, size in enumerate(SIZES):
        age = rng.normal(0, 1, size)
        treated = (rng.random(size) < 0.45).astype(float)
        marker = rng.gamma(2.0, 1.0, size)
        x = np.column_stack([age, treated, marker])
        hazard = (0.05 + 0.05 * index) * np.exp(x @ np.array([0.5, -0.6, 0.2]))
        event_time = rng.exponential(1 / hazard)
        censor_time = rng.uniform(2, 25, size)
        time = np.ceil(np.minimum(event_time, censor_time))  # whole months: plenty of ties
        event = (event_time <= censor_time).astype(float)
        if index == 0:
            event[treated == 1] = 0.0
        nodes.append((x, time, event))
    return nodes


def _gather(nodes: Sequence[Node], ties: Ties) -> Callable[[np.ndarray], list[CoxNodeStep]]:
    def node_steps(beta: np.ndarray) -> list[CoxNodeStep]:
        return [
            cox_node_step(x, t, e, beta, ties=ties, limits=LIMITS, min_cell_count=MIN_CELL)
            for x, t, e in nodes
        ]

    return node_steps


def _frame(nodes: Sequence[Node]) -> pd.DataFrame:
    parts = []
    for index, (x, t, e) in enumerate(nodes):
        part = pd.DataFrame(x, columns=["age", "treated", "marker"])
        part["T"], part["E"], part["node"] = t, e, index
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_cohort__has_ties_and_a_node_without_events_in_one_group() -> None:
    nodes = _cohort()
    x, _t, e = nodes[0]
    assert e[x[:, 1] == 1].sum() == 0
    assert e[x[:, 1] == 0].sum() > 0
    times = np.concatenate([t[e == 1] for _, t, e in nodes])
    assert len(np.unique(times)) < len(times) / 5


def test_fit_cox__efron_equals_lifelines_stratified_by_node() -> None:
    nodes = _cohort()
    result = fit_cox(_gather(nodes, Ties.EFRON), 3, ties=Ties.EFRON)
    # lifelines stops its Newton loop at a step norm of 1e-7 by default, which leaves its own
    # coefficients ~3e-6 from the optimum here; at 1e-12 the two agree to ~1e-11.
    oracle = CoxPHFitter().fit(_frame(nodes), "T", "E", strata=["node"], fit_options={"precision": 1e-12})
    summary = oracle.summary.loc[["age", "treated", "marker"]]
    assert result.converged, result.message
    np.testing.assert_allclose(result.coefficients, summary["coef"], **TOL)
    np.testing.assert_allclose(result.hazard_ratios, summary["exp(coef)"], **TOL)
    np.testing.assert_allclose(result.standard_errors, summary["se(coef)"], **TOL)
    np.testing.assert_allclose(result.z_values, summary["z"], **TOL)
    np.testing.assert_allclose(result.p_values, summary["p"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(result.hazard_ratio_ci_lower, summary["exp(coef) lower 95%"], **TOL)
    np.testing.assert_allclose(result.hazard_ratio_ci_upper, summary["exp(coef) upper 95%"], **TOL)
    np.testing.assert_allclose(result.ci_lower, summary["coef lower 95%"], **TOL)
    np.testing.assert_allclose(result.log_likelihood, oracle.log_likelihood_, **TOL)
    assert result.n == sum(SIZES)
    assert result.events == int(sum(e.sum() for _, _, e in nodes))


@pytest.mark.parametrize("ties", list(Ties))
def test_fit_cox__equals_statsmodels_phreg_stratified_by_node(ties: Ties) -> None:
    nodes = _cohort()
    frame = _frame(nodes)
    oracle = PHReg(
        frame["T"].to_numpy(),
        frame[["age", "treated", "marker"]].to_numpy(),
        status=frame["E"].to_numpy(),
        strata=frame["node"].to_numpy(),
        ties=ties.value,
    ).fit(tol=1e-12)
    result = fit_cox(_gather(nodes, ties), 3, ties=ties)
    assert result.converged, result.message
    np.testing.assert_allclose(result.coefficients, oracle.params, **TOL)
    np.testing.assert_allclose(result.standard_errors, oracle.bse, **TOL)
    np.testing.assert_allclose(result.log_likelihood, oracle.llf, **TOL)


def test_fit_cox__breslow_and_efron_differ_with_ties() -> None:
    nodes = _cohort()
    breslow = fit_cox(_gather(nodes, Ties.BRESLOW), 3, ties=Ties.BRESLOW)
    efron = fit_cox(_gather(nodes, Ties.EFRON), 3, ties=Ties.EFRON)
    assert np.abs(breslow.coefficients - efron.coefficients).max() > 1e-3


def test_fit_cox__stratification_is_by_node() -> None:
    # The same rows as one node give a different (unstratified) fit: the strata are the nodes.
    nodes = _cohort()
    pooled = [tuple(np.concatenate([n[i] for n in nodes]) for i in range(3))]
    stratified = fit_cox(_gather(nodes, Ties.EFRON), 3)
    unstratified = fit_cox(_gather(pooled, Ties.EFRON), 3)
    assert np.abs(stratified.coefficients - unstratified.coefficients).max() > 1e-3


def test_cox_node_step__is_invariant_to_row_order_and_covariate_shift() -> None:
    x, t, e = _cohort()[1]
    beta = np.array([0.3, -0.2, 0.1])
    step = cox_node_step(x, t, e, beta, limits=LIMITS, min_cell_count=MIN_CELL)
    order = np.random.default_rng(0).permutation(len(t))
    shuffled = cox_node_step(x[order], t[order], e[order], beta, limits=LIMITS, min_cell_count=MIN_CELL)
    np.testing.assert_allclose(shuffled.score, step.score, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(shuffled.information, step.information, rtol=1e-10)
    np.testing.assert_allclose(shuffled.log_likelihood, step.log_likelihood, rtol=1e-12)


def test_cox_node_step__node_without_events_contributes_nothing() -> None:
    x, t, _ = _cohort()[1]
    step = cox_node_step(x, t, np.zeros_like(t), np.zeros(3), limits=LIMITS, min_cell_count=MIN_CELL)
    assert step.events == 0
    assert step.log_likelihood == 0.0
    assert not step.score.any()
    assert not step.information.any()


def test_fit_cox__refusing_node_stops_the_fit() -> None:
    nodes = _cohort()
    x, t, e = nodes[2]
    e = e.copy()
    e[:] = 1.0
    e[:3] = 0.0  # three censored rows: a small level of the event indicator
    nodes[2] = (x, t, e)
    with pytest.raises(DisclosureError, match="the event indicator has a level held by fewer than 5"):
        fit_cox(_gather(nodes, Ties.EFRON), 3)


def test_fit_cox__no_events_anywhere_reports_singular_information() -> None:
    nodes = [(x, t, np.zeros_like(e)) for x, t, e in _cohort()]
    result = fit_cox(_gather(nodes, Ties.EFRON), 3)
    assert not result.converged
    assert "singular" in result.message


def test_fit_cox__steps_with_other_ties_are_refused() -> None:
    with pytest.raises(QueryError, match="used breslow ties, not efron"):
        fit_cox(_gather(_cohort(), Ties.BRESLOW), 3, ties=Ties.EFRON)


def test_cox_node_step__event_must_be_binary() -> None:
    x, t, e = _cohort()[1]
    with pytest.raises(QueryError, match="event indicator must be 0 or 1"):
        cox_node_step(x, t, e + 1, np.zeros(3), limits=LIMITS, min_cell_count=MIN_CELL)


def test_fit_cox__large_covariate_scale_and_offset_are_harmless() -> None:
    # A covariate in other units (× 1000) far from zero (+ 10⁴): the node centres it, so exp() does not
    # overflow and the fit is the same model with β / 1000.
    nodes = _cohort()
    shifted = [(x * [1.0, 1.0, 1000.0] + [0.0, 0.0, 1e4], t, e) for x, t, e in nodes]
    base = fit_cox(_gather(nodes, Ties.EFRON), 3)
    scaled = fit_cox(_gather(shifted, Ties.EFRON), 3)
    assert scaled.converged, scaled.message
    np.testing.assert_allclose(scaled.coefficients, base.coefficients / [1.0, 1.0, 1000.0], rtol=1e-8)
    np.testing.assert_allclose(scaled.standard_errors, base.standard_errors / [1.0, 1.0, 1000.0], rtol=1e-8)
    np.testing.assert_allclose(scaled.log_likelihood, base.log_likelihood, rtol=1e-10)
