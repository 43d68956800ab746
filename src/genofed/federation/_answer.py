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
    "BenefitGroupRow",
    "Coefficient",
    "CombinedAlleleFrequencies",
    "CombinedAlleleFrequency",
    "CombinedCount",
    "CombinedCountResult",
    "CombinedCrossTab",
    "CombinedKaplanMeier",
    "CombinedModelFit",
    "CombinedPopulationAlleleFrequencies",
    "CombinedResult",
    "CombinedSummary",
    "CombinedWgsBenefit",
    "FederatedAnswer",
    "KaplanMeierCurve",
    "KaplanMeierPoint",
    "NodeOutcome",
    "OutcomeStatus",
    "PopulationFrequency",
    "RefusalKind",
    "StudyResult",
    "SummaryRow",
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

    def table(self, bound: Literal["value", "lower", "upper", "display"] = "display") -> Any:
        """A pandas DataFrame of the cells with margins (``total``): their displays, or one bound.

        ``value`` gives the exact sums (None where a node's cell was not exact).
        """
        rows = []
        for r, label in enumerate(self.row_labels):
            row: dict[str, Any] = {"": label}
            row.update({c: getattr(self.cells[r][i], bound) for i, c in enumerate(self.column_labels)})
            row["total"] = getattr(self.row_totals[r], bound) if self.row_totals else None
            rows.append(row)
        total: dict[str, Any] = {"": "total"}
        total.update(
            {
                c: getattr(self.column_totals[i], bound) if self.column_totals else None
                for i, c in enumerate(self.column_labels)
            }
        )
        total["total"] = getattr(self.total, bound)
        return _frame([*rows, total]).set_index("")


class CombinedCountResult(_Frozen):
    """The combined cohort size."""

    kind: Literal["count"] = "count"
    count: CombinedCount

    def table(self) -> Any:
        """A pandas DataFrame of one row: the combined count (value, bounds, display)."""
        return _frame([self.count.model_dump()])


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

    def table(self) -> Any:
        """A pandas DataFrame: one row per allele (AC, AN and the frequency with its bounds)."""
        return _frame([_allele_row(a.variant, a) for a in self.alleles])


def _allele_row(variant: VariantRef, counts: Any, **extra: Any) -> dict[str, Any]:
    return {
        "variant": f"{variant.chrom}-{variant.pos}-{variant.ref}-{variant.alt}",
        "assembly": variant.assembly.value,
        **extra,
        "allele_count": counts.allele_count.display,
        "allele_number": counts.allele_number.display,
        "ac": counts.allele_count.value,
        "an": counts.allele_number.value,
        "frequency": counts.frequency,
        "frequency_lower": counts.frequency_lower,
        "frequency_upper": counts.frequency_upper,
    }


class PopulationFrequency(_Frozen):
    """One allele's counts in one population: at one node (country) or summed over the nodes."""

    variant: VariantRef
    population: str
    node: str | None = Field(description="the node (one country); None for the sum over the nodes")
    country: str | None = None
    allele_count: CombinedCount
    allele_number: CombinedCount
    frequency: float | None = Field(description="AC/AN when both are exact and AN > 0")
    frequency_lower: float | None
    frequency_upper: float | None
    display: str
    nodes: tuple[str, ...] = Field(default=(), description="the nodes whose counts the row sums")


class CombinedPopulationAlleleFrequencies(_Frozen):
    """Allele counts per population: per node (country) and summed over the nodes per population.

    A population that a node does not name (its ``other`` holds it, or it has no such members)
    contributes nothing to that population's sum; ``nodes`` of each summed row says who does.
    """

    kind: Literal["population_allele_frequency"] = "population_allele_frequency"
    attribute: str
    populations: tuple[str, ...]
    rows: tuple[PopulationFrequency, ...]
    notes: tuple[str, ...] = ()

    def frequency(self, variant: VariantRef, population: str, node: str | None = None) -> PopulationFrequency:
        """The row of ``variant`` in ``population``, at ``node`` or (None) summed over the nodes."""
        for row in self.rows:
            if row.variant == variant and row.population == population and row.node == node:
                return row
        raise KeyError(
            f"no counts for {population!r} at {node or 'all nodes'}; populations: {self.populations}"
        )

    def table(self) -> Any:
        """A pandas DataFrame: one row per allele, population and node (``node`` "all" for the sums)."""
        return _frame(
            [
                _allele_row(r.variant, r, population=r.population, node=r.node or "all", country=r.country)
                for r in self.rows
            ]
        )


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


class SummaryRow(_Frozen):
    """One variable in one group, pooled over the nodes that released the group.

    ``variance`` is the sample variance (divisor n − 1), ``standard_error`` that of the mean and
    ``ci_lower``/``ci_upper`` its Student-t interval. ``nodes_suppressed`` withheld the group (1..k-1
    values there): the pooled figures leave their members out, and ``n_all`` bounds the full count.
    """

    variable: str
    group: tuple[str, ...]
    n: int = Field(description="values pooled (the nodes that released the group)")
    n_all: CombinedCount = Field(description="values at every answering node, withheld groups included")
    mean: float | None
    variance: float | None
    sd: float | None
    standard_error: float | None
    ci_lower: float | None
    ci_upper: float | None
    minimum: float | None = Field(default=None, description="only when every pooled node released it")
    maximum: float | None = None
    nodes: tuple[str, ...] = Field(description="nodes whose values are pooled")
    nodes_suppressed: tuple[str, ...] = ()


