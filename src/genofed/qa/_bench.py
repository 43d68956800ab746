"""The benchmark: normalise both call sets, match them, decide TP/FN/FP/UNK, count per stratum.

Germline mode (hap.py semantics, GA4GH benchmarking definitions):

- Truth records that do not pass their filters are left out; query records are compared twice,
  all of them (``Filter = ALL``) and only those passing FILTER and the sample's FT (``PASS``).
- With confident regions, a superlocus is *confident* when one of its truth primitives' footprints
  overlaps them; every truth primitive of a confident superlocus is counted (TP or FN), the rest
  are not assessed. A matched query primitive is TP where its truth is counted; an unmatched one is
  FP when its own footprint is confident and UNK otherwise. ``FP.gt`` counts FPs whose alleles
  match the truth with the wrong genotype, ``FP.al`` other FPs in a superlocus holding truth.

Somatic mode (som.py semantics): no genotypes. Records are SNVs when every called allele is a
single-base change and INDELs otherwise; a record is TP when one of its alleles (normalised) is
on the other side; query-only records are FP in the regions (all FP when none are given) and UNK
outside; truth is not restricted by the regions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ._callset import CallSet
from ._match import MatchResult, _exact, match
from ._metrics import GENOTYPES, INDEL_SUBTYPES, SNP_SUBTYPES, Classes, classify, metrics
from ._normalise import Contigs, Variants, normalise
from ._reference import Reference
from ._regions import Regions, read_stratification

__all__ = ["BenchmarkResult", "benchmark"]

BoolArray = npt.NDArray[np.bool_]
CallsLike: TypeAlias = CallSet | str | Path | pa.Table
Progress = Callable[[str], None]

COUNT_COLUMNS = (
    "TRUTH.TOTAL",
    "TRUTH.TP",
    "TRUTH.FN",
    "QUERY.TOTAL",
    "QUERY.TP",
    "QUERY.FP",
    "QUERY.UNK",
    "FP.gt",
    "FP.al",
)


@dataclass(frozen=True)
class BenchmarkResult:
    """Rows of counts and metrics, one per Type × Subtype × Subset × Filter × Genotype.

    Each row is a dict with ``Type`` (``SNP``/``INDEL``), ``Subtype`` (``*``, ``ti``, ``tv``,
    ``I1_5`` …), ``Subset`` (``*`` or a stratum), ``Filter`` (``ALL``/``PASS``), ``Genotype``
    (``*``, ``het``, ``homalt``, ``hetalt``), the counts of :data:`COUNT_COLUMNS`, the metrics with
    their intervals, and the Ti/Tv and het/hom ratios of the truth and query totals. In somatic
    mode ``FP.gt`` and ``FP.al`` are ``None`` and only ``Genotype = *`` rows exist.
    """

    rows: list[dict[str, object]]
    somatic: bool = False
    truth_skipped: int = 0
    query_skipped: int = 0
    replayed_loci: int = 0

    def row(
        self, type_: str, filter_: str = "ALL", *, subtype: str = "*", subset: str = "*", genotype: str = "*"
    ) -> dict[str, object]:
        """The row of one combination (``KeyError`` if there is none)."""
        for r in self.rows:
            if (r["Type"], r["Filter"], r["Subtype"], r["Subset"], r["Genotype"]) == (
                type_,
                filter_,
                subtype,
                subset,
                genotype,
            ):
                return r
        raise KeyError((type_, filter_, subtype, subset, genotype))

    def summary(self) -> list[dict[str, object]]:
        """hap.py's summary rows: ``Subtype``, ``Subset`` and ``Genotype`` all ``*``."""
        return [r for r in self.rows if r["Subtype"] == "*" and r["Subset"] == "*" and r["Genotype"] == "*"]

    def to_arrow(self) -> pa.Table:
        """The rows as an Arrow table (one column per key)."""
        return pa.Table.from_pylist(self.rows)


def _as_calls(x: CallsLike, what: str) -> CallSet:
    if isinstance(x, CallSet):
        return x
    if isinstance(x, pa.Table):
        return CallSet.from_arrow(x, source=f"<{what} table>")
    return CallSet.from_vcf(x)


