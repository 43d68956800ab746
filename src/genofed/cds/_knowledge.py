"""Versioned knowledge bases: import a release once, open the releases in force on a date.

A knowledge-base directory holds one folder per source and release::

    kb/
      civic/2018-05-01/evidence.parquet   the normalised evidence (`evidence_table`)
                       manifest.json      source file names and sha256, row counts, rejected count
                       rejected.tsv       every rejected row: line, category, field, reason
      cgi/2017-07-01/...

`KnowledgeBase.open(kb, as_of=date)` takes, per source, the latest release on or before ``as_of``
(the newest when None), so a report made on a date can be made again later with the same evidence.
OncoKB is never imported: its licence forbids redistribution, so it is queried per patient with the
user's own token (`genofed.cds.OncoKbClient`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from genofed.errors import ConfigError, StoreError

from ._cgi import load_cgi
from ._civic import load_civic
from ._kbtable import LoadReport, evidence_from_table, evidence_table
from ._types import Evidence

if TYPE_CHECKING:
    from ._match import EvidenceIndex

__all__ = ["KB_SOURCES", "KnowledgeBase", "ReleaseInfo", "import_release", "list_releases", "load_source"]

KB_SOURCES = ("civic", "cgi")
_MANIFEST = "manifest.json"
_EVIDENCE = "evidence.parquet"


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """One imported knowledge-base release, as its manifest describes it."""

    source: str
    release: dt.date
    layout: str
    path: str
    files: tuple[tuple[str, str], ...]  # (file name, sha256) of the source files imported
    rows: int
    parsed: int
    evidence: int
    rejected: int
    unmapped_diseases: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_source(
    source: str, path: str | Path, release: dt.date, *, variants: str | Path | None = None
) -> LoadReport:
    """Load one source file with the loader for ``source`` (``civic`` or ``cgi``)."""
    if source == "civic":
        return load_civic(path, release=release, variants=variants)
    if source == "cgi":
        return load_cgi(path, release=release)
    if source == "oncokb":
        raise ConfigError(
            "OncoKB data cannot be imported: its licence forbids redistribution and storage; "
            "query it per patient with your own token (genofed.cds.OncoKbClient)"
        )
    raise ConfigError(f"unknown knowledge-base source {source!r}; expected one of {', '.join(KB_SOURCES)}")


def import_release(
    source: str,
    path: str | Path,
    release_date: dt.date,
    *,
    into: str | Path,
    variants: str | Path | None = None,
    replace: bool = False,
) -> ReleaseInfo:
    """Load a knowledge-base file and store it as release ``release_date`` of ``source`` under ``into``.

    Parameters
    ----------
    source
        ``civic`` or ``cgi``.
    path
        The source file (CIViC ``ClinicalEvidenceSummaries.tsv``, CGI ``cgi_biomarkers_per_variant.tsv``).
    release_date
        The release's date; `KnowledgeBase.open` selects releases by it.
    into
        The knowledge-base directory (created if missing).
    variants
        CIViC 2018 layout only: the ``VariantSummaries.tsv`` (see `load_civic`).
    replace
        Overwrite an existing release of the same source and date.

    Returns
    -------
    ReleaseInfo
        What the manifest records.

    Raises
    ------
    StoreError
        The release exists and ``replace`` is False.
    FormatError
        The file is not what ``source`` expects.
    """
    report = load_source(source, path, release_date, variants=variants)
    root = Path(into) / source
    final = root / release_date.isoformat()
    if final.exists() and not replace:
        raise StoreError(
            f"{final} already holds {source} release {release_date}; "
            "pass replace=True (--replace) to overwrite"
        )
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{release_date.isoformat()}.tmp-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    pq.write_table(evidence_table(report.evidence), staging / _EVIDENCE)
    sources = [Path(path), *(Path(c) for c in report.companions)]
    files = [(p.name, _sha256(p)) for p in sources]
    manifest = {
        "source": source,
        "release": release_date.isoformat(),
        "layout": report.layout,
        "files": [{"name": n, "sha256": h} for n, h in files],
        "rows": report.rows,
        "parsed": report.parsed,
        "evidence": len(report.evidence),
        "rejected": len(report.rejected),
        "rejected_by_category": report.rejected_by_category(),
        "unmapped_diseases": sum(report.unmapped_diseases.values()),
        "evidence_sha256": _sha256(staging / _EVIDENCE),
        "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (staging / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    with (staging / "rejected.tsv").open("w", encoding="utf-8") as fh:
        fh.write("line\tcategory\tfield\treason\n")
        for r in report.rejected:
            fh.write(f"{r.line}\t{r.category}\t{r.field or ''}\t{r.reason}\n")
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)  # a reader sees the whole release or none of it
    return _info(final, manifest)


def _info(folder: Path, manifest: dict[str, object]) -> ReleaseInfo:
    files = manifest.get("files") or []
    assert isinstance(files, list)
    return ReleaseInfo(
        source=str(manifest["source"]),
        release=dt.date.fromisoformat(str(manifest["release"])),
        layout=str(manifest.get("layout", "")),
        path=str(folder),
        files=tuple((str(f["name"]), str(f["sha256"])) for f in files),
        rows=int(str(manifest["rows"])),
        parsed=int(str(manifest["parsed"])),
        evidence=int(str(manifest["evidence"])),
        rejected=int(str(manifest["rejected"])),
        unmapped_diseases=int(str(manifest.get("unmapped_diseases", 0))),
    )


def _read_manifest(folder: Path) -> dict[str, object]:
    try:
        data = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{folder / _MANIFEST}: unreadable knowledge-base manifest ({exc})") from exc
    if not isinstance(data, dict):
        raise StoreError(f"{folder / _MANIFEST}: not a knowledge-base manifest")
    return data


def list_releases(directory: str | Path) -> list[ReleaseInfo]:
    """Every release imported under ``directory``, by source and date."""
    root = Path(directory)
    if not root.is_dir():
        raise StoreError(f"{root} is not a knowledge-base directory (run `genofed kb import` first)")
    out = []
    for source_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for folder in sorted(source_dir.iterdir()):
            if folder.name.startswith(".") or not (folder / _MANIFEST).exists():
                continue
            out.append(_info(folder, _read_manifest(folder)))
    return out


class KnowledgeBase:
    """Evidence from one release per source, with the index matching uses.

    Build one in memory from evidence items, or open the releases in force on a date with `open`.
    """

    def __init__(self, evidence: Iterable[Evidence], releases: Sequence[ReleaseInfo] = ()) -> None:
        self.evidence: tuple[Evidence, ...] = tuple(evidence)
        self.releases: dict[str, ReleaseInfo] = {r.source: r for r in releases}

    @classmethod
    def open(
        cls, directory: str | Path, *, as_of: dt.date | None = None, sources: Iterable[str] | None = None
    ) -> KnowledgeBase:
        """The latest release of each source on or before ``as_of`` (the newest when None).

        Raises
        ------
        StoreError
            No source has a release on or before ``as_of``, or a release's evidence file does not
            match the checksum in its manifest.
        """
        wanted = set(sources) if sources is not None else None
        chosen: dict[str, ReleaseInfo] = {}
        for info in list_releases(directory):
            if wanted is not None and info.source not in wanted:
                continue
            if as_of is not None and info.release > as_of:
                continue
            if info.source not in chosen or info.release > chosen[info.source].release:
                chosen[info.source] = info
        if not chosen:
            when = f" on or before {as_of}" if as_of else ""
            raise StoreError(f"{directory}: no knowledge-base release{when}")
        evidence: list[Evidence] = []
        for info in chosen.values():
            folder = Path(info.path)
            manifest = _read_manifest(folder)
            expected = manifest.get("evidence_sha256")
            if expected and _sha256(folder / _EVIDENCE) != expected:
                raise StoreError(
                    f"{folder / _EVIDENCE} does not match its manifest checksum; re-import the release"
                )
            evidence.extend(evidence_from_table(pq.read_table(folder / _EVIDENCE)))
        return cls(evidence, list(chosen.values()))

    def __len__(self) -> int:
        return len(self.evidence)

    def __iter__(self) -> Iterator[Evidence]:
        return iter(self.evidence)

    @cached_property
    def index(self) -> EvidenceIndex:
        """The evidence indexed by (gene, biomarker kind), built on first use."""
        from ._match import EvidenceIndex  # _match imports this module

        return EvidenceIndex(self.evidence)

    def table(self) -> pa.Table:
        """The evidence as one Arrow table."""
        return evidence_table(self.evidence)
