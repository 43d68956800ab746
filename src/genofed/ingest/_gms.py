"""The GMS adapter: a Genomic Medicine Sweden case (BALSAMIC, Twist_Solid/GMS560, Scout) → the model.

Shape of a read:

1. :class:`GmsCase` settles what the case is. From a **folder** it finds the files by name (below);
   from a **Scout load config** it takes the case, the samples and the VCF the config names. In both
   it reads the VCF's header (not its records) to recognise the pipeline, and decides each sample's
   role (tumour / normal) and the assay, recording every decision for the harmonisation report.
2. :class:`GmsReader` (a :class:`~genofed.ingest.SourceReader`) reads and checks the small files at
   construction -- CNVkit segments, PureCN/ASCAT purity, MSIsensor-pro -- so a bad one fails before
   anything streams. ``chunks()`` then streams the VCF through :class:`~genofed.ingest.VcfReader`
   (specimens, analyses, variant sites and calls; the tumour's analysis row gains PureCN's
   contamination and QC verdict) and adds ``copy_numbers`` and ``biomarkers`` rows. The caller hands
   the stream to ``NodeStore.write_stream``: one atomic batch per case.

Files of a case folder (one of each at most; names as BALSAMIC delivers them):

=====================================  ================================================  ==========
pattern                                what                                              needed
=====================================  ================================================  ==========
``*.vcf``, ``*.vcf.gz``                VEP-annotated somatic SNV/indel VCF               yes
``*load_config*.yaml``, ``*scout*.yaml``  Scout load config: the sample sheet            no
``*.cns``                              CNVkit segments → ``copy_numbers``                no
``*purecn*.csv``                       PureCN purity/ploidy → biomarkers                 no [1]_
``*samplestatistics*``                 ASCAT purity/ploidy → biomarkers                  no [1]_
``*.msi``, ``*msisensor*`` (not its   MSIsensor-pro score → biomarker MSI               no
``_dis``/``_all``/... side tables)
=====================================  ================================================  ==========

.. [1] A ``.cns`` file without a ``cn`` column needs a purity (PureCN, ASCAT, or the config's
   ``tumor_purity``) to convert its log2 ratios (:func:`absolute_copy_number`).

Who is who: with a load config, each VCF column is the config sample whose ``sample_id`` (or
``sample_name``) it is, or -- BALSAMIC names its columns ``TUMOR`` and ``NORMAL`` -- the one
``affected`` (tumour) or ``unaffected`` (normal) sample; the config's ``family`` is the individual.
Without one, ``TUMOR``/``NORMAL`` columns or ``##tumor_sample``/``##normal_sample`` tell the roles,
a single column is a tumour (tumour-only calling), and the case ID (default: the folder's name) is
the individual. A case has exactly one tumour sample: its analysis carries the copy numbers and
biomarkers. Source IDs: specimen = the config's ``sample_id`` (else ``<case>:<column>``), analysis
= ``<case>:<sample_id or column>``.

The assay, first rule that decides: the ``assay`` argument; the config's ``analysis_type``; the
VCF header (Twist_Solid's GMS560 → PANEL; BALSAMIC with VarDict → PANEL, since BALSAMIC runs
VarDict on panels only); the CNV files (CNVkit ``.cns`` → PANEL, ASCAT → WGS). If none decides,
the case is refused rather than guessed.
"""

from __future__ import annotations

import fnmatch
import gzip
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from genofed.errors import FormatError, InputError, Location, SampleError
from genofed.model import (
    Assay,
    Biomarker,
    CopyNumber,
    Origin,
    SpecimenType,
    conform,
    records_to_table,
)

from ._clinical import ReportRow, ValueStatus
from ._gms_config import ScoutLoadConfig, ScoutSample, read_load_config
from ._gms_tables import (
    CnvSegment,
    MsiScore,
    PurityEstimate,
    absolute_copy_number,
    read_ascat_statistics,
    read_cnvkit_segments,
    read_msisensor_pro,
    read_purecn,
)
from ._registry import AdapterInfo, register_adapter
from ._samples import SampleEntry, SampleSheet
from ._source import Chunk
from ._vcf import VcfReader, VcfSummary

__all__ = ["GmsCase", "GmsReader", "GmsReport", "GmsSummary", "find_gms_cases"]

