"""The wire contract of federated summaries and of allele frequencies split by population.

A :class:`SummaryAnalysis` asks each node, per variable and per group of the optional dimensions
(the cross-tab dimensions: sex, age band, tumour type, gene status, vital status), for the number of
members with a value ``n``, their mean ``x̄`` and their sum of squared deviations from it
``M₂ = Σ(x − x̄)²`` -- the same information as ``(n, Σx, Σx²)`` (``Σx = n·x̄``,
``Σx² = M₂ + n·x̄²``) without the cancellation of ``Σx² − (Σx)²/n``. The coordinator pools them
exactly (Chan, Golub & LeVeque 1979). A group with 1..k-1 values at a node is suppressed there: its
count shows as ``<k`` and no sums are released. Minimum and maximum are individual values, so a node
releases them only when asked *and* its policy allows (``statistics.release_extremes``; off by default).

Variables are derived at the node, one value per member:

- :class:`ClinicalVariable`: ``age_at_diagnosis`` (years) or ``overall_survival_days`` from the
  member's latest clinical record;
- :class:`BiomarkerVariable`: a genome-wide biomarker's ``value`` (TMB, TML, MSI, HRD, PURITY,
  PLOIDY): the mean of the member's values of that biomarker in its latest biomarker batch.

A :class:`PopulationSplit` on an allele-frequency analysis splits the allele counts by the members'
``geographic_origin`` or ``ethnicity_id``; the answer is a :class:`PopulationAlleleFrequencyResult`
(one row of AC and AN per population, aligned with the requested variants), always per node and so
per country.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genofed.privacy import ReleasedCount

if TYPE_CHECKING:
    from ._analysis import Dimension

__all__ = [
    "BIOMARKERS",
    "OTHER_POPULATION",
    "UNKNOWN_POPULATION",
    "BiomarkerVariable",
    "ClinicalVariable",
    "PopulationAlleleFrequencyResult",
    "PopulationAlleles",
    "PopulationSplit",
    "SummaryAnalysis",
    "SummaryCell",
    "SummaryResult",
    "SummaryVariable",
    "VariableSummary",
    "group_labels",
]

#: The biomarkers a summary may describe (``biomarkers.name`` in the model).
BIOMARKERS = ("TMB", "TML", "MSI", "HRD", "PURITY", "PLOIDY")

#: Label of the population of members whose attribute is not recorded.
UNKNOWN_POPULATION = "unknown"
#: Label of the members whose population is not listed (or, unlisted, too small to name).
OTHER_POPULATION = "other"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClinicalVariable(_Wire):
    """A numeric clinical value from the member's latest clinical record."""

    kind: Literal["clinical"] = "clinical"
    name: Literal["age_at_diagnosis", "overall_survival_days"]

    @property
    def label(self) -> str:
        return self.name


class BiomarkerVariable(_Wire):
    """A genome-wide biomarker's value: the mean of the member's latest-batch values of it."""

    kind: Literal["biomarker"] = "biomarker"
    name: str = Field(description="TMB, TML, MSI, HRD, PURITY or PLOIDY")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        upper = name.strip().upper()
        if upper not in BIOMARKERS:
            raise ValueError(f"not a biomarker: {name!r}; expected one of {', '.join(BIOMARKERS)}")
        return upper

    @property
    def label(self) -> str:
        return self.name


SummaryVariable = Annotated[ClinicalVariable | BiomarkerVariable, Field(discriminator="kind")]


class SummaryAnalysis(_Wire):
    """Means and variances of numeric variables, overall or per group of up to two dimensions."""

    kind: Literal["summary"] = "summary"
    variables: tuple[SummaryVariable, ...] = Field(min_length=1, max_length=20)
    by: tuple[Dimension, ...] = Field(default=(), max_length=2, description="split into groups")
    extremes: bool = Field(
        default=False, description="ask for min and max (released only where the node's policy allows)"
    )

    @model_validator(mode="after")
    def _unique(self) -> SummaryAnalysis:
        if len(set(self.variables)) != len(self.variables):
            raise ValueError("each variable may be listed once")
        if len({d.kind for d in self.by}) != len(self.by):
            raise ValueError("each dimension kind may be used once")
        return self


class PopulationSplit(_Wire):
    """Split allele counts by population: the members' geographic origin or ethnicity.

    With ``labels`` the populations are public: each listed value is a population, the rest form
    ``other`` and members without a value ``unknown``. Without ``labels`` each node names its own
    populations, except that values held by fewer than its minimum cell count of genotyped members
    join ``other`` (so a rare origin is never named).
    """

    attribute: Literal["geographic_origin", "ethnicity_id"] = "geographic_origin"
    labels: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=50)

    @field_validator("labels")
    @classmethod
    def _distinct(cls, labels: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if labels is None:
            return None
        if len(set(labels)) != len(labels):
            raise ValueError("each population may be listed once")
        reserved = {OTHER_POPULATION, UNKNOWN_POPULATION} & set(labels)
        if reserved:
            raise ValueError(f"{', '.join(sorted(reserved))} are reserved population labels")
        return labels


class SummaryCell(_Wire):
    """One group's released summary at one node; the sums are None when the group is suppressed."""

    group: tuple[str, ...] = Field(description="the group's label per dimension; () without dimensions")
    n: ReleasedCount = Field(description="members with a value (exact when released: the sums imply it)")
    mean: float | None
    sum_squares: float | None = Field(description="Σ(x − x̄)², the sum of squared deviations from the mean")
    minimum: float | None = None
    maximum: float | None = None


class VariableSummary(_Wire):
    """One variable's cells, one per group (every combination of the dimensions' labels, in order)."""

    variable: str
    cells: tuple[SummaryCell, ...]


class SummaryResult(_Wire):
    """A node's summaries, one per requested variable."""

    kind: Literal["summary"] = "summary"
    dimensions: tuple[str, ...] = Field(description="the kinds of the dimensions split by")
    variables: tuple[VariableSummary, ...]


class PopulationAlleles(_Wire):
    """One population's allele counts and numbers, aligned with the requested variants."""

    population: str
    allele_count: tuple[ReleasedCount, ...]
    allele_number: tuple[ReleasedCount, ...]


class PopulationAlleleFrequencyResult(_Wire):
    """A node's allele counts split by population (the node is one country)."""

    kind: Literal["population_allele_frequency"] = "population_allele_frequency"
    attribute: str
    populations: tuple[PopulationAlleles, ...]

    @model_validator(mode="after")
    def _aligned(self) -> PopulationAlleleFrequencyResult:
        sizes = {len(p.allele_count) for p in self.populations} | {
            len(p.allele_number) for p in self.populations
        }
        if len(sizes) > 1:
            raise ValueError("every population must give one AC and one AN per requested variant")
        return self


def group_labels(label_sets: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """Every combination of the dimensions' labels, first dimension slowest (``((),)`` for none).

    >>> group_labels((("a", "b"), ("x", "y")))
    (('a', 'x'), ('a', 'y'), ('b', 'x'), ('b', 'y'))
    >>> group_labels(())
    ((),)
    """
    return tuple(itertools.product(*label_sets))
