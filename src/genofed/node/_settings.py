"""A node's settings: one YAML file, validated at start-up, refusing unsafe combinations.

Relative paths in the file are relative to the file's folder, so a node's folder can be moved as a
whole. Unsafe settings are refused rather than warned about: a node listening beyond the loopback
interface without TLS (unless ``allow_plain_http`` says the operator terminates TLS in front of it),
TLS files that do not exist, or a node that could authenticate nobody.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from pathlib import Path
from typing import Any, Self

import yaml
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genofed import __version__
from genofed.auth import PassportVerifier
from genofed.errors import ConfigError
from genofed.privacy import DisclosurePolicy
from genofed.qa import SampleQcPolicy
from genofed.store import StoreOptions

__all__ = [
    "BeaconSettings",
    "NodeSettings",
    "OrganizationSettings",
    "ProficiencySettings",
    "TlsSettings",
    "TrustedIssuer",
    "TruthSetSettings",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrustedIssuer(_Strict):
    """A passport broker or visa issuer this node trusts, with its public keys (a JWKS file)."""

    issuer: str = Field(min_length=1, description="the iss claim of its tokens")
    jwks: Path = Field(description="its public JSON Web Key Set")

    def key_set(self) -> KeySet:
        """The issuer's keys, read from :attr:`jwks`."""
        try:
            return KeySet.import_key_set(json.loads(self.jwks.read_text()))
        except (OSError, ValueError, JoseError) as exc:
            raise ConfigError(f"{self.jwks}: cannot read the JWKS of issuer {self.issuer!r}: {exc}") from exc


class TlsSettings(_Strict):
    """The node's TLS certificate and key (PEM); with ``client_ca``, clients must present a certificate."""

    certificate: Path
    private_key: Path
    client_ca: Path | None = Field(default=None, description="CA bundle of accepted client certificates")


class OrganizationSettings(_Strict):
    """Who runs the node (GA4GH service-info ``organization``)."""

    name: str
    url: str


