"""Which patient groups gain most from whole-genome sequencing over a targeted panel.

For each tumour type (and, optionally, another grouping such as stage or age band) the analysis
counts the patients whose WGS findings include a tier I or II finding, the patients for whom the
panel, emulated on the same genomes (:meth:`Panel.detects`), would have found one, and the
difference: patients actionable *only* by WGS. Because a panel detects a subset of what the genome
shows, ``wgs_only = wgs_actionable - panel_actionable``, and the **incremental yield** is
``wgs_only / n`` with a 95% Wilson score interval (Wilson, J Am Stat Assoc 1927). Groups are
ranked by incremental yield.

The analysis is split where a federation needs it split:

- :func:`benefit_counts` runs where the genomes are (one node) and returns only integer counts per
  group (:class:`BenefitCounts`);
- :func:`sum_counts` adds counts of the same group from several nodes, exactly;
- :func:`benefit_table` forms proportions, intervals and the ranking from (summed) counts.

So the federated result equals the pooled one by construction: proportions are never averaged.
WGS-only patients are also broken out by the class of their WGS-only actionable findings
(:class:`FindingClass`); a patient with findings of two classes counts in both, so the class counts
can sum to more than ``wgs_only``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from html import escape
from typing import Any

from markupsafe import Markup

from ._findings import PatientFindings, StoreLike, cohort_findings
from ._knowledge import KnowledgeBase
from ._match import match_findings
from ._panels import Panel
from ._types import Finding, FindingKind, Match

__all__ = [
    "ACTIONABLE_TIERS",
    "UNKNOWN_TUMOUR_TYPE",
    "BenefitCounts",
    "BenefitRow",
    "BenefitTable",
    "FindingClass",
    "benefit_counts",
    "benefit_members",
    "benefit_svg",
    "benefit_table",
    "finding_class",
    "render_benefit_html",
    "store_benefit_counts",
    "sum_counts",
    "wilson_interval",
]

#: AMP/ASCO/CAP tiers that make a finding actionable here
ACTIONABLE_TIERS = frozenset({"I", "II"})
#: group label of patients without a tumour type
UNKNOWN_TUMOUR_TYPE = "unknown"
_Z95 = 1.959963984540054  # the 97.5% standard normal quantile


class FindingClass(StrEnum):
    """Why a panel misses a finding WGS has, by the finding's class."""

    SV_FUSION = "sv_fusion"  # a fusion the panel does not cover (no fusion baits, partner outside)
    SIGNATURE = "signature"  # TMB-high, MSI-high, HRD: genome-wide signatures
    GERMLINE = "germline"  # germline variants and deletions (panels here call somatic only)
    OTHER = "other"  # small variants and copy-number events in genes outside the panel


def finding_class(finding: Finding) -> FindingClass:
    """The class a finding is counted under (germline first: a germline deletion is germline)."""
    if finding.germline:
        return FindingClass.GERMLINE
    if finding.kind is FindingKind.SIGNATURE:
        return FindingClass.SIGNATURE
    if finding.kind is FindingKind.FUSION:
        return FindingClass.SV_FUSION
    return FindingClass.OTHER


