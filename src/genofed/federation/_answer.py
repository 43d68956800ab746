"""What a federated question returns: each node's outcome, the combined result, who is missing.

A :class:`FederatedAnswer` answers one :class:`~genofed.api.AnalysisRequest` across the nodes: one
:class:`NodeOutcome` per node asked (answered, refused, failed or timed out, with the reason and the
node's own response), the combination of the answered nodes' results (:class:`CombinedCount`,
:class:`CombinedCrossTab` or :class:`CombinedAlleleFrequencies`), the ids of the nodes that did not
contribute, and what disclosure control did to the numbers. A :class:`StudyResult` is one answer per
analysis of a :class:`~genofed.api.Study`.

Combined numbers are intervals: a node that releases "<5" says only that its count lies in 1..4, so
a sum over nodes is known to lie between the sums of the lower and upper bounds (see
:mod:`genofed.federation._combine`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genofed.api import AnalysisRequest, AnalysisResponse, DisclosureStatement, Problem, Study, VariantRef

__all__ = [
    "Coefficient",
    "CombinedAlleleFrequencies",
    "CombinedAlleleFrequency",
    "CombinedCount",
    "CombinedCountResult",
    "CombinedCrossTab",
    "CombinedKaplanMeier",
    "CombinedModelFit",
    "CombinedResult",
    "FederatedAnswer",
    "KaplanMeierCurve",
    "KaplanMeierPoint",
    "NodeOutcome",
    "OutcomeStatus",
    "RefusalKind",
    "StudyResult",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutcomeStatus(StrEnum):
    """What became of the question at one node."""

    ANSWERED = "answered"  # a valid answer, part of the combination
    REFUSED = "refused"  # the node declined: authentication, authorisation or its disclosure policy
    FAILED = "failed"  # unreachable, a server error, or an answer that breaks the contract
    TIMED_OUT = "timed_out"  # no answer within the node's time budget (retries included)


class RefusalKind(StrEnum):
    """Why a node refused."""

    AUTHENTICATION = "authentication"  # 401: no token, or a forged, expired or wrong-audience one
    AUTHORISATION = "authorisation"  # 403: a valid token that grants too little
    DISCLOSURE = "disclosure"  # 403 disclosure-refused: the node's policy withholds this answer


class NodeOutcome(_Frozen):
    """One node's part in a federated answer."""

    node: str = Field(description="the registry's id of the node")
    country: str
    url: str
    status: OutcomeStatus
    reason: str | None = Field(default=None, description="why the node did not contribute, in words")
    refusal: RefusalKind | None = None
    http_status: int | None = Field(default=None, description="the last HTTP status seen, if any")
    problem: Problem | None = Field(default=None, description="the node's problem details, if it sent any")
    response: AnalysisResponse | None = Field(default=None, description="the node's answer, when answered")
    attempts: int = Field(default=0, ge=0, description="HTTP requests made (1 + retries)")
    elapsed: float = Field(default=0.0, ge=0, description="seconds from the first attempt to the outcome")

    @property
    def answered(self) -> bool:
        return self.status is OutcomeStatus.ANSWERED

    @property
    def disclosure(self) -> DisclosureStatement | None:
        """The disclosure control the node applied, when it answered."""
        return self.response.disclosure if self.response is not None else None


class CombinedCount(_Frozen):
    """A sum over nodes of released counts: exact, or known to lie in ``[lower, upper]``.

    ``upper`` is None when some node withheld a cell without bounding it (secondary suppression):
    the sum is then only known to be at least ``lower``.
    """

    value: int | None = Field(description="the exact sum, when every part is known exactly")
    lower: int = Field(ge=0)
    upper: int | None
    display: str = Field(description="'128', '120–128' or '≥ 45'")

    @property
    def exact(self) -> bool:
        return self.value is not None

    def contains(self, count: int) -> bool:
        """Whether ``count`` is consistent with this combined count."""
        return self.lower <= count and (self.upper is None or count <= self.upper)


