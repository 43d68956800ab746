"""Disclosure control at the node: no small count leaves it, none can be recovered, trackers are refused.

The property test asks random cohorts and analyses of a node with a minimum cell count of 5 and
checks every released number: none is an exact value in 1..4, each interval holds the true count
(computed from the synthesised source tables), and no cell shown as "<5" can be pinned down from the
released cells and margins -- by an integer-programming attacker written here and, when the search is
small, by brute force.
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from genofed.api import ProblemType
from genofed.node import NodeSettings, create_app
from test_node_api import (
    NODE,
    SynthNode,
    TestClient,
    assert_consistent,
    assert_problem,
    headers,
    make_settings,
    matches,
    oracle_cells,
    released_numbers,
    synth_node,
)

__all__ = ["synth_node"]  # the module-scoped store fixture, shared with test_node_api

DATA = Path(__file__).parent / "data" / "node"
K = 5


@pytest.fixture(scope="module")
def node(synth_node: SynthNode, tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = make_settings(synth_node, tmp_path_factory.mktemp("state"))
    with TestClient(create_app(settings)) as client:
        yield client


# -- attackers -------------------------------------------------------------------------------------------
def _hidden_domain(shown: dict[str, Any], cap: int) -> list[int]:
    if shown["status"] == "small":
        return list(range(max(1, shown["lower"]), shown["upper"] + 1))
    return [0, *range(K, cap + 1)]  # withheld: zero, or at least k (else it would show as "<k")


def _margins(
    table: dict[str, Any], n_rows: int, n_cols: int
) -> list[tuple[list[tuple[int, int]], dict[str, Any]]]:
    margins = [([(r, c) for c in range(n_cols)], shown) for r, shown in enumerate(table["row_totals"])]
    margins += [([(r, c) for r in range(n_rows)], shown) for c, shown in enumerate(table["column_totals"])]
    margins.append(([(r, c) for r in range(n_rows) for c in range(n_cols)], table["total"]))
    return margins


def milp_pinned(table: dict[str, Any]) -> list[tuple[int, int]]:
    """Small cells an attacker with an integer programme pins to one value from the released table."""
    cells = table["cells"]
    n_rows, n_cols = len(cells), len(cells[0])
    index = {(r, c): r * n_cols + c for r in range(n_rows) for c in range(n_cols)}
    withheld = [rc for rc in index if cells[rc[0]][rc[1]]["status"] == "complementary"]
    n_x = len(index)
    n = n_x + len(withheld)
    big = 10_000.0
    lower, upper = np.zeros(n), np.ones(n)
    for (r, c), i in index.items():
        shown = cells[r][c]
        lower[i] = shown["lower"]
        upper[i] = big if shown["upper"] is None else shown["upper"]
    rows, lo, hi = [], [], []
    for members, shown in _margins(table, n_rows, n_cols):
        if shown["status"] == "complementary":
            continue
        row = np.zeros(n)
        row[[index[m] for m in members]] = 1
        rows.append(row)
        lo.append(shown["lower"])
        hi.append(np.inf if shown["upper"] is None else shown["upper"])
    for b, cell in enumerate(withheld):  # x = 0 or x >= K, with a binary b: K*b <= x <= big*b
        at_least, at_most = np.zeros(n), np.zeros(n)
        at_least[index[cell]], at_least[n_x + b] = 1, -K
        at_most[index[cell]], at_most[n_x + b] = 1, -big
        rows += [at_least, at_most]
        lo += [0, -np.inf]
        hi += [np.inf, 0]
    constraints = [LinearConstraint(np.vstack(rows), lo, hi)] if rows else []
    pinned = []
    for (r, c), i in index.items():
        if cells[r][c]["status"] != "small":
            continue
        objective = np.zeros(n)
        objective[i] = 1
        bounds = Bounds(lower, upper)
        low = milp(objective, constraints=constraints, integrality=np.ones(n), bounds=bounds)
        high = milp(-objective, constraints=constraints, integrality=np.ones(n), bounds=bounds)
        assert low.status == 0
        assert high.status == 0  # the released table is consistent
        if round(low.fun) == round(-high.fun):
            pinned.append((r, c))
    return pinned


def brute_force_pinned(table: dict[str, Any], *, limit: int = 20_000) -> list[tuple[int, int]] | None:
    """Small cells with one possible value over every table consistent with the release; None if too big."""
    cells = table["cells"]
    n_rows, n_cols = len(cells), len(cells[0])
    total = table["total"]
    cap = total["upper"] if total["upper"] is not None else 200
    hidden = [(r, c) for r in range(n_rows) for c in range(n_cols) if cells[r][c]["value"] is None]
    domains = [_hidden_domain(cells[r][c], cap) for r, c in hidden]
    if not hidden or np.prod([len(d) for d in domains], dtype=float) > limit:
        return None if hidden else []
    grid = np.array([[cells[r][c]["value"] or 0 for c in range(n_cols)] for r in range(n_rows)])
    margins = [(m, s) for m, s in _margins(table, n_rows, n_cols) if s["status"] != "complementary"]
    possible: dict[tuple[int, int], set[int]] = {cell: set() for cell in hidden}
    for values in itertools.product(*domains):
        for cell, v in zip(hidden, values, strict=True):
            grid[cell] = v
        if all(
            s["lower"]
            <= sum(int(grid[m]) for m in members)
            <= (s["upper"] if s["upper"] is not None else 10**9)
            for members, s in margins
        ):
            for cell, v in zip(hidden, values, strict=True):
                possible[cell].add(v)
    return [
        cell for cell in hidden if cells[cell[0]][cell[1]]["status"] == "small" and len(possible[cell]) == 1
    ]


# -- the property ----------------------------------------------------------------------------------------
AGES = [40, 50, 55, 60, 65, 70, 75, 80]
CONDITIONS = {
    "sex": st.sampled_from(["female", "male"]),
    "age_min": st.sampled_from(AGES),
    "age_max": st.sampled_from(AGES),
    "tumour_type": st.sampled_from(["COADREAD", "BRCA", "LUAD", "NSCLC", "PRAD", "SKCM", "BLCA"]),
    "gene": st.sampled_from(["TP53", "KRAS", "APC", "PTEN"]),
}
# At most two conditions: more leave cohorts of a handful of people, whose tables are all small cells.
COHORTS = (
    st.lists(st.sampled_from(sorted(CONDITIONS)), max_size=2, unique=True)
    .flatmap(lambda keys: st.fixed_dictionaries({key: CONDITIONS[key] for key in keys}))
    .filter(lambda c: c.get("age_min", 0) <= c.get("age_max", 200))
)
DIMENSIONS = st.one_of(
    st.just({"kind": "sex"}),
    st.just({"kind": "vital_status"}),
    st.lists(st.sampled_from(AGES), min_size=1, max_size=3, unique=True).map(
        lambda edges: {"kind": "age_band", "edges": sorted(edges)}
    ),
    st.lists(
        st.sampled_from(["COADREAD", "BRCA", "LUAD", "PRAD", "SKCM"]), min_size=1, max_size=3, unique=True
    ).map(lambda codes: {"kind": "tumour_type", "codes": codes}),
    st.sampled_from(["TP53", "KRAS", "APC"]).map(lambda gene: {"kind": "gene_status", "gene": gene}),
)
CROSSTABS = st.builds(
    lambda rows, columns: {"kind": "crosstab", "rows": rows, **({"columns": columns} if columns else {})},
    DIMENSIONS,
    st.none() | DIMENSIONS,
)
# Mostly tables: that is where secondary suppression works.
ANALYSES = st.integers(0, 3).flatmap(lambda n: st.just({"kind": "count"}) if n == 0 else CROSSTABS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cohort=COHORTS, analysis=ANALYSES)
def test_analyses__no_small_count_leaves_the_node_or_is_recoverable(
    node: Any, synth_node: SynthNode, cohort: dict[str, Any], analysis: dict[str, Any]
) -> None:
    # A new researcher per example: the differencing memory of one example does not refuse the next.
    auth = headers(synth_node.broker, f"researcher-{uuid.uuid4().hex}")
    response = node.post("/analyses", json={"cohort": cohort, "analysis": analysis}, headers=auth)
    if response.status_code == 403:
        # Refused as a whole (two groups of this answer differ by 1..4 people): nothing released.
        assert_problem(response, 403, ProblemType.DISCLOSURE_REFUSED, "differencing guard")
        return
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    for shown in released_numbers(result):
        assert shown["value"] is None or shown["value"] == 0 or shown["value"] >= K, shown
        assert shown["display"] not in {"1", "2", "3", "4"}
    if result["kind"] == "count":
        assert_consistent(result["count"], sum(matches(p, cohort) for p in synth_node.people))
        return
    table = result["table"]
    truth = oracle_cells(
        synth_node.people,
        cohort,
        analysis["rows"],
        analysis.get("columns"),
        result["row_labels"],
        result["column_labels"],
    )
    for r, row in enumerate(table["cells"]):
        for c, shown in enumerate(row):
            assert_consistent(shown, int(truth[r, c]))
    assert milp_pinned(table) == []
    assert brute_force_pinned(table) in ([], None)


def test_attackers__find_a_recoverable_cell() -> None:
    """The attackers are not vacuous: a table released without secondary suppression is broken."""

    def exact(v: int) -> dict[str, Any]:
        return {"value": v, "lower": v, "upper": v, "status": "exact", "display": str(v)}

    small = {"value": None, "lower": 1, "upper": 4, "status": "small", "display": "<5"}
    table = {
        "cells": [[small, exact(10)], [exact(12), exact(20)]],
        "row_totals": [exact(13), exact(32)],
        "column_totals": [exact(15), exact(30)],
        "total": exact(45),
    }
    assert milp_pinned(table) == [(0, 0)]
    assert brute_force_pinned(table) == [(0, 0)]


# -- trackers --------------------------------------------------------------------------------------------
def _single_ages(synth: SynthNode, start: int) -> list[tuple[float, int]]:
    """(age, number of people at most that age) for ages only one person has, from the ``start``-th on."""
    ages = sorted(float(np.float32(p.age)) for p in synth.people)
    return [
        (age, n + 1)
        for n, age in enumerate(ages)
        if n >= start and ages[n - 1] < age and (n + 1 == len(ages) or ages[n + 1] > age)
    ]


def _all_but_one(synth: SynthNode, start: int) -> tuple[float, float, int]:
    """An age bound taking n people, one taking the same people but the oldest of them, and n."""
    ages = sorted(float(np.float32(p.age)) for p in synth.people)
    age, n = _single_ages(synth, start)[0]
    return age, (ages[n - 2] + age) / 2, n


@pytest.fixture
def fresh_node(synth_node: SynthNode, tmp_path: Path) -> Any:
    with TestClient(create_app(make_settings(synth_node, tmp_path / "state"))) as client:
        yield client


def test_analyses__tracker_attack_is_refused(fresh_node: Any, synth_node: SynthNode) -> None:
    everyone_to, all_but_one, n = _all_but_one(synth_node, 29)
    a = {"age_max": everyone_to}
    b = {"age_max": all_but_one}
    assert sum(matches(p, a) for p in synth_node.people) == n
    assert sum(matches(p, b) for p in synth_node.people) == n - 1
    alice = headers(synth_node.broker, "alice")
    first = fresh_node.post("/analyses", json={"cohort": a}, headers=alice)
    assert first.json()["result"]["count"]["value"] == n
    refused = fresh_node.post("/analyses", json={"cohort": b}, headers=alice)
    problem = assert_problem(refused, 403, ProblemType.DISCLOSURE_REFUSED, "differencing guard")
    assert "1 individual" not in problem["detail"]  # the refusal does not say by how many
    # The same cohort again is fine; so is B for another researcher (memory is per researcher).
    assert fresh_node.post("/analyses", json={"cohort": a}, headers=alice).status_code == 200
    bob = headers(synth_node.broker, "bob")
    assert (
        fresh_node.post("/analyses", json={"cohort": b}, headers=bob).json()["result"]["count"]["value"] == 29
    )
    # Adding a condition that changes nothing for the answered people is still the same group.
    assert (
        fresh_node.post("/analyses", json={"cohort": {**a, "age_min": 0}}, headers=alice).status_code == 200
    )


def test_analyses__tracker_ending_in_a_small_count_is_refused(fresh_node: Any, synth_node: SynthNode) -> None:
    # Five people, then the same but one: "5" and "<5" together say the fifth is in the cohort.
    ages = sorted(float(np.float32(p.age)) for p in synth_node.people)
    five = {"age_max": ages[4]}
    four = {"age_max": (ages[3] + ages[4]) / 2}
    assert sum(matches(p, five) for p in synth_node.people) == 5
    assert sum(matches(p, four) for p in synth_node.people) == 4
    for first, second, who in ((five, four, "ivan"), (four, five, "judy")):
        auth = headers(synth_node.broker, who)
        answered = fresh_node.post("/analyses", json={"cohort": first}, headers=auth)
        assert answered.json()["result"]["count"]["display"] == ("5" if first is five else "<5")
        assert_problem(
            fresh_node.post("/analyses", json={"cohort": second}, headers=auth),
            403,
            ProblemType.DISCLOSURE_REFUSED,
            "differencing guard",
        )


def test_analyses__tracker_through_a_table_cell_is_refused(fresh_node: Any, synth_node: SynthNode) -> None:
    everyone_to, _, _ = _all_but_one(synth_node, 29)
    alice = headers(synth_node.broker, "alice")
    counted = fresh_node.post("/analyses", json={"cohort": {"age_max": everyone_to}}, headers=alice)
    assert counted.status_code == 200
    # A one-way table by age whose first band (< edge) holds the same people but the oldest of them.
    shifted = {"kind": "crosstab", "rows": {"kind": "age_band", "edges": [everyone_to]}}
    refused = fresh_node.post("/analyses", json={"analysis": shifted}, headers=alice)
    assert_problem(refused, 403, ProblemType.DISCLOSURE_REFUSED, "differencing guard")
    # Shifted band edges between two tables are the same attack.
    (edge, _), (next_edge, _) = _single_ages(synth_node, 60)[:2]
    assert sum(edge <= np.float32(p.age) < next_edge for p in synth_node.people) == 1
    table = {"kind": "crosstab", "rows": {"kind": "age_band", "edges": [edge]}}
    moved = {"kind": "crosstab", "rows": {"kind": "age_band", "edges": [next_edge]}}
    bob = headers(synth_node.broker, "bob")
    assert fresh_node.post("/analyses", json={"analysis": table}, headers=bob).status_code == 200
    assert_problem(
        fresh_node.post("/analyses", json={"analysis": moved}, headers=bob),
        403,
        ProblemType.DISCLOSURE_REFUSED,
    )


def test_analyses__ordinary_exploration_is_not_refused(fresh_node: Any, synth_node: SynthNode) -> None:
    alice = headers(synth_node.broker, "alice")
    requests: list[dict[str, Any]] = [
        {},
        {"cohort": {"sex": "female"}},
        {"cohort": {"sex": "male"}},
        {"analysis": {"kind": "crosstab", "rows": {"kind": "sex"}, "columns": {"kind": "vital_status"}}},
        {"cohort": {"tumour_type": "COADREAD"}},
        {"analysis": {"kind": "crosstab", "rows": {"kind": "age_band", "edges": [50, 65]}}},
        {},
    ]
    for body in requests:
        response = fresh_node.post("/analyses", json=body, headers=alice)
        assert response.status_code == 200, response.text


# -- allele frequencies ----------------------------------------------------------------------------------
def test_analyses__rare_allele_counts_are_withheld(node: Any, synth_node: SynthNode) -> None:
    genotypes = synth_node.genotypes()
    carriers = (genotypes > 0).sum(axis=1)
    sites = synth_node.cohort.germline_sites.to_pylist()
    rare = [int(i) for i in np.flatnonzero((carriers >= 1) & (carriers < K))[:3]]
    common = int(np.flatnonzero(carriers >= 20)[0])
    variants = [{k: sites[i][k] for k in ("chrom", "pos", "ref", "alt")} for i in [*rare, common]]
    body = {"analysis": {"kind": "allele_frequency", "variants": variants}}
    response = node.post(
        "/analyses", json=body, headers=headers(synth_node.broker, "carol", datasets=(NODE,))
    )
    assert response.status_code == 200, response.text
    alleles = response.json()["result"]["alleles"]
    for allele in alleles[:-1]:
        assert allele["allele_count"]["value"] is None
        assert allele["allele_count"]["display"] == "<9"  # fewer than 5 carriers: at most 8 copies
        assert allele["allele_number"]["value"] is not None
    assert alleles[-1]["allele_count"]["value"] == int(genotypes[common][genotypes[common] > 0].sum())


def test_analyses__allele_number_of_a_tiny_cohort_is_withheld(node: Any, synth_node: SynthNode) -> None:
    tiny = _cohort_of_size(synth_node, 1, K - 1)
    sites = synth_node.cohort.germline_sites.to_pylist()
    variant = {k: sites[0][k] for k in ("chrom", "pos", "ref", "alt")}
    body = {"cohort": tiny, "analysis": {"kind": "allele_frequency", "variants": [variant]}}
    response = node.post("/analyses", json=body, headers=headers(synth_node.broker, "dave", datasets=(NODE,)))
    allele = response.json()["result"]["alleles"][0]
    assert allele["allele_number"]["value"] is None
    assert allele["allele_count"]["value"] is None or allele["allele_count"]["value"] == 0


# -- the policy: requests tighten, never weaken ----------------------------------------------------------
def _cohort_of_size(synth: SynthNode, low: int, high: int) -> dict[str, Any]:
    """The first cohort (tumour type, then with sex, then with an age bound) of ``low``..``high`` people."""
    for tumour in sorted({p.tumour_type for p in synth.people}):
        for extra in ({}, {"sex": "female"}, {"sex": "male"}, {"age_min": 70}, {"age_max": 55}):
            cohort = {"tumour_type": tumour, **extra}
            if low <= sum(matches(p, cohort) for p in synth.people) <= high:
                return cohort
    raise AssertionError(f"no cohort of {low}..{high} people")


def test_analyses__a_request_tightens_but_never_weakens(node: Any, synth_node: SynthNode) -> None:
    auth = headers(synth_node.broker, "erin")
    middling = _cohort_of_size(synth_node, K, 9)
    tiny = _cohort_of_size(synth_node, 1, K - 1)
    stricter = node.post(
        "/analyses", json={"cohort": middling, "disclosure": {"min_cell_count": 10}}, headers=auth
    )
    assert stricter.json()["result"]["count"]["display"] == "<10"
    assert stricter.json()["disclosure"]["min_cell_count"] == 10
    weaker = node.post("/analyses", json={"cohort": tiny, "disclosure": {"min_cell_count": 1}}, headers=auth)
    assert weaker.json()["result"]["count"]["display"] == "<5"
    assert weaker.json()["disclosure"]["min_cell_count"] == K
    rounded = node.post("/analyses", json={"disclosure": {"rounding_base": 10}}, headers=auth).json()
    assert rounded["result"]["count"]["value"] % 10 == 0
    assert_consistent(rounded["result"]["count"], len(synth_node.people))


def test_analyses__the_node_policy_file_applies(synth_node: SynthNode, tmp_path: Path) -> None:
    settings = make_settings(synth_node, tmp_path / "state", policy=DATA / "policy-strict.yaml")
    middling = _cohort_of_size(synth_node, K, 9)
    with TestClient(create_app(settings)) as strict:
        auth = headers(synth_node.broker, "frank")
        answer = strict.post(
            "/analyses", json={"cohort": middling, "disclosure": {"min_cell_count": 2}}, headers=auth
        )
        assert answer.json()["result"]["count"]["display"] == "<10"
        everyone = strict.post("/analyses", json={}, headers=auth).json()
        assert everyone["result"]["count"]["value"] % 5 == 0
        assert everyone["disclosure"]["rounding_base"] == 5


def test_node_settings__the_sample_node_yaml(synth_node: SynthNode, tmp_path: Path) -> None:
    for name in ("node.yaml", "policy-strict.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    (tmp_path / "store").symlink_to(synth_node.store)
    (tmp_path / "broker").mkdir()
    shutil.copy(synth_node.jwks, tmp_path / "broker" / "jwks.json")
    settings = NodeSettings.from_yaml(tmp_path / "node.yaml")
    assert (settings.port, settings.dataset_id, settings.state_path) == (8001, "se", tmp_path / "state")
    with TestClient(create_app(settings)) as client:
        info = client.get("/service-info").json()
        assert info["organization"]["name"] == "Genomic Medicine Sweden (demo)"
        assert client.post("/analyses", json={}, headers=headers(synth_node.broker)).status_code == 200


# -- differential privacy --------------------------------------------------------------------------------
def test_analyses__differential_privacy_noises_and_spends_the_budget(
    synth_node: SynthNode, tmp_path: Path
) -> None:
    settings = make_settings(synth_node, tmp_path / "state", policy=DATA / "policy-dp.yaml")
    table_request = {
        "analysis": {"kind": "crosstab", "rows": {"kind": "sex"}, "columns": {"kind": "vital_status"}}
    }
    truth = oracle_cells(
        synth_node.people,
        {},
        {"kind": "sex"},
        {"kind": "vital_status"},
        ["female", "male", "other", "unknown"],
        ["alive", "deceased", "unknown"],
    )
    with TestClient(create_app(settings)) as private:
        auth = headers(synth_node.broker, "grace")
        first = private.post("/analyses", json=table_request, headers=auth)
        assert first.status_code == 200, first.text
        answer = first.json()
        assert answer["disclosure"]["differential_privacy"] is True
        assert answer["disclosure"]["secondary_suppression"] is False  # recovered values would be noisy
        assert any("noise" in words for words in answer["disclosure"]["applied"])
        assert answer["disclosure"]["budget"] == pytest.approx(
            {"spent": 0.01, "total_spent": 0.01, "remaining": 0.015}
        )
        shown = [c for row in answer["result"]["table"]["cells"] for c in row]
        # Noised values are not exact, and say so: the true count is not bounded by the interval.
        assert all(c["status"] != "exact" and c["upper"] is None for c in shown)
        assert all(c["value"] is None or c["value"] == 0 or c["value"] >= K for c in shown)
        # σ ≈ 7: with twelve cells, some released value differs from the truth (P(all equal) < 1e-12).
        released = [
            (c["value"], int(t))
            for c, t in zip(shown, truth.flatten(), strict=True)
            if c["value"] is not None
        ]
        assert any(v != t for v, t in released)
        second = private.post("/analyses", json={"cohort": {"sex": "female"}}, headers=auth).json()
        assert second["disclosure"]["budget"] == pytest.approx(
            {"spent": 0.01, "total_spent": 0.02, "remaining": 0.005}
        )
        third = private.post("/analyses", json={"cohort": {"sex": "male"}}, headers=auth)
        assert_problem(third, 403, ProblemType.DISCLOSURE_REFUSED, "privacy budget")
        # A refused release costs nothing; another researcher has their own budget.
        heidi = private.post("/analyses", json={}, headers=headers(synth_node.broker, "heidi")).json()
        assert heidi["disclosure"]["budget"]["remaining"] == pytest.approx(0.015)
    ledger = (tmp_path / "state" / "privacy-ledger.json").read_text()
    assert "grace" not in ledger  # researchers are keyed by hash
