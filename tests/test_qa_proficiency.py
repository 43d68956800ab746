"""Proficiency testing across nodes: node-side benchmarks of a reference sample, compared by the coordinator.

Oracles: the node's counts equal :func:`genofed.qa.benchmark` run directly on the same VCFs; the
coordinator's tests equal scipy's on contingency tables built here from the counts; a lab with
planted extra false negatives is flagged and the others are not.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from scipy.stats import chi2_contingency, fisher_exact
from typer.testing import CliRunner

from genofed.api import AnalysisRequest, ProficiencyAnalysis, ProficiencyResult, ProficiencyRow
from genofed.federation import Federation, compare_proficiency, render_proficiency
from genofed.ingest import VcfReader
from genofed.node import NodeSettings, create_app
from genofed.node._engine_qa import join_alleles
from genofed.privacy import verify_audit_log
from genofed.qa import SampleQcPolicy, benchmark, flag_samples, jeffreys_interval
from genofed.store import NodeStore
from genofed.synth import ProficiencySet, write_proficiency_set

SAMPLE = "GF-REF-1"
TRUTH = "synthetic-ref"
COUNT_FIELDS = {
    "truth_total": "TRUTH.TOTAL",
    "truth_tp": "TRUTH.TP",
    "truth_fn": "TRUTH.FN",
    "query_total": "QUERY.TOTAL",
    "query_tp": "QUERY.TP",
    "query_fp": "QUERY.FP",
    "query_unk": "QUERY.UNK",
    "fp_gt": "FP.gt",
}


def _client(app: Any) -> Any:
    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():
        # Starlette would rather its TestClient ran on the httpx2 fork; it works the same on httpx.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient
    return TestClient(app)


def _ingest(store_dir: Path, vcf: Path) -> Path:
    reader = VcfReader(vcf)
    with NodeStore.open(store_dir, create=True) as store:
        store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
    return store_dir


def _proficiency_settings(ps: ProficiencySet, samples: tuple[str, ...] = (SAMPLE,)) -> dict[str, Any]:
    return {
        "truth_sets": {
            TRUTH: {
                "vcf": str(ps.truth_vcf),
                "regions": str(ps.regions),
                "strata": str(ps.strata),
                "reference": str(ps.reference),
            }
        },
        "reference_samples": list(samples),
    }


def _settings(tmp: Path, store: Path, ps: ProficiencySet, **extra: Any) -> NodeSettings:
    (tmp / "policy.yaml").write_text("min_cell_count: 5\n")
    data = {
        "node_id": "se",
        "country": "SE",
        "data_dir": str(store),
        "state_dir": str(tmp / "state"),
        "policy": "policy.yaml",
        "anonymous_access": True,
        "proficiency": _proficiency_settings(ps),
        **extra,
    }
    return NodeSettings.from_mapping(data, base=tmp)


@pytest.fixture(scope="module")
def proficiency_set(tmp_path_factory: pytest.TempPathFactory) -> ProficiencySet:
    return write_proficiency_set(tmp_path_factory.mktemp("proficiency"), sample=SAMPLE, seed=3)


def _ask(client: Any, **analysis: Any) -> Any:
    return client.post(
        "/analyses", json={"analysis": {"kind": "proficiency", "truth_set": TRUTH, **analysis}}
    )


# -- the node ------------------------------------------------------------------------------------
def test_proficiency__node_counts_equal_benchmark_on_the_vcfs(
    tmp_path: Path, proficiency_set: ProficiencySet
) -> None:
    ps = proficiency_set
    store = _ingest(tmp_path / "store", ps.queries["nl"])
    settings = _settings(tmp_path, store, ps)
    with _client(create_app(settings)) as client:
        response = _ask(client, sample=SAMPLE, stratified=True)
    assert response.status_code == 200, response.text
    result = ProficiencyResult.model_validate(response.json()["result"])
    direct = benchmark(
        ps.truth_vcf, ps.queries["nl"], reference=ps.reference, regions=ps.regions, strata=ps.strata
    )
    expected = {
        (r["Type"], r["Subset"], r["Filter"]): {f: r[c] for f, c in COUNT_FIELDS.items()}
        for r in direct.rows
        if r["Subtype"] == "*" and r["Genotype"] == "*"
    }
    got = {(r.type, r.subset, r.filter): {f: getattr(r, f) for f in COUNT_FIELDS} for r in result.rows}
    assert got == expected
    assert {k[1] for k in got} == {"*", "homopolymer", "other"}
    assert got[("INDEL", "*", "PASS")]["truth_fn"] > 0  # the NL profile misses indels
    assert len(result.truth_digest) == 64


def test_proficiency__reference_sample_flagged_by_sample_qc_is_still_benchmarked(
    tmp_path: Path, proficiency_set: ProficiencySet
) -> None:
    ps = proficiency_set
    store = _ingest(tmp_path / "store", ps.queries["se"])
    with NodeStore.open(store) as opened:
        # Reference material reports no coverage: under missing=fail it is flagged out of analyses.
        summary = flag_samples(opened, SampleQcPolicy(min_mean_coverage=30, missing="fail"))
        assert summary.failed == 1
        assert opened.execute("SELECT count(*) AS n FROM variant_calls").to_pylist() == [{"n": 0}]
    settings = _settings(tmp_path, store, ps)
    with _client(create_app(settings)) as client:
        response = _ask(client, sample=SAMPLE)
    assert response.status_code == 200, response.text
    rows = response.json()["result"]["rows"]
    direct = benchmark(ps.truth_vcf, ps.queries["se"], reference=ps.reference, regions=ps.regions)
    snp = next(r for r in rows if (r["type"], r["filter"]) == ("SNP", "PASS"))
    assert snp["truth_tp"] == direct.row("SNP", "PASS")["TRUTH.TP"]
    assert {r["subset"] for r in rows} == {"*"}


def test_proficiency__unlisted_sample_is_refused_and_audited(
    tmp_path: Path, proficiency_set: ProficiencySet
) -> None:
    ps = proficiency_set
    store = _ingest(tmp_path / "store", ps.queries["se"])
    settings = _settings(tmp_path, store, ps)
    with _client(create_app(settings)) as client:
        refused = _ask(client, sample="PATIENT-0001")
        unknown_truth = client.post(
            "/analyses", json={"analysis": {"kind": "proficiency", "truth_set": "giab", "sample": SAMPLE}}
        )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/forbidden")
    assert "'PATIENT-0001' is not a reference sample" in refused.json()["detail"]
    assert unknown_truth.status_code == 400
    assert "holds no truth set 'giab' (it holds: synthetic-ref)" in unknown_truth.json()["detail"]
    with NodeStore.open(store) as opened:
        assert verify_audit_log(settings.audit_log_path, opened.secret) == []
    events = [json.loads(line)["event"] for line in settings.audit_log_path.read_text().splitlines()]
    asked = [e["analysis"]["sample"] for e in events if e["type"] == "analysis"]
    assert asked == ["PATIENT-0001", SAMPLE]
    assert [e["status"] for e in events if e["type"] == "http"] == [403, 400]
    assert not [e for e in events if e["type"] == "release"]


def test_proficiency__no_calls_of_a_listed_sample_is_a_clear_400(
    tmp_path: Path, proficiency_set: ProficiencySet
) -> None:
    ps = proficiency_set
    store = _ingest(tmp_path / "store", ps.queries["se"])
    settings = _settings(
        tmp_path, store, ps, proficiency=_proficiency_settings(ps, samples=(SAMPLE, "HG002"))
    )
    with _client(create_app(settings)) as client:
        response = _ask(client, sample="HG002")
    assert response.status_code == 400
    assert "holds no germline calls of reference sample 'HG002'" in response.json()["detail"]


def test_settings__truth_set_paths_are_relative_to_the_file_and_must_exist(tmp_path: Path) -> None:
    from genofed.errors import ConfigError

    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "t.vcf").write_text("##fileformat=VCFv4.2\n")
    node = {
        "node_id": "se",
        "country": "SE",
        "data_dir": "store",
        "anonymous_access": True,
        "proficiency": {"truth_sets": {"t": {"vcf": "truth/t.vcf"}}, "reference_samples": ["NA12878"]},
    }
    (tmp_path / "node.yaml").write_text(yaml.safe_dump(node))
    settings = NodeSettings.from_yaml(tmp_path / "node.yaml")
    assert settings.proficiency.truth_sets["t"].vcf == tmp_path / "truth" / "t.vcf"
    node["proficiency"] = {"truth_sets": {"t": {"vcf": "truth/missing.vcf"}}}
    (tmp_path / "node.yaml").write_text(yaml.safe_dump(node))
    with pytest.raises(
        ConfigError, match=r"proficiency\.truth_sets\.t: .*vcf: .*missing\.vcf does not exist"
    ):
        NodeSettings.from_yaml(tmp_path / "node.yaml")


def test_join_alleles__het_alt_rows_counted_as_the_vcf_record(tmp_path: Path) -> None:
    header = (
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=248956422,assembly=GRCh38>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
    )
    records = "chr1\t100\t.\tA\tG,T\t.\tPASS\t.\tGT\t1/2\nchr1\t300\t.\tC\tA\t.\tPASS\t.\tGT\t0/1\n"
    vcf = tmp_path / "q.vcf"
    vcf.write_text(header + records)
    store = _ingest(tmp_path / "store", vcf)
    with NodeStore.open(store) as opened:
        calls = opened.execute(
            "SELECT chrom, start, ref, alt, genotype, filter_pass, analysis_id FROM variant_calls"
        )
    assert calls.num_rows == 3  # the store keeps one row per allele
    joined = sorted(
        join_alleles(calls).select(["start", "alt", "genotype"]).to_pylist(), key=lambda r: r["start"]
    )
    assert joined == [
        {"start": 99, "alt": "G,T", "genotype": "1/2"},
        {"start": 299, "alt": "A", "genotype": "0/1"},
    ]
    from genofed.qa import CallSet

    via_store = benchmark(vcf, CallSet.from_arrow(join_alleles(calls)))
    direct = benchmark(vcf, vcf)
    for type_ in ("SNP", "INDEL"):
        for column in COUNT_FIELDS.values():
            assert via_store.row(type_)[column] == direct.row(type_)[column]


# -- the coordinator -----------------------------------------------------------------------------
def _row(
    type_: str, tp: int, fn: int, fp: int, *, filter_: str = "PASS", subset: str = "*"
) -> ProficiencyRow:
    return ProficiencyRow(
        type=type_,  # type: ignore[arg-type]
        subset=subset,
        filter=filter_,  # type: ignore[arg-type]
        truth_total=tp + fn,
        truth_tp=tp,
        truth_fn=fn,
        query_total=tp + fp,
        query_tp=tp,
        query_fp=fp,
        query_unk=0,
        fp_gt=0,
    )


def _result(*rows: ProficiencyRow, digest: str = "d" * 64) -> ProficiencyResult:
    return ProficiencyResult(truth_set=TRUTH, truth_digest=digest, rows=rows)


LABS = {
    "se": _result(_row("SNP", 9_800, 200, 150), _row("INDEL", 950, 50, 30)),
    "nl": _result(_row("SNP", 9_790, 210, 160), _row("INDEL", 820, 180, 28)),  # planted indel FNs
    "dk": _result(_row("SNP", 9_810, 190, 140), _row("INDEL", 945, 55, 35)),
}


def test_compare_proficiency__tests_equal_scipy_on_the_pooled_tables() -> None:
    comparison = compare_proficiency(LABS, sample=SAMPLE)
    tested = [t for t in comparison.tests if t.p_value is not None]
    assert len(tested) == 4
    for type_ in ("SNP", "INDEL"):
        rows = {node: next(r for r in result.rows if r.type == type_) for node, result in LABS.items()}
        recall = [[r.truth_tp, r.truth_fn] for r in rows.values()]
        precision = [[r.query_tp, r.query_fp] for r in rows.values()]
        for metric, table in (("recall", recall), ("precision", precision)):
            chi2, p, dof, _ = chi2_contingency(table)
            test = comparison.test(type_, metric)  # type: ignore[arg-type]
            assert test.method == "chi-square"
            assert test.statistic == pytest.approx(chi2)
            assert test.dof == dof == 2
            assert test.p_value == pytest.approx(p)
            assert test.p_adjusted == pytest.approx(min(1.0, p * 4))
            assert test.pooled == pytest.approx(sum(s for s, _ in table) / sum(s + f for s, f in table))
            for n, node in enumerate(rows):
                rest = [sum(t[0] for t in table) - table[n][0], sum(t[1] for t in table) - table[n][1]]
                _, one_sided = fisher_exact([table[n], rest], alternative="less")
                lab = comparison.lab(node, type_)
                got = lab.recall_p if metric == "recall" else lab.precision_p
                assert got == pytest.approx(min(1.0, one_sided * 12))  # 3 labs × 2 types × 2 metrics


def test_compare_proficiency__lab_with_planted_false_negatives_is_flagged() -> None:
    comparison = compare_proficiency(LABS, sample=SAMPLE)
    flagged = {(m.node, m.type, m.below) for m in comparison.flagged}
    assert flagged == {("nl", "INDEL", ("recall",))}
    assert comparison.test("INDEL", "recall").p_adjusted < 1e-6  # type: ignore[operator]
    assert comparison.test("SNP", "recall").p_adjusted > 0.05  # type: ignore[operator]
    nl = comparison.lab("nl", "INDEL")
    assert nl.recall == pytest.approx(0.82)
    assert (nl.recall_lower, nl.recall_upper) == pytest.approx(jeffreys_interval(820, 1000))
    # F1's interval comes from the 97.5 % bounds of recall and precision and holds the estimate.
    assert nl.f1_lower is not None
    assert nl.f1_upper is not None
    assert nl.f1 is not None
    assert nl.f1_lower < nl.f1 < nl.f1_upper
    r_lo, _ = jeffreys_interval(820, 1000, 0.975)
    p_lo, _ = jeffreys_interval(820, 848, 0.975)
    assert nl.f1_lower == pytest.approx(2 * r_lo * p_lo / (r_lo + p_lo))
    table = comparison.table()
    assert list(table.loc[table["flagged"], "node"]) == ["nl"]
    html = render_proficiency(comparison)
    assert "<svg" in html
    assert "#d62728" in html


def test_compare_proficiency__two_labs_with_small_counts_use_fisher() -> None:
    labs = {"a": _result(_row("INDEL", 10, 0, 1)), "b": _result(_row("INDEL", 6, 4, 1))}
    comparison = compare_proficiency(labs, sample=SAMPLE)
    test = comparison.test("INDEL", "recall")
    odds, p = fisher_exact([[10, 0], [6, 4]])
    assert test.method == "fisher"
    assert test.p_value == pytest.approx(p)
    assert test.statistic == odds
    perfect = comparison.test("INDEL", "precision")
    assert perfect.method == "fisher"  # 10/11 vs 6/7: still variation in FP
    same = compare_proficiency(
        {"a": _result(_row("SNP", 10, 0, 0)), "b": _result(_row("SNP", 20, 0, 0))}, sample=SAMPLE
    )
    assert same.test("SNP", "recall").method == "not testable"
    assert same.test("SNP", "recall").p_value is None
    assert not same.flagged


def test_compare_proficiency__different_truth_files_warn() -> None:
    labs = {**LABS, "dk": _result(*LABS["dk"].rows, digest="e" * 64)}
    comparison = compare_proficiency(labs, sample=SAMPLE)
    assert comparison.warnings
    assert "differs at dk" in comparison.warnings[0]


# -- three real nodes ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, proficiency_set: ProficiencySet) -> Iterator[Any]:
    from federation_nodes import NODES, NodeServer, federation

    work = tmp_path_factory.mktemp("labs")
    nodes = federation(work, patients=20)
    for node in NODES:
        _ingest(nodes.stores[node], proficiency_set.queries[node])
    for node in NODES:
        settings = nodes.settings(node, proficiency=_proficiency_settings(proficiency_set))
        nodes.servers[node] = NodeServer(settings).start()
    yield nodes
    nodes.stop()


def test_federation_proficiency__three_labs_compared_without_their_calls(
    cluster: Any, proficiency_set: ProficiencySet, tmp_path: Path
) -> None:
    ps = proficiency_set
    with Federation.from_registry(cluster.registry(), token=cluster.token()) as fed:
        comparison = fed.proficiency(TRUTH, SAMPLE)
        # Asked as a plain analysis, the labs answer too; their counts are compared, never summed.
        plain = fed.ask(AnalysisRequest(analysis=ProficiencyAnalysis(truth_set=TRUTH, sample=SAMPLE)))
    assert plain.combined is None
    assert [o.status.value for o in plain.outcomes] == ["answered"] * 3
    assert comparison.missing == ()
    assert set(comparison.digests) == {"se", "nl", "dk"}
    assert len(set(comparison.digests.values())) == 1
    for node in ("se", "nl", "dk"):
        direct = benchmark(ps.truth_vcf, ps.queries[node], reference=ps.reference, regions=ps.regions)
        for type_ in ("SNP", "INDEL"):
            lab = comparison.lab(node, type_)
            assert lab.truth_tp == direct.row(type_, "PASS")["TRUTH.TP"]
            assert lab.query_fp == direct.row(type_, "PASS")["QUERY.FP"]
            assert lab.recall == pytest.approx(direct.row(type_, "PASS")["METRIC.Recall"])
    # The NL profile misses indels, above all in homopolymers: it alone is flagged, for indel recall.
    assert {(m.node, m.type, m.below) for m in comparison.flagged} == {("nl", "INDEL", ("recall",))}
    assert not math.isnan(comparison.test("INDEL", "recall").p_value or math.nan)

    registry = cluster.write_registry(tmp_path / "nodes.yaml")
    (tmp_path / "token").write_text(cluster.token())
    from genofed.cli import app

    result = CliRunner().invoke(
        app,
        [
            "qa", "compare", "--registry", str(registry), "--truth-set", TRUTH, "--sample", SAMPLE,
            "--token-file", str(tmp_path / "token"), "--out", str(tmp_path / "proficiency.html"),
            "--stratified",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "flagged: nl INDEL" in result.output
    html = (tmp_path / "proficiency.html").read_text()
    assert html.count("<svg") == 3  # all regions, and the two strata
    assert "homopolymer" in html
