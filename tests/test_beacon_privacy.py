"""The Beacon's re-identification defences against the likelihood-ratio membership attack.

A node is built from half of the CINECA cohort's real 1000 Genomes genotypes (the members); the
attacker knows the genomes of members and non-members and the allele frequencies of a reference
panel of other non-members, and asks the node's Beacon about each target's rarest alleles
(``genofed.privacy.run_membership_attack``). Without the defences the attack re-identifies members;
with them its power stays at its false-positive rate.
"""

from __future__ import annotations

import functools
import gzip
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from conftest import fixture_path
from genofed.auth import AccessLevel, Identity
from genofed.ingest import VcfReader
from genofed.node import BeaconSettings, NodeContext, NodeSettings, create_app
from genofed.node._beacon import BeaconRequest, answer_beacon
from genofed.node._beacon_defences import BeaconDefences, RateLimitedError
from genofed.privacy import AttackReport, lr_statistic, run_membership_attack
from genofed.store import NodeStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

QUERIES = (1, 2, 5, 10, 20, 30)
BUDGET = 10
SEED = 7


@dataclass
class Cohort:
    samples: list[str]
    alleles: list[tuple[int, str, str]]  # (1-based POS, REF, ALT), SNVs only
    carriers: np.ndarray  # alleles x samples, bool
    members: list[str]
    non_members: list[str]
    calibration: list[str]
    reference: list[str]
    node: NodeContext
    settings: NodeSettings
    beacon: list[str]  # every member


def _read_vcf(vcf: Path) -> tuple[list[str], list[tuple[int, str, str]], np.ndarray]:
    alleles, rows = [], []
    samples: list[str] = []
    with gzip.open(vcf, "rt") as lines:
        for line in lines:
            if line.startswith("##"):
                continue
            fields = line.rstrip("\n").split("\t")
            if line.startswith("#"):
                samples = fields[9:]
                continue
            if len(fields[3]) != 1 or len(fields[4]) != 1:
                continue
            alleles.append((int(fields[1]), fields[3], fields[4]))
            rows.append(["1" in s.split(":")[0].replace("|", "/").split("/") for s in fields[9:]])
    return samples, alleles, np.asarray(rows, dtype=bool)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cohort]:
    folder = tmp_path_factory.mktemp("beacon-privacy")
    vcf = fixture_path("cineca", "cineca_chr22_annotated.vcf.gz")
    samples, alleles, carriers = _read_vcf(vcf)
    rng = np.random.default_rng(SEED)
    order = [samples[i] for i in rng.permutation(len(samples))]
    members = order[:1252]
    rest = order[1252:]
    non_members, calibration, reference = rest[:60], rest[60:160], rest[160:]
    subset = folder / "members.vcf.gz"
    subprocess.run(
        ["bcftools", "view", "-s", ",".join(members), "-Oz", "-o", str(subset), str(vcf)],
        check=True,
        capture_output=True,
    )
    with NodeStore.open(folder / "store", create=True) as store:
        reader = VcfReader(subset)
        store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
    settings = NodeSettings(
        node_id="uk1",
        country="GB",
        data_dir=folder / "store",
        state_dir=folder / "state",
        anonymous_access=True,
    )
    node = NodeContext.open(settings)
    yield Cohort(
        samples, alleles, carriers, members[:60], non_members, calibration, reference, node, settings, members
    )
    node.close()


def _asker(cohort: Cohort, identity: Identity, defences: BeaconDefences | None) -> functools.partial[bool]:
    return functools.partial(_ask, cohort, identity, defences)


def _ask(cohort: Cohort, identity: Identity, defences: BeaconDefences | None, allele: int) -> bool:
    pos, ref, alt = cohort.alleles[allele]
    body = {
        "query": {
            "requestParameters": {
                "assemblyId": "GRCh37",
                "referenceName": "22",
                "start": [pos - 1],
                "referenceBases": ref,
                "alternateBases": alt,
            },
            "requestedGranularity": "boolean",
        }
    }
    answer = answer_beacon(cohort.node, "g_variants", BeaconRequest(body), identity, defences=defences)
    return bool(answer["responseSummary"]["exists"])


def _attack(cohort: Cohort, ask: functools.partial[bool]) -> AttackReport:
    index = {s: i for i, s in enumerate(cohort.samples)}
    ref_cols = [index[s] for s in cohort.reference]
    # Carrier frequency in the panel -> allele frequency (Hardy-Weinberg), with a pseudo-count so
    # an allele unseen in the panel is rare, not impossible.
    carrier_freq = (cohort.carriers[:, ref_cols].sum(axis=1) + 0.5) / (len(ref_cols) + 1)
    frequencies = dict(enumerate(1 - np.sqrt(1 - carrier_freq)))
    targets = cohort.members + cohort.non_members + cohort.calibration
    carried = {t: [int(a) for a in np.flatnonzero(cohort.carriers[:, index[t]])] for t in targets}
    return run_membership_attack(
        ask,
        carried,
        frequencies,
        members=cohort.members,
        non_members=cohort.non_members,
        calibration=cohort.calibration,
        beacon_size=1252,
        query_counts=QUERIES,
    )


