"""Verification of GA4GH Passports (v1.2) and their visas.

A Passport is a JWT from a broker; its ``ga4gh_passport_v1`` claim lists visas, each a JWT signed by
a visa issuer, whose ``ga4gh_visa_v1`` claim says what it asserts. A node trusts a configured set of
issuers (their JWKS) and checks, for the passport and each visa: signature, issuer, expiry (with a
small leeway), and for the passport the audience. Visas a node cannot verify are ignored, not fatal:
a passport may carry visas from issuers this node does not trust.

``ControlledAccessGrants`` visas grant datasets (their ``value`` is the dataset's identifier, or a URL
ending in it); ``AffiliationAndRole`` visas are recorded as affiliations.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from genofed.errors import AuthError

from ._identity import AccessLevel, Identity

__all__ = ["PassportVerifier"]

_ALGORITHMS = ["ES256", "RS256"]


class PassportVerifier:
    """Verifies passports against trusted issuers' key sets for one audience (this node)."""

    def __init__(self, trusted: Mapping[str, KeySet], *, audience: str, leeway: int = 30) -> None:
        if not trusted:
            raise ValueError("a passport verifier needs at least one trusted issuer")
        self.trusted = dict(trusted)
        self.audience = audience
        self.leeway = leeway

    def _decode(self, token: str, *, what: str) -> dict[str, Any]:
        issuer = _unverified_issuer(token, what=what)  # only to choose the keys to verify with
        keys = self.trusted.get(str(issuer))
        if keys is None:
            raise AuthError(f"{what} is from issuer {issuer!r}, which this node does not trust")
        try:
            decoded = jwt.decode(token, keys, algorithms=_ALGORITHMS)
        except BadSignatureError as exc:
            raise AuthError(f"{what} has a bad signature (forged or altered)") from exc
        except InvalidKeyIdError as exc:
            raise AuthError(f"{what} is signed with a key its issuer does not publish (forged?)") from exc
        except (JoseError, ValueError) as exc:
            raise AuthError(f"{what} cannot be verified: {exc}") from exc
        return dict(decoded.claims)

    def _validate(self, claims: dict[str, Any], *, what: str, audience: bool) -> None:
        rules: dict[str, Any] = {
            "exp": {"essential": True},
            "iat": {"essential": False},
            "sub": {"essential": True},
        }
        if audience:
            rules["aud"] = {"essential": True, "value": self.audience}
        registry = jwt.JWTClaimsRegistry(leeway=self.leeway, **rules)
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise AuthError(f"{what} has expired") from exc
        except MissingClaimError as exc:
            raise AuthError(f"{what} lacks a required claim: {exc.description}") from exc
        except InvalidClaimError as exc:
            if exc.claim == "aud":
                raise AuthError(f"{what} is for another audience, not {self.audience!r}") from exc
            raise AuthError(f"{what} has an invalid claim: {exc.description}") from exc

    def verify(self, token: str) -> Identity:
        """Verify a passport and return the caller's identity; raise :class:`AuthError` with the reason."""
        claims = self._decode(token, what="the passport")
        self._validate(claims, what="the passport", audience=True)
        datasets: set[str] = set()
        affiliations: set[str] = set()
        now = time.time()
        for raw in claims.get("ga4gh_passport_v1") or []:
            try:
                visa_claims = self._decode(str(raw), what="a visa")
                self._validate(visa_claims, what="a visa", audience=False)
            except AuthError:
                continue  # an unverifiable visa grants nothing; the passport itself stays valid
            if visa_claims.get("sub") != claims.get("sub"):
                continue  # a visa for someone else
            visa = visa_claims.get("ga4gh_visa_v1") or {}
            if float(visa.get("asserted", 0)) > now + self.leeway:
                continue
            kind, value = visa.get("type"), str(visa.get("value", ""))
            if kind == "ControlledAccessGrants" and value:
                datasets.add(value.rstrip("/").rsplit("/", 1)[-1])
            elif kind == "AffiliationAndRole" and value:
                affiliations.add(value)
        level = AccessLevel.CONTROLLED if datasets else AccessLevel.REGISTERED
        return Identity(
            subject=str(claims["sub"]),
            issuer=str(claims["iss"]),
            level=level,
            datasets=frozenset(datasets),
            affiliations=frozenset(affiliations),
        )


def _unverified_issuer(token: str, *, what: str) -> str:
    try:
        payload = token.split(".")[1]
        padded = payload + "=" * (-len(payload) % 4)
        return str(json.loads(base64.urlsafe_b64decode(padded)).get("iss"))
    except (IndexError, ValueError, AttributeError):
        raise AuthError(f"{what} is not a JWT (expected three base64url parts)") from None
