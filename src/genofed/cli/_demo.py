"""``genofed demo``: three national nodes on loopback, each from its own source format, and a study.

What it does, in order:

1. synthesises a Swedish, a Dutch and a Danish cohort and writes each in the format that country's
   programme produces: GMS case folders (SE), Hartwig OncoAnalyser sample folders (NL), Phenopackets
   with VCFs (DK);
2. ingests each into its own node store through the matching adapter;
3. creates a demo passport broker, writes each node's settings and disclosure policy (DK's store is
   queried through Apache Spark in local mode, the others' through DuckDB), and starts the three
   nodes as separate ``genofed node serve`` processes on loopback ports;
4. asks every node the demo study through the coordinator with a researcher's passport, prints
   each node's answer and the combined one, and writes an HTML report;
   then compares the three labs' calls of a shared synthetic reference sample, each benchmarked
   inside its own node (proficiency testing), and writes ``proficiency.html``;
5. when run interactively (a terminal, ``CI`` unset) or with ``--keep-running``, serves the researcher
   portal over the nodes and prints its URL until interrupted; then stops the nodes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
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
    WgsBenefitAnalysis,
)
from genofed.auth import DemoBroker
from genofed.cds import import_release
from genofed.errors import ConfigError, GenofedError
from genofed.federation import Federation, StudyResult, write_proficiency, write_report
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
    write_proficiency_set,
)

from ._app import app, console, error_console
from ._study import _print_answer as print_answer

__all__ = ["DEMO_STUDY", "WGS_BENEFIT", "demo"]

#: Patients per country at scale 1, and the source format each country's node ingests.
DEMO_NODES: dict[Country, tuple[int, str]] = {
    Country.SE: (600, "GMS case folders"),
    Country.NL: (900, "Hartwig OncoAnalyser outputs"),
    Country.DK: (300, "Phenopackets + VCF"),
}
#: Nodes whose store the demo queries through Spark (docs/scale.md) instead of DuckDB.
SPARK_NODES = frozenset({Country.DK})
SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
BROKER_ISSUER = "https://broker.demo.genofed.org"
RESEARCHER = "researcher@demo.genofed.org"
CLINICIAN = "clinician@demo.genofed.org"

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
WGS_BENEFIT = Study(
    name="Which patients gain most from WGS over a panel",
    description=(
        "SE+NL+DK: per tissue (OncoTree level 1), patients with tier I/II findings (CIViC + CGI "
        "evidence) from WGS against a 50-gene hotspot panel emulated on the same genomes, ranked by "
        "incremental yield."
    ),
    cohort=CohortFilter(),
    analyses=(WgsBenefitAnalysis(panel="hotspot50", level="tissue"),),
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


def _show(study: Study, result: StudyResult, report: Path) -> None:
    """Print a study's answers and write its HTML report."""
    console.rule(study.name)
    for n, answer in enumerate(result.answers, start=1):
        print_answer(n, answer)
    write_report(result, report)
    console.print(f"report: {report}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: The knowledge-base files the demo imports when given --knowledge (the shared fixtures' names).
DEMO_KNOWLEDGE = (
    ("civic", "civic_2018-05_ClinicalEvidenceSummaries.tsv", dt.date(2018, 5, 1)),
    ("cgi", "cgi_biomarkers_per_variant_2017.tsv", dt.date(2017, 7, 1)),
)


def _import_knowledge(source: Path | None, into: Path) -> Path | None:
    """Import the CIViC and CGI releases the nodes match genomes against (None: not available)."""
    if source is None:
        return None
    missing = [name for _, name, _ in DEMO_KNOWLEDGE if not (source / name).exists()]
    if missing:
        raise ConfigError(f"--knowledge {source}: missing {', '.join(missing)}")
    for kb, name, release in DEMO_KNOWLEDGE:
        import_release(kb, source / name, release, into=into, replace=True)
    return into


def _write_node_settings(
    folder: Path, country: Country, port: int, broker_jwks: Path, knowledge: Path | None = None
) -> Path:
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
        # Analyses whose pipeline QC failed, or whose tumour purity is below 20 %, are left out.
        "sample_qc": {"min_purity": 0.2, "failing_statuses": ["FAIL"]},
    }
    if knowledge is not None:
        settings["knowledge"] = os.path.relpath(knowledge, folder)
    if country in SPARK_NODES:
        # The same store, queried through Apache Spark (local mode here; a cluster's master in production).
        settings["store"] = {"backend": "spark", "spark": {"master": "local[2]", "conf": SPARK_CONF}}
    path = folder / "node.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


