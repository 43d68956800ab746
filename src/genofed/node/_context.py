"""The state of one running node: its settings, store, policy, verifier and disclosure memory.

One :class:`NodeContext` per application (``app.state.node``), never a module-level singleton, so
several nodes run side by side in one process (tests, the demo).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genofed.api import NodeIdentity
from genofed.auth import PassportVerifier
from genofed.errors import ConfigError
from genofed.privacy import AuditLog, DifferencingGuard, DisclosurePolicy, PrivacyLedger
from genofed.qa import SampleQcPolicy, SampleQcSummary, flag_samples
from genofed.store import Catalog, NodeStore, StoreBackend, open_backend

from ._settings import NodeSettings

__all__ = ["DesignCache", "NodeContext"]


class DesignCache:
    """A small LRU of design rows (one entry per design query), emptied when the store's catalog moves.

    An iterative fit (Newton–Raphson) sends the same cohort and covariates with a new ``beta`` each
    round; the members' rows do not change between rounds, so the node reads them once. Entries are
    keyed by the design query (its SQL and parameters: the cohort and the covariates, not ``beta``)
    within one catalog version; publishing a batch bumps the version, and the next lookup drops every
    entry. The rows stay in the node's memory only, like any query result.
    """

    def __init__(self, maxsize: int = 4) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._version: int | None = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, version: int, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The entry for ``key`` at catalog ``version``, computed (outside the lock) when absent."""
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            self.misses += 1
        value = compute()
        with self._lock:
            if version == self._version:
                self._entries[key] = value
                self._entries.move_to_end(key)
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._version = None

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class NodeContext:
    """Everything the routes of one node share."""

    settings: NodeSettings
    store: StoreBackend
    policy: DisclosurePolicy
    verifier: PassportVerifier | None
    audit: AuditLog
    ledger: PrivacyLedger
    guard_dir: Path
    #: Serialises check → spend → record of the differencing memory and the privacy ledger, so two
    #: concurrent requests of one researcher cannot both pass a check the other would fail.
    disclosure_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Design rows of recent statistics requests, reused across the iterations of one fit.
    design_cache: DesignCache = field(default_factory=DesignCache)
    #: The latest released group sets the differencing guard checked and recorded (bounded).
    _guarded: OrderedDict[Hashable, None] = field(default_factory=OrderedDict)

    @classmethod
    def open(cls, settings: NodeSettings) -> NodeContext:
        """Open the store, read the policy and the trusted keys, and prepare the node's state folder.

        Raises
        ------
        StoreError
            ``data_dir`` is not a node store.
        ConfigError
            The policy or a JWKS file is unreadable, or the state folder cannot be made.
        """
        policy = settings.load_policy()
        verifier = settings.load_verifier()
        qc = _flag_samples(settings)
        store = open_backend(settings.data_dir, settings.store)
        state = settings.state_path
        try:
            state.mkdir(parents=True, exist_ok=True)
            state.chmod(0o700)  # differencing memory and ledger are per-researcher records
        except OSError as exc:
            store.close()
            raise ConfigError(f"cannot prepare the node's state folder {state}: {exc}") from exc
        dp = policy.differential_privacy
        context = cls(
            settings=settings,
            store=store,
            policy=policy,
            verifier=verifier,
            audit=AuditLog(settings.audit_log_path, store.secret),
            # Spent only when the policy turns differential privacy on.
            ledger=PrivacyLedger(state / "privacy-ledger.json", dp.rho_budget),
            guard_dir=state / "differencing",
        )
        if qc is not None:
            context.audit.append(
                {
                    "type": "sample_qc",
                    "policy": settings.sample_qc.describe() if settings.sample_qc else "",
                    "analyses": qc.analyses,
                    "failed": qc.failed,
                    "reasons": dict(qc.reasons),
                }
            )
        return context

    @property
    def identity(self) -> NodeIdentity:
        """Which node this is, as answers name it."""
        s = self.settings
        return NodeIdentity(node_id=s.node_id, country=s.country, name=s.display_name)

    def guard(self, min_difference: int, *, small: bool = False) -> DifferencingGuard:
        """The differencing guard over this node's memory, with the given smallest allowed difference.

        Two memories: groups whose count was released with a value, and (``small``) groups whose
        count was shown as "<k" -- a "<k" next to an exact count can isolate a person too, but two
        "<k" together cannot, so the engine compares the small memory with exact groups only.
        """
        folder = self.guard_dir / "small" if small else self.guard_dir
        return DifferencingGuard(folder, self.store.secret, min_difference=min_difference)

    def guarded_before(self, key: Hashable) -> bool:
        """Whether the differencing guard already checked and recorded exactly these groups."""
        with self.disclosure_lock:
            return key in self._guarded

    def remember_guarded(self, key: Hashable, *, keep: int = 8) -> None:
        """Note group sets the guard recorded (call under ``disclosure_lock``); the oldest go first."""
        self._guarded[key] = None
        self._guarded.move_to_end(key)
        while len(self._guarded) > keep:
            self._guarded.popitem(last=False)

    def catalog_version(self) -> int:
        """The store catalog's version, which every published batch bumps (the design cache's epoch)."""
        try:
            text = (self.settings.data_dir / "catalog.json").read_bytes()
        except FileNotFoundError:
            return 0
        return Catalog.model_validate_json(text).version

    def close(self) -> None:
        """Close the store's database connection (and drop cached design rows)."""
        self.design_cache.clear()
        self.store.close()


def _flag_samples(settings: NodeSettings) -> SampleQcSummary | None:
    """Judge every analysis under the node's sample-QC policy, set reference material apart, and store
    the verdicts (before serving)."""
    reference = settings.proficiency.reference_samples if settings.proficiency else ()
    if settings.sample_qc is None and not reference:
        return None
    with NodeStore.open(settings.data_dir) as store:
        # Reference material (cell lines for proficiency testing) is set apart from patients' data.
        pseudonyms = [store.pseudonymise(sample) for sample in reference]
        return flag_samples(store, settings.sample_qc or SampleQcPolicy(), reference=pseudonyms)
