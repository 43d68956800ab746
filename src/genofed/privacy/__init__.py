"""Disclosure control and the audit log of a node."""

from ._audit import AuditLog, AuditProblem, verify_audit_log
from ._disclosure import CellStatus, ProtectedTable, ReleasedCount, protect_table, release_count
from ._policy import (
    DifferencingGuardSettings,
    DifferentialPrivacySettings,
    DisclosurePolicy,
    StatisticsLimits,
)

__all__ = [
    "AuditLog",
    "AuditProblem",
    "CellStatus",
    "DifferencingGuardSettings",
    "DifferentialPrivacySettings",
    "DisclosurePolicy",
    "ProtectedTable",
    "ReleasedCount",
    "StatisticsLimits",
    "protect_table",
    "release_count",
    "verify_audit_log",
]
