"""Phenopackets v2 → the common data model.

A phenopacket describes one person (usually a rare-disease case): the subject, diseases, phenotypic
features (HPO), biosamples, genomic interpretations and medical actions. :class:`PhenopacketReader`
reads one JSON file or a directory of them as one atomic batch, in three steps per file:

1. **parse**: ``json`` (a syntax error names its line), then the GA4GH ``phenopackets`` protobuf
   schema (``google.protobuf.json_format``), which rejects unknown fields, wrong types and unknown
   enum values. When the schema refuses a file, a Pydantic view of the same JSON finds the exact
   field path to name in the error.
2. **view**: the schema-normalised dictionary (``MessageToDict``) is read through small Pydantic
   models of the parts genofed keeps, so the conversion code is typed.
3. **convert**: into ``individuals``, ``diagnoses``, ``phenotypes``, ``specimens``, ``treatments``,
   ``responses``, ``interpretations``, ``variant_sites`` and ``variant_calls`` rows.

Times. The model keeps days relative to the index diagnosis and never a real date. The reference day
is the onset timestamp of the packet's first disease; every other timestamp (a feature's onset, a
biosample's collection, a treatment's dose interval, a time of death) becomes days from it, and is
dropped when there is no reference. Ages, age ranges, gestational ages and onset terms are kept
verbatim as text (``P1Y3M``, ``P10Y/P20Y``, ``GA 32w4d``, ``HP:0003593 Infantile onset``): converting
months or years into days would invent precision. ``age_at_diagnosis`` is the index disease's onset
age: exact from ``dateOfBirth`` and an onset timestamp, or from an ISO 8601 onset age (a month is
1/12 year).

Variants. A genomic interpretation's ``vcfRecord`` is stored as given in ``interpretations`` (0-based,
anchor base kept, so an export writes the same record back) and, trimmed as the VCF reader trims it,
as a ``variant_sites`` row and a ``variant_calls`` row with the genotype of its GENO allelic state.
Without a ``vcfRecord``, a genomic HGVS expression on a RefSeq chromosome (``NC_000007.14:g.…``)
gives the coordinates: substitutions and insertions always, deletions, duplications, delins and
inversions when the expression spells the sequence or a reference FASTA is given. What cannot be
placed is kept in ``interpretations`` only. Every HGVS expression (c., g., m., n., r., p.) must parse:
one that does not is an error naming the file and field. Interpretation sites carry AC = AN = 0: a
case report is not a genotyped cohort, so its variants count as carriers but not in frequencies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from genofed.errors import CodeError, FormatError, InputError, Location
from genofed.model import (
    Assembly,
    Diagnosis,
    Individual,
    Interpretation,
    Origin,
    Phenotype,
    Recist,
    Record,
    Response,
    Sex,
    Specimen,
    SpecimenType,
    Treatment,
    VariantCall,
    VariantSite,
    VitalStatus,
    Zygosity,
    normalise_assembly,
    normalise_chromosome,
    normalise_protein_change,
    oncotree,
    records_to_table,
    trim_alleles,
    variant_id,
)

from ._clinical import ReportRow
from ._normalise import FastaReference, left_align, variant_type
from ._registry import AdapterInfo, register_adapter
from ._source import Chunk

__all__ = [
    "GENO_ZYGOSITY",
    "RECIST_TERMS",
    "REFERENCE_SAMPLE",
    "REFSEQ_CHROMOSOMES",
    "TUMOUR_SAMPLE",
    "HgvsExpression",
    "IndividualKey",
    "PhenopacketReader",
    "PhenopacketSummary",
    "parse_hgvs",
]

#: GENO allelic states → (zygosity, genotype, copies of the allele).
GENO_ZYGOSITY: dict[str, tuple[Zygosity, str | None, int]] = {
    "GENO:0000135": (Zygosity.HETEROZYGOUS, "0/1", 1),  # heterozygous
    "GENO:0000458": (Zygosity.HETEROZYGOUS, "0/1", 1),  # simple heterozygous
    "GENO:0000402": (Zygosity.HETEROZYGOUS, "0/1", 1),  # compound heterozygous
    "GENO:0000136": (Zygosity.HOMOZYGOUS, "1/1", 2),  # homozygous
    "GENO:0000134": (Zygosity.HEMIZYGOUS, "1", 1),  # hemizygous
    "GENO:0000137": (Zygosity.UNKNOWN, None, 1),  # unspecified zygosity
}
_ZYGOSITY_LABELS = {
    "heterozygous": GENO_ZYGOSITY["GENO:0000135"],
    "homozygous": GENO_ZYGOSITY["GENO:0000136"],
    "hemizygous": GENO_ZYGOSITY["GENO:0000134"],
}

# RefSeq accession versions of the primary chromosomes: every GRCh38 chromosome is its GRCh37 version + 1.
_GRCH37_VERSIONS = (10, 11, 11, 11, 9, 11, 13, 10, 11, 10, 9, 11, 10, 8, 9, 9, 10, 9, 9, 10, 8, 10, 10, 9)
#: RefSeq chromosome accession → (assembly, chromosome).
REFSEQ_CHROMOSOMES: dict[str, tuple[Assembly, str]] = {
    **{
        f"NC_{n:06d}.{v + delta}": (assembly, normalise_chromosome(f"NC_{n:06d}.1"))
        for n, v in enumerate(_GRCH37_VERSIONS, start=1)
        for assembly, delta in ((Assembly.GRCH37, 0), (Assembly.GRCH38, 1))
    },
    "NC_012920.1": (Assembly.GRCH38, "MT"),  # rCRS: GRCh38's MT (GRCh37 has the same sequence)
}

#: RECIST responses as the NCIt terms phenopackets record them with (``responseToTreatment``).
RECIST_TERMS: dict[Recist, tuple[str, str]] = {
    Recist.CR: ("NCIT:C4870", "Complete Response"),
    Recist.PR: ("NCIT:C18058", "Partial Response"),
    Recist.SD: ("NCIT:C18213", "Stable Disease"),
    Recist.PD: ("NCIT:C35571", "Progressive Disease"),
    Recist.NE: ("NCIT:C62222", "Not Evaluable"),
}
_RECIST_TERMS: dict[str, Recist] = {term: recist for recist, (term, _) in RECIST_TERMS.items()}
_RECIST_LABELS: dict[str, Recist] = {
    "complete response": Recist.CR,
    "complete remission": Recist.CR,
    "partial response": Recist.PR,
    "partial remission": Recist.PR,
    "stable disease": Recist.SD,
    "progressive disease": Recist.PD,
    "not evaluable": Recist.NE,
}
TUMOUR_SAMPLE = "EFO:0009655"  # abnormal sample: a biosample's materialSample for a tumour
REFERENCE_SAMPLE = "EFO:0009654"  # reference sample: a matched normal
_BASES = re.compile(r"^[ACGTN]+$")


# -- HGVS ------------------------------------------------------------------------------------------

_ACCESSION = r"(?:(?P<acc>[A-Za-z][A-Za-z0-9_]*(?:\.\d+)?)(?:\([A-Za-z0-9_.\-]+\))?:)?"
_DNA_EDIT = (
    r"(?:(?P<sref>[ACGTNU])>(?P<salt>[ACGTNU])"
    r"|del(?P<dseq>[ACGTNU]*)ins(?P<iseq>[ACGTNU]+)"
    r"|del(?P<delseq>[ACGTNU]*)"
    r"|dup(?P<dupseq>[ACGTNU]*)"
    r"|ins(?P<ins>[ACGTNU]+)"
    r"|inv(?P<invseq>[ACGTNU]*)"
    r"|(?P<same>=))"
)
_GENOMIC = re.compile(rf"^(?P<start>\d+)(?:_(?P<end>\d+))?{_DNA_EDIT}$")
_TRANSCRIPT_POS = r"[-*]?\d+(?:[-+]\d+)?"
_TRANSCRIPT = re.compile(rf"^(?P<start>{_TRANSCRIPT_POS})(?:_(?P<end>{_TRANSCRIPT_POS}))?{_DNA_EDIT}$")
_AA = (
    r"(?:Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val|Sec|Pyl|Ter|Xaa"
    r"|[ACDEFGHIKLMNPQRSTVWYUOX*])"
)
_AA_POS = rf"{_AA}\d+"
_AA_EDIT = (
    rf"(?:{_AA}?fs(?:(?:Ter|\*)(?:\d+|\?))?"
    rf"|{_AA}?ext(?:[-*]?\d+|(?:Ter|\*)(?:\d+|\?)|\?)?"
    rf"|delins{_AA}+|ins{_AA}+|del|dup|=|\?|{_AA})"
)
_PROTEIN_BODY = rf"{_AA_POS}(?:_{_AA_POS})?{_AA_EDIT}"
_PROTEIN = re.compile(rf"^(?:\({_PROTEIN_BODY}\)|{_PROTEIN_BODY}|\?|=|\(=\)|\(\?\)|0\??)$")
_EXPRESSION = re.compile(rf"^{_ACCESSION}(?P<kind>[cgmnrp])\.(?P<body>.+)$")


@dataclass(frozen=True, slots=True)
class HgvsExpression:
    """A parsed HGVS expression; genomic ones on a RefSeq chromosome also carry a location.

    ``start``/``end`` are the positions the expression names, 0-based half-open on ``chrom`` of
    ``assembly`` (an insertion names the empty interval between its two flanking bases).
    ``sequence`` is the named bases when the expression spells them (a substitution's reference
    base, ``delAC``, ``dupAC``, ``invAC``); ``inserted`` the new bases (a substitution's alternate
    base, ``insGT``, ``delinsGT``).
    """

    text: str
    kind: str  # c, g, m, n, r or p
    accession: str | None
    edit: str | None = None  # sub, del, dup, ins, delins, inv, identity (DNA and RNA only)
    assembly: Assembly | None = None
    chrom: str | None = None
    start: int | None = None
    end: int | None = None
    sequence: str | None = None
    inserted: str | None = None

    def allele(self, fetch: Callable[[str, int, int], str] | None = None) -> tuple[int, str, str] | None:
        """The change as (0-based start, ref, alt), untrimmed; None when it cannot be spelled.

        ``fetch(chrom, start, end)`` gives reference bases for what the expression does not spell.

        >>> parse_hgvs("NC_000007.14:g.140753336A>T").allele()
        (140753335, 'A', 'T')
        >>> parse_hgvs("NC_000001.11:g.100_101insGT").allele()
        (100, '', 'GT')
        >>> parse_hgvs("NC_000001.11:g.100_102dup").allele(lambda c, s, e: "ACG")
        (102, '', 'ACG')
        """
        if self.chrom is None or self.start is None or self.end is None or self.edit in (None, "identity"):
            return None
        bases = self.sequence
        if bases is None and fetch is not None and self.edit != "ins":
            bases = fetch(self.chrom, self.start, self.end) or None
        if self.edit == "ins":
            return self.start, "", self.inserted or ""
        if bases is None:
            return None
        if self.edit == "dup":
            return self.end, "", bases
        if self.edit == "del":
            return self.start, bases, ""
        if self.edit == "inv":
            return self.start, bases, _reverse_complement(bases)
        return self.start, bases, self.inserted or ""  # sub, delins


def parse_hgvs(text: str) -> HgvsExpression:
    """Parse one HGVS variant expression (``c.``, ``g.``, ``m.``, ``n.``, ``r.``, ``p.``).

    Genomic expressions on a GRCh37/GRCh38 RefSeq chromosome (``NC_…``) are located: the result
    has the assembly, chromosome and 0-based positions. Uncertain positions (``(100_110)``), alleles
    in brackets (``[…;…]``) and offsets in ``g.`` are not read.

    Raises
    ------
    FormatError
        The expression is not HGVS genofed can read; the message says what was expected.

    Examples
    --------
    >>> v = parse_hgvs("NC_000007.14:g.140753336A>T")
    >>> v.assembly.value, v.chrom, v.start, v.end, v.sequence, v.inserted
    ('GRCh38', '7', 140753335, 140753336, 'A', 'T')
    >>> parse_hgvs("NC_000007.14:g.44110794del").allele() is None   # the deleted base is not spelled
    True
    >>> parse_hgvs("NP_065873.2:p.(Gly288Ser)").kind
    'p'
    """
    value = text.strip()
    match = _EXPRESSION.match(value)
    if match is None:
        raise FormatError(
            f"{text!r} is not an HGVS expression: expected [accession:]c.|g.|m.|n.|r.|p. and a change"
        )
    kind, body, accession = match.group("kind"), match.group("body"), match.group("acc")
    if kind == "p":
        if not _PROTEIN.match(body):
            raise FormatError(
                f"{text!r}: cannot read the protein change {body!r} (expected e.g. p.(Gly12Cys), "
                "p.Arg97ProfsTer23, p.Gln45del, p.?)"
            )
        return HgvsExpression(value, kind, accession)
    grammar = _GENOMIC if kind in "gm" else _TRANSCRIPT
    # RNA (r.) writes lower-case bases with U; DNA upper-case without U.
    parts = grammar.match(body.upper()) if kind == "r" else None if "U" in body else grammar.match(body)
    if parts is None:
        positions = "1-based positions" if kind in "gm" else "positions (with +/- offsets, -N or *N)"
        raise FormatError(
            f"{text!r}: cannot read the {kind}. change {body!r} (expected {positions} then N>N, del, dup, "
            "ins<bases>, delins<bases>, inv or =)"
        )
    edit = _edit(parts)
    if edit == "sub" and parts.group("end") is not None:
        raise FormatError(f"{text!r}: a substitution is of one position, not a range")
    if kind not in "gm":
        return HgvsExpression(value, kind, accession, edit)
    first, last = int(parts.group("start")), int(parts.group("end") or parts.group("start"))
    if first < 1 or last < first:
        raise FormatError(f"{text!r}: positions must be 1-based and ascending, got {first}_{last}")
    if edit == "ins" and last != first + 1:
        raise FormatError(f"{text!r}: an insertion is between two adjacent positions (N_N+1)")
    located = REFSEQ_CHROMOSOMES.get(accession or "")
    if located is None:
        return HgvsExpression(value, kind, accession, edit)
    sequence = next(
        (parts.group(g) for g in ("sref", "dseq", "delseq", "dupseq", "invseq") if parts.group(g)), None
    )
    inserted = next((parts.group(g) for g in ("salt", "iseq", "ins") if parts.group(g)), None)
    start, end = (first, first) if edit == "ins" else (first - 1, last)
    if sequence is not None and len(sequence) != end - start:
        raise FormatError(
            f"{text!r}: the expression spells {len(sequence)} bases for {end - start} positions"
        )
    assembly, chrom = located
    return HgvsExpression(value, kind, accession, edit, assembly, chrom, start, end, sequence, inserted)


def _edit(parts: re.Match[str]) -> str:
    if parts.group("sref") is not None:
        return "sub"
    if parts.group("iseq") is not None:
        return "delins"
    for name, edit in (("delseq", "del"), ("dupseq", "dup"), ("ins", "ins"), ("invseq", "inv")):
        if parts.group(name) is not None:
            return edit
    return "identity"


def _reverse_complement(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGTN", "TGCAN"))


# -- a typed view of a (schema-valid) phenopacket -------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class _Term(_View):
    id: str = ""
    label: str = ""

    @property
    def text(self) -> str:
        return f"{self.id} {self.label}".strip()


class _Age(_View):
    iso8601duration: str = ""


class _AgeRange(_View):
    start: _Age | None = None
    end: _Age | None = None


class _GestationalAge(_View):
    weeks: int = 0
    days: int = 0


class _Interval(_View):
    start: str | None = None
    end: str | None = None


class _Time(_View):
    age: _Age | None = None
    age_range: _AgeRange | None = None
    ontology_class: _Term | None = None
    timestamp: str | None = None
    interval: _Interval | None = None
    gestational_age: _GestationalAge | None = None


class _VitalStatus(_View):
    status: Literal["UNKNOWN_STATUS", "ALIVE", "DECEASED"] | int = "UNKNOWN_STATUS"
    time_of_death: _Time | None = None
    survival_time_in_days: int | None = None


class _Subject(_View):
    id: str = ""
    date_of_birth: str | None = None
    time_at_last_encounter: _Time | None = None
    vital_status: _VitalStatus | None = None
    sex: Literal["UNKNOWN_SEX", "FEMALE", "MALE", "OTHER_SEX"] | int = "UNKNOWN_SEX"


class _Feature(_View):
    type: _Term = Field(default_factory=_Term)
    excluded: bool = Field(default=False, strict=True)
    onset: _Time | None = None


class _Disease(_View):
    term: _Term = Field(default_factory=_Term)
    excluded: bool = Field(default=False, strict=True)
    onset: _Time | None = None
    disease_stage: list[_Term] = Field(default_factory=list)


class _Biosample(_View):
    id: str = ""
    individual_id: str = ""
    sampled_tissue: _Term | None = None
    time_of_collection: _Time | None = None
    histological_diagnosis: _Term | None = None
    tumor_progression: _Term | None = None
    material_sample: _Term | None = None


class _VcfRecord(_View):
    genome_assembly: str = ""
    chrom: str = ""
    pos: int = 0
    ref: str = ""
    alt: str = ""


class _Expression(_View):
    syntax: str = ""
    value: str = ""


class _Gene(_View):
    value_id: str = ""
    symbol: str = ""


class _VariationDescriptor(_View):
    id: str = ""
    gene_context: _Gene | None = None
    expressions: list[_Expression] = Field(default_factory=list)
    vcf_record: _VcfRecord | None = None
    molecule_context: str | int | None = None
    allelic_state: _Term | None = None


class _VariantInterpretation(_View):
    acmg_pathogenicity_classification: str | int | None = None
    therapeutic_actionability: str | int | None = None
    variation_descriptor: _VariationDescriptor = Field(default_factory=_VariationDescriptor)


class _GenomicInterpretation(_View):
    subject_or_biosample_id: str = ""
    interpretation_status: str | int | None = None
    gene: _Gene | None = None
    variant_interpretation: _VariantInterpretation | None = None


class _DiagnosisView(_View):
    disease: _Term | None = None
    genomic_interpretations: list[_GenomicInterpretation] = Field(default_factory=list)


class _Interpretation(_View):
    id: str = ""
    progress_status: str | int | None = None
    diagnosis: _DiagnosisView | None = None


class _DoseInterval(_View):
    interval: _Interval | None = None


class _TreatmentView(_View):
    agent: _Term = Field(default_factory=_Term)
    dose_intervals: list[_DoseInterval] = Field(default_factory=list)


class _Regimen(_View):
    ontology_class: _Term | None = None
    start_time: _Time | None = None
    end_time: _Time | None = None


class _MedicalAction(_View):
    treatment: _TreatmentView | None = None
    therapeutic_regimen: _Regimen | None = None
    procedure: dict[str, Any] | None = None
    radiation_therapy: dict[str, Any] | None = None
    response_to_treatment: _Term | None = None


class _Packet(_View):
    id: str = ""
    subject: _Subject | None = None
    phenotypic_features: list[_Feature] = Field(default_factory=list)
    biosamples: list[_Biosample] = Field(default_factory=list)
    interpretations: list[_Interpretation] = Field(default_factory=list)
    diseases: list[_Disease] = Field(default_factory=list)
    medical_actions: list[_MedicalAction] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _has_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a phenopacket needs an id")
        return value


# -- reading one file ------------------------------------------------------------------------------


_UNION_TAGS = frozenset({"int", "str", "bool", "float", "list", "dict", "none"})


def _field_path(loc: Sequence[int | str]) -> str:
    """``('a', 0, 'b')`` → ``a[0].b``, without the union-member tags Pydantic adds (``literal[...]``)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" not in part and part not in _UNION_TAGS:
            out += f".{part}" if out else part
    return out


