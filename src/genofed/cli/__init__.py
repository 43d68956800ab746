"""The ``genofed`` command line: Typer commands, thin over the library, rendered with Rich."""

# Each module registers its commands on import.
from . import (  # noqa: F401
    _auth,
    _beacon,
    _beacon_export,
    _demo,
    _export,
    _gms,
    _hartwig,
    _ingest,
    _kb,
    _node,
    _phenopackets,
    _portal,
    _qa,
    _query,
    _report,
    _sources,
    _store,
    _study,
    _synth,
)
from ._app import app, main

__all__ = ["app", "main"]
