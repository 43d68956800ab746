"""Treatments, RECIST responses and overall survival that depend on a patient's mutations.

The model is deliberately simple and fully documented, so an analysis of a synthetic cohort can be
checked against what was put in.

**Treatments.** A treated patient gets up to three lines of systemic therapy. Each line's regimen is
drawn among the tumour type's options for that line, weighted, where an option may *require* a
molecular feature (``BRAF_V600`` for BRAF/MEK inhibitors, ``EGFR_ACTIVATING`` for osimertinib,
``RAS_WT`` for anti-EGFR antibodies, ``KRAS_G12C`` for sotorasib, ``PIK3CA`` for alpelisib, ``BRCA``
for olaparib). A regimen is *matched* when its target feature is present. Line 1 starts 14--45 days
after diagnosis; each further line follows the end of the previous one with probability 0.75 (line
2) and 0.5 (line 3) while the patient is alive and followed up. A line that is running at the last
contact has no end date.

**Responses.** Each line has one best overall response (RECIST 1.1), assessed 49--84 days after it
starts when the patient is still followed then, with these probabilities (CR, PR, SD, PD):

==============================  =====  =====  =====  =====
therapy                         CR     PR     SD     PD
==============================  =====  =====  =====  =====
matched targeted therapy        0.12   0.56   0.22   0.10
immunotherapy                   0.07   0.25   0.28   0.40
chemotherapy                    0.04   0.30   0.36   0.30
hormonal therapy                0.03   0.27   0.45   0.25
==============================  =====  =====  =====  =====

Lines after the first keep 70 % of the CR and PR probability (the rest moves to PD). The time on a
line depends on its response (CR/PR: 180 + Exp(300) days, SD: 90 + Exp(120), PD: 42 + Exp(30)).

**Overall survival** (days from diagnosis) is a proportional-hazards Weibull model,
``S(t) = exp(-(t / scale)^k * HR)`` with shape ``k =`` :data:`WEIBULL_SHAPE` and the scale set so
that a patient with no risk factor (HR 1, age 65) has the tumour type's baseline median
(:class:`~genofed.synth._tumours.TumourProfile.median_os_days`). The hazard ratio multiplies:

=====================================================  ===================  ======
factor (:data:`HAZARD_RATIOS` key)                     applies to           HR
=====================================================  ===================  ======
``kras_crc``: a KRAS driver mutation                   COADREAD             1.5
``braf_v600e_crc``: BRAF V600E                         COADREAD             2.0
``tp53``: a TP53 driver mutation                       every tumour type    1.2
``matched_first_line``: line 1 is a matched therapy    every tumour type    0.6
``age_per_decade``: per 10 years of age above 65       every patient        1.2
=====================================================  ===================  ======

So BRAF V600 melanoma started on a BRAF/MEK inhibitor (about half of them; the rest start on
immunotherapy) responds far more often and lives longer (HR 0.6), and KRAS-mutant colorectal cancer
has shorter survival (HR 1.5). Second-line matched therapies change response, not survival.
Follow-up ends at the country's data cut or earlier by loss to follow-up (exponential, mean 8 years),
which censors overall survival.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

__all__ = [
    "HAZARD_RATIOS",
    "LOSS_TO_FOLLOW_UP_DAYS",
    "WEIBULL_SHAPE",
    "LineOfTherapy",
    "Regimen",
    "TherapyKind",
    "draw_lines",
    "features",
    "first_line",
    "hazard_ratio",
    "is_matched",
    "regimen_drugs",
    "survival_days",
]

WEIBULL_SHAPE = 1.3

HAZARD_RATIOS: dict[str, float] = {
    "kras_crc": 1.5,
    "braf_v600e_crc": 2.0,
    "tp53": 1.2,
    "matched_first_line": 0.6,
    "age_per_decade": 1.2,
}

LOSS_TO_FOLLOW_UP_DAYS = 8 * 365.25  # mean of the exponential loss to follow-up


class TherapyKind(StrEnum):
    """The class of a regimen, which sets its response probabilities."""

    CHEMOTHERAPY = "chemotherapy"
    TARGETED = "targeted therapy"
    IMMUNOTHERAPY = "immunotherapy"
    HORMONAL = "hormonal therapy"


@dataclass(frozen=True, slots=True)
class Regimen:
    """A systemic regimen: its drugs (INN, WHO ATC code), class and molecular target."""

    name: str
    drugs: tuple[tuple[str, str], ...]
    kind: TherapyKind
    target: str | None = None


def _r(name: str, kind: TherapyKind, *drugs: tuple[str, str], target: str | None = None) -> Regimen:
    return Regimen(name, tuple(drugs), kind, target)


_CHEMO, _TARGET, _IO, _HORMONE = (
    TherapyKind.CHEMOTHERAPY,
    TherapyKind.TARGETED,
    TherapyKind.IMMUNOTHERAPY,
    TherapyKind.HORMONAL,
)
# WHO ATC codes (2024 index).
_5FU = ("fluorouracil", "L01BC02")
_OXALI = ("oxaliplatin", "L01XA03")
_IRINO = ("irinotecan", "L01CE02")
_CAPE = ("capecitabine", "L01BC06")
_CISPLATIN = ("cisplatin", "L01XA01")
_CARBO = ("carboplatin", "L01XA02")
_PACLI = ("paclitaxel", "L01CD01")
_DOCE = ("docetaxel", "L01CD02")
_GEM = ("gemcitabine", "L01BC05")
_PEME = ("pemetrexed", "L01BA04")
_PEMBRO = ("pembrolizumab", "L01FF02")
_NIVO = ("nivolumab", "L01FF01")
_IPI = ("ipilimumab", "L01FX04")
_BEV = ("bevacizumab", "L01FG01")

FOLFOX_BEV = _r("FOLFOX + bevacizumab", _CHEMO, _OXALI, _5FU, _BEV)
FOLFOX_PANI = _r("FOLFOX + panitumumab", _CHEMO, _OXALI, _5FU, ("panitumumab", "L01FE02"), target="RAS_WT")
FOLFIRI_BEV = _r("FOLFIRI + bevacizumab", _CHEMO, _IRINO, _5FU, _BEV)
ENCO_CETUX = _r(
    "encorafenib + cetuximab",
    _TARGET,
    ("encorafenib", "L01EC03"),
    ("cetuximab", "L01FE01"),
    target="BRAF_V600E",
)
SOTORASIB = _r("sotorasib", _TARGET, ("sotorasib", "L01XX73"), target="KRAS_G12C")
TAS102 = _r("trifluridine/tipiracil", _CHEMO, ("trifluridine/tipiracil", "L01BC59"))
DABRA_TRAME = _r(
    "dabrafenib + trametinib",
    _TARGET,
    ("dabrafenib", "L01EC02"),
    ("trametinib", "L01EE01"),
    target="BRAF_V600",
)
ENCO_BINI = _r(
    "encorafenib + binimetinib",
    _TARGET,
    ("encorafenib", "L01EC03"),
    ("binimetinib", "L01EE03"),
    target="BRAF_V600",
)
NIVO_IPI = _r("nivolumab + ipilimumab", _IO, _NIVO, _IPI)
PEMBRO = _r("pembrolizumab", _IO, _PEMBRO)
CARBO_PACLI = _r("carboplatin + paclitaxel", _CHEMO, _CARBO, _PACLI)
OSIMERTINIB = _r("osimertinib", _TARGET, ("osimertinib", "L01EB04"), target="EGFR_ACTIVATING")
CARBO_PEME_PEMBRO = _r("carboplatin + pemetrexed + pembrolizumab", _IO, _CARBO, _PEME, _PEMBRO)
CARBO_PEME = _r("carboplatin + pemetrexed", _CHEMO, _CARBO, _PEME)
CARBO_PACLI_PEMBRO = _r("carboplatin + paclitaxel + pembrolizumab", _IO, _CARBO, _PACLI, _PEMBRO)
DOCETAXEL = _r("docetaxel", _CHEMO, _DOCE)
LETRO_PALBO = _r("letrozole + palbociclib", _HORMONE, ("letrozole", "L02BG04"), ("palbociclib", "L01EF01"))
PACLITAXEL = _r("paclitaxel", _CHEMO, _PACLI)
FULV_ALPE = _r(
    "fulvestrant + alpelisib", _TARGET, ("fulvestrant", "L02BA03"), ("alpelisib", "L01EM03"), target="PIK3CA"
)
CAPECITABINE = _r("capecitabine", _CHEMO, _CAPE)
ERIBULIN = _r("eribulin", _CHEMO, ("eribulin", "L01XX41"))
ENZALUTAMIDE = _r("enzalutamide", _HORMONE, ("enzalutamide", "L02BB04"))
ABIRATERONE = _r("abiraterone", _HORMONE, ("abiraterone", "L02BX03"))
OLAPARIB = _r("olaparib", _TARGET, ("olaparib", "L01XK01"), target="BRCA")
CABAZITAXEL = _r("cabazitaxel", _CHEMO, ("cabazitaxel", "L01CD04"))
CARBO_DOXO = _r("carboplatin + doxorubicin", _CHEMO, _CARBO, ("doxorubicin", "L01DB01"))
FOLFIRINOX = _r("FOLFIRINOX", _CHEMO, _OXALI, _IRINO, _5FU)
GEM_NABPACLI = _r("gemcitabine + nab-paclitaxel", _CHEMO, _GEM, _PACLI)
CIS_GEM = _r("cisplatin + gemcitabine", _CHEMO, _CISPLATIN, _GEM)
CARBO_GEM = _r("carboplatin + gemcitabine", _CHEMO, _CARBO, _GEM)
ENFORTUMAB = _r("enfortumab vedotin", _CHEMO, ("enfortumab vedotin", "L01FX13"))
CAPOX_NIVO = _r("CAPOX + nivolumab", _IO, _OXALI, _CAPE, _NIVO)
PACLI_RAM = _r("paclitaxel + ramucirumab", _CHEMO, _PACLI, ("ramucirumab", "L01FG02"))
PEMBRO_LENVA = _r("pembrolizumab + lenvatinib", _IO, _PEMBRO, ("lenvatinib", "L01EX08"))
PEMBRO_AXI = _r("pembrolizumab + axitinib", _IO, _PEMBRO, ("axitinib", "L01EK01"))
CABOZANTINIB = _r("cabozantinib", _TARGET, ("cabozantinib", "L01EX07"))
PEMBRO_CIS_5FU = _r("pembrolizumab + cisplatin + fluorouracil", _IO, _PEMBRO, _CISPLATIN, _5FU)
CETUXIMAB = _r("cetuximab", _TARGET, ("cetuximab", "L01FE01"))
TEMOZOLOMIDE = _r("temozolomide", _CHEMO, ("temozolomide", "L01AX03"))
LOMUSTINE = _r("lomustine", _CHEMO, ("lomustine", "L01AD02"))
CIS_GEM_DURVA = _r("cisplatin + gemcitabine + durvalumab", _IO, _CISPLATIN, _GEM, ("durvalumab", "L01FF03"))
FOLFOX = _r("FOLFOX", _CHEMO, _OXALI, _5FU)

# Per tumour type, the options of lines 1, 2 and 3: (regimen, weight). A regimen with a target is
# only open to patients with that feature.
_Options = tuple[tuple[Regimen, float], ...]
_LINES: dict[str, tuple[_Options, _Options, _Options]] = {
    "COADREAD": (
        ((FOLFOX_BEV, 1.0), (FOLFOX_PANI, 1.0)),
        ((FOLFIRI_BEV, 1.0), (ENCO_CETUX, 4.0), (SOTORASIB, 2.0)),
        ((TAS102, 1.0),),
    ),
    "SKCM": (
        ((DABRA_TRAME, 1.5), (ENCO_BINI, 0.5), (NIVO_IPI, 1.0), (PEMBRO, 1.0)),
        ((DABRA_TRAME, 4.0), (NIVO_IPI, 1.0), (PEMBRO, 1.0)),
        ((CARBO_PACLI, 1.0),),
    ),
    "NSCLC": (
        ((OSIMERTINIB, 9.0), (CARBO_PEME_PEMBRO, 1.0)),
        ((DOCETAXEL, 1.0), (SOTORASIB, 3.0), (CARBO_PEME, 2.0)),
        ((DOCETAXEL, 1.0),),
    ),
    "LUSC": (((CARBO_PACLI_PEMBRO, 1.0),), ((DOCETAXEL, 1.0),), ((GEM_NABPACLI, 1.0),)),
    "BRCA": (
        ((LETRO_PALBO, 3.0), (PACLITAXEL, 1.0)),
        ((FULV_ALPE, 3.0), (CAPECITABINE, 1.0)),
        ((ERIBULIN, 1.0),),
    ),
    "PRAD": (
        ((ENZALUTAMIDE, 1.0), (ABIRATERONE, 1.0)),
        ((DOCETAXEL, 1.0),),
        ((OLAPARIB, 3.0), (CABAZITAXEL, 1.0)),
    ),
    "HGSOC": (((CARBO_PACLI, 1.0),), ((OLAPARIB, 4.0), (CARBO_DOXO, 1.0)), ((PACLITAXEL, 1.0),)),
    "PAAD": (
        ((FOLFIRINOX, 1.0), (GEM_NABPACLI, 1.0)),
        ((GEM_NABPACLI, 1.0), (FOLFOX, 1.0)),
        ((CAPECITABINE, 1.0),),
    ),
    "BLCA": (((CIS_GEM, 1.0), (CARBO_GEM, 0.5)), ((PEMBRO, 1.0),), ((ENFORTUMAB, 1.0),)),
    "ESCA": (((CAPOX_NIVO, 1.0),), ((PACLI_RAM, 1.0),), ((DOCETAXEL, 1.0),)),
    "STAD": (((CAPOX_NIVO, 1.0),), ((PACLI_RAM, 1.0),), ((TAS102, 1.0),)),
    "UCEC": (((CARBO_PACLI, 1.0),), ((PEMBRO_LENVA, 1.0),), ((PACLITAXEL, 1.0),)),
    "CCRCC": (((PEMBRO_AXI, 1.0), (NIVO_IPI, 1.0)), ((CABOZANTINIB, 1.0),), ((PEMBRO_LENVA, 1.0),)),
    "HNSC": (((PEMBRO_CIS_5FU, 1.0),), ((CETUXIMAB, 1.0),), ((DOCETAXEL, 1.0),)),
    "ADIFG": (((TEMOZOLOMIDE, 1.0),), ((LOMUSTINE, 1.0),), ((CARBO_PACLI, 1.0),)),
    "CHOL": (((CIS_GEM_DURVA, 1.0),), ((FOLFOX, 1.0),), ((CAPECITABINE, 1.0),)),
}
_LINES["LUAD"] = _LINES["NSCLC"]

_RESPONSES = ("CR", "PR", "SD", "PD")
_RESPONSE_P: dict[str, tuple[float, float, float, float]] = {
    "matched": (0.12, 0.56, 0.22, 0.10),
    TherapyKind.IMMUNOTHERAPY: (0.07, 0.25, 0.28, 0.40),
    TherapyKind.CHEMOTHERAPY: (0.04, 0.30, 0.36, 0.30),
    TherapyKind.TARGETED: (0.04, 0.30, 0.36, 0.30),
    TherapyKind.HORMONAL: (0.03, 0.27, 0.45, 0.25),
}


def features(events: Sequence[tuple[str, str | None]]) -> frozenset[str]:
    """Molecular features of a tumour from its driver events ``(gene, hotspot label or None)``."""
    genes = {gene for gene, _ in events}
    labels = {f"{gene}:{label}" for gene, label in events if label}
    out = set()
    if labels & {"BRAF:V600E", "BRAF:V600K"}:
        out.add("BRAF_V600")
    if "BRAF:V600E" in labels:
        out.add("BRAF_V600E")
    if labels & {"EGFR:L858R", "EGFR:E746_A750del"}:
        out.add("EGFR_ACTIVATING")
    if "KRAS:G12C" in labels:
        out.add("KRAS_G12C")
    if not genes & {"KRAS", "NRAS"}:
        out.add("RAS_WT")
    if "PIK3CA" in genes:
        out.add("PIK3CA")
    if genes & {"BRCA1", "BRCA2"}:
        out.add("BRCA")
    return frozenset(out)


def _choose(options: _Options, feats: frozenset[str], rng: np.random.Generator) -> Regimen:
    open_ = [(r, w) for r, w in options if r.target is None or r.target in feats]
    weights = np.array([w for _, w in open_])
    return open_[int(rng.choice(len(open_), p=weights / weights.sum()))][0]


def regimen_drugs() -> tuple[tuple[str, str], ...]:
    """Every (drug, ATC code) any regimen of the model uses, sorted."""
    return tuple(sorted({d for lines in _LINES.values() for opts in lines for r, _ in opts for d in r.drugs}))


def first_line(tumour: str, feats: frozenset[str], rng: np.random.Generator) -> Regimen:
    """Draw the first-line regimen of a patient with this tumour type and these features."""
    return _choose(_LINES[tumour][0], feats, rng)


def hazard_ratio(
    tumour: str, genes: frozenset[str], feats: frozenset[str], age: float, matched: bool
) -> float:
    """The patient's overall-survival hazard ratio under the model of this module."""
    hr = float(HAZARD_RATIOS["age_per_decade"] ** ((age - 65.0) / 10.0))
    if "TP53" in genes:
        hr *= HAZARD_RATIOS["tp53"]
    if tumour == "COADREAD":
        if "KRAS" in genes:
            hr *= HAZARD_RATIOS["kras_crc"]
        if "BRAF_V600E" in feats:
            hr *= HAZARD_RATIOS["braf_v600e_crc"]
    if matched:
        hr *= HAZARD_RATIOS["matched_first_line"]
    return hr


