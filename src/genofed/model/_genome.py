"""Reference assemblies, chromosome names, allele trimming and the node-internal variant key.

Coordinates in genofed are 0-based half-open (Beacon v2, VRS); VCF's 1-based positions are
converted at the ingest edge. Chromosomes are stored without a ``chr`` prefix, mitochondria as
``MT``; assemblies under their GRC names. Alleles are stored trimmed (:func:`trim_alleles`): ingest
trims what it stores and queries trim what they ask for, with this one function, so the two agree.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

__all__ = [
    "Assembly",
    "normalise_assembly",
    "normalise_chromosome",
    "trim_alleles",
    "variant_id",
]


class Assembly(StrEnum):
    """Reference assemblies genofed stores."""

    GRCH37 = "GRCh37"
    GRCH38 = "GRCh38"


_ASSEMBLY_ALIASES: dict[str, Assembly] = {
    "grch37": Assembly.GRCH37,
    "hg19": Assembly.GRCH37,
    "b37": Assembly.GRCH37,
    "hs37d5": Assembly.GRCH37,
    "37": Assembly.GRCH37,
    "grch38": Assembly.GRCH38,
    "hg38": Assembly.GRCH38,
    "b38": Assembly.GRCH38,
    "38": Assembly.GRCH38,
}

# RefSeq accessions of the primary chromosomes: NC_0000NN.V -> NN (23 = X, 24 = Y), NC_012920 = MT.
_REFSEQ = re.compile(r"^NC_0000(\d\d)\.\d+$")


def normalise_assembly(label: str) -> Assembly:
    """Map an assembly label (GRCh37, hg19, b37, GRCh38, hg38, ...) to its :class:`Assembly`.

    >>> normalise_assembly("hg19")
    <Assembly.GRCH37: 'GRCh37'>
    """
    key = label.strip().lower().removeprefix("ncbi")
    key = key.split(".")[0] if key.startswith("grch") else key
    try:
        return _ASSEMBLY_ALIASES[key]
    except KeyError:
        known = ", ".join(sorted({a.value for a in Assembly}))
        raise ValueError(f"unknown assembly {label!r}; expected one of {known} or hg19/hg38/b37") from None


def normalise_chromosome(name: str) -> str:
    """Return the stored chromosome name: ``chr1``/``1``/``NC_000001.11`` → ``1``; ``chrM`` → ``MT``.

    >>> [normalise_chromosome(c) for c in ("chr7", "X", "NC_000023.11", "chrM")]
    ['7', 'X', 'X', 'MT']
    """
    raw = name.strip()
    match = _REFSEQ.match(raw)
    if match:
        number = int(match.group(1))
        return {23: "X", 24: "Y"}.get(number, str(number))
    if raw.startswith("NC_012920"):
        return "MT"
    bare = raw[3:] if raw.lower().startswith("chr") else raw
    if bare.upper() in {"M", "MT"}:
        return "MT"
    if bare.upper() in {"X", "Y"}:
        return bare.upper()
    return bare


def trim_alleles(start: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Remove the bases REF and ALT share: the common suffix, then the common prefix.

    This is the store's form of an allele, as in VRS and SPDI. ``start`` is 0-based; removing a
    prefix moves it right. The result may have an empty ``ref`` (insertion) or an empty ``alt``
    (deletion). Trimming alone does not left-align an indel in a repeat: that needs the reference
    sequence (``genofed.ingest.left_align``).

    Parameters
    ----------
    start
        0-based start of ``ref``.
    ref, alt
        The reference and alternate alleles (as VCF writes them, with any anchor base).

    Returns
    -------
    tuple[int, str, str]
        The trimmed allele's start, reference and alternate sequence.

    Examples
    --------
    >>> trim_alleles(9, "GA", "G")      # VCF POS=10 deletion of the A at 1-based 11
    (10, 'A', '')
    >>> trim_alleles(9, "G", "GTT")     # insertion of TT after 1-based 10
    (10, '', 'TT')
    >>> trim_alleles(9, "CAT", "CGT")   # an MNV-looking SNV
    (10, 'A', 'G')
    >>> trim_alleles(9, "A", "G")       # an SNV is left as it is
    (9, 'A', 'G')
    """
    if len(ref) == 1 and len(alt) == 1:
        return start, ref, alt
    shortest = min(len(ref), len(alt))
    suffix = 0
    while suffix < shortest and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    if suffix:
        ref, alt = ref[: len(ref) - suffix], alt[: len(alt) - suffix]
        shortest -= suffix
    prefix = 0
    while prefix < shortest and ref[prefix] == alt[prefix]:
        prefix += 1
    if prefix:
        ref, alt = ref[prefix:], alt[prefix:]
    return start + prefix, ref, alt


def variant_id(assembly: str, chrom: str, start: int, ref: str, alt: str) -> int:
    """A stable signed 64-bit key of one allele, for joins inside a node (not an identity across nodes).

    Nodes agree on a variant through (assembly, chrom, start, ref, alt) and its VRS identifier; this
    key only makes joins of calls to sites cheap.
    """
    text = f"{assembly}:{chrom}:{start}:{ref}:{alt}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little", signed=True)
