"""Federated Kaplan–Meier, log-rank, Cox and GLM end to end: study → nodes (in process) → coordinator.

Three nodes over synthetic SE, NL and DK cohorts answer through ``httpx.ASGITransport``. (The
scaffolding -- :class:`Nodes` and the ``nodes`` fixture -- is shared with
``tests/test_federation_summaries.py``: each cohort also gets a birth region per patient, read through
the clinical mapping as ``geographic_origin``, and a batch of TMB and purity biomarkers.) The oracle
is the pooled individuals, read from the stores' tables with plain SQL in this file, and fitted with
lifelines (Kaplan–Meier, log-rank) and statsmodels (Cox stratified by node, GLM). Where disclosure
control has no effect (nodes with ``min_cell_count: 1``) the federated numbers must equal the oracle
to 1e-6; under the default policy no count of 1..4 may leave a node, and the reported survival
bounds must contain the oracle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from rich.console import Console
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.genmod.families import Binomial, Gaussian, Poisson
from statsmodels.genmod.generalized_linear_model import GLM

from genofed.api import (
    AgeCovariate,
    CoxAnalysis,
    DisclosureRequest,
    GeneStatusCovariate,
    GeneStatusDimension,
    GlmAnalysis,
    KaplanMeierAnalysis,
    KaplanMeierCounts,
    SexCovariate,
    Study,
)
from genofed.cli._study_stats import statistics_tables
from genofed.federation import (
    CombinedKaplanMeier,
    CombinedModelFit,
    Federation,
    OutcomeStatus,
    RefusalKind,
    Registry,
    render_report,
)
from genofed.ingest import ClinicalReader, SampleSheet, VcfReader
from genofed.node import NodeSettings, create_app
from genofed.store import NodeStore
from genofed.synth import Cohort, Country, synthesise, write_cohort

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

NODES = ("se", "nl", "dk")
PATIENTS = 400
GRID = tuple(float(t) for t in range(0, 3700, 365))
KRAS = GeneStatusCovariate(gene="KRAS")
COVARIATES = (KRAS, AgeCovariate(), SexCovariate())

ORACLE_SQL = """
SELECT i.individual_id, i.sex, i.age_at_diagnosis, i.vital_status, i.overall_survival_days,
       i.individual_id IN (
           SELECT c.individual_id FROM variant_calls c
           JOIN variant_sites s ON c.chrom = s.chrom AND c.start = s.start AND c.variant_id = s.variant_id
           WHERE s.gene = 'KRAS') AS kras
