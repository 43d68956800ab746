"""The mapping file of a clinical source: which columns fill which model fields, and how values become codes.

A national clinical export is a handful of tables whose column names, labels and date formats are the
source's own. One YAML mapping file per source says, declaratively, how those tables become rows of the
common data model (see ``docs/mapping.md`` for the full format)::

    source: cineca-uk1                    # batch key clinical:cineca-uk1
    missing: ["#REF!", "NA"]              # markers of an empty cell, everywhere
    reference_date: {column: Date of diagnosis}
    files:
      patients:                           # matches patients.tsv (or set match: "patients_*.csv")
        id_column: Subject id
        individuals:
          sex: {column: Sex, values: {M: male, F: female}}
        diagnoses:                        # a list of row groups: long tables or wide column groups
          - icd10: {column: Disease, values: {asthma: J45}}
            primary: {value: false}

The file is validated by Pydantic models with ``extra="forbid"``. The models of the per-table field
mappings are generated from the model's :class:`~genofed.model.Record` declarations, so each target
field's ``value``/``values``/``default`` are typed as that field (``sex`` values must be
:class:`~genofed.model.Sex` members, ``tumour_type`` values OncoTree codes, ``icd10`` values ICD-10
codes, ``hpo_id`` values HPO identifiers) and a wrong entry is reported with its YAML path
(``mapping.yaml: files.patients.individuals.sex.values.M: ...``). Adding a field to a model table
makes it mappable here without a change to this module.

The YAML loader keeps mapping keys as the literal text written (so ``Yes:``, ``1.50:`` and
``2020-01-01:`` are the source strings they look like, not a boolean, a float or a date) and treats
only ``true``/``false`` as booleans (YAML 1.2), because source values are text.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import json
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Self

import pyarrow as pa
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from genofed.errors import ConfigError
from genofed.model import Diagnosis, Individual, Phenotype, Record, Response, Treatment, columns, oncotree

__all__ = [
    "MAPPED_TABLES",
    "ClinicalMapping",
    "DateColumn",
    "FieldMapping",
    "FieldType",
    "FileMapping",
    "GroupMapping",
    "ReferenceDate",
    "SurvivalMapping",
    "TimeUnit",
    "load_mapping",
    "packaged_mapping",
    "packaged_mappings",
    "year_only",
]

ISO = "iso"
"""The ``date_format`` that reads ISO 8601 dates (``2021-03-04``, also with a time part)."""


class FieldType(StrEnum):
    """How a column's text is read before it becomes the target field's value."""

    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    #: a calendar date; becomes whole days relative to the individual's reference date
    DATE = "date"
    #: a number with a time ``unit``, converted to the field's unit (days, or years for ages)
    DURATION = "duration"


class TimeUnit(StrEnum):
    """Units of a ``duration`` column."""

    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


#: length of each unit in days (a month is a twelfth of a Julian year)
DAYS_PER_UNIT: dict[TimeUnit, float] = {
    TimeUnit.DAYS: 1.0,
    TimeUnit.WEEKS: 7.0,
    TimeUnit.MONTHS: 365.25 / 12,
    TimeUnit.YEARS: 365.25,
}


class _Kind(StrEnum):
    """What a target field holds, which decides the column types that may fill it."""

    DAYS = "days relative to the reference date"
    YEARS = "years (an age)"
    INTEGER = "an integer"
    NUMBER = "a number"
    BOOLEAN = "true or false"
    CODE = "a code"
    TEXT = "text"


_ALLOWED_TYPES: dict[_Kind, tuple[FieldType, ...]] = {
    # the first type of each tuple is the default
    _Kind.DAYS: (FieldType.INTEGER, FieldType.DATE, FieldType.DURATION),
    _Kind.YEARS: (FieldType.NUMBER, FieldType.INTEGER, FieldType.DURATION, FieldType.DATE),
    _Kind.INTEGER: (FieldType.INTEGER,),
    _Kind.NUMBER: (FieldType.NUMBER, FieldType.INTEGER),
    _Kind.BOOLEAN: (FieldType.BOOLEAN,),
    _Kind.CODE: (FieldType.STRING,),
    _Kind.TEXT: (FieldType.STRING,),
}


# -- code systems ------------------------------------------------------------------------------------

_ICD10 = re.compile(r"^([A-Z][0-9][0-9A-Z])\.?([0-9A-Z]{1,4})?$")
_ICD10_PREFIX = re.compile(r"^(?:ICD-?10(?:-?CM)?):", re.IGNORECASE)
_NCIT = re.compile(r"^(?:NCIT:)?(C\d+)$", re.IGNORECASE)
_HPO = re.compile(r"^HP[:_](\d{7})$", re.IGNORECASE)
_ATC = re.compile(r"^[A-Z](?:\d{2}(?:[A-Z](?:[A-Z](?:\d{2})?)?)?)?$")


def _icd10(text: str) -> str:
    """An ICD-10 code in its dotted form (``F3181`` and ``F31.81`` both give ``F31.81``)."""
    code = _ICD10_PREFIX.sub("", text.strip()).upper()
    match = _ICD10.match(code)
    if match is None:
        raise ValueError(
            f"{text!r} is not an ICD-10 code (expected a letter, two characters and an optional "
            "subdivision, e.g. E10, C34.1 or F3181)"
        )
    return match[1] + (f".{match[2]}" if match[2] else "")


def _ncit(text: str) -> str:
    """An NCIt concept as a CURIE (``C42331`` and ``ncit:C42331`` both give ``NCIT:C42331``)."""
    match = _NCIT.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not an NCIt code (expected NCIT:C followed by digits, e.g. NCIT:C42331)"
        )
    return f"NCIT:{match[1].upper()}"


def _hpo(text: str) -> str:
    """An HPO term identifier (``HP:0001250``; the OBO form ``HP_0001250`` is accepted)."""
    match = _HPO.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an HPO term (expected HP: and seven digits, e.g. HP:0001250)")
    return f"HP:{match[1]}"


def _atc(text: str) -> str:
    """A WHO ATC code at any level (``L``, ``L01``, ``L01X``, ``L01XC``, ``L01XC07``)."""
    code = text.strip().upper()
    if not _ATC.match(code):
        raise ValueError(f"{text!r} is not a WHO ATC code (e.g. L01XC07, or a higher level such as L01)")
    return code


def _oncotree_code(text: str) -> str:
    """An OncoTree code of the packaged release, in its canonical (upper-case) spelling."""
    tree = oncotree()
    try:
        return tree.get(text).code
    except KeyError:
        near = difflib.get_close_matches(text.strip().upper(), [t.code for t in tree], n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ValueError(f"{text!r} is not an OncoTree code{hint}") from None


#: code systems of text fields, by (table, field): a name for messages and the check that normalises
_CODE_SYSTEMS: dict[tuple[str, str], tuple[str, Callable[[str], str]]] = {
    ("diagnoses", "tumour_type"): ("OncoTree", _oncotree_code),
    ("diagnoses", "icd10"): ("ICD-10", _icd10),
    ("individuals", "ethnicity_id"): ("NCIt", _ncit),
    ("phenotypes", "hpo_id"): ("HPO", _hpo),
    ("treatments", "atc_code"): ("ATC", _atc),
}


# -- targets -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """One model field a mapping can fill, and how its values are checked."""

    table: str
    field: str
    kind: _Kind
    python: type
    enum: type[Enum] | None
    code_system: tuple[str, Callable[[str], str]] | None
    required: bool

    @property
    def in_years(self) -> bool:
        """Whether the field is an age in years (a date on it is a date of birth)."""
        return self.kind is _Kind.YEARS

    @property
    def default_type(self) -> FieldType:
        return _ALLOWED_TYPES[self.kind][0]

    def check_code(self, text: str) -> object:
        """The target value for ``text`` taken as is; raise ValueError when it is not a valid code."""
        if self.enum is not None:
            try:
                return self.enum(text)
            except ValueError:
                allowed = ", ".join(str(m.value) for m in self.enum)
                raise ValueError(f"{text!r} is not one of {allowed}") from None
        if self.code_system is not None:
            return self.code_system[1](text)
        return text


def _kind(record: type[Record], name: str, arrow: pa.DataType, enum: type[Enum] | None) -> _Kind:
    if enum is not None:
        return _Kind.CODE
    if pa.types.is_boolean(arrow):
        return _Kind.BOOLEAN
    if pa.types.is_integer(arrow):
        # Every time field of the model is an integer named ``day``, ``*_day`` or ``*_days``.
        return _Kind.DAYS if name == "day" or name.endswith(("_day", "_days")) else _Kind.INTEGER
    if pa.types.is_floating(arrow):
        return _Kind.YEARS if name.startswith("age") else _Kind.NUMBER
    return _Kind.TEXT


_PYTHON: dict[_Kind, type] = {
    _Kind.DAYS: int,
    _Kind.YEARS: float,
    _Kind.INTEGER: int,
    _Kind.NUMBER: float,
    _Kind.BOOLEAN: bool,
    _Kind.TEXT: str,
}


def _targets(record: type[Record]) -> dict[str, _Target]:
    out: dict[str, _Target] = {}
    for column in columns(record):
        if column.name == "individual_id":
            continue  # always the file's id_column
        kind = _kind(record, column.name, column.arrow, column.enum)
        out[column.name] = _Target(
            table=record.table,
            field=column.name,
            kind=kind,
            python=column.enum if column.enum is not None else _PYTHON[kind],
            enum=column.enum,
            code_system=_CODE_SYSTEMS.get((record.table, column.name)),
            required=not column.nullable and column.default is None,
        )
    return out


# -- the models of the file --------------------------------------------------------------------------


class _Spec(BaseModel):
    """Base of every mapping-file model: unknown keys are errors; numbers given for text are text."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def _as_tuple(value: object) -> object:
    """Let a single string stand for a one-element list (``missing: NA``, ``date_format: "%d/%m/%Y"``)."""
    return (value,) if isinstance(value, str) else value


