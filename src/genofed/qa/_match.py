"""Matching truth and query primitives: exact keys first (vectorised), haplotype replay for the rest.

Stage 1 joins the two sides on a string key (contig, left-aligned start/end, alleles, genotype)
with pyarrow's hash look-up: in a whole-genome comparison nearly every call is settled here.

Stage 2 groups truth and query primitives into *superloci*: maximal runs in which consecutive
variants lie within ``window`` bases of each other (hap.py's haplotype block finder, default 30).
Only superloci holding an unmatched primitive are replayed, in Python. For each side the replay
enumerates the phasings of its phase groups (a record's primitives stay together; an unphased het
record may swap its two slots), applies each haplotype's variants to the reference sequence of the
superlocus and collects the unordered pair of resulting sequences. The superlocus is a *genotype
match* when some truth pair equals some query pair, and an *allele match* when the sets of non-
reference haplotype sequences agree but the pairs do not (a genotype error: hap.py's ``FP.gt``).
The replay first uses the unmatched primitives alone; if that fails it adds the exactly matched
primitives of the superlocus as shared context (an indel may only line up across a shared SNV).

Two guards follow hap.py and vcfeval: a phasing whose unmatched variants leave a haplotype as it
would be without them is refused (an insertion and a deletion that cancel are not a call), and a
superlocus needing more than ``max_phasings`` phasings on one side is not replayed (its unmatched
primitives stay FN/FP, like hap.py's enumeration threshold).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ._normalise import Variants

__all__ = ["Level", "MatchResult", "match", "superloci"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
SequenceFn = Callable[[int, int, int], str | None]

# A primitive in the replay: (start, end, ref, allele on slot 1, allele on slot 2, group, unmatched).
_Var = tuple[int, int, str, str | None, str | None, int, bool]


class Level(StrEnum):
    """Match levels (GA4GH benchmarking: genotype match, allele match, local match)."""

    GM = "gm"
    """Same haplotype sequences (TP)."""
    AM = "am"
    """Same alleles, different genotype (FP.gt)."""
    LM = "lm"
    """Different alleles near a truth variant (FP.al)."""


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Per-primitive outcome of one comparison.

    ``*_tp``: matched at genotype level; ``query_am``: unmatched but its alleles match the truth
    (a genotype error); ``query_lm``: unmatched in a superlocus that holds truth variants (an
    allele error); ``*_locus``: superlocus id of each primitive (shared numbering).
    """

    truth_tp: BoolArray
    query_tp: BoolArray
    query_am: BoolArray
    query_lm: BoolArray
    truth_locus: IntArray
    query_locus: IntArray
    n_loci: int
    replayed: int


def _keys(v: Variants, *, genotype: bool) -> pa.Array:
    lo = np.minimum(v.h1, v.h2).astype(np.int64)
    hi = np.maximum(v.h1, v.h2).astype(np.int64)
    parts = [
        pc.cast(pa.array(v.chrom), pa.string()),
        pc.cast(pa.array(v.kstart), pa.string()),
        pc.cast(pa.array(v.kend), pa.string()),
        pa.array(v.kalt, pa.string()),
        pc.fill_null(pa.array(v.alt2, pa.string()), "-"),
    ]
    if genotype:
        parts.append(pc.cast(pa.array(lo * 3 + hi), pa.string()))
    return pc.binary_join_element_wise(*parts, "|")


def _exact(truth: Variants, query: Variants, *, genotype: bool) -> tuple[IntArray, IntArray]:
    """Pairs ``(truth index, query index)`` with equal keys, each index used at most once."""
    if not len(truth) or not len(query):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tk, qk = _keys(truth, genotype=genotype), _keys(query, genotype=genotype)
    at = pc.index_in(tk, value_set=qk)
    hit = np.flatnonzero(np.asarray(pc.is_valid(at)))
    q = pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int64)[hit]
    _, first = np.unique(q, return_index=True)
    return hit[first].astype(np.int64), q[first]


