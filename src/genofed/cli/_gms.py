"""``genofed ingest gms``: Genomic Medicine Sweden cases (BALSAMIC, GMS560, Scout) into a node store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genofed.ingest import GmsCase, GmsReader, ReportRow, find_gms_cases
from genofed.model import Assay
from genofed.store import NodeStore

from ._app import console, ingest_app
from ._render import print_batch, publish_with_progress, rich_table

__all__ = ["ingest_gms"]


@ingest_app.command("gms")
def ingest_gms(
    path: Annotated[
        Path,
        typer.Argument(help="a GMS case folder, a folder of case folders, or a Scout load config (YAML)"),
    ],
    store: Annotated[Path | None, typer.Option("--store", help="node store directory")] = None,
    vcf: Annotated[
        Path | None, typer.Option("--vcf", help="the case's VCF (default: the config's, or the folder's one)")
    ] = None,
    case_id: Annotated[
        str | None, typer.Option("--case-id", help="case ID of a folder without a load config")
    ] = None,
    assay: Annotated[
        Assay | None, typer.Option(help="WGS, WES, PANEL or RNA (default: from the files)")
    ] = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="indexed FASTA: left-align indels, check REF")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report how every source field maps; write nothing")
    ] = False,
) -> None:
    """Ingest GMS cases: VEP VCF calls, CNVkit segments, PureCN/ASCAT purity, MSIsensor-pro, Scout config.

    Each case is one atomic batch; a folder of case folders gives one batch per case.
    """
    cases = find_gms_cases(path)
    if len(cases) > 1 and (vcf is not None or case_id is not None):
        raise typer.BadParameter("--vcf and --case-id name one case; give a single case folder or config")
    if not dry_run and store is None:
        raise typer.BadParameter("give --store DIR (or --dry-run to only check the case)")
    readers = [
        GmsReader(GmsCase.open(c, case_id=case_id, vcf=vcf, assay=assay), reference_fasta=reference)
        for c in cases
    ]
    if dry_run:
        failed = 0
        for reader in readers:
            report = reader.dry_run()
            console.print(
                rich_table(f"harmonisation report: case {report.source}", ReportRow._fields, report.to_rows())
            )
            tables = ", ".join(f"{t}: {n:,}" for t, n in report.tables.items())
            if report.ignored:
                console.print(f"[yellow]files not read:[/] {', '.join(report.ignored)}")
            if report.ok:
                console.print(f"[green]case {report.source} would ingest[/] ({tables})")
            else:
                failed += 1
                for problem in report.problems:
                    console.print(f"[red]{type(problem).__name__}[/]: {problem}")
        if failed:
            console.print(f"[red]{failed} of {len(readers)} case(s) would fail[/]")
            raise typer.Exit(1)
        return
    assert store is not None
    with NodeStore.open(store, create=True) as node:
        for reader in readers:
            info = publish_with_progress(node, reader)
            print_batch(info)
            summary = reader.summary
            console.print(
                f"case {reader.source}: {reader.case.assay.value}"
                f"{' ' + reader.case.pipeline if reader.case.pipeline else ''}, "
                f"{summary.vcf.records:,} VCF records, {summary.segments:,} copy-number segments"
                f"{f' ({summary.copy_number_source})' if summary.copy_number_source else ''}, "
                f"{summary.biomarkers:,} biomarkers"
            )
