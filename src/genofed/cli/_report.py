"""``genofed report`` (a patient's findings by evidence tier) and ``genofed cds benefit`` (WGS vs panel)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from genofed.cds import (
    GROUPINGS,
    KnowledgeBase,
    benefit_table,
    build_report,
    load_panel,
    patient_groups,
    render_benefit_html,
    store_benefit_counts,
)
from genofed.errors import ConfigError
from genofed.store import NodeStore

from ._app import app, console, sub_app
from ._render import rich_table

__all__ = ["cds_benefit", "report"]

cds_app = sub_app("Clinical decision support: patient reports and the WGS-benefit analysis.")
app.add_typer(cds_app, name="cds")


class ReportFormat(StrEnum):
    """Output formats of ``genofed report``."""

    HTML = "html"
    JSON = "json"


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


@app.command("report")
def report(
    store: Annotated[Path, typer.Option(help="the node store to read the patient from")],
    individual: Annotated[str, typer.Option(help="the patient: source identifier or store pseudonym")],
    knowledge: Annotated[Path, typer.Option(help="knowledge-base directory (`genofed kb import`)")],
    out: Annotated[Path, typer.Option(help="file to write the report to")],
    as_of: Annotated[
        str | None, typer.Option(help="report as of this date (YYYY-MM-DD): KB releases up to it")
    ] = None,
    output_format: Annotated[ReportFormat, typer.Option("--format", help="html or json")] = ReportFormat.HTML,
    tumour_type: Annotated[
        str | None, typer.Option(help="OncoTree code to use when the store has none for the patient")
    ] = None,
) -> None:
    """Write a patient's findings matched to evidence, grouped by AMP/ASCO/CAP tier."""
    day = _date(as_of)
    kb = KnowledgeBase.open(knowledge, as_of=day)
    with NodeStore.open(store) as node:
        built = build_report(node, individual, kb, as_of=day, tumour_type=tumour_type)
    text = built.to_html() if output_format is ReportFormat.HTML else built.to_json()
    out.write_text(text, encoding="utf-8")
    counts = [(s.title, len(s.findings)) for s in built.sections]
    console.print(rich_table(f"report for {built.individual_id}", ["section", "findings"], counts))
    console.print(f"[green]wrote[/] {out}")


@cds_app.command("benefit")
def cds_benefit(
    store: Annotated[Path, typer.Option(help="the node store (its sequenced patients are the cohort)")],
    knowledge: Annotated[Path, typer.Option(help="knowledge-base directory (`genofed kb import`)")],
    panel: Annotated[str, typer.Option(help="hotspot50, gms560, or a panel file (.yaml, .bed, gene list)")],
    out: Annotated[Path, typer.Option(help="output file: .html (chart and table), .json or .tsv")],
    as_of: Annotated[str | None, typer.Option(help="KB releases up to this date (YYYY-MM-DD)")] = None,
    group_by: Annotated[
        str | None, typer.Option(help=f"a second grouping beside tumour type: {', '.join(GROUPINGS)}")
    ] = None,
) -> None:
    """Rank tumour types by the share of patients only WGS finds tier I/II evidence for."""
    suffix = out.suffix.lower()
    if suffix not in (".html", ".json", ".tsv"):
        raise ConfigError(f"--out {out}: give a .html, .json or .tsv file")
    chosen = load_panel(panel)
    kb = KnowledgeBase.open(knowledge, as_of=_date(as_of))
    with NodeStore.open(store) as node:
        groups = patient_groups(node, group_by) if group_by else None
        table = benefit_table(store_benefit_counts(node, kb, chosen, groups=groups), panel=chosen.name)
    if suffix == ".html":
        text = render_benefit_html(table, chosen, releases=kb.releases)
    elif suffix == ".json":
        text = json.dumps(table.to_dict(), indent=2, sort_keys=True) + "\n"
    else:
        rows = [row.as_dict() for row in table.rows]
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        text = buffer.getvalue()
    out.write_text(text, encoding="utf-8")
    console.print(
        rich_table(
            f"WGS benefit over {chosen.name}",
            ["rank", "group", "n", "WGS", "panel", "WGS only", "incremental yield (95% CI)"],
            [
                (
                    r.rank,
                    r.label,
                    r.counts.n,
                    r.counts.wgs_actionable,
                    r.counts.panel_actionable,
                    r.counts.wgs_only,
                    f"{r.incremental_yield:.1%} ({r.ci_lower:.1%}–{r.ci_upper:.1%})",
                )
                for r in table.rows
            ],
        )
    )
    console.print(f"[green]wrote[/] {out}")
