"""The contract between the parts of decision support: findings, evidence, matches, tiers.

A *finding* is one alteration seen in one patient (read from the store); an *evidence item* is one row
of a knowledge base, normalised; a *match* joins them and carries the derived tier with the rule that
produced it. Knowledge-base loaders produce `Evidence`; `genofed.cds` matchers turn findings and
evidence into `Match`es; reports and the WGS-benefit analysis consume matches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "AmpTier",
    "BiomarkerKind",
    "Direction",
    "EscatLevel",
    "Evidence",
    "Finding",
    "FindingKind",
    "Match",
]


class FindingKind(StrEnum):
    """What kind of alteration a patient finding is."""

    SMALL_VARIANT = "SMALL_VARIANT"  # SNV, MNV or indel
    AMPLIFICATION = "AMPLIFICATION"
    DELETION = "DELETION"  # homozygous (deep) deletion of a gene
    FUSION = "FUSION"
    SIGNATURE = "SIGNATURE"  # TMB_HIGH, MSI_HIGH, HRD


class BiomarkerKind(StrEnum):
    """What an evidence item's biomarker requires of a finding."""

    PROTEIN_CHANGE = "PROTEIN_CHANGE"  # gene + exact one-letter protein change (V600E)
    CODON = "CODON"  # gene + codon (any change at V600)
    EXON = "EXON"  # gene + exon, optionally a consequence class (exon 19 deletion)
    GENE_MUTATION = "GENE_MUTATION"  # any protein-altering small variant in the gene (oncogenic mutation)
    AMPLIFICATION = "AMPLIFICATION"
    DELETION = "DELETION"
    FUSION = "FUSION"  # gene + partner (partner None: any partner)
    TMB_HIGH = "TMB_HIGH"
    MSI_HIGH = "MSI_HIGH"
    HRD = "HRD"


class Direction(StrEnum):
    """Whether the biomarker predicts response or resistance to the therapy."""

    RESPONSIVE = "RESPONSIVE"
    RESISTANT = "RESISTANT"


class AmpTier(StrEnum):
    """AMP/ASCO/CAP 2017 tiers and levels of somatic variants (Li et al., J Mol Diagn 2017)."""

    IA = "I-A"  # FDA/EMA-approved therapy or professional guideline, in this tumour type
    IB = "I-B"  # well-powered studies with expert consensus, in this tumour type
    IIC = "II-C"  # approved therapy in another tumour type (off-label), or inclusion criteria of trials
    IID = "II-D"  # preclinical studies or case reports
    III = "III"  # unknown clinical significance
    IV = "IV"  # benign or likely benign

    @property
    def tier(self) -> str:
        """The tier alone: I, II, III or IV."""
        return self.value.split("-")[0]


class EscatLevel(StrEnum):
    """ESMO Scale for Clinical Actionability of molecular Targets (Mateo et al., Ann Oncol 2018)."""

    IA = "I-A"
    IB = "I-B"
    IC = "I-C"
    IIA = "II-A"
    IIB = "II-B"
    IIIA = "III-A"
    IIIB = "III-B"
    IV = "IV"
    X = "X"


@dataclass(frozen=True, slots=True)
class Finding:
    """One alteration in one patient, as the store holds it.

    ``protein_change`` is the one-letter short form without ``p.`` (``V600E``), as
    `genofed.model.normalise_protein_change` gives it; ``partner_gene`` is the 3' gene of a fusion
    whose 5' gene is ``gene``; ``signature`` names a genome-wide biomarker (TMB_HIGH, MSI_HIGH, HRD).
    """

    kind: FindingKind
    gene: str | None = None
    protein_change: str | None = None
    consequence: str | None = None
    exon: int | None = None
    partner_gene: str | None = None
    signature: str | None = None
    germline: bool = False
    reported: bool = False  # the pipeline called it a driver
    detail: tuple[tuple[str, str], ...] = ()  # (name, value) pairs shown in a report: VAF, copy number...

    @property
    def label(self) -> str:
        """Human-readable name of the alteration (``BRAF p.V600E``, ``ERBB2 amplification``)."""
        if self.kind is FindingKind.SMALL_VARIANT:
            change = f"p.{self.protein_change}" if self.protein_change else (self.consequence or "variant")
            return f"{self.gene} {change}"
        if self.kind is FindingKind.FUSION:
            return f"{self.gene}::{self.partner_gene or '?'} fusion"
        if self.kind is FindingKind.SIGNATURE:
            return str(self.signature)
        return f"{self.gene} {self.kind.value.lower()}"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One knowledge-base statement, normalised: this biomarker, this therapy, this tumour type.

    ``source_level`` is the level exactly as the source gives it (CIViC A–E, CGI's text levels, OncoKB
    LEVEL_1…); ``tumour_types`` are OncoTree codes (empty: the source's disease did not map, or any
    cancer type when ``pan_cancer``); ``disease`` is the source's own disease text; ``line`` is the row
    of the source file the item was read from.
    """

    source: str  # civic, cgi, oncokb
    release: dt.date
    evidence_id: str
    biomarker: BiomarkerKind
    gene: str | None
    therapy: str
    direction: Direction
    source_level: str
    disease: str
    protein_change: str | None = None
    codon: int | None = None
    exon: int | None = None
    partner_gene: str | None = None
    tumour_types: tuple[str, ...] = ()
    pan_cancer: bool = False
    doid: str | None = None
    drug_status: str | None = None  # approved, in trials, ... as given
    citation: str | None = None
    line: int | None = None
    # Added for biomarkers narrower than a gene but wider than a codon: an SO term or a consequence
    # class of `genofed.model.expand_consequence` the finding must have (EGFR exon 19 *deletion*),
    # and a protein-position range (CGI writes exons as ranges: KIT 550-592 is exon 11).
    consequence: str | None = None
    protein_start: int | None = None
    protein_end: int | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A finding matched to an evidence item, with the derived tiers and the rules that gave them."""

    finding: Finding
    evidence: Evidence
    on_label: bool  # the evidence's tumour type is the patient's (or an OncoTree ancestor of it)
    amp_tier: AmpTier
    escat: EscatLevel
    rule: str  # e.g. "CIViC level A + on-label -> I-A"
    match_level: str = field(default="exact")  # exact, codon, exon, gene
