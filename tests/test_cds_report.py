"""The patient report: end to end from Hartwig-format genomes to tiers, and its JSON and HTML forms.

Oracles: the synthetic cohort's own tables (which patient carries BRAF p.V600E, in which tumour), the
COLO829 driver catalog read with ``csv``, the fixture knowledge bases (CIViC 2018-05 and CGI), and
an HTML parser for the page's structure.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import fixture_path
from genofed.cds import import_release, load_cgi, load_civic
from genofed.cds._findings import PatientFindings, patient_findings
from genofed.cds._match import match_findings
from genofed.cds._report import PatientReport, kb_releases
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
from genofed.ingest import HartwigClinicalReader, HartwigReader
from genofed.store import NodeStore
from genofed.synth import synthesise, write_hartwig_cohort

CIVIC_RELEASE = dt.date(2018, 5, 1)
CGI_RELEASE = dt.date(2017, 7, 1)
BRAF_INHIBITORS = ("vemurafenib", "dabrafenib", "encorafenib")
MEK_INHIBITORS = ("trametinib", "cobimetinib", "binimetinib")


@pytest.fixture(scope="module")
def evidence() -> list[Evidence]:
    knowledge = fixture_path("knowledge")
    civic = load_civic(knowledge / "civic_2018-05_ClinicalEvidenceSummaries.tsv", release=CIVIC_RELEASE)
    cgi = load_cgi(knowledge / "cgi_biomarkers_per_variant_2017.tsv", release=CGI_RELEASE)
    return [*civic.evidence, *cgi.evidence]


def _ingest(store: NodeStore, reader: HartwigReader | HartwigClinicalReader) -> None:
    store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)


@pytest.fixture(scope="module")
def melanoma(tmp_path_factory: pytest.TempPathFactory) -> tuple[NodeStore, str]:
    """A synthetic NL cohort in Hartwig format, read back, and its melanoma patient with BRAF p.V600E."""
    root = tmp_path_factory.mktemp("nl")
    # Seed 1 of an 8-patient NL cohort has such a patient (the assertion below says so if it changes).
    cohort = synthesise("NL", 8, seed=1, germline_sites=20)
    tumours = {p["patient_id"]: p["tumour_type"] for p in cohort.patients.to_pylist()}
    carriers = [
        r["patient_id"]
        for r in cohort.somatic.to_pylist()
        if r["gene"] == "BRAF" and r["hgvs_p"] == "p.Val600Glu" and tumours[r["patient_id"]] == "SKCM"
    ]
    assert carriers, "the synthetic cohort no longer has a melanoma with BRAF p.V600E: choose another seed"
    manifest = write_hartwig_cohort(cohort, root / "source")
    store = NodeStore.open(root / "store", create=True)
    clinical = HartwigClinicalReader(manifest.clinical_tables, manifest.mapping)
    info = clinical.sample_info()
    _ingest(store, clinical)
    for folder in manifest.samples:
        _ingest(store, HartwigReader(folder, sample_info=info))
    return store, carriers[0]


def _report(store: NodeStore, patient: str, evidence: list[Evidence], **kwargs: object) -> PatientReport:
    found = patient_findings(store, patient)
    code = kwargs.pop("tumour_type", None) or found.tumour_type
    assert code is None or isinstance(code, str)
    matches = match_findings(found.findings, evidence, code)
    return PatientReport.build(found, matches, tumour_type=code, **kwargs)  # type: ignore[arg-type]


def test_patient_report__melanoma_braf_v600e_gets_braf_and_mek_inhibitors_as_tier_i(
    melanoma: tuple[NodeStore, str], evidence: list[Evidence]
) -> None:
    store, patient = melanoma
    report = _report(store, patient, evidence, as_of=dt.date(2018, 6, 1))
    assert report.tumour_type == "SKCM"
    assert report.tumour_type_name == "Cutaneous Melanoma"
    (braf,) = [f for f in report.section("I").findings if f.finding.gene == "BRAF"]
    assert braf.label == "BRAF p.V600E"
    assert braf.tier == "I"
    tier_one = [line for line in braf.evidence if line.amp_tier.startswith("I-")]
    therapies = " ".join(line.therapy.lower() for line in tier_one if line.direction == "RESPONSIVE")
    assert any(drug in therapies for drug in BRAF_INHIBITORS)
    assert any(drug in therapies for drug in MEK_INHIBITORS)
    assert all(line.on_label for line in tier_one)
    assert {s for s, _ in report.knowledge_bases} == {"civic", "cgi"}
    # The same numbers in the JSON form.
    data = json.loads(report.to_json())
    (section,) = [s for s in data["sections"] if s["tier"] == "I"]
    (braf_json,) = [f for f in section["findings"] if f["gene"] == "BRAF"]
    assert braf_json["protein_change"] == "V600E"
    assert braf.best is not None
    assert braf_json["best_level"] == braf.best.value
    assert len(braf_json["evidence"]) == len(braf.evidence)


def test_patient_report__as_of_leaves_out_later_evidence(
    melanoma: tuple[NodeStore, str], evidence: list[Evidence]
) -> None:
    store, patient = melanoma
    full = _report(store, patient, evidence)
    # Between the CGI (2017-07) and CIViC (2018-05) releases: only CGI evidence remains.
    past = _report(store, patient, evidence, as_of=dt.date(2018, 1, 1))
    lines = [line for s in past.sections for f in s.findings for line in f.evidence]
    assert lines
    assert {line.source for line in lines} == {"cgi"}
    all_lines = [line for s in full.sections for f in s.findings for line in f.evidence]
    assert past.left_out == sum(1 for line in all_lines if line.release > dt.date(2018, 1, 1))
    assert past.knowledge_bases == (("cgi", CGI_RELEASE),)
    assert "released after 2018-01-01 left out" in past.to_html()


def test_patient_report__colorectal_with_the_same_variant_is_off_label_for_melanoma_evidence(
    melanoma: tuple[NodeStore, str], evidence: list[Evidence]
) -> None:
    store, patient = melanoma
    report = _report(store, patient, evidence, tumour_type="COADREAD")
    assert report.tumour_type == "COADREAD"
    braf = [f for s in report.sections for f in s.findings if f.label == "BRAF p.V600E"]
    (item,) = braf
    melanoma_only = [
        line
        for line in item.evidence
        if line.tumour_types and set(line.tumour_types) <= {"SKCM", "MEL", "UM"}
    ]
    assert melanoma_only
    assert not any(line.on_label for line in melanoma_only)
    # AMP/ASCO/CAP: tier I needs evidence in the patient's tumour type; off-label evidence is tier II at best.
    assert all(not line.amp_tier.startswith("I-") for line in item.evidence if not line.on_label)


def test_patient_report__colo829_lists_its_drivers(store: NodeStore, evidence: list[Evidence]) -> None:
    folder = fixture_path("hartwig", "colo829")
    _ingest(store, HartwigReader(folder))
    with (folder / "purple" / "tumor_sample.purple.driver.catalog.somatic.tsv").open(newline="") as handle:
        catalog = {
            (r["gene"], r["driver"], r["likelihoodMethod"]) for r in csv.DictReader(handle, delimiter="\t")
        }
    assert {("BRAF", "MUTATION", "HOTSPOT"), ("PTEN", "DEL", "DEL")} <= catalog
    # COLO829 is a cutaneous melanoma cell line; the folder has no clinical data, so the type is given.
    report = _report(store, "tumor_sample", evidence, tumour_type="SKCM")
    assert {(d.gene, d.driver, d.likelihood_method) for d in report.drivers} >= catalog
    shown = {f.label: f for s in report.sections for f in s.findings}
    for label in ("BRAF mutation", "CDKN2A mutation", "PTEN deletion"):
        assert label in shown, label
        assert shown[label].finding.reported
    # Whatever evidence matches a driver is shown with it, and its tier puts it in a section.
    for item in shown.values():
        assert item.tier == (item.best.tier if item.best else "none")
    page = report.to_html()
    for label in ("BRAF mutation", "CDKN2A mutation", "PTEN deletion", "HOTSPOT"):
        assert label in page
    data = json.loads(report.to_json())
    assert {d["gene"] for d in data["drivers"]} >= {"BRAF", "CDKN2A", "PTEN"}


# -- the forms, on a hand-made report ------------------------------------------------------------------


def _hand_made() -> PatientReport:
    braf = Finding(kind=FindingKind.SMALL_VARIANT, gene="BRAF", protein_change="V600E", reported=True)
    odd = Finding(kind=FindingKind.AMPLIFICATION, gene="<script>alert(1)</script>")
    item = Evidence(
        source="civic",
        release=CIVIC_RELEASE,
        evidence_id="EID1",
        biomarker=BiomarkerKind.PROTEIN_CHANGE,
        gene="BRAF",
        therapy="Dabrafenib + Trametinib",
        direction=Direction.RESPONSIVE,
        source_level="A",
        disease="Melanoma",
        protein_change="V600E",
        tumour_types=("MEL",),
    )
    match = Match(braf, item, True, AmpTier.IA, EscatLevel.IA, "CIViC level A, on-label -> I-A")
    patient = PatientFindings("pseudo", "SKCM", (braf, odd), assays=("WGS",))
    return PatientReport.build(patient, [match], releases={"civic": "2018-05-01"}, as_of=dt.date(2018, 6, 1))


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2"):
            self._in_heading = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2"):
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings[-1] += data


def test_patient_report__html_is_accessible_and_escaped() -> None:
    report = _hand_made()
    page = report.to_html()
    parsed = _Structure()
    parsed.feed(page)
    tags = [t for t, _ in parsed.tags]
    assert tags.count("h1") == 1
    assert "script" not in tags  # the odd gene name is text, not markup
    assert "&lt;script&gt;" in page
    assert parsed.headings[0] == "Genomic findings report"
    for section in report.sections:
        assert section.title in parsed.headings
    headers = [attrs for tag, attrs in parsed.tags if tag == "th"]
    assert headers
    assert all(attrs.get("scope") in ("col", "row", "rowgroup") for attrs in headers)
    assert ("html", {"lang": "en"}) in parsed.tags
    assert "@media print" in page
    assert not any(tag == "link" or (tag == "img" and "src" in a) for tag, a in parsed.tags)  # self-contained


def test_patient_report__json_is_deterministic_and_complete() -> None:
    report = _hand_made()
    assert report.to_json() == _hand_made().to_json()
    data = json.loads(report.to_json())
    assert data["format"] == "genofed-patient-report/1"
    assert data["as_of"] == "2018-06-01"
    assert data["knowledge_bases"] == [{"source": "civic", "release": "2018-05-01"}]
    tiers = {s["tier"]: s for s in data["sections"]}
    assert list(tiers) == ["I", "II", "III", "none"]
    (braf,) = tiers["I"]["findings"]
    assert braf["evidence"][0]["rule"] == "CIViC level A, on-label -> I-A"
    assert [f["gene"] for f in tiers["none"]["findings"]] == ["<script>alert(1)</script>"]


def test_kb_releases__accepts_mappings_pairs_and_objects() -> None:
    class Release:
        source = "cgi"
        release = dt.date(2017, 7, 1)

    assert kb_releases([Release(), ("civic", "2018-05-01")]) == (
        ("cgi", dt.date(2017, 7, 1)),
        ("civic", dt.date(2018, 5, 1)),
    )
    with pytest.raises(TypeError, match="cannot read a knowledge-base release"):
        kb_releases([42])


def test_patient_report__section_lookup() -> None:
    with pytest.raises(KeyError, match="no section 'IV'"):
        _hand_made().section("IV")


# -- the command line ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge-base directory with the fixture CIViC and CGI releases imported."""
    folder = fixture_path("knowledge")
    into = tmp_path_factory.mktemp("kb")
    import_release("civic", folder / "civic_2018-05_ClinicalEvidenceSummaries.tsv", CIVIC_RELEASE, into=into)
    import_release("cgi", folder / "cgi_biomarkers_per_variant_2017.tsv", CGI_RELEASE, into=into)
    return into


