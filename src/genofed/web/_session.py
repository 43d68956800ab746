"""The signed session cookie that carries a signed-in user's passport.

The portal keeps no server-side session store: the cookie holds the user's own GA4GH Passport (the
JWT their broker issued) followed by an HMAC-SHA256 tag keyed with the portal's secret. A passport
with many visas is longer than one cookie may be, so the value is split over numbered cookies
(``genofed_portal`` holds their count, ``genofed_portal_0``... the chunks). The cookies are
``HttpOnly`` (page scripts cannot read the token) and ``SameSite=Lax`` (other sites cannot post with
them). Cookies whose tag does not verify, that are incomplete, or whose passport has expired are
treated as no session. The portal forwards exactly this token to the nodes,
so each node's audit log names the user, and the nodes -- not the portal -- decide what they release.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from genofed.errors import AuthError

__all__ = [
    "COOKIE",
    "MAX_CHUNKS",
    "MAX_COOKIE_BYTES",
    "Session",
    "open_session",
    "passport_claims",
    "seal_session",
    "session_cookie_names",
]

COOKIE = "genofed_portal"
#: Browsers keep cookies up to 4096 bytes (name, value and attributes): a value stays clear of it.
MAX_COOKIE_BYTES = 3800
#: A passport with many visas (RS256 ones are large) is split over at most this many cookies.
MAX_CHUNKS = 8


@dataclass(frozen=True)
class Session:
    """A signed-in user: the passport's subject and issuer, its expiry, and the passport itself."""

    subject: str
    issuer: str
    expires: int
    token: str

    @property
    def seconds_left(self) -> int:
        return max(0, self.expires - int(time.time()))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, b"genofed portal session v1|" + payload.encode(), hashlib.sha256).digest())


def passport_claims(token: str) -> Session:
    """The subject, issuer and expiry a passport states (unverified: the nodes verify it).

    Raises
    ------
    AuthError
        The text is not a JWT, lacks ``sub``/``iss``/``exp``, or has expired.
    """
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise AuthError("the passport is not a JWT (expected three base64url parts separated by dots)")
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error):
        raise AuthError("the passport's claims are not base64url-encoded JSON") from None
    if not isinstance(claims, dict):
        raise AuthError("the passport's claims are not a JSON object")
    missing = [c for c in ("sub", "iss", "exp") if c not in claims]
    if missing:
        raise AuthError(f"the passport lacks the claim(s) {', '.join(missing)}")
    try:
        expires = int(claims["exp"])
    except (TypeError, ValueError):
        raise AuthError(f"the passport's exp is not a time (got {claims['exp']!r})") from None
    if expires <= time.time():
        raise AuthError("the passport has expired; ask your broker for a new one")
    return Session(
        subject=str(claims["sub"]), issuer=str(claims["iss"]), expires=expires, token=token.strip()
    )


def seal_session(session: Session, key: bytes) -> list[tuple[str, str]]:
    """The cookies that carry ``session``: ``(name, value)`` pairs, the count first, then the chunks.

    Raises
    ------
    AuthError
        The passport is too large even for :data:`MAX_CHUNKS` cookies.
    """
    value = f"{session.token}~{_tag(key, session.token)}"
    chunks = [value[i : i + MAX_COOKIE_BYTES] for i in range(0, len(value), MAX_COOKIE_BYTES)]
    if len(chunks) > MAX_CHUNKS:
        raise AuthError(
            f"the passport is too large to keep in browser cookies ({len(value)} bytes, at most "
            f"{MAX_CHUNKS * MAX_COOKIE_BYTES}); ask the broker for one with fewer visas"
        )
    return [(COOKIE, str(len(chunks))), *((f"{COOKIE}_{n}", chunk) for n, chunk in enumerate(chunks))]


def session_cookie_names() -> list[str]:
    """Every cookie name a session may use (to delete them all on sign-out)."""
    return [COOKIE, *(f"{COOKIE}_{n}" for n in range(MAX_CHUNKS))]


def open_session(cookies: Mapping[str, str], key: bytes) -> Session | None:
    """The session in a request's cookies, or None when absent, altered, incomplete or expired."""
    try:
        count = int(cookies.get(COOKIE, ""))
    except ValueError:
        return None
    if not 1 <= count <= MAX_CHUNKS:
        return None
    parts = [cookies.get(f"{COOKIE}_{n}") for n in range(count)]
    if any(part is None for part in parts):
        return None
    token, _, tag = "".join(p for p in parts if p is not None).rpartition("~")
    if not token or not hmac.compare_digest(tag, _tag(key, token)):
        return None
    try:
        return passport_claims(token)  # also None once the passport has expired
    except AuthError:
        return None
