"""The hash-chained audit log: appends, and verification that finds edits, drops and reordering."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from genofed.privacy import AuditLog, verify_audit_log

SECRET = b"k" * 32


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "audit.jsonl", SECRET)
    for i in range(5):
        audit.append({"request": f"count-{i}", "released": {"count": i * 10}})
    return audit


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def test_verify_audit_log__intact_log_has_no_problems(log: AuditLog) -> None:
    assert verify_audit_log(log.path, SECRET) == []
    assert [json.loads(line)["seq"] for line in _lines(log)] == [0, 1, 2, 3, 4]


def test_verify_audit_log__edited_line(log: AuditLog) -> None:
    lines = _lines(log)
    lines[2] = lines[2].replace('"count":20', '"count":21')
    log.path.write_text("".join(lines))
    problems = verify_audit_log(log.path, SECRET)
    assert [p.line for p in problems] == [3]
    assert "edited or forged" in str(problems[0])


def test_verify_audit_log__dropped_line(log: AuditLog) -> None:
    lines = _lines(log)
    del lines[1]
    log.path.write_text("".join(lines))
    problems = verify_audit_log(log.path, SECRET)
    assert {p.line for p in problems} == {2}
    assert any("dropped or reordered" in str(p) for p in problems)


def test_verify_audit_log__reordered_lines(log: AuditLog) -> None:
    lines = _lines(log)
    lines[1], lines[3] = lines[3], lines[1]
    log.path.write_text("".join(lines))
    assert {p.line for p in verify_audit_log(log.path, SECRET)} >= {2, 4}


def test_verify_audit_log__rechained_forgery_without_the_key_fails(log: AuditLog, tmp_path: Path) -> None:
    forged = AuditLog(tmp_path / "forged.jsonl", b"x" * 32)  # someone without the node secret
    for line in _lines(log):
        event = json.loads(line)["event"]
        event["released"]["count"] = 0
        forged.append(event)
    assert len(verify_audit_log(forged.path, SECRET)) == 5


def test_append__concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl", SECRET)
    threads = [
        threading.Thread(target=lambda i=i: [audit.append({"t": i, "k": k}) for k in range(20)])
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verify_audit_log(audit.path, SECRET) == []
    assert len(_lines(audit)) == 80
