"""The WGS-benefit answer as rows for the report and the CLI, and its ranking as an inline SVG chart."""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

from ._answer import CombinedWgsBenefit

__all__ = ["benefit_chart", "benefit_rows"]

_HEADER = [
    "rank",
    "group",
    "n",
    "actionable by WGS",
    "by the panel",
    "by WGS only",
    "incremental yield (95% CI)",
    "WGS-only: SV/fusion",
    "signature",
    "germline",
    "other",
]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def benefit_rows(combined: CombinedWgsBenefit, *, compact: bool = False) -> tuple[list[str], list[list[str]]]:
    """A header and one row of displayed values per group, ranked groups first.

    ``compact`` (a terminal) joins the four WGS-only classes into one column.
    """
    rows = []
    for r in combined.rows:
        if r.incremental_yield is not None:
            interval = f"{_percent(r.incremental_yield)} ({_percent(r.ci_lower)}–{_percent(r.ci_upper)})"
        elif r.yield_lower is not None:
            interval = f"{_percent(r.yield_lower)}–{_percent(r.yield_upper)} (range)"
        else:
            interval = "not ranked"
        classes = [
            r.wgs_only_sv_fusion.display,
            r.wgs_only_signature.display,
            r.wgs_only_germline.display,
            r.wgs_only_other.display,
        ]
        rows.append(
            [
                str(r.rank) if r.rank is not None else "–",
                r.label,
                r.n.display,
                r.wgs_actionable.display,
                r.panel_actionable.display,
                r.wgs_only.display,
                interval,
                *(["/".join(classes)] if compact else classes),
            ]
        )
    header = [*_HEADER[:7], "WGS-only SV/sig/germ/other"] if compact else list(_HEADER)
    return header, rows


_LEFT, _PLOT, _RIGHT, _TOP, _BAR, _GAP = 190, 360, 150, 36, 16, 8


def benefit_chart(combined: CombinedWgsBenefit) -> Markup:
    """The ranked groups as an inline SVG: a bar and its 95% interval where the yield is exact, a pale
    band over the possible values where a node withheld a small count (empty when nothing ranks)."""
    rows = [r for r in combined.rows if r.rank is not None]
    if not rows:
        return Markup("")
    tops = [r.ci_upper if r.ci_upper is not None else (r.yield_upper or 0.0) for r in rows]
    top = max([*tops, 0.05])
    scale = math.ceil(top * 10) / 10 if top < 1 else 1.0
    height = _TOP + len(rows) * (_BAR + _GAP) + 34

    def x(value: float) -> float:
        return _LEFT + _PLOT * value / scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LEFT + _PLOT + _RIGHT}" height="{height}" '
        'role="img" aria-labelledby="wgs-benefit-title" font-family="sans-serif" font-size="12">',
        f'<title id="wgs-benefit-title">Patients actionable only by WGS over the {escape(combined.panel)} '
        "panel, by group: exact yields with 95% Wilson intervals, ranges where counts were withheld</title>",
    ]
    for k in range(6):
        value = scale * k / 5
        parts.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{_TOP - 6}" y2="{height - 28}" '
            'stroke="#e5e5e5"/>'
            f'<text x="{x(value):.1f}" y="{height - 14}" text-anchor="middle">{value:.0%}</text>'
        )
    parts.append(
        f'<text x="{_LEFT + _PLOT / 2}" y="{_TOP - 14}" text-anchor="middle">'
        "incremental yield of WGS (patients actionable only by WGS)</text>"
    )
    for i, row in enumerate(rows):
        y = _TOP + i * (_BAR + _GAP)
        mid = y + _BAR / 2
        label = escape(row.label)
        parts.append(
            f'<text x="{_LEFT - 8}" y="{mid + 4:.1f}" text-anchor="end">{label} (n={row.n.display})</text>'
        )
        if row.incremental_yield is not None and row.ci_lower is not None and row.ci_upper is not None:
            width = max(x(row.incremental_yield) - _LEFT, 0.5)
            parts.append(
                f'<rect x="{_LEFT}" y="{y}" width="{width:.1f}" height="{_BAR}" fill="#1f77b4"/>'
                f'<line x1="{x(row.ci_lower):.1f}" x2="{x(row.ci_upper):.1f}" y1="{mid:.1f}" y2="{mid:.1f}" '
                'stroke="#222" stroke-width="1.5"/>'
            )
            text = f"{row.incremental_yield:.1%}"
        else:
            low, high = row.yield_lower or 0.0, row.yield_upper or 0.0
            parts.append(
                f'<rect x="{x(low):.1f}" y="{y}" width="{max(x(high) - x(low), 0.5):.1f}" height="{_BAR}" '
                'fill="#1f77b4" fill-opacity="0.35" stroke="#1f77b4" stroke-dasharray="3 2"/>'
            )
            text = f"{low:.1%}–{high:.1%}"
        parts.append(
            f'<text x="{_LEFT + _PLOT + 8}" y="{mid + 4:.1f}">{text} ({row.wgs_only.display})</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
