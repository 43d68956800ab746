"""Combination of released numbers over nodes: interval sums, tables with margins, allele counts.

The oracle is the pooled truth: nodes release numbers with ``genofed.privacy`` (small-cell and
secondary suppression, rounding) from known true counts, and every combined interval must contain
the true pooled value -- and be that value exactly when nothing was suppressed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genofed.api import (
    AlleleCounts,
    AlleleFrequencyAnalysis,
    AlleleFrequencyResult,
    AnalysisRequest,
    AnalysisResponse,
    CountAnalysis,
    CountResult,
    CrossTabAnalysis,
    CrossTabResult,
    DisclosureStatement,
    NodeIdentity,
    SexDimension,
    VariantRef,
)
from genofed.federation import (
    NodeOutcome,
    OutcomeStatus,
    combine,
    combine_allele_frequencies,
    combine_counts,
    combine_crosstabs,
    combined_count,
    disclosure_effects,
)
from genofed.privacy import CellStatus, DisclosurePolicy, ReleasedCount, protect_table, release_count

POLICY = DisclosurePolicy()
KRAS = VariantRef(chrom="12", pos=25245351, ref="C", alt="A")


def _statement() -> DisclosureStatement:
    return DisclosureStatement(
        min_cell_count=5, rounding_base=1, secondary_suppression=True, differential_privacy=False, applied=()
    )


def _outcome(
    node: str, result: CountResult | CrossTabResult | AlleleFrequencyResult, *, as_node: str = ""
) -> NodeOutcome:
    response = AnalysisResponse(
        node=NodeIdentity(node_id=as_node or node, country="SE", name=node),
        request_id=f"req-{node}",
        study="test",
        result=result,
        disclosure=_statement(),
    )
    return NodeOutcome(
        node=node, country="SE", url=f"http://{node}.test", status=OutcomeStatus.ANSWERED, response=response
    )


def _crosstab(counts: list[list[int]], rows: tuple[str, ...], columns: tuple[str, ...]) -> CrossTabResult:
    return CrossTabResult(row_labels=rows, column_labels=columns, table=protect_table(counts, POLICY))


def test_combine_counts__exact_parts_give_the_exact_sum() -> None:
    combined = combine_counts([ReleasedCount.exact(120), ReleasedCount.exact(30), ReleasedCount.exact(0)])
    assert (combined.value, combined.lower, combined.upper, combined.display) == (150, 150, 150, "150")
    assert combined.exact


def test_combine_counts__small_cells_add_as_intervals() -> None:
    combined = combine_counts(
        [release_count(120, POLICY), release_count(3, POLICY), release_count(1, POLICY)]
    )
    assert combined.value is None
    assert (combined.lower, combined.upper, combined.display) == (122, 128, "122–128")
    assert combined.contains(124)
    assert not combined.contains(121)
    assert not combined.contains(129)


def test_combine_counts__a_withheld_part_leaves_only_a_lower_bound() -> None:
    withheld = ReleasedCount(value=None, lower=0, upper=None, status=CellStatus.COMPLEMENTARY, display="×")
    combined = combine_counts([ReleasedCount.exact(45), withheld])
    assert (combined.lower, combined.upper, combined.display) == (45, None, "≥ 45")
    assert combined.contains(10_000)


def test_combine_counts__rounded_parts_give_the_rounding_interval() -> None:
    policy = DisclosurePolicy(rounding_base=10)
    combined = combine_counts([release_count(123, policy), release_count(57, policy)])
    assert (combined.lower, combined.upper) == (115 + 55, 125 + 65)
    assert combined.contains(123 + 57)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=5),
    st.integers(1, 10),
    st.sampled_from([1, 1, 5, 10]),
)
def test_combine_counts__interval_holds_the_pooled_truth(counts: list[int], k: int, base: int) -> None:
    policy = DisclosurePolicy(min_cell_count=k, rounding_base=base)
    combined = combine_counts(release_count(c, policy) for c in counts)
    assert combined.contains(sum(counts))
    if all(c == 0 or (c >= k and base == 1) for c in counts):
        assert combined.value == sum(counts)


def test_combine_crosstabs__cells_and_margins_sum_exactly_when_nothing_is_suppressed() -> None:
    rows, cols = ("female", "male"), ("<50", "≥50")
    a = _crosstab([[10, 20], [30, 40]], rows, cols)
    b = _crosstab([[5, 6], [7, 8]], rows, cols)
    combined = combine_crosstabs([a, b])
    assert [[c.value for c in row] for row in combined.cells] == [[15, 26], [37, 48]]
    assert [c.value for c in combined.row_totals] == [41, 85]
    assert [c.value for c in combined.column_totals] == [52, 74]
    assert combined.total.value == 126
    assert combined.cell("male", "≥50").value == 48


def test_combine_crosstabs__withheld_cells_are_bounded_by_their_released_margins() -> None:
    # The privacy doctest's table: '<5' at (0,0) and three complementary cells; margins released.
    counts = [[3, 10, 20], [12, 15, 30]]
    table = _crosstab(counts, ("a", "b"), ("x", "y", "z"))
    assert table.table.cells[0][1].upper is None  # the node gave no bound for this cell
    combined = combine_crosstabs([table])
    truth = np.asarray(counts)
    for r in range(2):
        for c in range(3):
            cell = combined.cells[r][c]
            assert cell.contains(int(truth[r, c]))
            assert cell.upper is not None, "the exact row and column totals bound every withheld cell"
    assert combined.total.value == int(truth.sum())


def test_combine_crosstabs__labels_in_another_order_are_aligned() -> None:
    a = _crosstab([[10, 20], [30, 40]], ("female", "male"), ("x", "y"))
    b = _crosstab([[8, 7], [6, 5]], ("male", "female"), ("y", "x"))  # b's female row is [5, 6]
    combined = combine_crosstabs([a, b])
    assert combined.cell("female", "x").value == 15
    assert combined.cell("female", "y").value == 26
    assert combined.cell("male", "x").value == 37


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.lists(st.integers(0, 12), min_size=3, max_size=3), min_size=2, max_size=2),
        min_size=1,
        max_size=3,
    )
)
def test_combine_crosstabs__intervals_hold_the_pooled_table(tables: list[list[list[int]]]) -> None:
    rows, cols = ("r0", "r1"), ("c0", "c1", "c2")
    combined = combine_crosstabs([_crosstab(t, rows, cols) for t in tables])
    pooled = np.sum(np.asarray(tables), axis=0)
    for r in range(2):
        for c in range(3):
            assert combined.cells[r][c].contains(int(pooled[r, c]))
            if all(t[r][c] == 0 or t[r][c] >= 5 for t in tables) and combined.cells[r][c].exact:
                assert combined.cells[r][c].value == pooled[r, c]
        assert combined.row_totals[r].contains(int(pooled[r].sum()))
    for c in range(3):
        assert combined.column_totals[c].contains(int(pooled[:, c].sum()))
    assert combined.total.contains(int(pooled.sum()))
    if all(v == 0 or v >= 5 for t in tables for row in t for v in row):
        assert [[x.value for x in row] for row in combined.cells] == pooled.tolist()


def test_combine_allele_frequencies__sums_counts_and_bounds_the_frequency() -> None:
    exact = AlleleFrequencyResult(
        alleles=(
            AlleleCounts(
                variant=KRAS, allele_count=ReleasedCount.exact(10), allele_number=ReleasedCount.exact(200)
            ),
        )
    )
    small = AlleleFrequencyResult(
        alleles=(
            AlleleCounts(
                variant=KRAS, allele_count=release_count(2, POLICY), allele_number=ReleasedCount.exact(100)
            ),
        )
    )
    both = combine_allele_frequencies([KRAS], [exact, exact])
    assert both.alleles[0].frequency == pytest.approx(20 / 400)
    mixed = combine_allele_frequencies([KRAS], [exact, small]).alleles[0]
    assert (mixed.allele_count.lower, mixed.allele_count.upper, mixed.allele_number.value) == (11, 14, 300)
    assert mixed.frequency is None
    assert mixed.frequency_lower == pytest.approx(11 / 300)
    assert mixed.frequency_upper == pytest.approx(14 / 300)
    assert mixed.frequency_lower <= 12 / 300 <= mixed.frequency_upper


def test_combine_allele_frequencies__no_calls_has_no_frequency() -> None:
    zero = AlleleFrequencyResult(
        alleles=(
            AlleleCounts(
                variant=KRAS, allele_count=ReleasedCount.exact(0), allele_number=ReleasedCount.exact(0)
            ),
        )
    )
    allele = combine_allele_frequencies([KRAS], [zero]).alleles[0]
    assert (allele.frequency, allele.display) == (None, "no calls")


def test_combine__a_refusing_node_is_left_out_and_named() -> None:
    request = AnalysisRequest(analysis=CountAnalysis())
    refused = NodeOutcome(
        node="dk", country="DK", url="http://dk.test", status=OutcomeStatus.REFUSED, reason="x"
    )
    outcomes = [_outcome("se", CountResult(count=ReleasedCount.exact(7))), refused]
    combined, final = combine(request, outcomes)
    assert combined is not None
    assert combined.kind == "count"
    assert combined.count.value == 7
    assert final[1] is refused


def test_combine__the_same_node_under_two_names_is_counted_once() -> None:
    request = AnalysisRequest(analysis=CountAnalysis())
    outcomes = [
        _outcome("se", CountResult(count=ReleasedCount.exact(7))),
        _outcome("se-again", CountResult(count=ReleasedCount.exact(7)), as_node="se"),
    ]
    combined, final = combine(request, outcomes)
    assert combined is not None
    assert combined.kind == "count"
    assert combined.count.value == 7
    assert final[1].status is OutcomeStatus.FAILED
    assert "answered as node 'se'" in (final[1].reason or "")


def test_combine__a_table_with_other_labels_or_contradictory_margins_fails_that_node() -> None:
    request = AnalysisRequest(analysis=CrossTabAnalysis(rows=SexDimension()))
    good = _crosstab([[10, 20]], ("all",), ("female", "male"))
    other = _crosstab([[10, 20]], ("all",), ("female", "unknown"))
    broken = good.model_copy(
        update={"table": good.table.model_copy(update={"total": ReleasedCount.exact(99)})}
    )
    combined, final = combine(request, [_outcome("se", good), _outcome("nl", other), _outcome("dk", broken)])
    assert [o.status for o in final] == [OutcomeStatus.ANSWERED, OutcomeStatus.FAILED, OutcomeStatus.FAILED]
    assert "labels" in (final[1].reason or "")
    assert "contradict" in (final[2].reason or "")
    assert combined is not None
    assert combined.kind == "crosstab"
    assert combined.total.value == 30


def test_combine__allele_counts_missing_a_requested_allele_fail_that_node() -> None:
    other = VariantRef(chrom="7", pos=140753336, ref="A", alt="T")
    request = AnalysisRequest(analysis=AlleleFrequencyAnalysis(variants=(KRAS, other)))
    partial = AlleleFrequencyResult(
        alleles=(
            AlleleCounts(
                variant=KRAS, allele_count=ReleasedCount.exact(1), allele_number=ReleasedCount.exact(9)
            ),
        )
    )
    combined, final = combine(request, [_outcome("se", partial)])
    assert combined is None
    assert final[0].status is OutcomeStatus.FAILED
    assert "7-140753336-A-T" in (final[0].reason or "")


def test_combined_count__display_forms() -> None:
    assert combined_count(3, 3).display == "3"
    assert combined_count(0, float("inf")).display == "≥ 0"
    assert combined_count(10, 14).display == "10–14"


def test_disclosure_effects__summarised_from_the_numbers_when_the_node_says_nothing() -> None:
    table = _crosstab([[3, 10, 20], [12, 15, 30]], ("a", "b"), ("x", "y", "z"))
    effects = disclosure_effects(
        [_outcome("se", table), _outcome("nl", CountResult(count=ReleasedCount.exact(9)))]
    )
    assert effects == (
        "se: 1 number(s) below 5 shown as <5; 3 withheld to protect them (secondary suppression)",
    )
