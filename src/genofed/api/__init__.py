"""The node API's wire contract: study specifications, analysis requests, and the answers nodes give.

Shared by the node (which validates requests and builds answers) and the coordinator (which sends
requests and combines answers), so both sides speak one typed format.
"""

from ._analysis import (
    AgeBandDimension,
    AlleleFrequencyAnalysis,
    Analysis,
    AnalysisRequest,
    CountAnalysis,
    CrossTabAnalysis,
    Dimension,
    DisclosureRequest,
    GeneStatusDimension,
    SexDimension,
    Study,
    TumourTypeDimension,
    VariantRef,
    VitalStatusDimension,
)
from ._responses import (
    AlleleCounts,
    AlleleFrequencyResult,
    AnalysisResponse,
    AnalysisResult,
    CountResult,
    CrossTabResult,
    DisclosureStatement,
    Health,
    NodeIdentity,
    Problem,
    ProblemType,
    ServiceInfo,
    ServiceInfoOrganization,
    ServiceInfoType,
)

__all__ = [
    "AgeBandDimension",
    "AlleleCounts",
    "AlleleFrequencyAnalysis",
    "AlleleFrequencyResult",
    "Analysis",
    "AnalysisRequest",
    "AnalysisResponse",
    "AnalysisResult",
    "CountAnalysis",
    "CountResult",
    "CrossTabAnalysis",
    "CrossTabResult",
    "Dimension",
    "DisclosureRequest",
    "DisclosureStatement",
    "GeneStatusDimension",
    "Health",
    "NodeIdentity",
    "Problem",
    "ProblemType",
    "ServiceInfo",
    "ServiceInfoOrganization",
    "ServiceInfoType",
    "SexDimension",
    "Study",
    "TumourTypeDimension",
    "VariantRef",
    "VitalStatusDimension",
]
