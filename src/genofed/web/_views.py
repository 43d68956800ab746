"""From a study's federated answers to what a page shows: node rows, ranges, charts, tables, CSV.

Each function takes the :class:`~genofed.federation.StudyResult` of one view's study (see
:mod:`genofed.web._params`) and returns a plain dataclass the template renders; the same data feeds
the view's CSV export, so the page and the download cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from genofed.api import CountResult, WgsBenefitResult
from genofed.federation import (
    BenefitGroupRow,
    CombinedCount,
    CombinedCountResult,
    CombinedCrossTab,
    CombinedKaplanMeier,
    CombinedModelFit,
    CombinedWgsBenefit,
    FederatedAnswer,
    StudyResult,
    benefit_chart,
    benefit_rows,
)
from genofed.model import oncotree

from ._charts import bar_chart_svg, forest_svg, heatmap_svg, km_svg
from ._numbers import Share, explain_cell, explain_outcome, explain_total, share_of

__all__ = [
    "BenefitPanel",
    "CountPanel",
    "ModelPanel",
    "MutationPanel",
    "NodeRow",
    "SurvivalPanel",
    "benefit_panel",
    "count_panel",
    "csv_rows",
    "model_panel",
    "mutation_panel",
    "survival_panel",
]


@dataclass
class NodeRow:
    """One node's part in a count: what it released (or why nothing), explained."""

    node: str
    country: str
    state: str  # exact, rounded, small, withheld, refused, failed, timed_out
    display: str
    lower: int | None
    upper: int | None
    explanation: str


@dataclass
class CountPanel:
    """The live count: a row per node and the total."""

    rows: list[NodeRow]
    total: CombinedCount | None
    total_explanation: str
    effects: tuple[str, ...]
    missing: tuple[str, ...]


def count_panel(answer: FederatedAnswer) -> CountPanel:
    """Node rows and the combined count of a count answer."""
    rows = []
    for outcome in answer.outcomes:
        response = outcome.response
        if response is not None and isinstance(response.result, CountResult):
            count = response.result.count
            rows.append(
                NodeRow(
                    outcome.node,
                    outcome.country,
                    count.status.value,
                    count.display,
                    count.lower,
                    count.upper,
                    explain_cell(count, outcome.node),
                )
            )
        else:
            shown = "refused" if outcome.status.value == "refused" else "no answer"
            rows.append(
                NodeRow(
                    outcome.node,
                    outcome.country,
                    outcome.status.value,
                    shown,
                    None,
                    None,
                    explain_outcome(outcome),
                )
            )
    total = answer.combined.count if isinstance(answer.combined, CombinedCountResult) else None
    if total is None:
        text = "No node answered, so there is no total: " + " ".join(r.explanation for r in rows)
    else:
        text = explain_total(total, answer.missing)
    return CountPanel(rows, total, text, answer.disclosure_effects, answer.missing)


def _missing(answer: FederatedAnswer) -> list[str]:
    return [explain_outcome(o) for o in answer.outcomes if not o.answered]


@dataclass
class MutationPanel:
    """Carrier frequency per gene (overall and per tumour type) and the charts of it."""

    genes: tuple[str, ...]
    tumour_types: tuple[str, ...]
    tumour_names: tuple[str, ...]
    overall: list[tuple[str, Share | None, CombinedCount | None, CombinedCount | None]]
    cells: list[list[Share | None]]
    counts: list[list[tuple[CombinedCount, CombinedCount] | None]]
    bar: Markup
    heat: Markup
    missing: list[str] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)


def mutation_panel(result: StudyResult) -> MutationPanel:
    """The mutation view of a :func:`~genofed.web._params.mutation_study` result."""
    tables = result.answers[1:]
    genes = tuple(a.request.analysis.rows.gene for a in tables)  # type: ignore[union-attr]
    codes = tuple(result.answers[1].request.analysis.columns.codes)  # type: ignore[union-attr]
    names = tuple(oncotree().get(c).name for c in codes)
    overall: list[tuple[str, Share | None, CombinedCount | None, CombinedCount | None]] = []
    cells: list[list[Share | None]] = []
    counts: list[list[tuple[CombinedCount, CombinedCount] | None]] = []
    missing: dict[str, None] = {}
    effects: dict[str, None] = {}
    for gene, answer in zip(genes, tables, strict=True):
        for text in _missing(answer):
            missing.setdefault(text, None)
        for text in answer.disclosure_effects:
            effects.setdefault(f"{gene}: {text}", None)
        table = answer.combined
        if not isinstance(table, CombinedCrossTab):
            overall.append((gene, None, None, None))
            cells.append([None] * len(codes))
            counts.append([None] * len(codes))
            continue
        overall.append(
            (gene, share_of(table.row_totals[0], table.row_totals[1]), table.row_totals[0], table.total)
        )
        cells.append([share_of(table.cells[0][j], table.cells[1][j]) for j in range(len(codes))])
        counts.append([(table.cells[0][j], table.column_totals[j]) for j in range(len(codes))])
    bar = bar_chart_svg(
        [(g, s) for g, s, _, _ in overall],
        title="Share of the cohort carrying a mutation, per gene",
        ident="bars",
    )
    heat = heatmap_svg(genes, codes, cells, title="Carriers per gene and tumour type", ident="heat")
    return MutationPanel(genes, codes, names, overall, cells, counts, bar, heat, list(missing), list(effects))


