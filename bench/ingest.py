"""Throughput of genofed's VCF ingest beside bcftools, on the CINECA file and a larger synthetic one.

Run ``python bench/ingest.py`` (CINECA, 5,002 records x 2,504 samples, and a synthetic VCF of
``--records`` records, default 20,000, x 2,504 samples) or ``--no-synthetic`` for CINECA alone.

Per file and tool, in one run, side by side:

- ``bcftools``: ``bcftools query -i 'GT="alt"' -f '[%CHROM\\t%POS\\t%REF\\t%ALT\\t%SAMPLE\\t%GT\\n]'``
  to ``/dev/null`` -- the same long table of non-reference calls genofed produces;
- ``genofed adapter``: ``VcfReader(path).chunks()`` consumed (parse, validate, sites with AC/AN and
  annotation, sparse calls as Arrow);
- ``genofed store``: the same through ``NodeStore.write_stream`` into a new store (adds
  pseudonymisation, sorting and Parquet writing).

Each genofed run is a fresh subprocess, so its peak RSS (``resource.getrusage``) is its own; CPU
time is user + system of that process (all its threads), so "per core" figures are work divided by
CPU seconds. Each measurement is the best of ``--repeat`` runs (default 3). Targets: the whole
ingest (``genofed store``) at least as fast, in wall time, as the bcftools query; at least 2 million
genotypes/s per core; CINECA under 512 MB. genofed uses three threads (reading the text, parsing,
and the store's staging: conform, pseudonymise, sort, Parquet), so its CPU time can exceed its wall
time on two cores; bcftools query is single-threaded. Other work on the machine moves both.

The synthetic VCF repeats CINECA's records at shifted positions, each copy with its sample columns
rotated so the calls differ; it is BGZF-compressed and cached under ``bench/out/``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out"
CINECA = REPO.parent / "shared" / "fixtures" / "cineca" / "cineca_chr22_annotated.vcf.gz"
CINECA_SPAN = 1_600_000  # CINECA covers 22:16,050,075-17,566,000
BCFTOOLS_FORMAT = r"[%CHROM\t%POS\t%REF\t%ALT\t%SAMPLE\t%GT\n]"


@dataclass(frozen=True)
class Run:
    """One timed run: wall and CPU seconds, peak RSS and what was produced."""

    tool: str
    wall: float
    cpu: float
    rss_mb: float | None
    records: int
    genotypes: int
    calls: int | None


def _child(mode: str, path: Path) -> None:
    """Run one genofed ingest in this (fresh) process and print its measurements as JSON."""
    from genofed.ingest import VcfReader
    from genofed.store import NodeStore

    started = time.perf_counter(), time.process_time()

    def elapsed() -> tuple[float, float]:
        return time.perf_counter() - started[0], time.process_time() - started[1]

    reader = VcfReader(path)
    if mode == "adapter":
        calls = 0
        for name, table in reader.chunks():
            if name == "variant_calls":
                calls += table.num_rows
        wall, cpu = elapsed()
    else:
        with tempfile.TemporaryDirectory() as tmp, NodeStore.open(Path(tmp) / "store", create=True) as store:
            info = store.write_stream(
                reader.chunks(), kind=reader.kind, source=reader.source, key=reader.batch_key
            )
            calls = info.rows["variant_calls"]
            # Timed up to the published batch: deleting the temporary store afterwards is not ingest.
            wall, cpu = elapsed()
    result = {
        "wall": wall,
        "cpu": cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "records": reader.summary.records,
        "genotypes": reader.summary.genotypes,
        "calls": calls,
    }
    print(json.dumps(result))


def _genofed(mode: str, path: Path) -> Run:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return Run(
        tool=f"genofed {mode}",
        wall=data["wall"],
        cpu=data["cpu"],
        rss_mb=data["rss_mb"],
        records=data["records"],
        genotypes=data["genotypes"],
        calls=data["calls"],
    )


def _bcftools(path: Path, records: int, samples: int) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    with open("/dev/null", "wb") as sink:
        subprocess.run(
            ["bcftools", "query", "-i", 'GT="alt"', "-f", BCFTOOLS_FORMAT, str(path)],
            stdout=sink,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run("bcftools query", wall, cpu, None, records, records * samples, None)


def _best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.wall)


def _count(path: Path) -> tuple[int, int]:
    """Records and samples of a VCF, from its text."""
    records = samples = 0
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith("#CHROM"):
                samples = len(line.split("\t")) - 9
            elif not line.startswith("#"):
                records += 1
    return records, samples


def synthetic_vcf(records: int, *, rebuild: bool = False) -> Path:
    """A BGZF VCF of ``records`` records x CINECA's samples, made by repeating CINECA (cached)."""
    path = OUT / f"synthetic_{records}.vcf.gz"
    if path.exists() and not rebuild:
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    header: list[str] = []
    body: list[tuple[str, int, str, str]] = []
    with gzip.open(CINECA, "rt") as handle:
        for line in handle:
            if line.startswith("#"):
                header.append(line)
                continue
            fields = line.rstrip("\n").split("\t", 9)
            body.append((fields[0], int(fields[1]), "\t".join(fields[2:9]), fields[9]))
    width = 4  # every CINECA genotype is three characters and a tab: rotating by 4k moves k columns
    if any(len(s) % width != width - 1 for *_, s in body):
        raise SystemExit("CINECA genotypes are not fixed-width; cannot rotate sample columns")
    print(f"writing a synthetic VCF of {records:,} records to {path} ...", flush=True)
    tmp = path.with_suffix(".tmp")
    lines = _synthetic_lines(header, body, records, width)
    compressor = shutil.which("bgzip")
    if compressor is not None:
        with (
            open(tmp, "wb") as target,
            subprocess.Popen([compressor, "-c"], stdin=subprocess.PIPE, stdout=target) as proc,
        ):
            assert proc.stdin is not None
            for chunk in lines:
                proc.stdin.write(chunk)
            proc.stdin.close()
            if proc.wait() != 0:
                raise SystemExit("bgzip failed")
    else:
        with gzip.open(tmp, "wb", compresslevel=1) as sink:
            for chunk in lines:
                sink.write(chunk)
    tmp.rename(path)
    return path


