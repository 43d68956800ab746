"""The GMS adapter: BALSAMIC, GMS560 (Twist_Solid) and Scout cases ingest with the values of their files;
bad input is named by file, line and field and leaves the store as it was; the SE cohort round-trips
through GMS case folders."""

from __future__ import annotations

import csv
import gzip
import math
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

import genofed.cli._gms  # noqa: F401  (registers `genofed ingest gms`)
from conftest import fixture_path
from genofed.cli import app
from genofed.errors import CodeError, FormatError, SampleError
from genofed.ingest import (
    ClinicalReader,
    GmsCase,
    GmsReader,
    absolute_copy_number,
    find_gms_cases,
    read_ascat_statistics,
    read_cnvkit_segments,
    read_load_config,
    read_msisensor_pro,
    read_purecn,
)
from genofed.model import Assay
from genofed.query import CohortCountQuery, CohortFilter, run
from genofed.store import NodeStore
from genofed.synth import Cohort, synthesise
from genofed.synth._gms import GmsCohortManifest, write_gms_cohort

DATA = Path(__file__).parent / "data" / "gms"
VARDICT = "balsamic_vardict_vep.vcf.gz"
CNS = "balsamic_tumor.merged.cns"
PURECN = "balsamic_CNV.somatic.case_id.purecn.purity.csv"
ASCAT = "balsamic_CNV.somatic.sample_tumor_normal_wgs.ascat.samplestatistics.txt"
GMS560 = "twist_solid_gms560_vep.qci.vcf"
SCOUT_VCF = "scout_cancer_test.vcf.gz"
SCOUT_CONFIG = "scout_cancer.load_config.yaml"


def gms(name: str) -> Path:
    return fixture_path("gms", name)


def case_folder(tmp_path: Path, name: str, *files: str) -> Path:
    """A case folder holding copies of the named fixture files."""
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        shutil.copy(gms(file), folder / file)
    return folder


def ingest(node: NodeStore, reader: GmsReader) -> None:
    node.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)


def rows(node: NodeStore, sql: str) -> list[dict[str, object]]:
    return list(node.execute(sql).to_pylist())


def snapshot(node: NodeStore) -> tuple[object, list[str]]:
    """The catalog and the batch folders: what a failed write must leave as it was."""
    return node.catalog, sorted(p.name for p in (node.root / "batches").iterdir())


# -- the small files against their text ---------------------------------------------------------------
def test_read_cnvkit_segments__values_of_the_file() -> None:
    path = gms(CNS)
    with path.open(newline="") as handle:
        expected = list(csv.DictReader(handle, delimiter="\t"))
    segments = read_cnvkit_segments(path)
    assert len(segments) == len(expected) == 2
    for segment, row in zip(segments, expected, strict=True):
        assert (segment.chrom, segment.start, segment.end) == (
            row["chromosome"],
            int(row["start"]),
            int(row["end"]),
        )
        assert segment.log2 == float(row["log2"])
        assert segment.copy_number == float(row["cn"])
        assert segment.minor_copy_number == min(float(row["cn1"]), float(row["cn2"]))
    assert segments[0].genes[:2] == ("AVP", "TMEM230")


def test_read_purecn__values_of_the_file() -> None:
    estimate = read_purecn(gms(PURECN))
    assert (estimate.method, estimate.purity, estimate.ploidy) == ("PureCN", 0.64, 4.52136051294267)
    assert estimate.sample == "tumor.initial"
    assert estimate.contamination == 0.0
    assert estimate.flagged
    assert not estimate.failed
    assert estimate.comment == "RARE KARYOTYPE"


def test_read_ascat_statistics__values_of_the_file() -> None:
    estimate = read_ascat_statistics(gms(ASCAT))
    assert (estimate.method, estimate.purity, estimate.ploidy) == ("ASCAT", 0.55, 2.69005206950459)
    assert estimate.psi == 2.75
    assert estimate.goodness_of_fit == 93.9316740620231


