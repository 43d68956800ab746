"""genofed.qa: haplotype-aware matching, genotype vs allele matches, Arrow input, errors, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from genofed.cli import app
from genofed.errors import CodeError, FormatError, SampleError
from genofed.qa import CallSet, Regions, benchmark, jeffreys_interval, write_csv

HAPPY = Path(__file__).parents[1].parent / "shared" / "fixtures" / "benchmarking" / "happy"

# 1-based: 11..14 = ACGT; 31..38 = a (CA) repeat; 61 = G.
SEQ = "TTGACCTGAA" + "ACGTTGCAAT" + "GGCTTAAGCT" + "CACACACATG" + "ATCGGATCCA" + "GTTGACCAAT" + "AGGCTTAGCA"


def _write(tmp: Path, name: str, records: list[str], contig: str = "chr1") -> Path:
    header = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID={contig},length={len(SEQ)}>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
    ]
    body = []
    for rec in records:
        pos, ref, alt, gt, *rest = rec.split()
        chrom = rest[0] if rest else contig
        body.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t{gt}")
    path = tmp / name
    path.write_text("\n".join(header + body) + "\n")
    return path


@pytest.fixture
def ref(tmp_path: Path) -> Path:
    path = tmp_path / "ref.fa"
    path.write_text(">chr1\n" + SEQ + "\n")
    return path


def _counts(result, type_):  # type: ignore[no-untyped-def]
    row = result.row(type_, "ALL")
    return {k: row[k] for k in ("TRUTH.TOTAL", "TRUTH.TP", "QUERY.TOTAL", "QUERY.TP", "QUERY.FP", "FP.gt")}


def test_benchmark__mnp_equals_two_snvs(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["11 AC GT 0/1"])
    query = _write(tmp_path, "q.vcf", ["11 A G 0/1", "12 C T 0/1"])
    result = benchmark(truth, query, reference=ref)
    assert _counts(result, "SNP") == {
        "TRUTH.TOTAL": 2,
        "TRUTH.TP": 2,
        "QUERY.TOTAL": 2,
        "QUERY.TP": 2,
        "QUERY.FP": 0,
        "FP.gt": 0,
    }


def test_benchmark__shifted_deletion_in_repeat_matches(tmp_path: Path, ref: Path) -> None:
    # Deleting one CA unit of the CACACACA repeat: written at its first and at its last unit.
    truth = _write(tmp_path, "t.vcf", ["30 TCA T 0/1"])
    query = _write(tmp_path, "q.vcf", ["36 ACA A 0/1"])
    assert SEQ[29:38] == "TCACACACA"
    result = benchmark(truth, query, reference=ref)
    assert _counts(result, "INDEL")["TRUTH.TP"] == 1
    assert _counts(result, "INDEL")["QUERY.TP"] == 1


def test_benchmark__complex_allele_replays_to_snv_plus_deletion(tmp_path: Path, ref: Path) -> None:
    # ACGT -> TGT on one haplotype is the SNV A>T and the deletion of C on the same haplotype. The
    # delins splits into a deletion and an SNV too, but placed differently (A deleted, C>T): only
    # the replay sees that both spell TGT.
    truth = _write(tmp_path, "t.vcf", ["11 ACGT TGT 0/1"])
    query = _write(tmp_path, "q.vcf", ["11 A T 0/1", "11 AC A 0/1"])
    result = benchmark(truth, query, reference=ref)
    assert result.row("INDEL", "ALL", subtype="D1_5")["TRUTH.TP"] == 1
    assert result.row("SNP", "ALL")["TRUTH.TP"] == 1
    assert _counts(result, "SNP")["QUERY.TP"] == 1
    assert _counts(result, "INDEL")["QUERY.TP"] == 1
    assert result.replayed_loci >= 1
    # The same without a FASTA: the REF alleles spell out the bases the replay needs.
    assert benchmark(truth, query).row("INDEL", "ALL")["TRUTH.TP"] == 1


def test_benchmark__two_deletions_on_one_haplotype_equal_one_long_deletion(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["30 TCA T 0/1", "32 ACA A 0/1"])
    query = _write(tmp_path, "q.vcf", ["30 TCACA T 0/1"])
    result = benchmark(truth, query, reference=ref)
    assert _counts(result, "INDEL") == {
        "TRUTH.TOTAL": 2,
        "TRUTH.TP": 2,
        "QUERY.TOTAL": 1,
        "QUERY.TP": 1,
        "QUERY.FP": 0,
        "FP.gt": 0,
    }


def test_benchmark__wrong_genotype_is_allele_match(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["15 T C 1/1", "31 C A 0/1"])
    query = _write(tmp_path, "q.vcf", ["15 T C 0/1", "31 C G 0/1"])
    result = benchmark(truth, query, reference=ref)
    row = result.row("SNP", "ALL")
    assert (row["TRUTH.TP"], row["TRUTH.FN"], row["QUERY.FP"], row["FP.gt"], row["FP.al"]) == (0, 2, 2, 1, 1)


def test_benchmark__phasing_that_cancels_is_not_a_match(tmp_path: Path, ref: Path) -> None:
    # An insertion and a deletion of the same unit on one haplotype leave it unchanged.
    truth = _write(tmp_path, "t.vcf", ["32 A ACA 0/1", "34 ACA A 0/1"])
    query = _write(tmp_path, "q.vcf", ["61 A G 0/1"])
    result = benchmark(truth, query, reference=ref)
    assert _counts(result, "INDEL")["TRUTH.TP"] == 0


def test_benchmark__arrow_calls_in_store_shape(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["11 A G 0/1", "20 T TAA 1/1", "30 TCA T 0/1"])
    table = pa.table(
        {
            "chrom": ["1", "1", "1"],
            "start": [10, 20, 34],  # 0-based; trimmed alleles (insertion before 0-based 20)
            "ref": ["A", "", "CA"],
            "alt": ["G", "AA", ""],
            "genotype": ["0/1", "1/1", "0/1"],
        }
    )
    result = benchmark(truth, CallSet.from_arrow(table), reference=ref)
    assert _counts(result, "SNP")["QUERY.TP"] == 1
    assert _counts(result, "INDEL")["QUERY.TP"] == 2
    assert benchmark(truth, table, reference=ref).row("INDEL", "ALL")["TRUTH.TP"] == 2


def test_callset_from_arrow__names_row_and_field() -> None:
    table = pa.table({"chrom": ["1"], "pos": [5], "ref": ["A"], "alt": ["G"], "genotype": ["0/x"]})
    with pytest.raises(FormatError, match=r"<t>, line 1, field 'genotype'"):
        CallSet.from_arrow(table, source="<t>")
    with pytest.raises(FormatError, match="lacks column"):
        CallSet.from_arrow(pa.table({"chrom": ["1"]}))


def test_callset_from_vcf__malformed_pos_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.vcf", ["11 A G 0/1", "1x A G 0/1"])
    with pytest.raises(FormatError, match=r"bad\.vcf, line 6, field 'POS': POS is not a positive integer"):
        CallSet.from_vcf(path)


def test_callset_from_vcf__wrong_column_count_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.vcf", ["11 A G 0/1"])
    path.write_text(path.read_text() + "chr1\t12\t.\tC\n")
    with pytest.raises(FormatError, match=r"bad\.vcf, line 6: a record has 4 tab-separated columns"):
        CallSet.from_vcf(path)


def test_benchmark__missing_fasta_contig_names_record(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["11 A G 0/1"])
    query = _write(tmp_path, "q.vcf", ["5 A G 0/1 chr9"])
    with pytest.raises(CodeError, match=r"q\.vcf, line 5, field 'CHROM': contig '9' is not in the reference"):
        benchmark(truth, query, reference=ref)


def test_benchmark__ref_mismatch_names_field(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["11 C G 0/1"])
    with pytest.raises(FormatError, match=r"t\.vcf, line 5, field 'REF': REF 'C' differs"):
        benchmark(truth, truth, reference=ref)


def test_benchmark__gzipped_vcf_reads_like_plain(tmp_path: Path, ref: Path) -> None:
    import subprocess

    truth = _write(tmp_path, "t.vcf", ["11 A G 0/1", "15 T C 1/1"])
    subprocess.run(["bgzip", "-k", str(truth)], check=True)
    result = benchmark(tmp_path / "t.vcf.gz", truth, reference=ref)
    assert result.row("SNP", "ALL")["TRUTH.TP"] == 2


def test_benchmark__strata_on_hap_py_fp_region_case() -> None:
    d = HAPPY / "src_data" / "fp_region_accuracy"
    if not d.exists():
        pytest.skip(f"hap.py fixtures absent: {d}")
    result = benchmark(
        d / "truth.vcf",
        d / "query.vcf",
        reference=d / "test.fa",
        regions=d / "fp.bed",
        strata=d / "strat.tsv",
    )
    # Hand-derived from strat.bed (0-6, 99-111, 500-520): query SNVs at 2,4,5,6,520 and the
    # insertions at 100 and 110 are in it; the insertion after 520 and the SNV at 7 are not.
    snp, indel = result.row("SNP", "ALL", subset="strat"), result.row("INDEL", "ALL", subset="strat")
    assert (snp["TRUTH.TOTAL"], snp["QUERY.TOTAL"], indel["TRUTH.TOTAL"], indel["QUERY.TOTAL"]) == (
        1,
        5,
        3,
        2,
    )


def test_benchmark__somatic_has_no_genotype_errors(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["15 T C 1/1", "21 G A 0/1"])
    query = _write(tmp_path, "q.vcf", ["15 T C 0/1", "25 T C 0/1"])
    result = benchmark(truth, query, reference=ref, somatic=True)
    row = result.row("SNP", "ALL")
    assert (row["TRUTH.TP"], row["TRUTH.FN"], row["QUERY.FP"], row["FP.gt"]) == (1, 1, 1, None)


def test_regions_from_bed__bad_line_names_field(tmp_path: Path) -> None:
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t5\t10\nchr1\tfive\t10\n")
    with pytest.raises(FormatError, match=r"r\.bed, line 2, field 'start'"):
        Regions.from_bed(bed)


def test_jeffreys_interval__matches_sompy_bounds() -> None:
    # som.py's expected.sompy.1.csv: recall 1/1 -> [0.025, 1]; precision 1/5 -> [0, 0.6286264]
    assert jeffreys_interval(1, 1) == pytest.approx((0.025, 1.0))
    assert jeffreys_interval(1, 5) == pytest.approx((0.0, 0.628626400632))


def test_write_csv__hap_py_columns(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["11 A G 0/1"])
    summary, extended = write_csv(benchmark(truth, truth, reference=ref), tmp_path / "out")
    assert (
        summary.read_text()
        .splitlines()[0]
        .startswith("Type,Filter,TRUTH.TOTAL,TRUTH.TP,TRUTH.FN,QUERY.TOTAL")
    )
    assert extended.read_text().splitlines()[0].startswith("Type,Subtype,Subset,Filter,Genotype")


def test_qa_bench__cli_json_and_error(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["11 A G 0/1", "15 T C 0/1"])
    query = _write(tmp_path, "q.vcf", ["11 A G 0/1"])
    runner = CliRunner()
    args = ["qa", "bench", "--truth", str(truth), "--query", str(query), "--reference", str(ref)]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "o"), "--format", "json"])
    assert done.exit_code == 0, done.output
    doc = json.loads((tmp_path / "o" / "metrics.json").read_text())
    snp = next(r for r in doc["summary"] if r["Type"] == "SNP" and r["Filter"] == "ALL")
    assert (snp["TRUTH.TOTAL"], snp["TRUTH.TP"], snp["METRIC.Recall"]) == (2, 1, 0.5)
    bad = runner.invoke(
        app,
        [
            "qa",
            "bench",
            "--truth",
            str(tmp_path / "none.vcf"),
            "--query",
            str(query),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert bad.exit_code == 1
    assert "FormatError" in bad.output


def test_benchmark__unrelated_differences_in_one_superlocus_are_judged_apart(
    tmp_path: Path, ref: Path
) -> None:
    # A genotype error 15 bases before two deletions the query writes as one: the superlocus as a
    # whole does not match, its pieces do (the deletions) and do not (the genotype).
    truth = _write(tmp_path, "t.vcf", ["15 T C 1/1", "30 TCA T 0/1", "32 ACA A 0/1"])
    query = _write(tmp_path, "q.vcf", ["15 T C 0/1", "30 TCACA T 0/1"])
    result = benchmark(truth, query, reference=ref)
    snp, indel = result.row("SNP", "ALL"), result.row("INDEL", "ALL")
    assert (snp["TRUTH.FN"], snp["FP.gt"], indel["TRUTH.TP"], indel["QUERY.TP"]) == (1, 1, 2, 1)


def test_benchmark__calls_from_a_node_store_count_as_their_vcf(tmp_path: Path) -> None:
    # A node benchmarks its stored calls (suffix-trimmed, 0-based) against a truth VCF.
    from genofed.ingest import VcfReader
    from genofed.store import NodeStore

    d = HAPPY / "src_data" / "leftshifting_example"
    if not d.exists():
        pytest.skip(f"hap.py fixtures absent: {d}")
    with NodeStore.open(tmp_path / "store", create=True) as store:
        reader = VcfReader(d / "query.vcf", assembly="GRCh38")
        store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
        calls = store.execute("SELECT chrom, start, ref, alt, genotype, filter_pass FROM variant_calls")
    from_store = benchmark(d / "truth.vcf", calls, reference=d / "ref.fa")
    from_vcf = benchmark(d / "truth.vcf", d / "query.vcf", reference=d / "ref.fa")
    assert from_store.rows == from_vcf.rows
    assert from_store.row("INDEL", "ALL")["TRUTH.TP"] == 13


def test_qa_all__is_complete() -> None:
    import genofed.qa as qa

    public = {n for n in dir(qa) if not n.startswith("_")}
    assert set(qa.__all__) == public
    assert all(getattr(qa, n) is not None for n in qa.__all__)


def test_benchmark__somatic_sites_only_vcf_without_genotypes(tmp_path: Path, ref: Path) -> None:
    # Somatic truth sets and callers often carry no GT: each record is a call of its first ALT.
    sites = tmp_path / "sites.vcf"
    sites.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t15\t.\tT\tC\t.\tPASS\t.\nchr1\t21\t.\tG\tA\t.\tPASS\t.\n"
    )
    query = _write(tmp_path, "q.vcf", ["15 T C 0/1"])
    row = benchmark(sites, query, reference=ref, somatic=True).row("SNP", "ALL")
    assert (row["TRUTH.TOTAL"], row["TRUTH.TP"], row["QUERY.FP"]) == (2, 1, 0)
    with pytest.raises(SampleError, match="sample 'X' is not in the VCF"):
        CallSet.from_vcf(query, sample="X")


def test_qa_bench__cli_skip_invalid_counts_skipped(tmp_path: Path, ref: Path) -> None:
    truth = _write(tmp_path, "t.vcf", ["11 A G 0/1", "15 T <DEL> 0/1"])
    runner = CliRunner()
    args = ["qa", "bench", "--truth", str(truth), "--query", str(truth), "--out", str(tmp_path / "o")]
    failed = runner.invoke(app, args)
    assert failed.exit_code == 1
    assert "field 'ALT'" in failed.output
    done = runner.invoke(app, [*args, "--skip-invalid", "--reference", str(ref)])
    assert done.exit_code == 0, done.output
    assert "skipped records: truth 1, query 1" in done.output
    assert (tmp_path / "o" / "summary.csv").exists()
