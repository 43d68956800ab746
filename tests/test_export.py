"""The allele-frequency export: Arrow batches, TSV and sites-only VCF, against a Python oracle.

Stores are built from hand-made ``variant_sites`` rows; the expected numbers are sums computed
here in plain Python, and the VCF is read back with cyvcf2 and (when on PATH) bcftools.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from cyvcf2 import VCF

from genofed.errors import QueryError
from genofed.model import variant_id
from genofed.query import (
    FREQUENCY_SCHEMA,
    chromosome_sort_key,
    export_frequencies,
    write_frequencies_tsv,
    write_frequencies_vcf,
)
from genofed.store import NodeStore

Row = dict[str, Any]
Key = tuple[str, int, str, str]


def site(chrom: str, start: int, ref: str, alt: str, ac: int, an: int, assembly: str = "GRCh38") -> Row:
    return {
        "chrom": chrom,
        "start": start,
        "end": start + len(ref),
        "ref": ref,
        "alt": alt,
        "variant_id": variant_id(assembly, chrom, start, ref, alt),
        "assembly": assembly,
        "allele_count": ac,
        "allele_number": an,
    }


def write(store: NodeStore, batches: list[list[Row]]) -> None:
    for number, rows in enumerate(batches):
        store.write_stream(
            [("variant_sites", pa.Table.from_pylist(rows))],
            kind="test",
            source=f"b{number}",
            key=f"b{number}",
        )


def expected(batches: list[list[Row]], assembly: str = "GRCh38") -> list[tuple[str, int, str, str, int, int]]:
    """The oracle: per allele, AC and AN summed over batches; natural chromosome order, then position."""
    sums: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for rows in batches:
        for r in rows:
            if r["assembly"] == assembly:
                total = sums[(r["chrom"], r["start"], r["ref"], r["alt"])]
                total[0] += r["allele_count"]
                total[1] += r["allele_number"]
    order = sorted(sums, key=lambda k: (chromosome_sort_key(k[0]), k[1], k[2], k[3]))
    return [(c, s + 1, ref, alt, *sums[(c, s, ref, alt)]) for c, s, ref, alt in order]


def random_batches(seed: int, n_batches: int = 3, n_sites: int = 150) -> list[list[Row]]:
    """Sites scattered over chromosomes, many shared between batches (as common alleles are)."""
    rng = np.random.default_rng(seed)
    chroms = ["1", "2", "10", "22", "X", "Y", "MT"]
    pool = []
    for _ in range(n_sites):
        chrom = str(rng.choice(chroms))
        ref, alt = rng.choice(list("ACGT"), size=2, replace=False)
        pool.append((chrom, int(rng.integers(1, 1_000_000)), str(ref), str(alt)))
    batches = []
    for _ in range(n_batches):
        chosen = rng.choice(len(pool), size=n_sites // 2, replace=False)
        rows = []
        for i in chosen:
            an = int(rng.integers(2, 400))
            rows.append(site(*pool[i], ac=int(rng.integers(0, an + 1)), an=an))
        batches.append(rows)
    return batches


BATCHES = [
    [
        site("10", 500, "A", "G", 1, 10),
        site("2", 100, "C", "T", 2, 10),
        site("1", 1000, "G", "A", 3, 10),
        site("X", 50, "T", "C", 1, 10),
        site("MT", 7, "A", "G", 4, 8),
    ],
    [
        site("1", 1000, "G", "A", 5, 20),  # the same allele again: summed
        site("1", 1000, "G", "C", 1, 20),  # another allele at the same site: its own row
        site("1", 999, "T", "A", 0, 20),
        site("2", 100, "C", "T", 0, 0),  # AN 0 in this batch
    ],
]


@pytest.fixture
def filled(store: NodeStore) -> NodeStore:
    write(store, BATCHES)
    return store


def test_export_frequencies__sums_batches_in_natural_order(filled: NodeStore) -> None:
    batches = list(export_frequencies(filled))
    assert all(b.schema == FREQUENCY_SCHEMA for b in batches)
    rows = pa.Table.from_batches(batches).to_pylist()
    assert [(r["chrom"], r["pos"], r["ref"], r["alt"], r["AC"], r["AN"]) for r in rows] == expected(BATCHES)
    assert [r["chrom"] for r in rows] == ["1", "1", "1", "2", "10", "X", "MT"]
    first = rows[1]  # 1:1001 G>A, 0-based start 1000
    assert (first["pos"], first["AC"], first["AN"], first["AF"]) == (1001, 8, 30, pytest.approx(8 / 30))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_export_frequencies__matches_oracle_on_random_sites(store: NodeStore, seed: int) -> None:
    batches = random_batches(seed)
    write(store, batches)
    table = pa.Table.from_batches(list(export_frequencies(store)))
    got = list(
        zip(*(table.column(c).to_pylist() for c in ("chrom", "pos", "ref", "alt", "AC", "AN")), strict=True)
    )
    assert got == expected(batches)
    an = np.array(table.column("AN").to_pylist())
    ac = np.array(table.column("AC").to_pylist())
    af = np.array(table.column("AF").to_pylist())
    assert np.allclose(af, np.divide(ac, an, out=np.zeros(len(an)), where=an > 0))


def test_export_frequencies__anchors_empty_alleles(store: NodeStore) -> None:
    write(
        store,
        [
            [
                site("1", 10, "A", "", 1, 4),  # deletion of the base at 0-based 10
                site("1", 20, "", "TT", 2, 4),  # insertion before 0-based 20
                site("1", 0, "G", "", 1, 4),  # deletion of the first base: anchored after it
            ]
        ],
    )
    rows = pa.Table.from_batches(list(export_frequencies(store))).to_pylist()
    assert [(r["pos"], r["ref"], r["alt"]) for r in rows] == [
        (1, "GN", "N"),
        (10, "NA", "N"),
        (20, "N", "NTT"),
    ]


def test_export_frequencies__one_assembly_at_a_time(store: NodeStore) -> None:
    write(store, [[site("1", 10, "A", "G", 1, 4), site("1", 10, "A", "G", 2, 8, assembly="GRCh37")]])
    with pytest.raises(QueryError, match=r"holds variant sites on GRCh37 and GRCh38; export one assembly"):
        list(export_frequencies(store))
    rows = pa.Table.from_batches(list(export_frequencies(store, assembly="hg19"))).to_pylist()
    assert [(r["AC"], r["AN"]) for r in rows] == [(2, 8)]
    with pytest.raises(QueryError, match=r"unknown assembly 'hg17'"):
        list(export_frequencies(store, assembly="hg17"))


def test_export_frequencies__empty_store_yields_nothing(store: NodeStore, tmp_path: Path) -> None:
    assert list(export_frequencies(store)) == []
    assert write_frequencies_vcf(store, tmp_path / "empty.vcf") == 0
    assert list(VCF(str(tmp_path / "empty.vcf"))) == []


def test_write_frequencies_tsv__header_and_rows(filled: NodeStore, tmp_path: Path) -> None:
    path = tmp_path / "freq.tsv"
    assert write_frequencies_tsv(filled, path) == 7
    lines = path.read_text().splitlines()
    assert lines[0] == "#CHROM\tPOS\tREF\tALT\tAC\tAN\tAF"
    parsed = [line.split("\t") for line in lines[1:]]
    assert [(c, int(p), r, a, int(ac), int(an)) for c, p, r, a, ac, an, _ in parsed] == expected(BATCHES)
    assert parsed[3] == ["2", "101", "C", "T", "2", "10", "0.2"]


def _read_cyvcf2(path: Path) -> list[tuple[str, int, str, str, int, int, float]]:
    out = []
    for record in VCF(str(path)):
        (alt,) = record.ALT
        ac, an, af = record.INFO["AC"], record.INFO["AN"], record.INFO["AF"]
        out.append((record.CHROM, record.POS, record.REF, alt, int(ac), int(an), float(af)))
    return out


def test_write_frequencies_vcf__readable_by_cyvcf2(store: NodeStore, tmp_path: Path) -> None:
    batches = random_batches(7)
    write(store, batches)
    path = tmp_path / "freq.vcf"
    assert write_frequencies_vcf(store, path) == len(expected(batches))
    vcf = VCF(str(path))
    assert vcf.seqnames == ["1", "2", "10", "22", "X", "Y", "MT"]
    assert "##reference=GRCh38" in vcf.raw_header
    assert "##fileformat=VCFv4.3" in vcf.raw_header
    records = _read_cyvcf2(path)
    assert [r[:6] for r in records] == expected(batches)
    for *_, ac, an, af in records:
        assert af == pytest.approx(ac / an if an else 0.0, rel=1e-6)


@pytest.mark.bcftools
@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools is not on PATH")
def test_write_frequencies_vcf__readable_by_bcftools(filled: NodeStore, tmp_path: Path) -> None:
    path = tmp_path / "freq.vcf.gz"
    write_frequencies_vcf(filled, path)
    subprocess.run(["bcftools", "index", "--tbi", str(path)], check=True, capture_output=True)
    query = subprocess.run(
        ["bcftools", "query", "-f", r"%CHROM\t%POS\t%REF\t%ALT\t%INFO/AC\t%INFO/AN\t%INFO/AF\n", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = [line.split("\t") for line in query.stdout.splitlines()]
    assert [(c, int(p), r, a, int(ac), int(an)) for c, p, r, a, ac, an, _ in rows] == expected(BATCHES)
    # bcftools prints floats with 6 significant digits.
    assert [float(af) for *_, af in rows] == pytest.approx(
        [ac / an if an else 0 for *_, ac, an in expected(BATCHES)], rel=1e-5
    )
    # A region look-up through the tabix index: the file is sorted and BGZF-compressed.
    region = subprocess.run(
        ["bcftools", "view", "-H", "-r", "1:1001", str(path)], check=True, capture_output=True, text=True
    )
    assert [line.split("\t")[4] for line in region.stdout.splitlines()] == ["A", "C"]
