"""Sample QC: verdicts under the node policy, and failing analyses left out of what the node reads."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from genofed.ingest import VcfReader
from genofed.model import trim_alleles
from genofed.qa import SampleQcPolicy, evaluate_sample_qc, flag_samples
from genofed.query import AlleleFrequencyQuery, run
from genofed.store import NodeStore

# Four diploid samples, every genotype called: AN is 8 at every site, so bcftools' AC/AN after dropping
# a sample is what the store's QC-filtered sites must say.
VCF = """##fileformat=VCFv4.2
##reference=GRCh38
##contig=<ID=1,length=10000>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\tS4
1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0\t0/1
1\t200\t.\tC\tT\t.\tPASS\t.\tGT\t0/0\t0/1\t0/0\t0/0
1\t300\t.\tG\tA,C\t.\tPASS\t.\tGT\t1/2\t0/2\t1/1\t0/0
1\t400\t.\tTA\tT\t.\tPASS\t.\tGT\t0/1\t1/1\t0/1\t1/1
"""


def _ingest(store: NodeStore, path: Path) -> None:
    reader = VcfReader(path)
    store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)


def _metrics(store: NodeStore, coverage: dict[str, float], *, key: str = "metrics") -> None:
    """An analyses batch carrying the samples' coverage, as a QC-metrics file would give it."""
    analyses = store.execute("SELECT DISTINCT individual_id, analysis_id FROM analyses").to_pylist()
    assert len(analyses) == len(coverage)
    # Source ids in, pseudonyms out: recover each analysis's sample name through the pseudonymiser.
    by_pseudonym = {store.pseudonymise(name): name for name in coverage}
    rows = [
        {
            "individual_id": by_pseudonym[a["individual_id"]],
            "analysis_id": _source_analysis(store, a["analysis_id"], coverage),
            "mean_coverage": coverage[by_pseudonym[a["individual_id"]]],
        }
        for a in analyses
    ]
    store.write_batch({"analyses": pa.Table.from_pylist(rows)}, kind="qc-metrics", source="qc.tsv", key=key)


def _source_analysis(store: NodeStore, pseudonym: str, coverage: dict[str, float]) -> str:
    # The VCF adapter names an analysis <vcf name>:<sample> when the sample sheet gives no id.
    for name in coverage:
        if store.pseudonymise(f"sample.vcf:{name}") == pseudonym:
            return f"sample.vcf:{name}"
    raise AssertionError(f"no source id found for analysis {pseudonym}")


@pytest.fixture
def qc_store(tmp_path: Path, store: NodeStore) -> NodeStore:
    vcf = tmp_path / "sample.vcf"
    vcf.write_text(VCF)
    _ingest(store, vcf)
    _metrics(store, {"S1": 40.0, "S2": 12.0, "S3": 35.0, "S4": 31.0})
    return store


def _sites(store: NodeStore) -> dict[tuple[str, int, str, str], tuple[int, int]]:
    rows = store.execute("SELECT chrom, start, ref, alt, allele_count, allele_number FROM variant_sites")
    return {
        (r["chrom"], r["start"], r["ref"], r["alt"]): (r["allele_count"], r["allele_number"])
        for r in rows.to_pylist()
    }


def _bcftools_sites(vcf: Path, exclude: str | None) -> dict[tuple[str, int, str, str], tuple[int, int]]:
    samples = f"-s ^{exclude}" if exclude else ""
    command = (
        f"bcftools view {samples} '{vcf}' | bcftools norm -m- -Ou | bcftools +fill-tags -Ou -- -t AC,AN "
        "| bcftools query -i 'AC>0' -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\n'"
    )
    out = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, check=True
    )
    sites = {}
    for line in out.stdout.splitlines():
        chrom, pos, ref, alt, ac, an = line.split("\t")
        start, tref, talt = trim_alleles(int(pos) - 1, ref, alt)
        sites[(chrom, start, tref, talt)] = (int(ac), int(an))
    return sites


