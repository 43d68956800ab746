"""The command line: the contract names, JSON output, and errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import cyvcf2
import pytest
from typer.testing import CliRunner

from conftest import fixture_path
from genofed.cli import app

runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def se_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Swedish node built through the CLI, as a node operator would."""
    base = tmp_path_factory.mktemp("cli")
    sources, store = base / "se-src", base / "se-store"
    assert invoke("synth", "--country", "SE", "--patients", "120", "--seed", "3", "--out", sources)[0] == 0
    for kind in ("somatic", "germline"):
        code, output = invoke(
            "ingest",
            "vcf",
            sources / f"{kind}.vcf.gz",
            "--samples",
            sources / f"{kind}.samples.tsv",
            "--store",
            store,
        )
        assert code == 0, output
    tables = [sources / f"{t}.tsv" for t in ("patients", "treatments", "responses")]
    code, output = invoke(
        "ingest", "clinical", *tables, "--mapping", sources / "mapping.yaml", "--store", store
    )
    assert code == 0, output
    return store


def test_query_count__json_answer(se_node: Path) -> None:
    code, output = invoke("query", "count", "--store", se_node, "--format", "json")
    assert code == 0
    assert json.loads(output)["count"] == 120
    code, output = invoke(
        "query", "count", "--store", se_node, "--tumour-type", "COADREAD", "--format", "json"
    )
    colorectal = json.loads(output)["count"]
    code, output = invoke(
        "query",
        "count",
        "--store",
        se_node,
        "--tumour-type",
        "COADREAD",
        "--gene",
        "KRAS",
        "--format",
        "json",
    )
    assert 0 < json.loads(output)["count"] <= colorectal < 120


def test_query_count__protein_change_in_either_notation(se_node: Path) -> None:
    answers = {
        json.loads(
            invoke(
                "query",
                "count",
                "--store",
                se_node,
                "--gene",
                "KRAS",
                "--protein-change",
                p,
                "--format",
                "json",
            )[1]
        )["count"]
        for p in ("p.G12D", "p.Gly12Asp")
    }
    assert len(answers) == 1


def test_export_frequencies__vcf_readable_with_the_stored_counts(se_node: Path, tmp_path: Path) -> None:
    out = tmp_path / "freq.vcf"
    code, output = invoke("export", "frequencies", "--store", se_node, "--format", "vcf", "--out", out)
    assert code == 0, output
    records = list(cyvcf2.VCF(str(out)))
    assert records
    first = records[0]
    code, output = invoke(
        "query", "frequency", "--store", se_node, "--chrom", first.CHROM, "--pos", str(first.POS),
        "--ref", first.REF, "--alt", first.ALT[0], "--format", "json",
    )  # fmt: skip
    answer = json.loads(output)
    assert (answer["allele_count"], answer["allele_number"]) == (first.INFO["AC"], first.INFO["AN"])


def test_errors__printed_without_traceback(tmp_path: Path, se_node: Path) -> None:
    code, output = invoke("query", "count", "--store", se_node, "--tumour-type", "NOPE")
    assert code == 1
    assert "QueryError: CohortFilter.tumour_type: 'NOPE' is not an OncoTree code" in output
    assert "Traceback" not in output
    code, output = invoke("query", "count", "--store", tmp_path / "nowhere")
    assert code == 1
    assert "StoreError" in output


def test_ingest_clinical__dry_run_reports_and_writes_nothing(tmp_path: Path) -> None:
    table = fixture_path("cineca", "uk1.tsv")
    code, output = invoke("ingest", "clinical", table, "--mapping", "cineca-uk1", "--dry-run")
    assert code == 0, output
    assert "every value maps" in output
    assert not (tmp_path / "store").exists()


def test_ingest_vcf__bad_record_fails_and_store_keeps_its_catalog(se_node: Path, tmp_path: Path) -> None:
    catalog = (se_node / "catalog.json").read_text()
    bad = tmp_path / "bad.vcf"
    bad.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        "1\t10\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\n"
        "1\t20\t.\tA\tT\t.\tPASS\t.\tGT\t0/3\n"
    )
    code, output = invoke("ingest", "vcf", bad, "--store", se_node, "--assembly", "GRCh38")
    assert code == 1
    assert "bad.vcf, line 6" in output
    assert (se_node / "catalog.json").read_text() == catalog


def test_store_info__lists_batches(se_node: Path) -> None:
    code, output = invoke("store", "info", "--store", se_node)
    assert code == 0
    assert "somatic.vcf.gz" in output
    assert "variant_calls" in output


def test_demo__three_node_processes_answer_a_federated_study(tmp_path: Path) -> None:
    code, output = invoke("demo", "--out", tmp_path, "--scale", "0.05")
    assert code == 0, output
    assert "nodes serving: SE http://127.0.0.1:" in output
    assert "│ combined │" in output
    report = (tmp_path / "report.html").read_text()
    assert "KRAS in colorectal cancer across SE, NL and DK" in report
    for node in ("se", "nl", "dk"):
        assert (tmp_path / node / "store" / "catalog.json").exists()
        log = (tmp_path / node / "node.log").read_text()
        assert "Traceback" not in log
    catalogs = {
        node: json.loads((tmp_path / node / "store" / "catalog.json").read_text())
        for node in ("se", "nl", "dk")
    }
    kinds = {node: {b["kind"] for b in catalog["batches"]} for node, catalog in catalogs.items()}
    # Besides its cohort, each lab ingested its calls of the shared reference sample (a VCF); the
    # nodes' start-up sample QC published its verdicts.
    assert kinds == {
        "se": {"clinical", "gms", "vcf", "sample-qc"},
        "nl": {"clinical", "hartwig", "vcf", "sample-qc"},
        "dk": {"phenopackets", "vcf", "sample-qc"},
    }
    assert "flagged: nl INDEL PASS: recall significantly below the other labs" in output
    assert "<svg" in (tmp_path / "proficiency.html").read_text()