def year_only(fmt: str) -> bool:
    """True for a date format with a year but no month or day (e.g. ``%Y`` for a birth year)."""
    return "%Y" in fmt and not any(code in fmt for code in ("%m", "%b", "%B", "%d", "%j", "%U", "%W"))


def _check_date_format(fmt: str) -> str:
    if fmt == ISO:
        return fmt
    probe = dt.datetime(2001, 11, 23)
    try:
        parsed = dt.datetime.strptime(probe.strftime(fmt), fmt)
    except ValueError:
        parsed = None
    whole = parsed is not None and parsed.date() == probe.date()
    year = parsed is not None and year_only(fmt) and parsed.year == probe.year
    if "%" not in fmt or not (whole or year):
        raise ValueError(
            f"date format {fmt!r} does not read back a whole date; give strptime directives for year, "
            "month and day (e.g. '%d/%m/%Y'), a year alone ('%Y', read as mid-year) or 'iso'"
        )
    return fmt


Strings = Annotated[tuple[str, ...], BeforeValidator(_as_tuple)]
DateFormats = Annotated[
    tuple[Annotated[str, AfterValidator(_check_date_format)], ...], BeforeValidator(_as_tuple)
]


def _column_shorthand(value: object) -> object:
    """A bare string stands for ``{column: <string>}``."""
    return {"column": value} if isinstance(value, str) else value


