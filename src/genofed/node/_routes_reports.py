"""``GET /patients/{individual}/report``: one patient's decision-support report, for the node's own users.

This is the one route of a node that returns row-level data, so it is closed unless the node's
operator opens it: the node setting ``patient_reports: true`` AND a passport with controlled access to
the node's dataset (a ``ControlledAccessGrants`` visa for it) are both required; otherwise 403 with a
problem saying which is missing. The report is built at the node from its store and its knowledge
base (``knowledge:``; 400 when none is configured) and never combined with other nodes' data.

The patient is named by the source identifier (pseudonymised here with the node's key) or by the
store's pseudonym. Every request is audited as a ``patient_report`` event naming the researcher and the
patient's pseudonym, whatever the outcome. The source identifier is never written down: before any
other dependency runs, the request's path is rewritten to carry the pseudonym, so the middleware's
``http`` audit event (which logs the path) does not hold it in clear either.
"""

from __future__ import annotations

import datetime as dt
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from genofed.api import Problem, ProblemType
from genofed.auth import AccessLevel
from genofed.cds import KnowledgeBase, build_report, list_releases
from genofed.errors import QueryError

from ._context import NodeContext
from ._deps import IdentityDep, NodeDep, RequestIdDep
from ._problems import PROBLEM_MEDIA_TYPE, AccessDeniedError, problem_response

__all__ = ["ReportFormat", "router"]

_KNOWN = (
    "SELECT count(*) AS n FROM (SELECT individual_id FROM analyses UNION ALL "
    "SELECT individual_id FROM individuals UNION ALL SELECT individual_id FROM diagnoses) "
    "WHERE individual_id = ?"
)
_KB_LOCK = threading.Lock()
_KB_CACHE: dict[tuple[Path, dt.date | None], KnowledgeBase] = {}
#: The report page is self-contained: one inline style sheet, no scripts, no other resources.
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


class ReportFormat(StrEnum):
    """The report as a printable HTML page or as deterministic JSON."""

    HTML = "html"
    JSON = "json"


def _known(node: NodeContext, pseudonym: str) -> bool:
    return bool(node.store.execute(_KNOWN, [pseudonym]).column("n")[0].as_py())


def _patient(request: Request, node: NodeDep) -> tuple[str, bool]:
    """The patient's pseudonym and whether the store holds them; the path is rewritten to carry it.

    A router dependency, so it runs before the passport is checked: even a refused request's
    ``http`` audit event shows the pseudonym, never the identifier the caller typed.
    """
    given = str(request.path_params.get("individual", ""))
    if _known(node, given):
        found = (given, True)
    else:
        pseudonym = node.store.pseudonymise(given)
        found = (pseudonym, _known(node, pseudonym))
    request.scope["path"] = f"/patients/{found[0]}/report"
    request.scope["raw_path"] = request.scope["path"].encode()
    request.state.patient = found
    return found


router = APIRouter(tags=["reports"], dependencies=[Depends(_patient)])


def _knowledge(node: NodeContext, as_of: dt.date | None) -> KnowledgeBase:
    folder = node.settings.knowledge
    if folder is None:
        raise QueryError(
            "this node has no knowledge base configured (knowledge: in its settings), so it cannot "
            "build patient reports; its operator imports one with `genofed kb import`"
        )
    if as_of is not None and not any(r.release <= as_of for r in list_releases(folder)):
        raise QueryError(f"as_of: this node's knowledge base has no release on or before {as_of}")
    key = (folder, as_of)
    with _KB_LOCK:
        if key not in _KB_CACHE:
            _KB_CACHE[key] = KnowledgeBase.open(folder, as_of=as_of)
        return _KB_CACHE[key]


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.get(
    "/patients/{individual}/report",
    operation_id="getPatientReport",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"application/json": {}}, "description": "the report (HTML, or JSON)"},
        400: _problem("no knowledge base configured, or none released by as_of"),
        401: _problem("no passport, or a forged, expired or foreign one"),
        403: _problem("patient reports are off at this node, or the passport lacks controlled access"),
        404: _problem("no such patient at this node"),
    },
)
def patient_report(
    individual: str,
    request: Request,
    node: NodeDep,
    identity: IdentityDep,
    request_id: RequestIdDep,
    fmt: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.HTML,
    as_of: Annotated[dt.date | None, Query(description="evidence released on or before this date")] = None,
) -> Response:
    """One patient's actionable findings with evidence tiers (row-level: see the module's rules)."""
    del individual  # read (and redacted) by the router's dependency
    pseudonym, known = request.state.patient
    settings = node.settings
    dataset = settings.dataset_id
    when = as_of or settings.knowledge_as_of
    outcome = "failed"
    try:
        if not settings.patient_reports:
            raise AccessDeniedError(
                f"node {settings.node_id!r} does not serve patient reports: row-level data leaves a node "
                "only where its policy allows it (patient_reports: true in the node's settings)"
            )
        if identity.level_for(dataset) < AccessLevel.CONTROLLED:
            raise AccessDeniedError(
                f"a patient report holds row-level data: it needs controlled access to dataset {dataset!r} "
                "(a ControlledAccessGrants visa for it in your passport)"
            )
        kb = _knowledge(node, when)
        if not known:
            outcome = "not found"
            return problem_response(
                request,
                404,
                ProblemType.NOT_FOUND,
                f"no patient with that identifier at node {settings.node_id!r} (tried it as the store's "
                "pseudonym and as a source identifier)",
            )
        report = build_report(node.store, pseudonym, kb, as_of=when)
        outcome = "released"
    except AccessDeniedError as exc:
        outcome = f"refused: {exc}"
        raise
    except QueryError as exc:
        outcome = f"invalid: {exc}"
        raise
    finally:
        node.audit.append(
            {
                "type": "patient_report",
                "request_id": request_id,
                "researcher": identity.researcher,
                "dataset": dataset,
                "individual": pseudonym,
                "format": fmt.value,
                "as_of": when.isoformat() if when else None,
                "outcome": outcome,
            }
        )
    headers = {"Cache-Control": "no-store"}
    if fmt is ReportFormat.JSON:
        return Response(report.to_json(), media_type="application/json", headers=headers)
    return HTMLResponse(report.to_html(), headers={**headers, "Content-Security-Policy": _REPORT_CSP})