def survival_days(median_days: float, hr: float, rng: np.random.Generator) -> float:
    """Draw a Weibull proportional-hazards survival time (days) with baseline median and hazard ratio."""
    scale = median_days / np.log(2.0) ** (1.0 / WEIBULL_SHAPE)
    return float(scale * (rng.exponential() / hr) ** (1.0 / WEIBULL_SHAPE))


@dataclass(frozen=True, slots=True)
class LineOfTherapy:
    """One line of therapy of a patient, in days from diagnosis."""

    line: int
    regimen: Regimen
    start_day: int
    end_day: int | None  # None: still running at the last contact
    response: str | None  # RECIST best response, None when never assessed
    response_day: int | None


def _response(regimen: Regimen, feats: frozenset[str], line: int, rng: np.random.Generator) -> str:
    p = np.array(_RESPONSE_P["matched" if is_matched(regimen, feats) else regimen.kind])
    if line > 1:
        moved = 0.3 * (p[0] + p[1])
        p[0] *= 0.7
        p[1] *= 0.7
        p[3] += moved
    return _RESPONSES[int(rng.choice(4, p=p / p.sum()))]


def _duration(response: str, rng: np.random.Generator) -> float:
    if response in ("CR", "PR"):
        return 180 + rng.exponential(300)
    if response == "SD":
        return 90 + rng.exponential(120)
    return 42 + rng.exponential(30)


