"""Wall time of a federated 10-covariate logistic regression, beside statsmodels on the pooled data.

Run ``python bench/stats.py`` (``--patients 100000`` per node by default). It builds three synthetic
national stores (SE, NL, DK; ``cohort_chunks`` without germline calls) once under
``bench/out/stats-<patients>/`` (``--rebuild`` regenerates them), starts each as a real node
(``genofed node serve``, its own process, on a free loopback port, anonymous access, default
disclosure policy), and fits ``deceased ~ age + female + KRAS + TP53 + PIK3CA + APC + ARID1A +
SMAD4 + FBXW7 + COADREAD`` (binomial, logit) through the coordinator: Newton–Raphson, one fan-out
per iteration, each node returning only its score and information. (The binary covariates are
chosen so that no node's 2×2 cross of them has a cell of 1..4, which would make it refuse.)
The same model is then fitted by statsmodels on the pooled individuals read from the three
stores, and the coefficients compared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import numpy as np
import yaml

from genofed.api import (
    AgeCovariate,
    GeneStatusCovariate,
    GlmAnalysis,
    GlmFamily,
    Outcome,
    SexCovariate,
    Study,
    TumourTypeCovariate,
)
from genofed.federation import CombinedModelFit, Federation, Registry
from genofed.model import oncotree
from genofed.store import NodeStore
from genofed.synth import cohort_chunks

OUT = Path(__file__).resolve().parent / "out"
COUNTRIES = ("SE", "NL", "DK")
GENES = ("KRAS", "TP53", "PIK3CA", "APC", "ARID1A", "SMAD4", "FBXW7")
TUMOURS = ("COADREAD",)
COVARIATES = (
    AgeCovariate(),
    SexCovariate(),
    *(GeneStatusCovariate(gene=g) for g in GENES),
    *(TumourTypeCovariate(code=c) for c in TUMOURS),
)


def build_store(country: str, patients: int, seed: int, directory: Path) -> Path:
    """Ingest a synthetic cohort (somatic drivers, clinical tables; no germline calls) into a store."""
    with NodeStore.open(directory, create=True) as store:
        chunks = cohort_chunks(country=country, patients=patients, seed=seed, variants_per_patient=0)
        store.write_stream(chunks, kind="synthetic", source=f"synth-{country}", key=f"synth-{country}")
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def node_process(country: str, store: Path, work: Path) -> Iterator[str]:
    """A node serving ``store`` in its own process; yields its base URL once ``/health`` answers."""
    node_id, port = country.lower(), free_port()
    config = work / f"{node_id}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "node_id": node_id,
                "country": country,
                "data_dir": str(store),
                "state_dir": str(work / f"{node_id}-state"),
                "anonymous_access": True,
                "port": port,
            }
        )
    )
    genofed = shutil.which("genofed", path=str(Path(sys.executable).parent)) or "genofed"
    process = subprocess.Popen(
        [genofed, "node", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"node {node_id} did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _codes(code: str) -> str:
    return ", ".join(f"'{c}'" for c in sorted(oncotree().descendants(code)))


_GENE_COLUMNS = ", ".join(
    f"i.individual_id IN (SELECT individual_id FROM carriers WHERE gene = '{g}') AS {g}" for g in GENES
)
_TUMOUR_COLUMNS = ", ".join(
    f"i.individual_id IN (SELECT individual_id FROM tumours WHERE tumour_type IN ({_codes(c)})) AS t_{c}"
    for c in TUMOURS
)
POOLED_SQL = f"""
SELECT i.age_at_diagnosis AS age, i.sex = 'female' AS female, {_GENE_COLUMNS}, {_TUMOUR_COLUMNS},
       i.vital_status = 'deceased' AS deceased
FROM individuals i
WHERE i.age_at_diagnosis IS NOT NULL AND i.sex IN ('female', 'male')
  AND i.vital_status IN ('alive', 'deceased')
"""

WITH_SQL = """
WITH carriers AS (SELECT DISTINCT c.individual_id, s.gene FROM variant_calls c JOIN variant_sites s
                  ON c.chrom = s.chrom AND c.start = s.start AND c.variant_id = s.variant_id),
     tumours AS (SELECT individual_id, tumour_type FROM diagnoses WHERE "primary")
"""


def pooled(stores: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """The pooled design (intercept first) and outcome, read from the stores with plain SQL."""
    parts = []
    for path in stores:
        with NodeStore.open(path) as store:
            parts.append(store.execute(WITH_SQL + POOLED_SQL, []).to_pandas())
    import pandas as pd

    data = pd.concat(parts, ignore_index=True).astype(float)
    x = np.column_stack([np.ones(len(data)), data.drop(columns="deceased").to_numpy()])
    return x, data["deceased"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=100_000, help="patients per node")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the stores")
    args = parser.parse_args()
    base = OUT / f"stats-{args.patients}"
    if args.rebuild and base.exists():
        shutil.rmtree(base)
    stores = []
    for seed, country in enumerate(COUNTRIES):
        directory = base / country.lower()
        if not (directory / "catalog.json").exists():
            started = time.perf_counter()
            shutil.rmtree(directory, ignore_errors=True)
            build_store(country, args.patients, seed, directory)
            print(f"built {country}: {args.patients:,} patients in {time.perf_counter() - started:.1f} s")
        stores.append(directory)
    study = Study(
        name="bench: logistic regression",
        analyses=(GlmAnalysis(outcome=Outcome.DECEASED, family=GlmFamily.BINOMIAL, covariates=COVARIATES),),
    )
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        urls = [
            stack.enter_context(node_process(c, s, Path(tmp))) for c, s in zip(COUNTRIES, stores, strict=True)
        ]
        registry = Registry.from_data(
            {
                "timeout": 600,
                "nodes": [
                    {"id": c.lower(), "url": u, "country": c} for c, u in zip(COUNTRIES, urls, strict=True)
                ],
            }
        )
        with Federation(registry) as fed:
            fed.run(study.model_copy(update={"name": "warm-up"}))
            started = time.perf_counter()
            answer = fed.run(study).answers[0]
            federated = time.perf_counter() - started
    fit = answer.combined
    if not isinstance(fit, CombinedModelFit) or not fit.converged:
        raise SystemExit(f"no fit: {answer.missing_reasons()} {answer.disclosure_effects}")
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM

    started = time.perf_counter()
    used = [s for c, s in zip(COUNTRIES, stores, strict=True) if c.lower() in fit.nodes]
    if fit.excluded:
        print(f"excluded: {answer.missing_reasons()}")
    x, y = pooled(used)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    oracle = GLM(y, x, family=Binomial()).fit()
    fitted = time.perf_counter() - started
    estimates = np.array([c.estimate for c in fit.coefficients])
    errors = np.array([c.standard_error for c in fit.coefficients])
    print(
        f"logistic regression, {len(COVARIATES)} covariates + intercept, 3 loopback nodes x {args.patients:,}"
    )
    print(f"  federated (coordinator, {fit.iterations} Newton iterations, N = {fit.n:,}): {federated:8.2f} s")
    print(
        f"  statsmodels on the pooled data (N = {len(y):,}):       {fitted:8.2f} s (+ {loaded:.2f} s to read)"
    )
    print(
        f"  max |Δβ| = {np.max(np.abs(estimates - oracle.params)):.2e}, max |ΔSE| = "
        f"{np.max(np.abs(errors - oracle.bse)):.2e}"
    )
    for c, b in zip(fit.coefficients, oracle.params, strict=True):
        print(f"    {c.name:28s} {c.estimate:+.6f}  (statsmodels {b:+.6f})")


if __name__ == "__main__":
    main()
