"""The node's audit log: append-only JSON lines, each chained to the one before by a keyed hash.

Every request and every released number is appended. Line *n* carries ``seq = n``, the previous
line's ``mac`` as ``prev``, and its own ``mac = HMAC-SHA256(key, canonical JSON of the line without
mac)``. :func:`verify_audit_log` recomputes the chain, so an edited line (its mac no longer fits), a
dropped line (a gap in ``seq`` and a ``prev`` that does not match) and reordered lines are all found.
The key is derived from the node secret: someone who can write the file but does not hold the secret
cannot re-forge the chain after an edit.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AuditLog", "AuditProblem", "verify_audit_log"]

GENESIS = "0" * 64


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(key: bytes, entry: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()


def audit_key(secret: bytes) -> bytes:
    """The audit log's HMAC key, derived from (never equal to) the node secret."""
    return hmac.new(secret, b"genofed audit log v1", hashlib.sha256).digest()


class AuditLog:
    """Appends hash-chained events to a JSON-lines file; safe across threads and processes."""

    def __init__(self, path: Path, secret: bytes) -> None:
        self.path = path
        self._key = audit_key(secret)
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        """Append one event (any JSON-serialisable mapping); return the written line as a dict."""
        with self.path.open("a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                last = _last_line(handle)
                seq, prev = (0, GENESIS) if last is None else (last["seq"] + 1, last["mac"])
                entry: dict[str, Any] = {
                    "seq": seq,
                    "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    "prev": prev,
                    "event": event,
                }
                entry["mac"] = _mac(self._key, entry)
                handle.seek(0, os.SEEK_END)
                handle.write(_canonical(entry) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return entry


def _last_line(handle: Any) -> dict[str, Any] | None:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    if size == 0:
        return None
    block = 4096
    data = b""
    position = size
    while position > 0:
        step = min(block, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
        lines = data.rstrip(b"\n").split(b"\n")
        if len(lines) > 1 or position == 0:
            return dict(json.loads(lines[-1]))
    return None


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One fault found by verification: the 1-based line and what is wrong with it."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def verify_audit_log(path: Path, secret: bytes) -> list[AuditProblem]:
    """Check the whole chain; return the problems found (an empty list means the log is intact)."""
    key = audit_key(secret)
    problems: list[AuditProblem] = []
    expected_seq, expected_prev = 0, GENESIS
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                entry = json.loads(raw)
                mac = entry.pop("mac")
                seq, prev = entry["seq"], entry["prev"]
            except (ValueError, KeyError, TypeError, AttributeError):
                problems.append(AuditProblem(number, "not an audit entry (unparseable or missing fields)"))
                continue
            if not hmac.compare_digest(mac, _mac(key, entry)):
                problems.append(AuditProblem(number, "content does not match its MAC (edited or forged)"))
            if seq != expected_seq:
                problems.append(AuditProblem(number, f"sequence {seq} where {expected_seq} was expected"))
            if prev != expected_prev:
                problems.append(
                    AuditProblem(number, "does not chain to the line before (dropped or reordered)")
                )
            expected_seq, expected_prev = seq + 1, mac
    return problems
