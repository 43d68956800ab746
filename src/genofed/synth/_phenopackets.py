"""A cohort as Phenopackets v2 + VCF: how the Danish node receives its cases.

Each patient becomes one phenopacket (``phenopackets/<patient>.json``) with:

- the subject: sex, date of birth, vital status with ``survivalTimeInDays`` (and time of death);
- one disease: the OncoTree tumour type as an ``ONCOTREE:`` term whose onset is the diagnosis date;
- no phenotypic features: the cancer cohort records none (HPO terms describe rare-disease cases);
- biosamples: the tumour (``EFO:0009655`` abnormal sample, tissue as UBERON, histology as
  OncoTree) and the blood sample of the germline analysis;
- one interpretation of the tumour's driver mutations: each a ``vcfRecord`` (GRCh38) with gene,
  HGVS c./p. (and g. for substitutions) and a heterozygous allelic state, called on the tumour
  biosample;
- medical actions: every drug of every line, as an ``ATC:`` agent with its dose interval (dates),
  and the line's RECIST response (NCIt) on the line's first drug.

Beside them go the cohort's germline and somatic VCFs with their sample sheets (the same writers as
:func:`~genofed.synth.write_cohort`), whose specimen IDs are the biosample IDs. Ingesting both gives
the driver calls twice, from two analyses (the phenopacket's report and the VCF); counts of carriers
are of distinct individuals, and interpretation sites add nothing to allele frequencies.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genofed.ingest import (
    RECIST_TERMS,
    REFSEQ_CHROMOSOMES,
    UBERON_TISSUES,
    phenopacket_meta_data,
)
from genofed.model import Assembly, Recist, oncotree

from ._cohort import Cohort
from ._tumours import Country
from ._vcf import write_germline_vcf, write_sample_sheet, write_somatic_vcf

__all__ = ["PhenopacketManifest", "cohort_phenopackets", "write_phenopacket_cohort"]

# The Danish source labels of the synthetic tissues, as UBERON labels.
_TISSUES = {
    "blod": "blood",
    "bryst": "breast",
    "hud": "skin of body",
    "lunge": "lung",
    "prostata": "prostate gland",
    "tarm": "large intestine",
    "æggestok": "ovary",
}
_TUMOUR_SAMPLE = {"id": "EFO:0009655", "label": "abnormal sample"}
_HETEROZYGOUS = {"id": "GENO:0000135", "label": "heterozygous"}
_GRCH38 = {
    chrom: accession
    for accession, (assembly, chrom) in REFSEQ_CHROMOSOMES.items()
    if assembly is Assembly.GRCH38
}


@dataclass(frozen=True, slots=True)
class PhenopacketManifest:
    """What :func:`write_phenopacket_cohort` wrote, and how much of it."""

    country: Country
    seed: int
    directory: Path
    phenopackets: Path
    germline_vcf: Path
    germline_samples: Path
    somatic_vcf: Path
    somatic_samples: Path
    patient_count: int
    driver_variants: int

    @property
    def files(self) -> tuple[Path, ...]:
        """The phenopacket files, then the VCFs and sample sheets (``.tbi`` indexes not listed)."""
        return (
            *sorted(self.phenopackets.glob("*.json")),
            self.germline_vcf,
            self.germline_samples,
            self.somatic_vcf,
            self.somatic_samples,
        )


def _timestamp(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _tissue(label: str | None) -> dict[str, str] | None:
    if not label:
        return None
    english = _TISSUES.get(label.strip().lower(), label.strip().lower())
    uberon = UBERON_TISSUES.get(english)
    return {"id": uberon, "label": english} if uberon else None


def _driver(row: dict[str, Any], specimen: str) -> dict[str, Any]:
    chrom, pos, ref, alt = str(row["chrom"]), int(row["pos"]), str(row["ref"]), str(row["alt"])
    expressions = []
    if row["hgvs_c"]:
        expressions.append({"syntax": "hgvs.c", "value": row["hgvs_c"]})
    if len(ref) == 1 and len(alt) == 1 and chrom in _GRCH38:
        expressions.append({"syntax": "hgvs.g", "value": f"{_GRCH38[chrom]}:g.{pos}{ref}>{alt}"})
    if row["hgvs_p"]:
        expressions.append({"syntax": "hgvs.p", "value": row["hgvs_p"]})
    descriptor: dict[str, Any] = {"id": f"chr{chrom}-{pos}-{ref}-{alt}"}
    if row["gene"]:
        # The synthetic drivers know the gene by symbol only (no HGNC number).
        descriptor["geneContext"] = {"valueId": f"hgnc.symbol:{row['gene']}", "symbol": row["gene"]}
    if expressions:
        descriptor["expressions"] = expressions
    descriptor["vcfRecord"] = {
        "genomeAssembly": "GRCh38",
        "chrom": f"chr{chrom}",
        "pos": pos,
        "ref": ref,
        "alt": alt,
    }
    descriptor["moleculeContext"] = "genomic"
    descriptor["allelicState"] = _HETEROZYGOUS
    return {
        "subjectOrBiosampleId": specimen,
        "interpretationStatus": "CONTRIBUTORY",
        "variantInterpretation": {
            "acmgPathogenicityClassification": "NOT_PROVIDED",
            "variationDescriptor": descriptor,
        },
    }


def cohort_phenopackets(cohort: Cohort) -> list[dict[str, Any]]:
    """One phenopacket (a JSON-ready dict) per patient of the cohort, in patient order.

    Parameters
    ----------
    cohort
        A cohort from :func:`~genofed.synth.synthesise` (any country; DK's is the one shipped so).

    Returns
    -------
    list of dict
        Phenopackets v2 (schema 2.0.2) whose ``id`` and ``subject.id`` are the patient IDs;
        ``metaData.created`` is the cohort's data cut, so the same cohort gives the same files.
    """
    created = dt.datetime.combine(cohort.data_cut, dt.time(), tzinfo=dt.UTC)
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in cohort.samples.to_pylist():
        samples[row["individual"]].append(row)
    drivers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in cohort.somatic.to_pylist():
        if row["driver"]:
            drivers[row["patient_id"]].append(row)
    treatments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in cohort.treatments.to_pylist():
        treatments[row["patient_id"]].append(row)
    responses: dict[tuple[str, int], str] = {}
    for row in cohort.responses.to_pylist():
        responses.setdefault((row["patient_id"], row["line"]), row["recist"])
    tree = oncotree()
    packets = []
    for patient in cohort.patients.to_pylist():
        pid = patient["patient_id"]
        diagnosed: dt.date = patient["diagnosis_date"]
        vital: dict[str, Any] = {
            "status": "DECEASED" if patient["deceased"] else "ALIVE",
            "survivalTimeInDays": int(patient["os_days"]),
        }
        if patient["deceased"] and patient["death_date"] is not None:
            vital["timeOfDeath"] = {"timestamp": _timestamp(patient["death_date"])}
        code = patient["tumour_type"]
        disease_term = {"id": f"ONCOTREE:{code}", "label": tree.get(code).name}
        packet: dict[str, Any] = {
            "id": pid,
            "subject": {
                "id": pid,
                "dateOfBirth": _timestamp(patient["birth_date"]),
                "vitalStatus": vital,
                "sex": "FEMALE" if patient["sex"] == "female" else "MALE",
            },
        }
        biosamples = []
        tumour_specimen = pid
        for sample in samples[pid]:
            biosample: dict[str, Any] = {"id": sample["specimen"], "individualId": pid}
            tissue = _tissue(sample["tissue"])
            if tissue:
                biosample["sampledTissue"] = tissue
            elif sample["tissue"]:
                biosample["description"] = f"tissue: {sample['tissue']}"
            if sample["specimen_type"] == "tumour":
                tumour_specimen = sample["specimen"]
                biosample["histologicalDiagnosis"] = disease_term
                biosample["materialSample"] = _TUMOUR_SAMPLE
            biosamples.append(biosample)
        packet["biosamples"] = biosamples
        if drivers[pid]:
            packet["interpretations"] = [
                {
                    "id": f"{pid}-drivers",
                    "progressStatus": "COMPLETED",
                    "diagnosis": {
                        "disease": disease_term,
                        "genomicInterpretations": [_driver(row, tumour_specimen) for row in drivers[pid]],
                    },
                }
            ]
        packet["diseases"] = [{"term": disease_term, "onset": {"timestamp": _timestamp(diagnosed)}}]
        actions = []
        answered: set[int] = set()
        for row in sorted(treatments[pid], key=lambda r: (r["line"], r["drug"])):
            interval = {"start": _timestamp(diagnosed + dt.timedelta(days=row["start_day"]))}
            if row["end_day"] is not None:
                interval["end"] = _timestamp(diagnosed + dt.timedelta(days=row["end_day"]))
            agent = (
                {"id": f"ATC:{row['atc_code']}", "label": row["drug"]}
                if row["atc_code"]
                else {"label": row["drug"]}
            )
            action: dict[str, Any] = {
                "treatment": {"agent": agent, "doseIntervals": [{"interval": interval}]},
                "treatmentTarget": disease_term,
            }
            recist = responses.get((pid, row["line"]))
            if recist is not None and row["line"] not in answered:
                answered.add(row["line"])
                curie, label = RECIST_TERMS[Recist(recist)]
                action["responseToTreatment"] = {"id": curie, "label": label}
            actions.append(action)
        if actions:
            packet["medicalActions"] = actions
        packet["metaData"] = phenopacket_meta_data(packet, created=created, created_by="genofed.synth")
        packets.append(packet)
    return packets


def write_phenopacket_cohort(cohort: Cohort, out_dir: str | Path) -> PhenopacketManifest:
    """Write a cohort as Phenopackets v2 JSON plus its VCFs and sample sheets.

    Writes, into ``out_dir`` (created when absent): ``phenopackets/<patient>.json`` (one per
    patient, see :func:`cohort_phenopackets`; other ``.json`` files there are removed),
    ``germline.vcf.gz`` and ``somatic.vcf.gz`` (BGZF with ``.tbi`` indexes) and their sample sheets
    ``germline.samples.tsv`` and ``somatic.samples.tsv``.
    Ingest with ``genofed ingest phenopackets OUT/phenopackets`` and ``genofed ingest vcf``.

    Parameters
    ----------
    cohort
        A cohort from :func:`~genofed.synth.synthesise` (the DK cohort is the one shipped so).
    out_dir
        The folder to write into; files of the same names are replaced.

    Returns
    -------
    PhenopacketManifest
        The paths written, the number of patients and of driver variants described.
    """
    out = Path(out_dir)
    folder = out / "phenopackets"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.json"):  # the folder is ingested whole: no packet of an older cohort may stay
        stale.unlink()
    drivers = 0
    for packet in cohort_phenopackets(cohort):
        for interpretation in packet.get("interpretations", []):
            drivers += len(interpretation["diagnosis"]["genomicInterpretations"])
        path = folder / f"{packet['id']}.json"
        path.write_text(json.dumps(packet, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return PhenopacketManifest(
        country=cohort.country,
        seed=cohort.seed,
        directory=out,
        phenopackets=folder,
        germline_vcf=write_germline_vcf(cohort, out / "germline.vcf.gz"),
        germline_samples=write_sample_sheet(cohort, "germline", out / "germline.samples.tsv"),
        somatic_vcf=write_somatic_vcf(cohort, out / "somatic.vcf.gz"),
        somatic_samples=write_sample_sheet(cohort, "somatic", out / "somatic.samples.tsv"),
        patient_count=cohort.patients.num_rows,
        driver_variants=drivers,
    )
