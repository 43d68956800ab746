"""Typed queries: validation, compilation to SQL (DuckDB and Spark), and answers on small stores.

Stores are built from hand-made Arrow tables in the model's schema with ``NodeStore.write_stream``;
expected answers are either worked out by hand or computed by a pure-Python oracle over the same
rows (``_Oracle``), which implements the documented semantics independently of the SQL.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genofed.query
from genofed.errors import QueryError
from genofed.model import expand_consequence, oncotree, variant_id
from genofed.query import (
    AlleleFrequencyQuery,
    AlleleFrequencyResult,
    CohortCountQuery,
    CohortFilter,
    Plan,
    RegionCarriersQuery,
    RegionCarriersResult,
    compile,
    parse_query,
    run,
)
from genofed.store import NodeStore

Row = dict[str, Any]
Batch = dict[str, list[Row]]


# -- building stores from hand-made rows ----------------------------------------------------------
def site(
    chrom: str,
    start: int,
    ref: str,
    alt: str,
    *,
    gene: str | None = None,
    consequence: str | None = None,
    protein_change: str | None = None,
    ac: int = 1,
    an: int = 2,
    hom: int = 0,
    assembly: str = "GRCh38",
) -> Row:
    """A variant_sites row."""
    return {
        "chrom": chrom,
        "start": start,
        "end": start + len(ref),
        "ref": ref,
        "alt": alt,
        "variant_id": variant_id(assembly, chrom, start, ref, alt),
        "assembly": assembly,
        "gene": gene,
        "consequence": consequence,
        "protein_change": protein_change,
        "allele_count": ac,
        "allele_number": an,
        "homozygous_count": hom,
    }


def call(allele: Row, individual: str, analysis: str | None = None) -> Row:
    """A variant_calls row of ``individual`` for the allele of a site row."""
    keys = ("chrom", "start", "end", "ref", "alt", "variant_id")
    return {
        **{k: allele[k] for k in keys},
        "individual_id": individual,
        "analysis_id": analysis or f"A-{individual}",
    }


def person(individual: str, sex: str = "unknown", age: float | None = None) -> Row:
    """An individuals row."""
    return {"individual_id": individual, "sex": sex, "age_at_diagnosis": age}


def diagnosis(individual: str, code: str | None) -> Row:
    """A diagnoses row."""
    return {"individual_id": individual, "tumour_type": code}


def analysis(individual: str, name: str | None = None) -> Row:
    """An analyses row."""
    return {"analysis_id": name or f"A-{individual}", "individual_id": individual}


_SCHEMA_HINTS = {"age_at_diagnosis": pa.float64(), "gene": pa.string(), "consequence": pa.string()}


def _table(rows: list[Row]) -> pa.Table:
    names = list(rows[0])
    return pa.table({n: pa.array([r.get(n) for r in rows], type=_SCHEMA_HINTS.get(n)) for n in names})


def write(store: NodeStore, batches: Sequence[Batch]) -> None:
    """Publish each batch (oldest first) as one store batch."""
    for number, batch in enumerate(batches):
        chunks = [(name, _table(rows)) for name, rows in batch.items() if rows]
        store.write_stream(chunks, kind="test", source=f"batch{number}", key=f"test:{number}")


# -- an independent oracle ------------------------------------------------------------------------
@dataclass
class _Oracle:
    """The documented semantics in plain Python over the hand-made rows (source identifiers)."""

    batches: Sequence[Batch]
    people: dict[str, Row] = field(init=False)
    diagnoses: dict[str, set[str | None]] = field(init=False)

    def __post_init__(self) -> None:
        # Latest batch wins, per table and individual: later batches overwrite earlier ones.
        self.people, self.diagnoses = {}, {}
        for batch in self.batches:
            latest_people: dict[str, Row] = {}
            for row in batch.get("individuals", []):
                latest_people[row["individual_id"]] = row
            self.people.update(latest_people)
            latest_dx: dict[str, set[str | None]] = {}
            for row in batch.get("diagnoses", []):
                latest_dx.setdefault(row["individual_id"], set()).add(row["tumour_type"])
            self.diagnoses.update(latest_dx)

    def rows(self, table: str) -> Iterator[Row]:
        for batch in self.batches:
            yield from batch.get(table, [])

    def known(self) -> set[str]:
        return {
            r["individual_id"]
            for t in ("individuals", "diagnoses", "analyses", "variant_calls")
            for r in self.rows(t)
        }

    def site_matches(self, flt: CohortFilter, allele: Row) -> bool:
        """Whether any site row of the call's allele meets all variant conditions."""
        terms = expand_consequence(flt.consequence) if flt.consequence else None
        for s in self.rows("variant_sites"):
            if (s["chrom"], s["start"], s["variant_id"]) != (
                allele["chrom"],
                allele["start"],
                allele["variant_id"],
            ):
                continue
            if flt.gene is not None and s["gene"] != flt.gene:
                continue
            if terms is not None and s["consequence"] not in terms:
                continue
            if flt.protein_change is not None and s["protein_change"] != flt.protein_change:
                continue
            return True
        return False

    def person_matches(self, flt: CohortFilter, individual: str) -> bool:
        """Clinical and tumour-type conditions."""
        if flt.clinical:
            row = self.people.get(individual)
            if row is None:
                return False
            if flt.sex is not None and row["sex"] != flt.sex.value:
                return False
            age = row["age_at_diagnosis"]
            # Ages are stored as 32-bit floats and compared in that type.
            if flt.age_min is not None and (age is None or np.float32(age) < np.float32(flt.age_min)):
                return False
            if flt.age_max is not None and (age is None or np.float32(age) > np.float32(flt.age_max)):
                return False
        if flt.tumour_type is not None:
            codes = oncotree().descendants(flt.tumour_type)
            if not self.diagnoses.get(individual, set()) & codes:
                return False
        return True

    def cohort_count(self, flt: CohortFilter) -> int:
        matched = {p for p in self.known() if self.person_matches(flt, p)}
        if flt.genomic:
            matched &= {c["individual_id"] for c in self.rows("variant_calls") if self.site_matches(flt, c)}
        return len(matched)

    def region(self, query: RegionCarriersQuery) -> tuple[int, int]:
        flt = query.filter
        carriers, variants = set(), set()
        for c in self.rows("variant_calls"):
            if c["chrom"] != query.chrom or not (c["start"] < query.end and c["end"] > query.start):
                continue
            if not self.person_matches(flt, c["individual_id"]):
                continue
            if flt.genomic and not self.site_matches(flt, c):
                continue
            carriers.add(c["individual_id"])
            variants.add(c["variant_id"])
        return len(carriers), len(variants)