def draw_lines(
    tumour: str,
    feats: frozenset[str],
    first: Regimen,
    follow_up_days: int,
    deceased: bool,
    rng: np.random.Generator,
) -> list[LineOfTherapy]:
    """Lay out the lines of therapy of one patient inside ``[0, follow_up_days]`` (see module docs)."""
    lines: list[LineOfTherapy] = []
    start = min(float(rng.uniform(14, 45)), 0.5 * follow_up_days)
    regimen = first
    used: set[str] = set()
    for line in (1, 2, 3):
        used.add(regimen.name)
        response = _response(regimen, feats, line, rng)
        assessed = start + float(rng.uniform(49, 84))
        end = start + _duration(response, rng)
        if end >= follow_up_days:
            # The line outlasts follow-up: it is running at the last contact, or stops shortly before death.
            end_day = int(max(start, follow_up_days - rng.uniform(0, 14))) if deceased else None
        else:
            end_day = int(end)
        seen = assessed < follow_up_days and (end_day is None or assessed <= end_day + 28)
        lines.append(
            LineOfTherapy(
                line=line,
                regimen=regimen,
                start_day=int(start),
                end_day=end_day,
                response=response if seen else None,
                response_day=int(assessed) if seen else None,
            )
        )
        if end_day is None or line == 3 or rng.random() >= (0.75 if line == 1 else 0.5):
            break
        start = end_day + float(rng.uniform(7, 42))
        if start >= follow_up_days - 14:
            break
        options = tuple((r, w) for r, w in _LINES[tumour][line] if r.name not in used)
        if not options or not any(r.target is None or r.target in feats for r, _ in options):
            break
        regimen = _choose(options, feats, rng)
    return lines


def is_matched(regimen: Regimen, feats: frozenset[str]) -> bool:
    """Whether a regimen is a targeted therapy whose target the tumour carries."""
    return regimen.kind is TherapyKind.TARGETED and regimen.target is not None and regimen.target in feats
