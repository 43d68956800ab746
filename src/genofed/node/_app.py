"""``create_app(settings)``: one node as a FastAPI application, with no module-level state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from genofed import __version__

from ._beacon import router as beacon_router
from ._context import NodeContext
from ._middleware import NodeMiddleware
from ._problems import install_problem_handlers
from ._routes_analyses import router as analyses_router
from ._routes_reports import router as reports_router
from ._routes_service import router as service_router
from ._settings import NodeSettings

__all__ = ["create_app"]


def create_app(settings: NodeSettings) -> FastAPI:
    """Build a node's application: open its store, read its policy and keys, wire routes and handlers.

    Parameters
    ----------
    settings
        The node's validated settings (:meth:`NodeSettings.from_yaml`).

    Returns
    -------
    FastAPI
        The application; its :class:`NodeContext` is ``app.state.node``. Several may live in one
        process. The store is closed when the application shuts down.

    Raises
    ------
    StoreError
        ``settings.data_dir`` is not a node store.
    ConfigError
        The policy file or a trusted issuer's JWKS cannot be read, or the state folder cannot be made.
    """
    node = NodeContext.open(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        node.close()

    app = FastAPI(
        title=f"genofed node {settings.node_id}",
        version=__version__,
        description="Disclosure-controlled analyses of one national genomic cohort.",
        lifespan=lifespan,
    )
    app.state.node = node
    install_problem_handlers(app)
    app.add_middleware(NodeMiddleware, audit=node.audit, max_body_bytes=settings.max_body_bytes)
    app.include_router(service_router)
    app.include_router(analyses_router)
    app.include_router(reports_router)
    app.include_router(beacon_router)
    return app
