"""Beacon v2 records export: a store built from the CINECA VCF and its clinical table exports records
that all validate against the official v2.1.1 schemas, whose counts equal the store, and whose content
agrees with independent oracles (the cohort's own published Beacon records; the VCF's genotypes)."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

import beacon_schemas
from conftest import fixture_path
from genofed.cli import _beacon_export as beacon_cli
from genofed.cli import app
from genofed.ingest import (
    BEACON_COLLECTIONS,
    ClinicalReader,
    VcfReader,
    beacon_biosamples,
    beacon_genomic_variations,
    beacon_individuals,
    packaged_mapping,
)
from genofed.model import vrs_id
from genofed.store import NodeStore

RECORDS = 250  # VCF records of the CINECA file kept for the variant part (keeps the test fast)
runner = CliRunner()
assert beacon_cli.export_beacon is not None  # the import registers `genofed export beacon`


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft202012Validator]:
    root = fixture_path("beacon-v2")
    return {name: beacon_schemas.validator(root, name) for name in BEACON_COLLECTIONS}


def _errors(validator: Draft202012Validator, records: list[dict[str, Any]]) -> list[str]:
    return [
        f"record {i}: {error.json_path}: {error.message}"
        for i, record in enumerate(records)
        for error in validator.iter_errors(record)
    ]


@dataclass
class Exported:
    store: Path
    out: Path
    records: dict[str, list[dict[str, Any]]]
    pseudonym: dict[str, str]
    vcf: Path


def _vcf_head(source: Path, target: Path, records: int) -> None:
    with gzip.open(source, "rt") as lines, target.open("w") as out:
        kept = 0
        for line in lines:
            if not line.startswith("#"):
                kept += 1
                if kept > records:
                    break
            out.write(line)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    folder = tmp_path_factory.mktemp("beacon")
    vcf = folder / "cineca_head.vcf"
    _vcf_head(fixture_path("cineca", "cineca_chr22_annotated.vcf.gz"), vcf, RECORDS)
    table = fixture_path("cineca", "uk1.tsv")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("GENOFED_NODE_SECRET", raising=False)
        with NodeStore.open(folder / "store", create=True) as node:
            for reader in (VcfReader(vcf), ClinicalReader([table], packaged_mapping("cineca-uk1"))):
                node.write_stream(
                    reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key
                )
            with open(table, newline="") as handle:
                pseudonym = {
                    row["Subject id"]: node.pseudonymise(row["Subject id"])
                    for row in csv.DictReader(handle, delimiter="\t")
                }
        result = runner.invoke(
            app, ["export", "beacon", "--store", str(folder / "store"), "--out", str(folder / "out")]
        )
    assert result.exit_code == 0, result.output
    records = {name: json.loads((folder / "out" / f"{name}.json").read_text()) for name in BEACON_COLLECTIONS}
    return Exported(folder / "store", folder / "out", records, pseudonym, vcf)


def _scalar(node: NodeStore, sql: str) -> Any:
    return node.execute(sql).column(0)[0].as_py()


def test_export_beacon__records_validate_against_the_v2_schemas(
    exported: Exported, validators: dict[str, Draft202012Validator]
) -> None:
    for name in BEACON_COLLECTIONS:
        assert exported.records[name], name
        assert _errors(validators[name], exported.records[name]) == [], name


def test_export_beacon__counts_equal_the_store(exported: Exported) -> None:
    with NodeStore.open(exported.store) as node:
        people = _scalar(
            node,
            "SELECT count(*) FROM (SELECT individual_id FROM individuals "
            "UNION SELECT individual_id FROM specimens)",
        )
        specimens = _scalar(node, "SELECT count(DISTINCT specimen_id) FROM specimens")
        alleles = _scalar(node, "SELECT count(DISTINCT variant_id) FROM variant_sites")
        calls = _scalar(node, "SELECT count(*) FROM variant_calls")
    records = exported.records
    assert len(records["individuals"]) == people == 2504
    assert len(records["biosamples"]) == specimens == 2504
    assert len(records["genomicVariations"]) == alleles
    assert sum(len(r.get("caseLevelData", [])) for r in records["genomicVariations"]) == calls
    assert len({r["variantInternalId"] for r in records["genomicVariations"]}) == alleles


def test_export_beacon__individuals_agree_with_the_cohorts_beacon_records(exported: Exported) -> None:
    published = {r["id"]: r for r in json.loads(fixture_path("cineca", "individuals.json").read_text())}
    mine = {r["id"]: r for r in exported.records["individuals"]}
    assert set(mine) == {exported.pseudonym[source] for source in published}
    for source, record in published.items():
        ours = mine[exported.pseudonym[source]]
        assert ours["sex"]["id"] == record["sex"]["id"]
        assert ours.get("ethnicity", {}).get("id") == record.get("ethnicity", {}).get("id")
        theirs = Counter(d["diseaseCode"]["id"] for d in record.get("diseases", []))
        # The published records drop Huntington's and Alzheimer's (the store keeps them); ICD-10 is
        # dotted in the store (F31.81) and bare in the published records (F3181).
        kept = Counter(
            d["diseaseCode"]["id"].replace(".", "")
            for d in ours.get("diseases", [])
            if d["diseaseCode"]["id"] not in ("ICD10:G10", "ICD10:G30")
        )
        assert kept == theirs, source


def _carriers(vcf: Path) -> dict[tuple[int, str, str], Counter[str]]:
    """Per biallelic VCF record: its carriers' zygosity, straight from the GT strings (the oracle)."""
    found: dict[tuple[int, str, str], Counter[str]] = {}
    with vcf.open() as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if "," in fields[4]:
                continue
            zygosity: Counter[str] = Counter()
            for sample in fields[9:]:
                alleles = sample.split(":")[0].replace("|", "/").split("/")
                copies = alleles.count("1")
                if copies:
                    zygosity["homozygous" if copies == len(alleles) == 2 else "heterozygous"] += 1
            found[(int(fields[1]), fields[3], fields[4])] = zygosity
    return found


