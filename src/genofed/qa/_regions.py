"""Confident regions and stratification regions: BED files as merged, searchable interval sets.

A variant's *footprint* is its trimmed reference span ``[start, end)``; an insertion, which spans no
reference base, uses the base after the insertion point. This is what reproduces hap.py on its own
``fp_region_accuracy`` case: an insertion whose anchor base alone is covered is outside.

The stratification file has hap.py's format: one ``name<TAB>path`` line per stratum, paths relative
to the file.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from genofed.errors import FormatError, Location
from genofed.model import normalise_chromosome

__all__ = ["Regions", "read_stratification"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Regions:
    """Merged, sorted intervals per canonical contig name."""

    intervals: dict[str, tuple[IntArray, IntArray]] = field(default_factory=dict)
    name: str = "regions"

    @classmethod
    def from_bed(cls, path: str | Path, *, name: str | None = None) -> Regions:
        """Read a BED (plain or gzipped; ``track``, ``browser`` and ``#`` lines are ignored).

        Raises
        ------
        FormatError
            A line without chrom, start and end, or with start > end (file, line and field named).
        """
        path = Path(path)
        if not path.exists():
            raise FormatError("the BED file does not exist", location=Location(str(path)))
        raw: dict[str, list[tuple[int, int]]] = {}
        with path.open("rb") as probe:
            gz = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rt") if gz else path.open() as fh:
            for n, text in enumerate(fh, start=1):
                if not text.strip() or text.startswith(("#", "track", "browser")):
                    continue
                cols = text.rstrip("\r\n").split("\t")
                if len(cols) < 3:
                    raise FormatError(
                        "a BED line needs chrom, start and end separated by tabs",
                        location=Location(str(path), n),
                    )
                try:
                    lo, hi = int(cols[1]), int(cols[2])
                except ValueError as exc:
                    raise FormatError(
                        f"start/end must be integers, got {cols[1]!r}, {cols[2]!r}",
                        location=Location(str(path), n, "start"),
                    ) from exc
                if lo < 0 or hi < lo:
                    raise FormatError(
                        f"need 0 <= start <= end, got {lo}, {hi}", location=Location(str(path), n, "end")
                    )
                raw.setdefault(normalise_chromosome(cols[0]), []).append((lo, hi))
        return cls({c: _merge(v) for c, v in raw.items()}, name or path.name)

    def size(self) -> int:
        """Total bases covered."""
        return int(sum((hi - lo).sum() for lo, hi in self.intervals.values()))

    def overlaps(
        self, contigs: list[str], chrom: npt.NDArray[np.int32], start: IntArray, end: IntArray
    ) -> npt.NDArray[np.bool_]:
        """Whether each footprint (insertions: the base after the point) overlaps a region."""
        end = np.where(end > start, end, start + 1)
        out = np.zeros(len(start), dtype=bool)
        for code, name in enumerate(contigs):
            found = self.intervals.get(name)
            if found is None:
                continue
            rows = np.flatnonzero(chrom == code)
            if not len(rows):
                continue
            lo, hi = found
            # The first region ending after the footprint starts overlaps it iff it starts before its end.
            k = np.searchsorted(hi, start[rows], side="right")
            inside = k < len(lo)
            kk = np.minimum(k, len(lo) - 1)
            out[rows] = inside & (lo[kk] < end[rows])
        return out


def _merge(pairs: list[tuple[int, int]]) -> tuple[IntArray, IntArray]:
    arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    lo, hi = arr[:, 0], arr[:, 1]
    run_hi = np.maximum.accumulate(hi)
    new = np.r_[True, lo[1:] > run_hi[:-1]]
    starts = lo[new]
    ids = np.cumsum(new) - 1
    ends = np.zeros(len(starts), dtype=np.int64)
    np.maximum.at(ends, ids, hi)
    return starts, ends


def read_stratification(path: str | Path) -> list[Regions]:
    """Strata of a hap.py stratification file (``name<TAB>bed path``, paths relative to the file).

    Raises
    ------
    FormatError
        A line without two tab-separated fields, or a BED that cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError("the stratification file does not exist", location=Location(str(path)))
    strata: list[Regions] = []
    for n, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip() or text.startswith("#"):
            continue
        cols = text.split("\t")
        if len(cols) < 2 or not cols[0] or not cols[1]:
            raise FormatError("a stratum line is 'name<TAB>bed path'", location=Location(str(path), n))
        bed = Path(cols[1])
        if not bed.is_absolute():
            bed = path.parent / bed
        strata.append(Regions.from_bed(bed, name=cols[0]))
    return strata