# -- a hand-made cohort with known answers --------------------------------------------------------
KRAS_G12C = site(
    "12", 25245350, "C", "A", gene="KRAS", consequence="missense_variant", protein_change="p.G12C"
)
KRAS_G12D = site(
    "12", 25245350, "C", "T", gene="KRAS", consequence="missense_variant", protein_change="p.G12D"
)
KRAS_SYN = site(
    "12", 25245400, "G", "A", gene="KRAS", consequence="synonymous_variant", protein_change="p.L6="
)
BRAF_V600E = site(
    "7", 140753335, "A", "T", gene="BRAF", consequence="missense_variant", protein_change="p.V600E"
)
TP53_STOP = site("17", 7675087, "G", "A", gene="TP53", consequence="stop_gained", protein_change="p.R213*")
# Alleles as ingest stores them: trimmed (VRS/SPDI), so a deletion has an empty alt and an insertion
# an empty ref with start == end.
DELETION = site("17", 7675201, "AGT", "", gene="TP53", consequence="frameshift_variant")  # [7675201, 7675204)
INSERTION = site("17", 7675300, "", "TT", gene="TP53", consequence="frameshift_variant")  # [7675300, 7675300)

COHORT: list[Batch] = [
    {  # clinical export 1
        "individuals": [
            person("P1", "female", 55.0),
            person("P2", "male", 61.5),
            person("P3", "female", 70.0),
            person("P4", "male", None),
        ],
        "diagnoses": [
            diagnosis("P1", "COAD"),
            diagnosis("P2", "READ"),
            diagnosis("P3", "SKCM"),
            diagnosis("P4", "LUAD"),
        ],
    },
    {  # a VCF batch: P1..P5 and P7 (P5 and P7 have no clinical record)
        "analyses": [analysis(p) for p in ("P1", "P2", "P3", "P5")],
        "variant_sites": [
            {**KRAS_G12C, "allele_count": 2, "allele_number": 10},
            {**KRAS_G12D, "allele_count": 1, "allele_number": 10},
            KRAS_SYN,
            BRAF_V600E,
            TP53_STOP,
            DELETION,
            INSERTION,
        ],
        "variant_calls": [
            call(KRAS_G12C, "P1"),
            call(KRAS_G12C, "P5"),
            call(KRAS_G12D, "P2"),
            call(KRAS_SYN, "P3"),
            call(BRAF_V600E, "P3"),
            call(TP53_STOP, "P2"),
            call(TP53_STOP, "P7"),  # P7: known only from this call
            call(DELETION, "P1"),
            call(INSERTION, "P3"),
        ],
    },
    {  # clinical export 2: P4's record is corrected; P6 is new and has only an analysis
        "individuals": [person("P4", "female", 48.0)],
        "diagnoses": [diagnosis("P4", "NSCLC")],
        "analyses": [analysis("P6")],
        "variant_sites": [{**KRAS_G12C, "allele_count": 1, "allele_number": 6}],
    },
]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, as_backend: Any) -> Iterator[NodeStore]:
    # Parametrised by backend (tests/backends.py): the same answers on DuckDB and on Spark.
    with NodeStore.open(tmp_path_factory.mktemp("cohort") / "store", create=True) as store:
        write(store, COHORT)
        yield as_backend(store)


