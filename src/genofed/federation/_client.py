"""Concurrent fan-out of one analysis request to the nodes, with timeouts, retries and validation.

:class:`FanOut` holds one ``httpx.AsyncClient`` per node (its own TLS settings), or one client over an
injected transport -- ``httpx.MockTransport`` or ``httpx.ASGITransport`` -- so tests run nodes
in-process. :meth:`FanOut.ask` posts the request to every node at once and returns one
:class:`~genofed.federation.NodeOutcome` per node; it never raises for what a node does.

Per node:

- **time budget**: the node's ``timeout`` covers every attempt and the waits between them; when it
  runs out the node is ``timed_out``;
- **retries**: up to ``retries`` more attempts, after ``backoff``, ``2 × backoff``, … seconds, on a
  connection error, a timeout or a 5xx -- transient faults -- but never on a 4xx, which would only
  be refused again (and a disclosure refusal must not be hammered);
- **validation**: a 2xx answer must be ``application/json`` and an
  :class:`~genofed.api.AnalysisResponse` of the kind asked for, with sane intervals; anything else
  (HTML from a proxy, truncated JSON, another schema) is that node's ``failed`` outcome with the
  reason. 401 and 403 are ``refused`` (authentication, authorisation, or disclosure when the problem
  type ends in ``disclosure-refused``); other 4xx are ``failed`` with the node's problem detail.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import ValidationError

from genofed.api import AlleleFrequencyAnalysis, AnalysisRequest, AnalysisResponse, Problem, ScoreInformation
from genofed.errors import ConfigError
from genofed.privacy import CellStatus, ReleasedCount

from ._answer import NodeOutcome, OutcomeStatus, RefusalKind
from ._registry import NodeEntry, Registry, describe_validation_error

__all__ = ["MAX_ANSWER_BYTES", "FanOut", "Token", "Transport"]

#: Largest answer body read from a node; a bigger one is a failure, not a memory blow-up.
MAX_ANSWER_BYTES = 16 * 1024 * 1024

#: One token for every node, one per node id, or none.
Token = str | Mapping[str, str] | None
#: One transport for every node, one per node id, or None for real HTTP(S).
Transport = httpx.AsyncBaseTransport | Mapping[str, httpx.AsyncBaseTransport] | None

_USER_AGENT = "genofed-coordinator/0.1"
_JSON = ("application/json",)
_PROBLEM = ("application/problem+json", "application/json")


@dataclass
class _Attempt:
    """What the attempts at one node have established so far."""

    count: int = 0
    reason: str = ""
    timed_out: bool = False
    http_status: int | None = None
    problem: Problem | None = None


class _Done(Exception):  # noqa: N818  (control flow inside one module, never escapes)
    """Carries a final outcome out of the attempt loop."""

    def __init__(self, outcome: NodeOutcome) -> None:
        self.outcome = outcome


class FanOut:
    """HTTP clients to the nodes of a registry; use as ``async with FanOut(registry) as fan:``.

    Parameters
    ----------
    registry
        The nodes, their URLs, timeouts and TLS settings, and the retry policy.
    token
        A GA4GH Passport sent as ``Authorization: Bearer``: one for all nodes or one per node id.
    transport
        An httpx transport for every node, or one per node id; None for real HTTP(S).
    """

    def __init__(self, registry: Registry, *, token: Token = None, transport: Transport = None) -> None:
        self.registry = registry
        self._token = token
        self._transport = transport
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._shared: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every open connection."""
        clients = list(self._clients.values())
        if self._shared is not None:
            clients.append(self._shared)
        self._clients.clear()
        self._shared = None
        for client in clients:
            await client.aclose()

    def _client(self, node: NodeEntry) -> httpx.AsyncClient:
        """The client for ``node``, created on first use (inside the event loop that will drive it)."""
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json, application/problem+json"}
        if isinstance(self._transport, httpx.AsyncBaseTransport):
            if self._shared is None:
                self._shared = httpx.AsyncClient(transport=self._transport, headers=headers)
            return self._shared
        client = self._clients.get(node.id)
        if client is None:
            if self._transport is not None:
                transport = self._transport.get(node.id)
                if transport is None:
                    raise ConfigError(f"no transport given for node {node.id!r}")
                client = httpx.AsyncClient(transport=transport, headers=headers)
            else:
                verify: ssl.SSLContext | bool = node.ssl_context()
                client = httpx.AsyncClient(verify=verify, headers=headers)
            self._clients[node.id] = client
        return client

    def _token_for(self, node: NodeEntry) -> str | None:
        if self._token is None or isinstance(self._token, str):
            return self._token
        return self._token.get(node.id)

    async def ask(
        self, request: AnalysisRequest, nodes: Sequence[NodeEntry] | None = None
    ) -> tuple[NodeOutcome, ...]:
        """Post ``request`` to every node (default: all in the registry) at once; one outcome each."""
        targets = self.registry.nodes if nodes is None else tuple(nodes)
        for node in targets:
            self._client(node)  # configuration faults (a missing transport, a bad CA file) raise here
        outcomes = await asyncio.gather(*(self._ask_node(node, request) for node in targets))
        return tuple(outcomes)

    async def _ask_node(self, node: NodeEntry, request: AnalysisRequest) -> NodeOutcome:
        start = time.perf_counter()
        state = _Attempt()
        budget = self.registry.timeout_for(node)
        try:
            async with asyncio.timeout(budget):
                return await self._attempts(node, request, state, start, budget)
        except TimeoutError:
            reason = f"no answer within {budget:g} s ({_attempts(state.count)})"
            if state.reason:
                reason += f"; last: {state.reason}"
            return self._outcome(node, state, start, OutcomeStatus.TIMED_OUT, reason)
        except Exception as exc:  # a coordinator bug must not take the other nodes' answers down
            reason = f"unexpected error in the coordinator: {type(exc).__name__}: {exc}"
            return self._outcome(node, state, start, OutcomeStatus.FAILED, reason)

    async def _attempts(
        self, node: NodeEntry, request: AnalysisRequest, state: _Attempt, start: float, budget: float
    ) -> NodeOutcome:
        client = self._client(node)
        node_request = (
            request if node.dataset is None else request.model_copy(update={"dataset": node.dataset})
        )
        body = node_request.model_dump_json().encode()
        headers = {"Content-Type": "application/json"}
        token = self._token_for(node)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        while True:
            state.count += 1
            retry = False
            try:
                status, media_type, content = await self._post(client, node, body, headers, budget)
            except httpx.TimeoutException:
                state.reason, state.timed_out, retry = f"no answer within {budget:g} s", True, True
            except httpx.TransportError as exc:
                state.reason, state.timed_out = _transport_reason(node, exc), False
                retry = _retryable(exc)
            except _Done as done:
                return done.outcome.model_copy(update={"attempts": state.count})
            else:
                state.http_status = status
                if status >= 500:
                    state.problem = _problem(media_type, content)
                    detail = state.problem.detail if state.problem else _snippet(content)
                    state.reason, state.timed_out, retry = f"server error {status}: {detail}", False, True
                else:
                    return self._interpret(node, request, state, start, status, media_type, content)
            if not retry or state.count > self.registry.retries:
                status_now = OutcomeStatus.TIMED_OUT if state.timed_out else OutcomeStatus.FAILED
                reason = state.reason + (f" ({_attempts(state.count)})" if state.count > 1 else "")
                return self._outcome(node, state, start, status_now, reason)
            await asyncio.sleep(self.registry.backoff * 2 ** (state.count - 1))

    async def _post(
        self, client: httpx.AsyncClient, node: NodeEntry, body: bytes, headers: dict[str, str], budget: float
    ) -> tuple[int, str, bytes]:
        async with client.stream("POST", node.endpoint, content=body, headers=headers, timeout=budget) as r:
            chunks: list[bytes] = []
            size = 0
            async for chunk in r.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    outcome = NodeOutcome(
                        node=node.id,
                        country=node.country,
                        url=node.url,
                        status=OutcomeStatus.FAILED,
                        reason=f"its answer is larger than {MAX_ANSWER_BYTES:,} bytes",
                        http_status=r.status_code,
                    )
                    raise _Done(outcome)
                chunks.append(chunk)
            media_type = r.headers.get("content-type", "").split(";")[0].strip().lower()
            return r.status_code, media_type, b"".join(chunks)

    def _outcome(
        self,
        node: NodeEntry,
        state: _Attempt,
        start: float,
        status: OutcomeStatus,
        reason: str | None,
        **extra: Any,
    ) -> NodeOutcome:
        fields: dict[str, Any] = {"http_status": state.http_status, "problem": state.problem, **extra}
        return NodeOutcome(
            node=node.id,
            country=node.country,
            url=node.url,
            status=status,
            reason=reason,
            attempts=state.count,
            elapsed=time.perf_counter() - start,
            **fields,
        )

    def _interpret(
        self,
        node: NodeEntry,
        request: AnalysisRequest,
        state: _Attempt,
        start: float,
        status: int,
        media_type: str,
        content: bytes,
    ) -> NodeOutcome:
        """A final (non-5xx) HTTP answer as an outcome: answered, refused or failed."""
        failed = OutcomeStatus.FAILED
        if 200 <= status < 300:
            state.problem = None
            if media_type not in _JSON:
                shown = media_type or "none"
                reason = f"answered {status} with content type {shown}, expected application/json"
                return self._outcome(node, state, start, failed, reason)
            try:
                data = json.loads(content)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return self._outcome(node, state, start, failed, f"answered with invalid JSON: {exc}")
            try:
                response = AnalysisResponse.model_validate(data)
            except ValidationError as exc:
                reason = f"its answer does not follow the contract (AnalysisResponse): {_brief(exc)}"
                return self._outcome(node, state, start, failed, reason)
            problem = _check(request, response)
            if problem:
                return self._outcome(node, state, start, failed, problem, response=response)
            return self._outcome(node, state, start, OutcomeStatus.ANSWERED, None, response=response)
        if 300 <= status < 400:
            reason = f"redirected ({status}); point the registry at the node's current URL"
            return self._outcome(node, state, start, failed, reason)
        state.problem = _problem(media_type, content)
        detail = state.problem.detail if state.problem else _snippet(content)
        if status in (401, 403):
            kind = RefusalKind.AUTHENTICATION if status == 401 else RefusalKind.AUTHORISATION
            if state.problem and state.problem.type.rstrip("/").endswith("disclosure-refused"):
                kind = RefusalKind.DISCLOSURE
            return self._outcome(
                node, state, start, OutcomeStatus.REFUSED, f"{kind.value}: {detail}", refusal=kind
            )
        reason = f"the node rejected the request ({status}): {detail}"
        return self._outcome(node, state, start, failed, reason)


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _retryable(exc: httpx.TransportError) -> bool:
    """Transient transport faults are retried; a bad URL scheme or a TLS failure will not heal."""
    return not isinstance(exc, httpx.UnsupportedProtocol) and _ssl_error(exc) is None


