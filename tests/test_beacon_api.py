"""Beacon v2 on a node serving the CINECA cohort: every response validates against the official
v2.1.1 schemas (GET and POST, every granularity, hits and misses), and the numbers agree with
independent oracles computed from the source files (the VCF's genotype strings, the TSV's columns)."""

from __future__ import annotations

import gzip
import json
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from beacon_schemas import errors
from conftest import fixture_path
from genofed.auth import AccessLevel, DemoBroker, Identity
from genofed.cli import app as cli_app
from genofed.cli._beacon import beacon_request_body
from genofed.errors import QueryError
from genofed.federation import Registry, beacon_network_query
from genofed.ingest import ClinicalReader, VcfReader, packaged_mapping
from genofed.model import trim_alleles
from genofed.node import NodeContext, NodeSettings, TrustedIssuer, create_app
from genofed.node._beacon import BeaconRequest, answer_beacon
from genofed.node._beacon_defences import BeaconDefences
from genofed.query._beacon import parse_filters
from genofed.store import NodeStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ISSUER = "https://broker.test"
NODE = "uk1"
SEX = {"female": "NCIT:C16576", "male": "NCIT:C20197"}


@dataclass(frozen=True)
class Cineca:
    store: Path
    jwks: Path
    broker: DemoBroker
    vcf: Path
    table: Path


@pytest.fixture(scope="module")
def cineca(tmp_path_factory: pytest.TempPathFactory) -> Cineca:
    folder = tmp_path_factory.mktemp("beacon-node")
    vcf = fixture_path("cineca", "cineca_chr22_annotated.vcf.gz")
    table = fixture_path("cineca", "uk1.tsv")
    with NodeStore.open(folder / "store", create=True) as node:
        for reader in (VcfReader(vcf), ClinicalReader([table], packaged_mapping("cineca-uk1"))):
            node.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
    broker = DemoBroker.generate(ISSUER)
    broker.save(folder / "broker")
    return Cineca(folder / "store", folder / "broker" / "jwks.json", broker, vcf, table)


