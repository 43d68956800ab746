"""What a node answers: one explicit model per result, each the disclosure boundary of its endpoint.

Nothing leaves a node but these models: released numbers (:class:`~genofed.privacy.ReleasedCount`,
:class:`~genofed.privacy.ProtectedTable`), the node's identity, and a statement of the disclosure
control that was applied. Errors are RFC 9457 problem details (:class:`Problem`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from genofed.privacy import BudgetStatement, ProtectedTable, ReleasedCount

from ._analysis import VariantRef
from ._benefit import WgsBenefitResult
from ._proficiency import ProficiencyResult
from ._stats import KaplanMeierCounts, ScoreInformation
from ._summary import PopulationAlleleFrequencyResult, SummaryResult

__all__ = [
    "AlleleCounts",
    "AlleleFrequencyResult",
    "AnalysisResponse",
    "AnalysisResult",
    "CountResult",
    "CrossTabResult",
    "DisclosureStatement",
    "Health",
    "NodeIdentity",
    "Problem",
    "ProblemType",
    "ServiceInfo",
    "ServiceInfoOrganization",
    "ServiceInfoType",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeIdentity(_Wire):
    """Which node answered."""

    node_id: str
    country: str = Field(description="ISO 3166-1 alpha-2 code of the node's jurisdiction")
    name: str


class DisclosureStatement(_Wire):
    """The disclosure control applied to an answer (the node's policy, tightened by the request)."""

    min_cell_count: int
    rounding_base: int
    secondary_suppression: bool
    differential_privacy: bool
    applied: tuple[str, ...] = Field(description="what was done to this answer, in words")
    budget: BudgetStatement | None = Field(default=None, description="privacy budget spent and left")


class CountResult(_Wire):
    """The size of the cohort at this node."""

    kind: Literal["count"] = "count"
    count: ReleasedCount


class CrossTabResult(_Wire):
    """A protected table with its labels."""

    kind: Literal["crosstab"] = "crosstab"
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    table: ProtectedTable


class AlleleCounts(_Wire):
    """Allele count and allele number of one allele among the cohort's individuals."""

    variant: VariantRef
    allele_count: ReleasedCount
    allele_number: ReleasedCount


class AlleleFrequencyResult(_Wire):
    """Allele counts per requested allele."""

    kind: Literal["allele_frequency"] = "allele_frequency"
    alleles: tuple[AlleleCounts, ...]


AnalysisResult = Annotated[
    CountResult
    | CrossTabResult
    | AlleleFrequencyResult
    | KaplanMeierCounts
    | ScoreInformation
    | SummaryResult
    | PopulationAlleleFrequencyResult
    | WgsBenefitResult
    | ProficiencyResult,
    Field(discriminator="kind"),
]


class AnalysisResponse(_Wire):
    """A node's answer to ``POST /analyses``."""

    node: NodeIdentity
    request_id: str = Field(description="the audit log's id of this request")
    study: str
    result: AnalysisResult
    disclosure: DisclosureStatement


PROBLEM_BASE = "https://genofed.org/problems/"


class ProblemType(StrEnum):
    """The ``type`` URIs of the problems a node returns, one per kind of failure."""

    INVALID_QUERY = PROBLEM_BASE + "invalid-query"  # 400: the study spec is well-formed but wrong
    UNAUTHENTICATED = PROBLEM_BASE + "unauthenticated"  # 401: no passport, or it does not verify
    FORBIDDEN = PROBLEM_BASE + "forbidden"  # 403: verified, but the access level is too low
    DISCLOSURE_REFUSED = PROBLEM_BASE + "disclosure-refused"  # 403: the disclosure policy refuses
    NOT_FOUND = PROBLEM_BASE + "not-found"  # 404: no such dataset (or path) at this node
    PAYLOAD_TOO_LARGE = PROBLEM_BASE + "payload-too-large"  # 413: the request body is over the limit
    INVALID_REQUEST = PROBLEM_BASE + "invalid-request"  # 422: malformed JSON, unknown or missing fields
    INTERNAL_ERROR = PROBLEM_BASE + "internal-error"  # 500: a fault of the node (no details given)
    STORE_UNAVAILABLE = PROBLEM_BASE + "store-unavailable"  # 503: the node's store cannot answer now
    HTTP = "about:blank"  # any other HTTP status (405 method not allowed, ...), per RFC 9457


class Problem(_Wire):
    """RFC 9457 problem details, as every node error is returned."""

    type: str = Field(
        description="URI of the problem type, e.g. https://genofed.org/problems/disclosure-refused"
    )
    title: str
    status: int
    detail: str
    instance: str | None = None


class Health(_Wire):
    """``GET /health``: the node is up and its store answers."""

    status: Literal["ok"] = "ok"
    node_id: str
    version: str


class ServiceInfoType(_Wire):
    """GA4GH service-info ``type``: what kind of service this is."""

    group: str = "org.genofed"
    artifact: str = "genofed-node"
    version: str = "1.0.0"


class ServiceInfoOrganization(_Wire):
    """GA4GH service-info ``organization``: who runs the service."""

    name: str
    url: str


class ServiceInfo(_Wire):
    """GA4GH service-info (v1.0) of a node, with the node's country and datasets."""

    id: str
    name: str
    type: ServiceInfoType = Field(default_factory=ServiceInfoType)
    description: str
    organization: ServiceInfoOrganization
    version: str
    environment: str = "production"
    country: str
    datasets: tuple[str, ...]
