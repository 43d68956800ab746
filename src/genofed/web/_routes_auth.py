"""Sign-in and sign-out: a passport from the demo broker, or one pasted by the user."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from genofed.errors import AuthError

from ._deps import PortalDep
from ._session import Session, open_session, passport_claims, seal_session, session_cookie_names

__all__ = ["router"]

router = APIRouter(tags=["sign-in"])

#: Form posts are small; anything larger is not a sign-in.
_MAX_FORM_BYTES = 64 * 1024
DEFAULT_SUBJECT = "researcher@demo.genofed.org"


def _safe_next(target: str | None) -> str:
    """Only a path on this portal (no scheme, no host, no ``//``): never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise AuthError(f"the sign-in form is over {_MAX_FORM_BYTES} bytes")
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


@router.get("/signin", response_class=HTMLResponse, name="signin")
def signin_page(
    request: Request, portal: PortalDep, next: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    """The sign-in page."""
    request.state.user = open_session(request.cookies, portal.settings.secret)
    return portal.render(
        request, "signin.html.j2", next_url=_safe_next(next), subject=DEFAULT_SUBJECT, error=None
    )


@router.post("/signin", name="signin_post")
async def signin(request: Request, portal: PortalDep) -> Response:
    """Take a passport (from the demo broker for a user name, or pasted) and keep it in the session cookie."""
    form = await _form(request)
    next_url = _safe_next(form.get("next"))
    subject = form.get("subject", "").strip()
    try:
        if form.get("method") == "broker":
            broker = portal.settings.broker
            if broker is None:
                raise AuthError("this portal has no demo broker; paste a passport instead")
            if not subject:
                raise AuthError("give a user name to sign in as")
            nodes = portal.settings.registry.nodes
            token = broker.passport(
                subject,
                audience=[n.id for n in nodes],
                datasets=[n.dataset or n.id for n in nodes],
                affiliation=form.get("affiliation", "").strip() or None,
            )
        else:
            token = form.get("token", "").strip()
            if not token:
                raise AuthError("paste a passport (a JWT from your broker)")
        session: Session = passport_claims(token)
        cookies = seal_session(session, portal.settings.secret)
    except AuthError as exc:
        return portal.render(
            request,
            "signin.html.j2",
            status_code=400,
            next_url=next_url,
            subject=subject or DEFAULT_SUBJECT,
            error=str(exc),
        )
    response = RedirectResponse(next_url, status_code=303)
    for name in session_cookie_names()[len(cookies) :]:
        if name in request.cookies:  # chunks of an earlier, longer passport
            response.delete_cookie(name, path="/")
    for name, value in cookies:
        response.set_cookie(
            name,
            value,
            max_age=session.seconds_left,
            httponly=True,
            samesite="lax",
            secure=portal.settings.secure_cookies,
            path="/",
        )
    return response


@router.post("/signout", name="signout")
def signout() -> Response:
    """Forget the passport: the session cookie is deleted."""
    response = RedirectResponse("/signin", status_code=303)
    for name in session_cookie_names():
        response.delete_cookie(name, path="/")
    return response
