"""How cost grows with store size on each backend: DuckDB (one process) and Spark (local mode here).

Run ``python bench/scale.py`` (``--calls 1 10`` million by default; ``--calls 1 10 50`` for the
large store). Per size it builds, once, under ``bench/out/scale-<N>M/`` (``--rebuild`` regenerates):

- a synthetic SE cohort from ``genofed.synth.cohort_chunks`` (5,000 germline calls per patient, so
  ``N`` million calls ≈ ``200 N`` patients), cut into ``--shards`` shards of patients with their own
  seeds and identifiers (as per-site or per-sample VCFs would arrive);
- ``duckdb/``: the shards written one after another by ``NodeStore.write_stream`` (one batch each);
- ``spark/``: the same shards ingested by Spark tasks in parallel (``ingest_parallel``, one atomic
  batch), then its DuckDB sites index built.

It then times, p50 over ``--repeat`` runs after ``--warmup`` untimed ones:

- **count**: ``CohortCountQuery(gene=KRAS)`` -- a cohort-wide join of sites and calls;
- **allele frequency**: one common germline allele (``AlleleFrequencyQuery``), on DuckDB, on Spark
  SQL, and on the Spark node's sites index (what its Beacon and allele look-ups use);
- **GLM node step**: ``deceased ~ 1 + female + age + TP53`` (binomial) at β = 0 -- on DuckDB as the
  node computes it (design rows + numpy), on Spark the same way (rows collected), and on Spark as one
  aggregation (``glm_sums``: no rows to the driver).

Both stores hold the same rows, so the answers must agree; the script checks they do. Results go to
stdout and ``bench/out/scale-results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from genofed.privacy import StatisticsLimits
from genofed.query import (
    AlleleFrequencyQuery,
    CohortCountQuery,
    CohortFilter,
    GeneStatusSplit,
    design_plan,
    run,
)
from genofed.stats import Family, glm_node_step
from genofed.store import NodeStore, SparkOptions, SparkStore, glm_sums, ingest_parallel, spark_session
from genofed.synth import cohort_chunks

OUT = Path(__file__).resolve().parent / "out"
CALLS_PER_PATIENT = 5000
# Identifier columns that a shard prefixes, so shards are distinct people and samples.
_IDS = ("individual_id", "analysis_id", "specimen_id", "treatment_id", "response_id")


class ShardReader:
    """One shard of a synthetic cohort, as an adapter: ``chunks()`` of model tables (source ids)."""

    kind = "synth"

    def __init__(self, spec: tuple[int, int]) -> None:
        self.shard, self.patients = spec
        self.source = f"shard-{self.shard}"
        self.batch_key = self.source

    def chunks(self) -> Iterator[tuple[str, pa.Table]]:
        prefix = f"S{self.shard}-"
        chunks = cohort_chunks(
            country="SE",
            patients=self.patients,
            seed=100 + self.shard,
            variants_per_patient=CALLS_PER_PATIENT,
        )
        for name, table in chunks:
            for column in _IDS:
                if column in table.column_names:
                    index = table.schema.get_field_index(column)
                    values = pc.binary_join_element_wise(prefix, table.column(column), "")
                    table = table.set_column(index, table.schema.field(index), values)
            yield name, table


def _design_sql() -> tuple[str, tuple[Any, ...]]:
    plan = design_plan(CohortFilter(), splits=[GeneStatusSplit(CohortFilter(gene="TP53"))])
    sql = (
        "SELECT 1.0 AS one, CASE WHEN sex = 'female' THEN 1.0 ELSE 0.0 END AS female, "
        "CAST(age_at_diagnosis AS DOUBLE) / 10.0 AS age, CASE WHEN s0 = 0 THEN 1.0 ELSE 0.0 END AS tp53, "
        "CASE WHEN vital_status = 'deceased' THEN 1 ELSE 0 END AS died "
        f"FROM ({plan.sql('duckdb')}) AS d WHERE sex IN ('female', 'male') "
        "AND age_at_diagnosis IS NOT NULL AND vital_status IN ('alive', 'deceased')"
    )
    return sql, plan.params


COVARIATES = ("one", "female", "age", "tp53")


def glm_on_rows(executor: Any) -> tuple[int, float]:
    """The node's GLM step today: design rows to the driver, then numpy."""
    sql, params = _design_sql()
    rows = executor.execute(sql, params)
    x = np.column_stack([rows.column(c).to_numpy() for c in COVARIATES]).astype(float)
    y = rows.column("died").to_numpy().astype(float)
    step = glm_node_step(
        x, y, np.zeros(len(COVARIATES)), family=Family.BINOMIAL, limits=StatisticsLimits(), min_cell_count=5
    )
    return step.n, float(step.deviance)


def glm_aggregated(store: SparkStore) -> tuple[int, float]:
    """The same step as one Spark aggregation."""
    sql, params = _design_sql()
    sums = glm_sums(
        store, sql, params, covariates=COVARIATES, outcome="died", beta=[0.0] * 4, family="binomial"
    )
    return sums.n, sums.deviance


