"""VRS 2.0 identifiers: the published BRAF V600E identifier, substitutions against ga4gh.vrs's own
models, indels fully justified against a FASTA (oracles: alleles written out by hand per the VRS
normalisation rules, and ga4gh.vrs's normalize over the whole sequence), and no identifier without one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pysam
import pytest
from ga4gh.core import ga4gh_identify
from ga4gh.vrs import models, normalize
from hypothesis import given, settings
from hypothesis import strategies as st

from genofed.ingest import FastaReference
from genofed.model import VrsStatus, refget_accession, vrs_id, vrs_identify, vrs_ids, with_vrs_ids

TINY = Path(__file__).parent / "data" / "vcf" / "tiny.fa"
BRAF_V600E = "ga4gh:VA.Otc5ovrw906Ack087o1fhegB4jDRqCAe"
CHR1_38 = "SQ.Ya6Rs7DHhDeg7YaOSg1EoNi3U_nQ9SvO"


class StringFasta:
    """A FASTA held in memory (one contig, ``chr1``), clipped at its end like pysam."""

    def __init__(self, sequence: str) -> None:
        self.sequence = sequence

    def fetch(self, contig: str, start: int, end: int) -> str:
        if contig != "chr1":
            raise KeyError(contig)
        return self.sequence[start:end]


class WholeSequenceProxy:
    """The oracle's data proxy: the whole sequence as one string, no windows."""

    def __init__(self, sequence: str) -> None:
        self.sequence = sequence

    def get_metadata(self, identifier: str) -> dict[str, Any]:
        return {"length": len(self.sequence), "aliases": [identifier]}

    def get_sequence(self, identifier: str, start: int | None = None, end: int | None = None) -> str:
        return self.sequence[start:end]


def _allele(start: int, end: int, state: Any, accession: str = CHR1_38) -> Any:
    location = models.SequenceLocation(
        sequenceReference=models.SequenceReference(refgetAccession=accession), start=start, end=end
    )
    return models.Allele(location=location, state=state)


def _oracle(sequence: str, start: int, ref: str, alt: str) -> str:
    """ga4gh.vrs's own normalisation of an allele on ``sequence`` (as GRCh38 chr1)."""
    allele = _allele(start, start + len(ref), models.LiteralSequenceExpression(sequence=alt))
    return str(ga4gh_identify(normalize(allele, WholeSequenceProxy(sequence))))


def test_vrs_id__braf_v600e_grch38() -> None:
    # chr7:140753336 A>T (1-based VCF) is 0-based start 140753335; the identifier the issue names.
    assert vrs_id("GRCh38", "chr7", 140753335, "A", "T") == BRAF_V600E
    assert vrs_id("hg38", "NC_000007.14", 140753335, "A", "T") == BRAF_V600E
    # VCF-style anchored substitution: trimmed to the same allele first.
    assert vrs_id("GRCh38", "7", 140753334, "CAC", "CTC") == BRAF_V600E


def test_vrs_id__matches_ga4gh_models_for_the_example_of_its_docs() -> None:
    allele = _allele(
        140753335,
        140753336,
        models.LiteralSequenceExpression(sequence="T"),
        refget_accession("GRCh38", "7") or "",
    )
    assert ga4gh_identify(allele) == BRAF_V600E


_BASES = st.text(alphabet="ACGTN", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from([("GRCh38", "chr1"), ("GRCh38", "X"), ("GRCh37", "22"), ("GRCh37", "chr7")]),
    start=st.integers(min_value=0, max_value=2**31),
    ref=_BASES,
    alt=_BASES,
)
def test_vrs_id__substitutions_match_ga4gh_identify(
    key: tuple[str, str], start: int, ref: str, alt: str
) -> None:
    # Trimmed substitutions only (first and last bases differ): the oracle is the package's models.
    if ref[0] == alt[0] or ref[-1] == alt[-1]:
        ref, alt = "A" + ref + "C", "G" + alt + "T"
    accession = refget_accession(*key)
    assert accession is not None
    expected = ga4gh_identify(
        _allele(start, start + len(ref), models.LiteralSequenceExpression(sequence=alt), accession)
    )
    assert vrs_id(key[0], key[1], start, ref, alt) == expected


def test_vrs_ids__indel_without_fasta_is_not_normalised() -> None:
    found = vrs_identify("GRCh38", ["7", "7", "7"], [140753335] * 3, ["A", "AC", "A"], ["T", "A", "AGG"])
    assert found.ids == [BRAF_V600E, None, None]
    assert found.status == [VrsStatus.IDENTIFIED, VrsStatus.NOT_NORMALISED, VrsStatus.NOT_NORMALISED]


def test_vrs_identify__no_sequence_and_invalid_alleles() -> None:
    found = vrs_identify(
        ["GRCh38", "GRCh37", "GRCh38", "GRCh38", "GRCh38", "hg12"],
        ["MT", "GL000192.1", "1", "1", "1", "1"],
        [10, 10, 10, 10, 10, 10],
        ["A", "A", "A", "A", "A", "A"],
        ["G", "G", "<DEL>", "A", "*", "G"],
    )
    assert found.ids == [None] * 6
    assert found.status == [
        VrsStatus.NO_SEQUENCE,
        VrsStatus.NO_SEQUENCE,
        VrsStatus.INVALID_ALLELE,
        VrsStatus.INVALID_ALLELE,
        VrsStatus.INVALID_ALLELE,
        VrsStatus.NO_SEQUENCE,
    ]


def test_vrs_identify__lengths_must_agree() -> None:
    with pytest.raises(ValueError, match=r"one value per allele \(got 2, 2, 1, 2, 2\)"):
        vrs_identify("GRCh38", ["1", "1"], [1], ["A", "A"], ["G", "T"])


