"""Rich tables of the federated statistics in ``genofed study run``.

Kaplan–Meier (with the log-rank test), Cox and GLM coefficients, summaries (n, mean, SD, CI per
variable and group) and allele counts per population (each node, then the sum over nodes).
"""

from __future__ import annotations

from rich.table import Table

from genofed.api import CountAnalysis, CrossTabAnalysis, ProficiencyAnalysis, WgsBenefitAnalysis
from genofed.federation import (
    CombinedKaplanMeier,
    CombinedModelFit,
    CombinedPopulationAlleleFrequencies,
    CombinedSummary,
    CombinedWgsBenefit,
    FederatedAnswer,
    benefit_rows,
    describe_statistics,
)

__all__ = ["statistics_tables"]

#: Most grid points a Kaplan–Meier table prints (evenly spread, the last shown point included).
KM_ROWS = 8


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _p(value: float) -> str:
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


def _kaplan_meier(n: int, title: str, km: CombinedKaplanMeier) -> list[Table]:
    table = Table(title=f"{n}. {title}", title_justify="left", header_style="bold")
    table.add_column("day", justify="right")
    for curve in km.curves:
        table.add_column(f"{curve.group}: S(t) [{km.confidence:.0%} CI]", justify="right")
        table.add_column("at risk", justify="right")
    shown = [k for k in range(len(km.grid)) if any(c.points[k].lower_bound is not None for c in km.curves)]
    if len(shown) > KM_ROWS:
        step = (len(shown) - 1) / (KM_ROWS - 1)
        shown = sorted({shown[round(i * step)] for i in range(KM_ROWS)})
    for k in shown:
        cells = [f"{km.grid[k]:g}"]
        for curve in km.curves:
            p = curve.points[k]
            if p.survival is not None:
                cells.append(f"{p.survival:.3f} [{_number(p.ci_lower)}, {_number(p.ci_upper)}]")
            elif p.lower_bound is not None:
                cells.append(f"between {p.lower_bound:.3f} and {_number(p.upper_bound)}")
            else:
                cells.append("withheld")
            cells.append(str(p.at_risk) if p.at_risk is not None else "")
        table.add_row(*cells)
    tables = [table]
    if km.logrank_statistic is not None and km.logrank_df is not None and km.logrank_p_value is not None:
        test = Table(title=f"{n}. log-rank test", title_justify="left", header_style="bold")
        for name in ("group", "observed", "expected"):
            test.add_column(name, justify="left" if name == "group" else "right")
        for curve, o, e in zip(km.curves, km.observed or (), km.expected or (), strict=False):
            test.add_row(curve.group, f"{o:g}", f"{e:.2f}")
        test.caption = f"χ² = {km.logrank_statistic:.3f} on {km.logrank_df} df, p = {_p(km.logrank_p_value)}"
        tables.append(test)
    return tables


def _model(n: int, title: str, fit: CombinedModelFit) -> Table:
    table = Table(title=f"{n}. {title}", title_justify="left", header_style="bold")
    cox = fit.kind == "cox"
    columns = ["coefficient", "estimate", "SE", "z", "p"]
    columns += ["HR", f"HR {fit.confidence:.0%} CI"] if cox else [f"{fit.confidence:.0%} CI"]
    for name in columns:
        table.add_column(name, justify="left" if name == "coefficient" else "right")
    for c in fit.coefficients:
        row = [c.name, f"{c.estimate:.4f}", f"{c.standard_error:.4f}", f"{c.z:.2f}", _p(c.p_value)]
        if cox:
            row += [
                _number(c.hazard_ratio),
                f"{_number(c.hazard_ratio_ci_lower)}–{_number(c.hazard_ratio_ci_upper)}",
            ]
        else:
            row.append(f"{c.ci_lower:.4f}–{c.ci_upper:.4f}")
        table.add_row(*row)
    events = f", {fit.events} events" if fit.events is not None else ""
    state = "converged" if fit.converged else f"NOT converged: {fit.message}"
    table.caption = (
        f"N = {fit.n}{events}; nodes {', '.join(fit.nodes)}"
        + (f" (excluded: {', '.join(fit.excluded)})" if fit.excluded else "")
        + f"; {fit.iterations} iterations, {state}"
    )
    return table


