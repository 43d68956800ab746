"""What a page asks the federation, read from its query string: the cohort and each view's options.

Every page of the portal is addressed by its URL: the cohort builder's fields (``tumour_type``,
``sex``, ``age_min``, ``age_max``, ``gene``, ``protein_change``, ``consequence``) and the view's own
options travel in the query string, so a page can be bookmarked, shared and exported. Each view turns
its parameters into a :class:`~genofed.api.Study` -- the very object ``genofed study run`` reads from
YAML -- so what the page shows and what the exported study reruns are the same question.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from genofed.api import (
    BENEFIT_GROUPINGS,
    AgeBandDimension,
    AgeCovariate,
    CountAnalysis,
    CoxAnalysis,
    CrossTabAnalysis,
    Dimension,
    GeneStatusCovariate,
    GeneStatusDimension,
    GlmAnalysis,
    GlmFamily,
    KaplanMeierAnalysis,
    Outcome,
    SexCovariate,
    SexDimension,
    Study,
    TumourTypeCovariate,
    TumourTypeDimension,
    WgsBenefitAnalysis,
)
from genofed.errors import QueryError
from genofed.model import oncotree
from genofed.query import CohortFilter

__all__ = [
    "BENEFIT_PANELS",
    "COHORT_FIELDS",
    "DEFAULT_GENES",
    "DEFAULT_TUMOUR_TYPES",
    "MAX_GENES",
    "BenefitOptions",
    "ModelKind",
    "ModelOptions",
    "MutationOptions",
    "Stratifier",
    "SurvivalOptions",
    "benefit_study",
    "cohort_from",
    "cohort_query",
    "count_study",
    "describe_cohort",
    "model_study",
    "mutation_study",
    "survival_study",
]

#: The cohort builder's fields: exactly the fields of the node API's cohort filter.
COHORT_FIELDS = ("tumour_type", "sex", "age_min", "age_max", "gene", "protein_change", "consequence")
DEFAULT_GENES = ("KRAS", "NRAS", "BRAF", "TP53", "APC", "PIK3CA", "EGFR", "BRCA2")
DEFAULT_TUMOUR_TYPES = ("COADREAD", "BREAST", "LUNG", "MEL", "PANCREAS", "PROSTATE")
#: One cross-tab per gene is asked of every node: keep a page's questions bounded.
MAX_GENES = 12
MAX_TUMOUR_TYPES = 12
_SPLIT = re.compile(r"[\s,;]+")

Params = Mapping[str, str]


def _text(params: Params, name: str) -> str | None:
    value = (params.get(name) or "").strip()
    return value or None


def _number(params: Params, name: str) -> float | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise QueryError(f"{name}: {value!r} is not a number (age in years, e.g. 50)") from None


def cohort_from(params: Params) -> CohortFilter:
    """The cohort filter the builder's fields describe (empty fields are left out).

    Raises
    ------
    QueryError
        A field is wrong (unknown OncoTree code, a gene that is not a symbol, age_min > age_max...);
        the message names the field.
    """
    data: dict[str, Any] = {}
    for name in COHORT_FIELDS:
        if name in ("age_min", "age_max"):
            number = _number(params, name)
            if number is not None:
                data[name] = number
        else:
            value = _text(params, name)
            if value is not None:
                data[name] = value.upper() if name in ("tumour_type", "gene") else value
    return CohortFilter(**data)


def cohort_query(cohort: CohortFilter) -> dict[str, str]:
    """The query-string fields of a cohort (the inverse of :func:`cohort_from`)."""
    out: dict[str, str] = {}
    for name, value in cohort.model_dump(mode="json", exclude_none=True).items():
        out[name] = f"{value:g}" if isinstance(value, float) else str(value)
    return out


def describe_cohort(cohort: CohortFilter) -> str:
    """The cohort in words, e.g. ``Colorectal Adenocarcinoma (COADREAD), KRAS mutated``."""
    parts = []
    if cohort.tumour_type:
        parts.append(f"{oncotree().get(cohort.tumour_type).name} ({cohort.tumour_type})")
    if cohort.gene or cohort.protein_change or cohort.consequence:
        variant = " ".join(v for v in (cohort.gene, cohort.protein_change) if v)
        kind = f" {cohort.consequence}" if cohort.consequence else ""
        parts.append(f"{variant or 'any gene'}{kind} mutated")
    if cohort.sex:
        parts.append(str(cohort.sex.value))
    if cohort.age_min is not None or cohort.age_max is not None:
        low = f"{cohort.age_min:g}" if cohort.age_min is not None else "any"
        high = f"{cohort.age_max:g}" if cohort.age_max is not None else "any"
        parts.append(f"aged {low}–{high} at diagnosis")
    return ", ".join(parts) if parts else "everyone"


def _list(params: Params, name: str, default: Sequence[str], limit: int) -> tuple[str, ...]:
    value = _text(params, name)
    items = [v.upper() for v in _SPLIT.split(value) if v] if value is not None else list(default)
    unique = tuple(dict.fromkeys(items))
    if not unique:
        raise QueryError(f"{name}: give at least one")
    if len(unique) > limit:
        raise QueryError(f"{name}: at most {limit} at once (got {len(unique)})")
    return unique


def _tumour_types(codes: Sequence[str]) -> tuple[str, ...]:
    tree = oncotree()
    unknown = [c for c in codes if c not in tree]
    if unknown:
        raise QueryError(f"tumour_types: not OncoTree codes: {', '.join(unknown)}")
    return tuple(tree.get(c).code for c in codes)


def count_study(cohort: CohortFilter) -> Study:
    """How many people are in the cohort at each node."""
    return Study(name=_name("cohort", cohort), cohort=cohort, analyses=(CountAnalysis(),))


def _name(view: str, cohort: CohortFilter) -> str:
    return f"portal {view}: {describe_cohort(cohort)}"[:200]


@dataclass(frozen=True)
class MutationOptions:
    """Genes and tumour types of the mutation-frequency view."""

    genes: tuple[str, ...]
    tumour_types: tuple[str, ...]

    @classmethod
    def parse(cls, params: Params, cohort: CohortFilter) -> MutationOptions:
        default_genes = (
            (cohort.gene, *(g for g in DEFAULT_GENES if g != cohort.gene)) if cohort.gene else DEFAULT_GENES
        )
        genes = _list(params, "genes", default_genes, MAX_GENES)
        default_types: tuple[str, ...] = DEFAULT_TUMOUR_TYPES
        if cohort.tumour_type:
            # Children first, then the code itself: each person goes to the first listed code whose
            # subtree holds them, so the last column gathers those recorded at the parent's level.
            children = tuple(t.code for t in oncotree() if t.parent == cohort.tumour_type)
            default_types = (*children[: MAX_TUMOUR_TYPES - 1], cohort.tumour_type)
        codes = _list(params, "tumour_types", default_types, MAX_TUMOUR_TYPES)
        # Validate every code and gene here, where the message can name the field.
        _tumour_types(codes)
        for gene in genes:
            CohortFilter(gene=gene)
        return cls(genes=genes, tumour_types=_tumour_types(codes))

    def query(self) -> dict[str, str]:
        return {"genes": ",".join(self.genes), "tumour_types": ",".join(self.tumour_types)}


def mutation_study(cohort: CohortFilter, options: MutationOptions) -> Study:
    """Count, then one gene-status × tumour-type cross-tab per gene."""
    tumour = TumourTypeDimension(codes=options.tumour_types)
    tables = tuple(CrossTabAnalysis(rows=GeneStatusDimension(gene=g), columns=tumour) for g in options.genes)
    return Study(name=_name("mutation frequency", cohort), cohort=cohort, analyses=(CountAnalysis(), *tables))


class Stratifier(StrEnum):
    """What the survival curves are split by."""

    NONE = "none"
    GENE = "gene"
    SEX = "sex"
    AGE = "age"
    TUMOUR_TYPE = "tumour_type"


_STRATIFIER_LABELS = {
    Stratifier.NONE: "no split (one curve)",
    Stratifier.GENE: "mutation status of a gene",
    Stratifier.SEX: "sex",
    Stratifier.AGE: "age at diagnosis (<50, 50–64, ≥65)",
    Stratifier.TUMOUR_TYPE: "tumour type",
}


def _choice(params: Params, name: str, enum: type[StrEnum], default: StrEnum) -> Any:
    value = _text(params, name)
    if value is None:
        return default
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise QueryError(f"{name}: {value!r} is not one of {allowed}") from None


@dataclass(frozen=True)
class SurvivalOptions:
    """Stratifier, gene (for a gene split), tumour types (for a tumour split) and the public grid."""

    stratifier: Stratifier
    gene: str
    tumour_types: tuple[str, ...]
    horizon_years: int
    step_days: float

    LABELS = _STRATIFIER_LABELS

    @classmethod
    def parse(cls, params: Params, cohort: CohortFilter) -> SurvivalOptions:
        default = Stratifier.SEX if cohort.gene else Stratifier.GENE
        stratifier = _choice(params, "stratifier", Stratifier, default)
        gene = (_text(params, "strat_gene") or cohort.gene or "KRAS").upper()
        CohortFilter(gene=gene)
        types = _tumour_types(_list(params, "tumour_types", DEFAULT_TUMOUR_TYPES, MAX_TUMOUR_TYPES))
        horizon = _number(params, "horizon") or 5
        step = _number(params, "step") or 182.5
        if not 1 <= horizon <= 20:
            raise QueryError(f"horizon: {horizon:g} years is outside 1–20")
        if not 30 <= step <= 730:
            raise QueryError(f"step: {step:g} days is outside 30–730")
        return cls(stratifier, gene, types, int(horizon), step)

    def group(self) -> Dimension | None:
        if self.stratifier is Stratifier.GENE:
            return GeneStatusDimension(gene=self.gene)
        if self.stratifier is Stratifier.SEX:
            return SexDimension()
        if self.stratifier is Stratifier.AGE:
            return AgeBandDimension(edges=(50, 65))
        if self.stratifier is Stratifier.TUMOUR_TYPE:
            return TumourTypeDimension(codes=self.tumour_types)
        return None

    def grid(self) -> tuple[float, ...]:
        end = self.horizon_years * 365.25
        points, t = [], 0.0
        while t <= end + 1e-9:
            points.append(round(t, 2))
            t += self.step_days
        return tuple(points)

    def query(self) -> dict[str, str]:
        return {
            "stratifier": self.stratifier.value,
            "strat_gene": self.gene,
            "tumour_types": ",".join(self.tumour_types),
            "horizon": str(self.horizon_years),
            "step": f"{self.step_days:g}",
        }


def survival_study(cohort: CohortFilter, options: SurvivalOptions) -> Study:
    """Count, then Kaplan–Meier by the stratifier on the public grid."""
    km = KaplanMeierAnalysis(group=options.group(), grid=options.grid(), min_at_risk=10)
    return Study(name=_name("survival", cohort), cohort=cohort, analyses=(CountAnalysis(), km))


class ModelKind(StrEnum):
    """Which federated model the models view fits."""

    COX = "cox"
    GLM = "glm"


_FAMILY = {
    Outcome.RESPONSE: GlmFamily.BINOMIAL,
    Outcome.DECEASED: GlmFamily.BINOMIAL,
    Outcome.SURVIVAL_DAYS: GlmFamily.GAUSSIAN,
}


@dataclass(frozen=True)
class ModelOptions:
    """The model kind, its covariates and (GLM) its outcome."""

    kind: ModelKind
    genes: tuple[str, ...]
    age: bool
    sex: bool
    tumour_type: str | None
    outcome: Outcome

    @classmethod
    def parse(cls, params: Params, cohort: CohortFilter, *, covariates: Sequence[str]) -> ModelOptions:
        """Options from the query string; ``covariates`` are the ticked ``covariate`` boxes.

        Before the form was first submitted (no ``submitted`` field) the covariates default to
        age, sex and -- unless the cohort already fixes a gene, which would make it constant --
        KRAS status, as in the demo's survival study.
        """
        kind = _choice(params, "model", ModelKind, ModelKind.COX)
        if _text(params, "submitted") is None:
            chosen = {"age", "sex"} | (set() if cohort.gene else {"gene"})
        else:
            chosen = set(covariates)
        unknown = chosen - {"gene", "age", "sex", "tumour_type"}
        if unknown:
            raise QueryError(
                f"covariate: {', '.join(sorted(unknown))} is not one of gene, age, sex, tumour_type"
            )
        genes = _list(params, "model_genes", ("KRAS",), 10) if "gene" in chosen else ()
        for gene in genes:
            CohortFilter(gene=gene)
        tumour = (_text(params, "model_tumour_type") or "").upper() or None
        if "tumour_type" in chosen:
            if tumour is None:
                raise QueryError("model_tumour_type: give the OncoTree code of the tumour-type covariate")
            tumour = TumourTypeCovariate(code=tumour).code
        outcome = _choice(params, "outcome", Outcome, Outcome.DECEASED)
        options = cls(
            kind,
            genes,
            "age" in chosen,
            "sex" in chosen,
            tumour if "tumour_type" in chosen else None,
            outcome,
        )
        if kind is ModelKind.COX and not options.covariates():
            raise QueryError("covariate: a Cox model needs at least one covariate")
        return options

    def covariates(self) -> tuple[Any, ...]:
        out: list[Any] = [GeneStatusCovariate(gene=g) for g in self.genes]
        if self.age:
            out.append(AgeCovariate())
        if self.sex:
            out.append(SexCovariate())
        if self.tumour_type:
            out.append(TumourTypeCovariate(code=self.tumour_type))
        return tuple(out)

    def analysis(self) -> CoxAnalysis | GlmAnalysis:
        if self.kind is ModelKind.COX:
            return CoxAnalysis(covariates=self.covariates())
        return GlmAnalysis(outcome=self.outcome, family=_FAMILY[self.outcome], covariates=self.covariates())

    def query(self) -> list[tuple[str, str]]:
        items = [("model", self.kind.value), ("outcome", self.outcome.value), ("submitted", "1")]
        items += [("covariate", "gene"), ("model_genes", ",".join(self.genes))] if self.genes else []
        items += [("covariate", "age")] if self.age else []
        items += [("covariate", "sex")] if self.sex else []
        items += (
            [("covariate", "tumour_type"), ("model_tumour_type", self.tumour_type)]
            if self.tumour_type
            else []
        )
        return items


def model_study(cohort: CohortFilter, options: ModelOptions) -> Study:
    """Count, then the Cox or GLM fit."""
    return Study(
        name=_name(f"{options.kind.value} model", cohort),
        cohort=cohort,
        analyses=(CountAnalysis(), options.analysis()),
    )


#: The panels every node holds by name (``genofed.cds.PACKAGED_PANELS``; the portal does not import
#: ``cds``): a targeted hotspot panel and a broad one.
BENEFIT_PANELS = ("hotspot50", "gms560")
_BENEFIT_PANEL_LABELS = {
    "hotspot50": "hotspot50: 50-gene cancer hotspot panel",
    "gms560": "gms560: GMS560-like comprehensive panel (fusions, TMB, MSI)",
}
_GROUPING_LABELS = {
    "sex": "sex",
    "stage": "stage of the primary diagnosis",
    "metastatic": "metastatic or not",
    "age_band": "age at diagnosis (decades)",
}


@dataclass(frozen=True)
class BenefitOptions:
    """The WGS-benefit view's panel, optional second grouping and optional as-of date."""

    panel: str
    group_by: str | None
    as_of: dt.date | None

    PANELS = _BENEFIT_PANEL_LABELS
    GROUPINGS = _GROUPING_LABELS

    @classmethod
    def parse(cls, params: Params) -> BenefitOptions:
        """Options from the query string (QueryError names a wrong field)."""
        panel = _text(params, "panel") or BENEFIT_PANELS[0]
        if panel not in BENEFIT_PANELS:
            raise QueryError(f"panel: {panel!r} is not one of {', '.join(BENEFIT_PANELS)}")
        group_by = _text(params, "group_by")
        if group_by in (None, "none"):
            group_by = None
        elif group_by not in BENEFIT_GROUPINGS:
            raise QueryError(f"group_by: {group_by!r} is not one of none, {', '.join(BENEFIT_GROUPINGS)}")
        as_of = _date(params, "as_of")
        return cls(panel, group_by, as_of)

    def analysis(self) -> WgsBenefitAnalysis:
        return WgsBenefitAnalysis.model_validate(
            {"panel": self.panel, "group_by": self.group_by, "as_of": self.as_of}
        )

    def query(self) -> list[tuple[str, str]]:
        items = [("panel", self.panel)]
        items += [("group_by", self.group_by)] if self.group_by else []
        items += [("as_of", self.as_of.isoformat())] if self.as_of else []
        return items


def _date(params: Params, name: str) -> dt.date | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}: {value!r} is not a date (YYYY-MM-DD, e.g. 2019-01-01)") from None


def benefit_study(cohort: CohortFilter, options: BenefitOptions) -> Study:
    """Count, then the WGS-benefit analysis of the cohort."""
    return Study(
        name=_name(f"WGS benefit over {options.panel}", cohort),
        cohort=cohort,
        analyses=(CountAnalysis(), options.analysis()),
    )