FROM individuals i
"""


#: Birth regions drawn for the synthetic patients (None: not recorded), and their weights.
ORIGINS = ("Nordic", "Europe", "Asia", "Africa", None)
ORIGIN_WEIGHTS = (0.6, 0.22, 0.1, 0.05, 0.03)
#: A region given to exactly two patients per node: a node must never name it unasked.
RARE_ORIGIN = "Oceania"


@dataclass
class Synthetic:
    """What a node's store was built from: the cohort, each patient's origin and biomarkers."""

    cohort: Cohort
    origin: dict[str, str | None]
    tmb: dict[str, float]  # patients without a TMB are absent
    purity: dict[str, float]


@dataclass
class Nodes:
    stores: dict[str, Path]
    work: Path
    synthetic: dict[str, Synthetic] = field(default_factory=dict)
    apps: dict[str, Any] = field(default_factory=dict)  # the node apps of the last federation() call

    def federation(self, policy: str, *, strict: dict[str, str] | None = None) -> Federation:
        apps = {}
        for node, store in self.stores.items():
            text = (strict or {}).get(node, policy)
            path = self.work / f"{node}-{abs(hash(text))}.yaml"
            path.write_text(text)
            settings = NodeSettings.from_mapping(
                {
                    "node_id": node,
                    "country": node.upper(),
                    "data_dir": str(store),
                    "state_dir": str(self.work / f"{node}-{abs(hash(text))}-state"),
                    "policy": str(path),
                    "anonymous_access": True,
                },
                base=self.work,
            )
            apps[node] = create_app(settings)
        self.apps = apps
        registry = Registry.from_data(
            {"nodes": [{"id": n, "url": f"http://{n}.asgi", "country": n.upper()} for n in NODES]}
        )
        transports = {n: httpx.ASGITransport(app=a) for n, a in apps.items()}
        return Federation(registry, transport=transports)

    def pooled(self) -> pd.DataFrame:
        frames = []
        for node, path in self.stores.items():
            with NodeStore.open(path) as store:
                frame = store.execute(ORACLE_SQL, []).to_pandas()
            frame["node"] = node
            frames.append(frame)
        data = pd.concat(frames, ignore_index=True)
        data = data[data["overall_survival_days"].notna()].copy()
        data["time"] = data["overall_survival_days"].astype(float)
        data["event"] = (data["vital_status"] == "deceased").astype(float)
        data["kras"] = data["kras"].astype(float)
        data["female"] = (data["sex"] == "female").astype(float)
        return data


def _with_origin(cohort: Cohort, manifest_patients: Path, mapping: Path, seed: int) -> dict[str, str | None]:
    """Add a birth-region column to the clinical patients table, mapped to ``geographic_origin``."""
    rng = np.random.default_rng(seed)
    ids = cohort.patients.column("patient_id").to_pylist()
    drawn = rng.choice(len(ORIGINS), size=len(ids), p=ORIGIN_WEIGHTS)
    origin: dict[str, str | None] = {pid: ORIGINS[i] for pid, i in zip(ids, drawn, strict=True)}
    for pid in ids[:2]:
        origin[pid] = RARE_ORIGIN
    spec = yaml.safe_load(mapping.read_text())
    id_column = spec["files"]["patients"]["id_column"]
    spec["files"]["patients"]["individuals"]["geographic_origin"] = {"column": "origin"}
    mapping.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    lines = manifest_patients.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    at = header.index(id_column)
    out = ["\t".join([*header, "origin"])]
    out += [f"{line}\t{origin[line.split(chr(9))[at]] or ''}" for line in lines[1:]]
    manifest_patients.write_text("\n".join(out) + "\n", encoding="utf-8")
    return origin


def _biomarkers(cohort: Cohort, seed: int) -> tuple[pa.Table, dict[str, float], dict[str, float]]:
    """TMB for about nine in ten patients (log-normal), purity for all: a ``biomarkers`` batch."""
    rng = np.random.default_rng(seed + 1000)
    ids = cohort.patients.column("patient_id").to_pylist()
    purity = dict(zip(ids, cohort.patients.column("purity").to_pylist(), strict=True))
    tmb = {pid: float(np.round(rng.lognormal(1.5, 0.8), 3)) for pid in ids if rng.random() < 0.9}
    rows = [(pid, "TMB", value) for pid, value in tmb.items()] + [(p, "PURITY", v) for p, v in purity.items()]
    table = pa.table(
        {
            "individual_id": [r[0] for r in rows],
            "analysis_id": [f"{r[0]}-wgs" for r in rows],
            "name": [r[1] for r in rows],
            "value": [float(r[2]) for r in rows],
        }
    )
    return table, tmb, purity


def _build(country: Country, seed: int, directory: Path) -> tuple[Path, Synthetic]:
    cohort = synthesise(country, PATIENTS, seed)
    manifest = write_cohort(cohort, directory / "sources")
    origin = _with_origin(cohort, manifest.patients, manifest.mapping, seed)
    biomarkers, tmb, purity = _biomarkers(cohort, seed)
    readers = [
        VcfReader(manifest.somatic_vcf, samples=SampleSheet.read(manifest.somatic_samples)),
        VcfReader(manifest.germline_vcf, samples=SampleSheet.read(manifest.germline_samples)),
        ClinicalReader(manifest.clinical_tables, manifest.mapping),
    ]
    with NodeStore.open(directory / "store", create=True) as store:
        for reader in readers:
            store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
        store.write_stream(iter([("biomarkers", biomarkers)]), kind="biomarkers", source="test", key="bm")
    return directory / "store", Synthetic(cohort=cohort, origin=origin, tmb=tmb, purity=purity)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    work = tmp_path_factory.mktemp("stats")
    built = {
        c.value.lower(): _build(c, seed + 11, work / c.value.lower())
        for seed, c in enumerate((Country.SE, Country.NL, Country.DK))
    }
    return Nodes(
        stores={n: store for n, (store, _) in built.items()},
        work=work,
        synthetic={n: synthetic for n, (_, synthetic) in built.items()},
    )


EXACT = "min_cell_count: 1\ndifferencing: {enabled: false}\n"
DEFAULT = "differencing: {enabled: false}\n"


def _grouped(data: pd.DataFrame) -> pd.DataFrame:
    """Event times rounded up to the grid, as the federated Kaplan–Meier of grouped data defines them."""
    grid = np.asarray(GRID)
    out = data[data["time"] <= grid[-1]].copy()
    index = np.searchsorted(grid, out["time"].to_numpy(), side="left")
    out.loc[out["event"] == 1, "time"] = grid[index][out["event"].to_numpy() == 1]
    censored_after = data[data["time"] > grid[-1]].copy()
    censored_after["event"] = 0.0  # events after the last grid point are not counted
    return pd.concat([out, censored_after])


def _km_study(min_at_risk: int = 1) -> Study:
    return Study(
        name="OS by KRAS",
        analyses=(
            KaplanMeierAnalysis(group=GeneStatusDimension(gene="KRAS"), grid=GRID, min_at_risk=min_at_risk),
        ),
    )


def test_kaplan_meier__curves_and_logrank_equal_lifelines_on_the_pooled_data(nodes: Nodes) -> None:
    with nodes.federation(EXACT) as fed:
        answer = fed.run(_km_study()).answers[0]
    assert answer.complete, answer.missing_reasons()
    km = answer.combined
    assert isinstance(km, CombinedKaplanMeier)
    data = _grouped(nodes.pooled())
    compared = 0
    for label, flag in (("carrier", 1.0), ("non-carrier", 0.0)):
        part = data[data["kras"] == flag]
        fitter = KaplanMeierFitter().fit(part["time"], part["event"])
        for point in km.curve(label).points:
            if point.survival is None:
                continue
            expected = float(fitter.survival_function_at_times(point.time).iloc[0])
            assert point.survival == pytest.approx(expected, abs=1e-6)
            assert point.at_risk == int((part["time"] >= point.time).sum())
            compared += 1
    assert compared >= 10
    carriers, others = data[data["kras"] == 1.0], data[data["kras"] == 0.0]
    oracle = logrank_test(carriers["time"], others["time"], carriers["event"], others["event"])
    assert km.logrank_statistic == pytest.approx(oracle.test_statistic, abs=1e-6)
    assert km.logrank_p_value == pytest.approx(oracle.p_value, abs=1e-6)
    assert km.table().shape[0] == 2 * len(GRID)


def test_kaplan_meier__no_count_of_1_to_4_leaves_a_node_and_bounds_hold(nodes: Nodes) -> None:
    with nodes.federation(DEFAULT) as fed:
        answer = fed.run(_km_study(min_at_risk=10)).answers[0]
    assert answer.complete, answer.missing_reasons()
    small = 0
    for outcome in answer.outcomes:
        assert outcome.response is not None
        result = outcome.response.result
        assert isinstance(result, KaplanMeierCounts)
        for group in result.groups:
            for count in (*group.events, *group.at_risk, *group.censored, result.left_out):
                assert count.value is None or count.value == 0 or count.value >= 5, count
                small += count.value is None
    assert small > 0, "the grid must produce small cells at some node"
    km = answer.combined
    assert isinstance(km, CombinedKaplanMeier)
    data = _grouped(nodes.pooled())
    bounded = 0
    for label, flag in (("carrier", 1.0), ("non-carrier", 0.0)):
        part = data[data["kras"] == flag]
        fitter = KaplanMeierFitter().fit(part["time"], part["event"])
        for point in km.curve(label).points:
            if point.lower_bound is None or point.upper_bound is None:
                continue
            truth = float(fitter.survival_function_at_times(point.time).iloc[0])
            assert point.lower_bound - 1e-9 <= truth <= point.upper_bound + 1e-9
            bounded += point.survival is None
            if point.at_risk is not None:
                assert point.at_risk >= 10
    assert bounded > 0


def _pooled_cox_data(nodes: Nodes, keep: tuple[str, ...] = NODES) -> pd.DataFrame:
    data = nodes.pooled()
    data = data[
        data["node"].isin(keep) & data["age_at_diagnosis"].notna() & data["sex"].isin(["female", "male"])
    ]
    return data


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox__hazard_ratios_and_standard_errors_equal_statsmodels_stratified_by_node(
    nodes: Nodes, ties: str
) -> None:
    study = Study(name="Cox", analyses=(CoxAnalysis(covariates=COVARIATES, ties=ties),))  # type: ignore[arg-type]
    with nodes.federation(DEFAULT) as fed:
        answer = fed.run(study).answers[0]
    assert answer.complete, answer.missing_reasons()
    fit = answer.combined
    assert isinstance(fit, CombinedModelFit)
    assert fit.converged
    data = _pooled_cox_data(nodes)
    x = data[["kras", "age_at_diagnosis", "female"]].to_numpy(dtype=float)
    oracle = PHReg(
        data["time"].to_numpy(), x, status=data["event"].to_numpy(), strata=data["node"].to_numpy(), ties=ties
    ).fit()
    assert [c.estimate for c in fit.coefficients] == pytest.approx(list(oracle.params), abs=1e-6)
    assert [c.standard_error for c in fit.coefficients] == pytest.approx(list(oracle.bse), abs=1e-6)
    assert fit.coefficient(KRAS.name).hazard_ratio == pytest.approx(np.exp(oracle.params[0]), rel=1e-6)
    assert fit.n == len(data)
    assert fit.table().loc[KRAS.name, "estimate"] == pytest.approx(oracle.params[0], abs=1e-6)


def test_glm__logistic_and_gaussian_coefficients_equal_statsmodels(nodes: Nodes) -> None:
    study = Study(
        name="GLM",
        analyses=(
            GlmAnalysis(outcome="deceased", family="binomial", covariates=COVARIATES),  # type: ignore[arg-type]
            GlmAnalysis(outcome="overall_survival_days", family="gaussian", covariates=COVARIATES),  # type: ignore[arg-type]
        ),
    )
    with nodes.federation(DEFAULT) as fed:
        result = fed.run(study)
    base = nodes.pooled()
    base = base[base["age_at_diagnosis"].notna() & base["sex"].isin(["female", "male"])]
    for answer, family, outcome in zip(
        result.answers, (Binomial(), Gaussian()), ("deceased", "time"), strict=True
    ):
        assert answer.complete, answer.missing_reasons()
        fit = answer.combined
        assert isinstance(fit, CombinedModelFit)
        data = base[base["vital_status"].isin(["alive", "deceased"])] if outcome == "deceased" else base
        y = (data["vital_status"] == "deceased").astype(float) if outcome == "deceased" else data["time"]
        x = np.column_stack(
            [np.ones(len(data)), data[["kras", "age_at_diagnosis", "female"]].to_numpy(dtype=float)]
        )
        oracle = GLM(y.to_numpy(), x, family=family).fit()
        assert [c.estimate for c in fit.coefficients] == pytest.approx(
            list(oracle.params), rel=1e-6, abs=1e-6
        )
        assert [c.standard_error for c in fit.coefficients] == pytest.approx(
            list(oracle.bse), rel=1e-6, abs=1e-6
        )
        assert fit.n == len(data)


def test_glm__poisson_rate_model_with_log_follow_up_offset_equals_statsmodels(nodes: Nodes) -> None:
    analysis = GlmAnalysis(
        outcome="deceased",  # type: ignore[arg-type]
        family="poisson",  # type: ignore[arg-type]
        covariates=COVARIATES,
        offset="log_follow_up_years",  # type: ignore[arg-type]
    )
    with nodes.federation(DEFAULT) as fed:
        answer = fed.run(Study(name="death rates", analyses=(analysis,))).answers[0]
    assert answer.complete, answer.missing_reasons()
    fit = answer.combined
    assert isinstance(fit, CombinedModelFit)
    data = nodes.pooled()
    data = data[
        data["age_at_diagnosis"].notna()
        & data["sex"].isin(["female", "male"])
        & data["vital_status"].isin(["alive", "deceased"])
        & (data["time"] > 0)
    ]
    x = np.column_stack(
        [np.ones(len(data)), data[["kras", "age_at_diagnosis", "female"]].to_numpy(dtype=float)]
    )
    oracle = GLM(
        data["event"].to_numpy(), x, family=Poisson(), offset=np.log(data["time"].to_numpy() / 365.25)
    ).fit()
    assert [c.estimate for c in fit.coefficients] == pytest.approx(list(oracle.params), rel=1e-6, abs=1e-6)
    assert [c.standard_error for c in fit.coefficients] == pytest.approx(list(oracle.bse), rel=1e-6, abs=1e-6)
    assert fit.n == len(data)


def test_glm__offset_only_with_poisson() -> None:
    with pytest.raises(ValueError, match="an offset goes with family poisson"):
        GlmAnalysis(outcome="deceased", family="binomial", offset="log_follow_up_years")  # type: ignore[arg-type]


def test_cox__a_refusing_node_is_named_and_the_fit_uses_the_others(nodes: Nodes) -> None:
    strict = {"dk": "differencing: {enabled: false}\nstatistics: {min_rows: 100000}\n"}
    study = Study(name="Cox", analyses=(CoxAnalysis(covariates=COVARIATES),))
    with nodes.federation(DEFAULT, strict=strict) as fed:
        answer = fed.run(study).answers[0]
    assert answer.missing == ("dk",)
    dk = answer.outcome("dk")
    assert (dk.status, dk.refusal, dk.http_status) == (OutcomeStatus.REFUSED, RefusalKind.DISCLOSURE, 403)
    assert dk.response is None
    assert "rows" in (dk.reason or "")
    fit = answer.combined
    assert isinstance(fit, CombinedModelFit)
    assert fit.nodes == ("se", "nl")
    assert fit.excluded == ("dk",)
    assert any("excludes dk" in e for e in answer.disclosure_effects)
    data = _pooled_cox_data(nodes, ("se", "nl"))
    x = data[["kras", "age_at_diagnosis", "female"]].to_numpy(dtype=float)
    oracle = PHReg(
        data["time"].to_numpy(),
        x,
        status=data["event"].to_numpy(),
        strata=data["node"].to_numpy(),
        ties="efron",
    ).fit()
    assert [c.estimate for c in fit.coefficients] == pytest.approx(list(oracle.params), abs=1e-6)


def test_glm__every_node_refusing_gives_no_fit_and_no_matrix(nodes: Nodes) -> None:
    study = Study(
        name="GLM",
        analyses=(GlmAnalysis(outcome="deceased", family="binomial", covariates=(KRAS,)),),  # type: ignore[arg-type]
        disclosure=DisclosureRequest(min_cell_count=10_000),
    )
    with nodes.federation(DEFAULT) as fed:
        answer = fed.run(study).answers[0]
    assert answer.combined is None
    assert answer.missing == NODES
    for outcome in answer.outcomes:
        assert outcome.refusal is RefusalKind.DISCLOSURE
        assert outcome.response is None


def test_render_report__draws_km_curves_and_a_forest_plot_with_the_cox_table(nodes: Nodes) -> None:
    study = Study(
        name="Overall survival by KRAS status",
        analyses=(
            KaplanMeierAnalysis(group=GeneStatusDimension(gene="KRAS"), grid=GRID),
            CoxAnalysis(covariates=COVARIATES),
        ),
    )
    with nodes.federation(EXACT) as fed:
        result = fed.run(study)
    html = render_report(result)
    figures = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(figures) == 2
    for svg in figures:
        ElementTree.fromstring(svg)  # well-formed, drawn inline (no scripts, no network)
    assert "<script" not in html
    assert 'aria-label="Kaplan–Meier curves"' in figures[0]
    assert figures[0].count("<path") == 2, "one curve per KRAS group"
    fit = result.answers[1].combined
    assert isinstance(fit, CombinedModelFit)
    hr = fit.coefficient(KRAS.name).hazard_ratio
    assert hr is not None
    assert f"{hr:.3f}" in html
    console = Console(record=True, width=200)
    for n, answer in enumerate(result.answers, start=1):
        for table in statistics_tables(n, answer):
            console.print(table)
    text = console.export_text()
    assert "log-rank test" in text
    assert "KRAS carrier" in text
    assert f"{hr:.3f}" in text
