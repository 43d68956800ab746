"""The cohort builder: the form, the live per-node counts, and the OncoTree search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from genofed.errors import QueryError
from genofed.model import CONSEQUENCE_CLASSES, Sex, oncotree
from genofed.query import CohortFilter

from ._deps import CohortDep, PortalDep, UserDep
from ._params import cohort_from, cohort_query, count_study, describe_cohort
from ._views import count_panel

__all__ = ["router"]

router = APIRouter(tags=["cohort"])

#: OncoTree search results shown at once.
MAX_MATCHES = 25


def _tumour_label(code: str | None) -> str:
    if not code or code not in oncotree():
        return ""
    tree = oncotree()
    node = tree.get(code)
    path = " › ".join(tree.get(a).name for a in reversed(tree.ancestors(code)) if a != "TISSUE")
    return f"{node.name} ({node.code})" + (f" — {path}" if path else "")


@router.get("/", response_class=HTMLResponse, name="cohort")
async def cohort_page(request: Request, portal: PortalDep, user: UserDep) -> HTMLResponse:
    """The cohort builder with the counts of the cohort in the query string."""
    error = None
    cohort: CohortFilter | None
    try:
        cohort = cohort_from(request.query_params)
    except QueryError as exc:
        cohort, error = None, str(exc)
    panel = None
    if cohort is not None:
        panel = count_panel((await portal.run(user, count_study(cohort))).answers[0])
    fields = {k: request.query_params.get(k, "") for k in request.query_params}
    return portal.render(
        request,
        "cohort.html.j2",
        view="cohort",
        fields=fields,
        error=error,
        panel=panel,
        description=describe_cohort(cohort) if cohort is not None else "",
        cohort_query=cohort_query(cohort) if cohort is not None else {},
        tumour_label=_tumour_label(fields.get("tumour_type")),
        tissues=_children("TISSUE"),
        sexes=[s.value for s in Sex],
        consequences=sorted(CONSEQUENCE_CLASSES),
    )


@router.get("/fragments/counts", response_class=HTMLResponse, name="counts_fragment")
async def counts_fragment(
    request: Request, portal: PortalDep, user: UserDep, cohort: CohortDep
) -> HTMLResponse:
    """The per-node counts and total of the cohort (an HTML fragment for the builder's script)."""
    panel = count_panel((await portal.run(user, count_study(cohort))).answers[0])
    return portal.render(request, "_counts.html.j2", panel=panel, description=describe_cohort(cohort))


@router.get("/fragments/oncotree", response_class=HTMLResponse, name="oncotree_fragment")
def oncotree_fragment(
    request: Request,
    portal: PortalDep,
    q: Annotated[str, Query(max_length=100)] = "",
    parent: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """OncoTree codes whose code or name contains ``q`` (or the children of ``parent``), with their place."""
    if parent is not None:
        if parent not in oncotree():
            raise QueryError(f"parent: {parent!r} is not an OncoTree code")
        return portal.render(request, "_oncotree.html.j2", items=_children(oncotree().get(parent).code), q="")
    matches = [t for t in oncotree().search(q) if t.code != "TISSUE"][:MAX_MATCHES] if q.strip() else []
    items = [(t.code, t.name, _tumour_label(t.code), _has_children(t.code)) for t in matches]
    return portal.render(request, "_oncotree.html.j2", items=items, q=q)


def _has_children(code: str) -> bool:
    return any(t.parent == code for t in oncotree())


def _children(code: str) -> list[tuple[str, str, str, bool]]:
    kids = sorted((t for t in oncotree() if t.parent == code), key=lambda t: t.name)
    return [(t.code, t.name, _tumour_label(t.code), _has_children(t.code)) for t in kids]
