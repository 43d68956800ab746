"""Federated summaries and allele frequencies per population, end to end, and the statistics' guards.

The three in-process nodes of ``tests/test_federation_stats.py`` (SE, NL, DK synthetic cohorts, each
with a birth region per patient as ``geographic_origin`` and a TMB/purity biomarker batch) answer
through ``httpx.ASGITransport``. Oracles are independent of the node code: summaries against numpy
and pandas on the pooled individuals (read with plain SQL from the stores, biomarkers from the values
the test wrote), allele counts against plain numpy on the synthetic genotype matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from rich.console import Console
from scipy import stats as scipy_stats

from genofed.api import (
    AgeBandDimension,
    AgeCovariate,
    AlleleFrequencyAnalysis,
    AnalysisRequest,
    BiomarkerVariable,
    ClinicalVariable,
    CountAnalysis,
    CoxAnalysis,
    CrossTabAnalysis,
    GeneStatusDimension,
    GlmAnalysis,
    KaplanMeierAnalysis,
    PopulationAlleleFrequencyResult,
    PopulationSplit,
    SexDimension,
    Study,
    SummaryAnalysis,
    SummaryResult,
    VariantRef,
)
from genofed.auth import AccessLevel, Identity
from genofed.cli import _study as study_cli
from genofed.federation import (
    CombinedCrossTab,
    CombinedPopulationAlleleFrequencies,
    CombinedSummary,
    FederatedAnswer,
    OutcomeStatus,
    RefusalKind,
    render_report,
)
from genofed.node._deps import get_identity
from genofed.query import CohortFilter
from genofed.store import NodeStore
from test_federation_stats import (
    COVARIATES,
    DEFAULT,
    EXACT,
    GRID,
    ORACLE_SQL,
    RARE_ORIGIN,
    Nodes,
    nodes,
)

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

__all__ = ["nodes"]  # the shared three-node fixture, imported for pytest

AGE, OS = ClinicalVariable(name="age_at_diagnosis"), ClinicalVariable(name="overall_survival_days")
TMB, PURITY = BiomarkerVariable(name="TMB"), BiomarkerVariable(name="purity")
KRAS_STATUS = GeneStatusDimension(gene="KRAS")


# -- oracles ---------------------------------------------------------------------------------------
def _pooled(nodes: Nodes) -> pd.DataFrame:
    """Every individual of every store, with the biomarkers the test wrote (by pseudonym)."""
    frames = []
    for node, path in nodes.stores.items():
        synthetic = nodes.synthetic[node]
        with NodeStore.open(path) as store:
            frame = store.execute(ORACLE_SQL, []).to_pandas()
            tmb = {store.pseudonymise(p): v for p, v in synthetic.tmb.items()}
            purity = {store.pseudonymise(p): v for p, v in synthetic.purity.items()}
        frame["node"] = node
        frame["age_at_diagnosis"] = frame["age_at_diagnosis"].astype(float)
        frame["overall_survival_days"] = frame["overall_survival_days"].astype(float)
        frame["TMB"] = frame["individual_id"].map(tmb)
        frame["PURITY"] = frame["individual_id"].map(purity)
        frame["kras"] = np.where(frame["kras"], "carrier", "non-carrier")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _check_row(row: Any, values: pd.Series) -> None:
    """A pooled summary row against numpy/scipy on the same values."""
    x = values.dropna().to_numpy(dtype=float)
    assert row.n == len(x)
    assert row.mean == pytest.approx(float(np.mean(x)), rel=1e-9)
    assert row.variance == pytest.approx(float(np.var(x, ddof=1)), rel=1e-9)
    assert row.sd == pytest.approx(float(np.std(x, ddof=1)), rel=1e-9)
    low, high = scipy_stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=scipy_stats.sem(x))
    assert (row.ci_lower, row.ci_upper) == pytest.approx((low, high), rel=1e-9)


def _run(nodes: Nodes, policy: str, *analyses: Any) -> list[FederatedAnswer]:
    study = Study(name="summaries", analyses=analyses)
    with nodes.federation(policy) as fed:
        _controlled_access(nodes)
        return list(fed.run(study).answers)


def _controlled_access(nodes: Nodes) -> None:
    """Callers of the nodes just made hold a controlled-access grant to every dataset (allele counts)."""
    researcher = Identity(subject="tester", level=AccessLevel.REGISTERED, datasets=frozenset(nodes.stores))
    for app in nodes.apps.values():
        app.dependency_overrides[get_identity] = lambda: researcher


# -- summaries -------------------------------------------------------------------------------------
def test_summary__means_variances_sds_and_intervals_equal_numpy_on_the_pooled_data(nodes: Nodes) -> None:
    (overall, by_two) = _run(
        nodes,
        EXACT,
        SummaryAnalysis(variables=(AGE, OS, TMB, PURITY)),
        SummaryAnalysis(variables=(AGE, TMB), by=(SexDimension(), KRAS_STATUS)),
    )
    data = _pooled(nodes)
    assert overall.complete, overall.missing_reasons()
    combined = overall.combined
    assert isinstance(combined, CombinedSummary)
    for name in ("age_at_diagnosis", "overall_survival_days", "TMB", "PURITY"):
        _check_row(combined.row(name), data[name])
    assert data["TMB"].isna().sum() > 0, "some patients have no TMB: they must be left out"
    pooled = by_two.combined
    assert isinstance(pooled, CombinedSummary)
    assert pooled.dimensions == ("sex", "gene_status")
    checked = 0
    for (sex, kras), part in data.groupby(["sex", "kras"]):
        for name in ("age_at_diagnosis", "TMB"):
            _check_row(pooled.row(name, str(sex), str(kras)), part[name])
            checked += 1
    assert checked == 8
    assert pooled.row("TMB", "other", "carrier").n == 0
    table = by_two.table()
    assert list(table.columns[:3]) == ["variable", "sex", "gene_status"]
    assert len(table) == 2 * 4 * 2


def test_summary__a_small_group_is_withheld_at_its_node_and_pooled_over_the_others(nodes: Nodes) -> None:
    # Few patients are diagnosed before 35: 1..4 at some nodes, none at others.
    analysis = SummaryAnalysis(variables=(AGE, TMB), by=(AgeBandDimension(edges=(35, 88)),))
    (answer,) = _run(nodes, DEFAULT, analysis)
    assert answer.complete, answer.missing_reasons()
    combined = answer.combined
    assert isinstance(combined, CombinedSummary)
    suppressed = 0
    for outcome in answer.outcomes:
        assert outcome.response is not None
        result = outcome.response.result
        assert isinstance(result, SummaryResult)
        for variable in result.variables:
            for cell in variable.cells:
                assert cell.n.value is None or cell.n.value == 0 or cell.n.value >= 5
                if cell.n.value is None:
                    suppressed += 1
                    assert cell.mean is None
                    assert cell.sum_squares is None
                    assert cell.n.display == "<5"
    assert suppressed > 0, "the age bands must give a small group at some node"
    data = _pooled(nodes)
    bands = {"<35": data["age_at_diagnosis"] < 35, "≥88": data["age_at_diagnosis"] >= 88}
    bands["35–87"] = ~bands["<35"] & ~bands["≥88"]
    for row in combined.rows:
        (band,) = row.group
        if band == "unknown":
            assert row.n == 0
            continue
        part = data[data["node"].isin(row.nodes) & bands[band]]
        if row.nodes:
            _check_row(row, part[row.variable])
        everywhere = data[bands[band]][row.variable].notna().sum()
        assert row.n_all.contains(int(everywhere))
    young = combined.row("age_at_diagnosis", "<35")
    assert young.nodes_suppressed
    assert set(young.nodes).isdisjoint(young.nodes_suppressed)
    assert any("withheld" in e for e in answer.disclosure_effects)


def test_summary__minimum_and_maximum_only_where_the_policy_allows(nodes: Nodes) -> None:
    analysis = SummaryAnalysis(variables=(TMB,), extremes=True)
    (withheld,) = _run(nodes, EXACT, analysis)
    (released,) = _run(nodes, EXACT + "statistics: {release_extremes: true}\n", analysis)
    data = _pooled(nodes)
    assert isinstance(withheld.combined, CombinedSummary)
    assert withheld.combined.row("TMB").minimum is None
    assert any("minimum and maximum withheld" in e for e in withheld.disclosure_effects)
    assert isinstance(released.combined, CombinedSummary)
    row = released.combined.row("TMB")
    assert (row.minimum, row.maximum) == (data["TMB"].min(), data["TMB"].max())


def test_summary__unknown_biomarker_is_a_validation_error() -> None:
    with pytest.raises(ValueError, match="not a biomarker: 'KRAS'"):
        BiomarkerVariable(name="KRAS")


# -- allele frequencies per population -----------------------------------------------------------
def _variants(nodes: Nodes) -> tuple[VariantRef, ...]:
    """Germline sites of the SE and NL cohorts with several carriers (absent elsewhere or not)."""
    chosen = []
    for node in ("se", "nl"):
        cohort = nodes.synthetic[node].cohort
        carriers = (cohort.germline_genotypes > 0).sum(axis=1)
        sites = cohort.germline_sites
        for i in np.flatnonzero((carriers > 20) & (carriers < 200))[:3]:
            chosen.append(
                VariantRef(
                    chrom=sites.column("chrom")[i].as_py(),
                    pos=sites.column("pos")[i].as_py(),
                    ref=sites.column("ref")[i].as_py(),
                    alt=sites.column("alt")[i].as_py(),
                )
            )
    return tuple(chosen)


def _genotype_oracle(nodes: Nodes, node: str, variant: VariantRef) -> dict[str | None, tuple[int, int]]:
    """(AC, AN) per origin at one node from the synthetic genotype matrix, in plain numpy."""
    synthetic = nodes.synthetic[node]
    cohort = synthetic.cohort
    sites = cohort.germline_sites
    match = np.flatnonzero(
        (np.array(sites.column("chrom").to_pylist()) == variant.chrom.removeprefix("chr"))
        & (sites.column("pos").to_numpy() == variant.pos)
        & (np.array(sites.column("ref").to_pylist()) == variant.ref)
        & (np.array(sites.column("alt").to_pylist()) == variant.alt)
    )
    genotypes = cohort.germline_genotypes[match[0]] if match.size else None
    samples = cohort.samples.to_pylist()
    genotyped = {s["individual"] for s in samples if s["specimen_type"] == "germline"}
    ids = cohort.patients.column("patient_id").to_pylist()
    out: dict[str | None, tuple[int, int]] = {}
    for origin in set(synthetic.origin.values()):
        people = np.array([synthetic.origin[p] == origin and p in genotyped for p in ids])
        ac = int(np.clip(genotypes[people], 0, None).sum()) if genotypes is not None else 0
        out[origin] = (ac, 2 * int(people.sum()))
    return out


def test_allele_frequency__by_population_equals_numpy_on_the_synthetic_genotypes(nodes: Nodes) -> None:
    variants = _variants(nodes)
    analysis = AlleleFrequencyAnalysis(variants=variants, population=PopulationSplit())
    (answer,) = _run(nodes, EXACT, analysis)
    assert answer.complete, answer.missing_reasons()
    combined = answer.combined
    assert isinstance(combined, CombinedPopulationAlleleFrequencies)
    assert combined.attribute == "geographic_origin"
    labels = {"Nordic": "Nordic", "Europe": "Europe", "Asia": "Asia", "Africa": "Africa", None: "unknown"}
    labels[RARE_ORIGIN] = RARE_ORIGIN  # k = 1: every origin is named
    compared = 0
    for variant in variants:
        totals: dict[str, list[int]] = {}
        for node in nodes.stores:
            for origin, (ac, an) in _genotype_oracle(nodes, node, variant).items():
                row = combined.frequency(variant, labels[origin], node)
                assert (row.allele_count.value, row.allele_number.value) == (ac, an), (node, origin)
                assert row.country == node.upper()
                total = totals.setdefault(labels[origin], [0, 0])
                total[0] += ac
                total[1] += an
                compared += 1
        for population, (ac, an) in totals.items():
            row = combined.frequency(variant, population)
            assert (row.allele_count.value, row.allele_number.value) == (ac, an)
            assert row.frequency == pytest.approx(ac / an, rel=1e-12)
    assert compared >= 6 * 3 * 5
    table = answer.table()
    assert {"variant", "population", "node", "country", "ac", "an", "frequency"} <= set(table.columns)


def test_allele_frequency__by_population_withholds_small_cells_and_never_names_a_rare_origin(
    nodes: Nodes,
) -> None:
    variants = _variants(nodes)[:2]
    analysis = AlleleFrequencyAnalysis(variants=variants, population=PopulationSplit())
    (answer,) = _run(nodes, DEFAULT, analysis)
    assert answer.complete, answer.missing_reasons()
    combined = answer.combined
    assert isinstance(combined, CombinedPopulationAlleleFrequencies)
    assert RARE_ORIGIN not in combined.populations
    withheld = 0
    for outcome in answer.outcomes:
        assert outcome.response is not None
        result = outcome.response.result
        assert isinstance(result, PopulationAlleleFrequencyResult)
        assert RARE_ORIGIN not in {p.population for p in result.populations}
        for population in result.populations:
            for count in (*population.allele_count, *population.allele_number):
                withheld += count.value is None
    assert withheld > 0, "the rare origins and small populations must withhold some cell"
    for variant in variants:
        for node in nodes.stores:
            oracle = _genotype_oracle(nodes, node, variant)
            other = [oracle[o] for o in oracle if o == RARE_ORIGIN]
            row = combined.frequency(variant, "other", node)
            assert row.allele_number.contains(sum(an for _, an in other))
            assert row.allele_count.contains(sum(ac for ac, _ in other))
            for origin in ("Nordic", "Europe"):
                ac, an = oracle[origin]
                cell = combined.frequency(variant, origin, node)
                assert cell.allele_number.contains(an)
                assert cell.allele_count.contains(ac)


def test_allele_frequency__listed_populations_are_public_labels_with_other_and_unknown(nodes: Nodes) -> None:
    variants = _variants(nodes)[:1]
    split = PopulationSplit(labels=("Nordic", "Atlantis"))
    (answer,) = _run(nodes, EXACT, AlleleFrequencyAnalysis(variants=variants, population=split))
    combined = answer.combined
    assert isinstance(combined, CombinedPopulationAlleleFrequencies)
    assert combined.populations == ("Nordic", "Atlantis", "other", "unknown")
    for node in nodes.stores:
        oracle = _genotype_oracle(nodes, node, variants[0])
        others = [v for o, v in oracle.items() if o not in ("Nordic", None)]
        row = combined.frequency(variants[0], "other", node)
        assert row.allele_count.value == sum(ac for ac, _ in others)
        assert row.allele_number.value == sum(an for _, an in others)
        assert combined.frequency(variants[0], "Atlantis", node).allele_number.value == 0
    with pytest.raises(ValueError, match="reserved population labels"):
        PopulationSplit(labels=("other",))


def test_allele_frequency__by_ethnicity_puts_members_without_one_in_unknown(nodes: Nodes) -> None:
    variants = _variants(nodes)[:1]
    with nodes.federation(EXACT) as fed:
        _controlled_access(nodes)
        answer = fed.allele_frequency(None, variants, population=PopulationSplit(attribute="ethnicity_id"))
    combined = answer.combined
    assert isinstance(combined, CombinedPopulationAlleleFrequencies)
    assert combined.populations == ("other", "unknown")  # the synthetic cohorts record no ethnicity
    for node in nodes.stores:
        oracle = _genotype_oracle(nodes, node, variants[0])
        row = combined.frequency(variants[0], "unknown", node)
        assert row.allele_count.value == sum(ac for ac, _ in oracle.values())
        assert row.allele_number.value == sum(an for _, an in oracle.values())


# -- design cache --------------------------------------------------------------------------------
def _count_design_queries(nodes: Nodes, seen: dict[str, list[str]]) -> None:
    for node, app in nodes.apps.items():
        context = app.state.node
        original = context.store.execute
        log = seen.setdefault(node, [])

        def execute(sql: str, params: Any = None, _original: Any = original, _log: Any = log) -> pa.Table:
            if "overall_survival_days" in sql:
                _log.append(sql)
            return _original(sql, params)

        context.store.execute = execute


def test_design_cache__later_newton_iterations_do_not_rerun_the_design_query(nodes: Nodes) -> None:
    design_queries: dict[str, list[str]] = {}  # each node's design queries (they name survival days)
    policy = DEFAULT + "# design cache\n"
    study = Study(name="Cox", analyses=(CoxAnalysis(covariates=COVARIATES),))
    with nodes.federation(policy) as fed:
        _count_design_queries(nodes, design_queries)
        first = fed.run(study).answers[0]
        fit = first.combined
        assert fit is not None
        assert fit.kind == "cox"
        assert fit.iterations >= 3
        assert {n: len(q) for n, q in design_queries.items()} == {"se": 1, "nl": 1, "dk": 1}
        fed.run(study)  # same design, same catalog: served from the cache
        assert {n: len(q) for n, q in design_queries.items()} == {"se": 1, "nl": 1, "dk": 1}
        with NodeStore.open(nodes.stores["dk"]) as store:  # a new batch at DK invalidates its cache
            treatment = pa.table({"individual_id": ["DK-cache-test"], "drug": ["placebo"]})
            store.write_stream(iter([("treatments", treatment)]), kind="t", source="test", key="cache")
        again = fed.run(study).answers[0]
    assert again.combined is not None
    assert {n: len(q) for n, q in design_queries.items()} == {"se": 1, "nl": 1, "dk": 2}


# -- differencing guard on statistics --------------------------------------------------------------
def _near_cohort(nodes: Nodes, node: str, drop: int) -> CohortFilter:
    """A cohort of everyone at ``node`` but its ``drop`` youngest (by the stored float32 ages)."""
    with NodeStore.open(nodes.stores[node]) as store:
        ages = store.execute("SELECT age_at_diagnosis FROM individuals ORDER BY 1", []).column(0).to_pylist()
    assert ages[drop] > ages[drop - 1]
    return CohortFilter(age_min=float(np.float32(ages[drop])))


@pytest.mark.parametrize(
    "analysis",
    [
        GlmAnalysis(outcome="deceased", family="binomial", covariates=(AgeCovariate(),)),  # type: ignore[arg-type]
        CoxAnalysis(covariates=(AgeCovariate(),)),
        KaplanMeierAnalysis(grid=GRID),
        SummaryAnalysis(variables=(AGE,)),
    ],
    ids=["glm", "cox", "kaplan_meier", "summary"],
)
def test_statistics__two_cohorts_differing_by_a_few_people_are_refused_by_the_guard(
    nodes: Nodes, analysis: Any
) -> None:
    policy = f"min_cell_count: 5\n# guard test {analysis.kind}\n"
    near = _near_cohort(nodes, "se", 2)
    with nodes.federation(policy) as fed:
        first = fed.ask(AnalysisRequest(study="guard", cohort=near, analysis=analysis))
        assert first.outcome("se").status is OutcomeStatus.ANSWERED, first.missing_reasons()
        second = fed.ask(AnalysisRequest(study="guard", cohort=CohortFilter(), analysis=analysis))
    se = second.outcome("se")
    assert (se.status, se.refusal) == (OutcomeStatus.REFUSED, RefusalKind.DISCLOSURE)
    assert "differencing guard" in (se.reason or "")
    assert se.response is None


def test_statistics__a_count_then_a_fit_over_nearly_the_same_people_is_refused(nodes: Nodes) -> None:
    policy = "min_cell_count: 5\n# guard test count then summary\n"
    near = _near_cohort(nodes, "nl", 3)
    with nodes.federation(policy) as fed:
        count = fed.ask(AnalysisRequest(study="guard", cohort=near, analysis=CountAnalysis()))
        assert count.outcome("nl").answered
        ages = SummaryAnalysis(variables=(AGE,))
        repeat = fed.ask(AnalysisRequest(study="guard", cohort=near, analysis=ages))
        assert repeat.outcome("nl").answered, "the same people again: difference 0"
        summary = fed.ask(AnalysisRequest(study="guard", cohort=CohortFilter(), analysis=ages))
    assert summary.outcome("nl").refusal is RefusalKind.DISCLOSURE


# -- results a researcher can use ----------------------------------------------------------------
def test_results__tables_cli_and_report_show_summaries_and_populations(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    variants = _variants(nodes)[:1]
    study = Study(
        name="Summaries and populations",
        analyses=(
            SummaryAnalysis(variables=(AGE, TMB), by=(SexDimension(),)),
            AlleleFrequencyAnalysis(variants=variants, population=PopulationSplit()),
            CountAnalysis(),
            CrossTabAnalysis(rows=SexDimension(), columns=KRAS_STATUS),
            AlleleFrequencyAnalysis(variants=variants),
        ),
    )
    with nodes.federation(EXACT) as fed:
        _controlled_access(nodes)
        result = fed.run(study)
        direct = fed.summary(None, (AGE, TMB), by=(SexDimension(),))
    assert direct.combined == result.answers[0].combined
    shapes = [answer.table().shape[0] for answer in result.answers]
    assert shapes[0] == 2 * 4  # two variables × four sexes
    assert shapes[2:] == [1, 4 + 1, 1]  # the count; the cross-tab's rows and total; one allele
    crosstab = result.answers[3].combined
    assert isinstance(crosstab, CombinedCrossTab)
    assert result.answers[3].table().loc["female", "carrier"] == crosstab.cell("female", "carrier").display
    summary = result.answers[0].combined
    assert isinstance(summary, CombinedSummary)
    mean_age = summary.row("age_at_diagnosis", "female").mean
    assert mean_age is not None
    html = render_report(result)
    assert f"{mean_age:.2f}" in html
    assert "Nordic" in html
    assert "TMB" in html
    console = Console(record=True, width=200)
    monkeypatch.setattr(study_cli, "console", console)
    for n, answer in enumerate(result.answers, start=1):
        study_cli._print_answer(n, answer)  # what `genofed study run` prints
    text = console.export_text()
    assert "allele frequency by geographic origin" in text
    assert f"{mean_age:.2f}" in text
    assert "Nordic" in text
    assert "unknown" in text
