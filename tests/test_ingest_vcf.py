"""The VCF adapter: allele counts and calls against bcftools, splitting, trimming, left-alignment,
somatic files, sample sheets, and bad input (named by file, line and field, leaving the store as it was)."""

from __future__ import annotations

import doctest
import gzip
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import fixture_path
from genofed.errors import CodeError, FormatError, SampleError
from genofed.ingest import SampleSheet, VcfReader, _vcf, trim_alleles
from genofed.model import Origin
from genofed.store import BatchInfo, NodeStore

DATA = Path(__file__).parent / "data" / "vcf"
CINECA = ("cineca", "cineca_chr22_annotated.vcf.gz")
CINECA_RECORDS = 5002
CINECA_SAMPLES = 2504

HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=1,length=249250621,assembly=GRCh37>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
)
HEADER_LINES = 4


def _read(path: Path, **options: object) -> tuple[VcfReader, dict[str, pa.Table]]:
    """Run a reader to the end and concatenate its chunks per table."""
    reader = VcfReader(path, **options)  # type: ignore[arg-type]
    parts: dict[str, list[pa.Table]] = {}
    for name, table in reader.chunks():
        parts.setdefault(name, []).append(table)
    return reader, {name: pa.concat_tables(tables) for name, tables in parts.items()}


def _write(tmp_path: Path, name: str, records: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "".join(r + "\n" for r in records))
    return path


def _records(n: int) -> list[str]:
    """``n`` valid biallelic records on chromosome 1."""
    gts = ["0/0", "0/1", "1/1", "./.", "1|0"]
    return [f"1\t{100 + 10 * i}\t.\tA\tG\t.\tPASS\t.\tGT\t{gts[i % 5]}\t{gts[(i + 2) % 5]}" for i in range(n)]


# -- CINECA: 5,002 records x 2,504 samples against bcftools ------------------------------------------
@dataclass(frozen=True)
class Oracle:
    """Per-allele AC/AN and the non-reference calls, keyed like the store (trimmed, 0-based)."""

    sites: dict[tuple[str, int, str, str], tuple[int, int]]
    calls: Counter[tuple[str, int, str, str, str, str]]


def _key(chrom: str, pos: str, ref: str, alt: str) -> tuple[str, int, str, str]:
    start, tref, talt = trim_alleles(int(pos) - 1, ref, alt)
    return chrom, start, tref, talt


def _bcftools(command: str) -> list[list[str]]:
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, check=True
    )
    return [line.split("\t") for line in result.stdout.splitlines()]


def _bcftools_oracle(path: Path) -> Oracle:
    # fill-tags recomputes AC and AN from the genotypes (the INFO values are not trusted); norm -m-
    # splits multi-allelic records the way genofed does.
    sites = {}
    for chrom, pos, ref, alt, ac, an in _bcftools(
        f"bcftools norm -m- -Ou '{path}' | bcftools +fill-tags -Ou -- -t AC,AN "
        "| bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\n'"
    ):
        if not alt.startswith("<") and alt != "*":
            sites[_key(chrom, pos, ref, alt)] = (int(ac), int(an))
    calls: Counter[tuple[str, int, str, str, str, str]] = Counter()
    for chrom, pos, ref, alt, sample, gt in _bcftools(
        f"bcftools norm -m- -Ou '{path}' | bcftools query -i 'GT=\"alt\"' "
        "-f '[%CHROM\\t%POS\\t%REF\\t%ALT\\t%SAMPLE\\t%GT\\n]'"
    ):
        if not alt.startswith("<") and alt != "*":
            calls[(*_key(chrom, pos, ref, alt), sample, gt)] += 1
    return Oracle(sites, calls)


def _python_oracle(path: Path) -> Oracle:
    """The same numbers from the text alone (gzip + str.split), for machines without bcftools."""
    sites = {}
    calls: Counter[tuple[str, int, str, str, str, str]] = Counter()
    samples: list[str] = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith("##"):
                continue
            fields = line.rstrip("\n").split("\t")
            if line.startswith("#"):
                samples = fields[9:]
                continue
            gts = [value.split(":", 1)[0] for value in fields[9:]]
            split = [gt.replace("|", "/").split("/") for gt in gts]
            an = sum(1 for alleles in split for a in alleles if a != ".")
            for k, alt in enumerate(fields[4].split(","), start=1):
                if alt.startswith("<") or alt == "*":
                    continue
                key = _key(fields[0], fields[1], fields[3], alt)
                ac = 0
                for sample, gt, alleles in zip(samples, gts, split, strict=True):
                    copies = sum(1 for a in alleles if a == str(k))
                    if copies:
                        ac += copies
                        relative = "".join(
                            c if c in "/|." else ("1" if c == str(k) else "0") for c in _tokens(gt)
                        )
                        calls[(*key, sample, relative)] += 1
                sites[key] = (ac, an)
    return Oracle(sites, calls)


def _tokens(gt: str) -> list[str]:
    out: list[str] = []
    for char in gt:
        if char in "/|" or not out or out[-1] in "/|":
            out.append(char)
        else:
            out[-1] += char
    return out


@pytest.fixture(scope="module")
def cineca_oracle() -> Oracle:
    path = fixture_path(*CINECA)
    if shutil.which("bcftools") is None:
        return _python_oracle(path)
    return _bcftools_oracle(path)


@pytest.fixture(scope="module")
def cineca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeStore, VcfReader, BatchInfo]]:
    """CINECA ingested once into a store through NodeStore.write_stream."""
    path = fixture_path(*CINECA)
    with NodeStore.open(tmp_path_factory.mktemp("cineca") / "store", create=True) as store:
        reader = VcfReader(path)
        info = store.write_stream(
            reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key
        )
        yield store, reader, info


