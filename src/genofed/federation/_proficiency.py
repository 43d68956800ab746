"""Proficiency testing across labs: compare the nodes' benchmarks of one reference sample.

Each node benchmarks its own calls of the shared reference sample against the shared truth set and
releases hap.py's counts (:class:`~genofed.api.ProficiencyResult`); no call leaves a node. Here the
coordinator, per Type × Subset × Filter row:

- computes each lab's recall TP/(TP+FN) and precision TP/(TP+FP) with 95 % modified Jeffreys
  intervals (:func:`genofed.qa.jeffreys_interval`, as hap.py/som.py report them), and F1 with an
  interval from the recall and precision bounds at 97.5 % each: F1 increases in both, so the box
  of the two intervals -- which holds both true values with probability ≥ 95 % (Bonferroni) -- maps
  to an F1 interval of at least 95 % coverage;
- tests whether the labs' rates are homogeneous: Pearson's chi-square test on the labs × (TP, FN)
  table for recall and the labs × (TP, FP) table for precision (``scipy.stats.chi2_contingency``,
  Yates-corrected for two labs), or Fisher's exact test when two labs leave an expected count
  below 5 (``scipy.stats.fisher_exact``). A table without variation in one column (every lab
  perfect) cannot be tested and gets no p-value;
- flags a lab whose rate is significantly *below* the other labs pooled: a one-sided Fisher exact
  test of the lab's 2 × 2 table against the rest (exact at any count), Bonferroni-corrected over
  every lab, row and metric tested. A flag says "look at this lab's pipeline for this variant
  type", not a verdict on the lab.

The homogeneity p-values are Bonferroni-corrected over the rows and metrics tested as well
(``p_adjusted``). Labs whose truth files differ (another ``truth_digest``) are compared all the
same, and the comparison warns.

References
----------
Krusche P. et al. Best practices for benchmarking germline small-variant calls in human genomes.
Nat Biotechnol 37, 555–560 (2019). Agresti A. Categorical Data Analysis, 3rd ed., sections 3.5
(Fisher's exact test) and 3.2 (chi-square tests of independence). Brown L.D., Cai T.T., DasGupta A.
Interval estimation for a binomial proportion. Stat Sci 16, 101–133 (2001).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any, Literal

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from genofed.api import AnalysisRequest, ProficiencyAnalysis, ProficiencyResult, ProficiencyRow
from genofed.qa import jeffreys_interval

from ._answer import NodeOutcome, OutcomeStatus

__all__ = [
    "HomogeneityTest",
    "LabMetrics",
    "ProficiencyComparison",
    "compare_proficiency",
    "comparison_from_outcomes",
    "homogeneity",
    "lab_below",
    "proficiency_lab_rows",
    "proficiency_svg",
    "proficiency_test_rows",
    "render_proficiency",
    "write_proficiency",
]

Metric = Literal["recall", "precision"]
#: Below this expected count a 2-lab table is tested exactly (Cochran's rule for the chi-square).
MIN_EXPECTED = 5.0


Method = Literal["chi-square", "fisher", "not testable"]
#: A homogeneity test's method, statistic, degrees of freedom, p-value and note.
_Outcome = tuple[Method, float | None, int | None, float | None, str | None]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabMetrics(_Frozen):
    """One lab's metrics for one Type × Subset × Filter row, and whether it is flagged."""

    node: str
    country: str | None = None
    type: str
    subset: str
    filter: str
    truth_tp: int
    truth_fn: int
    query_tp: int
    query_fp: int
    query_unk: int
    fp_gt: int
    recall: float | None
    recall_lower: float | None
    recall_upper: float | None
    precision: float | None
    precision_lower: float | None
    precision_upper: float | None
    f1: float | None
    f1_lower: float | None
    f1_upper: float | None
    recall_p: float | None = Field(
        default=None, description="Bonferroni-adjusted one-sided p of recall below the other labs'"
    )
    precision_p: float | None = Field(
        default=None, description="Bonferroni-adjusted one-sided p of precision below the other labs'"
    )
    below: tuple[Metric, ...] = Field(default=(), description="metrics significantly below the others'")

    @property
    def flagged(self) -> bool:
        return bool(self.below)


