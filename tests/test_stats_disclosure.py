"""The node's refusal rules for model fits and curves: each rule refuses, and a refusal releases nothing."""

from __future__ import annotations

import numpy as np
import pytest

import genofed.stats._cox as cox_module
import genofed.stats._glm as glm_module
from genofed.errors import DisclosureError
from genofed.privacy import StatisticsLimits
from genofed.stats import (
    Family,
    check_group_sizes,
    check_model_release,
    cox_node_step,
    glm_node_step,
    km_node_counts,
)

LIMITS = StatisticsLimits()  # min_rows 10, max_parameters_per_row 0.1
RNG = np.random.default_rng(4)


def _design(n: int, carriers: int | None = None) -> np.ndarray:
    """Intercept, a continuous covariate and (optionally) an indicator held by ``carriers`` rows."""
    columns = [np.ones(n), RNG.normal(size=n)]
    if carriers is not None:
        columns.append((np.arange(n) < carriers).astype(float))
    return np.column_stack(columns)


def _outcome(n: int, events: int) -> np.ndarray:
    return (np.arange(n)[::-1] < events).astype(float)  # events among the last rows


def _glm_step(
    x: np.ndarray, y: np.ndarray, family: Family = Family.BINOMIAL, min_cell_count: int = 5
) -> None:
    glm_node_step(x, y, np.zeros(x.shape[1]), family=family, limits=LIMITS, min_cell_count=min_cell_count)


def _cox_step(x: np.ndarray, event: np.ndarray) -> None:
    time = np.arange(1.0, x.shape[0] + 1)
    cox_node_step(x, time, event, np.zeros(x.shape[1]), limits=LIMITS, min_cell_count=5)


def test_glm_node_step__fewer_rows_than_the_minimum_refuses() -> None:
    _glm_step(np.ones((10, 1)), _outcome(10, 5))  # exactly the minimum is allowed
    with pytest.raises(DisclosureError, match=r"fewer than 10 rows at this node \(statistics.min_rows\)"):
        _glm_step(np.ones((9, 1)), _outcome(9, 5), family=Family.GAUSSIAN)


def test_glm_node_step__too_many_parameters_per_row_refuses() -> None:
    _glm_step(_design(30, carriers=15), _outcome(30, 15))  # p/N = 0.1: allowed
    with pytest.raises(DisclosureError, match=r"3 parameters exceed 0\.1 parameters per row"):
        _glm_step(_design(29, carriers=15), _outcome(29, 15))


def test_glm_node_step__rare_binary_covariate_level_refuses() -> None:
    with pytest.raises(DisclosureError, match="covariate column 2 has a level held by fewer than 5 rows"):
        _glm_step(_design(100, carriers=4), _outcome(100, 50), family=Family.GAUSSIAN)
    with pytest.raises(DisclosureError, match="covariate column 2 has a level held by fewer than 5 rows"):
        _glm_step(_design(100, carriers=97), _outcome(100, 50), family=Family.GAUSSIAN)  # 3 non-carriers


def test_glm_node_step__binary_covariate_with_two_non_01_values_is_binary() -> None:
    x = _design(100)
    x = np.column_stack([x, np.where(np.arange(100) < 2, 7.5, -1.0)])
    with pytest.raises(DisclosureError, match="covariate column 2 has a level"):
        _glm_step(x, _outcome(100, 50), family=Family.GAUSSIAN)


def test_glm_node_step__rare_outcome_level_refuses() -> None:
    with pytest.raises(DisclosureError, match="the outcome has a level held by fewer than 5 rows"):
        _glm_step(_design(100), _outcome(100, 4))
    with pytest.raises(DisclosureError, match="the outcome has a level held by fewer than 5 rows"):
        _glm_step(_design(100), _outcome(100, 96))


def test_glm_node_step__small_cross_cell_of_covariate_and_outcome_refuses() -> None:
    # 20 carriers, 50 events, and only 2 carriers among the events: margins are fine, a cell is not.
    x = _design(100, carriers=20)
    y = np.zeros(100)
    y[18:68] = 1.0
    with pytest.raises(DisclosureError, match="covariate column 2 and the outcome cross-classify"):
        _glm_step(x, y)


def test_glm_node_step__small_cross_cell_of_two_covariates_refuses() -> None:
    x = np.column_stack([_design(100, carriers=40), (np.arange(100) >= 37).astype(float)])  # overlap 3
    with pytest.raises(DisclosureError, match="covariate column 2 and covariate column 3 cross-classify"):
        _glm_step(x, _outcome(100, 50), family=Family.GAUSSIAN)


