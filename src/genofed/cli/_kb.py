"""``genofed kb import|list``: versioned clinical knowledge bases (CIViC, CGI) for decision support."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from genofed.cds import KB_SOURCES, import_release, list_releases

from ._app import app, console, sub_app
from ._render import rich_table

__all__ = ["kb_import", "kb_list"]

kb_app = sub_app("Clinical knowledge bases: import a release, list the releases held.")
app.add_typer(kb_app, name="kb")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date; expected YYYY-MM-DD") from None


@kb_app.command("import")
def kb_import(
    file: Annotated[Path, typer.Argument(help="the knowledge base's evidence file (TSV)")],
    source: Annotated[str, typer.Option("--source", help=f"one of: {', '.join(KB_SOURCES)}")],
    release: Annotated[str, typer.Option("--release", help="the release date, YYYY-MM-DD")],
    into: Annotated[Path, typer.Option("--into", help="knowledge-base directory")],
    variants: Annotated[
        Path | None, typer.Option("--variants", help="CIViC 2018 layout: its VariantSummaries.tsv")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="overwrite an existing release")] = False,
) -> None:
    """Load FILE, keep every parsed evidence item and the reason for every rejected row."""
    info = import_release(source, file, _date(release), into=into, variants=variants, replace=replace)
    console.print(
        f"{info.source} {info.release}: {info.rows} rows, {info.parsed} parsed into {info.evidence} "
        f"evidence items, {info.rejected} rejected (reasons in {info.path}/rejected.tsv), "
        f"{info.unmapped_diseases} items with an unmapped disease"
    )


@kb_app.command("list")
def kb_list(directory: Annotated[Path, typer.Argument(help="knowledge-base directory")]) -> None:
    """The releases held, per source."""
    releases = list_releases(directory)
    console.print(
        rich_table(
            f"{directory}: {len(releases)} release{'s' if len(releases) != 1 else ''}",
            ["source", "release", "rows", "evidence", "rejected", "file sha256"],
            [
                (r.source, r.release.isoformat(), r.rows, r.evidence, r.rejected, r.files[0][1][:12])
                for r in releases
            ],
        )
    )
