"""A call set as columns: the one input shape of the benchmark, from a VCF or from Arrow.

A :class:`CallSet` holds one sample's calls as parallel arrays (contig, 0-based start, REF, ALT as
written, the two genotype allele indices, whether the call passes its filters), so the bulk of a
whole-genome comparison stays in numpy and pyarrow. Two constructors fill it:

- :meth:`CallSet.from_vcf` reads a text VCF (plain or bgzipped) with pyarrow's multithreaded CSV
  reader rather than record by record: at five million records a per-record Python loop
  (cyvcf2 included) costs more than the whole comparison. Every check is vectorised and a failing
  record is reported with its file, line and field.
- :meth:`CallSet.from_arrow` takes a table in the node store's ``variant_calls`` shape (``chrom``,
  0-based ``start``, trimmed ``ref``/``alt``, ``genotype`` such as ``"0/1"``), so a node benchmarks
  its stored calls without writing a VCF.
"""

from __future__ import annotations

import enum
import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from genofed.errors import FormatError, Location, SampleError

__all__ = ["CallSet", "InvalidRecords"]

_BASES = r"[ACGTNacgtn]+"
_VCF_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT")


class InvalidRecords(enum.Enum):
    """What to do with a record whose alleles or genotype cannot be compared."""

    RAISE = "raise"
    """Stop with a :class:`~genofed.errors.FormatError` naming file, line and field (the default)."""
    SKIP = "skip"
    """Leave the record out and count it in :attr:`CallSet.skipped` (hap.py's import failures)."""


