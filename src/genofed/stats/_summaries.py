"""Federated means and variances per group, combined exactly, with disclosure control per cell.

Each node releases, per public group, the count ``n``, the mean ``x̄`` and the sum of squared
deviations from it, ``M₂ = Σ(x − x̄)²``: the same information as ``(n, Σx, Σx²)``, since ``Σx = n·x̄``
and ``Σx² = M₂ + n·x̄²``, but without the cancellation of ``Σx² − (Σx)²/n`` when the mean is large
against the spread. The coordinator pools them exactly with the parallel-variance update of Chan,
Golub & LeVeque (1979): ``M₂ = Σ_i M₂,i + Σ_i n_i (x̄_i − x̄)²``.

A cell (one group at one node) holding 1 to ``min_cell_count − 1`` individuals is suppressed at the
node: its count and sums are not released (they are NaN / -1, flagged). The coordinator then pools
the released cells only and says how many nodes withheld the group, so a reader knows the pooled
figure does not cover everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from genofed.errors import QueryError

from ._arrays import FloatArray, IntArray, as_vector, frozen

__all__ = [
    "GroupSummary",
    "SummaryNodeStats",
    "WelchTest",
    "combine_summaries",
    "mean_interval",
    "summary_node_stats",
    "welch_t_test",
]


@dataclass(frozen=True, slots=True)
class SummaryNodeStats:
    """One node's per-group count, mean and sum of squared deviations; suppressed cells hold -1 / NaN."""

    groups: tuple[str, ...]
    n: IntArray
    mean: FloatArray
    sum_squares: FloatArray
    suppressed: npt.NDArray[np.bool_]


def summary_node_stats(
    x: npt.ArrayLike,
    group: Sequence[str] | npt.ArrayLike | None = None,
    *,
    groups: Sequence[str] = ("all",),
    min_cell_count: int,
) -> SummaryNodeStats:
    """One node's sufficient statistics for the mean and variance of ``x`` in each public group.

    Parameters
    ----------
    x
        The values ``(N,)``, finite.
    group
        Each value's group label ``(N,)``; ``None`` puts every value in the single group of ``groups``.
    groups
        The public group labels.
    min_cell_count
        Cells with 1 to ``min_cell_count − 1`` values are suppressed (not released).

    Returns
    -------
    SummaryNodeStats
        Per group: ``n``, ``x̄`` and ``Σ(x − x̄)²``, or the suppression flag.

    Raises
    ------
    genofed.errors.QueryError
        When the arrays are malformed or a label is not a public group.

    References
    ----------
    Chan, T. F., Golub, G. H. & LeVeque, R. J. (1979). Updating formulae and a pairwise algorithm for
    computing sample variances. Stanford CS report STAN-CS-79-773.

    Examples
    --------
    >>> stats = summary_node_stats([1.0, 2.0, 3.0, 10.0], ["a", "a", "a", "b"], groups=("a", "b"),
    ...                            min_cell_count=2)
    >>> stats.n.tolist(), stats.mean.tolist(), stats.suppressed.tolist()
    ([3, -1], [2.0, nan], [False, True])
    """
    values = as_vector(x, "x")
    labels = tuple(str(g) for g in groups)
    if not labels or len(set(labels)) != len(labels):
        raise QueryError("groups must name at least one group, each once")
    if group is None:
        if len(labels) != 1:
            raise QueryError("without a group for each value, groups must name exactly one group")
        member = np.zeros(values.shape[0], dtype=np.int64)
    else:
        given = np.asarray(group, dtype=object).reshape(-1)
        if given.shape[0] != values.shape[0]:
            raise QueryError(f"group must have {values.shape[0]} entries, got {given.shape[0]}")
        position = {label: i for i, label in enumerate(labels)}
        unknown = sorted({str(g) for g in given} - set(position))
        if unknown:
            raise QueryError(f"group labels {unknown} are not among the study's groups {list(labels)}")
        member = np.array([position[str(g)] for g in given], dtype=np.int64)
    n_groups = len(labels)
    n = np.bincount(member, minlength=n_groups).astype(np.int64)
    suppressed = (n > 0) & (n < min_cell_count)
    size = np.maximum(n, 1)
    mean = np.bincount(member, weights=values, minlength=n_groups) / size
    # One correction pass (the mean of the residuals) recovers the digits the plain sum lost.
    mean += np.bincount(member, weights=values - mean[member], minlength=n_groups) / size
    sum_squares = np.bincount(member, weights=(values - mean[member]) ** 2, minlength=n_groups)
    return SummaryNodeStats(
        groups=labels,
        n=frozen(np.where(suppressed, -1, n)),
        mean=frozen(np.where(suppressed, np.nan, mean)),
        sum_squares=frozen(np.where(suppressed, np.nan, sum_squares)),
        suppressed=frozen(suppressed),
    )


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """The pooled summary of one group over the nodes that released it.

    ``variance`` is the sample variance (divisor ``n − 1``); ``standard_error`` is that of the mean.
    ``nodes_suppressed`` counts nodes that withheld a small cell of this group; when it is not zero,
    the figures cover only the other nodes.
    """

    group: str
    n: int
    mean: float
    variance: float
    sd: float
    standard_error: float
    nodes_suppressed: int


