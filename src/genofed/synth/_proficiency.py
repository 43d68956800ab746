"""A synthetic proficiency-testing set: a reference stretch, a truth set, and labs' calls of it.

Stands in for a reference sample every lab sequences (NA12878/HG002 with GIAB's truth set): a random
reference sequence for the first bases of chr1 with homopolymer runs, a truth VCF of SNPs and
indels (a third of the indels in homopolymers), confident regions with a few gaps, a stratification
(``homopolymer`` and ``other``), and per lab a query VCF drawn from the truth with the lab's own
error profile: missed SNPs and indels (``fn``), missed homopolymer indels (``homopolymer_fn``),
genotype errors (het called hom-alt and back), false positives per 100 kb (some filtered), and
homopolymer indels written right-shifted -- another representation of the same haplotype, which a
benchmark must still count as a true positive.

Everything is drawn from ``seed``: the same seed gives the same files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_LABS", "LabProfile", "ProficiencySet", "write_proficiency_set"]

#: GRCh38 chr1's length, for the VCF header; the synthetic sequence covers only its first bases.
_CHR1_LENGTH = 248_956_422
_BASES = np.array(list("ACGT"))


@dataclass(frozen=True)
class LabProfile:
    """A lab's calling errors on the reference sample (probabilities per truth variant, or rates)."""

    snp_fn: float = 0.01
    indel_fn: float = 0.03
    homopolymer_fn: float = 0.05
    genotype_error: float = 0.005
    fp_per_100kb: float = 5.0
    filtered: float = 0.3  # share of false positives (and of 1 % of true calls) written with a FILTER
    right_shift: float = 0.5  # share of homopolymer indels written right-shifted (same haplotype)


#: Three labs: SE and DK call well; NL misses more indels, in homopolymers above all.
DEFAULT_LABS: dict[str, LabProfile] = {
    "se": LabProfile(),
    "nl": LabProfile(indel_fn=0.10, homopolymer_fn=0.25, right_shift=0.0),
    "dk": LabProfile(snp_fn=0.012, fp_per_100kb=8.0, right_shift=1.0),
}


@dataclass(frozen=True)
class ProficiencySet:
    """The files of a proficiency set."""

    sample: str
    reference: Path
    truth_vcf: Path
    regions: Path
    strata: Path
    queries: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class _Variant:
    start: int  # 0-based position of REF's first base (the anchor base for indels)
    ref: str
    alt: str
    genotype: str
    homopolymer: tuple[int, int] | None = None  # the run [start, end) an indel sits in


def _reference(rng: np.random.Generator, length: int) -> tuple[str, list[tuple[int, int]]]:
    """A random sequence with a homopolymer run of 6-10 bases about every 1,500 bases."""
    seq = list(_BASES[rng.integers(0, 4, length)])
    runs: list[tuple[int, int]] = []
    pos = 500
    while pos < length - 600:
        size = int(rng.integers(6, 11))
        base = str(_BASES[rng.integers(0, 4)])
        seq[pos : pos + size] = [base] * size
        # Flanks differ from the run, so the run's extent is exactly [pos, pos + size).
        for flank in (pos - 1, pos + size):
            if seq[flank] == base:
                seq[flank] = str(_BASES[("ACGT".index(base) + 1) % 4])
        runs.append((pos, pos + size))
        pos += int(rng.integers(1_000, 2_000))
    return "".join(seq), runs


def _truth(rng: np.random.Generator, seq: str, runs: list[tuple[int, int]]) -> list[_Variant]:
    variants: list[_Variant] = []
    run_starts = {s for s, _ in runs}
    busy = np.zeros(len(seq), dtype=bool)
    for s, e in runs:
        busy[max(0, s - 40) : e + 40] = True

    def genotype() -> str:
        return "0/1" if rng.random() < 0.6 else "1/1"

    # Indels in homopolymer runs: one base deleted from or added to the run (left-aligned form).
    for s, e in runs:
        if rng.random() < 0.5:
            continue
        base = seq[s]
        anchor = seq[s - 1]
        if rng.random() < 0.5:
            variants.append(_Variant(s - 1, anchor + base, anchor, genotype(), (s, e)))
        else:
            variants.append(_Variant(s - 1, anchor, anchor + base, genotype(), (s, e)))
    # SNPs and indels elsewhere, at least 60 bases apart and away from the runs.
    pos = 100
    while pos < len(seq) - 100:
        pos += int(rng.integers(60, 240))
        if pos >= len(seq) - 100 or busy[pos - 30 : pos + 30].any() or pos in run_starts:
            continue
        ref = seq[pos]
        if rng.random() < 0.85:
            alt = str(rng.choice([b for b in "ACGT" if b != ref]))
            variants.append(_Variant(pos, ref, alt, genotype()))
        elif rng.random() < 0.5:
            size = int(rng.integers(1, 12))
            variants.append(_Variant(pos, seq[pos : pos + size + 1], ref, genotype()))
        else:
            size = int(rng.integers(1, 12))
            insert = "".join(_BASES[rng.integers(0, 4, size)])
            variants.append(_Variant(pos, ref, ref + insert, genotype()))
    return sorted(variants, key=lambda v: v.start)


