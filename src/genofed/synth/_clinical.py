"""Writers of a cohort's clinical source tables, each country in its own export style, and their mapping.

The three exports differ the way real ones do:

================  ========================  ==========================  ========================
..                SE (regional register)    NL (Hartwig-like)           DK (hospital export)
================  ========================  ==========================  ========================
column names      Swedish (``kön``, ...)    camelCase English           Danish, ASCII (``koen``)
sex               ``kvinna`` / ``man``      ``female`` / ``male``       ``K`` / ``M``
birth / age       ``födelsedatum``          ``birthYear``               ``alder_ved_diagnose``
dates             ``YYYY-MM-DD``            ``DD-MM-YYYY`` (patients),  ``DD.MM.YYYY``
                                            ISO (other tables)
primary tumour    Swedish text + ICD-10     ``primaryTumorLocation`` +  SKS code (``DC189``) +
                                            ``cancerSubtype``           Danish text
drugs             INN + ATC                 capitalised name, no ATC    INN + ATC
RECIST            Swedish words             CR/PR/SD/PD                 CR/PR/SD/PD
================  ========================  ==========================  ========================

:func:`clinical_mapping` builds the matching mapping file (format of :mod:`genofed.ingest`'s
``docs/mapping.md``) from the same tables of labels, so the two never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from ._cohort import Cohort
from ._outcomes import regimen_drugs
from ._tumours import Country, profile

__all__ = ["CLINICAL_TABLES", "clinical_mapping", "write_clinical_tables", "write_mapping"]

CLINICAL_TABLES: tuple[str, ...] = ("patients", "treatments", "responses")

_SE_RECIST = {
    "CR": "komplett respons",
    "PR": "partiell respons",
    "SD": "stabil sjukdom",
    "PD": "progressiv sjukdom",
}
_SE_SEX = {"female": "kvinna", "male": "man"}
_DK_SEX = {"female": "K", "male": "M"}
_NL_DRUG_TYPES = {
    "L01": "Chemotherapy",
    "L01F": "Immunotherapy",
    "L01E": "Targeted therapy",
    "L01XK": "Targeted therapy",
    "L01XX73": "Targeted therapy",
    "L02": "Hormonal therapy",
}

_Row = dict[str, str]


def _iso(day: dt.date | None) -> str:
    return "" if day is None else day.isoformat()


def _dmy(sep: str) -> Callable[[dt.date | None], str]:
    def render(day: dt.date | None) -> str:
        return "" if day is None else day.strftime(f"%d{sep}%m{sep}%Y")

    return render


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _nl_drug(drug: str) -> str:
    return drug[:1].upper() + drug[1:]


def _nl_type(atc: str) -> str:
    best = max((k for k in _NL_DRUG_TYPES if atc.startswith(k)), key=len)
    return _NL_DRUG_TYPES[best]


def _day(diagnosis: dt.date, offset: int | None) -> dt.date | None:
    return None if offset is None else diagnosis + dt.timedelta(days=int(offset))


def _patient_rows(cohort: Cohort) -> list[_Row]:
    rows: list[_Row] = []
    for p in cohort.patients.to_pylist():
        if cohort.country is Country.SE:
            rows.append(
                {
                    "patient": p["patient_id"],
                    "kön": _SE_SEX[p["sex"]],
                    "födelsedatum": _iso(p["birth_date"]),
                    "diagnosdatum": _iso(p["diagnosis_date"]),
                    "diagnos": p["location_label"],
                    "icd10": _text(p["location_code"]),
                    "dödsdatum": _iso(p["death_date"]),
                    "senaste_kontakt": _iso(p["last_contact_date"]),
                }
            )
        elif cohort.country is Country.NL:
            dmy = _dmy("-")
            rows.append(
                {
                    "patientId": p["patient_id"],
                    "gender": p["sex"],
                    "birthYear": str(p["birth_date"].year),
                    "primaryTumorLocation": p["location_label"],
                    "cancerSubtype": _text(p["subtype_label"]),
                    "diagnosisDate": dmy(p["diagnosis_date"]),
                    "deathDate": dmy(p["death_date"]),
                    "lastContactDate": dmy(p["last_contact_date"]),
                }
            )
        else:
            dmy = _dmy(".")
            rows.append(
                {
                    "patient_id": p["patient_id"],
                    "koen": _DK_SEX[p["sex"]],
                    "alder_ved_diagnose": str(int(p["age_at_diagnosis"])),
                    "diagnosedato": dmy(p["diagnosis_date"]),
                    "diagnosekode": _text(p["location_code"]),
                    "diagnosetekst": p["location_label"],
                    "doedsdato": dmy(p["death_date"]),
                    "sidste_kontakt": dmy(p["last_contact_date"]),
                }
            )
    return rows


def _diagnoses(cohort: Cohort) -> dict[str, dt.date]:
    ids = cohort.patients.column("patient_id").to_pylist()
    dates = cohort.patients.column("diagnosis_date").to_pylist()
    return dict(zip(ids, dates, strict=True))


def _treatment_rows(cohort: Cohort) -> list[_Row]:
    diagnosis = _diagnoses(cohort)
    rows: list[_Row] = []
    for t in cohort.treatments.to_pylist():
        start = _day(diagnosis[t["patient_id"]], t["start_day"])
        end = _day(diagnosis[t["patient_id"]], t["end_day"])
        if cohort.country is Country.SE:
            rows.append(
                {
                    "patient": t["patient_id"],
                    "behandlingslinje": str(t["line"]),
                    "läkemedel": t["drug"],
                    "atc": t["atc_code"],
                    "startdatum": _iso(start),
                    "slutdatum": _iso(end),
                }
            )
        elif cohort.country is Country.NL:
            rows.append(
                {
                    "patientId": t["patient_id"],
                    "treatmentLine": str(t["line"]),
                    "drug": _nl_drug(t["drug"]),
                    "type": _nl_type(t["atc_code"]),
                    "startDate": _iso(start),
                    "endDate": _iso(end),
                }
            )
        else:
            dmy = _dmy(".")
            rows.append(
                {
                    "patient_id": t["patient_id"],
                    "linje": str(t["line"]),
                    "stof": t["drug"],
                    "atc": t["atc_code"],
                    "startdato": dmy(start),
                    "slutdato": dmy(end),
                }
            )
    return rows


def _response_rows(cohort: Cohort) -> list[_Row]:
    diagnosis = _diagnoses(cohort)
    rows: list[_Row] = []
    for r in cohort.responses.to_pylist():
        day = _day(diagnosis[r["patient_id"]], r["day"])
        if cohort.country is Country.SE:
            rows.append(
                {
                    "patient": r["patient_id"],
                    "behandlingslinje": str(r["line"]),
                    "datum": _iso(day),
                    "respons": _SE_RECIST[r["recist"]],
                }
            )
        elif cohort.country is Country.NL:
            rows.append(
                {
                    "patientId": r["patient_id"],
                    "treatmentLine": str(r["line"]),
                    "responseDate": _iso(day),
                    "response": r["recist"],
                }
            )
        else:
            rows.append(
                {
                    "patient_id": r["patient_id"],
                    "linje": str(r["line"]),
                    "dato": _dmy(".")(day),
                    "recist": r["recist"],
                }
            )
    return rows


_COLUMNS: dict[Country, dict[str, tuple[str, ...]]] = {
    Country.SE: {
        "patients": (
            "patient",
            "kön",
            "födelsedatum",
            "diagnosdatum",
            "diagnos",
            "icd10",
            "dödsdatum",
            "senaste_kontakt",
        ),
        "treatments": ("patient", "behandlingslinje", "läkemedel", "atc", "startdatum", "slutdatum"),
        "responses": ("patient", "behandlingslinje", "datum", "respons"),
    },
    Country.NL: {
        "patients": (
            "patientId",
            "gender",
            "birthYear",
            "primaryTumorLocation",
            "cancerSubtype",
            "diagnosisDate",
            "deathDate",
            "lastContactDate",
        ),
        "treatments": ("patientId", "treatmentLine", "drug", "type", "startDate", "endDate"),
        "responses": ("patientId", "treatmentLine", "responseDate", "response"),
    },
    Country.DK: {
        "patients": (
            "patient_id",
            "koen",
            "alder_ved_diagnose",
            "diagnosedato",
            "diagnosekode",
            "diagnosetekst",
            "doedsdato",
            "sidste_kontakt",
        ),
        "treatments": ("patient_id", "linje", "stof", "atc", "startdato", "slutdato"),
        "responses": ("patient_id", "linje", "dato", "recist"),
    },
}


def _write_tsv(path: Path, columns: Sequence[str], rows: Sequence[_Row]) -> Path:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(row[c] for c in columns) + "\n")
    return path


def write_clinical_tables(cohort: Cohort, out_dir: Path) -> dict[str, Path]:
    """Write ``patients.tsv``, ``treatments.tsv`` and ``responses.tsv`` in the country's style."""
    columns = _COLUMNS[cohort.country]
    return {
        "patients": _write_tsv(out_dir / "patients.tsv", columns["patients"], _patient_rows(cohort)),
        "treatments": _write_tsv(out_dir / "treatments.tsv", columns["treatments"], _treatment_rows(cohort)),
        "responses": _write_tsv(out_dir / "responses.tsv", columns["responses"], _response_rows(cohort)),
    }


