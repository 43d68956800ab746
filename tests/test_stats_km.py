"""Federated Kaplan–Meier curves and log-rank tests against lifelines on the pooled data, to 1e-6."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test as lifelines_logrank
from lifelines.statistics import multivariate_logrank_test

from genofed.errors import DisclosureError, QueryError
from genofed.stats import KmConfidence, KmNodeCounts, combine_km, km_node_counts, logrank_test

MIN_CELL = 5
SIZES = (80, 250, 600)
TOL = {"rtol": 1e-6, "atol": 1e-9}

Node = tuple[np.ndarray, np.ndarray, np.ndarray]  # time, event, group


def _cohort(groups: Sequence[str] = ("A", "B"), seed: int = 5) -> list[Node]:
    """Three nodes of unequal size, integer times (ties), and no events in group B at the first node."""
    rng = np.random.default_rng(seed)
    nodes = []
    for index, size in enumerate(SIZES):
        group = rng.choice(np.array(groups), size)
        rate = 0.04 * (1 + index) * np.where(group == "A", 1.0, 0.6) * np.where(group == "C", 1.5, 1.0)
        event_time = rng.exponential(1 / rate)
        censor_time = rng.uniform(1, 40, size)
        time = np.ceil(np.minimum(event_time, censor_time))
        event = (event_time <= censor_time).astype(float)
        if index == 0:
            event[group == "B"] = 0.0
        nodes.append((time, event, group))
    return nodes


def _pooled(nodes: Sequence[Node]) -> Node:
    return tuple(np.concatenate([n[i] for n in nodes]) for i in range(3))


def _event_grid(nodes: Sequence[Node]) -> list[float]:
    time, event, _ = _pooled(nodes)
    return sorted(set(time[event == 1].tolist()))


def _counts(
    nodes: Sequence[Node], grid: Sequence[float], groups: Sequence[str] = ("A", "B")
) -> list[KmNodeCounts]:
    return [km_node_counts(t, e, g, grid=grid, groups=groups, min_cell_count=MIN_CELL) for t, e, g in nodes]


def _lifelines_at(fitter: KaplanMeierFitter, grid: Sequence[float]) -> pd.DataFrame:
    """lifelines' curve and interval as step functions evaluated at the grid."""
    frame = fitter.survival_function_.join(fitter.confidence_interval_)
    frame.columns = ["survival", "lower", "upper"]
    return frame.reindex(sorted(set(frame.index) | set(grid))).ffill().loc[list(grid)]


def test_cohort__has_ties_and_a_node_without_events_in_one_group() -> None:
    nodes = _cohort()
    _time, event, group = nodes[0]
    assert event[group == "B"].sum() == 0
    assert (group == "B").sum() >= MIN_CELL
    _pooled_time, pooled_event, _ = _pooled(nodes)
    assert len(_event_grid(nodes)) < pooled_event.sum() / 5


def test_combine_km__equals_lifelines_on_the_event_time_grid() -> None:
    nodes = _cohort()
    grid = _event_grid(nodes)
    result = combine_km(_counts(nodes, grid), min_at_risk=0)
    time, event, group = _pooled(nodes)
    for label in ("A", "B"):
        fitter = KaplanMeierFitter().fit(time[group == label], event[group == label])
        expected = _lifelines_at(fitter, grid)
        curve = result.curve(label)
        assert curve.shown.all()
        np.testing.assert_allclose(curve.survival, expected["survival"], **TOL)
        np.testing.assert_allclose(curve.ci_lower, expected["lower"], **TOL)
        np.testing.assert_allclose(curve.ci_upper, expected["upper"], **TOL)
        table = fitter.event_table
        present = [t for t in grid if t in table.index]
        shown_at = np.searchsorted(grid, present)
        np.testing.assert_array_equal(curve.at_risk[shown_at], table.loc[present, "at_risk"])
        np.testing.assert_array_equal(curve.events[shown_at], table.loc[present, "observed"])


def test_combine_km__greenwood_variance_equals_lifelines() -> None:
    nodes = _cohort()
    grid = _event_grid(nodes)
    curve = combine_km(_counts(nodes, grid), min_at_risk=0).curve("A")
    time, event, group = _pooled(nodes)
    fitter = KaplanMeierFitter().fit(time[group == "A"], event[group == "A"])
    greenwood = fitter._cumulative_sq_.reindex(sorted(set(fitter.timeline) | set(grid))).ffill()
    expected = fitter.survival_function_at_times(grid).to_numpy() ** 2 * greenwood.loc[grid].to_numpy()
    np.testing.assert_allclose(curve.variance, expected, **TOL)


