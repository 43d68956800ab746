"""Distributed ingest: per-sample / per-chromosome VCFs parsed by Spark tasks, published as one batch.

Oracle: the same files ingested one by one with ``NodeStore.write_stream`` (the single-process path)
hold exactly the same rows; the parallel ingest publishes them as one batch, and a bad file anywhere
publishes nothing and names its file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from genofed.errors import FormatError
from genofed.ingest import VcfReader
from genofed.store import NodeStore, SparkStore, ingest_parallel

pytestmark = [
    pytest.mark.spark,
    # PySpark/py4j sockets and deprecated APIs, not genofed's (see tests/backends.py).
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:py4j.*"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID={chrom},length=249250621,assembly=GRCh37>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{samples}\n"
)
GENOTYPES = ["0/1", "1/1", "0/0", "./.", "1|0"]


def _vcf(folder: Path, name: str, chrom: str, samples: list[str], records: int, seed: int) -> Path:
    lines = [HEADER.format(chrom=chrom, samples="\t".join(samples))]
    for n in range(records):
        calls = "\t".join(GENOTYPES[(n * 7 + s * 3 + seed) % len(GENOTYPES)] for s in range(len(samples)))
        lines.append(f"{chrom}\t{1000 + 10 * n}\t.\tA\t{'CGT'[n % 3]}\t.\tPASS\t.\tGT\t{calls}\n")
    path = folder / name
    path.write_text("".join(lines))
    return path


@pytest.fixture
def vcfs(tmp_path: Path) -> list[Path]:
    """Four files: two per-sample files on chromosome 1, two multi-sample files on 2 and X."""
    folder = tmp_path / "vcfs"
    folder.mkdir()
    return [
        _vcf(folder, "s1.vcf", "1", ["S1"], 30, 0),
        _vcf(folder, "s2.vcf", "1", ["S2"], 25, 1),
        _vcf(folder, "chr2.vcf", "2", ["S3", "S4"], 40, 2),
        _vcf(folder, "chrX.vcf", "X", ["S3", "S4"], 12, 3),
    ]


def _rows(store: NodeStore, table: str) -> list[dict[str, Any]]:
    data: pa.Table = store.execute(f"SELECT * EXCLUDE (batch_id) FROM {table}")
    return sorted(data.to_pylist(), key=repr)


def test_ingest_parallel__one_batch_with_the_rows_of_sequential_ingest(
    vcfs: list[Path], tmp_path: Path, spark: Any
) -> None:
    NodeStore.open(tmp_path / "parallel", create=True).close()
    with NodeStore.open(tmp_path / "one-by-one", create=True) as sequential:
        # The same secret, so pseudonyms agree between the two stores.
        (tmp_path / "parallel" / "node.secret").write_bytes(
            (tmp_path / "one-by-one" / "node.secret").read_bytes()
        )
        for path in vcfs:
            reader = VcfReader(path)
            sequential.write_stream(reader.chunks(), kind="vcf", source=path.name, key=path.name)
        with NodeStore.open(tmp_path / "parallel") as store:
            info = SparkStore(store, spark).ingest(vcfs, VcfReader, kind="vcf", source="vcfs", key="vcfs")
            assert [b.batch_id for b in store.catalog.batches] == [info.batch_id]
            for table in ("variant_sites", "variant_calls", "analyses", "specimens"):
                assert _rows(store, table) == _rows(sequential, table), table
                assert info.rows[table] == sequential.catalog.rows(table)
            assert info.rows["variant_calls"] > 0
            assert not any((tmp_path / "parallel" / "staging").iterdir())


def test_ingest_parallel__a_bad_file_publishes_nothing_and_names_file_and_line(
    vcfs: list[Path], tmp_path: Path, spark: Any
) -> None:
    bad = vcfs[2].parent / "bad.vcf"
    lines = vcfs[2].read_text().splitlines(keepends=True)
    lines[9] = lines[9].replace("\t0/", "\t0/x", 1).replace("\t1/", "\t1/x", 1)
    bad.write_text("".join(lines))
    with NodeStore.open(tmp_path / "store", create=True) as store:
        with pytest.raises(FormatError, match=r"bad\.vcf, line 10, field 'GT'"):
            ingest_parallel(store, spark, [*vcfs, bad], VcfReader, kind="vcf", source="vcfs", key="vcfs")
        assert store.catalog.batches == ()
        assert not any((tmp_path / "store" / "batches").iterdir())
        assert not any((tmp_path / "store" / "staging").iterdir())


def test_ingest_parallel__no_items_is_a_store_error(tmp_path: Path, spark: Any) -> None:
    from genofed.errors import StoreError

    with (
        NodeStore.open(tmp_path / "store", create=True) as store,
        pytest.raises(StoreError, match="no sources to ingest"),
    ):
        ingest_parallel(store, spark, [], VcfReader, kind="vcf", source="none", key="none")
