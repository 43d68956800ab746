"""Normalisation: decompose, trim and left-align calls into comparable primitive variants.

Each called allele is trimmed (common prefix, then suffix; empty alleles allowed, as in the store)
and decomposed into primitives as hap.py's internal preprocessing does: an equal-length substitution
(MNP) into its single-base changes (GA4GH: "SNP or MNP variants; we count single nucleotides"), a
delins into one insertion or deletion plus single-base changes.
A genotype's two haplotype slots are then rebuilt from the pieces: a piece on both slots is
hom-alt, two different pieces at one site are one het-alt primitive, the rest are het. All
primitives of one record form a *phase group*: the haplotype replay may swap a group's two slots,
but never splits it. Pure insertions and deletions are left-aligned against the reference for the
exact-match key only; the haplotype replay uses each side's own representation, so a shift can
never move a variant past its neighbour on the same haplotype.

The common case (biallelic SNVs) is handled with vectorised array operations; only the rest goes
through the per-record Python path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from genofed.errors import FormatError, Location
from genofed.model import normalise_chromosome

from ._callset import CallSet
from ._reference import Reference

__all__ = ["Contigs", "Variants", "normalise", "variant_types"]

ObjArray = npt.NDArray[np.object_]
IntArray = npt.NDArray[np.int64]

_TRANSITIONS = frozenset({("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")})


class Contigs:
    """Canonical contig names shared by truth and query, coded as small integers."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, canonical: str) -> int:
        code = self._codes.get(canonical)
        if code is None:
            code = self._codes[canonical] = len(self.names)
            self.names.append(canonical)
        return code

    def lookup(self, canonical: str) -> int | None:
        return self._codes.get(canonical)

    def encode(self, chrom: pa.Array) -> npt.NDArray[np.int32]:
        """Codes of contig names as written (``chr1`` and ``1`` get one code)."""
        encoded = pc.dictionary_encode(chrom)
        mapping = np.array(
            [self.code(normalise_chromosome(str(n))) for n in encoded.dictionary.to_pylist()], dtype=np.int32
        )
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        return mapping[indices] if len(indices) else np.zeros(0, np.int32)


@dataclass(frozen=True, eq=False)
class Variants:
    """Primitive variants of one call set (one row each), sorted by contig and start.

    ``h1``/``h2`` are the allele (0 reference, 1 ``alt1``, 2 ``alt2``) on each haplotype slot of the
    phase group ``group`` (the source record); ``alt2`` is ``None`` unless het-alt. ``kstart``,
    ``kref``, ``kalt`` are the left-aligned exact-match form of biallelic primitives.
    """

    chrom: npt.NDArray[np.int32]
    start: IntArray
    end: IntArray
    ref: ObjArray
    alt1: ObjArray
    alt2: ObjArray
    h1: npt.NDArray[np.int8]
    h2: npt.NDArray[np.int8]
    group: IntArray
    line: IntArray
    filter_pass: npt.NDArray[np.bool_]
    kstart: IntArray
    kend: IntArray
    kalt: ObjArray
    rlen: IntArray
    alen: IntArray

    def __len__(self) -> int:
        return len(self.start)

    def take(self, idx: IntArray) -> Variants:
        return Variants(**{name: getattr(self, name)[idx] for name in self.__dataclass_fields__})


def _decompose(start: int, ref: str, alt: str) -> list[tuple[int, str, str]]:
    """Trim one allele and split it into primitives: SNVs, and at most one insertion or deletion."""
    if alt == "*":
        return []  # an overlapping deletion, represented by its own record
    s, r, a = _trim(start, ref.upper(), alt.upper())
    if not r and not a:
        return []
    if len(r) == len(a):
        return [(s + i, r[i], a[i]) for i in range(len(r)) if r[i] != a[i]]
    if not r or not a or len(r) + len(a) > _MAX_COMPLEX:
        return [(s, r, a)]
    return _split_complex(s, r, a)


# Complex alleles longer than this (REF + ALT) stay one primitive: splitting is quadratic.
_MAX_COMPLEX = 200


