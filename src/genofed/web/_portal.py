"""The portal's runtime: settings, templates, and asking the federation with the user's own passport.

One :class:`Portal` lives in ``app.state.portal``. :meth:`Portal.run` runs a study across the
registry's nodes with the signed-in user's passport -- the portal holds no credential of its own --
and keeps each answer for a short while (per user and study), so that a page and its downloads show
the same numbers without asking the nodes again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from genofed.api import Study
from genofed.federation import Federation, StudyResult, Transport

from ._session import Session
from ._settings import PortalSettings

__all__ = ["CONTENT_SECURITY_POLICY", "NAVIGATION", "Portal"]

#: The views, in the order the navigation lists them: (route name, label, path).
NAVIGATION = (
    ("cohort", "Cohort", "/"),
    ("mutations", "Mutations", "/mutations"),
    ("survival", "Survival", "/survival"),
    ("models", "Models", "/models"),
    ("wgs_benefit", "WGS benefit", "/wgs-benefit"),
    ("patient_report", "Patient report", "/patient-report"),
)

#: Sent with every response: nothing but the portal's own origin (scripts, styles, images, forms).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)
_CACHE_SECONDS = 300.0
_CACHE_ENTRIES = 128


def _query(params: Mapping[str, Any] | list[tuple[str, str]]) -> str:
    items = params.items() if isinstance(params, Mapping) else params
    return urlencode([(k, v) for k, v in items if v not in (None, "")])


class Portal:
    """Settings, the template environment and the answer cache of one portal app."""

    def __init__(self, settings: PortalSettings, *, transport: Transport = None) -> None:
        self.settings = settings
        self.transport = transport
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("genofed.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["query"] = _query
        self._cache: OrderedDict[tuple[str, str], tuple[float, StudyResult]] = OrderedDict()

    def render(
        self, request: Request, template: str, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page (or fragment) from a template, with the signed-in user and navigation in its context."""
        context.setdefault("user", getattr(request.state, "user", None))
        context.setdefault("view", None)
        context.setdefault("cohort_query", "")
        html = self.templates.get_template(template).render(
            request=request, navigation=NAVIGATION, broker=self.settings.broker is not None, **context
        )
        return HTMLResponse(html, status_code=status_code)

    async def run(self, user: Session, study: Study, *, concurrent: bool = False) -> StudyResult:
        """Run ``study`` at every node with ``user``'s passport (a recent identical run is reused).

        With ``concurrent`` the study's analyses are asked at once rather than in order (for
        independent tables, such as one cross-tab per gene); the answers keep the study's order.
        """
        key = (hashlib.sha256(user.token.encode()).hexdigest(), study.model_dump_json())
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < _CACHE_SECONDS:
            self._cache.move_to_end(key)
            return hit[1]
        federation = Federation(self.settings.registry, token=user.token, transport=self.transport)
        if concurrent:
            started = datetime.now(UTC)
            async with federation:
                answers = await asyncio.gather(
                    *(federation.ask_async(r, nodes=study.nodes) for r in study.requests())
                )
            finished = datetime.now(UTC)
            result = StudyResult(study=study, answers=tuple(answers), started=started, finished=finished)
        else:
            result = await federation.run_async(study)
        self._cache[key] = (now, result)
        while len(self._cache) > _CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return result
