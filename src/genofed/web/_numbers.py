"""Numbers as the portal shows them: proportions with guaranteed bounds, and why a cell looks as it does.

A node that releases "<5" says only that its count lies in 1..4, so a proportion built from released
counts is either exact or known to lie between two bounds (:func:`share_of`). Every count, hidden cell
and missing node on a page comes with a sentence saying why it looks the way it does
(:func:`explain_cell`, :func:`explain_outcome`, :func:`explain_total`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genofed.federation import CombinedCount, NodeOutcome, OutcomeStatus, RefusalKind
from genofed.privacy import CellStatus, ReleasedCount

__all__ = ["Share", "explain_cell", "explain_outcome", "explain_total", "share_of"]


@dataclass(frozen=True)
class Share:
    """A proportion in [0, 1]: ``point`` when exact, else only ``lower`` ≤ p ≤ ``upper`` is known."""

    point: float | None
    lower: float
    upper: float
    numerator: str
    denominator: str

    @property
    def known(self) -> bool:
        """False when nothing is known (no one in the denominator, or the bounds are 0 and 1)."""
        return self.point is not None or (self.lower > 0.0 or self.upper < 1.0)

    @property
    def display(self) -> str:
        if self.point is not None:
            return f"{100 * self.point:.1f}%"
        if not self.known:
            return "unknown"
        return f"{100 * self.lower:.1f}–{100 * self.upper:.1f}%"

    @property
    def middle(self) -> float:
        """The point, or the middle of the bounds (for colouring a heat-map cell)."""
        return self.point if self.point is not None else (self.lower + self.upper) / 2


def share_of(part: CombinedCount, rest: CombinedCount) -> Share | None:
    """``part / (part + rest)`` from two combined counts; None when the denominator is surely 0.

    With intervals ``part ∈ [a, b]`` and ``rest ∈ [c, d]`` the proportion ``x / (x + y)`` is smallest
    at ``(a, d)`` and largest at ``(b, c)`` (it increases in ``x`` and decreases in ``y``); an unknown
    upper bound (a withheld cell) makes the corresponding bound 0 or 1.

    >>> from genofed.federation import CombinedCount
    >>> share_of(CombinedCount(value=3, lower=3, upper=3, display="3"),
    ...          CombinedCount(value=9, lower=9, upper=9, display="9")).display
    '25.0%'
    """
    denominator = f"{part.display} + {rest.display}"
    if part.value is not None and rest.value is not None:
        total = part.value + rest.value
        if total == 0:
            return None
        return Share(part.value / total, part.value / total, part.value / total, part.display, denominator)
    if part.upper == 0 and rest.upper == 0:
        return None

    def ratio(x: float, y: float | None) -> float:
        if y is None:  # the rest is unbounded above: the share can be arbitrarily small
            return 0.0
        return x / (x + y) if x + y > 0 else 0.0

    low = ratio(part.lower, rest.upper)
    if part.upper is None:
        high = 1.0
    else:
        high = part.upper / (part.upper + rest.lower) if part.upper + rest.lower > 0 else 1.0
    return Share(None, low, high, part.display, denominator)


def explain_cell(count: ReleasedCount, node: str) -> str:
    """Why one node's released number looks as it does, in words."""
    if count.status is CellStatus.SMALL:
        threshold = (count.upper or 0) + 1
        return (
            f"{node} has between {count.lower} and {count.upper} such people; its disclosure policy "
            f"releases no count below {threshold}, so that nobody in a small group can be singled out."
        )
    if count.status is CellStatus.ROUNDED:
        return (
            f"{node} rounds counts (its policy); the true number lies between {count.lower} and "
            f"{count.upper}."
        )
    if count.status is CellStatus.COMPLEMENTARY:
        return (
            f"{node} withheld this number so that a small count elsewhere in the table cannot be worked "
            "out by subtraction from the totals (secondary suppression)."
        )
    return f"{node} released the exact number."


def explain_outcome(outcome: NodeOutcome) -> str:
    """Why a node did not contribute, in words a researcher can act on."""
    reason = outcome.reason or "no reason given"
    if outcome.status is OutcomeStatus.REFUSED:
        if outcome.refusal is RefusalKind.AUTHENTICATION:
            return (
                f"{outcome.node} refused: it did not accept your passport ({reason}). Sign in again, or "
                "ask your broker for a passport this node trusts."
            )
        if outcome.refusal is RefusalKind.AUTHORISATION:
            return (
                f"{outcome.node} refused: your passport does not grant access to its dataset ({reason}). "
                "A data access committee grants it as a ControlledAccessGrants visa."
            )
        return (
            f"{outcome.node} refused under its disclosure policy: {reason}. The node decides what it "
            "releases; the portal cannot override it."
        )
    if outcome.status is OutcomeStatus.TIMED_OUT:
        return f"{outcome.node} did not answer in time ({reason}); its part is missing from the total."
    return f"{outcome.node} could not be asked ({reason}); its part is missing from the total."


def explain_total(total: CombinedCount, missing: Sequence[str]) -> str:
    """What the combined number means, given which parts were exact and who is missing."""
    if total.exact:
        text = "The sum of every answering node's exact count."
    elif total.upper is None:
        text = (
            f"At least {total.lower}: a node withheld a number without bounding it, so only a lower "
            "bound of the sum is known."
        )
    else:
        text = (
            f"A range, not a number: some node showed a small count only as “<k”, so the sum is known "
            f"to lie between {total.lower} and {total.upper}."
        )
    if missing:
        text += f" Without {', '.join(missing)}, which did not contribute (see below)."
    return text
