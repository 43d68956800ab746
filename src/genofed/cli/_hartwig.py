"""``genofed ingest hartwig``: Hartwig hmftools / OncoAnalyser sample outputs (and DR clinical tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genofed.errors import FormatError, GenofedError
from genofed.ingest import (
    HartwigBatch,
    HartwigClinicalReader,
    HartwigReader,
    HartwigSampleInfo,
    HartwigSummary,
    ReportRow,
    find_hartwig_files,
    hartwig_clinical_tables,
)
from genofed.store import NodeStore

from ._app import console, error_console, ingest_app
from ._render import print_batch, publish_with_progress, rich_table

__all__ = ["ingest_hartwig", "sample_paths"]


def _is_sample(path: Path) -> bool:
    if path.is_file():
        return path.name.endswith(".json")
    try:
        find_hartwig_files(path)
    except FormatError:
        return any(path.glob("*.orange.json")) or any(path.glob("*/*.orange.json"))
    return True


def sample_paths(path: Path) -> list[Path]:
    """The sample outputs under ``path``: itself when it is one sample, else its sample sub-folders.

    Raises
    ------
    FormatError
        Neither ``path`` nor any folder directly inside it is a sample's output.
    """
    if path.is_file() or not path.is_dir():
        return [path]
    try:
        find_hartwig_files(path)
        return [path]
    except FormatError as exc:
        samples = [p for p in sorted(path.iterdir()) if p.is_dir() and _is_sample(p)]
        if samples:
            return samples
        if len(list(path.glob("*.orange.json"))) == 1:
            return [path]
        raise exc


def _clinical(metadata: list[Path], mapping: str | None) -> HartwigClinicalReader | None:
    if not metadata:
        return None
    tables: list[Path] = []
    for item in metadata:
        tables.extend(hartwig_clinical_tables(item) if item.is_dir() else [item])
    return HartwigClinicalReader(tables, mapping)


def _summary_rows(summary: HartwigSummary) -> list[tuple[str, str]]:
    rows = [
        ("layout", summary.layout),
        ("tumour sample", summary.tumour_sample),
        ("patient", summary.patient),
        ("reference sample", summary.reference_sample or "(unknown)"),
        ("PURPLE layout", summary.purple_layout or "-"),
        ("PURPLE version", summary.purple_version or "-"),
        ("pipeline version", summary.pipeline_version or "-"),
        ("assembly", summary.assembly or "-"),
    ]
    rows += [(f"read: {name}", layout) for name, layout in summary.files.items()]
    if summary.absent:
        rows.append(("not found (optional)", ", ".join(summary.absent)))
    rows += [(f"rows: {table}", f"{n:,}") for table, n in summary.rows.items()]
    if summary.unlocated_drivers:
        rows.append(("drivers without a locus", ", ".join(summary.unlocated_drivers)))
    rows += [("note", note) for note in summary.notes]
    return rows


@ingest_app.command("hartwig")
def ingest_hartwig(
    path: Annotated[
        Path,
        typer.Argument(
            help="a sample's hmftools/OncoAnalyser output folder, an ORANGE JSON, "
            "or a folder of sample folders"
        ),
    ],
    store: Annotated[
        Path | None, typer.Option("--store", help="node store directory (created when absent)")
    ] = None,
    metadata: Annotated[
        list[Path] | None,
        typer.Option(
            "--metadata",
            help="data-request clinical tables (metadata.tsv, pre/post_biopsy_drugs.tsv, "
            "treatment_responses.tsv) or their folder; repeatable",
        ),
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option("--mapping", help="clinical mapping YAML or packaged name (default hartwig-metadata)"),
    ] = None,
    individual: Annotated[str | None, typer.Option(help="the patient's ID (one sample only)")] = None,
    tumour_sample: Annotated[
        str | None, typer.Option("--tumour-sample", help="which sample, when a folder holds several")
    ] = None,
    reference_sample: Annotated[
        str | None, typer.Option("--reference-sample", help="the blood (reference) sample ID")
    ] = None,
    assembly: Annotated[str | None, typer.Option(help="GRCh37/GRCh38 (default: from the files)")] = None,
    single_batch: Annotated[
        bool,
        typer.Option(
            "--single-batch", help="publish all samples as one batch (faster for many small samples)"
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="read and check everything, report what maps; write nothing")
    ] = False,
) -> None:
    """Ingest Hartwig samples: PURPLE, LINX, CHORD, LILAC, Virus Interpreter outputs or an ORANGE JSON.

    Each sample is one atomic batch (re-ingesting a tumour sample replaces it), or all of them one
    with --single-batch; the clinical tables, when given, are one more batch, published first.
    """
    if not dry_run and store is None:
        raise typer.BadParameter("give --store DIR (or --dry-run to only check the files)")
    samples = sample_paths(path)
    if len(samples) > 1 and (individual or tumour_sample or reference_sample):
        raise typer.BadParameter(
            "--individual, --tumour-sample and --reference-sample name one sample; give one sample's folder"
        )
    clinical = _clinical(metadata or [], mapping)
    info: dict[str, HartwigSampleInfo] = clinical.sample_info() if clinical is not None else {}
    readers = [
        HartwigReader(
            sample,
            individual=individual,
            tumour_sample=tumour_sample,
            reference_sample=reference_sample,
            sample_info=info,
            assembly=assembly,
        )
        for sample in samples
    ]
    if dry_run:
        failed = 0
        if clinical is not None:
            report = clinical.dry_run()
            console.print(
                rich_table(f"harmonisation report: {report.source}", ReportRow._fields, report.to_rows())
            )
            if not report.ok:
                failed += 1
                console.print(f"[red]{report.problem_count} clinical problem(s) would stop the ingest:[/]")
                for problem in report.problems:
                    console.print(f"  {type(problem).__name__}: {problem}")
        for reader in readers:
            try:
                for _ in reader.chunks():
                    pass
            except GenofedError as exc:
                failed += 1
                error_console.print(
                    f"[bold red]{type(exc).__name__}[/]: {exc}", highlight=False, soft_wrap=True
                )
                continue
            console.print(
                rich_table(
                    f"{reader.source}: what would be ingested", ["", "value"], _summary_rows(reader.summary)
                )
            )
        if failed:
            console.print(f"[red]{failed} source(s) would not ingest[/]")
            raise typer.Exit(1)
        console.print("[green]every source reads and maps: the ingest would succeed[/]")
        return
    assert store is not None
    with NodeStore.open(store, create=True) as node:
        if clinical is not None:
            print_batch(publish_with_progress(node, clinical))
        if single_batch and len(readers) > 1:
            print_batch(publish_with_progress(node, HartwigBatch(readers, source=path.name)))
            return
        for done, reader in enumerate(readers):
            try:
                info_batch = publish_with_progress(node, reader)
            except GenofedError:
                if done:
                    error_console.print(
                        f"{done} of {len(readers)} sample(s) were published before this one failed; "
                        "the failed sample wrote nothing"
                    )
                raise
            print_batch(info_batch)
            summary = reader.summary
            console.print(
                f"{summary.tumour_sample}: {summary.layout} layout, {summary.purple_layout or 'ORANGE'}"
                + (f" (PURPLE {summary.purple_version})" if summary.purple_version else "")
                + (f"; not found: {', '.join(summary.absent)}" if summary.absent else "")
            )
            if summary.unlocated_drivers:
                console.print(
                    "[yellow]copy-number drivers without a locus (kept in drivers only):[/] "
                    + ", ".join(summary.unlocated_drivers)
                )
