"""The VCF adapter: germline and somatic VCFs → variant sites and calls, specimens and analyses.

Shape of a read (:meth:`VcfReader.chunks`):

1. The constructor reads the header as text (sample columns, line count, annotation declaration,
   assembly) and settles who each sample is (:class:`~genofed.ingest.SampleSheet`) and whether the
   file is somatic. Nothing is read through htslib yet.
2. ``chunks()`` yields the ``specimens`` and ``analyses`` rows, then streams records in blocks of
   at most ``chunk_records`` records. The file is read once, by a background thread
   (:class:`_TextLines`) that decompresses the text and checks what htslib does not (no empty
   lines, a stream that ends cleanly), handing over checked lines in order. htslib (cyvcf2)
   parses each line; its column count is checked exactly (htslib ignores extra columns).

   Genotypes take one of two routes. When a file's records have the FORMAT ``GT`` alone (cohort
   call sets such as 1000 Genomes), htslib parses only a line's site columns (CHROM to INFO) and
   the genotypes are read in bulk from the text: a block's sample columns become one numpy array
   of 4-byte words, one per genotype (``0|1`` and its tab); the usual hom-ref word is set aside
   with one comparison and only the others are decoded, each checked against the strict grammar
   of a diploid one-digit genotype. A line that does not fit it exactly (another ploidy, alleles
   past 9, other FORMAT keys, a malformed genotype) is parsed by htslib whole instead, so htslib
   decides what every such genotype means and rejects what it cannot read. Other files (FORMAT
   with DP/AD/AF, ...) are parsed whole by htslib, line by line, their genotypes copied as
   htslib's raw integer encoding into a block array. Both routes end in the same sparse form:
   per block, the genotypes other than hom-ref as (record, sample, allele codes, phase), and AN
   per record.
3. Per block, everything per genotype -- allele counts, zygosity, the sparse call rows and their
   genotype strings -- is computed with numpy over those entries. Each block becomes one
   ``variant_sites`` and one ``variant_calls`` Arrow chunk. When htslib rejects a line, the line
   is diagnosed so the error names line and field.

Conventions: AC/AN/homozygous counts are over the samples whose calls are kept (every sample of a
germline file; the tumour samples of a somatic one), so the calls of an allele add up to its AC.
AN counts called alleles only: a missing genotype lowers AN. A genotype ``1/2`` gives a
heterozygous call of each allele, written relative to that allele as bcftools ``norm -m-`` does
(``1/0`` and ``0/1``). Haploid calls are hemizygous; a partly missing genotype (``./1``) has
zygosity ``unknown``.
"""

from __future__ import annotations

import gzip
import os
import queue
import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from genofed.errors import CodeError, FormatError, InputError, Location, SampleError
from genofed.model import (
    Analysis,
    Assembly,
    Origin,
    Specimen,
    SpecimenType,
    Zygosity,
    conform,
    normalise_assembly,
    normalise_chromosome,
    trim_alleles,
    variant_id,
    with_vrs_ids,
)

from ._annotation import Annotation, AnnotationParser
from ._normalise import FastaReference, is_symbolic, left_align, variant_type
from ._samples import SampleEntry, SampleSheet
from ._source import Chunk

__all__ = ["VcfReader", "VcfSummary"]

# htslib's integer sentinels (htslib/vcf.h): a missing value, and the padding after a short vector.
_INT32_MISSING = -(2**31)
_VECTOR_END = -(2**31) + 1
# Upper bound on genotype slots (records × samples × ploidy) held per block, to bound memory.
_BLOCK_SLOTS = 4_000_000
_READ_BYTES = 4 << 20
# Decompressed reads the text thread may hold ahead of the reader.
_QUEUED_READS = 4
# The text route's genotype words (4 bytes: allele, separator, allele, tab; little-endian uint32).
_HOM_REF_WORD = int.from_bytes(b"0/0\t", "little")
_HOM_REF_PHASED_WORD = int.from_bytes(b"0|0\t", "little")
_TAB, _NEWLINE, _CR, _SLASH, _BAR = ord("\t"), ord("\n"), ord("\r"), ord("/"), ord("|")
# Allele byte -> allele + 1 as htslib codes it; 0 for '.', -1 for a byte that is no allele.
_TEXT_ALLELE = np.full(256, -1, dtype=np.int32)
_TEXT_ALLELE[ord(".")] = 0
_TEXT_ALLELE[ord("0") : ord("9") + 1] = np.arange(1, 11, dtype=np.int32)
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_BASES = re.compile(r"[ACGTN]+")
_ZYGOSITY = pa.array(
    [z.value for z in (Zygosity.HETEROZYGOUS, Zygosity.HOMOZYGOUS, Zygosity.HEMIZYGOUS, Zygosity.UNKNOWN)]
)
_REFERENCE_TOKENS = {
    "grch37": Assembly.GRCH37,
    "hg19": Assembly.GRCH37,
    "b37": Assembly.GRCH37,
    "hs37d5": Assembly.GRCH37,
    "g1k_v37": Assembly.GRCH37,
    "grch38": Assembly.GRCH38,
    "hg38": Assembly.GRCH38,
    "b38": Assembly.GRCH38,
    "hs38": Assembly.GRCH38,
    "hs38dh": Assembly.GRCH38,
}
_REFERENCE_TOKEN = re.compile(
    r"(?<![a-z0-9])(" + "|".join(sorted(_REFERENCE_TOKENS, key=len, reverse=True)) + r")(?![a-z0-9])",
    re.IGNORECASE,
)
# Lengths of chromosome 1 and X tell GRCh37 from GRCh38 when the header names neither.
_CONTIG_LENGTHS = {
    ("1", 249250621): Assembly.GRCH37,
    ("X", 155270560): Assembly.GRCH37,
    ("1", 248956422): Assembly.GRCH38,
    ("X", 156040895): Assembly.GRCH38,
}


@dataclass
class VcfSummary:
    """What one read of a VCF produced and skipped (complete once ``chunks()`` is exhausted)."""

    records: int = 0
    #: ALT alleles stored as ``variant_sites`` rows
    sites: int = 0
    calls: int = 0
    #: genotypes read (records × samples whose calls are kept)
    genotypes: int = 0
    #: symbolic ALT alleles (``<DEL>``, ``<*>``, ``*``, breakends) skipped
    skipped_symbolic: int = 0
    #: records without any ALT allele (``ALT=.``) skipped
    skipped_no_alt: int = 0
    #: alleles moved by left-alignment against the FASTA
    left_aligned: int = 0
    #: consequence terms outside the model's SO table, kept verbatim, with their annotation counts
    unknown_consequences: dict[str, int] = field(default_factory=dict)


# Checked text from the text thread: a decompressed read and the (start, end) offsets of its lines.
_TextItem = tuple[bytes, npt.NDArray[np.intp], npt.NDArray[np.intp]]


@dataclass(frozen=True, slots=True)
class _Header:
    text: str
    lines: int
    samples: tuple[str, ...]


