"""Checks of the arrays a node step is given; a malformed request is a :class:`~genofed.errors.QueryError`.

The node API turns a study request into these arrays, so a wrong shape or a value outside a
family's support is the request's fault, not a bug: it gets a message that says what was expected.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from genofed.errors import QueryError

__all__ = ["FloatArray", "IntArray", "as_indicator", "as_matrix", "as_vector", "frozen"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_A = TypeVar("_A", bound=np.ndarray[Any, Any])


def frozen(array: _A) -> _A:
    """The array, made read-only so that a released aggregate cannot be changed after the fact."""
    array.setflags(write=False)
    return array


def as_matrix(value: npt.ArrayLike, name: str) -> FloatArray:
    """A finite two-dimensional float array, or a QueryError naming ``name``."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2:
        raise QueryError(f"{name} must be a two-dimensional array (rows × columns), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise QueryError(f"{name} must hold finite numbers only (no NaN or infinity)")
    return array


def as_vector(value: npt.ArrayLike, name: str, *, length: int | None = None) -> FloatArray:
    """A finite one-dimensional float array (of ``length``, if given), or a QueryError naming ``name``."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 1:
        raise QueryError(f"{name} must be a one-dimensional array, got shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise QueryError(f"{name} must have {length} entries, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise QueryError(f"{name} must hold finite numbers only (no NaN or infinity)")
    return array


def as_indicator(value: npt.ArrayLike, name: str, *, length: int) -> FloatArray:
    """A 0/1 vector of ``length`` (booleans accepted), or a QueryError naming ``name``."""
    array = as_vector(value, name, length=length)
    if not np.all((array == 0) | (array == 1)):
        raise QueryError(f"{name} must be 0 or 1 (or boolean) in every row")
    return array
