"""The common data model → Phenopackets v2: one phenopacket per individual.

Export lives beside the import because both are knowledge of one format; ``ingest`` may not import
the store, so this module takes the store's tables as Arrow tables (what ``NodeStore.execute``
returns) and the caller chooses which rows to export (``genofed export phenopackets`` passes each
individual's latest batch of every clinical table, and all live calls).

Identifiers are the store's pseudonyms: an exported phenopacket's ``id`` and ``subject.id`` are the
individual's pseudonym, biosample and interpretation IDs are pseudonyms too. That is intended: an
export is for use inside the node, or for a release the node's policy allows.

What a phenopacket → store → phenopacket round trip keeps exactly: the subject's sex and vital
status (with ``survivalTimeInDays``), diseases (term id and label; onset ages, age ranges,
gestational ages and onset terms verbatim), phenotypic features (HPO id, label, excluded flag and
onset as above), and genomic interpretations (progress status, disease, interpretation status,
ACMG class, actionability, gene, HGVS c./g./p. expressions, the ``vcfRecord`` with its anchor base,
allelic state, molecule context). What changes: every real date (dateOfBirth, onset and collection
timestamps, dose intervals, time of death) became days relative to the index diagnosis on import and
is not written back; ``timeAtLastEncounter``, excluded diseases, procedures, radiotherapy, dosage
and metaData are not stored; the ``vcfRecord`` chromosome is written ``chr``-prefixed on GRCh38 and
bare on GRCh37 and the assembly under its GRC name; biosample tissues are written as UBERON terms
when genofed knows the label, else as the description.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from genofed.model import ONCOTREE_RELEASE, Assembly, Recist, oncotree

from ._phenopackets import RECIST_TERMS, REFERENCE_SAMPLE, REFSEQ_CHROMOSOMES, TUMOUR_SAMPLE

__all__ = [
    "PHENOPACKET_SCHEMA_VERSION",
    "PHENOPACKET_TABLES",
    "UBERON_TISSUES",
    "phenopacket_meta_data",
    "phenopackets_from_tables",
    "write_phenopackets",
]

PHENOPACKET_SCHEMA_VERSION = "2.0.2"

#: The store tables an export reads (any may be absent).
PHENOPACKET_TABLES: tuple[str, ...] = (
    "individuals",
    "diagnoses",
    "phenotypes",
    "specimens",
    "treatments",
    "responses",
    "interpretations",
    "variant_calls",
    "variant_sites",
)

#: Tissue labels genofed writes as UBERON terms (lower-case label → term id).
UBERON_TISSUES: dict[str, str] = {
    "blood": "UBERON:0000178",
    "bone tissue": "UBERON:0002481",
    "breast": "UBERON:0000310",
    "colon": "UBERON:0001155",
    "large intestine": "UBERON:0000059",
    "liver": "UBERON:0002107",
    "lung": "UBERON:0002048",
    "lymph node": "UBERON:0000029",
    "ovary": "UBERON:0000992",
    "peritoneum": "UBERON:0002358",
    "prostate gland": "UBERON:0002367",
    "skin of body": "UBERON:0002097",
}

# namespace prefix → (resource id, name, url, IRI prefix) for metaData.resources.
_OBO = "http://purl.obolibrary.org/obo/"
_RESOURCES: dict[str, tuple[str, str, str, str]] = {
    "HP": ("hp", "human phenotype ontology", f"{_OBO}hp.owl", f"{_OBO}HP_"),
    "OMIM": (
        "omim",
        "An Online Catalog of Human Genes and Genetic Disorders",
        "https://www.omim.org",
        "https://www.omim.org/entry/",
    ),
    "MONDO": ("mondo", "Mondo Disease Ontology", f"{_OBO}mondo.obo", f"{_OBO}MONDO_"),
    "ORPHA": (
        "ordo",
        "Orphanet Rare Disease Ontology",
        "http://www.orphadata.org/data/ORDO/ordo_orphanet.owl",
        "http://www.orpha.net/ORDO/Orphanet_",
    ),
    "GENO": ("geno", "Genotype Ontology", f"{_OBO}geno.owl", f"{_OBO}GENO_"),
    "HGNC": (
        "hgnc",
        "HUGO Gene Nomenclature Committee",
        "https://www.genenames.org",
        "https://www.genenames.org/data/gene-symbol-report/#!/hgnc_id/",
    ),
    "NCIT": ("ncit", "NCI Thesaurus", f"{_OBO}ncit.owl", f"{_OBO}NCIT_"),
    "UBERON": ("uberon", "Uber-anatomy ontology", f"{_OBO}uberon.owl", f"{_OBO}UBERON_"),
    "EFO": (
        "efo",
        "Experimental Factor Ontology",
        "http://www.ebi.ac.uk/efo/efo.owl",
        "http://www.ebi.ac.uk/efo/EFO_",
    ),
    "ONCOTREE": (
        "oncotree",
        "OncoTree",
        "https://oncotree.mskcc.org",
        "https://oncotree.mskcc.org/?field=CODE&search=",
    ),
    "ATC": (
        "atc",
        "Anatomical Therapeutic Chemical Classification",
        "https://atcddd.fhi.no/atc_ddd_index/",
        "https://atcddd.fhi.no/atc_ddd_index/?code=",
    ),
    "ICD10": (
        "icd10",
        "International Classification of Diseases, 10th revision",
        "https://icd.who.int/browse10",
        "https://icd.who.int/browse10/2019/en#/",
    ),
}
_RESOURCE_VERSIONS = {"ONCOTREE": ONCOTREE_RELEASE}

_SEX = {"female": "FEMALE", "male": "MALE", "other": "OTHER_SEX"}
_VITAL = {"alive": "ALIVE", "deceased": "DECEASED"}
_ZYGOSITY_TERMS = {
    "het": ("GENO:0000135", "heterozygous"),
    "hom": ("GENO:0000136", "homozygous"),
    "hemi": ("GENO:0000134", "hemizygous"),
}
_ACCESSIONS = {located: accession for accession, located in REFSEQ_CHROMOSOMES.items()}

_Row = dict[str, Any]


def _rows_by_individual(tables: Mapping[str, pa.Table], name: str) -> dict[str, list[_Row]]:
    table = tables.get(name)
    grouped: dict[str, list[_Row]] = defaultdict(list)
    if table is not None:
        for row in table.to_pylist():
            grouped[row["individual_id"]].append(row)
    return grouped


def _term(curie: str | None, label: str | None) -> dict[str, str]:
    term: dict[str, str] = {}
    if curie:
        term["id"] = curie
    if label:
        term["label"] = label
    return term


def _time_element(text: str | None) -> dict[str, Any] | None:
    """The inverse of the import's onset text: ISO 8601 age, age range, gestational age or a term."""
    if not text:
        return None
    if text.startswith("GA ") and "w" in text:
        weeks, _, days = text[3:].rstrip("d").partition("w")
        return {"gestationalAge": {"weeks": int(weeks), "days": int(days or 0)}}
    if text.startswith("P") and "/" in text:
        start, _, end = text.partition("/")
        age_range = {k: {"iso8601duration": v} for k, v in (("start", start), ("end", end)) if v}
        return {"ageRange": age_range}
    if text.startswith("P") and " " not in text:
        return {"age": {"iso8601duration": text}}
    curie, _, label = text.partition(" ")
    return {"ontologyClass": _term(curie, label)}


