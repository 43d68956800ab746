"""The HTML patient report and benefit page in headless Chromium: sections render, BRAF has its row.

Opens the files by ``file://`` URL as a clinician would open a saved report; screenshots go to the
test's tmp dir. Needs Debian's chromium and Playwright (the ``chromium`` fixture skips otherwise).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from conftest import fixture_path
from genofed.cds import load_cgi, load_civic
from genofed.cds._benefit import BenefitCounts, benefit_table, render_benefit_html
from genofed.cds._findings import patient_findings
from genofed.cds._match import match_findings
from genofed.cds._panels import Panel
from genofed.cds._report import PatientReport
from genofed.ingest import HartwigClinicalReader, HartwigReader
from genofed.store import NodeStore
from genofed.synth import synthesise, write_hartwig_cohort

pytestmark = pytest.mark.browser


def _melanoma_report(root: Path) -> PatientReport:
    knowledge = fixture_path("knowledge")
    evidence = [
        *load_civic(
            knowledge / "civic_2018-05_ClinicalEvidenceSummaries.tsv", release=dt.date(2018, 5, 1)
        ).evidence,
        *load_cgi(knowledge / "cgi_biomarkers_per_variant_2017.tsv", release=dt.date(2017, 7, 1)).evidence,
    ]
    cohort = synthesise("NL", 8, seed=1, germline_sites=20)
    tumours = {p["patient_id"]: p["tumour_type"] for p in cohort.patients.to_pylist()}
    (patient, *_) = [
        r["patient_id"]
        for r in cohort.somatic.to_pylist()
        if r["gene"] == "BRAF" and r["hgvs_p"] == "p.Val600Glu" and tumours[r["patient_id"]] == "SKCM"
    ]
    manifest = write_hartwig_cohort(cohort, root / "source")
    with NodeStore.open(root / "store", create=True) as store:
        clinical = HartwigClinicalReader(manifest.clinical_tables, manifest.mapping)
        info = clinical.sample_info()
        store.write_stream(
            clinical.chunks(), kind=clinical.kind, source=clinical.source, key=clinical.batch_key
        )
        folder = manifest.samples[[p["patient_id"] for p in cohort.patients.to_pylist()].index(patient)]
        reader = HartwigReader(folder, sample_info=info)
        store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)
        found = patient_findings(store, patient)
    matches = match_findings(found.findings, evidence, found.tumour_type)
    return PatientReport.build(found, matches, as_of=dt.date(2018, 6, 1))


def test_patient_report_html__renders_tier_sections_in_chromium(chromium: Any, tmp_path: Path) -> None:
    report = _melanoma_report(tmp_path)
    page_file = tmp_path / "report.html"
    page_file.write_text(report.to_html(), encoding="utf-8")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(page_file.as_uri())
        assert page.title().startswith("Genomic findings report")
        assert page.get_by_role("heading", level=1, name="Genomic findings report").is_visible()
        for section in report.sections:
            heading = page.get_by_role("heading", level=2, name=section.title)
            assert heading.is_visible(), section.title
        tier_one = page.locator("#tier-i")
        braf = tier_one.get_by_role("rowheader", name="BRAF p.V600E")
        assert braf.count() == 1
        assert braf.is_visible()
        # The BRAF row group lists its therapies beside it, with a tier badge per evidence line.
        group = tier_one.locator("tbody", has=page.locator("th", has_text="BRAF p.V600E"))
        assert "Trametinib" in group.inner_text()
        assert group.locator(".tier-badge").first.inner_text().startswith("I-")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        # Printed, the navigation is dropped and the sections stay.
        page.emulate_media(media="print")
        assert not page.get_by_role("navigation").is_visible()
        assert tier_one.is_visible()
        page.screenshot(path=str(tmp_path / "report-print.png"), full_page=True)
    finally:
        page.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert (tmp_path / "report-print.png").exists()


def test_benefit_html__chart_renders_in_chromium(chromium: Any, tmp_path: Path) -> None:
    counts = [
        BenefitCounts("SKCM", None, 40, 30, 24, 6, wgs_only_signature=4, wgs_only_other=2),
        BenefitCounts("PAAD", None, 25, 6, 2, 4, wgs_only_germline=3, wgs_only_other=1),
        BenefitCounts("COADREAD", None, 50, 35, 34, 1, wgs_only_signature=1),
    ]
    table = benefit_table(counts, panel="hotspot50")
    page_file = tmp_path / "benefit.html"
    page_file.write_text(render_benefit_html(table, Panel.packaged("hotspot50")), encoding="utf-8")
    page = chromium.new_page(viewport={"width": 1100, "height": 800})
    try:
        page.goto(page_file.as_uri())
        chart = page.get_by_role("img", name="Incremental yield of WGS over the panel by group")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None
        assert box["width"] > 400
        rows = page.get_by_role("rowheader")
        assert rows.all_inner_texts() == ["PAAD", "SKCM", "COADREAD", "all"]  # 16%, 15%, 2%
        page.screenshot(path=str(tmp_path / "benefit.png"), full_page=True)
    finally:
        page.close()
    assert (tmp_path / "benefit.png").stat().st_size > 5_000
