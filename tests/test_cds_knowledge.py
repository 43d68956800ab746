"""Knowledge-base loaders (CIViC both layouts, CGI, OncoKB), disease mapping and versioned releases."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from genofed.cds import (
    AmpTier,
    BiomarkerKind,
    Direction,
    Evidence,
    Finding,
    FindingKind,
    KnowledgeBase,
    OncoKbClient,
    evidence_from_table,
    evidence_table,
    import_release,
    list_releases,
    load_cgi,
    load_civic,
    map_disease,
    match_findings,
    parse_cgi_alteration,
    parse_civic_profile,
    parse_civic_variant,
)
from genofed.cli import app
from genofed.errors import AuthError, ConfigError, FormatError, StoreError
from genofed.model import oncotree

KNOWLEDGE = Path(__file__).parents[1].parent / "shared" / "fixtures" / "knowledge"
CIVIC_2018 = KNOWLEDGE / "civic_2018-05_ClinicalEvidenceSummaries.tsv"
CIVIC_VARIANTS = KNOWLEDGE / "civic_2018-05_VariantSummaries.tsv"
CGI = KNOWLEDGE / "cgi_biomarkers_per_variant_2017.tsv"
CIVIC_CURRENT = Path(__file__).parent / "data" / "cds" / "civic_current_ClinicalEvidenceSummaries.tsv"
DISEASE_MAP = Path(__file__).parents[1] / "src" / "genofed" / "cds" / "data" / "disease_map.tsv"

needs_fixtures = pytest.mark.skipif(not CGI.exists(), reason="../shared/fixtures/knowledge is absent")

# The header CIViC's EvidenceItemTsvFormatter writes in monthly and nightly releases (2023-).
CURRENT_HEADER = [
    "molecular_profile", "molecular_profile_id", "disease", "doid", "phenotypes", "therapies",
    "therapy_interaction_type", "evidence_type", "evidence_direction", "evidence_level", "significance",
    "evidence_statement", "citation_id", "source_type", "asco_abstract_id", "citation", "nct_ids",
    "rating", "evidence_status", "evidence_id", "variant_origin", "last_review_date",
    "evidence_civic_url", "molecular_profile_civic_url", "is_flagged",
]  # fmt: skip


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The file's data rows with their line numbers, read independently of the loaders."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split("\t")
    return [
        (n, dict(zip(header, line.split("\t"), strict=False)))
        for n, line in enumerate(lines, 1)
        if n > 1 and line
    ]


# --- CIViC, 2018 layout ------------------------------------------------------------------------------


@needs_fixtures
def test_load_civic__2018_every_row_parsed_or_rejected() -> None:
    report = load_civic(CIVIC_2018, release=dt.date(2018, 5, 1))
    rows = _rows(CIVIC_2018)
    assert report.layout == "civic-2018"
    assert report.rows == len(rows) == 2525
    assert report.parsed + len(report.rejected) == report.rows
    assert len({r.line for r in report.rejected}) == len(report.rejected)
    assert {e.line for e in report.evidence} | {r.line for r in report.rejected} == {n for n, _ in rows}
    not_predictive = sum(1 for _, r in rows if r["evidence_type"] != "Predictive")
    assert report.rejected_by_category()["not predictive"] == not_predictive == 950


@needs_fixtures
def test_load_civic__2018_rejection_reasons() -> None:
    report = load_civic(CIVIC_2018, release=dt.date(2018, 5, 1))
    by_line = {r.line: r for r in report.rejected}
    rows = dict(_rows(CIVIC_2018))
    line_of = {r["evidence_id"]: n for n, r in rows.items()}
    diagnostic = by_line[line_of["1"]]  # JAK2 V617F, diagnostic
    assert (diagnostic.category, diagnostic.field) == ("not predictive", "evidence_type")
    assert "'Diagnostic' is not predictive" in diagnostic.reason
    refuted = by_line[line_of["82"]]  # BRAF V600E melanoma dacarbazine: does not support
    assert refuted.category == "does not support"
    usable = {
        n: r
        for n, r in rows.items()
        if r["evidence_direction"] == "Supports" and r["evidence_type"] == "Predictive"
    }
    usable = {n: r for n, r in usable.items() if r["clinical_significance"] == "Sensitivity"}
    expression = next(n for n, r in usable.items() if r["variant"] == "OVEREXPRESSION")
    assert "expression" in by_line[expression].reason
    fusion_plus = next(n for n, r in usable.items() if r["variant"] == "EML4-ALK L1196M")
    assert "fusion with a further alteration (L1196M)" in by_line[fusion_plus].reason


@needs_fixtures
def test_load_civic__2018_braf_v600e_skin_melanoma_level_a() -> None:
    report = load_civic(CIVIC_2018, release=dt.date(2018, 5, 1))
    item = next(e for e in report.evidence if e.evidence_id == "EID1411")
    assert item == Evidence(
        source="civic",
        release=dt.date(2018, 5, 1),
        evidence_id="EID1411",
        biomarker=BiomarkerKind.PROTEIN_CHANGE,
        gene="BRAF",
        therapy="Trametinib, Dabrafenib",
        direction=Direction.RESPONSIVE,
        source_level="A",
        disease="Skin Melanoma",
        protein_change="V600E",
        tumour_types=("SKCM",),
        doid="DOID:8923",
        citation=item.citation,
        line=1236,
    )
    assert item.citation is not None
    assert item.citation.startswith("PMID:")


@needs_fixtures
def test_load_civic__variant_summaries_decide_what_loss_means(tmp_path: Path) -> None:
    with_types = load_civic(CIVIC_2018, release=dt.date(2018, 5, 1))  # sibling VariantSummaries found
    deletions = {e.gene for e in with_types.evidence if e.biomarker is BiomarkerKind.DELETION}
    assert "CDKN2B" in deletions  # LOSS with variant type transcript_ablation
    assert "PTEN" in deletions  # DELETION
    alone = tmp_path / CIVIC_2018.name
    shutil.copy(CIVIC_2018, alone)
    without = load_civic(alone, release=dt.date(2018, 5, 1))
    assert "CDKN2B" not in {e.gene for e in without.evidence if e.biomarker is BiomarkerKind.DELETION}
    assert len(without.rejected) > len(with_types.rejected)
    explicit = load_civic(alone, release=dt.date(2018, 5, 1), variants=CIVIC_VARIANTS)
    assert len(explicit.evidence) == len(with_types.evidence)
    assert (with_types.companions, without.companions) == ((str(CIVIC_VARIANTS),), ())


@needs_fixtures
def test_import_release__2018_manifest_names_both_files(tmp_path: Path) -> None:
    info = import_release("civic", CIVIC_2018, dt.date(2018, 5, 1), into=tmp_path)
    assert [name for name, _ in info.files] == [CIVIC_2018.name, CIVIC_VARIANTS.name]
    assert info.files[1][1] == hashlib.sha256(CIVIC_VARIANTS.read_bytes()).hexdigest()
    assert (info.rows, info.parsed, info.evidence, info.rejected) == (2525, 1044, 1049, 1481)


# --- CIViC, current layout ---------------------------------------------------------------------------


def test_load_civic__current_layout_header_is_civics() -> None:
    header = CIVIC_CURRENT.read_text(encoding="utf-8").split("\n", 1)[0].split("\t")
    assert header == CURRENT_HEADER


def test_load_civic__current_layout_rows() -> None:
    report = load_civic(CIVIC_CURRENT, release=dt.date(2024, 6, 1))
    assert report.layout == "civic-current"
    assert (report.rows, report.parsed, len(report.rejected)) == (14, 8, 6)
    by_id = {e.evidence_id: e for e in report.evidence}
    assert by_id["EID9001"].therapy == "Dabrafenib + Trametinib"  # Combination
    assert by_id["EID9002"].therapy == "Cetuximab or Panitumumab"  # Substitutes
    assert by_id["EID9002"].direction is Direction.RESISTANT
    assert (by_id["EID9004"].biomarker, by_id["EID9004"].gene, by_id["EID9004"].partner_gene) == (
        BiomarkerKind.FUSION, "ALK", None,
    )  # fmt: skip
    assert (by_id["EID9005"].gene, by_id["EID9005"].partner_gene) == ("EML4", "ALK")
    assert (by_id["EID9006"].exon, by_id["EID9006"].consequence) == (19, "inframe_deletion")
    assert {by_id["EID9008.1"].protein_change, by_id["EID9008.2"].protein_change} == {"G12C", "G12D"}
    assert by_id["EID9013"].pan_cancer
    reasons = {r.line: r.reason for r in report.rejected}
    assert "compound molecular profile" in reasons[4]
    assert "'submitted' is not accepted" in reasons[12]
    assert reasons[15] == "has 24 fields, the header has 25"


def test_load_civic__missing_column_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "ClinicalEvidenceSummaries.tsv"
    header = [c for c in CURRENT_HEADER if c != "therapies"]
    bad.write_text("\t".join(header) + "\n")
    with pytest.raises(
        FormatError, match=r"ClinicalEvidenceSummaries.tsv, line 1: .*lacks column\(s\) therapies"
    ):
        load_civic(bad, release=dt.date(2024, 1, 1))


@pytest.mark.parametrize(
    ("gene", "name", "kind", "attrs"),
    [
        ("BRAF", "V600E", BiomarkerKind.PROTEIN_CHANGE, {"protein_change": "V600E"}),
        ("ERBB2", "M774INSAYVM", BiomarkerKind.PROTEIN_CHANGE, {"protein_change": "M774insAYVM"}),
        ("EGFR", "E746_A750DEL", BiomarkerKind.PROTEIN_CHANGE, {"protein_change": "E746_A750del"}),
        ("BRAF", "V600", BiomarkerKind.CODON, {"codon": 600}),
        ("EGFR", "EXON 20 INSERTION", BiomarkerKind.EXON, {"exon": 20, "consequence": "inframe_insertion"}),
        ("MET", "EXON 14 SKIPPING MUTATION", BiomarkerKind.EXON, {"exon": 14, "consequence": "splice"}),
        ("KRAS", "MUTATION", BiomarkerKind.GENE_MUTATION, {"consequence": None}),
        ("FLT3", "ITD", BiomarkerKind.GENE_MUTATION, {"consequence": "inframe_insertion"}),
        ("ERBB2", "AMPLIFICATION", BiomarkerKind.AMPLIFICATION, {}),
        ("SMAD4", "DELETION", BiomarkerKind.DELETION, {}),
        ("ALK", "ALK FUSIONS", BiomarkerKind.FUSION, {"gene": "ALK", "partner_gene": None}),
        ("ABL1", "BCR-ABL", BiomarkerKind.FUSION, {"gene": "BCR", "partner_gene": "ABL1"}),
        ("ALK", "EML4-ALK E6;A20", BiomarkerKind.FUSION, {"gene": "EML4", "partner_gene": "ALK"}),
    ],
)
def test_parse_civic_variant__names(
    gene: str, name: str, kind: BiomarkerKind, attrs: dict[str, object]
) -> None:
    (marker,) = parse_civic_variant(gene, name)
    assert marker.kind is kind
    for key, value in attrs.items():
        assert getattr(marker, key) == value


def test_parse_civic_profile__fusion_with_unknown_partner() -> None:
    (marker,) = parse_civic_profile("v::NTRK1 Fusion")
    assert (marker.kind, marker.gene, marker.partner_gene) == (BiomarkerKind.FUSION, "NTRK1", None)


# --- CGI ---------------------------------------------------------------------------------------------


@needs_fixtures
def test_load_cgi__every_row_parsed_or_rejected() -> None:
    report = load_cgi(CGI, release=dt.date(2017, 7, 1))
    rows = _rows(CGI)
    assert report.rows == len(rows) == 1442
    assert report.parsed + len(report.rejected) == report.rows
    assert {e.line for e in report.evidence} | {r.line for r in report.rejected} == {n for n, _ in rows}
    toxicity = sum(1 for _, r in rows if r["Association"].startswith("Increased Toxicity"))
    assert report.rejected_by_category()["toxicity"] == toxicity == 40
    kinds = {e.biomarker for e in report.evidence}
    assert kinds == {
        BiomarkerKind.PROTEIN_CHANGE, BiomarkerKind.CODON, BiomarkerKind.EXON, BiomarkerKind.GENE_MUTATION,
        BiomarkerKind.AMPLIFICATION, BiomarkerKind.DELETION, BiomarkerKind.FUSION,
    }  # fmt: skip


@needs_fixtures
def test_load_cgi__rejection_reasons() -> None:
    report = load_cgi(CGI, release=dt.date(2017, 7, 1))
    rows = dict(_rows(CGI))
    by_line = {r.line: r for r in report.rejected}
    compound = next(n for n, r in rows.items() if r["Alteration"] == "MET:amp;BRAF:V600E")
    assert (
        by_line[compound].reason
        == "compound biomarker 'MET:amp;BRAF:V600E' needs several alterations at once"
    )
    expression = next(n for n, r in rows.items() if r["Alteration"] == "AR:over")
    assert "expression biomarker" in by_line[expression].reason
    wildtype = next(n for n, r in rows.items() if r["Alteration"] == "KIT::wildtype:.")
    assert "wild-type" in by_line[wildtype].reason


@needs_fixtures
def test_load_cgi__per_variant_rows_and_tumour_types() -> None:
    report = load_cgi(CGI, release=dt.date(2017, 7, 1))
    row234 = [e for e in report.evidence if e.line == 234]  # BRAF:V600E,V600K row for V600K, CM
    assert [(e.protein_change, e.therapy, e.tumour_types, e.source_level) for e in row234] == [
        ("V600K", "Dabrafenib + Trametinib", ("SKCM",), "FDA guidelines")
    ]
    pan = next(e for e in report.evidence if e.line == 3)  # ABL1:T315I, Any cancer type
    assert pan.pan_cancer
    assert pan.tumour_types == ()


_PC, _CODON, _EXON, _GENE = (
    BiomarkerKind.PROTEIN_CHANGE, BiomarkerKind.CODON, BiomarkerKind.EXON, BiomarkerKind.GENE_MUTATION,
)  # fmt: skip


@pytest.mark.parametrize(
    ("alteration", "biomarker", "expected"),
    [
        ("BRAF:V600E", "", [(_PC, "BRAF", "V600E", None, None, None)]),
        ("KRAS:G12.", "", [(_CODON, "KRAS", None, 12, None, None)]),
        ("RET:.618.,C634W", "",
         [(_CODON, "RET", None, 618, None, None), (_PC, "RET", "C634W", None, None, None)]),
        ("KIT:788-828,449-514", "KIT mutation in exon 9 or 17",
         [(_EXON, "KIT", None, None, 17, None), (_EXON, "KIT", None, None, 9, None)]),
        ("EGFR::consequence::inframe_deletion:30-336", "", [(_EXON, "EGFR", None, None, None, None)]),
        ("TPMT::consequence::splice_acceptor_variant:.", "", [(_GENE, "TPMT", None, None, None, None)]),
        ("ALK:.", "", [(_GENE, "ALK", None, None, None, None)]),
        ("ERBB2:amp", "", [(BiomarkerKind.AMPLIFICATION, "ERBB2", None, None, None, None)]),
        ("CDKN2A:del", "", [(BiomarkerKind.DELETION, "CDKN2A", None, None, None, None)]),
        ("ROS1__.", "", [(BiomarkerKind.FUSION, "ROS1", None, None, None, None)]),
        ("ABL1__BCR", "", [(BiomarkerKind.FUSION, "ABL1", None, None, None, "BCR")]),
    ],
)  # fmt: skip
def test_parse_cgi_alteration__syntax(
    alteration: str, biomarker: str, expected: list[tuple[object, ...]]
) -> None:
    got = [
        (m.kind, m.gene, m.protein_change, m.codon, m.exon, m.partner_gene)
        for m in parse_cgi_alteration(alteration, biomarker=biomarker)
    ]
    assert got == expected


def test_parse_cgi_alteration__range_and_consequence() -> None:
    (marker,) = parse_cgi_alteration("EGFR::consequence::inframe_insertion:762-823")
    assert (marker.consequence, marker.protein_start, marker.protein_end) == ("inframe_insertion", 762, 823)


# --- diseases ----------------------------------------------------------------------------------------


def test_map_disease__table_codes_are_oncotree_codes() -> None:
    tree = oncotree()
    for line in DISEASE_MAP.read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", "kind\t")) or not line.strip():
            continue
        kind, _key, codes = line.split("\t")[:3]
        assert kind in {"doid", "term", "cgi"}, line
        for code in codes.split(";"):
            assert code == "PAN" or code in tree, line


@pytest.mark.parametrize(
    ("disease", "doid", "cgi", "codes", "pan"),
    [
        ("Melanoma", "1909", None, ("MEL",), False),
        ("Colorectal Cancer", "9256", None, ("COADREAD",), False),
        ("Cancer", "162", None, (), True),
        ("Any cancer type", None, "CANCER", (), True),
        ("Solid tumor", None, None, (), True),
        ("Lung", None, "L", ("LUNG",), False),
        ("Hematologic malignancies", None, "HEMATO", ("MYELOID", "LYMPH"), False),
        ("Hairy Cell Leukemia", None, None, ("HCL",), False),  # by OncoTree name
        ("Scrotum Paget's Disease", "0080000", None, (), False),
    ],
)
def test_map_disease__sources(
    disease: str, doid: str | None, cgi: str | None, codes: tuple[str, ...], pan: bool
) -> None:
    mapping = map_disease(disease, doid=doid, cgi_code=cgi)
    assert (mapping.codes, mapping.pan_cancer) == (codes, pan)


@needs_fixtures
def test_load_civic__unmapped_diseases_kept_and_counted() -> None:
    report = load_civic(CIVIC_2018, release=dt.date(2018, 5, 1))
    kept = [e for e in report.evidence if not e.tumour_types and not e.pan_cancer]
    assert kept
    assert sum(report.unmapped_diseases.values()) == len(kept)


# --- storage and releases ----------------------------------------------------------------------------


def test_evidence_table__round_trip() -> None:
    report = load_civic(CIVIC_CURRENT, release=dt.date(2024, 6, 1))
    table = evidence_table(report.evidence)
    assert table.num_rows == len(report.evidence)
    assert evidence_from_table(table) == list(report.evidence)


def _second_release(tmp_path: Path) -> Path:
    """The current-layout test file with one more evidence row: a later release."""
    text = CIVIC_CURRENT.read_text(encoding="utf-8").splitlines()
    extra = text[1].replace("\t9001\t", "\t9100\t")
    later = tmp_path / "later" / "ClinicalEvidenceSummaries.tsv"
    later.parent.mkdir()
    later.write_text("\n".join([*text[:-1], extra]) + "\n", encoding="utf-8")
    return later


def test_import_release__manifest_and_parquet(tmp_path: Path) -> None:
    info = import_release("civic", CIVIC_CURRENT, dt.date(2024, 6, 1), into=tmp_path / "kb")
    folder = tmp_path / "kb" / "civic" / "2024-06-01"
    assert Path(info.path) == folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"] == [
        {"name": CIVIC_CURRENT.name, "sha256": hashlib.sha256(CIVIC_CURRENT.read_bytes()).hexdigest()}
    ]
    assert (manifest["rows"], manifest["parsed"], manifest["rejected"], manifest["evidence"]) == (14, 8, 6, 9)
    rejected = (folder / "rejected.tsv").read_text().splitlines()
    assert len(rejected) == 1 + 6
    assert rejected[0] == "line\tcategory\tfield\treason"
    assert list_releases(tmp_path / "kb") == [info]


def test_knowledge_base_open__as_of_picks_the_release_in_force(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    import_release("civic", CIVIC_CURRENT, dt.date(2024, 6, 1), into=kb_dir)
    import_release("civic", _second_release(tmp_path), dt.date(2025, 1, 1), into=kb_dir)
    june = KnowledgeBase.open(kb_dir, as_of=dt.date(2024, 12, 31))
    assert june.releases["civic"].release == dt.date(2024, 6, 1)
    assert "EID9100" not in {e.evidence_id for e in june}
    latest = KnowledgeBase.open(kb_dir)
    assert latest.releases["civic"].release == dt.date(2025, 1, 1)
    assert len(latest) == len(june) + 1
    with pytest.raises(StoreError, match="no knowledge-base release on or before 2024-01-01"):
        KnowledgeBase.open(kb_dir, as_of=dt.date(2024, 1, 1))


def test_import_release__existing_release_needs_replace(tmp_path: Path) -> None:
    import_release("civic", CIVIC_CURRENT, dt.date(2024, 6, 1), into=tmp_path)
    with pytest.raises(StoreError, match="already holds civic release 2024-06-01; pass replace=True"):
        import_release("civic", CIVIC_CURRENT, dt.date(2024, 6, 1), into=tmp_path)
    import_release("civic", _second_release(tmp_path), dt.date(2024, 6, 1), into=tmp_path, replace=True)
    assert list_releases(tmp_path)[0].evidence == 10


def test_import_release__oncokb_is_never_stored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="licence forbids redistribution"):
        import_release("oncokb", CIVIC_CURRENT, dt.date(2024, 6, 1), into=tmp_path)
    assert not any(tmp_path.iterdir())


def test_knowledge_base_open__tampered_evidence_refused(tmp_path: Path) -> None:
    info = import_release("civic", CIVIC_CURRENT, dt.date(2024, 6, 1), into=tmp_path)
    evidence = Path(info.path) / "evidence.parquet"
    evidence.write_bytes(evidence.read_bytes() + b"\0")
    with pytest.raises(StoreError, match="does not match its manifest checksum"):
        KnowledgeBase.open(tmp_path)


def test_kb_cli__import_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    args = [
        "kb",
        "import",
        "--source",
        "civic",
        "--release",
        "2024-06-01",
        str(CIVIC_CURRENT),
        "--into",
        str(tmp_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "14 rows, 8 parsed into 9 evidence items, 6 rejected" in result.output
    listed = runner.invoke(app, ["kb", "list", str(tmp_path)])
    assert listed.exit_code == 0
    assert "2024-06-01" in listed.output
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "StoreError" in again.output
    assert "Traceback" not in again.output
    bad = runner.invoke(app, [*args[:4], "June", *args[5:]])
    assert bad.exit_code == 2


# --- OncoKB ------------------------------------------------------------------------------------------

_ONCOKB_ANSWER = {
    "query": {"hugoSymbol": "BRAF", "alteration": "V600E", "tumorType": "SKCM"},
    "oncogenic": "Oncogenic",
    "treatments": [
        {
            "drugs": [{"drugName": "Dabrafenib"}, {"drugName": "Trametinib"}],
            "level": "LEVEL_1",
            "fdaLevel": "LEVEL_Fda2",
            "levelAssociatedCancerType": {"code": "", "name": "Melanoma", "mainType": {"name": "Melanoma"}},
            "pmids": ["22663011"],
        },
        {
            "drugs": [{"drugName": "Dabrafenib"}, {"drugName": "Trametinib"}],
            "level": "LEVEL_1",
            "levelAssociatedCancerType": {"code": "", "name": "All Solid Tumors", "mainType": {"name": ""}},
            "pmids": [],
        },
    ],
}


def test_oncokb_client__evidence_from_the_annotate_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_ONCOKB_ANSWER)

    finding = Finding(FindingKind.SMALL_VARIANT, gene="BRAF", protein_change="V600E")
    with OncoKbClient(
        "secret", transport=httpx.MockTransport(handler), release=dt.date(2026, 11, 1)
    ) as client:
        items = client.evidence_for([finding, finding], "SKCM")
    assert len(seen) == 1  # the second finding was answered from memory
    request = seen[0]
    assert request.headers["Authorization"] == "Bearer secret"
    assert request.url.path == "/api/v1/annotate/mutations/byProteinChange"
    assert dict(request.url.params) == {"hugoSymbol": "BRAF", "alteration": "V600E", "tumorType": "SKCM"}
    first = items[0]
    assert (first.source, first.therapy, first.source_level, first.tumour_types) == (
        "oncokb", "Dabrafenib + Trametinib", "LEVEL_1", ("MEL",),
    )  # fmt: skip
    assert (first.biomarker, first.protein_change, first.citation) == (
        BiomarkerKind.PROTEIN_CHANGE,
        "V600E",
        "PMID:22663011",
    )
    assert items[1].pan_cancer
    assert len(items) == 4  # two treatments per finding
    assert not any(tmp_path.iterdir())  # nothing cached to disk


def test_oncokb_client__refused_token() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(401, json={"title": "Unauthorized"}))
    client = OncoKbClient("expired", transport=transport)
    with pytest.raises(AuthError, match=r"OncoKB refused the API token \(HTTP 401\)"):
        client.evidence_for([Finding(FindingKind.AMPLIFICATION, gene="ERBB2")], "BRCA")
    with pytest.raises(AuthError, match="an OncoKB API token is required"):
        OncoKbClient(" ")


def test_oncokb_client__fusion_query_and_the_items_match_their_finding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_ONCOKB_ANSWER)

    fusion = Finding(FindingKind.FUSION, gene="EML4", partner_gene="ALK")
    client = OncoKbClient("secret", transport=httpx.MockTransport(handler))
    items = client.evidence_for([fusion], "LUAD")
    assert seen[0].url.path == "/api/v1/annotate/structuralVariants"
    assert dict(seen[0].url.params) == {
        "hugoSymbolA": "EML4", "hugoSymbolB": "ALK", "structuralVariantType": "FUSION",
        "isFunctionalFusion": "true", "tumorType": "LUAD",
    }  # fmt: skip
    matches = match_findings([fusion], items, "SKCM")
    assert [(m.match_level, m.amp_tier, m.on_label) for m in matches] == [
        ("exact", AmpTier.IA, True),  # Melanoma (MEL) is an ancestor of SKCM
        ("exact", AmpTier.IA, True),  # all solid tumours
    ]