def test_read_msisensor_pro__pro_summary() -> None:
    score = read_msisensor_pro(DATA / "msisensorpro.msi")
    assert (score.score, score.total_sites, score.unstable_sites) == (3.55, 1042, 37)


def test_read_load_config__scout_cancer_demo() -> None:
    config = read_load_config(gms(SCOUT_CONFIG))
    assert config.case_id == "cancer_test"
    assert config.vcf_key == "vcf_cancer"
    assert config.assembly is not None
    assert config.assembly.value == "GRCh37"
    tumour, normal = config.samples
    assert (tumour.sample_id, tumour.specimen_type.value, tumour.assay) == ("999-99", "tumour", Assay.PANEL)
    assert (tumour.tumour_type, tumour.purity, tumour.tmb, tumour.msi, tumour.hrd) == ("CHDM", 0.1, 7, 15, 93)
    assert (normal.sample_id, normal.specimen_type.value, normal.assay) == ("998-99", "normal", Assay.PANEL)


def test_absolute_copy_number__inverts_the_mixture_model() -> None:
    for purity in (0.2, 0.55, 1.0):
        for ploidy in (2.0, 3.3):
            mixture = purity * ploidy + 2 * (1 - purity)
            for copies in (0, 1, 2, 3, 7) if purity < 1 else (1, 2, 3, 7):
                log2 = math.log2((purity * copies + 2 * (1 - purity)) / mixture)
                assert absolute_copy_number(log2, purity, ploidy) == pytest.approx(copies, abs=1e-9)
    with pytest.raises(ValueError, match="purity must be in"):
        absolute_copy_number(0.0, 0.0)


# -- the fixture file sets ----------------------------------------------------------------------------
def test_gms_reader__balsamic_folder_values_equal_the_files(tmp_path: Path, store: NodeStore) -> None:
    folder = case_folder(tmp_path, "unitedbeagle", VARDICT, CNS, PURECN, ASCAT)
    reader = GmsReader(folder)
    ingest(store, reader)
    assert reader.case.case_id == "unitedbeagle"
    assert reader.summary.copy_number_source == "the 'cn' column"
    (analysis,) = rows(store, "SELECT * FROM analyses")
    assert (analysis["assay"], analysis["pipeline"], analysis["origin"]) == ("PANEL", "BALSAMIC", "somatic")
    assert analysis["reference_assembly"] == "GRCh37"
    assert analysis["contamination"] == 0.0
    assert analysis["qc_status"] == "FLAGGED_PURITY"
    assert analysis["normal_specimen_id"] is not None
    markers = {
        (r["name"], r["method"]): r["value"]
        for r in rows(store, "SELECT name, method, value FROM biomarkers")
    }
    assert markers == {
        ("PURITY", "PureCN"): 0.64,
        ("PLOIDY", "PureCN"): 4.52136051294267,
        ("PURITY", "ASCAT"): 0.55,
        ("PLOIDY", "ASCAT"): 2.69005206950459,
    }
    stored = rows(
        store,
        'SELECT chrom, start, "end", copy_number, minor_allele_copy_number FROM copy_numbers ORDER BY start',
    )
    expected = read_cnvkit_segments(gms(CNS))
    assert [
        (r["chrom"], r["start"], r["end"], r["copy_number"], r["minor_allele_copy_number"]) for r in stored
    ] == [(s.chrom, s.start, s.end, s.copy_number, s.minor_copy_number) for s in expected]
    calls = rows(store, "SELECT start, ref, alt, depth, alt_depth FROM variant_calls ORDER BY start")
    # The VCF's first record: 18:8738938 TA>T, tumour AD 315,6 and DP 321 (0-based start of the trimmed A).
    assert calls[0] == {"start": 8738938, "ref": "A", "alt": "", "depth": 321, "alt_depth": 6}
    assert len(calls) == 3


