"""Evidence tiers: AMP/ASCO/CAP tier and level, and ESCAT, from the source's level and the label.

Derivation has two steps, each a small table (docs/cds.md gives the reasoning row by row):

1. The source's level becomes an AMP *evidence level* A–D (`LEVEL_RULES`): CIViC A → A, CGI "FDA
   guidelines" → A, CGI "Late trials" → B, ...
2. The AMP level and whether the evidence is *on-label* give the tier (`derive_tier`). Evidence is
   on-label when one of its tumour types is the patient's OncoTree code or an ancestor of it, or
   when it is pan-cancer. A and B evidence on-label are tier I (I-A, I-B); off-label they are II-C,
   as are C-level items anywhere; D-level items are II-D. ESCAT follows the same inputs.

Resistance evidence keeps the AMP tier of its level and label (a guideline-level resistance marker in
the patient's tumour type is as strong as a sensitising one) but its rule says "resistance", and its
ESCAT level is X: ESCAT ranks targets by the benefit of matched therapy, which resistance does not offer.
Every `TierCall` carries the rule text that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from genofed.errors import CodeError
from genofed.model import oncotree

from ._types import AmpTier, Direction, EscatLevel, Evidence

__all__ = [
    "LEVEL_RULES",
    "LevelRule",
    "TierCall",
    "amp_level",
    "derive_tier",
    "is_on_label",
    "patient_lineage",
]

_SOURCE_NAMES = {"civic": "CIViC", "cgi": "CGI", "oncokb": "OncoKB"}


@dataclass(frozen=True, slots=True)
class LevelRule:
    """One row of the level table: a source's level, the AMP evidence level it counts as, and why."""

    source: str
    level: str
    amp: str  # A, B, C or D
    reason: str


LEVEL_RULES: tuple[LevelRule, ...] = (
    LevelRule("civic", "A", "A", "validated association: in guidelines or the basis of an approval"),
    LevelRule("civic", "B", "B", "clinical trial or other primary patient data with many patients"),
    LevelRule("civic", "C", "D", "case study: individual case reports, no consensus"),
    LevelRule("civic", "D", "D", "preclinical: in vivo or in vitro models"),
    LevelRule("civic", "E", "D", "inferential: indirect evidence, no stronger than preclinical"),
    LevelRule("cgi", "FDA guidelines", "A", "FDA-approved biomarker for the therapy"),
    LevelRule("cgi", "NCCN guidelines", "A", "professional guideline"),
    LevelRule("cgi", "NCCN/CAP guidelines", "A", "professional guideline"),
    LevelRule("cgi", "European LeukemiaNet guidelines", "A", "professional guideline"),
    LevelRule("cgi", "CPIC guidelines", "A", "professional (pharmacogenomic) guideline"),
    LevelRule("cgi", "Late trials", "B", "phase III trials: well-powered studies"),
    LevelRule("cgi", "Clinical trials", "C", "clinical trials of unstated phase: investigational"),
    LevelRule("cgi", "Early trials", "C", "phase I/II trials: investigational therapy"),
    LevelRule("cgi", "Case report", "D", "case reports"),
    LevelRule("cgi", "Pre-clinical", "D", "preclinical models"),
    LevelRule("oncokb", "LEVEL_1", "A", "FDA-recognised biomarker"),
    LevelRule("oncokb", "LEVEL_2", "A", "standard-care biomarker in professional guidelines"),
    LevelRule("oncokb", "LEVEL_3A", "B", "compelling clinical evidence"),
    LevelRule("oncokb", "LEVEL_3B", "C", "standard care or compelling evidence in another indication"),
    LevelRule("oncokb", "LEVEL_4", "D", "compelling biological evidence"),
    LevelRule("oncokb", "LEVEL_R1", "A", "standard-care biomarker of resistance"),
    LevelRule("oncokb", "LEVEL_R2", "B", "compelling clinical evidence of resistance"),
)
_BY_KEY = {(r.source, r.level.casefold()): r for r in LEVEL_RULES}
_ORDER = "ABCD"


