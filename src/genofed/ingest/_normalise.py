"""Allele normalisation at the VCF edge: left-alignment, symbolic alleles, and the variant type.

VCF writes an indel with a shared anchor base (``POS=10 REF=GA ALT=G``); genofed stores every allele
the way VRS and SPDI do: shared bases trimmed away (common suffix first, then common prefix), on
0-based half-open coordinates, so an insertion has an empty ``ref`` and ``start == end`` and a
deletion an empty ``alt``. Trimming is :func:`genofed.model.trim_alleles` (queries trim with it
too, and may not import ingest). Trimming alone makes one representation per VCF record; indels in
repeats also need *left-alignment* against the reference sequence so that two callers' different
placements of the same event agree, which needs a FASTA (:class:`FastaReference`).

Functions here work on one allele; the VCF reader calls them per ALT allele (after splitting
multi-allelic records).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genofed.errors import FormatError, Location
from genofed.model import normalise_chromosome

__all__ = [
    "FastaReference",
    "is_symbolic",
    "left_align",
    "variant_type",
]

# How many reference bases to fetch at a time while shifting an indel to the left.
_WINDOW = 64


def is_symbolic(alt: str) -> bool:
    """True for ALT alleles that are not sequences: ``<DEL>``, ``<*>``, ``*``, breakends, ``.``.

    >>> [is_symbolic(a) for a in ("T", "<DEL>", "*", "G]17:198982]", ".")]
    [False, True, True, True, True]
    """
    return (
        not alt
        or alt in {"*", "."}
        or alt.startswith("<")
        or "[" in alt
        or "]" in alt
        or alt.startswith(".")
        or alt.endswith(".")
    )


def left_align(start: int, ref: str, alt: str, reference: FastaReference, chrom: str) -> tuple[int, str, str]:
    """Shift a trimmed insertion or deletion as far left as the reference sequence allows.

    Only pure indels move (one allele empty); substitutions and delins stay where they are, as in
    ``bcftools norm``. ``chrom`` is the contig name as the VCF writes it.

    Raises
    ------
    FormatError
        When the contig is not in the FASTA.
    """
    if ref and alt:
        return start, ref, alt
    allele = ref or alt
    if not allele:
        return start, ref, alt
    while start > 0:
        lo = max(0, start - _WINDOW)
        window = reference.fetch(chrom, lo, start)
        i = len(window) - 1
        while i >= 0 and window[i] == allele[-1]:
            # Rotate: the base before the event joins it on the left, its last base leaves.
            allele = window[i] + allele[:-1]
            start -= 1
            i -= 1
        if i >= 0 or lo == 0 or not window:
            break
    return (start, allele, "") if ref else (start, "", allele)


def variant_type(ref: str, alt: str) -> str:
    """SNV, MNV, INS, DEL or DELINS for trimmed alleles.

    >>> [variant_type(r, a) for r, a in (("A", "G"), ("AC", "GT"), ("", "T"), ("A", ""), ("AC", "T"))]
    ['SNV', 'MNV', 'INS', 'DEL', 'DELINS']
    """
    if not ref:
        return "INS"
    if not alt:
        return "DEL"
    if len(ref) == len(alt):
        return "SNV" if len(ref) == 1 else "MNV"
    return "DELINS"


class FastaReference:
    """An indexed FASTA (``.fai`` beside it, made by ``samtools faidx``) read through pysam.

    Contig names are matched as the VCF writes them, then by their normalised name with and
    without a ``chr`` prefix, so a ``chr1`` FASTA serves a VCF that writes ``1``.
    """

    def __init__(self, path: str | Path) -> None:
        import pysam  # heavy: only loaded when a FASTA is used

        self.path = Path(path)
        try:
            self._fasta: Any = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as exc:
            raise FormatError(
                f"cannot open the reference FASTA: {exc} (it needs a .fai index: samtools faidx)",
                location=Location(path=str(self.path)),
            ) from exc
        self._names: dict[str, str] = {}
        for name in self._fasta.references:
            self._names.setdefault(name, name)
        for name in self._fasta.references:
            bare = normalise_chromosome(name)
            for alias in (bare, "chr" + bare, "chrM" if bare == "MT" else bare):
                self._names.setdefault(alias, name)
        self._lengths = dict(zip(self._fasta.references, self._fasta.lengths, strict=True))

    def contig(self, chrom: str) -> str:
        """The FASTA's name for a VCF contig; raises FormatError when it has none."""
        name = self._names.get(chrom) or self._names.get(normalise_chromosome(chrom))
        if name is None:
            raise FormatError(
                f"contig {chrom!r} is not in the reference FASTA {self.path.name}",
                location=Location(field="CHROM"),
            )
        return name

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Upper-case reference bases on 0-based ``[start, end)`` of a VCF contig."""
        name = self.contig(chrom)
        end = min(end, self._lengths[name])
        if start >= end:
            return ""
        return str(self._fasta.fetch(name, start, end)).upper()

    def close(self) -> None:
        """Close the FASTA."""
        self._fasta.close()
