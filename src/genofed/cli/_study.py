"""``genofed study run``: a study specification asked of every node of a registry, answers combined."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from genofed.api import AlleleFrequencyAnalysis, AlleleFrequencyResult, CountResult, CrossTabResult
from genofed.errors import ConfigError
from genofed.federation import (
    CombinedAlleleFrequencies,
    CombinedCountResult,
    CombinedCrossTab,
    FederatedAnswer,
    Federation,
    OutcomeStatus,
    StudyResult,
    load_study,
    write_report,
)

from ._app import app, console, error_console, sub_app
from ._study_stats import statistics_tables

__all__ = ["StudyFormat", "read_token", "study_run"]

study_app = sub_app("Federated studies: one specification asked of every node, the answers combined.")
app.add_typer(study_app, name="study")

_STATUS_STYLE = {
    OutcomeStatus.ANSWERED: "green",
    OutcomeStatus.REFUSED: "yellow",
    OutcomeStatus.FAILED: "red",
    OutcomeStatus.TIMED_OUT: "red",
}


class StudyFormat(StrEnum):
    """How a study's result is printed."""

    TABLE = "table"
    JSON = "json"


def read_token(token: str | None, token_file: Path | None) -> str | None:
    """The passport from ``--token`` or ``--token-file`` (not both)."""
    if token and token_file:
        raise ConfigError("give the passport with --token or with --token-file, not both")
    if token_file is None:
        return token.strip() if token else None
    try:
        text = token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{token_file}: cannot read the token file: {exc.strerror or exc}") from exc
    if not text:
        raise ConfigError(f"{token_file}: the token file is empty")
    return text


def _status(answer: FederatedAnswer, node: str) -> str:
    outcome = answer.outcome(node)
    style = _STATUS_STYLE[outcome.status]
    return f"[{style}]{outcome.status.value.replace('_', ' ')}[/]"


def _count_table(n: int, answer: FederatedAnswer) -> Table:
    table = Table(title=f"{n}. count", title_justify="left", header_style="bold")
    for name in ("node", "country", "outcome"):
        table.add_column(name)
    table.add_column("individuals", justify="right")
    for o in answer.outcomes:
        value = ""
        if o.status is OutcomeStatus.ANSWERED and o.response and isinstance(o.response.result, CountResult):
            value = o.response.result.count.display
        table.add_row(o.node, o.country, _status(answer, o.node), value)
    if isinstance(answer.combined, CombinedCountResult):
        table.add_row("[bold]combined[/]", "", "", f"[bold]{answer.combined.count.display}[/]")
    return table


def _grid(
    title: str,
    rows: tuple[str, ...],
    columns: tuple[str, ...],
    cells: list[list[str]],
    row_totals: list[str],
    column_totals: list[str],
    total: str,
) -> Table:
    """A two-way table with its margins (a margin the node did not release shows as blank)."""
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("")
    for c in (*columns, "total"):
        table.add_column(c, justify="right")
    margins = row_totals or [""] * len(rows)
    for label, row, margin in zip(rows, cells, margins, strict=True):
        table.add_row(label, *row, margin)
    table.add_row("total", *(column_totals or [""] * len(columns)), total)
    return table


def _crosstab_tables(n: int, answer: FederatedAnswer) -> list[Table]:
    """A one-way table as one Rich table (a column per node, then combined); a two-way one per node."""
    combined = answer.combined if isinstance(answer.combined, CombinedCrossTab) else None
    results = [
        (o.node, o.country, o.response.result)
        for o in answer.answered
        if o.response is not None and isinstance(o.response.result, CrossTabResult)
    ]
    labels = combined.row_labels if combined else (results[0][2].row_labels if results else ())
    if all(len(r.column_labels) == 1 for _, _, r in results):
        table = Table(title=f"{n}. crosstab", title_justify="left", header_style="bold")
        table.add_column("")
        for node, _, _ in results:
            table.add_column(node, justify="right")
        if combined is not None:
            table.add_column("combined", justify="right", style="bold")
        for i, label in enumerate(labels):
            shown = [_cell(r, label) for _, _, r in results]
            table.add_row(label, *shown, *([combined.cells[i][0].display] if combined else []))
        totals = [r.table.total.display for _, _, r in results]
        table.add_row("total", *totals, *([combined.total.display] if combined else []))
        return [table]
    tables = []
    for node, country, r in results:
        t = r.table
        tables.append(
            _grid(
                f"{n}. crosstab at {node} ({country})",
                r.row_labels,
                r.column_labels,
                [[c.display for c in row] for row in t.cells],
                [c.display for c in t.row_totals],
                [c.display for c in t.column_totals],
                t.total.display,
            )
        )
    if combined is not None:
        tables.append(
            _grid(
                f"{n}. crosstab combined",
                combined.row_labels,
                combined.column_labels,
                [[c.display for c in row] for row in combined.cells],
                [c.display for c in combined.row_totals],
                [c.display for c in combined.column_totals],
                combined.total.display,
            )
        )
    return tables


