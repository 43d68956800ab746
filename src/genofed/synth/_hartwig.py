"""The NL cohort as Hartwig Medical Foundation hands it over: hmftools sample folders and DR clinical tables.

:func:`write_hartwig_cohort` writes, for each patient, the tumour sample's folder in OncoAnalyser's
layout (``<tumour>/purple/…``, ``<tumour>/pipeline.version``), which
:class:`genofed.ingest.HartwigReader` reads:

- ``purple/<T>.purple.purity.tsv`` (PURPLE 4 columns): the cohort's purity, ploidy 2, the sex, and
  TMB, TML and MSI computed from the variants written (TMB: variants per 2,859 Mb, as PURPLE divides);
- ``purple/<T>.purple.qc``: PASS, contamination 0, the tumour depth as AMBER's mean depth;
- ``purple/<T>.purple.somatic.vcf.gz``: the reference then the tumour column (PURPLE's order), each
  variant with PAVE's ``IMPACT``, ``PURPLE_AF``/``PURPLE_CN``/``PURPLE_VCN`` (diploid, adjusted
  for purity), ``HOTSPOT`` for hotspots and ``REPORTED`` for drivers;
- ``purple/<T>.purple.driver.catalog.somatic.tsv``: one MUTATION entry per driver gene;
- ``purple/<T>.purple.cnv.somatic.tsv``: one diploid segment per chromosome (haploid X and Y for men);
- ``purple/<T>.purple.germline.vcf.gz``: the cohort's germline background sites, the tumour column
  uncalled (``./.``) as PURPLE writes it. Unlike PURPLE, which writes variant sites only, every
  background site is written, hom-ref genotypes included, so that allele numbers over the node stay
  exact for federated allele frequencies.

and, beside the folders, the data request's clinical tables: ``metadata.tsv`` (one row per biopsy;
the biopsy is taken at the synthetic diagnosis, so day 0 agrees with the cohort's), empty
``pre_biopsy_drugs.tsv``, ``post_biopsy_drugs.tsv`` and ``treatment_responses.tsv``, plus
``mapping.yaml``: the packaged ``hartwig-metadata`` mapping with this cohort's exact tumour types for
its location labels, ATC codes for its drug names, and the (non-standard) ``lastContactDate`` column
for censoring.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pysam
import yaml

from genofed.ingest import packaged_mapping

from ._cohort import Cohort
from ._outcomes import regimen_drugs
from ._reference import CONTIGS
from ._tumours import profile

__all__ = ["HartwigCohortManifest", "write_hartwig_cohort"]

_GENOME_MB = 2859  # PURPLE's TMB denominator (Mb of callable genome)
_PURPLE_VERSION = "4.1"
_PAVE_VERSION = "1.7"
_CODING_EFFECTS = {
    "missense_variant": "MISSENSE",
    "synonymous_variant": "SYNONYMOUS",
    "stop_gained": "NONSENSE_OR_FRAMESHIFT",
    "frameshift_variant": "NONSENSE_OR_FRAMESHIFT",
    "splice_donor_variant": "SPLICE",
    "splice_acceptor_variant": "SPLICE",
    "inframe_deletion": "MISSENSE",
    "inframe_insertion": "MISSENSE",
}
_TRUNCATING = frozenset(
    {"stop_gained", "frameshift_variant", "splice_donor_variant", "splice_acceptor_variant", "start_lost"}
)
_DRUG_TYPES = {
    "L01": "Chemotherapy",
    "L01F": "Immunotherapy",
    "L01E": "Targeted therapy",
    "L01XK": "Targeted therapy",
    "L01XX73": "Targeted therapy",
    "L02": "Hormonal therapy",
}
_METADATA_COLUMNS = (
    "#patientId",
    "sampleId",
    "setName",
    "tumorPurity",
    "primaryTumorLocation",
    "cancerSubtype",
    "biopsyDate",
    "biopsySite",
    "gender",
    "birthYear",
    "deathDate",
    "lastContactDate",
    "hasSystemicPreTreatment",
    "treatmentGiven",
)


@dataclass(frozen=True, slots=True)
class HartwigCohortManifest:
    """What :func:`write_hartwig_cohort` wrote."""

    directory: Path
    #: one hmftools sample folder per patient, in patient order
    samples: tuple[Path, ...]
    metadata: Path
    pre_biopsy_drugs: Path
    post_biopsy_drugs: Path
    treatment_responses: Path
    #: the clinical mapping for :class:`genofed.ingest.HartwigClinicalReader`
    mapping: Path
    patient_count: int
    somatic_variants: int

    @property
    def clinical_tables(self) -> tuple[Path, Path, Path, Path]:
        """The data-request tables, metadata first."""
        return (self.metadata, self.pre_biopsy_drugs, self.post_biopsy_drugs, self.treatment_responses)


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _write_tsv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(_text(v) for v in row) + "\n")
    return path


def _drug_name(drug: str) -> str:
    return drug[:1].upper() + drug[1:]


def _drug_type(atc: str) -> str:
    best = max((k for k in _DRUG_TYPES if atc.startswith(k)), key=len, default="")
    return _DRUG_TYPES.get(best, "Other")


def _bgzip(plain: Path) -> Path:
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True, keep_original=False))


def _vcf_header(info: Sequence[str], samples: Sequence[str]) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        "##source=genofed.synth (Hartwig-style PURPLE output)",
        f"##purpleVersion={_PURPLE_VERSION}",
        f"##PaveVersion={_PAVE_VERSION}",
        *(f"##contig=<ID=chr{c},length={n}>" for c, n in CONTIGS.items()),
        '##FILTER=<ID=PASS,Description="All filters passed">',
        *info,
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and alt alleles">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=AF,Number=1,Type=Float,Description="Allelic frequency">',
        "\t".join(("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples)),
    ]
    return "\n".join(lines) + "\n"


_SOMATIC_INFO = (
    '##INFO=<ID=HOTSPOT,Number=0,Type=Flag,Description="Site is at a known hotspot location">',
    '##INFO=<ID=IMPACT,Number=10,Type=String,Description="Variant Impact [Gene, Transcript, CanonicalEffect, '
    "CanonicalCodingEffect, SpliceRegion, HgvsCodingImpact, HgvsProteinImpact, OtherReportableEffects, "
    'WorstCodingEffect, GenesAffected]">',
    '##INFO=<ID=PURPLE_AF,Number=1,Type=Float,Description="Purity adjusted variant allelic frequency">',
    '##INFO=<ID=PURPLE_CN,Number=1,Type=Float,Description="Purity adjusted copy number surrounding '
    'variant location">',
    '##INFO=<ID=PURPLE_VCN,Number=1,Type=Float,Description="Purity adjusted variant copy number">',
    '##INFO=<ID=REPORTED,Number=0,Type=Flag,Description="Variant is reported in the driver catalog">',
)


def _impact(row: dict[str, Any]) -> str:
    hgvs_c = _text(row["hgvs_c"]).split(":")[-1]
    coding = _CODING_EFFECTS.get(str(row["consequence"]), "NONE")
    fields = (
        _text(row["gene"]),
        _text(row["transcript"]),
        _text(row["consequence"]) if row["gene"] else "",
        coding,
        "false",
        hgvs_c,
        _text(row["hgvs_p"]),
        "",
        coding,
        "1",
    )
    return ",".join(fields)


def _somatic_vcf(path: Path, rows: list[dict[str, Any]], tumour: str, reference: str, purity: float) -> Path:
    plain = path.with_suffix("")
    order = {c: i for i, c in enumerate(CONTIGS)}
    rows = sorted(rows, key=lambda r: (order[str(r["chrom"])], int(r["pos"])))
    with plain.open("w", encoding="ascii", newline="\n") as out:
        out.write(_vcf_header(_SOMATIC_INFO, (reference, tumour)))
        seen: set[tuple[str, int, str, str]] = set()
        for row in rows:
            key = (str(row["chrom"]), int(row["pos"]), str(row["ref"]), str(row["alt"]))
            if key in seen:
                continue
            seen.add(key)
            vaf = float(row["vaf"])
            # Diploid tumour: the observed VAF is purity x copies / (2 purity + 2 (1 - purity)).
            adjusted = min(1.0, vaf / purity) if purity > 0 else vaf
            info = [f"IMPACT={_impact(row)}"]
            if row["hotspot"]:
                info.insert(0, "HOTSPOT")
            info += [f"PURPLE_AF={adjusted:.4f}", "PURPLE_CN=2.00", f"PURPLE_VCN={2 * adjusted:.3f}"]
            if row["driver"]:
                info.append("REPORTED")
            depth, alt_depth = int(row["depth"]), int(row["alt_depth"])
            ref_depth = max(depth, 30)
            out.write(
                f"chr{key[0]}\t{key[1]}\t.\t{key[2]}\t{key[3]}\t.\tPASS\t{';'.join(info)}\tGT:AD:DP:AF\t"
                f"0/0:{ref_depth},0:{ref_depth}:0\t0/1:{depth - alt_depth},{alt_depth}:{depth}:{vaf:.3f}\n"
            )
    return _bgzip(plain)


def _germline_vcf(path: Path, cohort: Cohort, patient: int, tumour: str, reference: str) -> Path:
    plain = path.with_suffix("")
    sites = cohort.germline_sites
    chrom = sites.column("chrom").to_pylist()
    pos = sites.column("pos").to_pylist()
    ref = sites.column("ref").to_pylist()
    alt = sites.column("alt").to_pylist()
    genotypes = cohort.germline_genotypes[:, patient]
    lookup = np.array(["./.", "0/0", "0/1", "1/1"])
    calls = lookup[genotypes + 1]
    with plain.open("w", encoding="ascii", newline="\n") as out:
        out.write(_vcf_header((), (tumour, reference)))
        for i in range(len(pos)):
            out.write(f"chr{chrom[i]}\t{pos[i]}\t.\t{ref[i]}\t{alt[i]}\t.\tPASS\t.\tGT\t./.\t{calls[i]}\n")
    return _bgzip(plain)


def _purity_row(purity: float, sex: str, rows: list[dict[str, Any]]) -> dict[str, object]:
    variants = len({(r["chrom"], r["pos"], r["ref"], r["alt"]) for r in rows})
    missense = sum(1 for r in rows if r["consequence"] == "missense_variant")
    tmb = variants / _GENOME_MB
    return {
        "purity": f"{purity:.4f}",
        "normFactor": "1.0000",
        "score": "0.5000",
        "diploidProportion": "0.9500",
        "ploidy": "2.0000",
        "gender": sex.upper(),
        "status": "NORMAL",
        "polyclonalProportion": "0.0000",
        "minPurity": f"{max(0.0, purity - 0.02):.4f}",
        "maxPurity": f"{min(1.0, purity + 0.02):.4f}",
        "minPloidy": "1.9500",
        "maxPloidy": "2.0500",
        "wholeGenomeDuplication": "false",
        "msIndelsPerMb": "0.1000",
        "msStatus": "MSS",
        "tml": str(missense),
        "tmlStatus": "HIGH" if missense > 140 else "LOW",
        "tmbPerMb": f"{tmb:.4f}",
        "tmbStatus": "HIGH" if tmb > 10 else "LOW",
        "svTumorMutationalBurden": "0",
        "runMode": "TUMOR_GERMLINE",
        "targeted": "false",
    }


def _segments(sex: str) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for chrom, length in CONTIGS.items():
        if chrom == "MT" or (chrom == "Y" and sex == "female"):
            continue
        copies = 1.0 if chrom in ("X", "Y") and sex == "male" else 2.0
        minor = 0.0 if copies == 1.0 else 1.0
        out.append((f"chr{chrom}", 1, length, f"{copies:.4f}", f"{minor:.4f}", f"{copies - minor:.4f}"))
    return out


def _sample_folder(
    root: Path,
    cohort: Cohort,
    index: int,
    patient: dict[str, Any],
    samples: dict[str, str],
    rows: list[dict[str, Any]],
) -> Path:
    tumour, reference = samples["tumour"], samples["germline"]
    folder = root / tumour
    purple = folder / "purple"
    purple.mkdir(parents=True, exist_ok=True)
    prof = profile(cohort.country)
    (folder / "pipeline.version").write_text(prof.pipeline_version + "\n", encoding="ascii")
    purity = float(patient["purity"])
    sex = str(patient["sex"])
    values = _purity_row(purity, sex, rows)
    _write_tsv(purple / f"{tumour}.purple.purity.tsv", list(values), [list(values.values())])
    qc = {
        "QCStatus": "PASS",
        "Method": "NORMAL",
        "CopyNumberSegments": str(len(_segments(sex))),
        "Purity": f"{purity:.4f}",
        "AmberGender": sex.upper(),
        "CobaltGender": sex.upper(),
        "Contamination": "0.0",
        "AmberMeanDepth": str(int(prof.tumour_depth)),
    }
    (purple / f"{tumour}.purple.qc").write_text(
        "".join(f"{k}\t{v}\n" for k, v in qc.items()), encoding="ascii"
    )
    _write_tsv(
        purple / f"{tumour}.purple.cnv.somatic.tsv",
        ("chromosome", "start", "end", "copyNumber", "minorAlleleCopyNumber", "majorAlleleCopyNumber"),
        _segments(sex),
    )
    drivers = []
    done: set[str] = set()
    for row in rows:
        gene = row["gene"]
        if not row["driver"] or not gene or gene in done:
            continue
        done.add(gene)
        consequence = str(row["consequence"])
        drivers.append(
            (
                f"chr{row['chrom']}",
                "",
                gene,
                _text(row["transcript"]),
                "true",
                "MUTATION",
                "TSG" if consequence in _TRUNCATING else "ONCO",
                "HOTSPOT" if row["hotspot"] else "DNDS",
                "1.0000",
                int(consequence == "missense_variant"),
                int(consequence == "stop_gained"),
                int(consequence.startswith("splice")),
                int(consequence.startswith("inframe")),
                int(consequence == "frameshift_variant"),
                "false",
                "2.0000",
                "2.0000",
            )
        )
    _write_tsv(
        purple / f"{tumour}.purple.driver.catalog.somatic.tsv",
        (
            "chromosome",
            "chromosomeBand",
            "gene",
            "transcript",
            "isCanonical",
            "driver",
            "category",
            "likelihoodMethod",
            "driverLikelihood",
            "missense",
            "nonsense",
            "splice",
            "inframe",
            "frameshift",
            "biallelic",
            "minCopyNumber",
            "maxCopyNumber",
        ),
        drivers,
    )
    _somatic_vcf(purple / f"{tumour}.purple.somatic.vcf.gz", rows, tumour, reference, purity)
    _germline_vcf(purple / f"{tumour}.purple.germline.vcf.gz", cohort, index, tumour, reference)
    return folder


def _iso(day: dt.date | None) -> str:
    return "" if day is None else day.isoformat()


def _offset(base: dt.date, days: object) -> str:
    if days is None or (isinstance(days, float) and math.isnan(days)):
        return ""
    return (base + dt.timedelta(days=int(float(str(days))))).isoformat()


def _mapping(cohort: Cohort) -> dict[str, Any]:
    """The packaged ``hartwig-metadata`` mapping, made exact for this synthetic cohort."""
    text = packaged_mapping("hartwig-metadata").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    data["source"] = f"genofed-synth-{cohort.country.value.lower()}-hartwig"
    data["description"] = (
        "genofed.synth cohort as a Hartwig data request (metadata.tsv and drug/response tables)"
    )
    metadata = data["files"]["metadata"]
    metadata["individuals"]["survival"]["last_contact_date"] = "lastContactDate"
    labels = {t.label: t.oncotree for t in profile(cohort.country).tumours}
    metadata["diagnoses"][0]["tumour_type"] = {"column": "primaryTumorLocation", "values": labels}
    atc = {_drug_name(d): code for d, code in regimen_drugs()}
    for entry in ("pre_biopsy_drugs", "post_biopsy_drugs"):
        group = data["files"][entry]["treatments"][0]
        group["atc_code"] = {"column": "name", "values": atc, "default": None}
    return data


def write_hartwig_cohort(cohort: Cohort, out_dir: str | Path) -> HartwigCohortManifest:
    """Write a cohort as Hartwig sample folders plus a data request's clinical tables (module doc).

    Parameters
    ----------
    cohort
        A cohort from :func:`~genofed.synth.synthesise` (any country; the NL one is Hartwig's).
    out_dir
        The folder to write into (created when absent); files of the same names are replaced.

    Returns
    -------
    HartwigCohortManifest
        The folders and tables written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    patients = cohort.patients.to_pylist()
    by_patient: dict[str, dict[str, str]] = {}
    tissue: dict[str, str] = {}
    for row in cohort.samples.to_pylist():
        kind = "tumour" if row["specimen_type"] == "tumour" else "germline"
        by_patient.setdefault(str(row["individual"]), {})[kind] = str(row["sample"])
        if kind == "tumour":
            tissue[str(row["individual"])] = _text(row["tissue"])
    somatic: dict[str, list[dict[str, Any]]] = {}
    for row in cohort.somatic.to_pylist():
        somatic.setdefault(str(row["patient_id"]), []).append(row)
    folders = []
    metadata_rows = []
    treated = {str(p) for p in cohort.treatments.column("patient_id").to_pylist()}
    for index, patient in enumerate(patients):
        pid = str(patient["patient_id"])
        samples = by_patient[pid]
        folders.append(_sample_folder(out, cohort, index, patient, samples, somatic.get(pid, [])))
        metadata_rows.append(
            (
                pid,
                samples["tumour"],
                f"{samples['germline']}_{samples['tumour']}",
                f"{float(patient['purity']):.2f}",
                patient["location_label"],
                patient["subtype_label"],
                _iso(patient["diagnosis_date"]),
                tissue.get(pid, ""),
                patient["sex"],
                patient["birth_date"].year,
                _iso(patient["death_date"]),
                _iso(patient["last_contact_date"]),
                "No",
                "Yes" if pid in treated else "No",
            )
        )
    diagnosis = {str(p["patient_id"]): p["diagnosis_date"] for p in patients}
    tumours = {pid: s["tumour"] for pid, s in by_patient.items()}
    drugs = [
        (
            t["patient_id"],
            tumours[t["patient_id"]],
            _offset(diagnosis[t["patient_id"]], t["start_day"]),
            _offset(diagnosis[t["patient_id"]], t["end_day"]),
            _drug_name(str(t["drug"])),
            _drug_type(str(t["atc_code"])),
            "",
        )
        for t in cohort.treatments.to_pylist()
    ]
    responses = [
        (
            r["patient_id"],
            tumours[r["patient_id"]],
            _offset(diagnosis[r["patient_id"]], r["day"]),
            "Yes",
            "No",
            r["recist"],
        )
        for r in cohort.responses.to_pylist()
    ]
    mapping = out / "mapping.yaml"
    mapping.write_text(
        "# Mapping of genofed.synth's cohort, written as a Hartwig data request, onto the genofed model.\n"
        + yaml.safe_dump(_mapping(cohort), allow_unicode=True, sort_keys=False, width=110),
        encoding="utf-8",
    )
    return HartwigCohortManifest(
        directory=out,
        samples=tuple(folders),
        metadata=_write_tsv(out / "metadata.tsv", _METADATA_COLUMNS, metadata_rows),
        pre_biopsy_drugs=_write_tsv(
            out / "pre_biopsy_drugs.tsv",
            ("patientId", "startDate", "endDate", "name", "type", "mechanism", "bestResponse"),
            [],
        ),
        post_biopsy_drugs=_write_tsv(
            out / "post_biopsy_drugs.tsv",
            ("patientId", "sampleId", "startDate", "endDate", "name", "type", "mechanism"),
            drugs,
        ),
        treatment_responses=_write_tsv(
            out / "treatment_responses.tsv",
            ("patientId", "sampleId", "responseDate", "measurementDone", "boneOnlyDisease", "response"),
            responses,
        ),
        mapping=mapping,
        patient_count=len(patients),
        somatic_variants=sum(
            len({(r["chrom"], r["pos"], r["ref"], r["alt"]) for r in rows}) for rows in somatic.values()
        ),
    )
