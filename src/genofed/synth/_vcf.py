"""Writers of a cohort's genomic source files: bgzipped, tabix-indexed multi-sample VCFs and sample sheets.

Both VCFs are GRCh38 with ``chr``-prefixed contigs, sorted in karyotype order and compressed with
BGZF (``pysam.tabix_index``, which also writes the ``.tbi`` index). The germline VCF holds the
normal samples' genotypes at the shared background sites with ``AC``/``AN``/``AF`` computed from them
(missing genotypes lower ``AN``). The somatic VCF holds every tumour sample's calls, one record per
distinct allele, with ``GT:AD:DP:AF`` for carriers and ``./.`` for the rest, and a VEP-style ``CSQ``
annotation of the gene's IntOGen transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pysam

from ._cohort import Cohort
from ._reference import CONTIGS

__all__ = [
    "CSQ_FIELDS",
    "SAMPLE_SHEET_COLUMNS",
    "write_germline_vcf",
    "write_sample_sheet",
    "write_somatic_vcf",
]

CSQ_FIELDS: tuple[str, ...] = (
    "Allele",
    "Consequence",
    "IMPACT",
    "SYMBOL",
    "Gene",
    "Feature_type",
    "Feature",
    "BIOTYPE",
    "EXON",
    "INTRON",
    "HGVSc",
    "HGVSp",
    "STRAND",
    "CANONICAL",
)
SAMPLE_SHEET_COLUMNS: tuple[str, ...] = (
    "sample",
    "individual",
    "specimen",
    "specimen_type",
    "analysis",
    "assay",
    "pipeline",
    "pipeline_version",
    "tissue",
    "tumour_type",
)
_CHROM_ORDER = {c: i for i, c in enumerate(CONTIGS)}


def _header(cohort: Cohort, extra: Sequence[str], samples: Sequence[str]) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        f"##source=genofed.synth (country {cohort.country.value}, seed {cohort.seed})",
        "##reference=GRCh38",
        *(f"##contig=<ID=chr{c},length={n},assembly=GRCh38>" for c, n in CONTIGS.items()),
        '##FILTER=<ID=PASS,Description="All filters passed">',
        *extra,
        "\t".join(("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples)),
    ]
    return "\n".join(lines) + "\n"


def _compress(plain: Path) -> Path:
    """BGZF-compress and tabix-index ``plain`` (removed); return the ``.gz`` path."""
    out = pysam.tabix_index(str(plain), preset="vcf", force=True, keep_original=False)
    return Path(out)


def write_germline_vcf(cohort: Cohort, path: Path) -> Path:
    """Write the germline VCF (``path`` must end in ``.vcf.gz``); return its path."""
    samples = cohort.samples.filter(pc.equal(cohort.samples.column("vcf"), "germline"))
    names = samples.column("sample").to_pylist()
    header = _header(
        cohort,
        (
            '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in called genotypes">',
            '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles in called genotypes">',
            '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency in called genotypes">',
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        ),
        names,
    )
    genotypes = cohort.germline_genotypes
    lookup = np.array(["./.", "0/0", "0/1", "1/1"])
    called = genotypes >= 0
    an = 2 * called.sum(axis=1)
    ac = np.where(called, genotypes, 0).sum(axis=1)
    sites = cohort.germline_sites
    chrom = sites.column("chrom").to_pylist()
    pos = sites.column("pos").to_pylist()
    ref = sites.column("ref").to_pylist()
    alt = sites.column("alt").to_pylist()
    plain = path.with_suffix("")  # germline.vcf.gz -> germline.vcf
    with plain.open("w", encoding="ascii", newline="\n") as out:
        out.write(header)
        for i in range(len(pos)):
            af = ac[i] / an[i] if an[i] else 0.0
            info = f"AC={ac[i]};AN={an[i]};AF={af:.4g}"
            fields = "\t".join(lookup[genotypes[i] + 1])
            out.write(f"chr{chrom[i]}\t{pos[i]}\t.\t{ref[i]}\t{alt[i]}\t.\tPASS\t{info}\tGT\t{fields}\n")
    return _compress(plain)


def _vep_allele(ref: str, alt: str) -> str:
    """VEP's ``Allele`` of a VCF allele: the alternate bases after the shared first base (``-`` if none)."""
    if len(ref) != len(alt) and ref[0] == alt[0]:
        return alt[1:] or "-"
    return alt


def _csq(row: dict[str, object]) -> str:
    gene = row["gene"]
    ref, alt = str(row["ref"]), str(row["alt"])
    values = {
        "Allele": _vep_allele(ref, alt),
        "Consequence": row["consequence"],
        "IMPACT": row["impact"],
        "SYMBOL": gene,
        "Feature_type": "Transcript" if row["transcript"] else None,
        "Feature": row["transcript"],
        "BIOTYPE": "protein_coding" if row["transcript"] else None,
        "EXON": row["exon"],
        "HGVSc": row["hgvs_c"],
        "HGVSp": row["hgvs_p"],
        "STRAND": row["strand"],
        "CANONICAL": "YES" if row["transcript"] else None,
    }
    return "|".join("" if values.get(f) is None else str(values[f]) for f in CSQ_FIELDS)


def write_somatic_vcf(cohort: Cohort, path: Path) -> Path:
    """Write the somatic VCF (``path`` must end in ``.vcf.gz``); return its path."""
    samples = cohort.samples.filter(pc.equal(cohort.samples.column("vcf"), "somatic"))
    names = samples.column("sample").to_pylist()
    column = {name: i for i, name in enumerate(names)}
    header = _header(
        cohort,
        (
            '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="Somatic mutation">',
            '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
            f'Format: {"|".join(CSQ_FIELDS)}">',
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and alt alleles">',
            '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
            '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fraction of the alternate allele">',
        ),
        names,
    )
    records: dict[tuple[int, int, str, str], tuple[dict[str, object], list[str]]] = {}
    for row in cohort.somatic.to_pylist():
        key = (_CHROM_ORDER[str(row["chrom"])], int(str(row["pos"])), str(row["ref"]), str(row["alt"]))
        if key not in records:
            records[key] = (row, ["./."] * len(names))
        depth, alt_depth = int(str(row["depth"])), int(str(row["alt_depth"]))
        records[key][1][column[str(row["sample"])]] = (
            f"0/1:{depth - alt_depth},{alt_depth}:{depth}:{row['vaf']}"
        )
    plain = path.with_suffix("")
    with plain.open("w", encoding="ascii", newline="\n") as out:
        out.write(header)
        for key in sorted(records):
            row, fields = records[key]
            info = f"SOMATIC;CSQ={_csq(row)}"
            out.write(
                f"chr{row['chrom']}\t{row['pos']}\t.\t{row['ref']}\t{row['alt']}\t.\tPASS\t{info}\tGT:AD:DP:AF\t"
                + "\t".join(fields)
                + "\n"
            )
    return _compress(plain)


def write_sample_sheet(cohort: Cohort, vcf: str, path: Path) -> Path:
    """Write the sample sheet of the ``germline`` or ``somatic`` VCF (TSV, one row per VCF sample)."""
    samples = cohort.samples.filter(pc.equal(cohort.samples.column("vcf"), vcf))
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("\t".join(SAMPLE_SHEET_COLUMNS) + "\n")
        for row in samples.select(list(SAMPLE_SHEET_COLUMNS)).to_pylist():
            out.write("\t".join("" if row[c] is None else str(row[c]) for c in SAMPLE_SHEET_COLUMNS) + "\n")
    return path
