"""Tier derivation: one case per row of the level table, on- and off-label, and the rule texts.

The expected tiers are written out by hand from docs/cds.md's tables (Li et al. 2017 for AMP/ASCO/CAP,
Mateo et al. 2018 for ESCAT), not computed from `LEVEL_RULES`, so a change to the table fails here.
"""

from __future__ import annotations

import datetime as dt

import pytest

from genofed.cds import (
    LEVEL_RULES,
    AmpTier,
    BiomarkerKind,
    Direction,
    EscatLevel,
    Evidence,
    amp_level,
    derive_tier,
    is_on_label,
)
from genofed.errors import CodeError


def _item(
    source: str,
    level: str,
    tumour_types: tuple[str, ...] = ("MEL",),
    *,
    pan: bool = False,
    direction: Direction = Direction.RESPONSIVE,
) -> Evidence:
    return Evidence(
        source=source,
        release=dt.date(2024, 1, 1),
        evidence_id="X1",
        biomarker=BiomarkerKind.PROTEIN_CHANGE,
        gene="BRAF",
        therapy="Dabrafenib",
        direction=direction,
        source_level=level,
        disease="test",
        protein_change="V600E",
        tumour_types=tumour_types,
        pan_cancer=pan,
    )


ON, OFF = "SKCM", "COADREAD"  # a patient the MEL evidence is on-label for, and one it is off-label for

