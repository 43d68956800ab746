"""``genofed export frequencies``: the sites-only allele-frequency file a national programme publishes."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from genofed.query import write_frequencies_tsv, write_frequencies_vcf
from genofed.store import NodeStore

from ._app import error_console, export_app

__all__ = ["FrequencyFormat", "export_frequencies_command"]


class FrequencyFormat(StrEnum):
    """File formats of the frequency export."""

    TSV = "tsv"
    VCF = "vcf"


@export_app.command("frequencies")
def export_frequencies_command(
    store: Annotated[Path, typer.Option("--store", help="node store directory")],
    output_format: Annotated[
        FrequencyFormat, typer.Option("--format", help="tsv or vcf")
    ] = FrequencyFormat.TSV,
    out: Annotated[
        Path, typer.Option("--out", help="file to write (.gz: bgzipped); default: standard output")
    ] = Path("/dev/stdout"),
    assembly: Annotated[str | None, typer.Option(help="only alleles on this assembly")] = None,
) -> None:
    """One line per allele: chrom, pos, ref, alt, AC, AN, AF (AN counts called alleles)."""
    writer = write_frequencies_vcf if output_format is FrequencyFormat.VCF else write_frequencies_tsv
    with NodeStore.open(store) as node:
        alleles = writer(node, out, assembly=assembly)
    error_console.print(f"exported {alleles:,} alleles")