@dataclass
class SurvivalPanel:
    """Pooled Kaplan–Meier curves, their table and the log-rank test."""

    km: CombinedKaplanMeier | None
    chart: Markup | None
    header: list[str]
    rows: list[list[str]]
    missing: list[str]
    effects: tuple[str, ...]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def survival_panel(result: StudyResult) -> SurvivalPanel:
    """The survival view of a :func:`~genofed.web._params.survival_study` result."""
    answer = result.answers[-1]
    km = answer.combined if isinstance(answer.combined, CombinedKaplanMeier) else None
    if km is None:
        return SurvivalPanel(None, None, [], [], _missing(answer), answer.disclosure_effects)
    header = ["day"]
    for curve in km.curves:
        header += [f"{curve.group}: survival", f"{km.confidence:.0%} CI", "at risk", "events"]
    rows = []
    for k, t in enumerate(km.grid):
        row = [f"{t:g}"]
        for curve in km.curves:
            p = curve.points[k]
            if p.survival is not None:
                row += [
                    _fmt(p.survival),
                    f"{_fmt(p.ci_lower)}–{_fmt(p.ci_upper)}",
                    str(p.at_risk),
                    str(p.events),
                ]
            elif p.lower_bound is not None and p.upper_bound is not None:
                row += [f"{_fmt(p.lower_bound)}–{_fmt(p.upper_bound)} (bounds)", "", "", ""]
            else:
                row += ["withheld", "", "", ""]
        rows.append(row)
    return SurvivalPanel(
        km, km_svg(km, ident="km"), header, rows, _missing(answer), answer.disclosure_effects
    )


@dataclass
class ModelPanel:
    """A Cox or GLM fit as a forest plot and a coefficient table."""

    fit: CombinedModelFit | None
    chart: Markup | None
    header: list[str]
    rows: list[list[str]]
    missing: list[str]
    effects: tuple[str, ...]


def model_panel(result: StudyResult) -> ModelPanel:
    """The models view of a :func:`~genofed.web._params.model_study` result."""
    answer = result.answers[-1]
    fit = answer.combined if isinstance(answer.combined, CombinedModelFit) else None
    if fit is None:
        return ModelPanel(None, None, [], [], _missing(answer), answer.disclosure_effects)
    cox = fit.kind == "cox"
    header = ["coefficient", "estimate", "standard error", "z", "p", f"{fit.confidence:.0%} CI"]
    header += ["hazard ratio", "HR CI"] if cox else []
    rows = []
    for c in fit.coefficients:
        row = [c.name, f"{c.estimate:.4f}", f"{c.standard_error:.4f}", f"{c.z:.2f}", f"{c.p_value:.3g}"]
        row.append(f"{c.ci_lower:.4f} to {c.ci_upper:.4f}")  # "to": an en dash reads as minus
        if cox:
            row += [_fmt(c.hazard_ratio), f"{_fmt(c.hazard_ratio_ci_lower)}–{_fmt(c.hazard_ratio_ci_upper)}"]
        rows.append(row)
    return ModelPanel(
        fit, forest_svg(fit, ident="forest"), header, rows, _missing(answer), answer.disclosure_effects
    )


#: The count fields of a WGS-benefit group, in the order the CSV lists them.
BENEFIT_COUNTS = (
    "n",
    "wgs_actionable",
    "panel_actionable",
    "wgs_only",
    "not_actionable",
    "wgs_only_sv_fusion",
    "wgs_only_signature",
    "wgs_only_germline",
    "wgs_only_other",
)


@dataclass
class BenefitPanel:
    """The WGS-benefit ranking: the table, the chart, the knowledge releases and what was withheld."""

    benefit: CombinedWgsBenefit | None
    chart: Markup | None
    header: list[str]
    rows: list[tuple[BenefitGroupRow, list[str], str]]  # the group, its cells, why it is not ranked
    node_knowledge: list[tuple[str, tuple[str, ...]]]
    missing: list[str]
    effects: tuple[str, ...]

    @property
    def unranked(self) -> int:
        return sum(1 for row, _, _ in self.rows if row.rank is None)


