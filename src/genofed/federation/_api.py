"""The researcher's Python API: ask every node one question and get the combined answer::

    with Federation.from_registry("nodes.yaml", token=passport) as fed:
        answer = fed.count(CohortFilter(tumour_type="COADREAD", gene="KRAS"))
        answer.count.display, answer.missing        # ('412–416', ('dk',))

Each method exists twice: synchronous (``count``, ``crosstab``, ``allele_frequency``, ``ask``,
``run``), for scripts and notebooks, and asynchronous (``count_async`` and so on), for code that
already runs an event loop. The synchronous methods drive a private event loop on a background
thread, so they also work inside Jupyter (whose own loop is running) and keep their connections
open between calls; ``close()`` -- or a ``with`` block -- ends it. The asynchronous methods use the
connections of an ``async with federation:`` block, or open and close their own for one call.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from genofed.api import (
    AlleleFrequencyAnalysis,
    AnalysisRequest,
    CountAnalysis,
    CrossTabAnalysis,
    Dimension,
    DisclosureRequest,
    Study,
    VariantRef,
)
from genofed.query import CohortFilter

from ._answer import FederatedAnswer, OutcomeStatus, StudyResult
from ._client import FanOut, Token, Transport
from ._combine import combine, disclosure_effects
from ._iterative import STATISTICS_KINDS, ask_statistics
from ._registry import NodeEntry, Registry
from ._spec import load_study

__all__ = ["Federation", "Progress"]

_T = TypeVar("_T")

#: Called after each analysis of a study with its index (0-based) and answer.
Progress = Callable[[int, FederatedAnswer], None]


class _LoopThread:
    """An event loop on a daemon thread, with one :class:`FanOut` opened on it."""

    def __init__(self, fanout: FanOut) -> None:
        self.fanout = fanout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="genofed-federation", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.run(self.fanout.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()


class Federation:
    """A coordinator over the nodes of a registry.

    Parameters
    ----------
    registry
        The nodes and how to reach them (see :meth:`from_registry` to read one from a file).
    token
        The researcher's GA4GH Passport (a JWT), sent to every node, or a mapping from node id to
        passport when each node needs its own audience; None sends no token.
    transport
        An ``httpx.AsyncBaseTransport`` for all nodes, or one per node id (``httpx.ASGITransport`` of
        each node's app, ``httpx.MockTransport``); None uses real HTTP(S).
    """

    def __init__(self, registry: Registry, *, token: Token = None, transport: Transport = None) -> None:
        self.registry = registry
        self._token = token
        self._transport = transport
        self._session: FanOut | None = None
        self._sync: _LoopThread | None = None
        self._sync_lock = threading.Lock()
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @classmethod
    def from_registry(
        cls, path: str | Path | Registry, *, token: Token = None, transport: Transport = None
    ) -> Federation:
        """A federation over the nodes of a registry file (YAML or JSON; see ``docs/federation.md``).

        Raises
        ------
        ConfigError
            The registry cannot be read, or a key in it is wrong (the message names the key).
        """
        registry = path if isinstance(path, Registry) else Registry.load(path)
        return cls(registry, token=token, transport=transport)

    @property
    def nodes(self) -> tuple[NodeEntry, ...]:
        """The registry's nodes."""
        return self.registry.nodes

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the synchronous API's connections and its loop thread (the object stays usable)."""
        with self._sync_lock:
            runner, self._sync = self._sync, None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
        if runner is not None:
            runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        if self._session is None:
            self._session = FanOut(self.registry, token=self._token, transport=self._transport)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.aclose()

    def _runner(self) -> _LoopThread:
        with self._sync_lock:
            if self._sync is None:
                self._sync = _LoopThread(FanOut(self.registry, token=self._token, transport=self._transport))
                # Stop the thread and close connections even if the caller never calls close().
                self._finalizer = weakref.finalize(self, self._sync.close)
            return self._sync

    # ----------------------------------------------------------------- asynchronous API

    async def ask_async(
        self, request: AnalysisRequest, *, nodes: Sequence[str] | None = None
    ) -> FederatedAnswer:
        """Ask the nodes (default: every node) one analysis request and combine their answers."""
        targets = self.registry.select(None if nodes is None else list(nodes))
        if self._session is not None:
            return await _ask(self._session, request, targets)
        async with FanOut(self.registry, token=self._token, transport=self._transport) as fanout:
            return await _ask(fanout, request, targets)

    async def count_async(
        self,
        cohort: CohortFilter | None = None,
        *,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """The number of individuals in ``cohort`` at every node, and in all."""
        return await self.ask_async(_request(study, cohort, CountAnalysis(), disclosure), nodes=nodes)

    async def crosstab_async(
        self,
        cohort: CohortFilter | None,
        rows: Dimension,
        columns: Dimension | None = None,
        *,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """A one- or two-way table of ``cohort`` (e.g. ``SexDimension()`` by ``AgeBandDimension(...)``)."""
        analysis = CrossTabAnalysis(rows=rows, columns=columns)
        return await self.ask_async(_request(study, cohort, analysis, disclosure), nodes=nodes)

    async def allele_frequency_async(
        self,
        cohort: CohortFilter | None,
        variants: Sequence[VariantRef],
        *,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """Allele counts and numbers of ``variants`` among ``cohort``, per node and summed."""
        analysis = AlleleFrequencyAnalysis(variants=tuple(variants))
        return await self.ask_async(_request(study, cohort, analysis, disclosure), nodes=nodes)

    async def run_async(self, study: Study | str | Path, *, progress: Progress | None = None) -> StudyResult:
        """Run every analysis of a study (a :class:`~genofed.api.Study` or a YAML/JSON file), in order.

        Analyses run one after another (each fanned out to all nodes at once), so a node's
        differencing guard sees them in the order the study lists them; ``progress`` is called after
        each with its index and answer.
        """
        spec = study if isinstance(study, Study) else load_study(study)
        targets = self.registry.select(spec.nodes)
        started = datetime.now(UTC)
        answers: list[FederatedAnswer] = []

        async def each(fanout: FanOut) -> None:
            for n, request in enumerate(spec.requests()):
                answer = await _ask(fanout, request, targets)
                answers.append(answer)
                if progress is not None:
                    progress(n, answer)

        if self._session is not None:
            await each(self._session)
        else:
            async with FanOut(self.registry, token=self._token, transport=self._transport) as fanout:
                await each(fanout)
        return StudyResult(study=spec, answers=tuple(answers), started=started, finished=datetime.now(UTC))

    # ----------------------------------------------------------------- synchronous API

    def ask(self, request: AnalysisRequest, *, nodes: Sequence[str] | None = None) -> FederatedAnswer:
        """Synchronous :meth:`ask_async`."""
        runner = self._runner()
        targets = self.registry.select(None if nodes is None else list(nodes))
        return runner.run(_ask(runner.fanout, request, targets))

    def count(
        self,
        cohort: CohortFilter | None = None,
        *,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """The number of individuals in ``cohort`` at every node, and in all.

        Parameters
        ----------
        cohort
            Who to count; None counts everyone each node knows.
        nodes
            Registry ids of the nodes to ask; default every node.
        disclosure
            Stricter disclosure control to ask for (nodes apply the stricter of this and their own).
        study
            A study name for the nodes' audit logs.

        Returns
        -------
        FederatedAnswer
            Each node's outcome and contribution, the combined count (``answer.count``: exact, or an
            interval when some node released "<5"), and the nodes that did not contribute and why.
        """
        return self.ask(_request(study, cohort, CountAnalysis(), disclosure), nodes=nodes)

    def crosstab(
        self,
        cohort: CohortFilter | None,
        rows: Dimension,
        columns: Dimension | None = None,
        *,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """Synchronous :meth:`crosstab_async`: cells summed over nodes as intervals, with margins."""
        analysis = CrossTabAnalysis(rows=rows, columns=columns)
        return self.ask(_request(study, cohort, analysis, disclosure), nodes=nodes)

    def allele_frequency(
        self,
        cohort: CohortFilter | None,
        variants: Sequence[VariantRef],
        *,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """Synchronous :meth:`allele_frequency_async`."""
        analysis = AlleleFrequencyAnalysis(variants=tuple(variants))
        return self.ask(_request(study, cohort, analysis, disclosure), nodes=nodes)

    def run(self, study: Study | str | Path, *, progress: Progress | None = None) -> StudyResult:
        """Synchronous :meth:`run_async`: every analysis of a study, in order."""
        spec = study if isinstance(study, Study) else load_study(study)
        runner = self._runner()
        targets = self.registry.select(spec.nodes)
        started = datetime.now(UTC)
        answers = []
        for n, request in enumerate(spec.requests()):
            answer = runner.run(_ask(runner.fanout, request, targets))
            answers.append(answer)
            if progress is not None:
                progress(n, answer)
        return StudyResult(study=spec, answers=tuple(answers), started=started, finished=datetime.now(UTC))


def _request(
    study: str, cohort: CohortFilter | None, analysis: Any, disclosure: DisclosureRequest | None
) -> AnalysisRequest:
    return AnalysisRequest(
        study=study,
        cohort=cohort if cohort is not None else CohortFilter(),
        analysis=analysis,
        disclosure=disclosure if disclosure is not None else DisclosureRequest(),
    )


async def _ask(fanout: FanOut, request: AnalysisRequest, targets: Sequence[NodeEntry]) -> FederatedAnswer:
    if request.analysis.kind in STATISTICS_KINDS:
        return await ask_statistics(fanout, request, targets)
    outcomes = await fanout.ask(request, targets)
    combined, outcomes = combine(request, outcomes)
    return FederatedAnswer(
        request=request,
        outcomes=outcomes,
        combined=combined,
        missing=tuple(o.node for o in outcomes if o.status is not OutcomeStatus.ANSWERED),
        disclosure_effects=disclosure_effects(outcomes),
    )