def _split_complex(s: int, r: str, a: str) -> list[tuple[int, str, str]]:
    """A delins as one gap plus single-base changes, the gap placed where fewest changes remain.

    hap.py's preprocessing likewise leaves only SNPs, insertions and deletions. Among equally good
    placements the leftmost wins, as left-alignment would choose.
    """
    long_, short = (a, r) if len(a) > len(r) else (r, a)
    k = len(long_) - len(short)
    best_i, best_cost = 0, len(short) + 1
    for i in range(len(short) + 1):
        cost = sum(short[j] != long_[j] for j in range(i)) + sum(
            short[j] != long_[j + k] for j in range(i, len(short))
        )
        if cost < best_cost:
            best_i, best_cost = i, cost
    i = best_i
    pieces: list[tuple[int, str, str]] = []
    if len(a) > len(r):  # insertion of a[i:i+k] before r[i]
        pieces += [(s + j, r[j], a[j]) for j in range(i) if r[j] != a[j]]
        pieces.append((s + i, "", a[i : i + k]))
        pieces += [(s + j, r[j], a[j + k]) for j in range(i, len(r)) if r[j] != a[j + k]]
    else:  # deletion of r[i:i+k]
        pieces += [(s + j, r[j], a[j]) for j in range(i) if r[j] != a[j]]
        pieces.append((s + i, r[i : i + k], ""))
        pieces += [(s + j + k, r[j + k], a[j]) for j in range(i, len(a)) if r[j + k] != a[j]]
    return pieces


