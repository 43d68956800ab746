"""Federated Kaplan–Meier curves and the log-rank test on a public time grid.

The study fixes a public grid ``t_1 < … < t_K`` and the group labels. Each node counts, per group
and grid point, with ``t_0 = −∞``:

* ``events[g, k]`` – events with time in ``(t_{k−1}, t_k]``: an event is attributed to the first grid
  point at or after it, so an event exactly at a grid time belongs to that time; events after
  ``t_K`` are not counted;
* ``at_risk[g, k]`` – everyone with time ≥ ``t_k``, plus the events in ``(t_{k−1}, t_k)``: the number at
  risk at ``t_k`` once each event time is rounded *up* to its grid point (people censored exactly at
  ``t_k`` are at risk at ``t_k``, as in Kaplan–Meier's convention);
* ``censored[g, k]`` – censored with time in ``[t_k, t_{k+1})`` (``t_{K+1} = ∞``): those leaving the
  risk set after ``t_k``, so that ``at_risk[k] = events[k] + censored[k] + at_risk[k+1]`` for k < K.

The coordinator sums these over nodes. ``S(t_k) = Π_{j≤k} (1 − d_j/n_j)`` is then *exactly* the
Kaplan–Meier estimate of the pooled data with every event time rounded up to the grid (censoring
times unchanged). When the grid holds every distinct event time of the pooled data, nothing is
rounded and ``S`` is the ordinary pooled Kaplan–Meier curve at those times; on a coarser grid it is
the Kaplan–Meier curve of grouped data (events delayed to the next grid point).

Variance is Greenwood's, ``Var Ŝ = Ŝ² Σ d/(n(n−d))``; the default intervals are the exponential
Greenwood (log(−log)) ones of Kalbfleisch & Prentice, ``Ŝ^exp(±z·σ)`` with
``σ = sqrt(Σ d/(n(n−d))) / |log Ŝ|`` (lifelines' default too). Points where the pooled number at
risk is below the threshold are withheld (NaN, ``shown`` false); as the number at risk only falls,
they form the tail of the curve.

The log-rank test uses the same summed counts: per grid point, observed and expected events per
group and the hypergeometric covariance, ``χ² = (O − E)ᵀ V⁻ (O − E)`` on ``G − 1`` degrees of freedom
(Mantel 1966; Peto & Peto 1972). With the grid of all distinct event times it is the pooled test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from genofed.errors import QueryError

from ._arrays import FloatArray, IntArray, as_indicator, as_vector, frozen
from ._disclosure import check_group_sizes

__all__ = [
    "KmConfidence",
    "KmCurve",
    "KmNodeCounts",
    "KmResult",
    "LogRankResult",
    "combine_km",
    "km_node_counts",
    "logrank_test",
]


class KmConfidence(StrEnum):
    """The kind of pointwise interval around a Kaplan–Meier curve."""

    LOG_LOG = "log-log"  # exponential Greenwood: Ŝ^exp(±zσ), always within [0, 1]
    PLAIN = "plain"  # Ŝ ± z·sqrt(Greenwood variance), clipped to [0, 1]


@dataclass(frozen=True, slots=True)
class KmNodeCounts:
    """One node's counts per group and grid point; the group's rows in ``groups`` order.

    Attributes
    ----------
    grid
        The public grid the counts are on.
    groups
        The public group labels.
    events
        Events attributed to each grid point, shape ``(G, K)``.
    at_risk
        Numbers at risk at each grid point, shape ``(G, K)``.
    censored
        Censored after each grid point and before the next, shape ``(G, K)``.
    """

    grid: tuple[float, ...]
    groups: tuple[str, ...]
    events: IntArray
    at_risk: IntArray
    censored: IntArray


def _checked_grid(grid: Sequence[float]) -> tuple[float, ...]:
    points = as_vector(np.asarray(grid, dtype=np.float64), "the time grid")
    if points.shape[0] == 0:
        raise QueryError("the time grid must hold at least one time")
    if np.any(np.diff(points) <= 0):
        raise QueryError("the time grid must be strictly increasing")
    return tuple(float(t) for t in points)


def km_node_counts(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    group: Sequence[str] | npt.ArrayLike | None = None,
    *,
    grid: Sequence[float],
    groups: Sequence[str] = ("all",),
    min_cell_count: int,
) -> KmNodeCounts:
    """One node's events, numbers at risk and censored counts per group on the public grid.

    Parameters
    ----------
    time
        Follow-up time of each individual ``(N,)``.
    event
        1 for an event at ``time``, 0 for censoring ``(N,)``.
    group
        Each individual's group label ``(N,)``; ``None`` puts everyone in the single group of ``groups``.
    grid
        The public, strictly increasing time grid of the study.
    groups
        The public group labels; every label in ``group`` must be one of them.
    min_cell_count
        The node refuses when a group holds 1 to ``min_cell_count − 1`` individuals.

    Returns
    -------
    KmNodeCounts
        Counts of shape ``(len(groups), len(grid))``; see the module's documentation for the exact
        attribution of events and censorings to grid points.

    Raises
    ------
    genofed.errors.DisclosureError
        When a group is small at this node (checked before counting).
    genofed.errors.QueryError
        When the arrays or the grid are malformed, or a label is not a public group.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations.
    *JASA* 53, 457–481.

    Examples
    --------
    >>> counts = km_node_counts([1, 2, 2, 3, 5, 6], [1, 1, 0, 1, 0, 1], grid=[2, 4, 6], min_cell_count=1)
    >>> counts.events.tolist(), counts.at_risk.tolist(), counts.censored.tolist()
    ([[2, 1, 1]], [[6, 3, 1]], [[1, 1, 0]])
    """
    times = as_vector(time, "time")
    n = times.shape[0]
    events = as_indicator(event, "the event indicator", length=n) == 1
    points = _checked_grid(grid)
    labels = tuple(str(g) for g in groups)
    if not labels or len(set(labels)) != len(labels):
        raise QueryError("groups must name at least one group, each once")
    if group is None:
        if len(labels) != 1:
            raise QueryError("without a group for each individual, groups must name exactly one group")
        member = np.zeros(n, dtype=np.int64)
    else:
        given = np.asarray(group, dtype=object).reshape(-1)
        if given.shape[0] != n:
            raise QueryError(f"group must have {n} entries, got {given.shape[0]}")
        position = {label: i for i, label in enumerate(labels)}
        unknown = sorted({str(g) for g in given} - set(position))
        if unknown:
            raise QueryError(f"group labels {unknown} are not among the study's groups {list(labels)}")
        member = np.array([position[str(g)] for g in given], dtype=np.int64)
    n_groups, k = len(labels), len(points)
    check_group_sizes(np.bincount(member, minlength=n_groups), labels, min_cell_count=min_cell_count)

    grid_array = np.asarray(points)
    # An event at time T counts at the first grid point ≥ T; a censoring at T is at risk up to the
    # last grid point ≤ T. ``last`` is the last grid index at which each individual is at risk.
    first_at_or_after = np.searchsorted(grid_array, times, side="left")
    last_at_or_before = np.searchsorted(grid_array, times, side="right") - 1
    last = np.where(events, np.minimum(first_at_or_after, k - 1), last_at_or_before)
    counted_event = events & (first_at_or_after < k)

    def per_cell(mask: npt.NDArray[np.bool_], index: npt.NDArray[np.intp]) -> IntArray:
        cells = np.zeros((n_groups, k + 1), dtype=np.int64)
        np.add.at(cells, (member[mask], index[mask] + 1), 1)
        return cells

    event_counts = per_cell(counted_event, first_at_or_after)[:, 1:]
    leaving = per_cell(last >= 0, last)[:, 1:]  # individuals whose last grid point at risk is k
    at_risk = np.cumsum(leaving[:, ::-1], axis=1)[:, ::-1]
    censored_counts = per_cell(~events & (last_at_or_before >= 0), last_at_or_before)[:, 1:]
    return KmNodeCounts(
        grid=points,
        groups=labels,
        events=frozen(event_counts),
        at_risk=frozen(np.ascontiguousarray(at_risk)),
        censored=frozen(censored_counts),
    )


@dataclass(frozen=True, slots=True)
class KmCurve:
    """The pooled Kaplan–Meier curve of one group at the grid points; withheld points are NaN.

    ``at_risk`` and ``events`` are -1 where withheld.
    """

    group: str
    time: FloatArray
    survival: FloatArray
    variance: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    at_risk: IntArray
    events: IntArray
    shown: npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class KmResult:
    """Pooled Kaplan–Meier curves, one per group, and how they were formed."""

    curves: tuple[KmCurve, ...]
    confidence: float
    interval: KmConfidence
    min_at_risk: int

    def curve(self, group: str) -> KmCurve:
        """The curve of ``group``."""
        for curve in self.curves:
            if curve.group == group:
                return curve
        raise KeyError(f"no curve for group {group!r}; groups: {[c.group for c in self.curves]}")


def _summed_counts(counts: Sequence[KmNodeCounts]) -> tuple[KmNodeCounts, IntArray, IntArray]:
    if not counts:
        raise QueryError("combining Kaplan–Meier counts needs at least one node's counts, got none")
    head = counts[0]
    for index, node in enumerate(counts):
        if node.grid != head.grid or node.groups != head.groups:
            raise QueryError(f"node counts {index} are on another grid or other groups than node counts 0")
    events = np.sum([c.events for c in counts], axis=0).astype(np.int64)
    at_risk = np.sum([c.at_risk for c in counts], axis=0).astype(np.int64)
    return head, events, at_risk


def combine_km(
    counts: Sequence[KmNodeCounts],
    *,
    min_at_risk: int,
    confidence: float = 0.95,
    interval: KmConfidence = KmConfidence.LOG_LOG,
) -> KmResult:
    """Pooled Kaplan–Meier curves with Greenwood intervals from the nodes' summed counts.

    Parameters
    ----------
    counts
        One :class:`KmNodeCounts` per node, all on the same grid and groups.
    min_at_risk
        Grid points where a group's pooled number at risk is below this are withheld.
    confidence
        Level of the pointwise intervals.
    interval
        Exponential Greenwood (log(−log), the default) or plain Greenwood intervals.

    Returns
    -------
    KmResult
        One :class:`KmCurve` per group.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). *JASA* 53, 457–481.
    Greenwood, M. (1926). The natural duration of cancer. *Reports on Public Health and Medical
    Subjects* 33, 1–26.
    Kalbfleisch, J. D. & Prentice, R. L. (2002). *The Statistical Analysis of Failure Time Data*, §1.4.

    Examples
    --------
    >>> node = km_node_counts([1, 2, 2, 3, 5, 6], [1, 1, 0, 1, 0, 1], grid=[2, 4, 6], min_cell_count=1)
    >>> combine_km([node, node], min_at_risk=3).curve("all").survival.round(4).tolist()
    [0.6667, 0.4444, nan]
    """
    from scipy.special import ndtri

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    head, events, at_risk = _summed_counts(counts)
    interval = KmConfidence(interval)
    z = float(ndtri(0.5 + confidence / 2.0))
    curves = []
    for g, label in enumerate(head.groups):
        d = events[g].astype(np.float64)
        n = at_risk[g].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(n > 0, 1.0 - d / n, 1.0)
            survival = np.cumprod(factor)
            # Greenwood's term is infinite where everyone at risk dies; S is 0 from then on, so the
            # variance is 0 there and the term is dropped (as lifelines does).
            term = np.where((n > 0) & (n > d), d / (n * (n - d)), 0.0)
            greenwood = np.cumsum(term)
            variance = survival**2 * greenwood
            if interval is KmConfidence.LOG_LOG:
                log_s = np.log(survival)
                spread = z * np.sqrt(greenwood) / log_s  # ≤ 0 where 0 < S < 1
                lower = np.exp(-np.exp(np.log(-log_s) - spread))
                upper = np.exp(-np.exp(np.log(-log_s) + spread))
                no_events_yet = survival == 1.0
                lower = np.where(no_events_yet, 1.0, lower)
                upper = np.where(no_events_yet, 1.0, upper)
            else:
                half = z * np.sqrt(variance)
                lower = np.clip(survival - half, 0.0, 1.0)
                upper = np.clip(survival + half, 0.0, 1.0)
        shown = at_risk[g] >= min_at_risk
        hide = ~shown
        curves.append(
            KmCurve(
                group=label,
                time=frozen(np.asarray(head.grid, dtype=np.float64)),
                survival=frozen(np.where(hide, np.nan, survival)),
                variance=frozen(np.where(hide, np.nan, variance)),
                ci_lower=frozen(np.where(hide, np.nan, lower)),
                ci_upper=frozen(np.where(hide, np.nan, upper)),
                at_risk=frozen(np.where(hide, -1, at_risk[g]).astype(np.int64)),
                events=frozen(np.where(hide, -1, events[g]).astype(np.int64)),
                shown=frozen(shown),
            )
        )
    return KmResult(curves=tuple(curves), confidence=confidence, interval=interval, min_at_risk=min_at_risk)


@dataclass(frozen=True, slots=True)
class LogRankResult:
    """The log-rank test across the groups: χ² on ``G − 1`` degrees of freedom."""

    groups: tuple[str, ...]
    statistic: float
    df: int
    p_value: float
    observed: FloatArray
    expected: FloatArray
    covariance: FloatArray


def logrank_test(counts: Sequence[KmNodeCounts]) -> LogRankResult:
    """The log-rank test of equal survival across groups, from the nodes' summed grid counts.

    Parameters
    ----------
    counts
        One :class:`KmNodeCounts` per node with at least two groups, on the same grid.

    Returns
    -------
    LogRankResult
        The statistic ``(O − E)ᵀ V⁻ (O − E)`` over the first ``G − 1`` groups, its χ² p-value, and the
        observed and expected events per group with their hypergeometric covariance ``V``.

    References
    ----------
    Mantel, N. (1966). Evaluation of survival data and two new rank order statistics arising in its
    consideration. *Cancer Chemother. Rep.* 50(3), 163–170.
    Peto, R. & Peto, J. (1972). Asymptotically efficient rank invariant test procedures.
    *J. R. Stat. Soc. A* 135(2), 185–207.

    Examples
    --------
    >>> a = km_node_counts([1, 3, 4, 6, 2, 5, 7, 8], [1, 1, 1, 0, 1, 1, 0, 1], list("aaaabbbb"),
    ...                    grid=[1, 2, 3, 4, 5, 8], groups=("a", "b"), min_cell_count=1)
    >>> round(logrank_test([a]).statistic, 6)
    0.724183
    """
    from scipy.special import chdtrc

    head, events, at_risk = _summed_counts(counts)
    n_groups = len(head.groups)
    if n_groups < 2:
        raise QueryError("the log-rank test compares at least two groups")
    d = events.astype(np.float64)
    n = at_risk.astype(np.float64)
    d_total = d.sum(axis=0)
    n_total = n.sum(axis=0)
    used = (n_total > 0) & (d_total > 0)
    d, n, d_total, n_total = d[:, used], n[:, used], d_total[used], n_total[used]
    share = n / n_total
    observed = d.sum(axis=1)
    expected = (share * d_total).sum(axis=1)
    # Hypergeometric weight d(N − d)/(N − 1); a time with a single person at risk carries none.
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(n_total > 1, d_total * (n_total - d_total) / (n_total - 1.0), 0.0)
    covariance = np.einsum("k,gk,hk->gh", weight, share, -share)
    covariance[np.diag_indices(n_groups)] += (weight * share).sum(axis=1)
    difference = (observed - expected)[:-1]
    statistic = float(difference @ np.linalg.pinv(covariance[:-1, :-1]) @ difference)
    df = n_groups - 1
    return LogRankResult(
        groups=head.groups,
        statistic=statistic,
        df=df,
        p_value=float(chdtrc(df, statistic)),
        observed=frozen(observed),
        expected=frozen(expected),
        covariance=frozen(covariance),
    )