class DateColumn(_Spec):
    """A column of calendar dates (``death_date: Date of death`` is short for ``{column: ...}``)."""

    column: str
    date_format: DateFormats | None = None
    missing: Strings = ()

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return _column_shorthand(value)


class ReferenceDate(DateColumn):
    """The column giving each individual's reference date (the diagnosis): day 0 of every time field.

    It may lie in any file of the mapping (``file:`` names the ``files:`` entry; it may be left out
    when the mapping has one file). When an individual has several rows there, the earliest date counts.
    """

    file: str | None = None


class SurvivalMapping(_Spec):
    """Vital status and overall survival from a death date and a last-contact date.

    With a death date the individual is deceased and survival runs to it; otherwise, with a last
    contact date, alive and censored at it; with neither, unknown.
    """

    death_date: DateColumn | None = None
    last_contact_date: DateColumn | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.death_date is None and self.last_contact_date is None:
            raise ValueError("give death_date:, last_contact_date: or both")
        return self


class FieldMapping(_Spec):
    """How one model field is filled: from a ``column`` (read as ``type``, mapped through ``values``)
    or a constant ``value``. Subclasses generated per target type ``value``, ``values`` and ``default``.
    """

    target: ClassVar[_Target]

    column: str | None = None
    value: object = None
    values: dict[str, object] | None = None
    default: object = None
    missing: Strings = ()
    ignore_case: bool = False
    type: FieldType | None = None
    unit: TimeUnit | None = None
    scale: Annotated[float, Field(gt=0)] | None = None
    date_format: DateFormats | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return _column_shorthand(value)

    @property
    def field_type(self) -> FieldType:
        """The declared type, or the target's default."""
        return self.type or self.target.default_type

    @property
    def has_default(self) -> bool:
        """Whether unmapped values fall back to ``default`` (which may be null: missing)."""
        return "default" in self.model_fields_set

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        target = self.target
        given = self.model_fields_set
        if (self.column is None) == ("value" not in given):
            raise ValueError("give either column: (read the field from a column) or value: (a constant)")
        if "value" in given:
            if self.value is None:
                raise ValueError("value: null maps nothing; leave the field out instead")
            column_only = [
                k
                for k in (
                    "values",
                    "default",
                    "missing",
                    "ignore_case",
                    "type",
                    "unit",
                    "scale",
                    "date_format",
                )
                if k in given
            ]
            if column_only:
                raise ValueError(f"{', '.join(column_only)} only apply to column:, not to a constant value:")
            return self
        kind_types = _ALLOWED_TYPES[target.kind]
        ftype = self.field_type
        if ftype not in kind_types:
            raise ValueError(
                f"type: {ftype} does not fit {target.table}.{target.field}, which holds {target.kind}; "
                f"use {' or '.join(t.value for t in kind_types)}"
            )
        if self.unit is not None and ftype is not FieldType.DURATION:
            raise ValueError("unit: applies to type: duration only")
        if self.scale is not None and ftype is not FieldType.NUMBER:
            raise ValueError("scale: applies to type: number only (for times, use type: duration and unit:)")
        if self.date_format is not None and ftype is not FieldType.DATE:
            raise ValueError("date_format: applies to type: date only")
        if self.values is not None and ftype in (FieldType.DATE, FieldType.DURATION):
            raise ValueError(f"values: cannot be combined with type: {ftype}")
        if self.ignore_case and self.values is not None:
            folded: dict[str, str] = {}
            for key, code in self.values.items():
                other = folded.setdefault(key.casefold(), key)
                if other != key and self.values[other] != code:
                    raise ValueError(
                        f"with ignore_case: true, values {other!r} and {key!r} are one key with two codes"
                    )
        if self.has_default and self.values is None:
            raise ValueError("default: is the code of values not listed in values:, so it needs values:")
        return self


