"""The node service: endpoints, passports and access levels, problems, numbers against the source data.

One synthetic Swedish cohort is written in its source formats, ingested through the adapters into a
store (once per module), and served by ``create_app``; every test gets its own node state (audit log,
differencing memory, privacy ledger). Numbers are checked against an independent computation over the
synthesised tables (plain Python over ``synth``'s patient, somatic and genotype tables).

The helpers here (``SynthNode``, ``synth_node``, ``make_settings``, ``headers``, ``Person``) are also
used by ``test_node_disclosure.py``.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from genofed.api import AnalysisResponse, ProblemType
from genofed.auth import DemoBroker
from genofed.cli import app as cli_app
from genofed.errors import ConfigError, StoreError
from genofed.ingest import ClinicalReader, SampleSheet, VcfReader
from genofed.model import oncotree
from genofed.node import NodeSettings, TlsSettings, TrustedIssuer, create_app, server_config
from genofed.privacy import verify_audit_log
from genofed.store import NodeStore
from genofed.synth import Cohort, synthesise, write_cohort

with warnings.catch_warnings():
    # Starlette 1.x would rather its TestClient ran on the httpx2 fork; it works the same on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

NODE = "se"
ISSUER = "https://broker.test"
PROBLEM_JSON = "application/problem+json"


# -- the node under test ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    """One synthesised patient, as the oracle sees them (source data, not the store)."""

    index: int
    sex: str
    age: float
    tumour_type: str
    vital_status: str
    genes: frozenset[str]


@dataclass(frozen=True)
class SynthNode:
    """A store built from a synthetic cohort, the cohort itself, and the broker nodes trust."""

    store: Path
    cohort: Cohort
    broker: DemoBroker
    jwks: Path
    people: tuple[Person, ...]

    def genotypes(self) -> np.ndarray:
        """Germline genotypes, sites × people (-1 = no call)."""
        return np.asarray(self.cohort.germline_genotypes)


def build_synth_node(base: Path, *, patients: int = 150, seed: int = 3) -> SynthNode:
    cohort = synthesise("SE", patients, seed)
    manifest = write_cohort(cohort, base / "sources")
    store = base / "store"
    with NodeStore.open(store, create=True) as node_store:
        for reader in (
            VcfReader(manifest.somatic_vcf, samples=SampleSheet.read(manifest.somatic_samples)),
            VcfReader(manifest.germline_vcf, samples=SampleSheet.read(manifest.germline_samples)),
            ClinicalReader(manifest.clinical_tables, manifest.mapping),
        ):
            node_store.write_stream(
                reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key
            )
    broker = DemoBroker.generate(ISSUER)
    broker.save(base / "broker")
    genes: dict[str, set[str]] = {}
    for row in cohort.somatic.select(["patient_id", "gene"]).to_pylist():
        if row["gene"]:
            genes.setdefault(row["patient_id"], set()).add(row["gene"])
    people = tuple(
        Person(
            index=n,
            sex=p["sex"],
            # SE's clinical export gives dates: age at diagnosis is their difference in Julian years.
            age=(p["diagnosis_date"] - p["birth_date"]).days / 365.25,
            tumour_type=p["tumour_type"],
            vital_status="deceased" if p["deceased"] else "alive",
            genes=frozenset(genes.get(p["patient_id"], ())),
        )
        for n, p in enumerate(cohort.patients.to_pylist())
    )
    return SynthNode(store, cohort, broker, base / "broker" / "jwks.json", people)


@pytest.fixture(scope="module")
def synth_node(tmp_path_factory: pytest.TempPathFactory) -> SynthNode:
    return build_synth_node(tmp_path_factory.mktemp("node"))


def make_settings(synth: SynthNode, state: Path, **overrides: Any) -> NodeSettings:
    values: dict[str, Any] = {
        "node_id": NODE,
        "country": "SE",
        "data_dir": synth.store,
        "state_dir": state,
        "trusted_issuers": [TrustedIssuer(issuer=ISSUER, jwks=synth.jwks)],
        **overrides,
    }
    return NodeSettings(**values)


@pytest.fixture
def settings(synth_node: SynthNode, tmp_path: Path) -> NodeSettings:
    return make_settings(synth_node, tmp_path / "state")


@pytest.fixture
def client(settings: NodeSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def headers(
    broker: DemoBroker,
    subject: str = "alice",
    *,
    datasets: tuple[str, ...] = (),
    audience: str = NODE,
    lifetime: int = 3600,
) -> dict[str, str]:
    token = broker.passport(subject, audience=audience, datasets=datasets, lifetime=lifetime)
    return {"Authorization": f"Bearer {token}"}


def assert_problem(
    response: httpx.Response, status: int, kind: ProblemType, match: str = ""
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["type"] == kind.value
    assert problem["status"] == status
    assert match.lower() in problem["detail"].lower(), problem["detail"]
    return problem


# -- the oracle ------------------------------------------------------------------------------------------
def matches(person: Person, cohort: dict[str, Any]) -> bool:
    """Whether a person is in a cohort (a CohortFilter as JSON), computed from the source tables."""
    age = np.float32(person.age)  # the store keeps ages as 32-bit floats
    return (
        cohort.get("sex") in (None, person.sex)
        and ("age_min" not in cohort or age >= np.float32(cohort["age_min"]))
        and ("age_max" not in cohort or age <= np.float32(cohort["age_max"]))
        and (
            "tumour_type" not in cohort or person.tumour_type in oncotree().descendants(cohort["tumour_type"])
        )
        and ("gene" not in cohort or cohort["gene"] in person.genes)
    )


def label_of(person: Person, dimension: dict[str, Any]) -> str:
    """The label a person gets on one cross-tab axis, computed from the source tables."""
    kind = dimension["kind"]
    if kind == "sex":
        return person.sex
    if kind == "vital_status":
        return person.vital_status
    if kind == "gene_status":
        return "carrier" if dimension["gene"] in person.genes else "non-carrier"
    if kind == "tumour_type":
        for code in dimension["codes"]:
            if person.tumour_type in oncotree().descendants(code):
                return str(code)
        return "other"
    raise ValueError(f"no label for {kind}: age bands are matched by position")


def oracle_cells(
    people: tuple[Person, ...],
    cohort: dict[str, Any],
    rows: dict[str, Any],
    columns: dict[str, Any] | None,
    row_labels: list[str],
    column_labels: list[str],
) -> np.ndarray:
    """The true table in the node's label order (age bands matched by position)."""
    counts = np.zeros((len(row_labels), len(column_labels)), dtype=int)

    def index(person: Person, dimension: dict[str, Any] | None, labels: list[str]) -> int:
        if dimension is None:
            return 0
        if dimension["kind"] == "age_band":
            edges = [np.float32(e) for e in dimension["edges"]]
            return int(sum(np.float32(person.age) >= e for e in edges))  # "unknown" never occurs here
        return labels.index(label_of(person, dimension))

    for person in people:
        if matches(person, cohort):
            counts[index(person, rows, row_labels), index(person, columns, column_labels)] += 1
    return counts


