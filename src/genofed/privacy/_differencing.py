"""The differencing guard: refuse a cohort that differs from an answered one by a few people.

Two answered counts whose cohorts differ by one person reveal that person's attribute (the tracker
attack; Denning & Schlörer 1983). The node keeps, per researcher, the member sets of the cohorts it
has answered -- as salted 64-bit hashes of the members' pseudonyms, never the pseudonyms -- and
refuses a new cohort whose symmetric difference with any of them has 1 to k-1 members.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from genofed.errors import DisclosureError

__all__ = ["DifferencingGuard"]


class DifferencingGuard:
    """Remembers answered cohorts per researcher and refuses near-duplicates."""

    def __init__(self, directory: Path, secret: bytes, *, min_difference: int) -> None:
        self.directory = directory
        self.min_difference = min_difference
        self._salt = hmac.new(secret, b"genofed differencing guard v1", hashlib.sha256).digest()
        directory.mkdir(parents=True, exist_ok=True)

    def _hashes(self, members: Iterable[str]) -> npt.NDArray[np.uint64]:
        values = {
            int.from_bytes(hashlib.blake2b(m.encode(), key=self._salt, digest_size=8).digest(), "little")
            for m in members
        }
        return np.array(sorted(values), dtype=np.uint64)

    def _folder(self, researcher: str) -> Path:
        name = hashlib.blake2b(researcher.encode(), key=self._salt, digest_size=12).hexdigest()
        return self.directory / name

    def check(self, researcher: str, members: Iterable[str]) -> None:
        """Raise :class:`DisclosureError` if the cohort differs from an answered one by 1..k-1 people."""
        cohort = self._hashes(members)
        folder = self._folder(researcher)
        if not folder.exists():
            return
        for path in sorted(folder.glob("*.npy")):
            answered = np.load(path)
            common = np.intersect1d(cohort, answered, assume_unique=True).size
            difference = cohort.size + answered.size - 2 * common
            if 0 < difference < self.min_difference:
                raise DisclosureError(
                    f"refused: this cohort differs from one you were already answered by {difference} "
                    f"individual(s); the node's policy requires a difference of 0 or at least "
                    f"{self.min_difference} (differencing guard)"
                )

    def check_many(self, researcher: str, cohorts: Iterable[Iterable[str]]) -> None:
        """:meth:`check` for several cohorts at once, reading the answered ones only once.

        Also refuses when two of the given cohorts differ from each other by 1..k-1 people: they are
        to be answered together, and a later repeat of the same answer must not be refused.
        """
        new = [self._hashes(members) for members in cohorts]
        folder = self._folder(researcher)
        answered = [np.load(path) for path in sorted(folder.glob("*.npy"))] if folder.exists() else []
        for n, cohort in enumerate(new):
            for other in (*answered, *new[n + 1 :]):
                # The symmetric difference is at least the difference in size: skip what cannot fail.
                if abs(cohort.size - other.size) >= self.min_difference:
                    continue
                common = np.intersect1d(cohort, other, assume_unique=True).size
                difference = cohort.size + other.size - 2 * common
                if 0 < difference < self.min_difference:
                    raise DisclosureError(
                        f"refused: this answer would release a count over a group that differs from "
                        f"another group you were answered (or are being answered) by {difference} "
                        f"individual(s); the node's policy requires a difference of 0 or at least "
                        f"{self.min_difference} (differencing guard)"
                    )

    def record(self, researcher: str, members: Iterable[str]) -> None:
        """Remember an answered cohort (identical cohorts are stored once)."""
        cohort = self._hashes(members)
        digest = hashlib.blake2b(cohort.tobytes(), digest_size=16).hexdigest()
        folder = self._folder(researcher)
        folder.mkdir(exist_ok=True)
        path = folder / f"{digest}.npy"
        if not path.exists():
            tmp = folder / f"{digest}.tmp.npy"
            np.save(tmp, cohort)
            tmp.replace(path)

    def check_and_record(self, researcher: str, members: Iterable[str]) -> None:
        """:meth:`check`, then :meth:`record` when the cohort may be answered."""
        listed = list(members)
        self.check(researcher, listed)
        self.record(researcher, listed)
