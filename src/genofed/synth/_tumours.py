"""The three synthetic countries: their tumour-type mix, how they label a tumour, and their pipelines.

Each country draws patients from its own mix of tumour types (OncoTree codes), and each tumour
type draws its driver mutations from one IntOGen cohort:

- **NL** is modelled on the Hartwig Medical Foundation's metastatic WGS cohort (breast, colorectal,
  NSCLC, prostate, melanoma, ...), with drivers from IntOGen's ``HARTWIG_*`` cohorts; every patient
  has metastatic disease.
- **SE** is a Genomic Medicine Sweden solid-tumour mix of mostly primary disease, drivers from the
  ``TCGA_WXS_*`` cohorts.
- **DK** is a smaller mix with drivers from the PCAWG whole-genome cohorts.

A source never records OncoTree: SE writes a Swedish diagnosis text and an ICD-10 code, NL writes
Hartwig's English ``primaryTumorLocation``/``cancerSubtype``, DK writes a Danish SKS code (ICD-10
with a ``D`` prefix) and a Danish text. The mapping file maps those to OncoTree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "INTOGEN_CANCER_TYPES",
    "PROFILES",
    "Country",
    "CountryProfile",
    "TumourProfile",
    "profile",
]


class Country(StrEnum):
    """The synthetic countries."""

    SE = "SE"
    NL = "NL"
    DK = "DK"


#: IntOGen ``CANCER_TYPE`` codes of the cohorts used here → OncoTree codes.
INTOGEN_CANCER_TYPES: dict[str, str] = {
    "BLCA": "BLCA",
    "BRCA": "BRCA",
    "CH": "CHOL",
    "CM": "SKCM",
    "COREAD": "COADREAD",
    "ESCA": "ESCA",
    "GBM": "ADIFG",
    "HNSC": "HNSC",
    "LUAD": "LUAD",
    "LUSC": "LUSC",
    "NSCLC": "NSCLC",
    "OV": "HGSOC",
    "PAAD": "PAAD",
    "PRAD": "PRAD",
    "RCCC": "CCRCC",
    "ST": "STAD",
    "UCEC": "UCEC",
}


@dataclass(frozen=True, slots=True)
class TumourProfile:
    """One tumour type of a country's mix."""

    oncotree: str
    intogen_cohort: str
    weight: float  # relative share of the country's patients
    female: float  # probability that a patient is female
    age_mean: float
    age_sd: float
    median_os_days: float  # baseline median overall survival (no risk factors, age 65)
    passengers: float  # mean number of somatic passenger SNVs written per tumour
    label: str  # how the source names the primary tumour (location / diagnosis text)
    code: str | None = None  # the source's local code (ICD-10 in SE, SKS in DK), when it has one
    subtypes: tuple[str, ...] = ()  # NL cancerSubtype values (drawn uniformly)
    alternatives: tuple[tuple[str, str], ...] = ()  # other (label, code) pairs the source uses for it
    tissue: str = ""  # tissue of the primary, for the sample sheet


@dataclass(frozen=True, slots=True)
class CountryProfile:
    """Everything country-specific about a synthetic cohort."""

    country: Country
    tumours: tuple[TumourProfile, ...]
    metastatic: bool  # the cohort is of metastatic disease (biopsies of metastases)
    treated: float  # probability that a patient receives systemic therapy
    assay: str
    pipeline: str
    pipeline_version: str
    tumour_depth: float  # mean sequencing depth of tumour samples
    first_diagnosis: str  # ISO date: diagnoses fall between this and last_diagnosis
    last_diagnosis: str
    data_cut: str  # ISO date of the export: follow-up ends here