class CombinedCrossTab(_Frozen):
    """A cross-tab summed cell by cell over the nodes, with margins, as intervals."""

    kind: Literal["crosstab"] = "crosstab"
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    cells: tuple[tuple[CombinedCount, ...], ...]
    row_totals: tuple[CombinedCount, ...]
    column_totals: tuple[CombinedCount, ...]
    total: CombinedCount

    def cell(self, row: str, column: str | None = None) -> CombinedCount:
        """The cell at the named row and column (the only column when ``column`` is None)."""
        r = self.row_labels.index(row)
        c = 0 if column is None else self.column_labels.index(column)
        return self.cells[r][c]


class CombinedCountResult(_Frozen):
    """The combined cohort size."""

    kind: Literal["count"] = "count"
    count: CombinedCount


class CombinedAlleleFrequency(_Frozen):
    """Allele count and number summed over nodes, and the frequency (a point or bounds)."""

    variant: VariantRef
    allele_count: CombinedCount
    allele_number: CombinedCount
    frequency: float | None = Field(description="AC/AN when both are exact and AN > 0")
    frequency_lower: float | None = Field(description="smallest AC/AN consistent with the bounds")
    frequency_upper: float | None = Field(description="largest AC/AN consistent with the bounds")
    display: str


class CombinedAlleleFrequencies(_Frozen):
    """Combined allele counts, one per requested allele in request order."""

    kind: Literal["allele_frequency"] = "allele_frequency"
    alleles: tuple[CombinedAlleleFrequency, ...]


def _frame(rows: list[dict[str, Any]]) -> Any:
    """A pandas DataFrame of ``rows`` (pandas is optional: ImportError says so)."""
    try:
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:  # pragma: no cover - pandas is installed in development
        raise ImportError("table() needs pandas (pip install pandas); the fields hold the numbers") from exc
    return pd.DataFrame(rows)


class KaplanMeierPoint(_Frozen):
    """The pooled survival of one group at one grid time; None where withheld."""

    time: float
    survival: float | None
    ci_lower: float | None
    ci_upper: float | None
    at_risk: int | None
    events: int | None
    lower_bound: float | None = Field(
        default=None, description="guaranteed bound on the pooled survival given the nodes' released counts"
    )
    upper_bound: float | None = None


class KaplanMeierCurve(_Frozen):
    """One group's pooled Kaplan–Meier curve on the public grid."""

    group: str
    points: tuple[KaplanMeierPoint, ...]


class CombinedKaplanMeier(_Frozen):
    """Pooled Kaplan–Meier curves with Greenwood intervals, and the log-rank test across the groups.

    ``survival`` (with Greenwood intervals) is shown at grid points where every answering node released
    exact events and numbers at risk up to that point; after it, where some node showed a count as
    ``<k``, only guaranteed bounds (``lower_bound``, ``upper_bound``) are given. Points where the pooled
    number at risk may be below ``min_at_risk`` are withheld.
    """

    kind: Literal["kaplan_meier"] = "kaplan_meier"
    grid: tuple[float, ...]
    curves: tuple[KaplanMeierCurve, ...]
    confidence: float
    min_at_risk: int
    exact_until: float | None = Field(description="last grid time up to which every node's counts are exact")
    logrank_statistic: float | None = None
    logrank_df: int | None = None
    logrank_p_value: float | None = None
    observed: tuple[float, ...] | None = Field(default=None, description="log-rank observed events per group")
    expected: tuple[float, ...] | None = Field(default=None, description="log-rank expected events per group")
    notes: tuple[str, ...] = ()

    def curve(self, group: str) -> KaplanMeierCurve:
        """The curve of ``group``."""
        for c in self.curves:
            if c.group == group:
                return c
        raise KeyError(f"no curve for group {group!r}; groups: {[c.group for c in self.curves]}")

    def table(self) -> Any:
        """A pandas DataFrame: one row per group and grid time."""
        return _frame([{"group": c.group, **p.model_dump()} for c in self.curves for p in c.points])