def test_flag_samples__fails_the_analysis_below_the_coverage_threshold(qc_store: NodeStore) -> None:
    summary = flag_samples(qc_store, SampleQcPolicy(min_mean_coverage=30))

    assert (summary.analyses, summary.failed, summary.reasons) == (4, 1, (("mean coverage", 1),))
    verdicts = qc_store.execute("SELECT individual_id, passed, reasons FROM sample_qc").to_pylist()
    failed = [v for v in verdicts if not v["passed"]]
    assert [v["individual_id"] for v in failed] == [qc_store.pseudonymise("S2")]
    assert failed[0]["reasons"] == "mean coverage 12 below 30"


def test_flag_samples__left_out_of_calls_people_and_counts(qc_store: NodeStore) -> None:
    flag_samples(qc_store, SampleQcPolicy(min_mean_coverage=30))
    s2 = qc_store.pseudonymise("S2")

    people = qc_store.execute("SELECT DISTINCT individual_id FROM variant_calls").column(0).to_pylist()
    assert sorted(people) == sorted(qc_store.pseudonymise(s) for s in ("S1", "S3", "S4"))
    assert s2 not in qc_store.execute("SELECT individual_id FROM analyses").column(0).to_pylist()
    with qc_store.including_failed_qc():
        everyone = qc_store.execute("SELECT DISTINCT individual_id FROM variant_calls").num_rows
    assert everyone == 4


def test_flag_samples__queries_answer_without_the_failed_sample(qc_store: NodeStore) -> None:
    query = AlleleFrequencyQuery(chrom="1", pos=100, ref="A", alt="G", assembly="GRCh38")
    before = run(qc_store, query)
    flag_samples(qc_store, SampleQcPolicy(min_mean_coverage=30))

    after = run(qc_store, query)
    with qc_store.including_failed_qc():
        asked_for = run(qc_store, query)

    assert (before.allele_count, before.allele_number) == (4, 8)
    assert (after.allele_count, after.allele_number) == (2, 6)  # S2 (1/1) left out
    assert (asked_for.allele_count, asked_for.allele_number) == (4, 8)


@pytest.mark.bcftools
def test_flag_samples__site_counts_equal_bcftools_without_the_sample(
    tmp_path: Path, qc_store: NodeStore
) -> None:
    if shutil.which("bcftools") is None:
        pytest.skip("bcftools not on PATH")
    flag_samples(qc_store, SampleQcPolicy(min_mean_coverage=30))

    assert _sites(qc_store) == _bcftools_sites(tmp_path / "sample.vcf", "S2")
    with qc_store.including_failed_qc():
        assert _sites(qc_store) == _bcftools_sites(tmp_path / "sample.vcf", None)


def test_flag_samples__a_looser_policy_restores_everyone(qc_store: NodeStore) -> None:
    flag_samples(qc_store, SampleQcPolicy(min_mean_coverage=30))
    assert qc_store.failed_qc_analyses() == 1

    flag_samples(qc_store, SampleQcPolicy(min_mean_coverage=10))

    assert qc_store.failed_qc_analyses() == 0
    assert qc_store.execute("SELECT DISTINCT individual_id FROM variant_calls").num_rows == 4
    assert len(qc_store.catalog.batches) == 3  # the VCF, the metrics, one verdict batch (replaced)


@pytest.mark.parametrize(
    ("policy", "metrics", "expected"),
    [
        (SampleQcPolicy(min_purity=0.2), {"purity": 0.1, "somatic": True}, ["purity 0.1 below 0.2"]),
        (SampleQcPolicy(min_purity=0.2), {"purity": 0.1, "somatic": False}, []),
        (SampleQcPolicy(max_contamination=0.05), {"contamination": 0.1}, ["contamination 0.1 above 0.05"]),
        (
            SampleQcPolicy(),
            {"status": "WARN_DELETED_GENES,FAIL_CONTAMINATION"},
            ["pipeline QC status FAIL_CONTAMINATION"],
        ),
        (SampleQcPolicy(), {"status": "PASS"}, []),
        (SampleQcPolicy(min_mean_coverage=30), {}, []),
        (SampleQcPolicy(min_mean_coverage=30, missing="fail"), {}, ["mean coverage not reported"]),
    ],
)
def test_sample_qc_policy__reasons(
    policy: SampleQcPolicy, metrics: dict[str, object], expected: list[str]
) -> None:
    arguments: dict[str, object] = {
        "coverage": None,
        "purity": None,
        "contamination": None,
        "status": None,
        "somatic": False,
    }
    arguments.update(metrics)
    assert [words for _, words in policy.reasons(**arguments)] == expected  # type: ignore[arg-type]


