"""Disclosure control and the audit log of a node."""

from ._audit import AuditLog, AuditProblem, verify_audit_log
from ._differencing import DifferencingGuard
from ._disclosure import CellStatus, ProtectedTable, ReleasedCount, protect_table, release_count
from ._noise import BudgetStatement, PrivacyLedger, discrete_gaussian_count
from ._policy import (
    DifferencingGuardSettings,
    DifferentialPrivacySettings,
    DisclosurePolicy,
    StatisticsLimits,
)

__all__ = [
    "AuditLog",
    "AuditProblem",
    "BudgetStatement",
    "CellStatus",
    "DifferencingGuard",
    "DifferencingGuardSettings",
    "DifferentialPrivacySettings",
    "DisclosurePolicy",
    "PrivacyLedger",
    "ProtectedTable",
    "ReleasedCount",
    "StatisticsLimits",
    "discrete_gaussian_count",
    "protect_table",
    "release_count",
    "verify_audit_log",
]