def _summary(n: int, title: str, summary: CombinedSummary) -> Table:
    table = Table(title=f"{n}. {title}", title_justify="left", header_style="bold")
    extremes = any(r.minimum is not None for r in summary.rows)
    columns = ["variable", *summary.dimensions, "n", "mean", "SD", f"{summary.confidence:.0%} CI"]
    columns += ["min", "max"] if extremes else []
    for name in columns:
        table.add_column(
            name, justify="left" if name == "variable" or name in summary.dimensions else "right"
        )
    withheld = False
    for r in summary.rows:
        count = f"{r.n}*" if r.nodes_suppressed else str(r.n)
        withheld |= bool(r.nodes_suppressed)
        interval = f"{_number(r.ci_lower, 2)}–{_number(r.ci_upper, 2)}" if r.ci_lower is not None else "–"
        row = [r.variable, *r.group, count, _number(r.mean, 2), _number(r.sd, 2), interval]
        row += [_number(r.minimum, 2), _number(r.maximum, 2)] if extremes else []
        table.add_row(*row)
    if withheld:
        table.caption = "* a node withheld this group (1..k-1 values there): pooled over the other nodes"
    return table


def _populations(n: int, frequencies: CombinedPopulationAlleleFrequencies) -> Table:
    title = f"{n}. allele frequency by {frequencies.attribute.replace('_', ' ')}"
    table = Table(title=title, title_justify="left", header_style="bold")
    for name in ("allele", "population", "node", "AC", "AN", "AF"):
        table.add_column(name, justify="left" if name in ("allele", "population", "node") else "right")
    for r in frequencies.rows:
        v = r.variant
        allele = f"{v.chrom}:{v.pos} {v.ref}>{v.alt}"
        if r.node is None:
            table.add_row(
                f"[bold]{allele}[/]",
                f"[bold]{r.population}[/]",
                "[bold]all nodes[/]",
                r.allele_count.display,
                r.allele_number.display,
                r.display,
            )
        else:
            node = f"{r.node} ({r.country})" if r.country else r.node
            table.add_row(
                allele, r.population, node, r.allele_count.display, r.allele_number.display, r.display
            )
    return table


def _benefit(n: int, combined: CombinedWgsBenefit) -> Table:
    header, rows = benefit_rows(combined, compact=True)
    table = Table(
        title=f"{n}. which patients gain most from WGS over the {combined.panel} panel "
        f"(knowledge: {', '.join(combined.knowledge)})",
        title_justify="left",
        header_style="bold",
    )
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 1 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def statistics_tables(n: int, answer: FederatedAnswer) -> list[Table]:
    """The tables of a Kaplan–Meier, Cox, GLM, summary or per-population allele answer.

    A placeholder table says so when no node's data could be used.
    """
    analysis = answer.request.analysis
    combined = answer.combined
    if analysis.kind == "allele_frequency":
        if isinstance(combined, CombinedPopulationAlleleFrequencies):
            return [_populations(n, combined)]
        return [Table(title=f"{n}. allele frequency by population: no result", title_justify="left")]
    if isinstance(analysis, CountAnalysis | CrossTabAnalysis):
        raise ValueError(f"{analysis.kind} answers are not statistics")
    if isinstance(analysis, ProficiencyAnalysis):
        return [
            Table(
                title=f"{n}. proficiency testing: compare labs with genofed qa compare", title_justify="left"
            )
        ]
    if isinstance(analysis, WgsBenefitAnalysis):
        if not isinstance(combined, CombinedWgsBenefit):
            return [Table(title=f"{n}. WGS benefit: no result", title_justify="left")]
        return [_benefit(n, combined)]
    title = describe_statistics(analysis)
    if isinstance(combined, CombinedSummary):
        return [_summary(n, title, combined)]
    if isinstance(combined, CombinedKaplanMeier):
        return _kaplan_meier(n, title, combined)
    if isinstance(combined, CombinedModelFit):
        return [_model(n, title, combined)]
    return [Table(title=f"{n}. {title}: no result", title_justify="left")]
