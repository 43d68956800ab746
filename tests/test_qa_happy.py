"""genofed.qa against hap.py's own test cases (Illumina/hap.py src/data, example/haploid).

Each in-scope case runs the inputs and options of hap.py's test script (``src/sh/run_*.sh``) and
compares genofed's counts with the expected output shipped with the case. Cases that exercise a
hap.py-internal tool are listed in ``OUT_OF_SCOPE`` with the reason; a test checks that every file
of the fixture folder is either used here or named there, so nothing is skipped silently.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from genofed.errors import FormatError
from genofed.qa import CallSet, InvalidRecords, benchmark

HAPPY = Path(__file__).parents[1].parent / "shared" / "fixtures" / "benchmarking" / "happy"
SRC = HAPPY / "src_data"

pytestmark = pytest.mark.skipif(not HAPPY.exists(), reason=f"hap.py fixtures absent: {HAPPY}")

COUNTS = ("TRUTH.TOTAL", "TRUTH.TP", "TRUTH.FN", "QUERY.TOTAL", "QUERY.FP", "QUERY.UNK", "FP.gt")

# Case name -> (truth, query, reference, confident BED, expected summary.csv or None), relative to HAPPY;
# the options are those of hap.py's test script named in the comment.
SUMMARY_CASES = {
    # run_other_vcf_tests.sh: per-sample FT filters make records non-PASS
    "per_sample_ft": (
        "src_data/per_sample_ft_lhs.vcf",
        "src_data/per_sample_ft_rhs.vcf",
        "src_data/chrQ.fa",
        None,
        "src_data/per_sample_ft_summary.csv",
    ),
    # run_fp_accuracy_test.sh: -f fp.bed
    "fp_region_accuracy": (
        "src_data/fp_region_accuracy/truth.vcf",
        "src_data/fp_region_accuracy/query.vcf",
        "src_data/fp_region_accuracy/test.fa",
        "src_data/fp_region_accuracy/fp.bed",
        "src_data/fp_region_accuracy/expected.summary.csv",
    ),
    # run_pathtraversal_test.sh: an insertion and deletion that cancel must not match "nothing"
    "pathtraversal": (
        "src_data/pathtraversal/test.vcf",
        "src_data/pathtraversal/test2.vcf",
        "src_data/pathtraversal/test.fa",
        None,
        "src_data/pathtraversal/expected.summary.csv",
    ),
    # run_chrprefix_test.sh, three runs: numeric names, chr names, chr truth against numeric query
    "numeric_chrs": (
        "src_data/numeric_chrs/truth.vcf",
        "src_data/numeric_chrs/query.vcf",
        "src_data/numeric_chrs/test.fa",
        "src_data/numeric_chrs/fp.bed",
        "src_data/numeric_chrs/expected.summary.csv",
    ),
    "chr_prefixed": (
        "src_data/numeric_chrs/chrtruth.vcf",
        "src_data/numeric_chrs/chrquery.vcf",
        "src_data/numeric_chrs/chrtest.fa",
        "src_data/numeric_chrs/chrfp.bed",
        "src_data/numeric_chrs/expected.summary.csv",
    ),
    "chr_truth_numeric_query": (
        "src_data/numeric_chrs/chrtruth.vcf",
        "src_data/numeric_chrs/query.vcf",
        "src_data/numeric_chrs/chrtest.fa",
        "src_data/numeric_chrs/chrfp.bed",
        "src_data/numeric_chrs/expected.summary.csv",
    ),
}

# Cases whose expected output is hap.py's annotated VCF (-V): counts are read from its BD column.
VCF_CASES = {
    # run_other_vcf_tests.sh: haploid truth "1" against query "1/1"
    "haploid": ("haploid/truth.vcf", "haploid/query.vcf", "haploid/test.fa", None, "haploid/expected.vcf"),
    "fp_region_accuracy": (
        *SUMMARY_CASES["fp_region_accuracy"][:4],
        "src_data/fp_region_accuracy/expected.vcf",
    ),
    "numeric_chrs": (*SUMMARY_CASES["numeric_chrs"][:4], "src_data/numeric_chrs/expected.vcf"),
    "chr_prefixed": (*SUMMARY_CASES["chr_prefixed"][:4], "src_data/numeric_chrs/chrexpected.vcf"),
    # run_leftshift_test.sh: different representations of the same haplotypes in repeats
    "leftshifting": (
        "src_data/leftshifting_example/truth.vcf",
        "src_data/leftshifting_example/query.vcf",
        "src_data/leftshifting_example/ref.fa",
        None,
        "src_data/leftshifting_example/expected.vcf",
    ),
}

OUT_OF_SCOPE = {
    "callsonly/": "run_gvcf_homref_test.sh tests hap.py's C++ multimerge on a gVCF (--process-full) against "
    "example/chr21.fa, which the case does not ship; merging is not part of benchmarking",
    "src_data/expected_merge.vcf": "run_multimerge_test.sh: output of C++ multimerge (merge1/merge2.vcf)",
    "src_data/merge1.vcf": "multimerge input (see expected_merge.vcf)",
    "src_data/merge2.vcf": "multimerge input (see expected_merge.vcf)",
    "src_data/microhg19.fa": "reference of the multimerge and hapblockfind tool tests",
    "src_data/expected_importtest.vcf": "run_multimerge_test.sh: multimerge's import of import_errors.vcf",
    "src_data/import_errors.vcf": "multimerge import test input (see expected_importtest.vcf)",
    "src_data/expected_hapblockfind.bed": "run_hapblockfind_test.sh: hap.py's internal block finder tool",
    "src_data/hapblocks.vcf": "input of the hapblockfind tool test",
    "src_data/expected_hapcmp.bed": "run_hapcmp_test.sh: the internal hapcmp tool on example/hc.vcf.gz with "
    "hg19 FASTA, neither shipped",
    "src_data/expected_refgraph.dot": "C++ unit test of hap.py's reference graph (refgraph1.vcf)",
    "src_data/refgraph1.vcf": "C++ reference-graph unit test input",
    "src_data/snpblocks.vcf": "C++ unit test input (blocksplit/variant processing)",
    "src_data/allelesplit.vcf": "C++ unit test input (allele splitting in the variant reader)",
    "src_data/test.vcf": "C++ unit test input of the variant reader",
    "src_data/test_formats.vcf": "C++ unit test input of FORMAT parsing",
    "src_data/S1.vcf": "C++ unit test input (sample reading)",
    "src_data/S2.vcf": "C++ unit test input (sample reading)",
    "src_data/snps.vcf": "C++ unit test input (only the bgzipped copy is shipped)",
    "src_data/faulty.vcf": "C++ unit test of the reader's error handling (faulty_gt.vcf is used here)",
    "src_data/testr.bed": "C++ unit test input of region reading",
    "src_data/CMakeLists.txt": "hap.py's CMake build file for the test data",
    "src_data/rocs/": "only tabix indices are shipped; the ROC VCFs are absent",
    "src_data/fp_region_accuracy/expected.counts.csv": "qfy.py's internal counts table (GA4GH intermediate "
    "format), not an output genofed writes; its totals are covered through summary.csv and expected.vcf",
    "src_data/pathtraversal/expected.counts.csv": "qfy.py's internal counts table (see above)",
    "src_data/numeric_chrs/expected.counts.csv": "qfy.py's internal counts table (see above)",
    "src_data/open_indel/expected.counts.csv": "qfy.py's internal counts table (see above)",
    "src_data/pathtraversal/testA.vcf": "not used by run_pathtraversal_test.sh (a variant of test.vcf)",
    "src_data/pathtraversal/testA2.vcf": "not used by run_pathtraversal_test.sh",
    "src_data/open_indel/test_q_failure.vcf": "unused by run_faulty_variant_test.sh; a genotype with ALT '.' "
    "is covered by the FormatError test on faulty_gt.vcf",
    "src_data/fp_region_accuracy/strat.tsv": "no expected output in hap.py; genofed's strata on it are "
    "checked against hand-derived counts in test_qa_bench.py",
    "src_data/fp_region_accuracy/strat.bed": "the BED named by strat.tsv (see there)",
    "src_data/fp_region_accuracy/expected.sompy.1.csv": "used by test_benchmark__somatic_matches_sompy",
}

USED_FILES = {p for spec in (*SUMMARY_CASES.values(), *VCF_CASES.values()) for p in spec if p is not None} | {
    "src_data/leftshifting_example/expected.extended.csv",
    "src_data/open_indel/test.vcf",
    "src_data/open_indel/test_q.vcf",
    "src_data/open_indel/test.fa",
    "src_data/open_indel/expected.vcf",
    "src_data/faulty_gt.vcf",
    "src_data/fp_region_accuracy/expected.sompy.2.csv",
    "src_data/fp_region_accuracy/expected.sompy.3.csv",
}


def _path(rel: str | None) -> Path | None:
    return None if rel is None else HAPPY / rel


def _run(spec: tuple[str | None, ...]):  # type: ignore[no-untyped-def]
    truth, query, ref, bed = (_path(p) for p in spec[:4])
    assert truth is not None
    assert query is not None
    return benchmark(truth, query, reference=ref, regions=bed)


def _int(value: str) -> int:
    return int(float(value))


@pytest.mark.parametrize("case", sorted(SUMMARY_CASES))
def test_benchmark__happy_summary_counts(case: str) -> None:
    spec = SUMMARY_CASES[case]
    result = _run(spec)
    expected_path = _path(spec[4])
    assert expected_path is not None
    with expected_path.open() as fh:
        expected = list(csv.DictReader(fh))
    assert expected
    for row in expected:
        got = result.row(row["Type"], row["Filter"])
        assert {c: got[c] for c in COUNTS} == {c: _int(row[c]) for c in COUNTS}, (
            case,
            row["Type"],
            row["Filter"],
        )
        for metric in ("METRIC.Recall", "METRIC.Precision", "METRIC.Frac_NA"):
            if got["QUERY.TOTAL"] and got["TRUTH.TOTAL"]:
                assert got[metric] == pytest.approx(float(row[metric]), abs=1e-6), (case, metric)


def _bd_counts(path: Path) -> Counter[tuple[str, str, str]]:
    """(side, type, decision) counts from hap.py's annotated VCF (GA4GH BD and BVT fields)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        keys = cols[8].split(":")
        for side, col in (("TRUTH", cols[9]), ("QUERY", cols[10])):
            values = dict(zip(keys, col.split(":"), strict=False))
            if values.get("BD") in {"TP", "FP", "FN", "UNK"}:
                counts[(side, values["BVT"], values["BD"])] += 1
    return counts


