"""A node's disclosure policy: the rules every released number passes, owned by the node.

The policy is read from the node's own YAML file at start-up and validated strictly. A study may ask
for *stricter* settings (a larger minimum cell count, coarser rounding) but never weaker ones:
:meth:`DisclosurePolicy.tightened` takes the stricter of each setting, so the coordinator cannot
weaken what a node releases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genofed.errors import ConfigError

__all__ = [
    "DifferencingGuardSettings",
    "DifferentialPrivacySettings",
    "DisclosurePolicy",
    "StatisticsLimits",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DifferencingGuardSettings(_Strict):
    """Refuse cohorts that differ from an already answered one by a few individuals (tracker attacks)."""

    enabled: bool = True
    min_difference: int | None = Field(
        default=None,
        ge=1,
        description="smallest allowed non-zero difference; default: the minimum cell count",
    )


class DifferentialPrivacySettings(_Strict):
    """Optional noise on released counts: discrete Gaussian under zero-concentrated DP (OpenDP)."""

    enabled: bool = False
    rho_per_count: float = Field(default=0.01, gt=0, description="zCDP cost ρ of releasing one count")
    rho_budget: float = Field(default=1.0, gt=0, description="total ρ a researcher may spend at this node")


class StatisticsLimits(_Strict):
    """Limits on model-fitting releases (score vectors and information matrices)."""

    min_rows: int = Field(default=10, ge=1, description="refuse a fit on fewer rows at this node")
    max_parameters_per_row: float = Field(default=0.1, gt=0, le=1, description="refuse when p/N exceeds this")
    release_extremes: bool = Field(
        default=False, description="summaries may release a group's minimum and maximum (individual values)"
    )


class DisclosurePolicy(_Strict):
    """What a node releases, and how. Defaults follow common national statistical practice."""

    min_cell_count: int = Field(
        default=5, ge=1, description="non-zero counts below this are not released exactly"
    )
    rounding_base: int = Field(
        default=1, ge=1, description="released counts are rounded to a multiple of this"
    )
    secondary_suppression: bool = Field(
        default=True, description="suppress further cells so that no suppressed cell follows from the margins"
    )
    rare_allele_min_carriers: int = Field(
        default=5, ge=1, description="anonymous users do not learn that an allele with fewer carriers exists"
    )
    differencing: DifferencingGuardSettings = DifferencingGuardSettings()
    differential_privacy: DifferentialPrivacySettings = DifferentialPrivacySettings()
    statistics: StatisticsLimits = StatisticsLimits()

    @property
    def min_difference(self) -> int:
        """Smallest non-zero difference the differencing guard allows between answered cohorts."""
        return self.differencing.min_difference or self.min_cell_count

    @classmethod
    def from_yaml(cls, path: str | Path) -> DisclosurePolicy:
        """Read and validate a policy file; errors name the file and the offending key."""
        file = Path(path)
        try:
            data: Any = yaml.safe_load(file.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{file}: cannot read the disclosure policy: {exc}") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"{file}: invalid disclosure policy: {problems}") from exc

    def tightened(
        self, *, min_cell_count: int | None = None, rounding_base: int | None = None
    ) -> DisclosurePolicy:
        """This policy made stricter by a study's request; a weaker request changes nothing.

        >>> DisclosurePolicy().tightened(min_cell_count=3).min_cell_count
        5
        >>> DisclosurePolicy().tightened(min_cell_count=10).min_cell_count
        10
        """
        return self.model_copy(
            update={
                "min_cell_count": max(self.min_cell_count, min_cell_count or 0),
                "rounding_base": max(self.rounding_base, rounding_base or 0),
            }
        )
