"""The portal's decision-support pages against three real uvicorn nodes with the fixture knowledge base.

``/wgs-benefit``: the oracle for every number the page shows is the Python API --
``Federation.wgs_benefit`` asked the same cohort, panel, grouping and date with the same user's
passport, rendered by ``genofed.federation.benefit_rows`` -- and the downloads rerun and restate it.
``/patient-report``: the oracle is the node's own ``GET /patients/{id}/report`` (tests/test_node_reports.py
checks that against ``genofed.cds.build_report``); only ``se`` allows patient reports here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import warnings
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from conftest import fixture_path
from federation_nodes import NODES, Cluster, NodeServer, federation
from genofed.api import WgsBenefitAnalysis
from genofed.cds import PACKAGED_PANELS, import_release
from genofed.cli import app as cli_app
from genofed.federation import CombinedWgsBenefit, Federation, benefit_rows, parse_study
from genofed.model import Sex
from genofed.query import CohortFilter
from genofed.synth import Country, synthesise
from genofed.web import PortalSettings, create_portal
from genofed.web._params import BENEFIT_PANELS

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

PATIENTS = 60
AS_OF = dt.date(2019, 1, 1)
ROW = re.compile(r'<tr data-group="([^"]*)" data-rank="([^"]*)"[^>]*>(.*?)</tr>', re.S)
CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _knowledge(folder: Path) -> Path:
    knowledge = fixture_path("knowledge")
    import_release(
        "civic", knowledge / "civic_2018-05_ClinicalEvidenceSummaries.tsv", dt.date(2018, 5, 1), into=folder
    )
    import_release("cgi", knowledge / "cgi_biomarkers_per_variant_2017.tsv", dt.date(2017, 7, 1), into=folder)
    return folder


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three nodes with a knowledge base and the default k = 5 policy; only se serves patient reports."""
    work = tmp_path_factory.mktemp("web-benefit")
    c = federation(work, patients=PATIENTS)
    kb = _knowledge(work / "kb")
    for node in NODES:
        settings = c.settings(node, knowledge=str(kb), patient_reports=node == "se")
        c.servers[node] = NodeServer(settings).start()
    try:
        yield c
    finally:
        c.stop()


def _signed_in(cluster: Cluster, subject: str = "alice") -> TestClient:
    settings = PortalSettings.create(cluster.registry(), broker=cluster.work / "broker")
    client = TestClient(create_portal(settings))
    response = client.post("/signin", data={"method": "broker", "subject": subject, "next": "/"})
    assert response.status_code == 200, response.text
    return client


def _oracle(cluster: Cluster, cohort: CohortFilter, **options: object) -> CombinedWgsBenefit:
    with Federation(cluster.registry(), token=cluster.token("alice")) as api:
        answer = api.wgs_benefit(cohort, **options)  # type: ignore[arg-type]
    assert answer.complete, [(o.node, o.reason) for o in answer.outcomes]
    assert isinstance(answer.combined, CombinedWgsBenefit)
    return answer.combined


def _table(html: str) -> list[tuple[str, str, list[str]]]:
    """The page's ranked table: group label, rank, and the cells as shown (explanations dropped)."""
    out = []
    for group, rank, body in ROW.findall(html):
        cells = [
            unescape(re.sub(r'<div class="why">.*?</div>', "", c, flags=re.S)).strip()
            for c in CELL.findall(body)
        ]
        out.append((unescape(group), rank, cells))
    return out


def test_benefit_panels__are_the_panels_every_node_holds() -> None:
    assert sorted(BENEFIT_PANELS) == sorted(PACKAGED_PANELS)


