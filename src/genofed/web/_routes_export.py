"""Downloads of a view: its study as YAML (rerun with ``genofed study run``), results as JSON or CSV,
and its charts as SVG (the page's script turns an SVG into PNG in the browser).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Literal

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import Response

from genofed.api import Study
from genofed.errors import QueryError

from ._deps import CohortDep, PortalDep, UserDep
from ._routes_views import study_for
from ._views import BenefitPanel, benefit_panel, csv_rows, model_panel, mutation_panel, survival_panel

__all__ = ["router", "study_yaml"]

router = APIRouter(prefix="/export", tags=["export"])

View = Literal["cohort", "mutations", "survival", "models", "wgs_benefit"]
Chart = Literal["bars", "heat", "km", "forest", "benefit"]
_CHARTS = {
    "mutations": ("bars", "heat"),
    "survival": ("km",),
    "models": ("forest",),
    "wgs_benefit": ("benefit",),
}


def _filename(study: Study, suffix: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", study.name).strip("-").lower()[:80] or "study"
    return f"{stem}{suffix}"


def _download(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def study_yaml(study: Study) -> str:
    """The study as YAML that ``genofed study run`` reads back to the same :class:`Study`."""
    header = (
        f"# {study.name}\n"
        "# exported by the genofed portal; rerun with:\n"
        "#   genofed study run study.yaml --registry nodes.yaml --token-file passport.jwt\n"
    )
    return header + yaml.safe_dump(
        study.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True
    )


@router.get("/{view}/study.yaml", name="export_study")
def export_study(view: View, request: Request, cohort: CohortDep, user: UserDep) -> Response:
    """The view's study specification."""
    study, _ = study_for(view, request, cohort)
    return _download(study_yaml(study), "application/yaml", _filename(study, ".yaml"))


@router.get("/{view}/results.json", name="export_json")
async def export_json(
    view: View, request: Request, portal: PortalDep, user: UserDep, cohort: CohortDep
) -> Response:
    """Every federated answer of the view's study: per-node outcomes, combined results, who is missing."""
    study, _ = study_for(view, request, cohort)
    result = await portal.run(user, study, concurrent=view == "mutations")
    return _download(result.model_dump_json(indent=1), "application/json", _filename(study, ".json"))


@router.get("/{view}/results.csv", name="export_csv")
async def export_csv(
    view: View, request: Request, portal: PortalDep, user: UserDep, cohort: CohortDep
) -> Response:
    """The view's numbers as one flat table (ranges as lower and upper columns)."""
    study, _ = study_for(view, request, cohort)
    rows = csv_rows(view, await portal.run(user, study, concurrent=view == "mutations"))
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return _download(out.getvalue(), "text/csv; charset=utf-8", _filename(study, ".csv"))


@router.get("/{view}/{chart}.svg", name="export_svg")
async def export_svg(
    view: View, chart: Chart, request: Request, portal: PortalDep, user: UserDep, cohort: CohortDep
) -> Response:
    """One chart of the view as a standalone SVG file."""
    if chart not in _CHARTS.get(view, ()):
        raise QueryError(
            f"chart: the {view} view has {', '.join(_CHARTS.get(view, ())) or 'no'} chart(s), not {chart}"
        )
    study, _ = study_for(view, request, cohort)
    result = await portal.run(user, study, concurrent=view == "mutations")
    if view == "mutations":
        m = mutation_panel(result)
        svg = m.bar if chart == "bars" else m.heat
    else:
        panel = (
            survival_panel(result)
            if view == "survival"
            else benefit_panel(result)
            if view == "wgs_benefit"
            else model_panel(result)
        )
        if isinstance(panel, BenefitPanel) and panel.benefit is not None and panel.chart is None:
            raise QueryError(f"no {chart} chart: no group has exact counts, so none is ranked")
        if panel.chart is None:
            raise QueryError(f"no {chart} chart: no node answered this analysis ({'; '.join(panel.missing)})")
        svg = panel.chart
    return _download(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg),
        "image/svg+xml",
        _filename(study, f"-{chart}.svg"),
    )
