"""Differential privacy for counts: the discrete Gaussian mechanism and a per-researcher ρ ledger.

A count has sensitivity 1 (one person changes it by at most one). Releasing it with discrete
Gaussian noise of scale σ costs ρ = 1 / (2σ²) under zero-concentrated DP (Bun & Steinke 2016;
Canonne, Kamath & Steinke 2020); ρ adds up over releases. The mechanism is OpenDP's, so noise is
sampled exactly and the ρ it reports is the one spent. The ledger persists what each researcher has
spent at this node and refuses a release that would exceed the policy's budget.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from genofed.errors import DisclosureError

__all__ = ["BudgetStatement", "PrivacyLedger", "discrete_gaussian_count"]


def discrete_gaussian_count(count: int, rho: float) -> int:
    """Release ``count`` with discrete Gaussian noise calibrated to cost exactly ``rho`` (zCDP)."""
    import opendp.prelude as dp  # heavy: loaded only when a node has differential privacy on

    dp.enable_features("contrib")
    scale = math.sqrt(1.0 / (2.0 * rho))
    measurement = dp.m.make_gaussian(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=scale)
    return int(measurement(int(count)))


class BudgetStatement(BaseModel):
    """What a release cost and what is left, carried in the answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spent: float
    total_spent: float
    remaining: float


class PrivacyLedger:
    """Per-researcher ρ spent at this node, in one JSON file guarded by a file lock."""

    def __init__(self, path: Path, budget: float) -> None:
        self.path = path
        self.budget = budget
        path.parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _key(researcher: str) -> str:
        return hashlib.sha256(researcher.encode()).hexdigest()[:32]

    def spent(self, researcher: str) -> float:
        """ρ spent so far by ``researcher``."""
        if not self.path.exists():
            return 0.0
        return float(json.loads(self.path.read_text() or "{}").get(self._key(researcher), 0.0))

    def spend(self, researcher: str, rho: float) -> BudgetStatement:
        """Charge ``rho`` to ``researcher``; refuse (and charge nothing) when it exceeds the budget."""
        with self.path.open("a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                handle.seek(0)
                ledger: dict[str, float] = json.loads(handle.read() or "{}")
                key = self._key(researcher)
                total = ledger.get(key, 0.0) + rho
                if total > self.budget + 1e-12:
                    raise DisclosureError(
                        f"refused: this release costs ρ={rho:g} but only "
                        f"{max(self.budget - ledger.get(key, 0.0), 0.0):g} of your ρ={self.budget:g} "
                        "privacy budget at this node is left"
                    )
                ledger[key] = total
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(ledger, sort_keys=True))
                handle.flush()
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return BudgetStatement(spent=rho, total_spent=total, remaining=self.budget - total)
