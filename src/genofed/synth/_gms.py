"""``write_gms_cohort``: a cohort as Genomic Medicine Sweden case folders (BALSAMIC outputs + Scout config).

Each patient becomes one case folder ``cases/<case>/`` holding what BALSAMIC (WGS, tumour/normal)
delivers and what Scout is loaded with:

=================================================  ==============================================
file                                               content
=================================================  ==============================================
``SNV.somatic.<case>.tnscope.vep.vcf.gz`` (+tbi)   the tumour's somatic calls, columns ``TUMOR``
                                                   and ``NORMAL``, VEP ``CSQ`` (GRCh38, BGZF)
``tumor.merged.cns``                               CNVkit segments of the autosomes with ``log2``,
                                                   ``cn``, ``cn1``, ``cn2``
``CNV.somatic.<case>.ascat.samplestatistics.txt``  ASCAT purity (``rho``) and ploidy
``MSI.somatic.<case>.msisensorpro.msi``            MSIsensor-pro score
``<case>.load_config.yaml``                        Scout load config: the samples, their roles,
                                                   the tumour type (OncoTree name), a
                                                   pathologist's purity estimate, the VCF
=================================================  ==============================================

Beside ``cases/`` the clinical tables and their mapping are the ones :func:`~genofed.synth.write_cohort`
writes (:mod:`genofed.synth._clinical`). The load config's ``family`` is the patient ID, so the GMS
adapter's individual is the clinical tables' patient.

How the numbers relate (so tests can check them): ``rho`` is the cohort's purity *p*; segments'
``cn`` are drawn (a 15 % share of tumours whole-genome doubled); ASCAT's ``Ploidy`` is their
length-weighted mean ψ; ``log2 = log2((p·cn + 2(1 − p)) / (p·ψ + 2(1 − p)))``, which
:func:`genofed.ingest.absolute_copy_number` inverts. The config's ``tumor_purity`` is *p* rounded to
a tenth, as a pathologist would estimate it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pysam
import yaml

from genofed.model import oncotree

from ._clinical import write_clinical_tables, write_mapping
from ._cohort import Cohort
from ._reference import CHROMOSOMES, CONTIGS
from ._tumours import Country, profile
from ._vcf import CSQ_FIELDS

__all__ = ["GmsCohortManifest", "write_gms_cohort"]

_COUNTRY_KEY = {Country.SE: 46, Country.NL: 31, Country.DK: 45}
_STREAM = 7  # spawn key of the GMS writer's streams (apart from synthesise's)
_MSI_PRONE = frozenset({"COADREAD", "UCEC", "STAD"})
_CN_CHANGES = np.array([-2, -1, -1, 1, 1, 2, 4])
_CHROM_ORDER = {c: i for i, c in enumerate(CONTIGS)}


@dataclass(frozen=True, slots=True)
class GmsCohortManifest:
    """What :func:`write_gms_cohort` wrote."""

    country: Country
    seed: int
    directory: Path
    #: one folder per patient, in patient order
    cases: tuple[Path, ...]
    patients: Path
    treatments: Path
    responses: Path
    mapping: Path
    patient_count: int
    somatic_variants: int

    @property
    def cases_directory(self) -> Path:
        """The folder of case folders (``genofed ingest gms`` takes it whole)."""
        return self.directory / "cases"

    @property
    def clinical_tables(self) -> tuple[Path, Path, Path]:
        """The three clinical tables, in the order the mapping lists them."""
        return (self.patients, self.treatments, self.responses)


def write_gms_cohort(cohort: Cohort, out_dir: str | Path) -> GmsCohortManifest:
    """Write a cohort (meant for SE) as GMS case folders plus its clinical tables and mapping.

    Parameters
    ----------
    cohort
        A cohort from :func:`~genofed.synth.synthesise`.
    out_dir
        The folder to write into (created when absent); ``cases/<case>/`` per patient, and
        ``patients.tsv``, ``treatments.tsv``, ``responses.tsv``, ``mapping.yaml``.

    Returns
    -------
    GmsCohortManifest
        The paths written.
    """
    out = Path(out_dir)
    cases_dir = out / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    prof = profile(cohort.country)
    samples = cohort.samples
    tumours = samples.filter(pc.equal(samples.column("specimen_type"), "tumour")).to_pylist()
    normals = {
        r["individual"]: r
        for r in samples.filter(pc.equal(samples.column("specimen_type"), "germline")).to_pylist()
    }
    patients = {p["patient_id"]: p for p in cohort.patients.to_pylist()}
    events: dict[str, list[dict[str, object]]] = {}
    for row in cohort.somatic.to_pylist():
        events.setdefault(str(row["patient_id"]), []).append(row)
    root = np.random.SeedSequence(cohort.seed, spawn_key=(_COUNTRY_KEY[cohort.country], _STREAM))
    folders: list[Path] = []
    written = 0
    for index, (tumour, child) in enumerate(zip(tumours, root.spawn(len(tumours)), strict=True)):
        rng = np.random.default_rng(child)
        patient = patients[str(tumour["individual"])]
        normal = normals[str(tumour["individual"])]
        case = str(tumour["analysis"]).removesuffix("-somatic")
        folder = cases_dir / case
        folder.mkdir(exist_ok=True)
        purity = float(patient["purity"])
        segments, ploidy = _segments(rng)
        vcf, count = _write_vcf(cohort, case, events.get(str(patient["patient_id"]), []), folder, rng)
        written += count
        _write_cns(folder / "tumor.merged.cns", segments, purity, ploidy, rng)
        _write_ascat(folder / f"CNV.somatic.{case}.ascat.samplestatistics.txt", purity, ploidy, patient, rng)
        _write_msi(folder / f"MSI.somatic.{case}.msisensorpro.msi", str(patient["tumour_type"]), rng)
        _write_config(
            folder / f"{case}.load_config.yaml", case, patient, tumour, normal, vcf.name, prof.assay, index
        )
        folders.append(folder)
    tables = write_clinical_tables(cohort, out)
    return GmsCohortManifest(
        country=cohort.country,
        seed=cohort.seed,
        directory=out,
        cases=tuple(folders),
        patients=tables["patients"],
        treatments=tables["treatments"],
        responses=tables["responses"],
        mapping=write_mapping(cohort, out / "mapping.yaml"),
        patient_count=cohort.patients.num_rows,
        somatic_variants=written,
    )


# -- the VCF --------------------------------------------------------------------------------------------
def _csq(row: dict[str, object]) -> str:
    ref, alt = str(row["ref"]), str(row["alt"])
    # VEP's Allele: the ALT bases after a shared first base ("-" when none are left).
    allele = (alt[1:] or "-") if len(ref) != len(alt) and ref[0] == alt[0] else alt
    transcript = row["transcript"]
    values: dict[str, object] = {
        "Allele": allele,
        "Consequence": row["consequence"],
        "IMPACT": row["impact"],
        "SYMBOL": row["gene"],
        "Feature_type": "Transcript" if transcript else None,
        "Feature": transcript,
        "BIOTYPE": "protein_coding" if transcript else None,
        "EXON": row["exon"],
        "HGVSc": row["hgvs_c"],
        "HGVSp": row["hgvs_p"],
        "STRAND": row["strand"],
        "CANONICAL": "YES" if transcript else None,
    }
    return "|".join("" if values.get(f) is None else str(values[f]) for f in CSQ_FIELDS)


def _write_vcf(
    cohort: Cohort, case: str, rows: list[dict[str, object]], folder: Path, rng: np.random.Generator
) -> tuple[Path, int]:
    """The case's somatic VCF (BGZF + tabix); returns its path and the number of records."""
    header = [
        "##fileformat=VCFv4.2",
        f"##source=genofed.synth BALSAMIC-like TNscope calls ({cohort.country.value}, seed {cohort.seed})",
        "##BALSAMIC_analysis=WGS tumour/normal",
        "##reference=GRCh38",
        *(f"##contig=<ID=chr{c},length={n},assembly=GRCh38>" for c, n in CONTIGS.items()),
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
        f'Format: {"|".join(CSQ_FIELDS)}">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and alt alleles">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fraction of the alternate allele">',
        '##VEP="v110" assembly="GRCh38"',
        "\t".join(
            ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "TUMOR", "NORMAL")
        ),
    ]
    records: dict[tuple[int, int, str, str], dict[str, object]] = {}
    for row in rows:
        key = (_CHROM_ORDER[str(row["chrom"])], int(str(row["pos"])), str(row["ref"]), str(row["alt"]))
        records.setdefault(key, row)
    plain = folder / f"SNV.somatic.{case}.tnscope.vep.vcf"
    with plain.open("w", encoding="ascii", newline="\n") as out:
        out.write("\n".join(header) + "\n")
        for key in sorted(records):
            row = records[key]
            depth, alt_depth = int(str(row["depth"])), int(str(row["alt_depth"]))
            normal_depth = int(rng.poisson(35)) + 5
            out.write(
                f"chr{row['chrom']}\t{row['pos']}\t.\t{row['ref']}\t{row['alt']}\t.\tPASS\tCSQ={_csq(row)}\t"
                f"GT:AD:DP:AF\t0/1:{depth - alt_depth},{alt_depth}:{depth}:{row['vaf']}\t"
                f"0/0:{normal_depth},0:{normal_depth}:0\n"
            )
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True, keep_original=False)), len(records)