@pytest.mark.parametrize("case", sorted(VCF_CASES))
def test_benchmark__happy_annotated_vcf_decisions(case: str) -> None:
    spec = VCF_CASES[case]
    result = _run(spec)
    expected_path = _path(spec[4])
    assert expected_path is not None
    bd = _bd_counts(expected_path)
    assert bd, "the expected VCF has decisions"
    for type_ in ("SNP", "INDEL"):
        got = result.row(type_, "ALL")
        assert got["TRUTH.TP"] == bd[("TRUTH", type_, "TP")], (case, type_)
        assert got["TRUTH.FN"] == bd[("TRUTH", type_, "FN")], (case, type_)
        assert got["QUERY.TP"] == bd[("QUERY", type_, "TP")], (case, type_)
        assert got["QUERY.FP"] == bd[("QUERY", type_, "FP")], (case, type_)
        assert got["QUERY.UNK"] == bd[("QUERY", type_, "UNK")], (case, type_)


def test_benchmark__happy_leftshift_extended_counts() -> None:
    d = SRC / "leftshifting_example"
    result = benchmark(d / "truth.vcf", d / "query.vcf", reference=d / "ref.fa")
    with (d / "expected.extended.csv").open() as fh:
        expected = [r for r in csv.DictReader(fh) if r["Subset"] == "*" and r["Genotype"] == "*"]
    assert len(expected) >= 20
    for row in expected:
        got = result.row(row["Type"], row["Filter"], subtype=row["Subtype"])
        for column in (
            "TRUTH.TOTAL",
            "TRUTH.TP",
            "TRUTH.FN",
            "QUERY.TOTAL",
            "QUERY.TP",
            "QUERY.FP",
            "QUERY.UNK",
        ):
            assert got[column] == _int(row[column]), (row["Type"], row["Subtype"], row["Filter"], column)