class Coefficient(_Frozen):
    """One coefficient of a federated model fit, with its Wald statistics."""

    name: str
    estimate: float
    standard_error: float
    z: float
    p_value: float
    ci_lower: float
    ci_upper: float
    hazard_ratio: float | None = Field(default=None, description="Cox: exp(estimate)")
    hazard_ratio_ci_lower: float | None = None
    hazard_ratio_ci_upper: float | None = None


class CombinedModelFit(_Frozen):
    """A Cox or GLM fit over the nodes' summed score and information (the same nodes every iteration)."""

    kind: Literal["cox", "glm"]
    family: str | None = Field(default=None, description="GLM family")
    ties: str | None = Field(default=None, description="Cox tie handling")
    coefficients: tuple[Coefficient, ...]
    confidence: float
    n: int
    events: int | None = None
    log_likelihood: float
    deviance: float | None = None
    scale: float | None = None
    iterations: int
    converged: bool
    message: str
    nodes: tuple[str, ...] = Field(description="the nodes whose data the fit uses")
    excluded: tuple[str, ...] = Field(default=(), description="nodes left out after refusing or failing")

    def coefficient(self, name: str) -> Coefficient:
        """The coefficient called ``name``."""
        for c in self.coefficients:
            if c.name == name:
                return c
        raise KeyError(f"no coefficient {name!r}; coefficients: {[c.name for c in self.coefficients]}")

    def table(self) -> Any:
        """A pandas DataFrame: one row per coefficient."""
        return _frame([c.model_dump() for c in self.coefficients]).set_index("name")


CombinedResult = Annotated[
    CombinedCountResult
    | CombinedCrossTab
    | CombinedAlleleFrequencies
    | CombinedKaplanMeier
    | CombinedModelFit,
    Field(discriminator="kind"),
]


class FederatedAnswer(_Frozen):
    """One analysis asked of every node: outcomes, the combination, who is missing and why."""

    request: AnalysisRequest
    outcomes: tuple[NodeOutcome, ...]
    combined: CombinedResult | None = Field(description="over the answered nodes; None if none answered")
    missing: tuple[str, ...] = Field(description="ids of nodes asked that did not contribute")
    disclosure_effects: tuple[str, ...] = Field(
        default=(), description="what disclosure control did to this answer, per node, in words"
    )

    @property
    def complete(self) -> bool:
        """Every node asked contributed."""
        return not self.missing

    @property
    def answered(self) -> tuple[NodeOutcome, ...]:
        return tuple(o for o in self.outcomes if o.answered)

    def outcome(self, node: str) -> NodeOutcome:
        """The outcome at one node (by registry id)."""
        for o in self.outcomes:
            if o.node == node:
                return o
        raise KeyError(f"node {node!r} was not asked; asked: {', '.join(o.node for o in self.outcomes)}")

    def missing_reasons(self) -> dict[str, str]:
        """Each missing node with why it is missing."""
        return {o.node: f"{o.status.value}: {o.reason}" for o in self.outcomes if o.node in self.missing}

    @property
    def count(self) -> CombinedCount:
        """The combined count of a count analysis (raises when this is not one, or nobody answered)."""
        if not isinstance(self.combined, CombinedCountResult):
            raise ValueError(f"not a count answer, or no node answered ({self.missing_reasons()})")
        return self.combined.count


class StudyResult(_Frozen):
    """A study run: its specification and one federated answer per analysis, in order."""

    study: Study
    answers: tuple[FederatedAnswer, ...]
    started: datetime
    finished: datetime

    @property
    def complete(self) -> bool:
        return all(a.complete for a in self.answers)

    @property
    def missing(self) -> tuple[str, ...]:
        """Nodes that missed at least one analysis, in the order first missed."""
        seen: dict[str, None] = {}
        for answer in self.answers:
            for node in answer.missing:
                seen.setdefault(node, None)
        return tuple(seen)
