"""The typed queries a node answers, and their results.

Every query is a frozen Pydantic model with forbidden extra fields and a ``kind`` tag, so the same
object is built in Python, sent as JSON and validated at the node. Queries that select people carry a
:class:`CohortFilter` in their ``filter`` field; each query has one result model (``Result``).

Validation happens on construction and names the field and what was expected: an unknown OncoTree
code, an unknown consequence, ``age_min > age_max`` or a wrong type all raise
:class:`~genofed.errors.QueryError` (never a bare Pydantic ``ValidationError``).

Populations (who a count is over)
---------------------------------
The node knows an individual when any of ``individuals``, ``diagnoses``, ``analyses`` or
``variant_calls`` names them. A filter is a conjunction of conditions, and each condition needs the
record that holds its field:

- ``sex``, ``age_min``, ``age_max``: the individual's clinical record (``individuals``); someone known
  only from calls has no sex or age and never matches these conditions;
- ``tumour_type``: a diagnosis (``diagnoses``) whose OncoTree code is the code or one of its
  descendants;
- ``gene``, ``consequence``, ``protein_change``: a call (``variant_calls``) of one allele whose
  annotation (``variant_sites``) meets all three at once.

An empty filter matches everyone the node knows. When an individual appears in several batches of
``individuals`` (or of ``diagnoses``), only their rows in the latest such batch (largest ``batch_id``,
which sorts by publish time) count: a later clinical export supersedes an earlier one. Calls and
analyses are unions over the live batches: a re-ingest of the same analyses replaces its batch
through the batch key, and every count here is of *distinct* individuals or alleles, which duplicates
cannot change.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from genofed.errors import QueryError
from genofed.model import (
    CONSEQUENCE_CLASSES,
    ONCOTREE_RELEASE,
    Assembly,
    Sex,
    expand_consequence,
    normalise_assembly,
    normalise_chromosome,
    normalise_consequence,
    normalise_protein_change,
    oncotree,
    trim_alleles,
)

__all__ = [
    "AlleleFrequencyQuery",
    "AlleleFrequencyResult",
    "CohortCountQuery",
    "CohortCountResult",
    "CohortFilter",
    "Query",
    "QueryResult",
    "RegionCarriersQuery",
    "RegionCarriersResult",
    "parse_query",
]

_ALLELE = re.compile(r"^[ACGTN]*$")
_CONTIG = re.compile(r"^[A-Za-z0-9_.\-]+$")
_GENE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-@]*$")
_PROTEIN = re.compile(r"^p\.[A-Z*][A-Za-z0-9_*>=?\-]*$")


def _describe(exc: ValidationError, model: str) -> str:
    """One line per Pydantic error: ``Model.field.path: message (got value)``."""
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join([model, *(str(part) for part in error["loc"])])
        got = f" (got {error['input']!r})" if error["type"] != "missing" and "input" in error else ""
        lines.append(f"{where}: {error['msg']}{got}")
    return "; ".join(lines)


class _Strict(BaseModel):
    """Shared configuration: frozen, no extra fields, and validation failures as QueryError."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise QueryError(_describe(exc, type(self).__name__)) from exc