def test_gms_reader__gms560_panel_variant_is_found_by_a_query(tmp_path: Path, store: NodeStore) -> None:
    folder = case_folder(tmp_path, "22-1721", GMS560)
    reader = GmsReader(folder)
    ingest(store, reader)
    (analysis,) = rows(store, "SELECT assay, pipeline FROM analyses")
    assert analysis == {"assay": "PANEL", "pipeline": "Twist_Solid"}
    (site,) = rows(store, "SELECT chrom, start, ref, alt FROM variant_sites WHERE gene = 'KRAS'")
    assert site == {"chrom": "12", "start": 25398283, "ref": "C", "alt": "A"}  # VCF chr12:25398284 C>A
    kras = run(store, CohortCountQuery(filter=CohortFilter(gene="KRAS", protein_change="p.G12V")))
    assert kras.individuals == 1
    none = run(store, CohortCountQuery(filter=CohortFilter(gene="KRAS", protein_change="p.G12D")))
    assert none.individuals == 0


def test_gms_case__scout_config_is_the_sample_sheet(store: NodeStore) -> None:
    case = GmsCase.from_load_config(gms(SCOUT_CONFIG), vcf=gms(SCOUT_VCF))
    assert case.tumour_sample == "999-99"
    assert case.assay is Assay.PANEL
    reader = GmsReader(case)
    ingest(store, reader)
    specimens = {r["specimen_type"]: r for r in rows(store, "SELECT * FROM specimens")}
    assert specimens["tumour"]["tumour_type"] == "CHDM"
    assert specimens["tumour"]["individual_id"] == specimens["normal"]["individual_id"]
    assert specimens["tumour"]["individual_id"] == store.pseudonymise("cancer_test")
    (analysis,) = rows(store, "SELECT * FROM analyses")
    assert analysis["analysis_id"] == store.pseudonymise("cancer_test:999-99")
    assert analysis["normal_specimen_id"] == specimens["normal"]["specimen_id"]
    assert analysis["assay"] == "PANEL"
    markers = {r["name"]: (r["value"], r["unit"]) for r in rows(store, "SELECT * FROM biomarkers")}
    assert markers == {
        "PURITY": (0.1, None),
        "TMB": (7.0, "mutations/Mb"),
        "MSI": (15.0, None),
        "HRD": (93.0, None),
    }
    assert rows(store, "SELECT count(*) AS n FROM variant_calls") == [{"n": 10}]
    jak2 = run(store, CohortCountQuery(filter=CohortFilter(gene="JAK2", protein_change="p.V617F")))
    assert jak2.individuals == 1


def test_gms_reader__dry_run_reports_each_decision(tmp_path: Path) -> None:
    folder = case_folder(tmp_path, "case", VARDICT, CNS, PURECN, ASCAT)
    (folder / "notes.txt").write_text("not a pipeline file\n")
    # BALSAMIC renders results as PDFs beside them; a report is not a second ASCAT file.
    (folder / f"{ASCAT}.pdf").write_bytes(b"%PDF-1.4\n")
    report = GmsReader(folder).dry_run()
    assert report.ok
    assert report.tables == {
        "specimens": 2,
        "analyses": 1,
        "variant_sites": 3,
        "variant_calls": 3,
        "copy_numbers": 2,
        "biomarkers": 4,
    }
    assert report.ignored == ("notes.txt",)
    by_target = {(r.target, r.file): r for r in report.rows}
    assert by_target[("analyses.assay", VARDICT)].maps_to == "PANEL"
    assert by_target[("biomarkers.PURITY", PURECN)].value == "0.64"


def test_find_gms_cases__a_case_or_a_folder_of_cases(tmp_path: Path) -> None:
    (tmp_path / "cohort").mkdir()
    first = case_folder(tmp_path / "cohort", "a", GMS560)
    second = case_folder(tmp_path / "cohort", "b", GMS560)
    (tmp_path / "cohort" / "empty").mkdir()
    assert find_gms_cases(tmp_path / "cohort") == (first, second)
    assert find_gms_cases(first) == (first,)
    with pytest.raises(FormatError, match=r"empty, field 'VCF': no GMS case here"):
        find_gms_cases(tmp_path / "cohort" / "empty")


