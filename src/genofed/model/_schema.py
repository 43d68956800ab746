"""How a table is declared once: a Pydantic record whose fields also give the Arrow schema.

A table is a :class:`Record` subclass. Its field annotations give the Python type, the description
(from ``Field(description=...)``) and, through ``Annotated`` markers, the Arrow type when the default
is not wanted (:class:`ArrowType`) and whether the column holds a source identifier that the store
replaces by a keyed pseudonym (:data:`PSEUDONYMISED`). Row-wise sources build records; vectorised
sources (VCF genotypes) build Arrow tables and pass them through :func:`conform`, which applies the
same declaration.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

__all__ = [
    "PSEUDONYMISED",
    "ArrowType",
    "Column",
    "Record",
    "arrow_schema",
    "columns",
    "conform",
    "records_to_table",
]


@dataclass(frozen=True, slots=True)
class ArrowType:
    """Annotated marker: store this field with the given Arrow type instead of the default."""

    type: pa.DataType


@dataclass(frozen=True, slots=True)
class _Pseudonymised:
    """Annotated marker: the field is a source identifier, pseudonymised before anything is written."""


PSEUDONYMISED = _Pseudonymised()


class Record(BaseModel):
    """One row of a common-data-model table. Subclasses set ``table`` and may set layout hints."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False, str_strip_whitespace=True)

    table: ClassVar[str]
    #: Hive partition columns of the stored dataset (kept out of the Parquet files themselves).
    partition_by: ClassVar[tuple[str, ...]] = ()
    #: Sort order of rows inside each file, so row-group statistics prune range look-ups.
    sort_by: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table, derived from a record field."""

    name: str
    arrow: pa.DataType
    nullable: bool
    description: str
    pseudonymised: bool
    enum: type[Enum] | None
    default: Any = None


_DEFAULT_ARROW: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}


def _unwrap(annotation: Any) -> tuple[type, bool]:
    """Return (base type, nullable) for ``T`` or ``T | None``."""
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            raise TypeError(f"a column must have one type, got {annotation!r}")
        annotation = args[0]
    return annotation, nullable


def columns(record: type[Record]) -> tuple[Column, ...]:
    """The columns of a table, in declaration order."""
    cached = record.__dict__.get("_columns_cache")
    if cached is not None:
        return typing.cast(tuple[Column, ...], cached)
    out = []
    for name, info in record.model_fields.items():
        base, nullable = _unwrap(info.annotation)
        arrow = next((m.type for m in info.metadata if isinstance(m, ArrowType)), None)
        enum = base if isinstance(base, type) and issubclass(base, Enum) else None
        if arrow is None:
            if enum is not None:
                arrow = pa.string()
            elif base in _DEFAULT_ARROW:
                arrow = _DEFAULT_ARROW[base]
            else:
                raise TypeError(f"{record.__name__}.{name}: no Arrow type for {base!r}")
        out.append(
            Column(
                name=name,
                arrow=arrow,
                nullable=nullable,
                description=info.description or "",
                pseudonymised=PSEUDONYMISED in info.metadata,
                enum=enum,
                default=None if info.is_required() else _plain(info.default),
            )
        )
    result = tuple(out)
    type.__setattr__(record, "_columns_cache", result)
    return result


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def arrow_schema(record: type[Record], *, with_partitions: bool = True) -> pa.Schema:
    """The Arrow schema of a table, field descriptions kept as field metadata."""
    fields = [
        pa.field(c.name, c.arrow, nullable=c.nullable, metadata={"description": c.description})
        for c in columns(record)
        if with_partitions or c.name not in record.partition_by
    ]
    return pa.schema(fields)


def records_to_table(record: type[Record], rows: typing.Iterable[Record]) -> pa.Table:
    """Build an Arrow table of ``record``'s schema from validated records."""
    cols = columns(record)
    data: dict[str, list[Any]] = {c.name: [] for c in cols}
    for row in rows:
        if not isinstance(row, record):
            raise TypeError(f"expected {record.__name__}, got {type(row).__name__}")
        for c in cols:
            value = getattr(row, c.name)
            data[c.name].append(value.value if isinstance(value, Enum) else value)
    return pa.table({c.name: pa.array(data[c.name], type=c.arrow) for c in cols}, schema=arrow_schema(record))


def conform(record: type[Record], table: pa.Table) -> pa.Table:
    """Check an Arrow table against a record's declaration and return it in the declared schema.

    Missing columns with a default are added filled with it (nulls for optional ones); unknown
    columns, missing required columns, nulls in required columns and values outside an enum raise
    ValueError naming the column.
    """
    schema = arrow_schema(record)
    unknown = set(table.column_names) - set(schema.names)
    if unknown:
        raise ValueError(f"{record.table}: unknown column(s) {sorted(unknown)}")
    arrays = []
    for c in columns(record):
        if c.name in table.column_names:
            try:
                array = table.column(c.name).cast(c.arrow)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValueError(f"{record.table}.{c.name}: expected {c.arrow}: {exc}") from exc
        elif c.nullable or c.default is not None:
            # pa.repeat, not a Python list per row: converting 100k Python bools costs milliseconds.
            array = pa.chunked_array([pa.repeat(pa.scalar(c.default, type=c.arrow), table.num_rows)])
        else:
            raise ValueError(f"{record.table}: required column {c.name!r} is missing")
        if not c.nullable and array.null_count:
            raise ValueError(
                f"{record.table}.{c.name}: {array.null_count} null value(s) in a required column"
            )
        if c.enum is not None and len(array):
            allowed = pa.array([m.value for m in c.enum])
            bad = pc.filter(array, pc.invert(pc.fill_null(pc.is_in(array, value_set=allowed), True)))
            if len(bad):
                raise ValueError(
                    f"{record.table}.{c.name}: {bad[0].as_py()!r} is not one of "
                    f"{', '.join(str(v) for v in allowed.to_pylist())}"
                )
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)
