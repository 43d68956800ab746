"""The likelihood-ratio membership attack on a Beacon (Shringarpure & Bustamante 2015), as a harness.

An attacker holds a target's genome and a reference panel's allele frequencies. They ask the Beacon
about alleles the target carries, rarest first, and add up the log-likelihood ratio of the answers
under "the target is in the Beacon" (H1) against "the target is not" (H0). With ``N`` individuals in
the Beacon and an allele of frequency ``f``, ``D_N = (1 - f)^(2N)`` is the chance no one of them
carries it, so

- H0: P(yes) = 1 - D_N
- H1: P(yes) = 1 - δ D_{N-1} (the target carries it; δ is the chance the Beacon misses the
  target's copy, a sequencing error rate)

and each "yes" adds ``log((1 - δ D_{N-1}) / (1 - D_N))``, each "no" adds ``log(δ D_{N-1} / D_N)``.
The attack calls a target a member when the statistic exceeds the (1 - α) quantile of the statistic
over a calibration set of known non-members. Its power is the share of held-out members called
members; its false-positive rate is the share of held-out non-members called members. Both are
reported for each number of queries.

The harness knows nothing of the node: it asks through any ``ask(allele) -> bool`` callable, so it
replays the attack against an undefended or a defended Beacon alike (``genofed.node`` wires its own
Beacon in; see ``docs/privacy.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["AttackPoint", "AttackReport", "lr_statistic", "run_membership_attack"]


@dataclass(frozen=True)
class AttackPoint:
    """The attack's outcome after ``queries`` questions per target."""

    queries: int
    power: float
    false_positive_rate: float
    threshold: float


@dataclass(frozen=True)
class AttackReport:
    """Power and false-positive rate at each number of queries, and how the attack was run."""

    points: tuple[AttackPoint, ...]
    alpha: float
    beacon_size: int
    members: int
    non_members: int
    calibration: int
    queries_asked: int

    def at(self, queries: int) -> AttackPoint:
        """The point for ``queries`` questions per target."""
        for point in self.points:
            if point.queries == queries:
                return point
        raise KeyError(queries)


def _terms(frequencies: np.ndarray, beacon_size: int, error: float) -> tuple[np.ndarray, np.ndarray]:
    """Per allele: the log-likelihood-ratio contribution of a "yes" and of a "no"."""
    f = np.clip(frequencies, 1e-12, 1 - 1e-12)
    log_d_n = 2 * beacon_size * np.log1p(-f)
    log_d_n1 = (2 * beacon_size - 2) * np.log1p(-f)
    yes = np.log1p(-error * np.exp(log_d_n1)) - np.log(-np.expm1(log_d_n))
    no = math.log(error) + log_d_n1 - log_d_n
    return yes, no


def lr_statistic(
    answers: Sequence[bool], frequencies: Sequence[float], beacon_size: int, *, error: float = 1e-6
) -> float:
    """The log-likelihood ratio (member vs not) of a series of Beacon answers about a target's alleles.

    >>> round(lr_statistic([True], [0.001], 1000), 3) > 0
    True
    """
    yes, no = _terms(np.asarray(frequencies, dtype=float), beacon_size, error)
    mask = np.asarray(answers, dtype=bool)
    return float(np.where(mask, yes, no).sum())


def run_membership_attack(
    ask: Callable[[Hashable], bool],
    carried: Mapping[str, Sequence[Hashable]],
    frequencies: Mapping[Hashable, float],
    *,
    members: Sequence[str],
    non_members: Sequence[str],
    calibration: Sequence[str],
    beacon_size: int,
    query_counts: Sequence[int],
    alpha: float = 0.05,
    error: float = 1e-6,
) -> AttackReport:
    """Replay the attack on each target and report power and false-positive rate per number of queries.

    Parameters
    ----------
    ask
        The Beacon: does any of its individuals carry this allele? Called once per (target, query),
        targets in the order calibration, members, non-members interleaved, so a stateful defence
        (a disclosure budget) sees a realistic stream.
    carried
        For every target, the alleles they carry (keys of ``frequencies``).
    frequencies
        The attacker's reference allele frequencies (from a panel that holds none of the targets).
    members, non_members, calibration
        Targets in the Beacon; held-out targets not in it; other non-members to set the threshold.
    beacon_size
        The number of individuals in the Beacon (public: its count).
    query_counts
        Numbers of queries per target at which to report (each at most the largest).
    alpha
        The false-positive rate the threshold aims at.
    error
        δ: the chance the Beacon misses a member's allele.
    """
    most = max(query_counts)
    statistics: dict[str, np.ndarray] = {}
    order = list(calibration) + [t for pair in zip(members, non_members, strict=False) for t in pair]
    order += [t for t in (*members, *non_members) if t not in set(order)]
    asked = 0
    for target in order:
        alleles = sorted(carried[target], key=lambda a: (frequencies[a], str(a)))[:most]
        f = np.asarray([frequencies[a] for a in alleles], dtype=float)
        answers = np.asarray([ask(a) for a in alleles], dtype=bool)
        asked += len(alleles)
        yes, no = _terms(f, beacon_size, error)
        running = np.cumsum(np.where(answers, yes, no))
        # A target with fewer alleles than n queries has asked all it can: its statistic stays.
        padded = np.full(most, running[-1] if len(running) else 0.0)
        padded[: len(running)] = running
        statistics[target] = padded
    points = []
    for n in query_counts:
        null = np.asarray([statistics[t][n - 1] for t in calibration])
        threshold = float(np.quantile(null, 1 - alpha, method="higher"))
        power = float(np.mean([statistics[t][n - 1] > threshold for t in members]))
        fpr = float(np.mean([statistics[t][n - 1] > threshold for t in non_members]))
        points.append(AttackPoint(queries=n, power=power, false_positive_rate=fpr, threshold=threshold))
    return AttackReport(
        points=tuple(points),
        alpha=alpha,
        beacon_size=beacon_size,
        members=len(members),
        non_members=len(non_members),
        calibration=len(calibration),
        queries_asked=asked,
    )
