"""``GET /patients/{individual}/report``: row-level data only where the node's policy and the passport allow.

One synthetic Swedish store with the fixture knowledge base, served in process by ``create_app``.
The report's oracle is ``genofed.cds.build_report`` run on the same store and knowledge base; the
audit log is read back to check that the patient's source identifier never appears in it.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from conftest import fixture_path
from federation_nodes import ISSUER, build_store
from genofed.api import ProblemType
from genofed.auth import DemoBroker
from genofed.cds import KnowledgeBase, build_report, import_release
from genofed.node import NodeSettings, create_app
from genofed.store import NodeStore
from genofed.synth import Country, synthesise

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

PATIENTS = 30
AS_OF = dt.date(2019, 1, 1)


class Node:
    """A store, a knowledge base and a broker; apps are made per test with the settings it needs."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.store = build_store(Country.SE, 0, work / "se", PATIENTS)
        self.kb = work / "kb"
        knowledge = fixture_path("knowledge")
        import_release(
            "civic",
            knowledge / "civic_2018-05_ClinicalEvidenceSummaries.tsv",
            dt.date(2018, 5, 1),
            into=self.kb,
        )
        import_release(
            "cgi", knowledge / "cgi_biomarkers_per_variant_2017.tsv", dt.date(2017, 7, 1), into=self.kb
        )
        self.broker = DemoBroker.generate(ISSUER)
        self.broker.save(work / "broker")
        # build_store synthesises SE with seed 0: the same patients, so their source identifiers.
        self.source_ids = [str(p) for p in synthesise(Country.SE, PATIENTS, 0).patients.column("patient_id")]

    def client(self, tmp: Path, **extra: object) -> TestClient:
        data = {
            "node_id": "se",
            "country": "SE",
            "data_dir": str(self.store),
            "state_dir": str(tmp / "state"),
            "trusted_issuers": [{"issuer": ISSUER, "jwks": str(self.work / "broker" / "jwks.json")}],
            **extra,
        }
        return TestClient(create_app(NodeSettings.from_mapping(data, base=self.work)))

    def headers(self, *, controlled: bool = True) -> dict[str, str]:
        token = self.broker.passport("carol", audience="se", datasets=["se"] if controlled else [])
        return {"Authorization": f"Bearer {token}"}

    def sequenced(self) -> tuple[str, str]:
        """A sequenced patient's source identifier and pseudonym."""
        with NodeStore.open(self.store) as store:
            held = {
                r["individual_id"] for r in store.execute("SELECT individual_id FROM analyses").to_pylist()
            }
            for source in self.source_ids:
                if store.pseudonymise(source) in held:
                    return source, store.pseudonymise(source)
        raise AssertionError("no sequenced patient in the synthetic store")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Node:
    return Node(tmp_path_factory.mktemp("node-reports"))


@pytest.fixture
def reporting(node: Node, tmp_path: Path) -> Iterator[TestClient]:
    with node.client(tmp_path, knowledge=str(node.kb), patient_reports=True) as client:
        yield client


def _audit(tmp: Path) -> list[dict[str, object]]:
    lines = (tmp / "state" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def test_patient_report__off_by_default_is_403_even_with_controlled_access(
    node: Node, tmp_path: Path
) -> None:
    source, _ = node.sequenced()
    with node.client(tmp_path, knowledge=str(node.kb)) as client:
        response = client.get(f"/patients/{source}/report", headers=node.headers())
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == ProblemType.FORBIDDEN.value
    assert "patient_reports: true" in response.json()["detail"]


def test_patient_report__registered_passport_is_403(node: Node, reporting: TestClient) -> None:
    source, _ = node.sequenced()
    response = reporting.get(f"/patients/{source}/report", headers=node.headers(controlled=False))
    assert response.status_code == 403
    assert "needs controlled access to dataset 'se'" in response.json()["detail"]


def test_patient_report__no_passport_is_401(node: Node, reporting: TestClient) -> None:
    source, _ = node.sequenced()
    assert reporting.get(f"/patients/{source}/report").status_code == 401


def test_patient_report__html_and_json_equal_the_report_built_at_the_store(
    node: Node, reporting: TestClient
) -> None:
    source, pseudonym = node.sequenced()
    html = reporting.get(
        f"/patients/{source}/report", params={"as_of": AS_OF.isoformat()}, headers=node.headers()
    )
    as_json = reporting.get(
        f"/patients/{pseudonym}/report",
        params={"format": "json", "as_of": AS_OF.isoformat()},
        headers=node.headers(),
    )

    with NodeStore.open(node.store) as store:
        expected = build_report(store, source, KnowledgeBase.open(node.kb, as_of=AS_OF), as_of=AS_OF)
    assert html.status_code == 200, html.text
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["cache-control"] == "no-store"
    assert html.text == expected.to_html()
    assert pseudonym in html.text
    assert source not in html.text
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == json.loads(expected.to_json())


def test_patient_report__every_request_is_audited_with_the_pseudonym_only(
    node: Node, reporting: TestClient, tmp_path: Path
) -> None:
    source, pseudonym = node.sequenced()
    assert reporting.get(f"/patients/{source}/report").status_code == 401
    assert reporting.get(f"/patients/{source}/report", headers=node.headers()).status_code == 200
    assert (
        reporting.get(f"/patients/{source}/report", headers=node.headers(controlled=False)).status_code == 403
    )

    events = _audit(tmp_path)
    reports = [e for e in events if e["type"] == "patient_report"]
    assert [(e["individual"], e["researcher"]) for e in reports] == [(pseudonym, f"{ISSUER}|carol")] * 2
    assert reports[0]["outcome"] == "released"
    assert str(reports[1]["outcome"]).startswith("refused:")
    http = [e for e in events if e["type"] == "http"]
    assert [e["path"] for e in http] == [f"/patients/{pseudonym}/report"] * 3
    assert source not in (tmp_path / "state" / "audit.jsonl").read_text()


def test_patient_report__unknown_patient_is_404_without_echoing_the_id(
    node: Node, reporting: TestClient, tmp_path: Path
) -> None:
    response = reporting.get("/patients/NO-SUCH-PATIENT-42/report", headers=node.headers())
    assert response.status_code == 404
    assert response.json()["type"] == ProblemType.NOT_FOUND.value
    assert "NO-SUCH-PATIENT-42" not in response.text
    assert "NO-SUCH-PATIENT-42" not in (tmp_path / "state" / "audit.jsonl").read_text()
    assert _audit(tmp_path)[-2]["outcome"] == "not found"


def test_patient_report__needs_a_knowledge_base(node: Node, tmp_path: Path) -> None:
    source, _ = node.sequenced()
    with node.client(tmp_path, patient_reports=True) as client:
        response = client.get(f"/patients/{source}/report", headers=node.headers())
    assert response.status_code == 400
    assert "no knowledge base configured" in response.json()["detail"]


def test_patient_report__as_of_before_every_release_is_400(node: Node, reporting: TestClient) -> None:
    source, _ = node.sequenced()
    response = reporting.get(
        f"/patients/{source}/report", params={"as_of": "2010-01-01"}, headers=node.headers()
    )
    assert response.status_code == 400
    assert "no release on or before 2010-01-01" in response.json()["detail"]
