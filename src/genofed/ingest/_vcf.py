"""The VCF adapter: germline and somatic VCFs → variant sites and calls, specimens and analyses.

Shape of a read (:meth:`VcfReader.chunks`):

1. The constructor reads the header as text (sample columns, line count, annotation declaration,
   assembly) and settles who each sample is (:class:`~genofed.ingest.SampleSheet`) and whether the
   file is somatic. Nothing is read through htslib yet.
2. ``chunks()`` yields the ``specimens`` and ``analyses`` rows, then streams records through cyvcf2
   in blocks of at most ``chunk_records`` records. Per record only the site-level fields are read in
   Python; genotypes are copied as htslib's raw integer encoding into one ``(records, ploidy,
   samples)`` array per block, and everything per genotype -- allele counts, zygosity, the sparse
   call rows and their genotype strings -- is computed with numpy over the whole block. Each block
   becomes one ``variant_sites`` and one ``variant_calls`` Arrow chunk.
3. htslib does not see every fault: it ignores extra columns and may stop quietly at the end of a
   truncated BGZF file. A background thread therefore re-reads the raw text (decompression and
   byte counting release the GIL, so on a second core it costs no wall time) and checks the
   column count of every line and that the stream ends cleanly; a block is handed over only once
   its lines are checked, so faults surface in line order. When htslib itself fails, the failing
   line is re-read and diagnosed so the error names line and field.

Conventions: AC/AN/homozygous counts are over the samples whose calls are kept (every sample of a
germline file; the tumour samples of a somatic one), so the calls of an allele add up to its AC.
AN counts called alleles only: a missing genotype lowers AN. A genotype ``1/2`` gives a
heterozygous call of each allele, written relative to that allele as bcftools ``norm -m-`` does
(``1/0`` and ``0/1``). Haploid calls are hemizygous; a partly missing genotype (``./1``) has
zygosity ``unknown``.
"""

from __future__ import annotations

import gzip
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
    variant_id,
)

from ._annotation import Annotation, AnnotationParser
from ._normalise import FastaReference, is_symbolic, left_align, trim_alleles, variant_type
from ._samples import SampleEntry, SampleSheet
from ._source import Chunk

__all__ = ["VcfReader", "VcfSummary"]

# htslib's integer sentinels (htslib/vcf.h): a missing value, and the padding after a short vector.
_INT32_MISSING = -(2**31)
_VECTOR_END = -(2**31) + 1
# Upper bound on genotype slots (records × samples × ploidy) held per block, to bound memory.
_BLOCK_SLOTS = 4_000_000
_READ_BYTES = 4 << 20
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

    # -- SourceReader -----------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The VCF's file name."""
        return self.path.name

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
        check = _TextCheck(self.path, self._header, self._compression)
        check.start()
        fasta = FastaReference(self.reference_fasta) if self.reference_fasta is not None else None
        try:
            yield from self._records(check, fasta)
            check.verify()
            check.join()
            if check.records != self.summary.records:
                raise FormatError(
                    f"htslib read {self.summary.records} records but the file has {check.records} record "
                    "lines; the file is corrupt",
                    location=Location(path=self._where),
                )
        finally:
            check.stop()
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
    def _records(self, check: _TextCheck, fasta: FastaReference | None) -> Iterator[Chunk]:
        import cyvcf2  # heavy: loaded when a VCF is read

        subset = None if len(self.call_samples) == len(self._header.samples) else list(self.call_samples)
        try:
            vcf = cyvcf2.VCF(str(self.path), samples=subset, lazy=False)
        except Exception as exc:  # cyvcf2 raises bare Exception/OSError for htslib failures
            raise self._diagnose(self._header.lines + 1, exc) from exc
        try:
            if list(vcf.samples) != list(self.call_samples):
                raise SampleError(
                    f"htslib reads the samples as {list(vcf.samples)[:5]}..., "
                    f"expected {list(self.call_samples)[:5]}",
                    location=Location(path=self._where, line=self._header.lines),
                )
            block = _Block(self, fasta)
            records = iter(vcf)
            index = 0
            while True:
                try:
                    variant = next(records)
                except StopIteration:
                    break
                except Exception as exc:  # htslib parse failure: find out what is wrong with the line
                    raise self._diagnose(self._header.lines + index + 1, exc) from exc
                line_no = self._header.lines + index + 1
                if not variant.CHROM:
                    # htslib reads an empty line (or an empty CHROM) as a record without alleles;
                    # touching its REF would crash cyvcf2, so stop here.
                    raise self._diagnose(line_no, None)
                block.add(variant, line_no)
                index += 1
                if block.full:
                    check.verify(line_no)
                    yield from block.flush()
            if block.n:
                check.verify(block.lines[-1])
            yield from block.flush()
        finally:
            vcf.close()

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


