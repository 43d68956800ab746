"""The Hartwig adapter: one tumour sample's hmftools / OncoAnalyser outputs -> the common data model.

Shape of a read (:class:`HartwigReader`):

1. The constructor finds the sample's files (:func:`find_hartwig_files`) in either layout --
   OncoAnalyser's tool sub-folders (``purple/``, ``linx/``, ``chord/``, ``lilac/``,
   ``virusinterpreter/``, ...) or every file in one folder -- by their hmftools suffixes
   (``<tumour>.purple.purity.tsv``, ...). The PURPLE purity table is mandatory; everything else is
   optional and listed in :attr:`HartwigSummary.absent` when missing. An ORANGE JSON
   (``*.orange.json``, given as the path or alone in the folder) is read instead by
   :class:`~genofed.ingest.OrangeReader`.
2. ``chunks()`` reads and checks every table first (purity within 0-1, required columns present,
   numbers that are numbers), so most faults surface before anything streams; then it yields
   specimens, analyses, biomarkers, drivers, copy numbers and structural variants, and finally
   streams the PURPLE somatic and germline VCFs through :class:`~genofed.ingest.VcfReader`,
   adding what PURPLE writes in INFO (PAVE ``IMPACT``, ``REPORTED``, ``PURPLE_AF``, ``PURPLE_VCN``)
   to its rows. The caller hands the stream to ``NodeStore.write_stream``: one atomic batch per
   sample, replaced when the same tumour sample is ingested again (key ``hartwig:<tumour>``).

Tables are read by header name with the PURPLE v2 or v3/v4 layout recognised
(:mod:`._hartwig_tables`); the layout read is in :attr:`HartwigSummary.purple_layout`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from genofed.errors import FormatError, Location, SampleError
from genofed.model import (
    Assay,
    Assembly,
    Biomarker,
    CopyNumber,
    Driver,
    Origin,
    SpecimenType,
    StructuralVariant,
    normalise_assembly,
    normalise_chromosome,
    normalise_protein_change,
    trim_alleles,
    variant_id,
)

from ._hartwig_common import (
    HartwigSummary,
    SampleIds,
    consequence_of,
    is_reference_id,
    is_tumour_id,
    patient_of_sample,
    table_of,
)
from ._hartwig_tables import (
    CHORD_PREDICTION,
    DRIVER_CATALOG,
    GERMLINE_AMP_DEL,
    LILAC_ALLELES,
    LILAC_QC,
    LINX_BREAKENDS,
    LINX_FUSIONS,
    LINX_SVS,
    PURPLE_CNV_GENE,
    PURPLE_CNV_SOMATIC,
    PURPLE_PURITY,
    VIRUS_ANNOTATED,
    HartwigTable,
    TableRow,
    read_key_values,
    read_table,
)
from ._normalise import is_symbolic
from ._orange import OrangeReader
from ._registry import AdapterInfo, register_adapter
from ._samples import SampleEntry, SampleSheet
from ._source import Chunk, SourceGroup
from ._vcf import VcfReader

__all__ = ["HartwigBatch", "HartwigFiles", "HartwigReader", "HartwigSampleInfo", "find_hartwig_files"]

#: File kinds, in the order they are looked for, with the name endings hmftools has used for them.
#: Longer endings come first where one ends another (``.linx.driver.catalog.tsv``).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "purity": (".purple.purity.tsv", ".purple.purity"),
    "qc": (".purple.qc",),
    "purple_version": (".purple.version",),
    "somatic_vcf": (".purple.somatic.vcf.gz", ".purple.somatic.vcf"),
    "germline_vcf": (".purple.germline.vcf.gz", ".purple.germline.vcf"),
    "cnv_somatic": (".purple.cnv.somatic.tsv", ".purple.cnv"),
    "cnv_gene": (".purple.cnv.gene.tsv", ".purple.gene.cnv"),
    "germline_amp_del": (".purple.germline_amp_del.tsv",),
    "linx_germline_drivers": (".linx.germline.driver.catalog.tsv",),
    "linx_drivers": (".linx.driver.catalog.tsv",),
    "germline_drivers": (".purple.driver.catalog.germline.tsv",),
    "somatic_drivers": (".purple.driver.catalog.somatic.tsv", ".driver.catalog.tsv"),
    "fusions": (".linx.fusion.tsv",),
    "breakends": (".linx.breakend.tsv",),
    "svs": (".linx.svs.tsv",),
    "chord": (".chord.prediction.tsv",),
    "lilac_qc": (".lilac.qc.tsv",),
    "lilac": (".lilac.tsv",),
    "virus": (".virus.annotated.tsv",),
    "peach": (".peach.haplotypes.best.tsv",),
    "orange": (".orange.json",),
}
_TOOL_FOLDERS = frozenset(
    {"purple", "linx", "chord", "lilac", "virusinterpreter", "virusinterprtr", "orange"}
)
_MAX_DEPTH = 3
# GRCh37 and GRCh38 lengths of chromosome 1, for folders without a VCF: PURPLE's last segment ends there.
_CHR1_LENGTH = {249_250_621: Assembly.GRCH37, 248_956_422: Assembly.GRCH38}
_CNA_DRIVERS = frozenset({"AMP", "PARTIAL_AMP", "DEL"})
_GERMLINE_EVENTS = {"HOM_DELETION": "DEL", "HET_DELETION": "LOSS", "AMPLIFICATION": "AMP"}
_SV_TYPES = {"DEL": "DEL", "DUP": "DUP", "INV": "INV", "INS": "INS", "BND": "BND", "SGL": "BND", "INF": "BND"}


@dataclass(frozen=True, slots=True)
class HartwigFiles:
    """The outputs of one tumour sample, found by :func:`find_hartwig_files` (absent ones are None)."""

    root: Path
    #: ``oncoanalyser`` (tool sub-folders) or ``flat``
    layout: str
    tumour: str
    paths: dict[str, Path]
    #: ``pipeline.version`` of the run, when present
    pipeline_version_file: Path | None = None

    def get(self, kind: str) -> Path | None:
        """The file of one kind (``purity``, ``somatic_vcf``, ...), or None."""
        return self.paths.get(kind)


@dataclass(frozen=True, slots=True)
class HartwigSampleInfo:
    """What the clinical side says about a tumour sample (from the data-request ``metadata.tsv``)."""

    patient: str
    tissue: str | None = None
    tumour_type: str | None = None


def _walk(root: Path) -> Iterator[Path]:
    base = len(root.parts)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if len(here.parts) - base >= _MAX_DEPTH:
            dirs[:] = []
        dirs.sort()
        for name in sorted(files):
            yield here / name


def _kind_of(name: str) -> tuple[str, str] | None:
    """(kind, sample prefix) of an hmftools output file name."""
    for kind, suffixes in _SUFFIXES.items():
        for suffix in suffixes:
            if name.endswith(suffix) and len(name) > len(suffix):
                if kind == "somatic_drivers" and suffix == ".driver.catalog.tsv" and ".linx." in name:
                    continue
                return kind, name[: -len(suffix)]
    return None


def find_hartwig_files(folder: str | Path, *, tumour_sample: str | None = None) -> HartwigFiles:
    """Find one tumour sample's hmftools outputs in a folder (searched three levels deep).

    Parameters
    ----------
    folder
        An OncoAnalyser sample folder (``purple/``, ``linx/``, ... beside each other) or a folder
        holding the files themselves.
    tumour_sample
        Which sample, when the folder holds several PURPLE purity tables.

    Raises
    ------
    FormatError
        The folder does not exist, or has no PURPLE purity table (the mandatory file), or has
        several and no ``tumour_sample`` chooses one.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FormatError(
            "not a folder (give a sample's hmftools output folder)", location=Location(str(root))
        )
    found: dict[str, dict[str, Path]] = {}
    pipeline_version: Path | None = None
    for path in _walk(root):
        if path.name == "pipeline.version":
            pipeline_version = pipeline_version or path
            continue
        hit = _kind_of(path.name)
        if hit is None:
            continue
        kind, prefix = hit
        found.setdefault(prefix, {}).setdefault(kind, path)
    with_purity = sorted(p for p, kinds in found.items() if "purity" in kinds)
    if tumour_sample is not None:
        if tumour_sample not in with_purity:
            raise FormatError(
                f"no PURPLE purity table of tumour sample {tumour_sample!r} "
                f"(<sample>.purple.purity.tsv); found: {', '.join(with_purity) or 'none'}",
                location=Location(str(root), field="purple.purity.tsv"),
            )
        tumour = tumour_sample
    elif len(with_purity) == 1:
        tumour = with_purity[0]
    elif not with_purity:
        raise FormatError(
            "no PURPLE purity table (<tumour>.purple.purity.tsv): the folder is not a complete hmftools "
            "sample output; PURPLE's purity table is mandatory",
            location=Location(str(root), field="purple.purity.tsv"),
        )
    else:
        raise FormatError(
            f"the folder holds the PURPLE results of several samples ({', '.join(with_purity)}); "
            "give one sample's folder or choose one with tumour_sample",
            location=Location(str(root), field="purple.purity.tsv"),
        )
    paths = dict(found[tumour])
    # Tools that name files after the reference sample (PEACH) or whose prefix differs are still the
    # sample's when the folder holds one sample.
    for prefix, kinds in found.items():
        if prefix == tumour:
            continue
        for kind, path in kinds.items():
            if kind == "peach" or (len(with_purity) == 1 and kind != "purity"):
                paths.setdefault(kind, path)
    subfolders = {p.name.lower() for p in root.iterdir() if p.is_dir()}
    layout = "oncoanalyser" if subfolders & _TOOL_FOLDERS else "flat"
    return HartwigFiles(root, layout, tumour, paths, pipeline_version)