def test_wgs_benefit_page__shows_the_federations_numbers_for_the_cohort(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    params = {"sex": "female", "panel": "gms560", "as_of": AS_OF.isoformat()}
    page = client.get("/wgs-benefit", params=params)
    assert page.status_code == 200, page.text

    combined = _oracle(cluster, CohortFilter(sex=Sex.FEMALE), panel="gms560", as_of=AS_OF)
    header, rows = benefit_rows(combined)
    shown = _table(page.text)
    assert [cells for _, _, cells in shown] == rows
    assert [g for g, _, _ in shown] == [r.label for r in combined.rows]
    assert [rank for _, rank, _ in shown] == [
        str(r.rank) if r.rank is not None else "" for r in combined.rows
    ]
    everyone = _oracle(cluster, CohortFilter(), panel="gms560", as_of=AS_OF)
    assert sum(r.n.lower for r in combined.rows) < sum(r.n.lower for r in everyone.rows), "the cohort applies"
    for h in header:
        assert f'<th scope="col">{h}</th>' in page.text
    assert 'data-testid="benefit-chart"' in page.text
    assert "<svg" in page.text
    assert "cgi 2017-07-01" in page.text
    assert "civic 2018-05-01" in page.text
    for node in NODES:
        assert f"<li>{node}: cgi 2017-07-01, civic 2018-05-01</li>" in page.text


def test_wgs_benefit_page__withheld_counts_are_ranges_and_explained(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    page = client.get("/wgs-benefit", params={"group_by": "sex"})
    assert page.status_code == 200, page.text

    combined = _oracle(cluster, CohortFilter(), panel="hotspot50", group_by="sex")
    unranked = [r for r in combined.rows if r.rank is None]
    assert unranked, "at k = 5 some small groups are withheld"
    shown = {g: cells for g, _, cells in _table(page.text)}
    for row in unranked:
        assert shown[row.label][2] == row.n.display
        assert not row.n.exact or not row.wgs_only.exact or not row.panel_actionable.exact
    assert 'data-testid="withheld-explanation"' in page.text
    assert f"{len(unranked)} group(s) are shown with ranges" in page.text
    assert "Not ranked: a node withheld a small count, so n" in page.text
    assert ' / female"' in page.text  # the second grouping is in the labels


def test_wgs_benefit_page__an_earlier_as_of_date_uses_the_earlier_release_only(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    page = client.get("/wgs-benefit", params={"as_of": "2018-01-01"})
    assert page.status_code == 200
    releases = re.search(r'data-testid="knowledge">(.*?)</p>', page.text, re.S)
    assert releases is not None
    assert "cgi 2017-07-01" in releases.group(1)
    assert "civic" not in releases.group(1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"panel": "foundationone"}, "panel: &#39;foundationone&#39; is not one of hotspot50, gms560"),
        ({"group_by": "colour"}, "group_by: &#39;colour&#39; is not one of none, sex, stage"),
        ({"as_of": "2019-13-01"}, "as_of: &#39;2019-13-01&#39; is not a date"),
    ],
)
def test_wgs_benefit_page__a_wrong_option_is_a_400_naming_it(
    cluster: Cluster, params: dict[str, str], message: str
) -> None:
    response = _signed_in(cluster).get("/wgs-benefit", params=params)
    assert response.status_code == 400
    assert message in response.text


def test_wgs_benefit_export__study_reruns_and_csv_json_svg_hold_the_pages_numbers(
    cluster: Cluster, tmp_path: Path
) -> None:
    client = _signed_in(cluster)
    params = {"tumour_type": "COADREAD", "panel": "hotspot50", "as_of": AS_OF.isoformat()}
    combined = _oracle(cluster, CohortFilter(tumour_type="COADREAD"), panel="hotspot50", as_of=AS_OF)

    spec = client.get("/export/wgs_benefit/study.yaml", params=params)
    assert spec.headers["content-disposition"].startswith("attachment;")
    study = parse_study(yaml.safe_load(spec.text))
    assert study.cohort == CohortFilter(tumour_type="COADREAD")
    assert study.analyses[-1] == WgsBenefitAnalysis(panel="hotspot50", as_of=AS_OF)
    (tmp_path / "study.yaml").write_text(spec.text)
    (tmp_path / "passport.jwt").write_text(cluster.token("alice"))
    run = CliRunner().invoke(
        cli_app,
        [
            "study",
            "run",
            str(tmp_path / "study.yaml"),
            "--registry",
            str(cluster.write_registry(tmp_path / "nodes.yaml")),
            "--token-file",
            str(tmp_path / "passport.jwt"),
            "--format",
            "json",
        ],
    )
    assert run.exit_code == 0, run.output
    rerun = json.loads(run.output)
    assert CombinedWgsBenefit.model_validate(rerun["answers"][-1]["combined"]) == combined

    exported = client.get("/export/wgs_benefit/results.json", params=params).json()
    assert CombinedWgsBenefit.model_validate(exported["answers"][-1]["combined"]) == combined

    table = list(
        csv.DictReader(io.StringIO(client.get("/export/wgs_benefit/results.csv", params=params).text))
    )
    assert [(r["tumour_type"], r["rank"]) for r in table] == [
        (row.tumour_type, "" if row.rank is None else str(row.rank)) for row in combined.rows
    ]
    for got, row in zip(table, combined.rows, strict=True):
        assert (got["n_shown"], got["n_lower"], got["n_upper"]) == (
            row.n.display,
            str(row.n.lower),
            "" if row.n.upper is None else str(row.n.upper),
        )
        assert got["wgs_only_shown"] == row.wgs_only.display
        assert got["incremental_yield"] == (
            "" if row.incremental_yield is None else str(row.incremental_yield)
        )

    svg = client.get("/export/wgs_benefit/benefit.svg", params=params)
    assert svg.status_code == 200, svg.text
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')