def _synthetic_lines(
    header: list[str], body: list[tuple[str, int, str, str]], records: int, width: int
) -> Iterator[bytes]:
    """The synthetic file's text: CINECA's header, then copies of its records, shifted and rotated."""
    yield "".join(header).encode()
    written = copy = 0
    while written < records:
        shift = copy * 97 * width  # rotate the sample columns by 97 per copy
        for chrom, pos, fixed, samples in body:
            if written == records:
                return
            cut = shift % (len(samples) + 1)
            rotated = (samples + "\t")[cut:] + (samples + "\t")[:cut]
            yield f"{chrom}\t{pos + copy * CINECA_SPAN}\t{fixed}\t{rotated[:-1]}\n".encode()
            written += 1
        copy += 1


def _report(name: str, runs: list[Run]) -> None:
    print(f"\n{name}")
    header = (
        f"  {'tool':<16} {'wall s':>7} {'CPU s':>7} {'records/s':>11} {'genotypes/s':>12} "
        f"{'genotypes/s/core':>17} {'calls':>11} {'peak RSS':>9}"
    )
    print(header)
    for run in runs:
        rss = f"{run.rss_mb:.0f} MB" if run.rss_mb is not None else "-"
        calls = f"{run.calls:,}" if run.calls is not None else "-"
        print(
            f"  {run.tool:<16} {run.wall:>7.2f} {run.cpu:>7.2f} {run.records / run.wall:>11,.0f} "
            f"{run.genotypes / run.wall:>12,.0f} {run.genotypes / run.cpu:>17,.0f} {calls:>11} {rss:>9}"
        )
    bcftools = next((r for r in runs if r.tool.startswith("bcftools")), None)
    if bcftools is not None:
        for run in runs:
            if run.tool.startswith("genofed"):
                name = run.tool.removeprefix("genofed ")
                print(
                    f"  {name} vs bcftools: {bcftools.wall / run.wall:.2f}x the speed (wall), "
                    f"{bcftools.cpu / run.cpu:.2f}x (CPU)"
                )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=20_000, help="records of the synthetic VCF")
    parser.add_argument("--no-synthetic", action="store_true", help="benchmark CINECA only")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the synthetic VCF")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return 0
    if not CINECA.exists():
        print(f"{CINECA} not found (expected ../shared/fixtures beside the checkout)", file=sys.stderr)
        return 1
    files = [("CINECA chr22", CINECA)]
    if not args.no_synthetic:
        synthetic = synthetic_vcf(args.records, rebuild=args.rebuild)
        files.append((f"synthetic ({args.records:,} records)", synthetic))
    has_bcftools = shutil.which("bcftools") is not None
    for name, path in files:
        records, samples = _count(path)
        runs = []
        if has_bcftools:
            runs.append(_best([_bcftools(path, records, samples) for _ in range(args.repeat)]))
        runs.append(_best([_genofed("adapter", path) for _ in range(args.repeat)]))
        runs.append(_best([_genofed("store", path) for _ in range(args.repeat)]))
        _report(f"{name}: {records:,} records x {samples:,} samples = {records * samples:,} genotypes", runs)
    if not has_bcftools:
        print("\nbcftools not on PATH: no comparison", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