def _chrom(row: TableRow, name: str = "chromosome") -> str:
    return normalise_chromosome(row.require(name))


@dataclass(frozen=True, slots=True)
class _PurpleInfo:
    gene: str | None
    transcript: str | None
    consequence: str | None
    impact: str | None
    hgvs_c: str | None
    protein_change: str | None
    reported: bool
    purity_adjusted_vaf: float | None
    variant_copy_number: float | None


def _float_info(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        value = value[0] if value else None
    return float(value) if isinstance(value, int | float) else None


def _impact(value: object) -> tuple[str | None, ...]:
    """The fields of PAVE's IMPACT INFO: gene, transcript, canonical effect, coding effect, splice, c., p."""
    if value is None:
        return (None,) * 7
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]  # type: ignore[attr-defined]
    parts = (parts + [""] * 7)[:7]
    return tuple(p or None for p in parts)


def _purple_info(path: Path, assembly: str) -> dict[int, _PurpleInfo]:
    """PURPLE's INFO of every sequence allele of a PURPLE VCF, by the allele's ``variant_id``."""
    import cyvcf2  # heavy: loaded when a VCF is read

    out: dict[int, _PurpleInfo] = {}
    vcf = cyvcf2.VCF(str(path), samples=[], lazy=True)
    try:
        for record in vcf:
            info = record.INFO
            gene, transcript, effect, _coding, _splice, hgvs_c, hgvs_p = _impact(info.get("IMPACT"))
            consequence, impact = consequence_of([effect] if effect else [])
            annotation = _PurpleInfo(
                gene=gene,
                transcript=transcript,
                consequence=consequence,
                impact=impact,
                hgvs_c=hgvs_c,
                protein_change=normalise_protein_change(hgvs_p),
                reported=bool(info.get("REPORTED")),
                purity_adjusted_vaf=_float_info(info.get("PURPLE_AF")),
                variant_copy_number=_float_info(info.get("PURPLE_VCN")),
            )
            chrom = normalise_chromosome(record.CHROM)
            ref = record.REF.upper()
            for alt in record.ALT:
                if is_symbolic(alt):
                    continue
                start, tref, talt = trim_alleles(record.POS - 1, ref, alt.upper())
                out[variant_id(assembly, chrom, start, tref, talt)] = annotation
    finally:
        vcf.close()
    return out