@dataclass(frozen=True, slots=True)
class BenefitCounts:
    """A node's counts for one group: what it releases (all integers, so nodes' counts add exactly)."""

    tumour_type: str
    group: str | None
    n: int  # sequenced patients in the group
    wgs_actionable: int  # with a tier I/II finding from WGS
    panel_actionable: int  # with a tier I/II finding the panel detects
    wgs_only: int  # actionable by WGS and not by the panel
    wgs_only_sv_fusion: int = 0
    wgs_only_signature: int = 0
    wgs_only_germline: int = 0
    wgs_only_other: int = 0

    @property
    def key(self) -> tuple[str, str]:
        """The group's identity: (tumour type, other grouping or "")."""
        return self.tumour_type, self.group or ""

    def __add__(self, other: BenefitCounts) -> BenefitCounts:
        if self.key != other.key:
            raise ValueError(f"cannot add counts of group {other.key} to group {self.key}")
        numbers = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name not in ("tumour_type", "group")
        }
        return BenefitCounts(tumour_type=self.tumour_type, group=self.group, **numbers)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (a node's answer)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenefitCounts:
        """The inverse of :meth:`to_dict`."""
        group = data.get("group")
        return cls(
            tumour_type=str(data["tumour_type"]),
            group=str(group) if group is not None else None,
            **{name: int(data.get(name, 0)) for name in _COUNT_FIELDS},
        )


def benefit_members(
    cohort: Iterable[PatientFindings],
    matches_by_patient: Mapping[str, Sequence[Match]],
    panel: Panel,
    *,
    groups: Mapping[str, str] | None = None,
    assays: Iterable[str] | None = ("WGS",),
) -> dict[tuple[str, str | None], dict[str, set[str]]]:
    """The patients behind every count of :func:`benefit_counts`: group -> count name -> pseudonyms.

    A node needs the people, not only their number, for its differencing guard.
    """
    wanted = frozenset(assays) if assays is not None else None
    members: dict[tuple[str, str | None], dict[str, set[str]]] = {}
    for patient in cohort:
        if wanted is not None and not wanted.intersection(patient.assays):
            continue
        key = (
            patient.tumour_type or UNKNOWN_TUMOUR_TYPE,
            groups.get(patient.individual_id) if groups else None,
        )
        row = members.setdefault(key, {name: set() for name in _COUNT_FIELDS})
        person = patient.individual_id
        row["n"].add(person)
        actionable = {
            m.finding for m in matches_by_patient.get(person, ()) if m.amp_tier.tier in ACTIONABLE_TIERS
        }
        if not actionable:
            continue
        row["wgs_actionable"].add(person)
        if any(panel.detects(f) for f in actionable):
            row["panel_actionable"].add(person)
            continue
        row["wgs_only"].add(person)
        for cls in {finding_class(f) for f in actionable}:
            row[f"wgs_only_{cls.value}"].add(person)
    return dict(sorted(members.items(), key=lambda item: (item[0][0], item[0][1] or "")))


def benefit_counts(
    cohort: Iterable[PatientFindings],
    matches_by_patient: Mapping[str, Sequence[Match]],
    panel: Panel,
    *,
    groups: Mapping[str, str] | None = None,
    assays: Iterable[str] | None = ("WGS",),
) -> list[BenefitCounts]:
    """Count, per group, patients actionable by WGS, by the emulated panel, and by WGS only.

    Parameters
    ----------
    cohort
        The node's patients (:func:`~genofed.cds.cohort_findings`).
    matches_by_patient
        Each patient's matches (:func:`~genofed.cds.match_findings`), by pseudonym; a patient
        absent here has no matches.
    panel
        The panel to emulate on the same genomes.
    groups
        An optional second grouping: pseudonym -> label (stage, age band, node...); patients
        absent from it are grouped under ``None``.
    assays
        Count only patients with an analysis of one of these assays (default WGS: a panel cannot
        be emulated on a panel); None counts everyone.

    Returns
    -------
    list[BenefitCounts]
        One entry per (tumour type, group) with at least one patient, sorted by key.
    """
    members = benefit_members(cohort, matches_by_patient, panel, groups=groups, assays=assays)
    return [
        BenefitCounts(tumour_type=tumour, group=group, **{name: len(people) for name, people in row.items()})
        for (tumour, group), row in members.items()
    ]


def store_benefit_counts(
    store: StoreLike,
    kb: KnowledgeBase,
    panel: Panel,
    *,
    groups: Mapping[str, str] | None = None,
    assays: Iterable[str] | None = ("WGS",),
) -> list[BenefitCounts]:
    """A node's part of the analysis in one call: read its cohort, match it, count (integers only)."""
    cohort = cohort_findings(store)
    matches = {p.individual_id: match_findings(p.findings, kb, p.tumour_type) for p in cohort}
    return benefit_counts(cohort, matches, panel, groups=groups, assays=assays)


_COUNT_FIELDS = tuple(f.name for f in fields(BenefitCounts) if f.name not in ("tumour_type", "group"))


def sum_counts(*parts: Iterable[BenefitCounts]) -> list[BenefitCounts]:
    """Add the counts of the same group over several nodes (exact: integers), sorted by key."""
    summed: dict[tuple[str, str], BenefitCounts] = {}
    for part in parts:
        for counts in part:
            summed[counts.key] = summed[counts.key] + counts if counts.key in summed else counts
    return [summed[key] for key in sorted(summed)]


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (Wilson 1927; Brown, Cai & DasGupta 2001).

    >>> [round(x, 4) for x in wilson_interval(3, 10)]
    [0.1078, 0.6032]
    """
    if n <= 0:
        raise ValueError("the Wilson interval needs at least one trial")
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class BenefitRow:
    """One group's counts with its yields and the 95% Wilson interval of the incremental yield."""

    rank: int
    counts: BenefitCounts
    wgs_yield: float
    panel_yield: float
    incremental_yield: float
    ci_lower: float
    ci_upper: float

    @property
    def label(self) -> str:
        """``SKCM`` or ``SKCM / stage IV``."""
        c = self.counts
        return f"{c.tumour_type} / {c.group}" if c.group else c.tumour_type

    def as_dict(self) -> dict[str, Any]:
        """Flat form: the counts' fields beside the yields."""
        return {
            "rank": self.rank,
            **self.counts.to_dict(),
            "wgs_yield": self.wgs_yield,
            "panel_yield": self.panel_yield,
            "incremental_yield": self.incremental_yield,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
        }


@dataclass(frozen=True, slots=True)
class BenefitTable:
    """The ranked groups (highest incremental yield first) and the total over all of them."""

    rows: tuple[BenefitRow, ...]
    total: BenefitRow | None
    panel: str | None = None

    def table(self) -> Any:
        """A pandas DataFrame, one row per group in rank order (pandas is optional)."""
        try:
            import pandas as pd  # type: ignore[import-untyped,unused-ignore]
        except ImportError as exc:  # pragma: no cover - pandas is installed in development
            raise ImportError("table() needs pandas (pip install pandas); .rows holds the numbers") from exc
        return pd.DataFrame([row.as_dict() for row in self.rows])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "panel": self.panel,
            "rows": [row.as_dict() for row in self.rows],
            "total": self.total.as_dict() if self.total else None,
        }


