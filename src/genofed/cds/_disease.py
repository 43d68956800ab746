"""Knowledge-base diseases to OncoTree codes.

Sources name diseases in their own words (CIViC: a Disease Ontology term and DOID; CGI: its own
tumour acronyms; OncoKB: OncoTree already). `map_disease` looks a disease up, in order, by DOID, by
CGI acronym, by term in the packaged table ``data/disease_map.tsv`` (documented there, row by row),
and finally by exact OncoTree name or code. "Any cancer type", "Cancer" and "Solid tumor" mean
pan-cancer. A disease nothing maps is kept with no codes; the loaders count such diseases.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources

from genofed.model import oncotree

__all__ = ["DiseaseMapping", "map_disease"]

_PAN = "PAN"


@dataclass(frozen=True, slots=True)
class DiseaseMapping:
    """OncoTree codes for a source disease; ``how`` says which table or rule gave them."""

    codes: tuple[str, ...]
    pan_cancer: bool
    how: str

    @property
    def mapped(self) -> bool:
        """Whether the disease mapped to any code or to pan-cancer."""
        return self.pan_cancer or bool(self.codes)


@cache
def _table() -> dict[tuple[str, str], tuple[str, ...]]:
    text = resources.files("genofed.cds").joinpath("data/disease_map.tsv").read_text(encoding="utf-8")
    table: dict[tuple[str, str], list[str]] = defaultdict(list)
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("kind\t"):
            continue
        kind, key, codes = line.split("\t")[:3]
        table[(kind, key.casefold())].extend(codes.split(";"))
    return {k: tuple(v) for k, v in table.items()}


@cache
def _oncotree_names() -> dict[str, str]:
    return {node.name.casefold(): node.code for node in oncotree()}


def _result(codes: tuple[str, ...], how: str) -> DiseaseMapping:
    pan = _PAN in codes
    return DiseaseMapping(tuple(c for c in codes if c != _PAN), pan, how)


def map_disease(
    disease: str | None, *, doid: str | None = None, cgi_code: str | None = None
) -> DiseaseMapping:
    """Map one source disease to OncoTree codes.

    Parameters
    ----------
    disease
        The source's disease text (``Skin Melanoma``, ``Any cancer type``).
    doid
        A Disease Ontology identifier, with or without the ``DOID:`` prefix.
    cgi_code
        A Cancer Genome Interpreter tumour acronym (``CM``, ``COREAD``).

    Returns
    -------
    DiseaseMapping
        Empty codes and ``pan_cancer=False`` when nothing maps.

    Examples
    --------
    >>> map_disease("Skin Melanoma", doid="8923").codes
    ('SKCM',)
    >>> map_disease("Any cancer type").pan_cancer
    True
    >>> map_disease("Colorectal adenocarcinoma", cgi_code="COREAD").codes
    ('COADREAD',)
    """
    table = _table()
    if doid:
        key = doid.strip()
        key = key if key.upper().startswith("DOID:") else f"DOID:{key}"
        if ("doid", key.casefold()) in table:
            return _result(table[("doid", key.casefold())], f"DOID table ({key})")
    if cgi_code and ("cgi", cgi_code.strip().casefold()) in table:
        return _result(table[("cgi", cgi_code.strip().casefold())], f"CGI acronym table ({cgi_code})")
    text = (disease or "").strip()
    if text and ("term", text.casefold()) in table:
        return _result(table[("term", text.casefold())], "term table")
    if text:
        tree = oncotree()
        if text.upper() in tree:
            return DiseaseMapping((tree.get(text).code,), False, "OncoTree code")
        code = _oncotree_names().get(text.casefold())
        if code is not None:
            return DiseaseMapping((code,), False, "OncoTree name")
    return DiseaseMapping((), False, "unmapped")