def test_vcf_reader__cineca_allele_counts_match_bcftools(
    cineca: tuple[NodeStore, VcfReader, BatchInfo], cineca_oracle: Oracle
) -> None:
    store, _, info = cineca
    table = store.execute("SELECT chrom, start, ref, alt, allele_count, allele_number FROM variant_sites")
    got = {
        (c, s, r, a): (ac, an)
        for c, s, r, a, ac, an in zip(*(table.column(i).to_pylist() for i in range(6)), strict=True)
    }
    assert len(got) == table.num_rows == info.rows["variant_sites"] == 4998
    assert got == cineca_oracle.sites


def test_vcf_reader__cineca_calls_match_bcftools(
    cineca: tuple[NodeStore, VcfReader, BatchInfo], cineca_oracle: Oracle
) -> None:
    store, reader, _ = cineca
    table = store.execute("SELECT chrom, start, ref, alt, analysis_id, genotype FROM variant_calls")
    assert table.num_rows == sum(cineca_oracle.calls.values()) == 414977
    by_pseudonym = {store.pseudonymise(f"{reader.source}:{s}"): s for s in reader.samples}
    got = Counter(
        (c, s, r, a, by_pseudonym[p], g)
        for c, s, r, a, p, g in zip(*(table.column(i).to_pylist() for i in range(6)), strict=True)
    )
    assert got == cineca_oracle.calls


def test_vcf_reader__cineca_calls_add_up_to_site_counts(
    cineca: tuple[NodeStore, VcfReader, BatchInfo],
) -> None:
    store, _, _ = cineca
    mismatches = store.execute(
        """
        SELECT s.variant_id
        FROM variant_sites s
        LEFT JOIN (
            SELECT variant_id, SUM(alt_copies) AS copies, COUNT(*) FILTER (WHERE zygosity = 'hom') AS homs
            FROM variant_calls GROUP BY variant_id
        ) c USING (variant_id)
        WHERE COALESCE(c.copies, 0) <> s.allele_count OR COALESCE(c.homs, 0) <> s.homozygous_count
        """
    )
    assert mismatches.num_rows == 0


def test_vcf_reader__cineca_summary(cineca: tuple[NodeStore, VcfReader, BatchInfo]) -> None:
    _, reader, info = cineca
    summary = reader.summary
    assert summary.records == CINECA_RECORDS
    assert summary.genotypes == CINECA_RECORDS * CINECA_SAMPLES
    # Four <CNn> copy-number records are symbolic: skipped, counted.
    assert summary.skipped_symbolic == 4
    assert summary.sites == info.rows["variant_sites"]
    assert summary.calls == info.rows["variant_calls"]
    assert info.rows["analyses"] == info.rows["specimens"] == CINECA_SAMPLES
    assert reader.assembly.value == "GRCh37"


def test_vcf_reader__cineca_snpeff_annotation(cineca: tuple[NodeStore, VcfReader, BatchInfo]) -> None:
    store, _, _ = cineca
    # 22:16287261 G>A: ANN=A|stop_gained|HIGH|POTEH|...|NM_001136213.1|...|c.625C>T|p.Gln209*
    row = store.execute(
        "SELECT gene, transcript, consequence, impact, hgvs_c, protein_change, variant_type "
        "FROM variant_sites WHERE chrom = '22' AND start = 16287260"
    ).to_pylist()
    assert row == [
        {
            "gene": "POTEH",
            "transcript": "NM_001136213.1",
            "consequence": "stop_gained",
            "impact": "HIGH",
            "hgvs_c": "c.625C>T",
            "protein_change": "p.Q209*",
            "variant_type": "SNV",
        }
    ]
    # 22:16258290 CATT>C, SnpEff's conservative_inframe_deletion: the SO term, trimmed alleles.
    row = store.execute(
        'SELECT start, "end", ref, alt, consequence, variant_type FROM variant_sites '
        "WHERE chrom = '22' AND start BETWEEN 16258289 AND 16258290"
    ).to_pylist()
    assert row == [
        {"start": 16258290, "end": 16258293, "ref": "ATT", "alt": "", "consequence": "inframe_deletion",
         "variant_type": "DEL"}
    ]  # fmt: skip


def test_vcf_reader__cineca_identifiers_are_pseudonymised(
    cineca: tuple[NodeStore, VcfReader, BatchInfo],
) -> None:
    store, reader, _ = cineca
    ids = store.execute("SELECT DISTINCT individual_id FROM variant_calls").column(0).to_pylist()
    assert "HG00096" not in ids
    assert store.pseudonymise("HG00096") in ids
    analyses = store.execute("SELECT analysis_id, origin, source FROM analyses").to_pylist()
    assert {a["analysis_id"] for a in analyses} == {store.pseudonymise(a) for a in reader.analysis_ids}
    assert {(a["origin"], a["source"]) for a in analyses} == {("germline", "cineca_chr22_annotated.vcf.gz")}


# -- genotypes read from the text (FORMAT GT alone) ----------------------------------------------
def _read_htslib(
    monkeypatch: pytest.MonkeyPatch, path: Path, **options: object
) -> tuple[VcfReader, dict[str, pa.Table]]:
    """Like _read, with every genotype parsed by htslib: the oracle for the text route."""
    with monkeypatch.context() as patch:
        patch.setattr(_vcf, "_format_column", lambda line: None)
        return _read(path, **options)


