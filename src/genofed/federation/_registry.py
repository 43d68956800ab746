"""The registry of nodes a coordinator asks: one YAML file, validated strictly.

A registry names each national node (``id``), where it listens (``url``), its jurisdiction
(``country``) and, optionally, how long to wait for it and how to verify its TLS certificate::

    timeout: 10            # seconds a node gets in all, retries included (default 30)
    retries: 2             # further attempts after a connection error, a timeout or a 5xx (default 2)
    backoff: 0.25          # seconds before the first retry; doubles each time (default 0.25)
    nodes:
      - id: se
        url: https://genofed.example.se
        country: SE
        ca_bundle: certs/se-ca.pem      # relative to this file
      - id: nl
        url: http://127.0.0.1:8002
        country: NL
        timeout: 5

Every fault is a :class:`~genofed.errors.ConfigError` naming the file and the key
(``nodes[1].url``) and what was expected.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any, Self

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genofed.errors import ConfigError

__all__ = ["NodeEntry", "Registry", "describe_validation_error"]

_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def describe_validation_error(exc: ValidationError) -> str:
    """One clause per Pydantic error: ``nodes[1].url: message (got value)``."""
    clauses = []
    for error in exc.errors(include_url=False):
        where = ""
        for part in error["loc"]:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        message = error["msg"].removeprefix("Value error, ")
        got = f" (got {error['input']!r})" if error["type"] != "missing" and "input" in error else ""
        clauses.append(f"{where or 'top level'}: {message}{got}")
    return "; ".join(clauses)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeEntry(_Strict):
    """One node of the federation."""

    id: str = Field(description="the coordinator's name for the node, e.g. se")
    url: str = Field(description="base URL of the node API; requests go to <url>/analyses")
    country: str = Field(description="ISO 3166-1 alpha-2 code of the node's jurisdiction")
    name: str | None = Field(default=None, description="a display name")
    dataset: str | None = Field(default=None, description="dataset to ask at the node; default: its own")
    timeout: float | None = Field(default=None, gt=0, description="seconds in all; default: the registry's")
    verify: bool = Field(default=True, description="verify the node's TLS certificate")
    ca_bundle: Path | None = Field(default=None, description="PEM file of CAs trusted for this node")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _NODE_ID.match(value):
            raise ValueError("a node id is letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("expected an http:// or https:// URL with a host, e.g. https://node.example.se")
        if url.query or url.fragment:
            raise ValueError("the node URL must not carry a query or fragment")
        return value.rstrip("/")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not _COUNTRY.match(value.upper()):
            raise ValueError("expected an ISO 3166-1 alpha-2 country code, e.g. SE")
        return value.upper()

    @model_validator(mode="after")
    def _tls(self) -> Self:
        if self.ca_bundle is not None and not self.verify:
            raise ValueError("ca_bundle is given but verify is false; drop one of them")
        return self

    @property
    def endpoint(self) -> str:
        """Where analyses are posted."""
        return f"{self.url}/analyses"

    @property
    def label(self) -> str:
        """The node's display name, or its id."""
        return self.name or self.id

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What httpx verifies this node's certificate with: a context with its CA bundle, or a flag."""
        if not self.verify:
            return False
        if self.ca_bundle is None:
            return True
        try:
            return ssl.create_default_context(cafile=str(self.ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"node {self.id!r}: cannot read ca_bundle {self.ca_bundle}: {exc}") from exc


class Registry(_Strict):
    """The nodes of a federation and how patiently to ask them."""

    nodes: tuple[NodeEntry, ...] = Field(min_length=1)
    timeout: float = Field(default=30.0, gt=0, description="seconds a node gets in all, retries included")
    retries: int = Field(default=2, ge=0, le=10, description="further attempts on transient failures")
    backoff: float = Field(default=0.25, ge=0, description="seconds before the first retry; doubles")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for n, node in enumerate(self.nodes):
            if node.id in seen:
                raise ValueError(f"nodes[{n}].id: node id {node.id!r} is listed twice")
            seen.add(node.id)
        return self

    @classmethod
    def load(cls, path: str | Path) -> Registry:
        """Read and validate a registry file (YAML or JSON); relative CA bundles resolve beside it.

        Raises
        ------
        ConfigError
            The file is missing, not YAML, or a key is wrong; the message names the key.
        """
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the registry: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_data(data, source=str(path), base=path.parent)

    @classmethod
    def from_data(cls, data: Any, *, source: str = "registry", base: Path | None = None) -> Registry:
        """Validate a registry given as parsed YAML/JSON; ``base`` resolves relative CA bundles."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping with a 'nodes' list, got {type(data).__name__}")
        try:
            registry = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {describe_validation_error(exc)}") from exc
        if base is None:
            return registry
        nodes = tuple(
            node.model_copy(update={"ca_bundle": base / node.ca_bundle})
            if node.ca_bundle is not None and not node.ca_bundle.is_absolute()
            else node
            for node in registry.nodes
        )
        return registry.model_copy(update={"nodes": nodes})

    def node(self, node_id: str) -> NodeEntry:
        """The entry of one node; :class:`ConfigError` listing the known ids when absent."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        known = ", ".join(n.id for n in self.nodes)
        raise ConfigError(f"node {node_id!r} is not in the registry (known: {known})")

    def select(self, node_ids: tuple[str, ...] | list[str] | None) -> tuple[NodeEntry, ...]:
        """The entries to ask, in the given order; every node when ``node_ids`` is None."""
        if node_ids is None:
            return self.nodes
        return tuple(self.node(n) for n in node_ids)

    def timeout_for(self, node: NodeEntry) -> float:
        """The node's own timeout, or the registry's."""
        return node.timeout if node.timeout is not None else self.timeout