class HartwigReader:
    """A :class:`~genofed.ingest.SourceReader` for one tumour sample's hmftools / OncoAnalyser outputs.

    Parameters
    ----------
    path
        The sample's output folder (OncoAnalyser layout or flat), or an ORANGE JSON file.
    individual
        The patient's source ID. Default: from ``sample_info``, else Hartwig's naming
        (``CPCT02010001T`` -> ``CPCT02010001``), else the tumour sample ID.
    tumour_sample
        Which sample, when the folder holds several.
    reference_sample
        The blood (reference) sample ID; default: the other sample column of the PURPLE VCFs, or the
        prefix of the PEACH file.
    sample_info
        Clinical facts of tumour samples by sample ID (from :class:`~genofed.ingest.HartwigMetadata`):
        the patient ID, biopsy site and tumour type of the tumour specimen.
    assembly
        Reference assembly; default: from the VCF headers, else from PURPLE's chromosome 1 length.

    Raises
    ------
    FormatError
        The folder lacks the mandatory PURPLE purity table, or holds several samples.
    """

    #: adapter name recorded in the catalog
    kind: str = "hartwig"

    def __init__(
        self,
        path: str | Path,
        *,
        individual: str | None = None,
        tumour_sample: str | None = None,
        reference_sample: str | None = None,
        sample_info: dict[str, HartwigSampleInfo] | None = None,
        assembly: str | None = None,
    ) -> None:
        self.path = Path(path)
        self._orange: OrangeReader | None = None
        self.files: HartwigFiles | None = None
        orange_path: Path | None = None
        if self.path.is_file():
            if not self.path.name.endswith(".json"):
                raise FormatError(
                    "expected a sample's hmftools output folder or an ORANGE JSON (*.orange.json)",
                    location=Location(str(self.path)),
                )
            orange_path = self.path
        elif self.path.is_dir():
            try:
                self.files = find_hartwig_files(self.path, tumour_sample=tumour_sample)
            except FormatError:
                candidates = sorted(self.path.glob("**/*.orange.json"))
                if len(candidates) != 1:
                    raise
                orange_path = candidates[0]
        else:
            raise FormatError("no such file or folder", location=Location(str(self.path)))
        self._info = sample_info or {}
        self._qc_path: Path | None = None
        self._svs_table: HartwigTable | None = None
        self._assembly_given = normalise_assembly(assembly) if assembly else None
        if orange_path is not None:
            self._orange = OrangeReader(
                orange_path, individual=individual, sample_info=sample_info, assembly=assembly
            )
            self.ids = self._orange.ids
            self.summary = self._orange.summary
            return
        assert self.files is not None
        tumour = self.files.tumour
        info = self._info.get(tumour)
        patient = individual or (info.patient if info else None) or patient_of_sample(tumour)
        reference = reference_sample or self._reference_from_files(tumour)
        self.ids = SampleIds(patient=patient, tumour=tumour, reference=reference)
        self.summary = HartwigSummary(
            layout=self.files.layout, tumour_sample=tumour, patient=patient, reference_sample=reference
        )

    # -- SourceReader ---------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The folder's (or JSON's) name."""
        return self.path.name

    @property
    def batch_key(self) -> str:
        """``hartwig:<tumour sample>``: ingesting the same sample again replaces its batch."""
        return self.ids.batch_key

    def __repr__(self) -> str:
        return f"<HartwigReader {self.source}: tumour {self.ids.tumour}, patient {self.ids.patient}>"

    def chunks(self) -> Iterator[Chunk]:
        """Yield the sample's rows: specimens, analyses, biomarkers, drivers, CNAs, SVs, then variants.

        Raises
        ------
        FormatError
            A table lacks a required column, a value is malformed, or a purity is outside 0-1; the
            error names file, line and column.
        SampleError
            A PURPLE VCF's sample columns do not include the tumour sample.
        """
        if self._orange is not None:
            yield from self._orange.chunks()
            return
        self.summary.rows = {}
        self.summary.files = {}
        self.summary.absent = []
        self.summary.unlocated_drivers = []
        self.summary.notes = []
        tables = self._tables()
        for name, table in tables:
            self.summary.count(name, table.num_rows)
            yield name, table
        for kind, origin in (("somatic_vcf", Origin.SOMATIC), ("germline_vcf", Origin.GERMLINE)):
            path = self._file(kind)
            if path is not None:
                for name, table in self._vcf_chunks(path, origin):
                    self.summary.count(name, table.num_rows)
                    yield name, table

    # -- files ----------------------------------------------------------------------------------
    def _file(self, kind: str) -> Path | None:
        assert self.files is not None
        path = self.files.get(kind)
        if (
            path is None
            and kind not in ("purple_version", "orange", "peach")
            and kind not in self.summary.absent
        ):
            self.summary.absent.append(kind)
        return path

    def _reference_from_files(self, tumour: str) -> str | None:
        assert self.files is not None
        for kind in ("somatic_vcf", "germline_vcf"):
            path = self.files.get(kind)
            if path is None:
                continue
            columns = VcfReader(path).samples
            others = [c for c in columns if c != tumour]
            if len(others) == 1 and (tumour in columns or is_reference_id(others[0]) or len(columns) == 1):
                return others[0]
            named = [c for c in columns if is_reference_id(c)]
            if len(named) == 1:
                return named[0]
        peach = self.files.get("peach")
        if peach is not None:
            return peach.name.split(".peach.")[0]
        return None

    def _read(self, kind: str, spec: Any) -> HartwigTable | None:
        path = self._file(kind)
        if path is None:
            return None
        table = read_table(path, spec)
        self.summary.files[path.name] = table.layout.name
        return table

    # -- the tables -----------------------------------------------------------------------------
    def _tables(self) -> list[tuple[str, pa.Table]]:
        """Read and check every table, then return the model tables (nothing is yielded before)."""
        purity = self._read("purity", PURPLE_PURITY)
        assert purity is not None  # find_hartwig_files made sure
        self.summary.purple_layout = purity.layout.name
        if len(purity) != 1:
            raise FormatError(
                f"expected one data row (the best fit), found {len(purity)}",
                location=Location(str(purity.path)),
            )
        fit = purity.rows[0]
        qc = self._qc()
        self.summary.purple_version = self._purple_version(purity)
        self.summary.pipeline_version = self._pipeline_version()
        segments = self._read("cnv_somatic", PURPLE_CNV_SOMATIC)
        assembly = self._assembly(segments)
        self.summary.assembly = assembly.value
        info = self._info.get(self.ids.tumour)
        biomarkers = self._purity_biomarkers(fit, purity)
        biomarkers += self._chord() + self._lilac() + self._viruses()
        drivers, cna_drivers = self._drivers()
        copy_numbers = self._copy_numbers(segments, cna_drivers)
        germline_events = self._germline_amp_del()
        svs = self._fusions() + self._svs()
        germline = any(
            (
                self._file("germline_vcf") is not None,
                any(d.origin is Origin.GERMLINE for d in drivers),
                bool(germline_events),
            )
        )
        assay = Assay.PANEL if fit.boolean("targeted") else Assay.WGS
        pipeline = (
            "oncoanalyser" if self.files is not None and self.files.layout == "oncoanalyser" else "hmftools"
        )
        qc_status = qc.get("QCStatus")
        out: list[tuple[str, pa.Table]] = [
            (
                "specimens",
                self.ids.specimens(
                    tissue=info.tissue if info else None, tumour_type=info.tumour_type if info else None
                ),
            ),
            (
                "analyses",
                self.ids.analyses(
                    germline=germline,
                    assay=assay,
                    pipeline=pipeline,
                    pipeline_version=self.summary.pipeline_version,
                    assembly=assembly,
                    qc_status=qc_status[1] if qc_status else None,
                    contamination=self._qc_number(qc, "Contamination", 0, 1),
                    mean_coverage=self._qc_number(qc, "AmberMeanDepth", 0, None),
                    source=self.source,
                ),
            ),
            ("biomarkers", table_of(Biomarker, biomarkers)),
        ]
        if drivers:
            out.append(("drivers", table_of(Driver, drivers)))
        if copy_numbers or germline_events:
            out.append(("copy_numbers", table_of(CopyNumber, copy_numbers + germline_events)))
        if svs:
            out.append(("structural_variants", table_of(StructuralVariant, svs)))
        return out

    def _qc(self) -> dict[str, tuple[int, str]]:
        path = self._file("qc")
        if path is None:
            return {}
        values = read_key_values(path)
        self.summary.files[path.name] = "PURPLE QC (key/value)"
        self._qc_path = path
        return values

    def _qc_number(
        self, qc: dict[str, tuple[int, str]], key: str, low: float, high: float | None
    ) -> float | None:
        hit = qc.get(key)
        if hit is None:
            return None
        line, text = hit
        try:
            value = float(text)
        except ValueError:
            raise FormatError(
                f"{text!r} is not a number", location=Location(str(self._qc_path), line, key)
            ) from None
        if value < low or (high is not None and value > high):
            bound = f"{low}-{high}" if high is not None else f"at least {low}"
            raise FormatError(
                f"{key} {value} is outside {bound}", location=Location(str(self._qc_path), line, key)
            )
        return value

    def _purple_version(self, purity: HartwigTable) -> str | None:
        version = purity.rows[0].text("version")
        if version:
            return version
        path = self._file("purple_version")
        if path is not None:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "version" and value.strip():
                    return value.strip()
        for kind in ("somatic_vcf", "germline_vcf"):
            vcf = self.files.get(kind) if self.files is not None else None
            if vcf is not None:
                found = _header_value(vcf, "purpleVersion")
                if found:
                    return found
        return None

    def _pipeline_version(self) -> str | None:
        assert self.files is not None
        path = self.files.pipeline_version_file
        if path is None:
            return None
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        return text.splitlines()[0].strip() if text else None

    def _assembly(self, segments: HartwigTable | None) -> Assembly:
        if self._assembly_given is not None:
            return self._assembly_given
        for kind in ("somatic_vcf", "germline_vcf"):
            path = self._file(kind)
            if path is not None:
                return VcfReader(path).assembly
        if segments is not None:
            ends = [
                row.integer("end")
                for row in segments
                if normalise_chromosome(row.require("chromosome")) == "1"
            ]
            for end in ends:
                if end in _CHR1_LENGTH:
                    return _CHR1_LENGTH[end]
        self.summary.notes.append("the reference assembly is not stated by any file; recorded as GRCh38")
        return Assembly.GRCH38

    def _purity_biomarkers(self, fit: TableRow, purity: HartwigTable) -> list[Biomarker]:
        value = fit.number("purity")
        if value is None or not 0 <= value <= 1:
            raise FormatError(
                f"purity {fit.text('purity')!r} is outside 0-1 (PURPLE's purity is the tumour cell fraction)",
                location=Location(str(purity.path), fit.line, purity.header_of("purity")),
            )
        ploidy = fit.number("ploidy")
        if ploidy is None or ploidy <= 0:
            raise FormatError(
                f"ploidy {fit.text('ploidy')!r} is not a positive number",
                location=Location(str(purity.path), fit.line, purity.header_of("ploidy")),
            )
        ids = self.ids
        out = [
            ids.biomarker("PURITY", value=value, status=fit.text("status"), method="PURPLE"),
            ids.biomarker("PLOIDY", value=ploidy, method="PURPLE"),
        ]
        for name, number, status in (
            ("TMB", "tmbPerMb", "tmbStatus"),
            ("TML", "tml", "tmlStatus"),
            ("MSI", "msIndelsPerMb", "msStatus"),
            ("SV_TMB", "svTumorMutationalBurden", None),
        ):
            if purity.has(number):
                out.append(
                    ids.biomarker(
                        name,
                        value=fit.number(number),
                        status=fit.text(status) if status else None,
                        method="PURPLE",
                    )
                )
        wgd = fit.boolean("wholeGenomeDuplication")
        if wgd is not None:
            out.append(
                ids.biomarker("WGD", value=float(wgd), status="WGD" if wgd else "NO_WGD", method="PURPLE")
            )
        gender = fit.text("gender")
        if gender:
            out.append(ids.biomarker("SEX", status=gender.upper(), method="PURPLE"))
        return out

    def _chord(self) -> list[Biomarker]:
        table = self._read("chord", CHORD_PREDICTION)
        if table is None:
            return []
        out = []
        for row in table:
            value = row.number("p_hrd")
            if value is not None and not 0 <= value <= 1:
                raise FormatError(
                    f"p_hrd {value} is outside 0-1", location=Location(str(table.path), row.line, "p_hrd")
                )
            status = row.text("hr_status")
            out.append(
                self.ids.biomarker(
                    "HRD", value=value, status=status.upper() if status else None, method="CHORD"
                )
            )
        return out

    def _lilac(self) -> list[Biomarker]:
        table = self._read("lilac", LILAC_ALLELES)
        out: list[Biomarker] = []
        if table is not None:
            for row in table:
                allele = row.require("Allele")
                gene = allele.split("*", 1)[0]
                name = f"HLA-{gene}"
                if name not in ("HLA-A", "HLA-B", "HLA-C"):
                    raise FormatError(
                        f"{allele!r} is not an HLA class I allele (A*, B*, C*)",
                        location=Location(str(table.path), row.line, "Allele"),
                    )
                out.append(
                    self.ids.biomarker(
                        name, value=row.number("TumorCopyNumber"), status=allele, method="LILAC"
                    )
                )
        qc = self._read("lilac_qc", LILAC_QC)
        if qc is not None and len(qc):
            out.append(self.ids.biomarker("HLA_QC", status=qc.rows[0].text("Status"), method="LILAC"))
        return out

    def _viruses(self) -> list[Biomarker]:
        table = self._read("virus", VIRUS_ANNOTATED)
        if table is None:
            return []
        out = []
        for row in table:
            if not row.boolean("reported"):
                continue
            integrations = row.number("integrations")
            out.append(
                self.ids.biomarker(
                    "VIRUS",
                    value=integrations,
                    status=row.text("interpretation") or row.require("name"),
                    method="Virus Interpreter",
                )
            )
        return out

    # -- drivers and copy numbers ---------------------------------------------------------------
    def _drivers(self) -> tuple[list[Driver], list[Driver]]:
        drivers: list[Driver] = []
        seen: set[tuple[str, str | None, str, Origin]] = set()
        for kind, origin in (
            ("somatic_drivers", Origin.SOMATIC),
            ("linx_drivers", Origin.SOMATIC),
            ("germline_drivers", Origin.GERMLINE),
            ("linx_germline_drivers", Origin.GERMLINE),
        ):
            table = self._read(kind, DRIVER_CATALOG)
            if table is None:
                continue
            for row in table:
                likelihood = row.number("driverLikelihood")
                if likelihood is not None and not 0 <= likelihood <= 1:
                    raise FormatError(
                        f"driverLikelihood {likelihood} is outside 0-1",
                        location=Location(str(table.path), row.line, table.header_of("driverLikelihood")),
                    )
                gene = row.require("gene")
                transcript = row.text("transcript")
                driver = row.require("driver")
                # LINX's catalog repeats PURPLE's entries (OncoAnalyser merges them): keep one.
                key = (gene, transcript, driver, origin)
                if key in seen:
                    continue
                seen.add(key)
                chrom = row.text("chromosome")
                drivers.append(
                    self.ids.driver(
                        origin,
                        gene=gene,
                        driver=driver,
                        category=row.text("category"),
                        likelihood_method=row.text("likelihoodMethod"),
                        driver_likelihood=likelihood,
                        biallelic=row.boolean("biallelic"),
                        chrom=normalise_chromosome(chrom) if chrom else None,
                        chromosome_band=row.text("chromosomeBand"),
                        transcript=transcript,
                        canonical=row.boolean("isCanonical"),
                        min_copy_number=row.number("minCopyNumber"),
                        max_copy_number=row.number("maxCopyNumber"),
                    )
                )
        cna = [
            d
            for d in drivers
            if d.origin is Origin.SOMATIC and d.driver in _CNA_DRIVERS and (d.canonical is not False)
        ]
        return drivers, cna

    def _copy_numbers(self, segments: HartwigTable | None, cna_drivers: list[Driver]) -> list[CopyNumber]:
        out: list[CopyNumber] = []
        ids = self.ids
        seg_rows: list[tuple[str, int, int, float, float | None]] = []
        if segments is not None:
            for row in segments:
                start, end = row.integer("start"), row.integer("end")
                copy_number = row.number("copyNumber")
                if start is None or end is None or start < 1 or end < start:
                    raise FormatError(
                        f"segment {row.text('start')}-{row.text('end')} is not a 1-based interval",
                        location=Location(str(segments.path), row.line, segments.header_of("start")),
                    )
                chrom = _chrom(row)
                minor = row.number("minorAlleleCopyNumber")
                # PURPLE's fitted copy number can be slightly negative in homozygous deletions.
                cn = max(0.0, copy_number) if copy_number is not None else None
                seg_rows.append((chrom, start - 1, end, cn if cn is not None else -1.0, minor))
                out.append(
                    CopyNumber(
                        chrom=chrom,
                        start=start - 1,
                        end=end,
                        individual_id=ids.patient,
                        analysis_id=ids.somatic_analysis,
                        copy_number=cn,
                        minor_allele_copy_number=minor,
                    )
                )
        genes = self._gene_copy_numbers()
        for driver in cna_drivers:
            locus = genes.get(driver.gene) or _locate(driver, seg_rows)
            if locus is None:
                self.summary.unlocated_drivers.append(f"{driver.gene} {driver.driver}")
                continue
            chrom, start, end, minor = locus
            copy_number = driver.min_copy_number if driver.driver == "DEL" else driver.max_copy_number
            out.append(
                CopyNumber(
                    chrom=chrom,
                    start=start,
                    end=end,
                    individual_id=ids.patient,
                    analysis_id=ids.somatic_analysis,
                    gene=driver.gene,
                    copy_number=max(0.0, copy_number) if copy_number is not None else None,
                    minor_allele_copy_number=minor,
                    event=driver.driver,
                    reported=True,
                )
            )
        return out

    def _gene_copy_numbers(self) -> dict[str, tuple[str, int, int, float | None]]:
        table = self._read("cnv_gene", PURPLE_CNV_GENE)
        out: dict[str, tuple[str, int, int, float | None]] = {}
        if table is None:
            return out
        for row in table:
            start, end = row.integer("start"), row.integer("end")
            if start is None or end is None:
                continue
            out.setdefault(
                row.require("gene"), (_chrom(row), start - 1, end, row.number("minMinorAlleleCopyNumber"))
            )
        return out

    def _germline_amp_del(self) -> list[CopyNumber]:
        table = self._read("germline_amp_del", GERMLINE_AMP_DEL)
        if table is None:
            return []
        out = []
        for row in table:
            if (row.text("filter") or "PASS") != "PASS":
                continue  # cohort-frequency and length filters: artefacts by PURPLE's own judgement
            start, end = row.integer("regionStart"), row.integer("regionEnd")
            if start is None or end is None or start < 1 or end < start:
                raise FormatError(
                    "regionStart-regionEnd is not a 1-based interval",
                    location=Location(str(table.path), row.line, "regionStart"),
                )
            status = row.require("germlineStatus")
            copy_number = row.number("germlineCopyNumber")
            out.append(
                CopyNumber(
                    chrom=_chrom(row),
                    start=start - 1,
                    end=end,
                    individual_id=self.ids.patient,
                    analysis_id=self.ids.germline_analysis,
                    gene=row.text("gene"),
                    copy_number=max(0.0, copy_number) if copy_number is not None else None,
                    event=_GERMLINE_EVENTS.get(status, status),
                    reported=row.text("reportedStatus") == "REPORTED",
                    origin=Origin.GERMLINE,
                )
            )
        return out

    # -- structural variants --------------------------------------------------------------------
    def _sv_coords(self) -> tuple[dict[int, tuple[int, bool]], dict[int, tuple[Any, ...]]]:
        breakends: dict[int, tuple[int, bool]] = {}
        table = self._read("breakends", LINX_BREAKENDS)
        if table is not None:
            for row in table:
                ident, sv = row.integer("id"), row.integer("svId")
                if ident is not None and sv is not None:
                    breakends[ident] = (sv, bool(row.boolean("isStart")))
        coords: dict[int, tuple[Any, ...]] = {}
        svs = self._read("svs", LINX_SVS)
        if svs is not None:
            for row in svs:
                sv = row.integer("svId")
                if sv is not None:
                    coords[sv] = (
                        _breakend(row.text("coordsStart"), svs, row, "coordsStart"),
                        _breakend(row.text("coordsEnd"), svs, row, "coordsEnd"),
                        row.require("type"),
                    )
        self._svs_table = svs
        return breakends, coords

    def _fusions(self) -> list[StructuralVariant]:
        breakends, coords = self._sv_coords()
        table = self._read("fusions", LINX_FUSIONS)
        if table is None:
            return []
        out = []
        for row in table:
            ends: list[tuple[str, int] | None] = []
            for column in ("fivePrimeBreakendId", "threePrimeBreakendId"):
                ident = row.integer(column) if table.has(column) else None
                found = breakends.get(ident) if ident is not None else None
                sv = coords.get(found[0]) if found else None
                ends.append((sv[0] if found[1] else sv[1]) if sv and found else None)
            up, down = ends
            phased = row.text("phased")
            out.append(
                StructuralVariant(
                    individual_id=self.ids.patient,
                    analysis_id=self.ids.somatic_analysis,
                    sv_type="FUSION",
                    chrom=up[0] if up else None,
                    start=up[1] if up else None,
                    chrom2=down[0] if down else None,
                    end=down[1] if down else None,
                    gene_5p=row.require("geneStart"),
                    gene_3p=row.require("geneEnd"),
                    in_frame=phased in ("INFRAME", "SKIPPED_EXONS") if phased else None,
                    reported=bool(row.boolean("reported")),
                )
            )
        return out

    def _svs(self) -> list[StructuralVariant]:
        table = self._svs_table
        if table is None:
            return []
        reported_svs: set[int] = set()
        breakends = self._read("breakends", LINX_BREAKENDS)
        if breakends is not None and breakends.has("reportedDisruption"):
            for row in breakends:
                sv = row.integer("svId")
                if sv is not None and row.boolean("reportedDisruption"):
                    reported_svs.add(sv)
        out = []
        for row in table:
            kind = row.require("type")
            start = _breakend(row.text("coordsStart"), table, row, "coordsStart")
            end = _breakend(row.text("coordsEnd"), table, row, "coordsEnd")
            out.append(
                StructuralVariant(
                    individual_id=self.ids.patient,
                    analysis_id=self.ids.somatic_analysis,
                    sv_type=_SV_TYPES.get(kind, kind),
                    chrom=start[0] if start else None,
                    start=start[1] if start else None,
                    chrom2=end[0] if end else None,
                    end=end[1] if end else None,
                    gene_5p=row.text("geneStart"),
                    gene_3p=row.text("geneEnd"),
                    reported=row.integer("svId") in reported_svs,
                )
            )
        return out

    # -- VCFs -----------------------------------------------------------------------------------
    def _sheet(self, reader: VcfReader, path: Path) -> tuple[SampleSheet, str | None]:
        """Who the VCF's columns are: the tumour (its calls are somatic) and the reference."""
        ids = self.ids
        columns = reader.samples
        tumour = ids.tumour if ids.tumour in columns else None
        if tumour is None:
            named = [c for c in columns if is_tumour_id(c) and c != ids.reference]
            if len(columns) == 1:
                tumour = columns[0]
            elif len(named) == 1:
                tumour = named[0]
            else:
                raise SampleError(
                    f"cannot tell the tumour column among {', '.join(columns)}: none is the tumour sample "
                    f"{ids.tumour!r} and Hartwig's <patient>T naming does not single one out; "
                    "give tumour_sample= or reference_sample=",
                    location=Location(str(path), field="#CHROM"),
                )
        entries = [
            SampleEntry(
                sample=tumour,
                individual=ids.patient,
                specimen=ids.tumour_specimen,
                specimen_type=SpecimenType.TUMOUR,
                analysis=ids.somatic_analysis,
            )
        ]
        others = [c for c in columns if c != tumour]
        if len(others) > 1:
            raise SampleError(
                f"expected the tumour and at most one reference column, found {', '.join(columns)}",
                location=Location(str(path), field="#CHROM"),
            )
        reference = others[0] if others else None
        if reference is not None:
            entries.append(
                SampleEntry(
                    sample=reference,
                    individual=ids.patient,
                    specimen=ids.normal_specimen or f"{ids.patient}:{reference}",
                    specimen_type=SpecimenType.NORMAL,
                    analysis=ids.germline_analysis,
                )
            )
            entries[0] = SampleEntry(
                sample=tumour,
                individual=ids.patient,
                specimen=ids.tumour_specimen,
                specimen_type=SpecimenType.TUMOUR,
                analysis=ids.somatic_analysis,
                normal_sample=reference,
            )
        return SampleSheet(entries), reference

    def _vcf_chunks(self, path: Path, origin: Origin) -> Iterator[Chunk]:
        probe = VcfReader(path, assembly=self.summary.assembly)
        sheet, _ = self._sheet(probe, path)
        reader = VcfReader(path, samples=sheet, origin=origin, assembly=self.summary.assembly)
        self.summary.files[path.name] = f"{origin.value} VCF ({reader.assembly.value})"
        try:
            info = _purple_info(path, reader.assembly.value)
        except Exception as exc:  # cyvcf2/htslib: VcfReader below diagnoses the line; keep this as backup
            info = {}
            failure: Exception | None = exc
        else:
            failure = None
        keep = self.ids.somatic_analysis if origin is Origin.SOMATIC else self.ids.germline_analysis
        pending: pa.Table | None = None
        for name, table in reader.chunks():
            if name in ("specimens", "analyses"):
                continue  # this reader writes its own, with QC and pipeline
            if name == "variant_sites":
                # Held until its block's calls arrive: calls of the other column may be dropped.
                pending = _annotate_sites(table, info)
            elif name == "variant_calls":
                calls, dropped = _annotate_calls(table, info, keep)
                if pending is not None:
                    yield "variant_sites", _subtract(pending, dropped)
                    pending = None
                yield name, calls
            else:
                yield name, table
        if pending is not None:
            yield "variant_sites", pending
        if failure is not None:
            raise FormatError(
                f"cannot read PURPLE's INFO fields: {failure}", location=Location(str(path))
            ) from failure
        if origin is Origin.GERMLINE:
            self.summary.notes.append(
                f"{path.name}: calls of the reference sample only (the tumour column of a PURPLE germline "
                "VCF is not called)"
            )


