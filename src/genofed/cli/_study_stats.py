"""Rich tables of the federated statistics in ``genofed study run``: Kaplan–Meier, log-rank, Cox, GLM."""

from __future__ import annotations

from rich.table import Table

from genofed.federation import CombinedKaplanMeier, CombinedModelFit, FederatedAnswer, describe_statistics

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


def statistics_tables(n: int, answer: FederatedAnswer) -> list[Table]:
    """The tables of a Kaplan–Meier, Cox or GLM answer (none when no node's data could be used)."""
    analysis = answer.request.analysis
    title = describe_statistics(analysis)  # type: ignore[arg-type]
    combined = answer.combined
    if isinstance(combined, CombinedKaplanMeier):
        return _kaplan_meier(n, title, combined)
    if isinstance(combined, CombinedModelFit):
        return [_model(n, title, combined)]
    return [Table(title=f"{n}. {title}: no result", title_justify="left")]