def _load(path: Path) -> _Packet:
    """Parse and schema-validate one phenopacket file; raise FormatError naming file and field."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read the phenopacket: {exc}", location=Location(path=where)) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"malformed JSON: {exc.msg} (column {exc.colno})", location=Location(path=where, line=exc.lineno)
        ) from exc
    if not isinstance(raw, dict):
        raise FormatError(
            f"expected a JSON object (one phenopacket), got a JSON {type(raw).__name__}",
            location=Location(path=where),
        )
    from google.protobuf.json_format import MessageToDict, Parse, ParseError  # heavy: only when read
    from phenopackets.schema.v2.phenopackets_pb2 import Phenopacket

    try:
        message = Parse(text, Phenopacket())
    except ParseError as exc:
        raise _schema_error(where, raw, str(exc)) from exc
    normalised = MessageToDict(message)
    try:
        return _Packet.model_validate(normalised)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise FormatError(
            f"not a usable phenopacket: {first['msg']}",
            location=Location(path=where, field=_field_path(first["loc"]) or None),
        ) from exc


def _schema_error(where: str, raw: dict[str, Any], message: str) -> FormatError:
    """The protobuf parser's complaint, located precisely where the typed view can tell."""
    try:
        _Packet.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = _field_path(first["loc"])
        got = first.get("input")
        shown = f" (got {json.dumps(got)[:60]})" if got is not None and not isinstance(got, dict) else ""
        return FormatError(
            f"not a valid v2 phenopacket: {first['msg']}{shown}", location=Location(path=where, field=loc)
        )
    reason = message.rsplit(" field: ", 1)[-1].strip().rstrip(".")
    unknown = re.search(r'has no field named "([^"]+)" at "Phenopacket\.?([^"]*)"', reason)
    if unknown:
        name, parent = unknown.groups()
        return FormatError(
            f"not a valid v2 phenopacket: unknown field {name!r}",
            location=Location(path=where, field=f"{parent}.{name}" if parent else name),
        )
    at = re.search(r" at Phenopacket\.?(\S*?)\.*$", reason)
    if at:
        reason = reason[: at.start()]
        loc = at.group(1)
    else:
        loc = ".".join(re.findall(r"Failed to parse (\w+) field", message))
    return FormatError(
        f"not a valid v2 phenopacket: {reason}", location=Location(path=where, field=loc or None)
    )


