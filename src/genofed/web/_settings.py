"""The portal's settings: which federation it fronts, how users sign in, how sessions are signed.

Validated once at start-up (:meth:`PortalSettings.create`): a registry that cannot be read, a broker
directory without a broker, or a session key shorter than 32 bytes is a
:class:`~genofed.errors.ConfigError` naming what is wrong -- the portal never starts half-configured.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from genofed.auth import DemoBroker
from genofed.errors import ConfigError
from genofed.federation import Registry

__all__ = ["SECRET_ENV", "PortalSettings"]

#: Environment variable holding the session-signing key (hex or text, at least 32 bytes).
SECRET_ENV = "GENOFED_PORTAL_SECRET"


@dataclass(frozen=True)
class PortalSettings:
    """What a portal needs to run.

    Parameters
    ----------
    registry
        The federation's nodes (the same registry ``genofed study run`` reads).
    broker
        A demo passport broker to sign users in with (demos and tests only); None: users paste a
        passport issued elsewhere.
    secret
        The key that signs session cookies (at least 32 bytes).
    secure_cookies
        Mark the session cookie ``Secure`` (sent over HTTPS only); on for any non-loopback deployment.
    """

    registry: Registry
    broker: DemoBroker | None
    secret: bytes
    secure_cookies: bool = False

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ConfigError(
                f"the portal's session key has {len(self.secret)} bytes; give at least 32 (e.g. "
                f"{SECRET_ENV}=$(openssl rand -hex 32))"
            )

    @classmethod
    def create(
        cls,
        registry: str | Path | Registry,
        *,
        broker: str | Path | DemoBroker | None = None,
        secret: bytes | str | None = None,
        secure_cookies: bool = False,
    ) -> PortalSettings:
        """Settings from a registry file and an optional demo broker directory.

        ``secret`` defaults to ``$GENOFED_PORTAL_SECRET``, else a random key (sessions then end when
        the portal restarts).

        Raises
        ------
        ConfigError
            The registry or the broker cannot be read, or the key is too short.
        """
        nodes = registry if isinstance(registry, Registry) else Registry.load(registry)
        issuer = broker if isinstance(broker, DemoBroker) or broker is None else _load_broker(Path(broker))
        key = secret if secret is not None else os.environ.get(SECRET_ENV)
        raw = key.encode() if isinstance(key, str) else key
        return cls(nodes, issuer, raw if raw is not None else secrets.token_bytes(32), secure_cookies)


def _load_broker(directory: Path) -> DemoBroker:
    try:
        return DemoBroker.load(directory)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"--broker {directory}: no demo broker here ({exc.filename} missing); "
            "give the directory `genofed auth init` (or `genofed demo`) wrote"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"--broker {directory}: broker.json is not a broker written by `genofed auth init`"
        ) from exc
