"""GA4GH Passports: verification of signature, issuer, expiry, audience; visas to access levels."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from genofed.auth import AccessLevel, DemoBroker, PassportVerifier
from genofed.errors import AuthError

AUDIENCE = "genofed-node-se"


@pytest.fixture(scope="module")
def broker() -> DemoBroker:
    return DemoBroker.generate("https://broker.test")


@pytest.fixture(scope="module")
def verifier(broker: DemoBroker) -> PassportVerifier:
    return PassportVerifier({broker.issuer: broker.jwks()}, audience=AUDIENCE)


def test_verify__grants_and_affiliation_give_access_levels(
    broker: DemoBroker, verifier: PassportVerifier
) -> None:
    identity = verifier.verify(
        broker.passport("alice", audience=AUDIENCE, datasets=["se-onco"], affiliation="r@ki.se")
    )
    assert identity.level is AccessLevel.CONTROLLED
    assert identity.level_for("se-onco") is AccessLevel.CONTROLLED
    assert identity.level_for("se-rare") is AccessLevel.REGISTERED
    assert identity.affiliations == {"r@ki.se"}
    plain = verifier.verify(broker.passport("bob", audience=AUDIENCE))
    assert plain.level is AccessLevel.REGISTERED
    assert plain.datasets == frozenset()


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_verify__forged_by_another_key_is_refused(algorithm: str, verifier: PassportVerifier) -> None:
    forger = DemoBroker.generate("https://broker.test", algorithm=algorithm)  # same issuer name, other key
    with pytest.raises(AuthError, match="forged"):
        verifier.verify(forger.passport("mallory", audience=AUDIENCE, datasets=["se-onco"]))


def test_verify__altered_claims_break_the_signature(broker: DemoBroker, verifier: PassportVerifier) -> None:
    header, payload, signature = broker.passport("eve", audience=AUDIENCE).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "alice"
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthError, match="bad signature"):
        verifier.verify(f"{header}.{tampered}.{signature}")


def test_verify__expired_wrong_audience_untrusted_and_garbage(
    broker: DemoBroker, verifier: PassportVerifier
) -> None:
    with pytest.raises(AuthError, match="has expired"):
        verifier.verify(broker.passport("alice", audience=AUDIENCE, issued_at=1_000_000, lifetime=60))
    with pytest.raises(AuthError, match="another audience"):
        verifier.verify(broker.passport("alice", audience="genofed-node-nl"))
    stranger = DemoBroker.generate("https://elsewhere.test")
    with pytest.raises(AuthError, match="does not trust"):
        verifier.verify(stranger.passport("alice", audience=AUDIENCE))
    with pytest.raises(AuthError, match="not a JWT"):
        verifier.verify("not-a-token")


def test_verify__visa_from_untrusted_issuer_or_other_subject_grants_nothing(
    broker: DemoBroker, verifier: PassportVerifier
) -> None:
    stranger = DemoBroker.generate("https://elsewhere.test")
    foreign_visa = stranger.visa("alice", "ControlledAccessGrants", "se-onco")
    other_subject = broker.visa("bob", "ControlledAccessGrants", "se-onco")
    token = broker._sign(  # a passport carrying only those two visas
        {
            "iss": broker.issuer,
            "sub": "alice",
            "aud": AUDIENCE,
            "iat": 1,
            "exp": 4_000_000_000,
            "ga4gh_passport_v1": [foreign_visa, other_subject],
        }
    )
    identity = verifier.verify(token)
    assert identity.level is AccessLevel.REGISTERED
    assert identity.datasets == frozenset()


def test_broker__save_and_load_keep_the_keys(
    broker: DemoBroker, verifier: PassportVerifier, tmp_path: Path
) -> None:
    broker.save(tmp_path)
    assert (tmp_path / "broker.json").stat().st_mode & 0o777 == 0o600
    assert "d" not in json.loads((tmp_path / "jwks.json").read_text())["keys"][0]  # public only
    again = DemoBroker.load(tmp_path)
    assert verifier.verify(again.passport("alice", audience=AUDIENCE)).subject == "alice"
