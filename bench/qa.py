"""Wall time of ``genofed.qa.benchmark`` on two synthetic whole-genome-sized call sets.

Run ``python bench/qa.py`` (4 million truth records, about a minute to generate the first time) or
``python bench/qa.py --records 500000`` for a quick run. The inputs are generated once from a seed
and cached under ``bench/out/qa-<records>/`` (git-ignored); ``--rebuild`` regenerates them:

- a random reference of ten contigs, one variant every ~100 bases;
- the truth: 85 % SNVs, 15 % insertions/deletions of 1–5 bases, 60 % het and 40 % hom-alt, plus
  SNV + deletion pairs three bases apart on one haplotype (with no other variant within 60 bases:
  a superlocus is matched as a whole, so a genotype error next to a pair would fail the pair too);
- the query: the truth with 1 % of records dropped (FN), 1 % new SNVs (FP), 0.5 % with the wrong
  genotype (FP.gt), and each SNV + deletion pair rewritten as one complex record (same haplotype,
  another representation: settled only by the haplotype replay).

It prints the records per second over both inputs, the time of each stage and the SNP/INDEL
summary, whose counts the generator knows in advance (checked at the end).
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out"
CONTIGS = 10
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def generate(records: int, out: Path, seed: int = 7) -> dict[str, int]:
    """Write ref.fa, truth.vcf and query.vcf into ``out``; return the counts the comparison must give."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    per_contig = records // CONTIGS
    length = per_contig * 100 + 1000
    header = "##fileformat=VCFv4.2\n" + "".join(
        f"##contig=<ID=chr{c + 1},length={length}>\n" for c in range(CONTIGS)
    )
    header += '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
    expect = {
        "snp_fn": 0,
        "snp_fp": 0,
        "fp_gt": 0,
        "indel_fn": 0,
        "pairs": 0,
        "snp_total": 0,
        "indel_total": 0,
    }
    with (
        (out / "ref.fa").open("w") as fa,
        (out / "truth.vcf").open("w") as tf,
        (out / "query.vcf").open("w") as qf,
    ):
        tf.write(header)
        qf.write(header)
        for c in range(CONTIGS):
            name = f"chr{c + 1}"
            seq_arr = BASES[rng.integers(0, 4, length)]
            seq = seq_arr.tobytes().decode()
            fa.write(f">{name}\n{seq}\n")
            pos = 50 + np.cumsum(rng.integers(20, 181, per_contig))  # 0-based; ≥ 20 bases apart
            pos = pos[pos < length - 50]
            n = len(pos)
            kind = rng.random(n)  # < .85 SNV, < .925 insertion, else deletion
            size = rng.integers(1, 6, n)
            het = rng.random(n) < 0.6
            fate = rng.random(n)  # < .01 dropped, < .015 genotype flipped, < .02 paired (SNVs only)
            t_lines: list[str] = []
            q_lines: list[str] = []
            for i in range(n):
                p = int(pos[i])
                r = seq[p]
                gt = "0/1" if het[i] else "1/1"
                if kind[i] < 0.85:
                    alt = "ACGT"[("ACGT".index(r) + 1 + int(size[i]) % 3) % 4]
                    rec = (p + 1, r, alt)
                    is_snp = True
                elif kind[i] < 0.925:
                    ins = "".join("ACGT"[k] for k in rng.integers(0, 4, int(size[i])))
                    rec = (p + 1, r, r + ins)
                    is_snp = False
                else:
                    rec = (p + 1, seq[p : p + 1 + int(size[i])], r)
                    is_snp = False
                line = f"{name}\t{rec[0]}\t.\t{rec[1]}\t{rec[2]}\t.\tPASS\t.\tGT\t{gt}\n"
                alone = (i == 0 or p - pos[i - 1] > 60) and (i + 1 == n or pos[i + 1] - p > 60)
                if is_snp and 0.015 <= fate[i] < 0.02 and het[i] and alone:
                    # SNV + 1-base deletion 3 bases on, one haplotype; the query writes one complex record.
                    d = p + 3
                    t_lines.append(f"{name}\t{p + 1}\t.\t{r}\t{rec[2]}\t.\tPASS\t.\tGT\t0|1\n")
                    t_lines.append(
                        f"{name}\t{d}\t.\t{seq[d - 1 : d + 1]}\t{seq[d - 1]}\t.\tPASS\t.\tGT\t0|1\n"
                    )
                    complex_ref = seq[p : d + 1]
                    complex_alt = rec[2] + seq[p + 1 : d]
                    q_lines.append(f"{name}\t{p + 1}\t.\t{complex_ref}\t{complex_alt}\t.\tPASS\t.\tGT\t0/1\n")
                    expect["pairs"] += 1
                    expect["snp_total"] += 1
                    expect["indel_total"] += 1
                    continue
                t_lines.append(line)
                expect["snp_total" if is_snp else "indel_total"] += 1
                if fate[i] < 0.01:
                    expect["snp_fn" if is_snp else "indel_fn"] += 1
                elif fate[i] < 0.015 and is_snp:
                    flipped = "1/1" if het[i] else "0/1"
                    q_lines.append(line.replace(f"\tGT\t{gt}", f"\tGT\t{flipped}"))
                    expect["fp_gt"] += 1
                    expect["snp_fn"] += 1
                else:
                    q_lines.append(line)
                if 0.98 <= fate[i] < 0.99 and (i + 1 == n or pos[i + 1] - p > 60):
                    fp = p + 10  # free: the next variant is at least 20 bases on
                    fr = seq[fp]
                    fa_ = "ACGT"[("ACGT".index(fr) + 2) % 4]
                    q_lines.append(f"{name}\t{fp + 1}\t.\t{fr}\t{fa_}\t.\tPASS\t.\tGT\t0/1\n")
                    expect["snp_fp"] += 1
            tf.writelines(t_lines)
            qf.writelines(q_lines)
    return expect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=4_000_000, help="truth records (default 4,000,000)")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached inputs")
    args = parser.parse_args(argv)
    from genofed.qa import CallSet, benchmark

    out = OUT / f"qa-{args.records}"
    stamp = out / "expected.txt"
    if args.rebuild and out.exists():
        shutil.rmtree(out)
    if not stamp.exists():
        t0 = time.perf_counter()
        expect = generate(args.records, out)
        stamp.write_text(repr(expect))
        print(f"generated inputs in {time.perf_counter() - t0:.0f} s under {out}")
    expect = eval(stamp.read_text())
    stages: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    c0 = time.process_time()
    truth = CallSet.from_vcf(out / "truth.vcf")
    query = CallSet.from_vcf(out / "query.vcf")
    t_read = time.perf_counter() - t0
    result = benchmark(
        truth, query, reference=out / "ref.fa", progress=lambda s: stages.append((s, time.perf_counter()))
    )
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    n = len(truth) + len(query)
    print(f"records: truth {len(truth):,}, query {len(query):,}")
    print(f"wall time {wall:.1f} s ({t_read:.1f} s reading VCFs): {n / wall:,.0f} records/s")
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"CPU time {cpu:.1f} s (all threads; pyarrow reads and hashes on both cores), peak RSS {peak:,.0f} MB"
    )
    marks = [*stages, ("end", time.perf_counter())]
    for (name, start), (_, stop) in itertools.pairwise(marks):
        print(f"  {name:<18} {stop - start:6.1f} s")
    print(f"superloci replayed: {result.replayed_loci:,}")
    for row in result.summary():
        if row["Filter"] == "ALL":
            print(
                f"  {row['Type']:<5} truth {row['TRUTH.TOTAL']:,} TP {row['TRUTH.TP']:,}"
                f" FN {row['TRUTH.FN']:,}"
                f" | query {row['QUERY.TOTAL']:,} FP {row['QUERY.FP']:,} FP.gt {row['FP.gt']:,}"
                f" | recall {row['METRIC.Recall']:.5f} precision {row['METRIC.Precision']:.5f}"
            )
    snp, indel = result.row("SNP", "ALL"), result.row("INDEL", "ALL")
    checks = {
        "SNP FN": (snp["TRUTH.FN"], expect["snp_fn"]),
        "SNP FP": (snp["QUERY.FP"], expect["snp_fp"] + expect["fp_gt"]),
        "FP.gt": (snp["FP.gt"], expect["fp_gt"]),
        "INDEL FN": (indel["TRUTH.FN"], expect["indel_fn"]),
    }
    bad = {k: v for k, v in checks.items() if v[0] != v[1]}
    print("counts as generated" if not bad else f"counts differ from the generator: {bad}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
