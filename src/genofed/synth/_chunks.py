"""The fast path: a synthetic cohort straight into model-table chunks, for benchmarks and large demos.

:func:`cohort_chunks` skips the source files and yields what an ingest would: ``(table, Arrow
table)`` chunks in the model's schema with *source* identifiers, ready for
``NodeStore.write_stream``. Its patients, tumour types, driver mutations and outcomes are those of
:func:`~genofed.synth.synthesise` with the same (country, patients, seed); its germline background is
drawn at scale instead of from the VCF's small site set.

The germline calls are vectorised per block of sites: for a block of ``B`` sites and ``N`` patients
one ``B x N`` matrix of uniforms decides, per genotype, non-reference (Hardy-Weinberg:
``1 - (1 - p)^2``), homozygous given non-reference (``p / (2 - p)``) and missing. Blocks are yielded
in (chromosome, position) order with the somatic calls of their position range merged in, so the
store appends them without re-sorting and memory stays bounded by one block (about 8 million
genotypes). Allele frequencies follow :func:`~genofed.synth._cohort.allele_frequencies`, so most
sites are rare while most calls sit at common sites.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from genofed.model import (
    Analysis,
    Assembly,
    Diagnosis,
    Individual,
    Origin,
    Record,
    Response,
    Specimen,
    Treatment,
    VariantCall,
    VariantSite,
    conform,
    impact_of,
    normalise_protein_change,
    variant_id,
)

from ._cohort import (
    Patients,
    draw_outcomes,
    draw_patients,
    draw_somatic,
    germline_positions,
    somatic_table,
    streams,
)
from ._cohort import allele_frequencies as _allele_frequencies
from ._reference import CHROMOSOMES, CONTIGS
from ._tumours import profile

__all__ = ["cohort_chunks"]

# Expected non-reference genotypes per site under the 1/p spectrum, used to size the site set.
_BLOCK_GENOTYPES = 8_000_000
_HARD_SITE_FRACTION = 0.15
_HARD_SITE_MISSING = 0.03
_GERMLINE_DEPTH = 32.0

Chunk = tuple[str, pa.Table]


def _trim(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """0-based start and trimmed alleles of a 1-based VCF allele (shared suffix, then prefix, removed)."""
    start = pos - 1
    while ref and alt and ref[-1] == alt[-1] and (len(ref) > 1 or len(alt) > 1):
        ref, alt = ref[:-1], alt[:-1]
    while ref and alt and ref[0] == alt[0]:
        ref, alt, start = ref[1:], alt[1:], start + 1
    return start, ref, alt


def _variant_type(ref: str, alt: str) -> str:
    if not ref:
        return "INS"
    if not alt:
        return "DEL"
    if len(ref) == len(alt):
        return "SNV" if len(ref) == 1 else "MNV"
    return "DELINS"


def _take_strings(values: list[str], index: npt.NDArray[np.integer]) -> pa.Array:
    """``values[index]`` as an Arrow string array, built from buffers (much faster than ``pc.take``).

    The values are laid out as a padded byte matrix; the gathered rows are compressed by a mask of
    each value's length, which with equal-length values (genotypes, most ID schemes) is a plain copy.
    """
    encoded = [v.encode() for v in values]
    width = max((len(e) for e in encoded), default=0)
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    matrix = np.frombuffer(b"".join(e.ljust(width, b"\0") for e in encoded), dtype=np.uint8).reshape(
        -1, width
    )
    rows = matrix[index]
    if lengths.size and (lengths == width).all():
        data = rows.reshape(-1)
        offsets = np.arange(len(index) + 1, dtype=np.int64) * width
    else:
        picked = lengths[index]
        data = rows[np.arange(width) < picked[:, None]]
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(picked, out=offsets[1:])
    return pa.LargeStringArray.from_buffers(
        len(index), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))
    ).cast(pa.string())


def _repeat(value: str, n: int) -> pa.Array:
    return _take_strings([value], np.zeros(n, dtype=np.int64))


def _table(record: type[Record], columns: dict[str, object]) -> pa.Table:
    return conform(record, pa.table(columns))


def _clinical_chunks(
    people: Patients, somatic_rng: np.random.Generator, outcomes_rng: np.random.Generator
) -> tuple[list[Chunk], pa.Table]:
    """The clinical and sample tables, and the somatic events (as synthesise draws them)."""
    prof = people.profile
    ids = people.ids
    n = people.n
    # The same draws, in the same order, as synthesise makes from these two streams.
    purity = np.round(somatic_rng.uniform(0.25, 0.9, size=n), 2)
    events, per_patient = draw_somatic(people, somatic_rng)
    outcomes = draw_outcomes(people, per_patient, outcomes_rng)
    tumour_types = people.tumour_types
    chunks: list[Chunk] = [
        (
            "individuals",
            _table(
                Individual,
                {
                    "individual_id": pa.array(ids.patient, pa.string()),
                    "sex": pa.array(np.where(people.female, "female", "male")),
                    "age_at_diagnosis": pa.array(np.round(people.age, 2)),
                    "vital_status": pa.array(np.where(outcomes.deceased, "deceased", "alive")),
                    "overall_survival_days": pa.array(outcomes.os_days),
                },
            ),
        ),
        (
            "diagnoses",
            _table(
                Diagnosis,
                {
                    "individual_id": pa.array(ids.patient, pa.string()),
                    "tumour_type": pa.array(tumour_types, pa.string()),
                    "label": pa.array(people.label, pa.string()),
                    "primary": pa.array(np.ones(n, dtype=bool)),
                    "metastatic": pa.array(np.full(n, prof.metastatic)),
                    "day": pa.array(np.zeros(n, dtype=np.int32)),
                },
            ),
        ),
        (
            "specimens",
            _table(
                Specimen,
                {
                    "specimen_id": pa.array(ids.tumour_specimen + ids.normal_specimen, pa.string()),
                    "individual_id": pa.array(ids.patient + ids.patient, pa.string()),
                    "specimen_type": pa.array(["tumour"] * n + ["germline"] * n),
                    "tumour_type": pa.array(tumour_types + [None] * n, pa.string()),
                },
            ),
        ),
        (
            "analyses",
            _table(
                Analysis,
                {
                    "analysis_id": pa.array(ids.somatic_analysis + ids.germline_analysis, pa.string()),
                    "individual_id": pa.array(ids.patient + ids.patient, pa.string()),
                    "specimen_id": pa.array(ids.tumour_specimen + ids.normal_specimen, pa.string()),
                    "normal_specimen_id": pa.array(ids.normal_specimen + [None] * n, pa.string()),
                    "assay": pa.array([prof.assay] * (2 * n)),
                    "pipeline": pa.array([prof.pipeline] * (2 * n)),
                    "pipeline_version": pa.array([prof.pipeline_version] * (2 * n)),
                    "reference_assembly": pa.array([Assembly.GRCH38.value] * (2 * n)),
                    "origin": pa.array(["somatic"] * n + ["germline"] * n),
                },
            ),
        ),
        (
            "treatments",
            _table(
                Treatment,
                {
                    name: outcomes.treatments.column(source)
                    for name, source in (
                        ("individual_id", "patient_id"),
                        ("drug", "drug"),
                        ("atc_code", "atc_code"),
                        ("line", "line"),
                        ("start_day", "start_day"),
                        ("end_day", "end_day"),
                    )
                },
            ),
        ),
        (
            "responses",
            _table(
                Response,
                {
                    name: outcomes.responses.column(source)
                    for name, source in (
                        ("individual_id", "patient_id"),
                        ("recist", "recist"),
                        ("line", "line"),
                        ("day", "day"),
                    )
                },
            ),
        ),
    ]
    return chunks, somatic_table(events, people, purity, somatic_rng)


def _somatic_block(
    somatic: pa.Table, people: Patients, chrom: str, lo: int, hi: int
) -> tuple[pa.Table | None, pa.Table | None]:
    """Sites and calls of the somatic events on ``chrom`` with a trimmed 0-based start in ``[lo, hi)``."""
    mask = pc.and_(
        pc.equal(somatic.column("chrom"), chrom),
        pc.and_(pc.greater_equal(somatic.column("start"), lo), pc.less(somatic.column("start"), hi)),
    )
    rows = somatic.filter(mask)
    if rows.num_rows == 0:
        return None, None
    analysis = dict(zip(people.ids.patient, people.ids.somatic_analysis, strict=True))
    n = people.n
    rows = rows.take(pa.array(np.argsort(rows.column("start").to_numpy(), kind="stable")))
    starts: list[int] = []
    refs: list[str] = []
    alts: list[str] = []
    for pos, ref, alt in zip(
        rows.column("pos").to_pylist(),
        rows.column("ref").to_pylist(),
        rows.column("alt").to_pylist(),
        strict=True,
    ):
        s, r, a = _trim(pos, ref, alt)
        starts.append(s)
        refs.append(r)
        alts.append(a)
    keys = list(zip(starts, refs, alts, strict=True))
    vids = [variant_id(Assembly.GRCH38, chrom, s, r, a) for s, r, a in keys]
    patients = rows.column("patient_id").to_pylist()
    depth = rows.column("depth").to_numpy()
    alt_depth = rows.column("alt_depth").to_numpy()
    calls = _table(
        VariantCall,
        {
            "chrom": _repeat(chrom, rows.num_rows),
            "start": pa.array(starts, pa.int64()),
            "end": pa.array([s + len(r) for s, r, _ in keys], pa.int64()),
            "ref": pa.array(refs, pa.string()),
            "alt": pa.array(alts, pa.string()),
            "variant_id": pa.array(vids, pa.int64()),
            "individual_id": pa.array(patients, pa.string()),
            "analysis_id": pa.array([analysis[p] for p in patients], pa.string()),
            "genotype": _repeat("0/1", rows.num_rows),
            "zygosity": _repeat("het", rows.num_rows),
            "depth": pa.array(depth),
            "alt_depth": pa.array(alt_depth),
            "vaf": rows.column("vaf"),
            "origin": _repeat(Origin.SOMATIC.value, rows.num_rows),
        },
    )
    first: dict[tuple[int, str, str], int] = {}
    carriers: dict[tuple[int, str, str], int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
        carriers[key] = carriers.get(key, 0) + 1
    order = sorted(first)
    at = [first[k] for k in order]
    genes = rows.column("gene").to_pylist()
    consequences = rows.column("consequence").to_pylist()
    hgvs_p = rows.column("hgvs_p").to_pylist()
    sites = _table(
        VariantSite,
        {
            "chrom": _repeat(chrom, len(order)),
            "start": pa.array([k[0] for k in order], pa.int64()),
            "end": pa.array([k[0] + len(k[1]) for k in order], pa.int64()),
            "ref": pa.array([k[1] for k in order], pa.string()),
            "alt": pa.array([k[2] for k in order], pa.string()),
            "variant_id": pa.array([vids[i] for i in at], pa.int64()),
            "assembly": _repeat(Assembly.GRCH38.value, len(order)),
            "variant_type": pa.array([_variant_type(k[1], k[2]) for k in order], pa.string()),
            "gene": pa.array([genes[i] for i in at], pa.string()),
            "transcript": pa.array([rows.column("transcript")[i].as_py() for i in at], pa.string()),
            "consequence": pa.array([consequences[i] for i in at], pa.string()),
            "impact": pa.array([impact_of(consequences[i]).name for i in at], pa.string()),
            "hgvs_c": pa.array([rows.column("hgvs_c")[i].as_py() for i in at], pa.string()),
            "protein_change": pa.array([normalise_protein_change(hgvs_p[i]) for i in at], pa.string()),
            "origin": _repeat(Origin.SOMATIC.value, len(order)),
            "allele_count": pa.array([carriers[k] for k in order], pa.int32()),
            "allele_number": pa.array(np.full(len(order), 2 * n, dtype=np.int32)),
        },
    )
    return sites, calls


def _germline_block(
    people: Patients,
    chrom: str,
    pos: npt.NDArray[np.int64],
    refs: list[str],
    alts: list[str],
    af: npt.NDArray[np.float64],
    hard: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> tuple[pa.Table, pa.Table]:
    n = people.n
    ids = people.ids
    u = rng.random((len(pos), n), dtype=np.float32)
    carrier_p = (1.0 - (1.0 - af) ** 2).astype(np.float32)
    site, patient = np.nonzero(u < carrier_p[:, None])
    # Hard-to-call sites lose a few genotypes; the top of the uniform range never overlaps carriers.
    missing = (np.where(hard, _HARD_SITE_MISSING, 0.0)).astype(np.float32)
    n_missing = np.zeros(len(pos), dtype=np.int64)
    n_missing[hard] = (u[hard] > (1.0 - missing[hard])[:, None]).sum(axis=1)
    del u
    hom = rng.random(len(site)) < (af / (2.0 - af))[site]
    trimmed = [_trim(int(p), r, a) for p, r, a in zip(pos, refs, alts, strict=True)]
    starts = np.array([t[0] for t in trimmed], dtype=np.int64)
    t_ref = pa.array([t[1] for t in trimmed], pa.string())
    t_alt = pa.array([t[2] for t in trimmed], pa.string())
    ends = starts + np.array([len(t[1]) for t in trimmed], dtype=np.int64)
    vids = np.array([variant_id(Assembly.GRCH38, chrom, s, r, a) for s, r, a in trimmed], dtype=np.int64)
    copies = np.where(hom, 2, 1).astype(np.int8)
    ac = np.bincount(site, weights=copies, minlength=len(pos)).astype(np.int32)
    homs = np.bincount(site, weights=hom, minlength=len(pos)).astype(np.int32)
    sites = _table(
        VariantSite,
        {
            "chrom": _repeat(chrom, len(pos)),
            "start": pa.array(starts),
            "end": pa.array(ends),
            "ref": t_ref,
            "alt": t_alt,
            "variant_id": pa.array(vids),
            "assembly": _repeat(Assembly.GRCH38.value, len(pos)),
            "variant_type": pa.array([_variant_type(t[1], t[2]) for t in trimmed], pa.string()),
            "origin": _repeat(Origin.GERMLINE.value, len(pos)),
            "allele_count": pa.array(ac),
            "allele_number": pa.array((2 * (n - n_missing)).astype(np.int32)),
            "homozygous_count": pa.array(homs),
        },
    )
    # A rare allele with no carrier in this cohort is not a site of its call set.
    sites = sites.filter(pa.array(ac > 0))
    depth = rng.poisson(_GERMLINE_DEPTH, size=len(site)).astype(np.int32) + 4
    alt_depth = np.where(hom, depth, rng.binomial(depth, 0.5)).astype(np.int32)
    ref_list = [t[1] for t in trimmed]
    alt_list = [t[2] for t in trimmed]
    calls = _table(
        VariantCall,
        {
            "chrom": _repeat(chrom, len(site)),
            "start": pa.array(starts[site]),
            "end": pa.array(ends[site]),
            "ref": _take_strings(ref_list, site),
            "alt": _take_strings(alt_list, site),
            "variant_id": pa.array(vids[site]),
            "individual_id": _take_strings(ids.patient, patient),
            "analysis_id": _take_strings(ids.germline_analysis, patient),
            "genotype": _take_strings(["0/1", "1/1"], hom.astype(np.int64)),
            "zygosity": _take_strings(["het", "hom"], hom.astype(np.int64)),
            "alt_copies": pa.array(copies),
            "depth": pa.array(depth),
            "alt_depth": pa.array(alt_depth),
            "vaf": pa.array(np.round(alt_depth / np.maximum(depth, 1), 3).astype(np.float32)),
            "origin": _repeat(Origin.GERMLINE.value, len(site)),
        },
    )
    return sites, calls


def _merge(first: pa.Table, second: pa.Table | None) -> pa.Table:
    if second is None or second.num_rows == 0:
        return first
    both = pa.concat_tables([first, second])
    order = np.argsort(both.column("start").to_numpy(), kind="stable")
    return both.take(pa.array(order))


def cohort_chunks(
    *, country: str = "SE", patients: int, seed: int = 0, variants_per_patient: int = 5000
) -> Iterator[tuple[str, pa.Table]]:
    """Yield a synthetic cohort as model-table chunks, for ``NodeStore.write_stream``.

    Parameters
    ----------
    country
        ``"SE"``, ``"NL"`` or ``"DK"``.
    patients
        Number of patients (at least 1).
    seed
        Non-negative seed; patients, tumours, drivers and outcomes equal :func:`synthesise`'s.
    variants_per_patient
        Expected germline non-reference calls per patient (0 for none). The germline site set
        grows with it: about ``11 * variants_per_patient`` sites for 20,000 patients.

    Yields
    ------
    tuple[str, pyarrow.Table]
        First ``individuals``, ``diagnoses``, ``specimens``, ``analyses``, ``treatments`` and
        ``responses``; then, per chromosome and block of positions in order, ``variant_sites`` and
        ``variant_calls`` (germline and somatic merged, sorted by start). Identifiers are source IDs.

    Raises
    ------
    ValueError
        An unknown country, fewer than one patient, a negative seed or a negative
        ``variants_per_patient``.
    """
    prof = profile(country)
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    if variants_per_patient < 0:
        raise ValueError(f"variants_per_patient must be 0 or more, got {variants_per_patient}")
    rngs = streams(prof.country, seed)
    people = draw_patients(prof, patients, rngs)
    clinical, somatic = _clinical_chunks(people, rngs["somatic"], rngs["outcomes"])
    yield from clinical

    rng = rngs["calls"]
    # Size the site set so the expected non-reference genotypes per patient match the request.
    probe = _allele_frequencies(100_000, patients, np.random.default_rng(0))
    per_site = float(np.mean(1.0 - (1.0 - probe) ** 2))
    n_sites = round(variants_per_patient / per_site) if variants_per_patient else 0
    chroms, pos, refs, alts = (
        germline_positions(n_sites, rng) if n_sites else ([], np.zeros(0, np.int64), [], [])
    )
    af = _allele_frequencies(len(pos), patients, rng)
    hard = rng.random(len(pos)) < _HARD_SITE_FRACTION
    chrom_arr = np.array(chroms, dtype=object)
    # Blocks are cut on trimmed starts, so every key of a chunk is below every key of the next.
    starts = np.array(
        [_trim(int(p), r, a)[0] for p, r, a in zip(pos, refs, alts, strict=True)], dtype=np.int64
    )
    somatic = somatic.append_column(
        "start",
        pa.array(
            [
                _trim(p, r, a)[0]
                for p, r, a in zip(
                    somatic.column("pos").to_pylist(),
                    somatic.column("ref").to_pylist(),
                    somatic.column("alt").to_pylist(),
                    strict=True,
                )
            ],
            pa.int64(),
        ),
    )
    block = max(1, _BLOCK_GENOTYPES // patients)
    for chrom in CHROMOSOMES:
        members = np.flatnonzero(chrom_arr == chrom) if len(chrom_arr) else np.zeros(0, dtype=np.int64)
        bounds = list(range(0, len(members), block)) or [0]
        for b, lo in enumerate(bounds):
            part = members[lo : lo + block]
            lo_start = 0 if b == 0 else int(starts[part[0]])
            hi_start = int(starts[members[bounds[b + 1]]]) if b + 1 < len(bounds) else CONTIGS[chrom] + 1
            s_sites, s_calls = _somatic_block(somatic, people, chrom, lo_start, hi_start)
            if len(part):
                g_sites, g_calls = _germline_block(
                    people,
                    chrom,
                    pos[part],
                    [refs[i] for i in part],
                    [alts[i] for i in part],
                    af[part],
                    hard[part],
                    rng,
                )
                yield "variant_sites", _merge(g_sites, s_sites)
                yield "variant_calls", _merge(g_calls, s_calls)
            elif s_sites is not None and s_calls is not None:
                yield "variant_sites", _merge(s_sites, None)
                yield "variant_calls", _merge(s_calls, None)