_CONFIG_PATTERNS = ("*load_config*.yaml", "*load_config*.yml", "*scout*.yaml", "*scout*.yml")
_VCF_PATTERNS = ("*.vcf", "*.vcf.gz")
_CNS_PATTERNS = ("*.cns",)
_PURECN_PATTERNS = ("*purecn*.csv",)
_ASCAT_PATTERNS = ("*samplestatistics*",)
_MSI_PATTERNS = ("*.msi", "*msisensor*")
# MSIsensor-pro writes its summary beside per-site tables (_dis, _all, ...) and its scan list.
_MSI_SIDE_FILES = ("_dis", "_all", "_unstable", "_somatic", "_germline", ".list", ".log")
# BALSAMIC renders some results as reports beside them (``...samplestatistics.txt.pdf``): not data.
_REPORT_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".svg", ".html")
_TUMOUR_COLUMNS = frozenset({"TUMOR", "TUMOUR"})
_NORMAL_COLUMNS = frozenset({"NORMAL"})
_CONFIG_METHOD = "Scout load config"


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What the VCF header says about the pipeline and the assay."""

    pipeline: str | None
    assay: Assay | None
    reason: str


@dataclass(frozen=True)
class GmsCase:
    """One GMS case: its files, its samples (as a sample sheet for the VCF) and the decisions made.

    Build with :meth:`open` (a folder or a load config), :meth:`from_folder` or
    :meth:`from_load_config`; the constructor takes already-settled parts.
    """

    case_id: str
    vcf: Path
    sheet: SampleSheet
    #: VCF column of the case's tumour sample
    tumour_sample: str
    assay: Assay
    pipeline: str | None = None
    assembly: str | None = None
    segments: Path | None = None
    purecn: Path | None = None
    ascat: Path | None = None
    msi: Path | None = None
    config: ScoutLoadConfig | None = None
    folder: Path | None = None
    #: how sample roles, tumour types and the assay were settled (the harmonisation report's rows)
    decisions: tuple[ReportRow, ...] = ()
    #: files of the folder that matched no pattern
    ignored: tuple[Path, ...] = ()

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        case_id: str | None = None,
        vcf: str | Path | None = None,
        assay: Assay | None = None,
    ) -> GmsCase:
        """A case from a folder (:meth:`from_folder`) or a load config file (:meth:`from_load_config`)."""
        target = Path(path)
        if target.is_dir():
            return cls.from_folder(target, case_id=case_id, vcf=vcf, assay=assay)
        if target.is_file():
            if case_id is not None:
                raise FormatError(
                    "a load config names its case (family:); case_id is only for folders",
                    location=Location(path=str(target), field="family"),
                )
            return cls.from_load_config(target, vcf=vcf, assay=assay)
        raise FormatError(
            "not found: expected a GMS case folder or a Scout load config",
            location=Location(path=str(target)),
        )

    @classmethod
    def from_load_config(
        cls,
        config: str | Path | ScoutLoadConfig,
        *,
        vcf: str | Path | None = None,
        assay: Assay | None = None,
        segments: str | Path | None = None,
        purecn: str | Path | None = None,
        ascat: str | Path | None = None,
        msi: str | Path | None = None,
    ) -> GmsCase:
        """A case from a Scout load config: its samples, and the VCF it names (or ``vcf``).

        Other files are only read when given (a load config does not name them).

        Raises
        ------
        FormatError
            The config is invalid, names no VCF, or names one that does not exist.
        SampleError
            A VCF column is not a sample of the config, or the case has not exactly one tumour.
        """
        loaded = config if isinstance(config, ScoutLoadConfig) else read_load_config(config)
        chosen = _vcf_of_config(loaded, Path(vcf) if vcf is not None else None)
        return _build(
            case_id=loaded.case_id,
            vcf=chosen,
            config=loaded,
            assay=assay,
            files={
                "segments": _optional(segments),
                "purecn": _optional(purecn),
                "ascat": _optional(ascat),
                "msi": _optional(msi),
            },
            folder=None,
            ignored=(),
        )

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        *,
        case_id: str | None = None,
        vcf: str | Path | None = None,
        assay: Assay | None = None,
    ) -> GmsCase:
        """A case from a folder of pipeline outputs (patterns in the module docstring).

        Parameters
        ----------
        folder
            The case folder.
        case_id
            The case (and individual) ID when the folder has no load config; default: the folder's name.
        vcf
            The VCF to read when the folder holds several (default: the config's, or the only one).
        assay
            Overrides the assay the files say.

        Raises
        ------
        FormatError
            The folder has no VCF (the one mandatory file), several files of one kind, or a load
            config naming a VCF that does not exist.
        SampleError
            The samples' roles cannot be told, or the case has not exactly one tumour.
        """
        base = Path(folder)
        if not base.is_dir():
            raise FormatError("not a folder", location=Location(path=str(base)))
        files = sorted(
            p
            for p in base.iterdir()
            if p.is_file() and not p.name.startswith(".") and not p.name.lower().endswith(_REPORT_SUFFIXES)
        )
        claimed: set[Path] = set()

        def one(kind: str, patterns: Sequence[str]) -> Path | None:
            found = [p for p in files if _matches(p.name, patterns)]
            if kind == "MSIsensor-pro result":
                found = [p for p in found if not p.name.endswith(_MSI_SIDE_FILES)]
            claimed.update(found)
            if len(found) > 1:
                names = ", ".join(p.name for p in found)
                raise FormatError(
                    f"the folder has {len(found)} {kind} files ({names}); a case folder holds one",
                    location=Location(path=str(base), field=kind),
                )
            return found[0] if found else None

        config_path = one("Scout load config", _CONFIG_PATTERNS)
        vcfs = [p for p in files if _matches(p.name, _VCF_PATTERNS)]
        claimed.update(vcfs)
        claimed.update(p for p in files if p.name.endswith((".tbi", ".csi")))
        files_found = {
            "segments": one("CNVkit segment (.cns)", _CNS_PATTERNS),
            "purecn": one("PureCN purity", _PURECN_PATTERNS),
            "ascat": one("ASCAT sample statistics", _ASCAT_PATTERNS),
            "msi": one("MSIsensor-pro result", _MSI_PATTERNS),
        }
        ignored = tuple(p for p in files if p not in claimed)
        config = read_load_config(config_path) if config_path is not None else None
        if config is not None and case_id is not None and case_id != config.case_id:
            raise FormatError(
                f"case_id {case_id!r} differs from the load config's family {config.case_id!r}",
                location=config.location("family"),
            )
        if vcf is not None:
            chosen = Path(vcf)
            if not chosen.is_file():
                raise FormatError("VCF not found", location=Location(path=str(chosen)))
        elif config is not None:
            chosen = _vcf_of_config(config, None)
        elif not vcfs:
            raise FormatError(
                "the case folder has no VCF (*.vcf or *.vcf.gz); a GMS case needs its VEP-annotated "
                "somatic SNV/indel VCF",
                location=Location(path=str(base), field="VCF"),
            )
        elif len(vcfs) > 1:
            names = ", ".join(p.name for p in vcfs)
            raise FormatError(
                f"the folder has {len(vcfs)} VCFs ({names}); add a Scout load config naming vcf_cancer, "
                "or choose one with vcf=",
                location=Location(path=str(base), field="VCF"),
            )
        else:
            chosen = vcfs[0]
        return _build(
            case_id=config.case_id if config is not None else (case_id or base.name),
            vcf=chosen,
            config=config,
            assay=assay,
            files=files_found,
            folder=base,
            ignored=ignored,
        )

    # -- access -----------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """A name for the catalog and messages: the case ID."""
        return self.case_id

    @property
    def tumour_entry(self) -> SampleEntry:
        """The tumour sample's sheet entry."""
        return self.sheet[self.tumour_sample]

    @property
    def tumour_analysis_id(self) -> str:
        """Source ID of the tumour's analysis (which carries copy numbers and biomarkers)."""
        return self.tumour_entry.analysis_id(self.vcf.name)

    @property
    def config_tumour(self) -> ScoutSample | None:
        """The load config's entry of the tumour sample, when there is a config."""
        if self.config is None:
            return None
        specimen = self.tumour_entry.specimen
        return next((s for s in self.config.samples if s.sample_id == specimen), None)


def find_gms_cases(path: str | Path) -> tuple[Path, ...]:
    """The GMS cases under ``path``: itself when it is a load config or a case folder (it holds a VCF or
    a load config), else its sub-folders that are case folders, in name order.

    Raises
    ------
    FormatError
        ``path`` does not exist, or is a folder without any case.
    """
    target = Path(path)
    if target.is_file():
        return (target,)
    if not target.is_dir():
        raise FormatError(
            "not found: expected a GMS case folder, a folder of them, or a Scout load config",
            location=Location(path=str(target)),
        )

    def is_case(folder: Path) -> bool:
        return any(
            p.is_file() and _matches(p.name, (*_VCF_PATTERNS, *_CONFIG_PATTERNS)) for p in folder.iterdir()
        )

    if is_case(target):
        return (target,)
    cases = tuple(sorted(p for p in target.iterdir() if p.is_dir() and is_case(p)))
    if not cases:
        raise FormatError(
            "no GMS case here: the folder holds no VCF or load config, nor sub-folders that do",
            location=Location(path=str(target), field="VCF"),
        )
    return cases


def _optional(path: str | Path | None) -> Path | None:
    return Path(path) if path is not None else None


def _matches(name: str, patterns: Sequence[str]) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, p) for p in patterns)


