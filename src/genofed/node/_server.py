"""Running a node under uvicorn, with TLS when the settings give a certificate."""

from __future__ import annotations

import ssl

import uvicorn
from fastapi import FastAPI

from ._app import create_app
from ._settings import NodeSettings

__all__ = ["serve", "server_config"]


def server_config(settings: NodeSettings, app: FastAPI | None = None) -> uvicorn.Config:
    """The uvicorn configuration of a node: host, port, TLS (and client certificates) from ``settings``."""
    tls = settings.tls
    return uvicorn.Config(
        app if app is not None else create_app(settings),
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(tls.certificate) if tls else None,
        ssl_keyfile=str(tls.private_key) if tls else None,
        ssl_ca_certs=str(tls.client_ca) if tls and tls.client_ca else None,
        ssl_cert_reqs=ssl.CERT_REQUIRED if tls and tls.client_ca else ssl.CERT_NONE,
        proxy_headers=False,  # the client address in the audit log is the peer's, not a header's
        server_header=False,
        log_level="info",
    )


def serve(settings: NodeSettings) -> None:
    """Run the node until interrupted (``genofed node serve``)."""
    uvicorn.Server(server_config(settings)).run()
