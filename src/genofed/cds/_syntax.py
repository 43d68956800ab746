"""Biomarker syntax shared by the loaders and the matcher: protein changes, codons, a parsed biomarker.

Knowledge bases write protein changes in upper case (``M774INSAYVM``, CIViC 2018), in HGVS short
form (``E746_A750del``), or with three-letter codes; patient findings carry the one-letter short form.
`canonical_protein_change` gives one spelling for all of them so an exact match is a string match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genofed.model import normalise_protein_change

from ._types import BiomarkerKind

__all__ = ["Biomarker", "Unsupported", "canonical_protein_change", "codon_of"]

_CHANGE = re.compile(r"^([A-Z*])(\d+)(?:_([A-Z*])(\d+))?(.*)$")
_FRAMESHIFT = re.compile(r"^FS(?:\*|X|TER)?(\d+)?$")


def canonical_protein_change(text: str | None) -> str | None:
    """One-letter short protein change without ``p.``, or None when ``text`` is not one.

    >>> canonical_protein_change("p.Gly12Cys"), canonical_protein_change("M774INSAYVM")
    ('G12C', 'M774insAYVM')
    >>> canonical_protein_change("E746_A750DEL"), canonical_protein_change("R213X")
    ('E746_A750del', None)
    """
    if text is None:
        return None
    short = normalise_protein_change(text)
    if short is None:
        return None
    m = _CHANGE.match(short.removeprefix("p.").upper())
    if m is None:
        return None
    ref, pos, ref2, pos2, rest = m.groups()
    head = f"{ref}{pos}" + (f"_{ref2}{pos2}" if ref2 else "")
    if re.fullmatch(r"[A-WYZ*]", rest) and not ref2:
        return head + rest
    if rest.startswith("DELINS") and re.fullmatch(r"[A-Z*]+", rest[6:]):
        return f"{head}delins{rest[6:]}"
    if rest.startswith("INS") and re.fullmatch(r"[A-Z*]+", rest[3:]):
        return f"{head}ins{rest[3:]}"
    if re.fullmatch(r"DEL[A-Z]*", rest):
        return f"{head}del"
    if rest == "DUP":
        return f"{head}dup"
    fs = _FRAMESHIFT.match(rest)
    if fs is not None and not ref2:
        return f"{head}fs" + (f"*{fs.group(1)}" if fs.group(1) else "")
    return None


def codon_of(protein_change: str | None) -> int | None:
    """The (first) codon a protein change touches: 600 for ``V600E``, 746 for ``E746_A750del``."""
    if not protein_change:
        return None
    m = re.match(r"^(?:p\.)?[A-Za-z*]{1,3}?(\d+)", protein_change)
    return int(m.group(1)) if m else None


@dataclass(frozen=True, slots=True)
class Biomarker:
    """A parsed biomarker before it becomes `Evidence`: the fields an evidence item's match needs."""

    kind: BiomarkerKind
    gene: str | None
    protein_change: str | None = None
    codon: int | None = None
    exon: int | None = None
    partner_gene: str | None = None
    consequence: str | None = None
    protein_start: int | None = None
    protein_end: int | None = None


class Unsupported(Exception):  # noqa: N818 -- a control-flow signal inside loaders, never raised out
    """A source row whose biomarker genofed cannot represent; becomes a `Rejection`."""

    def __init__(self, reason: str, category: str = "unsupported biomarker") -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category
