"""Latency of a federated count: three loopback nodes through the coordinator, beside one node.

Run ``python bench/federation.py`` (``--patients 300 --reps 300`` by default). It builds three
synthetic national stores (SE, NL, DK) once under ``bench/out/federation-<patients>/`` (git-ignored;
``--rebuild`` regenerates them), starts each as a real node (``genofed node serve``, its own process,
on a free loopback port, trusting a fresh demo passport broker), and times the same cohort count
``--reps`` times after a warm-up, the four paths taking turns call by call (so load from elsewhere
on the machine falls on all of them alike):

- ``direct``: ``genofed.query.run`` on the SE store in this process (no HTTP, no disclosure control);
- ``single node``: ``POST /analyses`` to the SE node with a kept-alive ``httpx.Client``;
- ``coordinator, 1 node``: :meth:`Federation.count` over a registry holding only SE;
- ``coordinator, 3 nodes``: :meth:`Federation.count` over SE, NL and DK (concurrent fan-out).

Target: the three-node p50 under twice the single node's. Nodes run as separate processes, as in a
deployment; on a machine with fewer cores than nodes plus coordinator, the fan-out's requests
compete for CPU, which the figures include.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import yaml

from genofed.api import AnalysisRequest, CountAnalysis
from genofed.auth import DemoBroker
from genofed.federation import FederatedAnswer, Federation, Registry
from genofed.ingest import ClinicalReader, SampleSheet, VcfReader
from genofed.query import CohortCountQuery, CohortFilter, run
from genofed.store import NodeStore
from genofed.synth import Country, synthesise, write_cohort

OUT = Path(__file__).resolve().parent / "out"
COUNTRIES = (Country.SE, Country.NL, Country.DK)
COHORT = CohortFilter(tumour_type="COADREAD", gene="KRAS")
ISSUER = "https://broker.bench.genofed"


def build_store(country: Country, patients: int, seed: int, directory: Path) -> Path:
    """Synthesise a cohort in its country's formats and ingest it into a node store."""
    manifest = write_cohort(synthesise(country, patients, seed), directory / "sources")
    readers = [
        VcfReader(manifest.somatic_vcf, samples=SampleSheet.read(manifest.somatic_samples)),
        VcfReader(manifest.germline_vcf, samples=SampleSheet.read(manifest.germline_samples)),
        ClinicalReader(manifest.clinical_tables, manifest.mapping),
    ]
    with NodeStore.open(directory / "store", create=True) as store:
        for reader in readers:
            store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
    return directory / "store"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def node_process(country: Country, store: Path, work: Path, jwks: Path) -> Iterator[str]:
    """A node serving ``store`` in its own process; yields its base URL once ``/health`` answers."""
    node_id = country.value.lower()
    port = free_port()
    config = work / f"{node_id}.yaml"
    policy = work / "policy.yaml"
    # Repeating one cohort is what a benchmark does; the differencing guard allows a difference of 0.
    policy.write_text("min_cell_count: 5\n")
    config.write_text(
        yaml.safe_dump(
            {
                "node_id": node_id,
                "country": country.value,
                "data_dir": str(store),
                "state_dir": str(work / f"{node_id}-state"),
                "policy": str(policy),
                "trusted_issuers": [{"issuer": ISSUER, "jwks": str(jwks)}],
                "host": "127.0.0.1",
                "port": port,
            }
        )
    )
    log = (work / f"{node_id}.log").open("w")
    command = [
        sys.executable,
        "-c",
        "from genofed.cli import main; main()",
        "node",
        "serve",
        "--config",
        str(config),
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"node {node_id} exited; see {work / (node_id + '.log')}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"node {node_id} did not start within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=300, help="patients per node")
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    base = OUT / f"federation-{args.patients}"
    if args.rebuild and base.exists():
        shutil.rmtree(base)
    stores = {}
    for n, country in enumerate(COUNTRIES):
        directory = base / country.value.lower()
        if not (directory / "store" / "catalog.json").exists():
            print(f"building {country.value} store ({args.patients} patients) …", file=sys.stderr)
            shutil.rmtree(directory, ignore_errors=True)
            build_store(country, args.patients, n, directory)
        stores[country] = directory / "store"

    work = Path(tempfile.mkdtemp(prefix="genofed-bench-federation-"))
    broker = DemoBroker.generate(ISSUER)
    broker.save(work / "broker")
    audiences = [c.value.lower() for c in COUNTRIES]
    token = broker.passport("bench", audience=audiences, datasets=audiences, lifetime=3600)
    results: dict[str, list[float]] = {}
    fanout: list[FederatedAnswer] = []
    jwks = work / "broker" / "jwks.json"
    try:
        with ExitStack() as stack:
            urls = {
                c.value.lower(): stack.enter_context(node_process(c, stores[c], work, jwks))
                for c in COUNTRIES
            }
            store = stack.enter_context(NodeStore.open(stores[Country.SE]))
            query = CohortCountQuery(filter=COHORT)
            body = AnalysisRequest(study="bench", cohort=COHORT, analysis=CountAnalysis()).model_dump_json()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            client = stack.enter_context(httpx.Client())

            def single() -> None:
                client.post(f"{urls['se']}/analyses", content=body, headers=headers).raise_for_status()

            def registry(ids: list[str]) -> Registry:
                nodes = [{"id": i, "url": urls[i], "country": i.upper()} for i in ids]
                return Registry.from_data({"nodes": nodes, "timeout": 10})

            one = stack.enter_context(Federation(registry(["se"]), token=token))
            three = stack.enter_context(Federation(registry(audiences), token=token))
            paths: dict[str, Callable[[], object]] = {
                "direct genofed.query.run (SE)": lambda: run(store, query),
                "single node over HTTP (SE)": single,
                "coordinator, 1 node (SE)": lambda: one.count(COHORT, study="bench"),
                "coordinator, 3 nodes": lambda: three.count(COHORT, study="bench"),
            }
            for label, fed in (("1 node", one), ("3 nodes", three)):
                answer = fed.count(COHORT, study="bench")
                if not answer.complete:
                    raise SystemExit(f"{label}: incomplete answer: {answer.missing_reasons()}")
                print(f"coordinator, {label}: combined count {answer.count.display}", file=sys.stderr)
            for _ in range(args.warmup):
                for fn in paths.values():
                    fn()
            # Round-robin, one call of each path per rep: load from elsewhere on the machine then
            # affects every path alike instead of whichever ran during a busy spell.
            results = {label: [] for label in paths}
            for _ in range(args.reps):
                for label, fn in paths.items():
                    start = time.perf_counter()
                    result = fn()
                    results[label].append((time.perf_counter() - start) * 1000)
                    if label == "coordinator, 3 nodes" and isinstance(result, FederatedAnswer):
                        fanout.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\ncohort count {COHORT.model_dump(exclude_none=True)}; {args.patients} patients per node;")
    print(f"{args.reps} reps after {args.warmup} warm-up; {os.cpu_count()} CPUs; latency in ms\n")
    print(f"{'path':<34}{'p50':>9}{'p99':>9}{'mean':>9}")
    figures = {}
    for label, samples in results.items():
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        figures[label] = {"p50": p50, "p99": p99, "mean": statistics.fmean(samples)}
        print(f"{label:<34}{p50:>9.2f}{p99:>9.2f}{statistics.fmean(samples):>9.2f}")
    ratio = figures["coordinator, 3 nodes"]["p50"] / figures["single node over HTTP (SE)"]["p50"]
    verdict = "met" if ratio < 2 else "NOT met"
    print(f"\nthree-node p50 / single-node p50 = {ratio:.2f} (target < 2: {verdict})")
    # Where the three-node time goes: the slowest node's own time (as the coordinator saw it) and
    # what the coordinator adds on top (validation, combination, the hop to its event loop).
    slowest = [max(o.elapsed for o in a.outcomes) * 1000 for a in fanout]
    overhead = [wall - s for wall, s in zip(results["coordinator, 3 nodes"], slowest, strict=True)]
    busy = [sum(o.elapsed for o in a.outcomes) * 1000 for a in fanout]
    print(
        f"three-node fan-out: slowest node p50 {statistics.median(slowest):.2f} ms; coordinator on top "
        f"p50 {statistics.median(overhead):.2f} ms; node time summed over the three p50 "
        f"{statistics.median(busy):.2f} ms (concurrent when > the wall time)"
    )
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "ratio": ratio}, indent=1))


if __name__ == "__main__":
    main()
