"""``POST /analyses``: a typed analysis request in, a disclosure-controlled aggregate answer out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from genofed.api import AnalysisRequest, AnalysisResponse, Problem

from ._deps import IdentityDep, NodeDep, RequestIdDep
from ._engine import answer, authorise
from ._problems import PROBLEM_MEDIA_TYPE

__all__ = ["router"]

router = APIRouter(tags=["analyses"])


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


@router.post(
    "/analyses",
    operation_id="createAnalysis",
    response_model=AnalysisResponse,
    responses={
        400: _problem("the study spec is well-formed but wrong (an unknown code, an empty range)"),
        401: _problem("no passport, or a forged, expired or foreign one"),
        403: _problem("access level too low (forbidden), or refused by disclosure control"),
        404: _problem("the node does not hold the dataset"),
        413: _problem("the request body is too large"),
        422: _problem("malformed JSON, unknown or missing fields"),
        503: _problem("the node's store cannot answer now"),
    },
)
def create_analysis(
    body: AnalysisRequest, node: NodeDep, identity: IdentityDep, request_id: RequestIdDep
) -> AnalysisResponse:
    """Answer one analysis of the node's cohort under the node's disclosure policy; every call is audited."""
    dataset = authorise(node, body, identity)
    node.audit.append(
        {
            "type": "analysis",
            "request_id": request_id,
            "researcher": identity.researcher,
            "study": body.study,
            "dataset": dataset,
            "analysis": body.analysis.model_dump(mode="json"),
            "cohort": body.cohort.model_dump(mode="json", exclude_none=True),
            "disclosure": body.disclosure.model_dump(mode="json", exclude_none=True),
            "include_failed_qc": body.include_failed_qc,
        }
    )
    with node.store.including_failed_qc(body.include_failed_qc):
        return answer(node, body, identity, request_id=request_id, dataset=dataset)