def test_glm_node_step__zero_counts_are_not_small() -> None:
    # A constant 0 indicator, mutually exclusive dummies (an empty cross-cell) and no events at all are
    # released: the policy protects non-zero counts below the minimum only.
    rows = np.arange(100)
    x = np.column_stack([_design(100, carriers=40), (rows >= 60).astype(float), np.zeros(100)])
    _glm_step(x, np.zeros(100))


def test_glm_node_step__stricter_min_cell_count_refuses_more() -> None:
    x = _design(100, carriers=7)
    _glm_step(x, _outcome(100, 50), family=Family.GAUSSIAN, min_cell_count=5)
    with pytest.raises(DisclosureError, match="covariate column 2 has a level held by fewer than 10 rows"):
        _glm_step(x, _outcome(100, 50), family=Family.GAUSSIAN, min_cell_count=10)


def test_glm_node_step__refusal_message_does_not_reveal_the_count() -> None:
    messages = set()
    for carriers in range(1, 5):
        with pytest.raises(DisclosureError) as refusal:
            _glm_step(_design(100, carriers=carriers), _outcome(100, 50), family=Family.GAUSSIAN)
        messages.add(str(refusal.value))
    assert len(messages) == 1


def test_glm_node_step__refused_node_computes_and_sends_no_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object) -> None:
        raise AssertionError("the node computed sums although it refused")

    monkeypatch.setattr(glm_module, "_node_sums", must_not_run)
    with pytest.raises(DisclosureError) as refusal:
        _glm_step(_design(100, carriers=3), _outcome(100, 50))
    assert all(isinstance(arg, str) for arg in refusal.value.args)
    assert not any(isinstance(v, np.ndarray) for v in vars(refusal.value).values())
    assert refusal.value.__cause__ is None


def test_cox_node_step__each_rule_refuses() -> None:
    with pytest.raises(DisclosureError, match="fewer than 10 rows"):
        _cox_step(_design(9)[:, 1:], _outcome(9, 5))
    with pytest.raises(DisclosureError, match=r"2 parameters exceed 0\.1 parameters per row"):
        _cox_step(_design(19, carriers=9)[:, 1:], _outcome(19, 9))
    with pytest.raises(DisclosureError, match="covariate column 1 has a level held by fewer than 5 rows"):
        _cox_step(_design(100, carriers=2)[:, 1:], _outcome(100, 50))
    with pytest.raises(DisclosureError, match="the event indicator has a level held by fewer than 5 rows"):
        _cox_step(_design(100)[:, 1:], _outcome(100, 3))
    with pytest.raises(DisclosureError, match="the event indicator has a level held by fewer than 5 rows"):
        _cox_step(_design(100)[:, 1:], _outcome(100, 98))  # two censored rows


def test_cox_node_step__no_events_is_not_small() -> None:
    _cox_step(_design(100, carriers=50)[:, 1:], np.zeros(100))


def test_cox_node_step__cross_cells_are_not_checked() -> None:
    # The Cox information is a sum over risk sets, not a table of counts, so only margins are checked:
    # 20 carriers with 2 events among them passes.
    x = _design(100, carriers=20)[:, 1:]
    event = np.zeros(100)
    event[18:68] = 1.0
    _cox_step(x, event)


def test_cox_node_step__refused_node_computes_and_sends_no_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object) -> None:
        raise AssertionError("the node computed sums although it refused")

    monkeypatch.setattr(cox_module, "_partial_likelihood", must_not_run)
    with pytest.raises(DisclosureError) as refusal:
        _cox_step(_design(100)[:, 1:], _outcome(100, 2))
    assert not any(isinstance(v, np.ndarray) for v in vars(refusal.value).values())


def test_km_node_counts__small_group_refuses_before_counting() -> None:
    time = np.arange(1.0, 41.0)
    with pytest.raises(DisclosureError, match="group 'b' has fewer than 5 individuals"):
        km_node_counts(
            time, np.ones(40), ["a"] * 36 + ["b"] * 4, grid=[10.0], groups=("a", "b"), min_cell_count=5
        )


def test_check_model_release__accepts_a_safe_design() -> None:
    check_model_release(_design(200, carriers=80), outcome=_outcome(200, 90), limits=LIMITS, min_cell_count=5)


def test_check_group_sizes__zero_and_large_groups_pass() -> None:
    check_group_sizes([0, 5, 100], ("a", "b", "c"), min_cell_count=5)
    with pytest.raises(DisclosureError, match="group 'a' has fewer than 5 individuals"):
        check_group_sizes([1, 5, 100], ("a", "b", "c"), min_cell_count=5)
