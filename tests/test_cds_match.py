"""Matching findings to evidence: the BRAF V600E melanoma/colorectal cases and each match rule."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from genofed.cds import (
    AmpTier,
    BiomarkerKind,
    Direction,
    EscatLevel,
    Evidence,
    EvidenceIndex,
    Finding,
    FindingKind,
    KnowledgeBase,
    Match,
    load_cgi,
    load_civic,
    match_findings,
)

KNOWLEDGE = Path(__file__).parents[1].parent / "shared" / "fixtures" / "knowledge"
pytestmark = pytest.mark.skipif(not KNOWLEDGE.exists(), reason="../shared/fixtures/knowledge is absent")

BRAF_V600E = Finding(
    FindingKind.SMALL_VARIANT, gene="BRAF", protein_change="V600E", consequence="missense_variant"
)
BRAF_MEK_INHIBITORS = {"Dabrafenib", "Vemurafenib", "Encorafenib", "Trametinib", "Cobimetinib", "Binimetinib"}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    civic = load_civic(KNOWLEDGE / "civic_2018-05_ClinicalEvidenceSummaries.tsv", release=dt.date(2018, 5, 1))
    cgi = load_cgi(KNOWLEDGE / "cgi_biomarkers_per_variant_2017.tsv", release=dt.date(2017, 7, 1))
    return KnowledgeBase([*civic.evidence, *cgi.evidence])


def _by_id(matches: list[Match], evidence_id: str) -> Match:
    (found,) = [m for m in matches if m.evidence.evidence_id == evidence_id]
    return found


def _drugs(therapy: str) -> set[str]:
    return {d.strip() for d in therapy.replace(" + ", ",").replace(" or ", ",").split(",") if d.strip()}


def test_match_findings__melanoma_braf_v600e_gets_braf_mek_inhibitors_as_tier_one(kb: KnowledgeBase) -> None:
    matches = match_findings([BRAF_V600E], kb, "SKCM")  # OncoTree: MEL (melanoma) > SKCM (cutaneous)
    tier_ia = [
        m for m in matches if m.amp_tier is AmpTier.IA and m.evidence.direction is Direction.RESPONSIVE
    ]
    assert {m.evidence.source for m in tier_ia} == {"civic", "cgi"}
    for m in tier_ia:
        assert m.on_label, m.evidence
        assert _drugs(m.evidence.therapy) <= BRAF_MEK_INHIBITORS, m.evidence
    combo = _by_id(matches, "EID1411")  # CIViC: Trametinib + Dabrafenib, skin melanoma, level A
    assert (combo.amp_tier, combo.escat, combo.on_label, combo.match_level) == (
        AmpTier.IA, EscatLevel.IA, True, "exact",
    )  # fmt: skip
    assert combo.rule == "CIViC level A (AMP A), on-label → I-A; ESCAT I-A"
    cgi = _by_id(matches, "CGI:233")  # CGI: Dabrafenib + Trametinib, cutaneous melanoma, FDA guidelines
    assert (cgi.amp_tier, cgi.on_label) == (AmpTier.IA, True)
    assert cgi.rule == "CGI level FDA guidelines (AMP A), on-label → I-A; ESCAT I-A"
    codon = _by_id(matches, "EID93")  # CIViC BRAF V600 (codon), melanoma, level B
    assert (codon.amp_tier, codon.match_level) == (AmpTier.IB, "codon")


def test_match_findings__colorectal_braf_v600e_follows_the_rules(kb: KnowledgeBase) -> None:
    matches = match_findings([BRAF_V600E], kb, "COADREAD")
    melanoma_a = _by_id(matches, "EID1411")
    assert (melanoma_a.amp_tier, melanoma_a.escat, melanoma_a.on_label) == (
        AmpTier.IIC,
        EscatLevel.IIIA,
        False,
    )
    assert melanoma_a.rule == "CIViC level A (AMP A), off-label → II-C; ESCAT III-A"
    fda_melanoma = _by_id(matches, "CGI:227")
    assert fda_melanoma.rule == "CGI level FDA guidelines (AMP A), off-label → II-C; ESCAT III-A"
    colorectal_b = _by_id(matches, "EID1415")  # BRAF V600, colorectal cancer, dabrafenib + trametinib, B
    assert (colorectal_b.amp_tier, colorectal_b.on_label, colorectal_b.match_level) == (
        AmpTier.IB,
        True,
        "codon",
    )
    assert colorectal_b.rule == "CIViC level B (AMP B), on-label → I-B; ESCAT I-B"
    cetuximab = _by_id(matches, "EID126")  # resistance to cetuximab in colorectal cancer, B
    assert cetuximab.rule == "CIViC level B (AMP B), on-label, resistance → I-B; ESCAT X"
    assert not [
        m for m in matches if m.amp_tier is AmpTier.IA
    ]  # no A-level colorectal BRAF item in these KBs


def test_match_findings__generic_melanoma_code_is_not_on_label_for_skin_melanoma_items(
    kb: KnowledgeBase,
) -> None:
    matches = match_findings([BRAF_V600E], kb, "MEL")
    assert _by_id(matches, "EID1411").amp_tier is AmpTier.IIC  # skin melanoma item, patient only "melanoma"
    assert _by_id(matches, "EID95").amp_tier is AmpTier.IB  # melanoma item: on-label


def test_match_findings__sorted_by_tier_then_gene(kb: KnowledgeBase) -> None:
    findings = [
        BRAF_V600E,
        Finding(FindingKind.AMPLIFICATION, gene="ERBB2"),
        Finding(
            FindingKind.SMALL_VARIANT, gene="KRAS", protein_change="G12D", consequence="missense_variant"
        ),
    ]
    matches = match_findings(findings, kb, "COADREAD")
    order = list(AmpTier)
    keys = [
        (order.index(m.amp_tier), m.evidence.direction is Direction.RESISTANT, m.finding.gene)
        for m in matches
    ]
    assert keys == sorted(keys)
    assert {m.finding.gene for m in matches} == {"BRAF", "ERBB2", "KRAS"}


# --- the match rules, one by one, on small hand-made evidence -----------------------------------------


def _ev(kind: BiomarkerKind, gene: str | None, source: str = "civic", **fields: object) -> Evidence:
    return Evidence(
        source=source,
        release=dt.date(2024, 1, 1),
        evidence_id=f"{kind.value}:{gene}:{sorted(fields.items())}",
        biomarker=kind,
        gene=gene,
        therapy="Drug",
        direction=Direction.RESPONSIVE,
        source_level="B",
        disease="Cancer",
        pan_cancer=True,
        **fields,  # type: ignore[arg-type]
    )


def _levels(finding: Finding, evidence: list[Evidence]) -> list[str]:
    return [m.match_level for m in match_findings([finding], evidence, None)]


def _snv(
    gene: str, change: str | None, consequence: str = "missense_variant", exon: int | None = None
) -> Finding:
    return Finding(
        FindingKind.SMALL_VARIANT, gene=gene, protein_change=change, consequence=consequence, exon=exon
    )


def test_match_findings__protein_change_and_codon() -> None:
    items = [
        _ev(BiomarkerKind.PROTEIN_CHANGE, "BRAF", protein_change="V600E"),
        _ev(BiomarkerKind.CODON, "BRAF", codon=600),
    ]
    assert _levels(_snv("BRAF", "V600E"), items) == ["exact", "codon"]
    assert _levels(_snv("BRAF", "p.V600K"), items) == ["codon"]
    assert _levels(_snv("BRAF", "V600V", "synonymous_variant"), items) == []
    assert _levels(_snv("BRAF", "V601E"), items) == []
    assert _levels(_snv("KRAS", "V600E"), items) == []


def test_match_findings__exon_and_region() -> None:
    exon19 = _ev(BiomarkerKind.EXON, "EGFR", exon=19, consequence="inframe_deletion")
    kit11 = _ev(BiomarkerKind.EXON, "KIT", exon=11, protein_start=550, protein_end=592)
    assert _levels(_snv("EGFR", "E746_A750del", "inframe_deletion", exon=19), [exon19]) == ["exon"]
    assert _levels(_snv("EGFR", "L747P", "missense_variant", exon=19), [exon19]) == []  # wrong class
    assert (
        _levels(_snv("EGFR", "E746_A750del", "inframe_deletion", exon=None), [exon19]) == []
    )  # exon unknown
    assert _levels(_snv("KIT", "V560D", exon=11), [kit11]) == ["exon"]
    assert _levels(_snv("KIT", "V560D"), [kit11]) == ["region"]  # no exon on the finding: the range decides
    assert _levels(_snv("KIT", "D816V"), [kit11]) == []


def test_match_findings__gene_level_needs_a_protein_altering_change() -> None:
    any_mutation = _ev(BiomarkerKind.GENE_MUTATION, "TP53")
    truncating = _ev(BiomarkerKind.GENE_MUTATION, "BRCA2", consequence="truncating")
    assert _levels(_snv("TP53", "R175H"), [any_mutation]) == ["gene"]
    assert _levels(_snv("TP53", "R175R", "synonymous_variant"), [any_mutation]) == []
    assert _levels(_snv("TP53", None, "intron_variant"), [any_mutation]) == []
    assert _levels(_snv("TP53", "R175H", "missense_variant&splice_region_variant"), [any_mutation]) == [
        "gene"
    ]
    assert _levels(_snv("BRCA2", "K3326*", "stop_gained"), [truncating]) == ["gene"]
    assert _levels(_snv("BRCA2", "N372H"), [truncating]) == []


def test_match_findings__copy_number() -> None:
    items = [_ev(BiomarkerKind.AMPLIFICATION, "ERBB2"), _ev(BiomarkerKind.DELETION, "CDKN2A")]
    assert _levels(Finding(FindingKind.AMPLIFICATION, gene="ERBB2"), items) == ["exact"]
    assert _levels(Finding(FindingKind.DELETION, gene="CDKN2A"), items) == ["exact"]
    assert _levels(Finding(FindingKind.DELETION, gene="ERBB2"), items) == []


def test_match_findings__fusions_ordered_unordered_and_any_partner() -> None:
    civic_pair = _ev(BiomarkerKind.FUSION, "EML4", partner_gene="ALK")  # CIViC: 5' EML4, 3' ALK
    cgi_pair = _ev(BiomarkerKind.FUSION, "ABL1", "cgi", partner_gene="BCR")  # CGI writes ABL1__BCR
    any_alk = _ev(BiomarkerKind.FUSION, "ALK")
    eml4_alk = Finding(FindingKind.FUSION, gene="EML4", partner_gene="ALK")
    alk_eml4 = Finding(FindingKind.FUSION, gene="ALK", partner_gene="EML4")
    assert _levels(eml4_alk, [civic_pair, any_alk]) == ["exact", "gene"]
    assert _levels(alk_eml4, [civic_pair, any_alk]) == ["gene"]  # CIViC's pair is ordered
    assert _levels(Finding(FindingKind.FUSION, gene="BCR", partner_gene="ABL1"), [cgi_pair]) == ["exact"]
    assert _levels(Finding(FindingKind.FUSION, gene="KIF5B", partner_gene="RET"), [civic_pair, any_alk]) == []


def test_match_findings__signatures() -> None:
    items = [
        _ev(BiomarkerKind.TMB_HIGH, None),
        _ev(BiomarkerKind.MSI_HIGH, None),
        _ev(BiomarkerKind.HRD, None),
    ]
    for name in ("TMB_HIGH", "MSI_HIGH", "HRD"):
        matches = match_findings([Finding(FindingKind.SIGNATURE, signature=name)], items, "COADREAD")
        assert [m.evidence.biomarker.value for m in matches] == [name]
        assert matches[0].amp_tier is AmpTier.IB  # pan-cancer level B: on-label


def test_match_findings__a_cohort_uses_one_index(kb: KnowledgeBase) -> None:
    assert kb.index is kb.index
    index = EvidenceIndex(kb.evidence)
    assert len(index) == len(kb)
    genes = ["BRAF", "KRAS", "EGFR", "PIK3CA", "TP53", "ERBB2", "ALK", "KIT", "PTEN", "NRAS"]
    patient = [_snv(g, "G12D") for g in genes] + [Finding(FindingKind.AMPLIFICATION, gene=g) for g in genes]
    started = time.perf_counter()
    for _ in range(500):
        match_findings(patient, index, "COADREAD")
    elapsed = time.perf_counter() - started
    assert elapsed < 20  # 500 patients x 20 findings; about 0.3 s on one core