class CombinedSummary(_Frozen):
    """Means, variances, SDs and confidence intervals per variable and group, pooled exactly."""

    kind: Literal["summary"] = "summary"
    dimensions: tuple[str, ...]
    confidence: float
    rows: tuple[SummaryRow, ...]
    notes: tuple[str, ...] = ()

    def row(self, variable: str, *group: str) -> SummaryRow:
        """The row of ``variable`` in the group with these labels (none without dimensions)."""
        for r in self.rows:
            if r.variable == variable and r.group == group:
                return r
        raise KeyError(f"no summary of {variable!r} in group {list(group)}")

    def table(self) -> Any:
        """A pandas DataFrame: one row per variable and group (a column per dimension)."""
        rows = []
        for r in self.rows:
            row: dict[str, Any] = {"variable": r.variable}
            row.update(dict(zip(self.dimensions, r.group, strict=True)))
            row.update(r.model_dump(exclude={"variable", "group", "n_all", "nodes", "nodes_suppressed"}))
            row["n_all"] = r.n_all.display
            row["nodes_suppressed"] = ", ".join(r.nodes_suppressed)
            rows.append(row)
        return _frame(rows)


class BenefitGroupRow(_Frozen):
    """One group's WGS-benefit counts summed over the nodes, with yields where the counts are exact."""

    tumour_type: str
    group: str | None = None
    n: CombinedCount
    wgs_actionable: CombinedCount
    panel_actionable: CombinedCount
    wgs_only: CombinedCount
    not_actionable: CombinedCount
    wgs_only_sv_fusion: CombinedCount
    wgs_only_signature: CombinedCount
    wgs_only_germline: CombinedCount
    wgs_only_other: CombinedCount
    rank: int | None = Field(
        default=None, description="by incremental yield (mid-range when a range); None when unbounded"
    )
    wgs_yield: float | None = None
    panel_yield: float | None = None
    incremental_yield: float | None = Field(default=None, description="WGS-only / n")
    ci_lower: float | None = Field(default=None, description="95% Wilson interval of the incremental yield")
    ci_upper: float | None = None
    yield_lower: float | None = Field(
        default=None, description="bounds of the incremental yield when WGS-only is a range (n exact)"
    )
    yield_upper: float | None = None
    nodes: tuple[str, ...] = Field(default=(), description="nodes with patients in the group")

    @property
    def rank_key(self) -> float | None:
        """What the ranking sorts by: the incremental yield, or the middle of its bounds."""
        if self.incremental_yield is not None:
            return self.incremental_yield
        if self.yield_lower is not None and self.yield_upper is not None:
            return (self.yield_lower + self.yield_upper) / 2
        return None

    @property
    def label(self) -> str:
        """``SKCM`` or ``SKCM / stage IV``."""
        return f"{self.tumour_type} / {self.group}" if self.group else self.tumour_type


class CombinedWgsBenefit(_Frozen):
    """Which patient groups gain most from WGS over a panel, summed exactly over the nodes."""

    kind: Literal["wgs_benefit"] = "wgs_benefit"
    panel: str
    knowledge: tuple[str, ...] = Field(description="knowledge-base releases the nodes used")
    rows: tuple[BenefitGroupRow, ...] = Field(description="ranked rows first, then inexact ones")
    notes: tuple[str, ...] = ()

    def table(self) -> Any:
        """A pandas DataFrame: one row per group in rank order, counts as displayed."""
        rows = []
        for r in self.rows:
            row: dict[str, Any] = {"rank": r.rank, "tumour_type": r.tumour_type, "group": r.group}
            for name in (
                "n",
                "wgs_actionable",
                "panel_actionable",
                "wgs_only",
                "wgs_only_sv_fusion",
                "wgs_only_signature",
                "wgs_only_germline",
                "wgs_only_other",
            ):
                row[name] = getattr(r, name).display
            row.update(
                wgs_yield=r.wgs_yield,
                panel_yield=r.panel_yield,
                incremental_yield=r.incremental_yield,
                ci_lower=r.ci_lower,
                ci_upper=r.ci_upper,
                yield_lower=r.yield_lower,
                yield_upper=r.yield_upper,
            )
            rows.append(row)
        return _frame(rows)


CombinedResult = Annotated[
    CombinedCountResult
    | CombinedCrossTab
    | CombinedAlleleFrequencies
    | CombinedPopulationAlleleFrequencies
    | CombinedKaplanMeier
    | CombinedModelFit
    | CombinedSummary
    | CombinedWgsBenefit,
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

    def table(self) -> Any:
        """The combined result as a pandas DataFrame (raises when no node's answer could be combined)."""
        if self.combined is None:
            raise ValueError(f"no combined result: no node's answer could be used ({self.missing_reasons()})")
        return self.combined.table()

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