IntArray = npt.NDArray[np.int64]
SmallArray = npt.NDArray[np.int16]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class CallSet:
    """One sample's calls as parallel columns (see the module docstring).

    Attributes
    ----------
    chrom, start, ref, alt
        Contig as written, 0-based start of REF, REF and ALT as written (ALT may hold several alleles
        separated by commas; alleles may be empty in the store's trimmed form).
    gt1, gt2
        Genotype allele indices (0 reference, k the k-th ALT, -1 missing); a haploid call repeats its
        allele so that ``1`` and ``1/1`` compare equal.
    filter_pass
        FILTER (and the sample's FT, when present) is PASS or missing.
    line
        1-based source line of each record (0 when the calls did not come from a file).
    source
        The file or description the calls came from, for messages.
    skipped
        Records left out under :attr:`InvalidRecords.SKIP`.
    """

    chrom: pa.Array
    start: IntArray
    ref: pa.Array
    alt: pa.Array
    gt1: SmallArray
    gt2: SmallArray
    filter_pass: BoolArray
    line: IntArray
    source: str = "<calls>"
    skipped: int = 0
    sample: str | None = field(default=None)

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def from_vcf(
        cls, path: str | Path, sample: str | None = None, *, invalid: InvalidRecords = InvalidRecords.RAISE
    ) -> CallSet:
        """Read one sample of a text VCF (``.vcf`` or bgzipped ``.vcf.gz``).

        Parameters
        ----------
        path
            The VCF.
        sample
            Sample column to read; the first one when omitted. A record without GT (a sites-only
            file, a somatic caller's FORMAT) is read as a het call of its first ALT.
        invalid
            What to do with records whose REF/ALT are not sequences or whose genotype does not fit.

        Raises
        ------
        FormatError
            A malformed record (file, line and field named) or a file that is not a VCF.
        SampleError
            ``sample`` is not a column of the file.
        """
        path = Path(path)
        header_lines, columns = _read_header(path)
        samples = columns[9:]
        if sample is None:
            sample = samples[0] if samples else None
        elif sample not in samples:
            raise SampleError(
                f"sample {sample!r} is not in the VCF; it has {', '.join(samples) or 'no sample column'}",
                location=Location(str(path), header_lines, "#CHROM"),
            )
        # A sites-only VCF (common for somatic truth sets) is read as calls of its first ALT.
        wanted = (0, 1, 3, 4, 6, 8, columns.index(sample)) if sample is not None else (0, 1, 3, 4, 6)
        names = [f"c{i}" for i in range(len(columns))]
        bad_rows: list[str] = []

        def on_bad_row(row: pacsv.InvalidRow) -> str:
            bad_rows.append(row.text or "")
            return "skip"

        try:
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(
                    skip_rows=header_lines, column_names=names, block_size=1 << 24
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter="\t", quote_char=False, escape_char=False, invalid_row_handler=on_bad_row
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    include_columns=[names[i] for i in wanted],
                    strings_can_be_null=False,
                    null_values=[],
                ),
            )
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            raise FormatError(f"cannot read the VCF body: {exc}", location=Location(str(path))) from exc
        if bad_rows:
            line = _find_line(path, bad_rows[0])
            raise FormatError(
                f"a record has {len(bad_rows[0].split(chr(9)))} tab-separated columns, "
                f"expected {len(columns)}",
                location=Location(str(path), line),
            )
        lines = np.arange(table.num_rows, dtype=np.int64) + header_lines + 1
        chrom = table.column(0).combine_chunks()
        pos_text = table.column(1).combine_chunks()
        ref = table.column(2).combine_chunks()
        alt = table.column(3).combine_chunks()
        filt = table.column(4).combine_chunks()
        if sample is not None:
            fmt = table.column(5).combine_chunks()
            sample_values = table.column(6).combine_chunks()
        else:
            fmt = pa.array([""] * table.num_rows, pa.string())
            sample_values = fmt

        def fail(mask: pa.Array | BoolArray, field_name: str, message: str) -> None:
            bad = np.asarray(mask, dtype=bool)
            if bad.any():
                i = int(np.argmax(bad))
                raise FormatError(message, location=Location(str(path), int(lines[i]), field_name))

        fail(
            pc.invert(pc.match_substring_regex(pos_text, r"^[0-9]+$")), "POS", "POS is not a positive integer"
        )
        start = pc.cast(pos_text, pa.int64()).to_numpy() - 1
        fail(start < 0, "POS", "POS must be 1 or more")
        gt_text, ft_text = _format_fields(fmt, sample_values)
        # No GT (a sites-only file, or a somatic caller's FORMAT without it): a call of the first ALT.
        no_gt = np.asarray(pc.equal(gt_text, ""))
        if no_gt.any():
            gt_text = pc.if_else(pa.array(no_gt), "0/1", gt_text)
        gt1, gt2, _, gt_ok = _parse_genotypes(gt_text)
        fail(~gt_ok, "GT", "GT is not a genotype of one or two alleles such as 0/1, 1|1 or 1")
        n_alts = np.where(np.asarray(pc.equal(alt, ".")), 0, pc.count_substring(alt, ",").to_numpy() + 1)
        fail(np.maximum(gt1, gt2) > n_alts, "GT", "GT names an allele that ALT does not have")
        called = (gt1 > 0) | (gt2 > 0)
        ref_ok = np.asarray(pc.match_substring_regex(ref, f"^{_BASES}$"))
        alt_ok = np.asarray(pc.match_substring_regex(alt, rf"^(\*|{_BASES})(,(\*|{_BASES}))*$")) | ~called
        valid = ref_ok & alt_ok
        skipped = 0
        if invalid is InvalidRecords.RAISE:
            fail(~ref_ok, "REF", "REF must be a sequence of A, C, G, T or N")
            fail(~alt_ok, "ALT", "ALT must be comma-separated sequences of A, C, G, T or N (or *)")
        else:
            skipped = int((~valid).sum())
        filter_pass = np.asarray(pc.is_in(filt, pa.array(["PASS", "."]))) & np.asarray(
            pc.is_in(ft_text, pa.array(["PASS", ".", ""]))
        )
        keep = valid & called
        idx = pa.array(np.nonzero(keep)[0])
        return cls(
            chrom=chrom.take(idx),
            start=start[keep],
            ref=ref.take(idx),
            alt=alt.take(idx),
            gt1=gt1[keep],
            gt2=gt2[keep],
            filter_pass=filter_pass[keep],
            line=lines[keep],
            source=str(path),
            skipped=skipped,
            sample=sample,
        )

    @classmethod
    def from_arrow(cls, table: pa.Table, *, source: str = "<arrow>") -> CallSet:
        """Calls from an Arrow table in the store's ``variant_calls`` shape.

        Columns: ``chrom``; ``start`` (0-based) or ``pos`` (1-based, as in VCF); ``ref``; ``alt``
        (one allele, or several separated by commas); ``genotype`` (``"0/1"``, ``"1|1"``, ``"1"``;
        allele indices refer to ``alt``); optional ``filter_pass`` (bool, default true). Alleles may
        be empty (the store's trimmed insertions and deletions).

        Raises
        ------
        FormatError
            A column is missing or a genotype/allele cannot be read (the row is named as the line).
        """
        names = set(table.column_names)
        required = {"chrom", "ref", "alt", "genotype"}
        missing = sorted(required - names) + ([] if names & {"start", "pos"} else ["start"])
        if missing:
            raise FormatError(
                f"the call table lacks column(s) {', '.join(missing)}; it needs chrom, start (0-based) "
                "or pos (1-based), ref, alt and genotype",
                location=Location(source),
            )
        n = table.num_rows
        rows = np.arange(1, n + 1, dtype=np.int64)
        if "start" in names:
            start = pc.cast(table.column("start"), pa.int64()).to_numpy(zero_copy_only=False)
        else:
            start = pc.cast(table.column("pos"), pa.int64()).to_numpy(zero_copy_only=False) - 1
        ref = pc.cast(table.column("ref"), pa.string()).combine_chunks()
        alt = pc.cast(table.column("alt"), pa.string()).combine_chunks()
        gt_text = pc.fill_null(pc.cast(table.column("genotype"), pa.string()), "").combine_chunks()
        gt1, gt2, _, gt_ok = _parse_genotypes(gt_text)

        def fail(mask: BoolArray, field_name: str, message: str) -> None:
            if mask.any():
                i = int(np.argmax(mask))
                raise FormatError(message, location=Location(source, int(rows[i]), field_name))

        fail(~gt_ok, "genotype", "genotype is not one or two allele indices such as 0/1, 1|1 or 1")
        fail(start < 0, "start", "start must be 0 or more (0-based)")
        allele_re = r"[ACGTNacgtn]*"
        fail(~np.asarray(pc.match_substring_regex(ref, f"^{allele_re}$")), "ref", "ref must be A, C, G, T, N")
        fail(
            ~np.asarray(pc.match_substring_regex(alt, rf"^{allele_re}(,{allele_re})*$")),
            "alt",
            "alt must be A, C, G, T, N",
        )
        n_alts = pc.count_substring(alt, ",").to_numpy() + 1
        fail(np.maximum(gt1, gt2) > n_alts, "genotype", "genotype names an allele that alt does not have")
        if "filter_pass" in names:
            filter_pass = np.asarray(pc.fill_null(table.column("filter_pass"), True), dtype=bool)
        else:
            filter_pass = np.ones(n, dtype=bool)
        keep = (gt1 > 0) | (gt2 > 0)
        idx = pa.array(np.nonzero(keep)[0])
        chrom = pc.cast(table.column("chrom"), pa.string()).combine_chunks()
        return cls(
            chrom=chrom.take(idx),
            start=start[keep],
            ref=ref.take(idx),
            alt=alt.take(idx),
            gt1=gt1[keep],
            gt2=gt2[keep],
            filter_pass=filter_pass[keep],
            line=rows[keep],
            source=source,
        )

    def subset(self, mask: BoolArray) -> CallSet:
        """The calls where ``mask`` is true (for example the PASS calls)."""
        idx = pa.array(np.nonzero(mask)[0])
        return CallSet(
            chrom=self.chrom.take(idx),
            start=self.start[mask],
            ref=self.ref.take(idx),
            alt=self.alt.take(idx),
            gt1=self.gt1[mask],
            gt2=self.gt2[mask],
            filter_pass=self.filter_pass[mask],
            line=self.line[mask],
            source=self.source,
            skipped=self.skipped,
            sample=self.sample,
        )