def test_vcf_reader__cineca_text_genotypes_equal_htslib_genotypes(monkeypatch: pytest.MonkeyPatch) -> None:
    path = fixture_path(*CINECA)
    _, text = _read(path)
    _, htslib = _read_htslib(monkeypatch, path)
    for name in ("variant_sites", "variant_calls"):
        assert text[name].num_rows > 0
        assert text[name].equals(htslib[name]), name


MIXED_HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=1,length=249250621,assembly=GRCh37>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    "{extra}#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\tS4\n"
)
# FORMAT GT first, so genotypes come from the text; the lines outside its strict diploid
# one-digit grammar are parsed by htslib instead.
MIXED = [
    "1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\t./.\t.|1",
    "1\t200\t.\tA\tC,G,T,AA,AC,AG,AT,CA,CC,CG\t.\tPASS\t.\tGT\t0/10\t9|2\t1/.\t0/0",  # allele 10
    "1\t300\t.\tA\tG\t.\tPASS\t.\tGT\t1\t0\t.\t1",  # haploid
    "1\t400\t.\tC\tT\t.\tPASS\t.\tGT:DP\t0/1:5\t0/0:3\t1/1:.\t./.:0",  # other FORMAT keys
    "1\t500\t.\tG\tA,C\t.\tPASS\t.\tGT\t1/2\t2|0\t0|0\t.|.",
    "1\t600\t.\tT\tA\t.\tPASS\t.\tGT\t0/1/1\t0/0\t1|1\t0/1",  # triploid
    "1\t700\t.\tT\tC\t.\tPASS\t.\tGT\t0/0\t0|0\t0/0\t0|0",  # hom-ref only: no call
    "1\t800\tGT\tGT\tG\t.\tPASS\t.\tGT\t0/1\t0/0\t1/1\t./.",  # ID and REF "GT" before FORMAT
]


@pytest.mark.parametrize("somatic", [False, True])
@pytest.mark.parametrize("chunk_records", [2, 1000])
@pytest.mark.parametrize("phased", [False, True])
def test_vcf_reader__text_route_agrees_with_htslib_on_every_kind_of_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, somatic: bool, chunk_records: int, phased: bool
) -> None:
    # Somatic: only the tumour column's calls are kept, so the text route reads a subset of samples.
    # Phased: "0|0" is the usual hom-ref genotype and "0/0" the odd one out.
    extra = "##tumor_sample=S3\n##normal_sample=S1\n" if somatic else ""
    records = [r.replace("/", "#").replace("|", "/").replace("#", "|") for r in MIXED] if phased else MIXED
    path = _write(tmp_path, "mixed.vcf", records, MIXED_HEADER.format(extra=extra))
    _, text = _read(path, chunk_records=chunk_records)
    _, htslib = _read_htslib(monkeypatch, path, chunk_records=chunk_records)
    for name in ("variant_sites", "variant_calls"):
        assert text[name].equals(htslib[name]), name
    calls = _rows(text["variant_calls"], "start", "alt", "individual_id", "genotype", "zygosity", "depth")
    if phased:
        assert (599, "A", "S3", "1/1", "hom", None) in calls
    elif somatic:
        assert {c[2] for c in calls} == {"S3"}
        assert (599, "A", "S3", "1|1", "hom", None) in calls
    else:
        assert (199, "CG", "S1", "0/1", "het", None) in calls  # allele 10, relative to itself
        assert (99, "G", "S4", ".|1", "unknown", None) in calls
        assert (299, "G", "S1", "1", "hemi", None) in calls
        assert (399, "T", "S1", "0/1", "het", 5) in calls  # DP from htslib's parse of the line
        assert (599, "A", "S1", "0/1/1", "het", None) in calls
        assert 699 not in {c[0] for c in calls}
        assert (800, "", "S3", "1/1", "hom", None) in calls
        sites = _rows(text["variant_sites"], "start", "alt", "allele_count", "allele_number")
        assert (99, "G", 4, 5) in sites  # S3 ./. and S4 .|1 lower AN
        assert (199, "CG", 1, 7) in sites
        assert (499, "C", 2, 6) in sites


def test_vcf_reader__column_faults_that_balance_in_total_are_found(tmp_path: Path) -> None:
    # The text check compares tab totals per read; a line with an extra column and one with a
    # missing column balance out there, and htslib ignores extra columns: each line is checked.
    records = _records(6)
    records[2] += "\t0/1"
    records[4] = records[4].rsplit("\t", 1)[0]
    path = _write(tmp_path, "balanced.vcf", records)
    with pytest.raises(
        FormatError, match=r"balanced\.vcf, line 7, field 'column 12': the record has 12 tab-separated"
    ):
        _read(path)


@pytest.mark.parametrize("source", ["records", "germline_small.vcf"])  # text route; htslib route
def test_vcf_reader__crlf_line_endings_read_like_lf(tmp_path: Path, source: str) -> None:
    text = "".join(r + "\n" for r in _records(6)) if source == "records" else (DATA / source).read_text()
    # The same file name: analysis IDs are made from it.
    (tmp_path / "lf").mkdir()
    (tmp_path / "crlf").mkdir()
    lf = tmp_path / "lf" / "x.vcf"
    lf.write_bytes((HEADER + text if source == "records" else text).encode())
    crlf = tmp_path / "crlf" / "x.vcf"
    crlf.write_bytes(lf.read_bytes().replace(b"\n", b"\r\n"))
    _, expected = _read(lf)
    _, tables = _read(crlf)
    for name in ("variant_sites", "variant_calls"):
        assert tables[name].num_rows > 0
        assert tables[name].equals(expected[name]), name