def test_export_beacon__variants_agree_with_the_vcf(exported: Exported) -> None:
    oracle = _carriers(exported.vcf)
    checked = 0
    for record in exported.records["genomicVariations"]:
        variation = record["variation"]
        location = variation["location"]
        assert location["sequence_id"] == "ga4gh:SQ.XOgHwwR3Upfp5sZYk6ZKzvV25a4RBVu8"  # GRCh37 chr22
        start = location["interval"]["start"]["value"]
        ref, alt = variation["referenceBases"], variation["alternateBases"]
        assert location["interval"]["end"]["value"] == start + len(ref)
        if variation["variantType"] != "SNP":
            assert "genomicHGVSId" not in record.get("identifiers", {})
            continue
        key = (start + 1, ref, alt)
        if key not in oracle:
            continue
        checked += 1
        zygosity = Counter(c["zygosity"]["label"] for c in record.get("caseLevelData", []))
        assert zygosity == oracle[key], key
        assert record["identifiers"]["genomicHGVSId"] == f"NC_000022.10:g.{start + 1}{ref}>{alt}"
        vrs = record["identifiers"]["variantAlternativeIds"][0]["id"]
        assert vrs == vrs_id("GRCh37", "22", start, ref, alt)
    assert checked > RECORDS // 2


def test_beacon_individuals__tumour_codes_sex_and_features() -> None:
    tables = {
        "individuals": pa.table(
            {"individual_id": ["p1", "p2"], "sex": ["other", None], "age_at_diagnosis": [61.5, None]}
        ),
        "diagnoses": pa.table(
            {
                "individual_id": ["p1", "p1"],
                "tumour_type": ["SKCM", None],
                "icd10": ["C43.9", None],
                "disease_id": [None, "OMIM:164400"],
                "label": [None, "Spinocerebellar ataxia 1"],
                "primary": [True, False],
                "stage": ["IV", None],
                "onset": [None, "HP:0003581 Adult onset"],
            }
        ),
        "phenotypes": pa.table(
            {"individual_id": ["p2"], "hpo_id": ["HP:0001250"], "label": ["Seizure"], "excluded": [True]}
        ),
        "treatments": pa.table(
            {
                "individual_id": ["p1", "p1"],
                "drug": ["nivolumab", "trial drug"],
                "atc_code": ["L01FF01", None],
            }
        ),
    }
    p1, p2 = beacon_individuals(tables)
    assert p1["sex"] == {"id": "NCIT:C17649", "label": "other"}
    assert p2["sex"] == {"id": "NCIT:C17998", "label": "unknown"}
    melanoma, ataxia = p1["diseases"]
    # SKCM's NCIt cross-reference in OncoTree is C3510 (cutaneous melanoma).
    assert melanoma == {
        "diseaseCode": {"id": "NCIT:C3510", "label": "Cutaneous Melanoma"},
        "ageOfOnset": {"iso8601duration": "P61Y6M"},
        "notes": "OncoTree SKCM; ICD-10 C43.9; stage IV",
    }
    assert ataxia["diseaseCode"] == {"id": "OMIM:164400", "label": "Spinocerebellar ataxia 1"}
    assert ataxia["ageOfOnset"] == {"id": "HP:0003581", "label": "Adult onset"}
    assert p1["treatments"] == [{"treatmentCode": {"id": "ATC:L01FF01", "label": "nivolumab"}}]
    assert p2["phenotypicFeatures"] == [
        {"featureType": {"id": "HP:0001250", "label": "Seizure"}, "excluded": True}
    ]


def test_beacon_biosamples__status_origin_and_histology(validators: dict[str, Draft202012Validator]) -> None:
    specimens = pa.table(
        {
            "specimen_id": ["s1", "s2", "s1"],
            "individual_id": ["p1", "p1", "p1"],
            "specimen_type": ["tumour", "normal", "tumour"],
            "tissue": ["Lung", "buccal swab", "Lung"],
            "tumour_type": ["LUAD", None, "LUAD"],
        }
    )
    tumour, normal = beacon_biosamples({"specimens": specimens})
    assert tumour["biosampleStatus"]["id"] == "EFO:0009656"
    assert tumour["sampleOriginDetail"] == {"id": "UBERON:0002048", "label": "Lung"}
    assert tumour["histologicalDiagnosis"] == {"id": "NCIT:C3512", "label": "Lung Adenocarcinoma"}
    assert normal["biosampleStatus"]["id"] == "EFO:0009654"
    assert normal["notes"] == "tissue: buccal swab"
    assert _errors(validators["biosamples"], [tumour, normal]) == []


