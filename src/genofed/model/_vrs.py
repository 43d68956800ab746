"""GA4GH VRS 2.0 computed identifiers of the store's alleles, offline.

A VRS identifier (``ga4gh:VA.…``) names an Allele by digest: the sha512t24u hash of its canonical
JSON, in which the SequenceLocation appears by its own digest and the sequence by its refget
accession (``SQ.…``). Nodes that compute it the same way agree on what a variant is without
sharing anything else. Three pieces make that work offline:

- the refget accessions of the GRCh37/GRCh38 chromosomes ship as package data
  (``data/refget_chromosome_digests.tsv``), so no sequence repository is needed to name a sequence;
- a *substitution* (SNV, MNV, delins: both alleles non-empty once shared bases are trimmed) is
  already in VRS normal form, so its identifier needs no reference sequence. It is computed here
  straight from the canonical JSON (hashlib: ~4 µs per allele, against ~100 µs through the Pydantic
  models), and the tests check this path against ``ga4gh.vrs``'s own ``ga4gh_identify``;
- an *insertion or deletion* is ambiguous inside a repeat, and VRS names it by its fully-justified
  form (expanded over the whole region of ambiguity), which needs the reference sequence. With a
  FASTA the allele goes through ``ga4gh.vrs.normalize`` over a small data proxy on that FASTA; without
  one it gets no identifier and the status :attr:`VrsStatus.NOT_NORMALISED`: a missing identifier is
  safe, a wrong one would silently split a variant across nodes.

``ga4gh.vrs`` is heavy to import and is only needed for indels with a FASTA: it is imported inside
the function that uses it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, NamedTuple, Protocol

import pyarrow as pa

from ._genome import Assembly, normalise_assembly, normalise_chromosome, trim_alleles

__all__ = [
    "FastaLike",
    "VrsResult",
    "VrsStatus",
    "refget_accession",
    "vrs_id",
    "vrs_identify",
    "vrs_ids",
    "with_vrs_ids",
]

# Residues VRS accepts in a sequenceString that are nucleotides (IUPAC, upper case).
_NUCLEOTIDES = re.compile(r"^[ACGTNRYKMSWBDHV]*$")

# How many bases the FASTA proxy reads around a request: normalisation walks a repeat one base at a
# time, and one read per window instead of per base keeps long repeats cheap.
_WINDOW = 512

# Length reported for a FASTA that cannot tell its contig lengths (genofed.ingest.FastaReference):
# bases past the end read as "", which stops the walk there, so the bound itself is never reached.
_UNKNOWN_LENGTH = 1 << 40


class VrsStatus(StrEnum):
    """Why an allele did or did not get a VRS identifier."""

    #: computed: a substitution, or an indel normalised against the reference FASTA
    IDENTIFIED = "identified"
    #: an insertion or deletion and no reference FASTA: VRS normalisation needs the sequence
    NOT_NORMALISED = "not normalised"
    #: the assembly or chromosome has no refget accession here (mitochondria, alt contigs, unknown)
    NO_SEQUENCE = "no sequence"
    #: not a sequence allele (symbolic, non-IUPAC, or REF equal to ALT)
    INVALID_ALLELE = "invalid allele"
    #: REF differs from the FASTA, or the contig is not in it: the FASTA is not that sequence
    REFERENCE_MISMATCH = "reference mismatch"


class VrsResult(NamedTuple):
    """Identifiers (``None`` where none is computable) and, per allele, the reason."""

    ids: list[str | None]
    status: list[VrsStatus]


class FastaLike(Protocol):
    """A reference sequence: ``pysam.FastaFile`` or ``genofed.ingest.FastaReference``.

    ``fetch(contig, start, end)`` returns the bases of 0-based ``[start, end)``, clipped at the
    contig's end, and raises for an unknown contig.
    """

    def fetch(self, contig: str, start: int, end: int, /) -> str:
        """Bases of ``contig`` on ``[start, end)``."""
        ...


@cache
def _accessions() -> dict[tuple[Assembly, str], str]:
    text = resources.files("genofed.model").joinpath("data", "refget_chromosome_digests.tsv").read_text()
    table: dict[tuple[Assembly, str], str] = {}
    lines = text.splitlines()
    header = lines[0].split("\t")
    at = {name: header.index(name) for name in ("assembly", "chromosome", "refget_accession")}
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = line.split("\t")
        key = (normalise_assembly(fields[at["assembly"]]), normalise_chromosome(fields[at["chromosome"]]))
        table[key] = fields[at["refget_accession"]]
    return table


@cache
def _resolve(assembly: str, chrom: str) -> str | None:
    """Refget accession of (assembly label, chromosome name) in any spelling; cached per spelling."""
    try:
        grc = normalise_assembly(assembly)
    except ValueError:
        return None
    return _accessions().get((grc, normalise_chromosome(chrom)))


def refget_accession(assembly: str, chrom: str) -> str | None:
    """The GA4GH refget accession (``SQ.…``) of a chromosome, or None when it is not known here.

    Assembly labels (``hg38``, ``GRCh38.p14``, ...) and chromosome names (``chr7``, ``7``,
    ``NC_000007.14``) are normalised first.

    >>> refget_accession("hg38", "chr7")
    'SQ.F-LrLMe1SRpfUZHkQmvkVKFEGaoDeHul'
    >>> refget_accession("GRCh37", "MT") is None
    True
    """
    return _resolve(assembly, chrom)


def _sha512t24u(blob: bytes) -> str:
    # VRS's digest: SHA-512 truncated to 24 bytes, base64url (32 characters, no padding needed).
    return base64.urlsafe_b64encode(hashlib.sha512(blob).digest()[:24]).decode("ascii")


def _substitution_id(accession: str, start: int, end: int, alt: str) -> str:
    """The identifier of an Allele with a literal state, from VRS 2.0's canonical JSON.

    Canonical JSON sorts keys and has no white space; the nested SequenceLocation is replaced by
    its digest. Accessions and sequences are from [A-Za-z0-9._-], which JSON never escapes.
    """
    location = (
        f'{{"end":{end},"sequenceReference":{{"refgetAccession":"{accession}",'
        f'"type":"SequenceReference"}},"start":{start},"type":"SequenceLocation"}}'
    )
    allele = (
        f'{{"location":"{_sha512t24u(location.encode())}",'
        f'"state":{{"sequence":"{alt}","type":"LiteralSequenceExpression"}},"type":"Allele"}}'
    )
    return "ga4gh:VA." + _sha512t24u(allele.encode())


class _FastaProxy:
    """The two calls of ``ga4gh.vrs``'s data-proxy interface that normalisation uses, over a FASTA.

    Sequences are asked for as ``ga4gh:SQ.…``; each maps to the FASTA contig of its chromosome. The
    last window read per contig is kept, since normalisation reads one base at a time.
    """

    def __init__(self, fasta: FastaLike) -> None:
        self._fasta = fasta
        self._contigs: dict[str, str] = {}
        self._windows: dict[str, tuple[int, str]] = {}

    def bind(self, accession: str, contig: str) -> None:
        self._contigs["ga4gh:" + accession] = contig

    def get_metadata(self, identifier: str) -> dict[str, Any]:
        contig = self._contigs[identifier]
        length = getattr(self._fasta, "get_reference_length", None)
        return {"length": int(length(contig)) if length else _UNKNOWN_LENGTH, "aliases": [identifier]}

    def get_sequence(self, identifier: str, start: int | None = None, end: int | None = None) -> str:
        contig = self._contigs[identifier]
        lo = start or 0
        hi = lo + _WINDOW if end is None else end
        cached = self._windows.get(contig)
        if cached is not None:
            at, bases = cached
            if at <= lo and hi <= at + len(bases):
                return bases[lo - at : hi - at]
        at = max(0, lo - _WINDOW)
        bases = str(self._fasta.fetch(contig, at, hi + _WINDOW)).upper()
        self._windows[contig] = (at, bases)
        return bases[lo - at : hi - at]


class _Normaliser:
    """Fully-justified VRS normalisation of indels against one FASTA (``ga4gh.vrs.normalize``)."""

    def __init__(self, fasta: FastaLike) -> None:
        from ga4gh.core import ga4gh_identify
        from ga4gh.vrs import models, normalize

        self._models: Any = models
        self._normalize: Any = normalize
        self._identify: Any = ga4gh_identify
        self._fasta = fasta
        self._proxy = _FastaProxy(fasta)
        self._contig: dict[str, str | None] = {}

    def _contig_of(self, accession: str, chrom: str) -> str | None:
        if accession not in self._contig:
            self._contig[accession] = None
            bare = normalise_chromosome(chrom)
            names = [chrom, bare, "chr" + bare] + (["chrM", "M"] if bare == "MT" else [])
            for name in dict.fromkeys(names):
                try:
                    found = bool(self._fasta.fetch(name, 0, 1))
                # The FASTA is duck-typed: pysam raises KeyError/ValueError for an unknown contig,
                # genofed.ingest.FastaReference a FormatError; any of them means "not this name".
                except Exception:
                    found = False
                if found:
                    self._contig[accession] = name
                    self._proxy.bind(accession, name)
                    break
        return self._contig[accession]

    def identify(
        self, accession: str, chrom: str, start: int, ref: str, alt: str
    ) -> tuple[str | None, VrsStatus]:
        contig = self._contig_of(accession, chrom)
        if contig is None:
            return None, VrsStatus.REFERENCE_MISMATCH
        end = start + len(ref)
        if ref and self._proxy.get_sequence("ga4gh:" + accession, start, end) != ref:
            return None, VrsStatus.REFERENCE_MISMATCH
        models = self._models
        allele = models.Allele(
            location=models.SequenceLocation(
                sequenceReference=models.SequenceReference(refgetAccession=accession), start=start, end=end
            ),
            state=models.LiteralSequenceExpression(sequence=alt),
        )
        try:
            normal = self._normalize(allele, self._proxy)
        except ValueError:
            # bioutils refuses what it cannot trim or roll; no identifier beats a guessed one.
            return None, VrsStatus.INVALID_ALLELE
        return str(self._identify(normal)), VrsStatus.IDENTIFIED


@contextmanager
def _opened(reference: FastaLike | str | os.PathLike[str] | None) -> Iterator[FastaLike | None]:
    """A FASTA path is opened (pysam) for the call and closed after; objects are used as they are."""
    if reference is None or not isinstance(reference, str | os.PathLike):
        yield reference
        return
    import pysam  # heavy: only when a FASTA path is given

    fasta = pysam.FastaFile(os.fspath(reference))
    try:
        yield fasta
    finally:
        fasta.close()


def vrs_identify(
    assembly: str | Sequence[str],
    chrom: Sequence[str],
    start: Sequence[int],
    ref: Sequence[str],
    alt: Sequence[str],
    *,
    reference: FastaLike | str | os.PathLike[str] | None = None,
) -> VrsResult:
    """VRS 2.0 computed identifiers of alleles, with the reason where there is none.

    Parameters
    ----------
    assembly
        Assembly label of every allele, or one per allele (any alias: ``GRCh38``, ``hg38``, ...).
    chrom
        Chromosome names (any spelling: ``7``, ``chr7``, ``NC_000007.14``).
    start
        0-based start of each ``ref``.
    ref, alt
        Alleles, trimmed or with VCF's anchor base (they are trimmed here); ``""`` is empty.
    reference
        The assembly's FASTA (a ``pysam.FastaFile``, a ``genofed.ingest.FastaReference``, or a path
        to an indexed FASTA). Needed for insertions and deletions; substitutions never use it.

    Returns
    -------
    VrsResult
        ``ids`` (``ga4gh:VA.…`` or None) and ``status`` (a :class:`VrsStatus`), one per allele.

    Raises
    ------
    ValueError
        When the argument sequences differ in length.

    Examples
    --------
    >>> found = vrs_identify("GRCh38", ["chr7", "7"], [140753335, 140753335], ["A", "AC"], ["T", "A"])
    >>> found.ids
    ['ga4gh:VA.Otc5ovrw906Ack087o1fhegB4jDRqCAe', None]
    >>> [str(s) for s in found.status]
    ['identified', 'not normalised']
    """
    count = len(chrom)
    assemblies: Sequence[str] = [assembly] * count if isinstance(assembly, str) else assembly
    if not len(assemblies) == len(start) == len(ref) == len(alt) == count:
        raise ValueError(
            "vrs_identify: assembly, chrom, start, ref and alt must have one value per allele "
            f"(got {len(assemblies)}, {count}, {len(start)}, {len(ref)}, {len(alt)})"
        )
    ids: list[str | None] = []
    status: list[VrsStatus] = []
    with _opened(reference) as fasta:
        normaliser: _Normaliser | None = None
        for grc, name, pos, r, a in zip(assemblies, chrom, start, ref, alt, strict=True):
            accession = _resolve(grc, name)
            if accession is None:
                ids.append(None)
                status.append(VrsStatus.NO_SEQUENCE)
                continue
            r, a = (r or "").upper(), (a or "").upper()
            if r == a or not _NUCLEOTIDES.match(r) or not _NUCLEOTIDES.match(a):
                ids.append(None)
                status.append(VrsStatus.INVALID_ALLELE)
                continue
            at, r, a = trim_alleles(int(pos), r, a)
            if r and a:
                ids.append(_substitution_id(accession, at, at + len(r), a))
                status.append(VrsStatus.IDENTIFIED)
                continue
            if fasta is None:
                ids.append(None)
                status.append(VrsStatus.NOT_NORMALISED)
                continue
            if normaliser is None:
                normaliser = _Normaliser(fasta)
            found, why = normaliser.identify(accession, name, at, r, a)
            ids.append(found)
            status.append(why)
    return VrsResult(ids, status)


def vrs_ids(
    assembly: str | Sequence[str],
    chrom: Sequence[str],
    start: Sequence[int],
    ref: Sequence[str],
    alt: Sequence[str],
    *,
    reference: FastaLike | str | os.PathLike[str] | None = None,
) -> list[str | None]:
    """VRS 2.0 computed identifiers of alleles (None where not computable); see :func:`vrs_identify`.

    >>> vrs_ids("GRCh38", ["7"], [140753335], ["A"], ["T"])
    ['ga4gh:VA.Otc5ovrw906Ack087o1fhegB4jDRqCAe']
    """
    return vrs_identify(assembly, chrom, start, ref, alt, reference=reference).ids


def vrs_id(
    assembly: str,
    chrom: str,
    start: int,
    ref: str,
    alt: str,
    *,
    reference: FastaLike | str | os.PathLike[str] | None = None,
) -> str | None:
    """The VRS 2.0 computed identifier of one allele, or None; see :func:`vrs_identify`.

    >>> vrs_id("GRCh38", "chr7", 140753335, "A", "T")    # BRAF V600E (chr7:140753336 A>T)
    'ga4gh:VA.Otc5ovrw906Ack087o1fhegB4jDRqCAe'
    """
    return vrs_identify(assembly, [chrom], [start], [ref], [alt], reference=reference).ids[0]


def with_vrs_ids(sites: pa.Table, *, reference: FastaLike | str | os.PathLike[str] | None = None) -> pa.Table:
    """Fill the ``vrs_id`` column of a ``variant_sites`` table (added when missing).

    Rows whose identifier cannot be computed (indels without ``reference``, chromosomes without a
    refget accession) get null; an existing non-null ``vrs_id`` is replaced by the computed value.

    Parameters
    ----------
    sites
        A table with ``assembly``, ``chrom``, ``start``, ``ref`` and ``alt`` columns.
    reference
        The assembly's FASTA, for insertions and deletions (see :func:`vrs_identify`).
    """
    ids = vrs_ids(
        sites.column("assembly").to_pylist(),
        sites.column("chrom").to_pylist(),
        sites.column("start").to_pylist(),
        sites.column("ref").to_pylist(),
        sites.column("alt").to_pylist(),
        reference=reference,
    )
    column = pa.array(ids, type=pa.string())
    if "vrs_id" in sites.column_names:
        return sites.set_column(sites.column_names.index("vrs_id"), "vrs_id", column)
    return sites.append_column("vrs_id", column)
