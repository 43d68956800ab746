"""``genofed demo``: three national cohorts, each in its own source format, ingested and queried."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from genofed.ingest import ClinicalReader, SampleSheet, SourceReader, VcfReader
from genofed.model import Sex
from genofed.query import CohortCountQuery, CohortFilter, run
from genofed.store import NodeStore
from genofed.synth import Country, synthesise, write_cohort

from ._app import app, console, error_console
from ._render import rich_table

__all__ = ["DEMO_QUESTIONS", "demo"]

#: The demo's questions: a label and the cohort it counts.
DEMO_QUESTIONS: tuple[tuple[str, CohortFilter], ...] = (
    ("all patients", CohortFilter()),
    ("colorectal cancer", CohortFilter(tumour_type="COADREAD")),
    ("colorectal, KRAS-mutated", CohortFilter(tumour_type="COADREAD", gene="KRAS")),
    ("KRAS p.G12C (any tumour)", CohortFilter(gene="KRAS", protein_change="p.Gly12Cys")),
    ("melanoma, BRAF p.V600E", CohortFilter(tumour_type="MEL", gene="BRAF", protein_change="p.V600E")),
    ("truncating TP53", CohortFilter(gene="TP53", consequence="truncating")),
    ("women diagnosed at 60 or older", CohortFilter(sex=Sex.FEMALE, age_min=60)),
)

DEMO_SIZES = {Country.SE: 600, Country.NL: 900, Country.DK: 300}


def _node_sources(country: Country, patients: int, seed: int, sources: Path) -> list[SourceReader]:
    manifest = write_cohort(synthesise(country, patients, seed), sources)
    return [
        VcfReader(manifest.somatic_vcf, samples=SampleSheet.read(manifest.somatic_samples)),
        VcfReader(manifest.germline_vcf, samples=SampleSheet.read(manifest.germline_samples)),
        ClinicalReader(manifest.clinical_tables, manifest.mapping),
    ]


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="working directory for source files and node stores")] = Path(
        "demo-output"
    ),
    scale: Annotated[
        float, typer.Option(min=0.01, help="multiply the cohort sizes (1 = 1,800 patients)")
    ] = 1.0,
    seed: Annotated[int, typer.Option(min=0, help="random seed of the synthetic cohorts")] = 0,
) -> None:
    """Synthesise SE, NL and DK cohorts, ingest each into its own node store, and ask every node."""
    stores: dict[Country, NodeStore] = {}
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=error_console
    ) as progress:
        task = progress.add_task("building national nodes", total=len(DEMO_SIZES) * 4)
        for country, size in DEMO_SIZES.items():
            patients = max(10, int(size * scale))
            node_dir = out / country.value.lower()
            progress.update(task, description=f"{country.value}: synthesising {patients:,} patients")
            readers = _node_sources(country, patients, seed, node_dir / "sources")
            progress.advance(task)
            store = NodeStore.open(node_dir / "store", create=True)
            for reader in readers:
                progress.update(task, description=f"{country.value}: ingesting {reader.source}")
                store.write_stream(
                    reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key
                )
                progress.advance(task)
            stores[country] = store
    rows = []
    for label, cohort in DEMO_QUESTIONS:
        counts = [run(store, CohortCountQuery(filter=cohort)).individuals for store in stores.values()]
        rows.append((label, *counts, sum(counts)))
    console.print(
        rich_table(
            "patients per node (local stores; federation with disclosure control comes with the node API)",
            ["question", *(c.value for c in stores), "total"],
            rows,
        )
    )
    for store in stores.values():
        store.close()
    console.print(f"node stores and source files are under {out}/")