def _cell(result: CrossTabResult, label: str) -> str:
    """One node's one-way cell by label (nodes may order labels differently)."""
    if label not in result.row_labels:
        return ""
    return result.table.cells[result.row_labels.index(label)][0].display


def _allele_table(n: int, answer: FederatedAnswer) -> Table:
    table = Table(title=f"{n}. allele frequency", title_justify="left", header_style="bold")
    for name in ("allele", "node", "AC", "AN", "AF"):
        table.add_column(name, justify="left" if name in ("allele", "node") else "right")
    for o in answer.answered:
        if o.response is None or not isinstance(o.response.result, AlleleFrequencyResult):
            continue
        for a in o.response.result.alleles:
            v = a.variant
            ac, an = a.allele_count, a.allele_number
            af = f"{ac.value / an.value:.4g}" if ac.value is not None and an.value else "–"
            table.add_row(f"{v.chrom}:{v.pos} {v.ref}>{v.alt}", o.node, ac.display, an.display, af)
    if isinstance(answer.combined, CombinedAlleleFrequencies):
        for c in answer.combined.alleles:
            v = c.variant
            table.add_row(
                f"[bold]{v.chrom}:{v.pos} {v.ref}>{v.alt}[/]",
                "[bold]combined[/]",
                c.allele_count.display,
                c.allele_number.display,
                c.display,
            )
    return table


def _by_population(answer: FederatedAnswer) -> bool:
    analysis = answer.request.analysis
    return isinstance(analysis, AlleleFrequencyAnalysis) and analysis.population is not None


def _print_answer(n: int, answer: FederatedAnswer) -> None:
    kind = answer.request.analysis.kind
    if kind == "count":
        console.print(_count_table(n, answer))
    elif kind == "crosstab":
        for table in _crosstab_tables(n, answer):
            console.print(table)
    elif kind in ("kaplan_meier", "cox", "glm", "summary", "wgs_benefit") or _by_population(answer):
        for table in statistics_tables(n, answer):
            console.print(table)
        for note in getattr(answer.combined, "notes", ()):
            console.print(f"  [dim]{note}[/]", highlight=False)
    else:
        console.print(_allele_table(n, answer))
    for o in answer.outcomes:
        if o.status is not OutcomeStatus.ANSWERED:
            style = _STATUS_STYLE[o.status]
            console.print(
                f"  [{style}]{o.node} {o.status.value.replace('_', ' ')}[/]: {o.reason}", highlight=False
            )
    for effect in answer.disclosure_effects:
        console.print(f"  [dim]disclosure: {effect}[/]", highlight=False)


def _as_json(result: StudyResult) -> str:
    data = result.model_dump(mode="json")
    data["complete"] = result.complete
    data["missing"] = list(result.missing)
    return json.dumps(data, indent=1, ensure_ascii=False)


@study_app.command("run")
def study_run(
    spec: Annotated[Path, typer.Argument(help="study specification (YAML or JSON)")],
    registry: Annotated[Path, typer.Option("--registry", help="registry of nodes (YAML)")],
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="GENOFED_PASSPORT", help="GA4GH Passport (JWT) sent to every node"),
    ] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="file holding the passport")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="also write an HTML report here")] = None,
    output: Annotated[StudyFormat, typer.Option("--format", help="table or json")] = StudyFormat.TABLE,
    require_all: Annotated[
        bool, typer.Option("--require-all", help="exit with status 1 unless every node contributed")
    ] = False,
) -> None:
    """Ask every node of the registry each analysis of the study; print each node's part and the sum.

    Nodes that refuse, fail or time out are named with the reason and left out of the combination;
    the exit status is 1 when no node answered at all (or, with --require-all, when any is missing).
    """
    study = load_study(spec)
    passport = read_token(token, token_file)
    total = len(study.analyses)

    def progress(n: int, answer: FederatedAnswer) -> None:
        answered = len(answer.answered)
        error_console.print(
            f"[dim]analysis {n + 1}/{total}: {answered}/{len(answer.outcomes)} nodes answered[/]",
            highlight=False,
        )

    with Federation.from_registry(registry, token=passport) as federation:
        result = federation.run(study, progress=progress if output is StudyFormat.TABLE else None)
    if report is not None:
        write_report(result, report)
    if output is StudyFormat.JSON:
        typer.echo(_as_json(result))
    else:
        console.print(f"[bold]{study.name}[/]" + (f": {study.description}" if study.description else ""))
        for n, answer in enumerate(result.answers, start=1):
            _print_answer(n, answer)
        if report is not None:
            console.print(f"[green]wrote[/] report {report}")
    if all(a.combined is None for a in result.answers):
        error_console.print("[bold red]no node answered[/]; see the reasons above")
        raise typer.Exit(1)
    if require_all and not result.complete:
        error_console.print(f"[bold red]incomplete[/]: missing {', '.join(result.missing)} (--require-all)")
        raise typer.Exit(1)
