"""Hartwig (hmftools) tab-separated tables, read by header name, with the tool version's layout detected.

hmftools renames columns between releases: PURPLE 2 wrote ``#Purity``, ``TumorMutationalLoad`` and
``minorAllelePloidy`` where PURPLE 3/4 write ``purity``, ``tml`` and ``minorAlleleCopyNumber``. Each
table is declared once (:class:`TableSpec`) as canonical column names and, per :class:`Layout`, the
header name that layout uses. :func:`read_table` matches the header (case-insensitively, a leading
``#`` dropped) against every layout, picks the layout whose required columns are all present (the
one with most columns present when several are), ignores unknown columns, and raises a
:class:`~genofed.errors.FormatError` naming the file, line 1 and the missing header when no layout
fits. Cells are read through :class:`TableRow`, whose typed accessors name file, line and column in
their errors.
"""

from __future__ import annotations

import difflib
import gzip
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from genofed.errors import FormatError, InputError, Location

__all__ = [
    "CHORD_PREDICTION",
    "DRIVER_CATALOG",
    "GERMLINE_AMP_DEL",
    "LILAC_ALLELES",
    "LILAC_QC",
    "LINX_BREAKENDS",
    "LINX_FUSIONS",
    "LINX_SVS",
    "PURPLE_CNV_GENE",
    "PURPLE_CNV_SOMATIC",
    "PURPLE_PURITY",
    "VIRUS_ANNOTATED",
    "HartwigTable",
    "Layout",
    "TableRow",
    "TableSpec",
    "read_key_values",
    "read_table",
]

_EMPTY = frozenset({"", "NA", "na", "null", "NULL", "None", "."})
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


