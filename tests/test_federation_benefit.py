"""The federated WGS-benefit analysis: three real nodes, each matching its cohort to its own knowledge
base; the summed answer equals the analysis of the pooled cohorts, and no node releases 1..k-1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import fixture_path
from federation_nodes import NODES, Cluster, federation
from genofed.api import WgsBenefitAnalysis
from genofed.cds import (
    KnowledgeBase,
    Panel,
    benefit_counts,
    benefit_table,
    cohort_findings,
    import_release,
    match_findings,
    sum_counts,
)
from genofed.federation import CombinedWgsBenefit, Federation, OutcomeStatus
from genofed.store import NodeStore

AS_OF = dt.date(2019, 1, 1)


def _knowledge(folder: Path) -> Path:
    knowledge = fixture_path("knowledge")
    import_release(
        "civic", knowledge / "civic_2018-05_ClinicalEvidenceSummaries.tsv", dt.date(2018, 5, 1), into=folder
    )
    import_release("cgi", knowledge / "cgi_biomarkers_per_variant_2017.tsv", dt.date(2017, 7, 1), into=folder)
    return folder


def _start(cluster: Cluster, kb: Path, *, without: str | None = None) -> Cluster:
    from federation_nodes import NodeServer

    for node in NODES:
        extra = {} if node == without else {"knowledge": str(kb)}
        cluster.servers[node] = NodeServer(cluster.settings(node, **extra)).start()
    return cluster


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _knowledge(tmp_path_factory.mktemp("kb") / "kb")


@pytest.fixture(scope="module")
def exact(tmp_path_factory: pytest.TempPathFactory, kb: Path) -> Iterator[Cluster]:
    """Three nodes whose policy releases every count exactly (k = 1), so sums can equal the pool."""
    cluster = federation(
        tmp_path_factory.mktemp("exact"),
        patients=120,
        policy="min_cell_count: 1\ndifferencing: {enabled: false}\n",
    )
    _start(cluster, kb)
    yield cluster
    cluster.stop()


def _pooled_table(cluster: Cluster, kb: Path, panel: str) -> list[tuple[str, int, int, int, int]]:
    knowledge = KnowledgeBase.open(kb, as_of=AS_OF)
    per_node = []
    for path in cluster.stores.values():
        with NodeStore.open(path) as store:
            cohort = cohort_findings(store)
            matches = {p.individual_id: match_findings(p.findings, knowledge, p.tumour_type) for p in cohort}
            per_node.append(benefit_counts(cohort, matches, Panel.packaged(panel)))
    table = benefit_table(sum_counts(*per_node), panel=panel)
    return [
        (
            r.counts.tumour_type,
            r.counts.n,
            r.counts.wgs_actionable,
            r.counts.panel_actionable,
            r.counts.wgs_only,
        )
        for r in table.rows
    ]


@pytest.mark.parametrize("panel", ["hotspot50", "gms560"])
def test_wgs_benefit__federated_ranking_equals_the_pooled_analysis(
    exact: Cluster, kb: Path, panel: str
) -> None:
    with Federation(exact.registry(), token=exact.token()) as federation_api:
        answer = federation_api.wgs_benefit(panel=panel, as_of=AS_OF)

    assert answer.complete, [(o.node, o.reason) for o in answer.outcomes]
    combined = answer.combined
    assert isinstance(combined, CombinedWgsBenefit)
    got = [
        (r.tumour_type, r.n.value, r.wgs_actionable.value, r.panel_actionable.value, r.wgs_only.value)
        for r in combined.rows
    ]
    assert got == _pooled_table(exact, kb, panel)
    assert [r.rank for r in combined.rows] == list(range(1, len(combined.rows) + 1))
    assert combined.knowledge == ("cgi 2017-07-01", "civic 2018-05-01")
    if panel == "hotspot50":  # the synthetic drivers reach beyond 50 genes, not beyond the broad panel
        assert sum(r.wgs_only.value or 0 for r in combined.rows) > 0


def test_wgs_benefit__as_of_before_a_release_leaves_it_out(exact: Cluster) -> None:
    with Federation(exact.registry(), token=exact.token()) as federation_api:
        answer = federation_api.wgs_benefit(as_of=dt.date(2018, 1, 1))

    assert isinstance(answer.combined, CombinedWgsBenefit)
    assert answer.combined.knowledge == ("cgi 2017-07-01",)


def test_wgs_benefit__small_counts_never_leave_a_node(tmp_path: Path, kb: Path) -> None:
    cluster = _start(federation(tmp_path, patients=60), kb)
    try:
        with Federation(cluster.registry(), token=cluster.token()) as federation_api:
            answer = federation_api.wgs_benefit()
    finally:
        cluster.stop()

    released = [
        getattr(cell, name).value
        for outcome in answer.outcomes
        if outcome.response is not None
        for cell in outcome.response.result.cells  # type: ignore[union-attr]
        for name in type(cell).model_fields
        if name not in ("tumour_type", "group")
    ]
    assert released
    assert not [v for v in released if v is not None and 0 < v < 5]
    assert None in released  # the small synthetic cohorts have small groups: some are withheld
    assert isinstance(answer.combined, CombinedWgsBenefit)
    for row in answer.combined.rows:  # a yield only where its numerator and denominator are exact
        assert (row.incremental_yield is None) == (row.n.value is None or row.wgs_only.value is None)
        assert (row.rank is None) == (row.rank_key is None)


def test_wgs_benefit__tissue_level_groups_patients_by_their_oncotree_tissue(exact: Cluster) -> None:
    with Federation(exact.registry(), token=exact.token("tissue-reader")) as federation_api:
        by_type = federation_api.wgs_benefit(as_of=AS_OF)
        by_tissue = federation_api.ask(
            by_type.request.model_copy(update={"analysis": WgsBenefitAnalysis(level="tissue", as_of=AS_OF)})
        )

    assert isinstance(by_type.combined, CombinedWgsBenefit)
    assert isinstance(by_tissue.combined, CombinedWgsBenefit)
    tissues = {r.tumour_type: r.n.value for r in by_tissue.combined.rows}
    bowel = [r.n.value or 0 for r in by_type.combined.rows if r.tumour_type == "COADREAD"]
    assert tissues["BOWEL"] == sum(bowel)
    assert tissues["LUNG"] == sum(
        r.n.value or 0 for r in by_type.combined.rows if r.tumour_type in ("LUAD", "LUSC", "NSCLC")
    )
    assert sum(tissues.values()) == sum(r.n.value or 0 for r in by_type.combined.rows)


def test_wgs_benefit__a_node_without_knowledge_is_named_missing(tmp_path: Path, kb: Path) -> None:
    cluster = _start(federation(tmp_path, patients=40), kb, without="dk")
    try:
        with Federation(cluster.registry(), token=cluster.token()) as federation_api:
            answer = federation_api.wgs_benefit()
    finally:
        cluster.stop()

    assert answer.missing == ("dk",)
    assert answer.outcome("dk").status is not OutcomeStatus.ANSWERED
    assert "no knowledge base configured" in (answer.outcome("dk").reason or "")
    assert isinstance(answer.combined, CombinedWgsBenefit)


def test_wgs_benefit_analysis__panels_are_names_not_paths() -> None:
    with pytest.raises(ValueError, match="panel"):
        WgsBenefitAnalysis(panel="../../etc/passwd")