def count(store: NodeStore, **conditions: Any) -> int:
    return run(store, CohortCountQuery(filter=CohortFilter(**conditions))).individuals


# -- allele frequency -----------------------------------------------------------------------------
def test_run__allele_frequency_sums_batches(cohort: NodeStore) -> None:
    result = run(cohort, AlleleFrequencyQuery(chrom="12", start=25245350, ref="C", alt="A"))
    assert result == AlleleFrequencyResult(
        allele_count=3, allele_number=16, allele_frequency=3 / 16, homozygous_count=0
    )


def test_run__allele_frequency_pos_is_one_based_and_chr_prefix_is_dropped(cohort: NodeStore) -> None:
    by_start = run(cohort, AlleleFrequencyQuery(chrom="12", start=25245350, ref="C", alt="T"))
    by_pos = run(cohort, AlleleFrequencyQuery(chrom="chr12", pos=25245351, ref="c", alt="t", assembly="hg38"))
    assert by_pos == by_start
    assert (by_start.allele_count, by_start.allele_number) == (1, 10)


def test_run__allele_frequency_trims_vcf_style_indels(cohort: NodeStore) -> None:
    # VCF writes the deletion with its anchor base: POS=7675201 (1-based) REF=CAGT ALT=C.
    padded = AlleleFrequencyQuery(chrom="17", pos=7675201, ref="CAGT", alt="C")
    assert (padded.start, padded.ref, padded.alt) == (7675201, "AGT", "")
    stored = AlleleFrequencyQuery(chrom="17", start=7675201, ref="AGT", alt="")
    assert run(cohort, padded) == run(cohort, stored)
    assert run(cohort, padded).allele_count == 1
    inserted = AlleleFrequencyQuery(chrom="17", pos=7675300, ref="G", alt="GTT")
    assert run(cohort, inserted).allele_count == 1


@pytest.mark.parametrize(
    "query",
    [
        AlleleFrequencyQuery(chrom="12", start=25245350, ref="C", alt="G"),  # other alt
        AlleleFrequencyQuery(chrom="12", start=25245351, ref="C", alt="A"),  # off by one
        AlleleFrequencyQuery(chrom="13", start=25245350, ref="C", alt="A"),  # other chromosome
        AlleleFrequencyQuery(chrom="12", start=25245350, ref="C", alt="A", assembly="GRCh37"),
    ],
)
def test_run__allele_frequency_of_unseen_allele_is_zero(
    cohort: NodeStore, query: AlleleFrequencyQuery
) -> None:
    assert run(cohort, query) == AlleleFrequencyResult(
        allele_count=0, allele_number=0, allele_frequency=0.0, homozygous_count=0
    )


# -- cohort counts --------------------------------------------------------------------------------
def test_run__empty_filter_counts_everyone_known(cohort: NodeStore) -> None:
    # P1-P4 clinical, P5 from a call and an analysis, P6 from an analysis only, P7 from a call only.
    assert count(cohort) == 7


