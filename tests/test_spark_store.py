"""The Spark backend's pieces: transpiling, configuration, sample-QC views, the sites index, GLM sums.

The query answers themselves are checked on both backends by ``test_query.py`` and
``test_spark_node.py`` (``as_backend`` fixture); here: what only the Spark backend has. GLM sums
computed by Spark are checked against :func:`genofed.stats.glm_node_step` (numpy) on the same rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genofed.errors import ConfigError, QueryError, StoreError
from genofed.node import NodeSettings
from genofed.privacy import StatisticsLimits
from genofed.query import (
    AlleleFrequencyQuery,
    CohortCountQuery,
    CohortFilter,
    GeneStatusSplit,
    SexSplit,
    crosstab_plan,
    design_plan,
    run,
)
from genofed.stats import Family, glm_node_step
from genofed.store import (
    Backend,
    NodeStore,
    SitesIndex,
    SparkStore,
    StoreOptions,
    glm_sums,
    open_backend,
    spark_sql,
)
from test_query import COHORT, KRAS_G12C, _table, write

SPARK_MARKS = [
    pytest.mark.spark,
    # PySpark/py4j sockets and deprecated APIs, not genofed's (see tests/backends.py).
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:py4j.*"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


# -- transpiling (no Spark needed) -------------------------------------------------------------------
def test_spark_sql__numbered_and_question_mark_placeholders_become_named_markers() -> None:
    text, count = spark_sql('SELECT "a" FROM variant_calls WHERE "start" < $2 AND "end" > $1')
    assert text == "SELECT `a` FROM `variant_calls` WHERE `start` < :p2 AND `end` > :p1"
    assert count == 2
    text, count = spark_sql("SELECT a FROM individuals WHERE sex = ? AND age_at_diagnosis > ?")
    assert text.endswith("`sex` = :p1 AND `age_at_diagnosis` > :p2")
    assert count == 2


def test_spark_sql__array_agg_and_distinct_counts_have_spark_spellings() -> None:
    plan = crosstab_plan(
        CohortFilter(sex="female"), rows=SexSplit(), columns=GeneStatusSplit(CohortFilter(gene="KRAS"))
    )
    text, count = spark_sql(plan.sql("duckdb"))
    assert "COLLECT_LIST(" in text
    assert "ARRAY_AGG" not in text
    assert count == len(plan.params)


def test_spark_sql__bad_statement_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot read the statement for Spark"):
        spark_sql("SELECT FROM WHERE (")
    with pytest.raises(StoreError, match="mixes \\? and \\$n placeholders"):
        spark_sql("SELECT a FROM t WHERE a = ? AND b = $5")


# -- configuration -------------------------------------------------------------------------------------
def test_node_settings__store_section_selects_spark_with_master_and_conf(tmp_path: Path) -> None:
    config = tmp_path / "node.yaml"
    config.write_text(
        "node_id: se\ncountry: SE\ndata_dir: store\nanonymous_access: true\n"
        "store:\n  backend: spark\n  uri: file:///data/se-store\n"
        "  spark:\n    master: spark://spark-master:7077\n"
        "    conf: {spark.executor.memory: 8g, spark.sql.shuffle.partitions: 64,\n"
        "           spark.sql.adaptive.enabled: true}\n"
    )
    settings = NodeSettings.from_yaml(config)
    assert settings.store.backend is Backend.SPARK
    assert settings.store.uri == "file:///data/se-store"
    assert settings.store.spark.master == "spark://spark-master:7077"
    assert settings.store.spark.conf == {
        "spark.executor.memory": "8g",
        "spark.sql.shuffle.partitions": "64",
        "spark.sql.adaptive.enabled": "true",
    }
    default = NodeSettings.from_mapping(
        {"node_id": "se", "country": "SE", "data_dir": "s", "anonymous_access": True}, base=tmp_path
    )
    assert default.store.backend is Backend.DUCKDB


@pytest.mark.parametrize(
    ("master", "ok"),
    [
        ("local[*]", True),
        ("local[4]", True),
        ("spark://a:7077,b:7077", True),
        ("k8s://https://kubernetes.default.svc:443", True),
        ("yarn", True),
        ("mesos://x:5050", False),
        ("localhost", False),
    ],
)
def test_spark_options__master_forms(master: str, ok: bool, tmp_path: Path) -> None:
    data = {
        "node_id": "se",
        "country": "SE",
        "data_dir": "s",
        "anonymous_access": True,
        "store": {"backend": "spark", "spark": {"master": master}},
    }
    if ok:
        assert NodeSettings.from_mapping(data, base=tmp_path).store.spark.master == master
    else:
        with pytest.raises(ConfigError, match=r"store\.spark\.master: .*unknown Spark master .*k8s://"):
            NodeSettings.from_mapping(data, base=tmp_path)


def test_open_backend__duckdb_is_the_node_store(tmp_path: Path) -> None:
    NodeStore.open(tmp_path / "s", create=True).close()
    store = open_backend(tmp_path / "s", StoreOptions())
    try:
        assert isinstance(store, NodeStore)
        assert store.lookup is store
    finally:
        store.close()


# -- on Spark ------------------------------------------------------------------------------------------
def on_spark(test: Any) -> Any:
    """Mark a test as a Spark test (and ignore PySpark's own warnings in it)."""
    for mark in SPARK_MARKS:
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Any:
    with NodeStore.open(tmp_path_factory.mktemp("spark-store") / "store", create=True) as store:
        write(store, COHORT)
        yield store, SparkStore(store, spark)


def _germline_sample_qc(store: NodeStore, failed: list[str]) -> None:
    rows = [
        {"individual_id": p, "analysis_id": f"A-{p}", "passed": False, "reasons": "test", "policy": "test"}
        for p in failed
    ]
    store.write_stream([("sample_qc", _table(rows))], kind="qa", source="qc", key="qc")


@on_spark
def test_spark_store__failed_sample_qc_is_left_out_as_in_duckdb(tmp_path: Path, spark: Any) -> None:
    with NodeStore.open(tmp_path / "store", create=True) as store:
        write(store, COHORT)
        sparky = SparkStore(store, spark)
        allele = AlleleFrequencyQuery(chrom="12", start=25245350, ref="C", alt="A")
        before = run(sparky, allele)
        assert run(store, allele) == before
        _germline_sample_qc(store, ["P1"])
        for query in (
            allele,
            CohortCountQuery(filter=CohortFilter()),
            CohortCountQuery(filter=CohortFilter(gene="KRAS")),
        ):
            assert run(sparky, query) == run(store, query), query
        assert run(sparky, allele) != before  # P1's KRAS call is gone from AC and AN
        with sparky.including_failed_qc():
            assert run(sparky, allele) == before
            assert run(sparky.lookup, allele) == before
            with store.including_failed_qc():
                assert run(store, CohortCountQuery()) == run(sparky, CohortCountQuery())


@on_spark
def test_sites_index__built_per_catalog_version_and_keeps_only_carrier_keys(stores: Any) -> None:
    store, sparky = stores
    index = sparky.lookup
    assert isinstance(index, SitesIndex)
    sql = "SELECT sum(allele_count) AS ac FROM variant_sites WHERE chrom = ? AND start = ?"
    assert (
        index.execute(sql, ["12", 25245349]).to_pylist() == store.execute(sql, ["12", 25245349]).to_pylist()
    )
    first = index.refresh()
    assert first.name == f"sites-v{store.catalog.version}.duckdb"
    with pytest.raises(StoreError, match="look-up failed in the sites index"):
        index.execute("SELECT vaf FROM variant_calls")


@on_spark
def test_sites_index__follows_a_new_batch(tmp_path: Path, spark: Any) -> None:
    with NodeStore.open(tmp_path / "store", create=True) as store:
        write(store, COHORT[:1])
        index = SparkStore(store, spark).lookup
        count = "SELECT count(*) AS n FROM variant_sites"
        before = index.execute(count).to_pylist()[0]["n"]
        old = index.refresh()
        store.write_stream([("variant_sites", _table([KRAS_G12C]))], kind="t", source="t", key="new")
        # While another caller builds the new version, look-ups answer from the previous one.
        with index._build_lock:
            assert index.refresh() == old
            assert index.execute(count).to_pylist()[0]["n"] == before
        assert index.execute(count).to_pylist()[0]["n"] == before + 1
        assert not old.exists()
        index.close()


@on_spark
@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_glm_sums__equal_glm_node_step_on_the_same_rows(synthetic: Any, family: str) -> None:
    store, sparky = synthetic
    plan = design_plan(CohortFilter(), splits=[GeneStatusSplit(CohortFilter(gene="TP53"))])
    # DOUBLE before arithmetic: DuckDB keeps FLOAT / DECIMAL in 32 bits, Spark widens to DOUBLE.
    design = (
        "SELECT 1.0 AS one, CASE WHEN sex = 'female' THEN 1.0 ELSE 0.0 END AS female, "
        "CAST(age_at_diagnosis AS DOUBLE) / 10.0 AS age, CASE WHEN s0 = 0 THEN 1.0 ELSE 0.0 END AS tp53, "
        "CASE WHEN vital_status = 'deceased' THEN 1 ELSE 0 END AS died, "
        "CAST(overall_survival_days AS DOUBLE) / 365.25 AS years, "
        "ln(greatest(CAST(overall_survival_days AS DOUBLE), 1) / 365.25) AS exposure "
        f"FROM ({plan.sql('duckdb')}) AS d "
        "WHERE sex IN ('female', 'male') AND age_at_diagnosis IS NOT NULL "
        "AND overall_survival_days IS NOT NULL "
        "AND vital_status IN ('alive', 'deceased')"
    )
    rows = store.execute(design, plan.params)
    x = np.column_stack([rows.column(c).to_numpy() for c in ("one", "female", "age", "tp53")]).astype(float)
    outcome = {"gaussian": "years", "binomial": "died", "poisson": "died"}[family]
    y = rows.column(outcome).to_numpy().astype(float)
    offset = rows.column("exposure").to_numpy() if family == "poisson" else None
    beta = [0.1, -0.2, 0.05, 0.3]
    oracle = glm_node_step(
        x, y, beta, family=Family(family), offset=offset, limits=StatisticsLimits(), min_cell_count=1
    )
    sums = glm_sums(
        sparky,
        design,
        plan.params,
        covariates=["one", "female", "age", "tp53"],
        outcome=outcome,
        beta=beta,
        family=family,
        offset="exposure" if family == "poisson" else None,
    )
    assert sums.n == oracle.n == rows.num_rows > 50
    np.testing.assert_allclose(sums.score, oracle.score, rtol=1e-9)
    np.testing.assert_allclose(sums.information, oracle.information, rtol=1e-9)
    assert sums.deviance == pytest.approx(oracle.deviance, rel=1e-9)
    assert sums.log_likelihood == pytest.approx(oracle.log_likelihood, rel=1e-9)


def test_glm_sums__checks_its_arguments() -> None:
    with pytest.raises(QueryError, match="beta has 1 values for 2 covariates"):
        glm_sums(None, "SELECT 1", covariates=["a", "b"], outcome="y", beta=[0.0], family="gaussian")  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="unknown GLM family 'gamma'"):
        glm_sums(None, "SELECT 1", covariates=["a"], outcome="y", beta=[0.0], family="gamma")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Any:
    """A synthetic cohort (200 patients) in a store, and the Spark store over it."""
    from genofed.synth import cohort_chunks

    with NodeStore.open(tmp_path_factory.mktemp("glm") / "store", create=True) as store:
        chunks = cohort_chunks(country="SE", patients=200, seed=4, variants_per_patient=20)
        store.write_stream(chunks, kind="synth", source="synth", key="synth")
        yield store, SparkStore(store, spark)


def test_all__is_complete_and_sorted_and_pyspark_is_not_imported() -> None:
    import subprocess
    import sys

    import genofed.store

    public = {n for n in dir(genofed.store) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(genofed.store, n)).__name__ == "module"}
    assert set(genofed.store.__all__) == public - modules
    assert list(genofed.store.__all__) == sorted(genofed.store.__all__)
    # PySpark loads only when a Spark store is opened, never on import.
    probe = "import sys, genofed.store, genofed.node; print('pyspark' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
        == "False"
    )
