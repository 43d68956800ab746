"""The node side of proficiency testing: benchmark the node's own calls of a reference sample.

A lab sequences reference material (a cell line with a public truth set, e.g. GIAB's HG002) like
any sample and ingests the calls into its store. Asked a :class:`~genofed.api.ProficiencyAnalysis`,
the node

1. refuses unless the sample is one its operator lists under ``proficiency.reference_samples`` (a
   reference sample is not a patient; no one else's calls are ever benchmarked on request) and the
   truth set is one it holds under ``proficiency.truth_sets``;
2. reads the sample's germline calls from the store -- by its pseudonym, and *including* analyses
   that failed sample QC (the node may flag its reference material out of every cohort analysis);
3. runs :func:`genofed.qa.benchmark` against the truth set's VCF (confident regions, strata and
   reference FASTA as configured) and releases hap.py's integer counts per Type × Subset × Filter.

The counts describe the lab's calling on reference material, not a person, so no disclosure
control applies to them (``docs/privacy.md``); the request is still audited like every other.

The store keeps one row per allele, with the genotype relative to that allele (a ``1/2`` call is
``1/0`` for the first allele and ``0/1`` for the second). Rows of one analysis at the same position
with the same trimmed REF and complementary genotype slots are joined back into one multi-allelic
record, so the benchmark counts a het-alt call as hap.py counts it from the VCF. Alleles of one
VCF record that trim to different positions (``ACC`` → ``A``, ``AC``) stay separate records; the
haplotype replay still matches them, but they count as two query primitives.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from genofed.api import ProficiencyAnalysis, ProficiencyResult, ProficiencyRow
from genofed.errors import QueryError
from genofed.qa import CallSet, benchmark

from ._context import NodeContext
from ._problems import AccessDeniedError

__all__ = ["ProficiencyRelease", "join_alleles", "proficiency", "truth_digest"]

_CALLS_SQL = """
    SELECT chrom, start, ref, alt, genotype, filter_pass, analysis_id
    FROM variant_calls
    WHERE individual_id = ? AND origin = 'germline'
    ORDER BY analysis_id, chrom, start, ref, alt
"""
_PIPELINE_SQL = """
    SELECT pipeline, pipeline_version FROM analyses
    WHERE analysis_id = ? AND pipeline IS NOT NULL
    ORDER BY pipeline, pipeline_version LIMIT 1
"""


#: Each wire field and the benchmark's (hap.py's) column it holds; FP.gt is None only in somatic mode.
_COLUMNS = {
    "type": "Type",
    "subset": "Subset",
    "filter": "Filter",
    "truth_total": "TRUTH.TOTAL",
    "truth_tp": "TRUTH.TP",
    "truth_fn": "TRUTH.FN",
    "query_total": "QUERY.TOTAL",
    "query_tp": "QUERY.TP",
    "query_fp": "QUERY.FP",
    "query_unk": "QUERY.UNK",
    "fp_gt": "FP.gt",
}


@dataclass
class ProficiencyRelease:
    """A proficiency answer, what was applied, and what the audit log records."""

    result: ProficiencyResult
    applied: list[str]
    displays: dict[str, Any]


# Benchmarks are deterministic in (store version, truth files, sample, options): keep the latest few,
# so a coordinator asking again (a report re-rendered, a retry) does not redo a whole-genome run.
_CACHE: OrderedDict[Hashable, ProficiencyResult] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()
_DIGESTS: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    digest = _DIGESTS.get(key)
    if digest is None:
        with path.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        _DIGESTS[key] = digest
    return digest


def truth_digest(vcf: Path, regions: Path | None, strata: Path | None) -> str:
    """SHA-256 over the truth set's files (VCF, regions, the strata TSV and the BEDs it names)."""
    files: list[Path] = [vcf]
    if regions is not None:
        files.append(regions)
    if strata is not None:
        files.append(strata)
        for line in strata.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1].strip() and not line.startswith("#"):
                bed = Path(parts[1].strip())
                files.append(bed if bed.is_absolute() else strata.parent / bed)
    outer = hashlib.sha256()
    for file in files:
        outer.update(_file_digest(file).encode())
    return outer.hexdigest()