def _not_ranked(row: BenefitGroupRow) -> str:
    """Why a group has no rank: which of its sums are ranges rather than numbers."""
    if row.rank is not None:
        return ""
    inexact = [name.replace("_", " ") for name in BENEFIT_COUNTS if not getattr(row, name).exact]
    if not inexact:
        return "Not ranked: the group has no sequenced patients in the answering nodes."
    shown = ", ".join(inexact[:3]) + (f" and {len(inexact) - 3} more" if len(inexact) > 3 else "")
    verb = "is" if len(inexact) == 1 else "are"
    return f"Not ranked: a node withheld a small count, so {shown} {verb} a range."


def benefit_panel(result: StudyResult) -> BenefitPanel:
    """The WGS-benefit view of a :func:`~genofed.web._params.benefit_study` result."""
    answer = result.answers[-1]
    combined = answer.combined if isinstance(answer.combined, CombinedWgsBenefit) else None
    node_knowledge = [
        (o.node, o.response.result.knowledge)
        for o in answer.outcomes
        if o.answered and o.response is not None and isinstance(o.response.result, WgsBenefitResult)
    ]
    if combined is None:
        return BenefitPanel(None, None, [], [], node_knowledge, _missing(answer), answer.disclosure_effects)
    header, cells = benefit_rows(combined)
    rows = [(row, shown, _not_ranked(row)) for row, shown in zip(combined.rows, cells, strict=True)]
    chart = benefit_chart(combined)
    return BenefitPanel(
        combined,
        chart if str(chart) else None,
        header,
        rows,
        node_knowledge,
        _missing(answer),
        answer.disclosure_effects,
    )


def _count_fields(prefix: str, count: CombinedCount | None) -> dict[str, Any]:
    if count is None:
        return {f"{prefix}_shown": "", f"{prefix}_lower": "", f"{prefix}_upper": ""}
    return {f"{prefix}_shown": count.display, f"{prefix}_lower": count.lower, f"{prefix}_upper": count.upper}


def _share_fields(share: Share | None) -> dict[str, Any]:
    if share is None:
        return {"frequency": "", "frequency_lower": "", "frequency_upper": ""}
    return {"frequency": share.point, "frequency_lower": share.lower, "frequency_upper": share.upper}


def csv_rows(view: str, result: StudyResult) -> list[dict[str, Any]]:
    """The view's numbers as flat records (one CSV row each); empty strings where nothing is known."""
    if view == "cohort":
        panel = count_panel(result.answers[0])
        rows: list[dict[str, Any]] = [
            {
                "node": r.node,
                "country": r.country,
                "state": r.state,
                "shown": r.display,
                "lower": r.lower,
                "upper": r.upper,
            }
            for r in panel.rows
        ]
        if panel.total is not None:
            t = panel.total
            rows.append({"node": "total", "country": "", "state": "exact" if t.exact else "range",
                         "shown": t.display, "lower": t.lower, "upper": t.upper})  # fmt: skip
        return rows
    if view == "mutations":
        m = mutation_panel(result)
        rows = []
        for i, (gene, share, carriers, total) in enumerate(m.overall):
            rows.append({"gene": gene, "tumour_type": "all", **_count_fields("carriers", carriers),
                         **_count_fields("cohort", total), **_share_fields(share)})  # fmt: skip
            for j, code in enumerate(m.tumour_types):
                pair = m.counts[i][j]
                rows.append({"gene": gene, "tumour_type": code,
                             **_count_fields("carriers", pair[0] if pair else None),
                             **_count_fields("cohort", pair[1] if pair else None),
                             **_share_fields(m.cells[i][j])})  # fmt: skip
        return rows
    if view == "survival":
        s = survival_panel(result)
        if s.km is None:
            return []
        return [{"group": c.group, **p.model_dump()} for c in s.km.curves for p in c.points]
    if view == "models":
        f = model_panel(result)
        return [c.model_dump() for c in f.fit.coefficients] if f.fit is not None else []
    if view == "wgs_benefit":
        b = benefit_panel(result)
        if b.benefit is None:
            return []
        rows = []
        for row, _, _ in b.rows:
            record: dict[str, Any] = {"rank": row.rank, "tumour_type": row.tumour_type, "group": row.group}
            for name in BENEFIT_COUNTS:
                record.update(_count_fields(name, getattr(row, name)))
            record.update(
                wgs_yield=row.wgs_yield,
                panel_yield=row.panel_yield,
                incremental_yield=row.incremental_yield,
                ci_lower=row.ci_lower,
                ci_upper=row.ci_upper,
                panel=b.benefit.panel,
                knowledge="; ".join(b.benefit.knowledge),
            )
            rows.append(record)
        return rows
    raise KeyError(view)