# tiny.fa chr1: GGGGG CACACACAC TTTTT GATTACAGG... ; the CA repeat spans 0-based [5, 14).
def test_vrs_ids__deletion_in_repeat_left_and_right_placed_agree() -> None:
    # Deleting one CA unit: written at the left end (CA at 5) or the right end (AC at 12).
    left, right = vrs_ids("GRCh38", ["chr1", "1"], [5, 12], ["CA", "AC"], ["", ""], reference=TINY)
    # VRS fully-justified form, by hand: the whole repeat [5, 14) becomes 7 bases of a 2-base unit.
    expected = ga4gh_identify(
        _allele(5, 14, models.ReferenceLengthExpression(length=7, repeatSubunitLength=2))
    )
    assert left == right == expected


def test_vrs_ids__insertion_in_repeat_and_vcf_anchored_forms_agree() -> None:
    # Insert one CA unit at the left end, at the right end, or VCF-style with the anchor G at 4.
    ids = vrs_ids(
        "GRCh38", ["chr1", "chr1", "chr1"], [5, 14, 4], ["", "", "G"], ["CA", "AC", "GCA"], reference=TINY
    )
    expected = ga4gh_identify(
        _allele(5, 14, models.ReferenceLengthExpression(length=11, repeatSubunitLength=2))
    )
    assert ids == [expected] * 3


def test_vrs_ids__fasta_objects_and_paths_agree() -> None:
    args = ("GRCh38", ["chr1", "chr1"], [15, 20], ["T", "A"], ["", "AT"])
    by_path = vrs_ids(*args, reference=TINY)
    fasta = pysam.FastaFile(str(TINY))
    try:
        by_pysam = vrs_ids(*args, reference=fasta)
    finally:
        fasta.close()
    reference = FastaReference(TINY)
    try:
        by_genofed = vrs_ids(*args, reference=reference)
    finally:
        reference.close()
    sequence = "".join(TINY.read_text().splitlines()[1:])
    by_string = vrs_ids(*args, reference=StringFasta(sequence))
    assert by_path == by_pysam == by_genofed == by_string
    assert by_path == [_oracle(sequence, 15, "T", ""), _oracle(sequence, 20, "A", "AT")]
    assert None not in by_path


def test_vrs_identify__reference_mismatch_gives_no_id() -> None:
    found = vrs_identify("GRCh38", ["chr1", "chr2"], [5, 5], ["GG", "CA"], ["", ""], reference=TINY)
    # chr1:5 is C (not G); chr2 is not in the FASTA at all.
    assert found.ids == [None, None]
    assert found.status == [VrsStatus.REFERENCE_MISMATCH, VrsStatus.REFERENCE_MISMATCH]


def test_vrs_ids__long_repeat_spans_many_windows() -> None:
    # A 3,000-base CAG repeat: justification must read well past one 512-base window each way.
    flank_left, flank_right = "T" * 700 + "GATC", "TTAG" + "A" * 700
    sequence = flank_left + "CAG" * 1000 + flank_right
    begin, end = len(flank_left), len(flank_left) + 3000
    fasta = StringFasta(sequence)
    left, middle, right = vrs_ids(
        "GRCh38",
        ["chr1"] * 3,
        [begin, begin + 1500, end - 3],
        ["CAG", "CAG", "CAG"],
        ["", "", ""],
        reference=fasta,
    )
    expected = ga4gh_identify(
        _allele(begin, end, models.ReferenceLengthExpression(length=2997, repeatSubunitLength=3))
    )
    assert left == middle == right == expected


@st.composite
def _indels(draw: st.DrawFn) -> tuple[str, int, str, str]:
    # Low-complexity sequences so most indels land in repeats.
    unit = draw(st.text(alphabet="ACG", min_size=1, max_size=4))
    sequence = "T" + draw(st.text(alphabet="ACG", max_size=30)) + unit * draw(st.integers(1, 12))
    sequence += draw(st.text(alphabet="ACGT", max_size=30)) + "T"
    start = draw(st.integers(0, len(sequence) - 1))
    if draw(st.booleans()):
        length = draw(st.integers(1, min(6, len(sequence) - start)))
        return sequence, start, sequence[start : start + length], ""
    return sequence, start, "", draw(st.text(alphabet="ACGT", min_size=1, max_size=6))


@settings(max_examples=150, deadline=None)
@given(case=_indels())
def test_vrs_ids__indels_match_ga4gh_normalize_on_the_whole_sequence(case: tuple[str, int, str, str]) -> None:
    sequence, start, ref, alt = case
    assert vrs_id("GRCh38", "1", start, ref, alt, reference=StringFasta(sequence)) == _oracle(
        sequence, start, ref, alt
    )


def test_with_vrs_ids__fills_and_replaces_the_column() -> None:
    sites = pa.table(
        {
            "chrom": ["7", "1"],
            "start": [140753335, 5],
            "end": [140753336, 7],
            "ref": ["A", "CA"],
            "alt": ["T", ""],
            "assembly": ["GRCh38", "GRCh38"],
        }
    )
    added = with_vrs_ids(sites)
    assert added.column("vrs_id").to_pylist() == [BRAF_V600E, None]
    replaced = with_vrs_ids(added.set_column(6, "vrs_id", pa.array(["x", "y"])), reference=TINY)
    assert replaced.column_names == added.column_names
    assert replaced.column("vrs_id").to_pylist() == [
        BRAF_V600E,
        vrs_id("GRCh38", "1", 5, "CA", "", reference=TINY),
    ]
    assert replaced.column("vrs_id")[1].as_py() is not None
