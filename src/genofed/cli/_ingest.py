"""``genofed ingest vcf|clinical``: source files into a node store, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genofed.ingest import (
    ClinicalReader,
    ReportRow,
    SampleSheet,
    VcfReader,
    packaged_mapping,
    packaged_mappings,
)
from genofed.model import Origin
from genofed.store import NodeStore

from ._app import console, ingest_app
from ._render import print_batch, publish_with_progress, rich_table

__all__ = ["ingest_clinical", "ingest_vcf"]

StoreOption = Annotated[Path, typer.Option("--store", help="node store directory (created when absent)")]


@ingest_app.command("vcf")
def ingest_vcf(
    path: Annotated[Path, typer.Argument(help="VCF (plain, gzip or bgzip), germline or somatic")],
    store: StoreOption,
    samples: Annotated[
        Path | None, typer.Option("--samples", help="sample sheet TSV: sample, individual, specimen, ...")
    ] = None,
    assembly: Annotated[str | None, typer.Option(help="GRCh37/GRCh38 (default: from the header)")] = None,
    origin: Annotated[Origin | None, typer.Option(help="germline or somatic (default: detected)")] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="indexed FASTA: left-align indels, check REF")
    ] = None,
) -> None:
    """Ingest a VCF: sites with allele counts and annotation, sparse calls, analyses and specimens."""
    sheet = SampleSheet.read(samples) if samples else None
    reader = VcfReader(path, samples=sheet, assembly=assembly, origin=origin, reference_fasta=reference)
    with NodeStore.open(store, create=True) as node:
        info = publish_with_progress(node, reader)
    print_batch(info)
    summary = reader.summary
    console.print(
        f"{summary.records:,} records, {summary.sites:,} alleles, {summary.calls:,} calls from "
        f"{summary.genotypes:,} genotypes; skipped {summary.skipped_symbolic:,} symbolic alleles"
    )
    if summary.unknown_consequences:
        terms = ", ".join(f"{t} ({n})" for t, n in sorted(summary.unknown_consequences.items()))
        console.print(f"[yellow]consequence terms outside the SO table, kept verbatim:[/] {terms}")


@ingest_app.command("clinical")
def ingest_clinical(
    tables: Annotated[list[Path], typer.Argument(help="the clinical table(s) the mapping describes")],
    mapping: Annotated[
        str, typer.Option("--mapping", help="mapping YAML, or the name of a packaged one (e.g. cineca-uk1)")
    ],
    store: Annotated[Path | None, typer.Option("--store", help="node store directory")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report how every value maps; write nothing")
    ] = False,
) -> None:
    """Ingest clinical tables through a mapping file (all rows or none), or report with --dry-run."""
    mapping_path = Path(mapping)
    if not mapping_path.exists() and mapping in packaged_mappings():
        mapping_path = packaged_mapping(mapping)
    reader = ClinicalReader(tables, mapping_path)
    if dry_run:
        report = reader.dry_run()
        console.print(
            rich_table(f"harmonisation report: {report.source}", ReportRow._fields, report.to_rows())
        )
        if report.ok:
            console.print("[green]every value maps: the ingest would succeed[/]")
        else:
            console.print(f"[red]{report.problem_count} problem(s) would stop the ingest:[/]")
            for problem in report.problems:
                console.print(f"  {type(problem).__name__}: {problem}")
            raise typer.Exit(1)
        return
    if store is None:
        raise typer.BadParameter("give --store DIR (or --dry-run to only check the mapping)")
    with NodeStore.open(store, create=True) as node:
        info = publish_with_progress(node, reader)
    print_batch(info)