def _vcf_of_config(config: ScoutLoadConfig, override: Path | None) -> Path:
    if override is not None:
        if not override.is_file():
            raise FormatError("VCF not found", location=Location(path=str(override)))
        return override
    if config.vcf is None:
        raise FormatError(
            "the load config names no VCF; add vcf_cancer: (the somatic SNV/indel VCF) or pass the VCF",
            location=config.location("vcf_cancer"),
        )
    if not config.vcf.is_file():
        raise FormatError(
            f"{config.vcf_key} names {config.vcf}, which does not exist (relative paths are read from "
            "the config's folder)",
            location=config.location(config.vcf_key, config.vcf_line),
        )
    return config.vcf


# -- settling the case -------------------------------------------------------------------------------
def _vcf_header(path: Path) -> tuple[str, tuple[str, ...]]:
    """The VCF's meta lines and sample columns (the records are VcfReader's to read)."""
    where = str(path)
    lines: list[str] = []
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
            for raw in handle:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                lines.append(line)
                if line.startswith("#CHROM"):
                    break
                if not line.startswith("##"):
                    raise FormatError(
                        "expected a '##' meta line or the '#CHROM' header line",
                        location=Location(where, len(lines)),
                    )
            else:
                raise FormatError(
                    "the file has no '#CHROM' header line; is it a VCF?", location=Location(where)
                )
    except FileNotFoundError:
        raise FormatError("VCF not found", location=Location(path=where)) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(
            f"cannot read the VCF header: {exc}", location=Location(where, len(lines) + 1)
        ) from exc
    return "\n".join(lines), tuple(lines[-1].split("\t")[9:])


