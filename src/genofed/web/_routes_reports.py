"""The patient report page: one patient's findings, fetched from their node with the user's own passport.

A patient report is row-level data, so it is built and released by the patient's node only
(``GET /patients/{individual}/report``), where the node's operator has turned ``patient_reports`` on
and the user's passport grants controlled access to the node's dataset. The portal holds no credential
of its own: it forwards the signed-in user's passport, shows what the node released, and says why when
the node refuses. Nothing is cached or written down here.

The patient's identifier travels in a POSTed form, never in a URL, so it stays out of the portal's
access log, the browser's history and ``Referer`` headers. The report is shown in a sandboxed frame
(``srcdoc``; no scripts), whose inline style sheet the page's Content-Security-Policy allows by its
hash alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from genofed.errors import QueryError
from genofed.federation import NodeEntry

from ._deps import PortalDep, UserDep
from ._portal import CONTENT_SECURITY_POLICY, Portal
from ._session import Session

__all__ = ["FetchedReport", "fetch_report", "router"]

router = APIRouter(tags=["reports"])

_MAX_FORM_BYTES = 16 * 1024
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S | re.I)
Format = Literal["html", "json"]


@dataclass(frozen=True)
class FetchedReport:
    """What the node answered: the report (``body``) or why not (``message``), with the HTTP status."""

    node: str
    status: int
    body: str | None
    message: str | None
    media_type: str = "text/html"


def _client(portal: Portal, node: NodeEntry, timeout: float) -> httpx.AsyncClient:
    transport = portal.transport
    if isinstance(transport, httpx.AsyncBaseTransport):
        return httpx.AsyncClient(transport=transport, timeout=timeout)
    if transport is not None:
        mine = transport.get(node.id)
        if mine is None:
            raise QueryError(f"node: no transport for node {node.id!r}")
        return httpx.AsyncClient(transport=mine, timeout=timeout)
    return httpx.AsyncClient(verify=node.ssl_context(), timeout=timeout)


def _refusal(node: str, status: int, detail: str) -> str:
    """The node's refusal in words a researcher can act on."""
    if status == 401:
        return (
            f"{node} did not accept your passport: {detail} Sign in again, or ask your broker for a "
            "passport it trusts."
        )
    if status == 403:
        return f"{node} refused to release this report: {detail}"
    if status == 404:
        return f"{node} has no such patient: {detail}"
    if status in (400, 422):
        return f"{node} cannot build this report as asked: {detail}"
    return f"{node} could not answer (HTTP {status}): {detail}"


async def fetch_report(
    portal: Portal, user: Session, node: NodeEntry, patient: str, *, as_of: dt.date | None, fmt: Format
) -> FetchedReport:
    """Ask ``node`` for one patient's report with ``user``'s passport (never a credential of the portal)."""
    url = f"{node.url}/patients/{quote(patient, safe='')}/report"
    params = {"format": fmt, **({"as_of": as_of.isoformat()} if as_of else {})}
    headers = {"Authorization": f"Bearer {user.token}", "Accept": "text/html, application/json"}
    timeout = node.timeout or portal.settings.registry.timeout
    try:
        async with _client(portal, node, timeout) as client:
            response = await client.get(url, params=params, headers=headers)
    except httpx.HTTPError as exc:
        return FetchedReport(
            node.id, 502, None, f"{node.id} could not be reached: {type(exc).__name__}: {exc}"
        )
    if response.status_code == 200:
        media = response.headers.get("content-type", "text/html").split(";")[0]
        return FetchedReport(node.id, 200, response.text, None, media)
    try:
        detail = str(response.json().get("detail") or response.reason_phrase)
    except ValueError:
        detail = response.reason_phrase
    return FetchedReport(node.id, response.status_code, None, _refusal(node.id, response.status_code, detail))


def _page_policy(html: str) -> str:
    """The page's CSP, widened only by the hashes of the report's own style sheets."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()}'"
        for m in _STYLE.finditer(html)
    )
    return CONTENT_SECURITY_POLICY.replace("style-src 'self'", f"style-src 'self' {hashes}".rstrip())


@dataclass(frozen=True)
class _Ask:
    node: NodeEntry
    patient: str
    as_of: dt.date | None


def _parse(portal: Portal, form: dict[str, str]) -> _Ask:
    nodes = {n.id: n for n in portal.settings.registry.nodes}
    node_id = form.get("node", "").strip()
    if node_id not in nodes:
        raise QueryError(f"node: {node_id!r} is not one of this federation's nodes ({', '.join(nodes)})")
    patient = form.get("patient", "").strip()
    if not patient or len(patient) > 200 or "/" in patient:
        raise QueryError("patient: give the patient's identifier at that node (source id or pseudonym)")
    text = form.get("as_of", "").strip()
    try:
        as_of = dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise QueryError(f"as_of: {text!r} is not a date (YYYY-MM-DD)") from None
    return _Ask(nodes[node_id], patient, as_of)


def _render(request: Request, portal: Portal, *, status_code: int = 200, **context: object) -> HTMLResponse:
    context.setdefault("ask", None)
    context.setdefault("report", None)
    context.setdefault("message", None)
    return portal.render(
        request,
        "patient_report.html.j2",
        status_code=status_code,
        view="patient_report",
        nodes=portal.settings.registry.nodes,
        **context,
    )


@router.get("/patient-report", response_class=HTMLResponse, name="patient_report")
def patient_report_form(request: Request, portal: PortalDep, user: UserDep) -> HTMLResponse:
    """The form: which node, which patient, evidence as of which date."""
    return _render(request, portal)


@router.post("/patient-report", response_class=HTMLResponse, name="patient_report_post")
async def patient_report(request: Request, portal: PortalDep, user: UserDep) -> Response:
    """Fetch the report from the patient's node and show it (``action=show``) or download it."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise QueryError(f"the form is over {_MAX_FORM_BYTES} bytes")
    form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    ask = _parse(portal, form)
    action = form.get("action", "show")
    fmt: Format = "json" if action == "json" else "html"
    fetched = await fetch_report(portal, user, ask.node, ask.patient, as_of=ask.as_of, fmt=fmt)
    if fetched.body is None:
        status = fetched.status if fetched.status in (400, 401, 403, 404) else 502
        return _render(request, portal, status_code=status, ask=ask, message=fetched.message)
    if action in ("html", "json"):
        return Response(
            fetched.body,
            media_type="application/json" if fmt == "json" else "text/html; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="patient-report-{ask.node.id}.{fmt}"'},
        )
    response = _render(request, portal, ask=ask, report=fetched.body)
    response.headers["Content-Security-Policy"] = _page_policy(fetched.body)
    return response
