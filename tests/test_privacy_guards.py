"""The differencing guard (tracker attacks) and the differential-privacy ledger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genofed.errors import DisclosureError
from genofed.privacy import DifferencingGuard, PrivacyLedger, discrete_gaussian_count

SECRET = b"s" * 32


@pytest.fixture
def guard(tmp_path: Path) -> DifferencingGuard:
    return DifferencingGuard(tmp_path / "guard", SECRET, min_difference=5)


def test_differencing_guard__refuses_a_tracker_pair(guard: DifferencingGuard) -> None:
    cohort = [f"p{i}" for i in range(40)]
    guard.check_and_record("alice", cohort)
    with pytest.raises(DisclosureError, match="differs from one you were already answered by 1 individual"):
        guard.check_and_record("alice", cohort[:-1])  # everyone but one person
    with pytest.raises(DisclosureError, match="by 2 individual"):
        guard.check_and_record("alice", [*cohort, "x1", "x2"])


def test_differencing_guard__allows_same_cohort_large_differences_and_other_researchers(
    guard: DifferencingGuard,
) -> None:
    cohort = [f"p{i}" for i in range(40)]
    guard.check_and_record("alice", cohort)
    guard.check_and_record("alice", cohort)  # the same question again reveals nothing new
    guard.check_and_record("alice", cohort[:-5])  # differs by the minimum: allowed
    guard.check_and_record("bob", cohort[:-1])  # the guard is per researcher


def test_differencing_guard__stores_no_pseudonyms(guard: DifferencingGuard, tmp_path: Path) -> None:
    guard.record("alice", ["pseudonym-123"])
    stored = b"".join(p.read_bytes() for p in (tmp_path / "guard").rglob("*") if p.is_file())
    assert b"pseudonym-123" not in stored
    assert b"alice" not in stored


def test_privacy_ledger__spends_until_the_budget_is_gone(tmp_path: Path) -> None:
    ledger = PrivacyLedger(tmp_path / "ledger.json", budget=0.1)
    statement = ledger.spend("alice", 0.04)
    assert statement.remaining == pytest.approx(0.06)
    ledger.spend("alice", 0.04)
    with pytest.raises(DisclosureError, match=r"only 0\.02 of your ρ=0\.1"):
        ledger.spend("alice", 0.04)
    assert ledger.spent("alice") == pytest.approx(0.08)  # a refused release costs nothing
    assert PrivacyLedger(tmp_path / "ledger.json", budget=0.1).spent("alice") == pytest.approx(0.08)
    assert ledger.spent("bob") == 0.0


def test_discrete_gaussian_count__unbiased_with_the_calibrated_spread() -> None:
    rho = 0.02  # sigma = 5
    draws = np.array([discrete_gaussian_count(1000, rho) for _ in range(2000)])
    assert all(isinstance(int(d), int) for d in draws[:5])
    assert abs(draws.mean() - 1000) < 0.5
    assert draws.std() == pytest.approx(5.0, rel=0.1)