def test_combine_km__plain_interval_is_greenwood_normal() -> None:
    nodes = _cohort()
    grid = _event_grid(nodes)
    curve = combine_km(_counts(nodes, grid), min_at_risk=0, interval=KmConfidence.PLAIN).curve("A")
    half = 1.959963984540054 * np.sqrt(curve.variance)
    np.testing.assert_allclose(curve.ci_lower, np.clip(curve.survival - half, 0, 1), rtol=1e-12)
    np.testing.assert_allclose(curve.ci_upper, np.clip(curve.survival + half, 0, 1), rtol=1e-12)


def test_combine_km__coarse_grid_is_km_of_event_times_rounded_up() -> None:
    # The documented meaning of a coarse grid: Kaplan–Meier of the pooled data with every event time
    # moved up to the next grid point and censoring times kept. The grid starts after some events
    # (they count at its first point) and ends before others (they are not counted).
    nodes = _cohort()
    grid = [3.0, 5.0, 10.0, 15.0, 20.0, 30.0]
    result = combine_km(_counts(nodes, grid), min_at_risk=0)
    time, event, group = _pooled(nodes)
    index = np.searchsorted(grid, time, side="left")
    rounded = np.where((event == 1) & (index < len(grid)), np.asarray([*grid, np.inf])[index], time)
    late = (event == 1) & (index == len(grid))
    for label in ("A", "B"):
        mine = group == label
        fitter = KaplanMeierFitter().fit(rounded[mine], np.where(late, 0, event)[mine])
        expected = _lifelines_at(fitter, grid)
        np.testing.assert_allclose(result.curve(label).survival, expected["survival"], **TOL)
        np.testing.assert_allclose(result.curve(label).ci_lower, expected["lower"], **TOL)


def test_km_node_counts__event_at_a_grid_time_counts_there() -> None:
    counts = km_node_counts(
        [1.0, 2.0, 2.0, 2.5, 3.0, 4.0, 7.0], [1, 1, 0, 1, 0, 1, 1], grid=[2.0, 3.0, 4.0], min_cell_count=1
    )
    # Events at 1 and 2 count at 2; the one at 2.5 at 3; at 4 at 4; at 7 (after the grid) nowhere.
    assert counts.events.tolist() == [[2, 1, 1]]
    # At 2: everyone. At 3: 2.5 (event rounded up to 3), 3 (censored at 3), 4, 7. At 4: 4 and 7.
    assert counts.at_risk.tolist() == [[7, 4, 2]]
    # Censored at 2 leaves after 2; censored at 3 leaves after 3.
    assert counts.censored.tolist() == [[1, 1, 0]]


def test_km_node_counts__at_risk_is_events_censored_and_next_at_risk() -> None:
    time, event, group = _cohort()[2]
    counts = km_node_counts(
        time, event, group, grid=[2.0, 4.0, 8.0, 16.0], groups=("A", "B"), min_cell_count=5
    )
    np.testing.assert_array_equal(
        counts.at_risk[:, :-1], counts.events[:, :-1] + counts.censored[:, :-1] + counts.at_risk[:, 1:]
    )


def test_combine_km__hides_points_below_the_at_risk_threshold() -> None:
    nodes = _cohort()
    grid = _event_grid(nodes)
    full = combine_km(_counts(nodes, grid), min_at_risk=0).curve("B")
    hidden = combine_km(_counts(nodes, grid), min_at_risk=50).curve("B")
    small = full.at_risk < 50
    assert small.any()
    assert (~small).any()
    assert not small[: np.argmax(small)].any()
    assert small[np.argmax(small) :].all()
    np.testing.assert_array_equal(hidden.shown, ~small)
    assert np.isnan(hidden.survival[small]).all()
    assert np.isnan(hidden.ci_lower[small]).all()
    assert (hidden.at_risk[small] == -1).all()
    assert (hidden.events[small] == -1).all()
    np.testing.assert_array_equal(hidden.survival[~small], full.survival[~small])


