"""Protein-change notation: one canonical short form for HGVS p. strings.

Sources write ``p.Gly12Cys`` (VEP, SnpEff), ``p.G12C`` (Hartwig, CGI), sometimes without ``p.``.
genofed stores the one-letter form and accepts either in queries.
"""

from __future__ import annotations

import re

__all__ = ["normalise_protein_change"]

_THREE_TO_ONE = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
    "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
    "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Sec": "U", "Pyl": "O", "Ter": "*", "Xaa": "X",
}  # fmt: skip
_THREE = re.compile("|".join(_THREE_TO_ONE))


def normalise_protein_change(text: str | None) -> str | None:
    """Return the one-letter HGVS p. short form, or None for an empty value.

    Strips a transcript or protein accession prefix (``ENSP...:p.``), predicted-change parentheses,
    and writes stops as ``*``.

    >>> normalise_protein_change("p.Gly12Cys")
    'p.G12C'
    >>> normalise_protein_change("ENSP00000256078:p.(Gly12Asp)")
    'p.G12D'
    >>> normalise_protein_change("V600E")
    'p.V600E'
    >>> normalise_protein_change("p.Arg213Ter")
    'p.R213*'
    """
    if text is None:
        return None
    value = text.strip()
    if not value or value in {".", "-", "p.?", "p.="}:
        return None
    if ":" in value:
        value = value.rsplit(":", 1)[1]
    value = value.removeprefix("p.")
    if value.startswith("(") and value.endswith(")"):
        value = value[1:-1]
    value = _THREE.sub(lambda m: _THREE_TO_ONE[m.group(0)], value)
    return "p." + value
