"""Beacon v2 query plans: genomic-variant queries and individual filters, compiled to store SQL.

A Beacon request's ``requestParameters`` become a :class:`VariantQuery` (sequence, range, bracket,
gene, amino-acid change or HGVS short form; coordinates 0-based half-open as Beacon v2 and the store
use them), and its ``filters`` become an :class:`IndividualFilter`. Each compiles to one
parameterised DuckDB statement over the store's views (``variant_sites``, ``variant_calls``,
``individuals``, ``diagnoses``, ``phenotypes``). Nothing here applies disclosure control: the node does.

Filter semantics: conditions of different fields must all hold (AND); several ontology terms of the
same field are alternatives (OR); alphanumeric conditions (``age``) all hold (so ``age >= P40Y`` and
``age < P60Y`` is a range). Filters the node does not know are returned as ``unknown`` for the
response to report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genofed.errors import QueryError
from genofed.model import (
    normalise_assembly,
    normalise_chromosome,
    normalise_protein_change,
    oncotree,
    trim_alleles,
    variant_id,
)

__all__ = [
    "BEACON_SEX_TERMS",
    "FilterTerm",
    "IndividualFilter",
    "VariantQuery",
    "individual_ids_sql",
    "parse_filters",
    "parse_iso_age",
    "parse_variant_query",
    "sequence_carriers_sql",
    "variant_sql",
]

#: NCIt sex terms (as Beacon v2 and the CINECA records use them) → the store's sex values.
BEACON_SEX_TERMS: dict[str, str] = {
    "NCIT:C16576": "female",
    "NCIT:C20197": "male",
    "NCIT:C17649": "other",
    "NCIT:C17998": "unknown",
}
# Beacon variantType vocabulary → the store's variant types.
_VARIANT_TYPES: dict[str, tuple[str, ...]] = {
    "SNP": ("SNV",),
    "SNV": ("SNV",),
    "MNP": ("MNV",),
    "MNV": ("MNV",),
    "INS": ("INS",),
    "DEL": ("DEL",),
    "INDEL": ("INS", "DEL", "DELINS"),
    "DELINS": ("DELINS",),
}
_HGVS = re.compile(r"^(?P<acc>[A-Za-z0-9_.]+):g\.(?P<pos>\d+)(?P<ref>[ACGTN]+)>(?P<alt>[ACGTN]+)$")
_ISO_AGE = re.compile(r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<d>\d+(?:\.\d+)?)D)?$")
_OPERATORS = {"=": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "!": "<>"}
_BASES = re.compile(r"^[ACGTN]*$")


@dataclass(frozen=True)
class VariantQuery:
    """One Beacon genomic-variant query, normalised to the store's conventions."""

    assembly: str | None = None
    chrom: str | None = None
    start: tuple[int, ...] = ()
    end: tuple[int, ...] = ()
    ref: str | None = None
    alt: str | None = None
    gene: str | None = None
    aa_change: str | None = None
    variant_types: tuple[str, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    variant_id: int | None = None

    @property
    def kind(self) -> str:
        """``sequence``, ``range``, ``bracket``, ``gene``, ``id`` or ``all``."""
        if self.variant_id is not None:
            return "id"
        if len(self.start) == 2:
            return "bracket"
        if self.start and self.alt is not None and not self.end:
            return "sequence"
        if self.start:
            return "range"
        return "gene" if self.gene else "all"


def _ints(value: Any, name: str) -> tuple[int, ...]:
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    try:
        numbers = tuple(int(v) for v in items)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"requestParameters.{name}: expected integers, got {value!r}") from exc
    if len(numbers) > 2 or any(n < 0 for n in numbers):
        raise QueryError(f"requestParameters.{name}: expected one or two non-negative integers")
    return numbers