# -- conversion ------------------------------------------------------------------------------------


@dataclass
class PhenopacketSummary:
    """What a read found and kept (for ``--dry-run`` and the CLI's report)."""

    files: int = 0
    individuals: int = 0
    diseases: int = 0
    features: int = 0
    excluded_features: int = 0
    biosamples: int = 0
    variants_placed: int = 0
    variants_unplaced: int = 0
    genes_only: int = 0
    treatments: int = 0
    responses: int = 0
    #: things in the files that the model has no place for, with counts
    not_kept: Counter[str] = field(default_factory=Counter)
    #: (source field, target column, source value, status, stored as) → count
    values: Counter[tuple[str, str, str, str, str]] = field(default_factory=Counter)

    def see(
        self, source: str, target: str, value: object, maps_to: object, *, status: str = "mapped"
    ) -> None:
        """Count one source value and what it became (the harmonisation report)."""
        self.values[(source, target, str(value), status, "" if maps_to is None else str(maps_to))] += 1

    def to_rows(self, source: str) -> list[ReportRow]:
        """The harmonisation report as rows: per source field, each value, its fate and count."""
        rows = [
            ReportRow(source, field_name, target, value, n, status, maps_to)
            for (field_name, target, value, status, maps_to), n in sorted(self.values.items())
        ]
        rows += [
            ReportRow(source, what, "-", "", n, "not kept", "") for what, n in sorted(self.not_kept.items())
        ]
        return rows


