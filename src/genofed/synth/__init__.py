"""Realistic synthetic national cancer cohorts for demos, tests and benchmarks.

:func:`synthesise` draws a cohort; writers put it in the formats national programmes produce:
:func:`write_cohort` (VCFs + sample sheets + clinical tables + mapping), :func:`write_gms_cohort`
(GMS case folders), :func:`write_hartwig_cohort` (Hartwig OncoAnalyser sample folders and data-request
tables), :func:`write_phenopacket_cohort` (Phenopackets v2 + VCFs). :func:`cohort_chunks` yields model
tables directly, fast, for benchmarks.
"""

from ._chunks import cohort_chunks
from ._cohort import Cohort, synthesise
from ._gms import GmsCohortManifest, write_gms_cohort
from ._hartwig import HartwigCohortManifest, write_hartwig_cohort
from ._phenopackets import PhenopacketManifest, write_phenopacket_cohort
from ._proficiency import LabProfile, ProficiencySet, write_proficiency_set
from ._tumours import Country
from ._writers import SynthManifest, write_cohort

__all__ = [
    "Cohort",
    "Country",
    "GmsCohortManifest",
    "HartwigCohortManifest",
    "LabProfile",
    "PhenopacketManifest",
    "ProficiencySet",
    "SynthManifest",
    "cohort_chunks",
    "synthesise",
    "write_cohort",
    "write_gms_cohort",
    "write_hartwig_cohort",
    "write_phenopacket_cohort",
    "write_proficiency_set",
]
