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
import datetime as dt
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
    PopulationSplit,
    ProficiencyAnalysis,
    Study,
    SummaryAnalysis,
    SummaryVariable,
    VariantRef,
    WgsBenefitAnalysis,
)
from genofed.query import CohortFilter

from ._answer import CombinedResult, FederatedAnswer, OutcomeStatus, StudyResult
from ._client import FanOut, Token, Transport
from ._combine import combine, disclosure_effects
from ._combine_benefit import combine_wgs_benefit
from ._iterative import STATISTICS_KINDS, ask_statistics
from ._proficiency import ProficiencyComparison, comparison_from_outcomes
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
        population: PopulationSplit | None = None,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """Allele counts and numbers of ``variants`` among ``cohort``, per node and summed.

        With ``population`` (e.g. ``PopulationSplit(attribute="geographic_origin")``) they are
        split by population, per node (country) and summed per population.
        """
        analysis = AlleleFrequencyAnalysis(variants=tuple(variants), population=population)
        return await self.ask_async(_request(study, cohort, analysis, disclosure), nodes=nodes)

    async def summary_async(
        self,
        cohort: CohortFilter | None,
        variables: Sequence[SummaryVariable],
        by: Sequence[Dimension] = (),
        *,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """Pooled n, mean, SD and 95 % CI of each variable, overall or per group of ``by``."""
        analysis = SummaryAnalysis(variables=tuple(variables), by=tuple(by))
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
        population: PopulationSplit | None = None,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """Synchronous :meth:`allele_frequency_async`."""
        analysis = AlleleFrequencyAnalysis(variants=tuple(variants), population=population)
        return self.ask(_request(study, cohort, analysis, disclosure), nodes=nodes)

    def summary(
        self,
        cohort: CohortFilter | None,
        variables: Sequence[SummaryVariable],
        by: Sequence[Dimension] = (),
        *,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """Synchronous :meth:`summary_async` (``answer.combined`` is a :class:`CombinedSummary`)."""
        analysis = SummaryAnalysis(variables=tuple(variables), by=tuple(by))
        return self.ask(_request(study, cohort, analysis, disclosure), nodes=nodes)

    def wgs_benefit(
        self,
        cohort: CohortFilter | None = None,
        *,
        panel: str = "hotspot50",
        group_by: str | None = None,
        as_of: dt.date | None = None,
        nodes: Sequence[str] | None = None,
        disclosure: DisclosureRequest | None = None,
        study: str = "ad hoc",
    ) -> FederatedAnswer:
        """Which groups gain most from WGS over ``panel`` (``answer.combined``: a CombinedWgsBenefit)."""
        analysis = WgsBenefitAnalysis.model_validate({"panel": panel, "group_by": group_by, "as_of": as_of})
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

    # ----------------------------------------------------------------- proficiency testing

    async def proficiency_async(
        self,
        truth_set: str,
        sample: str,
        *,
        analysis: str | None = None,
        stratified: bool = False,
        nodes: Sequence[str] | None = None,
        alpha: float = 0.05,
        study: str = "proficiency testing",
    ) -> ProficiencyComparison:
        """Each lab benchmarks its calls of reference ``sample`` against ``truth_set``; compare the labs.

        Returns a :class:`ProficiencyComparison`: per lab and Type × Subset × Filter, recall,
        precision and F1 with intervals, tests of homogeneity across labs, and the labs flagged as
        significantly below the others (``docs/qa.md``). Only counts leave the nodes.
        """
        request = _request(
            study,
            None,
            ProficiencyAnalysis(truth_set=truth_set, sample=sample, analysis=analysis, stratified=stratified),
            None,
        )
        targets = self.registry.select(None if nodes is None else list(nodes))
        if self._session is not None:
            outcomes = await self._session.ask(request, targets)
        else:
            async with FanOut(self.registry, token=self._token, transport=self._transport) as fanout:
                outcomes = await fanout.ask(request, targets)
        return comparison_from_outcomes(request, outcomes, alpha=alpha)

    def proficiency(
        self,
        truth_set: str,
        sample: str,
        *,
        analysis: str | None = None,
        stratified: bool = False,
        nodes: Sequence[str] | None = None,
        alpha: float = 0.05,
        study: str = "proficiency testing",
    ) -> ProficiencyComparison:
        """Synchronous :meth:`proficiency_async` (``.table()`` is a pandas DataFrame per lab and row)."""
        request = _request(
            study,
            None,
            ProficiencyAnalysis(truth_set=truth_set, sample=sample, analysis=analysis, stratified=stratified),
            None,
        )
        runner = self._runner()
        targets = self.registry.select(None if nodes is None else list(nodes))
        outcomes = runner.run(runner.fanout.ask(request, targets))
        return comparison_from_outcomes(request, outcomes, alpha=alpha)


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
    combined: CombinedResult | None
    if isinstance(request.analysis, WgsBenefitAnalysis):
        combined, outcomes = combine_wgs_benefit(request.analysis, outcomes)
    elif isinstance(request.analysis, ProficiencyAnalysis):
        combined = None  # labs are compared, not summed: see Federation.proficiency
    else:
        combined, outcomes = combine(request, outcomes)
    return FederatedAnswer(
        request=request,
        outcomes=outcomes,
        combined=combined,
        missing=tuple(o.node for o in outcomes if o.status is not OutcomeStatus.ANSWERED),
        disclosure_effects=disclosure_effects(outcomes),
    )
