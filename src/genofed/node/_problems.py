"""Errors as RFC 9457 problem details: one exception handler per error class, in one place.

Routes raise genofed errors; these handlers turn each class into its status and problem type
(:class:`genofed.api.ProblemType`). Starlette picks the handler of the most specific class, so
:class:`AccessDeniedError` (403) wins over its parent :class:`~genofed.errors.AuthError` (401).

What a problem says is meant for the caller: store failures and unexpected faults are logged at the
node with their details and answered with a generic text and the request id to quote.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from genofed.api import Problem, ProblemType
from genofed.errors import AuthError, DisclosureError, GenofedError, QueryError, StoreError

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "AccessDeniedError",
    "DatasetNotFoundError",
    "install_problem_handlers",
    "problem_response",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("genofed.node")
_MAX_FIELD_ERRORS = 10


class AccessDeniedError(AuthError):
    """The caller is authenticated but their access level does not allow what they asked (403)."""


class DatasetNotFoundError(GenofedError):
    """The request names a dataset this node does not hold (404)."""


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value is not None else None


def problem_response(
    request: Request,
    status: int,
    kind: ProblemType,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; also notes the problem on the request for the audit log."""
    request_id = _request_id(request)
    problem = Problem(
        type=kind.value,
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=f"urn:uuid:{request_id}" if request_id else None,
    )
    state = request.scope.setdefault("state", {})
    state["problem_type"] = kind.value
    state["problem_detail"] = detail
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _describe(errors: Sequence[Mapping[str, Any]], *, model: str | None = None) -> str:
    """One ``field.path: message`` per error, naming unknown fields and bad JSON plainly."""
    parts = []
    for error in errors[:_MAX_FIELD_ERRORS]:
        location = [str(p) for p in error.get("loc", ())]
        if location and location[0] == "body":
            location = location[1:]
        if model is not None:
            location = [model, *location]
        kind = error.get("type")
        if kind == "extra_forbidden":
            message = "unknown field"
        elif kind == "json_invalid":
            location = []
            reason = (error.get("ctx") or {}).get("error", "")
            message = f"not valid JSON{': ' + str(reason) if reason else ''}"
        else:
            message = str(error.get("msg"))
        parts.append(f"{'.'.join(location) or 'body'}: {message}")
    more = len(errors) - _MAX_FIELD_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts) or "the request does not match the API"


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(request, 422, ProblemType.INVALID_REQUEST, _describe(exc.errors()))


async def _query(request: Request, exc: Exception) -> JSONResponse:
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        # The query models validate in their own __init__ and re-raise Pydantic's errors as a
        # QueryError, even while FastAPI validates a request body: an unknown or mistyped field is a
        # malformed request (422) wherever it sits, as at the top level.
        detail = _describe(cause.errors(include_url=False), model=cause.title)
        return problem_response(request, 422, ProblemType.INVALID_REQUEST, detail)
    return problem_response(request, 400, ProblemType.INVALID_QUERY, str(exc))


async def _unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    # RFC 6750: a 401 names the scheme the client should use.
    return problem_response(
        request,
        401,
        ProblemType.UNAUTHENTICATED,
        str(exc),
        headers={"WWW-Authenticate": 'Bearer realm="genofed", error="invalid_token"'},
    )


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 403, ProblemType.FORBIDDEN, str(exc))


async def _disclosure(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 403, ProblemType.DISCLOSURE_REFUSED, str(exc))


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 404, ProblemType.NOT_FOUND, str(exc))


async def _store(request: Request, exc: Exception) -> JSONResponse:
    _log.error("request %s: store error: %s", _request_id(request), exc, exc_info=exc)
    return problem_response(
        request,
        503,
        ProblemType.STORE_UNAVAILABLE,
        f"the node's store could not answer; try again later, or quote request {_request_id(request)} "
        "to the node's operators",
    )


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    _log.error("request %s: unexpected error", _request_id(request), exc_info=exc)
    return problem_response(
        request,
        500,
        ProblemType.INTERNAL_ERROR,
        f"the node failed to answer; quote request {_request_id(request)} to the node's operators",
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = ProblemType.NOT_FOUND if exc.status_code == 404 else ProblemType.HTTP
    detail = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(request, exc.status_code, kind, detail, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Register one handler per error class on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(QueryError, _query)
    app.add_exception_handler(AuthError, _unauthenticated)
    app.add_exception_handler(AccessDeniedError, _forbidden)
    app.add_exception_handler(DisclosureError, _disclosure)
    app.add_exception_handler(DatasetNotFoundError, _not_found)
    app.add_exception_handler(StoreError, _store)
    # Any other genofed error reaching here is a fault of the node, not of the request.
    app.add_exception_handler(GenofedError, _internal)
    app.add_exception_handler(Exception, _internal)
