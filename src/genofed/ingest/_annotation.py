"""Functional annotation of VCF records: SnpEff ``ANN`` and Ensembl VEP ``CSQ``.

Both tools write one INFO value per record holding a comma-separated list of annotations, one per
(allele, feature), each a ``|``-separated list of fields whose names the header declares:

- SnpEff: ``##INFO=<ID=ANN,...,Description="Functional annotations: 'Allele | Annotation | ...'">``
- VEP: ``##INFO=<ID=CSQ,...,Description="Consequence annotations from Ensembl VEP. Format: Allele|...">``

:class:`AnnotationParser` reads the field names from that header line and, per record, keeps for
each ALT allele the single most severe annotation (by :func:`genofed.model.consequence_rank`).
A consequence may be several ``&``-joined terms; the most severe one counts. Among equally severe
annotations VEP's ``PICK`` flag wins, then ``CANONICAL``, then ``MANE_SELECT``, then file order.

Unknown consequence terms never stop an ingest. They rank below every known term, so they are
only chosen when an allele has no annotation with a known term; the ``consequence`` column then
keeps the term verbatim (nothing the source says is dropped) and :attr:`AnnotationParser.unknown_terms`
counts it, so the ingest summary can report it. Known terms are stored as their SO names
(SnpEff's ``conservative_inframe_deletion`` becomes ``inframe_deletion``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

from genofed.errors import FormatError, Location
from genofed.model import consequence_rank, impact_of, normalise_consequence, normalise_protein_change

from ._normalise import is_symbolic

__all__ = ["Annotation", "AnnotationParser", "AnnotationStyle"]

_IMPACTS = frozenset({"HIGH", "MODERATE", "LOW", "MODIFIER"})
# Unknown terms rank after every known one (consequence_rank gives them the length of the table).
_UNKNOWN_RANK = consequence_rank("")
_INFO_LINE = re.compile(r"^##INFO=<ID=(ANN|CSQ),.*?Description=\"((?:[^\"\\]|\\.)*)\"", re.MULTILINE)


class AnnotationStyle(StrEnum):
    """Which tool wrote the annotation; the value is its INFO tag."""

    SNPEFF = "ANN"
    VEP = "CSQ"


# Field names per style: (allele, consequence, impact, gene, feature type, feature, HGVS c., HGVS p.)
_FIELDS: dict[AnnotationStyle, dict[str, str]] = {
    AnnotationStyle.SNPEFF: {
        "allele": "Allele",
        "consequence": "Annotation",
        "impact": "Annotation_Impact",
        "gene": "Gene_Name",
        "feature_type": "Feature_Type",
        "feature": "Feature_ID",
        "hgvs_c": "HGVS.c",
        "hgvs_p": "HGVS.p",
    },
    AnnotationStyle.VEP: {
        "allele": "Allele",
        "consequence": "Consequence",
        "impact": "IMPACT",
        "gene": "SYMBOL",
        "feature_type": "Feature_type",
        "feature": "Feature",
        "hgvs_c": "HGVSc",
        "hgvs_p": "HGVSp",
        "pick": "PICK",
        "canonical": "CANONICAL",
        "mane": "MANE_SELECT",
        "allele_num": "ALLELE_NUM",
    },
}


@dataclass(frozen=True, slots=True)
class Annotation:
    """The most severe annotation of one ALT allele, in the model's vocabulary."""

    consequence: str | None
    impact: str | None = None
    gene: str | None = None
    transcript: str | None = None
    hgvs_c: str | None = None
    protein_change: str | None = None


