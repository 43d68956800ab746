"""``genofed query count|frequency|region``: the first questions a node answers, on a local store."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from genofed.model import Assembly, Sex
from genofed.query import (
    AlleleFrequencyQuery,
    CohortCountQuery,
    CohortFilter,
    RegionCarriersQuery,
    run,
)
from genofed.store import NodeStore

from ._app import console, query_app
from ._render import rich_table

__all__ = ["OutputFormat", "query_count", "query_frequency", "query_region"]


class OutputFormat(StrEnum):
    """How a query's answer is printed."""

    TABLE = "table"
    JSON = "json"


StoreOption = Annotated[Path, typer.Option("--store", help="node store directory")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json")]
TumourType = Annotated[
    str | None, typer.Option("--tumour-type", help="OncoTree code; its descendants are included")
]
SexOption = Annotated[Sex | None, typer.Option("--sex", help="sex in the clinical record")]
AgeMin = Annotated[float | None, typer.Option("--age-min", help="youngest age at diagnosis")]
AgeMax = Annotated[float | None, typer.Option("--age-max", help="oldest age at diagnosis")]
Gene = Annotated[str | None, typer.Option("--gene", help="HGNC symbol of a mutated gene")]
ProteinChange = Annotated[
    str | None, typer.Option("--protein-change", help="HGVS p. change, e.g. p.G12C or p.Gly12Cys")
]
Consequence = Annotated[
    str | None, typer.Option("--consequence", help="SO term or class (truncating, missense, ...)")
]


def _emit(answer: dict[str, Any], output: OutputFormat, title: str) -> None:
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(answer, indent=1, default=str))
    else:
        flat = [(k, v) for k, v in answer.items() if not isinstance(v, dict)]
        console.print(rich_table(title, ["", "value"], flat))


@query_app.command("count")
def query_count(
    store: StoreOption,
    tumour_type: TumourType = None,
    sex: SexOption = None,
    age_min: AgeMin = None,
    age_max: AgeMax = None,
    gene: Gene = None,
    protein_change: ProteinChange = None,
    consequence: Consequence = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Count distinct individuals matching a cohort filter (all conditions must hold)."""
    cohort = CohortFilter(
        tumour_type=tumour_type,
        sex=sex,
        age_min=age_min,
        age_max=age_max,
        gene=gene,
        protein_change=protein_change,
        consequence=consequence,
    )
    with NodeStore.open(store) as node:
        result = run(node, CohortCountQuery(filter=cohort))
    answer = {"count": result.individuals, "filter": cohort.model_dump(mode="json", exclude_none=True)}
    _emit(answer, output, "cohort count")


@query_app.command("frequency")
def query_frequency(
    store: StoreOption,
    chrom: Annotated[str, typer.Option(help="chromosome (7, chr7, NC_000007.14)")],
    pos: Annotated[int, typer.Option(min=1, help="1-based position, as in VCF")],
    ref: Annotated[str, typer.Option(help="reference allele")],
    alt: Annotated[str, typer.Option(help="alternate allele")],
    assembly: Annotated[Assembly, typer.Option(help="GRCh37 or GRCh38")] = Assembly.GRCH38,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Allele count, allele number and frequency of one allele."""
    query = AlleleFrequencyQuery(chrom=chrom, pos=pos, ref=ref, alt=alt, assembly=assembly)
    with NodeStore.open(store) as node:
        result = run(node, query)
    answer = {
        "chrom": query.chrom,
        "pos": pos,
        "ref": query.ref,
        "alt": query.alt,
        "assembly": query.assembly.value,
        **result.model_dump(mode="json"),
    }
    _emit(answer, output, "allele frequency")


@query_app.command("region")
def query_region(
    store: StoreOption,
    chrom: Annotated[str, typer.Option(help="chromosome")],
    start: Annotated[int, typer.Option(min=1, help="1-based first position of the region")],
    end: Annotated[int, typer.Option(min=1, help="1-based last position of the region (inclusive)")],
    tumour_type: TumourType = None,
    sex: SexOption = None,
    gene: Gene = None,
    consequence: Consequence = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Carriers and distinct variants in a region (1-based inclusive, as genome browsers show it)."""
    cohort = CohortFilter(tumour_type=tumour_type, sex=sex, gene=gene, consequence=consequence)
    query = RegionCarriersQuery(chrom=chrom, start=start - 1, end=end, filter=cohort)
    with NodeStore.open(store) as node:
        result = run(node, query)
    answer = {"chrom": query.chrom, "start": start, "end": end, **result.model_dump(mode="json")}
    _emit(answer, output, "region carriers")
