"""Dependencies of the node's routes, as ``Annotated`` aliases.

Everything comes from the application the request reached (``request.app.state.node``), so several
nodes live in one process; tests override :func:`get_node` or :func:`get_settings` per application.
The identity dependency verifies the GA4GH Passport (``Authorization: Bearer <jwt>``) and notes the
researcher on the request for the audit log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from genofed.auth import AccessLevel, Identity
from genofed.errors import AuthError
from genofed.privacy import AuditLog, DisclosurePolicy
from genofed.store import StoreBackend

from ._context import NodeContext
from ._settings import NodeSettings

__all__ = [
    "AuditDep",
    "IdentityDep",
    "NodeDep",
    "PolicyDep",
    "RequestIdDep",
    "SettingsDep",
    "StoreDep",
    "get_identity",
    "get_node",
    "get_settings",
]


def get_node(request: Request) -> NodeContext:
    """The node the request reached."""
    node: NodeContext = request.app.state.node
    return node


NodeDep = Annotated[NodeContext, Depends(get_node)]


def get_settings(node: NodeDep) -> NodeSettings:
    """The node's settings."""
    return node.settings


def get_store(node: NodeDep) -> StoreBackend:
    return node.store


def get_policy(node: NodeDep) -> DisclosurePolicy:
    return node.policy


def get_audit(node: NodeDep) -> AuditLog:
    return node.audit


def get_request_id(request: Request) -> str:
    """The request's id (given by the node middleware; also the answer's ``request_id``)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


SettingsDep = Annotated[NodeSettings, Depends(get_settings)]
StoreDep = Annotated[StoreBackend, Depends(get_store)]
PolicyDep = Annotated[DisclosurePolicy, Depends(get_policy)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
RequestIdDep = Annotated[str, Depends(get_request_id)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="GA4GH Passport",
    description="A GA4GH Passport (JWT) whose audience is this node, as `Authorization: Bearer <jwt>`.",
)


def get_identity(
    request: Request,
    node: NodeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The verified caller; raise :class:`AuthError` (401) for a missing, forged, expired or foreign token.

    Without a token, a node with ``anonymous_access`` (demos) treats the caller as registered.
    """
    if credentials is None:
        if not node.settings.anonymous_access:
            raise AuthError(
                "this node needs a GA4GH Passport: send it as 'Authorization: Bearer <passport JWT>'"
            )
        identity = Identity(level=AccessLevel.REGISTERED)
    elif node.verifier is None:
        raise AuthError("this node trusts no passport issuer; it answers anonymous callers only")
    else:
        identity = node.verifier.verify(credentials.credentials)
    request.scope.setdefault("state", {})["researcher"] = identity.researcher
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]