def _right_shifted(v: _Variant, seq: str) -> _Variant:
    """The same homopolymer indel anchored on the run's last base (another VCF representation)."""
    assert v.homopolymer is not None
    _, e = v.homopolymer
    base = seq[e - 1]
    if len(v.ref) > len(v.alt):  # deletion of one run base: delete the last one instead
        return _Variant(e - 2, base + base, base, v.genotype, v.homopolymer)
    return _Variant(e - 1, base, base + base, v.genotype, v.homopolymer)


def _header(sample: str) -> str:
    return (
        "##fileformat=VCFv4.2\n"
        f"##contig=<ID=chr1,length={_CHR1_LENGTH},assembly=GRCh38>\n"
        '##FILTER=<ID=PASS,Description="All filters passed">\n'
        '##FILTER=<ID=LowQual,Description="Low quality">\n'
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{sample}\n"
    )


def _write_vcf(path: Path, sample: str, records: list[tuple[_Variant, str]]) -> Path:
    lines = [_header(sample)]
    for v, filt in sorted(records, key=lambda r: (r[0].start, r[0].ref, r[0].alt)):
        lines.append(f"chr1\t{v.start + 1}\t.\t{v.ref}\t{v.alt}\t50\t{filt}\t.\tGT\t{v.genotype}\n")
    path.write_text("".join(lines))
    return path


def _query(
    rng: np.random.Generator, truth: list[_Variant], seq: str, profile: LabProfile
) -> list[tuple[_Variant, str]]:
    records: list[tuple[_Variant, str]] = []
    taken = {v.start for v in truth}
    for v in truth:
        snp = len(v.ref) == len(v.alt) == 1
        miss = profile.snp_fn if snp else profile.homopolymer_fn if v.homopolymer else profile.indel_fn
        if rng.random() < miss:
            continue
        called = v
        if rng.random() < profile.genotype_error:
            called = _Variant(v.start, v.ref, v.alt, "1/1" if v.genotype == "0/1" else "0/1", v.homopolymer)
        if v.homopolymer is not None and rng.random() < profile.right_shift:
            called = _right_shifted(called, seq)
        records.append((called, "LowQual" if rng.random() < 0.01 else "PASS"))
    n_fp = int(rng.poisson(profile.fp_per_100kb * len(seq) / 100_000))
    for _ in range(n_fp):
        pos = int(rng.integers(200, len(seq) - 200))
        if any(abs(pos - t) < 60 for t in taken):
            continue
        taken.add(pos)
        ref = seq[pos]
        alt = str(rng.choice([b for b in "ACGT" if b != ref]))
        filt = "LowQual" if rng.random() < profile.filtered else "PASS"
        records.append((_Variant(pos, ref, alt, "0/1"), filt))
    return records


def write_proficiency_set(
    directory: str | Path,
    *,
    sample: str = "GF-REF-1",
    labs: dict[str, LabProfile] | None = None,
    length: int = 200_000,
    seed: int = 0,
) -> ProficiencySet:
    """Write a reference, a truth set and each lab's query VCF of one reference sample.

    Parameters
    ----------
    directory
        Where the files go (created): ``reference.fa``, ``truth.vcf``, ``confident.bed``,
        ``strata.tsv`` (with ``homopolymer.bed`` and ``other.bed``) and ``<lab>.vcf`` per lab.
    sample
        The reference sample's name, the VCFs' sample column.
    labs
        Each lab's error profile; default :data:`DEFAULT_LABS` (SE, NL, DK).
    length
        Bases of synthetic chr1 sequence.
    seed
        Random seed; every lab's draws follow from it.

    Returns
    -------
    ProficiencySet
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    seq, runs = _reference(rng, length)
    fasta = out / "reference.fa"
    fasta.write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    truth = _truth(rng, seq, runs)
    truth_vcf = _write_vcf(out / "truth.vcf", sample, [(v, "PASS") for v in truth])
    # Confident regions: all but three 2-kb gaps, where nothing is assessed (as in GIAB's BEDs).
    gaps = sorted(int(g) for g in rng.integers(1_000, length - 3_000, 3))
    edges, lo = [], 0
    for g in gaps:
        if g > lo:
            edges.append((lo, g))
        lo = max(lo, g + 2_000)
    edges.append((lo, length))
    regions = out / "confident.bed"
    regions.write_text("".join(f"chr1\t{s}\t{e}\n" for s, e in edges))
    # Strata: runs with a base of margin (an insertion's footprint is the base after it).
    hp = [(s - 1, e + 1) for s, e in runs]
    (out / "homopolymer.bed").write_text("".join(f"chr1\t{s}\t{e}\n" for s, e in hp))
    other, lo = [], 0
    for s, e in hp:
        other.append((lo, s))
        lo = e
    other.append((lo, length))
    (out / "other.bed").write_text("".join(f"chr1\t{s}\t{e}\n" for s, e in other if e > s))
    strata = out / "strata.tsv"
    strata.write_text("homopolymer\thomopolymer.bed\nother\tother.bed\n")
    queries = {
        lab: _write_vcf(
            out / f"{lab}.vcf", sample, _query(np.random.default_rng([seed, n]), truth, seq, profile)
        )
        for n, (lab, profile) in enumerate((labs or DEFAULT_LABS).items())
    }
    return ProficiencySet(
        sample=sample, reference=fasta, truth_vcf=truth_vcf, regions=regions, strata=strata, queries=queries
    )