def test_membership_attack__reidentifies_without_the_defences(cohort: Cohort) -> None:
    registered = Identity(subject="eve", issuer="https://broker.test", level=AccessLevel.REGISTERED)
    report = _attack(cohort, functools.cache(_asker(cohort, registered, None)))
    # About half the members are called members, at a false-positive rate near alpha: five or more
    # rare alleles each answered "yes" are rare for a non-member (chr22's first 5,002 sites only).
    point = report.at(10)
    assert point.power >= 0.4
    assert point.false_positive_rate <= 0.1
    assert point.power >= 4 * max(point.false_positive_rate, report.alpha)


def test_membership_attack__power_at_most_false_positive_rate_with_the_defences(cohort: Cohort) -> None:
    defences = BeaconDefences(budget=BUDGET, rate=10**9)
    report = _attack(cohort, _asker(cohort, Identity(), defences))
    for point in report.points:
        assert point.power <= max(point.false_positive_rate, report.alpha) + 0.1, point


def test_beacon_defences__budget_hides_an_allele_once_its_carriers_are_spent(cohort: Cohort) -> None:
    index = [cohort.samples.index(s) for s in cohort.beacon]
    in_beacon = cohort.carriers[:, index].sum(axis=1)
    allele = int(np.flatnonzero((in_beacon >= 5) & (in_beacon <= 8))[0])
    registered = Identity(subject="eve", issuer="https://broker.test", level=AccessLevel.REGISTERED)
    defences = BeaconDefences(budget=2, rate=10**9)
    answers = [_ask(cohort, registered, defences, allele) for _ in range(3)]
    assert answers == [True, True, False]
    # Another caller learns no more: the budget is the individuals'.
    other = Identity(subject="mallory", issuer="https://broker.test", level=AccessLevel.REGISTERED)
    assert _ask(cohort, other, defences, allele) is False
    # Controlled callers (a visa for the dataset) are not subject to it.
    controlled = Identity(subject="c", issuer="https://broker.test", datasets=frozenset({"uk1"}))
    assert _ask(cohort, controlled, defences, allele) is True
    # Anonymous callers never learn of an allele with fewer than 5 carriers.
    rare = int(np.flatnonzero((in_beacon >= 1) & (in_beacon < 5))[0])
    assert _ask(cohort, Identity(), BeaconDefences(rate=10**9), rare) is False
    assert _ask(cohort, registered, None, rare) is True


def test_beacon_defences__rate_limit_answers_429(cohort: Cohort) -> None:
    defences = BeaconDefences(rate=3, window=60)
    for _ in range(3):
        defences.admit("eve")
    with pytest.raises(RateLimitedError, match="more than 3 Beacon requests"):
        defences.admit("eve")
    defences.admit("mallory")
    app = create_app(cohort.settings)
    app.state.beacon_defences = BeaconDefences(rate=2, window=60)
    with TestClient(app) as client:
        statuses = [client.get("/beacon/individuals").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert "more than 2" in client.get("/beacon/individuals").json()["error"]["errorMessage"]


def test_lr_statistic__yes_raises_and_no_lowers() -> None:
    assert lr_statistic([True], [0.0005], 1000) > 0
    assert lr_statistic([False], [0.0005], 1000) < -5
    # A common allele says next to nothing either way.
    assert abs(lr_statistic([True], [0.3], 1000)) < 1e-6


def test_beacon_defences__spent_budget_survives_a_restart(cohort: Cohort, tmp_path: Path) -> None:
    index = [cohort.samples.index(s) for s in cohort.beacon]
    in_beacon = cohort.carriers[:, index].sum(axis=1)
    allele = int(np.flatnonzero((in_beacon >= 5) & (in_beacon <= 8))[0])
    registered = Identity(subject="eve", issuer="https://broker.test", level=AccessLevel.REGISTERED)
    state = tmp_path / "beacon-budget.json"
    first = BeaconDefences(budget=2, rate=10**9, state_file=state)
    assert [_ask(cohort, registered, first, allele) for _ in range(2)] == [True, True]

    restarted = BeaconDefences(budget=2, rate=10**9, state_file=state)

    assert _ask(cohort, registered, restarted, allele) is False


def test_beacon_defences__made_from_the_node_settings(cohort: Cohort, tmp_path: Path) -> None:
    settings = cohort.settings.model_copy(
        update={
            "state_dir": tmp_path / "state",
            "beacon": BeaconSettings(rate=2, window_seconds=60, budget=3),
        }
    )
    app = create_app(settings)
    with TestClient(app) as client:
        statuses = [client.get("/beacon/individuals").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    defences = app.state.beacon_defences
    assert (defences.rate, defences.window, defences.budget) == (2, 60, 3)
    assert defences.state_file == tmp_path / "state" / "beacon-budget.json"
