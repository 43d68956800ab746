"""The researcher portal: build a cohort, see every country's answer, look at mutations and survival.

``create_portal(PortalSettings.create("nodes.yaml", broker=...))`` is a FastAPI app the coordinator
serves (``genofed portal --registry nodes.yaml``). Pages are rendered on the server (Jinja2) with a
little plain JavaScript for live counts; charts are server-side SVG; every asset is served by the
portal itself. Users sign in with a GA4GH Passport, kept in a signed HttpOnly cookie and forwarded to
the nodes as the user's own credential.
"""

from ._app import CONTENT_SECURITY_POLICY, create_portal
from ._numbers import Share, share_of
from ._params import cohort_from, cohort_query, describe_cohort
from ._routes_export import study_yaml
from ._session import COOKIE, Session, open_session, passport_claims, seal_session
from ._settings import SECRET_ENV, PortalSettings

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "COOKIE",
    "SECRET_ENV",
    "PortalSettings",
    "Session",
    "Share",
    "cohort_from",
    "cohort_query",
    "create_portal",
    "describe_cohort",
    "open_session",
    "passport_claims",
    "seal_session",
    "share_of",
    "study_yaml",
]