# (source, level, on-label tier, on-label ESCAT, off-label tier, off-label ESCAT)
ROWS = [
    ("civic", "A", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("civic", "B", AmpTier.IB, EscatLevel.IB, AmpTier.IIC, EscatLevel.IIIA),
    ("civic", "C", AmpTier.IID, EscatLevel.IV, AmpTier.IID, EscatLevel.IV),
    ("civic", "D", AmpTier.IID, EscatLevel.IV, AmpTier.IID, EscatLevel.IV),
    ("civic", "E", AmpTier.IID, EscatLevel.IV, AmpTier.IID, EscatLevel.IV),
    ("cgi", "FDA guidelines", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("cgi", "NCCN guidelines", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("cgi", "NCCN/CAP guidelines", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("cgi", "European LeukemiaNet guidelines", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("cgi", "CPIC guidelines", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("cgi", "Late trials", AmpTier.IB, EscatLevel.IB, AmpTier.IIC, EscatLevel.IIIA),
    ("cgi", "Clinical trials", AmpTier.IIC, EscatLevel.IIB, AmpTier.IIC, EscatLevel.IIIA),
    ("cgi", "Early trials", AmpTier.IIC, EscatLevel.IIB, AmpTier.IIC, EscatLevel.IIIA),
    ("cgi", "Case report", AmpTier.IID, EscatLevel.IV, AmpTier.IID, EscatLevel.IV),
    ("cgi", "Pre-clinical", AmpTier.IID, EscatLevel.IV, AmpTier.IID, EscatLevel.IV),
    ("oncokb", "LEVEL_1", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("oncokb", "LEVEL_2", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("oncokb", "LEVEL_3A", AmpTier.IB, EscatLevel.IB, AmpTier.IIC, EscatLevel.IIIA),
    ("oncokb", "LEVEL_3B", AmpTier.IIC, EscatLevel.IIB, AmpTier.IIC, EscatLevel.IIIA),
    ("oncokb", "LEVEL_4", AmpTier.IID, EscatLevel.IV, AmpTier.IID, EscatLevel.IV),
    ("oncokb", "LEVEL_R1", AmpTier.IA, EscatLevel.IA, AmpTier.IIC, EscatLevel.IIIA),
    ("oncokb", "LEVEL_R2", AmpTier.IB, EscatLevel.IB, AmpTier.IIC, EscatLevel.IIIA),
]


def test_level_rules__every_row_tested() -> None:
    assert {(r.source, r.level) for r in LEVEL_RULES} == {(s, lvl) for s, lvl, *_ in ROWS}


@pytest.mark.parametrize(("source", "level", "on_tier", "on_escat", "off_tier", "off_escat"), ROWS)
def test_derive_tier__each_level_rule(
    source: str, level: str, on_tier: AmpTier, on_escat: EscatLevel, off_tier: AmpTier, off_escat: EscatLevel
) -> None:
    on = derive_tier(_item(source, level), ON)
    off = derive_tier(_item(source, level), OFF)
    assert (on.amp_tier, on.escat, on.on_label) == (on_tier, on_escat, True)
    assert (off.amp_tier, off.escat, off.on_label) == (off_tier, off_escat, False)
    assert ", on-label →" in on.rule
    assert ", off-label →" in off.rule


def test_derive_tier__rule_texts() -> None:
    assert derive_tier(_item("civic", "A"), ON).rule == "CIViC level A (AMP A), on-label → I-A; ESCAT I-A"
    assert (
        derive_tier(_item("civic", "A"), OFF).rule == "CIViC level A (AMP A), off-label → II-C; ESCAT III-A"
    )
    assert (
        derive_tier(_item("cgi", "Early trials"), ON).rule
        == "CGI level Early trials (AMP C), on-label → II-C; ESCAT II-B"
    )


def test_derive_tier__pan_cancer_is_on_label_at_escat_basket_level() -> None:
    call = derive_tier(_item("civic", "B", (), pan=True), OFF)
    assert (call.amp_tier, call.escat, call.on_label) == (AmpTier.IB, EscatLevel.IC, True)
    assert call.rule == "CIViC level B (AMP B), on-label (pan-cancer) → I-B; ESCAT I-C"


def test_derive_tier__resistance_keeps_the_tier_and_is_flagged() -> None:
    call = derive_tier(_item("civic", "A", direction=Direction.RESISTANT), ON)
    assert (call.amp_tier, call.escat) == (AmpTier.IA, EscatLevel.X)
    assert call.rule == "CIViC level A (AMP A), on-label, resistance → I-A; ESCAT X"


def test_derive_tier__unknown_patient_tumour_type_is_off_label() -> None:
    assert derive_tier(_item("civic", "A"), None).amp_tier is AmpTier.IIC
    assert derive_tier(_item("civic", "A", (), pan=True), None).amp_tier is AmpTier.IA


def test_derive_tier__unknown_level() -> None:
    call = derive_tier(_item("civic", "Z"), ON)
    assert (call.amp_tier, call.escat) == (AmpTier.III, EscatLevel.X)
    assert call.rule == "CIViC level Z: not a known CIViC level → III; ESCAT X"


def test_amp_level__several_cgi_levels_count_as_the_strongest() -> None:
    rule = amp_level(_item("cgi", "Late trials,Pre-clinical"))
    assert rule is not None
    assert (rule.level, rule.amp) == ("Late trials", "B")


@pytest.mark.parametrize(
    ("evidence_types", "patient", "expected"),
    [
        (("MEL",), "SKCM", True),  # evidence for the parent type covers the child
        (("SKCM",), "MEL", False),  # not the reverse: the patient may not have cutaneous melanoma
        (("SKCM",), "SKCM", True),
        (("COADREAD",), "COAD", True),
        (("LUNG",), "LUAD", True),  # a tissue-level code is an ancestor too
        (("NSCLC", "COADREAD"), "READ", True),
        ((), "SKCM", False),  # an unmapped disease is never on-label
    ],
)
def test_is_on_label__oncotree_ancestry(
    evidence_types: tuple[str, ...], patient: str, expected: bool
) -> None:
    assert is_on_label(_item("civic", "A", evidence_types), patient) is expected


def test_is_on_label__unknown_patient_code() -> None:
    with pytest.raises(CodeError, match="'MELANOMA' is not an OncoTree code"):
        is_on_label(_item("civic", "A"), "MELANOMA")
