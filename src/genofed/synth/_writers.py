"""``write_cohort``: a cohort as the source files a country would hand to its node."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._clinical import write_clinical_tables, write_mapping
from ._cohort import Cohort
from ._tumours import Country
from ._vcf import write_germline_vcf, write_sample_sheet, write_somatic_vcf

__all__ = ["SynthManifest", "write_cohort"]


@dataclass(frozen=True, slots=True)
class SynthManifest:
    """What :func:`write_cohort` wrote, and how much of it."""

    country: Country
    seed: int
    directory: Path
    germline_vcf: Path
    germline_samples: Path
    somatic_vcf: Path
    somatic_samples: Path
    patients: Path
    treatments: Path
    responses: Path
    mapping: Path
    patient_count: int
    germline_sites: int
    somatic_variants: int

    @property
    def clinical_tables(self) -> tuple[Path, Path, Path]:
        """The three clinical tables, in the order the mapping lists them."""
        return (self.patients, self.treatments, self.responses)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file written (the VCFs' ``.tbi`` indexes beside them are not listed)."""
        return (
            self.germline_vcf,
            self.germline_samples,
            self.somatic_vcf,
            self.somatic_samples,
            *self.clinical_tables,
            self.mapping,
        )


def write_cohort(cohort: Cohort, out_dir: str | Path) -> SynthManifest:
    """Write a cohort in its country's source formats.

    Writes, into ``out_dir`` (created when absent): ``germline.vcf.gz`` and ``somatic.vcf.gz`` (BGZF,
    with ``.tbi`` indexes), their sample sheets ``germline.samples.tsv`` and ``somatic.samples.tsv``,
    the clinical tables ``patients.tsv``, ``treatments.tsv`` and ``responses.tsv``, and
    ``mapping.yaml``, the clinical mapping for :class:`genofed.ingest.ClinicalReader`.

    Parameters
    ----------
    cohort
        A cohort from :func:`~genofed.synth.synthesise`.
    out_dir
        The folder to write into; files of the same names are replaced.

    Returns
    -------
    SynthManifest
        The paths written and their sizes in patients, sites and variants.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    germline = write_germline_vcf(cohort, out / "germline.vcf.gz")
    somatic = write_somatic_vcf(cohort, out / "somatic.vcf.gz")
    tables = write_clinical_tables(cohort, out)
    somatic_keys = {
        (c, p, r, a)
        for c, p, r, a in zip(
            cohort.somatic.column("chrom").to_pylist(),
            cohort.somatic.column("pos").to_pylist(),
            cohort.somatic.column("ref").to_pylist(),
            cohort.somatic.column("alt").to_pylist(),
            strict=False,
        )
    }
    return SynthManifest(
        country=cohort.country,
        seed=cohort.seed,
        directory=out,
        germline_vcf=germline,
        germline_samples=write_sample_sheet(cohort, "germline", out / "germline.samples.tsv"),
        somatic_vcf=somatic,
        somatic_samples=write_sample_sheet(cohort, "somatic", out / "somatic.samples.tsv"),
        patients=tables["patients"],
        treatments=tables["treatments"],
        responses=tables["responses"],
        mapping=write_mapping(cohort, out / "mapping.yaml"),
        patient_count=cohort.patients.num_rows,
        germline_sites=cohort.germline_sites.num_rows,
        somatic_variants=len(somatic_keys),
    )