# -- bad input ----------------------------------------------------------------------------------------------
@pytest.fixture
def loaded(tmp_path: Path, store: NodeStore) -> NodeStore:
    """A store that already holds one case, so 'unchanged' is checked against real content."""
    ingest(store, GmsReader(case_folder(tmp_path, "first", GMS560)))
    return store


def test_gms_case__folder_without_vcf(tmp_path: Path, loaded: NodeStore) -> None:
    folder = case_folder(tmp_path, "novcf", CNS, PURECN)
    before = snapshot(loaded)
    with pytest.raises(FormatError, match=r"novcf, field 'VCF': the case folder has no VCF"):
        ingest(loaded, GmsReader(folder))
    assert snapshot(loaded) == before


def test_gms_case__config_naming_a_missing_vcf(tmp_path: Path, loaded: NodeStore) -> None:
    folder = case_folder(tmp_path, "scout", SCOUT_CONFIG)
    before = snapshot(loaded)
    with pytest.raises(
        FormatError,
        match=r"scout_cancer\.load_config\.yaml, line 30, field 'vcf_cancer': "
        r"vcf_cancer names .*cancer_test\.vcf\.gz, which does not exist",
    ):
        ingest(loaded, GmsReader(folder))
    assert snapshot(loaded) == before


def test_read_cnvkit_segments__renamed_column(tmp_path: Path, loaded: NodeStore) -> None:
    folder = case_folder(tmp_path, "renamed", VARDICT, PURECN)
    text = gms(CNS).read_text().replace("\tlog2\t", "\tlog2_ratio\t", 1)
    (folder / CNS).write_text(text)
    before = snapshot(loaded)
    with pytest.raises(
        FormatError, match=r"merged\.cns, line 1, field 'log2': required column 'log2' is missing"
    ):
        ingest(loaded, GmsReader(folder))
    assert snapshot(loaded) == before


def test_read_purecn__purity_outside_0_1(tmp_path: Path, loaded: NodeStore) -> None:
    folder = case_folder(tmp_path, "purity", VARDICT, CNS)
    (folder / PURECN).write_text(gms(PURECN).read_text().replace(",0.64,", ",1.64,"))
    before = snapshot(loaded)
    with pytest.raises(
        FormatError,
        match=r"purecn\.purity\.csv, line 2, field 'Purity': Purity is 1\.64; expected a purity from 0 to 1",
    ):
        ingest(loaded, GmsReader(folder))
    assert snapshot(loaded) == before


def test_read_ascat_statistics__rho_outside_0_1(tmp_path: Path) -> None:
    path = tmp_path / ASCAT
    path.write_text(gms(ASCAT).read_text().replace("rho 0.55", "rho -0.2"))
    with pytest.raises(FormatError, match=r"samplestatistics\.txt, line 3, field 'rho': rho is -0\.2"):
        read_ascat_statistics(path)


def test_read_ascat_statistics__missing_key(tmp_path: Path) -> None:
    path = tmp_path / ASCAT
    path.write_text(gms(ASCAT).read_text().replace("Ploidy ", "ploidy_estimate "))
    with pytest.raises(FormatError, match=r"field 'Ploidy': required key 'Ploidy' is missing"):
        read_ascat_statistics(path)


def test_read_load_config__purity_outside_0_1(tmp_path: Path) -> None:
    path = tmp_path / SCOUT_CONFIG
    path.write_text(gms(SCOUT_CONFIG).read_text().replace("tumor_purity: 0.1", "tumor_purity: 1.5"))
    with pytest.raises(
        FormatError,
        match=r"load_config\.yaml, line 20, field 'samples\[0\]\.tumor_purity': "
        r"samples\[0\]\.tumor_purity is 1\.5",
    ):
        read_load_config(path)


def test_read_load_config__unknown_analysis_type(tmp_path: Path) -> None:
    path = tmp_path / SCOUT_CONFIG
    path.write_text(
        gms(SCOUT_CONFIG).read_text().replace("analysis_type: panel-umi", "analysis_type: nanopore")
    )
    with pytest.raises(
        CodeError, match=r"line 8, field 'samples\[0\]\.analysis_type': analysis_type is 'nanopore'"
    ):
        read_load_config(path)


