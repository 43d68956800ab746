"""The ``backend`` fixtures: run a test module's queries on DuckDB and on Spark local mode.

A module opts in by building its store as usual (a :class:`NodeStore`) and passing it through the
``as_backend`` fixture, which is parametrised over ``duckdb`` and ``spark``: on ``duckdb`` it returns
the store itself, on ``spark`` a :class:`SparkStore` over the same Parquet batches. Both have the
store's ``execute(sql, parameters)``, so the same assertions check both engines.

Spark local mode takes seconds to start, so one SparkSession serves the whole test session:
``local[2]`` (the machine has two cores), two shuffle partitions (a test's data fit in one), no UI,
bound to the loopback interface (no network).

Loaded from ``tests/conftest.py`` as a pytest plugin.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from genofed.store import NodeStore, SparkOptions, SparkStore, spark_session

__all__ = ["SPARK", "SPARK_CONF", "as_backend", "spark"]

SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # Tiny test tables: broadcast every join side rather than shuffle (fewer stages, faster).
    "spark.sql.autoBroadcastJoinThreshold": "64MB",
    "spark.sql.adaptive.enabled": "true",
}

# PySpark and py4j leave sockets to the JVM gateway for the garbage collector (ResourceWarning) and
# use APIs that newer Pythons deprecate; neither is genofed's code. Ignored only on Spark tests.
_SPARK_WARNINGS = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:py4j.*"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

#: The ``spark`` parameter of backend-parametrised fixtures, with its marks.
SPARK = pytest.param("spark", marks=[pytest.mark.spark, *_SPARK_WARNINGS])


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The session's SparkSession (local[2]); skips when PySpark or Java is missing."""
    pytest.importorskip("pyspark", reason="PySpark not installed (pip install 'genofed[spark]')")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime for Spark (`make tools` installs openjdk-17-jre-headless)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = spark_session(SparkOptions(master="local[2]", app_name="genofed-tests", conf=SPARK_CONF))
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="module", params=["duckdb", SPARK])
def as_backend(request: pytest.FixtureRequest) -> Callable[[NodeStore], Any]:
    """A function making a store's executor on this parameter's backend (the store or a SparkStore)."""
    if request.param == "duckdb":
        return lambda store: store
    session = request.getfixturevalue("spark")
    return lambda store: SparkStore(store, session)
