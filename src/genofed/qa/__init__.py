"""Validation of genetic analyses: small-variant benchmarking against truth sets (hap.py/som.py-like).

``benchmark(truth, query, reference=..., regions=..., strata=...)`` compares two call sets after
normalisation with exact and haplotype-aware matching and returns hap.py-compatible counts and
metrics. Call sets come from VCFs or from Arrow tables in the store's ``variant_calls`` shape, so a
node can benchmark its stored calls without a VCF leaving it.

Sample QC: ``flag_samples(store, SampleQcPolicy(...))`` judges every analysis against the node's
thresholds and stores the verdicts; the store then leaves failing analyses out of every analysis.
"""

from ._bench import BenchmarkResult, benchmark
from ._callset import CallSet, InvalidRecords
from ._match import Level
from ._metrics import jeffreys_interval
from ._reference import Reference
from ._regions import Regions, read_stratification
from ._report import EXTENDED_COLUMNS, SUMMARY_COLUMNS, write_csv, write_json
from ._sample_qc import SampleQcPolicy, SampleQcSummary, evaluate_sample_qc, flag_samples

__all__ = [
    "EXTENDED_COLUMNS",
    "SUMMARY_COLUMNS",
    "BenchmarkResult",
    "CallSet",
    "InvalidRecords",
    "Level",
    "Reference",
    "Regions",
    "SampleQcPolicy",
    "SampleQcSummary",
    "benchmark",
    "evaluate_sample_qc",
    "flag_samples",
    "jeffreys_interval",
    "read_stratification",
    "write_csv",
    "write_json",
]