_NL = CountryProfile(
    country=Country.NL,
    metastatic=True,
    treated=0.95,
    assay="WGS",
    pipeline="hmftools",
    pipeline_version="5.34",
    tumour_depth=100.0,
    first_diagnosis="2016-01-01",
    last_diagnosis="2023-06-30",
    data_cut="2024-09-30",
    tumours=(
        TumourProfile(
            "BRCA",
            "HARTWIG_BREAST",
            0.17,
            0.99,
            56,
            11,
            1000,
            6,
            "Breast",
            subtypes=("ER-positive/HER2-negative", "Triple negative", "HER2-positive"),
            tissue="Breast",
        ),
        TumourProfile(
            "COADREAD",
            "HARTWIG_COLONRECTUM",
            0.18,
            0.42,
            63,
            10,
            900,
            8,
            "Colorectum",
            subtypes=("Adenocarcinoma",),
            tissue="Colorectum",
        ),
        TumourProfile(
            "NSCLC",
            "HARTWIG_LUNG_NON_SMALL_CELL",
            0.11,
            0.48,
            63,
            9,
            420,
            12,
            "Lung",
            subtypes=("Non-small cell carcinoma",),
            tissue="Lung",
        ),
        TumourProfile(
            "PRAD",
            "HARTWIG_PROSTATE",
            0.10,
            0.0,
            68,
            7,
            800,
            4,
            "Prostate",
            subtypes=("Adenocarcinoma",),
            tissue="Prostate",
        ),
        TumourProfile(
            "SKCM",
            "HARTWIG_SKIN_MELANOMA",
            0.09,
            0.42,
            60,
            13,
            600,
            14,
            "Skin",
            subtypes=("Melanoma",),
            tissue="Skin",
        ),
        TumourProfile(
            "BLCA",
            "HARTWIG_URINARY_TRACT",
            0.05,
            0.25,
            67,
            9,
            400,
            10,
            "Urinary tract",
            subtypes=("Urothelial carcinoma",),
            tissue="Bladder",
        ),
        TumourProfile(
            "HGSOC",
            "HARTWIG_OVARY",
            0.05,
            1.0,
            61,
            10,
            900,
            4,
            "Ovary",
            subtypes=("High grade serous carcinoma",),
            tissue="Ovary",
        ),
        TumourProfile(
            "PAAD",
            "HARTWIG_PANCREAS",
            0.04,
            0.48,
            63,
            9,
            220,
            4,
            "Pancreas",
            subtypes=("Ductal adenocarcinoma",),
            tissue="Pancreas",
        ),
        TumourProfile(
            "ESCA",
            "HARTWIG_ESOPHAGUS",
            0.04,
            0.2,
            64,
            9,
            330,
            8,
            "Esophagus",
            subtypes=("Adenocarcinoma",),
            tissue="Esophagus",
        ),
        TumourProfile(
            "UCEC",
            "HARTWIG_UTERUS_ENDOMETRIAL",
            0.03,
            1.0,
            65,
            9,
            600,
            8,
            "Uterus",
            subtypes=("Endometrioid carcinoma",),
            tissue="Uterus",
        ),
        TumourProfile(
            "CCRCC",
            "HARTWIG_KIDNEY_RENAL_CELL",
            0.03,
            0.33,
            62,
            10,
            900,
            4,
            "Kidney",
            subtypes=("Clear cell renal cell carcinoma",),
            tissue="Kidney",
        ),
        TumourProfile(
            "HNSC",
            "HARTWIG_HEAD_AND_NECK",
            0.03,
            0.3,
            62,
            10,
            350,
            8,
            "Head and neck",
            subtypes=("Squamous cell carcinoma",),
            tissue="Head and neck",
        ),
        TumourProfile(
            "STAD",
            "HARTWIG_STOMACH",
            0.02,
            0.35,
            63,
            11,
            330,
            6,
            "Stomach",
            subtypes=("Adenocarcinoma",),
            tissue="Stomach",
        ),
        TumourProfile(
            "ADIFG",
            "HARTWIG_NERVOUS_SYSTEM_GLIOBLASTOMA_MULTIFORME",
            0.02,
            0.4,
            58,
            12,
            400,
            4,
            "Nervous system",
            subtypes=("Glioblastoma multiforme",),
            tissue="Brain",
        ),
        TumourProfile(
            "CHOL",
            "HARTWIG_BILIARY",
            0.02,
            0.5,
            64,
            10,
            330,
            4,
            "Biliary",
            subtypes=("Cholangiocarcinoma",),
            tissue="Bile duct",
        ),
    ),
)