def _field_model(target: _Target) -> type[FieldMapping]:
    """The FieldMapping subclass whose constants are typed (and code-checked) as ``target``."""
    # typing.Any: the annotation is built at run time from the model's declaration
    value_type: typing.Any = target.python
    if target.code_system is not None:
        value_type = Annotated[str, AfterValidator(target.code_system[1])]
    name = f"{target.table.title()}{target.field.title().replace('_', '')}Mapping"
    model = create_model(
        name,
        __base__=FieldMapping,
        value=(value_type | None, None),
        values=(dict[str, value_type | None] | None, None),
        default=(value_type | None, None),
    )
    model.target = target
    return model


class GroupMapping(_Spec):
    """The fields of one model row read from one input row (generated per table with its fields)."""

    record: ClassVar[type[Record]]

    def fields(self) -> dict[str, FieldMapping]:
        """The mapped fields, by model field name, in model order."""
        out: dict[str, FieldMapping] = {}
        for name in type(self).model_fields:
            spec = getattr(self, name)
            if isinstance(spec, FieldMapping):
                out[name] = spec
        return out

    @model_validator(mode="after")
    def _complete(self) -> Self:
        mapped = self.fields()
        targets = _targets(self.record)
        missing = [name for name, t in targets.items() if t.required and name not in mapped]
        if missing:
            raise ValueError(
                f"{self.record.table} needs {', '.join(missing)} (required by the model); map it"
            )
        if self.record is not Individual and not any(spec.column is not None for spec in mapped.values()):
            # A row is made when one of its columns has a value; without a column that is never decided.
            raise ValueError(f"a {self.record.table} group needs at least one field read from a column")
        return self


