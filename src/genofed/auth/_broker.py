"""A small GA4GH Passport broker for demos and tests: real keys, real signed tokens.

It plays both roles a real deployment separates (the broker that signs passports, and the visa
issuer, e.g. a data access committee, that signs visas). Keys are ES256 (P-256) or RS256 (2048 bit)
and can be saved to and loaded from a directory, so nodes can be configured with its public JWKS.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

__all__ = ["DemoBroker"]


class DemoBroker:
    """Issues passports with ``ControlledAccessGrants`` and ``AffiliationAndRole`` visas."""

    def __init__(self, issuer: str, key: ECKey | RSAKey) -> None:
        self.issuer = issuer
        self._key = key
        self.algorithm = "ES256" if isinstance(key, ECKey) else "RS256"

    @classmethod
    def generate(cls, issuer: str, *, algorithm: Literal["ES256", "RS256"] = "ES256") -> DemoBroker:
        """A broker with a new key pair."""
        kid = uuid.uuid4().hex[:12]
        key: ECKey | RSAKey = (
            ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": algorithm})
            if algorithm == "ES256"
            else RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": algorithm})
        )
        return cls(issuer, key)

    def jwks(self) -> KeySet:
        """The public key set nodes trust for this issuer."""
        return KeySet.import_key_set({"keys": [self._key.as_dict(private=False)]})

    def save(self, directory: Path) -> None:
        """Write ``broker.json`` (private; 0600) and ``jwks.json`` (public) to ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        private = directory / "broker.json"
        private.write_text(json.dumps({"issuer": self.issuer, "key": self._key.as_dict(private=True)}))
        private.chmod(0o600)
        (directory / "jwks.json").write_text(json.dumps(self.jwks().as_dict(private=False), indent=1))

    @classmethod
    def load(cls, directory: Path) -> DemoBroker:
        """Read a broker saved by :meth:`save`."""
        data = json.loads((directory / "broker.json").read_text())
        key_data = data["key"]
        key: ECKey | RSAKey = (
            ECKey.import_key(key_data) if key_data["kty"] == "EC" else RSAKey.import_key(key_data)
        )
        return cls(data["issuer"], key)

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": self.algorithm, "kid": self._key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._key)

    def visa(
        self, subject: str, kind: str, value: str, *, lifetime: int = 3600, source: str | None = None
    ) -> str:
        """One signed visa (``ga4gh_visa_v1``) for ``subject``."""
        now = int(time.time())
        return self._sign(
            {
                "iss": self.issuer,
                "sub": subject,
                "iat": now,
                "exp": now + lifetime,
                "jti": uuid.uuid4().hex,
                "ga4gh_visa_v1": {
                    "type": kind,
                    "asserted": now,
                    "value": value,
                    "source": source or self.issuer,
                    "by": "dac" if kind == "ControlledAccessGrants" else "so",
                },
            }
        )

    def passport(
        self,
        subject: str,
        *,
        audience: str | Sequence[str],
        datasets: Sequence[str] = (),
        affiliation: str | None = None,
        lifetime: int = 3600,
        issued_at: int | None = None,
    ) -> str:
        """A signed passport for ``subject`` carrying a grant per dataset and an optional affiliation."""
        now = int(time.time()) if issued_at is None else issued_at
        visas = [self.visa(subject, "ControlledAccessGrants", d, lifetime=lifetime) for d in datasets]
        if affiliation:
            visas.append(self.visa(subject, "AffiliationAndRole", affiliation, lifetime=lifetime))
        return self._sign(
            {
                "iss": self.issuer,
                "sub": subject,
                "aud": list(audience) if not isinstance(audience, str) else audience,
                "iat": now,
                "exp": now + lifetime,
                "jti": uuid.uuid4().hex,
                "ga4gh_passport_v1": visas,
            }
        )
