"""``genofed beacon query``: one Beacon v2 request to every node of a registry, the answers merged."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from genofed.federation import Registry, beacon_network_query

from ._app import app, console, sub_app
from ._study import read_token

__all__ = ["beacon_query", "beacon_request_body"]

beacon_app = sub_app("GA4GH Beacon v2 across the federation (each node's /beacon).")
app.add_typer(beacon_app, name="beacon")


class Granularity(StrEnum):
    """Beacon response granularities."""

    boolean = "boolean"
    counts = "count"  # not `count`: that name is str.count
    record = "record"


class OutputFormat(StrEnum):
    """How ``beacon query`` prints its answer."""

    table = "table"
    json = "json"


def beacon_request_body(
    *,
    assembly: str | None = None,
    chrom: str | None = None,
    start: int | None = None,
    end: int | None = None,
    ref: str | None = None,
    alt: str | None = None,
    gene: str | None = None,
    hgvs: str | None = None,
    filters: list[str] | None = None,
    granularity: str = "count",
) -> dict[str, Any]:
    """A Beacon v2 request body from the command's options (coordinates 0-based, as Beacon's)."""
    parameters: dict[str, Any] = {
        key: value
        for key, value in (
            ("assemblyId", assembly),
            ("referenceName", chrom),
            ("start", [start] if start is not None else None),
            ("end", [end] if end is not None else None),
            ("referenceBases", ref),
            ("alternateBases", alt),
            ("geneId", gene),
            ("genomicAlleleShortForm", hgvs),
        )
        if value is not None
    }
    query: dict[str, Any] = {"requestedGranularity": granularity}
    if parameters:
        query["requestParameters"] = parameters
    if filters:
        query["filters"] = [{"id": f} for f in filters]
    return {"meta": {"apiVersion": "v2.1.1"}, "query": query}


@beacon_app.command("query")
def beacon_query(
    registry: Annotated[Path, typer.Option("--registry", help="the federation's nodes (YAML)")],
    token: Annotated[
        str | None, typer.Option("--token", envvar="GENOFED_PASSPORT", help="GA4GH Passport (JWT)")
    ] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="file holding the passport")] = None,
    entry_type: Annotated[
        str, typer.Option("--entry-type", help="g_variants, individuals, biosamples, ...")
    ] = "g_variants",
    assembly: Annotated[str | None, typer.Option("--assembly", help="GRCh37 or GRCh38")] = None,
    chrom: Annotated[str | None, typer.Option("--chrom", help="chromosome: 1, chr1 or NC_000001.11")] = None,
    start: Annotated[int | None, typer.Option("--start", help="0-based start (Beacon's coordinates)")] = None,
    end: Annotated[int | None, typer.Option("--end", help="0-based exclusive end: a range query")] = None,
    ref: Annotated[str | None, typer.Option("--ref", help="reference bases")] = None,
    alt: Annotated[str | None, typer.Option("--alt", help="alternate bases")] = None,
    gene: Annotated[str | None, typer.Option("--gene", help="HGNC symbol")] = None,
    hgvs: Annotated[
        str | None, typer.Option("--hgvs", help="genomic HGVS, e.g. NC_000022.10:g.100A>G")
    ] = None,
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="a filter id (repeatable), e.g. NCIT:C16576")
    ] = None,
    granularity: Annotated[Granularity, typer.Option("--granularity")] = Granularity.counts,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.table,
) -> None:
    """Ask every node's Beacon; print one row per node (and the failures) or the merged JSON."""
    body = beacon_request_body(
        assembly=assembly,
        chrom=chrom,
        start=start,
        end=end,
        ref=ref,
        alt=alt,
        gene=gene,
        hgvs=hgvs,
        filters=filters,
        granularity=granularity.value,
    )
    merged, answers = beacon_network_query(
        Registry.load(registry), entry_type, body, token=read_token(token, token_file)
    )
    if output is OutputFormat.json:
        console.print_json(json.dumps(merged))
    else:
        table = Table(title=f"Beacon {entry_type}", title_justify="left", header_style="bold")
        for name in ("node", "outcome", "granularity", "exists", "results"):
            table.add_column(name)
        for answer in answers:
            if answer.response is None:
                table.add_row(answer.node, f"[red]{answer.status}[/]: {answer.reason}", "", "", "")
                continue
            summary = answer.response["responseSummary"]
            table.add_row(
                answer.node,
                "[green]answered[/]",
                answer.response["meta"]["returnedGranularity"],
                str(summary["exists"]).lower(),
                str(summary.get("numTotalResults", "")),
            )
        total = merged["responseSummary"]
        table.add_row(
            "all",
            "",
            merged["meta"]["returnedGranularity"],
            str(total["exists"]).lower(),
            str(total.get("numTotalResults", "")),
        )
        console.print(table)
    if not any(a.response is not None for a in answers):
        raise typer.Exit(1)
