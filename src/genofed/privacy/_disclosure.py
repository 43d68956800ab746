"""Disclosure control of counts and tables: small-cell suppression, secondary suppression, rounding.

A released count is a :class:`ReleasedCount`: the value shown, the interval the true count is known
to lie in (so a coordinator can add "<5" cells from several nodes as intervals), and what was applied.

Tables (one- or two-way, with their margins) get *primary* suppression of every non-zero cell below
the minimum cell count and then *secondary* suppression until no suppressed cell can be recovered
from what is released. Recoverability is audited exactly, as an attacker would compute it: a linear
programme over the suppressed cells, constrained by the released margins, with primary cells known
to lie in ``[1, k-1]`` and complementary cells in ``[0, ∞)``; a primary cell whose feasible range is a
single value is recoverable (Cox 1980; Hundepool et al., *Statistical Disclosure Control*, 2012, §5).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from ._policy import DisclosurePolicy

__all__ = ["CellStatus", "ProtectedTable", "ReleasedCount", "protect_table", "release_count"]


class CellStatus(StrEnum):
    """Why a cell shows what it shows."""

    EXACT = "exact"
    ROUNDED = "rounded"
    SMALL = "small"  # primary suppression: 1 <= n < k, shown as "<k"
    COMPLEMENTARY = "complementary"  # secondary suppression: withheld so that a small cell stays hidden


class ReleasedCount(BaseModel):
    """One released count, with the interval the true value lies in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: int | None
    lower: int
    upper: int | None
    status: CellStatus
    display: str

    @classmethod
    def exact(cls, value: int) -> ReleasedCount:
        return cls(value=value, lower=value, upper=value, status=CellStatus.EXACT, display=str(value))


def release_count(count: int, policy: DisclosurePolicy) -> ReleasedCount:
    """Apply the minimum cell count and rounding to one count.

    >>> release_count(3, DisclosurePolicy()).display
    '<5'
    >>> release_count(0, DisclosurePolicy()).display
    '0'
    >>> release_count(123, DisclosurePolicy(rounding_base=10)).display
    '120'
    """
    if count < 0:
        raise ValueError(f"a count cannot be negative, got {count}")
    k = policy.min_cell_count
    if 0 < count < k:
        return ReleasedCount(value=None, lower=1, upper=k - 1, status=CellStatus.SMALL, display=f"<{k}")
    base = policy.rounding_base
    if base > 1 and count:
        rounded = int(base * round(count / base))
        half = base // 2
        return ReleasedCount(
            value=rounded,
            lower=max(k, rounded - half),
            upper=rounded + half,
            status=CellStatus.ROUNDED,
            display=str(rounded),
        )
    return ReleasedCount.exact(count)


