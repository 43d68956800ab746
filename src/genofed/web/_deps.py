"""Route dependencies: the portal, the signed-in user, and the cohort a page is about."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from genofed.query import CohortFilter

from ._params import cohort_from
from ._portal import Portal
from ._session import Session, open_session

__all__ = ["CohortDep", "PortalDep", "SignInRequiredError", "UserDep", "current_user", "get_portal"]


class SignInRequiredError(Exception):
    """The page needs a signed-in user; the handler sends them to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in first")
        self.next_url = next_url


def get_portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


PortalDep = Annotated[Portal, Depends(get_portal)]


def current_user(request: Request, portal: PortalDep) -> Session:
    """The user whose passport is in the session cookie; raises :class:`SignInRequiredError` if none."""
    session = open_session(request.cookies, portal.settings.secret)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequiredError(target)
    request.state.user = session
    return session


UserDep = Annotated[Session, Depends(current_user)]


def cohort_filter(request: Request) -> CohortFilter:
    """The cohort in the query string (raises QueryError naming the field when a value is wrong)."""
    return cohort_from(request.query_params)


CohortDep = Annotated[CohortFilter, Depends(cohort_filter)]
