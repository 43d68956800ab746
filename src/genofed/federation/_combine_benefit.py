"""Exact combination of the nodes' WGS-benefit counts.

Each answering node released, per tumour type (and second grouping), the patients actionable by the
panel too, by WGS only, and not at all, plus the WGS-only class counts. They are summed per group as
intervals (a withheld cell makes a range). Where a group's ``n`` and WGS-only count are exact, its
incremental yield, its 95% Wilson interval and its rank are computed as `genofed.cds.benefit_table`
computes them on a pooled cohort (same interval, same ordering), so with every count released the
federated ranking equals the pooled one. Groups whose size or WGS-only count was withheld are listed
after the ranked ones, with ranges and no yield.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from genofed.api import BenefitCell, WgsBenefitAnalysis, WgsBenefitResult
from genofed.cds import wilson_interval

from ._answer import BenefitGroupRow, CombinedCount, CombinedWgsBenefit, NodeOutcome, OutcomeStatus
from ._combine import combine_counts, combined_count

__all__ = ["combine_wgs_benefit"]

_CELL_FIELDS = (
    "n",
    "panel_actionable",
    "wgs_only",
    "not_actionable",
    "wgs_only_sv_fusion",
    "wgs_only_signature",
    "wgs_only_germline",
    "wgs_only_other",
)


def _failed(outcome: NodeOutcome, reason: str) -> NodeOutcome:
    return outcome.model_copy(
        update={"status": OutcomeStatus.FAILED, "reason": f"answer not combinable: {reason}"}
    )


def _plus(first: CombinedCount, second: CombinedCount) -> CombinedCount:
    """The sum of two combined counts (wgs_actionable = panel_actionable + wgs_only)."""
    upper = math.inf if first.upper is None or second.upper is None else first.upper + second.upper
    return combined_count(first.lower + second.lower, upper)


def _with_yields(row: BenefitGroupRow) -> BenefitGroupRow:
    """The row with its yields: incremental when n and WGS-only are exact, the others when theirs are."""
    n = row.n.value
    if not n:
        return row
    update: dict[str, float] = {}
    if row.wgs_only.value is not None:
        update["incremental_yield"] = row.wgs_only.value / n
        update["ci_lower"], update["ci_upper"] = wilson_interval(row.wgs_only.value, n)
    elif row.wgs_only.upper is not None:
        update["yield_lower"], update["yield_upper"] = row.wgs_only.lower / n, row.wgs_only.upper / n
    if row.wgs_actionable.value is not None:
        update["wgs_yield"] = row.wgs_actionable.value / n
    if row.panel_actionable.value is not None:
        update["panel_yield"] = row.panel_actionable.value / n
    return row.model_copy(update=update)


def combine_wgs_benefit(
    analysis: WgsBenefitAnalysis, outcomes: Sequence[NodeOutcome]
) -> tuple[CombinedWgsBenefit | None, tuple[NodeOutcome, ...]]:
    """Sum the answered nodes' WGS-benefit cells per group and rank the groups."""
    final: list[NodeOutcome] = []
    answered: list[tuple[str, WgsBenefitResult]] = []
    for outcome in outcomes:
        result = outcome.response.result if outcome.response is not None else None
        if outcome.status is not OutcomeStatus.ANSWERED or result is None:
            final.append(outcome)
        elif not isinstance(result, WgsBenefitResult) or result.panel != analysis.panel:
            final.append(_failed(outcome, f"it did not answer a WGS-benefit analysis for {analysis.panel}"))
        else:
            answered.append((outcome.node, result))
            final.append(outcome)
    if not answered:
        return None, tuple(final)
    cells: dict[tuple[str, str | None], list[tuple[str, BenefitCell]]] = {}
    for node, result in answered:
        for cell in result.cells:
            cells.setdefault((cell.tumour_type, cell.group), []).append((node, cell))
    rows: list[BenefitGroupRow] = []
    for (tumour, group), parts in sorted(cells.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        summed: dict[str, CombinedCount] = {
            name: combine_counts(getattr(cell, name) for _, cell in parts) for name in _CELL_FIELDS
        }
        summed["wgs_actionable"] = _plus(summed["panel_actionable"], summed["wgs_only"])
        rows.append(
            _with_yields(
                BenefitGroupRow.model_validate(
                    {"tumour_type": tumour, "group": group, "nodes": tuple(n for n, _ in parts), **summed}
                )
            )
        )
    # With every count exact this is benefit_table's order; a group with a range ranks by its middle.
    ranked = sorted(
        (r for r in rows if r.rank_key is not None),
        key=lambda r: (-(r.rank_key or 0.0), -(r.n.value or 0), r.tumour_type, r.group or ""),
    )
    ordered = [r.model_copy(update={"rank": rank}) for rank, r in enumerate(ranked, start=1)]
    unranked = [r for r in rows if r.rank_key is None]
    ordered.extend(unranked)
    knowledge = tuple(sorted({k for _, result in answered for k in result.knowledge}))
    notes: list[str] = []
    if len({result.knowledge for _, result in answered}) > 1:
        notes.append(
            "nodes used different knowledge-base releases: "
            + "; ".join(f"{node}: {', '.join(result.knowledge)}" for node, result in answered)
        )
    if any(r.incremental_yield is None for r in ranked):
        notes.append(
            "where a node withheld a small WGS-only count, the yield is a range and ranks by its middle"
        )
    if unranked:
        notes.append(f"{len(unranked)} group(s) whose size or WGS-only count is unbounded are not ranked")
    combined = CombinedWgsBenefit(
        panel=analysis.panel, knowledge=knowledge, rows=tuple(ordered), notes=tuple(notes)
    )
    return combined, tuple(final)