def _transport_reason(node: NodeEntry, exc: httpx.TransportError) -> str:
    tls = _ssl_error(exc)
    if tls is not None:
        hint = "; give the node's CA as ca_bundle in the registry" if node.url.startswith("https") else ""
        return f"TLS failure talking to {node.url}: {getattr(tls, 'verify_message', None) or tls}{hint}"
    detail = str(exc) or type(exc).__name__
    return f"cannot reach {node.endpoint}: {detail}"


def _problem(media_type: str, content: bytes) -> Problem | None:
    """The node's RFC 9457 problem details, if that is what it sent."""
    if media_type not in _PROBLEM:
        return None
    try:
        return Problem.model_validate_json(content)
    except ValidationError:
        return None


def _snippet(content: bytes, limit: int = 200) -> str:
    text = " ".join(content[: limit * 4].decode("utf-8", errors="replace").split())
    if not text:
        return "(empty body)"
    return text if len(text) <= limit else text[:limit] + "…"


def _brief(exc: ValidationError, limit: int = 3) -> str:
    text = describe_validation_error(exc)
    clauses = text.split("; ")
    more = len(clauses) - limit
    return "; ".join(clauses[:limit]) + (f"; and {more} more" if more > 0 else "")


def _released(response: AnalysisResponse) -> list[tuple[str, ReleasedCount]]:
    result = response.result
    if result.kind == "count":
        return [("result.count", result.count)]
    if result.kind == "crosstab":
        t = result.table
        out = [
            (f"result.table.cells[{r}][{c}]", v) for r, row in enumerate(t.cells) for c, v in enumerate(row)
        ]
        out += [(f"result.table.row_totals[{i}]", v) for i, v in enumerate(t.row_totals)]
        out += [(f"result.table.column_totals[{i}]", v) for i, v in enumerate(t.column_totals)]
        return [*out, ("result.table.total", t.total)]
    if result.kind == "kaplan_meier":
        return [("result.left_out", result.left_out)] + [
            (f"result.groups[{g}].{name}[{k}]", count)
            for g, group in enumerate(result.groups)
            for name in ("events", "at_risk", "censored")
            for k, count in enumerate(getattr(group, name))
        ]
    if result.kind == "score_information":
        return [("result.left_out", result.left_out)]
    if result.kind == "summary":
        return [
            (f"result.variables[{v}].cells[{c}].n", cell.n)
            for v, variable in enumerate(result.variables)
            for c, cell in enumerate(variable.cells)
        ]
    if result.kind == "population_allele_frequency":
        return [
            (f"result.populations[{p}].{name}[{i}]", count)
            for p, population in enumerate(result.populations)
            for name in ("allele_count", "allele_number")
            for i, count in enumerate(getattr(population, name))
        ]
    if result.kind == "wgs_benefit":
        return [
            (f"result.cells[{c}].{name}", getattr(cell, name))
            for c, cell in enumerate(result.cells)
            for name in type(cell).model_fields
            if name not in ("tumour_type", "group")
        ]
    if result.kind == "proficiency":
        return []  # exact benchmark counts of reference material, not released counts
    return [
        (f"result.alleles[{i}].{name}", count)
        for i, a in enumerate(result.alleles)
        for name, count in (("allele_count", a.allele_count), ("allele_number", a.allele_number))
    ]


def _check(request: AnalysisRequest, response: AnalysisResponse) -> str | None:
    """What is wrong with a well-formed answer, if anything: another kind, impossible intervals."""
    asked: str = request.analysis.kind
    got = str(response.result.kind)
    if isinstance(response.result, ScoreInformation):
        got = response.result.model
    if isinstance(request.analysis, AlleleFrequencyAnalysis) and request.analysis.population is not None:
        asked = "population_allele_frequency"  # a split allele frequency has its own answer
    if asked != got:
        return f"it answered a {got} result to a {asked} request"
    for where, count in _released(response):
        if count.lower < 0 or (count.upper is not None and count.upper < count.lower):
            return f"{where}: impossible interval [{count.lower}, {count.upper}]"
        if count.value is not None and count.value < 0:
            return f"{where}: negative count {count.value}"
        if count.status is CellStatus.EXACT and not count.value == count.lower == count.upper:
            return f"{where}: an exact count whose value ({count.value}) is not its bounds"
    return None