def _timestamp_day(text: str, where: str) -> dt.date:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError as exc:
        raise FormatError(f"{text!r} is not an RFC 3339 timestamp", location=Location(field=where)) from exc


_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?$"
)


def _years(duration: str, where: str) -> float:
    match = _DURATION.match(duration)
    if match is None:
        raise FormatError(
            f"{duration!r} is not an ISO 8601 duration (e.g. P1Y3M, P10D)", location=Location(field=where)
        )
    y, m, w, d = (int(g) if g else 0 for g in match.groups())
    return y + m / 12 + (7 * w + d) / 365.25


def _onset_text(time: _Time | None, where: str) -> str | None:
    """An onset kept as text: ISO 8601 age, age range, gestational age or term (None: a date/none)."""
    if time is None:
        return None
    if time.age is not None:
        _years(time.age.iso8601duration, f"{where}.age.iso8601duration")
        return time.age.iso8601duration
    if time.age_range is not None:
        start = time.age_range.start.iso8601duration if time.age_range.start else ""
        end = time.age_range.end.iso8601duration if time.age_range.end else ""
        return f"{start}/{end}"
    if time.gestational_age is not None:
        return f"GA {time.gestational_age.weeks}w{time.gestational_age.days}d"
    if time.ontology_class is not None:
        return time.ontology_class.text or None
    return None


def _time_day(time: _Time | None, reference: dt.date | None, where: str) -> int | None:
    """Days from the reference date to a timestamp (or an interval's start); None without either."""
    if time is None or reference is None:
        return None
    if time.timestamp:
        return (_timestamp_day(time.timestamp, f"{where}.timestamp") - reference).days
    if time.interval is not None and time.interval.start:
        return (_timestamp_day(time.interval.start, f"{where}.interval.start") - reference).days
    return None


def _reference_date(packet: _Packet) -> dt.date | None:
    if not packet.diseases:
        return None
    onset = packet.diseases[0].onset
    if onset is None:
        return None
    if onset.timestamp:
        return _timestamp_day(onset.timestamp, "diseases[0].onset.timestamp")
    if onset.interval is not None and onset.interval.start:
        return _timestamp_day(onset.interval.start, "diseases[0].onset.interval.start")
    return None


def _tumour_type(term: _Term | None) -> str | None:
    """An OncoTree code from an ``ONCOTREE:`` term, or from an NCIt term that one node carries."""
    if term is None or not term.id:
        return None
    prefix, _, local = term.id.partition(":")
    tree = oncotree()
    if prefix.upper() == "ONCOTREE":
        if local not in tree:
            raise CodeError(f"{local!r} is not an OncoTree code", location=Location(field="id"))
        return tree.get(local).code
    if prefix.upper() == "NCIT":
        matches = [n.code for n in tree if local in n.ncit]
        return matches[0] if len(matches) == 1 else None
    return None


@dataclass
class _Rows:
    individuals: list[Record] = field(default_factory=list)
    diagnoses: list[Record] = field(default_factory=list)
    phenotypes: list[Record] = field(default_factory=list)
    specimens: list[Record] = field(default_factory=list)
    treatments: list[Record] = field(default_factory=list)
    responses: list[Record] = field(default_factory=list)
    interpretations: list[Record] = field(default_factory=list)
    variant_sites: dict[int, Record] = field(default_factory=dict)
    variant_calls: dict[tuple[str, int], Record] = field(default_factory=dict)


