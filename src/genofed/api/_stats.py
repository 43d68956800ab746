"""The wire contract of the exact federated statistics: Kaplan–Meier, Cox and GLM requests and answers.

A Kaplan–Meier analysis asks each node for its events, numbers at risk and censored counts per group on
a *public* time grid fixed by the study; the coordinator sums them. Cox and GLM analyses are iterative:
the coordinator sends its current coefficients ``beta`` and each node answers with the score vector
and information matrix at that ``beta`` (:class:`ScoreInformation`), never a row.

Survival data are ``individuals.overall_survival_days`` (time, days from diagnosis) and
``vital_status == 'deceased'`` (event); members without a time are left out at the node, which says
how many (as a released count) in its disclosure statement.

Covariates are named derived variables, one column each (no intercept for Cox; GLMs add one):

- ``gene_status``: 1 for a carrier of a qualifying variant in the gene, else 0;
- ``sex``: 1 for female, 0 for male (members of other or unknown sex are left out);
- ``age``: age at diagnosis in years (members without one are left out);
- ``tumour_type``: 1 when a primary diagnosis lies in the OncoTree code's subtree, else 0.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genofed.model import oncotree
from genofed.privacy import ReleasedCount

if TYPE_CHECKING:
    from ._analysis import Dimension

__all__ = [
    "MAX_GRID_POINTS",
    "AgeCovariate",
    "Covariate",
    "CoxAnalysis",
    "GeneStatusCovariate",
    "GlmAnalysis",
    "GlmFamily",
    "KaplanMeierAnalysis",
    "KaplanMeierCounts",
    "KaplanMeierGroupCounts",
    "Outcome",
    "ScoreInformation",
    "SexCovariate",
    "TumourTypeCovariate",
]

#: Most grid points a Kaplan–Meier analysis may ask for.
MAX_GRID_POINTS = 400


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneStatusCovariate(_Wire):
    """1 for a carrier of a (qualifying) variant in the gene, else 0."""

    kind: Literal["gene_status"] = "gene_status"
    gene: str = Field(description="HGNC symbol")
    consequence: str | None = None
    protein_change: str | None = None

    @property
    def name(self) -> str:
        extra = " ".join(v for v in (self.consequence, self.protein_change) if v)
        return f"{self.gene}{' ' + extra if extra else ''} carrier"


class SexCovariate(_Wire):
    """1 for female, 0 for male; members of other or unknown sex are left out of the fit."""

    kind: Literal["sex"] = "sex"

    @property
    def name(self) -> str:
        return "female"


class AgeCovariate(_Wire):
    """Age at diagnosis in years (numeric); members without one are left out of the fit."""

    kind: Literal["age"] = "age"

    @property
    def name(self) -> str:
        return "age at diagnosis (years)"


class TumourTypeCovariate(_Wire):
    """1 when a primary diagnosis lies in the OncoTree code's subtree, else 0."""

    kind: Literal["tumour_type"] = "tumour_type"
    code: str

    @field_validator("code")
    @classmethod
    def _known(cls, code: str) -> str:
        tree = oncotree()
        if code not in tree:
            raise ValueError(f"not an OncoTree code: {code}")
        return tree.get(code).code

    @property
    def name(self) -> str:
        return f"tumour type {self.code}"


Covariate = Annotated[
    GeneStatusCovariate | SexCovariate | AgeCovariate | TumourTypeCovariate, Field(discriminator="kind")
]


class Outcome(StrEnum):
    """The outcome of a GLM."""

    RESPONSE = "response"  # best RECIST response CR or PR = 1 (members without a response left out)
    DECEASED = "deceased"  # vital status deceased = 1, alive = 0 (unknown left out)
    SURVIVAL_DAYS = "overall_survival_days"  # days (members without a time left out)


class Offset(StrEnum):
    """A GLM offset derived at the node (a fixed log-scale term with coefficient 1)."""

    #: log of follow-up in years (overall survival days / 365.25): deaths per person-year with poisson
    LOG_FOLLOW_UP_YEARS = "log_follow_up_years"


class GlmFamily(StrEnum):
    """GLM families with their canonical links."""

    GAUSSIAN = "gaussian"
    BINOMIAL = "binomial"
    POISSON = "poisson"


def _checked_beta(beta: tuple[float, ...] | None, p: int) -> None:
    if beta is not None and len(beta) != p:
        raise ValueError(f"beta has {len(beta)} values, the model has {p} coefficients")