class HartwigBatch(SourceGroup):
    """Several samples' readers as one atomic batch (a :class:`~genofed.ingest.SourceGroup`).

    The batch key is ``hartwig:`` and the sorted tumour samples: re-ingesting the same set replaces
    it (a sample ingested alone, or in another set, is a different batch).
    """

    def __init__(self, readers: Sequence[HartwigReader], *, source: str) -> None:
        if not readers:
            raise ValueError("a HartwigBatch needs at least one reader")
        super().__init__(readers, kind="hartwig", source=source)
        self._tumours = sorted(r.ids.tumour for r in readers)

    @property
    def batch_key(self) -> str:
        """``hartwig:`` and the sorted tumour sample IDs."""
        return "hartwig:" + ",".join(self._tumours)


def _header_value(path: Path, key: str) -> str | None:
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.startswith("##"):
                    break
                if line.startswith(f"##{key}="):
                    return line.split("=", 1)[1].strip()
    except (OSError, EOFError):
        return None
    return None


def _breakend(text: str | None, table: HartwigTable, row: TableRow, column: str) -> tuple[str, int] | None:
    """``chrom:position:orientation`` of LINX -> (chromosome, 0-based position); None for a missing end."""
    if not text:
        return None
    parts = text.split(":")
    if len(parts) < 2:
        raise FormatError(
            f"{text!r} is not chromosome:position:orientation",
            location=Location(str(table.path), row.line, column),
        )
    try:
        position = int(parts[1])
    except ValueError:
        raise FormatError(
            f"{text!r} has no integer position", location=Location(str(table.path), row.line, column)
        ) from None
    if position < 1 or parts[0] in ("0", "-1"):
        return None  # the missing far end of a single breakend
    return normalise_chromosome(parts[0]), position - 1


