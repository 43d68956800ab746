"""The sample sheet: who each VCF sample column is, and what was sequenced.

A sample sheet is a tab-separated file with a header. One row per VCF sample column:

============== ======== =====================================================================
column         required meaning (default)
============== ======== =====================================================================
sample         yes      the VCF column name
individual     yes      the source ID of the person (the store pseudonymises it)
specimen       no       source ID of the specimen (``<individual>:<sample>``)
specimen_type  no       ``tumour``, ``normal`` or ``germline`` (``germline``); ``tumor`` is accepted
analysis       no       source ID of the analysis (``<VCF file name>:<sample>``)
assay          no       ``WGS``, ``WES``, ``PANEL`` or ``RNA`` (``WGS``)
pipeline       no       pipeline name
pipeline_version no     pipeline version
tissue         no       sampled tissue
tumour_type    no       OncoTree code of a tumour specimen (checked against the packaged tree)
normal_sample  no       for a tumour: the VCF column of its matched normal (same individual)
============== ======== =====================================================================

Without a sheet each VCF sample name is its own individual (:meth:`SampleSheet.for_samples`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from genofed.errors import CodeError, FormatError, InputError, Location, SampleError
from genofed.model import Assay, SpecimenType, oncotree

__all__ = ["SampleEntry", "SampleSheet"]

_REQUIRED = ("sample", "individual")
_OPTIONAL = (
    "specimen",
    "specimen_type",
    "analysis",
    "assay",
    "pipeline",
    "pipeline_version",
    "tissue",
    "tumour_type",
    "normal_sample",
)
_SPECIMEN_TYPES = {
    "tumour": SpecimenType.TUMOUR,
    "tumor": SpecimenType.TUMOUR,
    "normal": SpecimenType.NORMAL,
    "germline": SpecimenType.GERMLINE,
}


@dataclass(frozen=True, slots=True)
class SampleEntry:
    """One VCF sample column and what it is; ``None`` fields take their documented defaults."""

    sample: str
    individual: str
    specimen: str | None = None
    specimen_type: SpecimenType = SpecimenType.GERMLINE
    analysis: str | None = None
    assay: Assay = Assay.WGS
    pipeline: str | None = None
    pipeline_version: str | None = None
    tissue: str | None = None
    tumour_type: str | None = None
    normal_sample: str | None = None
    #: line of the sample sheet the entry came from, for messages
    line: int | None = None

    @property
    def specimen_id(self) -> str:
        """The specimen's source ID: as given, else ``<individual>:<sample>``."""
        return self.specimen or f"{self.individual}:{self.sample}"

    def analysis_id(self, vcf_name: str) -> str:
        """The analysis's source ID: as given, else ``<vcf_name>:<sample>``."""
        return self.analysis or f"{vcf_name}:{self.sample}"