def test_benchmark__happy_open_indel_records_are_import_failures() -> None:
    # run_faulty_variant_test.sh: hap.py imports alleles such as "A." or ".AA" as failures and
    # counts nothing; genofed does the same when asked to skip invalid records.
    d = SRC / "open_indel"
    truth = CallSet.from_vcf(d / "test.vcf", invalid=InvalidRecords.SKIP)
    query = CallSet.from_vcf(d / "test_q.vcf", invalid=InvalidRecords.SKIP)
    result = benchmark(truth, query, reference=d / "test.fa")
    assert (result.truth_skipped, result.query_skipped) == (4, 1)
    assert all(r[c] == 0 for r in result.summary() for c in COUNTS)
    assert "IMPORT_FAIL" in (d / "expected.vcf").read_text()


def test_callset_from_vcf__open_indel_raises_by_default() -> None:
    with pytest.raises(FormatError, match=r"test\.vcf, line \d+, field 'REF': REF must be a sequence"):
        CallSet.from_vcf(SRC / "open_indel" / "test.vcf")


def test_callset_from_vcf__faulty_genotype_names_line_and_field() -> None:
    path = SRC / "faulty_gt.vcf"
    first_record = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if not t.startswith("#"))
    with pytest.raises(
        FormatError, match=rf"faulty_gt\.vcf, line {first_record}, field 'GT': GT names an allele"
    ):
        CallSet.from_vcf(path)