def _locate(
    driver: Driver, segments: Sequence[tuple[str, int, int, float, float | None]]
) -> tuple[str, int, int, float | None] | None:
    """Place a gene-level copy-number driver on PURPLE's segments when no gene table gives its locus.

    The segment(s) of the driver's chromosome whose copy number equals the catalog's minimum (DEL) or
    maximum (AMP) to the catalog's four decimals; a single contiguous run is the locus, anything else
    is ambiguous (None).
    """
    if driver.chrom is None:
        return None
    target = driver.min_copy_number if driver.driver == "DEL" else driver.max_copy_number
    if target is None:
        return None
    target = max(0.0, target)
    hits = [s for s in segments if s[0] == driver.chrom and abs(s[3] - target) < 5e-4]
    if not hits:
        return None
    hits.sort(key=lambda s: s[1])
    for first, second in itertools.pairwise(hits):
        if second[1] != first[2]:
            return None
    return driver.chrom, hits[0][1], hits[-1][2], hits[0][4]


def _annotate_sites(table: pa.Table, info: dict[int, _PurpleInfo]) -> pa.Table:
    if not info or not table.num_rows:
        return table
    ids = table.column("variant_id").to_pylist()
    notes = [info.get(i) for i in ids]
    if not any(notes):
        return table
    for name in ("gene", "transcript", "consequence", "impact", "hgvs_c", "protein_change"):
        current = table.column(name).to_pylist()
        values = [
            getattr(n, name) if n is not None and getattr(n, name) is not None else c
            for n, c in zip(notes, current, strict=True)
        ]
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, pa.string()))
    return table