def _age_duration(years: float) -> str:
    months = round(years * 12)
    whole, rest = divmod(months, 12)
    return f"P{whole}Y{rest}M" if rest else f"P{whole}Y"


def _chrom(assembly: str | None, chrom: str) -> str:
    if assembly == Assembly.GRCH37.value:
        return chrom
    return "chrM" if chrom == "MT" else f"chr{chrom}"


def _disease_term(row: _Row) -> dict[str, str]:
    label = row.get("label")
    if row.get("disease_id"):
        return _term(row["disease_id"], label)
    if row.get("tumour_type"):
        code = row["tumour_type"]
        name = oncotree().get(code).name if code in oncotree() else None
        return _term(f"ONCOTREE:{code}", label or name)
    if row.get("icd10"):
        return _term(f"ICD10:{row['icd10']}", label)
    return _term(None, label)


def _allelic_state(row: _Row) -> dict[str, str] | None:
    if row.get("allelic_state_id") or row.get("allelic_state_label"):
        return _term(row.get("allelic_state_id"), row.get("allelic_state_label"))
    known = _ZYGOSITY_TERMS.get(row.get("zygosity") or "")
    return _term(*known) if known else None


def _variant_descriptor(row: _Row) -> dict[str, Any]:
    descriptor: dict[str, Any] = {}
    chrom, start = row.get("chrom"), row.get("start")
    ref, alt = row.get("ref"), row.get("alt")
    descriptor_id = row.get("descriptor_id")
    if not descriptor_id and chrom is not None and start is not None:
        descriptor_id = f"{chrom}-{start + 1}-{ref or ''}-{alt or ''}"
    descriptor["id"] = descriptor_id or ""
    if row.get("gene") or row.get("gene_id"):
        descriptor["geneContext"] = {"valueId": row.get("gene_id") or "", "symbol": row.get("gene") or ""}
    expressions = [
        {"syntax": syntax, "value": row[column]}
        for syntax, column in (("hgvs.c", "hgvs_c"), ("hgvs.g", "hgvs_g"), ("hgvs.p", "hgvs_p"))
        if row.get(column)
    ]
    if expressions:
        descriptor["expressions"] = expressions
    if row.get("coordinates_from") == "vcfRecord" and chrom is not None and start is not None:
        descriptor["vcfRecord"] = {
            "genomeAssembly": row.get("assembly") or "",
            "chrom": _chrom(row.get("assembly"), chrom),
            "pos": start + 1,
            "ref": ref or "",
            "alt": alt or "",
        }
    if row.get("molecule_context"):
        descriptor["moleculeContext"] = row["molecule_context"]
    state = _allelic_state(row)
    if state:
        descriptor["allelicState"] = state
    return descriptor


