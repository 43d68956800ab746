"""The ``genofed`` command line: Typer commands, thin over the library, rendered with Rich."""

from . import _demo, _export, _ingest, _query, _store, _synth  # noqa: F401  (modules register their commands)
from ._app import app, main

__all__ = ["app", "main"]
