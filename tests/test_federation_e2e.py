"""The coordinator against three real nodes (uvicorn on loopback) over synthetic SE, NL and DK cohorts.

The oracle is the pooled data: the same cohort counted with ``genofed.query.run`` on each node's
store, summed. Combined numbers must equal it wherever nothing was suppressed and contain it wherever
something was; each node's released number must be its true count released under its policy.
The nodes' differencing guard is off here (``policy.yaml``) so that many overlapping cohorts can be
compared with the oracle; the guard has its own tests with the node.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from federation_nodes import ISSUER, NODES, Cluster, NodeServer, federation
from genofed.api import AgeBandDimension, SexDimension, Study, TumourTypeDimension, VariantRef
from genofed.auth import DemoBroker
from genofed.cli import app as cli_app
from genofed.federation import (
    CombinedAlleleFrequencies,
    CombinedCrossTab,
    Federation,
    OutcomeStatus,
    RefusalKind,
    Registry,
)
from genofed.model import Sex
from genofed.node import create_app
from genofed.privacy import DisclosurePolicy, release_count
from genofed.query import AlleleFrequencyQuery, CohortFilter, run
from genofed.store import NodeStore

# NodeStore.execute silences a DuckDB copy warning with warnings.catch_warnings(), which is not
# thread-safe: under concurrent requests the filter can be lost and pytest's "error" would turn the
# warning into a node failure. Ignoring it for these tests keeps them about the federation.
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

PATIENTS = 150
QUESTIONS = (
    CohortFilter(),
    CohortFilter(tumour_type="COADREAD"),
    CohortFilter(tumour_type="COADREAD", gene="KRAS"),
    CohortFilter(gene="KRAS", protein_change="p.G12C"),
    CohortFilter(tumour_type="MEL", gene="BRAF", protein_change="p.V600E"),
    CohortFilter(gene="TP53", consequence="truncating"),
    CohortFilter(sex=Sex.FEMALE, age_min=60),
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = federation(tmp_path_factory.mktemp("federation"), patients=PATIENTS).start()
    try:
        yield c
    finally:
        c.stop()


def test_count__combined_counts_equal_the_pooled_query_or_contain_it(cluster: Cluster) -> None:
    exact = suppressed = 0
    with Federation(cluster.registry(), token=cluster.token()) as fed:
        for cohort in QUESTIONS:
            truth = cluster.truth(cohort)
            answer = fed.count(cohort, study="pooled oracle")
            assert answer.complete, answer.missing_reasons()
            for node, true_count in truth.items():
                response = answer.outcome(node).response
                assert response is not None
                assert response.node.node_id == node
                assert response.result.count == release_count(true_count, DisclosurePolicy())  # type: ignore[union-attr]
            combined = answer.count
            assert combined.contains(sum(truth.values())), (cohort, truth, combined)
            if all(n == 0 or n >= 5 for n in truth.values()):
                assert combined.value == sum(truth.values())
                exact += 1
            else:
                assert combined.value is None
                assert any(e.endswith("shown as <5") or "below 5" in e for e in answer.disclosure_effects)
                suppressed += 1
    assert exact >= 3, "the questions must include ones answered exactly"
    assert suppressed >= 1, "the questions must include ones with a suppressed node count"


def test_crosstab__cells_match_the_pooled_counts_by_sex_and_age(cluster: Cluster) -> None:
    cohort = CohortFilter(tumour_type="COADREAD")
    with Federation(cluster.registry(), token=cluster.token()) as fed:
        answer = fed.crosstab(cohort, SexDimension(), AgeBandDimension(edges=(60,)))
    assert answer.complete, answer.missing_reasons()
    table = answer.combined
    assert isinstance(table, CombinedCrossTab)
    assert table.row_labels == ("female", "male", "other", "unknown")
    assert table.column_labels == ("<60", "≥60", "unknown")

    def oracle(**conditions: object) -> dict[str, int]:
        return cluster.truth(cohort.model_copy(update=conditions))

    # (combined number, the node tables' number at the same place, per-node truth from the oracle)
    checks = [
        (table.total, lambda t: t.total, oracle()),
        (table.row_totals[0], lambda t: t.row_totals[0], oracle(sex=Sex.FEMALE)),
        (table.row_totals[1], lambda t: t.row_totals[1], oracle(sex=Sex.MALE)),
        (table.column_totals[1], lambda t: t.column_totals[1], oracle(age_min=60.0)),
        (table.cells[0][1], lambda t: t.cells[0][1], oracle(sex=Sex.FEMALE, age_min=60.0)),
        (table.cells[1][1], lambda t: t.cells[1][1], oracle(sex=Sex.MALE, age_min=60.0)),
    ]
    exact = 0
    for combined, at, truth in checks:
        released = {o.node: at(o.response.result.table) for o in answer.outcomes}  # type: ignore[union-attr]
        for node, shown in released.items():
            assert shown.lower <= truth[node]
            assert shown.upper is None or truth[node] <= shown.upper
            if shown.value is not None and shown.lower == shown.upper:
                assert shown.value == truth[node]
        assert combined.contains(sum(truth.values()))
        if all(shown.lower == shown.upper for shown in released.values()):
            assert combined.value == sum(truth.values())
            exact += 1
    assert exact >= 1, "some numbers of this table must come back exact"


def test_crosstab__tumour_type_rows_match_the_pooled_counts(cluster: Cluster) -> None:
    with Federation(cluster.registry(), token=cluster.token()) as fed:
        answer = fed.crosstab(None, TumourTypeDimension(codes=("COADREAD", "MEL")))
    table = answer.combined
    assert isinstance(table, CombinedCrossTab)
    assert table.column_labels == ("all",)
    coadread = sum(cluster.truth(CohortFilter(tumour_type="COADREAD")).values())
    assert table.cell("COADREAD").contains(coadread)
    assert table.total.value == sum(cluster.truth(CohortFilter()).values())


def test_allele_frequency__combined_counts_equal_the_pooled_allele_counts(cluster: Cluster) -> None:
    with NodeStore.open(cluster.stores["se"]) as store:
        sites = store.execute(
            "SELECT chrom, start, ref, alt, assembly FROM variant_sites WHERE origin = 'germline' "
            "AND length(ref) = 1 AND length(alt) = 1 ORDER BY allele_count DESC, chrom, start LIMIT 3"
        ).to_pylist()
    variants = [
        VariantRef(chrom=s["chrom"], pos=s["start"] + 1, ref=s["ref"], alt=s["alt"], assembly=s["assembly"])
        for s in sites
    ]
    with Federation(cluster.registry(), token=cluster.token()) as fed:
        answer = fed.allele_frequency(None, variants)
    assert answer.complete, answer.missing_reasons()
    combined = answer.combined
    assert isinstance(combined, CombinedAlleleFrequencies)
    for variant, allele in zip(variants, combined.alleles, strict=True):
        query = AlleleFrequencyQuery(
            chrom=variant.chrom, pos=variant.pos, ref=variant.ref, alt=variant.alt, assembly=variant.assembly
        )
        ac = an = 0
        for path in cluster.stores.values():
            with NodeStore.open(path) as store:
                result = run(store, query)
            ac += result.allele_count
            an += result.allele_number
        assert allele.variant == variant
        assert allele.allele_count.contains(ac)
        assert allele.allele_number.contains(an)
        assert allele.allele_number.value == an  # every node genotypes far more than 5 people
        if allele.allele_count.exact:
            assert allele.frequency == pytest.approx(ac / an)
        else:
            assert allele.frequency_lower is not None
            assert allele.frequency_upper is not None
            assert allele.frequency_lower <= ac / an <= allele.frequency_upper


def test_run__a_node_stopped_mid_study_gives_a_partial_answer_naming_it(cluster: Cluster) -> None:
    dk = NodeServer(cluster.settings("dk", state="dk-mid-study")).start()
    urls = {"se": cluster.servers["se"].url, "nl": cluster.servers["nl"].url, "dk": dk.url}
    study = Study(
        name="stop one node",
        cohort=CohortFilter(tumour_type="COADREAD"),
        analyses=({"kind": "count"}, {"kind": "crosstab", "rows": {"kind": "sex"}}, {"kind": "count"}),  # type: ignore[arg-type]
    )

    def stop_dk_after_first(n: int, answer: object) -> None:
        if n == 0:
            dk.stop()

    try:
        with Federation(cluster.registry(urls), token=cluster.token()) as fed:
            result = fed.run(study, progress=stop_dk_after_first)
    finally:
        dk.stop()
    first, second, third = result.answers
    assert first.complete
    truth = cluster.truth(study.cohort)
    assert first.count.contains(sum(truth.values()))
    for later in (second, third):
        assert later.missing == ("dk",)
        outcome = later.outcome("dk")
        assert outcome.status is OutcomeStatus.FAILED
        assert outcome.reason is not None
        assert outcome.reason.startswith(f"cannot reach {dk.url}/analyses")
    assert third.count.contains(truth["se"] + truth["nl"])
    assert third.count.value in (None, truth["se"] + truth["nl"])
    assert result.missing == ("dk",)
    assert not result.complete


def test_count__forged_expired_and_wrong_audience_tokens_are_refusals_with_the_reason(
    cluster: Cluster,
) -> None:
    forger = DemoBroker.generate(ISSUER)  # same issuer name, another key
    tokens = {
        "se": forger.passport("mallory", audience="se", datasets=["se"]),
        "nl": cluster.broker.passport("alice", audience="nl", issued_at=int(time.time()) - 7200, lifetime=60),
        "dk": cluster.broker.passport("alice", audience="fi"),
    }
    with Federation(cluster.registry(), token=tokens) as fed:
        answer = fed.count()
    assert answer.combined is None
    assert answer.missing == NODES
    reasons = {n: answer.outcome(n).reason or "" for n in NODES}
    for node in NODES:
        outcome = answer.outcome(node)
        assert (outcome.status, outcome.refusal, outcome.http_status) == (
            OutcomeStatus.REFUSED,
            RefusalKind.AUTHENTICATION,
            401,
        )
        assert outcome.attempts == 1, "a refusal is not retried"
    assert "forged" in reasons["se"]
    assert "expired" in reasons["nl"]
    assert "another audience" in reasons["dk"]
    with Federation(cluster.registry(), token=None) as fed:
        assert fed.count().outcome("se").refusal is RefusalKind.AUTHENTICATION


def test_count__in_process_nodes_over_asgi_give_the_same_answer(cluster: Cluster) -> None:
    apps = {n: create_app(cluster.settings(n, state=f"{n}-asgi")) for n in NODES}
    try:
        transports = {n: httpx.ASGITransport(app=a) for n, a in apps.items()}
        registry = cluster.registry({n: f"http://{n}.asgi" for n in NODES})
        cohort = CohortFilter(tumour_type="COADREAD", gene="KRAS")
        with Federation(registry, token=cluster.token(), transport=transports) as fed:
            in_process = fed.count(cohort)
        with Federation(cluster.registry(), token=cluster.token()) as fed:
            over_http = fed.count(cohort)
    finally:
        for a in apps.values():
            a.state.node.close()
    assert in_process.complete
    assert in_process.count == over_http.count


def test_study_run_cli__tables_json_and_report_against_real_nodes(cluster: Cluster, tmp_path: Path) -> None:
    registry = tmp_path / "nodes.yaml"
    registry.write_text(
        yaml.safe_dump(
            {"nodes": [{"id": n, "url": s.url, "country": n.upper()} for n, s in cluster.servers.items()]}
        )
    )
    spec = tmp_path / "study.yaml"
    spec.write_text(
        "name: KRAS in colorectal cancer\n"
        "cohort: {tumour_type: COADREAD}\n"
        "analyses:\n"
        "  - kind: count\n"
        "  - {kind: crosstab, rows: {kind: sex}, columns: {kind: age_band, edges: [60]}}\n"
        "  - {kind: crosstab, rows: {kind: vital_status}}\n"
    )
    token_file = tmp_path / "token.jwt"
    token_file.write_text(cluster.token() + "\n")
    runner = CliRunner()
    report = tmp_path / "out" / "report.html"
    args = ["study", "run", str(spec), "--registry", str(registry), "--token-file", str(token_file)]
    result = runner.invoke(cli_app, [*args, "--report", str(report)])
    assert result.exit_code == 0, result.output
    total = sum(cluster.truth(CohortFilter(tumour_type="COADREAD")).values())
    for text in ("1. count", "2. crosstab combined", "3. crosstab", "deceased", "combined", str(total)):
        assert text in result.output
    print(result.output)
    html = report.read_text()
    assert "KRAS in colorectal cancer" in html
    assert html.count("<table>") >= 6
    assert "Complete." in html
    as_json = runner.invoke(cli_app, [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["complete"] is True
    assert data["answers"][0]["combined"]["count"]["value"] == total
    # Without a passport every node refuses: exit status 1, each node named.
    refused = runner.invoke(cli_app, ["study", "run", str(spec), "--registry", str(registry)])
    assert refused.exit_code == 1
    assert "no node answered" in refused.output
    assert refused.output.count("refused") >= 3


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "genofed test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "node.pem", directory / "node.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


def test_count__over_tls_with_the_registrys_ca_bundle(cluster: Cluster, tmp_path: Path) -> None:
    ca, cert, key = _certificates(tmp_path)
    settings = cluster.settings("se", state="se-tls", tls={"certificate": str(cert), "private_key": str(key)})
    server = NodeServer(settings).start()
    try:
        assert server.url.startswith("https://")
        trusted = Registry.from_data(
            {"nodes": [{"id": "se", "url": server.url, "country": "SE", "ca_bundle": str(ca)}], "retries": 0}
        )
        with Federation(trusted, token=cluster.token()) as fed:
            answer = fed.count()
        assert answer.complete, answer.missing_reasons()
        assert answer.count.value == cluster.truth(CohortFilter())["se"]
        untrusted = Registry.from_data(
            {"nodes": [{"id": "se", "url": server.url, "country": "SE"}], "retries": 3}
        )
        with Federation(untrusted, token=cluster.token()) as fed:
            outcome = fed.count().outcome("se")
        assert outcome.status is OutcomeStatus.FAILED
        assert outcome.attempts == 1, "a certificate that does not verify is not retried"
        assert outcome.reason is not None
        assert "TLS failure" in outcome.reason
        assert "ca_bundle" in outcome.reason
    finally:
        server.stop()