# -- the mapping file ----------------------------------------------------------------------------------


def _tumour_values(country: Country) -> tuple[dict[str, str], dict[str, str]]:
    """(source label → OncoTree, source code → ICD-10) of every tumour type of the country."""
    labels: dict[str, str] = {}
    codes: dict[str, str] = {}
    for t in profile(country).tumours:
        for label, code in ((t.label, t.code), *t.alternatives):
            labels[label] = t.oncotree
            if code is not None:
                # SKS diagnosis codes are ICD-10 with a leading D and no dot: DC189 is C18.9.
                codes[code] = f"{code[1:4]}.{code[4:]}" if country is Country.DK else code
    return labels, codes


def clinical_mapping(country: Country | str) -> dict[str, object]:
    """The mapping (as the YAML's data) of a country's clinical tables onto the model.

    NL's ``birthYear`` becomes an age through a year-only date format (read as mid-year).
    """
    c = profile(country).country
    labels, codes = _tumour_values(c)
    recist = {"CR": "CR", "PR": "PR", "SD": "SD", "PD": "PD"}
    source = f"genofed-synth-{c.value.lower()}"
    files: dict[str, object]
    if c is Country.SE:
        reference = {"column": "diagnosdatum", "file": "patients"}
        files = {
            "patients": {
                "id_column": "patient",
                "individuals": {
                    "sex": {"column": "kön", "values": {v: k for k, v in _SE_SEX.items()}},
                    "age_at_diagnosis": {"column": "födelsedatum", "type": "date"},
                    "survival": {"death_date": "dödsdatum", "last_contact_date": "senaste_kontakt"},
                },
                "diagnoses": [
                    {
                        "tumour_type": {"column": "diagnos", "values": labels},
                        "icd10": {"column": "icd10"},
                        "label": {"column": "diagnos"},
                        "primary": {"value": True},
                        "day": {"column": "diagnosdatum", "type": "date"},
                    }
                ],
            },
            "treatments": {
                "id_column": "patient",
                "treatments": [
                    {
                        "drug": {"column": "läkemedel"},
                        "atc_code": {"column": "atc"},
                        "line": {"column": "behandlingslinje"},
                        "start_day": {"column": "startdatum", "type": "date"},
                        "end_day": {"column": "slutdatum", "type": "date"},
                    }
                ],
            },
            "responses": {
                "id_column": "patient",
                "responses": [
                    {
                        "recist": {"column": "respons", "values": {v: k for k, v in _SE_RECIST.items()}},
                        "line": {"column": "behandlingslinje"},
                        "day": {"column": "datum", "type": "date"},
                    }
                ],
            },
        }
        date_format: str | list[str] = "iso"
    elif c is Country.NL:
        # Hartwig's treatment table names drugs but has no ATC codes: the mapping supplies them.
        drugs = regimen_drugs()
        reference = {"column": "diagnosisDate", "file": "patients", "date_format": "%d-%m-%Y"}
        files = {
            "patients": {
                "id_column": "patientId",
                "date_format": "%d-%m-%Y",
                "individuals": {
                    "sex": {"column": "gender", "values": {"female": "female", "male": "male"}},
                    # A birth year alone reads as 2 July of that year (half a year at most off).
                    "age_at_diagnosis": {"column": "birthYear", "type": "date", "date_format": "%Y"},
                    "survival": {"death_date": "deathDate", "last_contact_date": "lastContactDate"},
                },
                "diagnoses": [
                    {
                        "tumour_type": {"column": "primaryTumorLocation", "values": labels},
                        "label": {"column": "primaryTumorLocation"},
                        "primary": {"value": True},
                        "metastatic": {"value": True},
                        "day": {"column": "diagnosisDate", "type": "date"},
                    }
                ],
            },
            "treatments": {
                "id_column": "patientId",
                "treatments": [
                    {
                        "drug": {"column": "drug"},
                        "atc_code": {"column": "drug", "values": {_nl_drug(d): atc for d, atc in drugs}},
                        "line": {"column": "treatmentLine"},
                        "start_day": {"column": "startDate", "type": "date"},
                        "end_day": {"column": "endDate", "type": "date"},
                    }
                ],
            },
            "responses": {
                "id_column": "patientId",
                "responses": [
                    {
                        "recist": {"column": "response", "values": recist},
                        "line": {"column": "treatmentLine"},
                        "day": {"column": "responseDate", "type": "date"},
                    }
                ],
            },
        }
        date_format = "iso"
    else:
        reference = {"column": "diagnosedato", "file": "patients"}
        files = {
            "patients": {
                "id_column": "patient_id",
                "individuals": {
                    "sex": {"column": "koen", "values": {v: k for k, v in _DK_SEX.items()}},
                    "age_at_diagnosis": {"column": "alder_ved_diagnose", "type": "integer"},
                    "survival": {"death_date": "doedsdato", "last_contact_date": "sidste_kontakt"},
                },
                "diagnoses": [
                    {
                        "tumour_type": {
                            "column": "diagnosekode",
                            "values": {code: labels[_dk_label(code)] for code in codes},
                        },
                        "icd10": {"column": "diagnosekode", "values": codes},
                        "label": {"column": "diagnosetekst"},
                        "primary": {"value": True},
                        "day": {"column": "diagnosedato", "type": "date"},
                    }
                ],
            },
            "treatments": {
                "id_column": "patient_id",
                "treatments": [
                    {
                        "drug": {"column": "stof"},
                        "atc_code": {"column": "atc"},
                        "line": {"column": "linje"},
                        "start_day": {"column": "startdato", "type": "date"},
                        "end_day": {"column": "slutdato", "type": "date"},
                    }
                ],
            },
            "responses": {
                "id_column": "patient_id",
                "responses": [
                    {
                        "recist": {"column": "recist", "values": recist},
                        "line": {"column": "linje"},
                        "day": {"column": "dato", "type": "date"},
                    }
                ],
            },
        }
        date_format = "%d.%m.%Y"
    return {
        "version": 1,
        "source": source,
        "description": f"genofed.synth synthetic cohort, {c.value} clinical export "
        "(patients, treatments, responses)",
        "date_format": date_format,
        "reference_date": reference,
        "files": files,
    }


def _dk_label(code: str) -> str:
    for t in profile(Country.DK).tumours:
        for label, own in ((t.label, t.code), *t.alternatives):
            if own == code:
                return label
    raise KeyError(code)


def write_mapping(cohort: Cohort, path: Path) -> Path:
    """Write the mapping YAML of the cohort's clinical tables."""
    text = yaml.safe_dump(clinical_mapping(cohort.country), allow_unicode=True, sort_keys=False, width=110)
    header = (
        f"# Mapping of genofed.synth's {cohort.country.value} clinical export onto the genofed model.\n"
        "# Written by genofed.synth.write_cohort; the tables beside it are synthetic.\n"
    )
    path.write_text(header + text, encoding="utf-8")
    return path
