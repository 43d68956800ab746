"""Disclosure control: small cells, rounding, secondary suppression audited by an independent attacker."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genofed.errors import ConfigError
from genofed.privacy import CellStatus, DisclosurePolicy, ProtectedTable, protect_table, release_count

POLICY = DisclosurePolicy()


@pytest.mark.parametrize(
    ("count", "display", "lower", "upper"), [(0, "0", 0, 0), (1, "<5", 1, 4), (4, "<5", 1, 4), (5, "5", 5, 5)]
)
def test_release_count__minimum_cell_count(count: int, display: str, lower: int, upper: int) -> None:
    released = release_count(count, POLICY)
    assert (released.display, released.lower, released.upper) == (display, lower, upper)
    assert (released.value is None) == (0 < count < 5)


def test_release_count__rounding_keeps_the_true_value_in_the_interval() -> None:
    policy = DisclosurePolicy(rounding_base=10)
    for count in range(5, 200):
        released = release_count(count, policy)
        assert released.status is CellStatus.ROUNDED
        assert released.value is not None
        assert released.value % 10 == 0
        assert released.lower <= count <= (released.upper or 0)


def test_policy__tightened_never_weakens() -> None:
    policy = DisclosurePolicy(min_cell_count=10, rounding_base=5)
    assert policy.tightened(min_cell_count=1, rounding_base=1) == policy
    assert policy.tightened(min_cell_count=20).min_cell_count == 20


def test_policy__from_yaml_names_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("min_cell_count: 0\ndifferencing: {enabeld: true}\n")
    with pytest.raises(
        ConfigError, match=r"policy\.yaml: invalid disclosure policy: min_cell_count: .*differencing\.enabeld"
    ):
        DisclosurePolicy.from_yaml(path)


def _brute_force_recoverable(counts: np.ndarray, table: ProtectedTable, k: int) -> list[tuple[int, int]]:
    """An independent attacker: enumerate every table consistent with the release, find pinned small cells.

    Hidden cells range over their possible values (small: 1..k-1; withheld: 0 or k..max), released
    cells and margins must match their shown intervals. A small cell with one possible value across
    all consistent tables is recoverable.
    """
    n_rows, n_cols = counts.shape
    cap = int(counts.sum())
    hidden = [(r, c) for r in range(n_rows) for c in range(n_cols) if table.cells[r][c].value is None]
    domains = []
    for r, c in hidden:
        shown = table.cells[r][c]
        domains.append(range(1, k) if shown.status is CellStatus.SMALL else [0, *range(k, cap + 1)])
    possible: dict[tuple[int, int], set[int]] = {cell: set() for cell in hidden}
    grid = np.array([[table.cells[r][c].value or 0 for c in range(n_cols)] for r in range(n_rows)])
    margins = []
    for r, shown in enumerate(table.row_totals):
        margins.append(([(r, c) for c in range(n_cols)], shown))
    for c, shown in enumerate(table.column_totals):
        margins.append(([(r, c) for r in range(n_rows)], shown))
    margins.append(([(r, c) for r in range(n_rows) for c in range(n_cols)], table.total))
    for values in itertools.product(*domains):
        for (r, c), v in zip(hidden, values, strict=True):
            grid[r, c] = v
        if all(
            shown.lower
            <= sum(int(grid[m]) for m in members)
            <= (shown.upper if shown.upper is not None else 10**9)
            for members, shown in margins
        ):
            for cell, v in zip(hidden, values, strict=True):
                possible[cell].add(v)
    return [
        cell
        for cell in hidden
        if table.cells[cell[0]][cell[1]].status is CellStatus.SMALL and len(possible[cell]) == 1
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda rows: st.integers(1, 3).flatmap(
            lambda cols: st.lists(
                st.lists(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 9, 12]), min_size=cols, max_size=cols),
                min_size=rows,
                max_size=rows,
            )
        )
    )
)
def test_protect_table__no_small_count_is_released_or_recoverable(cells: list[list[int]]) -> None:
    counts = np.array(cells)
    table = protect_table(counts, POLICY)
    shown_values = [c.value for row in table.cells for c in row]
    shown_values += [m.value for m in (*table.row_totals, *table.column_totals, table.total)]
    assert not any(v is not None and 0 < v < 5 for v in shown_values)
    hidden = sum(1 for row in table.cells for c in row if c.value is None)
    if hidden <= 4:  # keep the brute-force attacker's search small
        assert _brute_force_recoverable(counts, table, 5) == []
    for r, row in enumerate(table.cells):
        for c, shown in enumerate(row):
            assert shown.lower <= counts[r, c] <= (shown.upper if shown.upper is not None else 10**9)


def test_protect_table__one_small_cell_in_a_row_gets_a_complement() -> None:
    table = protect_table([[3, 10, 20], [12, 15, 30]], POLICY)
    assert [[c.display for c in row] for row in table.cells] == [["<5", "×", "20"], ["×", "×", "30"]]
    assert table.total.display == "90"
    assert table.suppressed == 4
