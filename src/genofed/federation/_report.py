"""A study result as one self-contained HTML page (no scripts, no external assets).

The page shows the study specification, then per analysis each node's contribution -- with every
number that disclosure control changed marked (shown as "<k", withheld, rounded) -- the combined row,
and the nodes that did not contribute with the reason. The template is package data
(``templates/study_report.html.j2``) rendered by Jinja2 with autoescaping: node-supplied text
(reasons, problem details, names) cannot inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import yaml
from markupsafe import Markup
from pydantic import BaseModel

from genofed.api import (
    AlleleFrequencyAnalysis,
    AlleleFrequencyResult,
    CountResult,
    CrossTabResult,
    VariantRef,
)
from genofed.privacy import CellStatus, ReleasedCount

from ._answer import (
    CombinedAlleleFrequencies,
    CombinedCount,
    CombinedCountResult,
    CombinedCrossTab,
    CombinedKaplanMeier,
    CombinedModelFit,
    CombinedPopulationAlleleFrequencies,
    CombinedSummary,
    CombinedWgsBenefit,
    FederatedAnswer,
    NodeOutcome,
    OutcomeStatus,
    StudyResult,
)
from ._iterative import describe_statistics
from ._report_benefit import benefit_chart, benefit_rows
from ._report_stats import forest_svg, km_rows, km_svg, model_rows, population_rows, summary_rows

__all__ = ["render_report", "write_report"]

_STATUS_CLASS = {
    CellStatus.EXACT: "exact",
    CellStatus.ROUNDED: "rounded",
    CellStatus.SMALL: "small",
    CellStatus.COMPLEMENTARY: "withheld",
}


@dataclass
class _Cell:
    text: str
    css: str = "exact"
    title: str = ""


@dataclass
class _Grid:
    """A table to show: header, and rows of cells (the first cell is the row label)."""

    header: list[str]
    rows: list[list[_Cell]] = field(default_factory=list)


@dataclass
class _Section:
    title: str
    what: str
    nodes: list[NodeOutcome]
    grids: list[tuple[str, _Grid]]
    missing: list[NodeOutcome]
    effects: list[str]
    figures: list[Markup] = field(default_factory=list)


def _released(count: ReleasedCount) -> _Cell:
    css = _STATUS_CLASS[count.status]
    upper = "∞" if count.upper is None else str(count.upper)
    title = (
        ""
        if count.status is CellStatus.EXACT
        else f"{count.status.value}: true value in [{count.lower}, {upper}]"
    )
    return _Cell(count.display, css, title)


def _combined(count: CombinedCount) -> _Cell:
    if count.exact:
        return _Cell(count.display, "combined")
    upper = "∞" if count.upper is None else str(count.upper)
    return _Cell(count.display, "combined interval", f"true sum in [{count.lower}, {upper}]")


def _variant(v: VariantRef) -> str:
    return f"{v.chrom}:{v.pos} {v.ref}>{v.alt} ({v.assembly.value})"


def _dimension(d: BaseModel) -> str:
    data = d.model_dump(mode="json", exclude_none=True)
    kind = str(data.pop("kind", "?"))
    return kind if not data else f"{kind} ({', '.join(f'{k}={v}' for k, v in data.items())})"


def _describe(answer: FederatedAnswer) -> str:
    analysis = answer.request.analysis
    if analysis.kind == "count":
        return "number of individuals in the cohort"
    if analysis.kind == "crosstab":
        columns = f" by {_dimension(analysis.columns)}" if analysis.columns is not None else ""
        return f"table of {_dimension(analysis.rows)}{columns}"
    if analysis.kind == "wgs_benefit":
        grouping = f" and {analysis.group_by}" if analysis.group_by else ""
        level = "tissue (OncoTree level 1)" if analysis.level == "tissue" else "tumour type"
        return f"patients actionable by WGS against the {analysis.panel} panel, by {level}{grouping}"
    if analysis.kind == "proficiency":
        return f"proficiency testing: {analysis.sample} against truth set {analysis.truth_set}"
    if analysis.kind != "allele_frequency":
        return describe_statistics(analysis)
    if analysis.population is not None:
        return f"allele counts of {len(analysis.variants)} allele(s) by {analysis.population.attribute}"
    return f"allele counts of {len(analysis.variants)} allele(s)"


def _count_grids(answer: FederatedAnswer, combined: CombinedCountResult | None) -> list[tuple[str, _Grid]]:
    grid = _Grid(["node", "country", "individuals"])
    for outcome in answer.answered:
        assert outcome.response is not None
        assert isinstance(outcome.response.result, CountResult)
        grid.rows.append(
            [_Cell(outcome.node), _Cell(outcome.country), _released(outcome.response.result.count)]
        )
    if combined is not None:
        grid.rows.append([_Cell("combined", "combined"), _Cell(""), _combined(combined.count)])
    return [("", grid)]


def _table_grid(
    row_labels: tuple[str, ...],
    column_labels: tuple[str, ...],
    cells: list[list[_Cell]],
    row_totals: list[_Cell],
    column_totals: list[_Cell],
    total: _Cell,
) -> _Grid:
    """A table with its margins; a margin along an axis of length one repeats the cells and is left out."""
    blank = _Cell("")
    if len(column_labels) == 1:
        grid = _Grid(["", column_labels[0]])
        grid.rows += [[_Cell(label), row[0]] for label, row in zip(row_labels, cells, strict=True)]
        if len(row_labels) > 1:
            grid.rows.append([_Cell("total"), total])
        return grid
    grid = _Grid(["", *column_labels, "total"])
    margins = row_totals or [blank] * len(row_labels)
    for label, row, margin in zip(row_labels, cells, margins, strict=True):
        grid.rows.append([_Cell(label), *row, margin if len(row_labels) > 1 else total])
    if len(row_labels) > 1:
        grid.rows.append([_Cell("total"), *(column_totals or [blank] * len(column_labels)), total])
    return grid


def _crosstab_grids(answer: FederatedAnswer, combined: CombinedCrossTab | None) -> list[tuple[str, _Grid]]:
    grids = []
    if combined is not None:
        grids.append(
            (
                "combined",
                _table_grid(
                    combined.row_labels,
                    combined.column_labels,
                    [[_combined(c) for c in row] for row in combined.cells],
                    [_combined(c) for c in combined.row_totals],
                    [_combined(c) for c in combined.column_totals],
                    _combined(combined.total),
                ),
            )
        )
    for outcome in answer.answered:
        assert outcome.response is not None
        assert isinstance(outcome.response.result, CrossTabResult)
        result = outcome.response.result
        t = result.table
        grid = _table_grid(
            result.row_labels,
            result.column_labels,
            [[_released(c) for c in row] for row in t.cells],
            [_released(c) for c in t.row_totals],
            [_released(c) for c in t.column_totals],
            _released(t.total),
        )
        grids.append((f"{outcome.node} ({outcome.country})", grid))
    return grids


def _allele_grids(
    answer: FederatedAnswer, combined: CombinedAlleleFrequencies | None
) -> list[tuple[str, _Grid]]:
    grid = _Grid(["allele", "node", "allele count", "allele number", "frequency"])
    per_node = []
    for outcome in answer.answered:
        assert outcome.response is not None
        assert isinstance(outcome.response.result, AlleleFrequencyResult)
        per_node.append((outcome, {a.variant: a for a in outcome.response.result.alleles}))
    variants = answer.request.analysis.variants if answer.request.analysis.kind == "allele_frequency" else ()
    combined_by = {a.variant: a for a in combined.alleles} if combined is not None else {}
    for variant in variants:
        for outcome, alleles in per_node:
            counts = alleles.get(variant)
            if counts is None:
                continue
            ac, an = counts.allele_count, counts.allele_number
            af = f"{ac.value / an.value:.4g}" if ac.value is not None and an.value else "–"
            grid.rows.append(
                [_Cell(_variant(variant)), _Cell(outcome.node), _released(ac), _released(an), _Cell(af)]
            )
        total = combined_by.get(variant)
        if total is not None:
            grid.rows.append(
                [
                    _Cell(_variant(variant), "combined"),
                    _Cell("combined", "combined"),
                    _combined(total.allele_count),
                    _combined(total.allele_number),
                    _Cell(total.display, "combined" if total.frequency is not None else "combined interval"),
                ]
            )
    return [("", grid)]


def _statistics(answer: FederatedAnswer) -> tuple[list[tuple[str, _Grid]], list[Markup]]:
    """A Kaplan–Meier plot and table, or a forest plot and coefficient table."""
    combined = answer.combined
    if isinstance(combined, CombinedKaplanMeier):
        header, rows, figure = *km_rows(combined), km_svg(combined)
        notes = list(combined.notes)
        if combined.logrank_p_value is not None:
            notes.append(
                f"log-rank χ² = {combined.logrank_statistic:.3f} on {combined.logrank_df} df, "
                f"p = {combined.logrank_p_value:.3g}"
            )
    elif isinstance(combined, CombinedModelFit):
        header, rows, figure = *model_rows(combined), forest_svg(combined)
        events = f", {combined.events} events" if combined.events is not None else ""
        notes = [f"N = {combined.n}{events}, nodes {', '.join(combined.nodes)}; {combined.message}"]
    elif isinstance(combined, CombinedWgsBenefit):
        header, rows = benefit_rows(combined)
        cells = [[_Cell(v, "text" if i < 2 else "exact") for i, v in enumerate(r)] for r in rows]
        knowledge = f"knowledge: {', '.join(combined.knowledge)}; panel {combined.panel}"
        return [("; ".join((knowledge, *combined.notes)), _Grid(header, cells))], [benefit_chart(combined)]
    elif isinstance(combined, CombinedSummary | CombinedPopulationAlleleFrequencies):
        # Tables only: a column per dimension (summaries) or per node and population (alleles).
        if isinstance(combined, CombinedSummary):
            (header, rows), text = summary_rows(combined), 1 + len(combined.dimensions)
        else:
            (header, rows), text = population_rows(combined), 3
        cells = [[_Cell(v, "text" if i < text else "exact") for i, v in enumerate(r)] for r in rows]
        return [("; ".join(combined.notes), _Grid(header, cells))], []
    else:
        return [], []
    grid = _Grid(header, [[_Cell(v, "text" if i == 0 else "exact") for i, v in enumerate(r)] for r in rows])
    return [("; ".join(notes), grid)], [figure]


def _section(n: int, answer: FederatedAnswer) -> _Section:
    combined = answer.combined
    figures: list[Markup] = []
    kind = answer.request.analysis.kind
    if kind == "count":
        grids = _count_grids(answer, combined if isinstance(combined, CombinedCountResult) else None)
    elif kind == "crosstab":
        grids = _crosstab_grids(answer, combined if isinstance(combined, CombinedCrossTab) else None)
    elif isinstance(answer.request.analysis, AlleleFrequencyAnalysis) and answer.request.analysis.population:
        grids, figures = _statistics(answer)
    elif kind == "allele_frequency":
        grids = _allele_grids(answer, combined if isinstance(combined, CombinedAlleleFrequencies) else None)
    else:
        grids, figures = _statistics(answer)
    return _Section(
        title=f"Analysis {n + 1}: {kind}",
        what=_describe(answer),
        nodes=list(answer.outcomes),
        grids=grids,
        missing=[o for o in answer.outcomes if o.status is not OutcomeStatus.ANSWERED],
        effects=list(answer.disclosure_effects),
        figures=figures,
    )


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("genofed.federation", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(result: StudyResult) -> str:
    """The study result as a self-contained HTML document.

    Parameters
    ----------
    result
        What :meth:`Federation.run` returned.

    Returns
    -------
    str
        HTML5 with inline CSS: the study specification, per analysis each node's contribution with
        disclosure effects marked, the combined row, and the nodes that failed, with their reasons.
    """
    spec = yaml.safe_dump(
        result.study.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True
    )
    template = _environment().get_template("study_report.html.j2")
    return template.render(
        result=result,
        study=result.study,
        spec=spec,
        sections=[_section(n, a) for n, a in enumerate(result.answers)],
        missing=result.missing,
        status_class={s.value: s.value.replace("_", "-") for s in OutcomeStatus},
    )


def write_report(result: StudyResult, path: str | Path) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(result), encoding="utf-8")
    return out
