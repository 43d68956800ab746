"""``genofed export beacon``: the node's individuals, biosamples and variants as Beacon v2 records (BFF)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
import typer

from genofed.ingest import BEACON_TABLES, write_beacon_records
from genofed.model import with_vrs_ids
from genofed.store import NodeStore

from ._app import console, error_console, export_app
from ._render import rich_table

__all__ = ["beacon_tables", "export_beacon"]

# Clinical tables hold one record set per individual and batch: take each individual's latest batch
# (as queries do). Specimens and analyses: the latest row of each. Sites: every allele once (the
# export keeps the first row, here the latest batch's), in genome order. Calls: every live call.
_PER_INDIVIDUAL = ("individuals", "diagnoses", "phenotypes", "treatments")
_LATEST_BY = {"specimens": "specimen_id", "analyses": "analysis_id"}
_SITES = (
    'SELECT * EXCLUDE (batch_id) FROM "variant_sites" '
    "ORDER BY assembly, TRY_CAST(chrom AS INTEGER) NULLS LAST, chrom, start, ref, alt, batch_id DESC"
)
_CALLS = 'SELECT variant_id, individual_id, analysis_id, zygosity, origin FROM "variant_calls"'


def beacon_tables(node: NodeStore, *, calls: bool = True) -> dict[str, pa.Table]:
    """The store's rows a Beacon export describes, by table name (see ``genofed.ingest.BEACON_TABLES``)."""
    tables: dict[str, pa.Table] = {}
    for name in BEACON_TABLES:
        if name in _PER_INDIVIDUAL:
            sql = (
                f'SELECT * EXCLUDE (batch_id) FROM "{name}" AS t WHERE batch_id = '
                f'(SELECT max(u.batch_id) FROM "{name}" AS u WHERE u.individual_id = t.individual_id)'
            )
        elif name in _LATEST_BY:
            key = _LATEST_BY[name]
            sql = (
                f'SELECT * EXCLUDE (batch_id) FROM "{name}" AS t WHERE batch_id = '
                f'(SELECT max(u.batch_id) FROM "{name}" AS u WHERE u.{key} = t.{key})'
            )
        elif name == "variant_sites":
            sql = _SITES
        elif calls:
            sql = _CALLS
        else:
            continue
        tables[name] = node.execute(sql)
    return tables


def _fill_vrs_ids(sites: pa.Table, reference: Path | None) -> pa.Table:
    """Compute the VRS identifiers a store written before they were computed lacks (keep the rest)."""
    if not sites.num_rows or not sites.column("vrs_id").null_count:
        return sites
    computed = with_vrs_ids(sites, reference=reference).column("vrs_id")
    index = sites.column_names.index("vrs_id")
    return sites.set_column(index, "vrs_id", pc.coalesce(sites.column("vrs_id"), computed))


@export_app.command("beacon")
def export_beacon(
    store: Annotated[Path, typer.Option("--store", help="node store directory")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="directory to write individuals.json, biosamples.json, genomicVariations.json"
        ),
    ],
    calls: Annotated[
        bool, typer.Option("--calls/--no-calls", help="list each variant's carriers (caseLevelData)")
    ] = True,
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="indexed FASTA of the assembly: VRS identifiers for indels the store has none for",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Beacon v2 records (BFF, schema v2.1.1) of every individual, biosample and variant in the store."""
    with NodeStore.open(store) as node:
        tables = beacon_tables(node, calls=calls)
    tables["variant_sites"] = _fill_vrs_ids(tables["variant_sites"], reference)
    counts = write_beacon_records(tables, out)
    console.print(rich_table(f"Beacon v2 records in {out}", ["collection", "records"], counts.items()))
    error_console.print(f"exported {sum(counts.values()):,} record(s) to {out}")
