"""``genofed qa bench``: benchmark a query call set against a truth set; ``genofed qa compare``: labs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from genofed.federation import (
    Federation,
    ProficiencyComparison,
    proficiency_lab_rows,
    proficiency_test_rows,
    write_proficiency,
)
from genofed.qa import CallSet, InvalidRecords, benchmark, write_csv, write_json

from ._app import app, console, error_console, sub_app
from ._render import rich_table
from ._study import read_token

__all__ = ["OutputFormat", "print_proficiency", "qa_bench", "qa_compare"]

qa_app = sub_app("Quality assurance: benchmark variant calls against truth sets (hap.py/som.py semantics).")
app.add_typer(qa_app, name="qa")


class OutputFormat(StrEnum):
    """What ``qa bench`` writes into ``--out``."""

    CSV = "csv"
    JSON = "json"


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "."
    if isinstance(value, float):
        return f"{value:.4f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


@qa_app.command("bench")
def qa_bench(
    truth: Annotated[Path, typer.Option(help="truth VCF (.vcf or .vcf.gz)")],
    query: Annotated[Path, typer.Option(help="query VCF (.vcf or .vcf.gz)")],
    out: Annotated[Path, typer.Option(help="directory for summary.csv/extended.csv or metrics.json")],
    reference: Annotated[
        Path | None, typer.Option(help="reference FASTA (left-alignment, haplotype replay)")
    ] = None,
    regions: Annotated[Path | None, typer.Option(help="confident regions BED")] = None,
    stratify: Annotated[
        Path | None, typer.Option(help="stratification TSV: name<TAB>bed path per line")
    ] = None,
    somatic: Annotated[
        bool, typer.Option(help="som.py semantics: allele presence only, no genotypes")
    ] = False,
    format: Annotated[OutputFormat, typer.Option(help="csv (hap.py's files) or json")] = OutputFormat.CSV,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            help="leave out records whose alleles are not sequences (as hap.py does) instead of failing"
        ),
    ] = False,
) -> None:
    """Compare QUERY with TRUTH and write hap.py-compatible counts and metrics."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
    ) as progress:
        task = progress.add_task("reading call sets", total=None)
        invalid = InvalidRecords.SKIP if skip_invalid else InvalidRecords.RAISE
        result = benchmark(
            CallSet.from_vcf(truth, invalid=invalid),
            CallSet.from_vcf(query, invalid=invalid),
            reference=reference,
            regions=regions,
            strata=stratify,
            somatic=somatic,
            progress=lambda stage: progress.update(task, description=stage),
        )
    files = write_csv(result, out) if format is OutputFormat.CSV else [write_json(result, out)]
    columns = (
        "Type",
        "Filter",
        "TRUTH.TOTAL",
        "TRUTH.TP",
        "TRUTH.FN",
        "QUERY.TOTAL",
        "QUERY.FP",
        "QUERY.UNK",
    )
    metrics = ("METRIC.Recall", "METRIC.Precision", "METRIC.F1_Score")
    console.print(
        rich_table(
            "somatic benchmark" if somatic else "benchmark",
            [*columns, "recall", "precision", "F1"],
            [[_fmt(r.get(c)) for c in (*columns, *metrics)] for r in result.summary()],
        )
    )
    if result.truth_skipped or result.query_skipped:
        console.print(f"skipped records: truth {result.truth_skipped:,}, query {result.query_skipped:,}")
    console.print("wrote " + ", ".join(str(f) for f in files))


def print_proficiency(comparison: ProficiencyComparison, *, subsets: Sequence[str] | None = None) -> None:
    """Print a proficiency comparison: labs' metrics, the homogeneity tests, warnings and missing labs.

    ``subsets`` limits the tables to those subsets (``*`` is all confident regions); default all.
    """
    header, body = proficiency_lab_rows(comparison, digits=3, subsets=subsets)
    console.print(
        rich_table(f"proficiency: {comparison.sample} against {comparison.truth_set}", header, body)
    )
    header, body = proficiency_test_rows(comparison, subsets=subsets)
    console.print(rich_table("do the labs differ? (tests of homogeneity)", header, body))
    for warning in comparison.warnings:
        error_console.print(f"[yellow]warning:[/] {warning}")
    for outcome in comparison.outcomes:
        if outcome.node in comparison.missing:
            error_console.print(f"[yellow]{outcome.node}:[/] {outcome.status.value}: {outcome.reason}")
    flagged = [m for m in comparison.flagged if m.subset == "*"]
    for m in flagged:
        console.print(
            f"[red]flagged:[/] {m.node} {m.type} {m.filter}: {' and '.join(m.below)} significantly "
            f"below the other labs (Bonferroni, α = {comparison.alpha:g})"
        )
    if not flagged:
        console.print("no lab is significantly below the others")


@qa_app.command("compare")
def qa_compare(
    registry: Annotated[Path, typer.Option("--registry", help="registry of nodes (YAML)")],
    truth_set: Annotated[
        str, typer.Option("--truth-set", help="the truth set's name in the nodes' settings")
    ],
    sample: Annotated[str, typer.Option("--sample", help="the reference sample's id (e.g. NA12878)")],
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="GENOFED_PASSPORT", help="GA4GH Passport (JWT) sent to every node"),
    ] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="file holding the passport")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="also write an HTML page with the chart")] = None,
    stratified: Annotated[
        bool, typer.Option("--stratified", help="also compare per stratum of the truth set")
    ] = False,
    alpha: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="family-wise significance level of the flags")
    ] = 0.05,
) -> None:
    """Each lab benchmarks its own calls of a reference sample in its node; compare the labs.

    No VCF and no call leaves a node: each returns hap.py's counts, and the labs' recall and
    precision are compared with tests of homogeneity. Exit status 1 when no lab answered.
    """
    passport = read_token(token, token_file)
    with Federation.from_registry(registry, token=passport) as federation:
        comparison = federation.proficiency(truth_set, sample, stratified=stratified, alpha=alpha)
    print_proficiency(comparison)
    if out is not None:
        write_proficiency(comparison, out)
        console.print(f"wrote {out}")
    if not comparison.labs:
        raise typer.Exit(1)