def _genomic_interpretation(row: _Row, subject: str) -> dict[str, Any]:
    out: dict[str, Any] = {"subjectOrBiosampleId": row.get("specimen_id") or subject}
    if row.get("status"):
        out["interpretationStatus"] = row["status"]
    is_variant = any(
        row.get(c)
        for c in ("coordinates_from", "hgvs_c", "hgvs_g", "hgvs_p", "descriptor_id", "allelic_state_id")
    )
    if not is_variant:
        out["gene"] = {"valueId": row.get("gene_id") or "", "symbol": row.get("gene") or ""}
        return out
    variant: dict[str, Any] = {}
    if row.get("acmg_class"):
        variant["acmgPathogenicityClassification"] = row["acmg_class"]
    if row.get("actionability"):
        variant["therapeuticActionability"] = row["actionability"]
    variant["variationDescriptor"] = _variant_descriptor(row)
    out["variantInterpretation"] = variant
    return out


def _interpretations(rows: list[_Row], subject: str) -> list[dict[str, Any]]:
    grouped: dict[str, list[_Row]] = {}
    for row in rows:
        grouped.setdefault(row["interpretation_id"], []).append(row)
    out = []
    for interpretation_id, members in grouped.items():
        first = members[0]
        interpretation: dict[str, Any] = {"id": interpretation_id}
        if first.get("progress_status"):
            interpretation["progressStatus"] = first["progress_status"]
        diagnosis: dict[str, Any] = {}
        disease = _term(first.get("disease_id"), first.get("disease_label"))
        if disease:
            diagnosis["disease"] = disease
        diagnosis["genomicInterpretations"] = [_genomic_interpretation(r, subject) for r in members]
        interpretation["diagnosis"] = diagnosis
        out.append(interpretation)
    return out


def _call_interpretation(
    calls: list[_Row], covered: set[int], sites: Mapping[int, _Row], subject: str
) -> dict[str, Any] | None:
    """Stored calls that no interpretation describes, as UNKNOWN_STATUS genomic interpretations."""
    described = []
    seen: set[int] = set()
    for call in calls:
        key = call["variant_id"]
        if key in covered or key in seen:
            continue
        seen.add(key)
        site = sites.get(key, {})
        assembly = site.get("assembly")
        chrom, start, ref, alt = call["chrom"], call["start"], call["ref"], call["alt"]
        descriptor: dict[str, Any] = {"id": f"{chrom}-{start}-{ref}-{alt}"}
        if site.get("gene"):
            descriptor["geneContext"] = {"valueId": "", "symbol": site["gene"]}
        expressions = []
        accession = _ACCESSIONS.get((Assembly(assembly), chrom)) if assembly else None
        if accession:
            # SPDI: 0-based interbase, empty alleles allowed, so every stored allele has one exactly.
            expressions.append({"syntax": "spdi", "value": f"{accession}:{start}:{ref}:{alt}"})
        if site.get("transcript") and site.get("hgvs_c"):
            expressions.append({"syntax": "hgvs.c", "value": f"{site['transcript']}:{site['hgvs_c']}"})
        if expressions:
            descriptor["expressions"] = expressions
        if ref and alt and assembly:
            descriptor["vcfRecord"] = {
                "genomeAssembly": assembly,
                "chrom": _chrom(assembly, chrom),
                "pos": start + 1,
                "ref": ref,
                "alt": alt,
            }
        descriptor["moleculeContext"] = "genomic"
        state = _allelic_state(call)
        if state:
            descriptor["allelicState"] = state
        described.append(
            {
                "subjectOrBiosampleId": subject,
                "interpretationStatus": "UNKNOWN_STATUS",
                "variantInterpretation": {
                    "acmgPathogenicityClassification": "NOT_PROVIDED",
                    "variationDescriptor": descriptor,
                },
            }
        )
    if not described:
        return None
    return {
        "id": f"{subject}-calls",
        "progressStatus": "UNKNOWN_PROGRESS",
        "diagnosis": {"genomicInterpretations": described},
    }


