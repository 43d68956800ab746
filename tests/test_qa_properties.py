"""Properties of genofed.qa's matching, with haplotypes known by construction.

A random reference and random phased variants give two haplotypes. The query writes the same
haplotypes another way: runs of nearby variants on one haplotype become one complex record, and
every genotype is written unphased. Whatever the representation, every truth and query call must
be a true positive; and a query that drops or changes a call must not be.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from genofed.qa import benchmark

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
)

# A variant: (0-based anchor position, REF with anchor, ALT with anchor, haplotypes carrying it).
Var = tuple[int, str, str, tuple[int, ...]]


def _random_case(seed: int) -> tuple[str, list[Var]]:
    rng = np.random.default_rng(seed)
    seq = "".join("ACGT"[k] for k in rng.integers(0, 4, 260))
    variants: list[Var] = []
    pos = 5 + int(rng.integers(0, 8))
    while pos < 240 and len(variants) < 7:
        kind = int(rng.integers(0, 3))
        haps = [(0,), (1,), (0, 1)][int(rng.integers(0, 3))]
        if kind == 0:
            alt = "ACGT"[("ACGT".index(seq[pos]) + 1 + int(rng.integers(0, 3))) % 4]
            variants.append((pos, seq[pos], alt, haps))
            end = pos + 1
        elif kind == 1:
            ins = "".join("ACGT"[k] for k in rng.integers(0, 4, int(rng.integers(1, 4))))
            variants.append((pos, seq[pos], seq[pos] + ins, haps))
            end = pos + 1
        else:
            length = int(rng.integers(1, 4))
            variants.append((pos, seq[pos : pos + length + 1], seq[pos], haps))
            end = pos + length + 1
        pos = end + 2 + int(rng.integers(0, 12))
    return seq, variants


def _line(pos: int, ref: str, alt: str, gt: str) -> str:
    return f"chr1\t{pos + 1}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t{gt}\n"


def _gt(haps: tuple[int, ...], sep: str) -> str:
    return "1" + sep + "1" if len(haps) == 2 else ("1" + sep + "0" if haps == (0,) else "0" + sep + "1")


def _merged(seq: str, variants: list[Var]) -> list[str]:
    """The query: runs of one-haplotype variants within 12 bases merged into one complex record."""
    lines: list[str] = []
    i = 0
    while i < len(variants):
        run = [variants[i]]
        while (
            i + len(run) < len(variants)
            and len(run[0][3]) == 1
            and variants[i + len(run)][3] == run[0][3]
            and variants[i + len(run)][0] - (run[-1][0] + len(run[-1][1])) < 12
        ):
            run.append(variants[i + len(run)])
        start, end = run[0][0], run[-1][0] + len(run[-1][1])
        alt, at = [], start
        for pos, ref, a, _ in run:
            alt.append(seq[at:pos] + a)
            at = pos + len(ref)
        alt.append(seq[at:end])
        lines.append(_line(start, seq[start:end], "".join(alt), _gt(run[0][3], "/")))
        i += len(run)
    return lines


def _files(tmp: Path, seq: str, truth: list[str], query: list[str]) -> tuple[Path, Path, Path]:
    ref = tmp / "ref.fa"
    ref.write_text(f">chr1\n{seq}\n")
    t, q = tmp / "t.vcf", tmp / "q.vcf"
    t.write_text(HEADER + "".join(truth))
    q.write_text(HEADER + "".join(query))
    return ref, t, q


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_benchmark__same_haplotypes_written_differently_all_match(seed: int) -> None:
    seq, variants = _random_case(seed)
    truth = [_line(p, r, a, _gt(h, "|")) for p, r, a, h in variants]
    with tempfile.TemporaryDirectory() as tmp:
        ref, t, q = _files(Path(tmp), seq, truth, _merged(seq, variants))
        result = benchmark(t, q, reference=ref)
    for type_ in ("SNP", "INDEL"):
        row = result.row(type_, "ALL")
        assert row["TRUTH.FN"] == 0, (seed, type_, variants)
        assert row["QUERY.FP"] == 0, (seed, type_, variants)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_benchmark__a_dropped_call_is_missed(seed: int) -> None:
    seq, variants = _random_case(seed)
    truth = [_line(p, r, a, _gt(h, "|")) for p, r, a, h in variants]
    with tempfile.TemporaryDirectory() as tmp:
        ref, t, q = _files(Path(tmp), seq, truth, _merged(seq, variants[1:]))
        result = benchmark(t, q, reference=ref)
    missed = sum(int(result.row(type_, "ALL")["TRUTH.FN"]) for type_ in ("SNP", "INDEL"))
    assert missed >= 1, (seed, variants)