def benchmark(
    truth: CallsLike,
    query: CallsLike,
    *,
    reference: str | Path | Reference | None = None,
    regions: str | Path | Regions | None = None,
    strata: str | Path | Sequence[Regions] | None = None,
    somatic: bool = False,
    window: int = 30,
    progress: Progress | None = None,
) -> BenchmarkResult:
    """Benchmark a query call set against a truth set (GA4GH definitions; hap.py/som.py semantics).

    Parameters
    ----------
    truth, query
        :class:`CallSet` objects, VCF paths, or Arrow tables in the ``variant_calls`` shape
        (see :meth:`CallSet.from_arrow`).
    reference
        FASTA for left-alignment, REF checks and the haplotype replay. Without it the replay uses
        the bases the REF alleles spell out, and indels are not left-aligned.
    regions
        Confident regions (BED): outside them query-only calls are UNK and truth is not assessed.
    strata
        A hap.py stratification TSV or :class:`Regions`: extra ``Subset`` rows per stratum.
    somatic
        som.py semantics (allele presence only; see the module docstring).
    window
        Superlocus window in bases (hap.py ``-w``).
    progress
        Called with a short description before each stage.

    Returns
    -------
    BenchmarkResult

    Raises
    ------
    InputError
        Unreadable or malformed inputs, named by file, line and field.

    References
    ----------
    Krusche P. et al. Best practices for benchmarking germline small-variant calls in human
    genomes. Nat Biotechnol 37, 555–560 (2019).
    """
    say = progress or (lambda _msg: None)
    say("reading call sets")
    t_calls, q_calls = _as_calls(truth, "truth"), _as_calls(query, "query")
    ref = reference if isinstance(reference, Reference) or reference is None else Reference(reference)
    conf = regions if isinstance(regions, Regions) or regions is None else Regions.from_bed(regions)
    if strata is None:
        strata_list: list[Regions] = []
    elif isinstance(strata, str | Path):
        strata_list = read_stratification(strata)
    else:
        strata_list = list(strata)
    contigs = Contigs()
    say("normalising truth")
    tv = normalise(t_calls.subset(t_calls.filter_pass), contigs, ref)
    say("normalising query")
    qv = normalise(q_calls, contigs, ref)
    sequence = None
    if ref is not None:
        names = contigs.names

        def sequence(chrom: int, lo: int, hi: int) -> str | None:
            return ref.sequence(names[chrom])[lo:hi] if ref.has(names[chrom]) else None

    rows: list[dict[str, object]] = []
    replayed = 0
    last_status: _Status | None = None
    t_classes = classify(tv)
    q_classes_all = classify(qv)
    for filt in ("ALL", "PASS"):
        q_rows = np.arange(len(qv)) if filt == "ALL" else np.flatnonzero(qv.filter_pass)
        qf = qv if filt == "ALL" else qv.take(q_rows)
        q_classes = Classes(q_classes_all.snp[q_rows], q_classes_all.indel[q_rows])
        say(f"matching ({filt})")
        if somatic:
            status = _somatic_status(tv, qf, conf, contigs)
        else:
            if filt == "PASS" and len(q_rows) == len(qv) and last_status is not None:
                status = last_status  # every query call passes: the PASS comparison is the same
            else:
                m = match(tv, qf, sequence, window=window)
                replayed += m.replayed
                status = _germline_status(tv, qf, m, conf, contigs)
            last_status = status
        say(f"counting ({filt})")
        subsets: list[tuple[str, BoolArray, BoolArray]] = [
            ("*", np.ones(len(tv), bool), np.ones(len(qf), bool))
        ]
        for stratum in strata_list:
            subsets.append(
                (
                    stratum.name,
                    stratum.overlaps(contigs.names, tv.chrom, tv.start, tv.end),
                    stratum.overlaps(contigs.names, qf.chrom, qf.start, qf.end),
                )
            )
        for subset, t_in, q_in in subsets:
            if somatic and subset != "*":
                continue  # som.py has no strata; a per-record stratum rule is not built yet
            if somatic:
                rows.extend(_somatic_rows(status, filt, subset))
            else:
                rows.extend(_rows(status, t_classes, q_classes, filt, subset, t_in, q_in))
    rows.sort(
        key=lambda r: (
            str(r["Type"]),
            str(r["Subtype"]),
            str(r["Subset"]),
            str(r["Filter"]),
            str(r["Genotype"]),
        )
    )
    return BenchmarkResult(
        rows=rows,
        somatic=somatic,
        truth_skipped=t_calls.skipped,
        query_skipped=q_calls.skipped,
        replayed_loci=replayed,
    )


