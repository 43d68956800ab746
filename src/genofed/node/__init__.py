"""A national node as an HTTP service: ``/service-info``, ``/health`` and ``POST /analyses``.

Build one with :func:`create_app` from :class:`NodeSettings` (read from the node's YAML file), and
run it with :func:`serve` (``genofed node serve --config node.yaml``). Every released number passes
the node's disclosure policy; every request is appended to the node's hash-chained audit log.
See ``docs/node.md``.
"""

from ._app import create_app
from ._context import NodeContext
from ._problems import AccessDeniedError, DatasetNotFoundError
from ._server import serve, server_config
from ._settings import BeaconSettings, NodeSettings, OrganizationSettings, TlsSettings, TrustedIssuer

__all__ = [
    "AccessDeniedError",
    "BeaconSettings",
    "DatasetNotFoundError",
    "NodeContext",
    "NodeSettings",
    "OrganizationSettings",
    "TlsSettings",
    "TrustedIssuer",
    "create_app",
    "serve",
    "server_config",
]
