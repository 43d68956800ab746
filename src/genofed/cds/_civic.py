"""CIViC clinical evidence summaries, in both layouts, to `Evidence`.

Two layouts exist. The 2018 one (``ClinicalEvidenceSummaries.tsv`` with ``gene``, ``variant``,
``drugs``, ``clinical_significance``) names one gene and one variant per row, and its companion
``VariantSummaries.tsv`` gives each variant's Sequence Ontology types. The current monthly and
nightly layout names a *molecular profile* (``BRAF V600E``, ``EML4::ALK e6-e20``,
``EGFR L858R AND EGFR T790M``) and ``therapies`` with a ``therapy_interaction_type``. The layout is
read from the header.

Only predictive evidence (response or resistance to a therapy) becomes `Evidence`; diagnostic,
prognostic, predisposing, oncogenic and functional rows are rejected as *not predictive*, and so are
rows the evidence does not support, adverse-response (toxicity) rows, and biomarkers that no
sequencing finding can show (expression, methylation) or that need two alterations at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

from ._disease import map_disease
from ._kbtable import LoadReport, Rejection, read_tsv, require_columns
from ._syntax import Biomarker, Unsupported, canonical_protein_change
from ._types import BiomarkerKind, Direction, Evidence

__all__ = ["load_civic", "parse_civic_profile", "parse_civic_variant"]

_REQUIRED_2018 = (
    "gene", "variant", "disease", "doid", "drugs", "evidence_type", "evidence_direction",
    "evidence_level", "clinical_significance", "evidence_status", "evidence_id",
)  # fmt: skip
_REQUIRED_CURRENT = (
    "molecular_profile", "molecular_profile_id", "disease", "doid", "therapies",
    "therapy_interaction_type", "evidence_type", "evidence_direction", "evidence_level",
    "significance", "evidence_status", "evidence_id",
)  # fmt: skip

_SIGNIFICANCE = {
    "sensitivity": Direction.RESPONSIVE,
    "sensitivity/response": Direction.RESPONSIVE,
    "resistance": Direction.RESISTANT,
    "resistance or non-response": Direction.RESISTANT,
    # Reduced sensitivity is a weaker response than the comparator's: reported with resistance.
    "reduced sensitivity": Direction.RESISTANT,
}
_LEVELS = frozenset("ABCDE")

# Gene-wide mutation classes: the consequence class a finding must have (None: any protein-altering).
_GENE_CLASSES: dict[str, str | None] = {
    "MUTATION": None,
    "MUTATIONS": None,
    "SOMATIC MUTATION": None,
    "ONCOGENIC MUTATION": None,
    "ACTIVATING MUTATION": None,
    "LOSS-OF-FUNCTION": None,
    "LOSS OF FUNCTION": None,
    "INACTIVATING MUTATION": None,
    "DELETERIOUS MUTATION": None,
    "TRUNCATING MUTATION": "truncating",
    "NONSENSE MUTATION": "truncating",
    "FRAMESHIFT MUTATION": "truncating",
    "FRAMESHIFT TRUNCATION": "truncating",
    "MISSENSE MUTATION": "missense",
    "ITD": "inframe_insertion",  # FLT3 internal tandem duplication: an in-frame insertion
}
_EXON_CLASSES: dict[str, str | None] = {
    "MUTATION": None,
    "MUTATIONS": None,
    "DELETION": "inframe_deletion",
    "DELETIONS": "inframe_deletion",
    "INSERTION": "inframe_insertion",
    "INSERTIONS": "inframe_insertion",
    "FRAMESHIFT": "frameshift_variant",
    "SKIPPING MUTATION": "splice",
    "SKIPPING": "splice",
}
_NOT_DNA = ("EXPRESSION", "METHYLATION", "PHOSPHORYLATION", "SERUM", "LEVELS", "NUCLEAR", "CYTOPLASMIC")
_FUSION_WORDS = frozenset({"FUSION", "FUSIONS", "REARRANGEMENT", "REARRANGEMENTS", "TRANSLOCATION"})
_DELETION_WORDS = frozenset({"DELETION", "HOMOZYGOUS DELETION", "COPY NUMBER LOSS", "DEEP DELETION"})
_CN_LOSS_TYPES = frozenset({"transcript_ablation", "copy_number_loss", "feature_ablation"})
# Fusion breakpoints as CIViC writes them: E6;A20 (2018: EML4 exon 6 to ALK exon 20), e13-e14 (now).
_BREAKPOINT = re.compile(r"^[EI]\d+(?:[;:\-][AEI]\d+)?$")


def _fusion_part(part: str, gene: str) -> str:
    # CIViC 2018 abbreviates some partners (BCR-ABL for BCR-ABL1): take the row's gene for its part.
    return gene if part == gene or (gene.startswith(part) and len(part) >= 3) else part


def _fusion(five: str | None, three: str | None, rest: str) -> list[Biomarker]:
    rest = rest.strip()
    if rest and rest not in _FUSION_WORDS and not _BREAKPOINT.match(rest):
        raise Unsupported(
            f"fusion with a further alteration ({rest}) needs both at once; not representable",
        )
    genes = [g for g in (five, three) if g]
    if not genes:
        raise Unsupported("fusion with no named gene")
    if len(genes) == 1:
        return [Biomarker(BiomarkerKind.FUSION, genes[0])]
    return [Biomarker(BiomarkerKind.FUSION, five, partner_gene=three)]


def parse_civic_variant(gene: str, name: str, variant_types: frozenset[str] = frozenset()) -> list[Biomarker]:
    """The biomarkers a CIViC variant name stands for (one, or one per alternative of ``G12/G13``).

    ``variant_types`` are the variant's Sequence Ontology types from VariantSummaries; they decide
    whether ``LOSS`` is a copy-number loss. Raises `Unsupported` with the reason otherwise.

    >>> parse_civic_variant("EGFR", "EXON 19 DELETION")[0].exon
    19
    >>> [b.codon for b in parse_civic_variant("KRAS", "G12/G13")]
    [12, 13]
    """
    text = " ".join(name.split())
    up = text.upper()
    gene_up = gene.upper()
    if up.startswith(gene_up + " "):  # "ALK FUSIONS", "NTRK1 FUSIONS"
        up = up[len(gene_up) + 1 :]
    if not up:
        raise Unsupported("empty variant name", "malformed")
    if any(word in up for word in _NOT_DNA):
        raise Unsupported(f"{text!r} is an expression or epigenetic biomarker, not a sequence finding")
    if up in {"WILD TYPE", "WILDTYPE", "WT"}:
        raise Unsupported("wild-type biomarkers (the absence of a mutation) are not matched")
    if up.startswith("C.") or up.startswith("RS"):
        raise Unsupported(f"{text!r} names a DNA change without a protein change")
    if up in _FUSION_WORDS:
        return [Biomarker(BiomarkerKind.FUSION, gene)]
    words = up.split(" ", 1)
    if words[0] in _FUSION_WORDS:  # "FUSION G1202R": a fusion plus a kinase-domain mutation
        raise Unsupported(
            f"fusion with a further alteration ({words[1]}) needs both at once; not representable"
        )
    pair = re.fullmatch(r"([A-Z0-9]+)-([A-Z0-9]+)(?: (.*))?", up)
    if pair and not up.startswith("LOSS") and (gene_up.startswith(pair[1]) or gene_up.startswith(pair[2])):
        five, three = _fusion_part(pair[1], gene_up), _fusion_part(pair[2], gene_up)
        return _fusion(five, three, pair[3] or "")
    if up == "AMPLIFICATION":
        return [Biomarker(BiomarkerKind.AMPLIFICATION, gene)]
    if up in _DELETION_WORDS:
        return [Biomarker(BiomarkerKind.DELETION, gene)]
    if up == "LOSS":
        if variant_types & _CN_LOSS_TYPES:
            return [Biomarker(BiomarkerKind.DELETION, gene)]
        raise Unsupported(
            "LOSS without a copy-number variant type is ambiguous (may be protein loss by IHC)",
        )
    if up in _GENE_CLASSES:
        return [Biomarker(BiomarkerKind.GENE_MUTATION, gene, consequence=_GENE_CLASSES[up])]
    exon = re.fullmatch(r"EXON (\d+) (.+)", up)
    if exon and exon[2] in _EXON_CLASSES:
        return [Biomarker(BiomarkerKind.EXON, gene, exon=int(exon[1]), consequence=_EXON_CLASSES[exon[2]])]
    out: list[Biomarker] = []
    parts = up.split("/")
    for i, part in enumerate(parts):
        if i and re.fullmatch(r"[A-Z*]", part):  # V600E/K: the second alternative shares V600
            part = re.sub(r"[A-Z*]$", "", parts[0]) + part
        codon = re.fullmatch(r"[A-Z](\d+)", part)
        if codon:
            out.append(Biomarker(BiomarkerKind.CODON, gene, codon=int(codon[1])))
            continue
        change = canonical_protein_change(part)
        if change is None:
            raise Unsupported(f"unrecognised CIViC variant name {text!r}")
        out.append(Biomarker(BiomarkerKind.PROTEIN_CHANGE, gene, protein_change=change))
    return out


def parse_civic_profile(profile: str) -> list[Biomarker]:
    """The biomarkers of a current-layout molecular profile name (``BRAF V600E``, ``v::ALK Fusion``).

    Profiles joined by OR give one biomarker per alternative; AND and NOT profiles need several
    findings at once and raise `Unsupported`.

    >>> parse_civic_profile("EML4::ALK e6-e20")[0].partner_gene
    'ALK'
    """
    text = " ".join(profile.split())
    if re.search(r"\b(AND|NOT)\b", text):
        raise Unsupported(f"compound molecular profile {text!r} needs several alterations at once")
    out: list[Biomarker] = []
    for part in re.split(r"\s+OR\s+", text):
        gene, _, name = part.partition(" ")
        if "::" in gene:
            five, three = (g if g not in {"v", "V", "?", ""} else None for g in gene.split("::", 1))
            out.extend(_fusion(five, three, name.upper()))
        else:
            out.extend(parse_civic_variant(gene, name))
    return out


def _therapy(names: str, interaction: str) -> str:
    drugs = [d.strip() for d in names.split(",") if d.strip()]
    joiner = {"COMBINATION": " + ", "SUBSTITUTES": " or ", "SEQUENTIAL": " then "}.get(
        interaction.strip().upper(), ", "
    )
    return joiner.join(drugs)


def _variant_types(path: Path) -> dict[str, frozenset[str]]:
    header, rows = read_tsv(path, ("variant_id", "variant_types"), what="CIViC VariantSummaries")
    vid, vtypes = header.index("variant_id"), header.index("variant_types")
    out: dict[str, frozenset[str]] = {}
    for _, values in rows:
        if len(values) > max(vid, vtypes):
            out[values[vid]] = frozenset(t.strip() for t in values[vtypes].split(",") if t.strip())
    return out


def load_civic(path: str | Path, *, release: dt.date, variants: str | Path | None = None) -> LoadReport:
    """Load a CIViC ``ClinicalEvidenceSummaries.tsv`` (2018 or current layout) into evidence items.

    Parameters
    ----------
    path
        The evidence summaries file.
    release
        The release date of the file (CIViC's monthly release, or the day a nightly was taken).
    variants
        The 2018 layout's ``VariantSummaries.tsv``; when omitted, a sibling file whose name has
        ``VariantSummaries`` for ``ClinicalEvidenceSummaries`` is used if present.

    Returns
    -------
    LoadReport
        Every data row is either parsed or listed in ``rejected`` with its line and reason.

    Raises
    ------
    FormatError
        The file is missing, not UTF-8, or its header is neither CIViC layout.
    """
    path = Path(path)
    header, rows = read_tsv(path, ("disease", "evidence_type", "evidence_level"), what="CIViC evidence")
    current = "molecular_profile" in header
    require_columns(
        header, _REQUIRED_CURRENT if current else _REQUIRED_2018, path=path, what="CIViC evidence"
    )
    types: dict[str, frozenset[str]] = {}
    companions: tuple[str, ...] = ()
    if not current:
        sibling = path.with_name(path.name.replace("ClinicalEvidenceSummaries", "VariantSummaries"))
        chosen = Path(variants) if variants is not None else (sibling if sibling != path else None)
        if chosen is not None and chosen.exists():
            types = _variant_types(chosen)
            companions = (str(chosen),)

    evidence: list[Evidence] = []
    rejected: list[Rejection] = []
    unmapped: Counter[str] = Counter()
    total = parsed = 0
    for line, values in rows:
        total += 1
        if len(values) != len(header):
            rejected.append(
                Rejection(line, f"has {len(values)} fields, the header has {len(header)}", None, "malformed")
            )
            continue
        row = dict(zip(header, values, strict=True))
        try:
            items = _row_evidence(row, current=current, release=release, line=line, types=types)
        except _Reject as exc:
            rejected.append(Rejection(line, exc.reason, exc.field, exc.category))
            continue
        parsed += 1
        for item in items:
            if not item.pan_cancer and not item.tumour_types:
                unmapped[item.disease] += 1
        evidence.extend(items)
    return LoadReport(
        source="civic",
        release=release,
        path=str(path),
        layout="civic-current" if current else "civic-2018",
        rows=total,
        parsed=parsed,
        evidence=tuple(evidence),
        rejected=tuple(rejected),
        unmapped_diseases=dict(unmapped.most_common()),
        companions=companions,
    )


class _Reject(Exception):  # noqa: N818 -- control flow inside the loader
    def __init__(self, reason: str, field: str | None, category: str) -> None:
        super().__init__(reason)
        self.reason, self.field, self.category = reason, field, category


def _row_evidence(
    row: dict[str, str], *, current: bool, release: dt.date, line: int, types: dict[str, frozenset[str]]
) -> list[Evidence]:
    kind = row["evidence_type"].strip()
    if kind.casefold() != "predictive":
        raise _Reject(
            f"evidence type {kind or '(empty)'!r} is not predictive; skipped",
            "evidence_type",
            "not predictive",
        )
    status = row["evidence_status"].strip()
    if status.casefold() != "accepted":
        raise _Reject(f"evidence status {status!r} is not accepted", "evidence_status", "not accepted")
    direction = row["evidence_direction"].strip()
    if direction.casefold() != "supports":
        raise _Reject(
            f"evidence direction {direction or '(empty)'!r}: the study does not support the significance",
            "evidence_direction",
            "does not support",
        )
    sig_field = "significance" if current else "clinical_significance"
    significance = row[sig_field].strip()
    if significance.casefold() not in _SIGNIFICANCE:
        category = "toxicity" if "adverse" in significance.casefold() else "unsupported significance"
        raise _Reject(
            f"significance {significance or '(empty)'!r} is neither response nor resistance",
            sig_field,
            category,
        )
    level = row["evidence_level"].strip().upper()
    if level not in _LEVELS:
        raise _Reject(f"evidence level {level!r} is not one of A-E", "evidence_level", "malformed")
    drugs_field = "therapies" if current else "drugs"
    interaction = row.get("therapy_interaction_type", "") if current else ""
    therapy = _therapy(row[drugs_field], interaction)
    if not therapy:
        raise _Reject("predictive evidence without a therapy", drugs_field, "malformed")
    try:
        if current:
            markers = parse_civic_profile(row["molecular_profile"])
        else:
            markers = parse_civic_variant(
                row["gene"].strip(), row["variant"], types.get(row.get("variant_id", "").strip(), frozenset())
            )
    except Unsupported as exc:
        field = "molecular_profile" if current else "variant"
        raise _Reject(exc.reason, field, exc.category) from None

    raw_doid = row["doid"].strip()
    doid = f"DOID:{raw_doid}" if raw_doid and not raw_doid.upper().startswith("DOID:") else (raw_doid or None)
    disease = row["disease"].strip()
    mapping = map_disease(disease, doid=doid)
    eid = row["evidence_id"].strip()
    if current:
        source_type, cid = row.get("source_type", "").strip(), row.get("citation_id", "").strip()
        citation = (
            f"PMID:{cid}"
            if source_type.casefold() == "pubmed" and cid
            else (f"{source_type}:{cid}" if cid else None)
        )
    else:
        pmid = row.get("pubmed_id", "").strip()
        citation = f"PMID:{pmid}" if pmid else (row.get("citation", "").strip() or None)
    items = []
    for k, m in enumerate(markers):
        items.append(
            Evidence(
                source="civic",
                release=release,
                evidence_id=f"EID{eid}" + (f".{k + 1}" if len(markers) > 1 else ""),
                biomarker=m.kind,
                gene=m.gene,
                therapy=therapy,
                direction=_SIGNIFICANCE[significance.casefold()],
                source_level=level,
                disease=disease,
                protein_change=m.protein_change,
                codon=m.codon,
                exon=m.exon,
                partner_gene=m.partner_gene,
                tumour_types=mapping.codes,
                pan_cancer=mapping.pan_cancer,
                doid=doid,
                citation=citation,
                line=line,
                consequence=m.consequence,
                protein_start=m.protein_start,
                protein_end=m.protein_end,
            )
        )
    return items
