"""Who is asking, as a node sees it after verifying a GA4GH Passport."""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["ANONYMOUS", "AccessLevel", "Identity"]


class AccessLevel(IntEnum):
    """What a caller may receive; ordered, so ``level >= AccessLevel.REGISTERED`` reads naturally.

    anonymous: booleans and disclosure-controlled existence only; registered: counts; controlled:
    analyses (and record-level data where a node's policy allows) on datasets the caller holds a
    ``ControlledAccessGrants`` visa for.
    """

    ANONYMOUS = 0
    REGISTERED = 1
    CONTROLLED = 2


class Identity(BaseModel):
    """A verified caller."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str | None = None
    issuer: str | None = None
    level: AccessLevel = AccessLevel.ANONYMOUS
    datasets: frozenset[str] = frozenset()
    affiliations: frozenset[str] = frozenset()

    @property
    def researcher(self) -> str:
        """A stable key for per-researcher state (privacy budget, differencing memory)."""
        return f"{self.issuer}|{self.subject}" if self.subject else "anonymous"

    def level_for(self, dataset: str) -> AccessLevel:
        """The access level for one dataset: controlled only with a grant for it."""
        if dataset in self.datasets:
            return AccessLevel.CONTROLLED
        return min(self.level, AccessLevel.REGISTERED)


ANONYMOUS = Identity()
