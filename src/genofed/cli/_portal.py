"""``genofed portal``: serve the researcher portal over a federation's registry."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from genofed.errors import ConfigError

from ._app import app, console

__all__ = ["portal", "serve_portal"]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_portal(
    registry: Path,
    *,
    broker: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the portal until interrupted (Ctrl-C); ``on_ready`` gets its URL once it listens.

    Raises
    ------
    ConfigError
        The registry or broker cannot be read, or a demo broker would be exposed beyond loopback.
    """
    import uvicorn

    from genofed.web import PortalSettings, create_portal

    if broker is not None and not _loopback(host):
        raise ConfigError(
            f"--broker signs a passport for anyone who asks: serve it on loopback only, not on {host}"
        )
    settings = PortalSettings.create(registry, broker=broker, secure_cookies=not _loopback(host))
    config = uvicorn.Config(create_portal(settings), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    url = f"http://{host}:{port}/"
    if on_ready is not None:
        original = server.startup

        async def startup(sockets: object = None) -> None:
            await original(sockets)  # type: ignore[arg-type]
            if server.started:
                on_ready(url)

        server.startup = startup  # type: ignore[method-assign]
    # uvicorn shuts down gracefully on Ctrl-C and then re-raises the interrupt; stopping is the
    # expected way to end the portal, not an error.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()


@app.command("portal")
def portal(
    registry: Annotated[
        Path, typer.Option("--registry", help="the nodes (the registry `genofed study run` reads)")
    ],
    broker: Annotated[
        Path | None,
        typer.Option(
            "--broker", help="directory of a demo passport broker (`genofed auth init`): sign in by name"
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")] = 8080,
) -> None:
    """Serve the researcher portal: cohort builder, per-node counts, mutations, survival, models, export."""

    def ready(url: str) -> None:
        console.print(f"portal: [bold]{url}[/] (Ctrl-C to stop)")

    serve_portal(registry, broker=broker, host=host, port=port, on_ready=ready)