def _slots(genotype: str) -> tuple[str, str, str] | None:
    """A two-slot genotype's (slot 1, separator, slot 2), or None for haploid or odd text."""
    for sep in ("/", "|"):
        parts = genotype.split(sep)
        if len(parts) == 2:
            return parts[0], sep, parts[1]
    return None


def join_alleles(calls: pa.Table) -> pa.Table:
    """Rows of one analysis at one position and REF whose genotypes fill different slots, joined.

    ``A>G 1/0`` and ``A>T 0/1`` become ``A>G,T 1/2``; rows that claim the same slot, or are haploid,
    are left as they are.
    """
    if calls.num_rows == 0:
        return calls
    keys = ["analysis_id", "chrom", "start", "ref"]
    counts = calls.group_by(keys).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1))
    if repeated.num_rows == 0:
        return calls
    key_text = pc.binary_join_element_wise(
        *(pc.cast(calls[k], pa.string()) for k in keys), pa.scalar(":"), null_handling="replace"
    )
    repeated_text = pc.binary_join_element_wise(
        *(pc.cast(repeated[k], pa.string()) for k in keys), pa.scalar(":"), null_handling="replace"
    )
    in_repeated = pc.is_in(key_text, value_set=repeated_text)
    single = calls.filter(pc.invert(in_repeated))
    groups: dict[str, list[dict[str, Any]]] = {}
    for key, row in zip(
        key_text.filter(in_repeated).to_pylist(), calls.filter(in_repeated).to_pylist(), strict=True
    ):
        groups.setdefault(key, []).append(row)
    joined: list[dict[str, Any]] = []
    for rows in groups.values():
        slots = [_slots(str(r["genotype"] or "")) for r in rows]
        taken = [0, 0]
        ok = all(s is not None for s in slots)
        for s in slots:
            if s is None:
                break
            for i, allele in enumerate((s[0], s[2])):
                if allele not in ("0", "1", "."):
                    ok = False
                taken[i] += allele == "1"
        if not ok or max(taken) > 1 or sum(taken) != len(rows):
            joined.extend(rows)
            continue
        gt = ["0", "0"]
        for n, s in enumerate(slots, start=1):
            assert s is not None
            for i, allele in enumerate((s[0], s[2])):
                if allele == "1":
                    gt[i] = str(n)
        phased = all(s is not None and s[1] == "|" for s in slots)
        first = rows[0]
        joined.append(
            {
                **first,
                "alt": ",".join(str(r["alt"]) for r in rows),
                "genotype": ("|" if phased else "/").join(gt),
                "filter_pass": all(bool(r["filter_pass"]) for r in rows),
            }
        )
    return pa.concat_tables([single, pa.Table.from_pylist(joined, schema=calls.schema)])


def _calls(node: NodeContext, analysis: ProficiencyAnalysis) -> tuple[pa.Table, str]:
    """The sample's germline calls of one analysis, and that analysis's pseudonym."""
    store = node.store
    with store.including_failed_qc():
        calls = store.execute(_CALLS_SQL, [store.pseudonymise(analysis.sample)])
    analyses = sorted(set(calls["analysis_id"].to_pylist()))
    if analysis.analysis is not None:
        wanted = store.pseudonymise(analysis.analysis)
        if wanted not in analyses:
            raise QueryError(
                f"reference sample {analysis.sample!r} has no germline analysis {analysis.analysis!r} "
                f"at node {node.settings.node_id!r} ({len(analyses)} analysis(es) of it are held)"
            )
        chosen = wanted
    elif not analyses:
        raise QueryError(
            f"node {node.settings.node_id!r} holds no germline calls of reference sample "
            f"{analysis.sample!r}; ingest the lab's VCF of it first"
        )
    elif len(analyses) > 1:
        raise QueryError(
            f"node {node.settings.node_id!r} holds {len(analyses)} germline analyses of reference "
            f"sample {analysis.sample!r}; name the one to benchmark with 'analysis' (its source id)"
        )
    else:
        chosen = analyses[0]
    calls = calls.filter(pc.equal(calls["analysis_id"], chosen))
    return calls, chosen