class SampleSheet:
    """The samples of one VCF, keyed by VCF column name, checked for consistency.

    Parameters
    ----------
    entries
        One entry per VCF sample column.
    path
        The file the entries were read from, for messages.

    Raises
    ------
    FormatError
        A sample is listed twice, or two rows give the same analysis ID, or one specimen ID is
        given two individuals or two specimen types.
    SampleError
        A ``normal_sample`` is not in the sheet, is not a normal (or germline) specimen, belongs to
        another individual, or is given for a sample that is not a tumour.
    """

    def __init__(self, entries: Iterable[SampleEntry], *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._entries: dict[str, SampleEntry] = {}
        for entry in entries:
            if entry.sample in self._entries:
                raise self._error(FormatError, entry, "sample", f"sample {entry.sample!r} is listed twice")
            self._entries[entry.sample] = entry
        self._check()

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | Path) -> SampleSheet:
        """Read a tab-separated sample sheet (columns in the module docstring).

        Raises
        ------
        FormatError
            A required column is missing, a column is unknown, a row has the wrong number of fields
            or an empty required value.
        CodeError
            A ``specimen_type``, ``assay`` or ``tumour_type`` is not a known code.
        """
        sheet_path = Path(path)
        where = str(sheet_path)
        try:
            text = sheet_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FormatError("sample sheet not found", location=Location(path=where)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise FormatError(f"cannot read the sample sheet: {exc}", location=Location(path=where)) from exc
        lines = text.splitlines()
        header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
        if header_index is None:
            raise FormatError(
                "the sample sheet is empty; expected a header line", location=Location(path=where)
            )
        header = [c.strip().lstrip("#").strip() for c in lines[header_index].split("\t")]
        known = set(_REQUIRED) | set(_OPTIONAL)
        for column in header:
            if column not in known:
                raise FormatError(
                    f"unknown column {column!r}; "
                    f"sample sheet columns are {', '.join((*_REQUIRED, *_OPTIONAL))}",
                    location=Location(path=where, line=header_index + 1, field=column),
                )
        for column in _REQUIRED:
            if column not in header:
                raise FormatError(
                    f"required column {column!r} is missing from the header",
                    location=Location(path=where, line=header_index + 1, field=column),
                )
        if len(set(header)) != len(header):
            duplicate = next(c for c in header if header.count(c) > 1)
            raise FormatError(
                f"column {duplicate!r} appears twice in the header",
                location=Location(path=where, line=header_index + 1, field=duplicate),
            )
        entries = []
        for index in range(header_index + 1, len(lines)):
            raw = lines[index]
            if not raw.strip() or raw.startswith("#"):
                continue
            values = [v.strip() for v in raw.split("\t")]
            line_no = index + 1
            if len(values) != len(header):
                raise FormatError(
                    f"row has {len(values)} tab-separated fields; the header has {len(header)}",
                    location=Location(path=where, line=line_no),
                )
            row = {c: (v or None) for c, v in zip(header, values, strict=True)}
            entries.append(_entry(row, where, line_no))
        if not entries:
            raise FormatError("the sample sheet has a header but no samples", location=Location(path=where))
        return cls(entries, path=sheet_path)

    @classmethod
    def for_samples(cls, samples: Sequence[str]) -> SampleSheet:
        """The sheet used when none is given: each sample name is its own individual, germline."""
        return cls(SampleEntry(sample=s, individual=s) for s in samples)

    # -- access ---------------------------------------------------------------------------------
    @property
    def samples(self) -> tuple[str, ...]:
        """VCF column names, in sheet order."""
        return tuple(self._entries)

    @property
    def entries(self) -> tuple[SampleEntry, ...]:
        """The entries, in sheet order."""
        return tuple(self._entries.values())

    @property
    def is_somatic(self) -> bool:
        """True when the sheet marks any sample as a tumour or a normal."""
        return any(e.specimen_type is not SpecimenType.GERMLINE for e in self._entries.values())

    def __getitem__(self, sample: str) -> SampleEntry:
        return self._entries[sample]

    def __contains__(self, sample: object) -> bool:
        return sample in self._entries

    def __iter__(self) -> Iterator[SampleEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        where = f" from {self.path.name}" if self.path else ""
        return f"<SampleSheet of {len(self)} samples{where}>"

    # -- checks ---------------------------------------------------------------------------------
    def _error(self, kind: type[InputError], entry: SampleEntry, field: str, message: str) -> InputError:
        path = str(self.path) if self.path is not None else None
        return kind(message, location=Location(path=path, line=entry.line, field=field))

    def _check(self) -> None:
        specimens: dict[str, SampleEntry] = {}
        analyses: dict[str, SampleEntry] = {}
        for entry in self._entries.values():
            first = specimens.setdefault(entry.specimen_id, entry)
            if (first.individual, first.specimen_type) != (entry.individual, entry.specimen_type):
                raise self._error(
                    FormatError,
                    entry,
                    "specimen",
                    f"specimen {entry.specimen_id!r} of sample {entry.sample!r} is also given for sample "
                    f"{first.sample!r} with another individual or specimen type",
                )
            if entry.analysis is not None:
                other = analyses.setdefault(entry.analysis, entry)
                if other is not entry:
                    raise self._error(
                        FormatError,
                        entry,
                        "analysis",
                        f"analysis {entry.analysis!r} is given for samples {other.sample!r} "
                        f"and {entry.sample!r}; "
                        "each VCF sample is one analysis",
                    )
            if entry.normal_sample is None:
                continue
            if entry.specimen_type is not SpecimenType.TUMOUR:
                raise self._error(
                    SampleError,
                    entry,
                    "normal_sample",
                    f"sample {entry.sample!r} names a matched normal but is not a tumour specimen",
                )
            normal = self._entries.get(entry.normal_sample)
            if normal is None:
                raise self._error(
                    SampleError,
                    entry,
                    "normal_sample",
                    f"matched normal {entry.normal_sample!r} of tumour {entry.sample!r} "
                    "is not a sample of the sheet",
                )
            if normal.specimen_type is SpecimenType.TUMOUR:
                raise self._error(
                    SampleError,
                    entry,
                    "normal_sample",
                    f"matched normal {normal.sample!r} of tumour {entry.sample!r} "
                    "is itself a tumour specimen",
                )
            if normal.individual != entry.individual:
                raise self._error(
                    SampleError,
                    entry,
                    "normal_sample",
                    f"matched normal {normal.sample!r} belongs to individual {normal.individual!r}, "
                    f"tumour {entry.sample!r} to {entry.individual!r}",
                )


def _entry(row: dict[str, str | None], path: str, line: int) -> SampleEntry:
    """Build and check one sheet row."""
    for column in _REQUIRED:
        if row.get(column) is None:
            raise FormatError(
                f"required value {column!r} is empty", location=Location(path=path, line=line, field=column)
            )
    sample, individual = row["sample"], row["individual"]
    assert sample is not None
    assert individual is not None
    specimen_type = SpecimenType.GERMLINE
    if (raw_type := row.get("specimen_type")) is not None:
        try:
            specimen_type = _SPECIMEN_TYPES[raw_type.lower()]
        except KeyError:
            raise CodeError(
                f"unknown specimen type {raw_type!r}; expected tumour, normal or germline",
                location=Location(path=path, line=line, field="specimen_type"),
            ) from None
    assay = Assay.WGS
    if (raw_assay := row.get("assay")) is not None:
        try:
            assay = Assay(raw_assay.upper())
        except ValueError:
            raise CodeError(
                f"unknown assay {raw_assay!r}; expected {', '.join(a.value for a in Assay)}",
                location=Location(path=path, line=line, field="assay"),
            ) from None
    tumour_type = row.get("tumour_type")
    if tumour_type is not None:
        if tumour_type not in oncotree():
            raise CodeError(
                f"{tumour_type!r} is not an OncoTree code",
                location=Location(path=path, line=line, field="tumour_type"),
            )
        if specimen_type is not SpecimenType.TUMOUR:
            raise FormatError(
                f"tumour_type {tumour_type!r} is given for a {specimen_type.value} specimen; "
                "set specimen_type to tumour or leave tumour_type empty",
                location=Location(path=path, line=line, field="tumour_type"),
            )
        tumour_type = oncotree().get(tumour_type).code
    return SampleEntry(
        sample=sample,
        individual=individual,
        specimen=row.get("specimen"),
        specimen_type=specimen_type,
        analysis=row.get("analysis"),
        assay=assay,
        pipeline=row.get("pipeline"),
        pipeline_version=row.get("pipeline_version"),
        tissue=row.get("tissue"),
        tumour_type=tumour_type,
        normal_sample=row.get("normal_sample"),
        line=line,
    )