def test_vcf_reader__faults_surface_in_line_order(tmp_path: Path) -> None:
    # Line 6's genotype is only decoded when its block is, after line 8 was read: still reported first.
    records = _records(6)
    records[1] = records[1].rsplit("\t", 1)[0] + "\t0/x"
    records[3] += "\t0/1"
    path = _write(tmp_path, "two.vcf", records)
    with pytest.raises(FormatError, match=r"two\.vcf, line 6, field 'GT': sample 'S2' has genotype '0/x'"):
        _read(path)


def test_vcf_reader__fault_on_the_first_record_line(tmp_path: Path) -> None:
    records = _records(3)
    records[0] = records[0] + "\t0/0"
    path = _write(tmp_path, "first.vcf", records)
    with pytest.raises(FormatError, match=r"first\.vcf, line 5, field 'column 12'"):
        _read(path)


# -- small hand-made files ------------------------------------------------------------------------
def _rows(table: pa.Table, *columns: str) -> list[tuple[object, ...]]:
    return [tuple(row[c] for c in columns) for row in table.to_pylist()]


def test_vcf_reader__splits_multiallelic_records_per_alt_allele() -> None:
    _, tables = _read(DATA / "germline_small.vcf")
    sites = _rows(tables["variant_sites"], "chrom", "start", "ref", "alt", "allele_count", "allele_number")
    # chr1:100 A>G,T with S1 1/2, S2 0|1, S3 ./.: AN counts called alleles only.
    assert sites[:2] == [("1", 99, "A", "G", 2, 4), ("1", 99, "A", "T", 1, 4)]
    # chr1:200 GA>G,GAA with S1 0/1, S2 2/2, S3 ./1: AN = 2 + 2 + 1.
    assert sites[2:4] == [("1", 200, "A", "", 2, 5), ("1", 200, "", "A", 2, 5)]


def test_vcf_reader__genotypes_zygosity_and_copies_per_allele() -> None:
    _, tables = _read(DATA / "germline_small.vcf")
    calls = _rows(
        tables["variant_calls"], "start", "alt", "individual_id", "genotype", "zygosity", "alt_copies"
    )
    assert calls == [
        (99, "G", "S1", "1/0", "het", 1),  # 1/2: a het call of each allele, like bcftools norm -m-
        (99, "G", "S2", "0|1", "het", 1),  # phase kept
        (99, "T", "S1", "0/1", "het", 1),
        (200, "", "S1", "0/1", "het", 1),
        (200, "", "S3", "./1", "unknown", 1),  # partly missing
        (200, "A", "S2", "1/1", "hom", 2),
        (300, "", "S2", "1/1", "hom", 2),  # S1's 0/2 is the symbolic <*>: no call
        (600, "TT", "S1", "0/1", "het", 1),
        (600, "TT", "S3", "1|1", "hom", 2),
        (999, "T", "S1", "1", "hemi", 1),  # haploid chrX call
        (999, "T", "S2", "0/1", "het", 1),
    ]
    homs = _rows(tables["variant_sites"], "start", "alt", "homozygous_count")
    assert homs == [
        (99, "G", 0),
        (99, "T", 0),
        (200, "", 0),
        (200, "A", 1),
        (300, "", 1),
        (600, "TT", 1),
        (999, "T", 0),
    ]


def test_vcf_reader__trims_alleles_to_vrs_style_coordinates() -> None:
    _, tables = _read(DATA / "germline_small.vcf")
    sites = _rows(tables["variant_sites"], "start", "end", "ref", "alt", "variant_type")
    assert sites[2:6] == [
        (200, 201, "A", "", "DEL"),  # POS=200 GA>G: the A at 1-based 201 deleted
        (200, 200, "", "A", "INS"),  # POS=200 GA>GAA: an A inserted after 1-based 200
        (300, 302, "TT", "", "DEL"),  # POS=300 CTT>C
        (600, 602, "CG", "TT", "MNV"),  # POS=600 ACG>ATT
    ]


def test_vcf_reader__format_depths_and_allele_fraction() -> None:
    _, tables = _read(DATA / "germline_small.vcf")
    calls = tables["variant_calls"].to_pylist()
    first = {(c["start"], c["alt"], c["individual_id"]): c for c in calls}
    s1_g = first[(99, "G", "S1")]  # AD 0,5,7 DP 12
    assert (s1_g["depth"], s1_g["alt_depth"]) == (12, 5)
    assert s1_g["vaf"] == pytest.approx(5 / 12)
    s1_t = first[(99, "T", "S1")]
    assert (s1_t["depth"], s1_t["alt_depth"]) == (12, 7)
    assert s1_t["vaf"] == pytest.approx(7 / 12)
    s3_del = first[(200, "", "S3")]  # AD missing, DP 5
    assert (s3_del["depth"], s3_del["alt_depth"], s3_del["vaf"]) == (5, None, None)
    assert first[(600, "TT", "S1")]["depth"] is None  # no FORMAT depths on that record


def test_vcf_reader__filter_status_per_call() -> None:
    _, tables = _read(DATA / "germline_small.vcf")
    passed = {(c["start"], c["alt"]): c["filter_pass"] for c in tables["variant_calls"].to_pylist()}
    assert passed[(200, "")] is False  # FILTER=LowQual
    assert passed[(99, "G")] is True  # PASS
    assert passed[(600, "TT")] is True  # FILTER=.


def test_vcf_reader__skips_symbolic_and_reference_only_alleles() -> None:
    reader, tables = _read(DATA / "germline_small.vcf")
    assert reader.summary.skipped_symbolic == 2  # <*> at 300 and * at 500
    assert reader.summary.skipped_no_alt == 1  # ALT=. at 400
    assert 499 not in tables["variant_sites"].column("start").to_pylist()
    assert reader.summary.records == 7