class _IndividualsBase(GroupMapping):
    survival: SurvivalMapping | None = None

    @model_validator(mode="after")
    def _survival_alone(self) -> Self:
        if self.survival is not None:
            clash = [f for f in ("vital_status", "overall_survival_days") if f in self.fields()]
            if clash:
                raise ValueError(f"survival: fills {' and '.join(clash)}; do not also map them")
        return self


def _group_model(record: type[Record], base: type[GroupMapping] = GroupMapping) -> type[GroupMapping]:
    fields: dict[str, typing.Any] = {
        name: (_field_model(target) | None, None) for name, target in _targets(record).items()
    }
    model = create_model(f"{record.__name__}Mapping", __base__=base, **fields)
    model.record = record
    return model


def _as_list(value: object) -> object:
    """Let one group stand for a list of one (``diagnoses: {icd10: ...}``)."""
    return [value] if isinstance(value, Mapping) else value


if TYPE_CHECKING:
    IndividualsMapping = _IndividualsBase
    DiagnosesMapping = GroupMapping
    TreatmentsMapping = GroupMapping
    ResponsesMapping = GroupMapping
    PhenotypesMapping = GroupMapping
else:
    IndividualsMapping = _group_model(Individual, _IndividualsBase)
    DiagnosesMapping = _group_model(Diagnosis)
    TreatmentsMapping = _group_model(Treatment)
    ResponsesMapping = _group_model(Response)
    PhenotypesMapping = _group_model(Phenotype)

#: the model tables a clinical mapping can fill, in the order they are written
MAPPED_TABLES: tuple[str, ...] = ("individuals", "diagnoses", "treatments", "responses", "phenotypes")

_DELIMITERS = {"tsv": "\t", "csv": ",", "\\t": "\t", "tab": "\t"}


