"""The common data model → Beacon v2 records (BFF): individuals, biosamples and genomicVariations.

BFF (the Beacon Friendly Format of the Beacon v2 reference implementation) is one JSON array of
records per entry type, each record valid against the v2.1.1 default-model schema of its type. The
node's Beacon endpoints and any other Beacon v2 implementation can load these files as they are.

Export lives in ``ingest`` beside the import side of every format (as the Phenopackets export
does): ``ingest`` may not import the store, so this module takes the store's tables as Arrow tables
(what ``NodeStore.execute`` returns) and the caller chooses the rows (``genofed export beacon``
passes each individual's latest clinical batch, every specimen and analysis, each distinct allele
and every live call).

How the model maps:

- identifiers are the store's node-local pseudonyms (an export is for use inside the node, or for a
  release the node's policy allows); a variant's ``variantInternalId`` is its 64-bit ``variant_id``;
- sex is an NCIt term (female NCIT:C16576, male NCIT:C20197, other NCIT:C17649, unknown
  NCIT:C17998); ethnicity is the stored NCIt code with the source's label;
- diseases: the stored ontology CURIE if any, else the OncoTree code as its NCIt cross-reference
  (``ONCOTREE:`` when OncoTree has none), else ``ICD10:``; the other codes and the stage go in
  ``notes``; the index diagnosis carries the age at diagnosis as ``ageOfOnset``;
- a variant's ``variation`` is a Beacon ``LegacyVariation`` on a VRS 1.3 SequenceLocation: 0-based
  interbase coordinates on the chromosome's refget sequence (``ga4gh:SQ.…``), alleles trimmed as
  the store keeps them (an empty allele is ``""``); the VRS 2.0 identifier, where computed, is in
  ``identifiers.variantAlternativeIds``;
- ``identifiers.genomicHGVSId`` is written for substitutions only (SNV, MNV, delins): an HGVS
  insertion or deletion must be shifted 3' and an insertion may be a ``dup``, which needs the
  reference sequence; a guessed expression would be wrong, so none is written;
- ``caseLevelData`` has one entry per carrier call, with its zygosity as a GENO term and its origin
  as an SO term; ``biosampleId`` is the analysis's specimen.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from genofed.model import Assembly, oncotree, refget_accession

from ._phenopacket_export import UBERON_TISSUES
from ._phenopackets import REFERENCE_SAMPLE, REFSEQ_CHROMOSOMES

__all__ = [
    "BEACON_COLLECTIONS",
    "BEACON_SCHEMA_VERSION",
    "BEACON_TABLES",
    "SEQUENCE_ONTOLOGY",
    "beacon_biosamples",
    "beacon_genomic_variations",
    "beacon_individuals",
    "write_beacon_records",
]

#: The Beacon v2 default-model release the records are written for.
BEACON_SCHEMA_VERSION = "2.1.1"

#: Entry types written, as the BFF file names (``<name>.json``) and the schema folders name them.
BEACON_COLLECTIONS: tuple[str, ...] = ("individuals", "biosamples", "genomicVariations")

#: The store tables an export reads (any may be absent).
BEACON_TABLES: tuple[str, ...] = (
    "individuals",
    "diagnoses",
    "phenotypes",
    "treatments",
    "specimens",
    "analyses",
    "variant_sites",
    "variant_calls",
)

#: SO accessions of the consequence terms genofed stores (VEP's calculated-consequence table).
SEQUENCE_ONTOLOGY: dict[str, str] = {
    "transcript_ablation": "SO:0001893",
    "splice_acceptor_variant": "SO:0001574",
    "splice_donor_variant": "SO:0001575",
    "stop_gained": "SO:0001587",
    "frameshift_variant": "SO:0001589",
    "stop_lost": "SO:0001578",
    "start_lost": "SO:0002012",
    "exon_loss_variant": "SO:0001572",
    "transcript_amplification": "SO:0001889",
    "feature_elongation": "SO:0001907",
    "feature_truncation": "SO:0001906",
    "gene_fusion": "SO:0001565",
    "bidirectional_gene_fusion": "SO:0002086",
    "inframe_insertion": "SO:0001821",
    "inframe_deletion": "SO:0001822",
    "missense_variant": "SO:0001583",
    "protein_altering_variant": "SO:0001818",
    "splice_donor_5th_base_variant": "SO:0001787",
    "splice_region_variant": "SO:0001630",
    "splice_donor_region_variant": "SO:0002170",
    "splice_polypyrimidine_tract_variant": "SO:0002169",
    "incomplete_terminal_codon_variant": "SO:0001626",
    "start_retained_variant": "SO:0002019",
    "stop_retained_variant": "SO:0001567",
    "synonymous_variant": "SO:0001819",
    "coding_sequence_variant": "SO:0001580",
    "mature_miRNA_variant": "SO:0001620",
    "5_prime_UTR_variant": "SO:0001623",
    "3_prime_UTR_variant": "SO:0001624",
    "non_coding_transcript_exon_variant": "SO:0001792",
    "intron_variant": "SO:0001627",
    "NMD_transcript_variant": "SO:0001621",
    "non_coding_transcript_variant": "SO:0001619",
    "coding_transcript_variant": "SO:0001968",
    "upstream_gene_variant": "SO:0001631",
    "downstream_gene_variant": "SO:0001632",
    "TFBS_ablation": "SO:0001895",
    "TFBS_amplification": "SO:0001892",
    "TF_binding_site_variant": "SO:0001782",
    "regulatory_region_ablation": "SO:0001894",
    "regulatory_region_amplification": "SO:0001891",
    "regulatory_region_variant": "SO:0001566",
    "intergenic_variant": "SO:0001628",
    "sequence_variant": "SO:0001060",
}

_SEX = {
    "female": ("NCIT:C16576", "female"),
    "male": ("NCIT:C20197", "male"),
    "other": ("NCIT:C17649", "other"),
    "unknown": ("NCIT:C17998", "unknown"),
}
_ZYGOSITY = {
    "het": ("GENO:0000135", "heterozygous"),
    "hom": ("GENO:0000136", "homozygous"),
    "hemi": ("GENO:0000134", "hemizygous"),
    "unknown": ("GENO:0000137", "unspecified zygosity"),
}
_ORIGIN = {"germline": ("SO:0001778", "germline_variant"), "somatic": ("SO:0001777", "somatic_variant")}
_SAMPLE_STATUS = {
    "tumour": ("EFO:0009656", "neoplastic sample"),
    "normal": (REFERENCE_SAMPLE, "reference sample"),
    "germline": (REFERENCE_SAMPLE, "reference sample"),
}
# Every specimen genofed stores was taken from a person (OBI's "specimen from organism").
_SPECIMEN_FROM_ORGANISM = ("OBI:0001479", "specimen from organism")
# Beacon's variantType vocabulary (as in its request parameters) for the store's variant types.
_VARIANT_TYPE = {"SNV": "SNP", "MNV": "MNP", "INS": "INS", "DEL": "DEL", "DELINS": "INDEL"}
_VRS_2 = "https://vrs.ga4gh.org/en/2.0/"
_REFSEQ = {located: accession for accession, located in REFSEQ_CHROMOSOMES.items()}

_Row = dict[str, Any]


def _term(curie: str, label: str | None = None) -> dict[str, str]:
    return {"id": curie, "label": label} if label else {"id": curie}


def _rows(tables: Mapping[str, pa.Table], name: str) -> list[_Row]:
    table = tables.get(name)
    return [] if table is None else table.to_pylist()


def _by_individual(tables: Mapping[str, pa.Table], name: str) -> dict[str, list[_Row]]:
    grouped: dict[str, list[_Row]] = defaultdict(list)
    for row in _rows(tables, name):
        grouped[row["individual_id"]].append(row)
    return grouped


def _age(years: float) -> str:
    months = round(years * 12)
    whole, rest = divmod(months, 12)
    return f"P{whole}Y{rest}M" if rest else f"P{whole}Y"


def _time_element(text: str | None) -> dict[str, Any] | None:
    """A stored onset (ISO 8601 age, age range ``P1Y/P5Y``, ``GA 20w3d``, or ``CURIE label``)."""
    if not text:
        return None
    if text.startswith("GA ") and "w" in text:
        weeks, _, days = text[3:].rstrip("d").partition("w")
        if weeks.isdigit() and (not days or days.isdigit()):
            return {"weeks": int(weeks), "days": int(days or 0)}
        return None
    if text.startswith("P") and "/" in text:
        start, _, end = text.partition("/")
        return (
            {"start": {"iso8601duration": start}, "end": {"iso8601duration": end}} if start and end else None
        )
    if text.startswith("P") and " " not in text:
        return {"iso8601duration": text}
    curie, _, label = text.partition(" ")
    return _term(curie, label or None) if ":" in curie else None


def _tumour_term(code: str) -> dict[str, str]:
    """An OncoTree code as its NCIt cross-reference (the first), else as ``ONCOTREE:code``."""
    tree = oncotree()
    if code in tree:
        node = tree.get(code)
        if node.ncit:
            return _term(f"NCIT:{node.ncit[0]}", node.name)
        return _term(f"ONCOTREE:{node.code}", node.name)
    return _term(f"ONCOTREE:{code}")


def _disease(row: _Row, age_at_diagnosis: float | None) -> dict[str, Any] | None:
    label = row.get("label")
    if row.get("disease_id"):
        code = _term(row["disease_id"], label)
    elif row.get("tumour_type"):
        code = _tumour_term(row["tumour_type"])
    elif row.get("icd10"):
        code = _term(f"ICD10:{row['icd10']}", label)
    else:
        return None
    # The codes Beacon's one diseaseCode cannot carry, so that nothing stored is lost.
    notes = []
    if row.get("tumour_type") and not code["id"].startswith("ONCOTREE:"):
        notes.append(f"OncoTree {row['tumour_type']}")
    if row.get("icd10") and not code["id"].startswith("ICD10:"):
        notes.append(f"ICD-10 {row['icd10']}")
    if row.get("stage"):
        notes.append(f"stage {row['stage']}")
    if row.get("metastatic"):
        notes.append("metastatic")
    disease: dict[str, Any] = {"diseaseCode": code}
    onset = _time_element(row.get("onset"))
    if onset is None and row.get("primary") and age_at_diagnosis is not None:
        onset = {"iso8601duration": _age(age_at_diagnosis)}
    if onset is not None:
        disease["ageOfOnset"] = onset
    if notes:
        disease["notes"] = "; ".join(notes)
    return disease


def _phenotypic_feature(row: _Row) -> dict[str, Any]:
    feature: dict[str, Any] = {"featureType": _term(row["hpo_id"], row.get("label"))}
    if row.get("excluded"):
        feature["excluded"] = True
    onset = _time_element(row.get("onset"))
    if onset is not None:
        feature["onset"] = onset
    return feature


def beacon_individuals(tables: Mapping[str, pa.Table]) -> Iterator[dict[str, Any]]:
    """Beacon v2 ``individuals`` records: one per person in ``individuals`` or ``specimens``.

    People known only from their specimens (a VCF ingested without its clinical table) are written
    with sex unknown, so every biosample's ``individualId`` names a record.

    Parameters
    ----------
    tables
        Store tables by name (see :data:`BEACON_TABLES`): ``individuals`` (one row per person),
        ``diagnoses``, ``phenotypes``, ``treatments`` and ``specimens``; any may be absent.

    Yields
    ------
    dict
        Records valid against the Beacon v2.1.1 ``individuals`` default schema.
    """
    diagnoses = _by_individual(tables, "diagnoses")
    phenotypes = _by_individual(tables, "phenotypes")
    treatments = _by_individual(tables, "treatments")
    people: dict[str, _Row] = {}
    for row in _rows(tables, "individuals"):
        people.setdefault(row["individual_id"], row)
    for row in _rows(tables, "specimens"):
        people.setdefault(row["individual_id"], {"individual_id": row["individual_id"]})
    for person_id, person in people.items():
        record: dict[str, Any] = {"id": person_id, "sex": _term(*_SEX[person.get("sex") or "unknown"])}
        if person.get("ethnicity_id"):
            record["ethnicity"] = _term(person["ethnicity_id"], person.get("ethnicity_label"))
        origin = person.get("geographic_origin")
        # Beacon wants a GAZ term; the store keeps what the source gave, often a plain name.
        if origin and ":" in origin and " " not in origin:
            record["geographicOrigin"] = _term(origin)
        diseases = [
            d
            for d in (_disease(row, person.get("age_at_diagnosis")) for row in diagnoses.get(person_id, []))
            if d is not None
        ]
        if diseases:
            record["diseases"] = diseases
        features = [_phenotypic_feature(row) for row in phenotypes.get(person_id, [])]
        if features:
            record["phenotypicFeatures"] = features
        # Beacon needs a coded treatment; drugs without an ATC code have no term to write.
        coded = [
            {"treatmentCode": _term(f"ATC:{row['atc_code']}", row.get("drug"))}
            for row in treatments.get(person_id, [])
            if row.get("atc_code")
        ]
        if coded:
            record["treatments"] = coded
        yield record


def beacon_biosamples(tables: Mapping[str, pa.Table]) -> Iterator[dict[str, Any]]:
    """Beacon v2 ``biosamples`` records: one per stored specimen.

    ``biosampleStatus`` is neoplastic for a tumour, reference for a normal or germline specimen;
    ``sampleOriginType`` is "specimen from organism", ``sampleOriginDetail`` the tissue as an
    UBERON term when genofed knows it (else the tissue is in ``notes``), and
    ``histologicalDiagnosis`` the tumour type (NCIt via OncoTree).

    Parameters
    ----------
    tables
        Store tables by name; reads ``specimens``.

    Yields
    ------
    dict
        Records valid against the Beacon v2.1.1 ``biosamples`` default schema.
    """
    seen: set[str] = set()
    for row in _rows(tables, "specimens"):
        if row["specimen_id"] in seen:
            continue
        seen.add(row["specimen_id"])
        record: dict[str, Any] = {
            "id": row["specimen_id"],
            "individualId": row["individual_id"],
            "biosampleStatus": _term(
                *_SAMPLE_STATUS.get(row.get("specimen_type") or "", _SAMPLE_STATUS["normal"])
            ),
            "sampleOriginType": _term(*_SPECIMEN_FROM_ORGANISM),
        }
        tissue = row.get("tissue")
        if tissue:
            uberon = UBERON_TISSUES.get(tissue.strip().lower())
            if uberon:
                record["sampleOriginDetail"] = _term(uberon, tissue)
            else:
                record["notes"] = f"tissue: {tissue}"
        if row.get("tumour_type"):
            record["histologicalDiagnosis"] = _tumour_term(row["tumour_type"])
        yield record


def _refseq(assembly: str, chrom: str) -> str | None:
    """The RefSeq accession of a primary chromosome (mitochondria: the rCRS), or None."""
    if chrom == "MT":
        return "NC_012920.1"
    try:
        return _REFSEQ.get((Assembly(assembly), chrom))
    except ValueError:
        return None


def _sequence_id(assembly: str, chrom: str) -> str:
    accession = refget_accession(assembly, chrom)
    if accession is not None:
        return f"ga4gh:{accession}"
    refseq = _refseq(assembly, chrom)
    # Contigs with neither accession (alt, decoy) keep their name on the assembly, still a CURIE.
    return f"refseq:{refseq}" if refseq else f"{assembly}:{chrom}"


def _genomic_hgvs(site: _Row) -> str | None:
    """``NC_…:g.`` for substitutions (1-based); indels need 3' shifting against the sequence."""
    ref, alt, start = site["ref"], site["alt"], site["start"]
    refseq = _refseq(site["assembly"], site["chrom"])
    if not ref or not alt or refseq is None:
        return None
    if len(ref) == 1 and len(alt) == 1:
        return f"{refseq}:g.{start + 1}{ref}>{alt}"
    span = f"{start + 1}" if len(ref) == 1 else f"{start + 1}_{start + len(ref)}"
    return f"{refseq}:g.{span}delins{alt}"