def p50(fn: Callable[[], Any], repeat: int, warmup: int) -> tuple[float, Any]:
    answer = fn()  # the answer, for the cross-check
    for _ in range(warmup - 1):  # the JVM compiles Spark's hot paths over the first runs
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def build(size: int, shards: int, session: Any, rebuild: bool) -> dict[str, Any]:
    folder = OUT / f"scale-{size}M"
    marker = folder / "built.json"
    if marker.exists() and not rebuild:
        built: dict[str, Any] = json.loads(marker.read_text())
        return built
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    patients = size * 1_000_000 // CALLS_PER_PATIENT
    specs = [(k, patients // shards + (k < patients % shards)) for k in range(shards)]
    secret = os.urandom(16).hex()
    info: dict[str, Any] = {"patients": patients, "shards": shards}

    with NodeStore.open(folder / "duckdb", create=True) as store:
        (folder / "duckdb" / "node.secret").write_text(secret)
    start = time.perf_counter()
    with NodeStore.open(folder / "duckdb") as store:
        for spec in specs:
            reader = ShardReader(spec)
            store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
        info["calls"] = store.catalog.rows("variant_calls")
    info["duckdb_ingest_s"] = time.perf_counter() - start

    with NodeStore.open(folder / "spark", create=True) as store:
        (folder / "spark" / "node.secret").write_text(secret)
    start = time.perf_counter()
    with NodeStore.open(folder / "spark") as store:
        ingest_parallel(store, session, specs, ShardReader, kind="synth", source="shards", key="shards")
    info["spark_ingest_s"] = time.perf_counter() - start
    start = time.perf_counter()
    with NodeStore.open(folder / "spark") as store:
        SparkStore(store, session).lookup.refresh()
    info["spark_index_s"] = time.perf_counter() - start
    info["bytes"] = sum(p.stat().st_size for p in (folder / "duckdb" / "batches").rglob("*.parquet"))
    marker.write_text(json.dumps(info, indent=1))
    return info


def measure(size: int, info: dict[str, Any], session: Any, repeat: int, warmup: int) -> dict[str, Any]:
    folder = OUT / f"scale-{size}M"
    result: dict[str, Any] = {"size_millions": size, **info}
    count = CohortCountQuery(filter=CohortFilter(gene="KRAS"))
    with NodeStore.open(folder / "duckdb") as duck, NodeStore.open(folder / "spark") as local:
        spark = SparkStore(local, session)
        site = duck.execute(
            "SELECT chrom, start, ref, alt, sum(allele_count) AS ac FROM variant_sites "
            "WHERE origin = 'germline' AND length(ref) = 1 AND length(alt) = 1 "
            "GROUP BY ALL ORDER BY ac DESC, chrom, start LIMIT 1"
        ).to_pylist()[0]
        allele = AlleleFrequencyQuery(
            chrom=site["chrom"], start=site["start"], ref=site["ref"], alt=site["alt"]
        )
        runs: dict[str, tuple[Callable[[], Any], int]] = {
            "count/duckdb": (lambda: run(duck, count), repeat * 4),
            "count/spark": (lambda: run(spark, count), repeat),
            "allele/duckdb": (lambda: run(duck, allele), repeat * 4),
            "allele/spark": (lambda: run(spark, allele), repeat),
            "allele/spark-index": (lambda: run(spark.lookup, allele), repeat * 4),
            "glm/duckdb": (lambda: glm_on_rows(duck), repeat * 2),
            "glm/spark-rows": (lambda: glm_on_rows(spark), repeat),
            "glm/spark-sums": (lambda: glm_aggregated(spark), repeat),
        }
        answers: dict[str, Any] = {}
        for name, (fn, times) in runs.items():
            seconds, answers[name] = p50(fn, times, warmup)
            result[f"{name}_p50_ms"] = round(seconds * 1000, 2)
            print(f"  {size:>3} M  {name:<20} p50 {seconds * 1000:10.1f} ms", flush=True)
        # Same rows in both stores: the backends must give the same answers.
        assert answers["count/duckdb"] == answers["count/spark"], answers
        assert answers["allele/duckdb"] == answers["allele/spark"] == answers["allele/spark-index"], answers
        assert answers["glm/duckdb"][0] == answers["glm/spark-rows"][0] == answers["glm/spark-sums"][0]
        assert np.isclose(answers["glm/duckdb"][1], answers["glm/spark-sums"][1], rtol=1e-9)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls", type=int, nargs="+", default=[1, 10], help="store sizes, millions of calls"
    )
    parser.add_argument("--shards", type=int, default=4, help="ingest shards (Spark tasks)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per Spark query (DuckDB: more)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per query first")
    parser.add_argument("--master", default="local[2]", help="Spark master URL")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the stores")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = spark_session(
        SparkOptions(
            master=args.master,
            app_name="genofed-bench-scale",
            conf={
                "spark.driver.memory": "6g",
                "spark.sql.shuffle.partitions": "8",
                "spark.ui.enabled": "false",
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
            },
        )
    )
    results = []
    try:
        for size in args.calls:
            print(f"store of {size} M calls", flush=True)
            info = build(size, args.shards, session, args.rebuild)
            print(
                f"  {size:>3} M  ingest: duckdb {info['duckdb_ingest_s']:.1f} s, "
                f"spark {info['spark_ingest_s']:.1f} s (+ sites index {info['spark_index_s']:.1f} s); "
                f"{info['calls']:,} calls, {info['bytes'] / 1e6:.0f} MB",
                flush=True,
            )
            results.append(measure(size, info, session, args.repeat, args.warmup))
    finally:
        session.stop()
    OUT.mkdir(exist_ok=True)
    (OUT / "scale-results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
