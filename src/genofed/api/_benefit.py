"""The wire contract of the federated WGS-benefit analysis (decision support over a cohort).

Each node matches its cohort's genomes to its knowledge base, emulates the named panel on the same
genomes, and releases per tumour type (and optional second grouping) a small count table: patients
with a tier I/II finding the panel also detects, with one only WGS detects, and without one. The
coordinator sums the tables exactly and ranks the groups by incremental yield (WGS-only / n).
Counts pass the node's disclosure policy group by group (primary and secondary suppression);
the WGS-only class counts are subsets of the WGS-only count and are withheld when they, or what
is left of the WGS-only count beside them, are 1..k-1.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from genofed.privacy import ReleasedCount

__all__ = ["BENEFIT_GROUPINGS", "BenefitCell", "WgsBenefitAnalysis", "WgsBenefitResult"]

#: Second groupings a study may ask for (besides the tumour type, always a grouping).
BENEFIT_GROUPINGS = ("sex", "stage", "metastatic", "age_band")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WgsBenefitAnalysis(_Wire):
    """Which patient groups gain most from WGS over a panel emulated on the same genomes."""

    kind: Literal["wgs_benefit"] = "wgs_benefit"
    panel: str = Field(
        default="hotspot50",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="a panel every node holds by name (packaged: hotspot50, gms560)",
    )
    level: Literal["tumour_type", "tissue"] = Field(
        default="tumour_type",
        description="group by the patient's OncoTree code, or by its tissue (level-1 node: BOWEL, LUNG, ...)",
    )
    group_by: Literal["sex", "stage", "metastatic", "age_band"] | None = Field(
        default=None, description="a second grouping beside the tumour type"
    )
    as_of: dt.date | None = Field(
        default=None, description="use knowledge-base releases on or before this date (reproducible)"
    )


class BenefitCell(_Wire):
    """One group's released counts at one node."""

    tumour_type: str
    group: str | None = None
    n: ReleasedCount = Field(description="sequenced patients in the group")
    panel_actionable: ReleasedCount = Field(description="with a tier I/II finding the panel detects")
    wgs_only: ReleasedCount = Field(description="with tier I/II findings only WGS detects")
    not_actionable: ReleasedCount = Field(description="without a tier I/II finding")
    wgs_only_sv_fusion: ReleasedCount
    wgs_only_signature: ReleasedCount
    wgs_only_germline: ReleasedCount
    wgs_only_other: ReleasedCount


class WgsBenefitResult(_Wire):
    """A node's WGS-benefit counts, with the knowledge and panel they were computed with."""

    kind: Literal["wgs_benefit"] = "wgs_benefit"
    panel: str
    knowledge: tuple[str, ...] = Field(description="knowledge-base releases used: 'source release'")
    cells: tuple[BenefitCell, ...]