def _evidence(header: str) -> _Evidence:
    lowered = header.lower()
    if "twist" in lowered or "gms560" in lowered:
        return _Evidence("Twist_Solid", Assay.PANEL, "Twist_Solid (GMS560 panel) VCF header")
    if "balsamic" in lowered:
        if "##source=vardict" in lowered:
            return _Evidence(
                "BALSAMIC", Assay.PANEL, "BALSAMIC VarDict calls (BALSAMIC runs VarDict on panels)"
            )
        return _Evidence("BALSAMIC", None, "BALSAMIC VCF header")
    return _Evidence(None, None, "no pipeline named in the VCF header")


def _header_value(header: str, key: str) -> str | None:
    prefix = f"##{key}="
    return next(
        (line[len(prefix) :].strip() for line in header.splitlines() if line.startswith(prefix)), None
    )


def _build(
    *,
    case_id: str,
    vcf: Path,
    config: ScoutLoadConfig | None,
    assay: Assay | None,
    files: dict[str, Path | None],
    folder: Path | None,
    ignored: tuple[Path, ...],
) -> GmsCase:
    header, columns = _vcf_header(vcf)
    if not columns:
        raise SampleError("the VCF has no sample columns", location=Location(path=str(vcf), field="FORMAT"))
    evidence = _evidence(header)
    rows: list[ReportRow] = []
    vcf_name = vcf.name
    if evidence.pipeline is not None:
        rows.append(
            _row(
                vcf_name,
                "header",
                "analyses.pipeline",
                evidence.reason,
                ValueStatus.MAPPED,
                evidence.pipeline,
            )
        )
    roles = (
        _config_roles(config, columns, vcf, rows)
        if config is not None
        else _header_roles(header, columns, vcf, rows)
    )
    tumours = [c for c, (role, _) in roles.items() if role is SpecimenType.TUMOUR]
    normals = [c for c, (role, _) in roles.items() if role is not SpecimenType.TUMOUR]
    where = str(config.path) if config is not None else str(vcf)
    if len(tumours) != 1:
        raise SampleError(
            f"a GMS case has one tumour sample; {len(tumours)} of the VCF's columns "
            f"({', '.join(columns)}) are tumours",
            location=Location(path=where, field="phenotype" if config is not None else "#CHROM"),
        )
    tumour = tumours[0]
    # The assay: the first rule that decides (module docstring).
    tumour_config = roles[tumour][1]
    cnv_assay = Assay.PANEL if files.get("segments") else (Assay.WGS if files.get("ascat") else None)
    decided: tuple[Assay, str] | None = None
    for candidate, reason in (
        (assay, "given"),
        (tumour_config.assay if tumour_config else None, "load config analysis_type"),
        (evidence.assay, evidence.reason),
        (cnv_assay, "CNV files (CNVkit: panel; ASCAT: WGS)"),
    ):
        if candidate is not None:
            decided = (candidate, reason)
            break
    if decided is None:
        raise FormatError(
            "cannot tell the assay (WGS, WES, PANEL): the load config has no analysis_type and the files "
            "do not say; pass the assay",
            location=Location(path=where, field="analysis_type"),
        )
    case_assay, reason = decided
    rows.append(_row(vcf_name, "assay", "analyses.assay", reason, ValueStatus.MAPPED, case_assay.value))
    entries = []
    for column in columns:
        role, sample = roles[column]
        sample_assay = (sample.assay if sample and sample.assay else None) if assay is None else assay
        entries.append(
            SampleEntry(
                sample=column,
                individual=case_id,
                specimen=sample.sample_id if sample else None,
                specimen_type=role,
                analysis=f"{case_id}:{sample.sample_id if sample else column}",
                assay=sample_assay or case_assay,
                pipeline=evidence.pipeline,
                tissue=sample.tissue if sample else None,
                tumour_type=sample.tumour_type if sample else None,
                normal_sample=normals[0] if column == tumour and len(normals) == 1 else None,
            )
        )
    sheet = SampleSheet(entries, path=config.path if config is not None else None)
    return GmsCase(
        case_id=case_id,
        vcf=vcf,
        sheet=sheet,
        tumour_sample=tumour,
        assay=case_assay,
        pipeline=evidence.pipeline,
        assembly=config.assembly.value if config is not None and config.assembly is not None else None,
        segments=files.get("segments"),
        purecn=files.get("purecn"),
        ascat=files.get("ascat"),
        msi=files.get("msi"),
        config=config,
        folder=folder,
        decisions=tuple(rows),
        ignored=ignored,
    )


