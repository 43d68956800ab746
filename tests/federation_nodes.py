"""Shared scaffolding for tests that need real nodes: synthetic stores, uvicorn nodes, a demo broker.

``federation(work)`` builds three synthetic national stores (SE, NL, DK), a demo passport broker saved
to ``work/broker`` and a disclosure policy without the differencing guard (so that many overlapping
cohorts can be compared with an oracle), and returns a :class:`Cluster` that starts node servers on
loopback ports and writes a registry. Test modules import it (``from federation_nodes import ...``)
instead of copying the set-up.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
import yaml

from genofed.auth import DemoBroker
from genofed.federation import Registry
from genofed.ingest import ClinicalReader, SampleSheet, VcfReader
from genofed.node import NodeSettings, create_app, server_config
from genofed.query import CohortCountQuery, CohortFilter, run
from genofed.store import NodeStore
from genofed.synth import Country, synthesise, write_cohort

__all__ = ["ISSUER", "NODES", "Cluster", "NodeServer", "build_store", "federation"]

ISSUER = "https://broker.e2e.test"
NODES = ("se", "nl", "dk")


class NodeServer:
    """One node app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        port = self.socket.getsockname()[1]
        scheme = "https" if settings.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        config = server_config(settings, self.app)
        config.log_level = "warning"
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> NodeServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"node {self.settings.node_id} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.socket.close()


@dataclass
class Cluster:
    """Three node stores, a broker and the node servers started from them."""

    stores: dict[str, Path]
    broker: DemoBroker
    work: Path
    servers: dict[str, NodeServer] = field(default_factory=dict)

    def settings(self, node: str, *, state: str | None = None, **extra: object) -> NodeSettings:
        data = {
            "node_id": node,
            "country": node.upper(),
            "data_dir": str(self.stores[node]),
            "state_dir": str(self.work / (state or f"{node}-state")),
            "policy": str(self.work / "policy.yaml"),
            "trusted_issuers": [{"issuer": ISSUER, "jwks": str(self.work / "broker" / "jwks.json")}],
            **extra,
        }
        return NodeSettings.from_mapping(data, base=self.work)

    def token(self, subject: str = "alice") -> str:
        """A passport for ``subject`` valid at every node, with a grant for each node's dataset."""
        return self.broker.passport(subject, audience=list(NODES), datasets=list(NODES))

    def start(self) -> Cluster:
        for node in NODES:
            self.servers[node] = NodeServer(self.settings(node)).start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def registry_data(self, urls: dict[str, str] | None = None) -> dict[str, object]:
        urls = urls or {n: s.url for n, s in self.servers.items()}
        nodes = [{"id": n, "url": u, "country": n.upper()} for n, u in urls.items()]
        return {"nodes": nodes, "timeout": 20, "retries": 1, "backoff": 0.05}

    def registry(self, urls: dict[str, str] | None = None) -> Registry:
        return Registry.from_data(self.registry_data(urls))

    def write_registry(self, path: Path, urls: dict[str, str] | None = None) -> Path:
        path.write_text(yaml.safe_dump(self.registry_data(urls), sort_keys=False))
        return path

    def truth(self, cohort: CohortFilter) -> dict[str, int]:
        """The true count of ``cohort`` at each node, straight from its store."""
        out = {}
        for node, path in self.stores.items():
            with NodeStore.open(path) as store:
                out[node] = run(store, CohortCountQuery(filter=cohort)).individuals
        return out


def build_store(country: Country, seed: int, directory: Path, patients: int) -> Path:
    """A node store of a synthetic cohort (VCFs and clinical tables), ingested through the adapters."""
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


def federation(work: Path, *, patients: int = 150, policy: str | None = None) -> Cluster:
    """Three synthetic stores (SE, NL, DK), a broker and a policy under ``work``; no server started."""
    stores = {
        c.value.lower(): build_store(c, seed, work / c.value.lower(), patients)
        for seed, c in enumerate((Country.SE, Country.NL, Country.DK))
    }
    (work / "policy.yaml").write_text(policy or "min_cell_count: 5\ndifferencing: {enabled: false}\n")
    broker = DemoBroker.generate(ISSUER)
    broker.save(work / "broker")
    return Cluster(stores=stores, broker=broker, work=work)