def proficiency(node: NodeContext, analysis: ProficiencyAnalysis) -> ProficiencyRelease:
    """Benchmark the node's calls of a listed reference sample against one of its truth sets.

    Parameters
    ----------
    node
        The node (its settings name the truth sets and reference samples; its store holds the calls).
    analysis
        Which truth set and sample, and whether to add rows per stratum.

    Returns
    -------
    ProficiencyRelease
        hap.py's counts per Type × Subset × Filter (``Subtype`` and ``Genotype`` ``*``).

    Raises
    ------
    AccessDeniedError
        The sample is not one of the node's ``proficiency.reference_samples`` (403).
    QueryError
        The node holds no such truth set, or no (or more than one, unnamed) germline analysis of
        the sample (400).
    """
    settings = node.settings.proficiency
    node_id = node.settings.node_id
    if analysis.sample not in settings.reference_samples:
        raise AccessDeniedError(
            f"{analysis.sample!r} is not a reference sample of node {node_id!r}: proficiency testing "
            "benchmarks only reference material its operator lists (proficiency.reference_samples)"
        )
    truth = settings.truth_sets.get(analysis.truth_set)
    if truth is None:
        held = ", ".join(sorted(settings.truth_sets)) or "none"
        raise QueryError(f"node {node_id!r} holds no truth set {analysis.truth_set!r} (it holds: {held})")
    if analysis.stratified and truth.strata is None:
        raise QueryError(f"truth set {analysis.truth_set!r} has no strata at node {node_id!r}")
    digest = truth_digest(truth.vcf, truth.regions, truth.strata if analysis.stratified else None)
    key = (
        str(node.settings.data_dir),
        node.catalog_version,
        digest,
        analysis.truth_set,
        analysis.sample,
        analysis.analysis,
        analysis.stratified,
    )
    with _CACHE_LOCK:
        result = _CACHE.get(key)
    if result is None:
        calls, chosen = _calls(node, analysis)
        pipeline_rows = node.store.execute(_PIPELINE_SQL, [chosen]).to_pylist()
        pipeline = (
            " ".join(
                str(v) for v in (pipeline_rows[0]["pipeline"], pipeline_rows[0]["pipeline_version"]) if v
            )
            if pipeline_rows
            else None
        )
        query = CallSet.from_arrow(join_alleles(calls), source=f"stored calls of {analysis.sample}")
        bench = benchmark(
            CallSet.from_vcf(truth.vcf),
            query,
            reference=truth.reference,
            regions=truth.regions,
            strata=truth.strata if analysis.stratified else None,
        )
        rows = tuple(
            ProficiencyRow.model_validate({field: r[column] or 0 for field, column in _COLUMNS.items()})
            for r in bench.rows
            if r["Subtype"] == "*" and r["Genotype"] == "*"
        )
        result = ProficiencyResult(
            truth_set=analysis.truth_set, truth_digest=digest, pipeline=pipeline, rows=rows
        )
        with _CACHE_LOCK:
            _CACHE[key] = result
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    applied = [
        "exact counts: a benchmark of listed reference material is not personal data "
        "(no disclosure control applies; see docs/privacy.md)"
    ]
    displays = {
        "truth_set": analysis.truth_set,
        "truth_digest": result.truth_digest,
        "rows": [r.model_dump() for r in result.rows],
    }
    return ProficiencyRelease(result=result, applied=applied, displays=displays)