def test_vcf_reader__annotation_and_unknown_consequence() -> None:
    reader, tables = _read(DATA / "germline_small.vcf")
    notes = _rows(
        tables["variant_sites"], "alt", "gene", "transcript", "consequence", "impact", "protein_change"
    )
    assert notes[:4] == [
        ("G", "GENE1", "ENST01", "missense_variant", "MODERATE", "p.K4E"),
        ("T", "GENE1", "ENST01", "stop_gained", "HIGH", "p.K4*"),  # stop_gained&splice_region_variant
        ("", "GENE2", "ENST03", "frameshift_variant", "HIGH", "p.K7fs"),
        ("A", "GENE2", "ENST03", "my_novel_effect", "LOW", None),  # not an SO term: kept verbatim
    ]
    assert reader.summary.unknown_consequences == {"my_novel_effect": 1}


def test_vcf_reader__gzip_and_bgzf_read_like_plain_text(tmp_path: Path) -> None:
    import pysam

    plain = DATA / "germline_small.vcf"
    gz = tmp_path / "small.vcf.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    bgz = tmp_path / "small.bgz.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    _, expected = _read(plain)
    for path in (gz, bgz):
        _, tables = _read(path)
        assert tables["variant_sites"].equals(expected["variant_sites"])
        calls = tables["variant_calls"].drop_columns(["analysis_id"])
        assert calls.equals(expected["variant_calls"].drop_columns(["analysis_id"]))


def test_vcf_reader__left_aligns_indels_with_a_fasta() -> None:
    reader, tables = _read(DATA / "leftalign.vcf", assembly="GRCh38", reference_fasta=DATA / "tiny.fa")
    sites = _rows(tables["variant_sites"], "start", "end", "ref", "alt")
    # tiny.fa: GGGGG CACACACA C TTTTT G A ...; indels in the CA and T runs move to their left end.
    expected = [(5, 7, "CA", ""), (5, 5, "", "CA"), (14, 15, "T", ""), (20, 21, "A", "G")]
    assert sites == expected
    assert reader.summary.left_aligned == 3
    if shutil.which("bcftools"):
        normed = _bcftools(f"bcftools norm -f '{DATA / 'tiny.fa'}' '{DATA / 'leftalign.vcf'}' | grep -v '^#'")
        oracle = [trim_alleles(int(f[1]) - 1, f[3], f[4]) for f in normed]
        assert [(s, s + len(r), r, a) for s, r, a in oracle] == expected


def test_vcf_reader__without_fasta_indels_are_only_trimmed() -> None:
    _, tables = _read(DATA / "leftalign.vcf", assembly="GRCh38")
    starts = tables["variant_sites"].column("start").to_pylist()
    assert starts == [10, 12, 16, 20]


def test_vcf_reader__ref_not_matching_the_fasta_is_an_error(tmp_path: Path) -> None:
    header = HEADER.replace(
        "##contig=<ID=1,length=249250621,assembly=GRCh37>", "##contig=<ID=chr1,length=60>"
    )
    path = _write(tmp_path, "mismatch.vcf", ["chr1\t21\t.\tC\tG\t.\tPASS\t.\tGT\t0/1\t0/0"], header)
    with pytest.raises(
        FormatError, match=r"mismatch\.vcf, line 5, field 'REF': REF 'C' does not match the reference 'A'"
    ):
        _read(path, assembly="GRCh38", reference_fasta=DATA / "tiny.fa")


# -- somatic files and sample sheets ------------------------------------------------------------------
def test_vcf_reader__somatic_header_keeps_tumour_calls_only() -> None:
    reader, tables = _read(DATA / "somatic_tn.vcf")
    assert reader.origin is Origin.SOMATIC
    assert reader.call_samples == ("PT1_TUMOUR",)
    calls = tables["variant_calls"]
    assert set(calls.column("individual_id").to_pylist()) == {"PT1_TUMOUR"}
    assert set(calls.column("origin").to_pylist()) == {"somatic"}
    # chr17: both samples 0/1 (germline); only the tumour's call is kept, and AN counts the tumour only.
    sites = _rows(tables["variant_sites"], "chrom", "alt", "allele_count", "allele_number", "origin")
    assert sites == [
        ("7", "T", 1, 2, "somatic"),
        ("12", "A", 0, 2, "somatic"),
        ("12", "T", 1, 2, "somatic"),
        ("17", "T", 1, 2, "somatic"),
    ]
    vafs = _rows(calls, "chrom", "depth", "alt_depth")
    assert vafs == [("7", 42, 12), ("12", 81, 20), ("17", 40, 22)]  # chr17 DP missing: sum of AD
    assert calls.column("vaf").to_pylist() == pytest.approx([0.286, 0.247, 0.55])
    specimens = _rows(tables["specimens"], "specimen_id", "individual_id", "specimen_type")
    assert specimens == [
        ("PT1_TUMOUR:PT1_NORMAL", "PT1_TUMOUR", "normal"),
        ("PT1_TUMOUR:PT1_TUMOUR", "PT1_TUMOUR", "tumour"),
    ]