def _record(cls: type[Record], where: str, **values: Any) -> Record:
    """Build a record; a value the model refuses is a CodeError naming the source field."""
    try:
        return cls(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        column = ".".join(str(p) for p in first["loc"])
        raise CodeError(
            f"{cls.table}.{column}: {first['msg']} (got {values.get(column)!r})",
            location=Location(field=where),
        ) from exc


class _Converter:
    """Turns one phenopacket into rows of the model's tables (source identifiers)."""

    def __init__(self, rows: _Rows, summary: PhenopacketSummary, fasta: FastaReference | None) -> None:
        self.rows = rows
        self.summary = summary
        self.fasta = fasta
        self.qualify = ""  # prefix of specimen IDs (the phenopacket's id, when IDs are per file)

    def convert(self, packet: _Packet, key: IndividualKey) -> None:
        subject = packet.subject
        assert subject is not None  # checked by the reader
        person = subject.id if key is IndividualKey.SUBJECT else packet.id
        self.qualify = "" if key is IndividualKey.SUBJECT else f"{packet.id}:"
        reference = _reference_date(packet)
        self.summary.individuals += 1
        self._individual(packet, subject, person, reference)
        self._diseases(packet, person, reference)
        self._features(packet, person, reference)
        biosamples = self._biosamples(packet, person, reference)
        self._interpretations(packet, person, biosamples)
        self._medical_actions(packet, person, reference)

    def _individual(self, packet: _Packet, subject: _Subject, person: str, reference: dt.date | None) -> None:
        sex = {"FEMALE": Sex.FEMALE, "MALE": Sex.MALE, "OTHER_SEX": Sex.OTHER}.get(
            str(subject.sex), Sex.UNKNOWN
        )
        vital = VitalStatus.UNKNOWN
        survival: int | None = None
        if subject.vital_status is not None:
            status = subject.vital_status.status
            vital = {"ALIVE": VitalStatus.ALIVE, "DECEASED": VitalStatus.DECEASED}.get(
                str(status), VitalStatus.UNKNOWN
            )
            survival = subject.vital_status.survival_time_in_days
            if survival is None and vital is VitalStatus.DECEASED:
                survival = _time_day(
                    subject.vital_status.time_of_death, reference, "subject.vitalStatus.timeOfDeath"
                )
        age: float | None = None
        if packet.diseases and packet.diseases[0].onset is not None:
            onset = packet.diseases[0].onset
            if subject.date_of_birth and reference is not None:
                born = _timestamp_day(subject.date_of_birth, "subject.dateOfBirth")
                age = round((reference - born).days / 365.25, 2)
            elif onset.age is not None:
                age = round(_years(onset.age.iso8601duration, "diseases[0].onset.age.iso8601duration"), 4)
        if subject.time_at_last_encounter is not None:
            self.summary.not_kept["subject.timeAtLastEncounter"] += 1
        self.summary.see("subject.sex", "individuals.sex", subject.sex, sex.value)
        if subject.vital_status is not None:
            self.summary.see(
                "subject.vitalStatus.status",
                "individuals.vital_status",
                subject.vital_status.status,
                vital.value,
            )
        self.rows.individuals.append(
            _record(
                Individual,
                "subject",
                individual_id=person,
                sex=sex,
                age_at_diagnosis=age,
                vital_status=vital,
                overall_survival_days=survival,
            )
        )

    def _diseases(self, packet: _Packet, person: str, reference: dt.date | None) -> None:
        kept = 0
        for i, disease in enumerate(packet.diseases):
            where = f"diseases[{i}]"
            if disease.excluded:
                self.summary.not_kept["diseases (excluded)"] += 1
                continue
            if not disease.term.id:
                raise FormatError("a disease needs a term id", location=Location(field=f"{where}.term.id"))
            try:
                tumour = _tumour_type(disease.term)
            except InputError as exc:
                raise exc.with_context(field=f"{where}.term.id") from None
            prefix, _, local = disease.term.id.partition(":")
            self.summary.see(
                "diseases.term.id",
                "diagnoses.disease_id",
                f"{prefix}:…",
                "the term, as given",
                status="accepted",
            )
            if tumour is not None:
                self.summary.see("diseases.term.id", "diagnoses.tumour_type", disease.term.id, tumour)
            self._see_onset("diseases.onset", "diagnoses", disease.onset)
            self.rows.diagnoses.append(
                _record(
                    Diagnosis,
                    where,
                    individual_id=person,
                    tumour_type=tumour,
                    icd10=local if prefix.upper().startswith("ICD10") else None,
                    label=disease.term.label or None,
                    primary=kept == 0,
                    stage=disease.disease_stage[0].label or disease.disease_stage[0].id
                    if disease.disease_stage
                    else None,
                    day=_time_day(disease.onset, reference, f"{where}.onset"),
                    disease_id=disease.term.id,
                    onset=_onset_text(disease.onset, f"{where}.onset"),
                )
            )
            kept += 1
        self.summary.diseases += kept

    def _features(self, packet: _Packet, person: str, reference: dt.date | None) -> None:
        for i, feature in enumerate(packet.phenotypic_features):
            where = f"phenotypicFeatures[{i}]"
            self.rows.phenotypes.append(
                _record(
                    Phenotype,
                    f"{where}.type.id",
                    individual_id=person,
                    hpo_id=feature.type.id,
                    label=feature.type.label or None,
                    excluded=feature.excluded,
                    onset_day=_time_day(feature.onset, reference, f"{where}.onset"),
                    onset=_onset_text(feature.onset, f"{where}.onset"),
                )
            )
            self.summary.features += 1
            self.summary.excluded_features += feature.excluded
            self.summary.see(
                "phenotypicFeatures.excluded", "phenotypes.excluded", feature.excluded, feature.excluded
            )
            self._see_onset("phenotypicFeatures.onset", "phenotypes", feature.onset)

    def _see_onset(self, source: str, table: str, time: _Time | None) -> None:
        if time is None:
            return
        kinds = ("age", "age_range", "gestational_age", "ontology_class", "timestamp", "interval")
        kind = next((k for k in kinds if getattr(time, k) is not None), "other")
        to_day = kind in ("timestamp", "interval")
        self.summary.see(
            source,
            f"{table}.{'day' if table == 'diagnoses' else 'onset_day'}" if to_day else f"{table}.onset",
            to_camel(kind),
            "days from the index diagnosis" if to_day else "text, as given",
            status="mapped" if to_day else "accepted",
        )

    def _biosamples(self, packet: _Packet, person: str, reference: dt.date | None) -> dict[str, Specimen]:
        found: dict[str, Specimen] = {}
        for i, sample in enumerate(packet.biosamples):
            where = f"biosamples[{i}]"
            if not sample.id:
                raise FormatError("a biosample needs an id", location=Location(field=f"{where}.id"))
            subject = packet.subject.id if packet.subject else ""
            if sample.individual_id and sample.individual_id != subject:
                raise FormatError(
                    f"biosample {sample.id!r} is of {sample.individual_id!r}, not of the subject {subject!r}",
                    location=Location(field=f"{where}.individualId"),
                )
            material = sample.material_sample.id if sample.material_sample else ""
            if material == TUMOUR_SAMPLE or (
                material != REFERENCE_SAMPLE and (sample.tumor_progression or sample.histological_diagnosis)
            ):
                kind = SpecimenType.TUMOUR
            elif material == REFERENCE_SAMPLE:
                kind = SpecimenType.NORMAL
            else:
                kind = SpecimenType.GERMLINE
            tissue = (
                sample.sampled_tissue.label or sample.sampled_tissue.id if sample.sampled_tissue else None
            )
            try:
                tumour = _tumour_type(sample.histological_diagnosis)
            except InputError as exc:
                raise exc.with_context(field=f"{where}.histologicalDiagnosis.id") from None
            specimen = _record(
                Specimen,
                where,
                specimen_id=self.qualify + sample.id,
                individual_id=person,
                specimen_type=kind,
                tissue=tissue or None,
                tumour_type=tumour,
                collection_day=_time_day(sample.time_of_collection, reference, f"{where}.timeOfCollection"),
            )
            assert isinstance(specimen, Specimen)
            found[sample.id] = specimen
            self.rows.specimens.append(specimen)
            self.summary.biosamples += 1
        return found

    # -- interpretations ---------------------------------------------------------------------------
    def _interpretations(self, packet: _Packet, person: str, biosamples: dict[str, Specimen]) -> None:
        for i, interpretation in enumerate(packet.interpretations):
            where = f"interpretations[{i}]"
            interpretation_id = interpretation.id or f"{packet.id}#{i}"
            diagnosis = interpretation.diagnosis
            if diagnosis is None or not diagnosis.genomic_interpretations:
                self.summary.not_kept["interpretations without genomic interpretations"] += 1
                continue
            disease = diagnosis.disease
            for j, genomic in enumerate(diagnosis.genomic_interpretations):
                gwhere = f"{where}.diagnosis.genomicInterpretations[{j}]"
                subject = packet.subject.id if packet.subject else ""
                called = genomic.subject_or_biosample_id or subject
                if called != subject and called not in biosamples:
                    raise FormatError(
                        f"{called!r} is neither the subject ({subject!r}) nor one of its biosamples",
                        location=Location(field=f"{gwhere}.subjectOrBiosampleId"),
                    )
                specimen = biosamples.get(called) if called != subject else None
                common: dict[str, Any] = {
                    "individual_id": person,
                    "interpretation_id": interpretation_id,
                    "specimen_id": specimen.specimen_id if specimen else None,
                    "progress_status": _enum(interpretation.progress_status),
                    "disease_id": disease.id or None if disease else None,
                    "disease_label": disease.label or None if disease else None,
                    "status": _enum(genomic.interpretation_status),
                }
                if genomic.variant_interpretation is not None:
                    origin = (
                        Origin.SOMATIC
                        if specimen is not None and specimen.specimen_type is SpecimenType.TUMOUR
                        else Origin.GERMLINE
                    )
                    self._variant(
                        packet,
                        genomic.variant_interpretation,
                        common,
                        origin,
                        f"{gwhere}.variantInterpretation",
                    )
                elif genomic.gene is not None:
                    self.summary.genes_only += 1
                    self.rows.interpretations.append(
                        _record(
                            Interpretation,
                            f"{gwhere}.gene",
                            **common,
                            gene=genomic.gene.symbol or None,
                            gene_id=genomic.gene.value_id or None,
                        )
                    )
                else:
                    self.summary.not_kept["genomic interpretations without a gene or variant"] += 1

    def _variant(
        self,
        packet: _Packet,
        interpretation: _VariantInterpretation,
        common: dict[str, Any],
        origin: Origin,
        where: str,
    ) -> None:
        descriptor = interpretation.variation_descriptor
        dwhere = f"{where}.variationDescriptor"
        hgvs: dict[str, HgvsExpression] = {}
        for k, expression in enumerate(descriptor.expressions):
            ewhere = f"{dwhere}.expressions[{k}].value"
            syntax = expression.syntax.strip().lower()
            if not syntax.startswith("hgvs"):
                self.summary.not_kept[f"expressions of syntax {expression.syntax!r}"] += 1
                continue
            self.summary.see(
                "variationDescriptor.expressions.syntax",
                "interpretations",
                expression.syntax,
                f"hgvs_{expression.syntax[-1]}",
                status="accepted",
            )
            try:
                parsed = parse_hgvs(expression.value)
            except InputError as exc:
                raise exc.with_context(field=ewhere) from None
            declared = syntax.removeprefix("hgvs").removeprefix(".")
            if declared and declared != parsed.kind:
                raise FormatError(
                    f"the syntax is {expression.syntax!r} but {expression.value!r} is a {parsed.kind}. "
                    "expression",
                    location=Location(field=ewhere),
                )
            column = {"c": "c", "n": "c", "r": "c", "g": "g", "m": "g", "p": "p"}[parsed.kind]
            if column in hgvs:
                self.summary.not_kept[f"second hgvs.{column} expressions"] += 1
                continue
            hgvs[column] = parsed
        state = descriptor.allelic_state
        zygosity, genotype, copies = (Zygosity.UNKNOWN, None, 1)
        if state is not None:
            zygosity, genotype, copies = GENO_ZYGOSITY.get(
                state.id, _ZYGOSITY_LABELS.get(state.label.lower(), (Zygosity.UNKNOWN, None, 1))
            )
            self.summary.see(
                "variationDescriptor.allelicState", "variant_calls.zygosity", state.text, zygosity.value
            )
        location = self._locate(descriptor, hgvs.get("g"), dwhere)
        gene = descriptor.gene_context
        row: dict[str, Any] = {
            **common,
            "acmg_class": _enum(interpretation.acmg_pathogenicity_classification),
            "actionability": _enum(interpretation.therapeutic_actionability),
            "descriptor_id": descriptor.id or None,
            "gene": gene.symbol or None if gene else None,
            "gene_id": gene.value_id or None if gene else None,
            "hgvs_c": hgvs["c"].text if "c" in hgvs else None,
            "hgvs_g": hgvs["g"].text if "g" in hgvs else None,
            "hgvs_p": hgvs["p"].text if "p" in hgvs else None,
            "zygosity": zygosity,
            "allelic_state_id": state.id or None if state else None,
            "allelic_state_label": state.label or None if state else None,
            "molecule_context": _enum(descriptor.molecule_context),
        }
        if location is None:
            self.summary.variants_unplaced += 1
            self.rows.interpretations.append(_record(Interpretation, dwhere, **row))
            return
        assembly, chrom, start, end, ref, alt, source, key = location
        row.update(
            assembly=assembly.value,
            chrom=chrom,
            start=start,
            end=end,
            ref=ref,
            alt=alt,
            coordinates_from=source,
            variant_id=key[3] if key else None,
        )
        self.rows.interpretations.append(_record(Interpretation, dwhere, **row))
        if key is None:
            self.summary.variants_unplaced += 1
            return
        self.summary.variants_placed += 1
        tstart, tref, talt, vid = key
        if vid not in self.rows.variant_sites:
            transcript, _, change = hgvs["c"].text.rpartition(":") if "c" in hgvs else ("", "", "")
            self.rows.variant_sites[vid] = _record(
                VariantSite,
                dwhere,
                chrom=chrom,
                start=tstart,
                end=tstart + len(tref),
                ref=tref,
                alt=talt,
                variant_id=vid,
                assembly=assembly,
                variant_type=variant_type(tref, talt),
                gene=row["gene"],
                transcript=transcript or None,
                hgvs_c=change or None,
                protein_change=normalise_protein_change(hgvs["p"].text) if "p" in hgvs else None,
                origin=origin,
            )
        called = common["specimen_id"] or common["individual_id"]
        analysis = f"phenopacket:{packet.id}:{called}"
        if (analysis, vid) not in self.rows.variant_calls:
            self.rows.variant_calls[(analysis, vid)] = _record(
                VariantCall,
                dwhere,
                chrom=chrom,
                start=tstart,
                end=tstart + len(tref),
                ref=tref,
                alt=talt,
                variant_id=vid,
                individual_id=common["individual_id"],
                analysis_id=analysis,
                genotype=genotype,
                zygosity=zygosity,
                alt_copies=copies,
                origin=origin,
            )

    def _locate(
        self, descriptor: _VariationDescriptor, genomic: HgvsExpression | None, where: str
    ) -> tuple[Assembly, str, int, int, str | None, str | None, str, tuple[int, str, str, int] | None] | None:
        """(assembly, chrom, start, end, ref, alt, source, trimmed key) from vcfRecord or hgvs.g."""
        record = descriptor.vcf_record
        if record is not None:
            vwhere = f"{where}.vcfRecord"
            try:
                assembly = normalise_assembly(record.genome_assembly)
            except ValueError as exc:
                raise CodeError(str(exc), location=Location(field=f"{vwhere}.genomeAssembly")) from exc
            self.summary.see(
                "vcfRecord.genomeAssembly", "variant_sites.assembly", record.genome_assembly, assembly.value
            )
            if not record.chrom:
                raise FormatError("a vcfRecord needs a chrom", location=Location(field=f"{vwhere}.chrom"))
            chrom = normalise_chromosome(record.chrom)
            if record.pos < 1:
                raise FormatError(
                    f"pos must be a 1-based position, got {record.pos}",
                    location=Location(field=f"{vwhere}.pos"),
                )
            ref, alt = record.ref.upper(), record.alt.upper()
            for name, allele in (("ref", ref), ("alt", alt)):
                if not _BASES.match(allele):
                    raise FormatError(
                        f"{name} {allele!r} is not a sequence of A, C, G, T, N (symbolic and multiple "
                        "alleles are not read)",
                        location=Location(field=f"{vwhere}.{name}"),
                    )
            if ref == alt:
                raise FormatError(f"alt {alt!r} equals ref", location=Location(field=f"{vwhere}.alt"))
            start = record.pos - 1
            self._check_reference(record.chrom, start, ref, f"{vwhere}.ref")
            key = self._key(assembly, chrom, record.chrom, start, ref, alt)
            return assembly, chrom, start, start + len(ref), ref, alt, "vcfRecord", key
        if genomic is None or genomic.assembly is None or genomic.chrom is None:
            return None
        assert genomic.start is not None
        assert genomic.end is not None
        fetch = self.fasta.fetch if self.fasta is not None else None
        spelled = genomic.allele(fetch)
        if spelled is None:  # located but not spelled: kept with its positions, not as a variant
            return genomic.assembly, genomic.chrom, genomic.start, genomic.end, None, None, "hgvs.g", None
        gstart, gref, galt = spelled
        if genomic.sequence is not None and genomic.edit != "dup":
            self._check_reference(genomic.chrom, gstart, gref, f"{where}.expressions")
        gkey = self._key(genomic.assembly, genomic.chrom, genomic.chrom, gstart, gref, galt)
        return genomic.assembly, genomic.chrom, gstart, gstart + len(gref), gref, galt, "hgvs.g", gkey

    def _key(
        self, assembly: Assembly, chrom: str, contig: str, start: int, ref: str, alt: str
    ) -> tuple[int, str, str, int]:
        tstart, tref, talt = trim_alleles(start, ref, alt)
        if self.fasta is not None and not (tref and talt):
            tstart, tref, talt = left_align(tstart, tref, talt, self.fasta, contig)
        return tstart, tref, talt, variant_id(assembly, chrom, tstart, tref, talt)

    def _check_reference(self, contig: str, start: int, ref: str, where: str) -> None:
        if self.fasta is None or not ref:
            return
        try:
            expected = self.fasta.fetch(contig, start, start + len(ref))
        except InputError as exc:
            raise exc.with_context(field=where) from None
        if expected and expected != ref and "N" not in ref:
            raise FormatError(
                f"ref {ref!r} does not match the reference ({expected!r} at {contig}:{start + 1})",
                location=Location(field=where),
            )

    # -- medical actions ---------------------------------------------------------------------------
    def _medical_actions(self, packet: _Packet, person: str, reference: dt.date | None) -> None:
        drugs: list[tuple[int, str, str | None, int | None, int | None, _Term | None]] = []
        for i, action in enumerate(packet.medical_actions):
            where = f"medicalActions[{i}]"
            if action.treatment is not None:
                agent = action.treatment.agent
                if not (agent.label or agent.id):
                    raise FormatError(
                        "a treatment needs an agent", location=Location(field=f"{where}.treatment.agent")
                    )
                starts: list[int] = []
                ends: list[int] = []
                for k, dose in enumerate(action.treatment.dose_intervals):
                    if dose.interval is None or reference is None:
                        continue
                    iwhere = f"{where}.treatment.doseIntervals[{k}].interval"
                    if dose.interval.start:
                        starts.append(
                            (_timestamp_day(dose.interval.start, f"{iwhere}.start") - reference).days
                        )
                    if dose.interval.end:
                        ends.append((_timestamp_day(dose.interval.end, f"{iwhere}.end") - reference).days)
                prefix, _, local = agent.id.partition(":")
                atc = local if prefix.upper() == "ATC" else None
                self.summary.see(
                    "medicalActions.treatment.agent",
                    "treatments.atc_code" if atc else "treatments.drug",
                    f"{prefix}:…" if agent.id else "(label only)",
                    "ATC code and name" if atc else "name only",
                    status="accepted",
                )
                drugs.append(
                    (
                        i,
                        agent.label or agent.id,
                        atc,
                        min(starts) if starts else None,
                        max(ends) if ends else None,
                        action.response_to_treatment,
                    )
                )
            elif action.therapeutic_regimen is not None and action.therapeutic_regimen.ontology_class:
                regimen = action.therapeutic_regimen
                term = regimen.ontology_class
                assert term is not None
                drugs.append(
                    (
                        i,
                        term.label or term.id,
                        None,
                        _time_day(regimen.start_time, reference, f"{where}.therapeuticRegimen.startTime"),
                        _time_day(regimen.end_time, reference, f"{where}.therapeuticRegimen.endTime"),
                        action.response_to_treatment,
                    )
                )
            else:
                kind = (
                    "procedure"
                    if action.procedure
                    else "radiationTherapy"
                    if action.radiation_therapy
                    else "?"
                )
                self.summary.not_kept[f"medicalActions ({kind})"] += 1
        # Phenopackets have no line of therapy: lines are the distinct start days in order.
        line_of = {day: n for n, day in enumerate(sorted({d[3] for d in drugs if d[3] is not None}), start=1)}
        for i, drug, atc, start, end, response in drugs:
            where = f"medicalActions[{i}]"
            line = line_of.get(start) if start is not None else None
            self.rows.treatments.append(
                _record(
                    Treatment,
                    where,
                    individual_id=person,
                    drug=drug,
                    atc_code=atc,
                    line=line,
                    start_day=start,
                    end_day=end,
                )
            )
            self.summary.treatments += 1
            if response is None:
                continue
            recist = _RECIST_TERMS.get(response.id) or _RECIST_LABELS.get(response.label.strip().lower())
            self.summary.see(
                "medicalActions.responseToTreatment",
                "responses.recist",
                response.text,
                recist.value if recist else None,
                status="mapped" if recist else "not kept",
            )
            if recist is None:
                continue
            self.rows.responses.append(
                _record(
                    Response, f"{where}.responseToTreatment", individual_id=person, recist=recist, line=line
                )
            )
            self.summary.responses += 1


def _enum(value: str | int | None) -> str | None:
    """A protobuf enum as its name (MessageToDict gives names; a bare 0 default is absent)."""
    if value is None:
        return None
    return str(value)


# -- the reader ------------------------------------------------------------------------------------


class IndividualKey(StrEnum):
    """Which identifier of a phenopacket names the person in the store."""

    #: ``subject.id``: the person's identifier at the source (a hospital's, a registry's); two files
    #: with the same subject are an error.
    SUBJECT = "subject"
    #: the phenopacket's ``id``: for collections whose subject IDs are only unique within one file
    #: or publication (phenopacket-store's "Patient 1"); biosample IDs are then qualified by it too.
    PHENOPACKET = "phenopacket"


class PhenopacketReader:
    """A :class:`~genofed.ingest.SourceReader` for one phenopacket JSON file or a directory of them.

    The whole file or directory is one atomic batch: every file is parsed and validated before the
    first chunk is produced, so one bad file leaves the store unchanged.

    Parameters
    ----------
    path
        A ``.json`` phenopacket, or a directory whose ``*.json`` files are phenopackets (sorted by
        name; sub-directories are not read).
    key
        Which identifier names the person (:class:`IndividualKey`): ``subject.id`` (default) or the
        phenopacket's ``id``.
    reference_fasta
        An indexed FASTA of the assembly: places HGVS deletions, duplications, delins and inversions
        that do not spell their sequence, checks REF, and left-aligns indels as the VCF reader does.

    Raises
    ------
    FormatError
        The path does not exist or a directory holds no ``.json`` file.
    """

    #: adapter name recorded in the catalog
    kind: str = "phenopackets"

    def __init__(
        self,
        path: str | Path,
        *,
        key: IndividualKey | str = IndividualKey.SUBJECT,
        reference_fasta: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.key = IndividualKey(key)
        self.reference_fasta = Path(reference_fasta) if reference_fasta is not None else None
        if self.path.is_dir():
            self.files: tuple[Path, ...] = tuple(sorted(p for p in self.path.glob("*.json") if p.is_file()))
            if not self.files:
                raise FormatError(
                    "the directory holds no .json phenopacket", location=Location(path=str(self.path))
                )
        elif self.path.is_file():
            self.files = (self.path,)
        else:
            raise FormatError(
                "phenopacket file or directory not found", location=Location(path=str(self.path))
            )
        self.summary = PhenopacketSummary()
        self._packets: list[tuple[Path, _Packet]] | None = None

    @property
    def source(self) -> str:
        """The file's or directory's name."""
        return self.path.name

    @property
    def individuals(self) -> tuple[str, ...]:
        """Source IDs of the people (by :attr:`key`), in file order (reads and validates every file)."""
        return tuple(self._person(p) for _, p in self._read())

    @property
    def batch_key(self) -> str:
        """``phenopackets:`` and the sorted people: re-ingesting the same people replaces the batch."""
        return "phenopackets:" + ",".join(sorted(self.individuals))

    def _person(self, packet: _Packet) -> str:
        assert packet.subject is not None
        return packet.subject.id if self.key is IndividualKey.SUBJECT else packet.id

    def __repr__(self) -> str:
        return f"<PhenopacketReader {self.source}: {len(self.files)} file(s)>"

    def _read(self) -> list[tuple[Path, _Packet]]:
        if self._packets is None:
            packets: list[tuple[Path, _Packet]] = []
            seen: dict[str, Path] = {}
            for path in self.files:
                packet = _load(path)
                if packet.subject is None or not packet.subject.id.strip():
                    raise FormatError(
                        "a phenopacket needs a subject with an id",
                        location=Location(path=str(path), field="subject.id"),
                    )
                person = self._person(packet)
                other = seen.setdefault(person, path)
                if other != path:
                    field_name = "subject.id" if self.key is IndividualKey.SUBJECT else "id"
                    hint = (
                        "; if subject IDs are only unique within a file (a literature collection), "
                        "name people by the phenopacket id (--key phenopacket)"
                        if self.key is IndividualKey.SUBJECT
                        else ""
                    )
                    raise FormatError(
                        f"{person!r} is also the {field_name} of {other.name}: "
                        f"one phenopacket per person{hint}",
                        location=Location(path=str(path), field=field_name),
                    )
                packets.append((path, packet))
            self._packets = packets
        return self._packets

    def _convert(self) -> _Rows:
        rows = _Rows()
        self.summary = PhenopacketSummary(files=len(self.files))
        fasta = FastaReference(self.reference_fasta) if self.reference_fasta is not None else None
        try:
            converter = _Converter(rows, self.summary, fasta)
            for path, packet in self._read():
                try:
                    converter.convert(packet, self.key)
                except InputError as exc:
                    raise exc.with_context(path=path) from None
        finally:
            if fasta is not None:
                fasta.close()
        return rows

    def dry_run(self) -> PhenopacketSummary:
        """Read, validate and convert everything without producing chunks; return what was found."""
        self._convert()
        return self.summary

    def chunks(self) -> Iterator[Chunk]:
        """Yield one chunk per table with rows: people and clinical tables, then sites and calls.

        Raises
        ------
        FormatError
            A file is not JSON, not a v2 phenopacket (unknown field, wrong type, unknown enum
            value), or holds a value genofed cannot read (an HGVS expression, a timestamp, a
            vcfRecord allele); the error names the file and the field path.
        CodeError
            A code is not what its field needs (an HPO id, an OncoTree code, an assembly).
        """
        rows = self._convert()
        tables: list[tuple[type[Record], Sequence[Record]]] = [
            (Individual, rows.individuals),
            (Diagnosis, rows.diagnoses),
            (Phenotype, rows.phenotypes),
            (Specimen, rows.specimens),
            (Treatment, rows.treatments),
            (Response, rows.responses),
            (Interpretation, rows.interpretations),
            (VariantSite, sorted(rows.variant_sites.values(), key=_position)),
            (VariantCall, sorted(rows.variant_calls.values(), key=_position)),
        ]
        for record, records in tables:
            if records:
                yield record.table, records_to_table(record, records)


def _position(record: Record) -> tuple[str, int, str, str]:
    assert isinstance(record, VariantSite | VariantCall)
    return record.chrom, record.start, record.ref, record.alt


register_adapter(
    AdapterInfo(
        "phenopackets",
        "rare-disease cases as GA4GH phenopackets",
        ("Phenopackets v2 JSON (2.0.x)",),
        "genofed ingest phenopackets DIR|FILE --store DIR",
    )
)