@pytest.fixture(scope="module")
def client(cineca: Cineca, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = NodeSettings(
        node_id=NODE,
        country="GB",
        data_dir=cineca.store,
        state_dir=tmp_path_factory.mktemp("state"),
        trusted_issuers=[TrustedIssuer(issuer=ISSUER, jwks=cineca.jwks)],
    )
    app = create_app(settings)
    # The budget and the rate limit are tested in test_beacon_privacy.py; these tests ask the same
    # alleles many times over (rare-allele hiding for anonymous callers stays on).
    app.state.beacon_defences = BeaconDefences(enabled=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def schemas() -> Path:
    return fixture_path("beacon-v2")


def _auth(cineca: Cineca, level: str) -> dict[str, str]:
    if level == "anonymous":
        return {}
    datasets = (NODE,) if level == "controlled" else ()
    token = cineca.broker.passport("alice", audience=NODE, datasets=datasets)
    return {"Authorization": f"Bearer {token}"}


def _valid(schemas: Path, body: dict[str, Any]) -> None:
    """The response validates against the schema of the granularity it says it returned."""
    kind = body["meta"]["returnedGranularity"]
    assert (
        errors(
            schemas,
            {
                "boolean": "responses/beaconBooleanResponse.json",
                "count": "responses/beaconCountResponse.json",
                "record": "responses/beaconResultsetsResponse.json",
            }[kind],
            body,
        )
        == []
    )


def test_beacon_framework__endpoints_validate(client: TestClient, schemas: Path) -> None:
    for path, schema in (
        ("", "responses/beaconInfoResponse.json"),
        ("/info", "responses/beaconInfoResponse.json"),
        ("/configuration", "responses/beaconConfigurationResponse.json"),
        ("/map", "responses/beaconMapResponse.json"),
        ("/entry_types", "responses/beaconEntryTypesResponse.json"),
        ("/filtering_terms", "responses/beaconFilteringTermsResponse.json"),
        ("/service-info", "responses/ga4gh-service-info-1-0-0-schema.json"),
    ):
        for method in ("GET", "POST") if path != "/service-info" else ("GET",):
            response = client.request(method, f"/beacon{path}", json={} if method == "POST" else None)
            assert response.status_code == 200, (path, response.text)
            assert errors(schemas, schema, response.json()) == [], (method, path)
    # Every Beacon operation has its own id (a duplicate would warn, and warnings are errors here).
    assert client.get("/openapi.json").status_code == 200
    # The node's own service-info is unchanged at the root; the Beacon's says it is a Beacon.
    assert client.get("/service-info").json()["type"]["artifact"] == "genofed-node"
    assert client.get("/beacon/service-info").json()["type"] == {
        "group": "org.ga4gh",
        "artifact": "beacon",
        "version": "v2.1.1",
    }


def _vcf_carriers(vcf: Path) -> list[tuple[int, str, str, int]]:
    """Per VCF record (all biallelic): 1-based POS, REF, ALT and the number of samples carrying ALT,
    straight from the GT strings (the oracle; independent of the adapter and the store)."""
    sites = []
    with gzip.open(vcf, "rt") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            carriers = sum(
                1 for sample in fields[9:] if "1" in sample.split(":")[0].replace("|", "/").split("/")
            )
            sites.append((int(fields[1]), fields[3], fields[4], carriers))
    return sites


@pytest.fixture(scope="module")
def node(client: TestClient) -> NodeContext:
    context: NodeContext = client.app.state.node  # type: ignore[attr-defined]
    return context


def _sequence_body(
    pos: int, ref: str, alt: str, chrom: str = "22", granularity: str = "count"
) -> dict[str, Any]:
    return {
        "meta": {"apiVersion": "v2.1.1"},
        "query": {
            "requestParameters": {
                "assemblyId": "GRCh37",
                "referenceName": chrom,
                "start": [pos - 1],  # Beacon v2 is 0-based; VCF POS is 1-based
                "referenceBases": ref,
                "alternateBases": alt,
            },
            "requestedGranularity": granularity,
        },
    }


def _shown(carriers: int) -> str:
    return str(carriers) if carriers >= 5 else "<5"  # the node's default minimum cell count


def test_beacon_g_variants__count_of_every_cineca_site_matches_the_vcf(
    cineca: Cineca, node: NodeContext
) -> None:
    """All 5,002 records, through the node's Beacon answer (everything but the HTTP layer, for speed)."""
    sites = _vcf_carriers(cineca.vcf)
    assert len(sites) == 5002
    symbolic = [site for site in sites if site[2].startswith("<")]
    assert len(symbolic) == 4  # <CN0>, <CN2>, ...: copy-number alleles, which the store does not keep
    identity = Identity(
        subject="alice", issuer=ISSUER, level=AccessLevel.CONTROLLED, datasets=frozenset({NODE})
    )
    spellings = ("22", "chr22", "NC_000022.10")

    def check(item: tuple[int, tuple[int, str, str, int]]) -> tuple[Any, ...] | None:
        n, (pos, ref, alt, carriers) = item
        body = _sequence_body(pos, ref, alt, spellings[n % 3])
        if alt.startswith("<"):
            with pytest.raises(QueryError, match="alternateBases"):
                answer_beacon(node, "g_variants", BeaconRequest(body), identity)
            return None
        answer = answer_beacon(node, "g_variants", BeaconRequest(body), identity)
        exists = answer["responseSummary"]["exists"]
        if not carriers:
            return (pos, ref, alt, carriers, answer) if exists else None
        shown = answer["response"]["resultSets"][0]["info"]["carriers"]["display"] if exists else None
        return None if shown == _shown(carriers) else (pos, ref, alt, carriers, shown)

    with ThreadPoolExecutor(8) as pool:
        mismatches = [m for m in pool.map(check, enumerate(sites)) if m is not None]
    assert mismatches == []
    assert sum(1 for site in sites if site[3] == 0) > 0  # AC=0 records are there, and do not "exist"


def test_beacon_g_variants__over_http_get_and_post_validate(
    client: TestClient, cineca: Cineca, schemas: Path
) -> None:
    sites = [s for s in _vcf_carriers(cineca.vcf) if not s[2].startswith("<")]
    sample = sites[::400] + [s for s in sites if len(s[1]) != len(s[2])][:4]
    for level in ("anonymous", "registered", "controlled"):
        for granularity in ("boolean", "count", "record"):
            for pos, ref, alt, carriers in sample[:: 3 if granularity == "record" else 1]:
                body = _sequence_body(pos, ref, alt, granularity=granularity)
                post = client.post("/beacon/g_variants", json=body, headers=_auth(cineca, level)).json()
                params = {**body["query"]["requestParameters"], "start": str(pos - 1)}
                get = client.get(
                    "/beacon/g_variants",
                    params={**params, "requestedGranularity": granularity},
                    headers=_auth(cineca, level),
                ).json()
                for answer in (post, get):
                    _valid(schemas, answer)
                    allowed = {"anonymous": "boolean", "registered": "count", "controlled": "record"}[level]
                    rank = ("boolean", "count", "record")
                    assert rank.index(answer["meta"]["returnedGranularity"]) <= min(
                        rank.index(granularity), rank.index(allowed)
                    )
                    rare = carriers < 5
                    # Anonymous callers do not learn that rare alleles exist.
                    expected = bool(carriers) and not (level == "anonymous" and rare)
                    assert answer["responseSummary"]["exists"] is expected, (level, pos, carriers)
                    if answer["meta"]["returnedGranularity"] == "record" and expected:
                        (record,) = answer["response"]["resultSets"][0]["results"]
                        assert errors(schemas, "genomicVariations", record) == []
                        assert len(record["caseLevelData"]) == carriers


def test_beacon_g_variants__range_bracket_and_gene_queries(client: TestClient, cineca: Cineca) -> None:
    sites = [s for s in _vcf_carriers(cineca.vcf) if not s[2].startswith("<")]
    controlled = _auth(cineca, "controlled")
    start, end = sites[1000][0] + 3, sites[1200][0] - 2  # 0-based half-open, between records

    # Overlap: v.start < q.end and v.end > q.start, v.start = POS - 1 and v.end = v.start + len(REF)
    # (trimmed alleles: a VCF indel's anchor base is not part of the stored allele).
    def overlaps(pos: int, ref: str, alt: str) -> bool:
        trimmed = trim_alleles(pos - 1, ref, alt)
        return trimmed[0] < end and trimmed[0] + len(trimmed[1]) > start

    expected = sum(1 for pos, ref, alt, c in sites if c and overlaps(pos, ref, alt))
    assert expected > 10
    body = {
        "query": {
            "requestParameters": {"referenceName": "chr22", "start": [start], "end": [end]},
            "requestedGranularity": "count",
        }
    }
    answer = client.post("/beacon/g_variants", json=body, headers=controlled).json()
    assert answer["responseSummary"]["numTotalResults"] == expected
    # Bracket: starts within [a, b], ends within [c, d].
    snvs = [(pos, ref, alt) for pos, ref, alt, c in sites if c and len(ref) == len(alt) == 1][100:110]
    a, b = snvs[0][0] - 1, snvs[-1][0] - 1
    body = {
        "query": {
            "requestParameters": {"referenceName": "22", "start": [a, b], "end": [a, b + 1]},
            "requestedGranularity": "count",
        }
    }
    answer = client.post("/beacon/g_variants", json=body, headers=controlled).json()
    inside = sum(
        1
        for pos, ref, alt, c in sites
        if c
        and a <= trim_alleles(pos - 1, ref, alt)[0] <= b
        and trim_alleles(pos - 1, ref, alt)[0] + len(trim_alleles(pos - 1, ref, alt)[1]) <= b + 1
    )
    assert answer["responseSummary"]["numTotalResults"] == inside
    # HGVS short form, both spellings.
    pos, ref, alt = snvs[0]
    for key in ("genomicAlleleShortForm", "allele"):
        got = client.get(
            "/beacon/g_variants",
            params={key: f"NC_000022.10:g.{pos}{ref}>{alt}", "requestedGranularity": "count"},
            headers=controlled,
        ).json()
        assert got["responseSummary"] == {"exists": True, "numTotalResults": 1}, key
    # Gene queries: geneId and geneid, against the store's own annotation of the sites.
    gene = node_gene(cineca)
    for key in ("geneId", "geneid"):
        got = client.get(
            "/beacon/g_variants", params={key: gene[0], "requestedGranularity": "count"}, headers=controlled
        ).json()
        assert got["responseSummary"]["numTotalResults"] == gene[1], key


def node_gene(cineca: Cineca) -> tuple[str, int]:
    """The gene with most carried alleles, by a plain reading of the store's sites (the store picks the
    gene of each allele's most severe annotation, so the VCF's ANN alone cannot say which gene it is)."""
    with NodeStore.open(cineca.store) as store:
        row = store.execute(
            "SELECT gene, count(DISTINCT variant_id) AS n FROM variant_sites "
            "WHERE gene IS NOT NULL AND allele_count > 0 GROUP BY gene ORDER BY n DESC LIMIT 1"
        ).to_pylist()[0]
    return str(row["gene"]), int(row["n"])


def _published() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(fixture_path("cineca", "individuals.json").read_text())
    return records


def test_beacon_individuals__sex_and_ethnicity_filters_match_the_cohorts_records(
    client: TestClient, cineca: Cineca, schemas: Path
) -> None:
    published = _published()
    registered = _auth(cineca, "registered")
    sexes = Counter(r["sex"]["id"] for r in published)
    ethnicities = Counter(r["ethnicity"]["id"] for r in published if "ethnicity" in r)
    assert len(sexes) == 2
    assert len(ethnicities) > 3
    for term, expected in [*sexes.items(), *ethnicities.items()]:
        get = client.get(
            "/beacon/individuals",
            params={"filters": term, "requestedGranularity": "count"},
            headers=registered,
        ).json()
        post = client.post(
            "/beacon/individuals",
            json={"query": {"filters": [{"id": term}], "requestedGranularity": "count"}},
            headers=registered,
        ).json()
        for answer in (get, post):
            _valid(schemas, answer)
            assert answer["responseSummary"]["numTotalResults"] == expected, term
    # AND across fields, OR within one.
    female, male = SEX["female"], SEX["male"]
    ethnicity, _ = ethnicities.most_common(1)[0]
    both = sum(
        1 for r in published if r["sex"]["id"] == female and r.get("ethnicity", {}).get("id") == ethnicity
    )
    answer = client.post(
        "/beacon/individuals",
        json={"query": {"filters": [{"id": female}, {"id": ethnicity}], "requestedGranularity": "count"}},
        headers=registered,
    ).json()
    assert answer["responseSummary"]["numTotalResults"] == both
    answer = client.post(
        "/beacon/individuals",
        json={"query": {"filters": [female, male], "requestedGranularity": "count"}},
        headers=registered,
    ).json()
    assert answer["responseSummary"]["numTotalResults"] == len(published)
    # Unknown filters are reported, not silently dropped.
    answer = client.post(
        "/beacon/individuals",
        json={"query": {"filters": [female, "XYZ:123"], "requestedGranularity": "count"}},
        headers=registered,
    ).json()
    assert answer["info"]["warnings"]["unsupportedFilters"] == ["XYZ:123"]
    _valid(schemas, answer)


def test_beacon_individuals__records_for_controlled_callers_only(
    client: TestClient, cineca: Cineca, schemas: Path
) -> None:
    body = {
        "query": {"filters": [SEX["female"]], "requestedGranularity": "record", "pagination": {"limit": 7}}
    }
    answer = client.post("/beacon/individuals", json=body, headers=_auth(cineca, "controlled")).json()
    _valid(schemas, answer)
    assert answer["meta"]["returnedGranularity"] == "record"
    results = answer["response"]["resultSets"][0]["results"]
    assert len(results) == 7
    assert all(r["sex"]["id"] == SEX["female"] for r in results)
    assert [e for r in results for e in errors(schemas, "individuals", r)] == []
    for level, granularity in (("registered", "count"), ("anonymous", "boolean")):
        answer = client.post("/beacon/individuals", json=body, headers=_auth(cineca, level)).json()
        _valid(schemas, answer)
        assert answer["meta"]["returnedGranularity"] == granularity
        assert "response" not in answer or not answer["response"]["resultSets"][0]["results"]
    # A forged passport is an error response, not an anonymous answer.
    response = client.post("/beacon/individuals", json=body, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_beacon_entry_types__every_endpoint_and_cross_link_validates(
    client: TestClient, cineca: Cineca, schemas: Path
) -> None:
    controlled = _auth(cineca, "controlled")
    models = {
        "individuals": "individuals",
        "biosamples": "biosamples",
        "g_variants": "genomicVariations",
        "analyses": "analyses",
        "runs": "runs",
        "cohorts": "cohorts",
        "datasets": "datasets",
    }
    first: dict[str, str] = {}
    for path, model in models.items():
        for method in ("GET", "POST"):
            kwargs: dict[str, Any] = {"headers": controlled}
            if method == "POST":
                kwargs["json"] = {"query": {"requestedGranularity": "record", "pagination": {"limit": 3}}}
            else:
                kwargs["params"] = {"requestedGranularity": "record", "limit": 3}
            if path == "g_variants":
                query = {"referenceName": "22", "start": 16050000, "end": 16100000}
                if method == "POST":
                    kwargs["json"]["query"]["requestParameters"] = {
                        **query,
                        "start": [16050000],
                        "end": [16100000],
                    }
                else:
                    kwargs["params"].update(query)
            answer = client.request(method, f"/beacon/{path}", **kwargs).json()
            _valid(schemas, answer)
            results = answer["response"]["resultSets"][0]["results"]
            assert results, path
            assert [e for r in results for e in errors(schemas, model, r)] == [], path
            first[path] = results[0]["id"] if path != "g_variants" else results[0]["variantInternalId"]
    from genofed.node._beacon import _LINKS

    for path, targets in _LINKS.items():
        one = client.get(
            f"/beacon/{path}/{first[path]}", params={"requestedGranularity": "record"}, headers=controlled
        ).json()
        _valid(schemas, one)
        assert one["responseSummary"]["exists"], path
        for target in targets:
            linked = client.get(
                f"/beacon/{path}/{first[path]}/{target}",
                params={"requestedGranularity": "count"},
                headers=controlled,
            ).json()
            _valid(schemas, linked)
        miss = client.get(
            f"/beacon/{path}/no-such-id", params={"requestedGranularity": "count"}, headers=controlled
        )
        assert miss.status_code in (200, 404), path
        if miss.status_code == 200:
            _valid(schemas, miss.json())
            assert miss.json()["responseSummary"]["exists"] is False, path
        else:
            assert errors(schemas, "responses/beaconErrorResponse.json", miss.json()) == []
    # The individual a variant links to carries it.
    carriers = client.get(
        f"/beacon/g_variants/{first['g_variants']}/individuals",
        params={"requestedGranularity": "record", "limit": 100},
        headers=controlled,
    ).json()
    ids = {r["id"] for r in carriers["response"]["resultSets"][0]["results"]}
    variant = client.get(
        f"/beacon/g_variants/{first['g_variants']}",
        params={"requestedGranularity": "record"},
        headers=controlled,
    ).json()["response"]["resultSets"][0]["results"][0]
    assert ids == {c["individualId"] for c in variant["caseLevelData"]}


def test_beacon_errors__bad_requests_answer_beacon_errors(client: TestClient, schemas: Path) -> None:
    for params in (
        {"referenceName": "22", "start": "x", "alternateBases": "A"},
        {"start": "100", "alternateBases": "A"},
        {"referenceName": "22", "start": "100"},
        {"variantType": "WEIRD"},
        {"requestedGranularity": "everything"},
    ):
        response = client.get("/beacon/g_variants", params=params)
        assert response.status_code == 400, params
        assert errors(schemas, "responses/beaconErrorResponse.json", response.json()) == []
    response = client.post(
        "/beacon/individuals", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]["errorMessage"]


def test_beacon_network__one_result_set_per_node_and_failures_named(
    cineca: Cineca, tmp_path: Path, schemas: Path
) -> None:
    apps = {}
    for name in ("uk1", "uk2"):
        settings = NodeSettings(
            node_id=name,
            country="GB",
            data_dir=cineca.store,
            state_dir=tmp_path / name,
            trusted_issuers=[TrustedIssuer(issuer=ISSUER, jwks=cineca.jwks)],
        )
        apps[name] = create_app(settings)

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"detail": "disk on fire"})

    transports: dict[str, httpx.AsyncBaseTransport] = {
        name: httpx.ASGITransport(app=app) for name, app in apps.items()
    }
    transports["dk"] = httpx.MockTransport(broken)
    registry = Registry.from_data(
        {
            "nodes": [
                {"id": "uk1", "url": "http://127.0.0.1:1", "country": "GB"},
                {"id": "uk2", "url": "http://127.0.0.1:2", "country": "GB"},
                {"id": "dk", "url": "http://127.0.0.1:3", "country": "DK"},
            ]
        }
    )
    token = {n: cineca.broker.passport("alice", audience=n) for n in ("uk1", "uk2", "dk")}
    body = beacon_request_body(filters=[SEX["female"]], granularity="count")
    merged, answers = beacon_network_query(registry, "individuals", body, token=token, transport=transports)
    assert [a.status for a in answers] == ["answered", "answered", "failed"]
    females = sum(1 for r in _published() if r["sex"]["id"] == SEX["female"])
    assert [s["resultsCount"] for s in merged["response"]["resultSets"]] == [females, females]
    assert merged["responseSummary"] == {"exists": True, "numTotalResults": 2 * females}
    assert merged["info"]["failures"] == [{"node": "dk", "status": "failed", "reason": answers[2].reason}]
    assert "500" in (answers[2].reason or "")
    assert errors(schemas, "responses/beaconCountResponse.json", merged) == []
    assert errors(schemas, "responses/beaconResultsetsResponse.json", merged) == []
    for app in apps.values():
        app.state.node.close()


def test_beacon_query_cli__no_node_answers(tmp_path: Path) -> None:
    registry = tmp_path / "nodes.yaml"
    registry.write_text("timeout: 2\nnodes:\n  - {id: se, url: 'http://127.0.0.1:9', country: SE}\n")
    result = CliRunner().invoke(
        cli_app,
        [
            "beacon",
            "query",
            "--registry",
            str(registry),
            "--chrom",
            "22",
            "--start",
            "16050074",
            "--ref",
            "A",
            "--alt",
            "G",
            "--assembly",
            "GRCh37",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "se" in result.output
    assert "failed" in result.output


def test_beacon_individuals__icd10_filter_matches_the_cohorts_records(
    client: TestClient, cineca: Cineca
) -> None:
    published = _published()
    codes = Counter(d["diseaseCode"]["id"] for r in published for d in r.get("diseases", []))
    code, _ = codes.most_common(1)[0]
    expected = sum(1 for r in published if any(d["diseaseCode"]["id"] == code for d in r.get("diseases", [])))
    answer = client.get(
        "/beacon/individuals",
        params={"filters": code, "requestedGranularity": "count"},
        headers=_auth(cineca, "registered"),
    ).json()
    assert answer["responseSummary"]["numTotalResults"] == expected, code


def test_parse_filters__descendants_ages_and_unknown_terms() -> None:
    expanded = parse_filters(["ONCOTREE:NSCLC"])
    assert {"NSCLC", "LUAD", "LUSC"} <= set(expanded.tumour_types)
    assert parse_filters([{"id": "ONCOTREE:NSCLC", "includeDescendantTerms": False}]).tumour_types == (
        "NSCLC",
    )
    assert "LUAD" in parse_filters(["NCIT:C3512"]).tumour_types  # LUAD's NCIt cross-reference
    ages = parse_filters(
        [{"id": "age", "operator": ">=", "value": "P45Y6M"}, {"id": "age", "operator": "<", "value": "P60Y"}]
    )
    assert ages.age == ((">=", 45.5), ("<", 60.0))
    assert parse_filters(["XYZ:1", "ONCOTREE:NOPE"]).unknown == ("XYZ:1", "ONCOTREE:NOPE")
    with pytest.raises(QueryError, match="ISO 8601 duration"):
        parse_filters([{"id": "age", "operator": ">", "value": "45 years"}])
    with pytest.raises(QueryError, match="unknown operator"):
        parse_filters([{"id": "age", "operator": "~", "value": "P4Y"}])


def test_beacon_individuals__variant_parameters_select_carriers(client: TestClient, cineca: Cineca) -> None:
    pos, ref, alt, carriers = max(
        (s for s in _vcf_carriers(cineca.vcf) if not s[2].startswith("<")), key=lambda s: s[3]
    )
    body = _sequence_body(pos, ref, alt)
    answer = client.post("/beacon/individuals", json=body, headers=_auth(cineca, "registered")).json()
    assert answer["responseSummary"]["numTotalResults"] == carriers
    # Parameters that are no variant condition restrict nothing.
    everyone = client.get(
        "/beacon/individuals",
        params={"requestedGranularity": "count", "unrelated": "1"},
        headers=_auth(cineca, "registered"),
    ).json()
    assert everyone["responseSummary"]["numTotalResults"] == len(_published())
