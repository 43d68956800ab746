"""Controlled vocabularies of the common data model, as enums (never magic strings)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Assay",
    "Origin",
    "Recist",
    "Sex",
    "SpecimenType",
    "VitalStatus",
    "Zygosity",
]


class Sex(StrEnum):
    """Sex as recorded by the source (Phenopackets/Beacon vocabulary)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class VitalStatus(StrEnum):
    """Vital status at last follow-up."""

    ALIVE = "alive"
    DECEASED = "deceased"
    UNKNOWN = "unknown"


class Assay(StrEnum):
    """Sequencing assay of an analysis."""

    WGS = "WGS"
    WES = "WES"
    PANEL = "PANEL"
    RNA = "RNA"


class SpecimenType(StrEnum):
    """What a specimen is, for pairing tumour and normal."""

    TUMOUR = "tumour"
    NORMAL = "normal"
    GERMLINE = "germline"


class Origin(StrEnum):
    """Whether a call is inherited or acquired."""

    GERMLINE = "germline"
    SOMATIC = "somatic"


class Zygosity(StrEnum):
    """Zygosity of a non-reference call, from its genotype."""

    HETEROZYGOUS = "het"
    HOMOZYGOUS = "hom"
    HEMIZYGOUS = "hemi"
    UNKNOWN = "unknown"


class Recist(StrEnum):
    """RECIST 1.1 best overall response."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