class ProtectedTable(BaseModel):
    """A count table after disclosure control: cells, margins and the grand total."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cells: list[list[ReleasedCount]]
    row_totals: list[ReleasedCount]
    column_totals: list[ReleasedCount]
    total: ReleasedCount

    @property
    def suppressed(self) -> int:
        """Number of cells not released exactly."""
        return sum(c.value is None for row in self.cells for c in row)


def _withheld() -> ReleasedCount:
    return ReleasedCount(value=None, lower=0, upper=None, status=CellStatus.COMPLEMENTARY, display="×")


_MAX_COMPLEMENT_TRIALS = 50


class _Table:
    """The working state of one table under protection: what is withheld, and the attacker's view."""

    def __init__(self, counts: npt.NDArray[np.int64], policy: DisclosurePolicy) -> None:
        self.counts = counts
        self.policy = policy
        self.k = policy.min_cell_count
        self.primary = (counts > 0) & (counts < self.k)
        self.withheld = self.primary.copy()
        n_rows, n_cols = counts.shape
        # A margin along an axis of length one repeats the cells: it is not released separately.
        self.rows_released = np.full(n_rows, n_cols > 1)
        self.cols_released = np.full(n_cols, n_rows > 1)
        self.total_released = True

    def released_cell(self, r: int, c: int) -> ReleasedCount:
        if not self.withheld[r, c] or self.primary[r, c]:
            return release_count(int(self.counts[r, c]), self.policy)
        return _withheld()

    def margins(self) -> list[tuple[list[tuple[int, int]], ReleasedCount]]:
        """Released margins as (cells summed, released value)."""
        n_rows, n_cols = self.counts.shape
        out = [
            ([(r, c) for c in range(n_cols)], release_count(int(self.counts[r].sum()), self.policy))
            for r in range(n_rows)
            if self.rows_released[r]
        ]
        out += [
            ([(r, c) for r in range(n_rows)], release_count(int(self.counts[:, c].sum()), self.policy))
            for c in range(n_cols)
            if self.cols_released[c]
        ]
        if self.total_released:
            cells = [(r, c) for r in range(n_rows) for c in range(n_cols)]
            out.append((cells, release_count(int(self.counts.sum()), self.policy)))
        return out

    def recoverable(self, only: tuple[int, int] | None = None) -> tuple[int, int] | None:
        """The first small cell (or just ``only``) whose value follows from what is released, or None.

        The attacker's model, solved as an integer programme over every cell: a released cell lies in
        its released interval (a point when exact); a cell shown as "<k" in [1, k-1]; a withheld
        complementary cell is 0 or at least k (it is not shown as "<k"), written with a binary b as
        ``k*b <= x <= big*b``; every released margin bounds the sum of its cells by its interval.
        """
        # SciPy is heavy to import and only needed when a table has small cells to protect.
        from scipy.optimize import Bounds, LinearConstraint, milp

        n_rows, n_cols = self.counts.shape
        cells = [(r, c) for r in range(n_rows) for c in range(n_cols)]
        index = {cell: n for n, cell in enumerate(cells)}
        complementary = [cell for cell in cells if self.withheld[cell] and not self.primary[cell]]
        n_x, n_b = len(cells), len(complementary)
        big = float(self.counts.sum() + self.k)
        lb, ub = np.zeros(n_x + n_b), np.ones(n_x + n_b)
        for cell, n in index.items():
            shown = self.released_cell(*cell)
            lb[n] = float(shown.lower)
            ub[n] = big if shown.upper is None else float(shown.upper)
        rows: list[npt.NDArray[np.float64]] = []
        lower: list[float] = []
        upper: list[float] = []
        for members, shown in self.margins():
            row = np.zeros(n_x + n_b)
            row[[index[m] for m in members]] = 1.0
            rows.append(row)
            lower.append(float(shown.lower))
            upper.append(np.inf if shown.upper is None else float(shown.upper))
        for m, cell in enumerate(complementary):
            link = np.zeros(n_x + n_b)
            link[index[cell]], link[n_x + m] = 1.0, -float(self.k)  # x >= k*b
            cap = np.zeros(n_x + n_b)
            cap[index[cell]], cap[n_x + m] = 1.0, -big  # x <= big*b
            rows += [link, cap]
            lower += [0.0, -np.inf]
            upper += [np.inf, 0.0]
        if not rows:
            return None
        constraints = LinearConstraint(np.vstack(rows), np.asarray(lower), np.asarray(upper))
        bounds = Bounds(lb, ub)
        integrality = np.ones(n_x + n_b)
        targets = [only] if only is not None else [cell for cell in cells if self.primary[cell]]
        for cell in targets:
            objective = np.zeros(n_x + n_b)
            objective[index[cell]] = 1.0
            low = milp(objective, constraints=constraints, integrality=integrality, bounds=bounds)
            high = milp(-objective, constraints=constraints, integrality=integrality, bounds=bounds)
            if low.status == 0 and high.status == 0 and round(-high.fun) == round(low.fun):
                return cell
        return None

    def add_complement(self, exposed: tuple[int, int]) -> bool:
        """Withhold one more cell so that the exposed small cell is hidden; False if none is left.

        Tries released cells in order of preference -- same row or column first, then non-zero
        before zero, then smallest (least information lost) -- and keeps the first that hides the
        exposed cell; when none does on its own, withholds the first and lets the caller audit again.
        """
        i, j = exposed
        candidates = [(int(r), int(c)) for r, c in zip(*np.nonzero(~self.withheld), strict=True)]
        if not candidates:
            return False
        counts = self.counts
        candidates.sort(key=lambda rc: (rc[0] != i and rc[1] != j, counts[rc] == 0, counts[rc]))
        for cell in candidates[:_MAX_COMPLEMENT_TRIALS]:
            self.withheld[cell] = True
            if self.recoverable(only=exposed) is None:
                return True
            self.withheld[cell] = False
        self.withheld[candidates[0]] = True
        return True

    def protect(self) -> None:
        """Secondary suppression until no small cell is recoverable."""
        while (exposed := self.recoverable()) is not None:
            if not self.add_complement(exposed):
                # No cell left to hide behind: withhold the margins that pin the cell down.
                self.rows_released[exposed[0]] = False
                self.cols_released[exposed[1]] = False
                self.total_released = False


def protect_table(counts: npt.ArrayLike, policy: DisclosurePolicy) -> ProtectedTable:
    """Protect a one- or two-way count table and its margins.

    A 1-D input is one row. Margins are released (through :func:`release_count`) unless that would
    let an attacker recover a small cell, in which case complementary cells are withheld; when no
    complementary cell can protect it, the margins that pin it down are withheld instead. Margins
    along an axis of length one repeat the cells and are not released.

    >>> t = protect_table([[3, 10, 20], [12, 15, 30]], DisclosurePolicy())
    >>> [[c.display for c in row] for row in t.cells], t.total.display
    ([['<5', '×', '20'], ['×', '×', '30']], '90')
    """
    table = np.asarray(counts, dtype=np.int64)
    if table.ndim == 1:
        table = table[np.newaxis, :]
    if table.ndim != 2 or table.size == 0 or (table < 0).any():
        raise ValueError("a count table must be a non-empty 1-D or 2-D array of non-negative integers")
    work = _Table(table, policy)
    if policy.secondary_suppression and work.primary.any():
        work.protect()
    n_rows, n_cols = table.shape
    return ProtectedTable(
        cells=[[work.released_cell(r, c) for c in range(n_cols)] for r in range(n_rows)],
        row_totals=[
            release_count(int(t), policy) if work.rows_released[r] else _withheld()
            for r, t in enumerate(table.sum(axis=1))
        ]
        if n_cols > 1
        else [],
        column_totals=[
            release_count(int(t), policy) if work.cols_released[c] else _withheld()
            for c, t in enumerate(table.sum(axis=0))
        ]
        if n_rows > 1
        else [],
        total=release_count(int(table.sum()), policy) if work.total_released else _withheld(),
    )
