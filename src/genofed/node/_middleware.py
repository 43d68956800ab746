"""The node's outer layer: a request id, a body-size limit, and an audit entry for every request.

A pure ASGI middleware (no ``BaseHTTPMiddleware``, which would hide the body from the limit):

1. gives the request an id (``scope["state"]["request_id"]``, a UUID) and returns it as
   ``X-Request-Id``;
2. reads the whole body, refusing one larger than ``max_body_bytes`` with a 413 problem -- by the
   declared ``Content-Length`` before reading, or by counting chunks of a body sent without one --
   then replays it to the application;
3. appends one ``http`` event to the audit log when the response starts, *before* its first byte is
   sent: method, path, status, client address, the researcher if authenticated, and the problem type
   and detail if it failed. A request that ends in an unexpected exception is logged with status 500.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genofed.api import ProblemType
from genofed.privacy import AuditLog

from ._problems import problem_response

__all__ = ["NodeMiddleware"]


class _BodyTooLargeError(Exception):
    pass


class NodeMiddleware:
    """Request ids, the body-size limit, and the per-request audit entry."""

    def __init__(self, app: ASGIApp, *, audit: AuditLog, max_body_bytes: int) -> None:
        self.app = app
        self.audit = audit
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.monotonic()
        status: int | None = None

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                await self._log(scope, status, started)
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            body = await self._read_body(scope, receive)
        except _BodyTooLargeError:
            response = problem_response(
                Request(scope),
                413,
                ProblemType.PAYLOAD_TOO_LARGE,
                f"the request body is larger than this node accepts ({self.max_body_bytes} bytes)",
            )
            await response(scope, receive, send_logged)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, send_logged)
        except Exception:
            if status is None:  # the 500 the server is about to send has not been logged yet
                state.setdefault("problem_type", ProblemType.INTERNAL_ERROR.value)
                await self._log(scope, 500, started)
            raise

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > self.max_body_bytes:
                        raise _BodyTooLargeError
                except ValueError:
                    pass  # a malformed length: the server (h11) rejects it; count the chunks anyway
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the application sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _log(self, scope: Scope, status: int, started: float) -> None:
        state: dict[str, Any] = scope.get("state", {})
        client = scope.get("client")
        event = {
            "type": "http",
            "request_id": state.get("request_id"),
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": status,
            "client": client[0] if client else None,
            "researcher": state.get("researcher"),
            "problem": state.get("problem_type"),
            "detail": state.get("problem_detail"),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        }
        # The log is a file with an fsync per line: keep that off the event loop.
        await anyio.to_thread.run_sync(self.audit.append, {k: v for k, v in event.items() if v is not None})