def test_run__oncotree_parent_includes_descendants(cohort: NodeStore) -> None:
    assert {"COAD", "READ"} <= oncotree().descendants("COADREAD")
    assert count(cohort, tumour_type="COADREAD") == 2  # P1 (COAD) and P2 (READ)
    assert count(cohort, tumour_type="COAD") == 1
    assert count(cohort, tumour_type="coadread") == 2  # codes are case-insensitive


def test_run__protein_change_in_one_or_three_letters(cohort: NodeStore) -> None:
    assert count(cohort, gene="KRAS", protein_change="p.G12C") == 2  # P1, P5
    assert count(cohort, gene="KRAS", protein_change="p.Gly12Cys") == 2
    assert count(cohort, protein_change="Gly12Cys") == 2


def test_run__variant_conditions_hold_for_the_same_variant(cohort: NodeStore) -> None:
    # P3 has a synonymous KRAS variant and a missense BRAF variant: neither is a KRAS missense.
    assert count(cohort, gene="KRAS", consequence="missense") == 3  # P1, P2, P5
    assert count(cohort, gene="BRAF", consequence="missense") == 1  # P3
    assert count(cohort, gene="KRAS", consequence="synonymous_variant") == 1  # P3
    assert count(cohort, gene="KRAS", protein_change="p.V600E") == 0
    assert count(cohort, consequence="truncating") == 4  # P2, P7 (stop), P1, P3 (frameshift)


def test_run__genomic_conditions_count_people_without_clinical_records(cohort: NodeStore) -> None:
    assert count(cohort, gene="TP53", consequence="stop_gained") == 2  # P2 and P7 (calls only)
    assert count(cohort, protein_change="p.R213*") == 2


def test_run__clinical_conditions_need_the_clinical_record(cohort: NodeStore) -> None:
    # P5 carries KRAS G12C but has no clinical record: a sex condition cannot hold for them.
    assert count(cohort, protein_change="p.G12C", sex="female") == 1  # P1
    assert count(cohort, sex="female") == 3  # P1, P3, P4 (corrected in batch 3)


def test_run__latest_batch_wins_for_clinical_records(cohort: NodeStore) -> None:
    # P4 was male, no age, LUAD in batch 1; female, 48, NSCLC in batch 3.
    assert count(cohort, sex="male") == 1  # P2 only
    assert count(cohort, age_min=40, age_max=50) == 1  # P4 at 48
    assert count(cohort, tumour_type="LUAD") == 0
    assert count(cohort, tumour_type="NSCLC") == 1


def test_run__age_bounds_are_inclusive_at_32_bit_precision(cohort: NodeStore) -> None:
    assert count(cohort, age_min=61.5, age_max=61.5) == 1
    assert count(cohort, age_min=55.0, age_max=61.5) == 2
    assert count(cohort, age_max=54.999) == 1  # P4 (48)


def test_run__combined_conditions_are_anded(cohort: NodeStore) -> None:
    assert count(cohort, tumour_type="COADREAD", gene="KRAS", consequence="missense", sex="male") == 1  # P2
    assert count(cohort, tumour_type="COADREAD", gene="BRAF") == 0


# -- region carriers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "end", "carriers", "variants"),
    [
        (25245350, 25245351, 3, 2),  # exactly the G12 base: P1, P5 (G12C), P2 (G12D)
        (25245351, 25245400, 0, 0),  # starts right after the SNVs, ends right before the synonymous one
        (25245300, 25245350, 0, 0),  # ends where the SNVs start (half-open)
        (25245349, 25245351, 3, 2),
        (25245350, 25245401, 4, 3),  # includes the synonymous variant (P3)
        (0, 300_000_000, 4, 3),
    ],
)
def test_run__region_overlap_is_half_open(
    cohort: NodeStore, start: int, end: int, carriers: int, variants: int
) -> None:
    result = run(cohort, RegionCarriersQuery(chrom="12", start=start, end=end))
    assert result == RegionCarriersResult(carriers=carriers, variants=variants)


