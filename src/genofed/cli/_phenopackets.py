"""``genofed ingest phenopackets`` and ``genofed export phenopackets``: GA4GH Phenopackets v2 in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer

from genofed.ingest import (
    PHENOPACKET_TABLES,
    IndividualKey,
    PhenopacketReader,
    ReportRow,
    write_phenopackets,
)
from genofed.store import NodeStore

from ._app import console, error_console, export_app, ingest_app
from ._render import print_batch, publish_with_progress, rich_table

__all__ = ["export_phenopackets", "ingest_phenopackets", "phenopacket_tables"]

# Clinical tables hold one record set per individual and batch: the export takes each individual's
# latest batch (as the query layer does). Specimens are per specimen; calls and sites are all live rows.
_PER_INDIVIDUAL = ("individuals", "diagnoses", "phenotypes", "treatments", "responses", "interpretations")


def phenopacket_tables(node: NodeStore, *, calls: bool = False) -> dict[str, pa.Table]:
    """The store's rows an export describes, by table name (see :data:`genofed.ingest.PHENOPACKET_TABLES`)."""
    tables: dict[str, pa.Table] = {}
    for name in PHENOPACKET_TABLES:
        if name in _PER_INDIVIDUAL:
            sql = (
                f'SELECT * EXCLUDE (batch_id) FROM "{name}" AS t WHERE batch_id = '
                f'(SELECT max(u.batch_id) FROM "{name}" AS u WHERE u.individual_id = t.individual_id)'
            )
        elif name == "specimens":
            sql = (
                'SELECT * EXCLUDE (batch_id) FROM "specimens" AS t WHERE batch_id = '
                '(SELECT max(u.batch_id) FROM "specimens" AS u WHERE u.specimen_id = t.specimen_id)'
            )
        elif name == "variant_calls":
            # Without --calls only the individuals named by calls matter (everyone gets a phenopacket).
            sql = (
                'SELECT * EXCLUDE (batch_id) FROM "variant_calls" ORDER BY individual_id, chrom, start'
                if calls
                else 'SELECT DISTINCT individual_id FROM "variant_calls"'
            )
        elif calls:
            sql = 'SELECT * EXCLUDE (batch_id) FROM "variant_sites"'
        else:
            continue
        tables[name] = node.execute(sql)
    return tables


@ingest_app.command("phenopackets")
def ingest_phenopackets(
    path: Annotated[Path, typer.Argument(help="a phenopacket (v2 JSON) or a directory of them")],
    store: Annotated[Path | None, typer.Option("--store", help="node store directory")] = None,
    key: Annotated[
        IndividualKey,
        typer.Option(
            "--key",
            help="what names a person: subject (subject.id) or phenopacket (the file's id, for "
            "collections whose subject IDs repeat across files)",
        ),
    ] = IndividualKey.SUBJECT,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="indexed FASTA: place HGVS deletions/dups without bases, check REF"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report how every source field maps; write nothing")
    ] = False,
) -> None:
    """Ingest phenopackets: subject, diseases, HPO features, biosamples, interpretations, treatments.

    The file or directory is one atomic batch: a file that does not validate stops the ingest and
    nothing is written.
    """
    if not dry_run and store is None:
        raise typer.BadParameter("give --store DIR (or --dry-run to only check the phenopackets)")
    reader = PhenopacketReader(path, key=key, reference_fasta=reference)
    if dry_run:
        summary = reader.dry_run()
        console.print(
            rich_table(
                f"harmonisation report: {reader.source}", ReportRow._fields, summary.to_rows(reader.source)
            )
        )
        console.print(
            f"[green]{summary.files} phenopacket(s) would ingest[/]: {summary.individuals} individuals, "
            f"{summary.diseases} diseases, {summary.features} features, {summary.variants_placed} placed and "
            f"{summary.variants_unplaced} unplaced variants, {summary.treatments} treatments"
        )
        return
    assert store is not None
    with NodeStore.open(store, create=True) as node:
        info = publish_with_progress(node, reader)
    print_batch(info)
    summary = reader.summary
    if summary.variants_unplaced:
        console.print(
            f"[yellow]{summary.variants_unplaced} variant(s) without genomic coordinates[/] are kept in "
            "interpretations only (give --reference to place HGVS deletions and duplications)"
        )


@export_app.command("phenopackets")
def export_phenopackets(
    store: Annotated[Path, typer.Option("--store", help="node store directory")],
    out: Annotated[Path, typer.Option("--out", help="directory to write <pseudonym>.json files into")],
    calls: Annotated[
        bool, typer.Option("--calls", help="also describe stored calls no interpretation covers (large)")
    ] = False,
) -> None:
    """One valid Phenopackets v2 JSON file per individual, named and identified by its pseudonym."""
    with NodeStore.open(store) as node:
        tables = phenopacket_tables(node, calls=calls)
    written = write_phenopackets(tables, out, calls=calls)
    error_console.print(f"exported {len(written):,} phenopacket(s) to {out}")