class VcfReader:
    """A :class:`~genofed.ingest.SourceReader` for one VCF (plain, gzip or BGZF; germline or somatic).

    Parameters
    ----------
    path
        The VCF.
    samples
        Who each sample column is; without one, each sample name is its own individual
        (tumour/normal pairs from ``##tumor_sample``/``##normal_sample`` share the tumour's name).
    assembly
        Reference assembly (``GRCh38``, ``hg19``, ...); default: from the header (``##contig``
        ``assembly=``, ``##reference``, contig lengths, or VEP's ``assembly=``).
    origin
        Germline or somatic. Default: somatic when the sheet has tumour or normal samples or the
        header has ``##tumor_sample``/``##normal_sample``. Somatic files keep calls of tumour
        samples only.
    reference_fasta
        An indexed FASTA of the assembly: indels are then left-aligned and REF is checked against it.
    chunk_records
        Records per output chunk (fewer when a block would hold more than 4 million genotype slots).

    Raises
    ------
    FormatError
        The file is missing, unreadable, or its header is malformed or names no assembly.
    SampleError
        The sheet and the VCF's sample columns differ, or a somatic file has no tumour sample.
    CodeError
        The assembly is not one genofed knows.
    """

    #: adapter name recorded in the catalog
    kind: str = "vcf"

    def __init__(
        self,
        path: str | Path,
        *,
        samples: SampleSheet | None = None,
        assembly: str | None = None,
        origin: Origin | None = None,
        reference_fasta: Path | None = None,
        chunk_records: int = 1000,
    ) -> None:
        if chunk_records < 1:
            raise ValueError("chunk_records must be at least 1")
        self.path = Path(path)
        self._source = self.path.name  # asked for per sample: Path.name is not free
        self.chunk_records = chunk_records
        self.reference_fasta = Path(reference_fasta) if reference_fasta is not None else None
        self._where = str(self.path)
        if not self.path.is_file():
            raise FormatError("VCF not found", location=Location(path=self._where))
        if self.reference_fasta is not None and not self.reference_fasta.is_file():
            raise FormatError("reference FASTA not found", location=Location(path=str(self.reference_fasta)))
        self._compression = _compression(self.path)
        self._header = self._read_header()
        if not self._header.samples:
            raise SampleError(
                "the VCF has no sample columns; genofed ingests the calls of sequenced samples",
                location=Location(path=self._where, line=self._header.lines, field="FORMAT"),
            )
        self.assembly = _assembly(self._header.text, assembly, self._where)
        try:
            self._annotation = AnnotationParser.from_header(self._header.text)
        except InputError as exc:
            raise exc.with_context(path=self._where) from None
        self.origin, self.sheet = self._settle_samples(samples, origin)
        if self.origin is Origin.SOMATIC:
            kept = {e.sample for e in self.sheet if e.specimen_type is SpecimenType.TUMOUR}
        else:
            kept = set(self.sheet.samples)
        #: VCF columns whose calls are kept, in file order
        self.call_samples: tuple[str, ...] = tuple(s for s in self._header.samples if s in kept)
        self.summary = VcfSummary()
        # htslib's parsers of single lines (cyvcf2 Writers): of whole lines, and of site columns
        self._line_parser: Any = None
        self._site_parser: Any = None

    # -- SourceReader -----------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The VCF's file name."""
        return self._source

    @property
    def samples(self) -> tuple[str, ...]:
        """All sample columns of the VCF, in file order."""
        return self._header.samples

    @property
    def analysis_ids(self) -> tuple[str, ...]:
        """Source IDs of the analyses this file holds (one per sample whose calls are kept)."""
        return tuple(self.sheet[s].analysis_id(self.source) for s in self.call_samples)

    @property
    def batch_key(self) -> str:
        """``vcf:`` and the sorted analysis IDs: re-ingesting the same analyses replaces the batch."""
        return "vcf:" + ",".join(sorted(self.analysis_ids))

    def __repr__(self) -> str:
        return (
            f"<VcfReader {self.source}: {len(self.samples)} samples, {self.origin.value}, "
            f"{self.assembly.value}>"
        )

    def chunks(self) -> Iterator[Chunk]:
        """Yield ``specimens``, ``analyses``, then ``variant_sites``/``variant_calls`` chunks.

        Raises
        ------
        FormatError
            A record is malformed (wrong column count, non-numeric POS, a GT allele beyond the ALT
            alleles, a REF that is not the reference, ...) or the compressed stream is truncated;
            the error names file, line and field.
        """
        self.summary = VcfSummary()
        if self._annotation is not None:
            self._annotation.unknown_terms.clear()
        if self._compression == "bgzf":
            _check_bgzf_eof(self.path)
        yield "specimens", self._specimens()
        yield "analyses", self._analyses()
        text = _TextLines(self.path, self._header, self._compression)
        text.start()
        fasta = FastaReference(self.reference_fasta) if self.reference_fasta is not None else None
        try:
            yield from self._records(text, fasta)
        finally:
            text.stop()
            for parser in (self._line_parser, self._site_parser):
                if parser is not None:
                    parser.close()
            self._line_parser = self._site_parser = None
            if fasta is not None:
                fasta.close()
            if self._annotation is not None:
                self.summary.unknown_consequences = dict(self._annotation.unknown_terms)

    # -- header and samples -----------------------------------------------------------------------
    def _read_header(self) -> _Header:
        lines: list[str] = []
        try:
            with _open_text(self.path, self._compression) as handle:
                for raw in handle:
                    line = raw.decode("utf-8", errors="replace")
                    lines.append(line)
                    if line.startswith("#CHROM"):
                        break
                    if not line.startswith("##"):
                        raise FormatError(
                            "expected a '##' meta line or the '#CHROM' header line",
                            location=Location(path=self._where, line=len(lines)),
                        )
                else:
                    raise FormatError(
                        "the file has no '#CHROM' header line; is it a VCF?",
                        location=Location(path=self._where),
                    )
        except (OSError, EOFError, zlib.error) as exc:
            raise _stream_error(self._where, exc, len(lines) + 1) from exc
        columns = lines[-1].rstrip("\r\n").split("\t")
        fixed = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
        if columns[:8] != fixed:
            raise FormatError(
                f"the header line's columns are {columns[:8]}; expected {fixed}",
                location=Location(path=self._where, line=len(lines), field="#CHROM"),
            )
        samples = tuple(columns[9:])
        if len(set(samples)) != len(samples):
            duplicate = next(s for s in samples if samples.count(s) > 1)
            raise SampleError(
                f"sample column {duplicate!r} appears twice",
                location=Location(path=self._where, line=len(lines), field=duplicate),
            )
        return _Header(text="".join(lines), lines=len(lines), samples=samples)

    def _settle_samples(self, sheet: SampleSheet | None, origin: Origin | None) -> tuple[Origin, SampleSheet]:
        """Decide germline or somatic and who each sample is."""
        vcf_samples = self._header.samples
        tumour = _header_value(self._header.text, "tumor_sample")
        normal = _header_value(self._header.text, "normal_sample")
        for name, key in ((tumour, "tumor_sample"), (normal, "normal_sample")):
            if name is not None and name not in vcf_samples:
                raise SampleError(
                    f"the header's ##{key}={name} is not a sample column ({', '.join(vcf_samples)})",
                    location=Location(path=self._where, field=f"##{key}"),
                )
        if sheet is None:
            entries = {s: SampleEntry(sample=s, individual=s) for s in vcf_samples}
            if tumour is not None:
                entries[tumour] = SampleEntry(
                    sample=tumour, individual=tumour, specimen_type=SpecimenType.TUMOUR, normal_sample=normal
                )
                if normal is not None:
                    entries[normal] = SampleEntry(
                        sample=normal, individual=tumour, specimen_type=SpecimenType.NORMAL
                    )
            elif normal is not None:
                entries[normal] = SampleEntry(
                    sample=normal, individual=normal, specimen_type=SpecimenType.NORMAL
                )
            if origin is Origin.SOMATIC and tumour is None and len(vcf_samples) == 1:
                # A single-sample somatic VCF (tumour-only calling): the one sample is the tumour.
                only = vcf_samples[0]
                entries[only] = SampleEntry(sample=only, individual=only, specimen_type=SpecimenType.TUMOUR)
            sheet = SampleSheet(entries.values())
        else:
            self._match_sheet(sheet)
        somatic = origin is Origin.SOMATIC or (
            origin is None and (sheet.is_somatic or tumour is not None or normal is not None)
        )
        if somatic and not any(e.specimen_type is SpecimenType.TUMOUR for e in sheet):
            where = f"the sample sheet {sheet.path}" if sheet.path else "the header (no ##tumor_sample)"
            raise SampleError(
                f"the VCF is read as somatic but {where} marks no sample as a tumour; "
                "give a sample sheet with specimen_type=tumour for the tumour column(s)",
                location=Location(path=self._where),
            )
        return (Origin.SOMATIC if somatic else Origin.GERMLINE), sheet

    def _match_sheet(self, sheet: SampleSheet) -> None:
        sheet_name = str(sheet.path) if sheet.path is not None else "the sample sheet"
        for sample in self._header.samples:
            if sample not in sheet:
                raise SampleError(
                    f"sample {sample!r} of the VCF is not in {sheet_name}; add a row for it",
                    location=Location(path=self._where, line=self._header.lines, field=sample),
                )
        for entry in sheet:
            if entry.sample not in self._header.samples:
                raise SampleError(
                    f"sample {entry.sample!r} of {sheet_name} is not a sample column of {self._where}",
                    location=Location(
                        path=str(sheet.path) if sheet.path else None, line=entry.line, field="sample"
                    ),
                )

    def _specimens(self) -> pa.Table:
        # Built column-wise (a cohort VCF has thousands of samples); conform() applies the model's
        # declaration. The values come from a validated SampleSheet.
        seen: dict[str, SampleEntry] = {}
        for sample in self._header.samples:
            entry = self.sheet[sample]
            seen.setdefault(entry.specimen_id, entry)
        entries = list(seen.values())
        return conform(
            Specimen,
            pa.table(
                {
                    "specimen_id": [e.specimen_id for e in entries],
                    "individual_id": [e.individual for e in entries],
                    "specimen_type": [e.specimen_type.value for e in entries],
                    "tissue": pa.array([e.tissue for e in entries], pa.string()),
                    "tumour_type": pa.array([e.tumour_type for e in entries], pa.string()),
                }
            ),
        )

    def _analyses(self) -> pa.Table:
        entries = [self.sheet[s] for s in self.call_samples]
        count = len(entries)
        normals = [self.sheet[e.normal_sample].specimen_id if e.normal_sample else None for e in entries]
        return conform(
            Analysis,
            pa.table(
                {
                    "analysis_id": [e.analysis_id(self.source) for e in entries],
                    "individual_id": [e.individual for e in entries],
                    "specimen_id": [e.specimen_id for e in entries],
                    "normal_specimen_id": pa.array(normals, pa.string()),
                    "assay": [e.assay.value for e in entries],
                    "pipeline": pa.array([e.pipeline for e in entries], pa.string()),
                    "pipeline_version": pa.array([e.pipeline_version for e in entries], pa.string()),
                    "reference_assembly": pa.repeat(self.assembly.value, count).cast(pa.string()),
                    "origin": pa.repeat(self.origin.value, count).cast(pa.string()),
                    "source": pa.repeat(self.source, count).cast(pa.string()),
                }
            ),
        )

    # -- records ----------------------------------------------------------------------------------
    def _records(self, text: _TextLines, fasta: FastaReference | None) -> Iterator[Chunk]:
        first = text.peek()
        # Genotypes come from the text when records carry GT alone (see the module docstring).
        block = _Block(self, fasta, from_text=first is not None and _format_column(first) == b"GT")
        line_no = self._header.lines
        try:
            # take() raises a fault the text check found, at its line.
            while (line := text.take()) is not None:
                line_no += 1
                block.add(line_no, *line)
                if block.full:
                    yield from block.flush()
        except InputError:
            # A genotype fault on an earlier line of this block (found when the block's text
            # genotypes are decoded) is reported before this one.
            block.settle()
            raise
        yield from block.flush()

    def _parse_line(self, line: bytes, line_no: int) -> Any:
        """A record line parsed by htslib, every column (a cyvcf2 Variant)."""
        tabs = line.count(b"\t")
        if tabs != 8 + len(self._header.samples):
            # htslib ignores extra columns, so count them (text-route lines are checked by width).
            message, field_name = _column_message(tabs + 1, self._header.samples)
            raise FormatError(message, location=Location(path=self._where, line=line_no, field=field_name))
        if self._line_parser is None:
            self._line_parser = _line_parser(self._header.text)
        return self._parse(self._line_parser, line, line_no)

    def _parse_sites(self, columns: bytes, line_no: int) -> Any:
        """The site columns of a record line (CHROM to INFO) parsed by htslib (a cyvcf2 Variant)."""
        if self._site_parser is None:
            # The header without FORMAT and sample columns: htslib reads a sites-only record.
            head, _, chrom_line = self._header.text.rstrip("\r\n").rpartition("\n")
            self._site_parser = _line_parser(f"{head}\n" + "\t".join(chrom_line.split("\t")[:8]) + "\n")
        return self._parse(self._site_parser, columns, line_no)

    def _parse(self, parser: Any, line: bytes, line_no: int) -> Any:
        try:
            variant = parser.variant_from_string(line.decode("utf-8", errors="replace"))
        except Exception as exc:  # cyvcf2 raises bare Exception for htslib failures
            raise self._diagnose(line_no, exc) from exc
        if not variant.CHROM:
            # htslib reads an empty CHROM as a record without alleles; touching its REF would
            # crash cyvcf2, so stop here.
            raise self._diagnose(line_no, None)
        return variant

    def _diagnose(self, line_no: int, exc: Exception | None) -> InputError:
        """Turn an htslib failure at record line ``line_no`` into an error naming line and field."""
        found: tuple[str, str] | None = None
        try:
            with _open_text(self.path, self._compression) as handle:
                raw = b""
                for number, text in enumerate(handle, start=1):
                    if number == line_no:
                        raw = text
                        break
                if raw:
                    fields = raw.decode("utf-8", errors="replace").rstrip("\r\n").split("\t")
                    found = _diagnose_fields(fields, self._header.samples)
                if found is None:
                    # The line looks fine: htslib may have failed on a broken compressed stream
                    # further on (it decompresses ahead), so read to the end to find out.
                    for _ in handle:
                        pass
        except (OSError, EOFError, zlib.error) as stream_exc:
            return _stream_error(self._where, stream_exc, line_no)
        if found is not None:
            message, field_name = found
            return FormatError(message, location=Location(path=self._where, line=line_no, field=field_name))
        if not raw:
            return FormatError(
                f"htslib stopped reading: {exc}", location=Location(path=self._where, line=line_no)
            )
        return FormatError(
            f"htslib cannot parse this record ({exc}); its message is printed above",
            location=Location(path=self._where, line=line_no),
        )