def _biosample(row: _Row, subject: str) -> dict[str, Any]:
    sample: dict[str, Any] = {"id": row["specimen_id"], "individualId": subject}
    tissue = row.get("tissue")
    if tissue:
        uberon = UBERON_TISSUES.get(tissue.strip().lower())
        if uberon:
            sample["sampledTissue"] = _term(uberon, tissue)
        else:
            sample["description"] = f"tissue: {tissue}"
    if row.get("tumour_type"):
        code = row["tumour_type"]
        name = oncotree().get(code).name if code in oncotree() else None
        sample["histologicalDiagnosis"] = _term(f"ONCOTREE:{code}", name)
    if row.get("specimen_type") == "tumour":
        sample["materialSample"] = _term(TUMOUR_SAMPLE, "abnormal sample")
    elif row.get("specimen_type") == "normal":
        sample["materialSample"] = _term(REFERENCE_SAMPLE, "reference sample")
    return sample


def _medical_actions(treatments: list[_Row], responses: list[_Row]) -> list[dict[str, Any]]:
    response_of: dict[int, str] = {}
    for response in responses:
        if response.get("line") is not None:
            response_of.setdefault(response["line"], response["recist"])
    actions = []
    answered: set[int] = set()
    order = sorted(
        treatments, key=lambda t: (t.get("line") or 1 << 30, t.get("start_day") or 0, t.get("drug") or "")
    )
    for treatment in order:
        agent = _term(
            f"ATC:{treatment['atc_code']}" if treatment.get("atc_code") else None, treatment["drug"]
        )
        action: dict[str, Any] = {"treatment": {"agent": agent}}
        line = treatment.get("line")
        # A response belongs to a line: written once, on the line's first drug.
        if line is not None and line in response_of and line not in answered:
            answered.add(line)
            curie, label = RECIST_TERMS[Recist(response_of[line])]
            action["responseToTreatment"] = _term(curie, label)
        actions.append(action)
    return actions