@pytest.mark.parametrize(
    ("start", "end", "carriers"),
    [
        (7675201, 7675202, 1),  # first deleted base
        (7675203, 7675204, 1),  # last base of the deletion [7675201, 7675204)
        (7675204, 7675300, 0),  # right after it (and ending at the insertion point)
        (7675100, 7675201, 0),  # right before it
        # An insertion [s, s) overlaps [start, end) when start < s < end (the same formula):
        (7675299, 7675301, 1),
        (7675300, 7675301, 0),
        (7675299, 7675300, 0),
    ],
)
def test_run__region_overlaps_multi_base_alleles(
    cohort: NodeStore, start: int, end: int, carriers: int
) -> None:
    assert run(cohort, RegionCarriersQuery(chrom="17", start=start, end=end)).carriers == carriers


def test_run__region_with_filter(cohort: NodeStore) -> None:
    kras = {"chrom": "chr12", "start": 25245000, "end": 25246000}
    assert run(cohort, RegionCarriersQuery(**kras, filter=CohortFilter(sex="female"))).carriers == 2  # P1, P3
    result = run(cohort, RegionCarriersQuery(**kras, filter=CohortFilter(consequence="missense")))
    assert result == RegionCarriersResult(carriers=3, variants=2)
    result = run(
        cohort, RegionCarriersQuery(**kras, filter=CohortFilter(tumour_type="COADREAD", gene="KRAS"))
    )
    assert result == RegionCarriersResult(carriers=2, variants=2)
    assert run(cohort, RegionCarriersQuery(**kras, assembly="GRCh37")).carriers == 0
    assert run(cohort, RegionCarriersQuery(**kras, assembly="GRCh38")).carriers == 4