def test_vcf_reader__somatic_with_a_sample_sheet() -> None:
    sheet = SampleSheet.read(DATA / "somatic_tn.samples.tsv")
    reader, tables = _read(DATA / "somatic_tn.vcf", samples=sheet)
    (analysis,) = tables["analyses"].to_pylist()
    assert analysis["analysis_id"] == "somatic_tn.vcf:PT1_TUMOUR"
    assert analysis["individual_id"] == "PATIENT-1"
    assert analysis["specimen_id"] == "PATIENT-1:PT1_TUMOUR"
    assert analysis["normal_specimen_id"] == "PATIENT-1:PT1_NORMAL"
    assert (analysis["pipeline"], analysis["pipeline_version"], analysis["origin"]) == (
        "sarek",
        "3.4",
        "somatic",
    )
    tumour = next(s for s in tables["specimens"].to_pylist() if s["specimen_type"] == "tumour")
    assert (tumour["tumour_type"], tumour["tissue"]) == ("LUAD", "lung")
    assert set(tables["variant_calls"].column("individual_id").to_pylist()) == {"PATIENT-1"}
    assert reader.batch_key == "vcf:somatic_tn.vcf:PT1_TUMOUR"


def test_vcf_reader__origin_germline_keeps_every_sample() -> None:
    reader, tables = _read(DATA / "somatic_tn.vcf", origin=Origin.GERMLINE)
    assert reader.call_samples == ("PT1_NORMAL", "PT1_TUMOUR")
    assert tables["variant_calls"].num_rows == 4
    assert set(tables["variant_calls"].column("origin").to_pylist()) == {"germline"}


def test_vcf_reader__balsamic_tumour_normal_vcf_with_vep(tmp_path: Path) -> None:
    path = fixture_path("gms", "balsamic_vardict_vep.vcf.gz")
    sheet_path = tmp_path / "samples.tsv"
    sheet_path.write_text(
        "sample\tindividual\tspecimen_type\tnormal_sample\tassay\tpipeline\n"
        "TUMOR\tunitedbeagle\ttumour\tNORMAL\tPANEL\tBALSAMIC\n"
        "NORMAL\tunitedbeagle\tnormal\t\tPANEL\tBALSAMIC\n"
    )
    reader, tables = _read(path, samples=SampleSheet.read(sheet_path))
    assert (reader.origin, reader.assembly.value) == (Origin.SOMATIC, "GRCh37")  # from ##VEP assembly=
    sites = tables["variant_sites"].to_pylist()
    deletion = sites[0]  # 18:8738938 TA>T
    assert (deletion["chrom"], deletion["start"], deletion["ref"], deletion["alt"]) == (
        "18",
        8738938,
        "A",
        "",
    )
    # All SOGA2/MTCL1 annotations are intron_variant: CANONICAL=YES breaks the tie.
    assert (deletion["consequence"], deletion["gene"], deletion["transcript"]) == (
        "intron_variant",
        "SOGA2",
        "ENST00000359865",
    )
    calls = tables["variant_calls"].to_pylist()
    assert len(calls) == 3  # the TUMOR column only
    assert (calls[0]["depth"], calls[0]["alt_depth"]) == (321, 6)
    assert calls[0]["vaf"] == pytest.approx(0.0187)


def test_vcf_reader__batch_key_is_the_sorted_analyses() -> None:
    reader = VcfReader(DATA / "germline_small.vcf")
    assert reader.batch_key == "vcf:germline_small.vcf:S1,germline_small.vcf:S2,germline_small.vcf:S3"
    assert reader.kind == "vcf"
    assert reader.source == "germline_small.vcf"


# -- assembly -------------------------------------------------------------------------------------
def test_vcf_reader__assembly_from_reference_line() -> None:
    assert (
        VcfReader(DATA / "germline_small.vcf").assembly.value == "GRCh38"
    )  # .../GRCh38_full_analysis_set.fa


def test_vcf_reader__assembly_from_contig_lengths(tmp_path: Path) -> None:
    header = HEADER.replace(
        "##contig=<ID=1,length=249250621,assembly=GRCh37>", "##contig=<ID=chr1,length=248956422>"
    )
    path = _write(tmp_path, "lengths.vcf", _records(1), header)
    assert VcfReader(path).assembly.value == "GRCh38"


def test_vcf_reader__assembly_argument_wins(tmp_path: Path) -> None:
    path = _write(tmp_path, "any.vcf", _records(1))
    assert VcfReader(path, assembly="hg38").assembly.value == "GRCh38"
    with pytest.raises(CodeError, match="unknown assembly 'mm10'"):
        VcfReader(path, assembly="mm10")


def test_vcf_reader__no_assembly_anywhere_is_an_error(tmp_path: Path) -> None:
    header = HEADER.replace("##contig=<ID=1,length=249250621,assembly=GRCh37>\n", "")
    path = _write(tmp_path, "bare.vcf", _records(1), header)
    with pytest.raises(FormatError, match=r"bare\.vcf, field '##reference': .*pass assembly="):
        VcfReader(path)


# -- bad input ------------------------------------------------------------------------------------
def test_vcf_reader__extra_column_names_the_line(tmp_path: Path) -> None:
    records = _records(6)
    records[3] += "\t0/1"
    path = _write(tmp_path, "extra.vcf", records)
    with pytest.raises(
        FormatError,
        match=r"extra\.vcf, line 8, field 'column 12': the record has 12 tab-separated columns; expected 11",
    ):
        _read(path)


def test_vcf_reader__missing_column_names_the_line(tmp_path: Path) -> None:
    records = _records(6)
    records[4] = records[4].rsplit("\t", 1)[0]
    path = _write(tmp_path, "short.vcf", records)
    with pytest.raises(
        FormatError, match=r"short\.vcf, line 9, field 'S2': the record has 10 tab-separated columns"
    ):
        _read(path)


