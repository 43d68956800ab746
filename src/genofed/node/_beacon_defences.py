"""Re-identification defences of a node's Beacon (Shringarpure & Bustamante 2015; Raisaro et al. 2017).

Three layers, for callers below controlled access (anonymous and registered):

1. **Rare-allele hiding** (anonymous callers): an allele carried by fewer than the policy's
   ``rare_allele_min_carriers`` individuals does not exist for them. The rarest alleles carry the
   most information about membership.
2. **A per-individual disclosure budget**: every answer that reveals an allele carried by fewer
   than ``rare_fraction`` of the node's individuals costs each of its carriers one unit. An
   individual whose ``budget`` is spent no longer counts as a carrier in such answers, so an allele
   whose carriers are all spent is answered as absent. The budget is the individual's, not the
   caller's: many callers together cannot learn more about one person than one caller could.
3. **A rate limit** per caller (researcher, or client address for anonymous callers): at most
   ``rate`` Beacon requests per ``window`` seconds; more get 429.

The settings come from the node's settings (``beacon:`` in node.yaml). The spent budget is kept in the
node's state folder (``beacon-budget.json``, written atomically after each spend) so that a restart
does not refill it; the rate-limit windows are held in memory only (a restart forgets at most one
window of requests).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genofed.auth import AccessLevel, Identity
from genofed.errors import ConfigError

__all__ = ["BeaconDefences", "RateLimitedError"]


class RateLimitedError(Exception):
    """The caller asked more often than the rate limit allows."""


@dataclass
class BeaconDefences:
    """The defences' settings and their in-memory state."""

    enabled: bool = True
    #: Alleles carried by fewer than this share of the node's individuals spend their carriers' budget.
    rare_fraction: float = 0.05
    #: Rare-allele answers each individual may be part of.
    budget: int = 20
    #: Requests per caller per window.
    rate: int = 600
    window: float = 60.0
    #: Where the spent budget persists (None: memory only).
    state_file: Path | None = None
    _spent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _calls: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _people: int | None = None

    def __post_init__(self) -> None:
        if self.state_file is not None and self.state_file.exists():
            try:
                saved = json.loads(self.state_file.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{self.state_file}: unreadable Beacon budget state: {exc}") from exc
            self._spent.update({str(k): int(v) for k, v in saved.get("spent", {}).items()})

    def _save(self) -> None:
        """Write the spent budget (under the lock), atomically."""
        if self.state_file is None:
            return
        tmp = self.state_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"spent": dict(self._spent)}))
        os.replace(tmp, self.state_file)

    def admit(self, caller: str) -> None:
        """Count one request of ``caller``; raise :class:`RateLimitedError` beyond the limit."""
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(caller, deque())
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.rate:
                raise RateLimitedError(
                    f"more than {self.rate} Beacon requests in {self.window:g} s; try again later"
                )
            calls.append(now)

    def spent(self, individual: str) -> int:
        """Budget units spent by answers revealing this individual's rare alleles."""
        return self._spent.get(individual, 0)

    def visible(
        self, node: Any, rows: list[dict[str, Any]], identity: Identity, dataset: str
    ) -> list[dict[str, Any]]:
        """The matching alleles (rows with ``variant_id`` and ``carriers``) this caller may learn of.

        Spends the budget of the carriers of each rare allele that is revealed.
        """
        level = identity.level_for(dataset)
        if level >= AccessLevel.CONTROLLED:
            return rows
        if level <= AccessLevel.ANONYMOUS:
            minimum = node.policy.rare_allele_min_carriers
            rows = [r for r in rows if r["carriers"] >= minimum]
        if not self.enabled or not rows:
            return rows
        people = self._population(node)
        rare = [r for r in rows if r["carriers"] < self.rare_fraction * people]
        if not rare:
            return rows
        keys = [r["variant_id"] for r in rare]
        marks = ", ".join("?" for _ in keys)
        carriers: dict[int, list[str]] = defaultdict(list)
        table = node.store.lookup.execute(
            f"SELECT DISTINCT variant_id, individual_id FROM variant_calls WHERE variant_id IN ({marks})",
            keys,
        )
        for key, person in zip(
            table.column("variant_id").to_pylist(), table.column("individual_id").to_pylist(), strict=True
        ):
            carriers[key].append(person)
        hidden: set[int] = set()
        with self._lock:
            for key in keys:
                open_ = [p for p in carriers[key] if self._spent.get(p, 0) < self.budget]
                if not open_:
                    hidden.add(key)
                    continue
                for person in open_:
                    self._spent[person] += 1
            self._save()
        return [r for r in rows if r["variant_id"] not in hidden]

    def _population(self, node: Any) -> int:
        if self._people is None:
            self._people = int(
                node.store.lookup.execute(
                    "SELECT count(*) FROM (SELECT individual_id FROM individuals "
                    "UNION SELECT individual_id FROM analyses)"
                )
                .column(0)[0]
                .as_py()
            )
        return self._people