# -- copy numbers, purity, MSI ------------------------------------------------------------------------------
def _segments(rng: np.random.Generator) -> tuple[list[tuple[str, int, int, int, int]], float]:
    """Autosomal segments (chrom, start, end, cn, minor cn) and their length-weighted mean copy number."""
    base = 4 if rng.random() < 0.15 else 2  # whole-genome doubling
    segments: list[tuple[str, int, int, int, int]] = []
    for chrom in CHROMOSOMES:
        if chrom == "X":
            continue
        length = CONTIGS[chrom]
        cuts = np.sort(rng.integers(1_000_000, length - 1_000_000, size=int(rng.poisson(0.6))))
        bounds = [10_000, *(int(c) for c in cuts), length - 10_000]
        for start, end in itertools.pairwise(bounds):
            if end <= start:
                continue
            cn = base
            if rng.random() < 0.3:
                cn = max(0, base + int(rng.choice(_CN_CHANGES)))
            minor = int(rng.integers(0, cn // 2 + 1))
            segments.append((chrom, start, end, cn, minor))
    total = sum(e - s for _, s, e, _, _ in segments)
    ploidy = sum((e - s) * cn for _, s, e, cn, _ in segments) / total
    return segments, ploidy


def _write_cns(
    path: Path,
    segments: list[tuple[str, int, int, int, int]],
    purity: float,
    ploidy: float,
    rng: np.random.Generator,
) -> None:
    mixture = purity * ploidy + 2.0 * (1.0 - purity)
    with path.open("w", encoding="ascii", newline="\n") as out:
        out.write("chromosome\tstart\tend\tgene\tlog2\tbaf\tcn\tcn1\tcn2\tdepth\tprobes\tweight\n")
        for chrom, start, end, cn, minor in segments:
            log2 = math.log2((purity * cn + 2.0 * (1.0 - purity)) / mixture)
            baf = 0.5 if cn == 0 else round(minor / cn, 6)
            probes = max(1, (end - start) // 100_000)
            out.write(
                f"chr{chrom}\t{start}\t{end}\t-\t{log2:.6f}\t{baf}\t{cn}\t{cn - minor}\t{minor}\t"
                f"{rng.normal(60, 5):.3f}\t{probes}\t{probes * 0.95:.3f}\n"
            )


def _write_ascat(
    path: Path, purity: float, ploidy: float, patient: dict[str, object], rng: np.random.Generator
) -> None:
    tumour_dna = purity * ploidy
    lines = (
        f"NormalContamination {1.0 - tumour_dna / (tumour_dna + 2.0 * (1.0 - purity))!r}",
        f"Ploidy {ploidy!r}",
        f"rho {purity!r}",
        f"psi {round(ploidy, 2)!r}",
        f"goodnessOfFit {float(rng.uniform(85, 99))!r}",
        "GenderChr Y",
        f"GenderChrFound {'Y' if patient['sex'] == 'male' else 'N'}",
    )
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def _write_msi(path: Path, tumour_type: str, rng: np.random.Generator) -> None:
    unstable = tumour_type in _MSI_PRONE and rng.random() < 0.15
    score = rng.uniform(20, 45) if unstable else rng.uniform(0, 3.5)
    total = int(rng.integers(60_000, 120_000))
    somatic = round(total * score / 100)
    header = "Total_Number_of_Sites\tNumber_of_Somatic_Sites\t%"
    path.write_text(f"{header}\n{total}\t{somatic}\t{100 * somatic / total:.2f}\n", encoding="ascii")


# -- the Scout load config ---------------------------------------------------------------------------------
def _write_config(
    path: Path,
    case: str,
    patient: dict[str, object],
    tumour: dict[str, object],
    normal: dict[str, object],
    vcf: str,
    assay: str,
    index: int,
) -> None:
    analysis_type = {"WGS": "wgs", "WES": "wes", "PANEL": "panel"}[assay]
    diagnosed = patient["diagnosis_date"]
    assert isinstance(diagnosed, dt.date)
    config = {
        "owner": "genofed-synth",
        # A Scout cancer case is one patient: the case ID is the patient's source ID.
        "family": patient["patient_id"],
        "family_name": case,
        "samples": [
            {
                "analysis_type": analysis_type,
                "sample_id": tumour["sample"],
                "sample_name": tumour["specimen"],
                "phenotype": "affected",
                "sex": patient["sex"],
                "tumor_type": oncotree().get(str(tumour["tumour_type"])).name,
                "tumor_purity": round(float(str(patient["purity"])), 1),
                "tissue_type": tumour["tissue"],
            },
            {
                "analysis_type": analysis_type,
                "sample_id": normal["sample"],
                "sample_name": normal["specimen"],
                "phenotype": "unaffected",
                "sex": patient["sex"],
            },
        ],
        "vcf_cancer": vcf,
        "human_genome_build": "38",
        "track": "cancer",
        "rank_score_threshold": -100,
        # Analysed some weeks after diagnosis; the date is pipeline metadata, not clinical data.
        "analysis_date": (diagnosed + dt.timedelta(days=21 + index % 14)).isoformat(),
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
