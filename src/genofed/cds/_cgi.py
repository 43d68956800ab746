"""Cancer Genome Interpreter biomarkers (``cgi_biomarkers_per_variant.tsv``) to `Evidence`.

CGI writes each biomarker in a compact ``Alteration`` syntax; the ``Biomarker`` column says the
same in words. The per-variant file repeats a multi-variant biomarker once per variant and names
that variant in ``individual_mutation``. What the syntax can say, and what it becomes:

============================================  =========================================
``BRAF:V600E`` (or a list ``ABL1:T315I,...``)  PROTEIN_CHANGE, one per listed change
``BRAF:V600.``, ``RET:.618.``                  CODON (any change at the codon)
``KIT:550-592`` (``KIT mutation in exon 11``)  EXON: protein range; exon from the text
``EGFR::consequence::inframe_deletion:30-336``  EXON: range + consequence
``DPYD::consequence::splice_donor_variant:.``  GENE_MUTATION with that consequence
``ALK:.`` (``ALK oncogenic mutation``)         GENE_MUTATION
``ERBB2:amp`` / ``CDKN2A:del``                 AMPLIFICATION / DELETION
``ALK__.`` / ``BCR__ABL1``                     FUSION (any partner) / FUSION pair, unordered
============================================  =========================================

Rejected with the reason: expression (``:over``, ``:under``, ``:norm``), wild type, biallelic
inactivation (``BIA``, not one finding), promoter biomarkers, biomarkers that need several
alterations at once (``MET:amp;BRAF:V600E``), and toxicity associations.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

from genofed.model import expand_consequence

from ._disease import map_disease
from ._kbtable import LoadReport, Rejection, read_tsv
from ._syntax import Biomarker, Unsupported, canonical_protein_change
from ._types import BiomarkerKind, Direction, Evidence

__all__ = ["load_cgi", "parse_cgi_alteration"]

_REQUIRED = (
    "Alteration", "Alteration type", "Association", "Biomarker", "Drug", "Drug family", "Drug status",
    "Evidence level", "Gene", "Primary Tumor acronym", "Primary Tumor type", "Source",
    "individual_mutation",
)  # fmt: skip

_ASSOCIATION = {
    "responsive": Direction.RESPONSIVE,
    "resistant": Direction.RESISTANT,
    # CIViC lumps "resistance or non-response"; CGI's "No Responsive" is the non-response half.
    "no responsive": Direction.RESISTANT,
}
# CGI consequence names that are SO-like but not SO terms.
_CONSEQUENCE_ALIASES = {"inframe_variant": "inframe"}
_GENE = re.compile(r"^[A-Za-z0-9\-.]+$")


def _item(gene: str, item: str) -> Biomarker:
    codon = re.fullmatch(r"[A-Z.]?(\d+)\.", item)
    if codon:
        return Biomarker(BiomarkerKind.CODON, gene, codon=int(codon[1]))
    span = re.fullmatch(r"(\d+)-(\d+)", item)
    if span:
        return Biomarker(BiomarkerKind.EXON, gene, protein_start=int(span[1]), protein_end=int(span[2]))
    change = canonical_protein_change(item)
    if change is None:
        raise Unsupported(f"unrecognised protein change {item!r}", "malformed")
    return Biomarker(BiomarkerKind.PROTEIN_CHANGE, gene, protein_change=change)


def _consequences(gene: str, spec: str) -> list[Biomarker]:
    out = []
    for part in spec.split(","):
        term, _, where = part.removeprefix("::").partition(":")
        term = _CONSEQUENCE_ALIASES.get(term, term)
        if term.startswith("promoter"):
            raise Unsupported(f"promoter biomarker ({term}) has no coding finding to match")
        try:
            expand_consequence(term)
        except ValueError:
            raise Unsupported(f"unknown consequence {term!r}", "malformed") from None
        if where in {"", "."}:
            out.append(Biomarker(BiomarkerKind.GENE_MUTATION, gene, consequence=term))
            continue
        span = re.fullmatch(r"(\d+)-(\d+)", where)
        # A single position written with its residues (L485., .1151T., A775YVMA): an event at that codon.
        single = re.fullmatch(r"[A-Z.]?(\d+)[A-Z.]*", where)
        if span:
            start, end = int(span[1]), int(span[2])
        elif single:
            start = end = int(single[1])
        else:
            raise Unsupported(f"unrecognised position {where!r} of {term}", "malformed")
        out.append(
            Biomarker(BiomarkerKind.EXON, gene, consequence=term, protein_start=start, protein_end=end)
        )
    return out


def parse_cgi_alteration(alteration: str, *, biomarker: str = "", individual: str = "") -> list[Biomarker]:
    """The biomarkers one CGI ``Alteration`` stands for.

    ``individual`` is the per-variant file's ``individual_mutation`` (``ABL1:T315I``): when given,
    the row is about that one change of a list. Exon numbers come from ``biomarker`` text
    (``KIT mutation in exon 9 or 17``) when it names one exon per range.

    >>> [b.kind.value for b in parse_cgi_alteration("BCR__ABL1")]
    ['FUSION']
    >>> parse_cgi_alteration("KIT:550-592", biomarker="KIT mutation in exon 11")[0].exon
    11
    """
    text = alteration.strip()
    if ";" in text:
        raise Unsupported(f"compound biomarker {text!r} needs several alterations at once")
    if "__" in text:
        gene, partner = text.split("__", 1)
        if not _GENE.match(gene):
            raise Unsupported(f"unrecognised fusion {text!r}", "malformed")
        return [Biomarker(BiomarkerKind.FUSION, gene, partner_gene=None if partner in {".", ""} else partner)]
    if "::" in text:
        gene, _, rest = text.partition("::")
        if rest.startswith("wildtype"):
            raise Unsupported("wild-type biomarkers (the absence of a mutation) are not matched")
        if not rest.startswith("consequence::"):
            raise Unsupported(f"unrecognised alteration {text!r}", "malformed")
        return _consequences(gene, rest.removeprefix("consequence::"))
    gene, sep, spec = text.partition(":")
    if not sep or not gene or not _GENE.match(gene):
        raise Unsupported(f"unrecognised alteration {text!r}: expected GENE:CHANGE", "malformed")
    if spec == ".":
        return [Biomarker(BiomarkerKind.GENE_MUTATION, gene)]
    if spec == "amp":
        return [Biomarker(BiomarkerKind.AMPLIFICATION, gene)]
    if spec == "del":
        return [Biomarker(BiomarkerKind.DELETION, gene)]
    if spec in {"over", "under", "norm"}:
        raise Unsupported(f"expression biomarker ({spec}) is not a sequence finding")
    if individual:
        ind_gene, _, ind_spec = individual.partition(":")
        gene, items = ind_gene or gene, [ind_spec]
    else:
        items = list(dict.fromkeys(spec.split(",")))
    markers = [_item(gene, item) for item in items]
    spans = sorted((m for m in markers if m.kind is BiomarkerKind.EXON), key=lambda m: m.protein_start or 0)
    exons = (
        sorted({int(n) for n in re.findall(r"\d+", biomarker.partition("exon")[2])})
        if "exon" in biomarker
        else []
    )
    if spans and len(spans) == len(exons):
        # Exons run 5' to 3' as the protein does, so the sorted ranges pair with the sorted exons.
        numbered = {id(m): n for m, n in zip(spans, exons, strict=True)}
        markers = [
            Biomarker(
                m.kind, m.gene, exon=numbered[id(m)], protein_start=m.protein_start, protein_end=m.protein_end
            )
            if id(m) in numbered
            else m
            for m in markers
        ]
    return markers


def _therapy(drug: str, family: str) -> str:
    drug, family = drug.strip(), family.strip()
    if drug in {"", "[]"}:
        names = [n.strip() for n in family.strip("[]").split(";") if n.strip()]
        return " + ".join(names) + (" (drug family)" if names else "")
    if drug.startswith("["):  # [Nilotinib,Dasatinib]: any of these
        return " or ".join(n.strip() for n in drug.strip("[]").split(",") if n.strip())
    return " + ".join(n.strip() for n in drug.split(";") if n.strip())


def load_cgi(path: str | Path, *, release: dt.date) -> LoadReport:
    """Load CGI's ``cgi_biomarkers_per_variant.tsv`` into evidence items.

    Parameters
    ----------
    path
        The biomarkers file.
    release
        Its release date (CGI does not write one in the file).

    Returns
    -------
    LoadReport
        Every data row is either parsed or listed in ``rejected`` with its line and reason.

    Raises
    ------
    FormatError
        The file is missing, not UTF-8, or lacks a required column.
    """
    path = Path(path)
    header, rows = read_tsv(path, _REQUIRED, what="CGI biomarkers")
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
        association = row["Association"].strip()
        direction = _ASSOCIATION.get(association.casefold())
        if direction is None:
            category = "toxicity" if "toxicity" in association.casefold() else "unsupported association"
            rejected.append(
                Rejection(
                    line,
                    f"association {association!r} is neither response nor resistance",
                    "Association",
                    category,
                )
            )
            continue
        kinds = row["Alteration type"].strip()
        try:
            if kinds == "BIA":
                raise Unsupported("biallelic inactivation needs two hits; no single finding shows it")
            if kinds == "EXPR":
                raise Unsupported("expression biomarker is not a sequence finding")
            markers = parse_cgi_alteration(
                row["Alteration"], biomarker=row["Biomarker"], individual=row["individual_mutation"].strip()
            )
        except Unsupported as exc:
            rejected.append(Rejection(line, exc.reason, "Alteration", exc.category))
            continue
        level = row["Evidence level"].strip()
        if not level:
            rejected.append(Rejection(line, "no evidence level", "Evidence level", "malformed"))
            continue
        codes: list[str] = []
        pan = False
        names = row["Primary Tumor type"].split(";")
        for i, acronym in enumerate(row["Primary Tumor acronym"].split(";")):
            name = names[i] if i < len(names) else ""
            mapping = map_disease(name, cgi_code=acronym)
            pan = pan or mapping.pan_cancer
            codes.extend(c for c in mapping.codes if c not in codes)
            if not mapping.mapped:
                unmapped[name or acronym] += 1
        therapy = _therapy(row["Drug"], row["Drug family"])
        source = row["Source"].strip()
        parsed += 1
        for k, m in enumerate(markers):
            evidence.append(
                Evidence(
                    source="cgi",
                    release=release,
                    evidence_id=f"CGI:{line}" + (f".{k + 1}" if len(markers) > 1 else ""),
                    biomarker=m.kind,
                    gene=m.gene,
                    therapy=therapy,
                    direction=direction,
                    source_level=level,
                    disease=row["Primary Tumor type"].strip(),
                    protein_change=m.protein_change,
                    codon=m.codon,
                    exon=m.exon,
                    partner_gene=m.partner_gene,
                    tumour_types=tuple(codes),
                    pan_cancer=pan,
                    drug_status=row["Drug status"].strip() or None,
                    citation=source.split(";")[0] if source else None,
                    line=line,
                    consequence=m.consequence,
                    protein_start=m.protein_start,
                    protein_end=m.protein_end,
                )
            )
    return LoadReport(
        source="cgi",
        release=release,
        path=str(path),
        layout="cgi-biomarkers-per-variant",
        rows=total,
        parsed=parsed,
        evidence=tuple(evidence),
        rejected=tuple(rejected),
        unmapped_diseases=dict(unmapped.most_common()),
    )