def _case_level(calls: list[_Row], specimen_of: Mapping[str, str | None]) -> list[dict[str, Any]]:
    out = []
    for call in calls:
        entry: dict[str, Any] = {
            "biosampleId": specimen_of.get(call["analysis_id"]) or call["analysis_id"],
            "individualId": call["individual_id"],
            "analysisId": call["analysis_id"],
            "zygosity": _term(*_ZYGOSITY[call.get("zygosity") or "unknown"]),
        }
        origin = _ORIGIN.get(call.get("origin") or "")
        if origin:
            entry["alleleOrigin"] = _term(*origin)
        out.append(entry)
    return out


def _variation(site: _Row) -> dict[str, Any]:
    return {
        "variantType": _VARIANT_TYPE.get(site.get("variant_type") or "", "SNP"),
        "referenceBases": site["ref"],
        "alternateBases": site["alt"],
        "location": {
            "type": "SequenceLocation",
            "sequence_id": _sequence_id(site["assembly"], site["chrom"]),
            "interval": {
                "type": "SequenceInterval",
                "start": {"type": "Number", "value": site["start"]},
                "end": {"type": "Number", "value": site["end"]},
            },
        },
    }


def _identifiers(site: _Row) -> dict[str, Any]:
    identifiers: dict[str, Any] = {}
    hgvs = _genomic_hgvs(site)
    if hgvs:
        identifiers["genomicHGVSId"] = hgvs
    if site.get("transcript") and site.get("hgvs_c"):
        identifiers["transcriptHGVSIds"] = [f"{site['transcript']}:{site['hgvs_c']}"]
    if site.get("vrs_id"):
        identifiers["variantAlternativeIds"] = [
            {"id": site["vrs_id"], "notes": "GA4GH VRS 2.0 computed identifier", "reference": _VRS_2}
        ]
    return identifiers