def _first(params: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if params.get(name) not in (None, ""):
            return params[name]
    return None


def parse_variant_query(params: Mapping[str, Any]) -> VariantQuery:
    """Read Beacon v2 ``requestParameters`` of a ``g_variants`` query into a :class:`VariantQuery`.

    Parameters
    ----------
    params
        ``assemblyId``, ``referenceName`` (``chr1``, ``1``, ``NC_000001.11``), ``start`` and ``end``
        (0-based; one value each, or two for a bracket), ``referenceBases``, ``alternateBases``,
        ``geneId``/``geneid``, ``aminoacidChange``, ``genomicAlleleShortForm``/``allele``
        (HGVS ``NC_…:g.<pos><ref>><alt>``), ``variantType``, ``variantMinLength``,
        ``variantMaxLength``. Unknown keys are ignored here (the caller reports them).

    Raises
    ------
    QueryError
        A value has the wrong form, or the query is incomplete (a start without a chromosome).
    """
    assembly = _first(params, "assemblyId")
    chrom = _first(params, "referenceName")
    starts = _ints(params.get("start"), "start")
    ends = _ints(params.get("end"), "end")
    ref = _first(params, "referenceBases")
    alt = _first(params, "alternateBases")
    hgvs = _first(params, "genomicAlleleShortForm", "allele")
    if hgvs is not None:
        match = _HGVS.match(str(hgvs).strip())
        if not match:
            raise QueryError(
                f"requestParameters.genomicAlleleShortForm: expected a substitution like "
                f"NC_000017.11:g.7674220C>T, got {hgvs!r}"
            )
        chrom = match["acc"]
        starts, ends = (int(match["pos"]) - 1,), ()
        ref, alt = match["ref"], match["alt"]
        if assembly is None and match["acc"].startswith("NC_"):
            version = int(match["acc"].rsplit(".", 1)[-1]) if "." in match["acc"] else 0
            # RefSeq chromosome accessions: GRCh37 versions are lower than GRCh38's for every chromosome.
            assembly = "GRCh38" if version >= 11 or match["acc"].startswith("NC_000024.10") else "GRCh37"
    # Beacon writes an empty allele (an insertion's reference, a deletion's alternate) as "-".
    ref = "" if ref == "-" else ref
    alt = "" if alt == "-" else alt
    for name, bases in (("referenceBases", ref), ("alternateBases", alt)):
        if bases is not None and not _BASES.match(str(bases).upper()):
            raise QueryError(f"requestParameters.{name}: expected bases A, C, G, T or N, got {bases!r}")
    if (starts or ends) and chrom is None:
        raise QueryError("requestParameters.referenceName is needed with start and end")
    if len(starts) == 2 and len(ends) != 2:
        raise QueryError("requestParameters.end: a bracket query needs two start and two end values")
    if len(starts) == 1 and alt is None and not ends:
        raise QueryError("requestParameters: a sequence query needs alternateBases; a range query needs end")
    variant_types: tuple[str, ...] = ()
    vtype = _first(params, "variantType")
    if vtype is not None:
        key = str(vtype).upper()
        if key not in _VARIANT_TYPES:
            raise QueryError(
                f"requestParameters.variantType: expected one of {', '.join(_VARIANT_TYPES)}, got {vtype!r}"
            )
        variant_types = _VARIANT_TYPES[key]
    try:
        normalised_assembly = normalise_assembly(str(assembly)).value if assembly else None
    except Exception as exc:
        raise QueryError(f"requestParameters.assemblyId: unknown assembly {assembly!r}") from exc
    query_ref = str(ref).upper() if ref is not None else None
    query_alt = str(alt).upper() if alt is not None else None
    start = starts
    if len(starts) == 1 and query_ref is not None and query_alt is not None and not ends:
        trimmed = trim_alleles(starts[0], query_ref, query_alt)
        start, query_ref, query_alt = (trimmed[0],), trimmed[1], trimmed[2]
    aa = _first(params, "aminoacidChange")
    lengths = [_ints(params.get(n), n) for n in ("variantMinLength", "variantMaxLength")]
    return VariantQuery(
        assembly=normalised_assembly,
        chrom=normalise_chromosome(str(chrom)) if chrom is not None else None,
        start=start,
        end=ends,
        ref=query_ref,
        alt=query_alt,
        gene=str(_first(params, "geneId", "geneid")) if _first(params, "geneId", "geneid") else None,
        aa_change=normalise_protein_change(str(aa)) if aa else None,
        variant_types=variant_types,
        min_length=lengths[0][0] if lengths[0] else None,
        max_length=lengths[1][0] if lengths[1] else None,
    )


def _site_conditions(q: VariantQuery, alias: str) -> tuple[list[str], list[Any]]:
    """Position conditions usable on both sites and calls (row-group pruning on both)."""
    where: list[str] = []
    params: list[Any] = []
    if q.chrom is not None:
        where.append(f"{alias}.chrom = ?")
        params.append(q.chrom)
    if q.kind == "sequence":
        where += [f"{alias}.start = ?", f"{alias}.ref = ?", f"{alias}.alt = ?"]
        params += [q.start[0], q.ref, q.alt]
    elif q.kind == "range":
        # Beacon v2 range semantics: any overlap of [v.start, v.end) with [q.start, q.end).
        where += [f"{alias}.start < ?", f'{alias}."end" > ?']
        params += [q.end[0], q.start[0]]
        if q.ref is not None:
            where.append(f"{alias}.ref = ?")
            params.append(q.ref)
        if q.alt is not None and q.alt != "N":
            where.append(f"{alias}.alt = ?")
            params.append(q.alt)
    elif q.kind == "bracket":
        where += [f"{alias}.start BETWEEN ? AND ?", f'{alias}."end" BETWEEN ? AND ?']
        params += [q.start[0], q.start[1], q.end[0], q.end[1]]
    return where, params


def variant_sql(q: VariantQuery, individuals: tuple[str, list[Any]] | None = None) -> tuple[str, list[Any]]:
    """SQL listing each matching allele once with its number of distinct carriers.

    Columns: ``variant_id``, ``assembly``, ``chrom``, ``start``, ``end``, ``ref``, ``alt``,
    ``variant_type``, ``gene``, ``protein_change``, ``carriers`` (the individuals with a call of it;
    only those of ``individuals`` when given), ordered by position.

    Parameters
    ----------
    q
        The variant query.
    individuals
        Optional SQL (and its parameters) selecting ``individual_id``: carriers are counted among
        these, and alleles without such a carrier are left out.
    """
    where, params = _site_conditions(q, "s")
    if q.assembly is not None:
        where.append("s.assembly = ?")
        params.append(q.assembly)
    if q.variant_id is not None:
        where.append("s.variant_id = ?")
        params.append(q.variant_id)
    if q.gene is not None:
        where.append("upper(s.gene) = upper(?)")
        params.append(q.gene)
    if q.aa_change is not None:
        where.append("s.protein_change = ?")
        params.append(q.aa_change)
    if q.variant_types:
        where.append(f"s.variant_type IN ({', '.join('?' for _ in q.variant_types)})")
        params += list(q.variant_types)
    length = 'greatest(s."end" - s.start, length(s.alt))'
    if q.min_length is not None:
        where.append(f"{length} >= ?")
        params.append(q.min_length)
    if q.max_length is not None:
        where.append(f"{length} <= ?")
        params.append(q.max_length)
    call_where, call_params = _site_conditions(q, "c")
    join = ["c.variant_id = s.variant_id", *call_where]
    join_params = list(call_params)
    if individuals is not None:
        join.append(f"c.individual_id IN ({individuals[0]})")
        join_params += individuals[1]
    sites = (
        "SELECT s.variant_id, any_value(s.assembly) AS assembly, any_value(s.chrom) AS chrom, "
        'any_value(s.start) AS start, any_value(s."end") AS "end", any_value(s.ref) AS ref, '
        "any_value(s.alt) AS alt, any_value(s.variant_type) AS variant_type, any_value(s.gene) AS gene, "
        "any_value(s.protein_change) AS protein_change FROM variant_sites AS s"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " GROUP BY s.variant_id"
    )
    carriers = (
        "SELECT c.variant_id, count(DISTINCT c.individual_id) AS carriers FROM variant_calls AS c "
        f"WHERE c.variant_id IN (SELECT variant_id FROM m) AND {' AND '.join(join[1:]) or 'TRUE'} "
        "GROUP BY c.variant_id"
    )
    having = "WHERE coalesce(k.carriers, 0) > 0"  # a site no one carries (AC=0) was not observed
    sql = (
        f"WITH m AS ({sites}), k AS ({carriers}) "
        'SELECT m.variant_id, m.assembly, m.chrom, m.start, m."end", m.ref, m.alt, m.variant_type, '
        "m.gene, m.protein_change, coalesce(k.carriers, 0) AS carriers "
        f"FROM m LEFT JOIN k ON k.variant_id = m.variant_id {having} ORDER BY m.chrom, m.start, m.ref, m.alt"
    )
    return sql, params + join_params


def sequence_carriers_sql(
    q: VariantQuery, individuals: tuple[str, list[Any]] | None = None
) -> tuple[str, list[Any]] | None:
    """The fast plan of a plain sequence query: carriers per allele straight from the calls.

    The allele's node key follows from (assembly, chrom, start, ref, alt), so no site look-up is
    needed; without an assembly both GRCh37's and GRCh38's keys are tried. Returns None when the
    query needs the sites (gene, amino-acid change, type or length conditions, or not a sequence
    query). Columns: ``variant_id``, ``carriers``.
    """
    site_only = (
        q.gene or q.aa_change or q.variant_types or q.min_length is not None or q.max_length is not None
    )
    if q.kind != "sequence" or site_only or q.chrom is None or q.ref is None or q.alt is None:
        return None
    assemblies = [q.assembly] if q.assembly else ["GRCh37", "GRCh38"]
    keys = [variant_id(a, q.chrom, q.start[0], q.ref, q.alt) for a in assemblies]
    where, params = _site_conditions(q, "c")
    where.append(f"c.variant_id IN {_in(keys)}")
    params += keys
    if individuals is not None:
        where.append(f"c.individual_id IN ({individuals[0]})")
        params += individuals[1]
    sql = (
        "SELECT c.variant_id, count(DISTINCT c.individual_id) AS carriers FROM variant_calls AS c "
        f"WHERE {' AND '.join(where)} GROUP BY c.variant_id"
    )
    return sql, params


# -- filters ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilterTerm:
    """One Beacon filter as sent: an ontology or custom ``id``, or an alphanumeric condition."""

    id: str
    operator: str | None = None
    value: str | None = None
    include_descendants: bool = True


@dataclass(frozen=True)
class IndividualFilter:
    """Filters on individuals, grouped by field; ``unknown`` lists the filters the node cannot apply."""

    sex: tuple[str, ...] = ()
    ethnicity: tuple[str, ...] = ()
    tumour_types: tuple[str, ...] = ()
    icd10: tuple[str, ...] = ()
    disease_ids: tuple[str, ...] = ()
    hpo: tuple[str, ...] = ()
    age: tuple[tuple[str, float], ...] = ()
    custom: tuple[tuple[str, str], ...] = ()
    unknown: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        """No condition the node applies."""
        return not (
            self.sex
            or self.ethnicity
            or self.tumour_types
            or self.icd10
            or self.disease_ids
            or self.hpo
            or self.age
            or self.custom
        )


def parse_iso_age(value: str) -> float:
    """An ISO 8601 duration (``P45Y``, ``P45Y6M``, ``P30D``) in years.

    >>> parse_iso_age("P45Y6M")
    45.5
    """
    match = _ISO_AGE.match(value.strip().upper())
    if not match or not any(match.groupdict().values()):
        raise QueryError(f"filters: age: expected an ISO 8601 duration like P45Y or P45Y6M, got {value!r}")
    years = float(match["y"] or 0) + float(match["m"] or 0) / 12 + float(match["d"] or 0) / 365.25
    return years


_CUSTOM_FIELDS = {"vital_status": "vital_status", "geographic_origin": "geographic_origin"}


@functools.cache
def _ncit_to_oncotree() -> dict[str, frozenset[str]]:
    """OncoTree codes by the NCIt term each cross-references (built once: the tree is packaged)."""
    found: dict[str, set[str]] = {}
    for tumour in oncotree():
        for ncit in tumour.ncit:
            found.setdefault(f"NCIT:{ncit.upper().removeprefix('NCIT:')}", set()).add(tumour.code)
    return {key: frozenset(codes) for key, codes in found.items()}


def parse_filters(filters: Sequence[Any]) -> IndividualFilter:
    """Group Beacon filters (strings or ``{"id", "operator", "value", "includeDescendantTerms"}``).

    Known: NCIt sex terms; NCIt ethnicity terms (``NCIT:C…`` not a sex term, matched exactly);
    ``ONCOTREE:<code>`` and the NCIt cross-references of OncoTree codes (with descendants unless
    ``includeDescendantTerms`` is false); ``ICD10:<code>`` (a code covers its sub-codes);
    ``HP:…`` phenotypes; other ontology CURIEs as stored disease ids; ``age`` with an operator and an
    ISO 8601 duration; custom ``vital_status:<value>`` and ``geographic_origin:<value>``.
    """
    terms: list[FilterTerm] = []
    for item in filters:
        if isinstance(item, str):
            terms.append(FilterTerm(id=item))
        elif isinstance(item, Mapping) and isinstance(item.get("id"), str):
            value = item.get("value")
            terms.append(
                FilterTerm(
                    id=item["id"],
                    operator=item.get("operator"),
                    value=None if value is None else str(value),
                    include_descendants=bool(item.get("includeDescendantTerms", True)),
                )
            )
        else:
            raise QueryError(f"filters: expected a string or an object with an 'id', got {item!r}")
    tree = oncotree()
    ncit_to_oncotree = _ncit_to_oncotree()
    sex: list[str] = []
    ethnicity: list[str] = []
    tumours: list[str] = []
    icd: list[str] = []
    diseases: list[str] = []
    hpo: list[str] = []
    age: list[tuple[str, float]] = []
    custom: list[tuple[str, str]] = []
    unknown: list[str] = []
    for term in terms:
        key = term.id.strip()
        upper = key.upper()
        if term.operator is not None or term.value is not None:
            if key.lower() not in ("age", "ageofonset", "age_at_diagnosis"):
                unknown.append(key)
                continue
            op = term.operator or "="
            if op not in _OPERATORS:
                raise QueryError(f"filters: age: unknown operator {op!r} (expected =, <, >, <=, >=, !)")
            age.append((_OPERATORS[op], parse_iso_age(term.value or "")))
        elif upper in BEACON_SEX_TERMS:
            sex.append(BEACON_SEX_TERMS[upper])
        elif upper.startswith("ONCOTREE:"):
            code = key.split(":", 1)[1].upper()
            if code not in tree:
                unknown.append(key)
                continue
            tumours += sorted(tree.descendants(code)) if term.include_descendants else [code]
        elif upper in ncit_to_oncotree:
            for code in sorted(ncit_to_oncotree[upper]):
                tumours += sorted(tree.descendants(code)) if term.include_descendants else [code]
        elif upper.startswith("NCIT:"):
            ethnicity.append("NCIT:" + key.split(":", 1)[1])
        elif upper.startswith("ICD10:"):
            icd.append(key.split(":", 1)[1].replace(".", "").upper())
        elif upper.startswith("HP:"):
            hpo.append("HP:" + key.split(":", 1)[1])
        elif ":" in key and key.split(":", 1)[0].lower() in _CUSTOM_FIELDS:
            name, value = key.split(":", 1)
            custom.append((_CUSTOM_FIELDS[name.lower()], value))
        elif re.match(r"^(OMIM|ORPHA|MONDO|DOID):", upper):
            diseases.append(key)
        else:
            unknown.append(key)
    return IndividualFilter(
        sex=tuple(sex),
        ethnicity=tuple(ethnicity),
        tumour_types=tuple(dict.fromkeys(tumours)),
        icd10=tuple(icd),
        disease_ids=tuple(diseases),
        hpo=tuple(hpo),
        age=tuple(age),
        custom=tuple(custom),
        unknown=tuple(unknown),
    )


def _latest(table: str, alias: str) -> str:
    # Clinical tables hold one record set per individual and batch: the latest batch wins.
    return (
        f'{alias}.batch_id = (SELECT max(u.batch_id) FROM "{table}" AS u '
        f"WHERE u.individual_id = {alias}.individual_id)"
    )


def _in(values: Sequence[Any]) -> str:
    return f"({', '.join('?' for _ in values)})"


def individual_ids_sql(f: IndividualFilter) -> tuple[str, list[Any]]:
    """SQL selecting the distinct ``individual_id`` of the individuals every condition of ``f`` holds for.

    Without conditions: every individual the node knows (clinical records or sequencing analyses).
    """
    if f.empty:
        return (
            "SELECT individual_id FROM individuals UNION SELECT individual_id FROM analyses",
            [],
        )
    where = [_latest("individuals", "i")]
    params: list[Any] = []
    if f.sex:
        where.append(f"i.sex IN {_in(f.sex)}")
        params += list(f.sex)
    if f.ethnicity:
        where.append(f"i.ethnicity_id IN {_in(f.ethnicity)}")
        params += list(f.ethnicity)
    for op, years in f.age:
        where.append(f"i.age_at_diagnosis {op} ?")
        params.append(years)
    for name, value in f.custom:
        where.append(f"lower(i.{name}) = lower(?)")
        params.append(value)
    disease: list[str] = []
    if f.tumour_types:
        disease.append(f"d.tumour_type IN {_in(f.tumour_types)}")
        params_d: list[Any] = list(f.tumour_types)
    else:
        params_d = []
    for code in f.icd10:
        disease.append("replace(d.icd10, '.', '') LIKE ?")
        params_d.append(code + "%")
    if f.disease_ids:
        disease.append(f"d.disease_id IN {_in(f.disease_ids)}")
        params_d += list(f.disease_ids)
    if disease:
        where.append(
            "i.individual_id IN (SELECT d.individual_id FROM diagnoses AS d "
            f"WHERE {_latest('diagnoses', 'd')} "
            f"AND ({' OR '.join(disease)}))"
        )
        params += params_d
    if f.hpo:
        where.append(
            "i.individual_id IN (SELECT p.individual_id FROM phenotypes AS p WHERE "
            f"{_latest('phenotypes', 'p')} AND NOT coalesce(p.excluded, FALSE) AND p.hpo_id IN {_in(f.hpo)})"
        )
        params += list(f.hpo)
    return f"SELECT DISTINCT i.individual_id FROM individuals AS i WHERE {' AND '.join(where)}", params