def test_wgs_benefit_page__a_node_that_cannot_answer_is_named(cluster: Cluster, tmp_path: Path) -> None:
    # A registry with a fourth node that is not running: the page still ranks the three others.
    data = cluster.registry_data()
    data["nodes"].append({"id": "fi", "url": "http://127.0.0.1:9", "country": "FI"})  # type: ignore[attr-defined]
    from genofed.federation import Registry

    settings = PortalSettings.create(Registry.from_data(data), broker=cluster.work / "broker")
    client = TestClient(create_portal(settings))
    client.post("/signin", data={"method": "broker", "subject": "alice", "next": "/"})
    page = client.get("/wgs-benefit")
    assert page.status_code == 200
    assert "Not every node contributed" in page.text
    assert "fi could not be asked" in page.text
    assert 'data-testid="benefit-table"' in page.text


# -- the patient report --------------------------------------------------------------------------------
def _source_id() -> str:
    """A patient of se's store (federation() synthesises SE with seed 0)."""
    return str(synthesise(Country.SE, PATIENTS, 0).patients.column("patient_id")[0])


def _node_report(cluster: Cluster, patient: str, fmt: str) -> httpx.Response:
    return httpx.get(
        f"{cluster.servers['se'].url}/patients/{patient}/report",
        params={"format": fmt},
        headers={"Authorization": f"Bearer {cluster.token('alice')}"},
    )


def test_patient_report_page__shows_the_nodes_report_in_a_sandboxed_frame(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    assert 'action="/patient-report"' in client.get("/patient-report").text
    source = _source_id()
    page = client.post("/patient-report", data={"node": "se", "patient": source, "action": "show"})

    assert page.status_code == 200, page.text
    expected = _node_report(cluster, source, "html").text
    frame = re.search(r'<iframe [^>]*sandbox srcdoc="([^"]*)"', page.text)
    assert frame is not None
    assert unescape(frame.group(1)) == expected
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert re.search(r"style-src 'self' 'sha256-[A-Za-z0-9+/=]+'", policy)
    assert source not in page.text.replace(f'value="{source}"', "")  # only the form echoes it back


def test_patient_report_page__downloads_are_the_nodes_report(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    client = _signed_in(cluster)
    source = _source_id()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        download = client.post("/patient-report", data={"node": "se", "patient": source, "action": "json"})
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="patient-report-se.json"'
    assert download.json() == _node_report(cluster, source, "json").json()
    # The node's own access log (uvicorn) shows the path it rewrote: the pseudonym, not the source id.
    assert "/patients/" in caplog.text
    assert source not in caplog.text


def test_patient_report_page__says_why_a_node_refuses(cluster: Cluster) -> None:
    client = _signed_in(cluster)
    off = client.post("/patient-report", data={"node": "nl", "patient": "anyone", "action": "show"})
    assert off.status_code == 403
    assert "nl refused to release this report" in off.text
    assert "patient_reports: true" in off.text
    assert "<iframe" not in off.text

    registered = TestClient(
        create_portal(PortalSettings.create(cluster.registry(), broker=cluster.work / "broker"))
    )
    token = cluster.broker.passport("reg", audience=list(NODES))  # verified, but no dataset grant
    registered.post("/signin", data={"method": "token", "token": token})
    refused = registered.post(
        "/patient-report", data={"node": "se", "patient": _source_id(), "action": "show"}
    )
    assert refused.status_code == 403
    assert "needs controlled access to dataset" in refused.text

    unknown = client.post("/patient-report", data={"node": "se", "patient": "NOBODY-1", "action": "show"})
    assert unknown.status_code == 404
    assert "se has no such patient" in unknown.text

    wrong = client.post("/patient-report", data={"node": "xx", "patient": "p", "action": "show"})
    assert wrong.status_code == 400
    assert "node: &#39;xx&#39; is not one of this federation&#39;s nodes" in wrong.text
