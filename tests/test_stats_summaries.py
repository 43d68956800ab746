"""Federated means and variances against numpy on the pooled values; Welch's test against SciPy."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from scipy import stats as scipy_stats

from genofed.errors import QueryError
from genofed.stats import combine_summaries, mean_interval, summary_node_stats, welch_t_test

SIZES = (80, 250, 600)


def _cohort(seed: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    nodes = []
    for index, size in enumerate(SIZES):
        group = rng.choice(np.array(["case", "control"]), size, p=[0.3, 0.7])
        # A large common offset makes the naive Σx² − (Σx)²/n formula lose digits; the pooled
        # variance must still be exact.
        x = 1e6 + rng.normal(10 * index, 1 + index, size) + np.where(group == "case", 2.0, 0.0)
        nodes.append((x, group))
    return nodes


def test_combine_summaries__equals_numpy_on_the_pooled_values() -> None:
    nodes = _cohort()
    stats = [summary_node_stats(x, g, groups=("case", "control"), min_cell_count=5) for x, g in nodes]
    summaries = combine_summaries(stats)
    x = np.concatenate([n[0] for n in nodes])
    group = np.concatenate([n[1] for n in nodes])
    for summary in summaries:
        values = x[group == summary.group]
        assert summary.n == len(values)
        assert summary.nodes_suppressed == 0
        # statistics.mean and statistics.variance compute exactly (in fractions) before rounding; the
        # pooled variance is off by ~1e-12 only because each node mean is a double (ulp ~1e-10 at 1e6).
        assert summary.mean == pytest.approx(statistics.mean(values.tolist()), rel=1e-15)
        assert summary.variance == pytest.approx(statistics.variance(values.tolist()), rel=1e-10)
        assert summary.sd == pytest.approx(statistics.stdev(values.tolist()), rel=1e-10)
        assert summary.standard_error == pytest.approx(scipy_stats.sem(values), rel=1e-10)


def test_welch_t_test__equals_scipy_on_the_pooled_values() -> None:
    nodes = _cohort()
    stats = [summary_node_stats(x, g, groups=("case", "control"), min_cell_count=5) for x, g in nodes]
    test = welch_t_test(combine_summaries(stats), "case", "control")
    x = np.concatenate([n[0] for n in nodes])
    group = np.concatenate([n[1] for n in nodes])
    oracle = scipy_stats.ttest_ind(x[group == "case"], x[group == "control"], equal_var=False)
    interval = oracle.confidence_interval(0.95)
    assert test.statistic == pytest.approx(oracle.statistic, rel=1e-6)
    assert test.p_value == pytest.approx(oracle.pvalue, rel=1e-6)
    assert test.df == pytest.approx(oracle.df, rel=1e-6)
    assert test.ci_lower == pytest.approx(interval.low, rel=1e-6)
    assert test.ci_upper == pytest.approx(interval.high, rel=1e-6)


def test_summary_node_stats__small_cell_is_suppressed() -> None:
    x = np.arange(20.0)
    group = np.array(["case"] * 3 + ["control"] * 17)
    stats = summary_node_stats(x, group, groups=("case", "control"), min_cell_count=5)
    assert stats.suppressed.tolist() == [True, False]
    assert stats.n[0] == -1
    assert np.isnan(stats.mean[0])
    assert np.isnan(stats.sum_squares[0])
    assert stats.n[1] == 17


def test_combine_summaries__reports_nodes_that_suppressed_a_group() -> None:
    nodes = _cohort()
    x, group = nodes[0]
    group = group.copy()
    group[group == "case"] = "control"
    group[:2] = "case"  # two cases at the first node: suppressed there
    nodes[0] = (x, group)
    stats = [summary_node_stats(x, g, groups=("case", "control"), min_cell_count=5) for x, g in nodes]
    case, control = combine_summaries(stats)
    assert case.nodes_suppressed == 1
    assert control.nodes_suppressed == 0
    released = np.concatenate([x[g == "case"] for x, g in nodes[1:]])
    assert case.n == len(released)
    assert case.mean == pytest.approx(released.mean(), rel=1e-14)


def test_summary_node_stats__empty_group_is_released_as_zero() -> None:
    stats = summary_node_stats(np.arange(10.0), ["a"] * 10, groups=("a", "b"), min_cell_count=5)
    assert stats.n.tolist() == [10, 0]
    assert not stats.suppressed.any()
    assert np.isnan(combine_summaries([stats])[1].mean)


def test_welch_t_test__unknown_group_is_a_query_error() -> None:
    stats = summary_node_stats(np.arange(10.0), min_cell_count=5)
    with pytest.raises(QueryError, match=r"no summary for groups \['x'\]"):
        welch_t_test(combine_summaries([stats]), "all", "x")


def test_mean_interval__equals_scipy_student_t_on_the_pooled_values() -> None:
    nodes = _cohort()
    pooled = combine_summaries([summary_node_stats(x, min_cell_count=5) for x, _ in nodes])[0]
    values = np.concatenate([x for x, _ in nodes])
    for confidence in (0.9, 0.95, 0.99):
        expected = scipy_stats.t.interval(
            confidence, len(values) - 1, loc=values.mean(), scale=scipy_stats.sem(values)
        )
        assert mean_interval(pooled, confidence=confidence) == pytest.approx(expected, rel=1e-12)


def test_mean_interval__fewer_than_two_values_give_nan() -> None:
    (one,) = combine_summaries([summary_node_stats([3.0], min_cell_count=1)])
    assert all(np.isnan(v) for v in mean_interval(one))
