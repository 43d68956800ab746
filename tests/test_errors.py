"""The exception tree and location context."""

from __future__ import annotations

import pytest

from genofed import errors
from genofed.errors import CodeError, FormatError, GenofedError, InputError, Location, located


def test_all__is_complete() -> None:
    public = {n for n in dir(errors) if not n.startswith("_") and n not in {"annotations"}}
    public -= {"Iterator", "Path", "contextmanager", "dataclass"}
    assert set(errors.__all__) == public
    assert len(errors.__all__) == len(set(errors.__all__))  # order: ruff's RUF022


def test_every_error__derives_from_one_root() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, GenofedError)


def test_located__inner_context_wins_and_outer_fills_gaps() -> None:
    with (
        pytest.raises(FormatError, match=r"^a\.vcf, line 12, field 'POS': not an integer: 'x'$"),
        located(path="a.vcf"),
        located(line=12),
    ):
        raise FormatError("not an integer: 'x'", location=Location(field="POS"))


def test_input_error__without_location_is_just_the_reason() -> None:
    error = CodeError("unknown code")
    assert str(error) == "unknown code"
    assert isinstance(error, InputError)