class HomogeneityTest(_Frozen):
    """Whether the labs' rates of one metric in one row differ more than chance allows."""

    type: str
    subset: str
    filter: str
    metric: Metric
    labs: tuple[str, ...]
    pooled: float | None = Field(description="the pooled rate: all labs' TP over all labs' trials")
    method: Method
    statistic: float | None = Field(description="chi-square statistic, or Fisher's odds ratio")
    dof: int | None = None
    p_value: float | None = None
    p_adjusted: float | None = Field(default=None, description="Bonferroni over the tests of the comparison")
    note: str | None = None


class ProficiencyComparison(_Frozen):
    """Labs' benchmarks of one reference sample against one truth set, compared."""

    truth_set: str
    sample: str
    alpha: float
    labs: tuple[LabMetrics, ...]
    tests: tuple[HomogeneityTest, ...]
    pipelines: dict[str, str | None] = Field(default_factory=dict)
    digests: dict[str, str] = Field(default_factory=dict)
    outcomes: tuple[NodeOutcome, ...] = ()
    missing: tuple[str, ...] = Field(default=(), description="nodes asked that gave no benchmark")
    warnings: tuple[str, ...] = ()

    @property
    def flagged(self) -> tuple[LabMetrics, ...]:
        """Every lab × row with a metric significantly below the other labs'."""
        return tuple(m for m in self.labs if m.flagged)

    def lab(self, node: str, type_: str, filter_: str = "PASS", subset: str = "*") -> LabMetrics:
        """One lab's metrics for one row (``KeyError`` if there is none)."""
        for m in self.labs:
            if (m.node, m.type, m.filter, m.subset) == (node, type_, filter_, subset):
                return m
        raise KeyError((node, type_, filter_, subset))

    def test(self, type_: str, metric: Metric, filter_: str = "PASS", subset: str = "*") -> HomogeneityTest:
        """The homogeneity test of one row and metric (``KeyError`` if there is none)."""
        for t in self.tests:
            if (t.type, t.metric, t.filter, t.subset) == (type_, metric, filter_, subset):
                return t
        raise KeyError((type_, metric, filter_, subset))

    def table(self) -> Any:
        """One row per lab × Type × Subset × Filter, as a pandas DataFrame."""
        from ._answer import _frame

        return _frame([{**m.model_dump(), "flagged": m.flagged} for m in self.labs])

    def tests_table(self) -> Any:
        """One row per Type × Subset × Filter × metric with its homogeneity test, as a DataFrame."""
        from ._answer import _frame

        return _frame([t.model_dump() for t in self.tests])


def _rate(successes: int, trials: int, level: float) -> tuple[float | None, float | None, float | None]:
    if trials <= 0:
        return None, None, None
    low, high = jeffreys_interval(successes, trials, level)
    return successes / trials, low, high


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None or p + r <= 0:
        return None
    return 2 * p * r / (p + r)


def _lab_metrics(node: str, country: str | None, row: ProficiencyRow, level: float) -> LabMetrics:
    recall = _rate(row.truth_tp, row.truth_tp + row.truth_fn, level)
    precision = _rate(row.query_tp, row.query_tp + row.query_fp, level)
    # Each at 1 - (1 - level)/2, so that the box holds both with probability ≥ level (Bonferroni).
    box = 1 - (1 - level) / 2
    r_box = _rate(row.truth_tp, row.truth_tp + row.truth_fn, box)
    p_box = _rate(row.query_tp, row.query_tp + row.query_fp, box)
    return LabMetrics(
        node=node,
        country=country,
        type=row.type,
        subset=row.subset,
        filter=row.filter,
        truth_tp=row.truth_tp,
        truth_fn=row.truth_fn,
        query_tp=row.query_tp,
        query_fp=row.query_fp,
        query_unk=row.query_unk,
        fp_gt=row.fp_gt,
        recall=recall[0],
        recall_lower=recall[1],
        recall_upper=recall[2],
        precision=precision[0],
        precision_lower=precision[1],
        precision_upper=precision[2],
        f1=_f1(precision[0], recall[0]),
        f1_lower=_f1(p_box[1], r_box[1]),
        f1_upper=_f1(p_box[2], r_box[2]),
    )


def _counts(m: LabMetrics, metric: Metric) -> tuple[int, int]:
    """(successes, failures) of a lab for a metric: (TP, FN) for recall, (TP, FP) for precision."""
    return (m.truth_tp, m.truth_fn) if metric == "recall" else (m.query_tp, m.query_fp)