def _open_text(path: Path) -> gzip.GzipFile | object:
    with path.open("rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rt") if magic == b"\x1f\x8b" else path.open()


def _read_header(path: Path) -> tuple[int, list[str]]:
    """Number of header lines (up to and including ``#CHROM``) and the column names."""
    if not path.exists():
        raise FormatError("the VCF does not exist", location=Location(str(path)))
    n = 0
    try:
        with _open_text(path) as fh:  # type: ignore[attr-defined]
            for raw in fh:
                n += 1
                if raw.startswith("#CHROM"):
                    columns = raw.rstrip("\r\n").split("\t")
                    if tuple(columns[:9]) != _VCF_COLUMNS[: min(9, len(columns))] or len(columns) < 8:
                        raise FormatError(
                            "the #CHROM line does not have the VCF columns", location=Location(str(path), n)
                        )
                    return n, columns
                if not raw.startswith("#"):
                    break
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read the VCF header: {exc}", location=Location(str(path))) from exc
    raise FormatError(
        "no #CHROM header line before the first record", location=Location(str(path), n or None)
    )


def _find_line(path: Path, text: str) -> int | None:
    with _open_text(path) as fh:  # type: ignore[attr-defined]
        for i, raw in enumerate(fh, start=1):
            if raw.rstrip("\r\n") == text:
                return i
    return None


