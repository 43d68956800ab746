"""The wire contract of proficiency testing: each node benchmarks its own calls of a reference sample.

Every lab sequences the same reference material (a cell line such as NA12878/HG002, or the demo's
synthetic one) and holds the public truth set for it. The coordinator asks each node to benchmark
its stored calls of that sample against the named truth set (:func:`genofed.qa.benchmark`, inside
the node) and gets back only hap.py's integer counts per Type × Subset × Filter -- no VCF and no call
leaves a node. The coordinator then compares the labs (:mod:`genofed.federation`).

The counts describe a reference sample, not a person: a node answers only for samples its operator
lists under ``proficiency.reference_samples`` and refuses any other, so no patient is benchmarked.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ProficiencyAnalysis", "ProficiencyResult", "ProficiencyRow"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProficiencyAnalysis(_Wire):
    """Benchmark the node's calls of a listed reference sample against a truth set it holds."""

    kind: Literal["proficiency"] = "proficiency"
    truth_set: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="the truth set's name in every node's settings (proficiency.truth_sets)",
    )
    sample: str = Field(
        min_length=1,
        max_length=200,
        description="the reference sample's source id, as the lab's files name it (e.g. NA12878)",
    )
    analysis: str | None = Field(
        default=None,
        max_length=200,
        description="the source id of the analysis (sequencing run) to benchmark, when the node holds "
        "several of the sample",
    )
    stratified: bool = Field(
        default=False, description="also one row per stratum of the truth set's stratification"
    )


class ProficiencyRow(_Wire):
    """hap.py's counts of one Type × Subset × Filter (``Subtype`` and ``Genotype`` are ``*``).

    Field names map to hap.py's columns: ``truth_total`` = TRUTH.TOTAL, ``truth_tp`` = TRUTH.TP,
    ``truth_fn`` = TRUTH.FN, ``query_total`` = QUERY.TOTAL, ``query_tp`` = QUERY.TP, ``query_fp`` =
    QUERY.FP, ``query_unk`` = QUERY.UNK, ``fp_gt`` = FP.gt.
    """

    type: Literal["SNP", "INDEL"]
    subset: str = Field(description="'*' (all confident regions) or a stratum's name")
    filter: Literal["ALL", "PASS"]
    truth_total: int = Field(ge=0)
    truth_tp: int = Field(ge=0)
    truth_fn: int = Field(ge=0)
    query_total: int = Field(ge=0)
    query_tp: int = Field(ge=0)
    query_fp: int = Field(ge=0)
    query_unk: int = Field(ge=0)
    fp_gt: int = Field(ge=0, description="false positives with the right alleles but the wrong genotype")


class ProficiencyResult(_Wire):
    """A node's benchmark counts of its calls of the reference sample."""

    kind: Literal["proficiency"] = "proficiency"
    truth_set: str
    truth_digest: str = Field(
        description="SHA-256 of the truth set's files (VCF, regions, strata), so that the coordinator "
        "sees whether every lab compared against the same truth"
    )
    pipeline: str | None = Field(default=None, description="the pipeline (and version) that made the calls")
    rows: tuple[ProficiencyRow, ...]
