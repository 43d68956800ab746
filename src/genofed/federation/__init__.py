"""The coordinator: ask every national node one question and combine the answers exactly.

:class:`Federation` (``Federation.from_registry("nodes.yaml", token=passport)``) fans a question out
to the nodes of a :class:`Registry` concurrently, with a time budget and bounded retries per node,
validates every answer against the node API's contract (:mod:`genofed.api`), and combines the answered
nodes' released numbers as intervals (:func:`combine_counts` and friends). A
:class:`FederatedAnswer` lists each node's :class:`NodeOutcome` and contribution, the combined result,
and the nodes that did not contribute and why; :func:`render_report` turns a study's
:class:`StudyResult` into a self-contained HTML page.
"""

from ._answer import (
    BenefitGroupRow,
    Coefficient,
    CombinedAlleleFrequencies,
    CombinedAlleleFrequency,
    CombinedCount,
    CombinedCountResult,
    CombinedCrossTab,
    CombinedKaplanMeier,
    CombinedModelFit,
    CombinedPopulationAlleleFrequencies,
    CombinedResult,
    CombinedSummary,
    CombinedWgsBenefit,
    FederatedAnswer,
    KaplanMeierCurve,
    KaplanMeierPoint,
    NodeOutcome,
    OutcomeStatus,
    PopulationFrequency,
    RefusalKind,
    StudyResult,
    SummaryRow,
)
from ._api import Federation, Progress
from ._beacon import BeaconNodeAnswer, beacon_network_query, beacon_network_query_async
from ._client import MAX_ANSWER_BYTES, FanOut, Token, Transport
from ._combine import (
    combine,
    combine_allele_frequencies,
    combine_counts,
    combine_crosstabs,
    combined_count,
    disclosure_effects,
)
from ._combine_benefit import combine_wgs_benefit
from ._combine_summary import combine_population_frequencies, combine_summary
from ._iterative import ask_statistics, combine_kaplan_meier, describe_statistics
from ._proficiency import (
    HomogeneityTest,
    LabMetrics,
    ProficiencyComparison,
    compare_proficiency,
    proficiency_lab_rows,
    proficiency_svg,
    proficiency_test_rows,
    render_proficiency,
    write_proficiency,
)
from ._registry import NodeEntry, Registry
from ._report import render_report, write_report
from ._report_benefit import benefit_chart, benefit_rows
from ._spec import load_study, parse_study

__all__ = [
    "MAX_ANSWER_BYTES",
    "BeaconNodeAnswer",
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
    "FanOut",
    "FederatedAnswer",
    "Federation",
    "HomogeneityTest",
    "KaplanMeierCurve",
    "KaplanMeierPoint",
    "LabMetrics",
    "NodeEntry",
    "NodeOutcome",
    "OutcomeStatus",
    "PopulationFrequency",
    "ProficiencyComparison",
    "Progress",
    "RefusalKind",
    "Registry",
    "StudyResult",
    "SummaryRow",
    "Token",
    "Transport",
    "ask_statistics",
    "beacon_network_query",
    "beacon_network_query_async",
    "benefit_chart",
    "benefit_rows",
    "combine",
    "combine_allele_frequencies",
    "combine_counts",
    "combine_crosstabs",
    "combine_kaplan_meier",
    "combine_population_frequencies",
    "combine_summary",
    "combine_wgs_benefit",
    "combined_count",
    "compare_proficiency",
    "describe_statistics",
    "disclosure_effects",
    "load_study",
    "parse_study",
    "proficiency_lab_rows",
    "proficiency_svg",
    "proficiency_test_rows",
    "render_proficiency",
    "render_report",
    "write_proficiency",
    "write_report",
]