def _unique(covariates: tuple[BaseModel, ...]) -> None:
    if len(set(covariates)) != len(covariates):
        raise ValueError("each covariate may be listed once")


class KaplanMeierAnalysis(_Wire):
    """Survival (overall, from diagnosis) by group on a public time grid in days."""

    kind: Literal["kaplan_meier"] = "kaplan_meier"
    group: Dimension | None = Field(default=None, description="split into groups; None: one curve")
    grid: tuple[float, ...] = Field(
        min_length=1, max_length=MAX_GRID_POINTS, description="public time grid, days, increasing"
    )
    min_at_risk: int = Field(
        default=10, ge=1, description="pooled at-risk count below which a point is hidden"
    )

    @field_validator("grid")
    @classmethod
    def _increasing(cls, grid: tuple[float, ...]) -> tuple[float, ...]:
        if any(b <= a for a, b in itertools.pairwise(grid)):
            raise ValueError("the time grid must be strictly increasing")
        if grid[0] < 0:
            raise ValueError("the time grid holds days since diagnosis: no negative times")
        return grid


class CoxAnalysis(_Wire):
    """A Cox proportional-hazards model of overall survival, stratified by node."""

    kind: Literal["cox"] = "cox"
    covariates: tuple[Covariate, ...] = Field(min_length=1, max_length=50)
    ties: Literal["efron", "breslow"] = "efron"
    beta: tuple[float, ...] | None = Field(
        default=None, description="the coordinator's iterate (zeros if None)"
    )

    @model_validator(mode="after")
    def _fits(self) -> CoxAnalysis:
        _unique(self.covariates)
        _checked_beta(self.beta, len(self.covariates))
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.covariates)


class GlmAnalysis(_Wire):
    """A GLM with an intercept; a poisson model of deaths with the log follow-up offset is a rate model."""

    kind: Literal["glm"] = "glm"
    outcome: Outcome
    family: GlmFamily
    covariates: tuple[Covariate, ...] = Field(default=(), max_length=50)
    offset: Offset | None = Field(default=None, description="a derived offset (poisson only)")
    beta: tuple[float, ...] | None = Field(
        default=None, description="the coordinator's iterate, intercept first (zeros if None)"
    )

    @model_validator(mode="after")
    def _fits(self) -> GlmAnalysis:
        _unique(self.covariates)
        binary = self.outcome in (Outcome.RESPONSE, Outcome.DECEASED)
        if self.offset is not None and self.family is not GlmFamily.POISSON:
            raise ValueError("an offset goes with family poisson (a rate model)")
        rate = self.offset is not None and self.outcome is Outcome.DECEASED
        if binary and not rate and self.family is not GlmFamily.BINOMIAL:
            raise ValueError(f"the outcome {self.outcome.value} is binary: use family binomial")
        if not binary and self.family is GlmFamily.BINOMIAL:
            raise ValueError(f"the outcome {self.outcome.value} is not binary: use gaussian or poisson")
        _checked_beta(self.beta, len(self.covariates) + 1)
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return ("intercept", *(c.name for c in self.covariates))


class KaplanMeierGroupCounts(_Wire):
    """One group's released counts per grid point."""

    group: str
    events: tuple[ReleasedCount, ...]
    at_risk: tuple[ReleasedCount, ...]
    censored: tuple[ReleasedCount, ...]


class KaplanMeierCounts(_Wire):
    """A node's Kaplan–Meier counts on the public grid, each cell released under its policy."""

    kind: Literal["kaplan_meier"] = "kaplan_meier"
    grid: tuple[float, ...]
    groups: tuple[KaplanMeierGroupCounts, ...]
    left_out: ReleasedCount = Field(description="cohort members without a survival time")


class ScoreInformation(_Wire):
    """A node's score vector and information matrix at the ``beta`` it was sent (Cox or GLM)."""

    kind: Literal["score_information"] = "score_information"
    model: Literal["cox", "glm"]
    beta: tuple[float, ...]
    score: tuple[float, ...]
    information: tuple[tuple[float, ...], ...]
    n: int = Field(ge=0, description="rows in the fit at this node (at least the policy's minimum)")
    events: int | None = Field(default=None, description="Cox: events at this node")
    deviance: float | None = Field(default=None, description="GLM: deviance at beta")
    log_likelihood: float
    left_out: ReleasedCount = Field(description="cohort members left out for a missing value")