def test_logrank_test__two_groups_equals_lifelines() -> None:
    nodes = _cohort()
    result = logrank_test(_counts(nodes, _event_grid(nodes)))
    time, event, group = _pooled(nodes)
    a, b = group == "A", group == "B"
    oracle = lifelines_logrank(time[a], time[b], event[a], event[b])
    assert result.df == 1
    np.testing.assert_allclose(result.statistic, oracle.test_statistic, **TOL)
    np.testing.assert_allclose(result.p_value, oracle.p_value, rtol=1e-6, atol=1e-15)
    assert result.observed.sum() == event.sum()
    np.testing.assert_allclose(result.observed.sum(), result.expected.sum(), rtol=1e-12)


def test_logrank_test__three_groups_equals_lifelines_multivariate() -> None:
    groups = ("A", "B", "C")
    nodes = _cohort(groups)
    result = logrank_test(_counts(nodes, _event_grid(nodes), groups))
    time, event, group = _pooled(nodes)
    oracle = multivariate_logrank_test(time, group, event)
    assert result.df == 2
    np.testing.assert_allclose(result.statistic, oracle.test_statistic, **TOL)
    np.testing.assert_allclose(result.p_value, oracle.p_value, rtol=1e-6, atol=1e-15)


def test_logrank_test__needs_two_groups() -> None:
    time, event, _ = _cohort()[1]
    counts = km_node_counts(time, event, grid=[5.0, 10.0], min_cell_count=MIN_CELL)
    with pytest.raises(QueryError, match="at least two groups"):
        logrank_test([counts])


def test_km_node_counts__small_group_refuses() -> None:
    time, event, group = _cohort()[1]
    group = group.copy()
    group[:] = "A"
    group[:3] = "B"
    with pytest.raises(DisclosureError, match="group 'B' has fewer than 5 individuals"):
        km_node_counts(time, event, group, grid=[5.0], groups=("A", "B"), min_cell_count=MIN_CELL)


def test_km_node_counts__empty_group_is_not_small() -> None:
    time, event, _ = _cohort()[1]
    counts = km_node_counts(
        time, event, ["A"] * len(time), grid=[5.0, 9.0], groups=("A", "B"), min_cell_count=MIN_CELL
    )
    assert counts.at_risk[1].tolist() == [0, 0]
    assert counts.at_risk[0, 0] > 0


def test_km_node_counts__unknown_group_label_is_a_query_error() -> None:
    time, event, group = _cohort()[1]
    with pytest.raises(QueryError, match=r"group labels \['B'\] are not among the study's groups \['A'\]"):
        km_node_counts(time, event, group, grid=[5.0], groups=("A",), min_cell_count=MIN_CELL)


def test_km_node_counts__grid_must_increase() -> None:
    time, event, _ = _cohort()[1]
    with pytest.raises(QueryError, match="strictly increasing"):
        km_node_counts(time, event, grid=[5.0, 5.0], min_cell_count=MIN_CELL)


def test_combine_km__counts_on_other_grids_are_refused() -> None:
    time, event, _ = _cohort()[1]
    first = km_node_counts(time, event, grid=[5.0], min_cell_count=MIN_CELL)
    second = km_node_counts(time, event, grid=[6.0], min_cell_count=MIN_CELL)
    with pytest.raises(QueryError, match="another grid"):
        combine_km([first, second], min_at_risk=0)


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 12), st.booleans(), st.sampled_from(["a", "b"]), st.integers(0, 2)),
        min_size=1,
        max_size=60,
    ),
    grid=st.lists(st.integers(1, 12), min_size=1, max_size=6, unique=True),
)
def test_km_node_counts__counts_add_up_over_any_split_of_the_rows(
    rows: list[tuple[int, bool, str, int]], grid: list[int]
) -> None:
    # The coordinator's sums are the pooled counts whichever node holds which row.
    time = np.array([r[0] for r in rows], dtype=float)
    event = np.array([r[1] for r in rows], dtype=float)
    group = np.array([r[2] for r in rows])
    node = np.array([r[3] for r in rows])
    points = sorted(float(t) for t in grid)

    def count(mask: np.ndarray) -> KmNodeCounts:
        return km_node_counts(
            time[mask], event[mask], group[mask], grid=points, groups=("a", "b"), min_cell_count=1
        )

    pooled = count(np.ones(len(rows), dtype=bool))
    parts = [count(node == i) for i in range(3)]
    for field in ("events", "at_risk", "censored"):
        np.testing.assert_array_equal(sum(getattr(p, field) for p in parts), getattr(pooled, field))