# -- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CohortFilter(tumour_type="NOTACODE"), r"'NOTACODE' is not an OncoTree code"),
        (lambda: CohortFilter(tumour_type="melanoma"), r"is not an OncoTree code .*did you mean"),
        (lambda: CohortFilter(consequence="bad_variant"), r"unknown consequence 'bad_variant'.*truncating"),
        (lambda: CohortFilter(age_min=70, age_max=60), r"age_min \(70\) is greater than age_max \(60\)"),
        (
            lambda: CohortFilter(age_min=-1),
            r"CohortFilter.age_min: Input should be greater than or equal to 0",
        ),
        (lambda: CohortFilter(sex="f"), r"CohortFilter.sex: Input should be 'female', 'male'"),
        (lambda: CohortFilter(gene="KRAS'; DROP TABLE x"), r"is not an HGNC gene symbol"),
        (lambda: CohortFilter(protein_change="p.?"), r"is not an HGVS protein change"),
        (lambda: CohortFilter(tumor_type="COAD"), r"CohortFilter.tumor_type: Extra inputs are not permitted"),
        (lambda: RegionCarriersQuery(chrom="1", start=10, end=10), r"end \(10\) must be greater than start"),
        (
            lambda: RegionCarriersQuery(chrom="1", start=10, end=20, assembly="hg17"),
            r"unknown assembly 'hg17'",
        ),
        (lambda: AlleleFrequencyQuery(chrom="1", ref="A", alt="T"), r"exactly one of them"),
        (lambda: AlleleFrequencyQuery(chrom="1", start=5, pos=6, ref="A", alt="T"), r"exactly one of them"),
        (lambda: AlleleFrequencyQuery(chrom="1", pos=0, ref="A", alt="T"), r"pos: expected a 1-based"),
        (lambda: AlleleFrequencyQuery(chrom="1", pos=5, ref="A", alt="<DEL>"), r"must consist of A, C, G, T"),
        (lambda: AlleleFrequencyQuery(chrom="1", pos=5, ref="A", alt="A"), r"ref and alt are the same"),
        (
            lambda: RegionCarriersQuery(chrom="1", start=0, end=5, filter={"consequence": "nonsense"}),
            r"unknown consequence 'nonsense'",
        ),
    ],
)
def test_query__bad_input_raises_query_error(build: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        build()


def test_parse_query__round_trips_json_and_rejects_unknown_kinds() -> None:
    query = RegionCarriersQuery(
        chrom="7", start=1, end=5, filter=CohortFilter(tumour_type="SKCM", gene="BRAF")
    )
    assert parse_query(query.model_dump_json()) == query
    assert parse_query(query.model_dump()) == query
    with pytest.raises(QueryError, match=r"query: Input tag 'survival' found using 'kind' does not match"):
        parse_query({"kind": "survival"})
    with pytest.raises(QueryError, match=r"is not an OncoTree code"):
        parse_query({"kind": "cohort_count", "filter": {"tumour_type": "XYZ"}})


def test_filter__normalises_codes_and_notation() -> None:
    flt = CohortFilter(
        tumour_type=" coadread ", consequence="conservative_inframe_deletion", protein_change="Gly12Cys"
    )
    assert (flt.tumour_type, flt.consequence, flt.protein_change) == (
        "COADREAD",
        "inframe_deletion",
        "p.G12C",
    )
    assert CohortFilter(consequence="truncating").consequences() == expand_consequence("truncating")


# -- compilation ----------------------------------------------------------------------------------
PLANS = [
    AlleleFrequencyQuery(chrom="1", pos=100, ref="A", alt="G"),
    CohortCountQuery(),
    CohortCountQuery(filter=CohortFilter(sex="female", age_min=30, age_max=40)),
    CohortCountQuery(
        filter=CohortFilter(
            tumour_type="COADREAD",
            sex="male",
            age_max=80,
            gene="KRAS",
            consequence="missense",
            protein_change="G12C",
        )
    ),
    RegionCarriersQuery(chrom="X", start=0, end=1_000_000),
    RegionCarriersQuery(
        chrom="7", start=5, end=10, assembly="GRCh37", filter=CohortFilter(tumour_type="SKCM")
    ),
    RegionCarriersQuery(
        chrom="7", start=5, end=10, filter=CohortFilter(gene="BRAF", consequence="truncating", sex="female")
    ),
]


@pytest.mark.parametrize("query", PLANS, ids=lambda q: q.kind)
def test_compile__plans_transpile_to_spark(query: Any) -> None:
    plan = compile(query)
    spark = plan.sql("spark")
    parsed = sqlglot.parse_one(spark, read="spark")  # raises if Spark's grammar rejects it
    placeholders = {p.name for p in parsed.find_all(sqlglot.exp.Placeholder)}
    assert placeholders == set(plan.named_params)
    assert "$" not in spark


@pytest.mark.parametrize("query", PLANS, ids=lambda q: q.kind)
def test_compile__binds_every_value(query: Any) -> None:
    plan = compile(query)
    sql = plan.sql("duckdb")
    parsed = sqlglot.parse_one(sql, read="duckdb")
    numbers = {int(p.name) for p in parsed.find_all(sqlglot.exp.Placeholder)}
    assert numbers == set(range(1, len(plan.params) + 1))
    # No user value is spelled in the SQL: only our own literals (0 in COALESCE) appear.
    literals = {lit.this for lit in parsed.find_all(sqlglot.exp.Literal)}
    assert literals <= {"0"}


def test_compile__expands_tumour_types_and_consequence_classes() -> None:
    plan = compile(CohortCountQuery(filter=CohortFilter(tumour_type="COADREAD", consequence="inframe")))
    assert set(oncotree().descendants("COADREAD")) <= set(plan.params)
    assert {"inframe_insertion", "inframe_deletion"} <= set(plan.params)


def test_compile__unknown_dialect_raises_query_error() -> None:
    with pytest.raises(QueryError, match=r"cannot be written in the 'nosuchsql' SQL dialect"):
        compile(CohortCountQuery()).sql("nosuchsql")


# -- randomised cohorts against the oracle --------------------------------------------------------
POOL = [
    KRAS_G12C,
    KRAS_G12D,
    KRAS_SYN,
    BRAF_V600E,
    TP53_STOP,
    DELETION,
    site("12", 25245350, "C", "A", gene="KRAS", consequence="missense_variant", assembly="GRCh37"),
    INSERTION,
    site("7", 140753336, "T", "", gene="BRAF", consequence="frameshift_variant"),
]
CODES = ["COAD", "READ", "COADREAD", "SKCM", "LUAD", "NSCLC", "IDC", "BRCA", None]
AGES = [None, 18.0, 40.5, 55.0, 61.3, 80.25]
IDS = [f"P{i}" for i in range(10)]


@st.composite
def cohorts(draw: st.DrawFn) -> list[Batch]:
    batches: list[Batch] = []
    for _ in range(draw(st.integers(1, 3))):
        clinical = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=6))
        dx = draw(st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(CODES)), max_size=8))
        calls = draw(st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(POOL)), max_size=10))
        sites = draw(st.lists(st.sampled_from(POOL), max_size=4)) + [s for _, s in calls]
        batches.append(
            {
                "individuals": [
                    person(
                        p, draw(st.sampled_from(["female", "male", "unknown"])), draw(st.sampled_from(AGES))
                    )
                    for p in clinical
                ],
                "diagnoses": [diagnosis(p, code) for p, code in dx],
                "analyses": [
                    analysis(p) for p in draw(st.lists(st.sampled_from(IDS), unique=True, max_size=3))
                ],
                "variant_sites": sites,
                "variant_calls": [call(s, p) for p, s in calls],
            }
        )
    return batches