def _prefixes(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("id", "valueId") and isinstance(item, str) and ":" in item:
                found.add(item.split(":", 1)[0].upper())
            else:
                _prefixes(item, found)
    elif isinstance(value, list):
        for item in value:
            _prefixes(item, found)


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def phenopacket_meta_data(
    packet: Mapping[str, Any], *, created: dt.datetime | None = None, created_by: str = "genofed"
) -> dict[str, Any]:
    """The ``metaData`` of a phenopacket: creation time and a resource for every prefix it uses.

    Parameters
    ----------
    packet
        The phenopacket so far (its CURIE prefixes choose the resources listed).
    created
        Creation time (default: now); written in UTC.
    created_by
        Who made it.

    Returns
    -------
    dict
        The ``metaData`` element (schema version 2.0.2). Resource versions are ``unknown`` except
        OncoTree's: genofed keeps terms, not the ontology releases they came from.
    """
    found: set[str] = set()
    _prefixes(packet, found)
    resources = []
    for prefix in sorted(found & set(_RESOURCES)):
        rid, name, url, iri = _RESOURCES[prefix]
        resources.append(
            {
                "id": rid,
                "name": name,
                "url": url,
                "version": _RESOURCE_VERSIONS.get(prefix, "unknown"),
                "namespacePrefix": prefix,
                "iriPrefix": iri,
            }
        )
    return {
        "created": _timestamp(created or dt.datetime.now(dt.UTC)),
        "createdBy": created_by,
        "resources": resources,
        "phenopacketSchemaVersion": PHENOPACKET_SCHEMA_VERSION,
    }


def phenopackets_from_tables(
    tables: Mapping[str, pa.Table], *, created: dt.datetime | None = None, calls: bool = False
) -> list[dict[str, Any]]:
    """Build one phenopacket (as a JSON-ready dict) per individual of the given store tables.

    Parameters
    ----------
    tables
        Store tables by name (:data:`PHENOPACKET_TABLES`; any may be missing), in the model's
        columns (extra columns such as ``batch_id`` are ignored). Every individual named by
        ``individuals``, ``diagnoses``, ``phenotypes``, ``specimens``, ``treatments``,
        ``interpretations`` or ``variant_calls`` gets a phenopacket.
    created
        The ``metaData.created`` time (default: now).
    calls
        Also describe the stored calls that no interpretation covers (e.g. a VCF's), as genomic
        interpretations of status ``UNKNOWN_STATUS`` with a SPDI expression and, for substitutions,
        a ``vcfRecord``. Off by default: a whole genome's calls make a very large phenopacket.

    Returns
    -------
    list of dict
        Phenopackets in individual order; ``id`` and ``subject.id`` are the individual's pseudonym.
    """
    moment = created or dt.datetime.now(dt.UTC)
    people = {
        r["individual_id"]: r for r in (tables["individuals"].to_pylist() if "individuals" in tables else [])
    }
    grouped = {
        name: _rows_by_individual(tables, name)
        for name in PHENOPACKET_TABLES
        if name not in ("variant_sites",)
    }
    everyone: set[str] = set(people)
    for name, rows in grouped.items():
        if name != "variant_calls" or calls:
            everyone.update(rows)
    sites: dict[int, _Row] = {}
    if calls and "variant_sites" in tables:
        for site in tables["variant_sites"].to_pylist():
            sites.setdefault(site["variant_id"], site)
    packets = []
    for pid in sorted(everyone):
        person = people.get(pid, {})
        subject: dict[str, Any] = {"id": pid}
        if person.get("sex") in _SEX:
            subject["sex"] = _SEX[person["sex"]]
        if person.get("vital_status") in _VITAL:
            vital: dict[str, Any] = {"status": _VITAL[person["vital_status"]]}
            if person.get("overall_survival_days") is not None:
                vital["survivalTimeInDays"] = person["overall_survival_days"]
            subject["vitalStatus"] = vital
        packet: dict[str, Any] = {"id": pid, "subject": subject}
        features = []
        for row in grouped["phenotypes"].get(pid, []):
            feature: dict[str, Any] = {"type": _term(row["hpo_id"], row.get("label"))}
            if row.get("excluded"):
                feature["excluded"] = True
            onset = _time_element(row.get("onset"))
            if onset:
                feature["onset"] = onset
            features.append(feature)
        if features:
            packet["phenotypicFeatures"] = features
        biosamples = [_biosample(r, pid) for r in grouped["specimens"].get(pid, [])]
        if biosamples:
            packet["biosamples"] = biosamples
        interpretations = _interpretations(grouped["interpretations"].get(pid, []), pid)
        if calls:
            covered = {
                r["variant_id"] for r in grouped["interpretations"].get(pid, []) if r.get("variant_id")
            }
            extra = _call_interpretation(grouped["variant_calls"].get(pid, []), covered, sites, pid)
            if extra:
                interpretations.append(extra)
        if interpretations:
            packet["interpretations"] = interpretations
        diseases = []
        for row in grouped["diagnoses"].get(pid, []):
            disease: dict[str, Any] = {"term": _disease_term(row)}
            onset = _time_element(row.get("onset"))
            if onset is None and row.get("primary") and person.get("age_at_diagnosis") is not None:
                onset = {"age": {"iso8601duration": _age_duration(person["age_at_diagnosis"])}}
            if onset:
                disease["onset"] = onset
            diseases.append(disease)
        if diseases:
            packet["diseases"] = diseases
        actions = _medical_actions(grouped["treatments"].get(pid, []), grouped["responses"].get(pid, []))
        if actions:
            packet["medicalActions"] = actions
        packet["metaData"] = phenopacket_meta_data(packet, created=moment)
        packets.append(packet)
    return packets


def write_phenopackets(
    tables: Mapping[str, pa.Table],
    out_dir: str | Path,
    *,
    created: dt.datetime | None = None,
    calls: bool = False,
) -> list[Path]:
    """Write one ``<pseudonym>.json`` phenopacket per individual into ``out_dir`` (created if absent).

    Each file is checked against the phenopackets v2 schema (protobuf JSON parsing) before it is
    written. See :func:`phenopackets_from_tables` for the parameters.

    Returns
    -------
    list of Path
        The files written, in individual order.
    """
    from google.protobuf.json_format import ParseDict, ParseError  # heavy: only when exporting
    from phenopackets.schema.v2.phenopackets_pb2 import Phenopacket

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for packet in phenopackets_from_tables(tables, created=created, calls=calls):
        try:
            ParseDict(packet, Phenopacket())
        except ParseError as exc:  # a bug here, not a user's error: say which packet
            raise ValueError(f"the phenopacket of {packet['id']} does not validate: {exc}") from exc
        path = out / f"{packet['id']}.json"
        path.write_text(json.dumps(packet, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