def _molecular_attributes(site: _Row) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if site.get("gene"):
        attributes["geneIds"] = [site["gene"]]
    if site.get("protein_change"):
        attributes["aminoacidChanges"] = [site["protein_change"].removeprefix("p.")]
    consequence = site.get("consequence")
    if consequence:
        accession = SEQUENCE_ONTOLOGY.get(consequence)
        if accession:
            attributes["molecularEffects"] = [_term(accession, consequence)]
    return attributes


def beacon_genomic_variations(tables: Mapping[str, pa.Table]) -> Iterator[dict[str, Any]]:
    """Beacon v2 ``genomicVariations`` records: one per distinct stored allele, with its carriers.

    Parameters
    ----------
    tables
        Store tables by name: ``variant_sites`` (rows of one allele from several batches are
        written once, with the first row's annotation), ``variant_calls`` (each becomes a
        ``caseLevelData`` entry of its allele; absent: none are written) and ``analyses`` (for
        each call's specimen).

    Yields
    ------
    dict
        Records valid against the Beacon v2.1.1 ``genomicVariations`` default schema, in the
        order of ``variant_sites``.
    """
    specimen_of = {row["analysis_id"]: row.get("specimen_id") for row in _rows(tables, "analyses")}
    carriers: dict[int, list[_Row]] = defaultdict(list)
    calls = tables.get("variant_calls")
    if calls is not None:
        wanted = [
            c
            for c in ("variant_id", "individual_id", "analysis_id", "zygosity", "origin")
            if c in calls.column_names
        ]
        for call in calls.select(wanted).to_pylist():
            carriers[call["variant_id"]].append(call)
    seen: set[int] = set()
    for site in _rows(tables, "variant_sites"):
        key = site["variant_id"]
        if key in seen:
            continue
        seen.add(key)
        record: dict[str, Any] = {"variantInternalId": str(key), "variation": _variation(site)}
        identifiers = _identifiers(site)
        if identifiers:
            record["identifiers"] = identifiers
        attributes = _molecular_attributes(site)
        if attributes:
            record["molecularAttributes"] = attributes
        if carriers.get(key):
            record["caseLevelData"] = _case_level(carriers[key], specimen_of)
        yield record


def _write_array(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """One JSON array, a record per line, written as it is produced (exports can be large)."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for record in records:
            out.write(",\n" if count else "\n")
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            count += 1
        out.write("\n]\n" if count else "]\n")
    return count


def write_beacon_records(tables: Mapping[str, pa.Table], out_dir: str | Path) -> dict[str, int]:
    """Write ``individuals.json``, ``biosamples.json`` and ``genomicVariations.json`` (BFF) to a folder.

    Parameters
    ----------
    tables
        Store tables by name (see :data:`BEACON_TABLES`).
    out_dir
        The folder (created when missing); existing files of the same names are replaced.

    Returns
    -------
    dict[str, int]
        Records written per entry type (``individuals``, ``biosamples``, ``genomicVariations``).
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    producers = {
        "individuals": beacon_individuals,
        "biosamples": beacon_biosamples,
        "genomicVariations": beacon_genomic_variations,
    }
    return {
        name: _write_array(folder / f"{name}.json", producers[name](tables)) for name in BEACON_COLLECTIONS
    }
