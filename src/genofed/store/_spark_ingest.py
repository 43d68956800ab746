"""Distributed ingest: many source files parsed in parallel by Spark tasks, published as one batch.

Each Spark task opens one source (a per-sample or per-chromosome VCF, say) with the caller's reader
factory -- the adapter's own parser, e.g. ``functools.partial(VcfReader, samples=sheet)`` -- and
streams its chunks through a :class:`~genofed.store.BatchWriter` of the node store (the same
conforming, pseudonymisation, sorting and zstd Parquet as a single ingest) into a staging folder of
its own, *without* publishing. The driver collects only each task's staging folder and row counts,
moves the parts into one batch folder, and publishes it by the store's usual rename and catalog swap.

If any task fails (a bad record at line N of one file), nothing is published: the failing task's
writer removes its own staging, the driver removes the others', and the task's error is raised with
its file, line and field. Parts of a job that died outright (an executor lost) are left in
``staging/``, invisible, and removed by :meth:`NodeStore.vacuum`.

The store folder must be reachable at the same path from every executor (local mode, or a shared
file system on a cluster). The node secret travels in the tasks' closure so executors pseudonymise
as the driver would: the executors are the node's own machines.

``store`` imports no adapter (layering): the caller passes the reader factory.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from genofed.errors import GenofedError, StoreError

from ._catalog import BatchInfo
from ._store import BatchWriter, NodeStore, StoreSettings

__all__ = ["ChunkSource", "ingest_parallel"]


class ChunkSource(Protocol):
    """What a reader factory returns: an adapter's stream of ``(table, rows)`` chunks."""

    def chunks(self) -> Iterable[tuple[str, Any]]:
        """The source's rows as model-table chunks (source identifiers)."""
        ...


class _PartWriter(BatchWriter):
    """A batch writer that stages and stops: the driver gathers the parts and publishes once."""

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            super().__exit__(exc_type, exc, tb)  # closes the files and removes the staging folder
            return
        try:
            self._finish_files()
        except BaseException:
            shutil.rmtree(self._staging, ignore_errors=True)
            raise


def _stage_one(
    root: str, secret: bytes, item: Any, open_reader: Callable[[Any], ChunkSource]
) -> dict[str, Any]:
    """Run in a Spark task: stage one source; report its folder and rows, or the error it raised."""
    store = NodeStore(Path(root), secret, StoreSettings())
    try:
        writer = _PartWriter(store, kind="part", source=str(item), key="part")
        with writer:
            for name, table in open_reader(item).chunks():
                writer.write(name, table)
        return {"item": str(item), "staging": writer._staging.name, "rows": dict(writer._rows)}
    except GenofedError as exc:
        # Returned, not raised: Spark would wrap it in a Java exception and lose its type.
        return {"item": str(item), "error": exc}
    except Exception as exc:
        return {"item": str(item), "error": StoreError(f"{item}: {exc}\n{traceback.format_exc()}")}
    finally:
        store.close()


def ingest_parallel(
    store: NodeStore,
    session: Any,
    items: Sequence[Any],
    open_reader: Callable[[Any], ChunkSource],
    *,
    kind: str,
    source: str,
    key: str,
) -> BatchInfo:
    """Ingest ``items`` in parallel Spark tasks as one atomic batch of ``store``.

    Parameters
    ----------
    store
        The node store to publish into (its folder reachable from every executor).
    session
        The SparkSession whose executors parse the sources.
    items
        One element per task: typically the paths of per-sample or per-chromosome VCFs.
    open_reader
        Picklable factory: ``open_reader(item)`` returns the adapter reading that item, e.g.
        ``functools.partial(VcfReader, samples=sheet)``.
    kind, source, key
        As :meth:`NodeStore.write_stream`: the adapter kind, the source name, and the replacement key
        (a published batch with the same key is dropped when this one is published).

    Returns
    -------
    BatchInfo
        The published batch, rows summed over all items.

    Raises
    ------
    InputError
        A source has a bad record (the first failing item's error, naming file, line and field);
        nothing is published.
    StoreError
        No items, or Spark failed; nothing is published.
    """
    if not items:
        raise StoreError("no sources to ingest")
    root, secret = str(store.root), store.secret
    spread = list(enumerate(items))

    def task(rows: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
        for index, item in rows:
            yield index, _stage_one(root, secret, item, open_reader)

    try:
        rdd = session.sparkContext.parallelize(spread, numSlices=len(spread))
        results = dict(rdd.mapPartitions(task).collect())
    except Exception as exc:  # the job itself failed: py4j / Spark errors share no base class
        raise StoreError(
            f"distributed ingest of {source} failed in Spark: {str(exc).splitlines()[0]}"
        ) from exc
    parts = [results[i] for i in range(len(spread))]
    failed = [p for p in parts if "error" in p]
    if failed:
        _remove_parts(store, parts)
        error = failed[0]["error"]
        raise error
    return _publish_parts(store, parts, kind=kind, source=source, key=key)


def _remove_parts(store: NodeStore, parts: Sequence[dict[str, Any]]) -> None:
    for part in parts:
        if "staging" in part:
            shutil.rmtree(store.root / "staging" / part["staging"], ignore_errors=True)


def _publish_parts(
    store: NodeStore, parts: Sequence[dict[str, Any]], *, kind: str, source: str, key: str
) -> BatchInfo:
    batch_id = store._next_batch_id()
    staged = store.root / "staging" / batch_id
    try:
        staged.mkdir(parents=True)
        rows: dict[str, int] = {}
        for number, part in enumerate(parts):
            folder = store.root / "staging" / part["staging"]
            for file in sorted(folder.rglob("*.parquet")):
                relative = file.relative_to(folder)
                target = staged / relative.parent / f"part-{number}-{relative.name.removeprefix('part-')}"
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(file, target)
            for table, count in part["rows"].items():
                rows[table] = rows.get(table, 0) + int(count)
        info = BatchInfo(
            batch_id=batch_id,
            key=store.pseudonymise(key),
            kind=kind,
            source=source,
            created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            rows=dict(sorted(rows.items())),
        )
        (staged / "manifest.json").write_text(info.model_dump_json(indent=1))
        store._publish(staged, batch_id, info)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    finally:
        _remove_parts(store, parts)
    return info
