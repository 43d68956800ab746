"""Patient findings read from a node store: the rules one by one, the Hartwig fixtures, a synthetic cohort.

Oracles: the COLO829 fixture files read here with ``csv`` (purity table, LINX fusions, driver
catalog); the synthetic cohort's own tables (``Cohort.patients``/``Cohort.somatic``); and stores
built row by row from model records, one row per rule.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conftest import fixture_path
from genofed.cds._findings import TMB_HIGH_THRESHOLD, cohort_findings, patient_findings, patient_groups
from genofed.cds._types import Finding, FindingKind
from genofed.errors import QueryError
from genofed.ingest import HartwigClinicalReader, HartwigReader
from genofed.model import (
    Analysis,
    Assembly,
    Biomarker,
    CopyNumber,
    Diagnosis,
    Individual,
    Origin,
    Sex,
    Specimen,
    SpecimenType,
    StructuralVariant,
    VariantCall,
    VariantSite,
    impact_of,
    normalise_protein_change,
    records_to_table,
    variant_id,
)
from genofed.store import NodeStore
from genofed.synth import synthesise, write_hartwig_cohort


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _ingest(store: NodeStore, reader: HartwigReader | HartwigClinicalReader) -> None:
    store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)


def _by_label(findings: Sequence[Finding]) -> dict[str, Finding]:
    return {f.label + (" (germline)" if f.germline else ""): f for f in findings}


@pytest.fixture
def colo829_store(store: NodeStore) -> NodeStore:
    _ingest(store, HartwigReader(fixture_path("hartwig", "colo829")))
    return store


# -- COLO829 (Hartwig OncoAnalyser folder, no somatic VCF) ---------------------------------------------


def test_patient_findings__colo829_drivers_become_findings(colo829_store: NodeStore) -> None:
    found = patient_findings(colo829_store, "tumor_sample")
    catalog = _tsv(
        fixture_path("hartwig", "colo829", "purple", "tumor_sample.purple.driver.catalog.somatic.tsv")
    )
    assert {d.gene for d in found.drivers} >= {r["gene"] for r in catalog}
    findings = _by_label(found.findings)
    # The PTEN deletion has a gene-level copy-number row: one DELETION finding, reported, copy number 0.
    pten = findings["PTEN deletion"]
    assert pten.reported
    assert dict(pten.detail)["copy number"] == "0.0"
    # Without the somatic VCF, catalog MUTATION entries stand as gene-level findings, reported.
    for gene in ("BRAF", "CDKN2A", "TERT"):
        (entry,) = [f for f in found.findings if f.gene == gene and f.kind is FindingKind.SMALL_VARIANT]
        assert entry.reported
        assert entry.protein_change is None
        assert dict(entry.detail)["source"] == "driver catalog"
    # CDKN2A is listed once per transcript in the catalog; once among the drivers.
    assert [d.driver for d in found.drivers if d.gene == "CDKN2A"] == ["MUTATION"]


def test_patient_findings__colo829_signatures_follow_the_purity_table(colo829_store: NodeStore) -> None:
    (fit,) = _tsv(fixture_path("hartwig", "colo829", "purple", "tumor_sample.purple.purity.tsv"))
    (chord,) = _tsv(fixture_path("hartwig", "colo829", "chord", "tumor_sample.chord.prediction.tsv"))
    found = patient_findings(colo829_store, "tumor_sample")
    signatures = {f.signature for f in found.of_kind(FindingKind.SIGNATURE)}
    expected = set()
    if float(fit["tmbPerMb"]) >= TMB_HIGH_THRESHOLD:
        expected.add("TMB_HIGH")
    if fit["msStatus"] == "MSI":
        expected.add("MSI_HIGH")
    if chord["hr_status"].upper() == "HR_DEFICIENT":
        expected.add("HRD")
    assert signatures == expected
    assert "TMB_HIGH" in signatures  # COLO829 is a UV-signature melanoma: 13.7 mutations/Mb
    assert dict(found.biomarkers)["HRD"].endswith("HR_PROFICIENT (CHORD)")


def test_patient_findings__colo829_fusions_are_reported_or_in_frame_pairs(colo829_store: NodeStore) -> None:
    rows = _tsv(fixture_path("hartwig", "colo829", "linx", "tumor_sample.linx.fusion.tsv"))
    expected = {
        (r["geneStart"], r["geneEnd"])
        for r in rows
        if r["geneStart"] != r["geneEnd"]
        and (r["reported"].lower() == "true" or r["phased"] in ("INFRAME", "SKIPPED_EXONS"))
    }
    found = patient_findings(colo829_store, "tumor_sample")
    assert {(f.gene, f.partner_gene) for f in found.of_kind(FindingKind.FUSION)} == expected
    assert expected  # the fixture has in-frame pairs of two genes


def test_patient_findings__source_id_and_pseudonym_agree(colo829_store: NodeStore) -> None:
    by_source = patient_findings(colo829_store, "tumor_sample")
    assert by_source.individual_id == colo829_store.pseudonymise("tumor_sample")
    assert patient_findings(colo829_store, by_source.individual_id) == by_source
    with pytest.raises(QueryError, match="no individual 'nobody' in the store"):
        patient_findings(colo829_store, "nobody")


def test_patient_findings__small_vcf_variant_and_catalog_amplification(store: NodeStore) -> None:
    folder = fixture_path("hartwig", "colo829_small_vcf")
    _ingest(store, HartwigReader(folder))
    found = patient_findings(store, "TUMOR_SAMPLE")
    findings = _by_label(found.findings)
    egfr = findings["EGFR p.T790M"]
    assert egfr.reported
    assert dict(egfr.detail)["VAF"] == "0.05"
    assert findings["MYC amplification"].reported  # catalog AMP without a located copy-number row
    fusions = {
        (r["geneStart"], r["geneEnd"])
        for r in _tsv(folder / "TUMOR_SAMPLE.linx.fusion.tsv")
        if r["reported"].lower() == "true"
    }
    assert fusions <= {(f.gene, f.partner_gene) for f in found.of_kind(FindingKind.FUSION)}


# -- a synthetic Hartwig cohort ------------------------------------------------------------------------


def test_cohort_findings__synthetic_hartwig_cohort_equals_its_tables(tmp_path: Path) -> None:
    cohort = synthesise("NL", 8, seed=1, germline_sites=20)
    manifest = write_hartwig_cohort(cohort, tmp_path / "nl")
    with NodeStore.open(tmp_path / "store", create=True) as node:
        clinical = HartwigClinicalReader(manifest.clinical_tables, manifest.mapping)
        info = clinical.sample_info()
        _ingest(node, clinical)
        for folder in manifest.samples:
            _ingest(node, HartwigReader(folder, sample_info=info))
        calls = _CountingStore(node)
        found = cohort_findings(calls)
        assert calls.queries == 7  # one per table, whatever the cohort's size
        assert found == [patient_findings(node, p.individual_id) for p in found]
        pseudonym = {p["patient_id"]: node.pseudonymise(p["patient_id"]) for p in cohort.patients.to_pylist()}
    assert {p.individual_id: p.tumour_type for p in found} == {
        pseudonym[p["patient_id"]]: p["tumour_type"] for p in cohort.patients.to_pylist()
    }
    expected: dict[str, set[tuple[str, str | None, bool]]] = {p: set() for p in pseudonym.values()}
    for row in cohort.somatic.to_pylist():
        if row["driver"] or impact_of(row["consequence"]) >= 2:  # MODERATE or HIGH
            change = normalise_protein_change(row["hgvs_p"])
            expected[pseudonym[row["patient_id"]]].add(
                (row["gene"], change.removeprefix("p.") if change else None, bool(row["driver"]))
            )
    observed = {
        p.individual_id: {
            (f.gene, f.protein_change, f.reported) for f in p.of_kind(FindingKind.SMALL_VARIANT)
        }
        for p in found
    }
    assert observed == expected


class _CountingStore:
    """A store proxy that counts the SQL statements run."""

    def __init__(self, store: NodeStore) -> None:
        self.store = store
        self.queries = 0

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
        self.queries += 1
        return self.store.execute(sql, parameters)

    def pseudonymise(self, source_id: str) -> str:
        return self.store.pseudonymise(source_id)


# -- the rules, row by row -----------------------------------------------------------------------------


def _write(store: NodeStore, tables: dict[str, list[Any]]) -> None:
    records = {
        "individuals": Individual,
        "analyses": Analysis,
        "diagnoses": Diagnosis,
        "specimens": Specimen,
        "variant_sites": VariantSite,
        "variant_calls": VariantCall,
        "copy_numbers": CopyNumber,
        "structural_variants": StructuralVariant,
        "biomarkers": Biomarker,
    }
    chunks = [(name, records_to_table(records[name], rows)) for name, rows in tables.items()]
    store.write_stream(iter(chunks), kind="test", source="test", key="rules")


def _analyses(*patients: str) -> list[Analysis]:
    return [Analysis(analysis_id=f"{p}:a", individual_id=p, origin=Origin.SOMATIC) for p in patients]


def test_patient_findings__signature_rules(store: NodeStore) -> None:
    def marker(patient: str, name: str, value: float | None, status: str | None) -> Biomarker:
        return Biomarker(
            individual_id=patient, analysis_id=f"{patient}:a", name=name, value=value, status=status
        )

    cases = {
        "tmb-below": (marker("tmb-below", "TMB", 9.99, "LOW"), None),
        "tmb-at": (marker("tmb-at", "TMB", 10.0, None), "TMB_HIGH"),
        "msi-h": (marker("msi-h", "MSI", None, "MSI-H"), "MSI_HIGH"),
        "msi-purple": (marker("msi-purple", "MSI", 12.0, "MSI"), "MSI_HIGH"),
        "msi-high": (marker("msi-high", "MSI", None, "MSI_HIGH"), "MSI_HIGH"),
        "mss": (marker("mss", "MSI", 50.0, "MSS"), None),
        "msi-score-only": (marker("msi-score-only", "MSI", 35.0, None), None),
        "hrd": (marker("hrd", "HRD", 0.9, "HR_DEFICIENT"), "HRD"),
        "hr-proficient": (marker("hr-proficient", "HRD", 0.1, "HR_PROFICIENT"), None),
    }
    _write(store, {"analyses": _analyses(*cases), "biomarkers": [m for m, _ in cases.values()]})
    for patient, (_, expected) in cases.items():
        signatures = [f.signature for f in patient_findings(store, patient).of_kind(FindingKind.SIGNATURE)]
        assert signatures == ([expected] if expected else []), patient


def _site_and_call(
    patient: str,
    start: int,
    gene: str,
    consequence: str,
    *,
    origin: Origin,
    reported: bool = False,
    passed: bool = True,
    protein: str | None = None,
) -> tuple[VariantSite, VariantCall]:
    key = variant_id("GRCh38", "7", start, "A", "T")
    site = VariantSite(
        chrom="7",
        start=start,
        end=start + 1,
        ref="A",
        alt="T",
        variant_id=key,
        assembly=Assembly.GRCH38,
        gene=gene,
        consequence=consequence,
        impact=impact_of(consequence).name,
        protein_change=protein,
        origin=origin,
    )
    call = VariantCall(
        chrom="7",
        start=start,
        end=start + 1,
        ref="A",
        alt="T",
        variant_id=key,
        individual_id=patient,
        analysis_id=f"{patient}:a",
        origin=origin,
        reported=reported,
        filter_pass=passed,
        vaf=0.4,
    )
    return site, call


def test_patient_findings__small_variant_copy_number_and_fusion_rules(store: NodeStore) -> None:
    somatic, germline = Origin.SOMATIC, Origin.GERMLINE
    variants = [
        _site_and_call("p", 100, "KEEP1", "missense_variant", origin=somatic, protein="p.G12C"),
        _site_and_call("p", 200, "DROP1", "synonymous_variant", origin=somatic),
        _site_and_call("p", 300, "KEEP2", "upstream_gene_variant", origin=somatic, reported=True),
        _site_and_call("p", 400, "DROP2", "missense_variant", origin=somatic, passed=False),
        _site_and_call("p", 500, "DROP3", "missense_variant", origin=germline),
        _site_and_call("p", 600, "KEEP3", "stop_gained", origin=germline),
        _site_and_call("p", 700, "KEEP4", "missense_variant", origin=germline, reported=True),
    ]

    def cn(gene: str, event: str, origin: Origin, reported: bool = False) -> CopyNumber:
        return CopyNumber(
            chrom="1",
            start=10,
            end=20,
            individual_id="p",
            analysis_id="p:a",
            gene=gene,
            event=event,
            origin=origin,
            reported=reported,
            copy_number=9.0 if "AMP" in event else 0.0,
        )

    def sv(five: str, three: str, in_frame: bool | None, reported: bool) -> StructuralVariant:
        return StructuralVariant(
            individual_id="p",
            analysis_id="p:a",
            sv_type="FUSION",
            gene_5p=five,
            gene_3p=three,
            in_frame=in_frame,
            reported=reported,
        )

    _write(
        store,
        {
            "analyses": _analyses("p"),
            "diagnoses": [Diagnosis(individual_id="p", tumour_type="LUAD", primary=True)],
            "specimens": [
                Specimen(
                    specimen_id="s", individual_id="p", specimen_type=SpecimenType.TUMOUR, tumour_type="NSCLC"
                )
            ],
            "variant_sites": [s for s, _ in variants],
            "variant_calls": [c for _, c in variants],
            "copy_numbers": [
                cn("ERBB2", "AMP", somatic),
                cn("MET", "PARTIAL_AMP", somatic),
                cn("CDKN2A", "DEL", somatic),
                cn("RB1", "LOSS", somatic),
                cn("PSG", "DEL", germline),
                cn("BRCA2", "DEL", germline, reported=True),
            ],
            "structural_variants": [
                sv("EML4", "ALK", True, False),
                sv("TMPRSS2", "ERG", False, True),
                sv("ABC", "DEF", False, False),
                sv("DMD", "DMD", True, True),
                StructuralVariant(
                    individual_id="p", analysis_id="p:a", sv_type="DEL", gene_5p="X", gene_3p="Y"
                ),
            ],
        },
    )
    found = patient_findings(store, "p")
    assert found.tumour_type == "LUAD"  # the primary diagnosis wins over the specimen
    assert found.tumour_type_from == "diagnoses"
    assert {f.gene for f in found.of_kind(FindingKind.SMALL_VARIANT)} == {"KEEP1", "KEEP2", "KEEP3", "KEEP4"}
    assert _by_label(found.findings)["KEEP1 p.G12C"].protein_change == "G12C"
    assert {(f.gene, f.germline) for f in found.of_kind(FindingKind.AMPLIFICATION)} == {
        ("ERBB2", False),
        ("MET", False),
    }
    assert {(f.gene, f.germline) for f in found.of_kind(FindingKind.DELETION)} == {
        ("CDKN2A", False),
        ("BRCA2", True),
    }
    assert {(f.gene, f.partner_gene) for f in found.of_kind(FindingKind.FUSION)} == {
        ("EML4", "ALK"),
        ("TMPRSS2", "ERG"),
    }


def test_patient_findings__tumour_type_from_specimen_when_no_diagnosis(store: NodeStore) -> None:
    _write(
        store,
        {
            "analyses": _analyses("q"),
            "specimens": [
                Specimen(
                    specimen_id="n", individual_id="q", specimen_type=SpecimenType.NORMAL, tumour_type="BRCA"
                ),
                Specimen(
                    specimen_id="t", individual_id="q", specimen_type=SpecimenType.TUMOUR, tumour_type="SKCM"
                ),
            ],
        },
    )
    found = patient_findings(store, "q")
    assert (found.tumour_type, found.tumour_type_from, found.findings) == ("SKCM", "specimens", ())


def test_patient_groups__sex_stage_metastatic_and_age_band(store: NodeStore) -> None:
    _write(
        store,
        {
            "individuals": [
                Individual(individual_id="a", sex=Sex.FEMALE, age_at_diagnosis=39.9),
                Individual(individual_id="b", sex=Sex.MALE, age_at_diagnosis=64.0),
                Individual(individual_id="c", sex=Sex.MALE, age_at_diagnosis=80.0),
            ],
            "diagnoses": [
                Diagnosis(individual_id="a", stage="IV", metastatic=True, primary=True),
                Diagnosis(individual_id="a", stage="II", primary=False),
                Diagnosis(individual_id="b", stage="III", metastatic=False),
            ],
        },
    )
    ids = {p: store.pseudonymise(p) for p in "abc"}
    assert patient_groups(store, "sex") == {ids["a"]: "female", ids["b"]: "male", ids["c"]: "male"}
    assert patient_groups(store, "age_band") == {ids["a"]: "<40", ids["b"]: "60-69", ids["c"]: "80+"}
    assert patient_groups(store, "stage") == {ids["a"]: "IV", ids["b"]: "III"}
    assert patient_groups(store, "metastatic") == {ids["a"]: "metastatic", ids["b"]: "not metastatic"}
    with pytest.raises(QueryError, match="cannot group patients by 'colour'"):
        patient_groups(store, "colour")