def _format_fields(fmt: pa.Array, values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The sample's GT and FT strings, read by each record's FORMAT (empty when absent).

    Vectorised per distinct FORMAT layout (files have a handful): the field is cut out of every
    sample string by its position in that layout, and the layouts are combined by row.
    """
    n = len(fmt)
    encoded = pc.dictionary_encode(fmt)
    codes = encoded.indices
    layouts = [str(x).split(":") for x in encoded.dictionary.to_pylist()]
    result = []
    for key in ("GT", "FT"):
        combined: pa.Array = pa.nulls(n, pa.string())
        for k, keys in enumerate(layouts):
            if key not in keys:
                continue
            j = keys.index(key)
            # Regex extraction tolerates samples that drop trailing fields (allowed by VCF).
            got = pc.struct_field(pc.extract_regex(values, rf"^(?:[^:]*:){{{j}}}(?P<v>[^:]*)"), [0])
            combined = got if len(layouts) == 1 else pc.if_else(pc.equal(codes, k), got, combined)
        result.append(pc.fill_null(combined, ""))
    return result[0], result[1]


def _parse_genotypes(text: pa.Array) -> tuple[SmallArray, SmallArray, SmallArray, BoolArray]:
    """Allele indices of each genotype string, parsed once per distinct string."""
    encoded = pc.dictionary_encode(text)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    table: list[tuple[int, int, int, bool]] = []
    for value in encoded.dictionary.to_pylist():
        table.append(_parse_one(str(value)))
    arr = np.array(table, dtype=np.int16).reshape(-1, 4) if table else np.zeros((0, 4), np.int16)
    picked = arr[codes] if len(codes) else np.zeros((0, 4), np.int16)
    return picked[:, 0], picked[:, 1], picked[:, 2], picked[:, 3].astype(bool)


def _parse_one(value: str) -> tuple[int, int, int, bool]:
    parts = value.replace("|", "/").split("/")
    if len(parts) > 2 or not value:
        return (-1, -1, 0, False)
    alleles: list[int] = []
    for part in parts:
        if part == ".":
            alleles.append(-1)
        elif part.isdigit():
            alleles.append(int(part))
        else:
            return (-1, -1, 0, False)
    if len(alleles) == 1:
        alleles.append(alleles[0])
    return (alleles[0], alleles[1], sum(a >= 0 for a in alleles), True)
