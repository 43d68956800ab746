"""Reference assemblies, chromosome names and the node-internal variant key.

Coordinates in genofed are 0-based half-open (Beacon v2, VRS); VCF's 1-based positions are
converted at the ingest edge. Chromosomes are stored without a ``chr`` prefix, mitochondria as
``MT``; assemblies under their GRC names.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

__all__ = [
    "Assembly",
    "normalise_assembly",
    "normalise_chromosome",
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


def variant_id(assembly: str, chrom: str, start: int, ref: str, alt: str) -> int:
    """A stable signed 64-bit key of one allele, for joins inside a node (not an identity across nodes).

    Nodes agree on a variant through (assembly, chrom, start, ref, alt) and its VRS identifier; this
    key only makes joins of calls to sites cheap.
    """
    text = f"{assembly}:{chrom}:{start}:{ref}:{alt}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little", signed=True)
