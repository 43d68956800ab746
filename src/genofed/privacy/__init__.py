"""Disclosure control and the audit log of a node."""

from ._audit import AuditLog, AuditProblem, verify_audit_log

__all__ = ["AuditLog", "AuditProblem", "verify_audit_log"]