class FileMapping(_Spec):
    """One input table: how to read it and which model tables its rows fill."""

    #: glob on the file name; by default the entry's key is the file's name or its stem
    match: str | None = None
    #: ``tsv``, ``csv`` or one character (``;``); by default from the extension (.csv, else tab)
    delimiter: str | None = None
    #: whether fields may be double-quoted (by default: yes for comma-separated, no for tab-separated)
    quoted: bool | None = None
    encoding: str = "utf-8-sig"
    #: decimal mark of numbers
    decimal: Literal[".", ","] = "."
    id_column: str
    missing: Strings = ()
    date_format: DateFormats | None = None
    #: a reader may be given no table for this entry
    optional: bool = False
    individuals: IndividualsMapping | None = None
    diagnoses: Annotated[tuple[DiagnosesMapping, ...], BeforeValidator(_as_list)] = ()
    treatments: Annotated[tuple[TreatmentsMapping, ...], BeforeValidator(_as_list)] = ()
    responses: Annotated[tuple[ResponsesMapping, ...], BeforeValidator(_as_list)] = ()
    phenotypes: Annotated[tuple[PhenotypesMapping, ...], BeforeValidator(_as_list)] = ()

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _DELIMITERS.get(value.lower(), value)
        if len(value) != 1 or value in '"\r\n':
            raise ValueError(f"delimiter must be tsv, csv or a single character (such as ';'), not {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, latin-1, cp1252)") from None
        return value

    @model_validator(mode="after")
    def _fills_something(self) -> Self:
        if self.individuals is None and not any(getattr(self, t) for t in MAPPED_TABLES[1:]):
            raise ValueError(f"the file maps no table; map at least one of {', '.join(MAPPED_TABLES)}")
        return self

    def groups(self) -> Iterator[tuple[str, int | None, GroupMapping]]:
        """``(table, index in its list or None for individuals, group)`` for every mapped group."""
        if self.individuals is not None:
            yield "individuals", None, self.individuals
        for table in MAPPED_TABLES[1:]:
            for index, group in enumerate(getattr(self, table)):
                yield table, index, group


class ClinicalMapping(_Spec):
    """A clinical source's mapping file: its name, its tables and how they fill the model."""

    #: version of the mapping-file format
    version: Literal[1] = 1
    #: the source's name; the batch key is ``clinical:<source>``, so re-ingesting it replaces it
    source: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    description: str | None = None
    #: cell values that mean "empty" in every file and column (an empty cell always does)
    missing: Strings = ()
    date_format: DateFormats = (ISO,)
    reference_date: ReferenceDate | None = None
    files: Annotated[dict[str, FileMapping], Field(min_length=1)]

    @property
    def reference_file(self) -> str | None:
        """The ``files:`` entry holding the reference date, if any."""
        if self.reference_date is None:
            return None
        return self.reference_date.file or next(iter(self.files))

    def fields(self) -> Iterator[tuple[str, str, FieldMapping]]:
        """``(entry, YAML path, mapping)`` of every mapped field of every file."""
        for entry, spec in self.files.items():
            for table, index, group in spec.groups():
                where = table if index is None else f"{table}[{index}]"
                for name, field in group.fields().items():
                    yield entry, f"files.{_key(entry)}.{where}.{name}", field

    @model_validator(mode="after")
    def _dates_have_a_reference(self) -> Self:
        ref = self.reference_date
        if ref is not None:
            if ref.file is None and len(self.files) > 1:
                raise ValueError(
                    f"reference_date.file: name the files: entry that holds {ref.column!r} "
                    f"(one of {', '.join(self.files)})"
                )
            if ref.file is not None and ref.file not in self.files:
                raise ValueError(
                    f"reference_date.file: {ref.file!r} is not an entry of files: "
                    f"(entries: {', '.join(self.files)})"
                )
            return self
        for _, path, field in self.fields():
            if field.column is not None and field.field_type is FieldType.DATE:
                raise ValueError(
                    f"{path} has type: date, which is counted in days from each individual's reference "
                    "date, but the mapping has no reference_date:"
                )
        for entry, spec in self.files.items():
            if spec.individuals is not None and spec.individuals.survival is not None:
                raise ValueError(
                    f"files.{_key(entry)}.individuals.survival needs a reference_date: "
                    "(survival is counted from it)"
                )
        return self


# -- loading -----------------------------------------------------------------------------------------

