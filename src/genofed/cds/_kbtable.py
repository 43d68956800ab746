"""What every knowledge-base loader returns, and the Arrow form evidence is stored in.

A loader reads one source file and accounts for every data row: it either becomes one or more
`Evidence` items or a `Rejection` with the line and the reason (out of scope, such as prognostic
evidence, or not representable, such as an expression biomarker). `LoadReport.rows` is the number of
data rows, so ``parsed + len(rejected) == rows`` always holds; tests check it against the file.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import pyarrow as pa

from genofed.errors import FormatError, Location

from ._types import BiomarkerKind, Direction, Evidence

__all__ = [
    "EVIDENCE_SCHEMA",
    "LoadReport",
    "Rejection",
    "evidence_from_table",
    "evidence_table",
    "read_tsv",
    "require_columns",
]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A source row that gave no evidence: its 1-based line number, the reason, the field at fault."""

    line: int
    reason: str
    field: str | None = None
    # The reason's family (``not predictive``, ``unsupported biomarker``...), for counts in manifests.
    category: str = "rejected"


@dataclass(frozen=True)
class LoadReport:
    """The outcome of loading one knowledge-base file.

    ``rows`` counts the file's data rows (the header excluded); ``parsed`` counts rows that gave at
    least one evidence item (a CGI row listing two codons gives two); every other row is in
    ``rejected``. ``unmapped_diseases`` counts evidence items per source disease that mapped to no
    OncoTree code (they are kept, with empty ``tumour_types``, and are always off-label).
    """

    source: str
    release: dt.date
    path: str
    layout: str
    rows: int
    parsed: int
    evidence: tuple[Evidence, ...]
    rejected: tuple[Rejection, ...]
    unmapped_diseases: dict[str, int] = field(default_factory=dict)
    companions: tuple[str, ...] = ()  # other files read (CIViC 2018: its VariantSummaries.tsv)

    def rejected_by_category(self) -> dict[str, int]:
        """How many rows were rejected for each family of reasons."""
        return dict(Counter(r.category for r in self.rejected).most_common())


def read_tsv(
    path: Path, required: Sequence[str], *, what: str
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Open a knowledge-base TSV: its header and an iterator of (line number, fields) per data row.

    The knowledge bases write plain tab-separated text without quoting (quotes inside free text are
    literal), so rows are split on tabs only. A missing required column raises, naming it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(f"{what} file not found", location=Location(path=str(path))) from None
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); expected a {what} TSV",
            location=Location(path=str(path)),
        ) from exc
    lines = text.split("\n")
    header = lines[0].rstrip("\r").split("\t") if lines else []
    require_columns(header, required, path=path, what=what)

    def rows() -> Iterator[tuple[int, list[str]]]:
        for number, line in enumerate(lines[1:], start=2):
            line = line.rstrip("\r")
            if line.strip():
                yield number, line.split("\t")

    return header, rows()


def require_columns(header: Sequence[str], required: Sequence[str], *, path: Path, what: str) -> None:
    """Raise `FormatError` naming the required columns the header lacks."""
    missing = [c for c in required if c not in header]
    if missing:
        raise FormatError(
            f"not a {what} file: the header lacks column(s) {', '.join(missing)}",
            location=Location(path=str(path), line=1),
        )


_ENUM_FIELDS = {"biomarker": BiomarkerKind, "direction": Direction}
_INT_FIELDS = {"codon", "exon", "line", "protein_start", "protein_end"}


def _arrow_type(name: str) -> pa.DataType:
    if name == "release":
        return pa.date32()
    if name == "pan_cancer":
        return pa.bool_()
    if name == "tumour_types":
        return pa.list_(pa.string())
    if name in _INT_FIELDS:
        return pa.int64()
    return pa.string()


# One column per Evidence field, in declaration order, so the table and the dataclass cannot drift.
EVIDENCE_SCHEMA = pa.schema(
    [
        pa.field(
            f.name,
            _arrow_type(f.name),
            nullable=f.name not in {"source", "release", "evidence_id", "biomarker", "therapy"},
        )
        for f in fields(Evidence)
    ]
)


def evidence_table(items: Iterable[Evidence]) -> pa.Table:
    """The evidence items as one Arrow table (`EVIDENCE_SCHEMA`), for Parquet storage.

    >>> import datetime as dt
    >>> e = Evidence("civic", dt.date(2018, 5, 1), "EID95", BiomarkerKind.PROTEIN_CHANGE, "BRAF",
    ...              "Dabrafenib + Trametinib", Direction.RESPONSIVE, "B", "Melanoma",
    ...              protein_change="V600E", tumour_types=("MEL",))
    >>> evidence_table([e]).column("protein_change").to_pylist()
    ['V600E']
    """
    columns: dict[str, list[object]] = {f.name: [] for f in fields(Evidence)}
    for item in items:
        for name, values in columns.items():
            value = getattr(item, name)
            if name in _ENUM_FIELDS:
                value = value.value
            elif name == "tumour_types":
                value = list(value)
            values.append(value)
    return pa.Table.from_pydict(columns, schema=EVIDENCE_SCHEMA)


def evidence_from_table(table: pa.Table) -> list[Evidence]:
    """Evidence items back from a table written by `evidence_table` (the inverse)."""
    out: list[Evidence] = []
    names = [f.name for f in fields(Evidence)]
    present = [n for n in names if n in table.column_names]
    for row in table.select(present).to_pylist():
        for name, enum in _ENUM_FIELDS.items():
            row[name] = enum(row[name])
        row["tumour_types"] = tuple(row.get("tumour_types") or ())
        out.append(Evidence(**row))
    return out
