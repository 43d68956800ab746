"""Panels emulated on genomes, and the WGS-benefit analysis: per-node counts summed equal the pooled cohort.

Oracles: the panel rules one by one on hand-made findings; the packaged GMS560-like list rebuilt from
the IntOGen fixture; statsmodels' Wilson interval; and, for the benefit numbers, a pooled store
holding the union of three synthetic national cohorts, plus a brute-force recount in this file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from conftest import fixture_path
from genofed.cds import KnowledgeBase, import_release, load_cgi, load_civic
from genofed.cds._benefit import (
    BenefitCounts,
    FindingClass,
    benefit_counts,
    benefit_svg,
    benefit_table,
    finding_class,
    render_benefit_html,
    sum_counts,
    wilson_interval,
)
from genofed.cds._findings import PatientFindings, cohort_findings
from genofed.cds._match import match_findings
from genofed.cds._panels import MIN_SIGNATURE_MB, Panel, load_panel
from genofed.cds._types import (
    AmpTier,
    BiomarkerKind,
    Direction,
    EscatLevel,
    Evidence,
    Finding,
    FindingKind,
    Match,
)
from genofed.cli import app
from genofed.errors import ConfigError, FormatError
from genofed.store import NodeStore
from genofed.synth import cohort_chunks

HOTSPOT50 = {
    "ABL1", "AKT1", "ALK", "APC", "ATM", "BRAF", "CDH1", "CDKN2A", "CSF1R", "CTNNB1",
    "EGFR", "ERBB2", "ERBB4", "EZH2", "FBXW7", "FGFR1", "FGFR2", "FGFR3", "FLT3", "GNA11",
    "GNAQ", "GNAS", "HNF1A", "HRAS", "IDH1", "IDH2", "JAK2", "JAK3", "KDR", "KIT",
    "KRAS", "MET", "MLH1", "MPL", "NOTCH1", "NPM1", "NRAS", "PDGFRA", "PIK3CA", "PTEN",
    "PTPN11", "RB1", "RET", "SMAD4", "SMARCB1", "SMO", "SRC", "STK11", "TP53", "VHL",
}  # fmt: skip


def _snv(gene: str, *, germline: bool = False) -> Finding:
    return Finding(kind=FindingKind.SMALL_VARIANT, gene=gene, protein_change="X1Y", germline=germline)


def _sig(name: str) -> Finding:
    return Finding(kind=FindingKind.SIGNATURE, signature=name)


def _fusion(five: str, three: str) -> Finding:
    return Finding(kind=FindingKind.FUSION, gene=five, partner_gene=three)


# -- panel rules, one by one ---------------------------------------------------------------------------


def test_panel_detects__small_variants_and_cnas_in_panel_genes() -> None:
    panel = Panel.from_genes("p", ["BRAF", "ERBB2"])
    assert panel.detects(_snv("BRAF"))
    assert not panel.detects(_snv("NF1"))
    assert panel.detects(Finding(kind=FindingKind.AMPLIFICATION, gene="ERBB2"))
    assert not panel.detects(Finding(kind=FindingKind.DELETION, gene="CDKN2A"))


def test_panel_detects__germline_only_when_declared() -> None:
    somatic_only = Panel.from_genes("p", ["BRCA2"])
    germline = Panel.from_genes("g", ["BRCA2"], germline=True)
    assert not somatic_only.detects(_snv("BRCA2", germline=True))
    assert somatic_only.why(_snv("BRCA2", germline=True))[1] == "germline calling not declared by the panel"
    assert germline.detects(_snv("BRCA2", germline=True))
    assert not germline.detects(_snv("PALB2", germline=True))  # still a panel gene rule


def test_panel_detects__fusions_need_declared_coverage_and_a_partner() -> None:
    no_fusions = Panel.from_genes("p", ["ALK", "EML4"])
    any_gene = Panel.from_genes("f", ["ALK"], fusions=True)
    baited = Panel.from_genes("b", ["ALK", "TMPRSS2"], fusions=True, fusion_genes=frozenset({"ALK"}))
    assert not no_fusions.detects(_fusion("EML4", "ALK"))
    assert any_gene.detects(_fusion("EML4", "ALK"))  # the 3' partner is a panel gene
    assert not any_gene.detects(_fusion("TMPRSS2", "ERG"))
    assert baited.detects(_fusion("EML4", "ALK"))
    assert not baited.detects(_fusion("TMPRSS2", "ERG"))  # TMPRSS2 is a panel gene, not a fusion gene


@pytest.mark.parametrize("signature", ["TMB_HIGH", "MSI_HIGH"])
def test_panel_detects__tmb_and_msi_need_a_declaration_and_a_megabase(signature: str) -> None:
    flag = {"TMB_HIGH": "tmb", "MSI_HIGH": "msi"}[signature]
    big = Panel.from_genes("big", ["TP53"], size_mb=1.9, **{flag: True})
    small = Panel.from_genes("small", ["TP53"], size_mb=MIN_SIGNATURE_MB / 2, **{flag: True})
    silent = Panel.from_genes("silent", ["TP53"], size_mb=5.0)
    unsized = Panel.from_genes("unsized", ["TP53"], **{flag: True})
    assert big.detects(_sig(signature))
    assert not small.detects(_sig(signature))
    assert not silent.detects(_sig(signature))
    assert not unsized.detects(_sig(signature))


def test_panel_detects__hrd_only_when_declared() -> None:
    assert not Panel.from_genes("p", ["BRCA1"], size_mb=50.0, tmb=True, msi=True).detects(_sig("HRD"))
    assert Panel.from_genes("p", ["BRCA1"], hrd=True).detects(_sig("HRD"))


def test_panel_packaged__hotspot50_is_the_ampliseq_v2_gene_list() -> None:
    panel = Panel.packaged("hotspot50")
    assert panel.genes == HOTSPOT50
    assert (panel.fusions, panel.tmb, panel.msi, panel.hrd, panel.germline) == (False,) * 5
    assert not panel.detects(_sig("TMB_HIGH"))


def test_panel_packaged__gms560_is_rebuilt_from_intogen() -> None:
    path = fixture_path("knowledge", "intogen_compendium_cancer_genes.tsv")
    with path.open(newline="") as handle:
        intogen = {row["SYMBOL"] for row in csv.DictReader(handle, delimiter="\t")}
    panel = Panel.packaged("gms560")
    fusion_genes = {"ALK", "ROS1", "RET", "NTRK1", "NTRK2", "NTRK3", "FGFR2", "FGFR3"}
    assert len(intogen) == 568
    assert panel.genes == intogen | HOTSPOT50 | fusion_genes
    assert panel.fusion_genes == fusion_genes
    assert panel.genes >= HOTSPOT50
    assert panel.detects(_sig("TMB_HIGH"))
    assert panel.detects(_sig("MSI_HIGH"))
    assert not panel.detects(_sig("HRD"))


def test_load_panel__names_and_files(tmp_path: Path) -> None:
    genes = tmp_path / "mine.txt"
    genes.write_text("# my panel\nBRAF\nKRAS  # comment\n\n")
    assert load_panel(genes).genes == {"BRAF", "KRAS"}
    bed = tmp_path / "mine.bed"
    # Overlapping intervals merge: 0-600,000 and 500,000-1,200,000 cover 1.2 Mb on chr7.
    bed.write_text("track name=x\n7\t0\t600000\tBRAF_exon15\n7\t500000\t1200000\tBRAF\n12\t0\t100\tKRAS:1\n")
    panel = load_panel(bed)
    assert panel.genes == {"BRAF", "KRAS"}
    assert panel.size_mb == pytest.approx(1.2001)
    with pytest.raises(ConfigError, match="neither a packaged panel"):
        load_panel("hotspot51")


def test_load_panel__bad_files_name_line_and_field(tmp_path: Path) -> None:
    bed = tmp_path / "bad.bed"
    bed.write_text("7\t10\t20\tBRAF\n7\t30\tx\tKRAS\n")
    with pytest.raises(FormatError, match=r"bad\.bed, line 2, field 'start'.*not integers"):
        load_panel(bed)
    three = tmp_path / "three.bed"
    three.write_text("7\t10\t20\n")
    with pytest.raises(FormatError, match=r"line 1, field 'name': a panel BED needs 4 columns"):
        load_panel(three)
    listing = tmp_path / "genes.txt"
    listing.write_text("BRAF\n<bad>\n")
    with pytest.raises(FormatError, match=r"genes\.txt, line 2: '<bad>' is not a gene symbol"):
        load_panel(listing)
    spec = tmp_path / "p.yaml"
    spec.write_text("name: p\ngenes: [BRAF]\ntmb: maybe\n")
    with pytest.raises(FormatError, match=r"field 'tmb': tmb must be true or false"):
        load_panel(spec)


# -- counting, summing, the table ----------------------------------------------------------------------


def _evidence(biomarker: BiomarkerKind, gene: str | None = None) -> Evidence:
    return Evidence(
        source="test",
        release=dt.date(2020, 1, 1),
        evidence_id=f"{biomarker}:{gene}",
        biomarker=biomarker,
        gene=gene,
        therapy="drug",
        direction=Direction.RESPONSIVE,
        source_level="A",
        disease="cancer",
    )


def _match(finding: Finding, tier: AmpTier) -> Match:
    return Match(
        finding=finding,
        evidence=_evidence(BiomarkerKind.GENE_MUTATION, finding.gene),
        on_label=True,
        amp_tier=tier,
        escat=EscatLevel.IA,
        rule="test",
    )


def test_finding_class__germline_first() -> None:
    assert finding_class(_snv("BRCA2", germline=True)) is FindingClass.GERMLINE
    assert (
        finding_class(Finding(kind=FindingKind.DELETION, gene="BRCA2", germline=True))
        is FindingClass.GERMLINE
    )
    assert finding_class(_sig("TMB_HIGH")) is FindingClass.SIGNATURE
    assert finding_class(_fusion("NRG1", "CD74")) is FindingClass.SV_FUSION
    assert finding_class(_snv("NF1")) is FindingClass.OTHER


def test_benefit_counts__hand_made_cohort() -> None:
    panel = Panel.packaged("hotspot50")
    braf, nf1, tmb, nrg1 = _snv("BRAF"), _snv("NF1"), _sig("TMB_HIGH"), _fusion("CD74", "NRG1")
    brca2 = _snv("BRCA2", germline=True)
    patients = [
        PatientFindings("a", "SKCM", (braf, nf1), assays=("WGS",)),  # panel finds BRAF: not WGS-only
        PatientFindings("b", "SKCM", (nf1, tmb), assays=("WGS",)),  # WGS-only: other + signature
        PatientFindings("c", "SKCM", (nrg1,), assays=("WGS",)),  # WGS-only: fusion
        PatientFindings("d", "SKCM", (braf,), assays=("WGS",)),  # tier III only: not actionable
        PatientFindings("e", "LUAD", (brca2,), assays=("WGS",)),  # WGS-only: germline
        PatientFindings("f", "LUAD", (braf,), assays=("PANEL",)),  # not a genome: not counted
        PatientFindings("g", None, (), assays=("WGS",)),  # no tumour type, nothing actionable
    ]
    matches = {
        "a": [_match(braf, AmpTier.IA), _match(nf1, AmpTier.IIC)],
        "b": [_match(nf1, AmpTier.IID), _match(tmb, AmpTier.IA)],
        "c": [_match(nrg1, AmpTier.IIC)],
        "d": [_match(braf, AmpTier.III)],
        "e": [_match(brca2, AmpTier.IB)],
        "f": [_match(braf, AmpTier.IA)],
    }
    counts = {c.tumour_type: c for c in benefit_counts(patients, matches, panel)}
    assert counts["SKCM"] == BenefitCounts(
        "SKCM", None, n=4, wgs_actionable=3, panel_actionable=1, wgs_only=2,
        wgs_only_sv_fusion=1, wgs_only_signature=1, wgs_only_germline=0, wgs_only_other=1,
    )  # fmt: skip
    assert counts["LUAD"] == BenefitCounts("LUAD", None, 1, 1, 0, 1, wgs_only_germline=1)
    assert counts["unknown"].n == 1
    grouped = benefit_counts(patients, matches, panel, groups={"a": "stage IV", "b": "stage IV"})
    assert {(c.tumour_type, c.group): c.n for c in grouped} == {
        ("LUAD", None): 1,
        ("SKCM", None): 2,
        ("SKCM", "stage IV"): 2,
        ("unknown", None): 1,
    }
    table = benefit_table(counts.values(), panel="hotspot50")
    assert [r.label for r in table.rows] == ["LUAD", "SKCM", "unknown"]  # 1/1, then 2/4, then 0/1
    assert table.total is not None
    assert (table.total.counts.n, table.total.counts.wgs_only) == (6, 3)
    assert BenefitCounts.from_dict(json.loads(json.dumps(counts["SKCM"].to_dict()))) == counts["SKCM"]


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 17), (3, 10), (7, 7), (12, 250), (499, 1000)])
def test_wilson_interval__equals_statsmodels(k: int, n: int) -> None:
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-12)


def test_sum_counts__refuses_to_add_other_groups() -> None:
    with pytest.raises(ValueError, match="cannot add counts of group"):
        _ = BenefitCounts("SKCM", None, 1, 1, 1, 0) + BenefitCounts("LUAD", None, 1, 1, 1, 0)


@pytest.fixture(scope="module")
def evidence() -> list[Evidence]:
    knowledge = fixture_path("knowledge")
    civic = load_civic(knowledge / "civic_2018-05_ClinicalEvidenceSummaries.tsv", release=dt.date(2018, 5, 1))
    cgi = load_cgi(knowledge / "cgi_biomarkers_per_variant_2017.tsv", release=dt.date(2017, 7, 1))
    return [*civic.evidence, *cgi.evidence]


_COUNTRIES = ("SE", "NL", "DK")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, NodeStore]:
    """Three national stores and one pooled store holding the union of their cohorts."""
    root = tmp_path_factory.mktemp("benefit")
    out = {}
    pooled = NodeStore.open(root / "pooled", create=True)
    for country in _COUNTRIES:
        node = NodeStore.open(root / country, create=True)
        for target in (node, pooled):
            target.write_stream(
                cohort_chunks(country=country, patients=60, seed=3, variants_per_patient=0),
                kind="synth",
                source=country,
                key=country,
            )
        out[country] = node
    out["pooled"] = pooled
    return out


def _node_counts(store: NodeStore, evidence: list[Evidence], panel: Panel) -> list[BenefitCounts]:
    cohort = cohort_findings(store)
    matches = {p.individual_id: match_findings(p.findings, evidence, p.tumour_type) for p in cohort}
    return benefit_counts(cohort, matches, panel)


@pytest.mark.parametrize("panel_name", ["hotspot50", "gms560"])
def test_benefit_table__summed_node_counts_equal_the_pooled_cohort(
    stores: dict[str, NodeStore], evidence: list[Evidence], panel_name: str
) -> None:
    panel = Panel.packaged(panel_name)
    per_node = [_node_counts(stores[c], evidence, panel) for c in _COUNTRIES]
    pooled_counts = _node_counts(stores["pooled"], evidence, panel)
    assert sum_counts(*per_node) == pooled_counts
    federated = benefit_table([c for node in per_node for c in node], panel=panel_name)
    pooled = benefit_table(pooled_counts, panel=panel_name)
    assert federated == pooled
    assert pooled.total is not None
    assert pooled.total.counts.n == 180
    ranks = [r.incremental_yield for r in pooled.rows]
    assert ranks == sorted(ranks, reverse=True)
    # Brute force on the pooled cohort, written independently of benefit_counts.
    cohort = cohort_findings(stores["pooled"])
    n: Counter[str] = Counter()
    only: Counter[str] = Counter()
    for patient in cohort:
        group = patient.tumour_type or "unknown"
        n[group] += 1
        strong = [
            m.finding
            for m in match_findings(patient.findings, evidence, patient.tumour_type)
            if m.amp_tier.value.startswith(("I-", "II-"))
        ]
        if strong and not any(panel.why(f)[0] for f in strong):
            only[group] += 1
    for row in pooled.rows:
        assert (row.counts.n, row.counts.wgs_only) == (
            n[row.counts.tumour_type],
            only[row.counts.tumour_type],
        )
        assert row.incremental_yield == only[row.counts.tumour_type] / n[row.counts.tumour_type]
    if panel_name == "hotspot50":
        assert pooled.total.counts.wgs_only > 0  # the synthetic drivers reach beyond 50 genes
    # The broad panel contains the small one's genes: it never leaves more to WGS.
    small = benefit_table(_node_counts(stores["pooled"], evidence, Panel.packaged("hotspot50")))
    assert small.total is not None
    assert pooled.total.counts.wgs_only <= small.total.counts.wgs_only


def test_benefit_svg__one_bar_per_group(stores: dict[str, NodeStore], evidence: list[Evidence]) -> None:
    panel = Panel.packaged("hotspot50")
    table = benefit_table(_node_counts(stores["SE"], evidence, panel), panel="hotspot50")
    svg = str(benefit_svg(table))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert len(re.findall(r'<rect [^>]*fill="#1f77b4"', svg)) == len(table.rows)
    page = render_benefit_html(table, panel, releases={"civic": dt.date(2018, 5, 1)})
    assert page.count('<th scope="row">') == len(table.rows) + 1  # the groups and the total
    assert "civic 2018-05-01" in page
    assert table.table()["tumour_type"].tolist() == [r.counts.tumour_type for r in table.rows]


def test_cds_benefit_cli__json_html_tsv(stores: dict[str, NodeStore], tmp_path: Path) -> None:

    folder = fixture_path("knowledge")
    kb = tmp_path / "kb"
    import_release(
        "civic", folder / "civic_2018-05_ClinicalEvidenceSummaries.tsv", dt.date(2018, 5, 1), into=kb
    )
    import_release("cgi", folder / "cgi_biomarkers_per_variant_2017.tsv", dt.date(2017, 7, 1), into=kb)
    runner = CliRunner()
    common = ["cds", "benefit", "--store", str(stores["NL"].root), "--knowledge", str(kb)]
    out = tmp_path / "b.json"
    result = runner.invoke(app, [*common, "--panel", "hotspot50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = benefit_table(
        _node_counts(stores["NL"], list(KnowledgeBase.open(kb).evidence), Panel.packaged("hotspot50")),
        panel="hotspot50",
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(expected.to_dict()))
    page = tmp_path / "b.html"
    assert runner.invoke(app, [*common, "--panel", "gms560", "--out", str(page)]).exit_code == 0
    assert "<svg" in page.read_text()
    genes = tmp_path / "two.txt"
    genes.write_text("BRAF\nKRAS\n")
    tsv = tmp_path / "b.tsv"
    assert runner.invoke(app, [*common, "--panel", str(genes), "--out", str(tsv)]).exit_code == 0
    header = tsv.read_text().splitlines()[0].split("\t")
    assert header[:3] == ["rank", "tumour_type", "group"]
    grouped = tmp_path / "g.json"
    result = runner.invoke(app, [*common, "--panel", "hotspot50", "--group-by", "sex", "--out", str(grouped)])
    assert result.exit_code == 0, result.output
    rows = json.loads(grouped.read_text())["rows"]
    assert {r["group"] for r in rows} == {"female", "male"}
    assert expected.total is not None
    assert sum(r["n"] for r in rows) == expected.total.counts.n
    bad = runner.invoke(app, [*common, "--panel", "hotspot50", "--out", str(tmp_path / "b.pdf")])
    assert bad.exit_code == 1
    assert "give a .html, .json or .tsv file" in bad.output
