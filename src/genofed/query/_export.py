"""Export a node's allele frequencies: one row per allele, as Arrow, TSV or a sites-only VCF.

AC and AN of each allele are summed over the store's batches of ``variant_sites`` (AF = AC / AN, 0
when AN is 0). Rows come one chromosome at a time, chromosomes in natural order (1..22, X, Y, MT,
then any other contig by name) and alleles by position, so memory stays bounded by the largest
chromosome and the output can be bgzipped and indexed.

Positions are VCF-style: 1-based. Alleles are the store's; should one be empty (an indel trimmed to
nothing), the record is anchored on an ``N`` base before it (after it at position 1) so that every
row is a valid VCF record.

A store holding sites on several assemblies must be exported one assembly at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from genofed.errors import QueryError
from genofed.model import Assembly, normalise_assembly

from ._compile import frequencies_plan, site_contigs_plan
from ._run import Executor

__all__ = [
    "FREQUENCY_SCHEMA",
    "chromosome_sort_key",
    "export_frequencies",
    "write_frequencies_tsv",
    "write_frequencies_vcf",
]

FREQUENCY_SCHEMA = pa.schema(
    [
        pa.field("chrom", pa.string(), nullable=False),
        pa.field("pos", pa.int64(), nullable=False),
        pa.field("ref", pa.string(), nullable=False),
        pa.field("alt", pa.string(), nullable=False),
        pa.field("AC", pa.int64(), nullable=False),
        pa.field("AN", pa.int64(), nullable=False),
        pa.field("AF", pa.float64(), nullable=False),
    ]
)
"""Columns of :func:`export_frequencies`: one row per allele, 1-based ``pos``."""

_SEX_CHROMOSOMES = {"X": 0, "Y": 1, "MT": 2}
_TSV_OPTIONS = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")


def chromosome_sort_key(name: str) -> tuple[int, int, str]:
    """Sort key of natural chromosome order: 1..22 numerically, then X, Y, MT, then others by name.

    >>> sorted(["X", "10", "MT", "2", "GL000192.1", "1", "Y"], key=chromosome_sort_key)
    ['1', '2', '10', 'X', 'Y', 'MT', 'GL000192.1']
    """
    if name.isdigit():
        return (0, int(name), "")
    if name in _SEX_CHROMOSOMES:
        return (1, _SEX_CHROMOSOMES[name], "")
    return (2, 0, name)


def _contigs(store: Executor, assembly: Assembly | str | None) -> tuple[Assembly | None, list[str]]:
    """The assembly to export and its chromosomes (natural order) that hold sites."""
    plan = site_contigs_plan()
    rows = store.execute(plan.sql("duckdb"), plan.params).to_pylist()
    stored = sorted({str(r["assembly"]) for r in rows})
    if assembly is None:
        if len(stored) > 1:
            raise QueryError(
                f"the store holds variant sites on {' and '.join(stored)}; "
                "export one assembly at a time (assembly=...)"
            )
        chosen = Assembly(stored[0]) if stored else None
    else:
        try:
            chosen = normalise_assembly(str(assembly))
        except ValueError as exc:
            raise QueryError(f"assembly: {exc}") from None
    chroms = sorted({str(r["chrom"]) for r in rows if r["assembly"] == chosen}, key=chromosome_sort_key)
    return chosen, chroms


def _vcf_style(chrom: str, table: pa.Table) -> pa.RecordBatch:
    """Rows of one chromosome from 0-based trimmed alleles to FREQUENCY_SCHEMA (1-based, anchored)."""
    start = table.column("start").combine_chunks().cast(pa.int64())
    ref = table.column("ref").combine_chunks()
    alt = table.column("alt").combine_chunks()
    ac = table.column("allele_count").combine_chunks().cast(pa.int64())
    an = table.column("allele_number").combine_chunks().cast(pa.int64())
    pos = pc.add(start, 1)
    empty = pc.or_(pc.equal(pc.utf8_length(ref), 0), pc.equal(pc.utf8_length(alt), 0))
    if pc.any(empty).as_py():
        # VCF has no empty alleles: anchor on an unknown base before the allele (after it at the
        # chromosome's first base, as the VCF specification does for events at position 1).
        before = pc.greater(start, 0)
        anchored_ref = pc.if_else(
            before, pc.binary_join_element_wise("N", ref, ""), pc.binary_join_element_wise(ref, "N", "")
        )
        anchored_alt = pc.if_else(
            before, pc.binary_join_element_wise("N", alt, ""), pc.binary_join_element_wise(alt, "N", "")
        )
        pos = pc.if_else(pc.and_(empty, before), start, pos)
        ref = pc.if_else(empty, anchored_ref, ref)
        alt = pc.if_else(empty, anchored_alt, alt)
    af = pc.if_else(
        pc.greater(an, 0), pc.divide(pc.cast(ac, pa.float64()), pc.cast(an, pa.float64())), pa.scalar(0.0)
    )
    chroms = pa.array([chrom] * len(start), pa.string())
    return pa.RecordBatch.from_arrays([chroms, pos, ref, alt, ac, an, af], schema=FREQUENCY_SCHEMA)


def _export(store: Executor, chosen: Assembly | None, chroms: list[str]) -> Iterator[pa.RecordBatch]:
    if chosen is None:
        return
    for chrom in chroms:
        plan = frequencies_plan(chrom, chosen.value)
        table = store.execute(plan.sql("duckdb"), plan.params)
        if table.num_rows:
            yield _vcf_style(chrom, table)


def export_frequencies(
    store: Executor, *, assembly: Assembly | str | None = None
) -> Iterator[pa.RecordBatch]:
    """Allele frequencies of every stored allele, summed over batches, in natural genome order.

    Parameters
    ----------
    store
        A :class:`~genofed.store.NodeStore` or anything with its ``execute(sql, parameters)``.
    assembly
        The assembly to export; may be left out when the store holds sites on one assembly only.

    Returns
    -------
    Iterator[pyarrow.RecordBatch]
        Batches in :data:`FREQUENCY_SCHEMA` (``chrom, pos, ref, alt, AC, AN, AF``), one or more per
        chromosome, sorted by chromosome (1..22, X, Y, MT, others) and position. An empty store
        yields nothing.

    Raises
    ------
    QueryError
        ``assembly`` is unknown, or left out while the store holds several assemblies.
    """
    chosen, chroms = _contigs(store, assembly)
    return _export(store, chosen, chroms)


@contextmanager
def _binary_sink(destination: str | Path) -> Iterator[IO[bytes]]:
    """Open ``destination`` for writing; a ``.gz`` name is written BGZF-compressed (tabix-ready)."""
    path = Path(destination)
    if path.suffix == ".gz":
        import pysam  # heavy: only when compressing

        handle: IO[bytes] = cast(IO[bytes], pysam.BGZFile(str(path), "wb", None))
    else:
        handle = path.open("wb")
    try:
        yield handle
    finally:
        handle.close()


def _write_rows(sink: IO[bytes], batch: pa.RecordBatch) -> None:
    # Format a whole batch in Arrow, then hand the bytes over: BGZF files take bytes, not buffers.
    buffer = pa.BufferOutputStream()
    pacsv.write_csv(batch, buffer, write_options=_TSV_OPTIONS)
    sink.write(buffer.getvalue().to_pybytes())


def write_frequencies_tsv(
    store: Executor, destination: str | Path, *, assembly: Assembly | str | None = None
) -> int:
    """Write the frequency export as tab-separated text with a ``#CHROM POS REF ALT AC AN AF`` header.

    Parameters
    ----------
    store
        A :class:`~genofed.store.NodeStore` or anything with its ``execute(sql, parameters)``.
    destination
        File to write; a name ending in ``.gz`` is BGZF-compressed.
    assembly
        As for :func:`export_frequencies`.

    Returns
    -------
    int
        The number of alleles written.
    """
    chosen, chroms = _contigs(store, assembly)
    written = 0
    with _binary_sink(destination) as sink:
        sink.write(b"#CHROM\tPOS\tREF\tALT\tAC\tAN\tAF\n")
        for batch in _export(store, chosen, chroms):
            _write_rows(sink, batch)
            written += batch.num_rows
    return written


_VCF_INFO = (
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count: called copies of the allele, '
    "summed over the node's batches\">",
    '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of called alleles, summed over the '
    "node's batches that hold the allele\">",
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency, AC/AN">',
)
_VCF_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")]
)


def _vcf_header(chosen: Assembly | None, chroms: list[str]) -> bytes:
    from genofed import __version__

    lines = [
        "##fileformat=VCFv4.3",
        f"##fileDate={dt.datetime.now(dt.UTC):%Y%m%d}",
        f"##source=genofed-{__version__}",
    ]
    if chosen is not None:
        lines.append(f"##reference={chosen.value}")
    for chrom in chroms:
        lines.append(f"##contig=<ID={chrom},assembly={chosen.value}>" if chosen else f"##contig=<ID={chrom}>")
    lines.extend(_VCF_INFO)
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    return ("\n".join(lines) + "\n").encode()


def _vcf_records(batch: pa.RecordBatch) -> pa.RecordBatch:
    n = batch.num_rows
    dot = pa.array(["."] * n, pa.string())
    info = pc.binary_join_element_wise(
        "AC=",
        pc.cast(batch.column("AC"), pa.string()),
        ";AN=",
        pc.cast(batch.column("AN"), pa.string()),
        ";AF=",
        pc.cast(batch.column("AF"), pa.string()),
        "",
    )
    columns = [
        batch.column("chrom"),
        pc.cast(batch.column("pos"), pa.string()),
        dot,
        batch.column("ref"),
        batch.column("alt"),
        dot,
        dot,
        info,
    ]
    return pa.RecordBatch.from_arrays(columns, schema=_VCF_SCHEMA)


def write_frequencies_vcf(
    store: Executor, destination: str | Path, *, assembly: Assembly | str | None = None
) -> int:
    """Write the frequency export as a sites-only VCF 4.3 with INFO ``AC``, ``AN`` and ``AF``.

    The header names the assembly in ``##reference`` and lists each stored chromosome of it as a
    ``##contig`` (no lengths: the store does not hold them). Alleles are one record each; a
    multi-allelic site is several records at one position, as ``bcftools norm -m-`` writes them.

    Parameters
    ----------
    store
        A :class:`~genofed.store.NodeStore` or anything with its ``execute(sql, parameters)``.
    destination
        File to write; a name ending in ``.gz`` is BGZF-compressed (index it with ``tabix -p vcf``).
    assembly
        As for :func:`export_frequencies`.

    Returns
    -------
    int
        The number of records written.
    """
    chosen, chroms = _contigs(store, assembly)
    written = 0
    with _binary_sink(destination) as sink:
        sink.write(_vcf_header(chosen, chroms))
        for batch in _export(store, chosen, chroms):
            _write_rows(sink, _vcf_records(batch))
            written += batch.num_rows
    return written
