"""The analysis views: mutation frequency, survival, models, and the WGS-benefit ranking.

Each view reads its options from the query string, runs its study (:mod:`genofed.web._params`) with
the user's passport and renders the answer with the per-node outcomes beside it.
"""

from __future__ import annotations

import typing

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from genofed.api import Study
from genofed.model import Sex

from ._deps import CohortDep, PortalDep, UserDep
from ._params import (
    BenefitOptions,
    ModelKind,
    ModelOptions,
    MutationOptions,
    Stratifier,
    SurvivalOptions,
    benefit_study,
    cohort_query,
    count_study,
    describe_cohort,
    model_study,
    mutation_study,
    survival_study,
)
from ._views import benefit_panel, count_panel, model_panel, mutation_panel, survival_panel

__all__ = ["router", "study_for"]

router = APIRouter(tags=["views"])


def study_for(view: str, request: Request, cohort: typing.Any) -> tuple[Study, typing.Any]:
    """The study a view asks, and its parsed options (QueryError names a wrong option)."""
    params = request.query_params
    if view == "cohort":
        return count_study(cohort), None
    if view == "mutations":
        m = MutationOptions.parse(params, cohort)
        return mutation_study(cohort, m), m
    if view == "survival":
        s = SurvivalOptions.parse(params, cohort)
        return survival_study(cohort, s), s
    if view == "models":
        o = ModelOptions.parse(params, cohort, covariates=params.getlist("covariate"))
        return model_study(cohort, o), o
    if view == "wgs_benefit":
        b = BenefitOptions.parse(params)
        return benefit_study(cohort, b), b
    raise KeyError(view)


def _page(
    request: Request, portal: typing.Any, template: str, view: str, cohort: typing.Any, **extra: typing.Any
) -> HTMLResponse:
    return portal.render(  # type: ignore[no-any-return]
        request,
        template,
        view=view,
        cohort=cohort,
        description=describe_cohort(cohort),
        cohort_query=cohort_query(cohort),
        **extra,
    )


@router.get("/mutations", response_class=HTMLResponse, name="mutations")
async def mutations(request: Request, portal: PortalDep, user: UserDep, cohort: CohortDep) -> HTMLResponse:
    """Mutation frequency per gene (bar chart) and per gene and tumour type (heat map)."""
    study, options = study_for("mutations", request, cohort)
    result = await portal.run(user, study, concurrent=True)
    return _page(
        request, portal, "mutations.html.j2", "mutations", cohort,
        options=options, panel=mutation_panel(result), count=count_panel(result.answers[0]),
        view_query=list(options.query().items()),
    )  # fmt: skip


@router.get("/survival", response_class=HTMLResponse, name="survival")
async def survival(request: Request, portal: PortalDep, user: UserDep, cohort: CohortDep) -> HTMLResponse:
    """Kaplan–Meier curves with confidence bands and the log-rank test, by a chosen stratifier."""
    study, options = study_for("survival", request, cohort)
    result = await portal.run(user, study)
    return _page(
        request, portal, "survival.html.j2", "survival", cohort,
        options=options, panel=survival_panel(result), count=count_panel(result.answers[0]),
        stratifiers=[(s.value, SurvivalOptions.LABELS[s]) for s in Stratifier],
        view_query=list(options.query().items()),
    )  # fmt: skip


@router.get("/models", response_class=HTMLResponse, name="models")
async def models(request: Request, portal: PortalDep, user: UserDep, cohort: CohortDep) -> HTMLResponse:
    """A Cox model of overall survival (stratified by node) or a GLM, as a forest plot and a table."""
    study, options = study_for("models", request, cohort)
    result = await portal.run(user, study)
    return _page(
        request, portal, "models.html.j2", "models", cohort,
        options=options, panel=model_panel(result), count=count_panel(result.answers[0]),
        kinds=[k.value for k in ModelKind], sexes=[s.value for s in Sex],
        view_query=options.query(),
    )  # fmt: skip


@router.get("/wgs-benefit", response_class=HTMLResponse, name="wgs_benefit")
async def wgs_benefit(request: Request, portal: PortalDep, user: UserDep, cohort: CohortDep) -> HTMLResponse:
    """Which tumour types (and groups) gain most actionable findings from WGS over a panel, ranked."""
    study, options = study_for("wgs_benefit", request, cohort)
    result = await portal.run(user, study)
    return _page(
        request, portal, "wgs_benefit.html.j2", "wgs_benefit", cohort,
        options=options, panel=benefit_panel(result), count=count_panel(result.answers[0]),
        panels=list(BenefitOptions.PANELS.items()), groupings=list(BenefitOptions.GROUPINGS.items()),
        view_query=options.query(),
    )  # fmt: skip