def released_numbers(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every released count of an answer (cells, margins, totals, allele counts)."""
    if result["kind"] == "count":
        return [result["count"]]
    if result["kind"] == "crosstab":
        table = result["table"]
        return (
            [c for row in table["cells"] for c in row]
            + table["row_totals"]
            + table["column_totals"]
            + [table["total"]]
        )
    return [n for a in result["alleles"] for n in (a["allele_count"], a["allele_number"])]


def assert_consistent(shown: dict[str, Any], truth: int) -> None:
    """A released count is the truth when it has a value, and its interval holds the truth."""
    if shown["value"] is not None:
        assert shown["value"] == truth, (shown, truth)
    assert shown["lower"] <= truth <= (shown["upper"] if shown["upper"] is not None else 10**9), (
        shown,
        truth,
    )


# -- service-info and health -----------------------------------------------------------------------------
def test_service_info__ga4gh_fields_without_a_passport(client: TestClient) -> None:
    response = client.get("/service-info")
    assert response.status_code == 200
    info = response.json()
    assert info["id"] == "org.genofed.node.se"
    assert info["type"] == {"group": "org.genofed", "artifact": "genofed-node", "version": "1.0.0"}
    assert (info["country"], info["datasets"]) == ("SE", ["se"])
    assert {"name", "description", "organization", "version", "environment"} <= set(info)


def test_health__ok_and_request_id_header(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert len(response.headers["x-request-id"]) == 36


def test_openapi__stable_operation_ids(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/analyses"]["post"]["operationId"] == "createAnalysis"
    assert paths["/service-info"]["get"]["operationId"] == "getServiceInfo"
    assert paths["/health"]["get"]["operationId"] == "getHealth"


# -- numbers against the source data ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "cohort",
    [
        {},
        {"sex": "female"},
        {"age_min": 60},
        {"age_min": 50, "age_max": 70, "sex": "male"},
        {"tumour_type": "COADREAD"},
        {"tumour_type": "NSCLC", "sex": "female"},
        {"gene": "TP53"},
        {"gene": "KRAS", "tumour_type": "COADREAD"},
    ],
)
def test_analyses__count_equals_the_source_data(
    client: TestClient, synth_node: SynthNode, cohort: dict[str, Any]
) -> None:
    response = client.post("/analyses", json={"cohort": cohort}, headers=headers(synth_node.broker))
    assert response.status_code == 200, response.text
    answer = AnalysisResponse.model_validate(response.json())
    truth = sum(matches(p, cohort) for p in synth_node.people)
    shown = response.json()["result"]["count"]
    assert_consistent(shown, truth)
    assert (shown["value"] is None) == (0 < truth < 5)
    assert answer.node.node_id == NODE
    assert answer.request_id == response.headers["x-request-id"]


CROSSTABS = [
    ({}, {"kind": "sex"}, {"kind": "vital_status"}),
    (
        {},
        {"kind": "age_band", "edges": [50, 65]},
        {"kind": "tumour_type", "codes": ["COADREAD", "BRCA", "LUAD"]},
    ),
    ({"age_min": 40}, {"kind": "gene_status", "gene": "TP53"}, {"kind": "sex"}),
    ({"sex": "female"}, {"kind": "vital_status"}, None),
    ({}, {"kind": "tumour_type", "codes": ["NSCLC", "LUAD"]}, {"kind": "age_band", "edges": [55.5, 70]}),
]


@pytest.mark.parametrize(("cohort", "rows", "columns"), CROSSTABS)
def test_analyses__crosstab_equals_the_source_data(
    client: TestClient,
    synth_node: SynthNode,
    cohort: dict[str, Any],
    rows: dict[str, Any],
    columns: dict[str, Any] | None,
) -> None:
    analysis: dict[str, Any] = {"kind": "crosstab", "rows": rows}
    if columns is not None:
        analysis["columns"] = columns
    response = client.post(
        "/analyses", json={"cohort": cohort, "analysis": analysis}, headers=headers(synth_node.broker)
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    truth = oracle_cells(
        synth_node.people, cohort, rows, columns, result["row_labels"], result["column_labels"]
    )
    table = result["table"]
    for r, row in enumerate(table["cells"]):
        for c, shown in enumerate(row):
            assert_consistent(shown, int(truth[r, c]))
    for r, shown in enumerate(table["row_totals"]):
        assert_consistent(shown, int(truth[r].sum()))
    for c, shown in enumerate(table["column_totals"]):
        assert_consistent(shown, int(truth[:, c].sum()))
    assert_consistent(table["total"], int(truth.sum()))
    assert int(truth.sum()) == sum(matches(p, cohort) for p in synth_node.people)


def test_analyses__crosstab_labels(client: TestClient, synth_node: SynthNode) -> None:
    analysis = {
        "kind": "crosstab",
        "rows": {"kind": "age_band", "edges": [50, 65]},
        "columns": {"kind": "tumour_type", "codes": ["coadread", "BRCA"]},
    }
    result = client.post("/analyses", json={"analysis": analysis}, headers=headers(synth_node.broker)).json()[
        "result"
    ]
    assert result["row_labels"] == ["<50", "50–64", "≥65", "unknown"]
    assert result["column_labels"] == ["COADREAD", "BRCA", "other"]


def _common_sites(synth: SynthNode, count: int) -> list[int]:
    genotypes = synth.genotypes()
    carriers = (genotypes > 0).sum(axis=1)
    return [int(i) for i in np.flatnonzero(carriers >= 12)[:count]]


def test_analyses__allele_frequency_equals_the_genotypes(client: TestClient, synth_node: SynthNode) -> None:
    sites = synth_node.cohort.germline_sites.to_pylist()
    chosen = _common_sites(synth_node, 3)
    variants = [{k: sites[i][k] for k in ("chrom", "pos", "ref", "alt")} for i in chosen]
    genotypes = synth_node.genotypes()
    grant = headers(synth_node.broker, datasets=(NODE,))
    for cohort in ({}, {"sex": "male"}):
        members = np.array([matches(p, cohort) for p in synth_node.people])
        body = {"cohort": cohort, "analysis": {"kind": "allele_frequency", "variants": variants}}
        response = client.post("/analyses", json=body, headers=grant)
        assert response.status_code == 200, response.text
        for site, allele in zip(chosen, response.json()["result"]["alleles"], strict=True):
            called = genotypes[site][members]
            assert allele["allele_count"]["value"] == int(called[called > 0].sum())
            # The whole node: AN counts called alleles; a sub-cohort: two per sequenced member.
            expected_an = 2 * int((called >= 0).sum()) if not cohort else 2 * int(members.sum())
            assert allele["allele_number"]["value"] == expected_an


# -- passports and access --------------------------------------------------------------------------------
def _forged(synth: SynthNode) -> str:
    forger = DemoBroker.generate(ISSUER)  # the trusted issuer's name, another key
    return forger.passport("mallory", audience=NODE, datasets=(NODE,))


def _untrusted(synth: SynthNode) -> str:
    return DemoBroker.generate("https://elsewhere.test").passport("mallory", audience=NODE)


def _expired(synth: SynthNode) -> str:
    return synth.broker.passport("alice", audience=NODE, issued_at=int(time.time()) - 7200, lifetime=3600)


def _wrong_audience(synth: SynthNode) -> str:
    return synth.broker.passport("alice", audience="nl")


def _altered(synth: SynthNode) -> str:
    header, _, signature = synth.broker.passport("eve", audience=NODE).split(".")
    _, payload, _ = synth.broker.passport("alice", audience=NODE, datasets=(NODE,)).split(".")
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize(
    ("token", "match"),
    [
        (_forged, "forged"),
        (_untrusted, "does not trust"),
        (_expired, "expired"),
        (_wrong_audience, "another audience"),
        (_altered, "bad signature"),
        (lambda s: "garbage", "not a JWT"),
        (lambda s: "a.b.c", "not a JWT"),
    ],
)
def test_analyses__bad_passports_are_401(
    client: TestClient, synth_node: SynthNode, token: Any, match: str
) -> None:
    response = client.post("/analyses", json={}, headers={"Authorization": f"Bearer {token(synth_node)}"})
    assert_problem(response, 401, ProblemType.UNAUTHENTICATED, match)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_analyses__no_passport_is_401(client: TestClient) -> None:
    assert_problem(
        client.post("/analyses", json={}), 401, ProblemType.UNAUTHENTICATED, "needs a GA4GH Passport"
    )
    basic = client.post("/analyses", json={}, headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert_problem(basic, 401, ProblemType.UNAUTHENTICATED, "Passport")


def test_analyses__visa_for_another_dataset_is_403(client: TestClient, synth_node: SynthNode) -> None:
    other = headers(synth_node.broker, datasets=("nl",))
    body = {
        "analysis": {
            "kind": "allele_frequency",
            "variants": [{"chrom": "1", "pos": 10, "ref": "A", "alt": "C"}],
        }
    }
    assert_problem(
        client.post("/analyses", json=body, headers=other),
        403,
        ProblemType.FORBIDDEN,
        "visa for dataset 'se'",
    )
    # The same passport is registered: counts are allowed.
    assert client.post("/analyses", json={}, headers=other).status_code == 200


def test_analyses__dataset_the_node_does_not_hold_is_404(client: TestClient, synth_node: SynthNode) -> None:
    response = client.post("/analyses", json={"dataset": "dk"}, headers=headers(synth_node.broker))
    assert_problem(response, 404, ProblemType.NOT_FOUND, "holds dataset 'se', not 'dk'")


def test_analyses__anonymous_callers_only_when_the_node_allows(synth_node: SynthNode, tmp_path: Path) -> None:
    settings = make_settings(synth_node, tmp_path / "state", anonymous_access=True)
    with TestClient(create_app(settings)) as open_node:
        assert open_node.post("/analyses", json={"cohort": {"sex": "female"}}).status_code == 200
        body = {
            "analysis": {
                "kind": "allele_frequency",
                "variants": [{"chrom": "1", "pos": 10, "ref": "A", "alt": "C"}],
            }
        }
        assert_problem(open_node.post("/analyses", json=body), 403, ProblemType.FORBIDDEN)
        # A bad token is still an error, not anonymity.
        bad = open_node.post("/analyses", json={}, headers={"Authorization": "Bearer garbage"})
        assert_problem(bad, 401, ProblemType.UNAUTHENTICATED)


# -- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colour": "red"}, "colour: unknown field"),
        ({"cohort": {"sex": "female", "colour": "red"}}, "CohortFilter.colour: unknown field"),
        ({"analysis": {"kind": "crosstab", "rows": {"kind": "sex", "edgez": [1]}}}, "edgez: unknown field"),
        ({"analysis": {"kind": "histogram"}}, "analysis"),
        ({"analysis": {"kind": "crosstab", "rows": {"kind": "age_band", "edges": [65, 50]}}}, "edges"),
        ({"disclosure": {"min_cell_count": 0}}, "disclosure.min_cell_count"),
        ({"cohort": {"age_min": "old"}}, "CohortFilter.age_min"),
    ],
)
def test_analyses__malformed_request_is_422_naming_the_field(
    client: TestClient, synth_node: SynthNode, body: dict[str, Any], field: str
) -> None:
    response = client.post("/analyses", json=body, headers=headers(synth_node.broker))
    assert_problem(response, 422, ProblemType.INVALID_REQUEST, field)


def test_analyses__malformed_json_is_422(client: TestClient, synth_node: SynthNode) -> None:
    response = client.post(
        "/analyses",
        content=b'{"cohort": {',
        headers={**headers(synth_node.broker), "content-type": "application/json"},
    )
    assert_problem(response, 422, ProblemType.INVALID_REQUEST, "not valid JSON")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"cohort": {"tumour_type": "NOPE"}}, "not an OncoTree code"),
        ({"cohort": {"age_min": 70, "age_max": 50}}, "age_min (70) is greater than age_max (50)"),
        (
            {
                "analysis": {
                    "kind": "crosstab",
                    "rows": {"kind": "gene_status", "gene": "TP53", "consequence": "bad"},
                }
            },
            "unknown consequence",
        ),
        (
            {
                "analysis": {
                    "kind": "allele_frequency",
                    "variants": [{"chrom": "1", "pos": 5, "ref": "A", "alt": "A"}],
                }
            },
            "same allele",
        ),
    ],
)
def test_analyses__wrong_study_spec_is_400(
    client: TestClient, synth_node: SynthNode, body: dict[str, Any], match: str
) -> None:
    response = client.post("/analyses", json=body, headers=headers(synth_node.broker, datasets=(NODE,)))
    assert_problem(response, 400, ProblemType.INVALID_QUERY, match)


def test_analyses__oversized_body_is_413(client: TestClient, synth_node: SynthNode) -> None:
    big = json.dumps({"study": "x", "padding": "y" * 2_000_000}).encode()
    auth = headers(synth_node.broker)
    declared = client.post("/analyses", content=big, headers={**auth, "content-type": "application/json"})
    assert_problem(declared, 413, ProblemType.PAYLOAD_TOO_LARGE, "1048576 bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the node counts what arrives
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = client.post(
        "/analyses", content=chunks(), headers={**auth, "content-type": "application/json"}
    )
    assert_problem(streamed, 413, ProblemType.PAYLOAD_TOO_LARGE)


def test_analyses__store_failure_is_503_without_internals(
    client: TestClient, synth_node: SynthNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(sql: str, parameters: Any = None) -> Any:
        raise StoreError("query failed in DuckDB: IO Error: /secret/path/part-0.parquet")

    monkeypatch.setattr(client.app.state.node.store, "execute", broken)  # type: ignore[attr-defined]
    response = client.post("/analyses", json={}, headers=headers(synth_node.broker))
    problem = assert_problem(response, 503, ProblemType.STORE_UNAVAILABLE, "try again later")
    assert "DuckDB" not in problem["detail"]
    assert "/secret" not in problem["detail"]


def test_analyses__unexpected_error_is_500_without_internals(
    settings: NodeSettings, synth_node: SynthNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    import genofed.node._routes_analyses as routes

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal detail: /var/secret")

    monkeypatch.setattr(routes, "answer", boom)
    with TestClient(create_app(settings), raise_server_exceptions=False) as failing:
        response = failing.post("/analyses", json={}, headers=headers(synth_node.broker))
        problem = assert_problem(response, 500, ProblemType.INTERNAL_ERROR, "quote request")
        assert "secret" not in problem["detail"]
        # The node keeps serving.
        assert failing.get("/health").status_code == 200
    events = [json.loads(line)["event"] for line in settings.audit_log_path.read_text().splitlines()]
    assert [e["status"] for e in events if e["type"] == "http"] == [500, 200]


def test_unknown_path_and_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/nothing-here"), 404, ProblemType.NOT_FOUND)
    assert_problem(client.delete("/analyses"), 405, ProblemType.HTTP)


# -- the audit log ---------------------------------------------------------------------------------------
def _events(settings: NodeSettings) -> list[dict[str, Any]]:
    return [json.loads(line)["event"] for line in settings.audit_log_path.read_text().splitlines()]


def test_audit_log__an_entry_per_request_and_per_release(
    client: TestClient, settings: NodeSettings, synth_node: SynthNode
) -> None:
    auth = headers(synth_node.broker)
    crosstab = {
        "kind": "crosstab",
        "rows": {"kind": "sex"},
        "columns": {"kind": "tumour_type", "codes": ["COADREAD", "BRCA"]},
    }
    responses = [
        client.get("/service-info"),
        client.post("/analyses", json={"study": "s1", "cohort": {"sex": "female"}}, headers=auth),
        client.post("/analyses", json={}),
        client.post("/analyses", json={"study": "s2", "analysis": crosstab}, headers=auth),
        client.post("/analyses", json={"colour": 1}, headers=auth),
    ]
    events = _events(settings)
    http = [e for e in events if e["type"] == "http"]
    assert [e["request_id"] for e in http] == [r.headers["x-request-id"] for r in responses]
    assert [e["status"] for e in http] == [r.status_code for r in responses]
    assert http[1]["researcher"] == f"{ISSUER}|alice"
    assert "researcher" not in http[2]
    assert http[4]["problem"] == ProblemType.INVALID_REQUEST.value
    asked = [e for e in events if e["type"] == "analysis"]
    assert [(e["study"], e["cohort"]) for e in asked] == [("s1", {"sex": "female"}), ("s2", {})]
    released = [e for e in events if e["type"] == "release"]
    assert [e["request_id"] for e in released] == [
        responses[1].json()["request_id"],
        responses[3].json()["request_id"],
    ]
    table = responses[3].json()["result"]["table"]
    assert released[1]["released"]["cells"] == [[c["display"] for c in row] for row in table["cells"]]
    assert "<5" in {d for row in released[1]["released"]["cells"] for d in row}  # displays, not raw counts
    assert verify_audit_log(settings.audit_log_path, NodeStore.open(settings.data_dir).secret) == []


def _tamper(path: Path, how: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    if how == "edit":
        lines[2] = lines[2].replace('"status":200', '"status":201')
    elif how == "drop":
        del lines[2]
    elif how == "reorder":
        lines[2], lines[3] = lines[3], lines[2]
    elif how == "truncate-line":
        lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    path.write_text("".join(lines))


@pytest.mark.parametrize("how", ["edit", "drop", "reorder", "truncate-line"])
def test_audit_verify__tampered_log_fails(
    client: TestClient, settings: NodeSettings, synth_node: SynthNode, tmp_path: Path, how: str
) -> None:
    auth = headers(synth_node.broker)
    for cohort in ({}, {"sex": "male"}, {"age_min": 60}):
        assert client.post("/analyses", json={"cohort": cohort}, headers=auth).status_code == 200
    runner = CliRunner()
    log = settings.audit_log_path
    intact = runner.invoke(cli_app, ["audit", "verify", "--log", str(log), "--store", str(settings.data_dir)])
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.output
    _tamper(log, how)
    broken = runner.invoke(cli_app, ["audit", "verify", "--log", str(log), "--store", str(settings.data_dir)])
    assert broken.exit_code == 1
    assert "line 3" in broken.output
    assert "altered" in broken.output


def test_audit_verify__with_the_node_config(synth_node: SynthNode, tmp_path: Path) -> None:
    config = tmp_path / "node.yaml"
    shutil.copy(synth_node.jwks, tmp_path / "jwks.json")
    config.write_text(
        f"node_id: se\ncountry: SE\ndata_dir: {synth_node.store}\nstate_dir: state\n"
        f"trusted_issuers:\n  - issuer: {ISSUER}\n    jwks: jwks.json\n"
    )
    settings = NodeSettings.from_yaml(config)
    with TestClient(create_app(settings)) as node:
        node.get("/health")
    runner = CliRunner()
    assert runner.invoke(cli_app, ["audit", "verify", "--config", str(config)]).exit_code == 0
    settings.audit_log_path.write_text(settings.audit_log_path.read_text().replace("/health", "/healthz"))
    result = runner.invoke(cli_app, ["audit", "verify", "--config", str(config)])
    assert result.exit_code == 1
    assert "edited or forged" in result.output
    missing = runner.invoke(cli_app, ["audit", "verify", "--log", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1
    assert "--store" in missing.output


# -- settings --------------------------------------------------------------------------------------------
def test_node_settings__from_yaml_resolves_paths_relative_to_the_file(
    synth_node: SynthNode, tmp_path: Path
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    shutil.copy(synth_node.jwks, folder / "jwks.json")
    (folder / "policy.yaml").write_text("min_cell_count: 10\n")
    (folder / "node.yaml").write_text(
        f"node_id: se\ncountry: SE\ndata_dir: {synth_node.store}\npolicy: policy.yaml\n"
        f"trusted_issuers: [{{issuer: '{ISSUER}', jwks: jwks.json}}]\n"
    )
    settings = NodeSettings.from_yaml(folder / "node.yaml")
    assert settings.trusted_issuers[0].jwks == folder / "jwks.json"
    assert settings.load_policy().min_cell_count == 10
    assert settings.audit_log_path == synth_node.store / "node" / "audit.jsonl"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "node_id: se\ncountry: SE\ndata_dir: x\nanonymous_access: true\nport: 70000\n",
            r"port: .*less than or equal",
        ),
        (
            "node_id: se\ncountry: SE\ndata_dir: x\nanonymous_access: true\ncolour: red\n",
            r"colour: Extra inputs",
        ),
        (
            "node_id: se\ncountry: Sweden\ndata_dir: x\nanonymous_access: true\n",
            r"country: String should match",
        ),
        ("node_id: se\ncountry: SE\ndata_dir: x\n", r"no trusted_issuers"),
        (
            "node_id: se\ncountry: SE\ndata_dir: x\nanonymous_access: true\nhost: 0.0.0.0\n",
            r"no tls is configured",
        ),
        (
            "node_id: se\ncountry: SE\ndata_dir: x\nanonymous_access: true\nhost: 0.0.0.0\n"
            "tls: {certificate: none.pem, private_key: none.key}\n",
            r"none\.pem does not exist",
        ),
        ("- just\n- a list\n", r"must be a mapping"),
    ],
)
def test_node_settings__unsafe_or_wrong_settings_are_refused(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "node.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        NodeSettings.from_yaml(tmp_path / "node.yaml")


def test_node_settings__plain_http_beyond_loopback_only_when_allowed(
    synth_node: SynthNode, tmp_path: Path
) -> None:
    settings = make_settings(synth_node, tmp_path, host="0.0.0.0", allow_plain_http=True)
    assert settings.host == "0.0.0.0"


def test_create_app__missing_store_is_a_store_error(synth_node: SynthNode, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a genofed store"):
        create_app(make_settings(synth_node, tmp_path / "state", data_dir=tmp_path / "empty"))


def test_node_serve__bad_config_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "node.yaml").write_text("node_id: se\n")
    result = CliRunner().invoke(cli_app, ["node", "serve", "--config", str(tmp_path / "node.yaml")])
    assert result.exit_code == 1
    assert "ConfigError" in result.output
    assert "country: Field required" in result.output


# -- real servers ----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Running:
    server: uvicorn.Server
    thread: threading.Thread


def _start(settings: NodeSettings) -> _Running:
    config = server_config(settings)
    config.log_level = "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the node did not start")
        time.sleep(0.02)
    return _Running(server, thread)


def _stop(running: _Running) -> None:
    running.server.should_exit = True
    running.thread.join(timeout=10)


def test_serve__real_uvicorn_server(synth_node: SynthNode, tmp_path: Path) -> None:
    port = _free_port()
    settings = make_settings(synth_node, tmp_path / "state", port=port)
    running = _start(settings)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/service-info").json()["country"] == "SE"
            response = http.post(
                "/analyses", json={"cohort": {"sex": "female"}}, headers=headers(synth_node.broker)
            )
            assert response.status_code == 200
            truth = sum(matches(p, {"sex": "female"}) for p in synth_node.people)
            assert response.json()["result"]["count"]["value"] == truth
            assert_problem(http.post("/analyses", json={}), 401, ProblemType.UNAUTHENTICATED)
            # Concurrent requests (uvicorn runs the endpoints in a thread pool) keep the audit chain whole.
            auth = headers(synth_node.broker, "carol")
            bodies = [{"cohort": {"sex": sex}} for sex in ("female", "male")] * 8
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(
                    pool.map(lambda b: http.post("/analyses", json=b, headers=auth).status_code, bodies)
                )
            assert statuses == [200] * len(bodies)
    finally:
        _stop(running)
    log = settings.audit_log_path
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert sum(e["type"] == "release" for e in events) == 1 + 16
    assert verify_audit_log(log, NodeStore.open(settings.data_dir).secret) == []


def _self_signed(folder: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "genofed test node")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "node.pem", folder / "node.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_serve__tls(synth_node: SynthNode, tmp_path: Path) -> None:
    certificate, private_key = _self_signed(tmp_path)
    port = _free_port()
    tls = TlsSettings(certificate=certificate, private_key=private_key)
    running = _start(make_settings(synth_node, tmp_path / "state", port=port, tls=tls))
    try:
        trusting = ssl.create_default_context(cafile=str(certificate))
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trusting, timeout=10) as https:
            assert https.get("/health").json()["status"] == "ok"
        with (
            httpx.Client(base_url=f"https://127.0.0.1:{port}", timeout=10) as untrusting,
            pytest.raises(httpx.ConnectError),
        ):
            untrusting.get("/health")  # a client that does not trust the certificate refuses to talk
    finally:
        _stop(running)