def test_vcf_reader__non_numeric_pos_names_the_line(tmp_path: Path) -> None:
    records = _records(6)
    records[2] = records[2].replace("\t120\t", "\t12O\t")
    path = _write(tmp_path, "pos.vcf", records)
    with pytest.raises(
        FormatError, match=r"pos\.vcf, line 7, field 'POS': POS '12O' is not a positive integer"
    ):
        _read(path)


def test_vcf_reader__genotype_allele_beyond_alt_names_the_line(tmp_path: Path) -> None:
    records = _records(6)
    records[5] = records[5].rsplit("\t", 1)[0] + "\t0/2"
    path = _write(tmp_path, "allele.vcf", records)
    with pytest.raises(
        FormatError, match=r"allele\.vcf, line 10, field 'GT': sample 'S2' has allele index 2 .* 1 ALT allele"
    ):
        _read(path)


def test_vcf_reader__unparseable_genotype_names_the_line(tmp_path: Path) -> None:
    records = _records(6)
    records[1] = records[1].rsplit("\t", 1)[0] + "\t0/x"
    path = _write(tmp_path, "gt.vcf", records)
    with pytest.raises(FormatError, match=r"gt\.vcf, line 6, field 'GT': sample 'S2' has genotype '0/x'"):
        _read(path)


def test_vcf_reader__empty_line_names_the_line(tmp_path: Path) -> None:
    records = _records(4)
    records.insert(2, "")
    path = _write(tmp_path, "blank.vcf", records)
    with pytest.raises(FormatError, match=r"blank\.vcf, line 7, field 'CHROM': empty line"):
        _read(path)


def test_vcf_reader__last_line_without_newline_is_truncation(tmp_path: Path) -> None:
    path = tmp_path / "cut.vcf"
    path.write_text(HEADER + "\n".join(_records(3)))
    with pytest.raises(
        FormatError, match=r"cut\.vcf, line 7: the last line has no newline; the file looks truncated"
    ):
        _read(path)


def test_vcf_reader__truncated_gzip_is_an_error_not_a_partial_read(tmp_path: Path) -> None:
    data = fixture_path(*CINECA).read_bytes()
    path = tmp_path / "cut.vcf.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        FormatError, match=r"cut\.vcf\.gz, line \d+: the compressed stream is truncated or corrupt"
    ):
        _read(path)


def test_vcf_reader__bgzf_cut_at_a_block_boundary_is_an_error(tmp_path: Path) -> None:
    import pysam

    bgz = tmp_path / "whole.vcf.gz"
    pysam.tabix_compress(str(DATA / "germline_small.vcf"), str(bgz))
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(bgz.read_bytes()[:-28])  # drop the empty end-of-file block: htslib only warns
    with pytest.raises(FormatError, match=r"cut\.vcf\.gz: the BGZF end-of-file marker is missing"):
        _read(cut)