def combine_summaries(stats: Sequence[SummaryNodeStats]) -> tuple[GroupSummary, ...]:
    """Pool the nodes' per-group statistics exactly into means and sample variances.

    Parameters
    ----------
    stats
        One :class:`SummaryNodeStats` per node, all for the same groups.

    Returns
    -------
    tuple of GroupSummary
        One per group, in ``groups`` order; mean and variance are NaN when fewer than one (mean) or two
        (variance) values were released.

    References
    ----------
    Chan, T. F., Golub, G. H. & LeVeque, R. J. (1979). STAN-CS-79-773 (pairwise variance update).

    Examples
    --------
    >>> a = summary_node_stats([1.0, 2.0, 3.0], min_cell_count=1)
    >>> b = summary_node_stats([4.0, 5.0], min_cell_count=1)
    >>> (pooled,) = combine_summaries([a, b])
    >>> pooled.n, pooled.mean, pooled.variance
    (5, 3.0, 2.5)
    """
    if not stats:
        raise QueryError("combining summaries needs at least one node's statistics, got none")
    groups = stats[0].groups
    for index, node in enumerate(stats):
        if node.groups != groups:
            raise QueryError(f"node statistics {index} are for other groups than node statistics 0")
    out = []
    for g, label in enumerate(groups):
        released = [s for s in stats if not s.suppressed[g] and s.n[g] > 0]
        n = sum(int(s.n[g]) for s in released)
        if n == 0:
            mean = variance = float("nan")
        else:
            # Pool the means as offsets from one of them, to keep their digits.
            anchor = float(released[0].mean[g])
            mean = anchor + sum(int(s.n[g]) * (float(s.mean[g]) - anchor) for s in released) / n
            m2 = sum(float(s.sum_squares[g]) + int(s.n[g]) * (float(s.mean[g]) - mean) ** 2 for s in released)
            variance = m2 / (n - 1) if n > 1 else float("nan")
        sd = float(np.sqrt(variance))
        out.append(
            GroupSummary(
                group=label,
                n=n,
                mean=mean,
                variance=variance,
                sd=sd,
                standard_error=sd / float(np.sqrt(n)) if n > 0 else float("nan"),
                nodes_suppressed=sum(bool(s.suppressed[g]) for s in stats),
            )
        )
    return tuple(out)


def mean_interval(summary: GroupSummary, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Student-t confidence interval of a pooled group's mean, ``x̄ ± t₍ₙ₋₁₎ · s/√n``.

    Parameters
    ----------
    summary
        A pooled group summary, as from :func:`combine_summaries`.
    confidence
        The interval's level.

    Returns
    -------
    tuple of float
        Lower and upper limit; NaN for fewer than two values.

    Examples
    --------
    >>> (pooled,) = combine_summaries([summary_node_stats([1.0, 2.0, 3.0, 4.0], min_cell_count=1)])
    >>> [round(v, 4) for v in mean_interval(pooled)]
    [0.4457, 4.5543]
    """
    from scipy.special import stdtrit

    if summary.n < 2:
        return float("nan"), float("nan")
    critical = float(stdtrit(summary.n - 1, 0.5 + confidence / 2.0))
    half = critical * summary.standard_error
    return summary.mean - half, summary.mean + half


@dataclass(frozen=True, slots=True)
class WelchTest:
    """Welch's two-sample t-test of equal means (``first`` minus ``second``)."""

    first: str
    second: str
    mean_difference: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    confidence: float


def welch_t_test(
    summaries: Sequence[GroupSummary], first: str, second: str, *, confidence: float = 0.95
) -> WelchTest:
    """Welch's unequal-variance t-test between two pooled groups, from their summaries alone.

    Parameters
    ----------
    summaries
        Pooled group summaries, as from :func:`combine_summaries`.
    first, second
        The groups to compare; the difference is ``first − second``.
    confidence
        Level of the interval for the difference of means.

    Returns
    -------
    WelchTest
        The t statistic, Welch–Satterthwaite degrees of freedom, two-sided p-value and interval.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different population
    variances are involved. *Biometrika* 34(1–2), 28–35.
    """
    from scipy.special import stdtr, stdtrit

    by_group = {s.group: s for s in summaries}
    missing = [g for g in (first, second) if g not in by_group]
    if missing:
        raise QueryError(f"no summary for groups {missing}; groups: {sorted(by_group)}")
    a, b = by_group[first], by_group[second]
    if a.n < 2 or b.n < 2:
        raise QueryError("Welch's test needs at least two released values in each group")
    va, vb = a.variance / a.n, b.variance / b.n
    se = float(np.sqrt(va + vb))
    difference = a.mean - b.mean
    statistic = difference / se
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    critical = float(stdtrit(df, 0.5 + confidence / 2.0))
    return WelchTest(
        first=first,
        second=second,
        mean_difference=difference,
        statistic=statistic,
        df=float(df),
        p_value=float(2.0 * stdtr(df, -abs(statistic))),
        ci_lower=difference - critical * se,
        ci_upper=difference + critical * se,
        confidence=confidence,
    )