def _trim(start: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Remove the common prefix, then the common suffix.

    Prefix first (unlike the store's ``trim_alleles``) keeps a deletion such as ``ACA>A`` where its
    record put it: suffix-first trimming would turn it into ``AC>`` one base to the left, where it
    can overlap the neighbouring variant on the same haplotype and break the replay.
    """
    if len(ref) == 1 and len(alt) == 1:
        return start, ref, alt
    shortest = min(len(ref), len(alt))
    prefix = 0
    while prefix < shortest and ref[prefix] == alt[prefix]:
        prefix += 1
    ref, alt = ref[prefix:], alt[prefix:]
    shortest -= prefix
    suffix = 0
    while suffix < shortest and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    if suffix:
        ref, alt = ref[: len(ref) - suffix], alt[: len(alt) - suffix]
    return start + prefix, ref, alt


def _left_align(start: int, ref: str, alt: str, seq: str) -> tuple[int, str, str]:
    """Shift a pure insertion or deletion left while the rotated allele still fits the reference."""
    if ref and alt:
        return start, ref, alt
    if alt:  # insertion before seq[start]
        while start > 0 and alt[-1] == seq[start - 1]:
            alt = seq[start - 1] + alt[:-1]
            start -= 1
        return start, ref, alt
    length = len(ref)
    while start > 0 and seq[start - 1] == seq[start + length - 1]:
        start -= 1
    return start, seq[start : start + length], alt


def normalise(calls: CallSet, contigs: Contigs, reference: Reference | None) -> Variants:
    """Primitive variants of a call set (see the module docstring).

    Raises
    ------
    FormatError
        A REF allele differs from the reference sequence (file, line and field REF named).
    CodeError
        A contig is not in the reference FASTA.
    """
    chrom_all = contigs.encode(calls.chrom)
    ref_u, alt_u = pc.utf8_upper(calls.ref), pc.utf8_upper(calls.alt)
    ref_len = pc.utf8_length(calls.ref).to_numpy(zero_copy_only=False)
    alt_len = pc.utf8_length(calls.alt).to_numpy(zero_copy_only=False)
    plain = ~np.asarray(pc.match_substring(calls.alt, ",")) & ~np.asarray(pc.match_substring(calls.alt, "*"))
    # Fast paths, vectorised: biallelic SNVs, indels with one anchor base (the usual VCF form), and
    # indels already trimmed (the store's form). Everything else takes the per-record path.
    snv = plain & (ref_len == 1) & (alt_len == 1) & np.asarray(pc.not_equal(ref_u, alt_u))
    same_first = np.asarray(
        pc.fill_null(
            pc.equal(pc.utf8_slice_codeunits(ref_u, 0, 1), pc.utf8_slice_codeunits(alt_u, 0, 1)), False
        )
    )
    anchored = plain & same_first & (((ref_len == 1) & (alt_len > 1)) | ((alt_len == 1) & (ref_len > 1)))
    trimmed = plain & (((ref_len == 0) & (alt_len > 0)) | ((alt_len == 0) & (ref_len > 0)))
    fast = snv | anchored | trimmed
    fi = np.flatnonzero(fast)
    cut = anchored[fi].astype(np.int64)  # the anchor base to drop
    take = pa.array(fi)
    f_ref_arr = pc.utf8_slice_codeunits(ref_u.take(take), 0, 1 << 30)
    f_alt_arr = pc.utf8_slice_codeunits(alt_u.take(take), 0, 1 << 30)
    if cut.any():
        f_ref_arr = pc.if_else(
            pa.array(cut.astype(bool)), pc.utf8_slice_codeunits(f_ref_arr, 1, 1 << 30), f_ref_arr
        )
        f_alt_arr = pc.if_else(
            pa.array(cut.astype(bool)), pc.utf8_slice_codeunits(f_alt_arr, 1, 1 << 30), f_alt_arr
        )
    f_ref = f_ref_arr.to_numpy(zero_copy_only=False).astype(object)
    f_alt = f_alt_arr.to_numpy(zero_copy_only=False).astype(object)
    f_start = calls.start[fi] + cut
    f_rlen = ref_len[fi].astype(np.int64) - cut
    f_alen = alt_len[fi].astype(np.int64) - cut
    g1 = np.where(calls.gt1 > 0, 1, 0).astype(np.int8)
    g2 = np.where(calls.gt2 > 0, 1, 0).astype(np.int8)
    parts: dict[str, list[object]] = {
        k: [] for k in ("chrom", "start", "ref", "alt1", "alt2", "h1", "h2", "group", "rlen", "alen")
    }
    slow = np.flatnonzero(~fast)
    refs = calls.ref.take(pa.array(slow)).to_pylist()
    alts = calls.alt.take(pa.array(slow)).to_pylist()
    for j, i in enumerate(slow.tolist()):
        a, b = int(calls.gt1[i]), int(calls.gt2[i])
        a, b = max(a, 0), max(b, 0)
        alleles = str(alts[j]).split(",")
        pos0 = int(calls.start[i])
        pieces = {k: _decompose(pos0, str(refs[j]), alleles[k - 1]) for k in {a, b} if k > 0}
        slot1 = pieces.get(a, []) if a else []
        slot2 = pieces.get(b, []) if b else []
        for p1, p2, s, r, x, y in _pair_slots(slot1, slot2, a == b):
            parts["chrom"].append(chrom_all[i])
            parts["start"].append(s)
            parts["ref"].append(r)
            parts["alt1"].append(x)
            parts["alt2"].append(y)
            parts["h1"].append(p1)
            parts["h2"].append(p2)
            parts["group"].append(i)
            parts["rlen"].append(len(r))
            parts["alen"].append(len(x))
    k = len(parts["start"])

    def objects(name: str) -> ObjArray:
        out = np.empty(k, dtype=object)
        out[:] = parts[name]
        return out

    chrom = np.concatenate([chrom_all[fi], np.asarray(parts["chrom"], dtype=np.int32)])
    start = np.concatenate([f_start, np.asarray(parts["start"], dtype=np.int64)])
    ref = np.concatenate([f_ref, objects("ref")])
    alt1 = np.concatenate([f_alt, objects("alt1")])
    alt2 = np.concatenate([np.full(len(fi), None, dtype=object), objects("alt2")])
    h1 = np.concatenate([g1[fi], np.asarray(parts["h1"], dtype=np.int8)])
    h2 = np.concatenate([g2[fi], np.asarray(parts["h2"], dtype=np.int8)])
    group = np.concatenate([fi.astype(np.int64), np.asarray(parts["group"], dtype=np.int64)])
    rlen = np.concatenate([f_rlen, np.asarray(parts["rlen"], dtype=np.int64)])
    alen = np.concatenate([f_alen, np.asarray(parts["alen"], dtype=np.int64)])
    end = start + rlen
    order = np.lexsort((end, start, chrom))
    chrom, start, end, ref, alt1, alt2 = (
        chrom[order],
        start[order],
        end[order],
        ref[order],
        alt1[order],
        alt2[order],
    )
    h1, h2, group, rlen, alen = h1[order], h2[order], group[order], rlen[order], alen[order]
    kstart = start.copy()
    kend = end.copy()
    kalt = alt1.copy()
    line = calls.line[group]
    if reference is not None:
        _check_and_shift(
            calls, contigs, reference, chrom, start, end, ref, alt1, alt2, line, kstart, kend, kalt
        )
    return Variants(
        chrom=chrom,
        start=start,
        end=end,
        ref=ref,
        alt1=alt1,
        alt2=alt2,
        h1=h1,
        h2=h2,
        group=group,
        line=line,
        filter_pass=calls.filter_pass[group],
        kstart=kstart,
        kend=kend,
        kalt=kalt,
        rlen=rlen,
        alen=alen,
    )


def _pair_slots(
    slot1: list[tuple[int, str, str]], slot2: list[tuple[int, str, str]], same: bool
) -> list[tuple[int, int, int, str, str, str | None]]:
    """Primitives ``(h1, h2, start, ref, alt1, alt2)`` of a genotype's two haplotype slots."""
    if same:
        return [(1, 1, s, r, a, None) for s, r, a in slot1]
    out: list[tuple[int, int, int, str, str, str | None]] = []
    both = set(slot1) & set(slot2)
    for s, r, a in sorted(both):
        out.append((1, 1, s, r, a, None))
    rest1 = {(s, r): a for s, r, a in slot1 if (s, r, a) not in both}
    rest2 = {(s, r): a for s, r, a in slot2 if (s, r, a) not in both}
    for (s, r), a in rest1.items():
        other = rest2.pop((s, r), None)
        if other is None:
            out.append((1, 0, s, r, a, None))
        elif a < other:
            out.append((1, 2, s, r, a, other))
        else:
            out.append((2, 1, s, r, other, a))
    for (s, r), a in rest2.items():
        out.append((0, 1, s, r, a, None))
    return out


def _check_and_shift(
    calls: CallSet,
    contigs: Contigs,
    reference: Reference,
    chrom: npt.NDArray[np.int32],
    start: IntArray,
    end: IntArray,
    ref: ObjArray,
    alt1: ObjArray,
    alt2: ObjArray,
    line: IntArray,
    kstart: IntArray,
    kend: IntArray,
    kalt: ObjArray,
) -> None:
    """Check REF against the FASTA and left-align biallelic indels, contig by contig (in place)."""
    bounds = np.flatnonzero(np.diff(chrom)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(chrom)], strict=True):
        if lo == hi:
            continue
        name = contigs.names[int(chrom[lo])]
        seq = reference.sequence(name, where=Location(calls.source, int(line[lo]), "CHROM"))
        seg = slice(int(lo), int(hi))
        s, e = start[seg], end[seg]
        beyond = e > len(seq)
        if beyond.any():
            i = int(lo) + int(np.argmax(beyond))
            raise FormatError(
                f"the variant ends at {int(e[i - lo])}, past the end of contig {name} ({len(seq):,} bp)",
                location=Location(calls.source, int(line[i]), "POS"),
            )
        single = (e - s) == 1
        if single.any():
            buf = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
            got = buf[s[single]]
            want = np.frombuffer("".join(ref[seg][single]).encode("ascii"), dtype=np.uint8)
            wrong = (got != want) & (got != ord("N")) & (want != ord("N"))
            if wrong.any():
                i = int(lo) + int(np.flatnonzero(single)[int(np.argmax(wrong))])
                raise FormatError(
                    f"REF {ref[i]!r} differs from the reference base {seq[start[i]]!r} "
                    f"at {name}:{start[i] + 1}",
                    location=Location(calls.source, int(line[i]), "REF"),
                )
        for i in np.flatnonzero(~single).tolist():
            i += int(lo)
            r = ref[i]
            if r and seq[start[i] : start[i] + len(r)] != r and "N" not in r:
                raise FormatError(
                    f"REF {r!r} differs from the reference {seq[start[i] : start[i] + len(r)]!r} "
                    f"at {name}:{start[i] + 1}",
                    location=Location(calls.source, int(line[i]), "REF"),
                )
            if alt2[i] is None and (not r or not alt1[i]):
                ks, kr, ka = _left_align(int(start[i]), r, alt1[i], seq)
                kstart[i], kend[i], kalt[i] = ks, ks + len(kr), ka


def variant_types(ref: str, alt: str) -> tuple[str, str]:
    """``(type, subtype)`` of one trimmed allele in hap.py's classes (SNP ti/tv; INDEL I/D/C by size)."""
    if len(ref) == 1 and len(alt) == 1:
        return "SNP", "ti" if (ref, alt) in _TRANSITIONS else "tv"
    if not ref:
        kind, size = "I", len(alt)
    elif not alt:
        kind, size = "D", len(ref)
    else:
        kind, size = "C", max(len(ref), len(alt))
    band = "1_5" if size <= 5 else "6_15" if size <= 15 else "16_PLUS"
    return "INDEL", f"{kind}{band}"
