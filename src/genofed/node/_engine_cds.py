"""The node side of the federated WGS-benefit analysis (decision support over the node's cohort).

The node reads its cohort's findings, matches them to its knowledge base (``knowledge:`` in the
node settings; the releases in force on the study's ``as_of`` date), emulates the named packaged
panel on the same genomes, and counts per tumour type (and optional second grouping) the patients
actionable by the panel too, by WGS only, and not at all. Those three counts partition each group,
so each group's three counts and its size form a one-row table that passes the policy like a
cross-tab (`genofed.privacy.protect_table`: small cells withheld, a complementary cell withheld where
the size would reveal one). No total across groups is released, so groups are protected one by one.
The WGS-only class counts are subsets of the WGS-only cell: released only when that cell is released
exactly, and withheld when they or their remainder are 1..k-1. Every released number names its
people for the differencing guard.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path
from typing import Any

from genofed.api import BenefitCell, WgsBenefitAnalysis, WgsBenefitResult
from genofed.cds import (
    PACKAGED_PANELS,
    KnowledgeBase,
    benefit_members,
    cohort_findings,
    list_releases,
    load_panel,
    match_findings,
    patient_groups,
)
from genofed.errors import DisclosureError, QueryError
from genofed.model import oncotree
from genofed.privacy import CellStatus, DisclosurePolicy, ReleasedCount, protect_table, release_count
from genofed.query import CohortFilter, cohort_members_plan

from ._context import NodeContext
from ._engine_stats import StatisticsRelease

__all__ = ["wgs_benefit"]

#: The columns of each group's count table; they partition the group.
_ATOMS = ("panel_actionable", "wgs_only", "not_actionable")
_CLASSES = ("wgs_only_sv_fusion", "wgs_only_signature", "wgs_only_germline", "wgs_only_other")

_KB_LOCK = threading.Lock()
_KB_CACHE: dict[tuple[Path, dt.date | None, tuple[tuple[str, dt.date], ...]], KnowledgeBase] = {}


def _knowledge(node: NodeContext, as_of: dt.date | None) -> KnowledgeBase:
    """The node's knowledge base as of a date, opened once per (folder, date)."""
    folder = node.settings.knowledge
    if folder is None:
        raise QueryError(
            "this node has no knowledge base configured (knowledge: in its settings), so it cannot "
            "answer decision-support analyses"
        )
    when = as_of or node.settings.knowledge_as_of
    # Keyed by the releases present too, so a release imported while the node runs is picked up.
    present = tuple(sorted((r.source, r.release) for r in list_releases(folder)))
    key = (folder, when, present)
    with _KB_LOCK:
        if key not in _KB_CACHE:
            _KB_CACHE.clear()  # one knowledge base in memory per node process is enough
            _KB_CACHE[key] = KnowledgeBase.open(folder, as_of=when)
        return _KB_CACHE[key]


def _withheld() -> ReleasedCount:
    return ReleasedCount(value=None, lower=0, upper=None, status=CellStatus.COMPLEMENTARY, display="×")


def _class_count(count: int, wgs_only: ReleasedCount, policy: DisclosurePolicy) -> ReleasedCount:
    """A WGS-only class count: a subset of the WGS-only cell, released only beside it."""
    if wgs_only.value is None:
        return _withheld()
    remainder = wgs_only.value - count
    if 0 < remainder < policy.min_cell_count:
        return _withheld()
    return release_count(count, policy)


