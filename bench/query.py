"""Latency of a node's first queries on synthetic stores of 10 and 100 million calls.

Run ``python bench/query.py`` (both sizes) or ``python bench/query.py --sizes 10`` (a quick run,
a few minutes). Each store is generated once with :func:`genofed.synth.cohort_chunks` (about 5,000
germline calls per patient plus somatic calls, so 2,000 patients give 10 million calls) and cached
under ``bench/out/`` (git-ignored); ``--rebuild`` regenerates it.

Three workloads, each through ``genofed.query.run(store, query)``, the path a node uses, with
``--reps`` (default 200) random targets after a short warm-up:

- ``allele``: :class:`AlleleFrequencyQuery` of a stored allele (one in ten is an unseen allele);
- ``region``: :class:`RegionCarriersQuery` of a random 1 Mb window (chromosome by length);
- ``join``: "carriers of variant X with tumour type T": :class:`CohortCountQuery` with the gene and
  protein change of a stored coding allele and an OncoTree code (expanded to its descendants);
- ``join-region``: the same question as a :class:`RegionCarriersQuery` on the allele's span,
  joined to the diagnoses.

Targets at 10 million calls: ``allele`` p50 ≤ 5 ms and p99 ≤ 15 ms; ``region`` and ``join`` p50 ≤ 20 ms.

``NodeStore.execute`` binds each statement once and its views skip ``union_by_name`` while every
file of a table shares one schema: both came out of this benchmark (about 2 ms and 35 µs per live
file a query).

``--store native-sites`` measures an experiment on top: ``variant_sites`` copied into a DuckDB table
(sorted by chromosome and position) whenever the views are rebuilt, standing in for a DuckDB-native
sites index kept beside the Parquet. ``--store both`` runs the two one after another, and
``--row-group-rows N`` builds (and caches) the stores with Parquet row groups of N rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from genofed.query import (
    AlleleFrequencyQuery,
    CohortCountQuery,
    CohortFilter,
    RegionCarriersQuery,
    compile,
    run,
)
from genofed.store import NodeStore, StoreSettings
from genofed.synth import cohort_chunks

OUT = Path(__file__).resolve().parent / "out"
CALLS_PER_PATIENT = 5_000  # germline; the somatic calls add about 1%
WINDOW = 1_000_000
TARGETS = {"allele": (5.0, 15.0), "region": (20.0, None), "join": (20.0, None)}


class NativeSitesStore(NodeStore):
    """:class:`NodeStore` whose ``variant_sites`` is a DuckDB table, not a view over Parquet."""

    def _create_views(self, con: duckdb.DuckDBPyConnection) -> None:
        super()._create_views(con)
        con.execute(
            "CREATE OR REPLACE TABLE sites_native AS SELECT * FROM variant_sites ORDER BY chrom, start"
        )
        con.execute("CREATE OR REPLACE VIEW variant_sites AS SELECT * FROM sites_native")


@dataclass(frozen=True)
class Timing:
    """Latencies of one workload, in milliseconds."""

    name: str
    samples: list[float]

    def quantile(self, q: float) -> float:
        return float(np.quantile(np.array(self.samples), q))

    def row(self) -> dict[str, Any]:
        return {
            "workload": self.name,
            "n": len(self.samples),
            "p50_ms": round(self.quantile(0.5), 2),
            "p99_ms": round(self.quantile(0.99), 2),
            "mean_ms": round(statistics.fmean(self.samples), 2),
            "max_ms": round(max(self.samples), 2),
        }


def build_store(
    size_millions: int,
    *,
    seed: int,
    rebuild: bool,
    kind: type[NodeStore] = NodeStore,
    row_group_rows: int | None = None,
) -> NodeStore:
    """The cached store of about ``size_millions`` million calls, generated when absent.

    ``row_group_rows`` writes it with Parquet row groups of that many rows instead of the store's
    default (a separate cached store).
    """
    suffix = f"-rg{row_group_rows}" if row_group_rows else ""
    root = OUT / f"store-{size_millions}M-seed{seed}{suffix}"
    marker = root / "bench-complete.json"
    if rebuild and root.exists():
        shutil.rmtree(root)
    if marker.exists():
        return kind.open(root)
    if root.exists():  # an interrupted build: start again
        shutil.rmtree(root)
    patients = size_millions * 1_000_000 // CALLS_PER_PATIENT
    print(f"building a store of ~{size_millions}M calls ({patients} patients) in {root} ...", flush=True)
    started = time.perf_counter()
    settings = StoreSettings(row_group_rows=row_group_rows) if row_group_rows else None
    store = kind.open(root, create=True, settings=settings)
    chunks = cohort_chunks(country="SE", patients=patients, seed=seed, variants_per_patient=CALLS_PER_PATIENT)
    info = store.write_stream(chunks, kind="synth", source=f"bench-{size_millions}M", key=f"bench:{seed}")
    elapsed = time.perf_counter() - started
    marker.write_text(json.dumps({"rows": info.rows, "seconds": round(elapsed, 1)}))
    print(f"  built in {elapsed:.0f} s: {info.rows}", flush=True)
    return store


def _targets(store: NodeStore, rng: np.random.Generator, reps: int) -> dict[str, list[Any]]:
    """Random query targets drawn from what the store holds."""
    seed = int(rng.integers(0, 2**31))
    sites = store.execute(
        "SELECT chrom, start, ref, alt, assembly FROM variant_sites "
        f"USING SAMPLE reservoir({reps} ROWS) REPEATABLE ({seed})"
    ).to_pylist()
    alleles: list[Any] = []
    for i, s in enumerate(sites):
        alt = s["alt"]
        if i % 10 == 9:  # an allele the node has not seen
            alt = next(b for b in "ACGT" if b not in (s["ref"], s["alt"]))
        query = AlleleFrequencyQuery(
            chrom=s["chrom"], start=s["start"], ref=s["ref"], alt=alt, assembly=s["assembly"]
        )
        alleles.append(query)

    lengths = store.execute(
        'SELECT chrom, max("end") AS length FROM variant_sites GROUP BY chrom ORDER BY chrom'
    ).to_pylist()
    chroms = [r["chrom"] for r in lengths]
    weights = np.array([r["length"] for r in lengths], dtype=float)
    regions: list[Any] = []
    for _ in range(reps):
        i = int(rng.choice(len(chroms), p=weights / weights.sum()))
        start = int(rng.integers(0, max(int(weights[i]) - WINDOW, 1)))
        regions.append(RegionCarriersQuery(chrom=chroms[i], start=start, end=start + WINDOW))

    coding = store.execute(
        'SELECT DISTINCT chrom, start, "end", gene, protein_change FROM variant_sites '
        "WHERE gene IS NOT NULL AND protein_change IS NOT NULL"
    ).to_pylist()
    codes = [
        r["tumour_type"]
        for r in store.execute(
            "SELECT DISTINCT tumour_type FROM diagnoses WHERE tumour_type IS NOT NULL"
        ).to_pylist()
    ]
    joins: list[Any] = []
    join_regions: list[Any] = []
    for _ in range(reps):
        allele = coding[int(rng.integers(len(coding)))]
        code = codes[int(rng.integers(len(codes)))]
        flt = CohortFilter(tumour_type=code)
        joins.append(
            CohortCountQuery(
                filter=CohortFilter(
                    tumour_type=code, gene=allele["gene"], protein_change=allele["protein_change"]
                )
            )
        )
        end = max(allele["end"], allele["start"] + 1)
        join_regions.append(
            RegionCarriersQuery(chrom=allele["chrom"], start=allele["start"], end=end, filter=flt)
        )
    return {"allele": alleles, "region": regions, "join": joins, "join-region": join_regions}


def _time(name: str, store: NodeStore, queries: Sequence[Any], warmup: int = 10) -> Timing:
    for query in queries[:warmup]:
        run(store, query)
    samples = []
    for query in queries:
        started = time.perf_counter_ns()
        run(store, query)
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return Timing(name, samples)


def _compile_cost(queries: Sequence[Any]) -> float:
    """Median milliseconds of compiling and rendering one query (part of every run)."""
    samples = []
    for query in queries:
        started = time.perf_counter_ns()
        compile(query).sql("duckdb")
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return statistics.median(samples)


def bench(
    size: int,
    *,
    reps: int,
    seed: int,
    rebuild: bool,
    kind: type[NodeStore],
    row_group_rows: int | None,
    report: Callable[[str], None],
) -> list[dict[str, Any]]:
    store = build_store(size, seed=seed, rebuild=rebuild, kind=kind, row_group_rows=row_group_rows)
    rows = store.catalog.rows("variant_calls")
    sites = store.catalog.rows("variant_sites")
    files = len(store.files("variant_calls"))
    report(f"\n{size}M store ({kind.__name__}): {rows:,} calls, {sites:,} site rows, {files} call files")
    targets = _targets(store, np.random.default_rng(seed), reps)
    results = []
    for name, queries in targets.items():
        timing = _time(name, store, queries)
        row = {
            "size": f"{size}M",
            "store": kind.__name__,
            "row_group_rows": row_group_rows or store.settings.row_group_rows,
            **timing.row(),
            "compile_ms": round(_compile_cost(queries), 2),
        }
        target = TARGETS.get(name)
        if target is not None and size == 10:
            p50, p99 = target
            ok = row["p50_ms"] <= p50 and (p99 is None or row["p99_ms"] <= p99)
            row["target"] = (
                f"p50<={p50:g}" + (f", p99<={p99:g}" if p99 else "") + (" ok" if ok else " MISSED")
            )
        results.append(row)
        report(
            f"  {name:<12} n={row['n']:<4} p50={row['p50_ms']:>7.2f} ms  p99={row['p99_ms']:>7.2f} ms  "
            f"mean={row['mean_ms']:>7.2f} ms  (compile {row['compile_ms']:.2f} ms)  {row.get('target', '')}"
        )
    store.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10, 100], help="millions of calls (default 10 100)"
    )
    parser.add_argument("--reps", type=int, default=200, help="queries per workload (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true", help="regenerate cached stores")
    parser.add_argument(
        "--store",
        choices=["node", "native-sites", "both"],
        default="node",
        help="NodeStore as it is (default), with a native sites table, or both",
    )
    parser.add_argument(
        "--row-group-rows", type=int, help="build (and cache) the stores with row groups of this many rows"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    choices: dict[str, list[type[NodeStore]]] = {
        "node": [NodeStore],
        "native-sites": [NativeSitesStore],
        "both": [NodeStore, NativeSitesStore],
    }
    kinds = choices[args.store]
    results = []
    for size in args.sizes:
        for kind in kinds:
            results.extend(
                bench(
                    size,
                    reps=args.reps,
                    seed=args.seed,
                    rebuild=args.rebuild,
                    kind=kind,
                    row_group_rows=args.row_group_rows,
                    report=print,
                )
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
