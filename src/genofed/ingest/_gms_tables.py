"""Readers of the small result files of Swedish somatic pipelines (BALSAMIC, Twist_Solid).

Each reader takes one file, checks it by header name (unknown columns and keys are ignored, a
missing required one is an error naming it) and returns plain values; none of them knows about
cases or the store. Errors are :class:`~genofed.errors.FormatError` naming file, line and field.

=============================  ===============================================================
file                           what is read
=============================  ===============================================================
CNVkit ``.cns`` (TSV)          ``chromosome``, ``start``, ``end``, ``log2`` (required);
                               ``cn``, ``cn1``, ``cn2``, ``gene`` when present (``cnvkit.py
                               call`` adds the ``cn`` columns). Coordinates are 0-based
                               half-open like BED, so they are stored as they are.
PureCN ``*.purecn*.csv``       ``Purity`` and ``Ploidy`` (required), ``Sampleid``,
                               ``Contamination``, ``Flagged``, ``Failed``, ``Comment``; one row.
ASCAT ``*samplestatistics*``   ``key value`` lines; ``rho`` (purity, the aberrant cell fraction)
                               and ``Ploidy`` (the fitted profile's mean ploidy) are required;
                               ``psi`` (the fit's ploidy parameter) and ``goodnessOfFit`` are
                               kept. ``NormalContamination`` is the normal cells' share of the
                               DNA (it follows from rho and Ploidy), not a cross-sample
                               contamination, so it is not read as one.
MSIsensor-pro result (TSV)     ``Total_Number_of_Sites``, ``Number_of_Unstable_Sites`` (``pro``
                               mode) or ``Number_of_Somatic_Sites`` (paired ``msi`` mode), and
                               ``%``: the MSI score, the percentage of unstable sites; one row.
=============================  ===============================================================

:func:`absolute_copy_number` converts a CNVkit log2 ratio to a tumour copy number when a ``.cns``
file has no ``cn`` column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genofed.errors import FormatError, Location
from genofed.model import normalise_chromosome

__all__ = [
    "CnvSegment",
    "MsiScore",
    "PurityEstimate",
    "absolute_copy_number",
    "read_ascat_statistics",
    "read_cnvkit_segments",
    "read_msisensor_pro",
    "read_purecn",
]

# R and pandas write these for a missing value.
_MISSING = frozenset({"", "NA", "NaN", "nan", "None", "."})
_TRUE = frozenset({"true", "t", "yes", "1"})
_FALSE = frozenset({"false", "f", "no", "0"})
_CNS_REQUIRED = ("chromosome", "start", "end", "log2")
_PURECN_REQUIRED = ("Purity", "Ploidy")
_ASCAT_REQUIRED = ("rho", "Ploidy")
_MSI_TOTAL = "Total_Number_of_Sites"
_MSI_UNSTABLE = ("Number_of_Unstable_Sites", "Number_of_Somatic_Sites")
_MSI_SCORE = "%"


@dataclass(frozen=True, slots=True)
class CnvSegment:
    """One CNVkit segment: 0-based half-open coordinates, log2 ratio and any called copy numbers."""

    chrom: str
    start: int
    end: int
    log2: float
    #: the ``cn`` column (absolute copy number), when the file has one and the value is not missing
    copy_number: float | None
    #: the smaller of ``cn1`` and ``cn2`` (allele-specific copy numbers), when both are given
    minor_copy_number: float | None
    genes: tuple[str, ...]
    line: int


@dataclass(frozen=True, slots=True)
class PurityEstimate:
    """A tumour purity (0–1) and ploidy estimate, with the tool that made it."""

    #: ``PureCN`` or ``ASCAT``
    method: str
    purity: float
    ploidy: float | None
    path: str
    #: the sample the file names (PureCN's ``Sampleid``)
    sample: str | None = None
    #: PureCN's estimated cross-sample contamination (0–1)
    contamination: float | None = None
    #: PureCN flagged the fit for review (``Comment`` says why)
    flagged: bool = False
    #: PureCN could not fit the sample
    failed: bool = False
    comment: str | None = None
    #: ASCAT's ``psi`` (the ploidy parameter of the fit; ``ploidy`` is the profile's mean)
    psi: float | None = None
    #: ASCAT's ``goodnessOfFit`` (percent)
    goodness_of_fit: float | None = None


@dataclass(frozen=True, slots=True)
class MsiScore:
    """An MSIsensor-pro result: the percentage of unstable microsatellite sites."""

    score: float
    total_sites: int
    unstable_sites: int
    path: str


# -- shared parsing ----------------------------------------------------------------------------------
def _read_text(path: Path, what: str) -> str:
    where = str(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(f"{what} not found", location=Location(path=where)) from None
    except IsADirectoryError:
        raise FormatError(f"expected a {what} file, found a folder", location=Location(path=where)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read the {what}: {exc}", location=Location(path=where)) from exc


def _header_index(lines: Sequence[str], path: str, what: str) -> int:
    index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if index is None:
        raise FormatError(f"the {what} is empty; expected a header line", location=Location(path=path))
    return index


def _require(header: Sequence[str], required: Sequence[str], path: str, line: int, what: str) -> None:
    for name in required:
        if name not in header:
            found = ", ".join(repr(c) for c in header)
            raise FormatError(
                f"required column {name!r} is missing from the {what} header (found {found})",
                location=Location(path=path, line=line, field=name),
            )


def _number(
    text: str,
    path: str,
    line: int,
    field: str,
    *,
    optional: bool = False,
    low: float | None = None,
    high: float | None = None,
    expected: str = "a number",
) -> float | None:
    value = text.strip()
    if value in _MISSING:
        if optional:
            return None
        raise FormatError(f"{field} is empty; expected {expected}", location=Location(path, line, field))
    try:
        number = float(value)
    except ValueError:
        raise FormatError(
            f"{field} is {value!r}; expected {expected}", location=Location(path, line, field)
        ) from None
    if not math.isfinite(number):
        raise FormatError(f"{field} is {value!r}; expected {expected}", location=Location(path, line, field))
    if (low is not None and number < low) or (high is not None and number > high):
        raise FormatError(f"{field} is {value}; expected {expected}", location=Location(path, line, field))
    return number


def _integer(text: str, path: str, line: int, field: str, *, low: int = 0) -> int:
    value = text.strip()
    try:
        number = int(value)
    except ValueError:
        raise FormatError(
            f"{field} is {value!r}; expected a whole number", location=Location(path, line, field)
        ) from None
    if number < low:
        raise FormatError(
            f"{field} is {number}; expected a whole number of at least {low}",
            location=Location(path, line, field),
        )
    return number


def _flag(text: str, path: str, line: int, field: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE or value in {v.lower() for v in _MISSING}:
        return False
    raise FormatError(f"{field} is {text!r}; expected TRUE or FALSE", location=Location(path, line, field))


def _purity(text: str, path: str, line: int, field: str) -> float:
    value = _number(text, path, line, field, low=0.0, high=1.0, expected="a purity from 0 to 1")
    assert value is not None
    return value


def _ploidy(text: str, path: str, line: int, field: str, *, optional: bool = False) -> float | None:
    return _number(
        text, path, line, field, optional=optional, low=0.0, high=20.0, expected="a ploidy from 0 to 20"
    )


# -- CNVkit ------------------------------------------------------------------------------------------
def read_cnvkit_segments(path: str | Path) -> tuple[CnvSegment, ...]:
    """Read a CNVkit segment file (``.cns``).

    Parameters
    ----------
    path
        The tab-separated ``.cns`` file (``cnvkit.py segment`` or ``call`` output).

    Returns
    -------
    tuple of CnvSegment
        The segments in file order, chromosome names normalised (``chr7`` → ``7``).

    Raises
    ------
    FormatError
        The file is missing or empty, a required column is missing, a row has the wrong number of
        fields, a start/end is not a whole number or ``end <= start``, a log2 ratio is not a finite
        number, or a copy number is negative.
    """
    file = Path(path)
    where = str(file)
    lines = _read_text(file, "CNVkit segment file").splitlines()
    head = _header_index(lines, where, "CNVkit segment file")
    header = [c.strip() for c in lines[head].split("\t")]
    _require(header, _CNS_REQUIRED, where, head + 1, "CNVkit segment file")
    col = {name: i for i, name in enumerate(header)}
    segments: list[CnvSegment] = []
    for index in range(head + 1, len(lines)):
        raw = lines[index]
        if not raw.strip() or raw.startswith("#"):
            continue
        line = index + 1
        values = raw.split("\t")
        if len(values) != len(header):
            raise FormatError(
                f"row has {len(values)} tab-separated fields; the header has {len(header)}",
                location=Location(where, line),
            )
        chrom_text = values[col["chromosome"]].strip()
        if not chrom_text:
            raise FormatError("chromosome is empty", location=Location(where, line, "chromosome"))
        start = _integer(values[col["start"]], where, line, "start")
        end = _integer(values[col["end"]], where, line, "end")
        if end <= start:
            raise FormatError(
                f"end {end} is not after start {start}; CNVkit segments are 0-based half-open",
                location=Location(where, line, "end"),
            )
        log2 = _number(values[col["log2"]], where, line, "log2", expected="a finite log2 ratio")
        assert log2 is not None
        copies: dict[str, float | None] = {}
        for name in ("cn", "cn1", "cn2"):
            copies[name] = (
                _number(
                    values[col[name]],
                    where,
                    line,
                    name,
                    optional=True,
                    low=0.0,
                    expected="a copy number >= 0",
                )
                if name in col
                else None
            )
        cn1, cn2 = copies["cn1"], copies["cn2"]
        genes: tuple[str, ...] = ()
        if "gene" in col:
            genes = tuple(g for g in values[col["gene"]].split(",") if g.strip() not in {"", "-"})
        segments.append(
            CnvSegment(
                chrom=normalise_chromosome(chrom_text),
                start=start,
                end=end,
                log2=log2,
                copy_number=copies["cn"],
                minor_copy_number=min(cn1, cn2) if cn1 is not None and cn2 is not None else None,
                genes=genes,
                line=line,
            )
        )
    return tuple(segments)


def absolute_copy_number(log2: float, purity: float, ploidy: float = 2.0) -> float:
    """The tumour cells' copy number of a segment from its log2 copy ratio, purity and ploidy.

    A sample is a mixture: a fraction ``purity`` (p) of tumour cells of mean ploidy ψ and normal
    cells with 2 copies, so its mean copy number is ``D = p·ψ + 2(1 − p)``. CNVkit centres log2 ratios
    on the sample's typical segment, so a ratio ``R = 2**log2`` is relative to ``D``, and a segment
    with ``n`` copies in tumour cells has ``R·D = p·n + 2(1 − p)``, hence::

        n = (R·D − 2(1 − p)) / p

    clipped at 0 (noise can push a homozygous deletion slightly below). With ψ = 2 this is CNVkit's
    own clonal rescaling (``cnvkit.py call -m clonal --purity p``); the relation is the one of
    ABSOLUTE (Carter et al., Nat Biotechnol 30:413, 2012). The result is not rounded. Sex
    chromosomes of male samples (one normal copy) are not corrected.

    Parameters
    ----------
    log2
        The segment's log2 copy ratio.
    purity
        Tumour cell fraction, in (0, 1].
    ploidy
        Mean ploidy of the tumour cells (default 2).

    Raises
    ------
    ValueError
        Purity is not in (0, 1] or the ploidy is not positive.

    Examples
    --------
    >>> round(absolute_copy_number(0.0, purity=0.6, ploidy=3.0), 6)
    3.0
    >>> round(absolute_copy_number(math.log2(1.5), purity=1.0), 6)
    3.0
    """
    if not 0.0 < purity <= 1.0:
        raise ValueError(f"purity must be in (0, 1], got {purity}")
    if ploidy <= 0.0:
        raise ValueError(f"ploidy must be positive, got {ploidy}")
    normal = 2.0 * (1.0 - purity)
    mixture = purity * ploidy + normal
    return max(0.0, (math.pow(2.0, log2) * mixture - normal) / purity)


# -- purity ------------------------------------------------------------------------------------------
def read_purecn(path: str | Path) -> PurityEstimate:
    """Read PureCN's purity/ploidy CSV (one sample).

    Raises
    ------
    FormatError
        The file is missing, ``Purity`` or ``Ploidy`` is missing from the header, the file has no
        sample or more than one, the purity is outside 0–1, the ploidy outside 0–20, or a flag is
        not TRUE/FALSE.
    """
    file = Path(path)
    where = str(file)
    text = _read_text(file, "PureCN purity file")
    lines = text.splitlines()
    head = _header_index(lines, where, "PureCN purity file")
    rows = list(csv.reader(io.StringIO("\n".join(lines[head:]))))
    header = [c.strip() for c in rows[0]]
    _require(header, _PURECN_REQUIRED, where, head + 1, "PureCN purity file")
    data = [(head + 2 + i, r) for i, r in enumerate(rows[1:]) if any(v.strip() for v in r)]
    if len(data) != 1:
        raise FormatError(
            f"the file has {len(data)} samples; expected the one tumour of the case",
            location=Location(where, head + 2 if not data else data[1][0]),
        )
    line, values = data[0]
    if len(values) != len(header):
        raise FormatError(
            f"row has {len(values)} comma-separated fields; the header has {len(header)}",
            location=Location(where, line),
        )
    row = dict(zip(header, values, strict=True))
    contamination = (
        _number(
            row["Contamination"],
            where,
            line,
            "Contamination",
            optional=True,
            low=0.0,
            high=1.0,
            expected="a fraction from 0 to 1",
        )
        if "Contamination" in row
        else None
    )
    comment = row.get("Comment", "").strip()
    return PurityEstimate(
        method="PureCN",
        purity=_purity(row["Purity"], where, line, "Purity"),
        ploidy=_ploidy(row["Ploidy"], where, line, "Ploidy", optional=True),
        path=where,
        sample=(row.get("Sampleid") or "").strip() or None,
        contamination=contamination,
        flagged=_flag(row["Flagged"], where, line, "Flagged") if "Flagged" in row else False,
        failed=_flag(row["Failed"], where, line, "Failed") if "Failed" in row else False,
        comment=None if comment in _MISSING else comment,
    )


def read_ascat_statistics(path: str | Path) -> PurityEstimate:
    """Read ASCAT's (ascatNgs / BALSAMIC) ``samplestatistics`` file of ``key value`` lines.

    Raises
    ------
    FormatError
        The file is missing, a line has no value, a key appears twice, ``rho`` or ``Ploidy`` is
        missing, rho is outside 0–1 or a ploidy outside 0–20.
    """
    file = Path(path)
    where = str(file)
    found: dict[str, tuple[str, int]] = {}
    for index, raw in enumerate(_read_text(file, "ASCAT sample statistics file").splitlines()):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(None, 1)
        line = index + 1
        if len(parts) != 2:
            raise FormatError(
                f"line {raw.strip()!r} has no value; expected 'key value'",
                location=Location(where, line, parts[0]),
            )
        key, value = parts[0], parts[1].strip()
        if key in found:
            raise FormatError(
                f"{key!r} appears twice (also on line {found[key][1]})", location=Location(where, line, key)
            )
        found[key] = (value, line)
    for key in _ASCAT_REQUIRED:
        if key not in found:
            raise FormatError(
                f"required key {key!r} is missing (found {', '.join(found) or 'nothing'})",
                location=Location(where, field=key),
            )

    def optional(key: str, high: float) -> float | None:
        if key not in found:
            return None
        value, line = found[key]
        return _number(value, where, line, key, optional=True, low=0.0, high=high)

    rho, rho_line = found["rho"]
    ploidy, ploidy_line = found["Ploidy"]
    return PurityEstimate(
        method="ASCAT",
        purity=_purity(rho, where, rho_line, "rho"),
        ploidy=_ploidy(ploidy, where, ploidy_line, "Ploidy"),
        path=where,
        psi=optional("psi", 20.0),
        goodness_of_fit=optional("goodnessOfFit", 100.0),
    )


# -- MSI ---------------------------------------------------------------------------------------------
def read_msisensor_pro(path: str | Path) -> MsiScore:
    """Read an MSIsensor-pro result file (its summary: a header and one row).

    Raises
    ------
    FormatError
        The file is missing, a column is missing, there is not exactly one row, a count is not a
        whole number, or the score is outside 0–100.
    """
    file = Path(path)
    where = str(file)
    lines = _read_text(file, "MSIsensor-pro result").splitlines()
    head = _header_index(lines, where, "MSIsensor-pro result")
    header = [c.strip() for c in lines[head].split("\t")]
    unstable = next((c for c in _MSI_UNSTABLE if c in header), None)
    if unstable is None:
        raise FormatError(
            f"required column {' or '.join(repr(c) for c in _MSI_UNSTABLE)} is missing from the header "
            f"(found {', '.join(repr(c) for c in header)})",
            location=Location(where, head + 1, _MSI_UNSTABLE[0]),
        )
    _require(header, (_MSI_TOTAL, _MSI_SCORE), where, head + 1, "MSIsensor-pro result")
    data = [(i + 1, lines[i]) for i in range(head + 1, len(lines)) if lines[i].strip()]
    if len(data) != 1:
        raise FormatError(
            f"the file has {len(data)} result rows; expected one",
            location=Location(where, head + 2 if not data else data[1][0]),
        )
    line, raw = data[0]
    values = raw.split("\t")
    if len(values) != len(header):
        raise FormatError(
            f"row has {len(values)} tab-separated fields; the header has {len(header)}",
            location=Location(where, line),
        )
    row = dict(zip(header, values, strict=True))
    score = _number(
        row[_MSI_SCORE], where, line, _MSI_SCORE, low=0.0, high=100.0, expected="a percentage from 0 to 100"
    )
    assert score is not None
    total = _integer(row[_MSI_TOTAL], where, line, _MSI_TOTAL)
    count = _integer(row[unstable], where, line, unstable)
    if count > total:
        raise FormatError(
            f"{unstable} is {count}, more than the {total} sites in {_MSI_TOTAL}",
            location=Location(where, line, unstable),
        )
    return MsiScore(score=score, total_sites=total, unstable_sites=count, path=where)
