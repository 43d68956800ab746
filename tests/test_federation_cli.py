"""``genofed auth init|token`` (the demo broker) and the argument checks of ``genofed study run``.

The study command's runs against real nodes are in ``test_federation_e2e.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from joserfc.jwk import KeySet
from typer.testing import CliRunner

from genofed.auth import AccessLevel, DemoBroker, PassportVerifier
from genofed.cli import app
from genofed.errors import AuthError

runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_auth_token__a_broker_from_init_signs_passports_nodes_verify(tmp_path: Path, algorithm: str) -> None:
    code, out = invoke(
        "auth", "init", "--out", tmp_path / "b", "--issuer", "https://broker.test", "--algorithm", algorithm
    )
    assert code == 0, out
    assert (tmp_path / "b" / "broker.json").stat().st_mode & 0o777 == 0o600
    keys = KeySet.import_key_set(json.loads((tmp_path / "b" / "jwks.json").read_text()))
    assert all("d" not in k.as_dict(private=False) for k in keys.keys), "jwks.json must be public keys only"
    code, token = invoke(
        "auth", "token", "--broker", tmp_path / "b", "--subject", "alice", "--audience", "se",
        "--audience", "nl", "--dataset", "se-onco", "--affiliation", "researcher@ki.se", "--lifetime", "60",
    )  # fmt: skip
    assert code == 0, token
    token = token.strip()
    for audience in ("se", "nl"):
        identity = PassportVerifier({"https://broker.test": keys}, audience=audience).verify(token)
        assert (identity.subject, identity.level) == ("alice", AccessLevel.CONTROLLED)
        assert identity.datasets == {"se-onco"}
        assert identity.affiliations == {"researcher@ki.se"}
    with pytest.raises(AuthError, match="another audience"):
        PassportVerifier({"https://broker.test": keys}, audience="dk").verify(token)


def test_auth_token__lifetime_sets_the_expiry(tmp_path: Path) -> None:
    DemoBroker.generate("https://broker.test").save(tmp_path)
    code, token = invoke(
        "auth", "token", "--broker", tmp_path, "--subject", "bob", "--audience", "se", "--lifetime", "1"
    )
    assert code == 0
    verifier = PassportVerifier(
        {"https://broker.test": DemoBroker.load(tmp_path).jwks()}, audience="se", leeway=0
    )
    assert verifier.verify(token.strip()).subject == "bob"
    time.sleep(2.1)
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(token.strip())


def test_auth_init__refuses_to_overwrite_a_broker_without_force(tmp_path: Path) -> None:
    assert invoke("auth", "init", "--out", tmp_path, "--issuer", "https://a")[0] == 0
    first = (tmp_path / "broker.json").read_text()
    code, out = invoke("auth", "init", "--out", tmp_path, "--issuer", "https://b")
    assert code == 1
    assert "already holds a broker" in out
    assert "--force" in out
    assert (tmp_path / "broker.json").read_text() == first
    assert invoke("auth", "init", "--out", tmp_path, "--issuer", "https://b", "--force")[0] == 0
    assert DemoBroker.load(tmp_path).issuer == "https://b"


def test_auth_token__a_missing_or_broken_broker_is_a_clear_error(tmp_path: Path) -> None:
    code, out = invoke("auth", "token", "--broker", tmp_path, "--subject", "a", "--audience", "se")
    assert code == 1
    assert "no broker here" in out
    assert "genofed auth init" in out
    (tmp_path / "broker.json").write_text("{not json")
    code, out = invoke("auth", "token", "--broker", tmp_path, "--subject", "a", "--audience", "se")
    assert code == 1
    assert "not a broker file" in out


def test_study_run__bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    registry = tmp_path / "nodes.yaml"
    registry.write_text("nodes:\n- {id: se, url: 'http://127.0.0.1:9', country: SE}\n")
    study = tmp_path / "study.yaml"
    study.write_text("name: s\nanalyses: [{kind: count}]\n")
    token_file = tmp_path / "token"
    token_file.write_text("abc\n")
    code, out = invoke(
        "study", "run", study, "--registry", registry, "--token", "x", "--token-file", token_file
    )
    assert code == 1
    assert "ConfigError" in out
    assert "not both" in out
    study.write_text("name: s\nanalyses: [{kind: median}]\n")
    code, out = invoke("study", "run", study, "--registry", registry)
    assert code == 1
    assert "study.yaml: analyses[0]: Input tag 'median'" in out
    assert "Traceback" not in out