def _row(
    file: str, column: str, target: str, value: str, status: ValueStatus, maps_to: str | None
) -> ReportRow:
    return ReportRow(file, column, target, value, 1, status.value, maps_to or "")


def _config_roles(
    config: ScoutLoadConfig, columns: Sequence[str], vcf: Path, rows: list[ReportRow]
) -> dict[str, tuple[SpecimenType, ScoutSample | None]]:
    """Each VCF column's config sample: by sample_id, by sample_name, or TUMOR/NORMAL by phenotype."""
    by_id = {s.sample_id: s for s in config.samples}
    by_name = {s.sample_name: s for s in config.samples if s.sample_name}
    tumours = [s for s in config.samples if s.specimen_type is SpecimenType.TUMOUR]
    normals = [s for s in config.samples if s.specimen_type is SpecimenType.NORMAL]
    roles: dict[str, tuple[SpecimenType, ScoutSample | None]] = {}
    used: dict[str, str] = {}
    name = config.path.name
    for column in columns:
        sample = by_id.get(column) or by_name.get(column)
        how = "sample_id" if column in by_id else "sample_name"
        if sample is None and column.upper() in _TUMOUR_COLUMNS and len(tumours) == 1:
            sample, how = tumours[0], "TUMOR column = the affected sample"
        elif sample is None and column.upper() in _NORMAL_COLUMNS and len(normals) == 1:
            sample, how = normals[0], "NORMAL column = the unaffected sample"
        if sample is None:
            known = ", ".join(s.sample_id for s in config.samples)
            raise SampleError(
                f"VCF sample column {column!r} is not a sample of the load config {name} (sample_id or "
                f"sample_name; known: {known}), nor a TUMOR/NORMAL column with one matching sample",
                location=Location(path=str(vcf), field=column),
            )
        if sample.sample_id in used:
            raise SampleError(
                f"VCF columns {used[sample.sample_id]!r} and {column!r} are both config sample "
                f"{sample.sample_id!r}",
                location=Location(path=str(vcf), field=column),
            )
        used[sample.sample_id] = column
        roles[column] = (sample.specimen_type, sample)
        rows.append(
            _row(
                name,
                f"{sample.field}.sample_id",
                "VCF column",
                sample.sample_id,
                ValueStatus.MAPPED,
                f"{column} ({how})",
            )
        )
        rows.append(
            _row(
                name,
                f"{sample.field}.phenotype",
                "specimens.specimen_type",
                "affected" if sample.specimen_type is SpecimenType.TUMOUR else "unaffected",
                ValueStatus.MAPPED,
                sample.specimen_type.value,
            )
        )
        if sample.analysis_type is not None:
            rows.append(
                _row(
                    name,
                    f"{sample.field}.analysis_type",
                    "analyses.assay",
                    sample.analysis_type,
                    ValueStatus.MAPPED if sample.assay else ValueStatus.MISSING,
                    sample.assay.value if sample.assay else None,
                )
            )
        if sample.tumour_type_label is not None and sample.specimen_type is SpecimenType.TUMOUR:
            rows.append(
                _row(
                    name,
                    f"{sample.field}.tumor_type",
                    "specimens.tumour_type",
                    sample.tumour_type_label,
                    ValueStatus.MAPPED if sample.tumour_type else ValueStatus.UNMAPPED,
                    sample.tumour_type,
                )
            )
    for sample in config.samples:
        if sample.sample_id not in used:
            rows.append(
                _row(
                    name,
                    f"{sample.field}.sample_id",
                    "VCF column",
                    sample.sample_id,
                    ValueStatus.MISSING,
                    None,
                )
            )
    return roles