_SE = CountryProfile(
    country=Country.SE,
    metastatic=False,
    treated=0.7,
    assay="WGS",
    pipeline="BALSAMIC",
    pipeline_version="16.0.0",
    tumour_depth=90.0,
    first_diagnosis="2018-01-01",
    last_diagnosis="2024-03-31",
    data_cut="2025-03-31",
    tumours=(
        TumourProfile(
            "BRCA", "TCGA_WXS_BRCA", 0.18, 0.99, 61, 12, 4000, 4, "Bröstcancer", "C50.9", tissue="Bröst"
        ),
        TumourProfile(
            "COADREAD",
            "TCGA_WXS_COADREAD",
            0.16,
            0.46,
            69,
            11,
            2400,
            6,
            "Tjocktarmscancer",
            "C18.9",
            alternatives=(("Ändtarmscancer", "C20.9"),),
            tissue="Tarm",
        ),
        TumourProfile(
            "PRAD", "TCGA_WXS_PRAD", 0.14, 0.0, 70, 7, 4000, 3, "Prostatacancer", "C61.9", tissue="Prostata"
        ),
        TumourProfile(
            "LUAD",
            "TCGA_WXS_LUAD",
            0.11,
            0.53,
            69,
            9,
            900,
            12,
            "Lungcancer, adenokarcinom",
            "C34.9",
            tissue="Lunga",
        ),
        TumourProfile(
            "LUSC",
            "TCGA_WXS_LUSC",
            0.04,
            0.38,
            71,
            8,
            700,
            12,
            "Lungcancer, skivepitelcancer",
            "C34.9",
            tissue="Lunga",
        ),
        TumourProfile(
            "SKCM",
            "TCGA_WXS_SKCM",
            0.09,
            0.47,
            63,
            15,
            3000,
            14,
            "Malignt melanom i huden",
            "C43.9",
            tissue="Hud",
        ),
        TumourProfile(
            "UCEC",
            "TCGA_WXS_UCEC",
            0.05,
            1.0,
            68,
            10,
            3000,
            8,
            "Livmoderkroppscancer",
            "C54.1",
            tissue="Livmoder",
        ),
        TumourProfile(
            "BLCA",
            "TCGA_WXS_BLCA",
            0.05,
            0.26,
            72,
            9,
            1500,
            10,
            "Urinblåsecancer",
            "C67.9",
            tissue="Urinblåsa",
        ),
        TumourProfile(
            "HGSOC",
            "TCGA_WXS_OV",
            0.05,
            1.0,
            64,
            10,
            1400,
            4,
            "Äggstockscancer, höggradig serös",
            "C56.9",
            tissue="Äggstock",
        ),
        TumourProfile(
            "CCRCC",
            "TCGA_WXS_KIRC",
            0.05,
            0.36,
            66,
            11,
            3000,
            4,
            "Njurcancer, klarcellig",
            "C64.9",
            tissue="Njure",
        ),
        TumourProfile(
            "PAAD",
            "TCGA_WXS_PAAD",
            0.04,
            0.5,
            70,
            9,
            300,
            4,
            "Bukspottkörtelcancer",
            "C25.9",
            tissue="Bukspottkörtel",
        ),
        TumourProfile(
            "ADIFG",
            "TCGA_WXS_GBM",
            0.04,
            0.4,
            60,
            13,
            450,
            4,
            "Diffust gliom",
            "C71.9",
            alternatives=(("Glioblastom", "C71.9"),),
            tissue="Hjärna",
        ),
    ),
)

_DK = CountryProfile(
    country=Country.DK,
    metastatic=False,
    treated=0.65,
    assay="WGS",
    pipeline="nf-core/sarek",
    pipeline_version="3.4.2",
    tumour_depth=80.0,
    first_diagnosis="2019-01-01",
    last_diagnosis="2024-06-30",
    data_cut="2025-06-30",
    tumours=(
        TumourProfile(
            "COADREAD",
            "PCAWG_WGS_COLORECT_ADENOCA",
            0.26,
            0.45,
            70,
            10,
            2400,
            6,
            "Tyktarmskræft",
            "DC189",
            alternatives=(("Endetarmskræft", "DC209"),),
            tissue="Tarm",
        ),
        TumourProfile(
            "BRCA",
            "PCAWG_WGS_BREAST_ADENOCA",
            0.22,
            0.99,
            62,
            12,
            4000,
            4,
            "Brystkræft",
            "DC509",
            tissue="Bryst",
        ),
        TumourProfile(
            "LUAD",
            "PCAWG_WGS_LUNG_ADENOCA",
            0.18,
            0.52,
            69,
            9,
            900,
            12,
            "Lungekræft, adenokarcinom",
            "DC349",
            tissue="Lunge",
        ),
        TumourProfile(
            "PRAD",
            "PCAWG_WGS_PROST_ADENOCA",
            0.14,
            0.0,
            69,
            7,
            4000,
            3,
            "Prostatakræft",
            "DC619",
            tissue="Prostata",
        ),
        TumourProfile(
            "SKCM",
            "PCAWG_WGS_SKIN_MELANOMA",
            0.12,
            0.48,
            62,
            15,
            3000,
            14,
            "Modermærkekræft",
            "DC439",
            tissue="Hud",
        ),
        TumourProfile(
            "HGSOC",
            "PCAWG_WGS_OVARY_ADENOCA",
            0.08,
            1.0,
            64,
            10,
            1400,
            4,
            "Æggestokkræft",
            "DC569",
            tissue="Æggestok",
        ),
    ),
)

PROFILES: dict[Country, CountryProfile] = {p.country: p for p in (_SE, _NL, _DK)}


def profile(country: Country | str) -> CountryProfile:
    """The profile of a country; raises ValueError naming the countries that exist."""
    try:
        return PROFILES[Country(str(country).upper())]
    except ValueError:
        known = ", ".join(c.value for c in Country)
        raise ValueError(f"unknown country {country!r}; synthetic countries are {known}") from None
