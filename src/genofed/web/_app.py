"""The portal application: ``create_portal(settings)`` builds the FastAPI app (no module-level app).

Routers, one per resource (sign-in, cohort, views, export), are gathered here; errors are mapped to
pages in one place (a wrong field → 400 with the message, no session → the sign-in page, a federation
failure → 502). Every response carries a Content-Security-Policy that allows nothing but the
portal's own origin: scripts, styles and images come from ``/static`` or are inline SVG.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from genofed.errors import AuthError, GenofedError, QueryError
from genofed.federation import Transport

from ._deps import SignInRequiredError
from ._portal import CONTENT_SECURITY_POLICY, Portal
from ._routes_auth import router as auth_router
from ._routes_cohort import router as cohort_router
from ._routes_export import router as export_router
from ._routes_reports import router as reports_router
from ._routes_views import router as views_router
from ._settings import PortalSettings

__all__ = ["CONTENT_SECURITY_POLICY", "create_portal"]

STATIC = Path(__file__).parent / "static"


def _fragment(request: Request) -> bool:
    return request.url.path.startswith("/fragments/")


def _error(request: Request, status: int, title: str, message: str) -> Response:
    portal: Portal = request.app.state.portal
    if _fragment(request):
        return HTMLResponse(
            portal.templates.get_template("_error.html.j2").render(title=title, message=message),
            status_code=status,
        )
    return portal.render(request, "error.html.j2", status_code=status, title=title, message=message)


def create_portal(settings: PortalSettings, *, transport: Transport = None) -> FastAPI:
    """The researcher portal over the federation in ``settings``.

    Parameters
    ----------
    settings
        Registry, demo broker (optional) and session key.
    transport
        Passed to :class:`~genofed.federation.Federation` (tests use in-process nodes); None: HTTP.
    """
    app = FastAPI(title="genofed portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = Portal(settings, transport=transport)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (auth_router, cohort_router, views_router, reports_router, export_router):
        app.include_router(router)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        origin = request.headers.get("origin")
        if request.method == "POST" and origin is not None and urlsplit(origin).netloc != request.url.netloc:
            # A form posted from another site (sign-in or sign-out forced on the user): refuse it.
            return PlainTextResponse("cross-site form posts are refused", status_code=403)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            # Pages hold answers released to this user: no shared or back-button cache keeps them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequiredError)
        if _fragment(request):
            return _error(
                request, 401, "Not signed in", "Your session has ended; sign in again to see counts."
            )
        return RedirectResponse("/signin?" + urlencode({"next": exc.next_url}), status_code=303)

    async def bad_query(request: Request, exc: Exception) -> Response:
        return _error(request, 400, "This question cannot be asked as it stands", str(exc))

    async def bad_passport(request: Request, exc: Exception) -> Response:
        return _error(request, 401, "Your passport was not accepted", str(exc))

    async def federation_failed(request: Request, exc: Exception) -> Response:
        return _error(request, 502, "The federation could not answer", f"{type(exc).__name__}: {exc}")

    app.add_exception_handler(SignInRequiredError, sign_in)
    app.add_exception_handler(QueryError, bad_query)
    app.add_exception_handler(AuthError, bad_passport)
    app.add_exception_handler(GenofedError, federation_failed)
    return app
