"""Sample QC under the node's policy: which analyses are fit to be counted, flagged in the store.

The policy (``sample_qc:`` in the node settings) sets thresholds on what the pipelines report per
analysis -- mean coverage, tumour purity, contamination and the caller's own QC verdict (PURPLE's
``PASS`` / ``WARN_*`` / ``FAIL_*``). :func:`flag_samples` evaluates every live analysis and writes the
verdicts as one ``sample_qc`` batch that replaces the previous one; the store's default views then leave
the failing analyses out of every analysis the node answers (see `genofed.store.NodeStore`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from genofed.model import SampleQc, arrow_schema
from genofed.store import NodeStore

__all__ = ["SampleQcPolicy", "SampleQcSummary", "evaluate_sample_qc", "flag_samples"]

SAMPLE_QC_KEY = "sample-qc"


class SampleQcPolicy(BaseModel):
    """Thresholds an analysis must meet to be used; an unset threshold is not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_mean_coverage: float | None = Field(default=None, ge=0, description="minimum mean depth")
    min_purity: float | None = Field(
        default=None, ge=0, le=1, description="minimum tumour purity (somatic analyses with a PURITY value)"
    )
    max_contamination: float | None = Field(default=None, ge=0, le=1, description="maximum contamination")
    failing_statuses: tuple[str, ...] = Field(
        default=("FAIL",),
        description="a pipeline QC status with a part starting with one of these fails (PURPLE: FAIL_*)",
    )
    missing: Literal["pass", "fail"] = Field(
        default="pass", description="what a checked metric the analysis does not report counts as"
    )

    def describe(self) -> str:
        """The thresholds as one line of text, stored beside every verdict."""
        parts = [
            f"{name}={value}"
            for name, value in self.model_dump().items()
            if value is not None and name not in ("failing_statuses", "missing")
        ]
        parts.append(f"failing_statuses={','.join(self.failing_statuses) or '-'}")
        parts.append(f"missing={self.missing}")
        return "; ".join(parts)

    def reasons(
        self,
        *,
        coverage: float | None,
        purity: float | None,
        contamination: float | None,
        status: str | None,
        somatic: bool,
    ) -> list[tuple[str, str]]:
        """Why an analysis with these metrics fails, as (metric, words) pairs (empty: it passes)."""
        found: list[tuple[str, str]] = []

        def check(name: str, value: float | None, limit: float | None, fails: bool, words: str) -> None:
            if limit is None:
                return
            if value is None:
                if self.missing == "fail":
                    found.append((name, f"{name} not reported"))
            elif fails:
                found.append((name, f"{name} {value:g} {words} {limit:g}"))

        check(
            "mean coverage",
            coverage,
            self.min_mean_coverage,
            coverage is not None and self.min_mean_coverage is not None and coverage < self.min_mean_coverage,
            "below",
        )
        if somatic:
            check(
                "purity",
                purity,
                self.min_purity,
                purity is not None and self.min_purity is not None and purity < self.min_purity,
                "below",
            )
        check(
            "contamination",
            contamination,
            self.max_contamination,
            contamination is not None
            and self.max_contamination is not None
            and contamination > self.max_contamination,
            "above",
        )
        if status:
            parts = [p.strip() for p in status.replace(";", ",").split(",") if p.strip()]
            failing = [
                p for p in parts if any(p.upper().startswith(f.upper()) for f in self.failing_statuses)
            ]
            if failing:
                found.append(("pipeline QC status", f"pipeline QC status {','.join(failing)}"))
        return found


@dataclass(frozen=True, slots=True)
class SampleQcSummary:
    """What a flagging run decided."""

    analyses: int
    failed: int
    reasons: tuple[tuple[str, int], ...]  # reason kind, analyses failing for it

    @property
    def passed(self) -> int:
        """Analyses that meet every threshold."""
        return self.analyses - self.failed


# An analysis may be listed by several batches (its calls from a VCF, its metrics from a QC file):
# its metrics are the ones any batch gives.
_METRICS_SQL = """
    SELECT a.individual_id, a.analysis_id, max(a.mean_coverage) AS mean_coverage,
           max(a.contamination) AS contamination, string_agg(DISTINCT a.qc_status, ',') AS qc_status,
           bool_or(a.origin = 'somatic') AS somatic, max(p.purity) AS purity
    FROM analyses AS a
    LEFT JOIN (
        SELECT analysis_id, max(value) AS purity FROM biomarkers WHERE upper(name) = 'PURITY'
        GROUP BY analysis_id
    ) AS p ON p.analysis_id = a.analysis_id
    GROUP BY a.individual_id, a.analysis_id
    ORDER BY a.analysis_id
"""


REFERENCE_MATERIAL = "reference material (proficiency testing), not a patient"


def evaluate_sample_qc(
    store: NodeStore, policy: SampleQcPolicy, *, reference: Iterable[str] = ()
) -> tuple[pa.Table, SampleQcSummary]:
    """The verdict on every live analysis, as ``sample_qc`` rows (pseudonymous ids), and a summary.

    Every analysis is judged, including those an earlier verdict excluded. Analyses of the
    ``reference`` individuals (pseudonyms of cell lines sequenced for proficiency testing) are set
    apart whatever their metrics: they are not patients and must not enter cohort answers.
    """
    reference = frozenset(reference)
    with store.including_failed_qc():
        metrics = store.execute(_METRICS_SQL).to_pylist()
    rows = []
    kinds: dict[str, int] = {}
    described = policy.describe()
    for row in metrics:
        reasons = policy.reasons(
            coverage=row["mean_coverage"],
            purity=row["purity"],
            contamination=row["contamination"],
            status=row["qc_status"],
            somatic=bool(row["somatic"]),
        )
        if row["individual_id"] in reference:
            reasons.append(("reference material", REFERENCE_MATERIAL))
        for kind in {kind for kind, _ in reasons}:
            kinds[kind] = kinds.get(kind, 0) + 1
        rows.append(
            {
                "individual_id": row["individual_id"],
                "analysis_id": row["analysis_id"],
                "passed": not reasons,
                "reasons": "; ".join(words for _, words in reasons) or None,
                "policy": described,
            }
        )
    failed = sum(1 for row in rows if not row["passed"])
    summary = SampleQcSummary(analyses=len(rows), failed=failed, reasons=tuple(sorted(kinds.items())))
    return pa.Table.from_pylist(rows, schema=arrow_schema(SampleQc)), summary


def flag_samples(
    store: NodeStore, policy: SampleQcPolicy, *, reference: Iterable[str] = ()
) -> SampleQcSummary:
    """Judge every analysis and publish the verdicts, replacing the previous ones (one atomic batch).

    ``reference``: pseudonyms of reference-material individuals, set apart (see :func:`evaluate_sample_qc`).
    """
    verdicts, summary = evaluate_sample_qc(store, policy, reference=reference)
    store.write_stream(
        [("sample_qc", verdicts)],
        kind="sample-qc",
        source="sample QC policy",
        key=SAMPLE_QC_KEY,
        derived=True,
    )
    return summary