def test_evaluate_sample_qc__judges_previously_failed_analyses_again(qc_store: NodeStore) -> None:
    flag_samples(qc_store, SampleQcPolicy(min_mean_coverage=30))

    verdicts, summary = evaluate_sample_qc(qc_store, SampleQcPolicy(min_mean_coverage=35))

    assert verdicts.num_rows == 4
    assert summary.failed == 2  # S2 (12) and S4 (31)


# -- on a node: flagged at start-up, left out of answers unless a study asks ------------------------------
def _node_count(client: object, *, include_failed_qc: bool = False) -> int:
    response = client.post(  # type: ignore[attr-defined]
        "/analyses",
        json={"cohort": {"gene": None}, "include_failed_qc": include_failed_qc},
    )
    assert response.status_code == 200, response.text
    return int(response.json()["result"]["count"]["value"])


def test_node__flags_at_start_up_and_studies_may_ask_for_failed_samples(
    tmp_path: Path, qc_store: NodeStore
) -> None:
    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():
        # Starlette would rather its TestClient ran on the httpx2 fork; it works the same on httpx.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    from genofed.node import NodeSettings, create_app
    from genofed.privacy import verify_audit_log

    (tmp_path / "policy.yaml").write_text("min_cell_count: 1\ndifferencing: {enabled: false}\n")
    settings = NodeSettings.from_mapping(
        {
            "node_id": "se",
            "country": "SE",
            "data_dir": str(qc_store.root),
            "state_dir": str(tmp_path / "state"),
            "policy": "policy.yaml",
            "anonymous_access": True,
            "sample_qc": {"min_mean_coverage": 30},
        },
        base=tmp_path,
    )
    with TestClient(create_app(settings)) as client:
        assert _node_count(client) == 3
        assert _node_count(client, include_failed_qc=True) == 4

    assert verify_audit_log(settings.audit_log_path, qc_store.secret) == []
    events = [json.loads(line)["event"] for line in settings.audit_log_path.read_text().splitlines()]
    flagged = [(e["analyses"], e["failed"], e["reasons"]) for e in events if e["type"] == "sample_qc"]
    assert flagged == [(4, 1, {"mean coverage": 1})]
    asked = [e["include_failed_qc"] for e in events if e["type"] == "analysis"]
    assert asked == [False, True]


def test_store_qc_cli__flags_and_lists_failing_analyses(tmp_path: Path, qc_store: NodeStore) -> None:
    from typer.testing import CliRunner

    from genofed.cli import app

    config = tmp_path / "node.yaml"
    config.write_text(
        f"node_id: se\ncountry: SE\ndata_dir: {qc_store.root}\nanonymous_access: true\n"
        "sample_qc: {min_mean_coverage: 30}\n"
    )
    result = CliRunner().invoke(app, ["store", "qc", "--config", str(config)])

    assert result.exit_code == 0, result.output
    assert "4 analyses judged" in result.output
    assert "3 pass, 1 fail" in result.output
    assert "mean coverage 12 below 30" in result.output
    assert qc_store.failed_qc_analyses() == 1


def test_flag_samples__reference_material_is_set_apart_from_patients(qc_store: NodeStore) -> None:
    summary = flag_samples(qc_store, SampleQcPolicy(), reference=[qc_store.pseudonymise("S4")])

    assert (summary.failed, summary.reasons) == (1, (("reference material", 1),))
    people = qc_store.execute("SELECT DISTINCT individual_id FROM variant_calls").column(0).to_pylist()
    assert qc_store.pseudonymise("S4") not in people
    assert len(people) == 3