def _annotate_calls(
    table: pa.Table, info: dict[int, _PurpleInfo], keep: str
) -> tuple[pa.Table, pa.Table | None]:
    """The calls of the kept analysis with PURPLE's INFO added, and the calls dropped (other column)."""
    dropped = None
    if table.num_rows:
        mask = pc.equal(table.column("analysis_id"), keep)
        if pc.sum(pc.invert(mask)).as_py():
            dropped = table.filter(pc.invert(mask))
            table = table.filter(mask)
    ids = table.column("variant_id").to_pylist()
    notes = [info.get(i) for i in ids]
    vaf = [n.purity_adjusted_vaf if n else None for n in notes]
    vcn = [n.variant_copy_number if n else None for n in notes]
    table = (
        table.append_column("reported", pa.array([bool(n and n.reported) for n in notes], pa.bool_()))
        .append_column("purity_adjusted_vaf", pa.array(vaf, pa.float32()))
        .append_column("variant_copy_number", pa.array(vcn, pa.float32()))
    )
    return table, dropped


def _subtract(sites: pa.Table, dropped: pa.Table | None) -> pa.Table:
    """Take dropped calls (the tumour column of a germline VCF) out of the sites' AC, AN and hom counts.

    Exact for dropped carriers; a called hom-ref genotype of the dropped column still counts in AN
    (VcfReader does not say which column called what); PURPLE writes that column uncalled (./.).
    """
    if dropped is None or not dropped.num_rows:
        return sites
    copies: dict[int, int] = {}
    alleles: dict[int, int] = {}
    homs: dict[int, int] = {}
    for vid, alt_copies, genotype, zygosity in zip(
        dropped.column("variant_id").to_pylist(),
        dropped.column("alt_copies").to_pylist(),
        dropped.column("genotype").to_pylist(),
        dropped.column("zygosity").to_pylist(),
        strict=True,
    ):
        copies[vid] = copies.get(vid, 0) + int(alt_copies)
        called = sum(1 for a in str(genotype or "").replace("|", "/").split("/") if a not in ("", "."))
        alleles[vid] = alleles.get(vid, 0) + called
        homs[vid] = homs.get(vid, 0) + (zygosity == "hom")
    ids = sites.column("variant_id").to_pylist()
    for name, delta in (("allele_count", copies), ("allele_number", alleles), ("homozygous_count", homs)):
        values = [
            max(0, v - delta.get(i, 0)) for v, i in zip(sites.column(name).to_pylist(), ids, strict=True)
        ]
        sites = sites.set_column(sites.schema.get_field_index(name), name, pa.array(values, pa.int32()))
    return sites


register_adapter(
    AdapterInfo(
        "hartwig",
        "one tumour sample's hmftools/OncoAnalyser outputs, or many as one batch",
        (
            "PURPLE v2 and v3/v4 layouts",
            "LINX",
            "CHORD",
            "LILAC",
            "virus interpreter",
            "PAVE IMPACT",
            "ORANGE JSON",
        ),
        "genofed ingest hartwig FOLDER --store DIR",
    )
)