def _row(rank: int, counts: BenefitCounts) -> BenefitRow:
    n = counts.n
    low, high = wilson_interval(counts.wgs_only, n)
    return BenefitRow(
        rank=rank,
        counts=counts,
        wgs_yield=counts.wgs_actionable / n,
        panel_yield=counts.panel_actionable / n,
        incremental_yield=counts.wgs_only / n,
        ci_lower=low,
        ci_upper=high,
    )


def benefit_table(counts: Iterable[BenefitCounts], *, panel: str | None = None) -> BenefitTable:
    """Yields, Wilson intervals and the ranking from (summed) counts.

    Groups with the same key are added first, so per-node lists can be passed concatenated. Ranked
    by incremental yield, then by size (a yield seen in more patients first), then by name.
    """
    merged = [c for c in sum_counts(counts) if c.n > 0]
    ordered = sorted(merged, key=lambda c: (-c.wgs_only / c.n, -c.n, c.key))
    rows = tuple(_row(rank, c) for rank, c in enumerate(ordered, start=1))
    total = None
    if merged:
        summed = {name: sum(getattr(c, name) for c in merged) for name in _COUNT_FIELDS}
        total = _row(0, BenefitCounts(tumour_type="all", group=None, **summed))
    return BenefitTable(rows=rows, total=total, panel=panel)


_BAR, _GAP, _LEFT, _PLOT, _RIGHT, _TOP = 18, 8, 170, 360, 150, 28


def benefit_svg(table: BenefitTable) -> Markup:
    """The ranking as an inline SVG bar chart: incremental yield per group with its 95% interval."""
    rows = table.rows
    height = _TOP + len(rows) * (_BAR + _GAP) + 34
    width = _LEFT + _PLOT + _RIGHT
    top = max([r.ci_upper for r in rows] + [0.05])
    scale = math.ceil(top * 10) / 10 if top < 1 else 1.0

    def x(value: float) -> float:
        return _LEFT + _PLOT * value / scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="benefit-chart-title" font-family="sans-serif" font-size="12">',
        '<title id="benefit-chart-title">Incremental yield of WGS over the panel by group, '
        "with 95% Wilson intervals</title>",
    ]
    ticks = 5
    for k in range(ticks + 1):
        value = scale * k / ticks
        parts.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{_TOP - 6}" y2="{height - 28}" '
            'stroke="#e5e5e5"/>'
        )
        parts.append(f'<text x="{x(value):.1f}" y="{height - 14}" text-anchor="middle">{value:.0%}</text>')
    parts.append(
        f'<text x="{_LEFT + _PLOT / 2}" y="{_TOP - 12}" text-anchor="middle">'
        "patients actionable only by WGS (incremental yield)</text>"
    )
    for i, row in enumerate(rows):
        y = _TOP + i * (_BAR + _GAP)
        mid = y + _BAR / 2
        label = escape(row.label)
        c = row.counts
        parts.append(f'<text x="{_LEFT - 8}" y="{mid + 4:.1f}" text-anchor="end">{label} (n={c.n})</text>')
        parts.append(
            f'<rect x="{_LEFT}" y="{y}" width="{max(x(row.incremental_yield) - _LEFT, 0.5):.1f}" '
            f'height="{_BAR}" fill="#1f77b4"><title>{label}: {c.wgs_only}/{c.n} = '
            f"{row.incremental_yield:.1%} (95% CI {row.ci_lower:.1%}–{row.ci_upper:.1%})</title></rect>"
        )
        parts.append(
            f'<line x1="{x(row.ci_lower):.1f}" x2="{x(row.ci_upper):.1f}" y1="{mid:.1f}" y2="{mid:.1f}" '
            'stroke="#222" stroke-width="1.5"/>'
        )
        for end in (row.ci_lower, row.ci_upper):
            parts.append(
                f'<line x1="{x(end):.1f}" x2="{x(end):.1f}" y1="{mid - 5:.1f}" y2="{mid + 5:.1f}" '
                'stroke="#222"/>'
            )
        parts.append(
            f'<text x="{_LEFT + _PLOT + 8}" y="{mid + 4:.1f}">{row.incremental_yield:.1%} '
            f"({c.wgs_only}/{c.n})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def render_benefit_html(table: BenefitTable, panel: Panel, *, releases: object = None) -> str:
    """The ranking as one self-contained HTML page: the bar chart and the table of counts."""
    from ._report import environment, kb_releases

    template = environment().get_template("benefit_report.html.j2")
    return template.render(table=table, panel=panel, chart=benefit_svg(table), releases=kb_releases(releases))
