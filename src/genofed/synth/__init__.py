"""Realistic synthetic national cancer cohorts for demos, tests and benchmarks."""

from ._chunks import cohort_chunks
from ._cohort import Cohort, synthesise
from ._tumours import Country
from ._writers import SynthManifest, write_cohort

__all__ = ["Cohort", "Country", "SynthManifest", "cohort_chunks", "synthesise", "write_cohort"]