def homogeneity(table: Sequence[tuple[int, int]]) -> _Outcome:
    """Test a labs × (successes, failures) table: (method, statistic, dof, p, note).

    Chi-square test of independence (``scipy.stats.chi2_contingency``, whose Yates correction
    applies to 2 × 2 tables); Fisher's exact test (two-sided) for two labs with an expected count
    below :data:`MIN_EXPECTED`; not testable with fewer than two labs or without variation.
    """
    from scipy.stats import chi2_contingency, fisher_exact

    rows = [(s, f) for s, f in table if s + f > 0]
    if len(rows) < 2:
        return "not testable", None, None, None, "fewer than two labs with calls to compare"
    successes, failures = sum(s for s, _ in rows), sum(f for _, f in rows)
    if successes == 0 or failures == 0:
        return "not testable", None, None, None, "no variation: every lab's rate is the same (0 or 1)"
    total = successes + failures
    expected = min(min(s + f for s, f in rows) * c / total for c in (successes, failures))
    if len(rows) == 2 and expected < MIN_EXPECTED:
        odds, p = fisher_exact([list(r) for r in rows], alternative="two-sided")
        return "fisher", float(odds), None, float(p), None
    chi2, p, dof, _ = chi2_contingency([list(r) for r in rows])
    note = f"an expected count is below {MIN_EXPECTED:g}: approximate" if expected < MIN_EXPECTED else None
    return "chi-square", float(chi2), int(dof), float(p), note


def lab_below(lab: tuple[int, int], rest: tuple[int, int]) -> float:
    """One-sided p-value that the lab's rate is below the rest's (Fisher's exact test, ``less``)."""
    from scipy.stats import fisher_exact

    _, p = fisher_exact([list(lab), list(rest)], alternative="less")
    return float(p)


def _adjust(p: float | None, m: int) -> float | None:
    return None if p is None else min(1.0, p * m)


def compare_proficiency(
    results: Mapping[str, ProficiencyResult],
    *,
    sample: str,
    countries: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    level: float = 0.95,
) -> ProficiencyComparison:
    """Compare labs' benchmarks of one reference sample (see the module docstring for the tests).

    Parameters
    ----------
    results
        Each lab's (node id's) :class:`~genofed.api.ProficiencyResult`.
    sample
        The reference sample, for the record.
    countries
        Each node's country, for the tables.
    alpha
        Family-wise significance level of the flags (Bonferroni).
    level
        Confidence level of the intervals.

    Returns
    -------
    ProficiencyComparison

    Raises
    ------
    ValueError
        The results name different truth sets.
    """
    names = {r.truth_set for r in results.values()}
    if len(names) > 1:
        raise ValueError(f"the labs' results are of different truth sets: {', '.join(sorted(names))}")
    truth_set = next(iter(names)) if names else ""
    countries = countries or {}
    warnings: list[str] = []
    digests = {node: r.truth_digest for node, r in results.items()}
    if len(set(digests.values())) > 1:
        common, _ = Counter(digests.values()).most_common(1)[0]
        odd = sorted(node for node, d in digests.items() if d != common)
        warnings.append(
            f"truth set {truth_set!r} differs at {', '.join(odd)} (other files than the other labs'): "
            "their metrics are not comparable until every lab holds the same version"
        )
    by_row: dict[tuple[str, str, str], list[LabMetrics]] = {}
    for node, result in results.items():
        for row in result.rows:
            if not any(
                r.truth_total or r.query_total
                for other in results.values()
                for r in other.rows
                if (r.type, r.subset, r.filter) == (row.type, row.subset, row.filter)
            ):
                continue  # no lab has a variant of this type in this stratum: nothing to compare
            m = _lab_metrics(node, countries.get(node), row, level)
            by_row.setdefault((row.type, row.subset, row.filter), []).append(m)
    order = sorted(by_row, key=lambda k: (k[1] != "*", k[1], k[0] != "SNP", k[0], k[2] != "PASS"))
    raw_tests: list[tuple[tuple[str, str, str], Metric, _Outcome, float | None]] = []
    lab_p: dict[tuple[str, tuple[str, str, str], Metric], float] = {}
    metrics: tuple[Metric, Metric] = ("recall", "precision")
    for key in order:
        labs = by_row[key]
        for metric in metrics:
            table = [_counts(m, metric) for m in labs]
            outcome = homogeneity(table)
            total = sum(s + f for s, f in table)
            pooled = sum(s for s, _ in table) / total if total else None
            raw_tests.append((key, metric, outcome, pooled))
            if outcome[0] == "not testable":
                continue
            for n, m in enumerate(labs):
                s, f = table[n]
                if s + f == 0:
                    continue
                rest = (sum(t[0] for t in table) - s, sum(t[1] for t in table) - f)
                lab_p[(m.node, key, metric)] = lab_below((s, f), rest)
    m_tests = sum(1 for _, _, outcome, _ in raw_tests if outcome[0] != "not testable")
    m_labs = len(lab_p)
    tests = tuple(
        HomogeneityTest(
            type=key[0],
            subset=key[1],
            filter=key[2],
            metric=metric,
            labs=tuple(m.node for m in by_row[key]),
            pooled=pooled,
            method=method,
            statistic=statistic,
            dof=dof,
            p_value=p,
            p_adjusted=_adjust(p, m_tests),
            note=note,
        )
        for key, metric, (method, statistic, dof, p, note), pooled in raw_tests
    )
    labs_out: list[LabMetrics] = []
    for key in order:
        for m in by_row[key]:
            adjusted = {metric: _adjust(lab_p.get((m.node, key, metric)), m_labs) for metric in metrics}
            below = tuple(metric for metric in metrics if (p := adjusted[metric]) is not None and p < alpha)
            labs_out.append(
                m.model_copy(
                    update={
                        "recall_p": adjusted["recall"],
                        "precision_p": adjusted["precision"],
                        "below": below,
                    }
                )
            )
    return ProficiencyComparison(
        truth_set=truth_set,
        sample=sample,
        alpha=alpha,
        labs=tuple(labs_out),
        tests=tests,
        pipelines={node: r.pipeline for node, r in results.items()},
        digests=digests,
        warnings=tuple(warnings),
    )


