"""The patient report: a patient's findings matched to evidence, grouped by tier, as JSON and HTML.

:meth:`PatientReport.build` takes what the other parts produce -- :class:`PatientFindings` (from the
store), the :class:`Match` list (from the matcher) and the knowledge-base releases -- and arranges
it: each finding gets the best AMP/ASCO/CAP tier of its matches (Li et al., J Mol Diagn 2017) and is
shown in that tier's section with every matching evidence item (therapy, direction, source level,
tumour type on/off label, ESCAT level, and the rule that gave the tier); findings without evidence
have a section of their own. The report is "as of" a date: evidence released after it is left out
(and counted), so a past report is reproduced by the same date and knowledge bases.

``to_json()`` is deterministic (sorted keys, no timestamp). ``to_html()`` renders
``templates/patient_report.html.j2`` with Jinja2 autoescaping: one self-contained page (no scripts,
no external assets), with headings per tier, tables whose header cells carry ``scope``, and print
styles.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from genofed.model import oncotree

from ._findings import DriverEntry, PatientFindings, StoreLike, patient_findings
from ._knowledge import KnowledgeBase
from ._match import match_findings
from ._types import AmpTier, Finding, FindingKind, Match

__all__ = [
    "EvidenceLine",
    "PatientReport",
    "ReportedFinding",
    "TierSection",
    "build_report",
    "environment",
    "kb_releases",
]

REPORT_FORMAT = "genofed-patient-report/1"
_TIER_ORDER = ("I", "II", "III", "IV")
_LEVEL_ORDER = {level: i for i, level in enumerate(AmpTier)}
_SECTIONS = {
    "I": (
        "Tier I: strong clinical significance",
        "Approved therapy or guideline, or well-powered studies, in this tumour type (AMP levels A, B).",
    ),
    "II": (
        "Tier II: potential clinical significance",
        "Approved therapy in another tumour type, trials, preclinical or case evidence (AMP levels C, D).",
    ),
    "III": (
        "Tier III: unknown clinical significance",
        "Evidence matched but supports no tier I or II claim.",
    ),
    "IV": ("Tier IV: benign or likely benign", "Evidence that the alteration is benign."),
    "none": (
        "Findings without matching evidence",
        "Alterations in the genome for which the knowledge bases hold no matching evidence.",
    ),
}


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    """One matched evidence item as the report shows it."""

    therapy: str
    direction: str
    source: str
    release: dt.date
    evidence_id: str
    source_level: str
    disease: str
    tumour_types: tuple[str, ...]
    on_label: bool
    amp_tier: str
    escat: str
    rule: str
    match_level: str
    drug_status: str | None
    citation: str | None

    @classmethod
    def of(cls, match: Match) -> EvidenceLine:
        """The line of one match."""
        e = match.evidence
        return cls(
            therapy=e.therapy,
            direction=e.direction.value,
            source=e.source,
            release=e.release,
            evidence_id=e.evidence_id,
            source_level=e.source_level,
            disease=e.disease,
            tumour_types=e.tumour_types,
            on_label=match.on_label,
            amp_tier=match.amp_tier.value,
            escat=match.escat.value,
            rule=match.rule,
            match_level=match.match_level,
            drug_status=e.drug_status,
            citation=e.citation,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "therapy": self.therapy,
            "direction": self.direction,
            "source": self.source,
            "release": self.release.isoformat(),
            "evidence_id": self.evidence_id,
            "source_level": self.source_level,
            "disease": self.disease,
            "tumour_types": list(self.tumour_types),
            "on_label": self.on_label,
            "amp_tier": self.amp_tier,
            "escat": self.escat,
            "rule": self.rule,
            "match_level": self.match_level,
            "drug_status": self.drug_status,
            "citation": self.citation,
        }


@dataclass(frozen=True, slots=True)
class ReportedFinding:
    """A finding with its best tier and its evidence lines (best first)."""

    finding: Finding
    best: AmpTier | None
    evidence: tuple[EvidenceLine, ...]

    @property
    def tier(self) -> str:
        """I, II, III, IV, or ``none`` without evidence."""
        return self.best.tier if self.best is not None else "none"

    @property
    def label(self) -> str:
        """The finding's name; a driver-catalog entry without its variant reads ``BRAF mutation``."""
        f = self.finding
        if f.kind is FindingKind.SMALL_VARIANT and not f.protein_change and not f.consequence:
            text = f"{f.gene} mutation"
        else:
            text = f.label
        return f"{text} (germline)" if f.germline else text

    @property
    def therapies(self) -> tuple[str, ...]:
        """Distinct therapies of the evidence, in evidence order."""
        return tuple(dict.fromkeys(line.therapy for line in self.evidence))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        f = self.finding
        return {
            "label": self.label,
            "kind": f.kind.value,
            "gene": f.gene,
            "protein_change": f.protein_change,
            "consequence": f.consequence,
            "partner_gene": f.partner_gene,
            "signature": f.signature,
            "germline": f.germline,
            "reported": f.reported,
            "detail": dict(f.detail),
            "tier": self.tier,
            "best_level": self.best.value if self.best is not None else None,
            "evidence": [line.as_dict() for line in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class TierSection:
    """One section of the report: a tier (or ``none``) and its findings."""

    tier: str
    title: str
    description: str
    findings: tuple[ReportedFinding, ...]

    @property
    def anchor(self) -> str:
        """HTML id of the section (``tier-i``, ``tier-none``)."""
        return f"tier-{self.tier.lower()}"


def kb_releases(value: object) -> tuple[tuple[str, dt.date], ...]:
    """Normalise knowledge-base releases to sorted (source, date) pairs.

    Accepts a mapping source -> date (or ISO string), pairs, or objects with ``source`` and
    ``release`` attributes (whatever ``KnowledgeBase.releases`` holds).

    >>> kb_releases({"civic": "2018-05-01"})
    (('civic', datetime.date(2018, 5, 1)),)
    """
    if value is None:
        return ()
    items: Iterable[Any] = value.items() if isinstance(value, Mapping) else value  # type: ignore[assignment]
    out: set[tuple[str, dt.date]] = set()
    for item in items:
        if isinstance(item, tuple | list) and len(item) == 2:
            source, release = item
        else:
            source, release = getattr(item, "source", None), getattr(item, "release", None)
        if source is None or release is None:
            raise TypeError(f"cannot read a knowledge-base release from {item!r}")
        release = getattr(release, "release", release)  # a mapping source -> ReleaseInfo
        if isinstance(release, dt.datetime):
            release = release.date()
        elif not isinstance(release, dt.date):
            release = dt.date.fromisoformat(str(release))
        out.add((str(source), release))
    return tuple(sorted(out))


@dataclass(frozen=True, slots=True)
class PatientReport:
    """A patient's findings by tier with their evidence, and the knowledge bases behind it."""

    individual_id: str
    tumour_type: str | None
    tumour_type_name: str | None
    as_of: dt.date | None
    knowledge_bases: tuple[tuple[str, dt.date], ...]
    sections: tuple[TierSection, ...]
    drivers: tuple[DriverEntry, ...]
    biomarkers: tuple[tuple[str, str], ...]
    assays: tuple[str, ...]
    left_out: int = 0  # matches whose evidence was released after ``as_of``

    @classmethod
    def build(
        cls,
        patient: PatientFindings,
        matches: Sequence[Match],
        *,
        releases: object = None,
        as_of: dt.date | None = None,
        tumour_type: str | None = None,
    ) -> PatientReport:
        """Arrange a patient's findings and matches into tier sections.

        Parameters
        ----------
        patient
            The patient's findings (:func:`~genofed.cds.patient_findings`).
        matches
            The matches of those findings (:func:`~genofed.cds.match_findings`).
        releases
            The knowledge-base releases used (``KnowledgeBase.releases``, a mapping or pairs);
            None: the releases of the matched evidence.
        as_of
            The report's date: evidence released after it is left out.
        tumour_type
            The tumour type the matches were made for, when it is not the stored one.

        Returns
        -------
        PatientReport
        """
        kept = [m for m in matches if as_of is None or m.evidence.release <= as_of]
        by_finding: dict[Finding, list[Match]] = {f: [] for f in patient.findings}
        for match in kept:
            by_finding.setdefault(match.finding, []).append(match)
        reported = []
        for finding, found in by_finding.items():
            found.sort(
                key=lambda m: (
                    _LEVEL_ORDER[m.amp_tier],
                    not m.on_label,
                    m.evidence.direction.value,
                    m.evidence.therapy,
                    m.evidence.source,
                    m.evidence.evidence_id,
                )
            )
            best = found[0].amp_tier if found else None
            reported.append(ReportedFinding(finding, best, tuple(EvidenceLine.of(m) for m in found)))
        sections = []
        for tier in (*_TIER_ORDER, "none"):
            members = sorted(
                (r for r in reported if r.tier == tier),
                key=lambda r: (_LEVEL_ORDER[r.best] if r.best else 0, not r.finding.reported, r.label),
            )
            if members or tier in ("I", "II", "III", "none"):
                title, description = _SECTIONS[tier]
                sections.append(TierSection(tier, title, description, tuple(members)))
        code = tumour_type or patient.tumour_type
        tree = oncotree()
        name = tree.get(code).name if code and code in tree else None
        used = (
            kb_releases(releases)
            if releases is not None
            else kb_releases({(m.evidence.source, m.evidence.release) for m in kept})
        )
        return cls(
            individual_id=patient.individual_id,
            tumour_type=code,
            tumour_type_name=name,
            as_of=as_of,
            knowledge_bases=used,
            sections=tuple(sections),
            drivers=patient.drivers,
            biomarkers=patient.biomarkers,
            assays=patient.assays,
            left_out=len(matches) - len(kept),
        )

    def section(self, tier: str) -> TierSection:
        """The section of one tier (``I``, ``II``, ``III``, ``IV``, ``none``)."""
        for section in self.sections:
            if section.tier == tier:
                return section
        raise KeyError(f"no section {tier!r} in the report")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the whole report."""
        return {
            "format": REPORT_FORMAT,
            "individual_id": self.individual_id,
            "tumour_type": {"code": self.tumour_type, "name": self.tumour_type_name},
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "knowledge_bases": [{"source": s, "release": r.isoformat()} for s, r in self.knowledge_bases],
            "evidence_left_out_after_as_of": self.left_out,
            "assays": list(self.assays),
            "sections": [
                {
                    "tier": s.tier,
                    "title": s.title,
                    "findings": [f.as_dict() for f in s.findings],
                }
                for s in self.sections
            ],
            "drivers": [
                {
                    "gene": d.gene,
                    "driver": d.driver,
                    "germline": d.germline,
                    "likelihood_method": d.likelihood_method,
                    "likelihood": d.likelihood,
                    "biallelic": d.biallelic,
                }
                for d in self.drivers
            ],
            "biomarkers": [{"name": n, "value": v} for n, v in self.biomarkers],
        }

    def to_json(self) -> str:
        """The report as deterministic JSON (sorted keys, two-space indent)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def to_html(self) -> str:
        """The report as one self-contained, printable HTML page."""
        template = environment().get_template("patient_report.html.j2")
        return template.render(report=self)


def build_report(
    store: StoreLike,
    individual_id: str,
    kb: KnowledgeBase,
    *,
    as_of: dt.date | None = None,
    tumour_type: str | None = None,
) -> PatientReport:
    """Read a patient from a store, match the findings to ``kb`` and build the report.

    ``tumour_type`` is used only when the store records none for the patient. ``kb`` should be
    opened ``as_of`` the same date (``KnowledgeBase.open(dir, as_of=...)``) so the releases match.
    """
    patient = patient_findings(store, individual_id)
    code = patient.tumour_type or tumour_type
    matches = match_findings(patient.findings, kb, code)
    return PatientReport.build(patient, matches, releases=kb.releases, as_of=as_of, tumour_type=code)


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the package's templates (autoescaping on)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
