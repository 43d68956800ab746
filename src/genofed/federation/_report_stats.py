"""The study report's statistics: Kaplan–Meier curves and forest plots as inline SVG, and their tables.

Summaries (means, SDs, intervals per group) and allele counts per population are tables only.

Drawn on the server as small, dependency-free SVG so the report stays one self-contained file that
opens without the internet. Curves are step functions on the public grid with their pointwise
confidence band; where a node's count was shown as ``<k`` the pooled curve is not an estimate, and
the guaranteed bounds are drawn as a hatched band instead. A forest plot shows each coefficient's
hazard ratio (Cox, log scale) or estimate (GLM) with its Wald interval.
"""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

from ._answer import (
    CombinedKaplanMeier,
    CombinedModelFit,
    CombinedPopulationAlleleFrequencies,
    CombinedSummary,
)

__all__ = ["forest_svg", "km_rows", "km_svg", "model_rows", "population_rows", "summary_rows"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_W, _H, _L, _R, _T, _B = 640, 320, 56, 150, 16, 40


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def km_svg(km: CombinedKaplanMeier) -> Markup:
    """Kaplan–Meier curves with confidence bands (and hatched guaranteed bounds where not exact)."""
    t_max = max(km.grid) or 1.0
    plot_w, plot_h = _W - _L - _R, _H - _T - _B

    def x(t: float) -> float:
        return _L + plot_w * t / t_max

    def y(s: float) -> float:
        return _T + plot_h * (1.0 - s)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
        f'aria-label="Kaplan–Meier curves" font-family="sans-serif" font-size="11">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="1"/>'
        "</pattern></defs>",
        f'<rect x="{_L}" y="{_T}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>',
    ]
    for s in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{_L - 6}" y="{y(s) + 4:.1f}" text-anchor="end">{s:.2f}</text>')
        parts.append(f'<line x1="{_L}" x2="{_L + plot_w}" y1="{y(s):.1f}" y2="{y(s):.1f}" stroke="#eee"/>')
    ticks = km.grid if len(km.grid) <= 12 else km.grid[:: math.ceil(len(km.grid) / 12)]
    for t in ticks:
        parts.append(f'<text x="{x(t):.1f}" y="{_T + plot_h + 14}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{_L + plot_w / 2}" y="{_H - 6}" text-anchor="middle">days since diagnosis</text>')
    parts.append(
        f'<text x="12" y="{_T + plot_h / 2}" transform="rotate(-90 12 {_T + plot_h / 2})" '
        'text-anchor="middle">survival</text>'
    )
    for n, curve in enumerate(km.curves):
        colour = _COLOURS[n % len(_COLOURS)]
        line: list[str] = []
        band_hi: list[tuple[float, float]] = []
        band_lo: list[tuple[float, float]] = []
        previous: float | None = None
        for k, p in enumerate(curve.points):
            end = km.grid[k + 1] if k + 1 < len(km.grid) else km.grid[k]
            if p.survival is not None:
                if previous is not None:
                    line.append(f"L{x(p.time):.1f},{y(previous):.1f}")
                line.append(f"{'M' if not line else 'L'}{x(p.time):.1f},{y(p.survival):.1f}")
                line.append(f"L{x(end):.1f},{y(p.survival):.1f}")
                previous = p.survival
                if p.ci_lower is not None and p.ci_upper is not None:
                    band_hi += [(x(p.time), y(p.ci_upper)), (x(end), y(p.ci_upper))]
                    band_lo += [(x(p.time), y(p.ci_lower)), (x(end), y(p.ci_lower))]
            elif p.lower_bound is not None and p.upper_bound is not None:
                box_w = max(x(end) - x(p.time), 1)
                box_h = max(y(p.lower_bound) - y(p.upper_bound), 1)
                tip = f"between {p.lower_bound:.3f} and {p.upper_bound:.3f} (bounds: a node count was &lt;k)"
                parts.append(
                    f'<rect x="{x(p.time):.1f}" y="{y(p.upper_bound):.1f}" width="{box_w:.1f}" '
                    f'height="{box_h:.1f}" fill="url(#hatch)" stroke="{colour}" stroke-opacity="0.6">'
                    f"<title>{escape(curve.group)}: {tip}</title></rect>"
                )
        if band_hi:
            points = " ".join(f"{a:.1f},{b:.1f}" for a, b in [*band_hi, *reversed(band_lo)])
            parts.append(f'<polygon points="{points}" fill="{colour}" fill-opacity="0.15" stroke="none"/>')
        if line:
            parts.append(f'<path d="{" ".join(line)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        ly = _T + 14 + 16 * n
        parts.append(f'<rect x="{_W - _R + 12}" y="{ly - 9}" width="12" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{_W - _R + 28}" y="{ly}">{escape(curve.group)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def forest_svg(fit: CombinedModelFit) -> Markup:
    """A forest plot: hazard ratios on a log scale (Cox) or estimates (GLM), with Wald intervals."""
    cox = fit.kind == "cox"
    values = [
        (c.name, c.hazard_ratio, c.hazard_ratio_ci_lower, c.hazard_ratio_ci_upper)
        if cox
        else (c.name, c.estimate, c.ci_lower, c.ci_upper)
        for c in fit.coefficients
        if cox or c.name != "intercept"
    ]
    if not values:
        return Markup("")
    reference = 1.0 if cox else 0.0

    def scale(v: float | None) -> float:
        value = reference if v is None else v
        return math.log(max(value, 1e-12)) if cox else value

    ends = [scale(v) for _, _, low, high in values for v in (low, high)] + [scale(reference)]
    lo, hi = min(ends), max(ends)
    pad = 0.05 * ((hi - lo) or 1.0)
    lo, hi = lo - pad, hi + pad
    left, width, row_h = 220, 300, 24
    height = 40 + row_h * len(values)

    def x(v: float | None) -> float:
        return left + width * (scale(v) - lo) / (hi - lo)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 170}" height="{height}" '
        'role="img" aria-label="forest plot" font-family="sans-serif" font-size="11">',
        f'<line x1="{x(reference):.1f}" x2="{x(reference):.1f}" y1="8" y2="{height - 28}" '
        'stroke="#999" stroke-dasharray="4 3"/>',
    ]
    for n, (name, point, low, high) in enumerate(values):
        cy = 20 + row_h * n
        parts.append(f'<text x="{left - 8}" y="{cy + 4}" text-anchor="end">{escape(name)}</text>')
        parts.append(
            f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{cy}" y2="{cy}" '
            'stroke="#1f77b4" stroke-width="2"/>'
        )
        parts.append(f'<rect x="{x(point) - 4:.1f}" y="{cy - 4}" width="8" height="8" fill="#1f77b4"/>')
        parts.append(
            f'<text x="{left + width + 10}" y="{cy + 4}">{_fmt(point)} ({_fmt(low)}–{_fmt(high)})</text>'
        )
    label = (
        f"hazard ratio ({fit.confidence:.0%} CI, log scale)" if cox else f"estimate ({fit.confidence:.0%} CI)"
    )
    parts.append(f'<text x="{left + width / 2}" y="{height - 8}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def km_rows(km: CombinedKaplanMeier) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Kaplan–Meier table (every grid point)."""
    header = ["day"]
    for c in km.curves:
        header += [f"{c.group}: S(t)", f"{km.confidence:.0%} CI", "at risk", "events"]
    rows = []
    for k, t in enumerate(km.grid):
        row = [f"{t:g}"]
        for c in km.curves:
            p = c.points[k]
            if p.survival is not None:
                row += [
                    _fmt(p.survival),
                    f"{_fmt(p.ci_lower)}–{_fmt(p.ci_upper)}",
                    str(p.at_risk),
                    str(p.events),
                ]
            elif p.lower_bound is not None:
                row += [f"{_fmt(p.lower_bound)}–{_fmt(p.upper_bound)} (bounds)", "", "", ""]
            else:
                row += ["withheld", "", "", ""]
        rows.append(row)
    return header, rows


def model_rows(fit: CombinedModelFit) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a coefficient table."""
    cox = fit.kind == "cox"
    header = ["coefficient", "estimate", "SE", "z", "p", f"{fit.confidence:.0%} CI"]
    header += ["HR", "HR CI"] if cox else []
    rows = []
    for c in fit.coefficients:
        row = [c.name, f"{c.estimate:.4f}", f"{c.standard_error:.4f}", f"{c.z:.2f}", f"{c.p_value:.3g}"]
        row.append(f"{c.ci_lower:.4f}–{c.ci_upper:.4f}")
        if cox:
            row += [_fmt(c.hazard_ratio), f"{_fmt(c.hazard_ratio_ci_lower)}–{_fmt(c.hazard_ratio_ci_upper)}"]
        rows.append(row)
    return header, rows


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def summary_rows(summary: CombinedSummary) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a summary table: per variable and group, n, mean, SD, CI (and min/max)."""
    extremes = any(r.minimum is not None for r in summary.rows)
    header = ["variable", *summary.dimensions, "n", "mean", "SD", f"{summary.confidence:.0%} CI"]
    header += ["min", "max"] if extremes else []
    header += ["withheld at"]
    rows = []
    for r in summary.rows:
        n = str(r.n) if not r.nodes_suppressed else f"{r.n} (all: {r.n_all.display})"
        row = [r.variable, *r.group, n, _number(r.mean), _number(r.sd)]
        row.append(f"{_number(r.ci_lower)}–{_number(r.ci_upper)}" if r.ci_lower is not None else "–")
        row += [_number(r.minimum), _number(r.maximum)] if extremes else []
        row.append(", ".join(r.nodes_suppressed))
        rows.append(row)
    return header, rows


def population_rows(frequencies: CombinedPopulationAlleleFrequencies) -> tuple[list[str], list[list[str]]]:
    """Header and rows of allele counts per population: each node (country), then the sum over nodes."""
    header = ["allele", frequencies.attribute.replace("_", " "), "node", "AC", "AN", "frequency"]
    rows = []
    for r in frequencies.rows:
        v = r.variant
        rows.append(
            [
                f"{v.chrom}:{v.pos} {v.ref}>{v.alt}",
                r.population,
                r.node if r.node is not None else "all nodes",
                r.allele_count.display,
                r.allele_number.display,
                r.display,
            ]
        )
    return header, rows
