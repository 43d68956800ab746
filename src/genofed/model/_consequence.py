"""Sequence Ontology consequence terms, their severity, and the classes queries filter on.

Severity follows Ensembl VEP's ordered consequence table; SnpEff's own names are mapped to SO terms.
A consequence *class* (``truncating``, ``protein_altering``, ...) names a set of SO terms so a query
can say "a truncating mutation in BRCA2" without listing them.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "CONSEQUENCE_CLASSES",
    "Impact",
    "consequence_rank",
    "expand_consequence",
    "impact_of",
    "normalise_consequence",
]


class Impact(IntEnum):
    """VEP/SnpEff impact categories, ordered so that a larger value is more severe."""

    MODIFIER = 0
    LOW = 1
    MODERATE = 2
    HIGH = 3


# (SO term, impact) from most to least severe, as VEP orders them.
_SEVERITY: tuple[tuple[str, Impact], ...] = (
    ("transcript_ablation", Impact.HIGH),
    ("splice_acceptor_variant", Impact.HIGH),
    ("splice_donor_variant", Impact.HIGH),
    ("stop_gained", Impact.HIGH),
    ("frameshift_variant", Impact.HIGH),
    ("stop_lost", Impact.HIGH),
    ("start_lost", Impact.HIGH),
    ("exon_loss_variant", Impact.HIGH),
    ("transcript_amplification", Impact.HIGH),
    ("feature_elongation", Impact.HIGH),
    ("feature_truncation", Impact.HIGH),
    ("gene_fusion", Impact.HIGH),
    ("bidirectional_gene_fusion", Impact.HIGH),
    ("inframe_insertion", Impact.MODERATE),
    ("inframe_deletion", Impact.MODERATE),
    ("missense_variant", Impact.MODERATE),
    ("protein_altering_variant", Impact.MODERATE),
    ("splice_donor_5th_base_variant", Impact.LOW),
    ("splice_region_variant", Impact.LOW),
    ("splice_donor_region_variant", Impact.LOW),
    ("splice_polypyrimidine_tract_variant", Impact.LOW),
    ("incomplete_terminal_codon_variant", Impact.LOW),
    ("start_retained_variant", Impact.LOW),
    ("stop_retained_variant", Impact.LOW),
    ("synonymous_variant", Impact.LOW),
    ("coding_sequence_variant", Impact.MODIFIER),
    ("mature_miRNA_variant", Impact.MODIFIER),
    ("5_prime_UTR_variant", Impact.MODIFIER),
    ("3_prime_UTR_variant", Impact.MODIFIER),
    ("non_coding_transcript_exon_variant", Impact.MODIFIER),
    ("intron_variant", Impact.MODIFIER),
    ("NMD_transcript_variant", Impact.MODIFIER),
    ("non_coding_transcript_variant", Impact.MODIFIER),
    ("coding_transcript_variant", Impact.MODIFIER),
    ("upstream_gene_variant", Impact.MODIFIER),
    ("downstream_gene_variant", Impact.MODIFIER),
    ("TFBS_ablation", Impact.MODIFIER),
    ("TFBS_amplification", Impact.MODIFIER),
    ("TF_binding_site_variant", Impact.MODIFIER),
    ("regulatory_region_ablation", Impact.MODIFIER),
    ("regulatory_region_amplification", Impact.MODIFIER),
    ("regulatory_region_variant", Impact.MODIFIER),
    ("intergenic_variant", Impact.MODIFIER),
    ("sequence_variant", Impact.MODIFIER),
)
_RANK = {term: rank for rank, (term, _) in enumerate(_SEVERITY)}
_IMPACT = dict(_SEVERITY)

# SnpEff and older VEP names for the same SO concepts.
_ALIASES = {
    "conservative_inframe_insertion": "inframe_insertion",
    "disruptive_inframe_insertion": "inframe_insertion",
    "conservative_inframe_deletion": "inframe_deletion",
    "disruptive_inframe_deletion": "inframe_deletion",
    "intergenic_region": "intergenic_variant",
    "intragenic_variant": "non_coding_transcript_variant",
    "non_coding_exon_variant": "non_coding_transcript_exon_variant",
    "nc_transcript_variant": "non_coding_transcript_variant",
    "5_prime_UTR_premature_start_codon_gain_variant": "5_prime_UTR_variant",
    "initiator_codon_variant": "start_lost",
    "start_retained": "start_retained_variant",
    "stop_retained": "stop_retained_variant",
    "splice_region": "splice_region_variant",
    "structural_interaction_variant": "protein_altering_variant",
    "protein_protein_contact": "protein_altering_variant",
    "rare_amino_acid_variant": "missense_variant",
    "exon_variant": "coding_sequence_variant",
    "chromosome_number_variation": "feature_truncation",
    "upstream_variant": "upstream_gene_variant",
    "downstream_variant": "downstream_gene_variant",
}

CONSEQUENCE_CLASSES: dict[str, frozenset[str]] = {
    "truncating": frozenset(
        {
            "transcript_ablation",
            "splice_acceptor_variant",
            "splice_donor_variant",
            "stop_gained",
            "frameshift_variant",
            "start_lost",
            "exon_loss_variant",
        }
    ),
    "missense": frozenset({"missense_variant"}),
    "inframe": frozenset({"inframe_insertion", "inframe_deletion"}),
    "splice": frozenset({"splice_acceptor_variant", "splice_donor_variant", "splice_region_variant"}),
    "protein_altering": frozenset(term for term, impact in _SEVERITY if impact >= Impact.MODERATE),
    "coding": frozenset(
        {term for term, impact in _SEVERITY if impact >= Impact.MODERATE}
        | {"synonymous_variant", "stop_retained_variant", "start_retained_variant"}
    ),
}


def normalise_consequence(term: str) -> str:
    """Return the SO term for a VEP or SnpEff consequence name; raises ValueError when unknown.

    >>> normalise_consequence("conservative_inframe_deletion")
    'inframe_deletion'
    """
    name = term.strip()
    name = _ALIASES.get(name, name)
    if name not in _RANK:
        raise ValueError(f"unknown consequence {term!r}: not a Sequence Ontology term VEP or SnpEff emits")
    return name


def consequence_rank(term: str) -> int:
    """Severity rank of an SO term (0 is most severe); unknown terms rank last."""
    return _RANK.get(_ALIASES.get(term, term), len(_RANK))


def impact_of(term: str) -> Impact:
    """The impact category of an SO term."""
    return _IMPACT[normalise_consequence(term)]


def expand_consequence(term_or_class: str) -> frozenset[str]:
    """The SO terms a query's consequence argument stands for: a class name or a single term.

    >>> sorted(expand_consequence("inframe"))
    ['inframe_deletion', 'inframe_insertion']
    """
    if term_or_class in CONSEQUENCE_CLASSES:
        return CONSEQUENCE_CLASSES[term_or_class]
    try:
        return frozenset({normalise_consequence(term_or_class)})
    except ValueError:
        classes = ", ".join(sorted(CONSEQUENCE_CLASSES))
        raise ValueError(
            f"unknown consequence {term_or_class!r}: give an SO term (e.g. missense_variant) "
            f"or a class ({classes})"
        ) from None