_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    """SafeLoader with literal-text keys, no implicit dates, YAML 1.2 booleans and duplicate-key errors."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[typing.Any, typing.Any]:
        seen: dict[str, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            first = seen.get(key_node.value)
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key_node.value!r} appears twice (first on line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key_node.value] = key_node
        self.flatten_mapping(node)
        out: dict[typing.Any, typing.Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else self.construct_object(key_node)
            out[key] = self.construct_object(value_node, deep=deep)
        return out


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_mapping(source: str | Path | Mapping[str, object] | ClinicalMapping) -> ClinicalMapping:
    """Read and validate a clinical mapping.

    Parameters
    ----------
    source
        A YAML file, an already parsed mapping (e.g. a dict in a test), or a loaded mapping.

    Returns
    -------
    ClinicalMapping
        The validated mapping.

    Raises
    ------
    ConfigError
        The file is unreadable, not YAML, or not a valid mapping; the message names the file and the
        YAML path of every fault (``mapping.yaml: files.patients.individuals.sex.values.M: ...``).
    """
    if isinstance(source, ClinicalMapping):
        return source
    if isinstance(source, Mapping):
        name, data = "<mapping>", source
    else:
        path = Path(source)
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read the mapping file: {exc.strerror or exc}") from exc
        try:
            data = yaml.load(text, Loader=_Loader)  # a SafeLoader
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            raise ConfigError(f"{name}: {where}not valid YAML: {exc.problem or exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{name}: not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{name}: a mapping file is a YAML mapping (source:, files:, ...), not {type(data).__name__}"
        )
    try:
        return ClinicalMapping.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_render(name, exc)) from exc


def _key(part: object) -> str:
    """One YAML path segment, quoted when it is not a plain word."""
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else json.dumps(text, ensure_ascii=False)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _key(part)
    return out


def _render(name: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if loc and loc[-1] == "[key]":
            # a key that YAML (or the caller) made a boolean or a number; pydantic's loc has lost its text
            loc = (*loc[:-2], str(error["input"]))
            message = f"keys are source values and must be text; quote it (got {error['input']!r})"
        elif error["type"] == "extra_forbidden":
            allowed = _keys_at(loc[:-1])
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            message = "unknown key" + (f"; did you mean {near[0]!r}?" if near else "")
            if allowed:
                message += f" (allowed here: {', '.join(allowed)})"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] in (
            "enum",
            "literal_error",
            "int_parsing",
            "float_parsing",
            "bool_parsing",
            "string_type",
            "dict_type",
            "int_from_float",
        ):
            message += f" (got {error['input']!r})"
        where = _path(loc)
        lines.append(f"{name}: {where}: {message}" if where else f"{name}: {message}")
    return "\n".join(lines)


def _unwrap(annotation: object) -> object:
    """The model or container inside ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts (for "did you mean" hints)."""
    current: object = ClinicalMapping
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return []
            current = info.annotation
        elif typing.get_origin(current) in (dict, tuple, list):
            args = typing.get_args(current)
            current = args[-1] if typing.get_origin(current) is dict else args[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


# -- packaged mappings -------------------------------------------------------------------------------


def packaged_mappings() -> tuple[str, ...]:
    """Names of the mapping files shipped with genofed (e.g. ``cineca-uk1``)."""
    folder = resources.files("genofed.ingest").joinpath("mappings")
    return tuple(sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")))


def packaged_mapping(name: str) -> Path:
    """The path of a mapping file shipped with genofed.

    Parameters
    ----------
    name
        The mapping's name, e.g. ``cineca-uk1`` (a ``.yaml`` suffix is allowed).

    Raises
    ------
    ConfigError
        No packaged mapping has that name; the message lists those that exist.
    """
    stem = name.removesuffix(".yaml")
    resource = resources.files("genofed.ingest").joinpath("mappings", f"{stem}.yaml")
    if not resource.is_file():
        raise ConfigError(
            f"no packaged mapping {name!r}; packaged mappings are {', '.join(packaged_mappings()) or 'none'}"
        )
    path = Path(str(resource))
    if not path.is_file():
        raise ConfigError(f"packaged mapping {name!r} is not a file on disk (genofed is installed zipped)")
    return path