@dataclass(frozen=True, eq=False)
class _Status:
    t_counted: BoolArray
    t_tp: BoolArray
    q_tp: BoolArray
    q_fp: BoolArray
    q_unk: BoolArray
    fp_gt: BoolArray
    fp_al: BoolArray
    t_snp: BoolArray | None = None
    t_indel: BoolArray | None = None
    q_snp: BoolArray | None = None
    q_indel: BoolArray | None = None


def _germline_status(
    tv: Variants, qv: Variants, m: MatchResult, conf: Regions | None, contigs: Contigs
) -> _Status:
    if conf is None:
        t_counted = np.ones(len(tv), bool)
        q_conf = np.ones(len(qv), bool)
        locus_conf = np.ones(m.n_loci, bool)
    else:
        t_conf = conf.overlaps(contigs.names, tv.chrom, tv.start, tv.end)
        q_conf = conf.overlaps(contigs.names, qv.chrom, qv.start, qv.end)
        locus_conf = np.zeros(m.n_loci, bool)
        locus_conf[m.truth_locus[t_conf]] = True
        t_counted = locus_conf[m.truth_locus]
    q_tp = m.query_tp & (locus_conf[m.query_locus] | q_conf)
    q_fp = ~m.query_tp & q_conf
    q_unk = ~q_tp & ~q_fp
    return _Status(
        t_counted=t_counted,
        t_tp=m.truth_tp & t_counted,
        q_tp=q_tp,
        q_fp=q_fp,
        q_unk=q_unk,
        fp_gt=q_fp & m.query_am,
        fp_al=q_fp & m.query_lm,
    )


