"""Counts and metrics per Type × Subtype × Subset × Filter × Genotype, in hap.py's column names.

Counting is per primitive variant (after decomposition), as hap.py counts per record of its
normalised VCF: a het-alt primitive counts once; a primitive with a SNP and an indel allele counts
once in each type. Counts are accumulated with ``np.bincount`` over a category code, so a
whole-genome result costs a handful of passes over the arrays, not one per output row.

Recall = TP/(TP+FN) on the truth side, precision = TP/(TP+FP) on the query side,
Frac_NA = UNK/QUERY.TOTAL, F1 = 2PR/(P+R) (Krusche et al., Nat Biotechnol 2019). Their 95 %
confidence intervals are modified Jeffreys intervals for a binomial proportion, as som.py reports
them: the Beta(x+½, n−x+½) quantiles, with the Clopper-Pearson bound (α/2)^(1/n) at x = 0 and
x = n, the lower bound 0 at x = 1 and the upper bound 1 at x = n−1 (Brown, Cai & DasGupta,
Stat Sci 2001, section 4.1.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._normalise import Variants, variant_types

__all__ = [
    "GENOTYPES",
    "INDEL_SUBTYPES",
    "SNP_SUBTYPES",
    "Classes",
    "classify",
    "jeffreys_interval",
    "metrics",
]

SNP_SUBTYPES = ("ti", "tv")
INDEL_SUBTYPES = ("C16_PLUS", "C1_5", "C6_15", "D16_PLUS", "D1_5", "D6_15", "I16_PLUS", "I1_5", "I6_15")
GENOTYPES = ("het", "homalt", "hetalt")

CodeArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Classes:
    """Category code of each primitive per type: ``subtype * 3 + genotype``, or -1 when not of it."""

    snp: CodeArray
    indel: CodeArray


def classify(v: Variants) -> Classes:
    """Type, subtype and genotype class of every primitive."""
    n = len(v)
    gclass = np.where(np.minimum(v.h1, v.h2) == 0, 0, np.where(v.h1 == v.h2, 1, 2)).astype(np.int64)
    snp = np.full(n, -1, dtype=np.int64)
    indel = np.full(n, -1, dtype=np.int64)
    if not n:
        return Classes(snp, indel)
    rlen, a1len = v.rlen, v.alen
    biallelic = v.alt2 == None  # noqa: E711 - elementwise comparison on an object array
    simple = (rlen == 1) & (a1len == 1) & biallelic
    # Vectorised for plain SNVs: a transition is a purine↔purine or pyrimidine↔pyrimidine change.
    rows = np.flatnonzero(simple)
    pair = v.ref[rows] + v.alt1[rows]
    ti = np.isin(pair, np.array(["AG", "GA", "CT", "TC"], dtype=object))
    snp[rows] = np.where(ti, 0, 1) * 3 + gclass[rows]
    snp_index = {s: i for i, s in enumerate(SNP_SUBTYPES)}
    indel_index = {s: i for i, s in enumerate(INDEL_SUBTYPES)}
    # Vectorised for biallelic indels and complex alleles: kind by which allele is empty, size band.
    rows = np.flatnonzero(biallelic & ~simple)
    r, a = rlen[rows], a1len[rows]
    kind = np.where(r == 0, "I", np.where(a == 0, "D", "C"))
    size = np.maximum(r, a)
    band = np.where(size <= 5, "1_5", np.where(size <= 15, "6_15", "16_PLUS"))
    names = np.char.add(kind.astype("U1"), band.astype("U7"))
    # INDEL_SUBTYPES is sorted, so a binary search maps names to their index.
    indel[rows] = np.searchsorted(np.array(INDEL_SUBTYPES), names).astype(np.int64) * 3 + gclass[rows]
    for i in np.flatnonzero(~simple & ~biallelic).tolist():
        called = [a for k, a in ((1, v.alt1[i]), (2, v.alt2[i])) if a is not None and k in (v.h1[i], v.h2[i])]
        kinds = [variant_types(v.ref[i], a) for a in called]
        snps = [sub for t, sub in kinds if t == "SNP"]
        indels = sorted((sub for t, sub in kinds if t == "INDEL"), key=lambda s: (s[0], _size_rank(s)))
        if snps:
            snp[i] = snp_index[snps[0]] * 3 + gclass[i]
        if indels:
            # The longest allele decides the size class of a het-alt indel.
            indel[i] = indel_index[indels[-1]] * 3 + gclass[i]
    return Classes(snp, indel)


def _size_rank(subtype: str) -> int:
    return {"1_5": 0, "6_15": 1, "16_PLUS": 2}[subtype[1:]]


def jeffreys_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Modified Jeffreys confidence interval of a binomial proportion (NaNs when there are no trials).

    >>> [round(x, 3) for x in jeffreys_interval(1, 1)]
    [0.025, 1.0]
    """
    if trials <= 0:
        return (math.nan, math.nan)
    from scipy.special import betaincinv  # the Beta quantile; scipy.special imports faster than stats

    alpha = 1.0 - level
    x, n = successes, trials
    edge = (alpha / 2) ** (1.0 / n)
    if x == 0:
        return (0.0, 1.0 - edge)
    if x == n:
        return (edge, 1.0)
    lower = 0.0 if x == 1 else float(betaincinv(x + 0.5, n - x + 0.5, alpha / 2))
    upper = 1.0 if x == n - 1 else float(betaincinv(x + 0.5, n - x + 0.5, 1 - alpha / 2))
    return (lower, upper)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def metrics(counts: dict[str, int]) -> dict[str, float]:
    """Recall, precision, Frac_NA and F1 with Jeffreys intervals from a row's counts."""
    t_tp, t_fn = counts["TRUTH.TP"], counts["TRUTH.FN"]
    q_tp, q_fp = counts["QUERY.TP"], counts["QUERY.FP"]
    recall = _ratio(t_tp, t_tp + t_fn)
    precision = _ratio(q_tp, q_tp + q_fp)
    f1 = (
        2 * precision * recall / (precision + recall)
        if not (math.isnan(recall) or math.isnan(precision)) and precision + recall > 0
        else math.nan
    )
    r_lo, r_hi = jeffreys_interval(t_tp, t_tp + t_fn)
    p_lo, p_hi = jeffreys_interval(q_tp, q_tp + q_fp)
    return {
        "METRIC.Recall": recall,
        "METRIC.Recall.Lower": r_lo,
        "METRIC.Recall.Upper": r_hi,
        "METRIC.Precision": precision,
        "METRIC.Precision.Lower": p_lo,
        "METRIC.Precision.Upper": p_hi,
        "METRIC.Frac_NA": _ratio(counts["QUERY.UNK"], counts["QUERY.TOTAL"]),
        "METRIC.F1_Score": f1,
    }
