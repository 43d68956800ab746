"""genofed.synth: reproducible cohorts, valid source files, realistic drivers and outcome signal."""

from __future__ import annotations

import csv
import gzip
import math
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import genofed.synth
from conftest import fixture_path
from genofed.model import TABLES, conform, normalise_protein_change, oncotree
from genofed.synth import Cohort, cohort_chunks, synthesise, write_cohort
from genofed.synth._drivers import driver_genes
from genofed.synth._reference import GENE_SPANS, HOTSPOTS
from genofed.synth._tumours import INTOGEN_CANCER_TYPES, PROFILES

COUNTRIES = ("SE", "NL", "DK")


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Cohort, genofed.synth.SynthManifest]]:
    """A small cohort of each country, written once for the file tests."""
    out = {}
    for country in COUNTRIES:
        cohort = synthesise(country, 40, seed=11, germline_sites=300)
        out[country] = (cohort, write_cohort(cohort, tmp_path_factory.mktemp(country)))
    return out


def _content(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def _km_median(days: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median survival (inf when the curve stays above 0.5)."""
    order = np.argsort(days, kind="stable")
    days, event = days[order], event[order]
    at_risk = len(days)
    survival = 1.0
    for t in np.unique(days):
        here = days == t
        deaths = int(event[here].sum())
        if deaths:
            survival *= 1.0 - deaths / at_risk
            if survival <= 0.5:
                return float(t)
        at_risk -= int(here.sum())
    return float("inf")


def _binomial_tail(k: int, n: int, p: float) -> float:
    """The exact probability of a count at least as far from n*p as k, on k's side (Binomial(n, p))."""

    def pmf(i: int) -> float:
        return math.exp(
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * math.log(p)
            + (n - i) * math.log1p(-p)
        )

    side = range(k, n + 1) if k >= n * p else range(0, k + 1)
    return sum(pmf(i) for i in side)


# -- public face ---------------------------------------------------------------------------------------


def test_synth_all__sorted_and_exported() -> None:
    assert genofed.synth.__all__ == sorted(genofed.synth.__all__)
    for name in genofed.synth.__all__:
        assert hasattr(genofed.synth, name)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"country": "FI", "patients": 5}, "unknown country 'FI'"),
        ({"country": "SE", "patients": 0}, "patients must be at least 1"),
        ({"country": "SE", "patients": 5, "seed": -1}, "seed must be a non-negative"),
    ],
)
def test_synthesise__rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synthesise(**kwargs)  # type: ignore[arg-type]


# -- reproducibility -----------------------------------------------------------------------------------


