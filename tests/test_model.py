"""The common data model: declarations, conformance and code systems."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import ValidationError

from genofed import model
from genofed.model import (
    TABLES,
    Individual,
    Sex,
    VariantCall,
    arrow_schema,
    conform,
    expand_consequence,
    normalise_assembly,
    normalise_chromosome,
    normalise_consequence,
    normalise_protein_change,
    oncotree,
    records_to_table,
)


def test_all__is_complete() -> None:
    public = {name for name in dir(model) if not name.startswith("_")}
    assert set(model.__all__) == public
    assert len(model.__all__) == len(set(model.__all__))  # order: ruff's RUF022


def test_tables__cover_the_architecture() -> None:
    assert set(TABLES) == {
        "individuals",
        "diagnoses",
        "specimens",
        "analyses",
        "variant_sites",
        "variant_calls",
        "copy_numbers",
        "structural_variants",
        "biomarkers",
        "treatments",
        "responses",
        "phenotypes",
        "interpretations",
        "drivers",
        "sample_qc",
    }


def test_arrow_schema__from_the_record_declaration() -> None:
    schema = arrow_schema(VariantCall)
    assert schema.field("start").type == pa.int64()
    assert schema.field("vaf").type == pa.float32()
    assert schema.field("alt_copies").type == pa.int8()
    assert not schema.field("individual_id").nullable
    assert schema.field("depth").nullable
    assert schema.field("vaf").metadata[b"description"] == b"variant allele fraction"
    assert "chrom" not in arrow_schema(VariantCall, with_partitions=False).names


def test_record__rejects_unknown_fields_and_bad_values() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Individual(individual_id="p1", favourite_colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="age_at_diagnosis"):
        Individual(individual_id="p1", age_at_diagnosis=-3)


def test_records_to_table__round_trips_through_conform() -> None:
    rows = [
        Individual(individual_id="p1", sex=Sex.FEMALE, age_at_diagnosis=61.5),
        Individual(individual_id="p2"),
    ]
    table = conform(Individual, records_to_table(Individual, rows))
    assert table.column("sex").to_pylist() == ["female", "unknown"]
    assert table.column("vital_status").to_pylist() == ["unknown", "unknown"]


def test_conform__fills_defaults_and_names_bad_columns() -> None:
    table = conform(Individual, pa.table({"individual_id": ["a"]}))
    assert table.column("sex").to_pylist() == ["unknown"]
    with pytest.raises(ValueError, match=r"individuals\.sex: 'f' is not one of female, male"):
        conform(Individual, pa.table({"individual_id": ["a"], "sex": ["f"]}))
    with pytest.raises(ValueError, match="unknown column"):
        conform(Individual, pa.table({"individual_id": ["a"], "dob": ["1970-01-01"]}))
    with pytest.raises(ValueError, match="required column 'individual_id' is missing"):
        conform(Individual, pa.table({"sex": ["male"]}))
    with pytest.raises(ValueError, match="null value"):
        conform(Individual, pa.table({"individual_id": pa.array([None], pa.string())}))


def test_normalise_chromosome__common_spellings() -> None:
    spellings = {"chr1": "1", "1": "1", "NC_000001.11": "1", "NC_000023.10": "X", "chrY": "Y", "chrM": "MT"}
    assert {k: normalise_chromosome(k) for k in spellings} == spellings


def test_normalise_assembly__aliases_and_unknown() -> None:
    assert {normalise_assembly(a).value for a in ("hg19", "b37", "GRCh37.p13", "GRCh37")} == {"GRCh37"}
    assert {normalise_assembly(a).value for a in ("hg38", "GRCh38", "grch38")} == {"GRCh38"}
    with pytest.raises(ValueError, match="unknown assembly 'hg17'"):
        normalise_assembly("hg17")


def test_normalise_protein_change__one_and_three_letter_agree() -> None:
    assert normalise_protein_change("p.Gly12Cys") == normalise_protein_change("p.G12C") == "p.G12C"
    assert normalise_protein_change("p.Pro718Leu") == "p.P718L"
    assert normalise_protein_change("p.Glu746_Ala750del") == "p.E746_A750del"
    assert normalise_protein_change("") is None


def test_consequence__snpeff_names_map_to_so_terms() -> None:
    assert normalise_consequence("disruptive_inframe_deletion") == "inframe_deletion"
    assert "stop_gained" in expand_consequence("truncating")
    assert "missense_variant" in expand_consequence("protein_altering")
    with pytest.raises(ValueError, match="unknown consequence 'bad_term'"):
        expand_consequence("bad_term")


def test_oncotree__descendants_and_ancestors() -> None:
    tree = oncotree()
    assert {"COAD", "READ", "COADREAD"} <= tree.descendants("COADREAD")
    assert "SKCM" in tree.descendants("MEL")
    assert tree.ancestors("COAD")[:2] == ("COADREAD", "BOWEL")
    assert tree.get("skcm").name == "Cutaneous Melanoma"
    with pytest.raises(KeyError, match="'NOPE' is not an OncoTree code"):
        tree.get("NOPE")
