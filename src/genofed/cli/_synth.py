"""``genofed synth``: a seeded synthetic national cohort in the source formats that country produces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from genofed.synth import Country, synthesise, write_cohort

from ._app import app, console, error_console
from ._render import rich_table

__all__ = ["synth"]


@app.command("synth")
def synth(
    country: Annotated[Country, typer.Option(help="SE (GMS-like), NL (Hartwig-like) or DK")],
    patients: Annotated[int, typer.Option(min=1, help="number of patients")],
    out: Annotated[Path, typer.Option(help="directory to write the source files into")],
    seed: Annotated[int, typer.Option(min=0, help="random seed: the same seed gives the same files")] = 0,
) -> None:
    """Write VCFs, sample sheets, clinical tables and their mapping file for one country."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"synthesising {patients:,} {country.value} patients", total=None)
        cohort = synthesise(country, patients, seed)
        progress.update(task, description=f"writing {country.value} source files to {out}")
        manifest = write_cohort(cohort, out)
    console.print(
        f"[green]wrote[/] a {country.value} cohort of {manifest.patient_count:,} patients "
        f"({manifest.somatic_variants:,} somatic variants, {manifest.germline_sites:,} germline sites)"
    )
    console.print(
        rich_table("files", ["file", "bytes"], [(p.name, p.stat().st_size) for p in manifest.files])
    )