@dataclass(frozen=True, slots=True)
class Layout:
    """One tool version's header names: canonical column name -> header name."""

    name: str
    columns: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table of one hmftools output: its layouts (newest first) and which columns it needs."""

    kind: str
    layouts: tuple[Layout, ...]
    required: frozenset[str]

    def __post_init__(self) -> None:
        for layout in self.layouts:
            missing = self.required - set(layout.columns)
            if missing:
                raise ValueError(f"{self.kind} {layout.name}: required column(s) {sorted(missing)} unnamed")


def _same(*names: str) -> dict[str, str]:
    return {n: n for n in names}


def _spec(kind: str, required: tuple[str, ...], *layouts: tuple[str, dict[str, str]]) -> TableSpec:
    return TableSpec(kind, tuple(Layout(n, c) for n, c in layouts), frozenset(required))


# -- PURPLE ---------------------------------------------------------------------------------------
_PURITY_V4 = _same(
    "purity",
    "ploidy",
    "gender",
    "status",
    "wholeGenomeDuplication",
    "msIndelsPerMb",
    "msStatus",
    "tml",
    "tmlStatus",
    "tmbPerMb",
    "tmbStatus",
    "svTumorMutationalBurden",
)
#: PURPLE 2.x (``#Purity NormFactor ...``; README of purity-ploidy-estimator 2.x): capitalised names
#: and the long mutational-load/burden names.
_PURITY_V2 = {
    "purity": "Purity",
    "ploidy": "Ploidy",
    "gender": "Gender",
    "status": "Status",
    "wholeGenomeDuplication": "WholeGenomeDuplication",
    "msIndelsPerMb": "MsIndelsPerMb",
    "msStatus": "MsStatus",
    "tml": "TumorMutationalLoad",
    "tmlStatus": "TumorMutationalLoadStatus",
    "tmbPerMb": "TumorMutationalBurdenPerMb",
    "tmbStatus": "TumorMutationalBurdenStatus",
    "svTumorMutationalBurden": "SvTumorMutationalBurden",
    "version": "Version",
}
PURPLE_PURITY = _spec(
    "PURPLE purity",
    ("purity", "ploidy"),
    ("PURPLE v4", _PURITY_V4),
    ("PURPLE v2", _PURITY_V2),
)

_CNV_COMMON = _same("chromosome", "start", "end", "copyNumber")
PURPLE_CNV_SOMATIC = _spec(
    "PURPLE copy-number segments",
    ("chromosome", "start", "end", "copyNumber"),
    ("PURPLE v4", {**_CNV_COMMON, **_same("minorAlleleCopyNumber", "majorAlleleCopyNumber")}),
    (
        "PURPLE v2",
        {
            **_CNV_COMMON,
            "minorAlleleCopyNumber": "minorAllelePloidy",
            "majorAlleleCopyNumber": "majorAllelePloidy",
        },
    ),
)

PURPLE_CNV_GENE = _spec(
    "PURPLE gene copy number",
    ("chromosome", "start", "end", "gene", "minCopyNumber", "maxCopyNumber"),
    (
        "PURPLE v4",
        _same(
            "chromosome",
            "start",
            "end",
            "gene",
            "minCopyNumber",
            "maxCopyNumber",
            "minMinorAlleleCopyNumber",
            "transcriptId",
            "chromosomeBand",
        ),
    ),
    (
        "PURPLE v2",
        {
            **_same("chromosome", "start", "end", "gene", "minCopyNumber", "maxCopyNumber", "transcriptId"),
            "minMinorAlleleCopyNumber": "minMinorAllelePloidy",
            "chromosomeBand": "chromosomeBand",
        },
    ),
)

_DRIVER_COMMON = _same(
    "chromosome",
    "chromosomeBand",
    "gene",
    "driver",
    "category",
    "likelihoodMethod",
    "driverLikelihood",
    "biallelic",
    "minCopyNumber",
    "maxCopyNumber",
)
#: PURPLE 3+/LINX catalogs name the transcript; PURPLE 2 had one row per gene and a raw dN/dS likelihood.
DRIVER_CATALOG = _spec(
    "driver catalog",
    ("gene", "driver", "driverLikelihood"),
    ("PURPLE v4", {**_DRIVER_COMMON, **_same("transcript", "isCanonical")}),
    ("PURPLE v2", {**_DRIVER_COMMON, **_same("dndsLikelihood")}),
)

GERMLINE_AMP_DEL = _spec(
    "PURPLE germline amplifications and deletions",
    ("gene", "chromosome", "regionStart", "regionEnd", "germlineStatus", "tumorCopyNumber"),
    (
        "PURPLE v4",
        _same(
            "gene",
            "chromosome",
            "regionStart",
            "regionEnd",
            "germlineStatus",
            "tumorStatus",
            "germlineCopyNumber",
            "tumorCopyNumber",
            "filter",
            "reportedStatus",
        ),
    ),
)

# -- LINX -----------------------------------------------------------------------------------------
LINX_FUSIONS = _spec(
    "LINX fusions",
    ("geneStart", "geneEnd", "reported", "phased"),
    (
        "LINX",
        _same(
            "fivePrimeBreakendId",
            "threePrimeBreakendId",
            "name",
            "reported",
            "reportedType",
            "phased",
            "geneStart",
            "geneEnd",
            "junctionCopyNumber",
        ),
    ),
)
LINX_BREAKENDS = _spec(
    "LINX breakends",
    ("id", "svId", "isStart", "gene"),
    ("LINX", _same("id", "svId", "isStart", "gene", "reportedDisruption")),
)
LINX_SVS = _spec(
    "LINX structural variants",
    ("svId", "coordsStart", "coordsEnd", "type"),
    ("LINX", _same("svId", "coordsStart", "coordsEnd", "type", "geneStart", "geneEnd")),
)

# -- CHORD, LILAC, virus interpreter ----------------------------------------------------------------
CHORD_PREDICTION = _spec(
    "CHORD prediction",
    ("p_hrd", "hr_status"),
    ("CHORD", _same("sample", "p_BRCA1", "p_BRCA2", "p_hrd", "hr_status", "hrd_type")),
)
LILAC_ALLELES = _spec(
    "LILAC alleles",
    ("Allele",),
    ("LILAC", _same("Allele", "TumorCopyNumber", "RefTotal", "TumorTotal")),
)
LILAC_QC = _spec("LILAC QC", ("Status",), ("LILAC", _same("Status")))
VIRUS_ANNOTATED = _spec(
    "virus interpreter",
    ("name", "reported"),
    ("Virus Interpreter", _same("taxid", "name", "integrations", "interpretation", "reported", "qcStatus")),
)


@dataclass(frozen=True, slots=True)
class TableRow:
    """One data row: cells by canonical column name, with typed accessors that locate their errors."""

    table: HartwigTable
    line: int
    cells: tuple[str, ...]

    def _cell(self, name: str) -> str | None:
        index = self.table.index.get(name)
        if index is None:
            return None
        value = self.cells[index].strip()
        return None if value in _EMPTY else value

    def _error(self, name: str, message: str) -> FormatError:
        return FormatError(
            message, location=Location(str(self.table.path), self.line, self.table.header_of(name))
        )

    def text(self, name: str) -> str | None:
        """The cell as text; None when the column is absent or the cell empty (``NA``, ``null``)."""
        return self._cell(name)

    def require(self, name: str) -> str:
        """The cell as text; an error when it is empty."""
        value = self._cell(name)
        if value is None:
            raise self._error(
                name, f"{self.table.header_of(name)!r} is empty; the {self.table.spec.kind} needs it"
            )
        return value

    def number(self, name: str) -> float | None:
        """The cell as a number (None when empty)."""
        value = self._cell(name)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise self._error(name, f"{value!r} is not a number") from None

    def integer(self, name: str) -> int | None:
        """The cell as an integer (``3`` and ``3.0``; None when empty)."""
        number = self.number(name)
        if number is None:
            return None
        if not number.is_integer():
            raise self._error(name, f"{number!r} is not a whole number")
        return int(number)

    def boolean(self, name: str) -> bool | None:
        """The cell as a boolean: true/false in any case (None when empty)."""
        value = self._cell(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise self._error(name, f"{value!r} is not true or false")


@dataclass(slots=True)
class HartwigTable:
    """A table read by :func:`read_table`: its layout, the header position of each known column, rows."""

    path: Path
    spec: TableSpec
    layout: Layout
    index: dict[str, int]
    rows: list[TableRow] = field(default_factory=list)

    def header_of(self, name: str) -> str:
        """The header name the file uses for a canonical column."""
        return self.layout.columns.get(name, name)

    def has(self, name: str) -> bool:
        """Whether the file has the column."""
        return name in self.index

    def __iter__(self) -> Iterator[TableRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _lines(path: Path) -> list[str]:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                return handle.read().splitlines()
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text ({exc.reason})", location=Location(str(path))) from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read the file: {exc}", location=Location(str(path))) from exc


def _key(name: str) -> str:
    return name.strip().lstrip("#").strip().lower()


def read_table(path: str | Path, spec: TableSpec) -> HartwigTable:
    """Read a tab-separated hmftools table by header name.

    Parameters
    ----------
    path
        The file (plain or gzipped).
    spec
        What the table is: its layouts and required columns.

    Returns
    -------
    HartwigTable
        The rows, and :attr:`HartwigTable.layout` -- which tool version's layout was read.

    Raises
    ------
    FormatError
        The file is empty, a required column is missing from every layout (the error names the
        header of the closest layout), or a row has fewer fields than the header.
    """
    source = Path(path)
    lines = _lines(source)
    if not lines or not lines[0].strip():
        raise FormatError(
            f"the file is empty; expected a {spec.kind} table with a header line",
            location=Location(str(source), 1),
        )
    header = lines[0].split("\t")
    keys = [_key(h) for h in header]
    positions: dict[str, int] = {}
    for i, key in enumerate(keys):
        positions.setdefault(key, i)
    scored: list[tuple[int, int, Layout, dict[str, int]]] = []
    for layout in spec.layouts:
        index = {
            name: positions[_key(column)]
            for name, column in layout.columns.items()
            if _key(column) in positions
        }
        complete = all(name in index for name in spec.required)
        scored.append((int(complete), len(index), layout, index))
    complete_layouts = [s for s in scored if s[0]]
    if not complete_layouts:
        best = max(scored, key=lambda s: s[1])
        layout, index = best[2], best[3]
        missing = next(layout.columns[n] for n in sorted(spec.required) if n not in index)
        near = difflib.get_close_matches(missing, [h.lstrip("#") for h in header], n=2, cutoff=0.6)
        hint = f"; nearest in the header: {', '.join(repr(n) for n in near)}" if near else ""
        raise FormatError(
            f"required column {missing!r} of the {spec.kind} table ({layout.name} layout) is missing{hint}",
            location=Location(str(source), 1, missing),
        )
    _, _, layout, index = max(complete_layouts, key=lambda s: s[1])
    table = HartwigTable(source, spec, layout, index)
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        cells = text.split("\t")
        if len(cells) < len(header):
            # Trailing empty cells are sometimes dropped by the tools; pad what is merely short.
            if len(cells) < max(index.values()) + 1 and any(c.strip() for c in cells):
                raise FormatError(
                    f"the row has {len(cells)} fields but the header has {len(header)}",
                    location=Location(str(source), number),
                )
            cells = cells + [""] * (len(header) - len(cells))
        table.rows.append(TableRow(table, number, tuple(cells)))
    return table


def read_key_values(path: str | Path) -> dict[str, tuple[int, str]]:
    """Read a key-value file (``purple.qc``: one ``key<TAB>value`` per line) as key -> (line, value)."""
    source = Path(path)
    out: dict[str, tuple[int, str]] = {}
    for number, text in enumerate(_lines(source), start=1):
        if not text.strip():
            continue
        key, sep, value = text.partition("\t")
        if not sep:
            raise FormatError("expected 'key<TAB>value'", location=Location(str(source), number))
        out[key.strip()] = (number, value.strip())
    return out
