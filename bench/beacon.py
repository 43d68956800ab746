"""Latency of a Beacon v2 sequence query over HTTP on a node of at least 10 million calls.

Run ``python bench/beacon.py``. It generates (once, cached under ``bench/out/``, git-ignored) a
synthetic store of about 10 million calls with :func:`genofed.synth.cohort_chunks`. The node runs
in this process under uvicorn on a loopback port. A client sends ``--reps`` (default 500)
``POST /beacon/g_variants`` sequence queries (count granularity; a registered caller, through the
node's ``anonymous_access`` demo mode) for random stored alleles (one in ten unseen), one after
another over one keep-alive connection, after a warm-up. Every request goes through the whole
node: middleware, audit log (one fsync per request), access level, query, disclosure control.
Prints p50 and p99 in milliseconds. Target: p50 under 25 ms.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from genofed.node import NodeSettings, create_app
from genofed.store import NodeStore
from genofed.synth import cohort_chunks

OUT = Path(__file__).resolve().parent / "out"
CALLS_PER_PATIENT = 5_000  # as bench/query.py: 2,000 patients give about 10 million calls


def build_store(root: Path, millions: int = 10, seed: int = 0) -> None:
    """Generate (once) a synthetic store of about ``millions`` million calls at ``root``."""
    if (root / "bench-complete.txt").exists():
        return
    if root.exists():
        raise SystemExit(f"{root} exists but is incomplete: remove it and run again")
    patients = millions * 1_000_000 // CALLS_PER_PATIENT
    print(f"building a store of ~{millions}M calls ({patients} patients) in {root} ...", flush=True)
    with NodeStore.open(root, create=True) as store:
        chunks = cohort_chunks(
            country="SE", patients=patients, seed=seed, variants_per_patient=CALLS_PER_PATIENT
        )
        store.write_stream(chunks, kind="synth", source=f"bench-{millions}M", key=f"bench:{seed}")
    (root / "bench-complete.txt").write_text("complete\n")


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=OUT / "beacon-store-10M-seed0")
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.store / "catalog.json").exists():
        build_store(args.store)
    with NodeStore.open(args.store) as store:
        calls = store.execute("SELECT count(*) FROM variant_calls").column(0)[0].as_py()
        sites = store.execute(
            "SELECT assembly, chrom, start, ref, alt FROM variant_sites "
            "WHERE variant_type = 'SNV' USING SAMPLE 2000 ROWS"
        ).to_pylist()
    rng = np.random.default_rng(args.seed)
    state = args.store.parent / "beacon-bench-state"
    settings = NodeSettings(
        node_id="bench",
        country="SE",
        data_dir=args.store,
        state_dir=state,
        anonymous_access=True,
        port=_port(),
    )
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{settings.port}/beacon/g_variants"
    timings: list[float] = []
    try:
        with httpx.Client(timeout=30) as client:
            for rep in range(args.reps + 20):
                site = sites[int(rng.integers(len(sites)))]
                alt = site["alt"] if rng.random() > 0.1 else ("A" if site["alt"] != "A" else "C")
                body = {
                    "query": {
                        "requestParameters": {
                            "assemblyId": site["assembly"],
                            "referenceName": f"chr{site['chrom']}",
                            "start": [site["start"]],
                            "referenceBases": site["ref"] or "",
                            "alternateBases": alt or "",
                        },
                        "requestedGranularity": "count",
                    }
                }
                began = time.perf_counter()
                response = client.post(url, json=body)
                elapsed = (time.perf_counter() - began) * 1000
                response.raise_for_status()
                if rep >= 20:  # warm-up
                    timings.append(elapsed)
    finally:
        server.should_exit = True
        thread.join()
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))]
    print(
        f"beacon sequence query over HTTP, {calls:,} calls, {len(timings)} requests: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p50 < 25 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