def test_vcf_reader__vcf_sample_missing_from_the_sheet(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample\tindividual\nS1\tP1\n")
    path = _write(tmp_path, "two.vcf", _records(1))
    with pytest.raises(
        SampleError, match=r"two\.vcf, line 4, field 'S2': sample 'S2' of the VCF is not in .*sheet\.tsv"
    ):
        VcfReader(path, samples=SampleSheet.read(sheet))


def test_vcf_reader__sheet_sample_missing_from_the_vcf(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("sample\tindividual\nS1\tP1\nS2\tP2\nS3\tP3\n")
    path = _write(tmp_path, "two.vcf", _records(1))
    with pytest.raises(
        SampleError,
        match=r"sheet\.tsv, line 4, field 'sample': sample 'S3' of .*sheet\.tsv is not a sample column "
        r"of .*two\.vcf",
    ):
        VcfReader(path, samples=SampleSheet.read(sheet))


def test_vcf_reader__somatic_without_a_tumour_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "pair.vcf", _records(1))
    with pytest.raises(SampleError, match=r"read as somatic but .* marks no sample as a tumour"):
        VcfReader(path, origin=Origin.SOMATIC)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("allele", r"line 163, field 'GT': sample 'S1' has allele index 3"),
        ("columns", r"line 163, field 'column 12': the record has 12 tab-separated columns"),
    ],
)
def test_write_stream__bad_record_midway_leaves_the_store_unchanged(
    store: NodeStore, tmp_path: Path, fault: str, message: str
) -> None:
    good = VcfReader(DATA / "germline_small.vcf")
    store.write_stream(good.chunks(), kind=good.kind, source=good.source, key=good.batch_key)
    catalog = store.catalog
    query = "SELECT chrom, start, ref, alt, analysis_id, genotype FROM variant_calls ORDER BY ALL"
    before = store.execute(query)
    records = _records(300)
    bad = 158  # line 163 of the file
    position = 100 + 10 * bad
    if fault == "allele":
        records[bad] = f"1\t{position}\t.\tA\tG\t.\tPASS\t.\tGT\t3/3\t0/0"
    else:
        records[bad] = f"1\t{position}\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\t0/1"
    path = _write(tmp_path, "bad.vcf", records)
    reader = VcfReader(path, chunk_records=25)
    yielded: list[str] = []

    def chunks() -> Iterator[tuple[str, pa.Table]]:
        for name, table in reader.chunks():
            yielded.append(name)
            yield name, table

    with pytest.raises(FormatError, match=message):
        store.write_stream(chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
    assert yielded.count("variant_calls") >= 1  # the error came after calls had been written
    assert store.catalog == catalog
    assert store.execute(query).equals(before)
    assert list((store.root / "staging").iterdir()) == []


# -- sample sheets --------------------------------------------------------------------------------
def test_sample_sheet_read__defaults(tmp_path: Path) -> None:
    path = tmp_path / "sheet.tsv"
    path.write_text("sample\tindividual\nS1\tP1\n")
    (entry,) = SampleSheet.read(path)
    assert (entry.specimen_id, entry.analysis_id("x.vcf.gz")) == ("P1:S1", "x.vcf.gz:S1")
    assert (entry.specimen_type.value, entry.assay.value) == ("germline", "WGS")
    assert entry.line == 2


def test_sample_sheet_read__unknown_specimen_type(tmp_path: Path) -> None:
    path = tmp_path / "sheet.tsv"
    path.write_text("sample\tindividual\tspecimen_type\nS1\tP1\tgermline\nS2\tP2\tblood\n")
    with pytest.raises(
        CodeError, match=r"sheet\.tsv, line 3, field 'specimen_type': unknown specimen type 'blood'"
    ):
        SampleSheet.read(path)


def test_sample_sheet_read__tumour_type_must_be_oncotree(tmp_path: Path) -> None:
    path = tmp_path / "sheet.tsv"
    path.write_text("sample\tindividual\tspecimen_type\ttumour_type\nS1\tP1\ttumor\tLUNG_ADENO\n")
    with pytest.raises(CodeError, match=r"line 2, field 'tumour_type': 'LUNG_ADENO' is not an OncoTree code"):
        SampleSheet.read(path)


def test_sample_sheet_read__missing_and_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "sheet.tsv"
    path.write_text("sample\tspecimen\nS1\tX\n")
    with pytest.raises(
        FormatError, match=r"line 1, field 'individual': required column 'individual' is missing"
    ):
        SampleSheet.read(path)
    path.write_text("sample\tindividual\tsex\nS1\tP1\tF\n")
    with pytest.raises(FormatError, match=r"line 1, field 'sex': unknown column 'sex'"):
        SampleSheet.read(path)


def test_sample_sheet__matched_normal_of_another_individual(tmp_path: Path) -> None:
    path = tmp_path / "sheet.tsv"
    path.write_text("sample\tindividual\tspecimen_type\tnormal_sample\nT\tP1\ttumour\tN\nN\tP2\tnormal\t\n")
    with pytest.raises(
        SampleError, match=r"line 2, field 'normal_sample': matched normal 'N' belongs to individual 'P2'"
    ):
        SampleSheet.read(path)


def test_sample_sheet__sample_listed_twice(tmp_path: Path) -> None:
    path = tmp_path / "sheet.tsv"
    path.write_text("sample\tindividual\nS1\tP1\nS1\tP2\n")
    with pytest.raises(FormatError, match=r"line 3, field 'sample': sample 'S1' is listed twice"):
        SampleSheet.read(path)


def test_vcf_reader__polyploid_genotypes_widen_the_block(tmp_path: Path) -> None:
    records = [
        "1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1",
        "1\t200\t.\tA\tG,T\t.\tPASS\t.\tGT\t0/1/2\t1|1|1",
        "1\t300\t.\tA\tG\t.\tPASS\t.\tGT\t1\t0/0",
    ]
    path = _write(tmp_path, "triploid.vcf", records)
    _, tables = _read(path)
    sites = _rows(
        tables["variant_sites"], "start", "alt", "allele_count", "allele_number", "homozygous_count"
    )
    assert sites == [(99, "G", 3, 4, 1), (199, "G", 4, 6, 1), (199, "T", 1, 6, 0), (299, "G", 1, 3, 0)]
    calls = _rows(
        tables["variant_calls"], "start", "alt", "individual_id", "genotype", "zygosity", "alt_copies"
    )
    assert calls == [
        (99, "G", "S1", "0/1", "het", 1),
        (99, "G", "S2", "1/1", "hom", 2),
        (199, "G", "S1", "0/1/0", "het", 1),
        (199, "G", "S2", "1|1|1", "hom", 3),
        (199, "T", "S1", "0/0/1", "het", 1),
        (299, "G", "S1", "1", "hemi", 1),
    ]


@pytest.mark.parametrize("chunk_records", [1, 2, 5])
def test_vcf_reader__chunk_size_does_not_change_the_result(chunk_records: int) -> None:
    _, expected = _read(DATA / "germline_small.vcf")
    _, tables = _read(DATA / "germline_small.vcf", chunk_records=chunk_records)
    for name in ("variant_sites", "variant_calls", "analyses", "specimens"):
        assert tables[name].equals(expected[name])


# -- allele normalisation -------------------------------------------------------------------------
@given(
    ref=st.text(alphabet="ACGT", min_size=1, max_size=8),
    alt=st.text(alphabet="ACGT", min_size=1, max_size=8),
    start=st.integers(min_value=0, max_value=10**9),
)
def test_trim_alleles__removes_exactly_the_shared_flanks(ref: str, alt: str, start: int) -> None:
    assume(ref != alt)
    new_start, tref, talt = trim_alleles(start, ref, alt)
    prefix = new_start - start
    suffix = len(ref) - prefix - len(tref)
    # Putting the removed flanks back gives the VCF alleles again ...
    assert ref == ref[:prefix] + tref + ref[len(ref) - suffix :]
    assert alt == ref[:prefix] + talt + ref[len(ref) - suffix :]
    # ... and nothing shared is left at either end.
    if tref and talt:
        assert tref[0] != talt[0]
        assert tref[-1] != talt[-1]


def test_normalise__docstring_examples_run() -> None:
    from genofed.ingest import _normalise

    assert doctest.testmod(_normalise).failed == 0