def test_read_msisensor_pro__renamed_column(tmp_path: Path) -> None:
    path = tmp_path / "case.msi"
    path.write_text((DATA / "msisensorpro.msi").read_text().replace("\t%\n", "\tscore\n"))
    with pytest.raises(FormatError, match=r"case\.msi, line 1, field '%': required column '%' is missing"):
        read_msisensor_pro(path)


def test_gms_reader__log2_only_segments_need_a_purity(tmp_path: Path) -> None:
    folder = case_folder(tmp_path, "log2only", VARDICT)
    _drop_columns(gms(CNS), folder / CNS, ("cn", "cn1", "cn2"))
    with pytest.raises(FormatError, match=r"merged\.cns, line 2, field 'cn': .*needs the tumour purity"):
        GmsReader(folder)


def test_gms_reader__bad_vcf_record_publishes_nothing(tmp_path: Path, loaded: NodeStore) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    with gzip.open(gms(VARDICT), "rt") as handle:
        lines = handle.read().splitlines(keepends=True)
    lines[-1] = "\t".join(lines[-1].split("\t")[:9]) + "\n"  # the last record loses its sample columns
    (folder / "broken.vcf").write_text("".join(lines))
    shutil.copy(gms(PURECN), folder / PURECN)
    before = snapshot(loaded)
    with pytest.raises(FormatError, match=r"broken\.vcf, line \d+, field 'TUMOR': the record has 9"):
        ingest(loaded, GmsReader(folder))
    assert snapshot(loaded) == before


def test_gms_case__sample_roles_unknown(tmp_path: Path) -> None:
    folder = tmp_path / "roles"
    folder.mkdir()
    (folder / "calls.vcf").write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh38\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
    )
    with pytest.raises(SampleError, match=r"calls\.vcf, field 'S1': cannot tell whether sample column 'S1'"):
        GmsCase.from_folder(folder, assay=Assay.WGS)


def test_gms_case__assay_given_overrides_the_files(tmp_path: Path) -> None:
    case = GmsCase.from_folder(case_folder(tmp_path, "override", GMS560), assay=Assay.WES)
    assert case.assay is Assay.WES
    assert case.tumour_entry.assay is Assay.WES


# -- the SE cohort as GMS case folders -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def se_cohort() -> Cohort:
    return synthesise("SE", 12, seed=5)


@pytest.fixture(scope="module")
def se_gms(se_cohort: Cohort, tmp_path_factory: pytest.TempPathFactory) -> GmsCohortManifest:
    return write_gms_cohort(se_cohort, tmp_path_factory.mktemp("se-gms"))


def test_write_gms_cohort__round_trip(se_cohort: Cohort, se_gms: GmsCohortManifest, store: NodeStore) -> None:
    cases = find_gms_cases(se_gms.cases_directory)
    assert len(cases) == len(se_gms.cases) == 12
    for case in cases:
        ingest(store, GmsReader(case))
    clinical = ClinicalReader(se_gms.clinical_tables, se_gms.mapping)
    store.write_stream(clinical.chunks(), kind=clinical.kind, source=clinical.source, key=clinical.batch_key)
    somatic = se_cohort.somatic
    # Oracle: the cohort's own tables. Calls per patient = distinct alleles of that patient.
    expected_calls = {
        store.pseudonymise(p): len({(c, s, r, a) for pp, c, s, r, a in _somatic_keys(se_cohort) if pp == p})
        for p in se_cohort.patients.column("patient_id").to_pylist()
    }
    stored_calls = {
        r["individual_id"]: r["n"]
        for r in rows(store, "SELECT individual_id, count(*) AS n FROM variant_calls GROUP BY 1")
    }
    assert stored_calls == {k: v for k, v in expected_calls.items() if v}
    purity = {
        store.pseudonymise(p): v
        for p, v in zip(
            se_cohort.patients.column("patient_id").to_pylist(),
            se_cohort.patients.column("purity").to_pylist(),
            strict=True,
        )
    }
    ascat = {
        r["individual_id"]: r["value"]
        for r in rows(
            store, "SELECT individual_id, value FROM biomarkers WHERE name = 'PURITY' AND method = 'ASCAT'"
        )
    }
    assert ascat == purity
    assert {r["assay"] for r in rows(store, "SELECT assay FROM analyses")} == {"WGS"}
    for gene in ("KRAS", "TP53", "PIK3CA"):
        carriers = set(
            somatic.filter(pc.equal(somatic.column("gene"), gene)).column("patient_id").to_pylist()
        )
        assert run(store, CohortCountQuery(filter=CohortFilter(gene=gene))).individuals == len(carriers)
    # The clinical tables and the GMS cases name the same people.
    assert run(store, CohortCountQuery()).individuals == 12
    tumour_types = se_cohort.patients.column("tumour_type").to_pylist()
    specimen_types = {
        r["tumour_type"]
        for r in rows(store, "SELECT tumour_type FROM specimens WHERE specimen_type = 'tumour'")
    }
    assert specimen_types == set(tumour_types)