def _header_roles(
    header: str, columns: Sequence[str], vcf: Path, rows: list[ReportRow]
) -> dict[str, tuple[SpecimenType, ScoutSample | None]]:
    """Roles without a config: ``##tumor_sample``/``##normal_sample``, TUMOR/NORMAL names, or one column."""
    tumour = _header_value(header, "tumor_sample")
    normal = _header_value(header, "normal_sample")
    roles: dict[str, tuple[SpecimenType, ScoutSample | None]] = {}
    for column in columns:
        if column == tumour or column.upper() in _TUMOUR_COLUMNS:
            role, how = SpecimenType.TUMOUR, "##tumor_sample" if column == tumour else "column name"
        elif column == normal or column.upper() in _NORMAL_COLUMNS:
            role, how = SpecimenType.NORMAL, "##normal_sample" if column == normal else "column name"
        elif len(columns) == 1:
            role, how = SpecimenType.TUMOUR, "the only column (tumour-only calling)"
        else:
            raise SampleError(
                f"cannot tell whether sample column {column!r} is the tumour or the normal: name the columns "
                "TUMOR/NORMAL, add ##tumor_sample/##normal_sample, or give a Scout load config",
                location=Location(path=str(vcf), field=column),
            )
        roles[column] = (role, None)
        rows.append(
            _row(vcf.name, f"#CHROM {column}", "specimens.specimen_type", how, ValueStatus.MAPPED, role.value)
        )
    return roles


# -- the reader -------------------------------------------------------------------------------------
@dataclass
class GmsSummary:
    """What one read of a case produced (complete once ``chunks()`` is exhausted)."""

    vcf: VcfSummary = field(default_factory=VcfSummary)
    segments: int = 0
    biomarkers: int = 0
    #: how copy numbers were obtained: the ``cn`` column, or log2 via which purity and ploidy
    copy_number_source: str | None = None


@dataclass(frozen=True, slots=True)
class GmsReport:
    """The harmonisation report of a dry run: what each source field became, and what would fail."""

    source: str
    rows: tuple[ReportRow, ...]
    #: rows per table the ingest would write
    tables: dict[str, int]
    problems: tuple[InputError, ...]
    ignored: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when ingesting would succeed."""
        return not self.problems

    def to_rows(self) -> list[ReportRow]:
        """The report's rows, for rendering (``ReportRow._fields`` is the header)."""
        return list(self.rows)


