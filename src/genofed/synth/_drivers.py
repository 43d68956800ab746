"""The IntOGen driver compendium, as shipped in ``data/intogen_drivers.tsv`` (CC0; see its README)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["DriverGene", "driver_genes", "gene_transcripts"]


@dataclass(frozen=True, slots=True)
class DriverGene:
    """One gene of one IntOGen cohort: how often it is mutated there and its role."""

    gene: str
    transcript: str
    cohort: str
    cancer_type: str
    samples: int
    fraction: float  # %_SAMPLES_COHORT: fraction (0-1) of the cohort's samples with a mutation
    role: str  # Act, LoF or ambiguous


@cache
def _table() -> tuple[DriverGene, ...]:
    text = resources.files("genofed.synth").joinpath("data/intogen_drivers.tsv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text), delimiter="\t")
    return tuple(
        DriverGene(
            gene=r["SYMBOL"],
            transcript=r["TRANSCRIPT"],
            cohort=r["COHORT"],
            cancer_type=r["CANCER_TYPE"],
            samples=int(r["SAMPLES"]),
            fraction=float(r["%_SAMPLES_COHORT"]),
            role=r["ROLE"] or "ambiguous",
        )
        for r in rows
    )


@cache
def driver_genes(cohort: str) -> tuple[DriverGene, ...]:
    """The shipped driver genes of an IntOGen cohort, sorted by symbol; raises KeyError when unknown."""
    genes = tuple(sorted((g for g in _table() if g.cohort == cohort), key=lambda g: g.gene))
    if not genes:
        raise KeyError(f"no IntOGen cohort {cohort!r} in genofed.synth's driver table")
    return genes


@cache
def gene_transcripts() -> dict[str, str]:
    """IntOGen's transcript (Ensembl ENST) of every shipped gene."""
    return {g.gene: g.transcript for g in _table()}
