"""``genofed auth init|token``: a demo GA4GH Passport broker (real keys, real signed tokens)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from genofed.auth import DemoBroker
from genofed.errors import ConfigError

from ._app import app, console, sub_app

__all__ = ["Algorithm", "auth_init", "auth_token"]

auth_app = sub_app("A demo GA4GH Passport broker: signing keys and passports for demos and tests.")
app.add_typer(auth_app, name="auth")


class Algorithm(StrEnum):
    """Signature algorithm of the broker's key."""

    ES256 = "ES256"
    RS256 = "RS256"


@auth_app.command("init")
def auth_init(
    out: Annotated[Path, typer.Option("--out", help="directory for broker.json (private) and jwks.json")],
    issuer: Annotated[str, typer.Option("--issuer", help="the broker's issuer URL (the tokens' iss)")],
    algorithm: Annotated[Algorithm, typer.Option("--algorithm", help="ES256 (P-256) or RS256")] = (
        Algorithm.ES256
    ),
    force: Annotated[bool, typer.Option("--force", help="replace a broker already in --out")] = False,
) -> None:
    """Create a broker key pair; nodes trust the issuer with the public jwks.json written beside it."""
    if (out / "broker.json").exists() and not force:
        raise ConfigError(f"{out} already holds a broker (broker.json); pass --force to replace its key")
    broker = DemoBroker.generate(issuer, algorithm=algorithm.value)
    try:
        broker.save(out)
    except OSError as exc:
        raise ConfigError(f"cannot write the broker to {out}: {exc.strerror or exc}") from exc
    console.print(f"[green]wrote[/] {out / 'broker.json'} (private key, mode 0600) and {out / 'jwks.json'}")
    console.print(f"issuer {issuer}, {broker.algorithm}; nodes trust it with jwks.json")


@auth_app.command("token")
def auth_token(
    broker_dir: Annotated[Path, typer.Option("--broker", help="directory written by `genofed auth init`")],
    subject: Annotated[str, typer.Option("--subject", help="the researcher (the token's sub)")],
    audience: Annotated[
        list[str], typer.Option("--audience", help="a node's audience; repeat for several nodes")
    ],
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", help="grant access to a dataset; repeatable")
    ] = None,
    affiliation: Annotated[
        str | None, typer.Option("--affiliation", help="an AffiliationAndRole, e.g. researcher@ki.se")
    ] = None,
    lifetime: Annotated[
        int, typer.Option("--lifetime", min=1, help="seconds until the token expires")
    ] = 3600,
) -> None:
    """Print a signed passport (a JWT) on standard output, e.g. ``TOKEN=$(genofed auth token ...)``."""
    try:
        broker = DemoBroker.load(broker_dir)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{broker_dir}: no broker here ({exc.filename} missing); run `genofed auth init`"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:  # JSON, key import and layout errors
        raise ConfigError(
            f"{broker_dir / 'broker.json'}: not a broker file written by `genofed auth init`"
        ) from exc
    token = broker.passport(
        subject,
        audience=audience[0] if len(audience) == 1 else audience,
        datasets=dataset or [],
        affiliation=affiliation,
        lifetime=lifetime,
    )
    typer.echo(token)