@dataclass(frozen=True, slots=True)
class TierCall:
    """A derived tier: AMP tier and level, ESCAT level, the on-label flag and the rule text."""

    amp_tier: AmpTier
    escat: EscatLevel
    on_label: bool
    rule: str


def amp_level(evidence: Evidence) -> LevelRule | None:
    """The level rule for an evidence item, or None when its level is not in `LEVEL_RULES`.

    A CGI level listing several levels (``Late trials,Pre-clinical``) counts as its strongest.
    """
    found = [
        _BY_KEY.get((evidence.source, part.strip().casefold()))
        for part in evidence.source_level.split(",")
        if part.strip()
    ]
    rules = [r for r in found if r is not None]
    return min(rules, key=lambda r: _ORDER.index(r.amp)) if rules else None


@cache
def patient_lineage(tumour_type: str) -> frozenset[str]:
    """The patient's OncoTree code and its ancestors: the codes on-label evidence may name."""
    tree = oncotree()
    try:
        node = tree.get(tumour_type)
    except KeyError as exc:
        raise CodeError(str(exc.args[0]) + "; give the patient's tumour type as an OncoTree code") from None
    return frozenset({node.code, *tree.ancestors(node.code)})


def is_on_label(evidence: Evidence, tumour_type: str | None) -> bool:
    """Whether the evidence applies to the patient's tumour type.

    True for pan-cancer evidence, and when one of the evidence's tumour types is the patient's
    OncoTree code or an ancestor of it (evidence for melanoma, MEL, is on-label for cutaneous
    melanoma, SKCM; not the reverse). Without a patient tumour type only pan-cancer evidence is.
    """
    if evidence.pan_cancer:
        return True
    if tumour_type is None:
        return False
    lineage = patient_lineage(tumour_type)
    return any(code in lineage for code in evidence.tumour_types)


def derive_tier(evidence: Evidence, tumour_type: str | None) -> TierCall:
    """The AMP/ASCO/CAP tier and ESCAT level of one evidence item for a patient's tumour type.

    Parameters
    ----------
    evidence
        The knowledge-base item.
    tumour_type
        The patient's OncoTree code, or None when unknown (then only pan-cancer items are on-label).

    Returns
    -------
    TierCall
        With the rule text, e.g. ``CIViC level A (AMP A), on-label → I-A; ESCAT I-A``.

    References
    ----------
    Li MM et al. Standards and guidelines for the interpretation and reporting of sequence variants in
    cancer. J Mol Diagn 2017;19:4-23. Mateo J et al. A framework to rank genomic alterations as targets
    for cancer precision medicine: the ESMO Scale for Clinical Actionability of molecular Targets
    (ESCAT). Ann Oncol 2018;29:1895-1902.
    """
    name = _SOURCE_NAMES.get(evidence.source, evidence.source)
    on_label = is_on_label(evidence, tumour_type)
    head = f"{name} level {evidence.source_level}"
    rule = amp_level(evidence)
    if rule is None:
        return TierCall(
            AmpTier.III, EscatLevel.X, on_label, f"{head}: not a known {name} level → III; ESCAT X"
        )
    specific = on_label and not evidence.pan_cancer
    label = "on-label" if specific else ("on-label (pan-cancer)" if on_label else "off-label")
    amp = rule.amp
    if amp in "AB" and on_label:
        tier = AmpTier.IA if amp == "A" else AmpTier.IB
    elif amp in "ABC":
        tier = AmpTier.IIC
    else:
        tier = AmpTier.IID
    resistant = evidence.direction is Direction.RESISTANT
    if resistant:
        escat = EscatLevel.X
    elif amp == "D":
        escat = EscatLevel.IV
    elif not on_label:
        escat = EscatLevel.IIIA
    elif amp == "C":
        escat = EscatLevel.IIB
    elif not specific:
        escat = EscatLevel.IC  # tumour-agnostic evidence: ESCAT's basket-trial level
    else:
        escat = EscatLevel.IA if amp == "A" else EscatLevel.IB
    text = f"{head} (AMP {amp}), {label}" + (", resistance" if resistant else "")
    return TierCall(tier, escat, on_label, f"{text} → {tier.value}; ESCAT {escat.value}")
