"""The portal's routes over httpx (Starlette's TestClient) against three real uvicorn nodes.

The oracle for every number a page shows is the Python API: ``Federation`` asked the same cohort and
analysis with the same user's passport, and (for counts) the stores themselves. The nodes' audit logs
show whose passport the portal used.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from federation_nodes import ISSUER, NODES, Cluster, federation
from genofed.api import (
    AgeCovariate,
    CoxAnalysis,
    GeneStatusCovariate,
    GeneStatusDimension,
    KaplanMeierAnalysis,
    SexCovariate,
    SexDimension,
    TumourTypeDimension,
)
from genofed.cli import app as cli_app
from genofed.errors import ConfigError
from genofed.federation import (
    CombinedCount,
    CombinedCrossTab,
    CombinedKaplanMeier,
    CombinedModelFit,
    Federation,
    parse_study,
)
from genofed.model import Sex
from genofed.query import CohortFilter
from genofed.web import COOKIE, PortalSettings, create_portal, seal_session, share_of

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on the httpx2 fork; it works the same on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

GRID = tuple(round(k * 182.5, 2) for k in range(11))  # the survival view's default grid (5 years)
ROW = re.compile(r'<tr data-node="([^"]+)" data-state="([^"]+)">.*?data-count>([^<]*)<', re.S)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = federation(tmp_path_factory.mktemp("web-routes"), patients=200).start()
    try:
        yield c
    finally:
        c.stop()


def _client(cluster: Cluster, *, registry: object = None) -> TestClient:
    settings = PortalSettings.create(registry or cluster.registry(), broker=cluster.work / "broker")
    return TestClient(create_portal(settings))


def _signed_in(cluster: Cluster, subject: str = "alice", **kwargs: object) -> TestClient:
    client = _client(cluster, **kwargs)  # type: ignore[arg-type]
    response = client.post("/signin", data={"method": "broker", "subject": subject, "next": "/"})
    assert response.status_code == 200, response.text
    return client


def _rows(html: str) -> dict[str, tuple[str, str]]:
    return {node: (state, unescape(shown).strip()) for node, state, shown in ROW.findall(html)}


def test_signin__pages_without_a_session_redirect_and_fragments_say_so(cluster: Cluster) -> None:
    client = _client(cluster)
    page = client.get("/survival?tumour_type=COADREAD", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=%2Fsurvival%3Ftumour_type%3DCOADREAD"
    fragment = client.get("/fragments/counts?gene=KRAS")
    assert fragment.status_code == 401
    assert "sign in again" in fragment.text


def test_signin__broker_passport_in_a_signed_httponly_cookie_and_tampering_ends_it(cluster: Cluster) -> None:
    client = _client(cluster)
    response = client.post(
        "/signin",
        data={"method": "broker", "subject": "bob", "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/", "an off-site next is not followed"
    cookies = response.headers.get_list("set-cookie")
    assert [c.split("=", 1)[0] for c in cookies] == [COOKIE, f"{COOKIE}_0"]
    for cookie in cookies:
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
    assert 'data-testid="subject">bob<' in client.get("/").text
    value = client.cookies[f"{COOKIE}_0"]
    token = value.rpartition("~")[0]
    other = cluster.broker.passport("mallory", audience=list(NODES), datasets=list(NODES))
    client.cookies.set(f"{COOKIE}_0", other + value[len(token) :])  # bob's tag on mallory's passport
    assert client.get("/", follow_redirects=False).status_code == 303


def test_signin__a_large_rs256_passport_spans_several_cookies_and_sign_out_clears_them(
    cluster: Cluster,
) -> None:
    from genofed.auth import DemoBroker

    broker = DemoBroker.generate("https://big.broker.test", algorithm="RS256")
    datasets = [*NODES, *(f"extra-{n}" for n in range(6))]
    token = broker.passport("ruth", audience=list(NODES), datasets=datasets, affiliation="researcher@ki.se")
    assert len(token) > 2 * 3800
    client = _client(cluster)
    response = client.post("/signin", data={"method": "token", "token": token}, follow_redirects=False)
    names = [c.split("=", 1)[0] for c in response.headers.get_list("set-cookie")]
    assert names[0] == COOKIE
    assert len(names) >= 3
    assert client.cookies[COOKIE] == str(len(names) - 1)
    page = client.get("/wgs-benefit")
    assert 'data-testid="subject">ruth<' in page.text
    out = client.post("/signout", follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/wgs-benefit", follow_redirects=False).status_code == 303


def test_signin__a_form_posted_from_another_site_is_refused(cluster: Cluster) -> None:
    client = _client(cluster)
    forged = client.post(
        "/signin", data={"method": "broker", "subject": "mallory"}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    assert COOKIE not in forged.cookies
    same = client.post(
        "/signin", data={"method": "broker", "subject": "bob"}, headers={"Origin": "http://testserver"}
    )
    assert same.status_code == 200


def test_signin__a_pasted_expired_passport_is_refused_with_the_reason(cluster: Cluster) -> None:
    client = _client(cluster)
    expired = cluster.broker.passport(
        "alice", audience=list(NODES), issued_at=int(time.time()) - 7200, lifetime=60
    )
    response = client.post("/signin", data={"method": "token", "token": expired})
    assert response.status_code == 400
    assert "the passport has expired" in response.text
    assert COOKIE not in response.cookies
    garbage = client.post("/signin", data={"method": "token", "token": "not a jwt"})
    assert "not a JWT" in garbage.text


@pytest.mark.parametrize(
    "cohort",
    [
        CohortFilter(tumour_type="COADREAD", gene="KRAS"),
        CohortFilter(tumour_type="MEL", gene="BRAF", protein_change="p.V600E"),
        CohortFilter(sex=Sex.FEMALE, age_min=60, age_max=70),
    ],
)
def test_counts_fragment__node_counts_and_total_equal_the_python_api(
    cluster: Cluster, cohort: CohortFilter
) -> None:
    client = _signed_in(cluster)
    query = {
        k: (f"{v:g}" if isinstance(v, float) else v)
        for k, v in cohort.model_dump(mode="json", exclude_none=True).items()
    }
    html = client.get("/fragments/counts", params=query).text
    rows = _rows(html)
    with Federation(cluster.registry(), token=cluster.token("alice")) as fed:
        answer = fed.count(cohort)
    truth = cluster.truth(cohort)
    assert set(rows) == {*NODES, "total"}
    for node in NODES:
        released = answer.outcome(node).response.result.count  # type: ignore[union-attr]
        assert rows[node] == (released.status.value, released.display)
        assert released.lower <= truth[node] <= (released.upper or truth[node])
        if released.status.value == "small":
            assert f"{node} has between 1 and 4 such people" in html
    assert rows["total"][1] == answer.count.display
    assert answer.count.contains(sum(truth.values()))


def test_counts__a_small_count_is_shown_as_less_than_5_and_the_total_as_a_range(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    small = None
    for gene in ("BRAF", "NRAS", "PIK3CA", "EGFR", "BRCA2", "ERBB2", "IDH1"):
        truth = cluster.truth(CohortFilter(tumour_type="COADREAD", gene=gene))
        if any(1 <= n <= 4 for n in truth.values()):
            small = (gene, truth)
            break
    assert small is not None, "the synthetic cohorts must give some gene a count of 1..4 at a node"
    gene, truth = small
    html = client.get("/fragments/counts", params={"tumour_type": "COADREAD", "gene": gene}).text
    rows = _rows(html)
    for node, n in truth.items():
        assert rows[node][1] == ("<5" if 1 <= n <= 4 else str(n))
    assert rows["total"][0] == "range"
    assert "A range, not a number" in html
    assert "releases no count below 5" in html


def test_counts__the_nodes_audit_logs_name_the_signed_in_user(cluster: Cluster) -> None:
    client = _signed_in(cluster, subject="carol@ki.se")
    assert (
        client.get("/fragments/counts", params={"tumour_type": "BREAST", "age_min": "41"}).status_code == 200
    )
    for node in NODES:
        log = cluster.work / f"{node}-state" / "audit.jsonl"
        events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
        mine = [e for e in events if e.get("researcher") == f"{ISSUER}|carol@ki.se"]
        assert any(e.get("path") == "/analyses" and e.get("status") == 200 for e in mine), node


def test_counts__a_node_refusing_the_passport_and_an_unreachable_node_are_explained(cluster: Cluster) -> None:
    urls = {n: s.url for n, s in cluster.servers.items()}
    urls["dk"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    registry = cluster.registry(urls).model_copy(update={"retries": 0})
    client = _client(cluster, registry=registry)
    partial = cluster.broker.passport("dave", audience=["se"], datasets=list(NODES))  # not for nl
    client.post("/signin", data={"method": "token", "token": partial})
    html = client.get("/fragments/counts", params={"tumour_type": "COADREAD"}).text
    rows = _rows(html)
    assert rows["se"][0] == "exact"
    assert rows["nl"] == ("refused", "refused")
    assert rows["dk"] == ("failed", "no answer")
    assert "nl refused: it did not accept your passport" in html
    assert "another audience" in html
    assert "dk could not be asked" in html
    assert "Without nl, dk, which did not contribute" in html
    assert rows["total"][1] == str(cluster.truth(CohortFilter(tumour_type="COADREAD"))["se"])


def test_cohort_page__a_wrong_field_is_named_and_nothing_is_asked(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    html = client.get("/", params={"tumour_type": "COLORECTAL"}).text
    assert "is not an OncoTree code" in html
    assert "data-count" not in html
    view = client.get("/survival", params={"age_min": "70", "age_max": "50"})
    assert view.status_code == 400
    assert "age_min (70) is greater than age_max (50)" in view.text


def test_oncotree_fragment__search_finds_colorectal_with_its_place_in_the_tree(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    html = client.get("/fragments/oncotree", params={"q": "colorectal"}).text
    assert 'data-code="COADREAD"' in html
    assert "Bowel" in html
    assert "No OncoTree type matches" in client.get("/fragments/oncotree", params={"q": "zzzz"}).text
    bowel = client.get("/fragments/oncotree", params={"parent": "BOWEL"}).text
    assert 'data-code="COADREAD"' in bowel
    assert 'data-parent="COADREAD"' in bowel  # COADREAD has subtypes of its own
    assert client.get("/fragments/oncotree", params={"parent": "NOPE"}).status_code == 400


def test_survival__curves_and_logrank_equal_the_python_api(cluster: Cluster) -> None:
    # Everyone by TP53 status on a yearly grid: at 200 patients per node the first year's counts are
    # all at least 5, so part of the curve and the log-rank test are exact under the default policy.
    client = _signed_in(cluster)
    params = {"stratifier": "gene", "strat_gene": "TP53", "step": "365.25"}
    html = client.get("/survival", params=params).text
    grid = tuple(round(k * 365.25, 2) for k in range(6))
    analysis = KaplanMeierAnalysis(group=GeneStatusDimension(gene="TP53"), grid=grid, min_at_risk=10)
    with Federation(cluster.registry(), token=cluster.token("alice")) as fed:
        km = fed.ask(parse_study({"name": "x", "analyses": [analysis.model_dump()]}).requests()[0]).combined
    assert isinstance(km, CombinedKaplanMeier)
    assert km.logrank_p_value is not None
    assert f'data-testid="logrank-p">{km.logrank_p_value:.3g}<' in html
    for curve in km.curves:
        assert f'data-group="{curve.group}"' in html  # one drawn path per group
        survival = [p.survival for p in curve.points if p.survival is not None]
        assert survival, curve.group
        assert f'<td class="num">{survival[-1]:.3f}</td>' in html
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert "95% Greenwood" in html


def test_models__cox_coefficients_equal_the_python_api(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    html = client.get("/models", params={"tumour_type": "COADREAD"}).text
    with Federation(cluster.registry(), token=cluster.token("alice")) as fed:
        request = parse_study(
            {
                "name": "x",
                "cohort": {"tumour_type": "COADREAD"},
                "analyses": [
                    CoxAnalysis(
                        covariates=(GeneStatusCovariate(gene="KRAS"), AgeCovariate(), SexCovariate())
                    ).model_dump()
                ],
            }
        ).requests()[0]
        fit = fed.ask(request).combined
    assert isinstance(fit, CombinedModelFit)
    for c in fit.coefficients:
        assert f'<th scope="row">{c.name}</th><td class="num">{c.estimate:.4f}</td>' in html
        assert (
            f"{c.hazard_ratio:.3f} ({c.hazard_ratio_ci_lower:.3f}–{c.hazard_ratio_ci_upper:.3f})" in html
        )  # forest
    glm = client.get(
        "/models",
        params={
            "tumour_type": "COADREAD",
            "model": "glm",
            "outcome": "deceased",
            "submitted": "1",
            "covariate": "age",
        },
    ).text
    assert "GLM (binomial)" in glm
    assert "age at diagnosis (years)" in glm


def test_mutations__shares_equal_the_python_api_crosstab(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    html = client.get("/mutations", params={"genes": "KRAS,TP53", "tumour_types": "COADREAD,BREAST"}).text
    with Federation(cluster.registry(), token=cluster.token("alice")) as fed:
        for gene in ("KRAS", "TP53"):
            table = fed.crosstab(
                None, GeneStatusDimension(gene=gene), TumourTypeDimension(codes=("COADREAD", "BREAST"))
            ).combined
            assert isinstance(table, CombinedCrossTab)
            overall = share_of(table.row_totals[0], table.row_totals[1])
            assert overall is not None
            row = re.search(rf'<tr data-gene="{gene}">(.*?)</tr>', html, re.S)
            assert row is not None
            assert f">{table.row_totals[0].display}<" in row.group(1)
            assert f">{overall.display}<" in row.group(1)
            cell = f"{table.cells[0][0].display} / {table.column_totals[0].display}"
            assert cell in html
    assert 'id="heat"' in html
    assert 'id="bars"' in html


def test_export__study_yaml_reruns_with_genofed_study_run_to_the_same_numbers(
    cluster: Cluster, tmp_path: Path
) -> None:
    client = _signed_in(cluster)
    params = {"tumour_type": "COADREAD", "gene": "KRAS"}
    response = client.get("/export/survival/study.yaml", params=params)
    assert response.headers["content-disposition"].startswith("attachment;")
    spec = tmp_path / "study.yaml"
    spec.write_text(response.text)
    study = parse_study(yaml.safe_load(response.text))
    assert study.cohort == CohortFilter(tumour_type="COADREAD", gene="KRAS")
    assert study.analyses[1] == KaplanMeierAnalysis(group=SexDimension(), grid=GRID, min_at_risk=10)
    token = tmp_path / "passport.jwt"
    token.write_text(cluster.token("alice"))
    registry = cluster.write_registry(tmp_path / "nodes.yaml")
    run = CliRunner().invoke(
        cli_app,
        [
            "study",
            "run",
            str(spec),
            "--registry",
            str(registry),
            "--token-file",
            str(token),
            "--format",
            "json",
        ],
    )
    assert run.exit_code == 0, run.output
    rerun = json.loads(run.output)
    exported = client.get("/export/survival/results.json", params=params).json()
    assert rerun["answers"][0]["combined"] == exported["answers"][0]["combined"]
    assert (
        rerun["answers"][1]["combined"]["logrank_p_value"]
        == exported["answers"][1]["combined"]["logrank_p_value"]
    )


def test_export__csv_and_svg_hold_the_pages_numbers(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    params = {"tumour_type": "COADREAD", "gene": "KRAS"}
    csv_text = client.get("/export/cohort/results.csv", params=params).text
    lines = csv_text.splitlines()
    assert lines[0] == "node,country,state,shown,lower,upper"
    total = sum(cluster.truth(CohortFilter(**params)).values())
    assert lines[-1] == f"total,,exact,{total},{total},{total}"
    survival = client.get("/export/survival/results.csv", params=params).text.splitlines()
    assert survival[0].startswith("group,time,survival,ci_lower,ci_upper")
    assert {line.split(",")[0] for line in survival[1:]} <= {"female", "male", "other", "unknown"}
    svg = client.get("/export/survival/km.svg", params=params)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')
    wrong = client.get("/export/survival/forest.svg", params=params)
    assert wrong.status_code == 400
    assert "the survival view has km chart(s), not forest" in wrong.text


def test_cds_views__nodes_without_knowledge_or_reports_are_named_and_show_no_numbers(
    cluster: Cluster,
) -> None:
    # These nodes have no knowledge base and do not serve patient reports (tests/test_web_benefit.py
    # runs nodes that do).
    client = _signed_in(cluster)
    html = client.get("/wgs-benefit").text
    assert "No node answered the WGS-benefit analysis" in html
    for node in NODES:
        assert f"{node} could not be asked" in html
    assert "no knowledge base configured" in html
    assert "<svg" not in html
    assert 'action="/patient-report"' in client.get("/patient-report").text
    refused = client.post("/patient-report", data={"node": "se", "patient": "p1", "action": "show"})
    assert refused.status_code == 403
    assert "does not serve patient reports" in refused.text


def test_pages__load_nothing_from_elsewhere_and_send_a_self_only_csp(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    params = {"tumour_type": "COADREAD"}
    for path in ("/", "/mutations", "/survival", "/models", "/wgs-benefit", "/signin"):
        response = client.get(path, params=params)
        assert response.status_code == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        for attribute in re.findall(r'(?:src|href|action)="([^"]*)"', response.text):
            assert attribute.startswith(("/", "#")), (path, attribute)
        assert '<html lang="en">' in response.text
        assert '<main id="main"' in response.text
        assert '<header class="site">' in response.text
        assert '<nav class="views" aria-label="Views">' in response.text
    assert client.get("/static/portal.js").status_code == 200


def test_portal_cli__a_demo_broker_is_refused_beyond_loopback(cluster: Cluster, tmp_path: Path) -> None:
    registry = cluster.write_registry(tmp_path / "nodes.yaml")
    result = CliRunner().invoke(
        cli_app,
        [
            "portal",
            "--registry",
            str(registry),
            "--broker",
            str(cluster.work / "broker"),
            "--host",
            "0.0.0.0",
        ],
    )
    assert result.exit_code == 1
    assert "serve it on loopback only" in result.output


def test_session__a_cookie_signed_with_another_key_is_no_session(cluster: Cluster) -> None:
    from genofed.web import passport_claims

    client = _client(cluster)
    for name, value in seal_session(passport_claims(cluster.token("eve")), b"x" * 32):
        client.cookies.set(name, value)
    assert client.get("/", follow_redirects=False).status_code == 303


def _count(lower: int, upper: int | None) -> CombinedCount:
    value = lower if lower == upper else None
    return CombinedCount(
        value=value, lower=lower, upper=upper, display=str(value) if value is not None else "?"
    )


@given(
    part=st.integers(0, 50),
    rest=st.integers(0, 50),
    widen=st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)),
    unbounded=st.booleans(),
)
def test_share_of__bounds_contain_every_proportion_consistent_with_the_counts(
    part: int, rest: int, widen: tuple[int, int, int, int], unbounded: bool
) -> None:
    a = _count(max(0, part - widen[0]), part + widen[1])
    b = _count(max(0, rest - widen[2]), None if unbounded else rest + widen[3])
    share = share_of(a, b)
    if part + rest == 0:
        return
    assert share is not None
    assert share.lower - 1e-12 <= part / (part + rest) <= share.upper + 1e-12
    if a.exact and b.exact:
        assert share.point == pytest.approx(part / (part + rest))


def test_web_exports__all_is_complete_and_sorted() -> None:
    import genofed.web as web

    public = {name for name in vars(web) if not name.startswith("_")} - {"annotations"}
    assert set(web.__all__) == public
    assert list(web.__all__) == sorted(web.__all__, key=lambda n: (not n.isupper(), n))


def test_portal_settings__a_short_key_and_a_missing_broker_are_config_errors(tmp_path: Path) -> None:
    registry = tmp_path / "nodes.yaml"
    registry.write_text("nodes: [{id: se, url: 'http://127.0.0.1:9', country: SE}]\n")
    with pytest.raises(ConfigError, match="session key has 5 bytes; give at least 32"):
        PortalSettings.create(registry, secret="short")
    with pytest.raises(ConfigError, match=r"no demo broker here \(.*broker.json missing\)"):
        PortalSettings.create(registry, broker=tmp_path / "nowhere")
    assert PortalSettings.create(registry, secret="k" * 32).broker is None


def test_portal_cli__serves_prints_its_url_and_stops_on_ctrl_c(cluster: Cluster, tmp_path: Path) -> None:
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    registry = cluster.write_registry(tmp_path / "nodes.yaml")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "genofed", "portal", "--registry", str(registry)]
    command += ["--broker", str(cluster.work / "broker"), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"portal: http://127.0.0.1:{port}/" in line, line
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/health").json() == {"status": "ok"}
            http.post("/signin", data={"method": "broker", "subject": "erin"})
            html = http.get("/fragments/counts", params={"tumour_type": "COADREAD"}).text
        assert _rows(html)["total"][1] == str(
            sum(cluster.truth(CohortFilter(tumour_type="COADREAD")).values())
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