class AnnotationParser:
    """Picks the most severe annotation per ALT allele from one record's ``ANN`` or ``CSQ`` value.

    Parameters
    ----------
    style
        SnpEff (``ANN``) or VEP (``CSQ``).
    fields
        The ``|``-separated field names the header declares, in order.

    Raises
    ------
    FormatError
        The field list lacks ``Allele`` or the consequence field.
    """

    def __init__(self, style: AnnotationStyle, fields: Sequence[str]) -> None:
        self.style = style
        self.fields = tuple(fields)
        names = _FIELDS[style]
        position = {name: i for i, name in enumerate(self.fields)}
        for key in ("allele", "consequence"):
            if names[key] not in position:
                raise FormatError(
                    f"the {style.value} header declares no {names[key]!r} field; "
                    f"found {'|'.join(self.fields)}",
                    location=Location(field=style.value),
                )
        self._index = {key: position.get(name) for key, name in names.items()}
        self._allele = position[names["allele"]]
        self._consequence = position[names["consequence"]]
        self._needed = max(self._allele, self._consequence) + 1
        self._terms: dict[str, tuple[int, str, tuple[str, ...]]] = {}
        #: consequence terms not in the model's SO table, with how many annotations used them
        self.unknown_terms: Counter[str] = Counter()

    @property
    def tag(self) -> str:
        """The INFO tag this parser reads (``ANN`` or ``CSQ``)."""
        return self.style.value

    @classmethod
    def from_header(cls, header: str) -> AnnotationParser | None:
        """The parser for a VCF header's ``CSQ`` (preferred) or ``ANN`` declaration, or None.

        Raises
        ------
        FormatError
            The declaration's Description lists no field names, naming the header line.
        """
        found: dict[str, tuple[str, int]] = {}
        for match in _INFO_LINE.finditer(header):
            line = header.count("\n", 0, match.start()) + 1
            found.setdefault(match.group(1), (match.group(2), line))
        for style in (AnnotationStyle.VEP, AnnotationStyle.SNPEFF):
            if style.value in found:
                description, line = found[style.value]
                try:
                    return cls(style, _field_names(style, description))
                except FormatError as exc:
                    raise exc.with_context(line=line) from None
        return None

    def most_severe(self, value: str | None, ref: str, alts: Sequence[str]) -> list[Annotation | None]:
        """The most severe annotation of each ALT allele (None where the record has none for it).

        Raises
        ------
        FormatError
            An annotation has fewer fields than the Allele and consequence positions need.
        """
        best: list[tuple[tuple[int, int, int, int], list[str], str] | None] = [None] * len(alts)
        if not value:
            return [None] * len(alts)
        lookup = self._allele_lookup(ref, alts)
        single = len(alts) == 1
        allele_num = self._index.get("allele_num")
        for raw in value.split(","):
            parts = raw.split("|")
            if len(parts) < self._needed:
                raise FormatError(
                    f"annotation {raw[:60]!r} has {len(parts)} fields; "
                    f"the header declares {len(self.fields)}",
                    location=Location(field=self.tag),
                )
            index = None
            if allele_num is not None and allele_num < len(parts) and parts[allele_num].isdigit():
                number = int(parts[allele_num]) - 1
                index = number if 0 <= number < len(alts) else None
            else:
                index = lookup.get(parts[self._allele])
                if index is None and single:
                    # One ALT: every annotation is about it, whatever the tool wrote as the allele
                    # (VEP writes e.g. "insertion" for long or symbolic alleles).
                    index = 0
            if index is None:
                continue
            rank, term = self._rank(parts[self._consequence])
            key = (rank, self._flag(parts, "pick"), self._flag(parts, "canonical"), self._flag(parts, "mane"))
            current = best[index]
            if current is None or key < current[0]:
                best[index] = (key, parts, term)
        return [None if b is None else self._annotation(b[1], b[2]) for b in best]

    # -- helpers --------------------------------------------------------------------------------
    def _rank(self, consequence: str) -> tuple[int, str]:
        """(severity rank, SO term) of a possibly ``&``-joined consequence; cached per string."""
        cached = self._terms.get(consequence)
        if cached is None:
            candidates = []
            unknown = []
            for raw in consequence.split("&"):
                term = raw.strip()
                if not term:
                    continue
                try:
                    candidates.append((consequence_rank(term), normalise_consequence(term)))
                except ValueError:
                    candidates.append((_UNKNOWN_RANK, term))
                    unknown.append(term)
            rank, term = min(candidates) if candidates else (_UNKNOWN_RANK, "")
            cached = self._terms[consequence] = (rank, term, tuple(unknown))
        for term in cached[2]:
            self.unknown_terms[term] += 1
        return cached[0], cached[1]

    def _flag(self, parts: list[str], key: str) -> int:
        """0 when the annotation carries the VEP flag ``key`` (PICK=1, CANONICAL=YES, a MANE id), else 1."""
        i = self._index.get(key)
        if i is None or i >= len(parts):
            return 1
        value = parts[i]
        return 0 if value and value not in {"0", "NO", "-"} else 1

    def _field(self, parts: list[str], key: str) -> str | None:
        i = self._index.get(key)
        if i is None or i >= len(parts):
            return None
        value = parts[i].strip()
        return value or None

    def _allele_lookup(self, ref: str, alts: Sequence[str]) -> dict[str, int]:
        """How each ALT allele is written in the annotation's Allele field."""
        lookup = {alt: i for i, alt in enumerate(alts)}
        if self.style is AnnotationStyle.VEP:
            # VEP drops a first base shared by REF and every ALT, writing "-" for what is left empty.
            sequences = [a for a in alts if not is_symbolic(a)]
            if sequences and all(a[:1] == ref[:1] for a in sequences) and ref:
                for i, alt in enumerate(alts):
                    if not is_symbolic(alt):
                        lookup.setdefault(alt[1:] or "-", i)
        return lookup

    def _annotation(self, parts: list[str], term: str) -> Annotation:
        consequence = term or None
        impact = self._field(parts, "impact")
        if impact not in _IMPACTS:
            try:
                impact = impact_of(term).name if term else None
            except ValueError:
                impact = None
        feature_type = (self._field(parts, "feature_type") or "").lower()
        transcript = self._field(parts, "feature") if feature_type == "transcript" else None
        gene = self._field(parts, "gene")
        if feature_type == "intergenic_region":
            # SnpEff names an intergenic region after its flanking genes ("DUXAP8-GAB4"): not a gene.
            gene = None
        hgvs_c = self._field(parts, "hgvs_c")
        if hgvs_c is not None and ":" in hgvs_c:
            hgvs_c = hgvs_c.rsplit(":", 1)[1]
        hgvs_p = self._field(parts, "hgvs_p")
        if hgvs_p is not None and "%" in hgvs_p:
            hgvs_p = unquote(hgvs_p)
        return Annotation(
            consequence=consequence,
            impact=impact,
            gene=gene,
            transcript=transcript,
            hgvs_c=hgvs_c,
            protein_change=normalise_protein_change(hgvs_p),
        )


def _field_names(style: AnnotationStyle, description: str) -> list[str]:
    """The field names a header Description declares."""
    text = description
    if style is AnnotationStyle.VEP:
        marker = text.find("Format:")
        text = text[marker + len("Format:") :] if marker >= 0 else ""
    else:
        quoted = re.search(r"'([^']*)'", text)
        text = quoted.group(1) if quoted else text.split(":", 1)[-1]
    names = [name.strip() for name in text.strip().split("|")]
    if len(names) < 2 or not all(names):
        raise FormatError(
            f"cannot read the {style.value} field names from the header Description {description[:80]!r}",
            location=Location(field=style.value),
        )
    return names
