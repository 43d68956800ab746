"""Clinical tables → the common data model, driven by a mapping file (see :mod:`._mapping`).

Shape of the module: :class:`ClinicalReader` binds table files to the ``files:`` entries of a
:class:`~._mapping.ClinicalMapping`. One private run (:class:`_Run`) reads every table, compiles the
mapping against each header into per-column plans (:class:`_FieldPlan`), evaluates every row and
either collects the model rows (``chunks()``) or the counts of every distinct source value
(``dry_run()``). Both read everything first: ingest is all or nothing, so ``chunks()`` raises one
error listing up to twenty problems before it yields a single chunk, and the store publishes nothing.

Real dates stay here: a ``type: date`` column becomes whole days relative to the individual's
reference date (the diagnosis date), and the reference date itself is never emitted.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import fnmatch
import gzip
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import NamedTuple, TextIO

import pyarrow as pa
from pydantic import ValidationError

from genofed.errors import CodeError, ConfigError, FormatError, InputError, Location, SampleError
from genofed.model import TABLES, Record, VitalStatus, arrow_schema, columns

from ._mapping import (
    DAYS_PER_UNIT,
    ISO,
    MAPPED_TABLES,
    ClinicalMapping,
    DateColumn,
    FieldMapping,
    FieldType,
    FileMapping,
    TimeUnit,
    load_mapping,
    year_only,
)
from ._source import Chunk

__all__ = [
    "ClinicalReader",
    "ColumnReport",
    "FileReport",
    "MappingReport",
    "ReportRow",
    "ValueCount",
    "ValueStatus",
]

#: problems listed in one error (the rest are counted)
MAX_PROBLEMS = 20
#: rows per yielded chunk
CHUNK_ROWS = 65_536
_DAYS_PER_YEAR = 365.25


class ValueStatus(StrEnum):
    """What became of a source value."""

    #: listed in ``values:``
    MAPPED = "mapped"
    #: not listed; took ``default:``
    DEFAULT = "default"
    #: read as it is (no ``values:``) and valid: a code, a label, a number or a date
    ACCEPTED = "accepted"
    #: empty or a ``missing:`` marker (or mapped to null)
    MISSING = "missing"
    #: not listed in ``values:`` and no ``default:``; an error
    UNMAPPED = "unmapped"
    #: not a valid number, date or code; an error
    INVALID = "invalid"


_ERROR_STATUSES = (ValueStatus.UNMAPPED, ValueStatus.INVALID)


@dataclass(frozen=True, slots=True)
class ValueCount:
    """One distinct source value of a column and what it becomes."""

    value: str
    count: int
    status: ValueStatus
    #: the model value it maps to (``None`` when missing or an error)
    maps_to: str | None


@dataclass(frozen=True, slots=True)
class ColumnReport:
    """The distinct values of one mapped source column (for one target field) in one file."""

    file: str
    column: str
    #: the model field filled: ``individuals.sex``, ``diagnoses[2].icd10``, ``reference_date``, ...
    target: str
    #: where the field's mapping is in the mapping file
    mapping_path: str
    #: distinct values, errors first, then by count; numbers and dates read as such are one entry
    values: tuple[ValueCount, ...]
    #: rows per status (over all values, listed or not)
    totals: Mapping[ValueStatus, int]
    #: distinct values left out of ``values`` (beyond the report's limit)
    omitted: int = 0

    def count(self, status: ValueStatus) -> int:
        """Rows whose value had ``status``."""
        return self.totals.get(status, 0)

    @property
    def unmapped(self) -> tuple[ValueCount, ...]:
        """Values that are errors: unmapped or invalid."""
        return tuple(v for v in self.values if v.status in _ERROR_STATUSES)


@dataclass(frozen=True, slots=True)
class FileReport:
    """One table read: which ``files:`` entry it matched, its data rows and distinct individuals."""

    path: str
    entry: str
    rows: int
    individuals: int


class ReportRow(NamedTuple):
    """One line of the harmonisation report, as text, for rendering (``ReportRow._fields`` is the header)."""

    file: str
    column: str
    target: str
    value: str
    n: int
    status: str
    maps_to: str


@dataclass(frozen=True, slots=True)
class MappingReport:
    """The harmonisation report of a dry run: per mapped column, each source value and its fate."""

    source: str
    files: tuple[FileReport, ...]
    columns: tuple[ColumnReport, ...]
    #: row problems that would stop the ingest (the first :data:`MAX_PROBLEMS`)
    problems: tuple[InputError, ...]
    problem_count: int

    @property
    def ok(self) -> bool:
        """True when ingesting would succeed."""
        return self.problem_count == 0

    def column(self, target: str, *, file: str | None = None) -> ColumnReport:
        """The report of the column filling ``target`` (e.g. ``individuals.sex``)."""
        found = [
            c for c in self.columns if c.target == target and (file is None or Path(c.file).name == file)
        ]
        if len(found) != 1:
            known = sorted({c.target for c in self.columns})
            raise KeyError(f"{len(found)} columns fill {target!r}; targets are {', '.join(known)}")
        return found[0]

    def to_rows(self) -> list[ReportRow]:
        """Every listed value of every column as a row of text (plus a row per column's omitted values)."""
        rows: list[ReportRow] = []
        for col in self.columns:
            name = Path(col.file).name
            for v in col.values:
                shown = v.value if v.value else "(empty)"
                rows.append(
                    ReportRow(name, col.column, col.target, shown, v.count, v.status.value, v.maps_to or "")
                )
            if col.omitted:
                rows.append(
                    ReportRow(name, col.column, col.target, f"({col.omitted} more values)", 0, "", "")
                )
        return rows


# -- reading tables ----------------------------------------------------------------------------------


def _delimiter(path: Path, spec: FileMapping) -> str:
    if spec.delimiter is not None:
        return spec.delimiter
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return "," if suffixes and suffixes[-1] == ".csv" else "\t"


def _open(path: Path, encoding: str) -> TextIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


def _rows(path: Path, spec: FileMapping) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of every non-blank row, the header first; line numbers are 1-based."""
    delimiter = _delimiter(path, spec)
    quoted = spec.quoted if spec.quoted is not None else delimiter != "\t"
    line = 0
    try:
        with _open(path, spec.encoding) as handle:
            reader = csv.reader(
                handle,
                delimiter=delimiter,
                quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
                strict=True,
            )
            for cells in reader:
                line = reader.line_num
                if cells and any(c.strip() for c in cells):
                    yield line, cells
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"not valid {spec.encoding} text ({exc.reason}); "
            "set encoding: in the mapping (e.g. latin-1, cp1252)",
            location=Location(str(path), line + 1),
        ) from exc
    except csv.Error as exc:
        raise FormatError(f"malformed row: {exc}", location=Location(str(path), line + 1)) from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read the table: {exc}", location=Location(str(path))) from exc


# -- compiled plans ----------------------------------------------------------------------------------


class _CellError(Exception):
    """A bad cell, raised by a plan and located by the run."""

    def __init__(self, cls: type[InputError], message: str) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message


def _render(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _Stats:
    """Counts of one mapped column's values, for the dry run."""

    file: str
    column: str
    target: str
    yaml_path: str
    #: what numbers or dates read as such become (they are counted, not listed); None for the rest
    parsed_as: str | None
    values: Counter[tuple[str, ValueStatus, str | None]] = field(default_factory=Counter)
    parsed: int = 0


def _parse_date(text: str, formats: Sequence[str]) -> dt.date:
    for fmt in formats:
        try:
            if fmt == ISO:
                return dt.datetime.fromisoformat(text).date()
            parsed = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if year_only(fmt):
            # A year alone (e.g. a birth year) stands for the middle of that year: ages derived
            # from it are then off by at most half a year either way, not biased by one.
            return parsed.replace(month=7, day=2)
        return parsed
    shown = " or ".join("ISO 8601 (YYYY-MM-DD)" if f == ISO else repr(f) for f in formats)
    raise ValueError(f"{text!r} is not a date in the format {shown}")


def _parse_number(text: str, decimal: str) -> float:
    candidate = text.replace(",", ".") if decimal == "," else text
    try:
        if "_" in candidate:  # float() reads 1_000 as a thousand; a source does not mean that
            raise ValueError(candidate)
        number = float(candidate)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number


def _parse_integer(text: str, decimal: str) -> int:
    number = _parse_number(text, decimal)
    if not number.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


_TRUE = frozenset({"true", "yes", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "n", "f", "0"})


def _parse_bool(text: str) -> bool:
    folded = text.casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a yes/no value (true/false, yes/no, 1/0); map it with values:")


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


@dataclass
class _DatePlan:
    """A column of dates (the reference date, survival dates)."""

    target: str
    yaml_path: str
    column: str
    index: int
    missing: frozenset[str]
    formats: tuple[str, ...]
    stats: _Stats | None

    def read(self, cells: Sequence[str]) -> dt.date | None:
        text = cells[self.index].strip()
        if not text or text in self.missing:
            self._count(text, ValueStatus.MISSING, None)
            return None
        try:
            value = _parse_date(text, self.formats)
        except ValueError as exc:
            self._count(text, ValueStatus.INVALID, None)
            raise _CellError(FormatError, str(exc)) from None
        if self.stats is not None:
            self.stats.parsed += 1
        return value

    def _count(self, text: str, status: ValueStatus, maps_to: str | None) -> None:
        if self.stats is not None:
            self.stats.values[(text, status, maps_to)] += 1


@dataclass
class _FieldPlan:
    """One mapped field compiled against one table's header."""

    name: str
    target: str
    yaml_path: str
    spec: FieldMapping
    column: str | None
    index: int
    missing: frozenset[str]
    formats: tuple[str, ...]
    decimal: str
    stats: _Stats | None
    lookup: dict[str, object] | None = None

    def __post_init__(self) -> None:
        if self.spec.values is not None:
            fold = self.spec.ignore_case
            self.lookup = {(k.casefold() if fold else k): v for k, v in self.spec.values.items()}
            if fold:
                self.missing = frozenset(m.casefold() for m in self.missing)

    @property
    def continuous(self) -> bool:
        """Numbers and dates read as such: counted, not listed, in the report."""
        return self.lookup is None and self.spec.field_type in (
            FieldType.NUMBER,
            FieldType.INTEGER,
            FieldType.DATE,
            FieldType.DURATION,
        )

    def read(self, cells: Sequence[str]) -> object | None:
        """The field's value from a row: a model value, a date (for ``type: date``) or None."""
        if self.column is None:
            return self.spec.value
        text = cells[self.index].strip()
        key = text.casefold() if self.spec.ignore_case else text
        if not text or key in self.missing:
            self._count(text, ValueStatus.MISSING, None)
            return None
        if self.lookup is not None:
            if key in self.lookup:
                return self._mapped(text, ValueStatus.MAPPED, self.lookup[key])
            if self.spec.has_default:
                return self._mapped(text, ValueStatus.DEFAULT, self.spec.default)
            self._count(text, ValueStatus.UNMAPPED, None)
            raise _CellError(CodeError, self._unmapped_message(text))
        try:
            value = self._parse(text)
        except ValueError as exc:
            self._count(text, ValueStatus.INVALID, None)
            target = self.spec.target
            cls = CodeError if target.enum is not None or target.code_system is not None else FormatError
            raise _CellError(cls, f"{exc} (for {self.target})") from None
        if self.continuous:
            if self.stats is not None:
                self.stats.parsed += 1
        else:
            self._count(text, ValueStatus.ACCEPTED, _render(value))
        return value

    def _mapped(self, text: str, status: ValueStatus, value: object) -> object | None:
        if value is None:
            # mapped to null: missing; a null default keeps its status, so the report says why
            self._count(text, status if status is ValueStatus.DEFAULT else ValueStatus.MISSING, None)
            return None
        self._count(text, status, _render(value))
        return value

    def _count(self, text: str, status: ValueStatus, maps_to: str | None) -> None:
        if self.stats is not None:
            self.stats.values[(text, status, maps_to)] += 1

    def _unmapped_message(self, text: str) -> str:
        known = list(self.spec.values or {})
        near = difflib.get_close_matches(text, known, n=3, cutoff=0.6)
        if not near and self.spec.ignore_case is False:
            near = [k for k in known if k.casefold() == text.casefold()]
        if near:
            hint = "nearest known: " + ", ".join(repr(k) for k in near)
        else:
            hint = (
                "known: "
                + ", ".join(repr(k) for k in sorted(known)[:8])
                + (", ..." if len(known) > 8 else "")
            )
        return (
            f"{text!r} is not in values: of {self.yaml_path} and there is no default: "
            f"(add it to values: or missing:); {hint}"
        )

    def _parse(self, text: str) -> object:
        spec = self.spec
        target = spec.target
        ftype = spec.field_type
        if ftype is FieldType.STRING:
            return target.check_code(text)
        if ftype is FieldType.BOOLEAN:
            return _parse_bool(text)
        if ftype is FieldType.INTEGER:
            return _parse_integer(text, self.decimal)
        if ftype is FieldType.NUMBER:
            return _parse_number(text, self.decimal) * (spec.scale or 1.0)
        if ftype is FieldType.DATE:
            return _parse_date(text, self.formats)
        # a duration: convert its unit to the field's (days, or years for an age)
        from_years = target.in_years
        unit = spec.unit or (TimeUnit.YEARS if from_years else TimeUnit.DAYS)
        days = _parse_number(text, self.decimal) * DAYS_PER_UNIT[unit]
        return days / _DAYS_PER_YEAR if from_years else _round_half_up(days)


def _parsed_as(plan: _FieldPlan) -> str | None:
    """How the report describes a column's numbers or dates read as such (None: values are listed)."""
    if not plan.continuous:
        return None
    spec = plan.spec
    unit = "years" if spec.target.in_years else "days"
    if spec.field_type is FieldType.DATE:
        return "age at the reference date" if spec.target.in_years else "days from the reference date"
    if spec.field_type is FieldType.DURATION:
        return f"{unit} (from {spec.unit or unit})"
    scale = f" × {spec.scale:g}" if spec.scale is not None else ""
    return f"{spec.field_type}{scale}"


@dataclass
class _GroupPlan:
    table: str
    record: type[Record]
    label: str
    fields: list[_FieldPlan]
    death: _DatePlan | None = None
    last_contact: _DatePlan | None = None


@dataclass
class _TablePlan:
    path: Path
    entry: str
    spec: FileMapping
    id_index: int
    groups: list[_GroupPlan]


# -- the run -----------------------------------------------------------------------------------------


class _CellErrors:
    """Problems found so far: the first few kept, all counted."""

    def __init__(self) -> None:
        self.kept: list[InputError] = []
        self.count = 0

    def add(self, error: InputError) -> None:
        self.count += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(error)

    def combined(self) -> InputError:
        first = self.kept[0]
        if self.count == 1:
            return first
        more = self.count - 1
        lines = [first.reason, f"and {more} more problem{'s' if more > 1 else ''}; nothing was ingested:"]
        lines.extend(f"  {error}" for error in self.kept[1:])
        if self.count > len(self.kept):
            lines.append(f"  ... ({self.count - len(self.kept)} not shown)")
        return type(first)("\n".join(lines), location=first.location)


class _Columns:
    """Validated rows of one model table, column by column."""

    def __init__(self, record: type[Record]) -> None:
        self.record = record
        self.names = [c.name for c in columns(record)]
        self.data: dict[str, list[object]] = {n: [] for n in self.names}

    def append(self, row: Record) -> None:
        for name in self.names:
            value = getattr(row, name)
            self.data[name].append(value.value if isinstance(value, Enum) else value)

    def __len__(self) -> int:
        return len(self.data[self.names[0]])

    def table(self) -> pa.Table:
        schema = arrow_schema(self.record)
        return pa.table({c.name: pa.array(self.data[c.name], type=c.type) for c in schema}, schema=schema)


@dataclass
class _Origin:
    path: Path
    line: int
    column: str


class _Run:
    """One pass over every table: rows for ``chunks()``, counts for ``dry_run()``."""

    def __init__(self, mapping: ClinicalMapping, tables: Mapping[Path, str], *, report: bool) -> None:
        self.mapping = mapping
        self.tables = tables
        self.report = report
        self.problems = _CellErrors()
        self.stats: list[_Stats] = []
        self.out = {name: _Columns(TABLES[name]) for name in MAPPED_TABLES}
        self.references: dict[str, dt.date] = {}
        #: every ID of the reference-date file(s), with a date or not
        self.reference_ids: set[str] = set()
        #: IDs already reported as unknown
        self.unknown: set[str] = set()
        self.individuals: dict[str, _Origin] = {}
        self.referenced: dict[str, _Origin] = {}
        self.file_reports: list[FileReport] = []

    # -- helpers ------------------------------------------------------------------------------
    def problem(
        self, cls: type[InputError], message: str, path: Path, line: int | None, column: str | None
    ) -> None:
        self.problems.add(cls(message, location=Location(str(path), line, column)))

    def _stats(
        self, path: Path, column: str, target: str, yaml_path: str, parsed_as: str | None
    ) -> _Stats | None:
        if not self.report:
            return None
        stats = _Stats(str(path), column, target, yaml_path, parsed_as)
        self.stats.append(stats)
        return stats

    def _missing(self, spec: FileMapping, extra: Sequence[str]) -> frozenset[str]:
        return frozenset((*self.mapping.missing, *spec.missing, *extra))

    def _formats(self, spec: FileMapping, own: tuple[str, ...] | None) -> tuple[str, ...]:
        return own or spec.date_format or self.mapping.date_format

    def _header(
        self, path: Path, spec: FileMapping
    ) -> tuple[Iterator[tuple[int, list[str]]], list[str]] | None:
        rows = _rows(path, spec)
        first = next(rows, None)
        if first is None:
            self.problem(FormatError, "the table is empty; expected a header line", path, 1, None)
            return None
        return rows, [c.strip() for c in first[1]]

    def _index(self, path: Path, header: list[str], column: str, where: str) -> int:
        hits = [i for i, name in enumerate(header) if name == column]
        if len(hits) == 1:
            return hits[0]
        if hits:
            self.problem(
                FormatError,
                f"column {column!r} (named by {where}) appears {len(hits)} times in the header",
                path,
                1,
                column,
            )
        else:
            near = difflib.get_close_matches(column, header, n=3, cutoff=0.6)
            hint = f"; nearest: {', '.join(repr(n) for n in near)}" if near else ""
            self.problem(
                FormatError,
                f"column {column!r} (named by {where}) is not in the header{hint}",
                path,
                1,
                column,
            )
        return -1

    def _date_plan(
        self,
        path: Path,
        header: list[str],
        spec: FileMapping,
        date: DateColumn,
        target: str,
        yaml_path: str,
        parsed_as: str,
    ) -> _DatePlan:
        return _DatePlan(
            target=target,
            yaml_path=yaml_path,
            column=date.column,
            index=self._index(path, header, date.column, yaml_path),
            missing=self._missing(spec, date.missing),
            formats=self._formats(spec, date.date_format),
            stats=self._stats(path, date.column, target, yaml_path, parsed_as),
        )

    def _compile(self, path: Path, entry: str, spec: FileMapping, header: list[str]) -> _TablePlan | None:
        before, stats_before = self.problems.count, len(self.stats)
        base = f"files.{entry}"
        id_index = self._index(path, header, spec.id_column, f"{base}.id_column")
        groups: list[_GroupPlan] = []
        for table, index, group in spec.groups():
            label = table if index is None else f"{table}[{index}]"
            plans = []
            for name, fspec in group.fields().items():
                yaml_path = f"{base}.{label}.{name}"
                target = f"{label}.{name}"
                column_index = -1
                stats = None
                if fspec.column is not None:
                    column_index = self._index(path, header, fspec.column, yaml_path)
                plan = _FieldPlan(
                    name=name,
                    target=target,
                    yaml_path=yaml_path,
                    spec=fspec,
                    column=fspec.column,
                    index=column_index,
                    missing=self._missing(spec, fspec.missing),
                    formats=self._formats(spec, fspec.date_format),
                    decimal=spec.decimal,
                    stats=None,
                )
                if fspec.column is not None:
                    stats = self._stats(path, fspec.column, target, yaml_path, _parsed_as(plan))
                plan.stats = stats
                plans.append(plan)
            group_plan = _GroupPlan(table, group.record, label, plans)
            survival = getattr(group, "survival", None)
            if survival is not None:
                for attr in ("death_date", "last_contact_date"):
                    date = getattr(survival, attr)
                    if date is not None:
                        date_plan = self._date_plan(
                            path,
                            header,
                            spec,
                            date,
                            f"individuals.survival.{attr}",
                            f"{base}.individuals.survival.{attr}",
                            "vital status and survival days",
                        )
                        if attr == "death_date":
                            group_plan.death = date_plan
                        else:
                            group_plan.last_contact = date_plan
            groups.append(group_plan)
        if self.problems.count > before:
            del self.stats[stats_before:]
            return None
        return _TablePlan(path, entry, spec, id_index, groups)

    # -- passes -------------------------------------------------------------------------------
    def run(self) -> None:
        self._read_references()
        for path, entry in self.tables.items():
            self._read_table(path, entry)
        if self.individuals:
            for ident, origin in self.referenced.items():
                if ident not in self.individuals and ident not in self.unknown:
                    self.problem(
                        SampleError,
                        f"individual {ident!r} is not in the individuals table "
                        f"({', '.join(sorted({str(o.path) for o in self.individuals.values()}))})",
                        origin.path,
                        origin.line,
                        origin.column,
                    )

    def _read_references(self) -> None:
        ref = self.mapping.reference_date
        entry = self.mapping.reference_file
        if ref is None or entry is None:
            return
        spec = self.mapping.files[entry]
        for path in [p for p, e in self.tables.items() if e == entry]:
            # Problems of the file itself (unreadable, empty, no ID column, short rows) are reported by
            # the main pass; this one reports only the reference-date column's.
            try:
                rows = _rows(path, spec)
                first = next(rows, None)
                if first is None:
                    continue
                header = [c.strip() for c in first[1]]
                if header.count(spec.id_column) != 1:
                    continue
                id_index = header.index(spec.id_column)
                plan = self._date_plan(path, header, spec, ref, "reference_date", "reference_date", "day 0")
                if plan.index < 0:
                    continue
                for line, cells in rows:
                    if len(cells) != len(header):
                        continue  # reported by the main pass
                    ident = cells[id_index].strip()
                    self.reference_ids.add(ident)
                    try:
                        date = plan.read(cells)
                    except _CellError as problem:
                        self.problem(
                            problem.cls, f"{problem.message} (reference_date)", path, line, ref.column
                        )
                        continue
                    if ident and date is not None:
                        known = self.references.get(ident)
                        self.references[ident] = date if known is None else min(known, date)
            except InputError:
                continue

    def _read_table(self, path: Path, entry: str) -> None:
        spec = self.mapping.files[entry]
        try:
            opened = self._header(path, spec)
            if opened is None:
                return
            rows, header = opened
            plan = self._compile(path, entry, spec, header)
            if plan is None:
                return
            count = 0
            idents: set[str] = set()
            for line, cells in rows:
                count += 1
                if len(cells) != len(header):
                    self.problem(
                        FormatError,
                        f"the row has {len(cells)} fields but the header has {len(header)}",
                        path,
                        line,
                        None,
                    )
                    continue
                ident = cells[plan.id_index].strip()
                if not ident:
                    self.problem(FormatError, "the individual ID is empty", path, line, spec.id_column)
                    continue
                idents.add(ident)
                for group in plan.groups:
                    self._row(plan, group, line, cells, ident)
            self.file_reports.append(FileReport(str(path), entry, count, len(idents)))
        except InputError as exc:
            self.problems.add(exc)

    def _row(self, table: _TablePlan, group: _GroupPlan, line: int, cells: list[str], ident: str) -> None:
        path = table.path
        values: dict[str, object] = {"individual_id": ident}
        columns_of: dict[str, str | None] = {}
        from_column = False
        bad = False
        for plan in group.fields:
            try:
                value = plan.read(cells)
            except _CellError as problem:
                self.problem(problem.cls, problem.message, path, line, plan.column)
                bad = True
                continue
            if value is None:
                continue
            if isinstance(value, dt.date):
                value = self._days(plan, value, ident, path, line, table.spec.id_column)
                if value is None:
                    bad = True
                    continue
            from_column = from_column or plan.column is not None
            values[plan.name] = value
            columns_of[plan.name] = plan.column
        individuals = group.table == "individuals"
        if individuals:
            if not self._survival(group, values, columns_of, cells, ident, path, line):
                bad = True
            seen = self.individuals.get(ident)
            if seen is not None:
                where = "" if seen.path == path else f" of {seen.path}"
                self.problem(
                    FormatError,
                    f"individual {ident!r} already has a row at line {seen.line}{where}; "
                    "an individuals table has one row per individual",
                    path,
                    line,
                    table.spec.id_column,
                )
                return
            # Registered even when the row is bad, so its other rows are not also reported as unknown.
            self.individuals[ident] = _Origin(path, line, table.spec.id_column)
        elif from_column and ident not in self.referenced:
            self.referenced[ident] = _Origin(path, line, table.spec.id_column)
        if bad or not (individuals or from_column):
            return
        try:
            record = group.record.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                name = str(error["loc"][0]) if error["loc"] else ""
                message = str(error["msg"]).removeprefix("Value error, ")
                self.problem(
                    FormatError,
                    f"{group.label}.{name}: {message} (got {error['input']!r})",
                    path,
                    line,
                    columns_of.get(name),
                )
            return
        self.out[group.table].append(record)

    def _days(
        self, plan: _FieldPlan, date: dt.date, ident: str, path: Path, line: int, id_column: str
    ) -> int | float | None:
        reference = self.references.get(ident)
        if reference is None and ident not in self.reference_ids:
            # The individual is unknown where the reference dates are: say that once, not once per date.
            if ident not in self.unknown:
                self.unknown.add(ident)
                self.problem(
                    SampleError,
                    f"individual {ident!r} has no row in files.{self.mapping.reference_file}, "
                    "which gives the reference dates",
                    path,
                    line,
                    id_column,
                )
            return None
        if reference is None:
            self.problem(
                FormatError,
                f"{plan.target} is a date but individual {ident!r} has no reference date "
                f"({self._reference_where()}), so it cannot become days from diagnosis",
                path,
                line,
                plan.column,
            )
            return None
        if plan.spec.target.in_years:
            # a date on an age field is the date of birth: the age at the reference date
            return (reference - date).days / _DAYS_PER_YEAR
        return (date - reference).days

    def _reference_where(self) -> str:
        ref = self.mapping.reference_date
        assert ref is not None
        return f"column {ref.column!r} of files.{self.mapping.reference_file}"

    def _survival(
        self,
        group: _GroupPlan,
        values: dict[str, object],
        columns_of: dict[str, str | None],
        cells: list[str],
        ident: str,
        path: Path,
        line: int,
    ) -> bool:
        dates: dict[str, dt.date | None] = {}
        ok = True
        for name, plan in (("death", group.death), ("last", group.last_contact)):
            if plan is None:
                continue
            try:
                dates[name] = plan.read(cells)
            except _CellError as problem:
                self.problem(problem.cls, f"{problem.message} ({plan.target})", path, line, plan.column)
                ok = False
        if not ok or not dates:
            return ok
        death, last = dates.get("death"), dates.get("last")
        if death is not None and last is not None and last > death:
            assert group.last_contact is not None
            self.problem(
                FormatError,
                f"the last contact ({last.isoformat()}) is after the death date ({death.isoformat()})",
                path,
                line,
                group.last_contact.column,
            )
            return False
        end, plan = (death, group.death) if death is not None else (last, group.last_contact)
        if end is None or plan is None:
            return True
        values["vital_status"] = VitalStatus.DECEASED if death is not None else VitalStatus.ALIVE
        reference = self.references.get(ident)
        # Without a diagnosis there is no survival time; the vital status still holds.
        if reference is not None:
            values["overall_survival_days"] = (end - reference).days
            columns_of["overall_survival_days"] = plan.column
        return True

    # -- results ------------------------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        for name in MAPPED_TABLES:
            rows = self.out[name]
            if len(rows):
                table = rows.table()
                for start in range(0, table.num_rows, CHUNK_ROWS):
                    yield name, table.slice(start, CHUNK_ROWS)

    def column_reports(self, max_values: int) -> tuple[ColumnReport, ...]:
        out = []
        for stats in self.stats:
            totals: Counter[ValueStatus] = Counter()
            for (_, status, _), count in stats.values.items():
                totals[status] += count
            totals[ValueStatus.ACCEPTED] += stats.parsed
            values = [
                ValueCount(value, count, status, maps_to)
                for (value, status, maps_to), count in stats.values.items()
            ]
            values.sort(key=lambda v: (v.status not in _ERROR_STATUSES, -v.count, v.value))
            omitted = max(0, len(values) - max_values)
            values = values[:max_values]
            if stats.parsed_as is not None and stats.parsed:
                values.append(
                    ValueCount("(parsed values)", stats.parsed, ValueStatus.ACCEPTED, stats.parsed_as)
                )
            out.append(
                ColumnReport(
                    stats.file,
                    stats.column,
                    stats.target,
                    stats.yaml_path,
                    tuple(values),
                    dict(totals),
                    omitted,
                )
            )
        return tuple(out)


# -- the reader --------------------------------------------------------------------------------------


def _stem(name: str) -> str:
    name = name.removesuffix(".gz").removesuffix(".GZ")
    return name.rsplit(".", 1)[0] if "." in name else name


class ClinicalReader:
    """Read clinical tables through a mapping file into model tables (an ingest :class:`SourceReader`).

    Parameters
    ----------
    tables
        The table files (TSV/CSV, optionally gzipped). Each is matched to an entry of the mapping's
        ``files:`` by its ``match:`` glob, else by its name or stem equal to the entry's key, else
        (one entry, one table) to the only entry. Several tables may match one entry.
    mapping
        The mapping: a YAML file, a parsed mapping (dict), or a :class:`ClinicalMapping`.

    Raises
    ------
    ConfigError
        The mapping is invalid, a table matches no entry (or several), or an entry that is not
        ``optional`` has no table.
    InputError
        A table does not exist.

    Examples
    --------
    >>> from genofed.ingest import ClinicalReader, packaged_mapping
    >>> reader = ClinicalReader(["uk1.tsv"], packaged_mapping("cineca-uk1"))  # doctest: +SKIP
    >>> store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source,
    ...                    key=reader.batch_key)  # doctest: +SKIP
    """

    kind: str = "clinical"

    def __init__(
        self,
        tables: Sequence[str | Path] | str | Path,
        mapping: str | Path | Mapping[str, object] | ClinicalMapping,
    ) -> None:
        self.mapping = load_mapping(mapping)
        paths = [Path(tables)] if isinstance(tables, str | Path) else [Path(t) for t in tables]
        if not paths:
            raise ConfigError("no clinical table given")
        for path in paths:
            if not path.is_file():
                raise InputError("no such table file", location=Location(str(path)))
        #: each table and the ``files:`` entry it matched
        self.entries: dict[Path, str] = {path: self._entry(path, len(paths)) for path in paths}
        given = set(self.entries.values())
        absent = [e for e, spec in self.mapping.files.items() if e not in given and not spec.optional]
        if absent:
            raise ConfigError(
                f"mapping {self.mapping.source}: no table given for files: "
                f"{', '.join(absent)} (give the table, or mark the entry optional: true)"
            )
        ref_entry = self.mapping.reference_file
        if ref_entry is not None and ref_entry not in given:
            raise ConfigError(
                f"mapping {self.mapping.source}: the reference dates are in files.{ref_entry}, "
                "but no table was given for it"
            )

    def _entry(self, path: Path, count: int) -> str:
        files = self.mapping.files
        name = path.name
        hits = [
            entry
            for entry, spec in files.items()
            if (fnmatch.fnmatch(name, spec.match) if spec.match else entry in (name, _stem(name)))
        ]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise ConfigError(
                f"{path}: the table matches several files: entries ({', '.join(hits)}); set match:"
            )
        if len(files) == 1 and count == 1:
            return next(iter(files))
        described = ", ".join(f"{e} (match {s.match!r})" if s.match else e for e, s in files.items())
        raise ConfigError(
            f"{path}: the table matches no files: entry of mapping {self.mapping.source} ({described}); "
            "name the file after an entry or set the entry's match:"
        )

    @property
    def source(self) -> str:
        """The mapping's source name."""
        return self.mapping.source

    @property
    def batch_key(self) -> str:
        """``clinical:<source>``: re-ingesting the same source replaces its batch."""
        return f"clinical:{self.mapping.source}"

    def chunks(self) -> Iterator[Chunk]:
        """Validate every row of every table, then yield the model tables.

        Raises
        ------
        InputError
            Before yielding anything, when any row is bad: one error of the first problem's class
            (CodeError for an unmapped value or unknown code, FormatError for a malformed date or
            number or a duplicated individual, SampleError for an ID missing from the individuals
            table) located at the first problem, its message listing up to twenty problems.
        """
        run = _Run(self.mapping, self.entries, report=False)
        run.run()
        if run.problems.count:
            raise run.problems.combined()
        yield from run.chunks()

    def dry_run(self, *, max_values: int = 50) -> MappingReport:
        """Read everything and report, per mapped column, each distinct value and what it maps to.

        Nothing is written and row problems do not raise: they are listed in the report.

        Parameters
        ----------
        max_values
            Distinct values listed per column (unmapped and invalid ones first); the rest are counted.
        """
        run = _Run(self.mapping, self.entries, report=True)
        run.run()
        return MappingReport(
            source=self.mapping.source,
            files=tuple(run.file_reports),
            columns=run.column_reports(max_values),
            problems=tuple(run.problems.kept),
            problem_count=run.problems.count,
        )
