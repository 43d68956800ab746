"""The reference genome for normalisation and haplotype replay: a FASTA read through pysam.

Contigs are looked up by their canonical name (``chr1``, ``1`` and ``NC_000001.11`` are one contig),
the way hap.py's ``--fixchr`` lets a ``chr``-named truth meet a numeric query. One contig is held in
memory at a time: the benchmark walks the genome in contig order.
"""

from __future__ import annotations

from pathlib import Path

from genofed.errors import CodeError, FormatError, Location
from genofed.model import normalise_chromosome

__all__ = ["Reference"]


class Reference:
    """A FASTA (with or without ``.fai``; pysam builds one where the folder is writable)."""

    def __init__(self, path: str | Path) -> None:
        import pysam  # heavy; only a benchmark with a reference needs it

        self.path = str(path)
        if not Path(path).exists():
            raise FormatError("the reference FASTA does not exist", location=Location(self.path))
        try:
            self._fasta = pysam.FastaFile(self.path)
        except (OSError, ValueError) as exc:
            raise FormatError(
                f"cannot open the reference FASTA: {exc}", location=Location(self.path)
            ) from exc
        self._names = {normalise_chromosome(name): name for name in self._fasta.references}
        self._cached: tuple[str, str] | None = None

    def has(self, canonical: str) -> bool:
        """Whether the FASTA has this contig (canonical name)."""
        return canonical in self._names

    def sequence(self, canonical: str, *, where: Location | None = None) -> str:
        """The whole contig, upper-case.

        Raises
        ------
        CodeError
            The contig is not in the FASTA; ``where`` names the record that asked for it.
        """
        if self._cached is not None and self._cached[0] == canonical:
            return self._cached[1]
        name = self._names.get(canonical)
        if name is None:
            loc = where or Location()
            raise CodeError(
                f"contig {canonical!r} is not in the reference {self.path} "
                f"(it has {', '.join(sorted(self._names)[:10])}{'…' if len(self._names) > 10 else ''})",
                location=loc,
            )
        seq = self._fasta.fetch(name).upper()
        self._cached = (canonical, seq)
        return seq