@pytest.mark.parametrize("number", [1, 2, 3])
def test_benchmark__somatic_matches_sompy(number: int) -> None:
    # run_sompy_fpregion_test.sh: without FP regions, with them (--count-unk), and with a region size.
    d = SRC / "fp_region_accuracy"
    regions = None if number == 1 else d / "fp.bed"
    result = benchmark(
        d / "truth.vcf", d / "query.vcf", reference=d / "test.fa", regions=regions, somatic=True
    )
    with (d / f"expected.sompy.{number}.csv").open() as fh:
        expected = next(r for r in csv.DictReader(fh) if r["type"] == "SNVs")
    got = result.row("SNP", "ALL")
    assert (
        got["TRUTH.TOTAL"],
        got["QUERY.TOTAL"],
        got["TRUTH.TP"],
        got["QUERY.FP"],
        got["TRUTH.FN"],
        got["QUERY.UNK"],
    ) == (
        int(expected["total.truth"]),
        int(expected["total.query"]),
        int(expected["tp"]),
        int(expected["fp"]),
        int(expected["fn"]),
        int(expected["unk"]),
    )
    assert got["FP.gt"] is None
    assert got["METRIC.Precision"] == pytest.approx(float(expected["precision"]))
    assert got["METRIC.Recall.Lower"] == pytest.approx(float(expected["recall_lower"]), abs=1e-3)
    assert got["METRIC.Precision.Upper"] == pytest.approx(float(expected["precision_upper"]), abs=1e-9)


def _covered(rel: str) -> bool:
    return rel in USED_FILES or any(rel == k or (k.endswith("/") and rel.startswith(k)) for k in OUT_OF_SCOPE)


def test_happy_cases__every_file_is_used_or_named_out_of_scope() -> None:
    uncovered = []
    for path in sorted(HAPPY.rglob("*")):
        rel = path.relative_to(HAPPY).as_posix()
        if path.is_dir() or rel == "LICENSE.txt" or rel.endswith((".fai", ".tbi")):
            continue
        base = rel.removesuffix(".gz")  # bgzipped copies of a listed VCF
        if not (_covered(rel) or _covered(base)):
            uncovered.append(rel)
    assert uncovered == []


@pytest.mark.parametrize("name", sorted(OUT_OF_SCOPE))
def test_happy_cases__out_of_scope_case_exists_and_has_a_reason(name: str) -> None:
    path = HAPPY / name.rstrip("/")
    assert path.exists() or path.with_name(path.name + ".gz").exists(), name
    assert len(OUT_OF_SCOPE[name]) > 20
