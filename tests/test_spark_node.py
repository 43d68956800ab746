"""A node configured with ``store: {backend: spark}`` serves ``/analyses`` and Beacon like a DuckDB node.

One synthetic Swedish cohort (the store of ``test_node_api``) is served twice: by a DuckDB node and by
a Spark node (local mode, the test session's SparkSession). Every analysis kind -- counts,
cross-tabs, allele frequencies, Kaplan–Meier counts, Cox and GLM score/information steps -- and
Beacon queries must give identical answers on both; the counts are also checked against the source
data (``test_node_api``'s oracle), so "identical" is not "identically wrong".
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from backends import SPARK_CONF
from genofed.node import NodeContext, create_app
from genofed.store import Backend, SitesIndex, SparkOptions, SparkStore, StoreOptions
from test_node_api import SynthNode, build_synth_node, headers, make_settings, matches

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

# Spark and py4j leave gateway sockets to the garbage collector and use deprecated Python APIs;
# neither is genofed's code (see tests/backends.py).
pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:py4j.*"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

# Every node answers every request: the differencing guard would refuse the same cohort twice over.
POLICY = "differencing: {enabled: false}\n"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthNode:
    return build_synth_node(tmp_path_factory.mktemp("spark-node"), patients=120, seed=5)


def _client(synth: SynthNode, state: Path, store: StoreOptions) -> TestClient:
    policy = state.parent / f"{state.name}-policy.yaml"
    policy.write_text(POLICY)
    settings = make_settings(synth, state, store=store, policy=policy)
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def nodes(
    synth: SynthNode, spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, TestClient]]:
    """A DuckDB node and a Spark node over the same store."""
    state = tmp_path_factory.mktemp("states")
    spark_options = StoreOptions(
        backend=Backend.SPARK, spark=SparkOptions(master="local[2]", conf=SPARK_CONF)
    )
    with (
        _client(synth, state / "duckdb", StoreOptions()) as duck,
        _client(synth, state / "spark", spark_options) as sparky,
    ):
        yield duck, sparky


def _ask(client: TestClient, synth: SynthNode, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/analyses", json=body, headers=headers(synth.broker, datasets=("se",)))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def test_node__spark_backend_runs_the_analyses(
    nodes: tuple[TestClient, TestClient], synth: SynthNode, spark: Any
) -> None:
    duck, sparky = nodes
    context: NodeContext = sparky.app.state.node  # type: ignore[attr-defined]
    assert isinstance(context.store, SparkStore)
    assert isinstance(context.store.lookup, SitesIndex)
    assert not isinstance(duck.app.state.node.store, SparkStore)  # type: ignore[attr-defined]
    tracker = spark.sparkContext.statusTracker()
    before = len(tracker.getJobIdsForGroup(None))
    _ask(sparky, synth, {"cohort": {"gene": "TP53"}})
    assert len(tracker.getJobIdsForGroup(None)) > before  # the count ran as Spark jobs


COHORTS = [{}, {"sex": "female", "age_min": 50}, {"gene": "KRAS", "tumour_type": "COADREAD"}]


@pytest.mark.parametrize("cohort", COHORTS)
def test_analyses__count_is_identical_and_equals_the_source_data(
    nodes: tuple[TestClient, TestClient], synth: SynthNode, cohort: dict[str, Any]
) -> None:
    answers = [_ask(client, synth, {"cohort": cohort}) for client in nodes]
    assert answers[0] == answers[1]
    truth = sum(matches(p, cohort) for p in synth.people)
    if answers[1]["count"]["value"] is not None and truth >= 5:
        assert answers[1]["count"]["value"] == truth


ANALYSES: list[dict[str, Any]] = [
    {"kind": "crosstab", "rows": {"kind": "sex"}, "columns": {"kind": "gene_status", "gene": "TP53"}},
    {
        "kind": "crosstab",
        "rows": {"kind": "age_band", "edges": [50, 65]},
        "columns": {"kind": "tumour_type", "codes": ["COADREAD", "BRCA", "LUAD"]},
    },
    {"kind": "kaplan_meier", "grid": [90, 365, 730, 1460]},
    {"kind": "kaplan_meier", "group": {"kind": "sex"}, "grid": [180, 365, 1095]},
    {"kind": "cox", "covariates": [{"kind": "sex"}, {"kind": "age"}]},
    {
        "kind": "glm",
        "outcome": "deceased",
        "family": "binomial",
        "covariates": [{"kind": "age"}, {"kind": "gene_status", "gene": "TP53"}],
    },
    {
        "kind": "glm",
        "outcome": "overall_survival_days",
        "family": "gaussian",
        "covariates": [{"kind": "sex"}],
    },
    {
        "kind": "glm",
        "outcome": "deceased",
        "family": "poisson",
        "offset": "log_follow_up_years",
        "covariates": [{"kind": "age"}],
    },
]


@pytest.mark.parametrize("analysis", ANALYSES, ids=lambda a: f"{a['kind']}-{len(str(a))}")
def test_analyses__statistics_and_crosstabs_are_identical(
    nodes: tuple[TestClient, TestClient], synth: SynthNode, analysis: dict[str, Any]
) -> None:
    duck, sparky = (_ask(client, synth, {"analysis": analysis}) for client in nodes)
    if "score" in duck:
        # Sums over rows in another order: equal to rounding.
        for key in ("score", "information"):
            np.testing.assert_allclose(sparky.pop(key), duck.pop(key), rtol=1e-12, atol=1e-9)
    assert sparky == duck


def test_analyses__allele_frequency_is_identical(
    nodes: tuple[TestClient, TestClient], synth: SynthNode
) -> None:
    genotypes = synth.genotypes()
    sites = synth.cohort.germline_sites.to_pylist()
    chosen = [int(i) for i in np.flatnonzero((genotypes > 0).sum(axis=1) >= 8)[:3]]
    variants = [{k: sites[i][k] for k in ("chrom", "pos", "ref", "alt")} for i in chosen]
    for cohort in ({}, {"sex": "male"}):
        body = {"cohort": cohort, "analysis": {"kind": "allele_frequency", "variants": variants}}
        duck, sparky = (_ask(client, synth, body) for client in nodes)
        assert sparky == duck
        for site, allele in zip(chosen, sparky["alleles"], strict=True):
            members = np.array([matches(p, cohort) for p in synth.people])
            called = genotypes[site][members]
            assert allele["allele_count"]["value"] == int(called[called > 0].sum())


def _beacon(client: TestClient, synth: SynthNode, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/beacon/{path}", json=body, headers=headers(synth.broker, datasets=("se",)))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    answer["meta"].pop("receivedRequestSummary", None)
    return {k: v for k, v in answer.items() if k != "meta"}


def test_beacon__variants_and_individuals_are_identical(
    nodes: tuple[TestClient, TestClient], synth: SynthNode
) -> None:
    sites = synth.cohort.germline_sites.to_pylist()
    genotypes = synth.genotypes()
    site = int(np.flatnonzero((genotypes > 0).sum(axis=1) >= 8)[0])
    chosen = sites[site]
    request = {
        "assemblyId": "GRCh38",
        "referenceName": chosen["chrom"],
        "start": [chosen["pos"] - 1],
        "referenceBases": chosen["ref"],
        "alternateBases": chosen["alt"],
    }
    for granularity in ("count", "record"):
        body = {
            "meta": {"apiVersion": "v2.1.1"},
            "query": {"requestParameters": request, "requestedGranularity": granularity},
        }
        duck, sparky = (_beacon(client, synth, "g_variants", body) for client in nodes)
        assert sparky == duck
        assert sparky["responseSummary"]["exists"] is True
        people = {
            "meta": {"apiVersion": "v2.1.1"},
            "query": {
                "filters": [{"id": "NCIT:C16576"}],
                "requestParameters": request,
                "requestedGranularity": granularity,
            },
        }
        duck, sparky = (_beacon(client, synth, "individuals", people) for client in nodes)
        assert sparky == duck
        assert sparky["responseSummary"]["numTotalResults"] > 0
