"""Patient findings matched to knowledge-base evidence, with tiers.

Evidence is indexed once by (gene, biomarker kind) — an `EvidenceIndex`, which a `KnowledgeBase`
keeps — so matching a cohort costs a few dictionary look-ups per finding. How a finding matches
an item, by the item's biomarker kind (``Match.match_level`` says which rule matched):

- PROTEIN_CHANGE: the same protein change (``exact``).
- CODON: any protein change at the codon (``codon``); synonymous changes do not count.
- EXON: the finding's exon (``exon``) or, when the item gives a protein range, a change starting
  inside it (``region``); and the item's consequence, when it names one.
- GENE_MUTATION: any protein-altering small variant in the gene (``gene``), of the item's
  consequence class when it names one.
- AMPLIFICATION, DELETION: a finding of that kind in the gene (``exact``).
- FUSION: the same pair (``exact``; either order for CGI, whose pairs are unordered) or, when the
  item names one gene only, any fusion involving it (``gene``).
- TMB_HIGH, MSI_HIGH, HRD: a signature finding of that name (``exact``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from genofed.model import CONSEQUENCE_CLASSES, expand_consequence

from ._knowledge import KnowledgeBase
from ._syntax import canonical_protein_change, codon_of
from ._tiers import TierCall, derive_tier
from ._types import AmpTier, BiomarkerKind, Direction, Evidence, Finding, FindingKind, Match

__all__ = ["EvidenceIndex", "match_findings"]

# Sources whose fusion pairs do not say which gene is 5': CGI writes ABL1__BCR for BCR::ABL1.
UNORDERED_FUSION_SOURCES = frozenset({"cgi", "oncokb"})
_PROTEIN_ALTERING = CONSEQUENCE_CLASSES["protein_altering"]
_SIGNATURES = {
    "TMB_HIGH": BiomarkerKind.TMB_HIGH,
    "MSI_HIGH": BiomarkerKind.MSI_HIGH,
    "HRD": BiomarkerKind.HRD,
}
_TIER_ORDER = {tier: i for i, tier in enumerate(AmpTier)}
# Within a tier and gene, the more specific match first.
_LEVEL_ORDER = {"exact": 0, "codon": 1, "exon": 2, "region": 3, "gene": 4}


class EvidenceIndex:
    """Evidence items indexed by (gene, biomarker kind); signatures under gene None."""

    def __init__(self, evidence: Iterable[Evidence]) -> None:
        self._by_key: dict[tuple[str | None, BiomarkerKind], list[Evidence]] = defaultdict(list)
        count = 0
        for item in evidence:
            count += 1
            if item.biomarker in _SIGNATURES.values():
                self._by_key[(None, item.biomarker)].append(item)
                continue
            self._by_key[(_gene_key(item.gene), item.biomarker)].append(item)
            if item.biomarker is BiomarkerKind.FUSION and item.partner_gene:
                # A fusion finding is looked up under both of its genes; index the pair under its partner too.
                self._by_key[(_gene_key(item.partner_gene), item.biomarker)].append(item)
        self._count = count
        # Tier calls per (item, patient tumour type): a cohort shares tumour types, so most repeat.
        # Keyed by id(); the index holds every item, so ids stay valid for its lifetime.
        self._tiers: dict[tuple[int, str | None], TierCall] = {}

    def tier(self, item: Evidence, tumour_type: str | None) -> TierCall:
        """`derive_tier` for an item of this index, remembered."""
        key = (id(item), tumour_type)
        call = self._tiers.get(key)
        if call is None:
            call = self._tiers[key] = derive_tier(item, tumour_type)
        return call

    def __len__(self) -> int:
        return self._count

    def get(self, gene: str | None, kind: BiomarkerKind) -> list[Evidence]:
        """The items for one gene and biomarker kind (empty list when none)."""
        return self._by_key.get((_gene_key(gene), kind), [])


def _gene_key(gene: str | None) -> str | None:
    return gene.upper() if gene else None


def _consequences(finding: Finding) -> frozenset[str]:
    if not finding.consequence:
        return frozenset()
    terms = finding.consequence.replace("&", ",").split(",")
    return frozenset(t.strip() for t in terms if t.strip())


def _fits(finding_terms: frozenset[str], wanted: str | None) -> bool:
    if wanted is None:
        return True
    try:
        allowed = expand_consequence(wanted)
    except ValueError:
        return False
    return bool(finding_terms & allowed)


def _protein_altering(finding: Finding, change: str | None) -> bool:
    terms = _consequences(finding)
    if terms:
        return bool(terms & _PROTEIN_ALTERING)
    if change is None:
        return False
    # No consequence given: a change naming a different residue (or an indel) alters the protein.
    return not (
        len(change) >= 3 and change[0] == change[-1] and change[1:-1].isdigit()
    ) and not change.endswith("=")


def _small_variant(finding: Finding, index: EvidenceIndex) -> list[tuple[Evidence, str]]:
    out: list[tuple[Evidence, str]] = []
    raw = finding.protein_change.removeprefix("p.") if finding.protein_change else None
    change = canonical_protein_change(raw) or raw
    altering = _protein_altering(finding, change)
    codon = codon_of(change)
    terms = _consequences(finding)
    gene = finding.gene
    if change:
        for item in index.get(gene, BiomarkerKind.PROTEIN_CHANGE):
            if item.protein_change == change:
                out.append((item, "exact"))
    if not altering:
        return out
    if codon is not None:
        for item in index.get(gene, BiomarkerKind.CODON):
            if item.codon == codon:
                out.append((item, "codon"))
    for item in index.get(gene, BiomarkerKind.EXON):
        if item.consequence is not None and not _fits(terms, item.consequence):
            continue  # also when the finding states no consequence: the item needs one
        if item.exon is not None and finding.exon is not None:
            if item.exon == finding.exon:
                out.append((item, "exon"))
        elif item.protein_start is not None and codon is not None:
            end = item.protein_end if item.protein_end is not None else item.protein_start
            if item.protein_start <= codon <= end:
                out.append((item, "region"))
    for item in index.get(gene, BiomarkerKind.GENE_MUTATION):
        if item.consequence is None or _fits(terms, item.consequence):
            out.append((item, "gene"))
    return out


def _fusion(finding: Finding, index: EvidenceIndex) -> list[tuple[Evidence, str]]:
    genes = {g.upper() for g in (finding.gene, finding.partner_gene) if g}
    five, three = _gene_key(finding.gene), _gene_key(finding.partner_gene)
    seen: set[int] = set()
    out: list[tuple[Evidence, str]] = []
    for gene in genes:
        for item in index.get(gene, BiomarkerKind.FUSION):
            if id(item) in seen:
                continue
            seen.add(id(item))
            a, b = _gene_key(item.gene), _gene_key(item.partner_gene)
            if b is None:
                if a in genes:
                    out.append((item, "gene"))
            elif (a, b) == (five, three) or (
                item.source in UNORDERED_FUSION_SOURCES and {a, b} == {five, three}
            ):
                out.append((item, "exact"))
    return out


def _candidates(finding: Finding, index: EvidenceIndex) -> list[tuple[Evidence, str]]:
    kind = finding.kind
    if kind is FindingKind.SMALL_VARIANT:
        return _small_variant(finding, index) if finding.gene else []
    if kind is FindingKind.AMPLIFICATION:
        return [(e, "exact") for e in index.get(finding.gene, BiomarkerKind.AMPLIFICATION)]
    if kind is FindingKind.DELETION:
        return [(e, "exact") for e in index.get(finding.gene, BiomarkerKind.DELETION)]
    if kind is FindingKind.FUSION:
        return _fusion(finding, index)
    signature = _SIGNATURES.get((finding.signature or "").upper())
    return [(e, "exact") for e in index.get(None, signature)] if signature else []


def match_findings(
    findings: Sequence[Finding],
    kb: KnowledgeBase | EvidenceIndex | Sequence[Evidence],
    tumour_type: str | None,
) -> list[Match]:
    """Match a patient's findings to evidence and derive each match's tier.

    Parameters
    ----------
    findings
        The patient's alterations.
    kb
        A `KnowledgeBase` (its index is built once and reused), an `EvidenceIndex`, or evidence items
        (indexed for this call).
    tumour_type
        The patient's OncoTree code, or None when unknown (see `derive_tier`).

    Returns
    -------
    list of Match
        Sorted by AMP tier (I-A first), sensitivity before resistance, gene, match level (exact
        first), therapy and evidence id.
    """
    if isinstance(kb, EvidenceIndex):
        index = kb
    elif isinstance(kb, KnowledgeBase):
        index = kb.index
    else:
        index = EvidenceIndex(kb)
    matches: list[Match] = []
    for finding in findings:
        for item, level in _candidates(finding, index):
            call = index.tier(item, tumour_type)
            matches.append(
                Match(
                    finding=finding,
                    evidence=item,
                    on_label=call.on_label,
                    amp_tier=call.amp_tier,
                    escat=call.escat,
                    rule=call.rule,
                    match_level=level,
                )
            )
    matches.sort(
        key=lambda m: (
            _TIER_ORDER[m.amp_tier],
            m.evidence.direction is Direction.RESISTANT,
            m.finding.gene or m.finding.signature or "",
            _LEVEL_ORDER.get(m.match_level, len(_LEVEL_ORDER)),
            m.evidence.therapy,
            m.evidence.source,
            m.evidence.evidence_id,
        )
    )
    return matches