class TruthSetSettings(_Strict):
    """A truth set of a reference sample (e.g. GIAB's for HG002): the files every lab benchmarks against."""

    vcf: Path = Field(description="the truth VCF (.vcf or .vcf.gz)")
    regions: Path | None = Field(default=None, description="its confident regions (BED)")
    strata: Path | None = Field(default=None, description="a stratification TSV (name<TAB>bed per line)")
    reference: Path | None = Field(default=None, description="the reference FASTA (left-alignment, replay)")

    @model_validator(mode="after")
    def _exist(self) -> Self:
        for name in ("vcf", "regions", "strata", "reference"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: {path} does not exist")
        return self


class BeaconSettings(_Strict):
    """The Beacon's re-identification defences for callers below controlled access (docs/privacy.md)."""

    defences: bool = Field(default=True, description="rare-allele budget and rate limit on")
    rare_fraction: float = Field(
        default=0.05, gt=0, le=1, description="alleles carried by fewer than this share spend a budget"
    )
    budget: int = Field(default=20, ge=1, description="rare-allele answers each individual may be part of")
    rate: int = Field(default=600, ge=1, description="Beacon requests per caller per window")
    window_seconds: float = Field(default=60.0, gt=0, description="the rate limit's window")


class ProficiencySettings(_Strict):
    """Proficiency testing: truth sets held, and the reference samples (not patients) it may benchmark."""

    truth_sets: dict[str, TruthSetSettings] = Field(
        default_factory=dict, description="truth sets by the name studies use, e.g. giab-hg002"
    )
    reference_samples: tuple[str, ...] = Field(
        default=(), description="source ids of reference material (cell lines); only these are benchmarked"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from outside


class NodeSettings(_Strict):
    """Everything a node needs to start. Read with :meth:`from_yaml`; see ``docs/node.md``."""

    node_id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$", description="stable id, e.g. se")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. SE")
    name: str | None = Field(default=None, description="human-readable name; default from the id")
    description: str = "A genofed national node: disclosure-controlled analyses of its genomic cohort."
    organization: OrganizationSettings | None = None
    environment: str = Field(default="production", description="GA4GH service-info environment")
    data_dir: Path = Field(description="the node store (made by genofed ingest)")
    store: StoreOptions = Field(
        default_factory=StoreOptions,
        description="query backend: duckdb (default) or spark, with Spark's master and conf (docs/scale.md)",
    )
    state_dir: Path | None = Field(
        default=None, description="audit log, privacy ledger, differencing memory; default <data_dir>/node"
    )
    policy: Path | None = Field(default=None, description="disclosure policy YAML; default: the defaults")
    sample_qc: SampleQcPolicy | None = Field(
        default=None,
        description="sample-QC thresholds, applied at start-up: failing analyses are left out of analyses",
    )
    proficiency: ProficiencySettings = Field(
        default_factory=ProficiencySettings,
        description="truth sets and reference samples for proficiency testing (docs/qa.md)",
    )
    beacon: BeaconSettings = Field(default_factory=BeaconSettings, description="Beacon defences")
    knowledge: Path | None = Field(
        default=None, description="knowledge-base folder (genofed kb import) for decision-support analyses"
    )
    knowledge_as_of: dt.date | None = Field(
        default=None, description="default as-of date of the knowledge releases used"
    )
    patient_reports: bool = Field(
        default=False,
        description="serve one patient's report (row-level data) to callers with controlled access",
    )
    dataset: str | None = Field(default=None, description="the id of the dataset it holds; default node_id")
    audience: str | None = Field(default=None, description="the aud passports must name; default node_id")
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    anonymous_access: bool = Field(
        default=False, description="demo only: callers without a passport may ask counts and cross-tabs"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    tls: TlsSettings | None = None
    allow_plain_http: bool = Field(
        default=False, description="serve plain HTTP beyond loopback (TLS terminated by a proxy in front)"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="larger request bodies get 413")

    @model_validator(mode="after")
    def _safe(self) -> Self:
        if not _loopback(self.host) and self.tls is None and not self.allow_plain_http:
            raise ValueError(
                f"host {self.host!r} is reachable beyond this machine but no tls is configured; "
                "give tls.certificate and tls.private_key, or set allow_plain_http: true when a proxy "
                "in front terminates TLS"
            )
        if not self.trusted_issuers and not self.anonymous_access:
            raise ValueError(
                "no trusted_issuers: no passport could be verified, so no analysis could be asked; "
                "list the brokers you trust (issuer and jwks), or set anonymous_access: true for a demo"
            )
        if self.tls is not None:
            for path in (self.tls.certificate, self.tls.private_key, self.tls.client_ca):
                if path is not None and not path.is_file():
                    raise ValueError(f"tls: {path} does not exist")
        return self

    # -- derived values ------------------------------------------------------------------------------
    @property
    def display_name(self) -> str:
        return self.name or f"genofed node {self.node_id} ({self.country})"

    @property
    def dataset_id(self) -> str:
        return self.dataset or self.node_id

    @property
    def passport_audience(self) -> str:
        return self.audience or self.node_id

    @property
    def state_path(self) -> Path:
        return self.state_dir or self.data_dir / "node"

    @property
    def audit_log_path(self) -> Path:
        return self.state_path / "audit.jsonl"

    @property
    def version(self) -> str:
        return __version__

    def load_policy(self) -> DisclosurePolicy:
        """The node's disclosure policy (its file, or the defaults when none is given)."""
        return DisclosurePolicy() if self.policy is None else DisclosurePolicy.from_yaml(self.policy)

    def load_verifier(self) -> PassportVerifier | None:
        """A verifier for the trusted issuers; None when there are none (anonymous demo node)."""
        if not self.trusted_issuers:
            return None
        keys = {t.issuer: t.key_set() for t in self.trusted_issuers}
        return PassportVerifier(keys, audience=self.passport_audience)

    # -- reading -------------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> NodeSettings:
        """Read and validate a node's settings file; relative paths are relative to its folder.

        Raises
        ------
        ConfigError
            The file cannot be read, or a setting is wrong or unsafe; the message names the key.
        """
        file = Path(path)
        try:
            data: Any = yaml.safe_load(file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{file}: cannot read the node settings: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: node settings must be a mapping of keys to values")
        return cls.from_mapping(data, base=file.absolute().parent, source=str(file))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, base: Path, source: str = "node settings") -> NodeSettings:
        """Validate settings given as a mapping, resolving relative paths against ``base``."""
        try:
            settings = cls.model_validate(_resolve_paths(data, base))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
                for err in exc.errors(include_url=False)
            )
            raise ConfigError(f"{source}: invalid node settings: {problems}") from exc
        return settings


_PATH_KEYS = ("data_dir", "state_dir", "policy", "knowledge")
_TLS_KEYS = ("certificate", "private_key", "client_ca")
_TRUTH_SET_KEYS = ("vcf", "regions", "strata", "reference")


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """``data`` with its relative paths made absolute against ``base`` (the settings file's folder)."""

    def resolve(value: object) -> object:
        if isinstance(value, str | Path) and not Path(value).expanduser().is_absolute():
            return str(base / Path(value).expanduser())
        return str(Path(value).expanduser()) if isinstance(value, str | Path) else value

    out = dict(data)
    for key in _PATH_KEYS:
        if out.get(key) is not None:
            out[key] = resolve(out[key])
    if isinstance(out.get("tls"), dict):
        out["tls"] = {k: resolve(v) if k in _TLS_KEYS and v is not None else v for k, v in out["tls"].items()}
    proficiency = out.get("proficiency")
    if isinstance(proficiency, dict) and isinstance(proficiency.get("truth_sets"), dict):
        out["proficiency"] = {
            **proficiency,
            "truth_sets": {
                name: {k: resolve(v) if k in _TRUTH_SET_KEYS and v is not None else v for k, v in t.items()}
                if isinstance(t, dict)
                else t
                for name, t in proficiency["truth_sets"].items()
            },
        }
    if isinstance(out.get("trusted_issuers"), list):
        out["trusted_issuers"] = [
            {**t, "jwks": resolve(t["jwks"])} if isinstance(t, dict) and t.get("jwks") is not None else t
            for t in out["trusted_issuers"]
        ]
    return out
