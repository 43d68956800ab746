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
    Coefficient,
    CombinedAlleleFrequencies,
    CombinedAlleleFrequency,
    CombinedCount,
    CombinedCountResult,
    CombinedCrossTab,
    CombinedKaplanMeier,
    CombinedModelFit,
    CombinedResult,
    FederatedAnswer,
    KaplanMeierCurve,
    KaplanMeierPoint,
    NodeOutcome,
    OutcomeStatus,
    RefusalKind,
    StudyResult,
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
from ._iterative import ask_statistics, combine_kaplan_meier, describe_statistics
from ._registry import NodeEntry, Registry
from ._report import render_report, write_report
from ._spec import load_study, parse_study

__all__ = [
    "MAX_ANSWER_BYTES",
    "BeaconNodeAnswer",
    "Coefficient",
    "CombinedAlleleFrequencies",
    "CombinedAlleleFrequency",
    "CombinedCount",
    "CombinedCountResult",
    "CombinedCrossTab",
    "CombinedKaplanMeier",
    "CombinedModelFit",
    "CombinedResult",
    "FanOut",
    "FederatedAnswer",
    "Federation",
    "KaplanMeierCurve",
    "KaplanMeierPoint",
    "NodeEntry",
    "NodeOutcome",
    "OutcomeStatus",
    "Progress",
    "RefusalKind",
    "Registry",
    "StudyResult",
    "Token",
    "Transport",
    "ask_statistics",
    "beacon_network_query",
    "beacon_network_query_async",
    "combine",
    "combine_allele_frequencies",
    "combine_counts",
    "combine_crosstabs",
    "combine_kaplan_meier",
    "combined_count",
    "describe_statistics",
    "disclosure_effects",
    "load_study",
    "parse_study",
    "render_report",
    "write_report",
]