def test_synthesise__same_seed_same_cohort() -> None:
    a = synthesise("SE", 60, seed=5, germline_sites=200)
    b = synthesise("SE", 60, seed=5, germline_sites=200)
    for name in ("patients", "samples", "somatic", "treatments", "responses", "germline_sites"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert np.array_equal(a.germline_genotypes, b.germline_genotypes)


def test_synthesise__different_seed_or_country_differs() -> None:
    a = synthesise("SE", 60, seed=5, germline_sites=200)
    assert not a.patients.equals(synthesise("SE", 60, seed=6, germline_sites=200).patients)
    nl = synthesise("NL", 60, seed=5, germline_sites=200)
    assert set(nl.patients.column("patient_id").to_pylist()).isdisjoint(
        a.patients.column("patient_id").to_pylist()
    )


def test_write_cohort__same_seed_same_files(tmp_path: Path) -> None:
    first = write_cohort(synthesise("NL", 30, seed=3, germline_sites=100), tmp_path / "a")
    second = write_cohort(synthesise("NL", 30, seed=3, germline_sites=100), tmp_path / "b")
    other = write_cohort(synthesise("NL", 30, seed=4, germline_sites=100), tmp_path / "c")
    for x, y, z in zip(first.files, second.files, other.files, strict=True):
        assert _content(x) == _content(y), x.name
        if x.name != "mapping.yaml":  # the mapping depends on the country only
            assert _content(x) != _content(z), x.name


# -- the cohort itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize("country", COUNTRIES)
def test_synthesise__tumour_types_are_oncotree_codes(country: str) -> None:
    tree = oncotree()
    cohort = synthesise(country, 300, seed=1, germline_sites=10)
    codes = set(cohort.patients.column("tumour_type").to_pylist())
    assert codes <= {t.code for t in tree}
    expected = {t.oncotree for t in PROFILES[cohort.country].tumours}
    assert codes <= expected
    assert len(codes) >= len(expected) - 1  # 300 patients see (nearly) every tumour type of the mix


def test_intogen_cancer_types__map_to_oncotree() -> None:
    tree = oncotree()
    for intogen, code in INTOGEN_CANCER_TYPES.items():
        assert code in tree, intogen


@pytest.mark.parametrize("country", COUNTRIES)
def test_synthesise__sex_consistent_with_tumour_type(country: str) -> None:
    rows = (
        synthesise(country, 1500, seed=2, germline_sites=10)
        .patients.select(["sex", "tumour_type"])
        .to_pylist()
    )
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        by_type[row["tumour_type"]][row["sex"]] += 1
    assert by_type["PRAD"]["female"] == 0
    assert by_type["PRAD"]["male"] > 0
    for female_only in ("HGSOC", "UCEC"):
        assert by_type[female_only]["male"] == 0
    assert by_type["BRCA"]["female"] > 20 * max(1, by_type["BRCA"]["male"]) or by_type["BRCA"]["male"] == 0
    assert by_type["COADREAD"]["male"] > 0
    assert by_type["COADREAD"]["female"] > 0


@pytest.mark.parametrize("country", COUNTRIES)
def test_synthesise__patient_ids_look_national(country: str) -> None:
    pattern = {"SE": r"SE-P\d{6}", "NL": r"CPCT02\d{6}", "DK": r"DK-\d{7}"}[country]
    cohort = synthesise(country, 200, seed=1, germline_sites=10)
    ids = cohort.patients.column("patient_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(pattern, i) for i in ids)
    samples = cohort.samples
    assert set(samples.column("sample").to_pylist()).isdisjoint(ids)
    assert samples.num_rows == 2 * len(ids) == len(set(samples.column("sample").to_pylist()))


def test_synthesise__driver_frequencies_match_intogen() -> None:
    """Each gene's mutated fraction per tumour type matches IntOGen's %_SAMPLES_COHORT (the fixture file)."""
    source = fixture_path("knowledge", "intogen_compendium_cancer_genes.tsv")
    expected: dict[tuple[str, str], float] = {}
    with source.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            expected[(row["COHORT"], row["SYMBOL"])] = float(row["%_SAMPLES_COHORT"])
    checked = 0
    for country, n in (("NL", 6000), ("SE", 3000), ("DK", 2000)):
        cohort = synthesise(country, n, seed=8, germline_sites=1)
        cohort_of = {t.oncotree: t.intogen_cohort for t in PROFILES[cohort.country].tumours}
        tumour = dict(
            zip(
                cohort.patients.column("patient_id").to_pylist(),
                cohort.patients.column("tumour_type").to_pylist(),
                strict=True,
            )
        )
        patients_per_type = Counter(tumour.values())
        drivers = cohort.somatic.filter(cohort.somatic.column("driver"))
        pairs = set(
            zip(drivers.column("patient_id").to_pylist(), drivers.column("gene").to_pylist(), strict=True)
        )
        mutated = Counter((tumour[p], g) for p, g in pairs)
        for code, intogen_cohort in cohort_of.items():
            total = patients_per_type[code]
            for gene in driver_genes(intogen_cohort):
                p = expected[(intogen_cohort, gene.gene)]  # the fixture's value, not the packaged copy's
                hits = mutated[(code, gene.gene)]
                # Some 600 genes are checked: a tail probability below 1e-6 is not chance.
                assert _binomial_tail(hits, total, p) > 1e-6, (country, code, gene.gene, hits / total, p)
                checked += 1
            # no gene is mutated that the cohort does not list
            assert {g for c, g in mutated if c == code} <= {g.gene for g in driver_genes(intogen_cohort)}
        # Frequent drivers are never missing: KRAS in colorectal, BRAF in melanoma, TP53 in ovary.
        for code, symbol in (("COADREAD", "KRAS"), ("SKCM", "BRAF"), ("HGSOC", "TP53")):
            assert mutated[(code, symbol)] > 0
    assert checked > 200


def test_hotspots__real_coordinates_inside_their_genes() -> None:
    spots = {(h.gene, h.label): h for h in HOTSPOTS}
    v600e = spots[("BRAF", "V600E")]
    assert (v600e.chrom, v600e.pos, v600e.ref, v600e.alt) == ("7", 140753336, "A", "T")
    g12d = spots[("KRAS", "G12D")]
    assert (g12d.chrom, g12d.pos, g12d.ref, g12d.alt) == ("12", 25245350, "C", "T")
    for h in HOTSPOTS:
        span = GENE_SPANS[h.gene]
        assert span.chrom == h.chrom, h
        assert span.start <= h.pos <= span.end, h
        assert len(h.ref) >= 1
        assert len(h.alt) >= 1
        assert h.ref != h.alt


def test_synthesise__kras_shortens_colorectal_survival() -> None:
    cohort = synthesise("NL", 2000, seed=21, germline_sites=1)
    patients = cohort.patients
    crc = {
        p
        for p, t in zip(
            patients.column("patient_id").to_pylist(), patients.column("tumour_type").to_pylist(), strict=True
        )
        if t == "COADREAD"
    }
    drivers = cohort.somatic.filter(
        pc.and_(cohort.somatic.column("driver"), pc.equal(cohort.somatic.column("gene"), "KRAS"))
    )
    kras = set(drivers.column("patient_id").to_pylist()) & crc
    ids = np.array(patients.column("patient_id").to_pylist())
    days = patients.column("os_days").to_numpy()
    event = patients.column("deceased").to_numpy(zero_copy_only=False)
    is_crc = np.isin(ids, list(crc))
    is_kras = np.isin(ids, list(kras))
    assert is_kras.sum() > 80
    assert (is_crc & ~is_kras).sum() > 80
    mutant = _km_median(days[is_kras], event[is_kras])
    wild_type = _km_median(days[is_crc & ~is_kras], event[is_crc & ~is_kras])
    assert mutant < 0.85 * wild_type


def test_synthesise__braf_mek_melanoma_responds_and_lives_longer() -> None:
    cohort = synthesise("NL", 4000, seed=22, germline_sites=1)
    somatic = cohort.somatic
    v600 = set(
        somatic.filter(pc.is_in(somatic.column("hotspot"), pa.array(["V600E", "V600K"])))
        .column("patient_id")
        .to_pylist()
    )
    melanoma = {
        p
        for p, t in zip(
            cohort.patients.column("patient_id").to_pylist(),
            cohort.patients.column("tumour_type").to_pylist(),
            strict=True,
        )
        if t == "SKCM"
    }
    first = cohort.treatments.filter(pc.equal(cohort.treatments.column("line"), 1)).to_pylist()
    braf_mek = {r["patient_id"] for r in first if r["atc_code"].startswith(("L01EC", "L01EE"))}
    other = {r["patient_id"] for r in first} - braf_mek
    targeted, untargeted = v600 & melanoma & braf_mek, v600 & melanoma & other
    assert len(targeted) > 40
    assert len(untargeted) > 40
    responses = {(r["patient_id"]): r["recist"] for r in cohort.responses.to_pylist() if r["line"] == 1}

    def response_rate(group: set[str]) -> float:
        seen = [responses[p] for p in group if p in responses]
        return sum(r in ("CR", "PR") for r in seen) / len(seen)

    assert response_rate(targeted) > response_rate(untargeted) + 0.2
    ids = np.array(cohort.patients.column("patient_id").to_pylist())
    days = cohort.patients.column("os_days").to_numpy()
    event = cohort.patients.column("deceased").to_numpy(zero_copy_only=False)

    def death_rate(group: set[str]) -> float:
        members = np.isin(ids, list(group))
        return float(event[members].sum() / days[members].sum())

    assert death_rate(targeted) < 0.85 * death_rate(untargeted)


def test_synthesise__follow_up_and_treatments_consistent() -> None:
    cohort = synthesise("SE", 500, seed=4, germline_sites=1)
    p = cohort.patients
    assert pc.all(pc.less_equal(p.column("last_contact_date"), pa.scalar(cohort.data_cut))).as_py()
    deceased = p.column("deceased").to_pylist()
    assert any(deceased)
    assert not all(deceased)
    assert [d is not None for d in p.column("death_date").to_pylist()] == deceased
    follow_up = dict(zip(p.column("patient_id").to_pylist(), p.column("os_days").to_pylist(), strict=True))
    for row in cohort.treatments.to_pylist():
        assert 0 <= row["start_day"] <= follow_up[row["patient_id"]]
        assert row["end_day"] is None or row["start_day"] <= row["end_day"] <= follow_up[row["patient_id"]]


# -- the files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("country", COUNTRIES)
def test_write_cohort__vcfs_parse_with_cyvcf2(
    country: str, written: dict[str, tuple[Cohort, object]]
) -> None:
    from cyvcf2 import VCF

    cohort, manifest = written[country]
    assert isinstance(manifest, genofed.synth.SynthManifest)
    for vcf_path, sheet_path in (
        (manifest.germline_vcf, manifest.germline_samples),
        (manifest.somatic_vcf, manifest.somatic_samples),
    ):
        assert Path(f"{vcf_path}.tbi").is_file()
        with sheet_path.open() as handle:
            sheet = list(csv.DictReader(handle, delimiter="\t"))
        vcf = VCF(str(vcf_path))
        assert vcf.samples == [row["sample"] for row in sheet]
        assert {row["individual"] for row in sheet} == set(cohort.patients.column("patient_id").to_pylist())
        assert "##reference=GRCh38" in vcf.raw_header
        assert "##contig=<ID=chr1,length=248956422,assembly=GRCh38>" in vcf.raw_header
        last: tuple[int, int] = (-1, -1)
        order = {f"chr{c}": i for i, c in enumerate([*map(str, range(1, 23)), "X", "Y", "MT"])}
        short_an = 0
        for record in vcf:
            key = (order[record.CHROM], record.POS)
            assert key >= last
            last = key
            if vcf_path == manifest.germline_vcf:
                gt = record.gt_types  # 0 hom-ref, 1 het, 2 unknown, 3 hom-alt
                called = gt != 2
                assert record.INFO["AN"] == 2 * called.sum()
                assert record.INFO["AC"] == (gt == 1).sum() + 2 * (gt == 3).sum()
                short_an += record.INFO["AN"] < 2 * len(vcf.samples)
        if vcf_path == manifest.germline_vcf:
            assert short_an > 0  # some sites have missing genotypes
        vcf.close()


def test_write_cohort__somatic_csq_names_genes_and_protein_changes(tmp_path: Path) -> None:
    from cyvcf2 import VCF

    cohort = synthesise("NL", 400, seed=9, germline_sites=10)
    manifest = write_cohort(cohort, tmp_path)
    vcf = VCF(str(manifest.somatic_vcf))
    header = vcf.get_header_type("CSQ")["Description"]
    fields = header.split("Format: ")[1].strip('"').split("|")
    assert fields[:12] == [
        "Allele",
        "Consequence",
        "IMPACT",
        "SYMBOL",
        "Gene",
        "Feature_type",
        "Feature",
        "BIOTYPE",
        "EXON",
        "INTRON",
        "HGVSc",
        "HGVSp",
    ]
    found: dict[tuple[str, str], int] = {}
    for record in vcf:
        csq = dict(zip(fields, record.INFO["CSQ"].split("|"), strict=True))
        carriers = int((record.gt_types == 1).sum())
        assert carriers >= 1
        if csq["HGVSp"]:
            found[(csq["SYMBOL"], csq["HGVSp"])] = carriers
        if (record.CHROM, record.POS, record.REF, record.ALT[0]) == ("chr7", 140753336, "A", "T"):
            assert (csq["SYMBOL"], csq["HGVSp"], csq["Consequence"]) == (
                "BRAF",
                "p.Val600Glu",
                "missense_variant",
            )
    vcf.close()
    expected = cohort.somatic.filter(pc.equal(cohort.somatic.column("hotspot"), "V600E"))
    assert found[("BRAF", "p.Val600Glu")] == expected.num_rows > 0


@pytest.mark.bcftools
@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools is not on PATH")
@pytest.mark.parametrize("country", COUNTRIES)
def test_write_cohort__vcfs_pass_bcftools(country: str, written: dict[str, tuple[Cohort, object]]) -> None:
    _, manifest = written[country]
    assert isinstance(manifest, genofed.synth.SynthManifest)
    for path in (manifest.germline_vcf, manifest.somatic_vcf):
        run = subprocess.run(
            ["bcftools", "view", "-Ou", "-o", "/dev/null", str(path)], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert run.stderr == ""
        # Sorted and indexed: a region query through the index works.
        region = subprocess.run(
            ["bcftools", "view", "-H", "-r", "chr1", str(path)], capture_output=True, text=True
        )
        assert region.returncode == 0, region.stderr
        assert region.stderr == ""
        samples = subprocess.run(
            ["bcftools", "query", "-l", str(path)], capture_output=True, text=True
        ).stdout.split()
        sheet = manifest.germline_samples if path == manifest.germline_vcf else manifest.somatic_samples
        assert samples == [line.split("\t")[0] for line in sheet.read_text().splitlines()[1:]]


def test_write_cohort__clinical_exports_differ_by_country(written: dict[str, tuple[Cohort, object]]) -> None:
    headers = {}
    for country, (_, manifest) in written.items():
        assert isinstance(manifest, genofed.synth.SynthManifest)
        lines = manifest.patients.read_text(encoding="utf-8").splitlines()
        headers[country] = lines[0].split("\t")
        first = lines[1].split("\t")
        if country == "SE":
            assert first[1] in ("kvinna", "man")
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", first[3])
        elif country == "NL":
            assert first[1] in ("female", "male")
            assert re.fullmatch(r"\d\d-\d\d-\d{4}", first[5])
        else:
            assert first[1] in ("K", "M")
            assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", first[3])
        # The source never writes OncoTree codes for the primary tumour.
        codes = {t.code for t in oncotree()}
        assert not codes & set(first)
    assert len({tuple(h) for h in headers.values()}) == 3


@pytest.mark.parametrize("country", COUNTRIES)
def test_write_cohort__clinical_reader_ingests_with_written_mapping(
    country: str, written: dict[str, tuple[Cohort, object]]
) -> None:
    ingest = pytest.importorskip("genofed.ingest", reason="genofed.ingest is not importable")
    if not hasattr(ingest, "ClinicalReader"):
        pytest.skip("genofed.ingest.ClinicalReader is not there yet")
    cohort, manifest = written[country]
    assert isinstance(manifest, genofed.synth.SynthManifest)
    reader = ingest.ClinicalReader(list(manifest.clinical_tables), manifest.mapping)
    tables: dict[str, list[pa.Table]] = defaultdict(list)
    for name, table in reader.chunks():
        tables[name].append(conform(TABLES[name], table))
    got = {name: pa.concat_tables(parts) for name, parts in tables.items()}
    p = cohort.patients
    individuals = {r["individual_id"]: r for r in got["individuals"].to_pylist()}
    assert set(individuals) == set(p.column("patient_id").to_pylist())
    for row in p.to_pylist():
        ind = individuals[row["patient_id"]]
        assert ind["sex"] == row["sex"]
        assert ind["overall_survival_days"] == row["os_days"]
        assert ind["vital_status"] == ("deceased" if row["deceased"] else "alive")
        if country != "NL":  # NL's export gives only a birth year, which the mapping cannot turn into an age
            assert abs(ind["age_at_diagnosis"] - row["age_at_diagnosis"]) < 1.0
    diagnoses = {r["individual_id"]: r["tumour_type"] for r in got["diagnoses"].to_pylist()}
    assert diagnoses == dict(
        zip(p.column("patient_id").to_pylist(), p.column("tumour_type").to_pylist(), strict=True)
    )
    treatments = got["treatments"]
    assert treatments.num_rows == cohort.treatments.num_rows
    assert sorted(
        zip(
            treatments.column("individual_id").to_pylist(),
            treatments.column("atc_code").to_pylist(),
            treatments.column("start_day").to_pylist(),
            treatments.column("end_day").to_pylist(),
            strict=True,
        )
    ) == sorted(
        zip(
            cohort.treatments.column("patient_id").to_pylist(),
            cohort.treatments.column("atc_code").to_pylist(),
            cohort.treatments.column("start_day").to_pylist(),
            cohort.treatments.column("end_day").to_pylist(),
            strict=True,
        )
    )
    responses = got["responses"]
    assert sorted(
        zip(
            responses.column("individual_id").to_pylist(),
            responses.column("recist").to_pylist(),
            responses.column("day").to_pylist(),
            strict=True,
        )
    ) == sorted(
        zip(
            cohort.responses.column("patient_id").to_pylist(),
            cohort.responses.column("recist").to_pylist(),
            cohort.responses.column("day").to_pylist(),
            strict=True,
        )
    )


@pytest.mark.parametrize("country", COUNTRIES)
def test_write_cohort__vcf_reader_ingests_with_sample_sheets(
    country: str, written: dict[str, tuple[Cohort, object]]
) -> None:
    ingest = pytest.importorskip("genofed.ingest", reason="genofed.ingest is not importable")
    if not hasattr(ingest, "VcfReader"):
        pytest.skip("genofed.ingest.VcfReader is not there yet")
    cohort, manifest = written[country]
    assert isinstance(manifest, genofed.synth.SynthManifest)
    for path, sheet in (
        (manifest.germline_vcf, manifest.germline_samples),
        (manifest.somatic_vcf, manifest.somatic_samples),
    ):
        reader = ingest.VcfReader(path, samples=ingest.SampleSheet.read(sheet))
        rows: Counter[str] = Counter()
        genes: set[str] = set()
        for name, table in reader.chunks():
            rows[name] += conform(TABLES[name], table).num_rows
            if name == "variant_sites":
                genes |= set(table.column("gene").drop_null().to_pylist())
        if path == manifest.somatic_vcf:
            assert rows["variant_calls"] == cohort.somatic.num_rows
            drivers = cohort.somatic.filter(cohort.somatic.column("driver"))
            assert set(drivers.column("gene").to_pylist()) <= genes
        else:
            assert rows["variant_calls"] == int((cohort.germline_genotypes > 0).sum())


# -- the fast path ------------------------------------------------------------------------------------


def test_cohort_chunks__conform_in_order_and_match_synthesise() -> None:
    seen: Counter[str] = Counter()
    last: dict[str, int] = {}
    site_ac: list[int] = []
    for name, table in cohort_chunks(country="DK", patients=300, seed=13, variants_per_patient=2000):
        assert conform(TABLES[name], table).equals(table), name
        seen[name] += table.num_rows
        if name in ("variant_sites", "variant_calls"):
            (chrom,) = pc.unique(table.column("chrom")).to_pylist()
            starts = table.column("start").to_numpy()
            assert (np.diff(starts) >= 0).all()
            key = f"{name}:{chrom}"
            assert starts[0] >= last.get(key, -1)
            last[key] = int(starts[-1])
        if name == "variant_sites":
            germline = table.filter(pc.equal(table.column("origin"), "germline"))
            site_ac.extend(germline.column("allele_count").to_pylist())
            an = germline.column("allele_number").to_numpy()
            assert (an <= 600).all()
        if name == "individuals":
            cohort = synthesise("DK", 300, seed=13, germline_sites=1)
            assert (
                table.column("individual_id").to_pylist() == cohort.patients.column("patient_id").to_pylist()
            )
            assert (
                table.column("overall_survival_days").to_pylist()
                == cohort.patients.column("os_days").to_pylist()
            )
    assert 0.8 * 300 * 2000 < seen["variant_calls"] < 1.2 * 300 * 2000 + 20_000
    # A realistic spectrum: most sites are rare, but most non-reference alleles sit at common sites.
    ac = np.array(site_ac)
    assert (ac / 600 < 0.05).mean() > 0.5
    assert ac[ac / 600 >= 0.05].sum() > 0.7 * ac.sum()


def test_cohort_chunks__writes_a_store(store: object) -> None:
    from genofed.store import NodeStore

    assert isinstance(store, NodeStore)
    info = store.write_stream(
        cohort_chunks(country="SE", patients=50, seed=1, variants_per_patient=500),
        kind="synth",
        source="synth-se",
        key="synth:se",
    )
    assert info.rows["individuals"] == 50
    counts = store.execute(
        "SELECT origin, count(*) AS n FROM variant_calls GROUP BY origin ORDER BY origin"
    ).to_pylist()
    assert [c["origin"] for c in counts] == ["germline", "somatic"]
    stored = {
        (r["gene"], r["protein_change"])
        for r in store.execute(
            "SELECT DISTINCT gene, protein_change FROM variant_sites WHERE protein_change IS NOT NULL"
        ).to_pylist()
    }
    somatic = synthesise("SE", 50, seed=1, germline_sites=1).somatic
    expected = {
        (g, normalise_protein_change(p))
        for g, p in zip(somatic.column("gene").to_pylist(), somatic.column("hgvs_p").to_pylist(), strict=True)
        if p is not None
    }
    assert stored == expected
    assert expected
    carriers = store.execute(
        "SELECT count(DISTINCT individual_id) AS n FROM variant_calls WHERE origin = 'somatic'"
    ).to_pylist()[0]["n"]
    assert carriers == len(set(somatic.column("patient_id").to_pylist()))


def test_cohort_chunks__rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="variants_per_patient must be 0 or more"):
        next(cohort_chunks(country="SE", patients=5, variants_per_patient=-1))
    with pytest.raises(ValueError, match="unknown country"):
        next(cohort_chunks(country="XX", patients=5))