class CohortFilter(_Strict):
    """Which individuals a query is about; every given condition must hold (AND).

    ``gene``, ``consequence`` and ``protein_change`` must hold for the *same* variant: "KRAS and
    missense" means a missense variant in KRAS, not any KRAS variant plus any missense variant.
    See the module documentation for which records each condition needs.

    >>> CohortFilter(tumour_type="coadread", protein_change="p.Gly12Cys").protein_change
    'p.G12C'
    """

    tumour_type: str | None = Field(
        default=None, description="OncoTree code; its descendants are included (COADREAD → COAD, READ, …)"
    )
    sex: Sex | None = Field(default=None, description="sex in the clinical record")
    age_min: float | None = Field(default=None, ge=0, description="youngest age at diagnosis, inclusive")
    age_max: float | None = Field(default=None, ge=0, description="oldest age at diagnosis, inclusive")
    gene: str | None = Field(default=None, description="HGNC symbol of the variant's annotation")
    consequence: str | None = Field(
        default=None, description="an SO term (missense_variant) or a class (truncating, missense, …)"
    )
    protein_change: str | None = Field(
        default=None, description="HGVS p. change, one- or three-letter (p.G12C = p.Gly12Cys)"
    )

    @field_validator("tumour_type")
    @classmethod
    def _known_tumour_type(cls, value: str | None) -> str | None:
        if value is None:
            return None
        tree = oncotree()
        if not value:
            raise QueryError(
                "CohortFilter.tumour_type: empty; give an OncoTree code (e.g. COADREAD) or leave it out"
            )
        if value not in tree:
            near = ", ".join(t.code for t in tree.search(value)[:5])
            hint = f"; did you mean {near}?" if near else ""
            raise QueryError(
                f"CohortFilter.tumour_type: {value!r} is not an OncoTree code ({ONCOTREE_RELEASE}){hint}"
            )
        return tree.get(value).code

    @field_validator("gene")
    @classmethod
    def _gene_symbol(cls, value: str | None) -> str | None:
        if value is not None and not _GENE.match(value):
            raise QueryError(f"CohortFilter.gene: {value!r} is not an HGNC gene symbol (e.g. KRAS, BRCA2)")
        return value

    @field_validator("consequence")
    @classmethod
    def _known_consequence(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value in CONSEQUENCE_CLASSES:
            return value
        try:
            # One spelling per term: SnpEff and older VEP names become their SO term.
            return normalise_consequence(value)
        except ValueError:
            classes = ", ".join(sorted(CONSEQUENCE_CLASSES))
            raise QueryError(
                f"CohortFilter.consequence: unknown consequence {value!r}; give a Sequence Ontology term "
                f"(e.g. missense_variant, stop_gained) or a class ({classes})"
            ) from None

    @field_validator("protein_change")
    @classmethod
    def _short_protein_change(cls, value: str | None) -> str | None:
        if value is None:
            return None
        short = normalise_protein_change(value)
        if short is None or not _PROTEIN.match(short):
            raise QueryError(
                f"CohortFilter.protein_change: {value!r} is not an HGVS protein change "
                "(e.g. p.G12C or p.Gly12Cys)"
            )
        return short

    @model_validator(mode="after")
    def _age_range(self) -> Self:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise QueryError(
                f"CohortFilter: age_min ({self.age_min:g}) is greater than age_max ({self.age_max:g}); "
                "the age range would be empty"
            )
        return self

    def tumour_types(self) -> frozenset[str]:
        """The OncoTree codes ``tumour_type`` stands for (itself and its descendants); empty if unset."""
        return oncotree().descendants(self.tumour_type) if self.tumour_type else frozenset()

    def consequences(self) -> frozenset[str]:
        """The SO terms ``consequence`` stands for; empty if unset."""
        return expand_consequence(self.consequence) if self.consequence else frozenset()

    @property
    def clinical(self) -> bool:
        """True when a condition needs the clinical record (sex or age)."""
        return self.sex is not None or self.age_min is not None or self.age_max is not None

    @property
    def genomic(self) -> bool:
        """True when a condition is on the variant (gene, consequence, protein change)."""
        return self.gene is not None or self.consequence is not None or self.protein_change is not None

    @property
    def empty(self) -> bool:
        """True when no condition is given (everyone the node knows matches)."""
        return not (self.clinical or self.genomic or self.tumour_type is not None)


def _chromosome(value: str) -> str:
    name = normalise_chromosome(value)
    if not _CONTIG.match(name):
        raise QueryError(f"chrom: {value!r} is not a chromosome name (1..22, X, Y, MT, or chr-prefixed)")
    return name


def _allele(value: str) -> str:
    upper = value.strip().upper()
    if not _ALLELE.match(upper):
        raise QueryError(f"AlleleFrequencyQuery: allele {value!r} must consist of A, C, G, T or N")
    return upper


def _assembly(value: object) -> object:
    if isinstance(value, str) and not isinstance(value, Assembly):
        try:
            return normalise_assembly(value)
        except ValueError as exc:
            raise QueryError(f"assembly: {exc}") from None
    return value


class _Query(_Strict):
    """Base of every query: a ``kind`` tag and a result model."""

    Result: ClassVar[type[BaseModel]]


class AlleleFrequencyResult(_Strict):
    """Allele counts of one allele, summed over the node's batches."""

    allele_count: int = Field(ge=0, description="AC: called copies of the allele")
    allele_number: int = Field(ge=0, description="AN: called alleles at the site")
    allele_frequency: float = Field(ge=0, description="AF = AC / AN; 0 when AN is 0")
    homozygous_count: int = Field(ge=0, description="individuals homozygous for the allele")


class AlleleFrequencyQuery(_Query):
    """AC, AN and AF of one allele (``chrom``, position, ``ref``, ``alt`` on ``assembly``).

    Give the position either as ``start`` (0-based, as stored) or as ``pos`` (1-based, as in VCF);
    the query keeps ``start``. Alleles are trimmed as ingest stores them (shared suffix, then shared
    prefix removed, so VCF's anchor base goes), but not left-aligned: that needs the reference
    sequence. An allele the node has not seen gives AC = AN = 0 and AF = 0. AC and AN are sums over
    batches of ``variant_sites``, so a batch in which the allele was not seen adds nothing to AN (a
    sites-only store cannot know it).

    >>> AlleleFrequencyQuery(chrom="chr12", pos=25245351, ref="c", alt="a", assembly="hg38").start
    25245350
    >>> q = AlleleFrequencyQuery(chrom="1", pos=10, ref="GA", alt="G")
    >>> (q.start, q.ref, q.alt)
    (10, 'A', '')
    """

    Result: ClassVar[type[BaseModel]] = AlleleFrequencyResult

    kind: Literal["allele_frequency"] = "allele_frequency"
    chrom: str = Field(description="chromosome (normalised: chr7 → 7, chrM → MT)")
    start: int | None = Field(default=None, ge=0, description="0-based start of the allele")
    pos: int | None = Field(default=None, ge=1, description="1-based position (VCF); converted to start")
    ref: str = Field(description="reference allele (A, C, G, T, N)")
    alt: str = Field(description="alternate allele (A, C, G, T, N)")
    assembly: Assembly = Field(default=Assembly.GRCH38, description="reference assembly")

    @model_validator(mode="before")
    @classmethod
    def _position(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        start, pos = data.get("start"), data.get("pos")
        if (start is None) == (pos is None):
            raise QueryError(
                "AlleleFrequencyQuery: give the position as start (0-based) or pos (1-based VCF), "
                "exactly one of them"
            )
        if pos is not None:
            if not isinstance(pos, int) or isinstance(pos, bool) or pos < 1:
                raise QueryError(f"AlleleFrequencyQuery.pos: expected a 1-based position ≥ 1 (got {pos!r})")
            start = pos - 1
            data = {**data, "start": start, "pos": None}
        ref, alt = data.get("ref"), data.get("alt")
        if isinstance(ref, str) and isinstance(alt, str) and isinstance(start, int):
            ref, alt = _allele(ref), _allele(alt)
            if ref == alt:
                raise QueryError(f"AlleleFrequencyQuery: ref and alt are the same allele ({ref!r})")
            start, ref, alt = trim_alleles(start, ref, alt)
            data = {**data, "start": start, "ref": ref, "alt": alt}
        return data

    @field_validator("chrom")
    @classmethod
    def _chrom(cls, value: str) -> str:
        return _chromosome(value)

    @field_validator("ref", "alt")
    @classmethod
    def _allele(cls, value: str) -> str:
        return _allele(value)

    @field_validator("assembly", mode="before")
    @classmethod
    def _assembly(cls, value: object) -> object:
        return _assembly(value)

    @property
    def position(self) -> int:
        """The 0-based start (``start`` is always set after validation)."""
        assert self.start is not None
        return self.start


class RegionCarriersResult(_Strict):
    """How many individuals carry, and how many alleles are called, in a region."""

    carriers: int = Field(ge=0, description="distinct individuals with a matching call in the region")
    variants: int = Field(ge=0, description="distinct alleles with a matching call in the region")


class RegionCarriersQuery(_Query):
    """Carriers and alleles in ``[start, end)`` (0-based, half-open) on ``chrom``, within a cohort.

    A call overlaps the region when ``call.start < end and call.end > start``. The filter's variant
    conditions (gene, consequence, protein change) select which calls count; its clinical conditions
    (sex, age, tumour type) select whose calls count. ``variants`` counts the distinct alleles of the
    counted calls. With ``assembly`` set, only alleles whose site is on that assembly count.
    """

    Result: ClassVar[type[BaseModel]] = RegionCarriersResult

    kind: Literal["region_carriers"] = "region_carriers"
    chrom: str = Field(description="chromosome (normalised: chr7 → 7, chrM → MT)")
    start: int = Field(ge=0, description="0-based start of the region, inclusive")
    end: int = Field(ge=1, description="0-based end of the region, exclusive")
    assembly: Assembly | None = Field(default=None, description="only alleles on this assembly")
    filter: CohortFilter = Field(default_factory=CohortFilter, description="who and which variants count")

    @field_validator("chrom")
    @classmethod
    def _chrom(cls, value: str) -> str:
        return _chromosome(value)

    @field_validator("assembly", mode="before")
    @classmethod
    def _assembly(cls, value: object) -> object:
        return _assembly(value)

    @model_validator(mode="after")
    def _non_empty(self) -> Self:
        if self.end <= self.start:
            raise QueryError(
                f"RegionCarriersQuery: end ({self.end}) must be greater than start ({self.start}); "
                "regions are 0-based half-open [start, end)"
            )
        return self


class CohortCountResult(_Strict):
    """How many individuals match a filter."""

    individuals: int = Field(ge=0, description="distinct individuals matching the filter")


class CohortCountQuery(_Query):
    """The number of distinct individuals matching ``filter`` (see the module's populations)."""

    Result: ClassVar[type[BaseModel]] = CohortCountResult

    kind: Literal["cohort_count"] = "cohort_count"
    filter: CohortFilter = Field(default_factory=CohortFilter, description="who counts")


Query = Annotated[AlleleFrequencyQuery | RegionCarriersQuery | CohortCountQuery, Field(discriminator="kind")]
"""Any query, told apart by its ``kind`` tag."""

QueryResult = AlleleFrequencyResult | RegionCarriersResult | CohortCountResult
"""Any query's result."""

_QUERY_ADAPTER: TypeAdapter[AlleleFrequencyQuery | RegionCarriersQuery | CohortCountQuery] = TypeAdapter(
    Query
)


def parse_query(
    data: str | bytes | dict[str, Any],
) -> AlleleFrequencyQuery | RegionCarriersQuery | CohortCountQuery:
    """Validate a query given as JSON text or a dict, choosing its class by ``kind``.

    Parameters
    ----------
    data
        JSON text or a mapping with a ``kind`` of ``allele_frequency``, ``region_carriers`` or
        ``cohort_count`` and that query's fields.

    Returns
    -------
    AlleleFrequencyQuery | RegionCarriersQuery | CohortCountQuery
        The validated query.

    Raises
    ------
    QueryError
        The kind is unknown or a field is wrong; the message names the field.

    Examples
    --------
    >>> parse_query('{"kind": "cohort_count", "filter": {"tumour_type": "SKCM"}}').filter.tumour_type
    'SKCM'
    """
    try:
        if isinstance(data, str | bytes):
            return _QUERY_ADAPTER.validate_json(data)
        return _QUERY_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise QueryError(_describe(exc, "query")) from exc
