"""The state of one running node: its settings, store, policy, verifier and disclosure memory.

One :class:`NodeContext` per application (``app.state.node``), never a module-level singleton, so
several nodes run side by side in one process (tests, the demo).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from genofed.api import NodeIdentity
from genofed.auth import PassportVerifier
from genofed.errors import ConfigError
from genofed.privacy import AuditLog, DifferencingGuard, DisclosurePolicy, PrivacyLedger
from genofed.store import NodeStore

from ._settings import NodeSettings

__all__ = ["NodeContext"]


@dataclass
class NodeContext:
    """Everything the routes of one node share."""

    settings: NodeSettings
    store: NodeStore
    policy: DisclosurePolicy
    verifier: PassportVerifier | None
    audit: AuditLog
    ledger: PrivacyLedger
    guard_dir: Path
    #: Serialises check → spend → record of the differencing memory and the privacy ledger, so two
    #: concurrent requests of one researcher cannot both pass a check the other would fail.
    disclosure_lock: threading.Lock = field(default_factory=threading.Lock)

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
        store = NodeStore.open(settings.data_dir)
        state = settings.state_path
        try:
            state.mkdir(parents=True, exist_ok=True)
            state.chmod(0o700)  # differencing memory and ledger are per-researcher records
        except OSError as exc:
            store.close()
            raise ConfigError(f"cannot prepare the node's state folder {state}: {exc}") from exc
        dp = policy.differential_privacy
        return cls(
            settings=settings,
            store=store,
            policy=policy,
            verifier=verifier,
            audit=AuditLog(settings.audit_log_path, store.secret),
            # Spent only when the policy turns differential privacy on.
            ledger=PrivacyLedger(state / "privacy-ledger.json", dp.rho_budget),
            guard_dir=state / "differencing",
        )

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

    def close(self) -> None:
        """Close the store's database connection."""
        self.store.close()