@dataclass(frozen=True, slots=True)
class _Entries:
    """The genotypes of a block other than hom-ref, in (record, sample) order, and AN per record.

    ``code`` is (ploidy slot, entry): allele + 1, 0 for a missing allele, -1 for an absent slot (a
    genotype shorter than the block's ploidy); ``phase`` marks slots written after ``|``. Slots are
    rows so that per-slot work runs over contiguous memory (numpy reduces a short inner axis slowly).
    """

    record: npt.NDArray[np.intp]
    sample: npt.NDArray[np.intp]
    code: npt.NDArray[np.int32]
    phase: npt.NDArray[np.bool_]
    allele_number: npt.NDArray[np.int64]


class _Block:
    """Records of one block: site fields in lists, genotypes as text words or htslib's integers."""

    def __init__(self, reader: VcfReader, fasta: FastaReference | None, *, from_text: bool) -> None:
        self.reader = reader
        self.fasta = fasta
        self.from_text = from_text
        self.where = reader._where
        self.samples = len(reader.call_samples)
        self.capacity = max(1, min(reader.chunk_records, _BLOCK_SLOTS // (2 * self.samples)))
        self.assembly = reader.assembly.value
        self.origin = reader.origin.value
        self.annotation = reader._annotation
        formats = _format_types(reader._header.text)
        self.want_dp = formats.get("DP") == "Integer"
        self.want_ad = formats.get("AD") == "Integer"
        self.want_af = formats.get("AF") == "Float"
        self.chroms: dict[str, str] = {}
        sheet = reader.sheet
        self.individuals = pa.array([sheet[s].individual for s in reader.call_samples], pa.string())
        self.analyses = pa.array(
            [sheet[s].analysis_id(reader.source) for s in reader.call_samples], pa.string()
        )
        # The text route: the sample columns of a line whose genotypes are all "a/b" are exactly
        # 4 bytes per sample, less the tab after the last.
        columns = reader.samples
        self.text_width = 4 * len(columns) - 1
        kept = set(reader.call_samples)
        self.keep: npt.NDArray[np.intp] | None = (
            None
            if len(kept) == len(columns)
            else np.array([i for i, s in enumerate(columns) if s in kept], dtype=np.intp)
        )
        self.ploidy = 2
        # htslib's genotypes of the records read through it; rows are written whole in
        # _add_genotypes(), so no fill is needed (np.empty: untouched pages cost nothing).
        self.gt = np.empty((self.capacity, self.ploidy, self.samples), dtype=np.int32)
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.dp: npt.NDArray[np.int32] | None = None
        self.ad: npt.NDArray[np.int32] | None = None
        self.af: npt.NDArray[np.float32] | None = None
        self.lines: list[int] = []
        self.chrom: list[str] = []
        self.raw_chrom: list[str] = []
        self.pos: list[int] = []
        self.ref: list[str] = []
        self.alts: list[list[str]] = []
        self.passed: list[bool] = []
        self.ann: list[str | None] = []
        #: records whose genotypes htslib parsed (rows of self.gt)
        self.parsed: list[int] = []
        #: records whose genotypes wait in the text: the text, where the line and its sample
        #: columns start (plain ints and references: objects the garbage collector tracks, such
        #: as a memoryview per line, would make it run often over everything the block holds)
        self.text_records: list[int] = []
        self.text_sources: list[bytes] = []
        self.text_line_starts: list[int] = []
        self.text_column_starts: list[int] = []
        self.text_entries: _Entries | None = None

    @property
    def full(self) -> bool:
        return self.n >= self.capacity

    def add(self, line_no: int, text: bytes, start: int, end: int) -> None:
        """Parse one record line, ``text[start:end]``, into the block.

        On the text route htslib parses the site columns, and the block keeps where the sample
        columns are, to decode them with the block's other lines in :meth:`settle`.
        """
        reader = self.reader
        genotypes: Any = None
        if self.from_text:
            # FORMAT is "GT" when a "\tGT\t" has 7 tabs before it (an ID, REF or ALT of "GT"
            # may come first).
            info_end = text.find(b"\tGT\t", start, end)
            tabs = text.count(b"\t", start, info_end) if info_end >= 0 else -1
            while 0 <= tabs < 7:
                info_end = text.find(b"\tGT\t", info_end + 1, end)
                tabs = text.count(b"\t", start, info_end) if info_end >= 0 else -1
            columns = info_end + 4  # after "GT" and its tab
            if tabs == 7 and end - columns == self.text_width:
                variant = reader._parse_sites(text[start:info_end], line_no)
                self.text_records.append(self.n)
                self.text_sources.append(text)
                self.text_line_starts.append(start)
                self.text_column_starts.append(columns)
            else:
                variant = genotypes = reader._parse_line(text[start:end], line_no)
        else:
            variant = genotypes = reader._parse_line(text[start:end], line_no)
        raw_chrom = variant.CHROM
        chrom = self.chroms.get(raw_chrom)
        if chrom is None:
            chrom = self.chroms[raw_chrom] = normalise_chromosome(raw_chrom)
        self.lines.append(line_no)
        self.raw_chrom.append(raw_chrom)
        self.chrom.append(chrom)
        self.pos.append(variant.POS)
        self.ref.append(variant.REF)
        self.alts.append(variant.ALT)
        self.passed.append(variant.FILTER is None)
        self.ann.append(variant.INFO.get(self.annotation.tag) if self.annotation is not None else None)
        self.n += 1
        if genotypes is not None:
            self._add_genotypes(genotypes, self.n - 1)

    def _add_genotypes(self, variant: Any, i: int) -> None:
        """Copy htslib's genotypes (and FORMAT DP, AD, AF) of record ``i`` into the block arrays."""
        self.parsed.append(i)
        gt = variant.format("GT", int)
        keep = self.keep
        if keep is not None and gt is not None:
            # htslib parses every sample column; keep the ones whose calls are kept.
            gt = gt[keep]
        if gt is not None:
            width = gt.shape[1]
            if width > self.ploidy:
                kept = self.gt
                self.ploidy = width
                self.gt = np.full((self.capacity, self.ploidy, self.samples), _VECTOR_END, dtype=np.int32)
                self.gt[:, : kept.shape[1]] = kept
            self.gt[i, :width, :] = gt.T
            if width < self.ploidy:
                self.gt[i, width:, :] = _VECTOR_END
        else:
            self.gt[i] = _VECTOR_END
        n_alleles = len(self.alts[i]) + 1
        # Types given explicitly (the header declares them so, see want_*): cyvcf2 cannot look them
        # up for a variant from its line parser.
        if self.want_dp:
            dp = variant.format("DP", int)
            if dp is not None and dp.dtype.kind == "i":
                if self.dp is None:
                    self.dp = np.full((self.capacity, self.samples), _INT32_MISSING, dtype=np.int32)
                self.dp[i] = (dp if keep is None else dp[keep])[:, 0]
        if self.want_ad:
            ad = variant.format("AD", int)
            if ad is not None and ad.dtype.kind == "i":
                self.ad = _put(self.ad, i, ad if keep is None else ad[keep], self.capacity, _INT32_MISSING)
        if self.want_af:
            af = variant.format("AF", float)
            # FORMAT AF is per ALT allele (Number=A); a single value is only unambiguous with one ALT.
            if af is not None and af.dtype.kind == "f" and (af.shape[1] == n_alleles - 1):
                af = af if keep is None else af[keep]
                self.af = _put(self.af, i, af.astype(np.float32), self.capacity, np.nan)

    def settle(self) -> None:
        """Decode the genotypes waiting in the text; lines outside the strict grammar go to htslib.

        Every word other than the usual hom-ref one (``0/0`` or ``0|0``, and the tab) must be two
        alleles (a digit or ``.``) around ``/`` or ``|``, then a tab.
        """
        if not self.text_records:
            return
        count = len(self.text_records)
        width = self.text_width
        # One copy of the block's sample columns, with a tab after the last column of each line.
        joined = b"\t".join(
            [
                *(
                    memoryview(text)[start : start + width]
                    for text, start in zip(self.text_sources, self.text_column_starts, strict=True)
                ),
                b"",
            ]
        )
        words = np.frombuffer(joined, dtype="<u4").reshape(count, -1)
        if self.keep is not None:
            words = words[:, self.keep]
        # Set aside the block's usual hom-ref word (unphased or phased, by its first line) with one
        # comparison; the other form, if any, is decoded like any genotype (two REF alleles).
        phased = np.count_nonzero(words[0] == _HOM_REF_PHASED_WORD)
        usual = (
            _HOM_REF_PHASED_WORD if phased > np.count_nonzero(words[0] == _HOM_REF_WORD) else _HOM_REF_WORD
        )
        flat = np.flatnonzero((words != usual).reshape(-1))
        local, sample = np.divmod(flat, self.samples)
        word = words.reshape(-1)[flat]
        first = _TEXT_ALLELE[word & 0xFF]
        second = _TEXT_ALLELE[(word >> 16) & 0xFF]
        separator = (word >> 8) & 0xFF
        good = (first >= 0) & (second >= 0) & ((word >> 24) == _TAB)
        good &= (separator == _SLASH) | (separator == _BAR)
        records = np.asarray(self.text_records, dtype=np.intp)
        text_records, sources = self.text_records, self.text_sources
        line_starts, column_starts = self.text_line_starts, self.text_column_starts
        self.text_records, self.text_sources, self.text_line_starts, self.text_column_starts = [], [], [], []
        read = np.ones(count, dtype=np.bool_)
        if not good.all():
            bad_lines = np.unique(local[~good])
            for b in bad_lines.tolist():
                i = text_records[b]
                line = sources[b][line_starts[b] : column_starts[b] + width]
                self._add_genotypes(self.reader._parse_line(line, self.lines[i]), i)
            read[bad_lines] = False
            fine = read[local]
            local, sample, first, second, separator = (
                local[fine],
                sample[fine],
                first[fine],
                second[fine],
                separator[fine],
            )
        code = np.full((self.ploidy, len(local)), -1, dtype=np.int32)
        code[0] = first
        code[1] = second
        phase = np.zeros(code.shape, dtype=np.bool_)
        phase[1] = separator == _BAR
        missing = np.bincount(local, weights=(first == 0).astype(np.int64) + (second == 0), minlength=count)
        allele_number = np.zeros(self.n, dtype=np.int64)
        allele_number[records[read]] = 2 * self.samples - missing[read].astype(np.int64)
        self.text_entries = _Entries(records[local], sample, code, phase, allele_number)

    def flush(self) -> Iterator[Chunk]:
        """Turn the block into a ``variant_sites`` and a ``variant_calls`` chunk, then empty it."""
        if self.n == 0:
            return
        try:
            sites, calls = self._tables()
        finally:
            self._reset()
        # GA4GH VRS identifiers: substitutions from the refget digests alone; indels only with the
        # FASTA (fully justified), else none -- never a wrong one.
        yield "variant_sites", with_vrs_ids(sites, reference=self.fasta)
        yield "variant_calls", calls

    # -- per block --------------------------------------------------------------------------------
    def _error(self, record: int, message: str, field_name: str) -> FormatError:
        return FormatError(
            message, location=Location(path=self.where, line=self.lines[record], field=field_name)
        )

    def _sites(self) -> tuple[dict[str, list[Any]], list[int], list[int]]:
        """Site rows (one per sequence ALT allele) and, per row, its record and allele index."""
        summary = self.reader.summary
        cols: dict[str, list[Any]] = {
            k: []
            for k in (
                "chrom",
                "start",
                "end",
                "ref",
                "alt",
                "variant_id",
                "variant_type",
                "gene",
                "transcript",
                "consequence",
                "impact",
                "hgvs_c",
                "protein_change",
            )
        }
        rec_of_row: list[int] = []
        allele_of_row: list[int] = []
        for r in range(self.n):
            alts = self.alts[r]
            ref = self.ref[r].upper()
            if not alts:
                summary.skipped_no_alt += 1
                continue
            if not _BASES.fullmatch(ref):
                raise self._error(r, f"REF {ref!r} is not a sequence of A, C, G, T, N", "REF")
            annotations: list[Annotation | None] = [None] * len(alts)
            if self.annotation is not None and self.ann[r]:
                try:
                    annotations = self.annotation.most_severe(self.ann[r], self.ref[r], alts)
                except InputError as exc:
                    raise exc.with_context(path=self.where, line=self.lines[r]) from None
            if self.fasta is not None:
                self._check_ref(r, ref)
            for k, alt_raw in enumerate(alts, start=1):
                if is_symbolic(alt_raw):
                    summary.skipped_symbolic += 1
                    continue
                alt = alt_raw.upper()
                if not _BASES.fullmatch(alt):
                    raise self._error(r, f"ALT allele {alt_raw!r} is not a sequence of A, C, G, T, N", "ALT")
                if alt == ref:
                    raise self._error(r, f"ALT allele {alt_raw!r} equals REF", "ALT")
                start, tref, talt = trim_alleles(self.pos[r] - 1, ref, alt)
                if self.fasta is not None and not (tref and talt):
                    try:
                        moved = left_align(start, tref, talt, self.fasta, self.raw_chrom[r])
                    except InputError as exc:
                        raise exc.with_context(path=self.where, line=self.lines[r]) from None
                    if moved[0] != start:
                        summary.left_aligned += 1
                    start, tref, talt = moved
                chrom = self.chrom[r]
                cols["chrom"].append(chrom)
                cols["start"].append(start)
                cols["end"].append(start + len(tref))
                cols["ref"].append(tref)
                cols["alt"].append(talt)
                cols["variant_id"].append(variant_id(self.assembly, chrom, start, tref, talt))
                cols["variant_type"].append(variant_type(tref, talt))
                note = annotations[k - 1]
                cols["gene"].append(note.gene if note else None)
                cols["transcript"].append(note.transcript if note else None)
                cols["consequence"].append(note.consequence if note else None)
                cols["impact"].append(note.impact if note else None)
                cols["hgvs_c"].append(note.hgvs_c if note else None)
                cols["protein_change"].append(note.protein_change if note else None)
                rec_of_row.append(r)
                allele_of_row.append(k)
        return cols, rec_of_row, allele_of_row

    def _check_ref(self, r: int, ref: str) -> None:
        assert self.fasta is not None
        start = self.pos[r] - 1
        try:
            expected = self.fasta.fetch(self.raw_chrom[r], start, start + len(ref))
        except InputError as exc:
            raise exc.with_context(path=self.where, line=self.lines[r]) from None
        # N (in either) matches any base: references and callers both use it for unknown bases.
        if expected != ref and (
            len(expected) != len(ref)
            or any(e != b and "N" not in (e, b) for e, b in zip(expected, ref, strict=True))
        ):
            raise self._error(
                r,
                f"REF {ref!r} does not match the reference {expected!r} at {self.raw_chrom[r]}:{self.pos[r]} "
                f"of {self.fasta.path.name}",
                "REF",
            )

    def _entries(self) -> _Entries:
        """The block's genotypes other than hom-ref (text and htslib), in (record, sample) order."""
        n = self.n
        parts: list[_Entries] = []
        if self.text_entries is not None:
            parts.append(self.text_entries)
        if self.parsed:
            if len(self.parsed) == n:
                rows = np.arange(n, dtype=np.intp)
                raw = self.gt[:n]
            else:
                rows = np.asarray(sorted(self.parsed), dtype=np.intp)
                raw = self.gt[rows]
            # htslib GT encoding: (allele + 1) << 1 | phased, 0 (1 if phased) for a missing allele,
            # and _VECTOR_END padding short genotypes. code = raw >> 1 is allele + 1, 0 for a
            # missing allele, negative for an absent slot.
            code = raw >> 1
            allele_number = np.zeros(n, dtype=np.int64)
            allele_number[rows] = np.count_nonzero((code >= 1).reshape(len(rows), -1), axis=1)
            other = code[:, 0] != 1
            for j in range(1, self.ploidy):
                other |= code[:, j] != 1
            # 1-D nonzero on a byte view is faster than 2-D nonzero.
            flat = np.flatnonzero(other.view(np.uint8).reshape(-1))
            local, sample = np.divmod(flat, self.samples)
            parts.append(
                _Entries(
                    rows[local],
                    sample,
                    np.stack([code[local, j, sample] for j in range(self.ploidy)]),
                    np.stack([(raw[local, j, sample] & 1).astype(np.bool_) for j in range(self.ploidy)]),
                    allele_number,
                )
            )
        if len(parts) == 1:
            return parts[0]
        if not parts:
            none = np.zeros(0, dtype=np.intp)
            return _Entries(
                none,
                none,
                np.zeros((self.ploidy, 0), dtype=np.int32),
                np.zeros((self.ploidy, 0), dtype=np.bool_),
                np.zeros(n, dtype=np.int64),
            )
        record = np.concatenate([p.record for p in parts])
        sample = np.concatenate([p.sample for p in parts])
        # Each part is in (record, sample) order and a record's entries all come from one part,
        # so a stable sort by record merges them (numpy's stable sort merges two runs in one pass).
        order = np.argsort(record, kind="stable")
        return _Entries(
            record[order],
            sample[order],
            np.concatenate([p.code for p in parts], axis=1)[:, order],
            np.concatenate([p.phase for p in parts], axis=1)[:, order],
            parts[0].allele_number + parts[1].allele_number,
        )

    def _tables(self) -> tuple[pa.Table, pa.Table]:
        n = self.n
        summary = self.reader.summary
        summary.records += n
        summary.genotypes += n * self.samples
        self.settle()
        cols, rec_list, allele_list = self._sites()
        rec_of_row = np.asarray(rec_list, dtype=np.intp)
        allele_of_row = np.asarray(allele_list, dtype=np.int32)
        entries = self._entries()
        n_alt = np.fromiter((len(a) for a in self.alts), dtype=np.int32, count=n)
        top = entries.code.max(axis=0)
        beyond = top > n_alt[entries.record] + 1
        if beyond.any():
            e = int(np.flatnonzero(beyond)[0])
            r = int(entries.record[e])
            raise self._error(
                r,
                f"sample {self.reader.call_samples[int(entries.sample[e])]!r} has allele index "
                f"{int(top[e]) - 1} in its genotype but the record has {int(n_alt[r])} ALT allele(s)",
                "GT",
            )
        # Pair each entry with the site rows of its record (its ALT alleles); a pair with a copy of
        # the row's allele is a call. Rows are numbered in record order, so with at most one row
        # per record the pairs are already in (row, sample) order.
        rows = len(rec_list)
        per_record = np.bincount(rec_of_row, minlength=n)
        first_row = np.cumsum(per_record) - per_record
        count = per_record[entries.record]
        several = bool(per_record.max() > 1)
        if several:
            pair = np.repeat(np.arange(len(count)), count)
            offset = np.arange(len(pair)) - np.repeat(np.cumsum(count) - count, count)
            pair_row = first_row[entries.record[pair]] + offset
        else:
            pair = np.flatnonzero(count)
            pair_row = first_row[entries.record[pair]]
        target = allele_of_row[pair_row] + 1
        code = entries.code[:, pair]
        copies = _count_slots(code == target)
        call = np.flatnonzero(copies)
        if several:
            call = call[np.argsort(pair_row[call], kind="stable")]
        entry = pair[call]
        row_idx = pair_row[call]
        rec_idx = entries.record[entry]
        sample_idx = entries.sample[entry]
        call_copies = copies[call]
        call_allele = allele_of_row[row_idx]
        genotype, call_ploidy, call_missing = self._genotypes(
            code[:, call], entries.phase[:, entry], target[call]
        )

        site_arrays: dict[str, pa.Array] = {
            "chrom": pa.array(cols["chrom"], pa.string()),
            "start": pa.array(cols["start"], pa.int64()),
            "end": pa.array(cols["end"], pa.int64()),
            "ref": pa.array(cols["ref"], pa.string()),
            "alt": pa.array(cols["alt"], pa.string()),
            "variant_id": pa.array(cols["variant_id"], pa.int64()),
        }
        hom = (call_copies == call_ploidy) & (call_ploidy >= 2)
        zygosity = np.where(call_ploidy == 1, 2, np.where(hom, 1, np.where(call_missing > 0, 3, 0))).astype(
            np.int8
        )
        allele_count = np.bincount(row_idx, weights=call_copies, minlength=rows).astype(np.int64)
        homozygous = np.bincount(row_idx[hom], minlength=rows)
        depth, alt_depth, vaf = self._depths(rec_idx, sample_idx, call_allele)
        sites = pa.table(
            {
                **site_arrays,
                "assembly": pa.repeat(self.assembly, rows).cast(pa.string()),
                "variant_type": pa.array(cols["variant_type"], pa.string()),
                "gene": pa.array(cols["gene"], pa.string()),
                "transcript": pa.array(cols["transcript"], pa.string()),
                "consequence": pa.array(cols["consequence"], pa.string()),
                "impact": pa.array(cols["impact"], pa.string()),
                "hgvs_c": pa.array(cols["hgvs_c"], pa.string()),
                "protein_change": pa.array(cols["protein_change"], pa.string()),
                "origin": pa.repeat(self.origin, rows).cast(pa.string()),
                "allele_count": pa.array(allele_count.astype(np.int32)),
                "allele_number": pa.array(entries.allele_number[rec_of_row].astype(np.int32)),
                "homozygous_count": pa.array(homozygous.astype(np.int32)),
            }
        )

        passed = pa.array(self.passed, pa.bool_())
        # int32 indices: pyarrow's take is several times faster with them than with int64.
        row_take = pa.array(row_idx.astype(np.int32))
        sample_take = pa.array(sample_idx.astype(np.int32))
        calls = pa.table(
            {
                **{name: array.take(row_take) for name, array in site_arrays.items()},
                "individual_id": self.individuals.take(sample_take),
                "analysis_id": self.analyses.take(sample_take),
                "genotype": genotype,
                "zygosity": _ZYGOSITY.take(pa.array(zygosity)),
                "alt_copies": pa.array(call_copies.astype(np.int8)),
                "depth": depth,
                "alt_depth": alt_depth,
                "vaf": vaf,
                "filter_pass": passed.take(pa.array(rec_idx.astype(np.int32))),
                "origin": pa.repeat(self.origin, len(row_idx)).cast(pa.string()),
            }
        )
        summary.sites += rows
        summary.calls += len(row_idx)
        return sites, calls

    def _genotypes(
        self,
        code: npt.NDArray[np.int32],
        phase: npt.NDArray[np.bool_],
        target: npt.NDArray[np.int32],
    ) -> tuple[pa.Array, npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        """Per call: the genotype string relative to its allele, its ploidy and missing alleles.

        The string comes from a small table indexed by a code of each slot's state and phase.
        """
        ploidy, count = code.shape
        # 3 bits per slot: int32 holds the key up to ploidy 10.
        key: npt.NDArray[np.signedinteger[Any]] = np.zeros(
            count, dtype=np.int32 if ploidy <= 10 else np.int64
        )
        present = _count_slots(code >= 0)
        missing = _count_slots(code == 0)
        for j in range(ploidy):
            slot = code[j]
            absent = slot < 0
            # 0 another allele (REF or another ALT), 1 this allele, 2 missing, 3 absent.
            state: npt.NDArray[np.signedinteger[Any]] = (slot == target).astype(key.dtype)
            state[slot == 0] = 2
            state[absent] = 3
            key += state << (2 * j)
            if j:
                phased: npt.NDArray[np.signedinteger[Any]] = (phase[j] & ~absent).astype(key.dtype)
                key += phased << (2 * ploidy + j - 1)
        if ploidy <= 4:
            strings = _genotype_table(ploidy).take(pa.array(key.astype(np.int32, copy=False)))
        else:
            unique, inverse = np.unique(key, return_inverse=True)
            table = pa.array([_genotype_string(int(c), ploidy) for c in unique], pa.string())
            strings = table.take(pa.array(inverse.astype(np.int32)))
        return strings, present, missing

    def _depths(
        self,
        rec_idx: npt.NDArray[np.intp],
        sample_idx: npt.NDArray[np.intp],
        call_allele: npt.NDArray[np.int32],
    ) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Read depth, allele depth and VAF of each call from FORMAT DP, AD and AF where present."""
        count = len(rec_idx)
        if self.dp is None and self.ad is None and self.af is None:
            return pa.nulls(count, pa.int32()), pa.nulls(count, pa.int32()), pa.nulls(count, pa.float32())
        depth = np.full(count, _INT32_MISSING, dtype=np.int64)
        alt_depth = np.full(count, _INT32_MISSING, dtype=np.int64)
        ad_total = np.zeros(count, dtype=np.int64)
        if self.ad is not None:
            ad = self.ad[rec_idx, sample_idx, :].astype(np.int64)
            valid = ad > _VECTOR_END
            self._non_negative(ad, valid, rec_idx, sample_idx, "AD")
            ad_total = np.where(valid, ad, 0).sum(axis=1)
            width = ad.shape[1]
            inside = call_allele < width
            picked = ad[np.arange(count), np.minimum(call_allele, width - 1)]
            alt_depth = np.where(inside & (picked > _VECTOR_END), picked, _INT32_MISSING)
            depth = np.where(valid.any(axis=1), ad_total, _INT32_MISSING)
        if self.dp is not None:
            dp = self.dp[rec_idx, sample_idx].astype(np.int64)
            self._non_negative(dp[:, None], (dp > _VECTOR_END)[:, None], rec_idx, sample_idx, "DP")
            depth = np.where(dp > _VECTOR_END, dp, depth)
        vaf = np.full(count, np.nan, dtype=np.float32)
        if self.ad is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                vaf = np.where(
                    (alt_depth > _VECTOR_END) & (ad_total > 0), alt_depth / np.maximum(ad_total, 1), np.nan
                ).astype(np.float32)
        if self.af is not None:
            width = self.af.shape[2]
            af = self.af[rec_idx, sample_idx, np.minimum(call_allele - 1, width - 1)]
            af = np.where(call_allele - 1 < width, af, np.nan)
            bad = ~np.isnan(af) & ((af < 0) | (af > 1))
            if bad.any():
                c = int(np.flatnonzero(bad)[0])
                raise self._error(
                    int(rec_idx[c]),
                    f"sample {self.reader.call_samples[int(sample_idx[c])]!r} "
                    f"has allele fraction {float(af[c])}; "
                    "expected a value from 0 to 1",
                    "AF",
                )
            vaf = np.where(np.isnan(af), vaf, af).astype(np.float32)
        return (
            pa.array(depth.astype(np.int32), mask=depth <= _VECTOR_END),
            pa.array(alt_depth.astype(np.int32), mask=alt_depth <= _VECTOR_END),
            pa.array(vaf, mask=np.isnan(vaf)),
        )

    def _non_negative(
        self,
        values: npt.NDArray[np.int64],
        valid: npt.NDArray[np.bool_],
        rec_idx: npt.NDArray[np.intp],
        sample_idx: npt.NDArray[np.intp],
        name: str,
    ) -> None:
        bad = (valid & (values < 0)).any(axis=1)
        if bad.any():
            c = int(np.flatnonzero(bad)[0])
            raise self._error(
                int(rec_idx[c]),
                f"sample {self.reader.call_samples[int(sample_idx[c])]!r} has a negative read depth; "
                "expected a count of reads",
                name,
            )


def _count_slots(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int8]:
    """Per entry, how many of its ploidy slots (the rows of ``mask``) are set.

    Row by row: numpy's reductions over a short axis are several times slower.
    """
    total: npt.NDArray[np.int8] = mask[0].astype(np.int8)
    for row in mask[1:]:
        total += row
    return total


def _put(block: Any, i: int, values: Any, capacity: int, fill: float) -> Any:
    """Store one record's (samples, width) FORMAT values in a (records, samples, width) block, widening it."""
    samples, width = values.shape
    if block is None:
        block = np.full((capacity, samples, width), fill, dtype=values.dtype)
    elif width > block.shape[2]:
        pad = np.full((capacity, samples, width - block.shape[2]), fill, dtype=block.dtype)
        block = np.concatenate([block, pad], axis=2)
    block[i, :, :width] = values
    block[i, :, width:] = fill
    return block


@cache
def _genotype_table(ploidy: int) -> pa.Array:
    """Genotype strings for every code of :meth:`_Block._genotypes` at this ploidy."""
    size = 1 << (2 * ploidy + max(ploidy - 1, 0))
    return pa.array([_genotype_string(code, ploidy) for code in range(size)], pa.string())


def _genotype_string(code: int, ploidy: int) -> str:
    text = ""
    for j in range(ploidy):
        state = (code >> (2 * j)) & 3
        if state == 3:
            break
        if j:
            text += "|" if (code >> (2 * ploidy + j - 1)) & 1 else "/"
        text += "01."[state]
    return text


# -- the raw text ----------------------------------------------------------------------------------
class _TextLines(threading.Thread):
    """Reads the file's text: checks how it is cut into lines, then hands the lines to the reader.

    The thread decompresses the file and checks what htslib does not: no empty lines, and a
    stream that ends cleanly, with a newline (column counts the reader checks line by line).
    Decompression and the numpy pass that finds the newlines release the GIL, so on a second core
    this costs little wall time. The text goes to the reader through a bounded queue (so the
    thread stays a few megabytes ahead) as whole decompressed reads with their line offsets --
    lines are not copied out -- and the reader takes one line per record with :meth:`take`. A
    fault found at line N is queued after the lines before it, so the reader meets it exactly when
    it asks for line N: faults surface in line order, whatever the threads' timing.
    """

    def __init__(self, path: Path, header: _Header, compression: str) -> None:
        super().__init__(name=f"genofed-vcf-text-{path.name}", daemon=True)
        self.path = path
        self.header = header
        self.compression = compression
        self.expected_tabs = 8 + len(header.samples)
        #: record lines queued so far (the thread's count)
        self.records = 0
        self._halt = threading.Event()
        # Items: (text, line starts, line ends), a fault, or None at the end of the file.
        self._queue: queue.Queue[_TextItem | InputError | None] = queue.Queue(maxsize=_QUEUED_READS)
        self._text = b""
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._next = 0
        self._ended = False
        self._pending: InputError | None = None

    # -- the reader's side -------------------------------------------------------------------------
    def take(self) -> tuple[bytes, int, int] | None:
        """The next record line as (text, start, end) -- ``text[start:end]`` without its newline --
        or None after the last line. Raises a fault found at it."""
        if self._next == len(self._ends) and not self._fill():
            return None
        i = self._next
        self._next += 1
        return self._text, self._starts[i], self._ends[i]

    def peek(self) -> bytes | None:
        """The next record line without taking it (None at the end, or at a fault take() raises)."""
        if self._next == len(self._ends):
            try:
                if not self._fill():
                    return None
            except InputError as exc:
                self._pending = exc  # kept for take(): the reader meets it at its line
                return None
        return self._text[self._starts[self._next] : self._ends[self._next]]

    def stop(self) -> None:
        self._halt.set()

    def _fill(self) -> bool:
        """Replace the taken lines by the next queued text; False at the end of the file."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            raise pending
        if self._ended:
            return False
        item = self._queue.get()
        if item is None or isinstance(item, InputError):
            self._ended = True
            if item is None:
                return False
            raise item
        self._text, starts, ends = item
        self._starts, self._ends = starts.tolist(), ends.tolist()
        self._next = 0
        return True

    # -- the thread --------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._scan()
        except InputError as exc:
            self._put(exc)
        except (OSError, EOFError, zlib.error) as exc:
            self._put(_stream_error(str(self.path), exc, self.header.lines + self.records + 1))
        else:
            self._put(None)

    def _put(self, item: _TextItem | InputError | None) -> None:
        """Queue ``item``, waiting for room, unless the reader has stopped."""
        while not self._halt.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _scan(self) -> None:
        with _open_text(self.path, self.compression) as handle:
            for _ in range(self.header.lines):
                handle.readline()
            carry = b""
            while not self._halt.is_set():
                text = handle.read(_READ_BYTES)
                if not text:
                    break
                newlines = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == _NEWLINE)
                if not len(newlines):
                    carry += text  # a line longer than one read
                    continue
                first = 0
                if carry:
                    # The line that straddles two reads, joined on its own (the reads are not copied).
                    first = int(newlines[0]) + 1
                    line = carry + text[:first]
                    self._check(line, np.array([0]), np.array([len(line) - 1]))
                    newlines = newlines[1:]
                last = int(newlines[-1]) + 1 if len(newlines) else first
                carry = text[last:]
                if len(newlines):
                    starts = np.empty_like(newlines)
                    starts[0] = first
                    starts[1:] = newlines[:-1] + 1
                    self._check(text, starts, newlines)
            if carry and not self._halt.is_set():
                line_no = self.header.lines + self.records + 1
                tabs = carry.count(b"\t")
                if tabs != self.expected_tabs:
                    message, field_name = _column_message(tabs + 1, self.header.samples)
                    raise FormatError(
                        message, location=Location(path=str(self.path), line=line_no, field=field_name)
                    )
                raise FormatError(
                    "the last line has no newline; the file looks truncated",
                    location=Location(path=str(self.path), line=line_no),
                )

    def _check(self, text: bytes, starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]) -> None:
        """Queue the lines ``text[starts[k]:ends[k]]``; raise for the first empty one.

        A line's end drops the carriage return of a CRLF line ending, as htslib's own line reader does.
        Column counts are the reader's to check, line by line: the text route reads exactly
        9 + samples columns or hands the line to :meth:`VcfReader._parse_line`, which counts them.
        """
        carriage = (ends > starts) & (np.frombuffer(text, dtype=np.uint8)[ends - 1] == _CR)
        if carriage.any():
            ends = ends - carriage
        empty = np.flatnonzero(starts == ends)
        if len(empty):
            k = int(empty[0])
            if k:
                self._put((text, starts[:k], ends[:k]))
                self.records += k
            message, field_name = _column_message(0, self.header.samples)
            line_no = self.header.lines + self.records + 1
            raise FormatError(message, location=Location(path=str(self.path), line=line_no, field=field_name))
        self._put((text, starts, ends))
        self.records += len(ends)


def _column_message(columns: int, samples: Sequence[str]) -> tuple[str, str]:
    expected = 9 + len(samples)
    names = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]
    if columns == 0:
        return "empty line; expected a record", "CHROM"
    field_name = names[columns] if columns < expected else f"column {expected + 1}"
    return (
        f"the record has {columns} tab-separated columns; expected {expected} (9 + {len(samples)} samples)",
        field_name,
    )


def _diagnose_fields(fields: list[str], samples: Sequence[str]) -> tuple[str, str] | None:
    """What is wrong with a record line htslib rejected, as (message, field), if we can tell."""
    if fields == [""]:
        return _column_message(0, samples)
    if len(fields) != 9 + len(samples):
        return _column_message(len(fields), samples)
    if not fields[0]:
        return "CHROM is empty", "CHROM"
    pos = fields[1]
    if not pos.isdigit() or int(pos) == 0:
        return f"POS {pos!r} is not a positive integer", "POS"
    if not fields[3]:
        return "REF is empty", "REF"
    fmt = fields[8].split(":")
    if fmt and fmt[0] == "GT":
        for name, value in zip(samples, fields[9:], strict=True):
            gt = value.split(":", 1)[0]
            if not re.fullmatch(r"(\.|\d+)([/|](\.|\d+))*", gt):
                return f"sample {name!r} has genotype {gt!r}; expected alleles like 0/1, 1|0, ./.", "GT"
    return None


# -- files --------------------------------------------------------------------------------------
def _line_parser(header: str) -> Any:
    """A cyvcf2 Writer (writing nowhere) whose ``variant_from_string`` parses lines under ``header``."""
    import cyvcf2  # heavy: loaded when a VCF is read

    return cyvcf2.Writer.from_string(os.devnull, header)


def _format_column(line: bytes) -> bytes | None:
    """The FORMAT column of a record line (None when the line has no sample columns)."""
    fields = line.split(b"\t", 9)
    return fields[8] if len(fields) > 9 else None


def _compression(path: Path) -> str:
    """``bgzf``, ``gzip`` or ``plain``, from the first bytes."""
    with path.open("rb") as handle:
        head = handle.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    # BGZF: FLG.FEXTRA and an extra subfield 'BC'.
    if len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzf"
    return "gzip"


def _open_text(path: Path, compression: str) -> Any:
    if compression == "plain":
        return path.open("rb")
    return gzip.open(path, "rb")


def _check_bgzf_eof(path: Path) -> None:
    """A BGZF file ends with a fixed empty block; without it the file was cut at a block boundary."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - len(_BGZF_EOF)))
        tail = handle.read()
    if tail != _BGZF_EOF:
        raise FormatError(
            "the BGZF end-of-file marker is missing: the file is truncated "
            "(re-copy or re-compress it with bgzip)",
            location=Location(path=str(path)),
        )


def _stream_error(path: str, exc: BaseException, line: int) -> FormatError:
    detail = str(exc) or type(exc).__name__
    return FormatError(
        f"the compressed stream is truncated or corrupt ({detail}); it breaks off at this line",
        location=Location(path=path, line=line),
    )


def _header_value(header: str, key: str) -> str | None:
    match = re.search(rf"^##{key}=(.*)$", header, re.MULTILINE)
    return match.group(1).strip() if match else None


def _format_types(header: str) -> dict[str, str]:
    """FORMAT IDs declared in the header and their Type."""
    types: dict[str, str] = {}
    for match in re.finditer(r"^##FORMAT=<ID=([^,>]+),(.*)$", header, re.MULTILINE):
        found = re.search(r"Type=([A-Za-z]+)", match.group(2))
        if found:
            types[match.group(1)] = found.group(1)
    return types


def _assembly(header: str, given: str | None, path: str) -> Assembly:
    """The reference assembly: as given, else from the header (see :class:`VcfReader`)."""
    if given is not None:
        try:
            return normalise_assembly(given)
        except ValueError as exc:
            raise CodeError(str(exc), location=Location(field="assembly")) from None
    lines = header.splitlines()
    labels: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if line.startswith("##contig=") and (match := re.search(r"[<,]assembly=\"?([^,>\"]+)", line)):
            labels.setdefault(match.group(1), number)
    if labels:
        found = set()
        for label, number in labels.items():
            try:
                found.add(normalise_assembly(label))
            except ValueError as exc:
                raise CodeError(
                    str(exc), location=Location(path=path, line=number, field="##contig")
                ) from None
        if len(found) > 1:
            raise FormatError(
                f"##contig lines name several assemblies ({', '.join(sorted(labels))}); pass assembly=",
                location=Location(path=path, field="##contig"),
            )
        return found.pop()
    for line in lines:
        if line.startswith("##reference="):
            match = _REFERENCE_TOKEN.search(line)
            if match:
                return _REFERENCE_TOKENS[match.group(1).lower()]
    for line in lines:
        if line.startswith("##contig="):
            name = re.search(r"[<,]ID=([^,>]+)", line)
            length = re.search(r"[<,]length=(\d+)", line)
            if name and length:
                known = _CONTIG_LENGTHS.get((normalise_chromosome(name.group(1)), int(length.group(1))))
                if known is not None:
                    return known
    for line in lines:
        if line.startswith("##VEP=") and (match := re.search(r"assembly=\"?([A-Za-z0-9.]+)", line)):
            try:
                return normalise_assembly(match.group(1))
            except ValueError:
                break
    raise FormatError(
        "the header does not say which reference assembly the file is on (no ##reference, ##contig assembly= "
        "or known contig lengths); pass assembly=",
        location=Location(path=path, field="##reference"),
    )