class _Block:
    """Records of one block: site fields in lists, genotypes in one raw htslib integer array."""

    def __init__(self, reader: VcfReader, fasta: FastaReference | None) -> None:
        self.reader = reader
        self.fasta = fasta
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
        self.ploidy = 2
        self._allocate()
        self._reset()

    def _allocate(self) -> None:
        """Work arrays, allocated once and reused by every block.

        Fresh multi-megabyte numpy temporaries cost more in page faults than the arithmetic on
        them, so the per-genotype steps write into these with ``out=``. Layout (record, ploidy
        slot, sample): each slot is a contiguous row, so per-slot operations stream through memory.
        """
        shape3 = (self.capacity, self.ploidy, self.samples)
        shape2 = (self.capacity, self.samples)
        # Rows of gt are written whole in add(), so no fill is needed.
        self.gt = np.empty(shape3, dtype=np.int32)
        self._code32 = np.empty(shape3, dtype=np.int32)
        self._mask3 = np.empty(shape3, dtype=np.bool_)
        self._mask2 = np.empty(shape2, dtype=np.bool_)
        self._copies = np.empty(shape2, dtype=np.int8)

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

    @property
    def full(self) -> bool:
        return self.n >= self.capacity

    def add(self, variant: Any, line: int) -> None:
        """Copy one record's fields and genotypes into the block."""
        i = self.n
        raw_chrom = variant.CHROM
        chrom = self.chroms.get(raw_chrom)
        if chrom is None:
            chrom = self.chroms[raw_chrom] = normalise_chromosome(raw_chrom)
        self.lines.append(line)
        self.raw_chrom.append(raw_chrom)
        self.chrom.append(chrom)
        self.pos.append(variant.POS)
        self.ref.append(variant.REF)
        self.alts.append(variant.ALT)
        self.passed.append(variant.FILTER is None)
        self.ann.append(variant.INFO.get(self.annotation.tag) if self.annotation is not None else None)
        gt = variant.format("GT", int)
        if gt is not None:
            width = gt.shape[1]
            if width > self.ploidy:
                kept = self.gt[:i]
                self.ploidy = width
                self._allocate()
                self.gt[:i] = _VECTOR_END
                self.gt[:i, : kept.shape[1]] = kept
            self.gt[i, :width, :] = gt.T
            if width < self.ploidy:
                self.gt[i, width:, :] = _VECTOR_END
        else:
            self.gt[i] = _VECTOR_END
        n_alleles = len(variant.ALT) + 1
        if self.want_dp:
            dp = variant.format("DP")
            if dp is not None and dp.dtype.kind == "i":
                if self.dp is None:
                    self.dp = np.full((self.capacity, self.samples), _INT32_MISSING, dtype=np.int32)
                self.dp[i] = dp[:, 0]
        if self.want_ad:
            ad = variant.format("AD")
            if ad is not None and ad.dtype.kind == "i":
                self.ad = _put(self.ad, i, ad, self.capacity, _INT32_MISSING)
        if self.want_af:
            af = variant.format("AF")
            # FORMAT AF is per ALT allele (Number=A); a single value is only unambiguous with one ALT.
            if af is not None and af.dtype.kind == "f" and (af.shape[1] == n_alleles - 1):
                self.af = _put(self.af, i, af.astype(np.float32), self.capacity, np.nan)
        self.n += 1

    def flush(self) -> Iterator[Chunk]:
        """Turn the block into a ``variant_sites`` and a ``variant_calls`` chunk, then empty it."""
        if self.n == 0:
            return
        try:
            sites, calls = self._tables()
        finally:
            self._reset()
        yield "variant_sites", sites
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

    def _tables(self) -> tuple[pa.Table, pa.Table]:
        n = self.n
        summary = self.reader.summary
        summary.records += n
        summary.genotypes += n * self.samples
        cols, rec_list, allele_list = self._sites()
        rec_of_row = np.asarray(rec_list, dtype=np.intp)
        allele_of_row = np.asarray(allele_list, dtype=np.int16)
        raw = self.gt[:n]
        slots = self.ploidy
        # htslib GT encoding: (allele + 1) << 1 | phased, 0 (1 if phased) for a missing allele, and
        # _VECTOR_END padding short genotypes. code = raw >> 1 is allele + 1, 0 for a missing
        # allele, negative for an absent slot. Only the passes every genotype needs happen here;
        # the rest is computed at the (few) calls.
        code = self._code32[:n]
        np.right_shift(raw, 1, out=code)
        n_alt = np.fromiter((len(a) for a in self.alts), dtype=np.int32, count=n)
        top = code.reshape(n, -1).max(axis=1)
        if (top > n_alt + 1).any():
            r = int(np.flatnonzero(top > n_alt + 1)[0])
            s = int(np.flatnonzero((code[r] > n_alt[r] + 1).any(axis=0))[0])
            raise self._error(
                r,
                f"sample {self.reader.call_samples[s]!r} has allele index {int(code[r, :, s].max()) - 1} "
                f"in its genotype but the record has {int(n_alt[r])} ALT allele(s)",
                "GT",
            )
        called = self._mask3[:n]
        np.greater_equal(code, 1, out=called)
        allele_number = np.count_nonzero(called.reshape(n, -1), axis=1)
        if rec_of_row.size == n and (allele_of_row == 1).all():
            # The common case: one sequence ALT per record, so rows are records; no gather needed.
            mask = self._mask2[:n]
            copies = self._copies[:n]
            for j in range(slots):
                np.equal(code[:, j], 2, out=mask)
                _accumulate(copies, mask, j)
        else:
            per_row = code[rec_of_row]
            target = (allele_of_row.astype(np.int32) + 1)[:, None]
            copies = (per_row[:, 0] == target).astype(np.int8)
            for j in range(1, slots):
                copies += per_row[:, j] == target
            del per_row
        rows = len(rec_list)

        site_arrays: dict[str, pa.Array] = {
            "chrom": pa.array(cols["chrom"], pa.string()),
            "start": pa.array(cols["start"], pa.int64()),
            "end": pa.array(cols["end"], pa.int64()),
            "ref": pa.array(cols["ref"], pa.string()),
            "alt": pa.array(cols["alt"], pa.string()),
            "variant_id": pa.array(cols["variant_id"], pa.int64()),
        }
        # Sparse calls: every (allele row, sample) with at least one copy of the allele.
        # 1-D nonzero on a byte view is faster than 2-D nonzero.
        flat = np.flatnonzero(copies.view(np.uint8).reshape(-1))
        row_idx, sample_idx = np.divmod(flat, self.samples)
        rec_idx = rec_of_row[row_idx]
        call_copies = copies[row_idx, sample_idx]
        genotype, call_ploidy, call_missing = self._genotypes(
            code, raw, rec_idx, sample_idx, allele_of_row[row_idx]
        )
        hom = (call_copies == call_ploidy) & (call_ploidy >= 2)
        zygosity = np.where(call_ploidy == 1, 2, np.where(hom, 1, np.where(call_missing > 0, 3, 0))).astype(
            np.int8
        )
        allele_count = np.bincount(row_idx, weights=call_copies, minlength=rows).astype(np.int64)
        homozygous = np.bincount(row_idx[hom], minlength=rows)
        depth, alt_depth, vaf = self._depths(rec_idx, sample_idx, allele_of_row[row_idx])
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
                "allele_number": pa.array(allele_number[rec_of_row].astype(np.int32)),
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
        raw: npt.NDArray[np.int32],
        rec_idx: npt.NDArray[np.intp],
        sample_idx: npt.NDArray[np.intp],
        call_allele: npt.NDArray[np.int16],
    ) -> tuple[pa.Array, npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        """Per call: the genotype string relative to its allele, its ploidy and missing alleles.

        The string comes from a small table indexed by a code of each slot's state and phase.
        """
        ploidy = code.shape[1]
        count = len(rec_idx)
        key = np.zeros(count, dtype=np.int64)
        present = np.zeros(count, dtype=np.int8)
        missing = np.zeros(count, dtype=np.int8)
        target = call_allele.astype(np.int32) + 1
        for j in range(ploidy):
            slot = code[rec_idx, j, sample_idx]
            absent = slot < 0
            unknown = slot == 0
            present += ~absent
            missing += unknown
            # 0 another allele (REF or another ALT), 1 this allele, 2 missing, 3 absent.
            state = np.where(absent, 3, np.where(unknown, 2, (slot == target).astype(np.int64)))
            key += state << (2 * j)
            if j:
                phased = (raw[rec_idx, j, sample_idx] & 1).astype(np.int64)
                phased[absent] = 0
                key += phased << (2 * ploidy + j - 1)
        if ploidy <= 4:
            strings = _genotype_table(ploidy).take(pa.array(key.astype(np.int32)))
        else:
            unique, inverse = np.unique(key, return_inverse=True)
            table = pa.array([_genotype_string(int(c), ploidy) for c in unique], pa.string())
            strings = table.take(pa.array(inverse.astype(np.int32)))
        return strings, present, missing

    def _depths(
        self,
        rec_idx: npt.NDArray[np.intp],
        sample_idx: npt.NDArray[np.intp],
        call_allele: npt.NDArray[np.int16],
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


def _accumulate(total: npt.NDArray[np.int8], mask: npt.NDArray[np.bool_], slot: int) -> None:
    """``total = mask`` for the first slot, ``total += mask`` after, without temporaries."""
    if slot == 0:
        np.copyto(total, mask, casting="unsafe")
    else:
        np.add(total, mask, out=total, casting="unsafe")


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


# -- the raw-text check ----------------------------------------------------------------------------
class _TextCheck(threading.Thread):
    """Re-reads the raw text beside htslib: column counts, empty lines, and a cleanly ending stream.

    The reader asks :meth:`verify` before it hands over the block ending at line N; that waits until
    this thread has checked line N (it is normally far ahead: it only decompresses and counts bytes)
    and raises an error found at or before line N. So faults surface in line order, the same way
    whatever the threads' timing, and a block is only yielded once its lines are checked.
    """

    def __init__(self, path: Path, header: _Header, compression: str) -> None:
        super().__init__(name=f"genofed-vcf-check-{path.name}", daemon=True)
        self.path = path
        self.header = header
        self.compression = compression
        self.expected_tabs = 8 + len(header.samples)
        self.records = 0
        self.error: InputError | None = None
        self._halt = threading.Event()
        self._progress = threading.Condition()
        self._checked = header.lines
        self._done = False

    def stop(self) -> None:
        self._halt.set()

    def verify(self, line: int | None = None) -> None:
        """Wait until lines up to ``line`` (all lines: None) are checked; raise what was found there."""
        with self._progress:
            self._progress.wait_for(lambda: self._done or (line is not None and self._checked >= line))
        error = self.error
        if error is not None and (line is None or error.location.line is None or error.location.line <= line):
            raise error

    def run(self) -> None:
        try:
            self._scan()
        except InputError as exc:
            self.error = exc
        except (OSError, EOFError, zlib.error) as exc:
            self.error = _stream_error(str(self.path), exc, self.header.lines + self.records + 1)
        finally:
            with self._progress:
                self._done = True
                self._progress.notify_all()

    def _scan(self) -> None:
        with _open_text(self.path, self.compression) as handle:
            for _ in range(self.header.lines):
                handle.readline()
            carry = b""
            while True:
                if self._halt.is_set():
                    return
                chunk = handle.read(_READ_BYTES)
                if not chunk:
                    break
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                body, carry = data[:cut], data[cut:]
                if not body:
                    continue
                lines = body.count(b"\n")
                if body.count(b"\t") != lines * self.expected_tabs or b"\n\n" in body or body[:1] == b"\n":
                    self._locate(body)
                self.records += lines
                with self._progress:
                    self._checked = self.header.lines + self.records
                    self._progress.notify_all()
            if carry:
                self._locate(carry + b"\n")
                raise FormatError(
                    "the last line has no newline; the file looks truncated",
                    location=Location(path=str(self.path), line=self.header.lines + self.records + 1),
                )

    def _locate(self, body: bytes) -> None:
        """Find the first line of ``body`` with the wrong number of columns and raise for it."""
        for offset, line in enumerate(body.split(b"\n")[:-1]):
            tabs = line.count(b"\t")
            if tabs != self.expected_tabs:
                line_no = self.header.lines + self.records + offset + 1
                message, field_name = _column_message(tabs + 1 if line else 0, self.header.samples)
                raise FormatError(
                    message, location=Location(path=str(self.path), line=line_no, field=field_name)
                )


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
