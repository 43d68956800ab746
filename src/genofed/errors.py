"""The one exception hierarchy of genofed.

Every error a user can act on derives from :class:`GenofedError`; the CLI prints ``Type: message``
without a traceback and the node API renders it as problem+json. Foreign errors (cyvcf2, DuckDB,
pyarrow, YAML) are translated at the boundary that calls the library, ``from`` the original.

The tree::

    GenofedError
    ├── ConfigError              a settings, mapping or policy file is wrong
    ├── InputError               a source file cannot be read as what it claims to be
    │   ├── FormatError          malformed content (a VCF line, a gzip stream, a table row)
    │   ├── CodeError            a value is not a known code (OncoTree, sex, SO term) or has no mapping
    │   └── SampleError          a sample is unknown, or the sample sheet does not fit the file
    ├── StoreError               the node store is missing, locked, or inconsistent
    ├── QueryError               a query is malformed or asks for something the store cannot answer
    ├── DisclosureError          the node's disclosure policy refuses to release an answer
    └── AuthError                a token is missing, forged, expired, or grants too little
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AuthError",
    "CodeError",
    "ConfigError",
    "DisclosureError",
    "FormatError",
    "GenofedError",
    "InputError",
    "Location",
    "QueryError",
    "SampleError",
    "StoreError",
    "located",
]


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a source an error was found: file, line (1-based) and field, each optional."""

    path: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)


class GenofedError(Exception):
    """Root of every genofed error; ``str(error)`` is a message a user can act on."""


class ConfigError(GenofedError):
    """A configuration, mapping or policy file is invalid."""


class StoreError(GenofedError):
    """The node store is missing, locked or inconsistent."""


class QueryError(GenofedError):
    """A query is malformed or cannot be answered by this store."""


class DisclosureError(GenofedError):
    """The node's disclosure policy refuses a release (small cohort, differencing, budget spent)."""


class AuthError(GenofedError):
    """The caller is not authenticated, or not authorised for what was asked."""


class InputError(GenofedError):
    """A source file cannot be read; carries the :class:`Location` of the fault."""

    def __init__(self, message: str, *, location: Location | None = None) -> None:
        self.reason = message
        self.location = location or Location()
        super().__init__(self._render())

    def _render(self) -> str:
        where = str(self.location)
        return f"{where}: {self.reason}" if where else self.reason

    def with_context(
        self, *, path: str | Path | None = None, line: int | None = None, field: str | None = None
    ) -> InputError:
        """Fill in location parts that are still unknown (inner context wins) and return self."""
        loc = self.location
        self.location = Location(
            path=loc.path if loc.path is not None else (str(path) if path is not None else None),
            line=loc.line if loc.line is not None else line,
            field=loc.field if loc.field is not None else field,
        )
        self.args = (self._render(),)
        return self

    def __str__(self) -> str:
        return self._render()


class FormatError(InputError):
    """Malformed content: a broken gzip stream, a VCF line with the wrong columns, a bad date."""


class CodeError(InputError):
    """A value is not a known code of its code system, or the mapping file has no entry for it."""


class SampleError(InputError):
    """A sample is not in the sample sheet, or the sheet names samples the file lacks."""


@contextmanager
def located(
    *, path: str | Path | None = None, line: int | None = None, field: str | None = None
) -> Iterator[None]:
    """Attach file, line and field to any :class:`InputError` passing out of the block.

    >>> try:
    ...     with located(path="cohort.tsv", line=3):
    ...         raise CodeError("unknown sex 'x'", location=Location(field="sex"))
    ... except CodeError as e:
    ...     print(e)
    cohort.tsv, line 3, field 'sex': unknown sex 'x'
    """
    try:
        yield
    except InputError as exc:
        raise exc.with_context(path=path, line=line, field=field) from exc.__cause__
