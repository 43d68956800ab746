"""What the Hartwig folder reader and the ORANGE JSON reader share: identities, vocabularies, rows.

Both readers turn one tumour sample's hmftools results into the same model rows; this module holds
the pieces that must agree between them -- how the source IDs of the patient, specimens and analyses
are formed (:class:`SampleIds`), the biomarker names and units, PAVE/ORANGE coding effects as SO
terms, and the summary (:class:`HartwigSummary`) that says which files and layouts were read.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from genofed.model import (
    Analysis,
    Assay,
    Assembly,
    Biomarker,
    Driver,
    Origin,
    Record,
    Specimen,
    SpecimenType,
    consequence_rank,
    impact_of,
    normalise_consequence,
    records_to_table,
)

__all__ = [
    "BIOMARKERS",
    "HartwigSummary",
    "SampleIds",
    "consequence_of",
    "patient_of_sample",
    "table_of",
]

#: Biomarker names written by the Hartwig readers: name -> (unit, what it is).
BIOMARKERS: dict[str, tuple[str | None, str]] = {
    "PURITY": ("fraction", "tumour cell fraction (PURPLE purity); status: PURPLE fit status"),
    "PLOIDY": ("copies", "average tumour ploidy (PURPLE)"),
    "TMB": ("mutations/Mb", "passing SNVs and indels per Mb (PURPLE tmbPerMb); status HIGH/LOW"),
    "TML": ("missense variants", "tumour mutational load (PURPLE tml); status HIGH/LOW"),
    "MSI": ("indels/Mb", "microsatellite indels per Mb (PURPLE msIndelsPerMb); status MSS/MSI"),
    "WGD": (None, "whole-genome duplication: value 1 or 0, status WGD or NO_WGD (PURPLE)"),
    "SV_TMB": ("structural variants", "passing structural variants (PURPLE svTumorMutationalBurden)"),
    "SEX": (None, "sex inferred from the genome (PURPLE/AMBER gender): status MALE or FEMALE"),
    "HRD": ("probability", "homologous-recombination deficiency (CHORD p_hrd); status HR_PROFICIENT/..."),
    "HLA-A": ("copies", "an HLA-A allele typed by LILAC (status, e.g. A*01:01); value: tumour copies"),
    "HLA-B": ("copies", "an HLA-B allele typed by LILAC; value: tumour copy number"),
    "HLA-C": ("copies", "an HLA-C allele typed by LILAC; value: tumour copy number"),
    "HLA_QC": (None, "LILAC QC status (PASS, WARN_..., FAIL_...)"),
    "VIRUS": (
        "integrations",
        "a reported virus (Virus Interpreter): status its interpretation, value its integrations",
    ),
}

# PAVE / ORANGE coding-effect names (VariantEffect) -> SO terms.
_EFFECTS = {
    "MISSENSE": "missense_variant",
    "PHASED_MISSENSE": "missense_variant",
    "SYNONYMOUS": "synonymous_variant",
    "PHASED_SYNONYMOUS": "synonymous_variant",
    "STOP_GAINED": "stop_gained",
    "NONSENSE": "stop_gained",
    "STOP_LOST": "stop_lost",
    "START_LOST": "start_lost",
    "FRAMESHIFT": "frameshift_variant",
    "INFRAME_INSERTION": "inframe_insertion",
    "PHASED_INFRAME_INSERTION": "inframe_insertion",
    "INFRAME_DELETION": "inframe_deletion",
    "PHASED_INFRAME_DELETION": "inframe_deletion",
    "SPLICE_ACCEPTOR": "splice_acceptor_variant",
    "SPLICE_DONOR": "splice_donor_variant",
    "SPLICE": "splice_region_variant",
    "INTRONIC": "intron_variant",
    "FIVE_PRIME_UTR": "5_prime_UTR_variant",
    "THREE_PRIME_UTR": "3_prime_UTR_variant",
    "UPSTREAM_GENE": "upstream_gene_variant",
    "NON_CODING_TRANSCRIPT": "non_coding_transcript_exon_variant",
}
# Hartwig sample IDs: <patient>T (tumour, a roman-numeral suffix for later biopsies) and <patient>R.
_TUMOUR_ID = re.compile(r"^(?P<patient>.+?)T(?:I{1,3}|IV|V)?$")
_REFERENCE_ID = re.compile(r"^(?P<patient>.+?)R$")


def patient_of_sample(sample: str) -> str:
    """The patient of a Hartwig sample ID (``CPCT02010001T`` -> ``CPCT02010001``); the ID itself otherwise.

    >>> [patient_of_sample(s) for s in ("COLO829v003T", "CPCT02010001TII", "tumor_sample")]
    ['COLO829v003', 'CPCT02010001', 'tumor_sample']
    """
    match = _TUMOUR_ID.match(sample)
    return match.group("patient") if match else sample


def is_reference_id(sample: str) -> bool:
    """Whether a sample ID follows Hartwig's reference (blood) naming, ``<patient>R``."""
    return bool(_REFERENCE_ID.match(sample))


def is_tumour_id(sample: str) -> bool:
    """Whether a sample ID follows Hartwig's tumour naming, ``<patient>T``."""
    return bool(_TUMOUR_ID.match(sample))