def _rows(
    s: _Status, tc: Classes, qc: Classes, filt: str, subset: str, t_in: BoolArray, q_in: BoolArray
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for type_, subtypes, t_code, q_code in (
        ("SNP", SNP_SUBTYPES, tc.snp, qc.snp),
        ("INDEL", INDEL_SUBTYPES, tc.indel, qc.indel),
    ):
        k = len(subtypes) * 3

        def count(
            code: npt.NDArray[np.int64], mask: BoolArray, k: int = len(subtypes) * 3
        ) -> npt.NDArray[np.int64]:
            return np.bincount(code[mask & (code >= 0)], minlength=k)

        t_total = count(t_code, s.t_counted & t_in)
        t_tp = count(t_code, s.t_tp & t_in)
        q_total = count(q_code, q_in)
        q_tp = count(q_code, s.q_tp & q_in)
        q_fp = count(q_code, s.q_fp & q_in)
        q_unk = count(q_code, s.q_unk & q_in)
        fp_gt = count(q_code, s.fp_gt & q_in)
        fp_al = count(q_code, s.fp_al & q_in)
        arrays = (t_total, t_tp, t_total - t_tp, q_total, q_tp, q_fp, q_unk, fp_gt, fp_al)
        for sub_i, subtype in [(-1, "*"), *enumerate(subtypes)]:
            for g_i, genotype in [(-1, "*"), *enumerate(GENOTYPES)]:
                codes = np.arange(k)
                sel = np.ones(k, bool)
                if sub_i >= 0:
                    sel &= codes // 3 == sub_i
                if g_i >= 0:
                    sel &= codes % 3 == g_i
                counts = {name: int(arr[sel].sum()) for name, arr in zip(COUNT_COLUMNS, arrays, strict=True)}
                row: dict[str, object] = {
                    "Type": type_,
                    "Subtype": subtype,
                    "Subset": subset,
                    "Filter": filt,
                    "Genotype": genotype,
                    **counts,
                    **metrics(counts),
                }
                row.update(_ratios(type_, sel, t_total, q_total))
                out.append(row)
    return out


def _ratios(
    type_: str, sel: BoolArray, t_total: npt.NDArray[np.int64], q_total: npt.NDArray[np.int64]
) -> dict[str, float]:
    """Ti/Tv (SNPs) and het/hom-alt ratios of the truth and query totals."""
    codes = np.arange(len(sel))
    out: dict[str, float] = {}
    for side, arr in (("TRUTH", t_total), ("QUERY", q_total)):
        if type_ == "SNP":
            ti = arr[sel & (codes // 3 == 0)].sum()
            tv = arr[sel & (codes // 3 == 1)].sum()
            out[f"{side}.TOTAL.TiTv_ratio"] = float(ti / tv) if tv else math.nan
        else:
            out[f"{side}.TOTAL.TiTv_ratio"] = math.nan
        het = arr[sel & (codes % 3 == 0)].sum()
        hom = arr[sel & (codes % 3 == 1)].sum()
        out[f"{side}.TOTAL.het_hom_ratio"] = float(het / hom) if hom else math.nan
    return out


# --- somatic -------------------------------------------------------------------------------------


def _record_types(v: Variants) -> tuple[BoolArray, BoolArray, npt.NDArray[np.int64]]:
    """Per record (phase group): whether it is an SNV record, and the record of each primitive."""
    groups, inverse = np.unique(v.group, return_inverse=True)
    rlen = np.fromiter((len(r) for r in v.ref), np.int64, len(v))
    a1 = np.fromiter((len(a) for a in v.alt1), np.int64, len(v))
    a2 = np.fromiter((1 if a is None else len(a) for a in v.alt2), np.int64, len(v))
    prim_snv = (rlen == 1) & (a1 == 1) & (a2 == 1)
    not_snv = np.zeros(len(groups), bool)
    np.logical_or.at(not_snv, inverse, ~prim_snv)
    return ~not_snv, not_snv, inverse


def _somatic_status(tv: Variants, qv: Variants, conf: Regions | None, contigs: Contigs) -> _Status:
    t_snv, t_indel, t_rec = _record_types(tv)
    q_snv, q_indel, q_rec = _record_types(qv)
    ti, qi = _exact(tv, qv, genotype=False)
    t_tp = np.zeros(len(t_snv), bool)
    q_tp = np.zeros(len(q_snv), bool)
    t_tp[t_rec[ti]] = True
    q_tp[q_rec[qi]] = True
    if conf is None:
        q_conf = np.ones(len(q_snv), bool)
    else:
        prim_conf = conf.overlaps(contigs.names, qv.chrom, qv.start, qv.end)
        q_conf = np.zeros(len(q_snv), bool)
        np.logical_or.at(q_conf, q_rec, prim_conf)
    q_fp = ~q_tp & q_conf
    none = np.zeros(len(q_snv), bool)
    return _Status(
        t_counted=np.ones(len(t_snv), bool),
        t_tp=t_tp,
        q_tp=q_tp,
        q_fp=q_fp,
        q_unk=~q_tp & ~q_fp,
        fp_gt=none,
        fp_al=none,
        t_snp=t_snv,
        t_indel=t_indel,
        q_snp=q_snv,
        q_indel=q_indel,
    )


def _somatic_rows(s: _Status, filt: str, subset: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    if s.t_snp is None or s.t_indel is None or s.q_snp is None or s.q_indel is None:
        raise ValueError("somatic rows need the record types of a somatic status")
    for type_, t_sel, q_sel in (("SNP", s.t_snp, s.q_snp), ("INDEL", s.t_indel, s.q_indel)):
        counts = {
            "TRUTH.TOTAL": int(t_sel.sum()),
            "TRUTH.TP": int((s.t_tp & t_sel).sum()),
            "TRUTH.FN": int((~s.t_tp & t_sel).sum()),
            "QUERY.TOTAL": int(q_sel.sum()),
            "QUERY.TP": int((s.q_tp & q_sel).sum()),
            "QUERY.FP": int((s.q_fp & q_sel).sum()),
            "QUERY.UNK": int((s.q_unk & q_sel).sum()),
        }
        row: dict[str, object] = {
            "Type": type_,
            "Subtype": "*",
            "Subset": subset,
            "Filter": filt,
            "Genotype": "*",
            **counts,
            "FP.gt": None,
            "FP.al": None,
            **metrics(counts),
        }
        out.append(row)
    return out
