"""Exact federated statistics: node-side aggregates and their coordinator-side combination.

Every method comes in two halves with one signature shape. A *node* function takes the node's
arrays (and, for model fits, the β it was sent), then keyword-only options, the node's limits and
its minimum cell count; it checks the disclosure rules first and returns a small frozen aggregate
(sums, counts) or raises :class:`~genofed.errors.DisclosureError` with nothing computed. A
*coordinator* function takes those aggregates (or a callable that gathers them for a β) and
returns the pooled result, equal to the same analysis of the pooled rows:

* GLM (gaussian, binomial/logit, poisson/log with offset): :func:`glm_node_step`,
  :func:`glm_update`, :func:`fit_glm`;
* Cox proportional hazards stratified by node (Breslow or Efron ties): :func:`cox_node_step`,
  :func:`fit_cox`;
* Kaplan–Meier on a public grid and the log-rank test: :func:`km_node_counts`,
  :func:`combine_km`, :func:`logrank_test`;
* means and variances per group: :func:`summary_node_stats`, :func:`combine_summaries`,
  :func:`mean_interval`, :func:`welch_t_test`;
* the refusal rules themselves: :func:`check_model_release`, :func:`check_group_sizes`.
"""

from ._cox import CoxNodeStep, CoxResult, Ties, cox_node_step, fit_cox
from ._disclosure import check_group_sizes, check_model_release
from ._glm import Family, GlmNodeStep, GlmResult, fit_glm, glm_node_step, glm_update
from ._km import (
    KmConfidence,
    KmCurve,
    KmNodeCounts,
    KmResult,
    LogRankResult,
    combine_km,
    km_node_counts,
    logrank_test,
)
from ._summaries import (
    GroupSummary,
    SummaryNodeStats,
    WelchTest,
    combine_summaries,
    mean_interval,
    summary_node_stats,
    welch_t_test,
)

__all__ = [
    "CoxNodeStep",
    "CoxResult",
    "Family",
    "GlmNodeStep",
    "GlmResult",
    "GroupSummary",
    "KmConfidence",
    "KmCurve",
    "KmNodeCounts",
    "KmResult",
    "LogRankResult",
    "SummaryNodeStats",
    "Ties",
    "WelchTest",
    "check_group_sizes",
    "check_model_release",
    "combine_km",
    "combine_summaries",
    "cox_node_step",
    "fit_cox",
    "fit_glm",
    "glm_node_step",
    "glm_update",
    "km_node_counts",
    "logrank_test",
    "mean_interval",
    "summary_node_stats",
    "welch_t_test",
]