_CHOICES: dict[str, list[Any]] = {
    "tumour_type": ["COADREAD", "COAD", "BOWEL", "NSCLC", "SKCM", "BREAST"],
    "sex": ["female", "male"],
    "age_min": [0.0, 18.0, 40.5, 55.0, 61.3],
    "age_max": [40.5, 55.0, 61.3, 70.0, 100.0],
    "gene": ["KRAS", "BRAF", "TP53"],
    "consequence": ["missense", "truncating", "synonymous_variant", "stop_gained"],
    "protein_change": ["p.G12C", "p.Gly12Asp", "V600E", "p.Arg213Ter"],
}


@st.composite
def filters(draw: st.DrawFn) -> CohortFilter:
    # Up to three conditions, so that many random filters still match someone.
    names = draw(st.sets(st.sampled_from(sorted(_CHOICES)), max_size=3))
    values = {name: draw(st.sampled_from(_CHOICES[name])) for name in names}
    if values.get("age_min", 0.0) > values.get("age_max", 200.0):
        values["age_min"], values["age_max"] = values["age_max"], values["age_min"]
    return CohortFilter(**values)


@st.composite
def regions(draw: st.DrawFn) -> RegionCarriersQuery:
    chrom, anchor = draw(
        st.sampled_from(
            [
                ("12", 25245350),
                ("12", 25245400),
                ("7", 140753335),
                ("17", 7675087),
                ("17", 7675201),
                ("17", 7675300),
            ]
        )
    )
    # Starts and ends on and around allele boundaries, where half-open overlap is decided.
    start = max(anchor + draw(st.integers(-5, 5)), 0)
    return RegionCarriersQuery(
        chrom=chrom,
        start=start,
        end=start + draw(st.sampled_from([1, 2, 3, 4, 5, 6, 60])),
        filter=draw(filters()),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=cohorts(),
    cohort_filters=st.lists(filters(), min_size=1, max_size=12),
    region_queries=st.lists(regions(), max_size=10),
)
def test_run__matches_python_oracle_on_random_cohorts(
    batches: list[Batch], cohort_filters: list[CohortFilter], region_queries: list[RegionCarriersQuery]
) -> None:
    oracle = _Oracle(batches)
    with tempfile.TemporaryDirectory() as tmp, NodeStore.open(Path(tmp) / "store", create=True) as store:
        write(store, batches)
        assert count(store) == oracle.cohort_count(CohortFilter())
        for flt in cohort_filters:
            assert run(store, CohortCountQuery(filter=flt)).individuals == oracle.cohort_count(flt), flt
        for query in region_queries:
            result = run(store, query)
            assert (result.carriers, result.variants) == oracle.region(query), query


@settings(max_examples=80, deadline=None)
@given(region=regions(), flt=filters())
def test_plan_sql__text_shared_by_shape_equals_a_fresh_render(
    region: RegionCarriersQuery, flt: CohortFilter
) -> None:
    # Plans of one shape share their rendered text; it must be exactly what this plan renders to.
    for query in (region, CohortCountQuery(filter=flt)):
        plan = compile(query)
        uncached = Plan(plan.expression, plan.params)  # no shape: rendered afresh
        for dialect in ("duckdb", "spark"):
            assert plan.sql(dialect) == uncached.sql(dialect)


def test_all__is_complete() -> None:
    public = {name for name in dir(genofed.query) if not name.startswith("_")}
    assert set(genofed.query.__all__) == public
    assert len(genofed.query.__all__) == len(set(genofed.query.__all__))  # order: ruff's RUF022
