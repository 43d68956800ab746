"""``genofed store info|vacuum|qc``: what a node store holds, its upkeep, and its sample-QC verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genofed.errors import ConfigError
from genofed.model import TABLES
from genofed.store import NodeStore

from ._app import app, console, sub_app
from ._render import rich_table

__all__ = ["store_info", "store_qc", "store_vacuum"]

store_app = sub_app("Inspect and maintain a node store.")
app.add_typer(store_app, name="store")


@store_app.command("info")
def store_info(store: Annotated[Path, typer.Option("--store", help="node store directory")]) -> None:
    """List the live batches and the rows of every table."""
    with NodeStore.open(store) as node:
        catalog = node.catalog
    console.print(
        rich_table(
            f"{store}: {len(catalog.batches)} batches (catalog version {catalog.version})",
            ["batch", "kind", "source", "published", "rows"],
            [(b.batch_id, b.kind, b.source, b.created, sum(b.rows.values())) for b in catalog.batches],
        )
    )
    console.print(rich_table("tables", ["table", "rows"], [(t, catalog.rows(t)) for t in TABLES]))


@store_app.command("vacuum")
def store_vacuum(store: Annotated[Path, typer.Option("--store", help="node store directory")]) -> None:
    """Remove what no live batch uses (staging left by a crash, replaced batches)."""
    with NodeStore.open(store) as node:
        removed = node.vacuum()
    console.print(f"removed {len(removed)} director{'y' if len(removed) == 1 else 'ies'}")


@store_app.command("qc")
def store_qc(
    config: Annotated[
        Path, typer.Option("--config", help="the node's settings file, with its sample_qc policy")
    ],
) -> None:
    """Judge every analysis under the node's sample-QC policy and store the verdicts.

    Analyses that fail are then left out of every analysis the node answers (a study may ask for
    them with include_failed_qc). A node also does this at start-up.
    """
    from genofed.node import NodeSettings  # the node package is heavy: only this command needs it
    from genofed.qa import flag_samples

    settings = NodeSettings.from_yaml(config)
    if settings.sample_qc is None:
        raise ConfigError(f"{config}: no sample_qc policy; add sample_qc: with thresholds (docs/node.md)")
    with NodeStore.open(settings.data_dir) as node:
        summary = flag_samples(node, settings.sample_qc)
        failed = node.execute(
            "SELECT analysis_id, reasons FROM all_samples.sample_qc WHERE NOT passed ORDER BY analysis_id"
        ).to_pylist()
    console.print(
        f"{summary.analyses} analyses judged under {settings.sample_qc.describe()}: "
        f"{summary.passed} pass, {summary.failed} fail"
    )
    if failed:
        console.print(
            rich_table(
                "failing analyses (pseudonyms)",
                ["analysis", "reasons"],
                [(r["analysis_id"], r["reasons"]) for r in failed],
            )
        )
