"""The study specification: a cohort and an analysis, as the CLI, the Python API and HTTP send it.

One typed format serves every entry point: a researcher writes it as YAML for ``genofed study run``,
builds it in Python for ``Federation``, and the coordinator posts it as JSON to each node's
``POST /analyses``. Every model forbids unknown fields, so a typo is an error, not a silent default.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genofed.model import Assembly, normalise_chromosome, oncotree
from genofed.query import CohortFilter

from ._benefit import WgsBenefitAnalysis
from ._proficiency import ProficiencyAnalysis
from ._stats import CoxAnalysis, GlmAnalysis, KaplanMeierAnalysis
from ._summary import PopulationSplit, SummaryAnalysis

__all__ = [
    "AgeBandDimension",
    "AlleleFrequencyAnalysis",
    "Analysis",
    "AnalysisRequest",
    "CountAnalysis",
    "CrossTabAnalysis",
    "Dimension",
    "DisclosureRequest",
    "GeneStatusDimension",
    "SexDimension",
    "Study",
    "TumourTypeDimension",
    "VariantRef",
    "VitalStatusDimension",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SexDimension(_Wire):
    """Split by sex: female, male, other, unknown."""

    kind: Literal["sex"] = "sex"


class VitalStatusDimension(_Wire):
    """Split by vital status at last follow-up: alive, deceased, unknown."""

    kind: Literal["vital_status"] = "vital_status"


class AgeBandDimension(_Wire):
    """Split by age at diagnosis into bands at the given edges (``[50, 65]`` → <50, 50–64, ≥65, unknown)."""

    kind: Literal["age_band"] = "age_band"
    edges: tuple[float, ...] = Field(min_length=1, description="band edges in years, increasing")

    @field_validator("edges")
    @classmethod
    def _increasing(cls, edges: tuple[float, ...]) -> tuple[float, ...]:
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError("age band edges must increase")
        return edges


class TumourTypeDimension(_Wire):
    """Split by primary tumour type: each person goes to the first listed code whose subtree holds it.

    People with no primary diagnosis in any listed subtree form the group ``other``.
    """

    kind: Literal["tumour_type"] = "tumour_type"
    codes: tuple[str, ...] = Field(min_length=1, description="OncoTree codes, e.g. [COADREAD, MEL, NSCLC]")

    @field_validator("codes")
    @classmethod
    def _known(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        tree = oncotree()
        unknown = [c for c in codes if c not in tree]
        if unknown:
            raise ValueError(f"not OncoTree codes: {', '.join(unknown)}")
        return tuple(tree.get(c).code for c in codes)


class GeneStatusDimension(_Wire):
    """Split into carriers and non-carriers of a (qualifying) variant in one gene."""

    kind: Literal["gene_status"] = "gene_status"
    gene: str = Field(description="HGNC symbol")
    consequence: str | None = Field(default=None, description="SO term or class the variant must have")
    protein_change: str | None = Field(default=None, description="the protein change, e.g. p.G12C")


Dimension = Annotated[
    SexDimension | VitalStatusDimension | AgeBandDimension | TumourTypeDimension | GeneStatusDimension,
    Field(discriminator="kind"),
]


class VariantRef(_Wire):
    """One allele, VCF-style (1-based position), on a named assembly."""

    chrom: str
    pos: int = Field(ge=1, description="1-based position")
    ref: str = Field(pattern=r"^[ACGTN]+$")
    alt: str = Field(pattern=r"^[ACGTN]+$")
    assembly: Assembly = Assembly.GRCH38

    @field_validator("chrom")
    @classmethod
    def _chrom(cls, value: str) -> str:
        return normalise_chromosome(value)


class CountAnalysis(_Wire):
    """How many individuals are in the cohort."""

    kind: Literal["count"] = "count"


class CrossTabAnalysis(_Wire):
    """A one- or two-way table of the cohort, with margins, under cell-level disclosure control."""

    kind: Literal["crosstab"] = "crosstab"
    rows: Dimension
    columns: Dimension | None = None


class AlleleFrequencyAnalysis(_Wire):
    """Allele count and allele number of each allele, over the cohort's individuals."""

    kind: Literal["allele_frequency"] = "allele_frequency"
    variants: tuple[VariantRef, ...] = Field(min_length=1, max_length=1000)
    population: PopulationSplit | None = Field(
        default=None, description="split by the members' geographic origin or ethnicity"
    )


# The statistics' group is a Dimension, defined here: resolve their forward reference.
KaplanMeierAnalysis.model_rebuild(_types_namespace={"Dimension": Dimension})
SummaryAnalysis.model_rebuild(_types_namespace={"Dimension": Dimension})

Analysis = Annotated[
    CountAnalysis
    | CrossTabAnalysis
    | AlleleFrequencyAnalysis
    | KaplanMeierAnalysis
    | CoxAnalysis
    | GlmAnalysis
    | SummaryAnalysis
    | WgsBenefitAnalysis
    | ProficiencyAnalysis,
    Field(discriminator="kind"),
]


class DisclosureRequest(_Wire):
    """Stricter disclosure a study asks for; a node applies the stricter of this and its own policy."""

    min_cell_count: int | None = Field(default=None, ge=1)
    rounding_base: int | None = Field(default=None, ge=1)


class AnalysisRequest(_Wire):
    """What the coordinator posts to ``POST /analyses`` of every node."""

    study: str = Field(default="ad hoc", max_length=200, description="study name, for the audit log")
    dataset: str | None = Field(default=None, description="dataset at the node; default: the node's own")
    cohort: CohortFilter = Field(default_factory=CohortFilter)
    analysis: Analysis = Field(default_factory=CountAnalysis)
    disclosure: DisclosureRequest = Field(default_factory=DisclosureRequest)
    include_failed_qc: bool = Field(
        default=False, description="also use analyses that failed the node's sample QC"
    )


class Study(_Wire):
    """A study: a named cohort and the analyses to run on it at every node (``genofed study run``)."""

    name: str = Field(max_length=200)
    description: str | None = None
    nodes: tuple[str, ...] | None = Field(default=None, description="node ids to ask; default: every node")
    cohort: CohortFilter = Field(default_factory=CohortFilter)
    analyses: tuple[Analysis, ...] = Field(default=(CountAnalysis(),), min_length=1)
    disclosure: DisclosureRequest = Field(default_factory=DisclosureRequest)
    include_failed_qc: bool = Field(
        default=False, description="also use analyses that failed the nodes' sample QC"
    )

    @model_validator(mode="after")
    def _unique_nodes(self) -> Study:
        if self.nodes is not None and len(set(self.nodes)) != len(self.nodes):
            raise ValueError("nodes: each node may be listed once")
        return self

    def requests(self) -> list[AnalysisRequest]:
        """One node request per analysis."""
        return [
            AnalysisRequest(
                study=self.name,
                cohort=self.cohort,
                analysis=a,
                disclosure=self.disclosure,
                include_failed_qc=self.include_failed_qc,
            )
            for a in self.analyses
        ]
