"""``genofed demo``: three national nodes on loopback, each from its own source format, and a study.

What it does, in order:

1. synthesises a Swedish, a Dutch and a Danish cohort and writes each in the format that country's
   programme produces: GMS case folders (SE), Hartwig OncoAnalyser sample folders (NL), Phenopackets
   with VCFs (DK);
2. ingests each into its own node store through the matching adapter;
3. creates a demo passport broker, writes each node's settings and disclosure policy, and starts
   the three nodes as separate ``genofed node serve`` processes on loopback ports;
4. asks every node the demo study through the coordinator with a researcher's passport, prints
   each node's answer and the combined one, and writes an HTML report;
5. when run interactively (a terminal, ``CI`` unset) or with ``--keep-running``, serves the researcher
   portal over the nodes and prints its URL until interrupted; then stops the nodes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import typer
import yaml
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from genofed.api import (
    AgeBandDimension,
    AgeCovariate,
    AlleleFrequencyAnalysis,
    CountAnalysis,
    CoxAnalysis,
    CrossTabAnalysis,
    GeneStatusCovariate,
    GeneStatusDimension,
    KaplanMeierAnalysis,
    SexCovariate,
    SexDimension,
    Study,
    TumourTypeDimension,
    VariantRef,
)
from genofed.auth import DemoBroker
from genofed.errors import GenofedError
from genofed.federation import Federation, write_report
from genofed.ingest import (
    ClinicalReader,
    GmsCase,
    GmsReader,
    HartwigBatch,
    HartwigClinicalReader,
    HartwigReader,
    PhenopacketReader,
    SampleSheet,
    SourceGroup,
    SourceReader,
    VcfReader,
    hartwig_clinical_tables,
)
from genofed.query import CohortFilter
from genofed.store import NodeStore
from genofed.synth import (
    Country,
    synthesise,
    write_gms_cohort,
    write_hartwig_cohort,
    write_phenopacket_cohort,
)

from ._app import app, console, error_console
from ._study import _print_answer as print_answer

__all__ = ["DEMO_STUDY", "demo"]

#: Patients per country at scale 1, and the source format each country's node ingests.
DEMO_NODES: dict[Country, tuple[int, str]] = {
    Country.SE: (600, "GMS case folders"),
    Country.NL: (900, "Hartwig OncoAnalyser outputs"),
    Country.DK: (300, "Phenopackets + VCF"),
}
BROKER_ISSUER = "https://broker.demo.genofed.org"
RESEARCHER = "researcher@demo.genofed.org"

DEMO_STUDY = Study(
    name="KRAS in colorectal cancer across SE, NL and DK",
    description=(
        "How many colorectal cancer patients each country has, how many carry a KRAS mutation, by sex "
        "and age at diagnosis, and the KRAS G12D allele among them."
    ),
    cohort=CohortFilter(tumour_type="COADREAD"),
    analyses=(
        CountAnalysis(),
        CrossTabAnalysis(rows=GeneStatusDimension(gene="KRAS"), columns=SexDimension()),
        CrossTabAnalysis(rows=AgeBandDimension(edges=(50, 65, 75)), columns=GeneStatusDimension(gene="KRAS")),
        AlleleFrequencyAnalysis(variants=(VariantRef(chrom="12", pos=25245350, ref="C", alt="T"),)),
    ),
)
SURVIVAL = Study(
    name="Overall survival by KRAS status in colorectal cancer",
    description=(
        "SE+NL+DK: Kaplan–Meier by KRAS status on a public half-yearly grid with the log-rank test, "
        "and a Cox model stratified by node (KRAS, age, sex)."
    ),
    cohort=CohortFilter(tumour_type="COADREAD"),
    analyses=(
        KaplanMeierAnalysis(
            group=GeneStatusDimension(gene="KRAS"),
            grid=(0, 182.5, 365, 547.5, 730, 912.5, 1095, 1460, 1825),
            min_at_risk=10,
        ),
        CoxAnalysis(
            covariates=(GeneStatusCovariate(gene="KRAS"), AgeCovariate(), SexCovariate()), ties="efron"
        ),
    ),
)
TUMOUR_MIX = Study(
    name="Tumour types by sex",
    cohort=CohortFilter(),
    analyses=(
        CrossTabAnalysis(
            rows=TumourTypeDimension(codes=("COADREAD", "BREAST", "LUNG", "PROSTATE", "MEL", "PANCREAS")),
            columns=SexDimension(),
        ),
    ),
)


def _readers(country: Country, patients: int, seed: int, sources: Path) -> list[SourceReader]:
    """Write the country's cohort in its native format and return the readers that ingest it."""
    cohort = synthesise(country, patients, seed)
    if country is Country.SE:
        gms = write_gms_cohort(cohort, sources)
        cases = SourceGroup([GmsReader(GmsCase.open(case)) for case in gms.cases], kind="gms", source="cases")
        return [ClinicalReader(gms.clinical_tables, gms.mapping), cases]
    if country is Country.NL:
        hartwig = write_hartwig_cohort(cohort, sources)
        clinical = HartwigClinicalReader(hartwig_clinical_tables(hartwig.directory), hartwig.mapping)
        info = clinical.sample_info()
        samples = [HartwigReader(sample, sample_info=info) for sample in hartwig.samples]
        return [clinical, HartwigBatch(samples, source="samples")]
    packets = write_phenopacket_cohort(cohort, sources)
    return [
        PhenopacketReader(packets.phenopackets),
        VcfReader(packets.somatic_vcf, samples=SampleSheet.read(packets.somatic_samples)),
        VcfReader(packets.germline_vcf, samples=SampleSheet.read(packets.germline_samples)),
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_node_settings(folder: Path, country: Country, port: int, broker_jwks: Path) -> Path:
    """The node's settings and disclosure policy files; returns the settings path."""
    (folder / "policy.yaml").write_text(
        "# This node's disclosure policy: the coordinator can ask for stricter, never weaker.\n"
        "min_cell_count: 5\nsecondary_suppression: true\ndifferencing: {enabled: true}\n"
    )
    settings = {
        "node_id": country.value.lower(),
        "country": country.value,
        "name": f"{country.value} national genomics node (demo)",
        "data_dir": "store",
        "policy": "policy.yaml",
        "trusted_issuers": [{"issuer": BROKER_ISSUER, "jwks": os.path.relpath(broker_jwks, folder)}],
        "host": "127.0.0.1",
        "port": port,
    }
    path = folder / "node.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


@contextlib.contextmanager
def _running_nodes(configs: dict[Country, Path], ports: dict[Country, int]) -> Iterator[dict[Country, str]]:
    """Start each node as its own ``genofed node serve`` process; stop them all on exit."""
    processes: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for config in configs.values():
            log = (config.parent / "node.log").open("wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "genofed", "node", "serve", "--config", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        urls = {country: f"http://127.0.0.1:{port}" for country, port in ports.items()}
        for (country, url), process in zip(urls.items(), processes, strict=True):
            _wait_healthy(url, process, configs[country].parent / "node.log")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise GenofedError(
                f"the node at {url} stopped at start-up; see {log}:\n{log.read_text()[-2000:]}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise GenofedError(f"the node at {url} did not answer /health within {timeout:.0f} s; see {log}")


@app.command("demo")
def demo(
    out: Annotated[
        Path, typer.Option(help="working directory for sources, node stores and the report")
    ] = Path("demo-output"),
    scale: Annotated[
        float, typer.Option(min=0.01, help="multiply the cohort sizes (1 = 1,800 patients)")
    ] = 1.0,
    seed: Annotated[int, typer.Option(min=0, help="random seed of the synthetic cohorts")] = 0,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="serve the portal and nodes until interrupted, even in CI")
    ] = False,
) -> None:
    """Three national nodes (SE, NL, DK) on loopback, each from its own source format; a federated study."""
    out.mkdir(parents=True, exist_ok=True)
    broker = DemoBroker.generate(BROKER_ISSUER)
    broker.save(out / "broker")
    configs: dict[Country, Path] = {}
    ports: dict[Country, int] = {}
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=error_console
    ) as progress:
        task = progress.add_task("building national nodes", total=len(DEMO_NODES) * 2)
        for country, (size, source_format) in DEMO_NODES.items():
            patients = max(10, round(size * scale))
            folder = out / country.value.lower()
            progress.update(task, description=f"{country.value}: {patients:,} patients as {source_format}")
            readers = _readers(country, patients, seed, folder / "sources")
            progress.advance(task)
            with NodeStore.open(folder / "store", create=True) as store:
                for reader in readers:
                    progress.update(task, description=f"{country.value}: ingesting {reader.source}")
                    store.write_stream(
                        reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key
                    )
            progress.advance(task)
            ports[country] = _free_port()
            configs[country] = _write_node_settings(
                folder, country, ports[country], out / "broker" / "jwks.json"
            )
    with _running_nodes(configs, ports) as urls:
        registry_path = out / "nodes.yaml"
        registry_path.write_text(
            yaml.safe_dump(
                {
                    "timeout": 30,
                    "nodes": [
                        {"id": c.value.lower(), "url": url, "country": c.value, "name": f"{c.value} node"}
                        for c, url in urls.items()
                    ],
                },
                sort_keys=False,
            )
        )
        audiences = [c.value.lower() for c in urls]
        token = broker.passport(
            RESEARCHER, audience=audiences, datasets=audiences, affiliation="researcher@demo"
        )
        (out / "researcher.token").write_text(token)
        console.print(f"nodes serving: {', '.join(f'{c.value} {u}' for c, u in urls.items())}")
        with Federation.from_registry(registry_path, token=token) as federation:
            studies = (
                (DEMO_STUDY, "report.html"),
                (SURVIVAL, "survival.html"),
                (TUMOUR_MIX, "tumour-types.html"),
            )
            for study, report in studies:
                result = federation.run(study)
                console.rule(study.name)
                for n, answer in enumerate(result.answers, start=1):
                    print_answer(n, answer)
                write_report(result, out / report)
                console.print(f"report: {out / report}")
        # Interactively (a terminal, CI unset) the portal serves until Ctrl-C; in CI the demo ends here.
        if keep_running or (sys.stdin.isatty() and not os.environ.get("CI")):
            from ._portal import serve_portal

            def ready(url: str) -> None:
                console.print(f"portal: [bold]{url}[/] (sign in by any name); press Ctrl-C to stop")

            serve_portal(registry_path, broker=out / "broker", port=_free_port(), on_ready=ready)
