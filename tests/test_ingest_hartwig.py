"""The Hartwig adapter: hmftools / OncoAnalyser folders, ORANGE JSON, DR clinical tables, synthetic NL.

Oracles: the fixture files themselves, read here with ``csv``/``json`` independently of the adapter's
table reader; ``bcftools query`` for the VCF calls; the synthetic cohort's own tables for the NL
writer's round trip.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import genofed.cli._hartwig  # registers `genofed ingest hartwig`
import genofed.cli._query  # noqa: F401  (registers `genofed query count`)
from conftest import REPO, fixture_path
from genofed.cli import app
from genofed.errors import CodeError, FormatError
from genofed.ingest import (
    HartwigClinicalReader,
    HartwigMetadata,
    HartwigReader,
    OrangeReader,
    find_hartwig_files,
)
from genofed.store import NodeStore
from genofed.synth import synthesise
from genofed.synth._hartwig import write_hartwig_cohort

DATA = REPO / "tests" / "data" / "hartwig"


def _ingest(store: NodeStore, reader: HartwigReader | OrangeReader | HartwigClinicalReader) -> None:
    store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _rows(store: NodeStore, sql: str, *params: object) -> list[dict[str, object]]:
    return store.execute(sql, list(params)).to_pylist()


@pytest.fixture
def colo829() -> Path:
    return fixture_path("hartwig", "colo829")


@pytest.fixture
def colo829_store(store: NodeStore, colo829: Path) -> NodeStore:
    _ingest(store, HartwigReader(colo829))
    return store


# -- the COLO829 OncoAnalyser folder -------------------------------------------------------------------


def test_hartwig_reader__colo829_driver_catalog_in_store(colo829_store: NodeStore, colo829: Path) -> None:
    source = _tsv(colo829 / "purple" / "tumor_sample.purple.driver.catalog.somatic.tsv")
    stored = _rows(colo829_store, "SELECT * FROM drivers WHERE origin = 'somatic'")
    for entry in source:
        match = [
            d
            for d in stored
            if d["gene"] == entry["gene"]
            and d["transcript"] == entry["transcript"]
            and d["driver"] == entry["driver"]
        ]
        assert len(match) == 1, entry
        row = match[0]
        assert row["likelihood_method"] == entry["likelihoodMethod"]
        assert row["driver_likelihood"] == pytest.approx(float(entry["driverLikelihood"]))
        assert row["biallelic"] is (entry["biallelic"] == "true")
        assert row["min_copy_number"] == pytest.approx(float(entry["minCopyNumber"]))
        assert row["max_copy_number"] == pytest.approx(float(entry["maxCopyNumber"]))
        assert row["category"] == entry["category"]
    by_gene = {(d["gene"], d["driver"]): d for d in stored if d["canonical"]}
    assert by_gene[("BRAF", "MUTATION")]["likelihood_method"] == "HOTSPOT"
    assert by_gene[("TERT", "MUTATION")]["likelihood_method"] == "HOTSPOT"
    assert by_gene[("CDKN2A", "MUTATION")]["biallelic"] is True
    assert by_gene[("PTEN", "DEL")]["min_copy_number"] == 0.0
    # LINX's catalog repeats PURPLE's entries: each is stored once, plus LINX's own DISRUPTION.
    assert len(stored) == len(source) + 1
    assert by_gene[("PTEN", "DISRUPTION")]["likelihood_method"] == "DISRUPTION"


def test_hartwig_reader__colo829_biomarkers_are_the_purity_table(
    colo829_store: NodeStore, colo829: Path
) -> None:
    (fit,) = _tsv(colo829 / "purple" / "tumor_sample.purple.purity.tsv")
    stored = {r["name"]: r for r in _rows(colo829_store, "SELECT * FROM biomarkers")}
    assert stored["PURITY"]["value"] == float(fit["purity"])
    assert stored["PLOIDY"]["value"] == float(fit["ploidy"])
    assert stored["TMB"]["value"] == float(fit["tmbPerMb"])
    assert stored["TMB"]["status"] == fit["tmbStatus"]
    assert stored["TMB"]["unit"] == "mutations/Mb"
    assert stored["MSI"]["value"] == float(fit["msIndelsPerMb"])
    assert stored["MSI"]["status"] == fit["msStatus"]
    assert stored["TML"]["value"] == float(fit["tml"])
    assert stored["WGD"]["status"] == ("WGD" if fit["wholeGenomeDuplication"] == "true" else "NO_WGD")
    (chord,) = _tsv(colo829 / "chord" / "tumor_sample.chord.prediction.tsv")
    assert stored["HRD"]["value"] == float(chord["p_hrd"])
    assert stored["HRD"]["status"] == chord["hr_status"].upper()
    alleles = sorted(
        r["status"] for r in _rows(colo829_store, "SELECT status FROM biomarkers WHERE name LIKE 'HLA-%'")
    )
    assert alleles == sorted(r["Allele"] for r in _tsv(colo829 / "lilac" / "tumor_sample.lilac.tsv"))


def test_hartwig_reader__colo829_pten_deletion_is_a_reported_copy_number(
    colo829_store: NodeStore, colo829: Path
) -> None:
    segments = _tsv(colo829 / "purple" / "tumor_sample.purple.cnv.somatic.tsv")
    deleted = [s for s in segments if s["chromosome"] == "10" and float(s["copyNumber"]) < 0.5]
    assert len(deleted) == 1
    (pten,) = _rows(colo829_store, "SELECT * FROM copy_numbers WHERE gene = 'PTEN'")
    assert (pten["chrom"], pten["start"], pten["end"]) == (
        "10",
        int(deleted[0]["start"]) - 1,
        int(deleted[0]["end"]),
    )
    assert (pten["event"], pten["reported"], pten["copy_number"]) == ("DEL", True, 0.0)
    count = _rows(colo829_store, "SELECT count(*) AS n FROM copy_numbers WHERE gene IS NULL")[0]["n"]
    assert count == len(segments)


def test_hartwig_reader__colo829_analyses_and_specimens(colo829_store: NodeStore, colo829: Path) -> None:
    analyses = {r["origin"]: r for r in _rows(colo829_store, "SELECT * FROM analyses")}
    qc = dict(
        line.split("\t") for line in (colo829 / "purple" / "tumor_sample.purple.qc").read_text().splitlines()
    )
    somatic = analyses["somatic"]
    assert somatic["pipeline"] == "oncoanalyser"
    assert somatic["pipeline_version"] == (colo829 / "pipeline.version").read_text().strip()
    assert somatic["qc_status"] == qc["QCStatus"]
    assert somatic["reference_assembly"] == "GRCh37"
    assert somatic["mean_coverage"] == float(qc["AmberMeanDepth"])
    assert analyses["germline"]["specimen_id"] == somatic["normal_specimen_id"]
    types = sorted(r["specimen_type"] for r in _rows(colo829_store, "SELECT specimen_type FROM specimens"))
    assert types == ["normal", "tumour"]


def test_hartwig_reader__colo829_germline_calls_match_bcftools(
    colo829_store: NodeStore, colo829: Path
) -> None:
    vcf = colo829 / "purple" / "tumor_sample.purple.germline.vcf"
    out = subprocess.run(
        [
            "bcftools",
            "query",
            "-s",
            "ref_sample",
            "-i",
            'GT="alt"',
            "-f",
            "%CHROM\t%POS\t%REF\t%ALT\n",
            str(vcf),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    calls = _rows(colo829_store, "SELECT count(*) AS n FROM variant_calls WHERE origin = 'germline'")[0]["n"]
    assert calls == len(out)
    (site,) = _rows(colo829_store, "SELECT * FROM variant_sites WHERE chrom = '1' AND start = 2488152")
    assert (site["gene"], site["protein_change"], site["consequence"]) == (
        "TNFRSF14",
        "p.K17R",
        "missense_variant",
    )
    assert site["allele_number"] == 2  # the reference sample only: the tumour column is uncalled


def test_hartwig_reader__colo829_fusions(colo829_store: NodeStore, colo829: Path) -> None:
    fusions = _tsv(colo829 / "linx" / "tumor_sample.linx.fusion.tsv")
    stored = _rows(colo829_store, "SELECT * FROM structural_variants WHERE sv_type = 'FUSION'")
    assert sorted((f["gene_5p"], f["gene_3p"]) for f in stored) == sorted(
        (f["geneStart"], f["geneEnd"]) for f in fusions
    )
    assert sum(bool(f["reported"]) for f in stored) == sum(f["reported"] == "true" for f in fusions)


# -- the small-VCF folder and the ORANGE JSON ---------------------------------------------------------


def test_hartwig_reader__small_vcf_folder_somatic_calls(store: NodeStore) -> None:
    folder = fixture_path("hartwig", "colo829_small_vcf")
    reader = HartwigReader(folder)
    _ingest(store, reader)
    assert reader.summary.layout == "flat"
    assert reader.summary.reference_sample == "COLO829v003R"
    vcf = folder / "TUMOR_SAMPLE.purple.somatic.vcf.gz"
    tumour_alts = subprocess.run(
        [
            "bcftools",
            "query",
            "-s",
            "COLO829v003T",
            "-i",
            'GT="alt"',
            "-f",
            "%POS\t%INFO/REPORTED\n",
            str(vcf),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    calls = _rows(store, "SELECT * FROM variant_calls WHERE origin = 'somatic'")
    assert len(calls) == len(tumour_alts)
    reported = {int(line.split("\t")[0]) for line in tumour_alts if line.split("\t")[1] == "1"}
    assert {c["start"] + 1 for c in calls if c["reported"]} == reported
    (egfr,) = _rows(store, "SELECT * FROM variant_sites WHERE gene = 'EGFR'")
    assert egfr["protein_change"] == "p.T790M"
    (virus,) = _rows(store, "SELECT * FROM biomarkers WHERE name = 'VIRUS'")
    assert (virus["status"], virus["value"]) == ("MCV", 2.0)


def test_orange_reader__values_of_the_json(store: NodeStore) -> None:
    path = fixture_path("hartwig", "real.orange.json")
    report = json.loads(path.read_text())
    _ingest(store, HartwigReader(path))
    stored = {r["name"]: r for r in _rows(store, "SELECT * FROM biomarkers")}
    assert stored["PURITY"]["value"] == report["purple"]["fit"]["purity"]
    assert stored["PLOIDY"]["value"] == report["purple"]["fit"]["ploidy"]
    chars = report["purple"]["characteristics"]
    assert stored["TMB"]["value"] == chars["tumorMutationalBurdenPerMb"]
    assert stored["MSI"]["status"] == chars["microsatelliteStatus"]
    (analysis,) = _rows(store, "SELECT * FROM analyses")
    assert analysis["reference_assembly"] == "GRCh37"
    assert analysis["qc_status"] == "PASS"
    (call,) = _rows(store, "SELECT * FROM variant_calls")
    variant = report["purple"]["somaticVariants"][0]
    assert (call["start"], call["reported"]) == (variant["position"] - 1, True)
    assert call["depth"] == variant["tumorDepth"]["totalReadCount"]


def test_query_count__orange_sf3b1_p718l(tmp_path: Path) -> None:
    path = fixture_path("hartwig", "real.orange.json")
    with NodeStore.open(tmp_path / "store", create=True) as node:
        _ingest(node, OrangeReader(path))
    runner = CliRunner()
    args = ["query", "count", "--store", str(tmp_path / "store"), "--gene", "SF3B1", "--format", "json"]
    found = runner.invoke(app, [*args, "--protein-change", "p.P718L"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["count"] == 1
    other = runner.invoke(app, [*args, "--protein-change", "p.K700E"])
    assert json.loads(other.output)["count"] == 0


def test_hartwig_reader__folder_and_orange_agree(colo829_store: NodeStore, tmp_path: Path) -> None:
    with NodeStore.open(tmp_path / "orange", create=True) as orange:
        _ingest(orange, OrangeReader(fixture_path("hartwig", "real.orange.json")))
        for name in ("PURITY", "PLOIDY", "TMB", "TML", "MSI", "HRD"):
            query = "SELECT value, status FROM biomarkers WHERE name = ?"
            assert _rows(orange, query, name) == _rows(colo829_store, query, name), name


# -- layouts ----------------------------------------------------------------------------------------


def test_hartwig_reader__purple_v2_layout(colo829_store: NodeStore, tmp_path: Path) -> None:
    reader = HartwigReader(DATA / "purple_v2")
    with NodeStore.open(tmp_path / "v2", create=True) as v2:
        _ingest(v2, reader)
        assert reader.summary.purple_layout == "PURPLE v2"
        assert reader.summary.purple_version == "2.25"
        assert set(reader.summary.files.values()) == {"PURPLE v2"}
        query = (
            "SELECT name, value, status FROM biomarkers "
            "WHERE name IN ('PURITY','PLOIDY','TMB','TML','MSI') ORDER BY name"
        )
        assert _rows(v2, query) == _rows(colo829_store, query)
        minor = "SELECT sum(minor_allele_copy_number) AS m FROM copy_numbers WHERE gene IS NULL"
        assert _rows(v2, minor) == _rows(colo829_store, minor)
        (pten,) = _rows(v2, "SELECT event, start, reported FROM copy_numbers WHERE gene = 'PTEN'")
        assert pten == {"event": "DEL", "start": 89700299, "reported": True}
    assert HartwigReader(fixture_path("hartwig", "colo829")).summary.layout == "oncoanalyser"


# -- bad input --------------------------------------------------------------------------------------


def _catalog_ids(store: NodeStore) -> list[str]:
    return [b.batch_id for b in store.catalog.batches]


def test_hartwig_reader__missing_purity_table(colo829: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sample"
    shutil.copytree(colo829, folder)
    (folder / "purple" / "tumor_sample.purple.purity.tsv").unlink()
    with pytest.raises(
        FormatError, match=r"sample, field 'purple.purity.tsv': no PURPLE purity table.*mandatory"
    ):
        HartwigReader(folder)


def test_hartwig_reader__renamed_required_column(colo829_store: NodeStore, tmp_path: Path) -> None:
    before = _catalog_ids(colo829_store)
    reader = HartwigReader(DATA / "renamed_column")
    with pytest.raises(
        FormatError, match=r"COLO829T.purple.purity.tsv, line 1, field 'purity': required column 'purity'"
    ):
        _ingest(colo829_store, reader)
    assert _catalog_ids(colo829_store) == before


def test_hartwig_reader__purity_outside_0_1(colo829_store: NodeStore) -> None:
    before = _catalog_ids(colo829_store)
    with pytest.raises(
        FormatError, match=r"purity.tsv, line 2, field 'purity': purity '1.2000' is outside 0-1"
    ):
        _ingest(colo829_store, HartwigReader(DATA / "purity_out_of_range"))
    assert _catalog_ids(colo829_store) == before


def test_hartwig_reader__bad_vcf_line_publishes_nothing(colo829: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sample"
    shutil.copytree(colo829, folder)
    vcf = folder / "purple" / "tumor_sample.purple.germline.vcf"
    vcf.chmod(0o644)
    lines = vcf.read_text().splitlines(keepends=True)
    last = len(lines)
    lines[-1] = "\t".join(lines[-1].split("\t")[:9]) + "\n"  # the sample columns are gone
    vcf.write_text("".join(lines))
    with NodeStore.open(tmp_path / "store", create=True) as node:
        with pytest.raises(FormatError, match=rf"germline.vcf, line {last}"):
            _ingest(node, HartwigReader(folder))
        assert node.catalog.batches == ()


def test_find_hartwig_files__several_samples(tmp_path: Path) -> None:
    for sample in ("A_T", "B_T"):
        shutil.copy(
            DATA / "purity_out_of_range" / "COLO829T.purple.purity.tsv",
            tmp_path / f"{sample}.purple.purity.tsv",
        )
    with pytest.raises(FormatError, match="several samples"):
        find_hartwig_files(tmp_path)
    assert find_hartwig_files(tmp_path, tumour_sample="B_T").tumour == "B_T"


# -- clinical tables and the synthetic NL cohort -------------------------------------------------------


def test_hartwig_clinical_reader__first_biopsy_and_original_names(store: NodeStore, tmp_path: Path) -> None:
    metadata = tmp_path / "metadata.tsv"
    metadata.write_text(
        "#patientId\tsampleId\tprimaryTumorLocation\tcancerSubtype\tbiopsyDate\tbiopsySite\tgender\tbirthYear\tdeathDate\n"
        "P1\tP1TII\tSkin\tMelanoma\t2019-05-01\tLiver\tmale\t1960\t\n"
        "P1\tP1T\tSkin\tMelanoma\t2018-01-10\tLymph node\tmale\t1960\t2020-01-10\n"
        "P2\tP2T\tLung\tNon-small cell carcinoma\t2019-03-03\tLung\tfemale\t1955\t\n"
    )
    responses = tmp_path / "treatment_responses.tsv"
    responses.write_text(
        "patientId\tsampleId\tresponseDate\tmeasurementDone\tresponse\n"
        "P1\tP1T\t2018-03-10\tYes\tPR\nP2\tP2T\t2019-05-01\tNo\t\nP2\tP2T\t2019-06-01\tYes\tNon-CR/Non-PD\n"
    )
    reader = HartwigClinicalReader([metadata, responses])
    _ingest(store, reader)
    individuals = _rows(store, "SELECT * FROM individuals")
    assert len(individuals) == 2
    (dead,) = [i for i in individuals if i["vital_status"] == "deceased"]
    assert dead["overall_survival_days"] == 730  # from the first biopsy, 2018-01-10
    assert sorted(r["tumour_type"] for r in _rows(store, "SELECT tumour_type FROM diagnoses")) == [
        "LUNG",
        "SKIN",
    ]
    assert sorted((r["recist"], r["day"]) for r in _rows(store, "SELECT * FROM responses")) == [
        ("PR", 59),
        ("SD", 90),
    ]
    info = HartwigMetadata(metadata).samples
    assert (info["P1TII"].patient, info["P2T"].tumour_type, info["P1T"].tissue) == (
        "P1",
        "LUNG",
        "Lymph node",
    )

    metadata.write_text(metadata.read_text().replace("Lung\tNon", "Atlantis\tNon"))
    with pytest.raises(CodeError, match=rf"{metadata}, line 4, field 'primaryTumorLocation': 'Atlantis'"):
        list(HartwigClinicalReader([metadata]).chunks())


def test_write_hartwig_cohort__round_trip(tmp_path: Path) -> None:
    cohort = synthesise("NL", 6, seed=5, germline_sites=200)
    manifest = write_hartwig_cohort(cohort, tmp_path / "nl")
    clinical = HartwigClinicalReader(manifest.clinical_tables, manifest.mapping)
    info = clinical.sample_info()
    with NodeStore.open(tmp_path / "store", create=True) as node:
        _ingest(node, clinical)
        for folder in manifest.samples:
            reader = HartwigReader(folder, sample_info=info)
            _ingest(node, reader)
            assert (reader.summary.layout, reader.summary.purple_layout) == ("oncoanalyser", "PURPLE v4")
        patients = cohort.patients.to_pylist()
        stored = {
            r["tumour_type"]
            for r in _rows(node, "SELECT tumour_type FROM specimens WHERE specimen_type = 'tumour'")
        }
        assert stored == {p["tumour_type"] for p in patients}
        assert len(_rows(node, "SELECT * FROM individuals")) == len(patients)
        # Somatic: every distinct variant of each tumour is one call; drivers are flagged REPORTED.
        somatic = cohort.somatic.to_pylist()
        distinct = {(r["patient_id"], r["chrom"], r["pos"], r["ref"], r["alt"]) for r in somatic}
        assert _rows(node, "SELECT count(*) AS n FROM variant_calls WHERE origin = 'somatic'")[0]["n"] == len(
            distinct
        )
        reported = {
            (r["patient_id"], r["chrom"], r["pos"], r["ref"], r["alt"]) for r in somatic if r["driver"]
        }
        assert _rows(node, "SELECT count(*) AS n FROM variant_calls WHERE reported")[0]["n"] == len(reported)
        # Germline: allele counts and numbers over the node are the cohort's genotypes.
        genotypes = cohort.germline_genotypes
        totals = _rows(
            node,
            "SELECT sum(allele_count) AS ac, sum(allele_number) AS an FROM variant_sites "
            "WHERE origin = 'germline'",
        )[0]
        assert int(totals["ac"]) == int(genotypes[genotypes >= 0].sum())
        assert int(totals["an"]) == int(2 * (genotypes >= 0).sum())
        purities = sorted(
            r["value"] for r in _rows(node, "SELECT value FROM biomarkers WHERE name = 'PURITY'")
        )
        assert purities == sorted(p["purity"] for p in patients)
        assert _rows(node, "SELECT count(*) AS n FROM treatments WHERE atc_code IS NULL")[0]["n"] == 0


def test_ingest_hartwig__cli_folder_dry_run_and_metadata(tmp_path: Path) -> None:
    runner = CliRunner()
    colo829 = fixture_path("hartwig", "colo829")
    dry = runner.invoke(app, ["ingest", "hartwig", str(colo829), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "PURPLE v4" in dry.output
    assert "would succeed" in dry.output
    bad = runner.invoke(app, ["ingest", "hartwig", str(DATA / "purity_out_of_range"), "--dry-run"])
    assert bad.exit_code == 1
    cohort = synthesise("NL", 3, seed=2, germline_sites=50)
    manifest = write_hartwig_cohort(cohort, tmp_path / "nl")
    store = tmp_path / "store"
    result = runner.invoke(
        app,
        [
            "ingest",
            "hartwig",
            str(manifest.directory),
            "--store",
            str(store),
            "--metadata",
            str(manifest.directory),
            "--mapping",
            str(manifest.mapping),
        ],
    )
    assert result.exit_code == 0, result.output
    single = tmp_path / "single"
    one = runner.invoke(
        app, ["ingest", "hartwig", str(manifest.directory), "--store", str(single), "--single-batch"]
    )
    assert one.exit_code == 0, one.output
    count = "SELECT count(*) AS n FROM variant_calls"
    with NodeStore.open(store) as node, NodeStore.open(single) as joined:
        kinds = sorted(b.kind for b in node.catalog.batches)
        assert kinds == ["clinical"] + ["hartwig"] * 3
        assert [b.kind for b in joined.catalog.batches] == ["hartwig"]
        assert _rows(joined, count) == _rows(node, count)