def superloci(truth: Variants, query: Variants, window: int) -> tuple[IntArray, IntArray, int]:
    """Superlocus id of every truth and query primitive (vectorised over both sides at once)."""
    chrom = np.concatenate([truth.chrom, query.chrom]).astype(np.int64)
    lo = np.concatenate([np.minimum(truth.start, truth.kstart), np.minimum(query.start, query.kstart)])
    hi = np.concatenate([np.maximum(truth.end, truth.kend), np.maximum(query.end, query.kend)])
    if not len(chrom):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    # Contigs laid end to end with a gap wider than any window, so one scan does the whole genome.
    offset = chrom << 40
    lo, hi = lo + offset, np.maximum(hi, lo) + offset
    order = np.lexsort((lo,))
    slo, shi = lo[order], hi[order]
    reach = np.maximum.accumulate(shi)
    new = np.r_[True, slo[1:] > reach[:-1] + window]
    ids_sorted = np.cumsum(new) - 1
    ids = np.empty_like(ids_sorted)
    ids[order] = ids_sorted
    n = len(truth)
    return ids[:n], ids[n:], int(ids_sorted[-1]) + 1


def match(
    truth: Variants,
    query: Variants,
    sequence: SequenceFn | None,
    *,
    window: int = 30,
    max_phasings: int = 4096,
) -> MatchResult:
    """Match truth and query primitives (see the module docstring).

    ``sequence(chrom, start, end)`` returns reference bases (``None`` when unknown); without it the
    replay uses the bases the REF alleles of the superlocus spell out, where they cover it.
    """
    truth_tp = np.zeros(len(truth), dtype=bool)
    query_tp = np.zeros(len(query), dtype=bool)
    query_am = np.zeros(len(query), dtype=bool)
    query_lm = np.zeros(len(query), dtype=bool)
    ti, qi = _exact(truth, query, genotype=True)
    truth_tp[ti] = True
    query_tp[qi] = True
    t_locus, q_locus, n_loci = superloci(truth, query, window)
    open_loci = np.union1d(t_locus[~truth_tp], q_locus[~query_tp])
    t_rows = _rows_by_locus(t_locus, open_loci)
    q_rows = _rows_by_locus(q_locus, open_loci)
    replayed = 0
    for locus in open_loci.tolist():
        tr, qr = t_rows.get(locus, _EMPTY), q_rows.get(locus, _EMPTY)
        # With nothing unmatched on one side, no replay can match: that side's haplotypes are the
        # shared context, the other's are the context plus changes (no-op changes are refused).
        if truth_tp[tr].all() or query_tp[qr].all():
            continue
        if len(tr) == 1 and len(qr) == 1 and _same_alleles(truth, query, int(tr[0]), int(qr[0])):
            query_am[qr] = True  # one call each, same alleles, genotypes differ (else exact-matched)
            continue
        replayed += 1
        level = _replay_locus(truth, query, tr, qr, truth_tp, query_tp, sequence, max_phasings)
        parts = [(tr, qr, level)]
        if level != Level.GM and window > 3 and len(tr) + len(qr) > 2:
            # All or nothing is too coarse when two unrelated differences share a superlocus (a
            # genotype error 20 bases from a representation difference): retry tighter pieces.
            pieces = _split(truth, query, tr, qr, window // 3)
            if len(pieces) > 1:
                parts = [
                    (a, b, _replay_locus(truth, query, a, b, truth_tp, query_tp, sequence, max_phasings))
                    for a, b in pieces
                    if len(a) and len(b)
                ]
        for a, b, lev in parts:
            if lev == Level.GM:
                truth_tp[a] = True
                query_tp[b] = True
            elif lev == Level.AM:
                query_am[b[~query_tp[b]]] = True
    # Allele-level exact matches of what is still open (a wrong genotype at the right allele).
    open_t = np.flatnonzero(~truth_tp)
    open_q = np.flatnonzero(~query_tp & ~query_am)
    if len(open_t) and len(open_q):
        _, qa = _exact(truth.take(open_t), query.take(open_q), genotype=False)
        query_am[open_q[qa]] = True
    has_truth = np.zeros(n_loci, dtype=bool)
    has_truth[t_locus] = True
    query_lm = ~query_tp & ~query_am & has_truth[q_locus] if len(query) else query_lm
    return MatchResult(truth_tp, query_tp, query_am, query_lm, t_locus, q_locus, n_loci, replayed)


_EMPTY = np.zeros(0, dtype=np.int64)


def _rows_by_locus(locus: IntArray, wanted: IntArray) -> dict[int, IntArray]:
    rows = np.flatnonzero(np.isin(locus, wanted))
    if not len(rows):
        return {}
    order = rows[np.argsort(locus[rows], kind="stable")]
    keys = locus[order]
    cuts = np.flatnonzero(np.diff(keys)) + 1
    return {
        int(group[0]): idx for group, idx in zip(np.split(keys, cuts), np.split(order, cuts), strict=True)
    }


def _same_alleles(truth: Variants, query: Variants, t: int, q: int) -> bool:
    return bool(
        truth.kstart[t] == query.kstart[q]
        and truth.kend[t] == query.kend[q]
        and truth.kalt[t] == query.kalt[q]
        and truth.alt2[t] == query.alt2[q]
    )


def _split(
    truth: Variants, query: Variants, tr: IntArray, qr: IntArray, gap: int
) -> list[tuple[IntArray, IntArray]]:
    """The rows of one superlocus cut into pieces wherever ``gap`` bases separate its variants."""
    lo = np.concatenate(
        [np.minimum(truth.start[tr], truth.kstart[tr]), np.minimum(query.start[qr], query.kstart[qr])]
    )
    hi = np.concatenate(
        [np.maximum(truth.end[tr], truth.kend[tr]), np.maximum(query.end[qr], query.kend[qr])]
    )
    order = np.argsort(lo, kind="stable")
    reach = np.maximum.accumulate(hi[order])
    piece_sorted = np.cumsum(np.r_[True, lo[order][1:] > reach[:-1] + gap]) - 1
    piece = np.empty_like(piece_sorted)
    piece[order] = piece_sorted
    n = len(tr)
    return [(tr[piece[:n] == k], qr[piece[n:] == k]) for k in range(int(piece_sorted[-1]) + 1)]


def _vars(v: Variants, rows: IntArray, matched: BoolArray) -> list[_Var]:
    out: list[_Var] = []
    for i in rows.tolist():
        alleles = (None, v.alt1[i], v.alt2[i])
        out.append(
            (
                int(v.start[i]),
                int(v.end[i]),
                v.ref[i],
                alleles[v.h1[i]],
                alleles[v.h2[i]],
                int(v.group[i]),
                not matched[i],
            )
        )
    return out


def _replay_locus(
    truth: Variants,
    query: Variants,
    tr: IntArray,
    qr: IntArray,
    truth_tp: BoolArray,
    query_tp: BoolArray,
    sequence: SequenceFn | None,
    max_phasings: int,
) -> Level | None:
    t_all, q_all = _vars(truth, tr, truth_tp), _vars(query, qr, query_tp)
    chrom = int(truth.chrom[tr[0]])
    lo = min(min(x[0] for x in t_all), min(x[0] for x in q_all)) - 1
    hi = max(max(x[1] for x in t_all), max(x[1] for x in q_all)) + 1
    lo = max(lo, 0)
    ref = sequence(chrom, lo, hi) if sequence is not None else None
    if ref is None or len(ref) != hi - lo:
        ref = _ref_from_alleles(t_all + q_all, lo, hi)
        if ref is None:
            return None
    t_open = [x for x in t_all if x[6]]
    q_open = [x for x in q_all if x[6]]
    best: Level | None = None
    passes = [(t_open, q_open)]
    if len(t_open) < len(t_all) or len(q_open) < len(q_all):
        passes.append((t_all, q_all))
    for t_vars, q_vars in passes:
        if not t_vars or not q_vars:
            continue
        t_pairs = _pairs(t_vars, ref, lo, max_phasings)
        q_pairs = _pairs(q_vars, ref, lo, max_phasings)
        if t_pairs is None or q_pairs is None:
            continue
        if t_pairs & q_pairs:
            return Level.GM
        t_sets = {frozenset(p) - {ref} for p in t_pairs}
        if any(frozenset(p) - {ref} in t_sets for p in q_pairs):
            best = Level.AM
    return best


def _ref_from_alleles(variants: list[_Var], lo: int, hi: int) -> str | None:
    """Reference bases spelled out by the REF alleles (no FASTA); ``None`` if a base is unknown."""
    bases: list[str | None] = [None] * (hi - lo)
    for start, _end, r, *_ in variants:
        for k, base in enumerate(r):
            if lo <= start + k < hi:
                bases[start + k - lo] = base
    # The one-base pads at either end are not needed when no variant touches them.
    first = min(v[0] for v in variants)
    last = max(v[1] for v in variants)
    inner = bases[first - lo : last - lo]
    if any(b is None for b in inner):
        return None
    return "".join(b or "N" for b in bases)


def _pairs(variants: list[_Var], ref: str, lo: int, max_phasings: int) -> set[tuple[str, str]] | None:
    """Every unordered pair of haplotype sequences the variants allow (``None``: too many)."""
    groups: dict[int, list[_Var]] = {}
    for x in variants:
        groups.setdefault(x[5], []).append(x)
    fixed = [g for g in groups.values() if all(x[3] == x[4] for x in g)]
    free = [g for g in groups.values() if any(x[3] != x[4] for x in g)]
    if 2 ** max(len(free) - 1, 0) > max_phasings:
        return None
    base_a = [(x, x[3]) for g in fixed for x in g]
    out: set[tuple[str, str]] = set()
    # Swapping every group at once gives the same unordered pair: keep the first group fixed.
    for flips in itertools.product((False, True), repeat=max(len(free) - 1, 0)):
        hap_a = list(base_a)
        hap_b = list(base_a)
        for g, flip in zip(free, (False, *flips)[: len(free)], strict=True):
            for x in g:
                first, second = (x[4], x[3]) if flip else (x[3], x[4])
                hap_a.append((x, first))
                hap_b.append((x, second))
        seq_a = _apply(hap_a, ref, lo)
        seq_b = _apply(hap_b, ref, lo)
        if seq_a is None or seq_b is None:
            continue
        out.add((seq_a, seq_b) if seq_a <= seq_b else (seq_b, seq_a))
    return out


def _apply(placed: list[tuple[_Var, str | None]], ref: str, lo: int) -> str | None:
    """The haplotype's sequence, or ``None`` when its variants overlap or its new ones do nothing."""
    called: list[tuple[_Var, str | None]] = sorted(
        ((x, a) for x, a in placed if a is not None), key=lambda p: (p[0][0], p[0][1])
    )
    seq = _splice(called, ref, lo)
    if seq is None:
        return None
    if any(x[6] for x, _ in called):
        context: list[tuple[_Var, str | None]] = [(x, a) for x, a in called if not x[6]]
        without = _splice(context, ref, lo)
        if without == seq:
            return None
    return seq


def _splice(called: list[tuple[_Var, str | None]], ref: str, lo: int) -> str | None:
    out: list[str] = []
    pos = lo
    last_insertion = -1
    for x, allele in called:
        start, end = x[0], x[1]
        if start < pos or (start == end and start == last_insertion):
            return None  # overlapping variants cannot share a haplotype
        out.append(ref[pos - lo : start - lo])
        out.append(allele or "")
        pos = end
        if start == end:
            last_insertion = start
    out.append(ref[pos - lo :])
    return "".join(out)
