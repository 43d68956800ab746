"""``genofed node serve`` (run a node) and ``genofed audit verify`` (check its hash-chained audit log)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genofed.errors import ConfigError
from genofed.privacy import verify_audit_log
from genofed.store import NodeStore

from ._app import app, console, error_console, sub_app

__all__ = ["audit_verify", "node_serve"]

node_app = sub_app("Run a national node: the HTTP service with disclosure control and an audit log.")
audit_app = sub_app("Check a node's audit log.")
app.add_typer(node_app, name="node")
app.add_typer(audit_app, name="audit")

ConfigOption = Annotated[Path, typer.Option("--config", help="the node's settings file (node.yaml)")]


@node_app.command("serve")
def node_serve(
    config: ConfigOption,
    host: Annotated[str | None, typer.Option("--host", help="override the settings' host")] = None,
    port: Annotated[int | None, typer.Option("--port", help="override the settings' port")] = None,
) -> None:
    """Serve /service-info, /health and POST /analyses until interrupted."""
    # The web stack (FastAPI, uvicorn) loads only when a node is run, not with every command.
    from genofed.node import NodeSettings, serve

    settings = NodeSettings.from_yaml(config)
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if overrides:
        # Validate again: a host override must pass the same safety checks as the file.
        settings = NodeSettings.from_mapping(
            {**settings.model_dump(mode="json"), **overrides}, base=config.parent, source=str(config)
        )
    scheme = "https" if settings.tls else "http"
    console.print(
        f"node [bold]{settings.node_id}[/] ({settings.country}) serving dataset {settings.dataset_id!r} "
        f"on {scheme}://{settings.host}:{settings.port}; audit log {settings.audit_log_path}"
    )
    serve(settings)


@audit_app.command("verify")
def audit_verify(
    config: Annotated[
        Path | None, typer.Option("--config", help="the node's settings file (finds log and store)")
    ] = None,
    log: Annotated[Path | None, typer.Option("--log", help="an audit log file (with --store)")] = None,
    store: Annotated[Path | None, typer.Option("--store", help="the node store holding the secret")] = None,
) -> None:
    """Recompute the log's hash chain; list every edited, dropped or reordered line and exit 1 if any."""
    if config is not None:
        from genofed.node import NodeSettings

        if log is not None or store is not None:
            raise ConfigError("give either --config, or --log with --store, not both")
        settings = NodeSettings.from_yaml(config)
        log, store = settings.audit_log_path, settings.data_dir
    elif log is None or store is None:
        raise ConfigError("give --config node.yaml, or --log PATH with --store DIR (the key is the node's)")
    if not log.is_file():
        raise ConfigError(f"{log}: no audit log there")
    with NodeStore.open(store) as node:
        secret = node.secret
    problems = verify_audit_log(log, secret)
    if problems:
        for problem in problems:
            error_console.print(f"{log}: {problem}", highlight=False, soft_wrap=True)
        error_console.print(f"[bold red]{len(problems)} problem(s)[/]: the audit log has been altered")
        raise typer.Exit(1)
    with log.open("rb") as handle:
        lines = sum(1 for _ in handle)
    console.print(f"[green]intact[/]: {log} ({lines} entries; the hash chain verifies)")
