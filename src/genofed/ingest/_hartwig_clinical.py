"""Hartwig data-request clinical tables: ``metadata.tsv`` plus the drug and response tables.

The tables go through :class:`~genofed.ingest.ClinicalReader` and a mapping file (by default the
packaged ``hartwig-metadata``). A data request's tables need three things a plain mapping cannot say,
so :class:`HartwigClinicalReader` prepares copies of the tables that need them before the mapping
reads them, blanking lines rather than removing them so that line numbers in messages stay the
source's, and translating file paths in errors and reports back to the originals:

- ``metadata.tsv`` has one row per *biopsy*; the individuals table wants one row per patient, so the
  patient's earliest biopsy (by ``biopsyDate``) is kept;
- its ID column is ``#patientId`` in older requests and ``patientId`` in newer ones (the mapping
  says ``patientId``);
- ``treatment_responses.tsv`` lists assessments that were not done (``measurementDone`` No, no
  ``response``); those rows are dropped rather than failing for want of a RECIST value.

:class:`HartwigMetadata` reads ``metadata.tsv`` for the genomic side: each tumour sample's patient,
biopsy site and tumour type (mapped with the same mapping's ``primaryTumorLocation`` values).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from genofed.errors import ConfigError, FormatError, InputError, Location

from ._clinical import ClinicalReader, MappingReport
from ._hartwig import HartwigSampleInfo
from ._mapping import ClinicalMapping, load_mapping, packaged_mapping
from ._source import Chunk

__all__ = ["HARTWIG_CLINICAL_TABLES", "HartwigClinicalReader", "HartwigMetadata", "hartwig_clinical_tables"]

#: The data-request tables, by mapping entry; only ``metadata`` is mandatory.
HARTWIG_CLINICAL_TABLES: tuple[str, ...] = (
    "metadata",
    "pre_biopsy_drugs",
    "post_biopsy_drugs",
    "treatment_responses",
)
_ID_COLUMNS = ("patientId", "#patientId")
_EMPTY = frozenset({"", "NA", "null", "NULL", "-"})


def hartwig_clinical_tables(path: str | Path) -> list[Path]:
    """The data-request tables in a folder (``metadata.tsv`` and those of the others present).

    Raises
    ------
    FormatError
        The folder has no ``metadata.tsv``.
    """
    folder = Path(path)
    out = []
    for entry in HARTWIG_CLINICAL_TABLES:
        for name in (f"{entry}.tsv", f"{entry}.tsv.gz"):
            if (folder / name).is_file():
                out.append(folder / name)
                break
        else:
            if entry == "metadata":
                raise FormatError(
                    "no metadata.tsv: a Hartwig data request's clinical tables start with it",
                    location=Location(str(folder), field="metadata.tsv"),
                )
    return out


def _read_lines(path: Path) -> list[str]:
    try:
        if path.name.endswith(".gz"):
            import gzip

            with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
                return handle.read().split("\n")
        return path.read_text(encoding="utf-8-sig").split("\n")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"cannot read the table: {exc}", location=Location(str(path))) from exc


def _header(lines: list[str], path: Path) -> list[str]:
    if not lines or not lines[0].strip():
        raise FormatError("the table is empty; expected a header line", location=Location(str(path), 1))
    return [c.strip() for c in lines[0].rstrip("\r").split("\t")]


def _id_index(header: list[str], path: Path) -> int:
    for name in _ID_COLUMNS:
        if name in header:
            return header.index(name)
    raise FormatError(
        "no patientId (or #patientId) column: it names the patient of each row",
        location=Location(str(path), 1, "patientId"),
    )


class HartwigMetadata:
    """Tumour samples of a data request's ``metadata.tsv``: patient, biopsy site, tumour type.

    Parameters
    ----------
    path
        ``metadata.tsv``.
    mapping
        The clinical mapping whose ``files.metadata.diagnoses[0].tumour_type`` maps
        ``primaryTumorLocation`` to OncoTree (default: the packaged ``hartwig-metadata``).
    """

    def __init__(self, path: str | Path, mapping: str | Path | ClinicalMapping | None = None) -> None:
        self.path = Path(path)
        resolved = load_mapping(mapping if mapping is not None else packaged_mapping("hartwig-metadata"))
        values: dict[str, object] = {}
        ignore_case = False
        column = "primaryTumorLocation"
        spec = resolved.files.get("metadata")
        if spec is not None and spec.diagnoses:
            field = spec.diagnoses[0].fields().get("tumour_type")
            if field is not None and field.values is not None and field.column is not None:
                values, ignore_case, column = dict(field.values), field.ignore_case, field.column
        lookup = {(k.lower() if ignore_case else k): v for k, v in values.items()}
        lines = _read_lines(self.path)
        header = _header(lines, self.path)
        patient_at = _id_index(header, self.path)
        if "sampleId" not in header:
            raise FormatError("no sampleId column", location=Location(str(self.path), 1, "sampleId"))
        sample_at = header.index("sampleId")
        self.samples: dict[str, HartwigSampleInfo] = {}
        for number, text in enumerate(lines[1:], start=2):
            if not text.strip():
                continue
            cells = [c.strip() for c in text.rstrip("\r").split("\t")]
            if len(cells) < len(header):
                cells += [""] * (len(header) - len(cells))

            def cell(name: str, cells: list[str] = cells) -> str | None:
                value = cells[header.index(name)] if name in header else ""
                return None if value in _EMPTY else value

            sample, patient = cells[sample_at], cells[patient_at]
            if not sample or not patient:
                raise FormatError(
                    "a row without sampleId or patientId", location=Location(str(self.path), number)
                )
            location = cell(column)
            tumour_type = lookup.get(location.lower() if ignore_case else location) if location else None
            self.samples[sample] = HartwigSampleInfo(
                patient=patient,
                tissue=cell("biopsySite") or cell("biopsyLocation"),
                tumour_type=str(tumour_type) if tumour_type else None,
            )

    def __getitem__(self, sample: str) -> HartwigSampleInfo:
        return self.samples[sample]

    def __contains__(self, sample: object) -> bool:
        return sample in self.samples


class HartwigClinicalReader:
    """A :class:`~genofed.ingest.SourceReader` for a data request's clinical tables (see the module doc).

    Parameters
    ----------
    tables
        The tables (``metadata.tsv`` and any of ``pre_biopsy_drugs.tsv``, ``post_biopsy_drugs.tsv``,
        ``treatment_responses.tsv``), or the folder holding them.
    mapping
        A mapping file or the name of a packaged one; default ``hartwig-metadata``.

    Raises
    ------
    FormatError
        No ``metadata.tsv`` among the tables.
    ConfigError
        The mapping is invalid or a table matches none of its entries.
    """

    kind: str = "clinical"

    def __init__(
        self,
        tables: str | Path | Sequence[str | Path],
        mapping: str | Path | Mapping[str, object] | ClinicalMapping | None = None,
    ) -> None:
        if isinstance(tables, str | Path) and Path(tables).is_dir():
            paths = hartwig_clinical_tables(tables)
        else:
            paths = [Path(tables)] if isinstance(tables, str | Path) else [Path(t) for t in tables]
        if not any(p.name.split(".")[0] == "metadata" for p in paths):
            raise FormatError(
                "no metadata.tsv among the tables; it holds the patients and is mandatory",
                location=Location(", ".join(str(p) for p in paths) or None, field="metadata.tsv"),
            )
        if isinstance(mapping, str) and not Path(mapping).exists():
            mapping = packaged_mapping(mapping)
        self.mapping = load_mapping(mapping if mapping is not None else packaged_mapping("hartwig-metadata"))
        self.tables = paths
        # Fail early on a table no entry takes (ClinicalReader's own check, on the originals).
        ClinicalReader(self.tables, self.mapping)

    @property
    def source(self) -> str:
        """The mapping's source name."""
        return self.mapping.source

    @property
    def batch_key(self) -> str:
        """``clinical:<source>``: ingesting the same request again replaces its batch."""
        return f"clinical:{self.mapping.source}"

    def sample_info(self) -> dict[str, HartwigSampleInfo]:
        """Each tumour sample's patient, biopsy site and tumour type (for :class:`HartwigReader`)."""
        metadata = next(p for p in self.tables if p.name.split(".")[0] == "metadata")
        return HartwigMetadata(metadata, self.mapping).samples

    # -- preparing ------------------------------------------------------------------------------
    def _prepare(self, folder: Path) -> dict[Path, Path]:
        """Write the prepared copies into ``folder``; return prepared path -> original path."""
        out: dict[Path, Path] = {}
        for path in self.tables:
            entry = path.name.split(".")[0]
            if entry == "metadata":
                lines = self._metadata(path)
            elif entry == "treatment_responses":
                lines = self._responses(path)
            else:
                out[path] = path
                continue
            copy = folder / path.name.removesuffix(".gz")
            copy.write_text("\n".join(lines), encoding="utf-8")
            out[copy] = path
        return out

    def _metadata(self, path: Path) -> list[str]:
        lines = _read_lines(path)
        header = _header(lines, path)
        patient_at = _id_index(header, path)
        date_at = header.index("biopsyDate") if "biopsyDate" in header else None
        header[patient_at] = "patientId"
        first: dict[str, tuple[str, int]] = {}
        for number, text in enumerate(lines[1:], start=1):
            if not text.strip():
                continue
            cells = text.rstrip("\r").split("\t")
            patient = cells[patient_at].strip() if patient_at < len(cells) else ""
            date = cells[date_at].strip() if date_at is not None and date_at < len(cells) else ""
            # ISO dates sort as text; a missing date sorts after every date.
            key = (date if date not in _EMPTY else "\uffff", number)
            if patient and (patient not in first or key < first[patient]):
                first[patient] = key
        keep = {index for _, index in first.values()}
        out = ["\t".join(header)]
        for number, text in enumerate(lines[1:], start=1):
            cells = text.rstrip("\r").split("\t")
            patient = cells[patient_at].strip() if patient_at < len(cells) else ""
            # Blank, not removed: the line numbers of messages stay the source's.
            out.append(text if (number in keep or not patient) else "")
        return out

    def _responses(self, path: Path) -> list[str]:
        lines = _read_lines(path)
        header = _header(lines, path)
        if "response" not in header:
            return lines  # the mapping's own error names the missing column
        at = header.index("response")
        out = [lines[0]]
        for text in lines[1:]:
            cells = text.rstrip("\r").split("\t")
            value = cells[at].strip() if at < len(cells) else ""
            out.append("" if text.strip() and value in _EMPTY else text)
        return out

    @staticmethod
    def _translate_error(exc: InputError, names: Mapping[str, str]) -> InputError:
        reason = exc.reason
        for prepared, original in names.items():
            reason = reason.replace(prepared, original)
        path = exc.location.path
        location = dataclasses.replace(exc.location, path=names.get(path, path) if path else path)
        translated = type(exc)(reason, location=location)
        translated.__cause__ = exc.__cause__
        return translated

    # -- reading --------------------------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        """Validate every row of every table (prepared as the module doc says), then yield the model tables.

        Raises
        ------
        InputError
            As :meth:`ClinicalReader.chunks`, naming the original files and their line numbers.
        """
        with tempfile.TemporaryDirectory(prefix="genofed-hartwig-") as tmp:
            prepared = self._prepare(Path(tmp))
            names = {str(k): str(v) for k, v in prepared.items() if k != v}
            try:
                reader = ClinicalReader(list(prepared), self.mapping)
                chunks = list(reader.chunks())
            except InputError as exc:
                raise self._translate_error(exc, names) from exc.__cause__
            except ConfigError as exc:
                message = str(exc)
                for prepared_name, original in names.items():
                    message = message.replace(prepared_name, original)
                raise ConfigError(message) from exc
        yield from chunks

    def dry_run(self, *, max_values: int = 50) -> MappingReport:
        """The harmonisation report of :meth:`ClinicalReader.dry_run`, naming the original files."""
        with tempfile.TemporaryDirectory(prefix="genofed-hartwig-") as tmp:
            prepared = self._prepare(Path(tmp))
            names = {str(k): str(v) for k, v in prepared.items() if k != v}
            report = ClinicalReader(list(prepared), self.mapping).dry_run(max_values=max_values)
        return dataclasses.replace(
            report,
            files=tuple(dataclasses.replace(f, path=names.get(f.path, f.path)) for f in report.files),
            columns=tuple(dataclasses.replace(c, file=names.get(c.file, c.file)) for c in report.columns),
            problems=tuple(self._translate_error(p, names) for p in report.problems),
        )