def test_report_cli__html_and_json(
    melanoma: tuple[NodeStore, str], knowledge: Path, tmp_path: Path, evidence: list[Evidence]
) -> None:
    store, patient = melanoma
    runner = CliRunner()
    common = ["report", "--store", str(store.root), "--individual", patient, "--knowledge", str(knowledge)]
    html = tmp_path / "r.html"
    result = runner.invoke(app, [*common, "--out", str(html)])
    assert result.exit_code == 0, result.output
    assert "BRAF p.V600E" in html.read_text(encoding="utf-8")
    as_json = tmp_path / "r.json"
    result = runner.invoke(app, [*common, "--out", str(as_json), "--format", "json", "--as-of", "2018-01-01"])
    assert result.exit_code == 0, result.output
    data = json.loads(as_json.read_text(encoding="utf-8"))
    assert data["knowledge_bases"] == [{"source": "cgi", "release": CGI_RELEASE.isoformat()}]
    # The same report the library gives from the same releases.
    cgi_only = [e for e in evidence if e.source == "cgi"]
    expected = _report(store, patient, cgi_only, as_of=dt.date(2018, 1, 1), releases={"cgi": CGI_RELEASE})
    assert data == json.loads(expected.to_json())
    early = runner.invoke(app, [*common, "--out", str(as_json), "--as-of", "2010-01-01"])
    assert early.exit_code == 1
    assert "no knowledge-base release on or before 2010-01-01" in early.output
    unknown = runner.invoke(app, [*common[:4], "nobody", *common[5:], "--out", str(as_json)])
    assert unknown.exit_code == 1
    assert "QueryError: no individual 'nobody'" in unknown.output