def test_write_gms_cohort__log2_converts_back_to_the_drawn_copy_numbers(
    se_gms: GmsCohortManifest, tmp_path: Path
) -> None:
    for source in se_gms.cases[:4]:
        folder = tmp_path / source.name
        shutil.copytree(source, folder)
        drawn = [s.copy_number for s in read_cnvkit_segments(folder / "tumor.merged.cns")]
        _drop_columns(source / "tumor.merged.cns", folder / "tumor.merged.cns", ("cn", "cn1", "cn2"))
        reader = GmsReader(folder)
        assert reader.summary.copy_number_source is not None
        assert reader.summary.copy_number_source.startswith("log2 converted with purity")
        converted = dict(reader.chunks())["copy_numbers"].column("copy_number").to_pylist()
        # log2 is written with 6 decimals: the round trip is exact to about 1e-5 copies.
        assert converted == pytest.approx(drawn, abs=1e-3)


# -- the command line --------------------------------------------------------------------------------------
def test_ingest_gms__cli_folder_of_cases(se_gms: GmsCohortManifest, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ingest", "gms", str(se_gms.cases_directory), "--store", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("published batch") == 12
    with NodeStore.open(tmp_path / "s") as node:
        assert len(node.catalog.batches) == 12


def test_ingest_gms__cli_dry_run_writes_nothing(tmp_path: Path) -> None:
    folder = case_folder(tmp_path, "dry", VARDICT, CNS, PURECN, ASCAT)
    result = CliRunner().invoke(app, ["ingest", "gms", str(folder), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "harmonisation report: case dry" in result.output
    assert "would ingest" in result.output


def test_ingest_gms__cli_error_names_file_and_field(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ingest", "gms", str(gms(SCOUT_CONFIG)), "--store", str(tmp_path / "s")]
    )
    assert result.exit_code == 1
    assert "FormatError" in result.output
    assert "vcf_cancer" in result.output
    assert not (tmp_path / "s").exists()
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            "gms",
            str(gms(SCOUT_CONFIG)),
            "--vcf",
            str(gms(SCOUT_VCF)),
            "--store",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 0, result.output


# -- helpers ------------------------------------------------------------------------------------------------
def _drop_columns(source: Path, target: Path, names: tuple[str, ...]) -> None:
    with source.open(newline="") as handle:
        table = list(csv.reader(handle, delimiter="\t"))
    keep = [i for i, name in enumerate(table[0]) if name not in names]
    target.write_text("".join("\t".join(row[i] for i in keep) + "\n" for row in table))


def _somatic_keys(cohort: Cohort) -> list[tuple[str, str, int, str, str]]:
    s = cohort.somatic
    return list(
        zip(
            s.column("patient_id").to_pylist(),
            s.column("chrom").to_pylist(),
            s.column("pos").to_pylist(),
            s.column("ref").to_pylist(),
            s.column("alt").to_pylist(),
            strict=True,
        )
    )
