"""Writing a :class:`BenchmarkResult`: hap.py's ``summary.csv`` and ``extended.csv``, and JSON.

The CSV columns keep hap.py's names and order (``Type, Filter, TRUTH.TOTAL, …`` for the summary;
``Type, Subtype, Subset, Filter, Genotype, …`` for the extended table), so scripts written for
hap.py output read genofed's. Undefined values (a ratio over zero) are empty cells, as hap.py
writes them; JSON has ``null``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from ._bench import COUNT_COLUMNS, BenchmarkResult

__all__ = ["EXTENDED_COLUMNS", "SUMMARY_COLUMNS", "write_csv", "write_json"]

SUMMARY_COLUMNS = (
    "Type",
    "Filter",
    *COUNT_COLUMNS,
    "METRIC.Recall",
    "METRIC.Precision",
    "METRIC.Frac_NA",
    "METRIC.F1_Score",
    "TRUTH.TOTAL.TiTv_ratio",
    "QUERY.TOTAL.TiTv_ratio",
    "TRUTH.TOTAL.het_hom_ratio",
    "QUERY.TOTAL.het_hom_ratio",
)
EXTENDED_COLUMNS = (
    "Type",
    "Subtype",
    "Subset",
    "Filter",
    "Genotype",
    "METRIC.Recall",
    "METRIC.Recall.Lower",
    "METRIC.Recall.Upper",
    "METRIC.Precision",
    "METRIC.Precision.Lower",
    "METRIC.Precision.Upper",
    "METRIC.Frac_NA",
    "METRIC.F1_Score",
    "FP.gt",
    "FP.al",
    "TRUTH.TOTAL",
    "TRUTH.TP",
    "TRUTH.FN",
    "QUERY.TOTAL",
    "QUERY.TP",
    "QUERY.FP",
    "QUERY.UNK",
    "TRUTH.TOTAL.TiTv_ratio",
    "QUERY.TOTAL.TiTv_ratio",
    "TRUTH.TOTAL.het_hom_ratio",
    "QUERY.TOTAL.het_hom_ratio",
)


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value not in (0.0, 1.0) else f"{value:.1f}"
    return value


def write_csv(result: BenchmarkResult, out: str | Path, *, prefix: str = "") -> list[Path]:
    """Write ``summary.csv`` and ``extended.csv`` (optionally prefixed) into ``out``; return them."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, columns, rows in (
        ("summary.csv", SUMMARY_COLUMNS, result.summary()),
        ("extended.csv", EXTENDED_COLUMNS, result.rows),
    ):
        path = out / f"{prefix}{name}"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in columns])
        written.append(path)
    return written


def _json_value(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_json(result: BenchmarkResult, out: str | Path, *, prefix: str = "") -> Path:
    """Write ``metrics.json``: every row (summary rows first), plus skipped-record counts."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{prefix}metrics.json"
    doc = {
        "mode": "somatic" if result.somatic else "germline",
        "truth_skipped": result.truth_skipped,
        "query_skipped": result.query_skipped,
        "summary": [{k: _json_value(v) for k, v in r.items()} for r in result.summary()],
        "rows": [{k: _json_value(v) for k, v in r.items()} for r in result.rows],
    }
    path.write_text(json.dumps(doc, indent=1))
    return path
