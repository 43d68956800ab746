"""The node store: atomic batches, replacement on re-ingest, pseudonyms, DuckDB views."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genofed.errors import StoreError
from genofed.store import BatchWriter, NodeStore, StoreSettings
from genofed.store import _store as store_module
from genofed.store._store import _sort_runs


def _calls(chroms: list[str], starts: list[int], people: list[str]) -> pa.Table:
    n = len(starts)
    return pa.table(
        {
            "chrom": chroms,
            "start": starts,
            "end": [s + 1 for s in starts],
            "ref": ["A"] * n,
            "alt": ["T"] * n,
            "variant_id": list(range(n)),
            "individual_id": people,
            "analysis_id": [f"an-{p}" for p in people],
        }
    )


def test_write_stream__publishes_tables_with_pseudonyms(store: NodeStore) -> None:
    info = store.write_stream(
        [("individuals", pa.table({"individual_id": ["P1", "P2"], "sex": ["female", "male"]}))],
        kind="test",
        source="people.tsv",
        key="clinical:people",
    )
    assert info.rows == {"individuals": 2}
    ids = store.execute("SELECT individual_id FROM individuals ORDER BY 1").column(0).to_pylist()
    assert sorted(ids) == sorted([store.pseudonymise("P1"), store.pseudonymise("P2")])
    assert "P1" not in ids
    raw = b"".join(p.read_bytes() for p in (store.root / "batches").rglob("*.parquet"))
    assert b"P1" not in raw


def test_write_stream__partitions_by_chromosome_and_sorts(store: NodeStore) -> None:
    store.write_stream(
        [
            ("variant_calls", _calls(["2", "1", "1"], [30, 20, 10], ["a", "b", "c"])),
            ("variant_calls", _calls(["1"], [5], ["d"])),  # out of order: re-sorted before publication
        ],
        kind="test",
        source="x.vcf",
        key="vcf:x",
    )
    files = store.files("variant_calls")
    assert sorted(f.parent.name for f in files) == ["chrom=1", "chrom=2"]
    chrom1 = next(f for f in files if f.parent.name == "chrom=1")
    assert pq.read_table(chrom1).column("start").to_pylist() == [5, 10, 20]
    result = store.execute("SELECT chrom, start FROM variant_calls ORDER BY chrom, start").to_pylist()
    assert result == [
        {"chrom": "1", "start": 5},
        {"chrom": "1", "start": 10},
        {"chrom": "1", "start": 20},
        {"chrom": "2", "start": 30},
    ]


def test_write_stream__error_midway_leaves_store_unchanged(store: NodeStore) -> None:
    store.write_stream(
        [("individuals", pa.table({"individual_id": ["P1"]}))], kind="test", source="a", key="a"
    )
    before_catalog = (store.root / "catalog.json").read_text()
    before_rows = store.execute("SELECT count(*) FROM individuals").to_pylist()

    def broken() -> Iterator[tuple[str, pa.Table]]:
        yield "individuals", pa.table({"individual_id": ["P2"]})
        yield "variant_calls", _calls(["1"], [1], ["P2"])
        raise ValueError("bad record at line 7")

    with pytest.raises(ValueError, match="line 7"):
        store.write_stream(broken(), kind="test", source="b", key="b")
    assert (store.root / "catalog.json").read_text() == before_catalog
    assert store.execute("SELECT count(*) FROM individuals").to_pylist() == before_rows
    assert list((store.root / "staging").iterdir()) == []
    assert len(list((store.root / "batches").iterdir())) == 1


def test_write_stream__same_key_replaces_batch(store: NodeStore) -> None:
    first = store.write_stream(
        [("individuals", pa.table({"individual_id": ["P1", "P2"]}))], kind="t", source="a", key="same"
    )
    store.write_stream(
        [("individuals", pa.table({"individual_id": ["P3"]}))], kind="t", source="a", key="same"
    )
    store.write_stream(
        [("individuals", pa.table({"individual_id": ["P4"]}))], kind="t", source="b", key="other"
    )
    assert store.execute("SELECT count(*) AS n FROM individuals").to_pylist() == [{"n": 2}]
    assert len(store.catalog.batches) == 2
    assert not (store.root / "batches" / f"batch_id={first.batch_id}").exists()


def test_write_stream__rejects_rows_outside_the_model(store: NodeStore) -> None:
    with pytest.raises(StoreError, match=r"individuals\.sex: 'F' is not one of"):
        store.write_stream(
            [("individuals", pa.table({"individual_id": ["P1"], "sex": ["F"]}))],
            kind="t",
            source="s",
            key="k",
        )
    with pytest.raises(StoreError, match="unknown table 'patients'"):
        store.write_stream([("patients", pa.table({"x": [1]}))], kind="t", source="s", key="k")
    assert store.catalog.batches == ()


def test_open__refuses_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is not a genofed store"):
        NodeStore.open(tmp_path)
    (tmp_path / "stray.txt").write_text("x")
    with pytest.raises(StoreError, match="not empty"):
        NodeStore.open(tmp_path, create=True)


def test_open__secret_from_environment_gives_stable_pseudonyms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENOFED_NODE_SECRET", "s" * 32)
    a = NodeStore.open(tmp_path / "a", create=True)
    b = NodeStore.open(tmp_path / "b", create=True)
    assert a.pseudonymise("HG00096") == b.pseudonymise("HG00096")
    assert not (tmp_path / "a" / "node.secret").exists()


def test_open__own_secret_is_private_and_differs_between_nodes(tmp_path: Path) -> None:
    a = NodeStore.open(tmp_path / "a", create=True)
    b = NodeStore.open(tmp_path / "b", create=True)
    assert a.pseudonymise("HG00096") != b.pseudonymise("HG00096")
    assert os.stat(tmp_path / "a" / "node.secret").st_mode & 0o777 == 0o600


def test_empty_store__every_table_is_queryable(store: NodeStore) -> None:
    for table in ("individuals", "variant_calls", "biomarkers"):
        assert store.execute(f"SELECT count(*) AS n FROM {table}").to_pylist() == [{"n": 0}]


def test_connection__runs_under_a_memory_limit_with_spill(tmp_path: Path) -> None:
    with NodeStore.open(tmp_path / "s", create=True, settings=StoreSettings(memory_limit="256MB")) as s:
        settings = dict(
            s.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', 'temp_directory')"
            )
            .to_pylist()[i]
            .values()
            for i in range(2)
        )
        assert settings["memory_limit"] in {"256.0 MiB", "244.1 MiB"}
        assert settings["temp_directory"].endswith("spill")


def test_vacuum__removes_orphans(store: NodeStore) -> None:
    store.write_stream([("individuals", pa.table({"individual_id": ["P1"]}))], kind="t", source="a", key="a")
    (store.root / "batches" / "batch_id=orphan").mkdir()
    (store.root / "staging" / "crashed").mkdir()
    removed = store.vacuum()
    assert sorted(removed) == ["batch_id=orphan", "staging/crashed"]
    assert store.execute("SELECT count(*) AS n FROM individuals").to_pylist() == [{"n": 1}]
    assert json.loads((store.root / "catalog.json").read_text())["version"] == 1


def test_views__read_batches_written_under_an_older_model(store: NodeStore) -> None:
    store.write_stream([("individuals", pa.table({"individual_id": ["P1"]}))], kind="t", source="a", key="a")
    store.write_stream([("individuals", pa.table({"individual_id": ["P2"]}))], kind="t", source="b", key="b")
    older = store.files("individuals")[0]  # as if written before `geographic_origin` existed
    pq.write_table(pq.read_table(older).drop_columns(["geographic_origin"]), older)
    store.close()
    rows = store.execute("SELECT geographic_origin FROM individuals").to_pylist()
    assert rows == [{"geographic_origin": None}, {"geographic_origin": None}]


def test_write_stream__staging_failure_publishes_nothing(
    store: NodeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parquet files are written by a background thread; its failure reaches the caller.
    def full_disk(self: BatchWriter, *args: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(BatchWriter, "_append", full_disk)
    with pytest.raises(OSError, match="No space left"):
        store.write_stream(
            [("variant_calls", _calls(["1"], [i], ["a"])) for i in range(5)], kind="t", source="s", key="k"
        )
    assert store.catalog.batches == ()
    assert list((store.root / "staging").iterdir()) == []


@pytest.mark.parametrize("slices", [64, 1])  # re-ordered by zero-copy slices, or by a take
@pytest.mark.parametrize("seed", range(20))
def test_sort_runs__equals_a_stable_sort(seed: int, slices: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_SORT_SLICES", slices)
    rng = random.Random(seed)
    rows = rng.randint(0, 60)
    # Runs of equal keys, as adapters write them, mostly but not always in order.
    starts, refs = [], []
    while len(starts) < rows:
        start = rng.choice([rng.randint(0, 5), len(starts)])
        ref = rng.choice(["A", "C", "", None])
        run = rng.randint(1, 6)
        starts += [start] * run
        refs += [ref] * run
    table = pa.table({"start": starts[:rows], "ref": refs[:rows], "row": list(range(rows))})
    keys = [("start", "ascending"), ("ref", "ascending")]
    assert _sort_runs(table, ["start", "ref"]).equals(table.sort_by(keys))
    ordered = table.sort_by(keys)
    assert _sort_runs(ordered, ["start", "ref"]) is ordered  # in order already: returned as it is


def test_views__a_column_added_to_the_model_later_reads_as_null(store: NodeStore) -> None:
    store.write_stream([("individuals", pa.table({"individual_id": ["P1"]}))], kind="t", source="a", key="a")
    only = store.files("individuals")[0]  # every live batch written before `geographic_origin` existed
    pq.write_table(pq.read_table(only).drop_columns(["geographic_origin"]), only)
    store.close()
    assert store.execute("SELECT geographic_origin FROM individuals").to_pylist() == [
        {"geographic_origin": None}
    ]
