"""Disclosure control and the audit log of a node."""

from ._attack import AttackPoint, AttackReport, lr_statistic, run_membership_attack
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
    "AttackPoint",
    "AttackReport",
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
    "lr_statistic",
    "protect_table",
    "release_count",
    "run_membership_attack",
    "verify_audit_log",
]