#: The demo's proficiency-testing truth set, and the reference sample every lab sequences.
PROFICIENCY_TRUTH_SET = "synthetic-ref"
PROFICIENCY_SAMPLE = "GF-REF-1"


def _add_reference_sample(out: Path, configs: dict[Country, Path], seed: int) -> None:
    """Each lab also sequenced the shared reference sample: ingest its calls and list the truth set.

    The truth set and each lab's calls come from :func:`genofed.synth.write_proficiency_set` (the NL
    lab misses more indels); every node holds the same truth files and lists the sample as
    reference material, so it may benchmark it (and only it) for proficiency testing.
    """
    files = write_proficiency_set(out / "proficiency", sample=PROFICIENCY_SAMPLE, seed=seed)
    for country, config in configs.items():
        folder = config.parent
        reader = VcfReader(files.queries[country.value.lower()])
        with NodeStore.open(folder / "store") as store:
            store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
        settings = yaml.safe_load(config.read_text())
        truth = {
            "vcf": files.truth_vcf,
            "regions": files.regions,
            "strata": files.strata,
            "reference": files.reference,
        }
        settings["proficiency"] = {
            "truth_sets": {PROFICIENCY_TRUTH_SET: {k: os.path.relpath(v, folder) for k, v in truth.items()}},
            "reference_samples": [PROFICIENCY_SAMPLE],
        }
        config.write_text(yaml.safe_dump(settings, sort_keys=False))


def _compare_labs(federation: Federation, out: Path) -> None:
    """The three-lab proficiency comparison: printed, and written to ``proficiency.html``."""
    from ._qa import print_proficiency

    comparison = federation.proficiency(PROFICIENCY_TRUTH_SET, PROFICIENCY_SAMPLE, stratified=True)
    console.rule(f"Proficiency testing: {PROFICIENCY_SAMPLE} sequenced by every lab")
    print_proficiency(comparison, subsets=("*",))  # the strata are in the HTML page
    write_proficiency(comparison, out / "proficiency.html")
    console.print(f"report: {out / 'proficiency.html'}")


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
                    env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},  # Spark nodes stay on loopback
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


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
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
    knowledge: Annotated[
        Path | None,
        typer.Option(
            help="folder with the CIViC 2018-05 and CGI 2017 files (../shared/fixtures/knowledge): "
            "adds the WGS-benefit study"
        ),
    ] = None,
) -> None:
    """Three national nodes (SE, NL, DK) on loopback, each from its own source format; a federated study."""
    out.mkdir(parents=True, exist_ok=True)
    kb = _import_knowledge(knowledge, out / "knowledge")
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
                folder, country, ports[country], out / "broker" / "jwks.json", kb
            )
    _add_reference_sample(out, configs, seed)
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
        served = [f"{c.value} {u}" + (" (Spark)" if c in SPARK_NODES else "") for c, u in urls.items()]
        console.print(f"nodes serving: {', '.join(served)}")
        with Federation.from_registry(registry_path, token=token) as federation:
            studies = (
                (DEMO_STUDY, "report.html"),
                (SURVIVAL, "survival.html"),
                (TUMOUR_MIX, "tumour-types.html"),
            )
            for study, report in studies:
                result = federation.run(study)
                _show(study, result, out / report)
            _compare_labs(federation, out)
        if kb is not None:
            # Asked by a second user: each node's differencing guard remembers what it told each
            # researcher, and these groups overlap the first researcher's cohorts by a few people.
            clinician = broker.passport(
                CLINICIAN, audience=audiences, datasets=audiences, affiliation="clinician@demo"
            )
            with Federation.from_registry(registry_path, token=clinician) as federation:
                _show(WGS_BENEFIT, federation.run(WGS_BENEFIT), out / "wgs-benefit.html")
        # Interactively (a terminal, CI unset) the portal serves until Ctrl-C; in CI the demo ends here.
        if keep_running or (sys.stdin.isatty() and not os.environ.get("CI")):
            from ._portal import serve_portal

            def ready(url: str) -> None:
                console.print(f"portal: [bold]{url}[/] (sign in by any name); press Ctrl-C to stop")

            serve_portal(registry_path, broker=out / "broker", port=_free_port(), on_ready=ready)
