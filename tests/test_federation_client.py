"""The coordinator against nodes simulated with ``httpx.MockTransport``: fan-out, retries, bad answers.

Each simulated node is a handler that answers ``POST /analyses`` (or misbehaves); the registry routes
by host (``http://se.test`` and so on). Registries use a tiny backoff so retries cost milliseconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genofed.api import (
    AnalysisRequest,
    AnalysisResponse,
    CountResult,
    CrossTabResult,
    DisclosureStatement,
    NodeIdentity,
    Study,
)
from genofed.errors import ConfigError
from genofed.federation import (
    Federation,
    OutcomeStatus,
    RefusalKind,
    Registry,
    load_study,
    render_report,
)
from genofed.privacy import DisclosurePolicy, protect_table, release_count
from genofed.query import CohortFilter

Handler = Callable[[httpx.Request], httpx.Response]
COUNTS = {"se": 120, "nl": 3, "dk": 45}
COUNTRIES = {"se": "SE", "nl": "NL", "dk": "DK"}


def _registry(timeout: float = 5.0, retries: int = 2, **node_extra: dict[str, object]) -> Registry:
    return Registry.from_data(
        {
            "timeout": timeout,
            "retries": retries,
            "backoff": 0.001,
            "nodes": [
                {"id": n, "url": f"http://{n}.test", "country": c, **node_extra.get(n, {})}
                for n, c in COUNTRIES.items()
            ],
        }
    )


def _statement() -> DisclosureStatement:
    return DisclosureStatement(
        min_cell_count=5,
        rounding_base=1,
        secondary_suppression=True,
        differential_privacy=False,
        applied=("counts below 5 shown as <5",),
    )


def _answer(node: str, request: httpx.Request) -> httpx.Response:
    """A well-behaved node: the analysis asked, with its count released under the default policy."""
    asked = AnalysisRequest.model_validate_json(request.content)
    if asked.analysis.kind == "crosstab":
        n = COUNTS[node]
        result: CountResult | CrossTabResult = CrossTabResult(
            row_labels=("all",),
            column_labels=("female", "male"),
            table=protect_table([[n // 2, n - n // 2]], DisclosurePolicy()),
        )
    else:
        result = CountResult(count=release_count(COUNTS[node], DisclosurePolicy()))
    response = AnalysisResponse(
        node=NodeIdentity(node_id=node, country=COUNTRIES[node], name=f"{node} node"),
        request_id=f"{node}-1",
        study=asked.study,
        result=result,
        disclosure=_statement(),
    )
    return httpx.Response(200, json=response.model_dump(mode="json"))


def _problem(status: int, kind: str, detail: str) -> httpx.Response:
    body = {"type": f"https://genofed.org/problems/{kind}", "title": kind, "status": status, "detail": detail}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def _transport(overrides: dict[str, Handler] | None = None) -> httpx.MockTransport:
    overrides = overrides or {}

    def route(request: httpx.Request) -> httpx.Response:
        node = request.url.host.removesuffix(".test")
        assert request.url.path == "/analyses"
        if node in overrides:
            return overrides[node](request)
        return _answer(node, request)

    return httpx.MockTransport(route)


def _federation(overrides: dict[str, Handler] | None = None, **kwargs: object) -> Federation:
    registry = kwargs.pop("registry", None) or _registry()
    assert isinstance(registry, Registry)
    return Federation(registry, transport=_transport(overrides), token=kwargs.pop("token", "T"))  # type: ignore[arg-type]


def test_count__three_nodes_combine_with_the_small_cell_as_an_interval() -> None:
    with _federation() as fed:
        answer = fed.count(CohortFilter(tumour_type="COADREAD"))
    assert answer.complete
    assert answer.missing == ()
    assert [o.status for o in answer.outcomes] == [OutcomeStatus.ANSWERED] * 3
    assert answer.outcome("nl").response is not None
    assert answer.outcome("nl").response.result.count.display == "<5"  # type: ignore[union-attr]
    assert (answer.count.lower, answer.count.upper, answer.count.display) == (166, 169, "166–169")
    assert answer.count.contains(sum(COUNTS.values()))
    assert "nl: counts below 5 shown as <5" in answer.disclosure_effects  # the node's own statement


def test_count__a_refusing_node_is_named_with_its_reason() -> None:
    refuse = {"dk": lambda r: _problem(403, "disclosure-refused", "the cohort is below 5 here")}
    with _federation(refuse) as fed:
        answer = fed.count()
    dk = answer.outcome("dk")
    assert (dk.status, dk.refusal, dk.http_status, dk.attempts) == (
        OutcomeStatus.REFUSED,
        RefusalKind.DISCLOSURE,
        403,
        1,
    )
    assert dk.reason == "disclosure: the cohort is below 5 here"
    assert answer.missing == ("dk",)
    assert answer.missing_reasons() == {"dk": "refused: disclosure: the cohort is below 5 here"}
    assert (answer.count.lower, answer.count.upper) == (121, 124)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(200, content=b'{"node": {', headers={"content-type": "application/json"}),
            "invalid JSON",
        ),
        (httpx.Response(200, json={"count": 12}), "does not follow the contract"),
        (httpx.Response(200, html="<html><body>proxy login</body></html>"), "content type text/html"),
        (
            httpx.Response(200, content=b"\xff\xfe\x00garbage", headers={"content-type": "application/json"}),
            "invalid JSON",
        ),
        (httpx.Response(404, text="no such route"), "rejected the request (404): no such route"),
        (_problem(422, "invalid-request", "analysis.kind: unknown"), "(422): analysis.kind: unknown"),
        (httpx.Response(302, headers={"location": "http://elsewhere"}), "redirected"),
    ],
)
def test_ask__a_node_answering_garbage_is_a_named_failure(response: httpx.Response, expected: str) -> None:
    calls: list[int] = []

    def garbage(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return response

    with _federation({"nl": garbage}) as fed:
        answer = fed.count()
    nl = answer.outcome("nl")
    assert nl.status is OutcomeStatus.FAILED
    assert expected in (nl.reason or "")
    assert len(calls) == 1, "a 2xx, 3xx or 4xx answer is final: no retry"
    assert answer.missing == ("nl",)
    assert answer.count.value == COUNTS["se"] + COUNTS["dk"]


def test_ask__a_wrong_kind_or_impossible_interval_is_a_named_failure() -> None:
    def crosstab_instead(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        body["analysis"] = {"kind": "crosstab", "rows": {"kind": "sex"}}
        return _answer("se", httpx.Request("POST", request.url, content=json.dumps(body)))

    def impossible(request: httpx.Request) -> httpx.Response:
        data = _answer("dk", request).json()
        data["result"]["count"] = {"value": None, "lower": 9, "upper": 2, "status": "small", "display": "<5"}
        return httpx.Response(200, json=data)

    with _federation({"se": crosstab_instead, "dk": impossible}) as fed:
        answer = fed.count()
    assert answer.outcome("se").reason == "it answered a crosstab result to a count request"
    assert answer.outcome("dk").reason == "result.count: impossible interval [9, 2]"
    assert answer.missing == ("se", "dk")


def test_ask__a_server_error_is_retried_until_it_succeeds() -> None:
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return _problem(500, "internal-error", "database busy")
        return _answer("se", request)

    with _federation({"se": flaky}) as fed:
        answer = fed.count()
    se = answer.outcome("se")
    assert (se.status, se.attempts, len(calls)) == (OutcomeStatus.ANSWERED, 2, 2)
    assert answer.complete


def test_ask__persistent_server_errors_and_refused_connections_fail_after_the_retries() -> None:
    calls = {"se": 0, "dk": 0}

    def down(request: httpx.Request) -> httpx.Response:
        calls["se"] += 1
        return httpx.Response(503, text="maintenance")

    def unreachable(request: httpx.Request) -> httpx.Response:
        calls["dk"] += 1
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with _federation({"se": down, "dk": unreachable}, registry=_registry(retries=3)) as fed:
        answer = fed.count()
    assert calls == {"se": 4, "dk": 4}
    se, dk = answer.outcome("se"), answer.outcome("dk")
    assert se.status is OutcomeStatus.FAILED
    assert se.reason == "server error 503: maintenance (4 attempts)"
    assert dk.status is OutcomeStatus.FAILED
    assert dk.reason == "cannot reach http://dk.test/analyses: [Errno 111] Connection refused (4 attempts)"
    assert answer.count.display == "1–4"  # only nl answered, with "<5"


def test_ask__a_node_that_hangs_times_out_within_its_budget() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    registry = _registry(nl={"timeout": 0.3})
    transport = httpx.MockTransport(
        lambda r: hang(r) if r.url.host == "nl.test" else _answer(r.url.host.removesuffix(".test"), r)  # type: ignore[arg-type,return-value]
    )
    with Federation(registry, transport=transport) as fed:
        answer = fed.count()
    nl = answer.outcome("nl")
    assert nl.status is OutcomeStatus.TIMED_OUT
    assert nl.reason is not None
    assert nl.reason.startswith("no answer within 0.3 s")
    assert 0.25 < nl.elapsed < 2.0
    assert answer.count.value == COUNTS["se"] + COUNTS["dk"]


def test_ask__http_timeouts_are_retried_then_reported_as_timed_out() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with _federation({"se": slow}, registry=_registry(retries=1)) as fed:
        answer = fed.count()
    se = answer.outcome("se")
    assert (se.status, se.attempts) == (OutcomeStatus.TIMED_OUT, 2)


def test_ask__auth_failures_are_refusals_with_the_nodes_reason() -> None:
    overrides: dict[str, Handler] = {
        "se": lambda r: _problem(401, "unauthenticated", "the passport has expired"),
        "nl": lambda r: _problem(403, "forbidden", "registered access is not enough for crosstabs"),
    }
    with _federation(overrides) as fed:
        answer = fed.count()
    assert answer.outcome("se").refusal is RefusalKind.AUTHENTICATION
    assert answer.outcome("se").reason == "authentication: the passport has expired"
    assert answer.outcome("nl").refusal is RefusalKind.AUTHORISATION
    assert answer.missing == ("se", "nl")


def test_ask__sends_the_token_per_node_and_the_registry_dataset() -> None:
    seen: dict[str, tuple[str | None, str | None]] = {}

    def record(node: str) -> Handler:
        def handler(request: httpx.Request) -> httpx.Response:
            seen[node] = (request.headers.get("authorization"), json.loads(request.content).get("dataset"))
            return _answer(node, request)

        return handler

    registry = _registry(se={"dataset": "se-onco"})
    fed = Federation(
        registry,
        transport=_transport({n: record(n) for n in COUNTRIES}),
        token={"se": "tok-se", "nl": "tok-nl"},
    )
    with fed:
        fed.count()
    assert seen == {"se": ("Bearer tok-se", "se-onco"), "nl": ("Bearer tok-nl", None), "dk": (None, None)}


def test_ask__per_node_transports_and_unknown_nodes() -> None:
    transports = {n: _transport() for n in COUNTRIES}
    with Federation(_registry(), transport=transports) as fed:
        answer = fed.count(nodes=["dk", "se"])
    assert [o.node for o in answer.outcomes] == ["dk", "se"]
    with (
        Federation(_registry(), transport=transports) as fed,
        pytest.raises(ConfigError, match="'fi' is not in the registry"),
    ):
        fed.count(nodes=["fi"])
    with (
        Federation(_registry(), transport={"se": _transport()}) as fed,
        pytest.raises(ConfigError, match="no transport given for node 'nl'"),
    ):
        fed.count()


def test_count_async__inside_a_running_loop_and_the_sync_api_from_one() -> None:
    async def main() -> tuple[int | None, int | None]:
        async with _federation() as fed:
            first = await fed.count_async(CohortFilter(sex="female"))
        # A notebook's situation: the synchronous API called while an event loop runs.
        with _federation() as fed:
            second = fed.count()
        return first.count.lower, second.count.lower

    assert asyncio.run(main()) == (166, 166)


def test_run__a_study_gives_one_answer_per_analysis_and_a_report() -> None:
    study = Study.model_validate(
        {
            "name": "sex split <script>",
            "cohort": {"tumour_type": "COADREAD"},
            "analyses": [{"kind": "count"}, {"kind": "crosstab", "rows": {"kind": "sex"}}],
        }
    )
    refuse = {"dk": lambda r: _problem(403, "disclosure-refused", "<b>too few</b>")}
    seen: list[int] = []
    with _federation(refuse) as fed:
        result = fed.run(study, progress=lambda n, a: seen.append(n))
    assert seen == [0, 1]
    assert [a.request.analysis.kind for a in result.answers] == ["count", "crosstab"]
    assert result.missing == ("dk",)
    assert not result.complete
    table = result.answers[1].combined
    assert table is not None
    assert table.kind == "crosstab"
    # nl's "<5" cells are each at least 1, so its "<5" total is at least 2: 122–124, not 121–124.
    assert (table.total.lower, table.total.upper) == (COUNTS["se"] + 2, COUNTS["se"] + 4)
    assert table.total.contains(COUNTS["se"] + COUNTS["nl"])
    html = render_report(result)
    assert "sex split &lt;script&gt;" in html
    assert "<script>" not in html
    assert "&lt;b&gt;too few&lt;/b&gt;" in html
    assert "Partial answer" in html
    assert "tumour_type: COADREAD" in html


def test_registry_load__errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    one = "nodes:\n- {id: se, url: 'http://a', country: SE"
    cases = {
        "nodes: []": "nodes: Tuple should have at least 1 item",
        "nodes:\n- {id: se, url: ftp://x, country: SE}": r"nodes\[0\]\.url: expected an http:// or https://",
        "nodes:\n- {id: se, url: 'http://a', country: Sweden}": r"nodes\[0\]\.country: expected an ISO 3166",
        one + ", tiemout: 3}": r"nodes\[0\]\.tiemout: Extra inputs",
        one + "}\n- {id: se, url: 'http://b', country: NL}": r"nodes\[1\]\.id: node id 'se' is listed twice",
        "timeout: -1\n" + one + "}": "timeout: Input should be greater than 0",
        "nodes: [": "not valid YAML",
        "- a\n- b": "expected a mapping",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            Registry.load(path)
    with pytest.raises(ConfigError, match="cannot read the registry"):
        Registry.load(tmp_path / "absent.yaml")


def test_registry_load__relative_ca_bundle_resolves_beside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    path.write_text("nodes:\n- {id: se, url: 'https://se.example/api/', country: se, ca_bundle: ca.pem}\n")
    node = Registry.load(path).nodes[0]
    assert (node.ca_bundle, node.country, node.endpoint) == (
        tmp_path / "ca.pem",
        "SE",
        "https://se.example/api/analyses",
    )
    with pytest.raises(ConfigError, match="cannot read ca_bundle"):
        node.ssl_context()


def test_load_study__errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nanalyses:\n- kind: crosstab\n  rows: {kind: sexx}\n")
    with pytest.raises(ConfigError, match=r"study.yaml: analyses\[0\]\.crosstab\.rows: Input tag 'sexx'"):
        load_study(path)
    path.write_text("name: s\ncohort: {tumour_type: NOPE}\n")
    with pytest.raises(
        ConfigError, match=r"cohort: CohortFilter\.tumour_type: 'NOPE' is not an OncoTree code"
    ):
        load_study(path)
    path.write_text("name: s\ncohort: {gene: KRAS}\nanalyses: [{kind: count}]\n")
    assert load_study(path).cohort.gene == "KRAS"


def test_all__is_complete() -> None:
    import genofed.federation as federation

    public = {name for name in dir(federation) if not name.startswith("_")}
    assert set(federation.__all__) == public
    assert len(federation.__all__) == len(set(federation.__all__))


def test_federation__an_unclosed_federation_stops_its_loop_thread_when_collected() -> None:
    import gc
    import threading

    def loops() -> int:
        return sum(t.name == "genofed-federation" for t in threading.enumerate())

    before = loops()
    fed = _federation()
    fed.count()
    assert loops() == before + 1
    del fed
    gc.collect()
    assert loops() == before


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=_JSON,
    path=st.lists(
        st.sampled_from(["result", "count", "node", "disclosure", "lower", "upper", "value"]), max_size=3
    ),
)
def test_ask__any_json_a_node_sends_is_an_outcome_never_a_crash(body: object, path: list[str]) -> None:
    def mutated(request: httpx.Request) -> httpx.Response:
        valid = _answer("se", request).json()
        if not path:
            return httpx.Response(200, json=body)
        target = valid
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target[path[-1]] = body
        return httpx.Response(200, json=valid)

    with _federation({"se": mutated}) as fed:
        answer = fed.count()
    se = answer.outcome("se")
    assert se.status in (OutcomeStatus.ANSWERED, OutcomeStatus.FAILED)
    if se.status is OutcomeStatus.FAILED:
        assert se.reason
        assert answer.missing == ("se",)
    assert answer.count.contains(COUNTS["nl"] + COUNTS["dk"] + (COUNTS["se"] if se.answered else 0))
