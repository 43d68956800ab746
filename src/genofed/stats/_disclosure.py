"""The node's refusal rules for statistical releases, checked before anything is computed.

A model fit releases a score vector and an information matrix; both are sums over the node's rows,
and for a binary column they are, at some β, plain counts. (At β = 0 a logistic fit's information
holds ``n_j / 4`` for an indicator column j and its score ``Σ x_j y − n_j / 2``, so the coordinator learns
the number of events among the carriers of x_j exactly.) The rules therefore bound what such
sums can reveal:

* **rows** – fewer than ``limits.min_rows`` rows: refuse;
* **parameters per row** – ``p / N`` above ``limits.max_parameters_per_row``: refuse (a model with
  almost as many parameters as rows nearly reproduces its rows);
* **binary levels** – a column with exactly two distinct values (a binary covariate), or a binary
  outcome, whose rarer level is held by 1 to ``min_cell_count − 1`` rows: refuse;
* **binary cross-cells** – for GLMs, any pair of binary columns (the binary outcome included) whose
  2×2 table has a cell of 1 to ``min_cell_count − 1`` rows: refuse, because ``XᵀX`` (and the score at
  β = 0) hold those cells exactly;
* **group sizes** – for Kaplan–Meier, a group of 1 to ``min_cell_count − 1`` individuals: refuse.

A count of zero is not small: the project's policy (``DisclosurePolicy.min_cell_count``) suppresses
*non-zero* counts below the minimum, so a node where a column is constant, or where nobody had the
event, still takes part. A refusal is a :class:`genofed.errors.DisclosureError` raised before any
aggregate exists, so nothing partial can leave the node; its message names the rule and the limit but
never the small count itself.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from genofed.errors import DisclosureError
from genofed.privacy import StatisticsLimits

from ._arrays import as_indicator, as_matrix

__all__ = ["check_group_sizes", "check_model_release"]


def _is_small(count: int, min_cell_count: int) -> bool:
    return 0 < count < min_cell_count


def _binary_indicators(x: npt.NDArray[np.float64]) -> tuple[list[int], npt.NDArray[np.float64]]:
    """Columns of ``x`` with exactly two distinct values, and for each the indicator of its larger value."""
    columns: list[int] = []
    indicators: list[npt.NDArray[np.float64]] = []
    if x.shape[0] == 0:
        return columns, np.zeros((0, 0))
    low = x.min(axis=0)
    high = x.max(axis=0)
    for j in np.flatnonzero(low != high):
        column = x[:, j]
        is_high = column == high[j]
        if np.all(is_high | (column == low[j])):
            columns.append(int(j))
            indicators.append(is_high.astype(np.float64))
    if not indicators:
        return columns, np.zeros((x.shape[0], 0))
    return columns, np.column_stack(indicators)


def check_model_release(
    x: npt.ArrayLike,
    *,
    outcome: npt.ArrayLike | None = None,
    outcome_name: str = "outcome",
    cross_cells: bool = True,
    limits: StatisticsLimits,
    min_cell_count: int,
) -> None:
    """Refuse a model-fitting release that would disclose small counts at this node.

    Parameters
    ----------
    x
        The node's design matrix, ``(N, p)``.
    outcome
        A binary outcome (0/1) whose two levels are checked like a binary covariate, or ``None``.
    outcome_name
        What to call the outcome in a refusal message (``"outcome"``, ``"event indicator"``).
    cross_cells
        Also check the 2×2 tables of every pair of binary columns (the outcome included): needed
        when the information matrix is ``XᵀWX`` with a weight that is known at β = 0 (GLMs).
    limits
        The node's :class:`genofed.privacy.StatisticsLimits` (minimum rows, parameters per row).
    min_cell_count
        The node's minimum cell count: non-zero counts below it must not be released.

    Raises
    ------
    genofed.errors.DisclosureError
        Naming the rule that refused; the message gives limits, never the node's small counts.
    genofed.errors.QueryError
        When ``X`` is not a finite matrix or ``outcome`` not a 0/1 vector of its rows.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(40), np.r_[np.ones(3), np.zeros(37)]])
    >>> try:
    ...     check_model_release(x, limits=StatisticsLimits(), min_cell_count=5)
    ... except DisclosureError as refusal:
    ...     print(refusal)
    refused: covariate column 1 has a level held by fewer than 5 rows at this node (min_cell_count)
    """
    x = as_matrix(x, "the design matrix")
    n, p = x.shape
    if n < limits.min_rows:
        raise DisclosureError(
            f"refused: fewer than {limits.min_rows} rows at this node (statistics.min_rows)"
        )
    if p / n > limits.max_parameters_per_row:
        raise DisclosureError(
            f"refused: {p} parameters exceed {limits.max_parameters_per_row:g} parameters per row at this"
            " node (statistics.max_parameters_per_row)"
        )
    columns, indicators = _binary_indicators(x)
    names = [f"covariate column {j}" for j in columns]
    if outcome is not None:
        y = as_indicator(outcome, f"the {outcome_name}", length=n)
        indicators = np.column_stack([indicators, (y == 1).astype(np.float64)])
        names.append(f"the {outcome_name}")
    # Level counts and pairwise cross-cells all follow from the indicators' cross-product matrix.
    both = indicators.T @ indicators
    ones = np.diag(both)
    for name, count in zip(names, ones, strict=True):
        if _is_small(int(count), min_cell_count) or _is_small(int(n - count), min_cell_count):
            raise DisclosureError(
                f"refused: {name} has a level held by fewer than {min_cell_count} rows at this node"
                " (min_cell_count)"
            )
    if not cross_cells:
        return
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            n11 = int(both[a, b])
            n10 = int(ones[a]) - n11
            n01 = int(ones[b]) - n11
            n00 = n - n11 - n10 - n01
            if any(_is_small(c, min_cell_count) for c in (n11, n10, n01, n00)):
                raise DisclosureError(
                    f"refused: {names[a]} and {names[b]} cross-classify into a cell of fewer than"
                    f" {min_cell_count} rows at this node (min_cell_count)"
                )


def check_group_sizes(counts: npt.ArrayLike, groups: tuple[str, ...], *, min_cell_count: int) -> None:
    """Refuse when a group holds 1 to ``min_cell_count − 1`` individuals at this node.

    Parameters
    ----------
    counts
        Individuals per group, aligned with ``groups``.
    groups
        The public group labels.
    min_cell_count
        The node's minimum cell count.

    Raises
    ------
    genofed.errors.DisclosureError
        Naming the group; the message does not give its size.

    Examples
    --------
    >>> check_group_sizes([12, 0], ("treated", "control"), min_cell_count=5)
    >>> try:
    ...     check_group_sizes([12, 3], ("treated", "control"), min_cell_count=5)
    ... except DisclosureError as refusal:
    ...     print(refusal)
    refused: group 'control' has fewer than 5 individuals at this node (min_cell_count)
    """
    for group, count in zip(groups, np.asarray(counts).reshape(-1), strict=True):
        if _is_small(int(count), min_cell_count):
            raise DisclosureError(
                f"refused: group {group!r} has fewer than {min_cell_count} individuals at this node"
                " (min_cell_count)"
            )
