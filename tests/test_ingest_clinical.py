"""Clinical ingest through a mapping file: the CINECA UK1 table against its Beacon records, hand-made
tables with dates, mapping-file errors, bad rows, and the dry-run harmonisation report."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import fixture_path
from genofed.errors import CodeError, ConfigError, FormatError, InputError, SampleError
from genofed.ingest import (
    ClinicalMapping,
    ClinicalReader,
    SourceReader,
    ValueStatus,
    load_mapping,
    packaged_mapping,
    packaged_mappings,
)
from genofed.store import NodeStore

DATA = Path(__file__).parent / "data" / "clinical"
PATIENTS = DATA / "patients.tsv"
TREATMENTS = DATA / "treatments.csv"
MAPPING = DATA / "mapping.yaml"

DISEASE_COLUMNS = (
    "Blood, blood-forming organs and certain immune disorders",
    "Endocrine, nutritional and metabolic diseases",
    "Mental and behavioural disorders",
    "Nervous system disorders",
    "Digestive system disorders",
    "Respiratory system disorders",
    "Circulatory system disorders",
)


def _ingest(store: NodeStore, reader: ClinicalReader) -> None:
    store.write_stream(reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key)


def _counts(store: NodeStore, sql: str) -> Counter[Any]:
    table = store.execute(sql)
    return Counter({row[0]: row[1] for row in zip(*(c.to_pylist() for c in table.columns), strict=True)})


def _write_mapping(folder: Path, data: dict[str, Any] | str) -> Path:
    path = folder / "mapping.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _copy_tables(folder: Path) -> tuple[Path, Path]:
    return Path(shutil.copy(PATIENTS, folder)), Path(shutil.copy(TREATMENTS, folder))


def _edit_line(path: Path, line: int, old: str, new: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("".join(lines))


# -- the CINECA UK1 table against its Beacon v2 records ----------------------------------------------


@pytest.fixture(scope="module")
def cineca() -> tuple[Path, list[dict[str, Any]], list[dict[str, str]]]:
    table = fixture_path("cineca", "uk1.tsv")
    beacon = json.loads(fixture_path("cineca", "individuals.json").read_text())
    with table.open(newline="") as handle:
        raw = list(csv.DictReader(handle, delimiter="\t"))
    return table, beacon, raw


def _dotted(code: str) -> str:
    """ICD-10 in its dotted form, as the store keeps it (F3181 -> F31.81)."""
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def test_clinical_reader__cineca_counts_equal_beacon_records(
    store: NodeStore, cineca: tuple[Path, list[dict[str, Any]], list[dict[str, str]]]
) -> None:
    table, beacon, raw = cineca
    reader = ClinicalReader([table], packaged_mapping("cineca-uk1"))
    as_source: SourceReader = reader  # mypy checks the protocol
    assert as_source.kind == "clinical"
    assert (reader.kind, reader.source, reader.batch_key) == ("clinical", "cineca-uk1", "clinical:cineca-uk1")
    _ingest(store, reader)

    assert store.execute("SELECT count(*) FROM individuals").column(0)[0].as_py() == len(beacon) == 2504
    assert _counts(store, "SELECT sex, count(*) FROM individuals GROUP BY 1") == Counter(
        r["sex"]["label"] for r in beacon
    )
    assert _counts(
        store, "SELECT ethnicity_id, count(*) FROM individuals WHERE ethnicity_id IS NOT NULL GROUP BY 1"
    ) == Counter(r["ethnicity"]["id"] for r in beacon if "ethnicity" in r)
    assert _counts(
        store,
        "SELECT ethnicity_label, count(*) FROM individuals WHERE ethnicity_label IS NOT NULL GROUP BY 1",
    ) == Counter(r["ethnicity"]["label"] for r in beacon if "ethnicity" in r)
    assert _counts(
        store,
        "SELECT geographic_origin, count(*) FROM individuals WHERE geographic_origin IS NOT NULL GROUP BY 1",
    ) == Counter(r["geographicOrigin"]["label"] for r in beacon if r.get("geographicOrigin"))

    stored = _counts(store, "SELECT icd10, count(*) FROM diagnoses GROUP BY 1")
    expected = Counter(
        _dotted(d["diseaseCode"]["id"].removeprefix("ICD10:")) for r in beacon for d in r.get("diseases", [])
    )
    # The Beacon records drop Huntington's and Alzheimer's disease; count those in the raw table.
    nervous = Counter(row["Nervous system disorders"] for row in raw)
    expected["G10"] = nervous["huntington's disease"]
    expected["G30"] = nervous["alzheimer's disease"]
    assert stored == expected
    assert sum(stored.values()) == sum(1 for row in raw for c in DISEASE_COLUMNS if row[c])
    assert store.execute('SELECT count(*) FROM diagnoses WHERE "primary"').column(0)[0].as_py() == 0

    # identifiers are pseudonyms of the VCF sample names
    ids = set(store.execute("SELECT individual_id FROM individuals").column(0).to_pylist())
    assert store.pseudonymise("HG00096") in ids
    assert "HG00096" not in ids


def test_clinical_reader__reingest_replaces_the_source(
    store: NodeStore, cineca: tuple[Path, list[dict[str, Any]], list[dict[str, str]]]
) -> None:
    table, _, _ = cineca
    _ingest(store, ClinicalReader([table], packaged_mapping("cineca-uk1")))
    _ingest(store, ClinicalReader([table], packaged_mapping("cineca-uk1")))
    assert len(store.catalog.batches) == 1
    assert store.execute("SELECT count(*) FROM individuals").column(0)[0].as_py() == 2504


def test_dry_run__cineca_lists_every_value_with_its_count(
    cineca: tuple[Path, list[dict[str, Any]], list[dict[str, str]]],
) -> None:
    table, _, raw = cineca
    report = ClinicalReader([table], packaged_mapping("cineca-uk1")).dry_run()
    assert report.ok
    assert report.files[0].rows == report.files[0].individuals == 2504
    ethnicity = report.column("individuals.ethnicity_id")
    assert {v.value: v.count for v in ethnicity.values} == Counter(r["Ethnic background-0.0"] for r in raw)
    by_value = {v.value: v for v in ethnicity.values}
    assert by_value["Prefer not to answer"].status is ValueStatus.MISSING
    assert (by_value["Indian"].status, by_value["Indian"].maps_to) == (ValueStatus.MAPPED, "NCIT:C67109")
    assert ethnicity.count(ValueStatus.MAPPED) == sum(
        1 for r in raw if r["Ethnic background-0.0"] not in ("Prefer not to answer", "Do not know")
    )
    mental = report.column("diagnoses[2].icd10")
    assert {v.value: v.maps_to for v in mental.values if v.status is ValueStatus.MAPPED} == {
        "schizophrenia": "F20",
        "eating disorders": "F50",
        "bipolar affective disorder": "F31.81",
    }
    assert (
        mental.count(ValueStatus.MISSING) == Counter(r["Mental and behavioural disorders"] for r in raw)[""]
    )
    rows = report.to_rows()
    assert ("uk1.tsv", "Sex", "individuals.sex", "female", 1271, "mapped", "female") in rows


def test_packaged_mapping__names_and_unknown_name() -> None:
    assert "cineca-uk1" in packaged_mappings()
    assert packaged_mapping("cineca-uk1.yaml").name == "cineca-uk1.yaml"
    assert isinstance(load_mapping(packaged_mapping("cineca-uk1")), ClinicalMapping)
    with pytest.raises(
        ConfigError, match=r"no packaged mapping 'cineca-uk9'; packaged mappings are .*cineca-uk1"
    ):
        packaged_mapping("cineca-uk9")


# -- hand-made tables: dates become day offsets --------------------------------------------------------


def _tables(reader: ClinicalReader) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, chunk in reader.chunks():
        out.setdefault(name, []).extend(chunk.to_pylist())
    return out


def test_clinical_reader__dates_become_days_from_diagnosis() -> None:
    tables = _tables(ClinicalReader([PATIENTS, TREATMENTS], MAPPING))
    people = {r["individual_id"]: r for r in tables["individuals"]}
    # P1: diagnosed 15/01/2020, died 01/03/2021 (366 days to 15/01/2021, then 31 + 14)
    assert people["P1"] | {} == {
        "individual_id": "P1",
        "sex": "male",
        "age_at_diagnosis": 62.0,  # 744 months
        "ethnicity_id": "NCIT:C41261",
        "ethnicity_label": "White",
        "geographic_origin": None,
        "vital_status": "deceased",
        "overall_survival_days": 411,
    }
    # P2: diagnosed 29/02/2020, last seen 31/12/2022: 365 + 365 + 306 days, alive
    assert (people["P2"]["vital_status"], people["P2"]["overall_survival_days"]) == ("alive", 1036)
    assert (people["P2"]["sex"], people["P2"]["age_at_diagnosis"]) == ("female", 50.0)
    # P3: no follow-up; "Prefer not to say" and "NA" are missing
    assert (people["P3"]["vital_status"], people["P3"]["overall_survival_days"]) == ("unknown", None)
    assert (people["P3"]["ethnicity_id"], people["P3"]["age_at_diagnosis"]) == (None, None)
    # P4: no diagnosis date: alive at last contact, but no survival time; "U" takes the default
    assert (people["P4"]["vital_status"], people["P4"]["overall_survival_days"]) == ("alive", None)
    assert people["P4"]["sex"] == "unknown"

    assert [(r["individual_id"], r["tumour_type"], r["label"], r["day"]) for r in tables["diagnoses"]] == [
        ("P1", "LUNG", "Lung", 0),
        ("P2", "COAD", "colon", 0),  # ignore_case
        ("P3", "BRCA", "Breast", 0),
        ("P4", "LUNG", "Lung", None),
    ]
    assert [
        (r["individual_id"], r["drug"], r["atc_code"], r["line"], r["start_day"], r["end_day"])
        for r in tables["treatments"]
    ] == [
        ("P1", "Carboplatin", "L01XA02", 1, 17, 107),  # 2020-02-01, 2020-05-01 from 2020-01-15
        ("P1", "Pembrolizumab", "L01FF02", 2, 138, None),  # 2020-06-01
        ("P2", "FOLFOX, modified", None, 1, 10, 163),  # 2020-03-10, 2020-08-10 from 2020-02-29
    ]
    assert [(r["individual_id"], r["recist"], r["line"], r["day"]) for r in tables["responses"]] == [
        ("P1", "PR", 1, 91),
        ("P1", "PD", 2, 230),
        ("P2", "SD", 1, 93),
    ]
    assert [(r["individual_id"], r["hpo_id"], r["excluded"]) for r in tables["phenotypes"]] == [
        ("P1", "HP:0001250", False),
        ("P2", "HP:0001250", True),
    ]


def test_chunks__no_date_leaves_the_reader() -> None:
    dates = {"2020", "2021", "2022", "2019"}
    for _, chunk in ClinicalReader([PATIENTS, TREATMENTS], MAPPING).chunks():
        for column in chunk.columns:
            assert not pa.types.is_temporal(column.type)
            for value in column.to_pylist():
                assert not (isinstance(value, str) and any(year in value for year in dates)), value


def test_clinical_reader__gzip_semicolons_and_decimal_commas(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "cohort.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("id;age;smoker\nA;61,5;ja\nB;40;nee\n")
    mapping = {
        "source": "nl-cohort",
        "files": {
            "cohort": {
                "id_column": "id",
                "delimiter": ";",
                "decimal": ",",
                "individuals": {"age_at_diagnosis": "age"},
                "phenotypes": {
                    "hpo_id": {"value": "HP:0031357"},
                    "excluded": {"column": "smoker", "values": {"ja": False, "nee": True}},
                },
            }
        },
    }
    tables = _tables(ClinicalReader(path, mapping))
    assert [r["age_at_diagnosis"] for r in tables["individuals"]] == [61.5, 40.0]
    assert [r["excluded"] for r in tables["phenotypes"]] == [False, True]


def test_clinical_reader__birth_year_reads_as_mid_year(tmp_path: Path) -> None:
    path = tmp_path / "cohort.tsv"
    path.write_text("id\tbirthYear\tdiagnosed\nA\t1950\t2020-07-02\nB\t1980\t2021-01-01\n")
    mapping = {
        "source": "birth-years",
        "reference_date": {"column": "diagnosed"},
        "files": {
            "cohort": {
                "id_column": "id",
                "individuals": {
                    "age_at_diagnosis": {"column": "birthYear", "type": "date", "date_format": "%Y"}
                },
            }
        },
    }
    ages = [r["age_at_diagnosis"] for r in _tables(ClinicalReader(path, mapping))["individuals"]]
    assert ages == pytest.approx([70.0, 40.5], abs=0.01)
    mapping["files"]["cohort"]["individuals"]["age_at_diagnosis"]["date_format"] = "%m"  # type: ignore[index]
    with pytest.raises(ConfigError, match="does not read back a whole date"):
        ClinicalReader(path, mapping)


@settings(max_examples=40, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
            st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
        ),
        min_size=1,
        max_size=8,
    ),
    fmt=st.sampled_from(["iso", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d"]),
)
def test_chunks__day_offsets_are_date_differences(pairs: list[tuple[dt.date, dt.date]], fmt: str) -> None:
    def text(day: dt.date) -> str:
        return day.isoformat() if fmt == "iso" else day.strftime(fmt)

    mapping = {
        "source": "dates",
        "date_format": fmt,
        "reference_date": {"column": "diagnosed"},
        "files": {
            "t": {
                "id_column": "id",
                "treatments": {"drug": {"value": "X"}, "start_day": {"column": "started", "type": "date"}},
            }
        },
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.tsv"
        rows = [f"P{i}\t{text(ref)}\t{text(day)}\n" for i, (ref, day) in enumerate(pairs)]
        path.write_text("id\tdiagnosed\tstarted\n" + "".join(rows))
        tables = _tables(ClinicalReader([path], mapping))
    assert [r["start_day"] for r in tables["treatments"]] == [(day - ref).days for ref, day in pairs]


# -- bad rows: located, all or nothing ---------------------------------------------------------------


def _published(store: NodeStore) -> tuple[int, tuple[str, ...]]:
    catalog = store.catalog
    return catalog.version, tuple(b.batch_id for b in catalog.batches)


def test_chunks__unmapped_value_names_file_line_column_and_leaves_store(
    store: NodeStore, tmp_path: Path
) -> None:
    patients, treatments = _copy_tables(tmp_path)
    _ingest(store, ClinicalReader([patients, treatments], MAPPING))
    before = _published(store)
    _edit_line(patients, 3, "\tcolon\t", "\tColom\t")
    reader = ClinicalReader([patients, treatments], MAPPING)
    with pytest.raises(
        CodeError,
        match=r"patients\.tsv, line 3, field 'site': 'Colom' is not in values: of "
        r"files\.patients\.diagnoses\[0\]\.tumour_type and there is no default: .*nearest known: 'Colon'",
    ):
        _ingest(store, reader)
    assert _published(store) == before
    assert store.execute("SELECT count(*) FROM treatments").column(0)[0].as_py() == 3
    assert not any((store.root / "staging").iterdir())


def test_chunks__bad_date_is_a_format_error(store: NodeStore, tmp_path: Path) -> None:
    patients, treatments = _copy_tables(tmp_path)
    _edit_line(treatments, 4, "2020-08-10", "2020-08-32")
    with pytest.raises(
        FormatError,
        match=r"treatments\.csv, line 4, field 'end': '2020-08-32' is not a date in the format ISO 8601",
    ):
        _ingest(store, ClinicalReader([patients, treatments], MAPPING))
    assert _published(store) == (0, ())


def test_chunks__duplicate_individual_is_an_error(tmp_path: Path) -> None:
    patients, treatments = _copy_tables(tmp_path)
    _edit_line(patients, 5, "P4\t", "P2\t")
    with pytest.raises(
        FormatError,
        match=r"patients\.tsv, line 5, field 'patient': individual 'P2' already has a row at line 3",
    ):
        list(ClinicalReader([patients, treatments], MAPPING).chunks())


def test_chunks__unknown_code_without_values_is_a_code_error(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("id\ttumour\tterm\nA\tLUAD\tHP:0001250\nB\tLUADX\tHP:123\n")
    mapping = {
        "source": "codes",
        "files": {
            "t": {"id_column": "id", "diagnoses": {"tumour_type": "tumour"}, "phenotypes": {"hpo_id": "term"}}
        },
    }
    with pytest.raises(
        CodeError, match=r"t\.tsv, line 3, field 'tumour': 'LUADX' is not an OncoTree code"
    ) as info:
        list(ClinicalReader([path], mapping).chunks())
    assert "line 3, field 'term': 'HP:123' is not an HPO term" in str(info.value)
    assert "and 1 more problem; nothing was ingested" in str(info.value)


def test_chunks__lists_up_to_twenty_problems(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("id\tsex\n" + "".join(f"P{i}\tx{i}\n" for i in range(30)))
    mapping = {"source": "many", "files": {"t": {"id_column": "id", "individuals": {"sex": "sex"}}}}
    with pytest.raises(CodeError, match=r"line 2, field 'sex': 'x0' is not one of female, male") as info:
        list(ClinicalReader([path], mapping).chunks())
    message = str(info.value)
    assert "and 29 more problems" in message
    assert "line 20," in message
    assert "line 22," not in message
    assert "(10 not shown)" in message


def test_chunks__individual_missing_from_individuals_table(tmp_path: Path) -> None:
    patients, treatments = _copy_tables(tmp_path)
    _edit_line(treatments, 4, "P2,", "P9,")
    with pytest.raises(
        SampleError,
        match=r"treatments\.csv, line 4, field 'patient': individual 'P9' has no row in files\.patients, "
        r"which gives the reference dates$",
    ):
        list(ClinicalReader([patients, treatments], MAPPING).chunks())
    # without dates, the individuals table is what is missing
    people = tmp_path / "people.tsv"
    people.write_text("id\tsex\nA\tmale\nB\tfemale\n")
    path = tmp_path / "t.tsv"
    path.write_text("id\tdisease\nA\t\nB\tasthma\nC\tasthma\n")
    mapping = {
        "source": "refs",
        "files": {
            "people": {"id_column": "id", "individuals": {"sex": "sex"}},
            "t": {
                "id_column": "id",
                "diagnoses": {"icd10": {"column": "disease", "values": {"asthma": "J45"}}},
            },
        },
    }
    with pytest.raises(
        SampleError,
        match=r"t\.tsv, line 4, field 'id': individual 'C' is not in the individuals table "
        r"\(.*people\.tsv\)$",
    ):
        list(ClinicalReader([people, path], mapping).chunks())


def test_chunks__date_without_reference_date(tmp_path: Path) -> None:
    patients, treatments = _copy_tables(tmp_path)
    with treatments.open("a") as handle:
        handle.write("P4,Osimertinib,1,2021-01-01,,,\n")
    with pytest.raises(
        FormatError,
        match=r"line 5, field 'start': treatments\[0\]\.start_day is a date but individual 'P4' has no "
        r"reference date \(column 'diagnosis_date' of files\.patients\)",
    ):
        list(ClinicalReader([patients, treatments], MAPPING).chunks())


def test_chunks__missing_column_and_short_row(tmp_path: Path) -> None:
    patients, treatments = _copy_tables(tmp_path)
    _edit_line(treatments, 1, "best_response", "best_resp")
    with pytest.raises(
        FormatError,
        match=r"treatments\.csv, line 1, field 'best_response': column 'best_response' \(named by "
        r"files\.treatments\.responses\[0\]\.recist\) is not in the header; nearest: 'best_resp'",
    ):
        list(ClinicalReader([patients, treatments], MAPPING).chunks())
    _edit_line(treatments, 1, "best_resp", "best_response")
    _edit_line(treatments, 2, ",2020-04-15", "")
    with pytest.raises(
        FormatError, match=r"treatments\.csv, line 2: the row has 6 fields but the header has 7"
    ):
        list(ClinicalReader([patients, treatments], MAPPING).chunks())


def test_chunks__death_before_diagnosis_is_an_error(tmp_path: Path) -> None:
    patients, treatments = _copy_tables(tmp_path)
    _edit_line(patients, 2, "01/03/2021", "01/03/2019")
    with pytest.raises(
        FormatError,
        match=r"patients\.tsv, line 2, field 'death_date': individuals\.overall_survival_days: "
        r"Input should be greater than or equal to 0",
    ):
        list(ClinicalReader([patients, treatments], MAPPING).chunks())


# -- the dry run ---------------------------------------------------------------------------------------


def test_dry_run__counts_values_and_reports_unmapped_ones(tmp_path: Path) -> None:
    patients, treatments = _copy_tables(tmp_path)
    _edit_line(patients, 3, "\tcolon\t", "\tKidney\t")
    _edit_line(patients, 4, "\tBreast\t", "\tKidney\t")
    report = ClinicalReader([patients, treatments], MAPPING).dry_run()
    assert not report.ok
    assert report.problem_count == 2
    assert all(isinstance(p, CodeError) for p in report.problems)
    site = report.column("diagnoses[0].tumour_type")
    assert [(v.value, v.count, v.status, v.maps_to) for v in site.values] == [
        ("Kidney", 2, ValueStatus.UNMAPPED, None),  # errors first
        ("Lung", 2, ValueStatus.MAPPED, "LUNG"),
    ]
    assert site.unmapped == (site.values[0],)
    sex = report.column("individuals.sex")
    assert [(v.value, v.count, v.status, v.maps_to) for v in sex.values] == [
        ("F", 2, ValueStatus.MAPPED, "female"),
        ("M", 1, ValueStatus.MAPPED, "male"),
        ("U", 1, ValueStatus.DEFAULT, "unknown"),
    ]
    atc = report.column("treatments[0].atc_code")
    assert {v.value: (v.status, v.maps_to) for v in atc.values} == {
        "Carboplatin": (ValueStatus.MAPPED, "L01XA02"),
        "Pembrolizumab": (ValueStatus.MAPPED, "L01FF02"),
        "FOLFOX, modified": (ValueStatus.DEFAULT, None),
    }
    start = report.column("treatments[0].start_day")
    assert start.count(ValueStatus.ACCEPTED) == 3
    assert start.values[-1].maps_to == "days from the reference date"
    age = report.column("individuals.age_at_diagnosis")
    assert (age.count(ValueStatus.ACCEPTED), age.count(ValueStatus.MISSING)) == (2, 2)
    rows = report.to_rows()
    assert ("patients.tsv", "age_months", "individuals.age_at_diagnosis", "(empty)", 1, "missing", "") in rows
    assert {f.path: (f.rows, f.individuals) for f in report.files} == {
        str(patients): (4, 4),
        str(treatments): (3, 2),
    }


def test_dry_run__limits_listed_values(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("id\tname\n" + "".join(f"P{i}\tlabel {i % 7}\n" for i in range(70)))
    mapping = {
        "source": "labels",
        "files": {"t": {"id_column": "id", "individuals": {"ethnicity_label": "name"}}},
    }
    column = ClinicalReader([path], mapping).dry_run(max_values=3).column("individuals.ethnicity_label")
    assert [v.count for v in column.values] == [10, 10, 10]
    assert column.omitted == 4
    assert column.count(ValueStatus.ACCEPTED) == 70


# -- the mapping file ----------------------------------------------------------------------------------


def _bad_mapping(tmp_path: Path, edit: str, old: str) -> Path:
    text = MAPPING.read_text()
    assert old in text
    return _write_mapping(tmp_path, text.replace(old, edit, 1))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "      sex: {column: sex,",
            "      sexx: {column: sex,",
            r"mapping\.yaml: files\.patients\.individuals\.sexx: unknown key; did you mean 'sex'\? "
            r"\(allowed here: survival, sex, age_at_diagnosis,",
        ),
        (
            "{M: male, F: female}",
            "{M: male, F: femme}",
            r"mapping\.yaml: files\.patients\.individuals\.sex\.values\.F: "
            r"Input should be 'female', 'male', 'other' or 'unknown' \(got 'femme'\)",
        ),
        (
            "Colon: COAD",
            "Colon: COADX",
            r"mapping\.yaml: files\.patients\.diagnoses\[0\]\.tumour_type\.values\.Colon: "
            r"'COADX' is not an OncoTree code; did you mean COAD",
        ),
        (
            'White: "NCIT:C41261"',
            'White: "NCIT:41261"',
            r"files\.patients\.individuals\.ethnicity_id\.values\.White: 'NCIT:41261' is not an NCIt code",
        ),
        (
            "Stable disease: SD",
            "Stable disease: stable",
            r"files\.treatments\.responses\[0\]\.recist\.values\.\"Stable disease\": "
            r"Input should be 'CR', 'PR',",
        ),
        (
            'hpo_id: {value: "HP:0001250"}',
            'hpo_id: {value: "HPO:0001250"}',
            r"files\.patients\.phenotypes\[0\]\.hpo_id\.value: 'HPO:0001250' is not an HPO term",
        ),
        (
            "start_day: {column: start, type: date}",
            "start_day: {column: start, type: text}",
            r"files\.treatments\.treatments\[0\]\.start_day\.type: Input should be 'string', 'number', ",
        ),
        (
            "start_day: {column: start, type: date}",
            "start_day: {column: start, type: number}",
            r"files\.treatments\.treatments\[0\]\.start_day: type: number does not fit "
            r"treatments\.start_day, which holds days relative to the reference date; "
            r"use integer or date or duration",
        ),
        (
            "label: {value: Seizure}",
            "label: {value: Seizure, column: seizures}",
            r"files\.patients\.phenotypes\[0\]\.label: give either column: .* or value: ",
        ),
        (
            "      drug: drug\n",
            "",
            r"files\.treatments\.treatments\[0\]: treatments needs drug \(required by the model\); map it",
        ),
        (
            'date_format: "%d/%m/%Y"',
            'date_format: "%d/%m"',
            r"mapping\.yaml: date_format\[0\]: date format '%d/%m' does not read back a whole date",
        ),
        (
            "  file: patients\n",
            "  file: people\n",
            r"mapping\.yaml: reference_date\.file: 'people' is not an entry of files: "
            r"\(entries: patients, treatments\)",
        ),
        (
            "    id_column: patient\n    individuals:",
            "    individuals:",
            r"mapping\.yaml: files\.patients\.id_column: required key is missing",
        ),
        (
            "{M: male, F: female}",
            "{M: male, F: female, M: female}",
            r"mapping\.yaml: line 12, column 55: not valid YAML: "
            r"the key 'M' appears twice \(first on line 12\)",
        ),
    ],
)
def test_load_mapping__errors_name_the_yaml_path(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_mapping(_bad_mapping(tmp_path, new, old))


def test_load_mapping__icd10_codes_are_checked_and_dotted() -> None:
    def mapping(values: dict[str, str]) -> dict[str, Any]:
        group = {"icd10": {"column": "d", "values": values}}
        return {"source": "icd", "files": {"t": {"id_column": "id", "diagnoses": group}}}

    loaded = load_mapping(mapping({"a": "F3181", "b": "ICD10:c34.1", "c": "E10"}))
    field = loaded.files["t"].diagnoses[0].fields()["icd10"]
    assert field.values == {"a": "F31.81", "b": "C34.1", "c": "E10"}
    with pytest.raises(
        ConfigError,
        match=r"<mapping>: files\.t\.diagnoses\[0\]\.icd10\.values\.a: 'E1' is not an ICD-10 code",
    ):
        load_mapping(mapping({"a": "E1"}))


def test_load_mapping__boolean_keys_must_be_quoted() -> None:
    # what yaml.safe_load makes of {Yes: male}: the key is a boolean, which no source value is
    data = yaml.safe_load(
        "source: s\nfiles: {t: {id_column: id, individuals: {sex: {column: s, values: {Yes: male}}}}}"
    )
    with pytest.raises(
        ConfigError,
        match=r"<mapping>: files\.t\.individuals\.sex\.values\.True: keys are source values and must be text",
    ):
        load_mapping(data)


def test_load_mapping__keys_are_literal_text(tmp_path: Path) -> None:
    path = _write_mapping(
        tmp_path,
        "source: s\nfiles:\n  t:\n    id_column: id\n    phenotypes:\n      hpo_id: {value: 'HP:0000001'}\n"
        "      excluded: {column: x, values: {Yes: false, No: true, 1.50: true, 2020-01-01: false}}\n",
    )
    field = load_mapping(path).files["t"].phenotypes[0].fields()["excluded"]
    assert field.values == {"Yes": False, "No": True, "1.50": True, "2020-01-01": False}


def test_load_mapping__dates_need_a_reference_date(tmp_path: Path) -> None:
    path = _bad_mapping(tmp_path, "", "reference_date:\n  file: patients\n  column: diagnosis_date\n")
    with pytest.raises(
        ConfigError,
        match=r"mapping\.yaml: files\.patients\.diagnoses\[0\]\.day has type: date, .* no reference_date:",
    ):
        load_mapping(path)


def test_load_mapping__unreadable_and_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.yaml: cannot read the mapping file"):
        load_mapping(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match=r"mapping\.yaml: a mapping file is a YAML mapping"):
        load_mapping(_write_mapping(tmp_path, "- just\n- a list\n"))


def test_clinical_reader__tables_must_match_entries(tmp_path: Path) -> None:
    other = Path(shutil.copy(PATIENTS, tmp_path / "people.tsv"))
    with pytest.raises(
        ConfigError, match=r"people\.tsv: the table matches no files: entry .*\(patients, treatments\)"
    ):
        ClinicalReader([other, TREATMENTS], MAPPING)
    with pytest.raises(ConfigError, match=r"no table given for files: patients \(give the table, or mark"):
        ClinicalReader([TREATMENTS], MAPPING)
    matching = _bad_mapping(tmp_path, "  patients:\n    match: people*.tsv\n", "  patients:\n")
    assert ClinicalReader([other, TREATMENTS], matching).entries[other] == "patients"
    with pytest.raises(InputError, match=r"absent\.tsv: no such table file"):
        ClinicalReader([tmp_path / "absent.tsv", TREATMENTS], MAPPING)
