"""Phenopackets v2: import of the 76 phenopacket-store cases, the round trip back to phenopackets,
HGVS parsing, bad input, the synthetic Danish cohort, and the CLI."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pysam
import pytest
from google.protobuf.json_format import MessageToDict, Parse
from phenopackets.schema.v2.phenopackets_pb2 import Phenopacket
from typer.testing import CliRunner

from conftest import fixture_path
from genofed.cli import _phenopackets as phenopacket_cli
from genofed.cli import app
from genofed.errors import CodeError, FormatError
from genofed.ingest import (
    PhenopacketReader,
    SampleSheet,
    SourceReader,
    VcfReader,
    parse_hgvs,
    phenopacket_meta_data,
    phenopackets_from_tables,
    write_phenopackets,
)
from genofed.model import normalise_assembly, normalise_chromosome, trim_alleles, variant_id
from genofed.store import NodeStore
from genofed.synth import synthesise
from genofed.synth._phenopackets import cohort_phenopackets, write_phenopacket_cohort

DATA = Path(__file__).parent / "data" / "phenopackets"
runner = CliRunner()


def _ingest(store: NodeStore, reader: SourceReader) -> None:
    store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)


def _normalised(packet: dict[str, Any] | str) -> dict[str, Any]:
    """A phenopacket as the protobuf schema reads it (validates; defaults dropped, enums by name)."""
    text = packet if isinstance(packet, str) else json.dumps(packet)
    result: dict[str, Any] = MessageToDict(Parse(text, Phenopacket()))
    return result


def _variants(packet: dict[str, Any]) -> set[tuple[Any, ...]]:
    found = set()
    for interpretation in packet.get("interpretations", []):
        diagnosis = interpretation.get("diagnosis", {})
        for genomic in diagnosis.get("genomicInterpretations", []):
            descriptor = genomic["variantInterpretation"]["variationDescriptor"]
            vcf = descriptor.get("vcfRecord")
            record = (
                (
                    normalise_assembly(vcf["genomeAssembly"]),
                    normalise_chromosome(vcf["chrom"]),
                    int(vcf["pos"]),
                    vcf["ref"],
                    vcf["alt"],
                )
                if vcf
                else None
            )
            found.add(
                (
                    interpretation.get("progressStatus"),
                    json.dumps(diagnosis.get("disease"), sort_keys=True),
                    genomic.get("interpretationStatus"),
                    genomic["variantInterpretation"].get("acmgPathogenicityClassification"),
                    json.dumps(descriptor.get("geneContext"), sort_keys=True),
                    record,
                    frozenset((e["syntax"], e["value"]) for e in descriptor.get("expressions", [])),
                    json.dumps(descriptor.get("allelicState"), sort_keys=True),
                    descriptor.get("moleculeContext"),
                )
            )
    return found


def _features(packet: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {
        (
            f["type"]["id"],
            f["type"].get("label"),
            f.get("excluded", False),
            json.dumps(f.get("onset"), sort_keys=True),
        )
        for f in packet.get("phenotypicFeatures", [])
    }


def _diseases(packet: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {
        (d["term"]["id"], d["term"].get("label"), json.dumps(d.get("onset"), sort_keys=True))
        for d in packet.get("diseases", [])
    }


# -- the 76 real cases -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store_76(tmp_path_factory: pytest.TempPathFactory) -> tuple[NodeStore, Path]:
    folder = fixture_path("phenopackets")
    node = NodeStore.open(tmp_path_factory.mktemp("pp") / "store", create=True)
    _ingest(node, PhenopacketReader(folder, key="phenopacket"))
    return node, folder


def test_phenopacket_reader__ingests_all_76_fixtures(store_76: tuple[NodeStore, Path]) -> None:
    store, folder = store_76
    files = sorted(folder.glob("*.json"))
    assert len(files) == 76
    raw = [json.loads(p.read_text()) for p in files]
    features = Counter(
        (store.pseudonymise(p["id"]), f["type"]["id"], f.get("excluded", False))
        for p in raw
        for f in p.get("phenotypicFeatures", [])
    )
    genomic = [
        (p, g) for p in raw for i in p["interpretations"] for g in i["diagnosis"]["genomicInterpretations"]
    ]
    assert store.execute("SELECT count(*) FROM individuals").column(0)[0].as_py() == 76
    stored = store.execute("SELECT individual_id, hpo_id, excluded FROM phenotypes").to_pylist()
    assert Counter((r["individual_id"], r["hpo_id"], r["excluded"]) for r in stored) == features
    assert store.execute("SELECT count(*) FROM interpretations").column(0)[0].as_py() == len(genomic) == 88
    # Each call: the person, the trimmed allele of the vcfRecord and the GENO zygosity (oracle: the JSON).
    expected = Counter()
    for packet, g in genomic:
        descriptor = g["variantInterpretation"]["variationDescriptor"]
        vcf = descriptor["vcfRecord"]
        start, ref, alt = trim_alleles(vcf["pos"] - 1, vcf["ref"], vcf["alt"])
        zygosity = {"heterozygous": "het", "homozygous": "hom"}[descriptor["allelicState"]["label"]]
        expected[
            (store.pseudonymise(packet["id"]), normalise_chromosome(vcf["chrom"]), start, ref, alt, zygosity)
        ] += 1
    calls = store.execute(
        "SELECT individual_id, chrom, start, ref, alt, zygosity, genotype FROM variant_calls"
    )
    rows = calls.to_pylist()
    assert (
        Counter((r["individual_id"], r["chrom"], r["start"], r["ref"], r["alt"], r["zygosity"]) for r in rows)
        == expected
    )
    assert {(r["zygosity"], r["genotype"]) for r in rows} == {("het", "0/1"), ("hom", "1/1")}
    genes = store.execute(
        "SELECT count(DISTINCT individual_id) FROM variant_calls c "
        "JOIN variant_sites s USING (variant_id) WHERE s.gene = 'FBN1'"
    )
    assert genes.column(0)[0].as_py() == sum(1 for p in files if p.name.startswith("FBN1__"))


def test_phenopacket_round_trip__keeps_subject_diseases_features_variants(
    store_76: tuple[NodeStore, Path], tmp_path: Path
) -> None:
    store, folder = store_76
    written = write_phenopackets(phenopacket_cli.phenopacket_tables(store), tmp_path / "out")
    assert len(written) == 76
    exported = {p.stem: _normalised(p.read_text()) for p in written}  # Parse: each file is a valid v2 packet
    for path in sorted(folder.glob("*.json")):
        original = _normalised(path.read_text())
        pseudonym = store.pseudonymise(original["id"])
        back = exported[pseudonym]
        assert back["id"] == back["subject"]["id"] == pseudonym, path.name
        assert back["subject"].get("sex") == original["subject"].get("sex"), path.name
        assert back["subject"].get("vitalStatus", {}).get("status") == original["subject"].get(
            "vitalStatus", {}
        ).get("status"), path.name
        assert _diseases(back) == _diseases(original), path.name
        assert _features(back) == _features(original), path.name
        assert _variants(back) == _variants(original), path.name
        assert back["metaData"]["phenopacketSchemaVersion"] == "2.0.2"


def test_parse_hgvs__fixture_substitutions_are_their_vcf_records() -> None:
    folder = fixture_path("phenopackets")
    checked = shifted = 0
    for path in sorted(folder.glob("*.json")):
        for interpretation in json.loads(path.read_text())["interpretations"]:
            for g in interpretation["diagnosis"]["genomicInterpretations"]:
                descriptor = g["variantInterpretation"]["variationDescriptor"]
                vcf = descriptor["vcfRecord"]
                genomic = next(
                    parse_hgvs(e["value"]) for e in descriptor["expressions"] if e["syntax"] == "hgvs.g"
                )
                assert genomic.chrom == normalise_chromosome(vcf["chrom"])
                assert genomic.assembly is normalise_assembly(vcf["genomeAssembly"])
                start, ref, alt = trim_alleles(vcf["pos"] - 1, vcf["ref"], vcf["alt"])
                if genomic.edit == "sub":
                    assert genomic.allele() == (start, ref, alt)
                    checked += 1
                elif genomic.edit == "del":
                    # HGVS places a deletion 3'-most, VCF left-aligned: same length, never to the left.
                    assert genomic.end - genomic.start == len(ref)
                    assert genomic.start >= start
                    shifted += 1
    assert checked == 77
    assert shifted == 7


@pytest.mark.parametrize(
    ("text", "kind", "edit"),
    [
        ("NM_001129.5:c.1470del", "c", "del"),
        ("NM_000138.5:c.6163+1G>A", "c", "sub"),
        ("NM_000138.5:c.-12-3A>G", "c", "sub"),
        ("NM_000138.5:c.*45_*47dup", "c", "dup"),
        ("NM_032271.3:c.1496_1497insTG", "c", "ins"),
        ("NM_001129.5:c.1743_1751delinsC", "c", "delins"),
        ("NC_000001.11:g.100_200inv", "g", "inv"),
        ("NC_012920.1:m.3243A>G", "m", "sub"),
        ("NR_003051.3:n.20G>A", "n", "sub"),
        ("NM_000138.5:r.76a>c", "r", "sub"),
        ("NP_065873.2:p.(Gly288Ser)", "p", None),
        ("NP_000129.3:p.Arg97ProfsTer23", "p", None),
        ("NP_000129.3:p.(Gln45del)", "p", None),
        ("NP_000129.3:p.Lys23_Val25del", "p", None),
        ("NP_000129.3:p.Ter110GlnextTer17", "p", None),
        ("NP_000129.3:p.?", "p", None),
        ("p.V600E", "p", None),
    ],
)
def test_parse_hgvs__reads_the_common_forms(text: str, kind: str, edit: str | None) -> None:
    parsed = parse_hgvs(text)
    assert (parsed.kind, parsed.edit) == (kind, edit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("BRAF V600E", "is not an HGVS expression"),
        ("NC_000007.14:g.140753336A>", "cannot read the g. change"),
        ("NC_000007.14:g.140753336_140753337A>T", "a substitution is of one position"),
        ("NC_000007.14:g.10_20insA", "between two adjacent positions"),
        ("NC_000007.14:g.10_12delAC", "spells 2 bases for 3 positions"),
        ("NC_000007.14:g.20_10del", "ascending"),
        ("NM_000138.5:c.[76A>C;83G>C]", "cannot read the c. change"),
        ("NP_000129.3:p.Gly12Foo", "cannot read the protein change"),
    ],
)
def test_parse_hgvs__names_what_it_expected(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_hgvs(text)


def test_parse_hgvs__places_genomic_changes_on_refseq_chromosomes() -> None:
    deletion = parse_hgvs("NC_000010.10:g.1000_1002delACG")  # GRCh37 chr10
    assert (deletion.assembly.value, deletion.chrom, deletion.allele()) == ("GRCh37", "10", (999, "ACG", ""))
    assert parse_hgvs("NC_000023.11:g.5_6insTT").allele() == (5, "", "TT")
    assert parse_hgvs("NC_000001.11:g.10_12inv").allele(lambda c, s, e: "AAC") == (9, "AAC", "GTT")
    assert parse_hgvs("NC_000001.11:g.10dup").allele() is None  # the duplicated base is not spelled
    assert parse_hgvs("NG_012232.1:g.19_21del").chrom is None  # a gene region is not a chromosome


# -- conversion details ----------------------------------------------------------------------------


def test_phenopacket_reader__hgvs_only_variants_times_and_treatments(store: NodeStore) -> None:
    reader = PhenopacketReader(DATA / "hgvs_only.json")
    _ingest(store, reader)
    person = store.pseudonymise("P2")
    # 1980-03-01 to the diagnosis (onset timestamp 2020-01-01): 14550 days; death 2021-01-11: day 376.
    (individual,) = store.execute("SELECT * FROM individuals").to_pylist()
    assert individual["individual_id"] == person
    assert individual["age_at_diagnosis"] == pytest.approx(round(14550 / 365.25, 2), abs=1e-5)
    assert (individual["vital_status"], individual["overall_survival_days"]) == ("deceased", 376)
    features = store.execute(
        "SELECT hpo_id, excluded, onset_day, onset FROM phenotypes ORDER BY hpo_id"
    ).to_pylist()
    assert [tuple(f.values()) for f in features] == [
        ("HP:0000252", False, None, "P1Y/P2Y"),
        ("HP:0001250", False, 10, None),
        ("HP:0001263", True, None, None),
    ]
    (specimen,) = store.execute("SELECT * FROM specimens").to_pylist()
    assert (specimen["specimen_type"], specimen["tissue"], specimen["collection_day"]) == (
        "germline",
        "blood",
        20,
    )
    calls = store.execute(
        "SELECT chrom, start, ref, alt, genotype, alt_copies FROM variant_calls ORDER BY chrom, start"
    )
    assert [tuple(r.values()) for r in calls.to_pylist()] == [
        ("2", 165999999, "C", "T", "0/1", 1),
        ("2", 166000100, "", "GA", "1/1", 2),
        ("X", 999, "ACG", "", "1", 1),
    ]
    sites = store.execute(
        "SELECT variant_id, gene, protein_change, allele_count, allele_number FROM variant_sites"
    )
    by_id = {r["variant_id"]: r for r in sites.to_pylist()}
    snv = by_id[variant_id("GRCh38", "2", 165999999, "C", "T")]
    assert (snv["gene"], snv["protein_change"], snv["allele_count"], snv["allele_number"]) == (
        "SCN1A",
        "p.R1648H",
        0,
        0,
    )
    unplaced = store.execute(
        'SELECT descriptor_id, chrom, start, "end", ref, variant_id, gene FROM interpretations '
        "WHERE variant_id IS NULL ORDER BY descriptor_id NULLS LAST"
    ).to_pylist()
    assert [(r["descriptor_id"], r["chrom"], r["start"], r["end"], r["gene"]) for r in unplaced] == [
        ("v4", "2", 166000199, 166000202, None),  # a dup without its bases: positions only
        ("v5", None, None, None, None),  # c. only
        (None, None, None, None, "SCN2A"),  # a gene, no variant
    ]
    treatments = store.execute(
        "SELECT drug, atc_code, line, start_day, end_day FROM treatments ORDER BY line"
    )
    assert [tuple(t.values()) for t in treatments.to_pylist()] == [
        ("valproic acid", "N03AG01", 1, 31, 181),
        ("levetiracetam", None, 2, 182, None),
    ]
    assert store.execute("SELECT recist, line FROM responses").to_pylist() == [{"recist": "SD", "line": 1}]
    summary = reader.summary
    assert (summary.variants_placed, summary.variants_unplaced, summary.genes_only) == (3, 2, 1)
    assert summary.not_kept == {"medicalActions (procedure)": 1}
    rows = summary.to_rows(reader.source)
    assert any(r.status == "not kept" and "Seizure free" in r.value for r in rows)


def test_phenopacket_reader__fasta_places_unspelled_changes_and_checks_ref(tmp_path: Path) -> None:
    sequence = "ACGTACGTTTGCA" + "G" * 50
    fasta = tmp_path / "ref.fa"
    fasta.write_text(">chr2\n" + sequence + "\n")
    pysam.faidx(str(fasta))
    packet = json.loads((DATA / "valid.json").read_text())
    descriptor = packet["interpretations"][0]["diagnosis"]["genomicInterpretations"][0][
        "variantInterpretation"
    ]["variationDescriptor"]
    del descriptor["vcfRecord"]
    descriptor["expressions"] = [{"syntax": "hgvs.g", "value": "NC_000002.12:g.9_10del"}]
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(packet))
    with NodeStore.open(tmp_path / "store", create=True) as node:
        _ingest(node, PhenopacketReader(path, reference_fasta=fasta))
        # g.9_10 is TT in TTT (8..10, 1-based): left-aligned to start at 1-based 8, i.e. 0-based 7.
        call = node.execute("SELECT start, ref, alt FROM variant_calls").to_pylist()
    assert call == [{"start": 7, "ref": "TT", "alt": ""}]
    descriptor["expressions"] = [{"syntax": "hgvs.g", "value": "NC_000002.12:g.1G>T"}]
    path.write_text(json.dumps(packet))
    with pytest.raises(FormatError, match=r"ref 'G' does not match the reference \('A' at 2:1\)"):
        list(PhenopacketReader(path, reference_fasta=fasta).chunks())


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("malformed.json", FormatError, r"malformed\.json, line 7: malformed JSON: Expecting ',' delimiter"),
        (
            "wrong_type.json",
            FormatError,
            r"wrong_type\.json, field 'interpretations\[0\]\.diagnosis\.genomicInterpretations\[0\]\."
            r"variantInterpretation\.variationDescriptor\.vcfRecord\.pos': .*valid integer.*\"abc\"",
        ),
        ("wrong_type_bool.json", FormatError, r"field 'phenotypicFeatures\[1\]\.excluded': .*valid boolean"),
        (
            "unknown_field.json",
            FormatError,
            r"field 'subject\.nmae': not a valid v2 phenopacket: unknown field",
        ),
        ("bad_enum.json", FormatError, r"field 'subject\.sex': .*'FEMALE', 'MALE'.*\"BOY\""),
        (
            "bad_hgvs.json",
            FormatError,
            r"bad_hgvs\.json, field '.*variationDescriptor\.expressions\[1\]\.value': "
            r"'NC_000007\.14:g\.44111533C>': cannot read the g\. change",
        ),
        (
            "not_hpo.json",
            CodeError,
            r"field 'phenotypicFeatures\[0\]\.type\.id': phenotypes\.hpo_id.*MONDO:0005027",
        ),
    ],
)
def test_phenopacket_reader__bad_input_names_file_and_field(
    name: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        list(PhenopacketReader(DATA / name).chunks())


@pytest.mark.parametrize("bad", ["malformed.json", "bad_hgvs.json", "not_hpo.json"])
def test_phenopacket_reader__a_bad_file_leaves_the_store_unchanged(
    store: NodeStore, tmp_path: Path, bad: str
) -> None:
    _ingest(store, PhenopacketReader(DATA / "hgvs_only.json"))
    before = store.catalog
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(DATA / "valid.json", folder / "a_valid.json")
    shutil.copy(DATA / bad, folder / bad)
    with pytest.raises((FormatError, CodeError), match=bad.replace(".", r"\.")):
        _ingest(store, PhenopacketReader(folder))
    assert store.catalog == before
    assert not any((store.root / "staging").iterdir())
    assert store.execute("SELECT count(*) FROM individuals").column(0)[0].as_py() == 1


def test_phenopacket_reader__one_subject_in_two_files_is_an_error(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        packet = json.loads((DATA / "valid.json").read_text())
        packet["id"] = name
        (tmp_path / name).write_text(json.dumps(packet))
    with pytest.raises(
        FormatError,
        match=r"b\.json, field 'subject\.id': 'P1' is also the subject\.id of a\.json.*--key phenopacket",
    ):
        _ = PhenopacketReader(tmp_path).batch_key
    assert PhenopacketReader(tmp_path, key="phenopacket").individuals == ("a.json", "b.json")


def test_phenopacket_reader__missing_path_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="not found"):
        PhenopacketReader(tmp_path / "nope.json")
    with pytest.raises(FormatError, match=r"holds no \.json phenopacket"):
        PhenopacketReader(tmp_path)


# -- export ----------------------------------------------------------------------------------------


def test_phenopackets_from_tables__validates_and_lists_resources(store: NodeStore) -> None:
    _ingest(store, PhenopacketReader(DATA / "hgvs_only.json"))
    (packet,) = phenopackets_from_tables(phenopacket_cli.phenopacket_tables(store))
    normalised = _normalised(packet)
    prefixes = {r["namespacePrefix"] for r in normalised["metaData"]["resources"]}
    assert prefixes == {"HP", "MONDO", "HGNC", "GENO", "UBERON", "ATC", "NCIT"}
    assert normalised["phenotypicFeatures"][2]["onset"] == {
        "ageRange": {"start": {"iso8601duration": "P1Y"}, "end": {"iso8601duration": "P2Y"}}
    }
    (biosample,) = normalised["biosamples"]
    assert biosample["sampledTissue"] == {"id": "UBERON:0000178", "label": "blood"}
    actions = normalised["medicalActions"]
    assert [a["treatment"]["agent"].get("id") for a in actions] == ["ATC:N03AG01", None]
    assert actions[0]["responseToTreatment"] == {"id": "NCIT:C18213", "label": "Stable Disease"}
    # HGVS-placed variants keep their expressions and get no vcfRecord (they had none).
    genomic = normalised["interpretations"][0]["diagnosis"]["genomicInterpretations"]
    assert all(
        "vcfRecord" not in g.get("variantInterpretation", {}).get("variationDescriptor", {}) for g in genomic
    )
    assert genomic[0]["subjectOrBiosampleId"] == store.pseudonymise("S1")
    assert genomic[5] == {
        "subjectOrBiosampleId": store.pseudonymise("P2"),
        "interpretationStatus": "CANDIDATE",
        "gene": {"valueId": "HGNC:10588", "symbol": "SCN2A"},
    }


def test_phenopacket_meta_data__one_resource_per_prefix() -> None:
    meta = phenopacket_meta_data({"a": {"id": "HP:0000001"}, "b": [{"valueId": "HGNC:1"}, {"id": "FOO:1"}]})
    assert [r["namespacePrefix"] for r in meta["resources"]] == ["HGNC", "HP"]
    assert meta["created"].endswith("Z")


# -- the synthetic Danish cohort -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, NodeStore]:
    cohort = synthesise("DK", 60, seed=11)
    out = tmp_path_factory.mktemp("dk")
    manifest = write_phenopacket_cohort(cohort, out / "sources")
    node = NodeStore.open(out / "store", create=True)
    _ingest(node, PhenopacketReader(manifest.phenopackets))
    _ingest(node, VcfReader(manifest.somatic_vcf, samples=SampleSheet.read(manifest.somatic_samples)))
    return cohort, manifest, node


def test_write_phenopacket_cohort__every_file_is_a_valid_phenopacket(dk: tuple[Any, Any, NodeStore]) -> None:
    cohort, manifest, _ = dk
    packets = sorted(manifest.phenopackets.glob("*.json"))
    assert len(packets) == manifest.patient_count == cohort.patients.num_rows
    for path in packets:
        _normalised(path.read_text())
    assert all(p.exists() for p in manifest.files)
    assert cohort_phenopackets(cohort)[0] == json.loads(packets[0].read_text())  # deterministic


def test_write_phenopacket_cohort__ingest_gives_the_cohort_back(dk: tuple[Any, Any, NodeStore]) -> None:
    cohort, _, node = dk
    pseudonym = node.pseudonymise
    patients = {pseudonym(p["patient_id"]): p for p in cohort.patients.to_pylist()}
    people = node.execute("SELECT * FROM individuals").to_pylist()
    assert {p["individual_id"] for p in people} == set(patients)
    for person in people:
        source = patients[person["individual_id"]]
        assert person["sex"] == source["sex"]
        assert person["age_at_diagnosis"] == pytest.approx(source["age_at_diagnosis"], abs=1e-4)
        assert person["overall_survival_days"] == source["os_days"]
        assert person["vital_status"] == ("deceased" if source["deceased"] else "alive")
    diagnoses = node.execute("SELECT individual_id, tumour_type, day FROM diagnoses").to_pylist()
    assert {(d["individual_id"], d["tumour_type"], d["day"]) for d in diagnoses} == {
        (k, p["tumour_type"], 0) for k, p in patients.items()
    }
    treatments = node.execute(
        "SELECT individual_id, drug, atc_code, line, start_day, end_day FROM treatments"
    )
    assert Counter(tuple(t.values()) for t in treatments.to_pylist()) == Counter(
        (pseudonym(t["patient_id"]), t["drug"], t["atc_code"], t["line"], t["start_day"], t["end_day"])
        for t in cohort.treatments.to_pylist()
    )
    responses = node.execute("SELECT individual_id, line, recist FROM responses").to_pylist()
    assert {tuple(r.values()) for r in responses} == {
        (pseudonym(r["patient_id"]), r["line"], r["recist"]) for r in cohort.responses.to_pylist()
    }
    # Driver calls: from the phenopackets, somatic, on the tumour specimen the VCF's sheet also names.
    drivers = [r for r in cohort.somatic.to_pylist() if r["driver"]]
    reported = node.execute(
        "SELECT individual_id, chrom, start, ref, alt, origin FROM variant_calls WHERE analysis_id IN "
        "(SELECT DISTINCT analysis_id FROM variant_calls EXCEPT SELECT analysis_id FROM analyses)"
    ).to_pylist()
    expected = set()
    for r in drivers:
        start, ref, alt = trim_alleles(r["pos"] - 1, r["ref"], r["alt"])
        expected.add((pseudonym(r["patient_id"]), r["chrom"], start, ref, alt, "somatic"))
    assert {tuple(c.values()) for c in reported} == expected
    tumours = node.execute(
        "SELECT specimen_id, count(DISTINCT batch_id) AS n FROM specimens "
        "WHERE specimen_type = 'tumour' GROUP BY 1"
    ).to_pylist()
    assert {t["n"] for t in tumours} == {2}  # the biosample and the VCF sample sheet name one specimen


def test_export_phenopackets__calls_flag_adds_the_vcf_calls(
    dk: tuple[Any, Any, NodeStore], tmp_path: Path
) -> None:
    cohort, _, node = dk
    tables = phenopacket_cli.phenopacket_tables(node, calls=True)
    packets = {p["id"]: _normalised(p) for p in phenopackets_from_tables(tables, calls=True)}
    somatic = Counter(node.pseudonymise(p) for p in cohort.somatic.column("patient_id").to_pylist())
    drivers = Counter(node.pseudonymise(r["patient_id"]) for r in cohort.somatic.to_pylist() if r["driver"])
    for pid, packet in packets.items():
        described = [
            g for i in packet.get("interpretations", []) for g in i["diagnosis"]["genomicInterpretations"]
        ]
        # UNKNOWN_STATUS is the enum's default: the schema's JSON form leaves it out.
        extra = [g for g in described if "interpretationStatus" not in g]
        assert len(extra) == somatic[pid] - drivers[pid]  # the passengers: no interpretation covers them
        for g in extra:
            expressions = g["variantInterpretation"]["variationDescriptor"]["expressions"]
            assert expressions[0]["syntax"] == "spdi"


# -- command line ----------------------------------------------------------------------------------


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_cli_phenopackets__ingest_export_and_dry_run(tmp_path: Path) -> None:
    assert phenopacket_cli.ingest_phenopackets is not None  # the module registers its commands
    code, output = _invoke("ingest", "phenopackets", DATA / "hgvs_only.json", "--dry-run")
    assert code == 0
    assert "harmonisation report" in output
    assert "would ingest" in output
    store = tmp_path / "store"
    code, output = _invoke("ingest", "phenopackets", DATA / "hgvs_only.json", "--store", store)
    assert code == 0, output
    assert "without genomic coordinates" in output
    code, output = _invoke("export", "phenopackets", "--store", store, "--out", tmp_path / "out")
    assert code == 0, output
    (written,) = (tmp_path / "out").glob("*.json")
    with NodeStore.open(store) as node:
        assert written.stem == node.pseudonymise("P2")
    _normalised(written.read_text())


def test_cli_phenopackets__bad_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    code, output = _invoke("ingest", "phenopackets", DATA / "bad_hgvs.json", "--store", tmp_path / "s")
    assert code == 1
    assert "FormatError" in output
    assert "Traceback" not in output