# -- rendering -----------------------------------------------------------------------------------

_LAB_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_FLAG = "#d62728"


def _fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def proficiency_svg(comparison: ProficiencyComparison, *, subset: str = "*") -> Markup:
    """A dot plot per Type × Filter of one subset: each lab's recall and precision with intervals.

    The axis of each metric spans the labs' intervals (not 0..1), so differences of a fraction of a
    percent stay visible; flagged estimates are drawn in red.
    """
    rows = [m for m in comparison.labs if m.subset == subset]
    if not rows:
        return Markup("")
    keys: list[tuple[str, str]] = []
    for m in rows:
        if (m.type, m.filter) not in keys:
            keys.append((m.type, m.filter))
    nodes = list(dict.fromkeys(m.node for m in rows))
    colour = {node: _LAB_COLOURS[i % len(_LAB_COLOURS)] for i, node in enumerate(nodes)}
    left, panel, gap, row_h, top = 150, 260, 40, 18, 34
    block = row_h * len(nodes) + 22
    height = top + block * len(keys) + 20
    width = left + 2 * panel + gap + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="recall and precision per lab" font-family="sans-serif" font-size="11">'
    ]
    for i, metric in enumerate(("recall", "precision")):
        ends = [
            v
            for m in rows
            for v in (getattr(m, f"{metric}_lower"), getattr(m, f"{metric}_upper"))
            if v is not None
        ]
        lo, hi = (min(ends), max(ends)) if ends else (0.0, 1.0)
        pad = 0.05 * ((hi - lo) or 0.01)
        lo, hi = max(0.0, lo - pad), min(1.0, hi + pad)
        if hi <= lo:
            lo, hi = max(0.0, lo - 0.01), min(1.0, hi + 0.01)
        x0 = left + i * (panel + gap)

        def x(v: float, x0: float = x0, lo: float = lo, hi: float = hi) -> float:
            return x0 + panel * (v - lo) / (hi - lo)

        parts.append(
            f'<text x="{x0 + panel / 2}" y="14" text-anchor="middle" font-weight="bold">{metric}</text>'
        )
        parts.append(f'<text x="{x0}" y="28" text-anchor="start" fill="#666">{lo:.4f}</text>')
        parts.append(f'<text x="{x0 + panel}" y="28" text-anchor="end" fill="#666">{hi:.4f}</text>')
        for b, (type_, filter_) in enumerate(keys):
            y0 = top + b * block
            parts.append(
                f'<rect x="{x0}" y="{y0}" width="{panel}" height="{block - 8}" fill="none" stroke="#ccc"/>'
            )
            if i == 0:
                parts.append(
                    f'<text x="8" y="{y0 + (block - 8) / 2 + 4:.1f}" text-anchor="start" font-weight="bold">'
                    f"{escape(type_)} {escape(filter_)}</text>"
                )
            for n, node in enumerate(nodes):
                found = [r for r in rows if (r.node, r.type, r.filter) == (node, type_, filter_)]
                cy = y0 + 14 + n * row_h
                if i == 0:
                    parts.append(f'<text x="{left - 8}" y="{cy + 4}" text-anchor="end">{escape(node)}</text>')
                if not found:
                    continue
                lab = found[0]
                point, low, high = (
                    getattr(lab, metric),
                    getattr(lab, f"{metric}_lower"),
                    getattr(lab, f"{metric}_upper"),
                )
                if point is None or low is None or high is None:
                    continue
                fill = _FLAG if metric in lab.below else colour[node]
                parts.append(
                    f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{cy}" y2="{cy}" stroke="{fill}" '
                    'stroke-width="2"/>'
                )
                parts.append(
                    f'<circle cx="{x(point):.1f}" cy="{cy}" r="4" fill="{fill}">'
                    f"<title>{escape(node)} {metric} {point:.4f} ({low:.4f}–{high:.4f})</title></circle>"
                )
    parts.append(
        f'<text x="{left}" y="{height - 6}" fill="#666">dots: estimate; bars: 95 % Jeffreys interval; '
        f"red: significantly below the other labs (Bonferroni, α = {comparison.alpha:g})</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


_COLUMNS = (
    ("node", "lab"),
    ("type", "type"),
    ("subset", "subset"),
    ("filter", "filter"),
    ("truth_tp", "TP"),
    ("truth_fn", "FN"),
    ("query_fp", "FP"),
    ("recall", "recall"),
    ("precision", "precision"),
    ("f1", "F1"),
)


def _interval(m: LabMetrics, metric: str, digits: int) -> str:
    point = getattr(m, metric)
    low, high = getattr(m, f"{metric}_lower"), getattr(m, f"{metric}_upper")
    return f"{_fmt(point, digits)} ({_fmt(low, digits)}–{_fmt(high, digits)})" if point is not None else "–"


def _wanted(subset: str, subsets: Sequence[str] | None) -> bool:
    return subsets is None or subset in subsets


def proficiency_lab_rows(
    comparison: ProficiencyComparison, *, digits: int = 4, subsets: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """The per-lab table as header and text rows (the CLI and the HTML page show it)."""
    header = [
        "lab",
        "type",
        "subset",
        "filter",
        "TP",
        "FN",
        "FP",
        "recall (95 % CI)",
        "precision (95 % CI)",
        "F1 (≥95 % CI)",
        "flag",
    ]
    body = [
        [
            m.node,
            m.type,
            m.subset,
            m.filter,
            f"{m.truth_tp:,}",
            f"{m.truth_fn:,}",
            f"{m.query_fp:,}",
            _interval(m, "recall", digits),
            _interval(m, "precision", digits),
            _interval(m, "f1", digits),
            ", ".join(f"{metric} low" for metric in m.below),
        ]
        for m in comparison.labs
        if _wanted(m.subset, subsets)
    ]
    return header, body


def proficiency_test_rows(
    comparison: ProficiencyComparison, *, subsets: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """The homogeneity tests as header and text rows."""
    header = ["type", "subset", "filter", "metric", "pooled", "test", "statistic", "p", "p adj."]
    body = [
        [
            t.type,
            t.subset,
            t.filter,
            t.metric,
            _fmt(t.pooled),
            {"chi-square": f"χ² ({t.dof} df)", "fisher": "Fisher"}.get(t.method, "none"),
            _fmt(t.statistic, 3),
            "–" if t.p_value is None else f"{t.p_value:.3g}",
            "–" if t.p_adjusted is None else f"{t.p_adjusted:.3g}",
        ]
        for t in comparison.tests
        if _wanted(t.subset, subsets)
    ]
    return header, body


def _html_table(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_proficiency(comparison: ProficiencyComparison) -> str:
    """A self-contained HTML page: the dot plots, the per-lab table and the tests."""
    subsets = list(dict.fromkeys(m.subset for m in comparison.labs))
    charts = "".join(
        f"<h3>{'all confident regions' if s == '*' else 'stratum ' + escape(s)}</h3>"
        f"{proficiency_svg(comparison, subset=s)}"
        for s in subsets
    )
    pipelines = "".join(
        f"<li><b>{escape(node)}</b>: {escape(p or 'pipeline not recorded')}</li>"
        for node, p in comparison.pipelines.items()
    )
    missing = "".join(
        f"<li><b>{escape(o.node)}</b>: {escape(o.status.value)} — {escape(o.reason or '')}</li>"
        for o in comparison.outcomes
        if o.node in comparison.missing
    )
    warnings = "".join(f'<p class="warn">{escape(w)}</p>' for w in comparison.warnings)
    flagged = comparison.flagged
    verdict = (
        "; ".join(f"{m.node}: {m.type} {m.filter} {'/'.join(m.below)}" for m in flagged if m.subset == "*")
        or "no lab is significantly below the others"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Proficiency testing: {escape(comparison.sample)} against {escape(comparison.truth_set)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #f4f4f4; }} td:first-child, th:first-child {{ text-align: left; }}
.warn {{ color: #a00; }}
</style></head><body>
<h1>Proficiency testing across labs</h1>
<p>Reference sample <b>{escape(comparison.sample)}</b>, truth set <b>{escape(comparison.truth_set)}</b>.
Each lab benchmarked its own calls inside its node (hap.py semantics); only counts left the nodes.</p>
{warnings}
<p><b>Flagged:</b> {escape(verdict)}</p>
<h2>Recall and precision per lab</h2>{charts}
<h2>Labs</h2>{_html_table(*proficiency_lab_rows(comparison))}
<h2>Do the labs differ?</h2>
<p>Chi-square test of homogeneity per row (Fisher's exact test for two labs with small expected counts);
a lab is flagged when a one-sided Fisher exact test against the other labs pooled is significant after
Bonferroni correction (α = {comparison.alpha:g}).</p>
{_html_table(*proficiency_test_rows(comparison))}
<h2>Pipelines</h2><ul>{pipelines}</ul>
{"<h2>Labs without a benchmark</h2><ul>" + missing + "</ul>" if missing else ""}
</body></html>
"""


def write_proficiency(comparison: ProficiencyComparison, path: str | Path) -> Path:
    """Write :func:`render_proficiency` to ``path``; returns the path."""
    out = Path(path)
    out.write_text(render_proficiency(comparison), encoding="utf-8")
    return out


def comparison_from_outcomes(
    request: AnalysisRequest, outcomes: Sequence[NodeOutcome], *, alpha: float = 0.05
) -> ProficiencyComparison:
    """Compare the benchmarks of the nodes that answered a proficiency request; list the others."""
    analysis = request.analysis
    if not isinstance(analysis, ProficiencyAnalysis):
        raise ValueError(f"not a proficiency request: {analysis.kind}")
    results: dict[str, ProficiencyResult] = {}
    final: list[NodeOutcome] = []
    for outcome in outcomes:
        result = outcome.response.result if outcome.response is not None else None
        if (
            outcome.answered
            and isinstance(result, ProficiencyResult)
            and result.truth_set != analysis.truth_set
        ):
            outcome = outcome.model_copy(
                update={
                    "status": OutcomeStatus.FAILED,
                    "reason": f"answer not usable: it benchmarks truth set {result.truth_set!r}",
                }
            )
        elif outcome.answered and isinstance(result, ProficiencyResult):
            results[outcome.node] = result
        final.append(outcome)
    comparison = compare_proficiency(
        results, sample=analysis.sample, countries={o.node: o.country for o in final}, alpha=alpha
    )
    return comparison.model_copy(
        update={
            "truth_set": analysis.truth_set,
            "outcomes": tuple(final),
            "missing": tuple(o.node for o in final if o.node not in results),
        }
    )
