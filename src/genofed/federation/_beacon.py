"""A Beacon v2 network over the registry's nodes: one request to every node's ``/beacon``, one merged answer.

The merged response is a Beacon response of its own: ``responseSummary.exists`` is true when any
node says so, ``numTotalResults`` (when every answering node gave a count) is the sum, and
``response.resultSets`` holds one result set per node (``id`` = the node id; the node's own result
sets, when it gave any, are in ``info.resultSets``). Nodes that failed, refused or timed out are
named with the reason in ``info.failures``; their absence makes the granularity no finer than the
coarsest answer, never a guess.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ._client import Token, Transport
from ._registry import NodeEntry, Registry

__all__ = ["BEACON_NETWORK_ID", "BeaconNodeAnswer", "beacon_network_query", "beacon_network_query_async"]

BEACON_NETWORK_ID = "org.genofed.network.beacon"
_GRANULARITIES = ("boolean", "count", "record")


@dataclass(frozen=True)
class BeaconNodeAnswer:
    """One node's part of a network query: its Beacon response, or why there is none."""

    node: str
    status: str  # answered, refused, failed, timed_out
    response: dict[str, Any] | None
    reason: str | None = None
    http_status: int | None = None


def _token(token: Token, node: NodeEntry) -> str | None:
    if token is None or isinstance(token, str):
        return token
    return token.get(node.id)


def _client(transport: Transport, node: NodeEntry, timeout: float) -> httpx.AsyncClient:
    if isinstance(transport, httpx.AsyncBaseTransport):
        return httpx.AsyncClient(transport=transport, timeout=timeout)
    if isinstance(transport, Mapping):
        return httpx.AsyncClient(transport=transport[node.id], timeout=timeout)
    return httpx.AsyncClient(verify=node.ssl_context(), timeout=timeout)


async def _ask(
    node: NodeEntry, path: str, body: dict[str, Any], token: Token, transport: Transport, timeout: float
) -> BeaconNodeAnswer:
    headers = {"Accept": "application/json"}
    bearer = _token(token, node)
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    url = f"{node.url}/beacon/{path.strip('/')}"
    try:
        async with _client(transport, node, timeout) as client:
            reply = await asyncio.wait_for(client.post(url, json=body, headers=headers), timeout)
    except TimeoutError:
        return BeaconNodeAnswer(node.id, "timed_out", None, f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return BeaconNodeAnswer(node.id, "failed", None, f"{type(exc).__name__}: {exc}")
    try:
        data = reply.json()
    except json.JSONDecodeError:
        data = None
    if reply.status_code in (401, 403):
        detail = (data or {}).get("detail") or (data or {}).get("error", {}).get("errorMessage")
        return BeaconNodeAnswer(
            node.id, "refused", None, f"HTTP {reply.status_code}: {detail}", reply.status_code
        )
    if reply.status_code != 200 or not isinstance(data, dict) or "meta" not in data:
        message = (data or {}).get("error", {}).get("errorMessage") if isinstance(data, dict) else None
        reason = f"HTTP {reply.status_code}: {message or reply.text[:200]}"
        return BeaconNodeAnswer(node.id, "failed", None, reason, reply.status_code)
    if "error" in data:
        return BeaconNodeAnswer(node.id, "failed", None, str(data["error"].get("errorMessage")), 200)
    return BeaconNodeAnswer(node.id, "answered", data, None, 200)


def merge_beacon_answers(answers: list[BeaconNodeAnswer], body: Mapping[str, Any]) -> dict[str, Any]:
    """One Beacon response from the nodes' answers (see the module's description)."""
    answered = [a for a in answers if a.response is not None]
    granularities = [a.response["meta"].get("returnedGranularity", "boolean") for a in answered if a.response]
    granularity = min(granularities, key=_GRANULARITIES.index) if granularities else "boolean"
    query = body.get("query") or {}
    requested = query.get("requestedGranularity") or "boolean"
    result_sets = []
    total = 0
    counted = bool(answered)
    for answer in answered:
        assert answer.response is not None
        summary = answer.response.get("responseSummary", {})
        count = summary.get("numTotalResults")
        if count is None:
            counted = False
        total += int(count or 0)
        node_sets = answer.response.get("response", {}).get("resultSets", [])
        result_sets.append(
            {
                "id": answer.node,
                "setType": "dataset",
                "exists": bool(summary.get("exists")),
                "resultsCount": int(count or 0),
                "results": [r for s in node_sets for r in s.get("results", [])]
                if granularity == "record"
                else [],
                "info": {
                    "node": answer.node,
                    "returnedGranularity": answer.response["meta"].get("returnedGranularity"),
                    "countReleased": count is not None,
                    "resultSets": [{k: v for k, v in s.items() if k != "results"} for s in node_sets],
                },
            }
        )
    response_summary: dict[str, Any] = {"exists": any(s["exists"] for s in result_sets)}
    if granularity != "boolean" and counted:
        response_summary["numTotalResults"] = total
    summary_in = {
        "apiVersion": "v2.1.1",
        "requestedSchemas": list((body.get("meta") or {}).get("requestedSchemas") or []),
        "pagination": dict(query.get("pagination") or {"skip": 0, "limit": 10}),
        "requestedGranularity": requested,
    }
    failures = [
        {"node": a.node, "status": a.status, "reason": a.reason or ""} for a in answers if a.response is None
    ]
    return {
        "meta": {
            "beaconId": BEACON_NETWORK_ID,
            "apiVersion": "v2.1.1",
            "returnedGranularity": granularity if counted or granularity == "boolean" else "boolean",
            "receivedRequestSummary": summary_in,
            "returnedSchemas": answered[0].response["meta"].get("returnedSchemas", [])
            if answered and answered[0].response
            else [],
        },
        "responseSummary": response_summary,
        "response": {"resultSets": result_sets},
        "info": {"failures": failures, "asked": [a.node for a in answers]},
    }


async def beacon_network_query_async(
    registry: Registry,
    path: str,
    body: dict[str, Any],
    *,
    token: Token = None,
    transport: Transport = None,
    nodes: list[str] | None = None,
) -> tuple[dict[str, Any], list[BeaconNodeAnswer]]:
    """POST one Beacon request to ``/beacon/<path>`` of every node at once; merge the answers.

    Parameters
    ----------
    registry
        The nodes (their ``url``; each node's time budget is the registry's ``timeout_for``).
    path
        The Beacon endpoint below ``/beacon`` (``g_variants``, ``individuals``, ...).
    body
        The Beacon request body (``meta``, ``query``).
    token, transport
        As for :class:`FanOut`: one passport or one per node id; an httpx transport (tests).
    nodes
        Node ids to ask (default: every node).

    Returns
    -------
    tuple
        The merged Beacon response and each node's answer, in registry order. Never raises for a
        node's failure: it is named in the merged response's ``info.failures``.
    """
    chosen = registry.select(tuple(nodes) if nodes else None)
    answers = await asyncio.gather(
        *(_ask(n, path, body, token, transport, registry.timeout_for(n)) for n in chosen)
    )
    return merge_beacon_answers(list(answers), body), list(answers)


def beacon_network_query(
    registry: Registry,
    path: str,
    body: dict[str, Any],
    *,
    token: Token = None,
    transport: Transport = None,
    nodes: list[str] | None = None,
) -> tuple[dict[str, Any], list[BeaconNodeAnswer]]:
    """The synchronous form of :func:`beacon_network_query_async` (not inside a running event loop)."""
    return asyncio.run(
        beacon_network_query_async(registry, path, body, token=token, transport=transport, nodes=nodes)
    )