def test_beacon_genomic_variations__indels_mnvs_and_somatic_calls(
    validators: dict[str, Draft202012Validator],
) -> None:
    sites = pa.table(
        {
            "chrom": ["7", "7", "7", "MT", "7"],
            "start": [140753335, 140753335, 100, 72, 140753335],
            "end": [140753336, 140753337, 100, 73, 140753336],
            "ref": ["A", "AC", "", "T", "A"],
            "alt": ["T", "TT", "GG", "C", "T"],
            "variant_id": [1, 2, 3, 4, 1],
            "assembly": ["GRCh38"] * 5,
            "vrs_id": [vrs_id("GRCh38", "7", 140753335, "A", "T"), None, None, None, None],
            "variant_type": ["SNV", "MNV", "INS", "SNV", "SNV"],
            "gene": ["BRAF", None, None, None, None],
            "consequence": ["missense_variant", None, None, "no_such_term", None],
            "protein_change": ["p.V600E", None, None, None, None],
        }
    )
    calls = pa.table(
        {
            "variant_id": [1, 3],
            "individual_id": ["p1", "p2"],
            "analysis_id": ["a1", "a2"],
            "zygosity": ["het", "unknown"],
            "origin": ["somatic", "germline"],
        }
    )
    analyses = pa.table({"analysis_id": ["a1"], "specimen_id": ["s1"]})
    braf, mnv, insertion, mito = beacon_genomic_variations(
        {"variant_sites": sites, "variant_calls": calls, "analyses": analyses}
    )
    assert braf["variantInternalId"] == "1"
    assert braf["identifiers"]["genomicHGVSId"] == "NC_000007.14:g.140753336A>T"
    assert (
        braf["identifiers"]["variantAlternativeIds"][0]["id"] == "ga4gh:VA.Otc5ovrw906Ack087o1fhegB4jDRqCAe"
    )
    assert braf["molecularAttributes"] == {
        "geneIds": ["BRAF"],
        "aminoacidChanges": ["V600E"],
        "molecularEffects": [{"id": "SO:0001583", "label": "missense_variant"}],
    }
    assert braf["caseLevelData"] == [
        {
            "biosampleId": "s1",
            "individualId": "p1",
            "analysisId": "a1",
            "zygosity": {"id": "GENO:0000135", "label": "heterozygous"},
            "alleleOrigin": {"id": "SO:0001777", "label": "somatic_variant"},
        }
    ]
    assert mnv["identifiers"]["genomicHGVSId"] == "NC_000007.14:g.140753336_140753337delinsTT"
    assert mnv["variation"]["variantType"] == "MNP"
    assert insertion["variation"]["referenceBases"] == ""
    assert "identifiers" not in insertion  # no HGVS without 3' shifting, no VRS id without normalisation
    assert insertion["caseLevelData"][0]["biosampleId"] == "a2"  # no specimen known: the analysis
    assert insertion["caseLevelData"][0]["zygosity"]["id"] == "GENO:0000137"
    assert mito["variation"]["location"]["sequence_id"] == "refseq:NC_012920.1"
    assert "molecularAttributes" not in mito
    assert _errors(validators["genomicVariations"], [braf, mnv, insertion, mito]) == []


def test_validators__reject_what_the_schemas_forbid(validators: dict[str, Draft202012Validator]) -> None:
    # The oracle itself must be able to fail: a missing required field, and a fault deep in VRS 1.3.
    assert _errors(validators["individuals"], [{"id": "p1"}])
    bad_location = {
        "variantInternalId": "1",
        "variation": {
            "variantType": "SNP",
            "alternateBases": "T",
            "location": {
                "type": "SequenceLocation",
                "sequence_id": "ga4gh:SQ.x",
                "interval": {
                    "type": "SequenceInterval",
                    "start": {"type": "Number", "value": "one"},
                    "end": {"type": "Number", "value": 2},
                },
            },
        },
    }
    assert _errors(validators["genomicVariations"], [bad_location])
    with pytest.raises(jsonschema.ValidationError, match="'biosampleStatus' is a required property"):
        validators["biosamples"].validate({"id": "s1", "sampleOriginType": {"id": "OBI:0001479"}})


def test_export_beacon__no_calls_and_missing_store(exported: Exported, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["export", "beacon", "--store", str(exported.store), "--out", str(out), "--no-calls"]
    )
    assert result.exit_code == 0, result.output
    variants = json.loads((out / "genomicVariations.json").read_text())
    assert len(variants) == len(exported.records["genomicVariations"])
    assert not any("caseLevelData" in v for v in variants)
    result = runner.invoke(app, ["export", "beacon", "--store", str(tmp_path / "none"), "--out", str(out)])
    assert result.exit_code == 1
    assert "StoreError" in result.output
    assert "is not a genofed store" in result.output
