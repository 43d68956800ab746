"""The portal's charts, drawn on the server as SVG: no script library, nothing from the internet.

Each function returns an ``<svg>`` element with ``role="img"``, a ``<title>`` and a ``<desc>`` for
screen readers (every chart on a page also has its numbers in a table beside it). Numbers that
disclosure control turned into ranges are drawn as ranges -- a hatched band or box -- never as a
point: a Kaplan–Meier point whose pooled counts are not exact shows its guaranteed bounds, a
proportion built from a "<5" count shows its bounds. The same SVG is offered for download, and the
page's script rasterises it to PNG in the browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from genofed.federation import CombinedKaplanMeier, CombinedModelFit

from ._numbers import Share

__all__ = ["bar_chart_svg", "forest_svg", "heatmap_svg", "km_svg"]

COLOURS = ("#1f5fa8", "#c0392b", "#2e8540", "#7b4fa0", "#d9730d", "#7f5539")
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _open(width: float, height: float, title: str, desc: str, ident: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" role="img" aria-labelledby="{ident}-t {ident}-d" id="{ident}" {_FONT}>',
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>',
        '<rect width="100%" height="100%" fill="#fff"/>',
        f'<defs><pattern id="{ident}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="1.2"/>'
        "</pattern></defs>",
    ]


def km_svg(km: CombinedKaplanMeier, *, ident: str = "km") -> Markup:
    """Kaplan–Meier step curves with pointwise confidence bands; hatched boxes where only bounds are known."""
    width, height, left, right, top, bottom = 760.0, 380.0, 60.0, 190.0, 20.0, 48.0
    t_max = max(km.grid) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + plot_w * t / t_max

    def y(s: float) -> float:
        return top + plot_h * (1.0 - s)

    groups = ", ".join(c.group for c in km.curves)
    p = "" if km.logrank_p_value is None else f"; log-rank p = {km.logrank_p_value:.3g}"
    parts = _open(
        width,
        height,
        "Kaplan–Meier overall survival",
        f"Survival from diagnosis for {groups} with {km.confidence:.0%} confidence bands{p}.",
        ident,
    )
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>')
    for s in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(s):.1f}" y2="{y(s):.1f}" stroke="#eee"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y(s) + 4:.1f}" text-anchor="end">{s:.2f}</text>')
    step = max(1, math.ceil(len(km.grid) / 12))
    for t in km.grid[::step]:
        parts.append(f'<text x="{x(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{t:g}</text>')
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">days since diagnosis</text>'
    )
    parts.append(
        f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
        'text-anchor="middle">overall survival</text>'
    )
    for n, curve in enumerate(km.curves):
        colour = COLOURS[n % len(COLOURS)]
        path: list[str] = []
        upper: list[tuple[float, float]] = []
        lower: list[tuple[float, float]] = []
        previous: float | None = None
        for k, point in enumerate(curve.points):
            end = km.grid[k + 1] if k + 1 < len(km.grid) else km.grid[k]
            if point.survival is not None:
                if previous is not None:
                    path.append(f"L{x(point.time):.1f},{y(previous):.1f}")
                path.append(f"{'L' if path else 'M'}{x(point.time):.1f},{y(point.survival):.1f}")
                path.append(f"L{x(end):.1f},{y(point.survival):.1f}")
                previous = point.survival
                if point.ci_lower is not None and point.ci_upper is not None:
                    upper += [(x(point.time), y(point.ci_upper)), (x(end), y(point.ci_upper))]
                    lower += [(x(point.time), y(point.ci_lower)), (x(end), y(point.ci_lower))]
            elif point.lower_bound is not None and point.upper_bound is not None:
                box_w = max(x(end) - x(point.time), 1.0)
                box_h = max(y(point.lower_bound) - y(point.upper_bound), 1.0)
                parts.append(
                    f'<rect x="{x(point.time):.1f}" y="{y(point.upper_bound):.1f}" width="{box_w:.1f}" '
                    f'height="{box_h:.1f}" fill="url(#{ident}-hatch)" stroke="{colour}" stroke-opacity="0.7">'
                    f"<title>{escape(curve.group)} at day {point.time:g}: "
                    f"between {point.lower_bound:.3f} and "
                    f"{point.upper_bound:.3f} (a node's count was shown as &lt;k)</title></rect>"
                )
        if upper:
            band = " ".join(f"{a:.1f},{b:.1f}" for a, b in [*upper, *reversed(lower)])
            parts.append(f'<polygon points="{band}" fill="{colour}" fill-opacity="0.15" stroke="none"/>')
        if path:
            parts.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2.2" '
                f'data-group="{escape(curve.group)}"/>'
            )
        ly = top + 16 + 20 * n
        parts.append(f'<rect x="{width - right + 14}" y="{ly - 10}" width="14" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{width - right + 34}" y="{ly}">{escape(curve.group)}</text>')
    legend_y = top + 16 + 20 * len(km.curves) + 8
    parts.append(
        f'<rect x="{width - right + 14}" y="{legend_y - 10}" width="14" height="12" '
        f'fill="url(#{ident}-hatch)" '
        'stroke="#777"/>'
    )
    parts.append(f'<text x="{width - right + 34}" y="{legend_y}">bounds only</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def forest_svg(fit: CombinedModelFit, *, ident: str = "forest") -> Markup:
    """A forest plot: hazard ratios on a log scale (Cox) or estimates (GLM) with their Wald intervals."""
    cox = fit.kind == "cox"
    rows = [
        (c.name, c.hazard_ratio, c.hazard_ratio_ci_lower, c.hazard_ratio_ci_upper)
        if cox
        else (c.name, c.estimate, c.ci_lower, c.ci_upper)
        for c in fit.coefficients
        if cox or c.name != "intercept"
    ]
    reference = 1.0 if cox else 0.0

    def scale(v: float | None) -> float:
        value = reference if v is None or not math.isfinite(v) else v
        return math.log(max(value, 1e-12)) if cox else value

    label = (
        f"hazard ratio ({fit.confidence:.0%} CI, log scale)" if cox else f"estimate ({fit.confidence:.0%} CI)"
    )
    left, plot_w, row_h, right = 230.0, 330.0, 28.0, 200.0
    height = 56.0 + row_h * max(len(rows), 1)
    width = left + plot_w + right
    parts = _open(
        width,
        height,
        "Forest plot" + (" of hazard ratios" if cox else " of GLM estimates"),
        "; ".join(f"{n}: {_f(v)} ({_f(lo)} to {_f(hi)})" for n, v, lo, hi in rows) or "no coefficients",
        ident,
    )
    ends = [scale(v) for _, _, lo, hi in rows for v in (lo, hi)] + [scale(reference)]
    lo_end, hi_end = min(ends), max(ends)
    pad = 0.06 * ((hi_end - lo_end) or 1.0)
    lo_end, hi_end = lo_end - pad, hi_end + pad

    def x(v: float | None) -> float:
        return left + plot_w * (scale(v) - lo_end) / (hi_end - lo_end)

    parts.append(
        f'<line x1="{x(reference):.1f}" x2="{x(reference):.1f}" y1="8" y2="{height - 36}" '
        'stroke="#888" stroke-dasharray="4 3"/>'
    )
    for n, (name, point, low, high) in enumerate(rows):
        cy = 24 + row_h * n
        parts.append(f'<text x="{left - 10}" y="{cy + 4}" text-anchor="end">{escape(name)}</text>')
        parts.append(
            f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{cy}" y2="{cy}" '
            f'stroke="{COLOURS[0]}" stroke-width="2"/>'
        )
        parts.append(
            f'<rect x="{x(point) - 5:.1f}" y="{cy - 5}" width="10" height="10" fill="{COLOURS[0]}"/>'
        )
        parts.append(f'<text x="{left + plot_w + 12}" y="{cy + 4}">{_f(point)} ({_f(low)}–{_f(high)})</text>')
    axis_y = height - 36
    for value in (lo_end, (lo_end + hi_end) / 2, hi_end):
        shown = math.exp(value) if cox else value
        parts.append(
            f'<text x="{left + plot_w * (value - lo_end) / (hi_end - lo_end):.1f}" y="{axis_y + 14}" '
            f'text-anchor="middle" fill="#555">{shown:.2g}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{escape(label)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def bar_chart_svg(bars: Sequence[tuple[str, Share | None]], *, title: str, ident: str = "bars") -> Markup:
    """Horizontal bars of proportions; a range (from a "<k" count) is a hatched bar between its bounds."""
    left, plot_w, row_h, right = 120.0, 420.0, 26.0, 130.0
    height = 44.0 + row_h * max(len(bars), 1)
    width = left + plot_w + right
    top_share = max([s.upper for _, s in bars if s is not None] + [0.05])
    scale_max = min(1.0, math.ceil(top_share * 10) / 10)
    desc = "; ".join(f"{label}: {s.display if s else 'no one in the cohort'}" for label, s in bars)
    parts = _open(width, height, title, desc, ident)

    def x(v: float) -> float:
        return left + plot_w * min(v, scale_max) / scale_max

    for tick in (0.0, scale_max / 2, scale_max):
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="6" y2="{height - 30}" stroke="#eee"/>')
        parts.append(
            f'<text x="{x(tick):.1f}" y="{height - 14}" text-anchor="middle" fill="#555">'
            f"{100 * tick:.0f}%</text>"
        )
    for n, (label, share) in enumerate(bars):
        cy = 10 + row_h * n
        parts.append(f'<text x="{left - 8}" y="{cy + 13}" text-anchor="end">{escape(label)}</text>')
        if share is None:
            parts.append(f'<text x="{left + 4}" y="{cy + 13}" fill="#777">no one in the cohort</text>')
            continue
        if share.point is not None:
            parts.append(
                f'<rect x="{left}" y="{cy}" width="{x(share.point) - left:.1f}" height="18" '
                f'fill="{COLOURS[0]}"/>'
            )
        else:
            parts.append(
                f'<rect x="{x(share.lower):.1f}" y="{cy}" '
                f'width="{max(x(share.upper) - x(share.lower), 1):.1f}" '
                f'height="18" fill="url(#{ident}-hatch)" stroke="{COLOURS[0]}"/>'
            )
        parts.append(f'<text x="{left + plot_w + 8}" y="{cy + 13}">{escape(share.display)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _blend(value: float) -> str:
    """White to dark blue."""
    low, high = (247, 251, 255), (8, 48, 107)
    v = min(max(value, 0.0), 1.0)
    rgb = tuple(round(a + (b - a) * v) for a, b in zip(low, high, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def heatmap_svg(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Sequence[Sequence[Share | None]],
    *,
    title: str,
    ident: str = "heat",
) -> Markup:
    """A gene × tumour-type heat map of proportions; ranges are hatched, empty cells grey."""
    left, top, cell_w, cell_h = 90.0, 70.0, 86.0, 32.0
    width = max(left + cell_w * max(len(columns), 1) + 20, 460.0)  # room for the key below
    height = top + cell_h * max(len(rows), 1) + 48
    peak = max([s.upper for row in cells for s in row if s is not None and s.known] + [0.05])
    desc = "; ".join(
        f"{r} in {c}: {s.display if s else 'no one'}"
        for r, row in zip(rows, cells, strict=True)
        for c, s in zip(columns, row, strict=True)
    )
    parts = _open(width, height, title, desc, ident)
    for j, column in enumerate(columns):
        cx = left + cell_w * j + cell_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{top - 10}" text-anchor="start" '
            f'transform="rotate(-30 {cx:.1f} {top - 10})">'
            f"{escape(column)}</text>"
        )
    for i, row in enumerate(rows):
        cy = top + cell_h * i
        parts.append(f'<text x="{left - 8}" y="{cy + cell_h / 2 + 4}" text-anchor="end">{escape(row)}</text>')
        for j, share in enumerate(cells[i]):
            cx = left + cell_w * j
            if share is None or not share.known:
                fill, text, ink = "#e4e4e4", "–" if share is None else "?", "#333"
            else:
                level = share.middle / peak
                fill, text, ink = _blend(level), share.display, "#fff" if level > 0.55 else "#111"
            parts.append(
                f'<rect x="{cx:.1f}" y="{cy:.1f}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"/>'
            )
            if share is not None and share.point is None and share.known:
                parts.append(
                    f'<rect x="{cx:.1f}" y="{cy:.1f}" width="{cell_w - 2}" height="{cell_h - 2}" '
                    f'fill="url(#{ident}-hatch)" fill-opacity="0.5"/>'
                )
            parts.append(
                f'<text x="{cx + cell_w / 2 - 1:.1f}" y="{cy + cell_h / 2 + 4:.1f}" text-anchor="middle" '
                f'fill="{ink}" font-size="11">{escape(text)}</text>'
            )
    key_y = top + cell_h * len(rows) + 20
    parts.append(
        f'<text x="{left}" y="{key_y}" fill="#555">darker = more carriers (up to {100 * peak:.0f}%)</text>'
        f'<text x="{left}" y="{key_y + 15}" fill="#555">hatched = a range (a node count was &lt;k); '
        "grey = no one</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))