class GmsReader:
    """A :class:`~genofed.ingest.SourceReader` for one GMS case.

    Parameters
    ----------
    case
        A :class:`GmsCase`, or a folder / load config to open as one (:meth:`GmsCase.open`).
    reference_fasta
        An indexed FASTA of the assembly, for the VCF's indels (see :class:`VcfReader`).
    chunk_records
        VCF records per chunk.

    Raises
    ------
    FormatError
        A file of the case is missing or malformed (its name, line and field are in the message), or
        the ``.cns`` file has log2 ratios only and the case has no purity to convert them with.
    SampleError
        See :meth:`GmsCase.from_folder`.
    """

    #: adapter name recorded in the catalog
    kind: str = "gms"

    def __init__(
        self,
        case: GmsCase | str | Path,
        *,
        reference_fasta: Path | None = None,
        chunk_records: int = 1000,
    ) -> None:
        self.case = case if isinstance(case, GmsCase) else GmsCase.open(case)
        c = self.case
        self.vcf = VcfReader(
            c.vcf,
            samples=c.sheet,
            assembly=c.assembly,
            origin=Origin.SOMATIC,
            reference_fasta=reference_fasta,
            chunk_records=chunk_records,
        )
        self.rows: list[ReportRow] = list(c.decisions)
        self.segments: tuple[CnvSegment, ...] = read_cnvkit_segments(c.segments) if c.segments else ()
        self.purities: tuple[PurityEstimate, ...] = tuple(
            read(path) for path, read in ((c.purecn, read_purecn), (c.ascat, read_ascat_statistics)) if path
        )
        self.msi: MsiScore | None = read_msisensor_pro(c.msi) if c.msi else None
        self._biomarkers = self._biomarker_rows()
        self._copy_numbers, source = self._copy_number_rows()
        self.summary = GmsSummary(copy_number_source=source)

    # -- SourceReader ---------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The case ID."""
        return self.case.case_id

    @property
    def batch_key(self) -> str:
        """``gms:`` and the sorted analysis IDs: re-ingesting the same case replaces its batch."""
        return "gms:" + ",".join(sorted(self.vcf.analysis_ids))

    def __repr__(self) -> str:
        return f"<GmsReader case {self.case.case_id}: {self.case.assay.value}, {self.case.vcf.name}>"

    def chunks(self) -> Iterator[Chunk]:
        """Yield the VCF's chunks (specimens, analyses, sites, calls), then copy numbers and biomarkers.

        Raises
        ------
        FormatError
            A VCF record is malformed (see :meth:`VcfReader.chunks`).
        """
        self.summary = GmsSummary(copy_number_source=self.summary.copy_number_source)
        for name, table in self.vcf.chunks():
            yield name, self._analyses(table) if name == "analyses" else table
        self.summary.vcf = self.vcf.summary
        if self._copy_numbers.num_rows:
            self.summary.segments = self._copy_numbers.num_rows
            yield "copy_numbers", self._copy_numbers
        if self._biomarkers.num_rows:
            self.summary.biomarkers = self._biomarkers.num_rows
            yield "biomarkers", self._biomarkers

    def dry_run(self) -> GmsReport:
        """Read everything, write nothing: the harmonisation report (errors become its problems)."""
        tables: dict[str, int] = {}
        problems: list[InputError] = []
        try:
            for name, table in self.chunks():
                tables[name] = tables.get(name, 0) + table.num_rows
        except InputError as exc:
            problems.append(exc)
        rows = list(self.rows)
        for term, count in sorted(self.vcf.summary.unknown_consequences.items()):
            rows.append(
                ReportRow(
                    self.case.vcf.name,
                    "CSQ Consequence",
                    "variant_sites.consequence",
                    term,
                    count,
                    ValueStatus.ACCEPTED.value,
                    term,
                )
            )
        return GmsReport(
            source=self.source,
            rows=tuple(rows),
            tables=tables,
            problems=tuple(problems),
            ignored=tuple(p.name for p in self.case.ignored),
        )

    # -- tables ---------------------------------------------------------------------------------
    def _analyses(self, table: pa.Table) -> pa.Table:
        """The tumour analysis gains PureCN's contamination estimate and QC verdict."""
        purecn = next((p for p in self.purities if p.method == "PureCN"), None)
        if purecn is None:
            return table
        is_tumour = pc.equal(table.column("analysis_id"), self.case.tumour_analysis_id)
        verdict = "FAIL_PURITY" if purecn.failed else ("FLAGGED_PURITY" if purecn.flagged else None)
        for column, value, kind in (
            ("contamination", purecn.contamination, table.schema.field("contamination").type),
            ("qc_status", verdict, table.schema.field("qc_status").type),
        ):
            if value is None:
                continue
            index = table.schema.get_field_index(column)
            updated = pc.if_else(is_tumour, pa.scalar(value, kind), table.column(column))
            table = table.set_column(index, table.schema.field(index), updated)
        return table

    def _biomarker_rows(self) -> pa.Table:
        c = self.case
        individual, analysis = c.tumour_entry.individual, c.tumour_analysis_id
        rows: list[Biomarker] = []

        def add(name: str, value: float, method: str, *, unit: str | None = None) -> None:
            rows.append(
                Biomarker(
                    individual_id=individual,
                    analysis_id=analysis,
                    name=name,
                    value=value,
                    unit=unit,
                    method=method,
                )
            )

        for estimate in self.purities:
            label = Path(estimate.path).name
            add("PURITY", estimate.purity, estimate.method)
            field = "Purity" if estimate.method == "PureCN" else "rho"
            self.rows.append(
                _row(
                    label,
                    field,
                    "biomarkers.PURITY",
                    f"{estimate.purity:g}",
                    ValueStatus.ACCEPTED,
                    f"{estimate.purity:g}",
                )
            )
            if estimate.ploidy is not None:
                add("PLOIDY", estimate.ploidy, estimate.method)
                self.rows.append(
                    _row(
                        label,
                        "Ploidy",
                        "biomarkers.PLOIDY",
                        f"{estimate.ploidy:g}",
                        ValueStatus.ACCEPTED,
                        f"{estimate.ploidy:g}",
                    )
                )
        if self.msi is not None:
            add("MSI", self.msi.score, "MSIsensor-pro", unit="%")
            self.rows.append(
                _row(
                    Path(self.msi.path).name,
                    "%",
                    "biomarkers.MSI",
                    f"{self.msi.score:g}",
                    ValueStatus.ACCEPTED,
                    f"{self.msi.score:g} %",
                )
            )
        sample = c.config_tumour
        if sample is not None and c.config is not None:
            for key, name, value, unit in (
                ("tumor_purity", "PURITY", sample.purity, None),
                ("tmb", "TMB", sample.tmb, "mutations/Mb"),
                ("msi", "MSI", sample.msi, None),
                ("hrd", "HRD", sample.hrd, None),
            ):
                if value is None:
                    continue
                add(name, value, _CONFIG_METHOD, unit=unit)
                self.rows.append(
                    _row(
                        c.config.path.name,
                        f"{sample.field}.{key}",
                        f"biomarkers.{name}",
                        f"{value:g}",
                        ValueStatus.ACCEPTED,
                        f"{value:g}",
                    )
                )
        return records_to_table(Biomarker, rows)

    def _conversion(self) -> tuple[float, float, str] | None:
        """Purity, ploidy and their source for converting log2 ratios: PureCN, ASCAT, the config."""
        for estimate in self.purities:
            if estimate.purity > 0:
                ploidy = estimate.ploidy if estimate.ploidy else 2.0
                return estimate.purity, ploidy, f"{estimate.method} ({Path(estimate.path).name})"
        sample = self.case.config_tumour
        if sample is not None and sample.purity and self.case.config is not None:
            return sample.purity, 2.0, f"load config tumor_purity ({self.case.config.path.name}), ploidy 2"
        return None

    def _copy_number_rows(self) -> tuple[pa.Table, str | None]:
        if not self.segments:
            return records_to_table(CopyNumber, []), None
        assert self.case.segments is not None
        name = self.case.segments.name
        given = [s for s in self.segments if s.copy_number is not None]
        if len(given) == len(self.segments):
            values = [s.copy_number for s in self.segments]
            source = "the 'cn' column"
            status, maps = ValueStatus.ACCEPTED, "copy_number as given"
        else:
            conversion = self._conversion()
            if conversion is None:
                missing = next(s for s in self.segments if s.copy_number is None)
                raise FormatError(
                    "this segment has a log2 ratio but no copy number ('cn' column absent or empty); "
                    "converting log2 ratios needs the tumour purity: add the case's PureCN "
                    "(*purecn*.csv) or ASCAT (*samplestatistics*) file, or tumor_purity in the load config",
                    location=Location(str(self.case.segments), missing.line, "cn"),
                )
            purity, ploidy, origin = conversion
            values = [
                s.copy_number if s.copy_number is not None else absolute_copy_number(s.log2, purity, ploidy)
                for s in self.segments
            ]
            source = f"log2 converted with purity {purity:g} and ploidy {ploidy:g} from {origin}"
            status, maps = ValueStatus.MAPPED, f"absolute copy number (purity {purity:g}, ploidy {ploidy:g})"
        self.rows.append(
            ReportRow(
                name,
                "cn" if status is ValueStatus.ACCEPTED else "log2",
                "copy_numbers.copy_number",
                f"{len(self.segments)} segments",
                len(self.segments),
                status.value,
                maps,
            )
        )
        c = self.case
        individual, analysis = c.tumour_entry.individual, c.tumour_analysis_id
        table = pa.table(
            {
                "chrom": pa.array([s.chrom for s in self.segments], pa.string()),
                "start": pa.array([s.start for s in self.segments], pa.int64()),
                "end": pa.array([s.end for s in self.segments], pa.int64()),
                "individual_id": pa.array([individual] * len(self.segments), pa.string()),
                "analysis_id": pa.array([analysis] * len(self.segments), pa.string()),
                "copy_number": pa.array(values, pa.float32()),
                "minor_allele_copy_number": pa.array(
                    [s.minor_copy_number for s in self.segments], pa.float32()
                ),
            }
        )
        try:
            return conform(CopyNumber, table), source
        except ValueError as exc:  # a programming error, not a source fault; say where it came from
            raise FormatError(str(exc), location=Location(path=str(c.segments))) from exc


register_adapter(
    AdapterInfo(
        "gms",
        "a Genomic Medicine Sweden case",
        (
            "BALSAMIC VarDict/TNscope VEP VCF",
            "GMS560 Twist_Solid VCF",
            "CNVkit .cns",
            "PureCN",
            "ASCAT",
            "MSIsensor-pro",
            "Scout load config YAML",
        ),
        "genofed ingest gms FOLDER|CONFIG --store DIR",
    )
)