def wgs_benefit(
    node: NodeContext,
    cohort: CohortFilter,
    analysis: WgsBenefitAnalysis,
    policy: DisclosurePolicy,
    *,
    noise: bool,
) -> StatisticsRelease:
    """Per-group counts of patients actionable by the panel, by WGS only, and not at all.

    Raises
    ------
    QueryError
        No knowledge base is configured, or the panel is not one the node holds.
    DisclosureError
        Differential privacy is on (these counts are not noised).
    """
    if noise:
        raise DisclosureError(
            "WGS-benefit analyses are not released by this node: its differential privacy covers "
            "cohort counts only"
        )
    if analysis.panel not in PACKAGED_PANELS:
        raise QueryError(
            f"panel {analysis.panel!r} is not held by this node; panels: {', '.join(PACKAGED_PANELS)}"
        )
    kb = _knowledge(node, analysis.as_of)
    panel = load_panel(analysis.panel)
    plan = cohort_members_plan(cohort)
    members = {r["individual_id"] for r in node.store.execute(plan.sql("duckdb"), plan.params).to_pylist()}
    patients = [p for p in cohort_findings(node.store) if p.individual_id in members]
    # Matching uses the patient's own tumour type (on/off-label); the grouping may be coarser.
    matches = {p.individual_id: match_findings(p.findings, kb, p.tumour_type) for p in patients}
    if analysis.level == "tissue":
        patients = [dataclasses.replace(p, tumour_type=_tissue(p.tumour_type)) for p in patients]
    groups = patient_groups(node.store, analysis.group_by) if analysis.group_by else None
    by_group = benefit_members(patients, matches, panel, groups=groups)

    atoms: list[list[set[str]]] = []
    for row in by_group.values():
        not_actionable = row["n"] - row["wgs_actionable"]
        atoms.append([row["panel_actionable"], row["wgs_only"], not_actionable])
    cells: list[BenefitCell] = []
    release = StatisticsRelease(
        result=WgsBenefitResult(panel=analysis.panel, knowledge=_releases(kb), cells=()),
        applied=[],
        displays={},
    )
    # Each group's three cells and its size form a one-row table, protected on its own: no total
    # across groups is released, so no suppressed cell can be recovered through another group.
    withheld = 0
    kept: list[frozenset[str]] = []  # groups released with a value so far in this answer
    k = policy.min_difference
    for r, ((tumour, group), row) in enumerate(by_group.items()):
        table = protect_table([len(people) for people in atoms[r]], policy)
        shown = dict(zip(_ATOMS, table.cells[0], strict=True))
        size = _apart(table.row_totals[0], row["n"], kept, k)
        for name, people in zip(_ATOMS, atoms[r], strict=True):  # wgs_only first: the key number
            if name == "wgs_only":
                shown[name] = _apart(shown[name], people, kept, k)
        for name, people in zip(_ATOMS, atoms[r], strict=True):
            if name != "wgs_only":
                shown[name] = _apart(shown[name], people, kept, k)
        classes = {
            name: _apart(_class_count(len(row[name]), shown["wgs_only"], policy), row[name], kept, k)
            for name in _CLASSES
        }
        cells.append(BenefitCell(tumour_type=tumour, group=group, n=size, **shown, **classes))
        _remember(release, size, row["n"])
        for name, people in zip(_ATOMS, atoms[r], strict=True):
            _remember(release, shown[name], people)
        for name in _CLASSES:
            _remember(release, classes[name], row[name])
        withheld += sum(c.value is None for c in (size, *shown.values()))
    if withheld:
        release.applied.append(
            f"{withheld} count(s) withheld: 1 to {policy.min_cell_count - 1} patients, or "
            "complementary to such a count, or over nearly the same people as another count"
        )
    if policy.rounding_base > 1:
        release.applied.append(f"counts rounded to a multiple of {policy.rounding_base}")
    release.result = WgsBenefitResult(panel=analysis.panel, knowledge=_releases(kb), cells=tuple(cells))
    release.displays = {"cells": [_display(c) for c in cells], "knowledge": list(_releases(kb))}
    return release


def _tissue(code: str | None) -> str | None:
    """The OncoTree level-1 (tissue) node of a tumour type: COADREAD -> BOWEL."""
    tree = oncotree()
    if code is None or code not in tree:
        return code
    chain = (code, *tree.ancestors(code))
    tissues = [c for c in chain if tree.get(c).level == 1]
    return tissues[0] if tissues else code


def _apart(shown: ReleasedCount, people: set[str], kept: list[frozenset[str]], k: int) -> ReleasedCount:
    """``shown``, or withheld when its group differs from one already released here by 1..k-1 people.

    Two numbers of one answer over nearly the same people would tell the few in between apart (the
    differencing guard refuses such answers); withholding the later, less important one keeps the
    answer answerable.
    """
    if shown.value is None or not people:
        return shown
    group = frozenset(people)
    for other in kept:
        if abs(len(group) - len(other)) < k and 0 < len(group ^ other) < k:
            return _withheld()
    kept.append(group)
    return shown


def _releases(kb: KnowledgeBase) -> tuple[str, ...]:
    return tuple(f"{source} {info.release.isoformat()}" for source, info in sorted(kb.releases.items()))


def _remember(release: StatisticsRelease, shown: ReleasedCount, people: set[str]) -> None:
    """Name the people behind a released number for the differencing guard."""
    if not people:
        return
    group = frozenset(people)
    if shown.value is not None:
        if group not in release.groups:
            release.groups.append(group)
    elif shown.status is CellStatus.SMALL and group not in release.small_groups:
        release.small_groups.append(group)


def _display(cell: BenefitCell) -> dict[str, Any]:
    numbers = {name: getattr(cell, name).display for name in ("n", *_ATOMS, *_CLASSES)}
    return {"tumour_type": cell.tumour_type, "group": cell.group, **numbers}