def consequence_of(terms: Iterable[str]) -> tuple[str | None, str | None]:
    """The most severe consequence of PAVE effects (SO names or ``MISSENSE``-style) and its impact.

    Unknown terms are kept verbatim (ranked last) with no impact, as the VCF adapter does.
    """
    best: str | None = None
    for raw in terms:
        for part in raw.split("&"):
            term = part.strip()
            if not term or term == "NONE":
                continue
            term = _EFFECTS.get(term, term)
            with contextlib.suppress(ValueError):  # unknown terms are kept verbatim
                term = normalise_consequence(term)
            if best is None or consequence_rank(term) < consequence_rank(best):
                best = term
    if best is None:
        return None, None
    try:
        return best, impact_of(best).name
    except ValueError:
        return best, None


def table_of(record: type[Record], rows: Sequence[Record]) -> pa.Table:
    """Rows as an Arrow table of the record's schema."""
    return records_to_table(record, rows)


@dataclass(frozen=True, slots=True)
class SampleIds:
    """Source identifiers of one tumour sample's patient, specimens and analyses.

    ``reference`` (the blood sample) may be unknown: the analyses then have no normal specimen.
    """

    patient: str
    tumour: str
    reference: str | None = None

    @property
    def tumour_specimen(self) -> str:
        return f"{self.patient}:{self.tumour}"

    @property
    def normal_specimen(self) -> str | None:
        return f"{self.patient}:{self.reference}" if self.reference else None

    @property
    def somatic_analysis(self) -> str:
        return f"hartwig:{self.tumour}:somatic"

    @property
    def germline_analysis(self) -> str:
        return f"hartwig:{self.tumour}:germline"

    @property
    def batch_key(self) -> str:
        return f"hartwig:{self.tumour}"

    def specimens(self, *, tissue: str | None, tumour_type: str | None) -> pa.Table:
        rows = [
            Specimen(
                specimen_id=self.tumour_specimen,
                individual_id=self.patient,
                specimen_type=SpecimenType.TUMOUR,
                tissue=tissue,
                tumour_type=tumour_type,
            )
        ]
        normal = self.normal_specimen
        if normal is not None:
            rows.append(
                Specimen(specimen_id=normal, individual_id=self.patient, specimen_type=SpecimenType.NORMAL)
            )
        return table_of(Specimen, rows)

    def analyses(
        self,
        *,
        germline: bool,
        assay: Assay,
        pipeline: str,
        pipeline_version: str | None,
        assembly: Assembly,
        qc_status: str | None,
        contamination: float | None,
        mean_coverage: float | None,
        source: str,
    ) -> pa.Table:
        common: dict[str, Any] = {
            "individual_id": self.patient,
            "assay": assay,
            "pipeline": pipeline,
            "pipeline_version": pipeline_version,
            "reference_assembly": assembly,
            "source": source,
        }
        rows = [
            Analysis(
                analysis_id=self.somatic_analysis,
                specimen_id=self.tumour_specimen,
                normal_specimen_id=self.normal_specimen,
                origin=Origin.SOMATIC,
                qc_status=qc_status,
                contamination=contamination,
                mean_coverage=mean_coverage,
                **common,
            )
        ]
        if germline:
            rows.append(
                Analysis(
                    analysis_id=self.germline_analysis,
                    specimen_id=self.normal_specimen,
                    origin=Origin.GERMLINE,
                    qc_status=qc_status,
                    **common,
                )
            )
        return table_of(Analysis, rows)

    def biomarker(
        self, name: str, *, value: float | None = None, status: str | None = None, method: str
    ) -> Biomarker:
        unit = BIOMARKERS[name][0] if value is not None else None
        return Biomarker(
            individual_id=self.patient,
            analysis_id=self.somatic_analysis,
            name=name,
            value=value,
            status=status,
            unit=unit,
            method=method,
        )

    def driver(self, origin: Origin, **values: Any) -> Driver:
        analysis = self.somatic_analysis if origin is Origin.SOMATIC else self.germline_analysis
        return Driver(individual_id=self.patient, analysis_id=analysis, origin=origin, **values)


@dataclass
class HartwigSummary:
    """What one read of a Hartwig sample produced: files, the tool layouts recognised, what was left out.

    Complete once ``chunks()`` is exhausted.
    """

    #: ``oncoanalyser`` (tool sub-folders), ``flat`` (all files in one folder) or ``orange`` (ORANGE JSON)
    layout: str = ""
    #: tumour sample ID and the patient it was attributed to
    tumour_sample: str = ""
    patient: str = ""
    reference_sample: str | None = None
    #: PURPLE layout read from the purity table (``PURPLE v4`` or ``PURPLE v2``) and PURPLE's version
    purple_layout: str | None = None
    purple_version: str | None = None
    pipeline_version: str | None = None
    assembly: str | None = None
    #: file name -> layout read (tables) or what was read (VCFs, JSON)
    files: dict[str, str] = field(default_factory=dict)
    #: optional outputs looked for and not found
    absent: list[str] = field(default_factory=list)
    #: rows produced, per model table
    rows: dict[str, int] = field(default_factory=dict)
    #: copy-number drivers that could not be placed on the genome (kept in ``drivers`` only)
    unlocated_drivers: list[str] = field(default_factory=list)
    #: anything else worth telling the user
    notes: list[str] = field(default_factory=list)

    def count(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
