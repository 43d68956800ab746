"""The cohort generator: patients, their tumours' driver mutations, treatments, outcomes and germline.

:func:`synthesise` draws a whole national cohort from one seed. Independent parts (patients,
identifiers, somatic events, outcomes, germline background) draw from their own child streams of
``numpy.random.SeedSequence(seed, spawn_key=(country,))``, so the same seed gives the same cohort,
and :func:`~genofed.synth.cohort_chunks` can rebuild the same patients without the rest.

Driver events follow IntOGen: each gene of the tumour type's IntOGen cohort is mutated with its
``%_SAMPLES_COHORT``, independently. A mutated gene gets a real hotspot (see
:data:`~genofed.synth._reference.HOTSPOTS`) with gene-specific weights, or else a synthetic variant
inside the gene whose consequence follows the gene's role (truncating for tumour suppressors,
missense for oncogenes). Outcomes follow :mod:`genofed.synth._outcomes`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from genofed.model import impact_of

from ._drivers import driver_genes, gene_transcripts
from ._outcomes import (
    LOSS_TO_FOLLOW_UP_DAYS,
    draw_lines,
    features,
    first_line,
    hazard_ratio,
    is_matched,
    survival_days,
)
from ._reference import CHROMOSOMES, CONTIGS, GENE_SPANS, hotspots_of
from ._tumours import Country, CountryProfile, profile

__all__ = [
    "Cohort",
    "Identifiers",
    "Outcomes",
    "Patients",
    "allele_frequencies",
    "draw_outcomes",
    "draw_patients",
    "draw_somatic",
    "germline_positions",
    "somatic_table",
    "streams",
    "synthesise",
]

_COUNTRY_KEY = {Country.SE: 46, Country.NL: 31, Country.DK: 45}  # telephone country codes
_STREAMS = ("patients", "identifiers", "somatic", "outcomes", "germline", "calls")
_BASES = np.array(list("ACGT"))
_T = TypeVar("_T")

# Share of each gene's events that are each hotspot (None: a synthetic variant elsewhere in the gene).
_HOTSPOT_WEIGHTS: dict[str, dict[str | None, float]] = {
    "KRAS": {
        "G12D": 0.30,
        "G12V": 0.22,
        "G12C": 0.10,
        "G12A": 0.05,
        "G12S": 0.04,
        "G13D": 0.14,
        "Q61H": 0.04,
        "Q61L": 0.02,
        "A146T": 0.05,
        None: 0.04,
    },
    "NRAS": {"Q61K": 0.35, "Q61R": 0.35, "Q61L": 0.08, "G12D": 0.08, "G13R": 0.06, None: 0.08},
    "BRAF": {"V600E": 0.80, "V600K": 0.08, None: 0.12},
    "PIK3CA": {"E542K": 0.12, "E545K": 0.22, "H1047R": 0.33, "H1047L": 0.04, None: 0.29},
    "EGFR": {"L858R": 0.40, "E746_A750del": 0.45, None: 0.15},
    "IDH1": {"R132H": 0.85, "R132C": 0.15},
    "TP53": {
        "R175H": 0.06,
        "R248Q": 0.05,
        "R248W": 0.04,
        "R273H": 0.05,
        "R273C": 0.04,
        "R282W": 0.03,
        None: 0.73,
    },
    "AKT1": {"E17K": 0.85, None: 0.15},
    "SF3B1": {"K700E": 0.5, None: 0.5},
    "APC": {"R1450*": 0.08, None: 0.92},
    "PTEN": {"R130*": 0.08, None: 0.92},
}
_LUNG_KRAS: dict[str | None, float] = {
    "G12C": 0.42,
    "G12V": 0.20,
    "G12D": 0.15,
    "G12A": 0.08,
    "G13D": 0.03,
    "Q61H": 0.05,
    None: 0.07,
}
_TUMOUR_HOTSPOT_WEIGHTS: dict[tuple[str, str], dict[str | None, float]] = {
    ("KRAS", "NSCLC"): _LUNG_KRAS,
    ("KRAS", "LUAD"): _LUNG_KRAS,
    ("EGFR", "ADIFG"): {None: 1.0},  # glioma EGFR mutations are not the lung hotspots
    ("IDH1", "SKCM"): {"R132C": 0.6, "R132H": 0.4},
}
# Consequences of a synthetic (non-hotspot) driver event by the gene's IntOGen role.
_ROLE_CONSEQUENCES: dict[str, dict[str, float]] = {
    "LoF": {
        "stop_gained": 0.45,
        "frameshift_variant": 0.35,
        "splice_donor_variant": 0.05,
        "splice_acceptor_variant": 0.05,
        "missense_variant": 0.10,
    },
    "Act": {"missense_variant": 1.0},
    "ambiguous": {"missense_variant": 0.6, "stop_gained": 0.25, "frameshift_variant": 0.15},
}
_METASTASIS_SITES = ("Liver", "Lymph node", "Lung", "Bone", "Peritoneum", "Soft tissue", "Primary tumour")


@dataclass(frozen=True, slots=True)
class Cohort:
    """A synthetic national cohort: Arrow tables of what a country's systems hold, plus genotypes.

    Tables (one row per ...):

    ``patients`` (patient)
        ``patient_id``, ``sex`` (female/male), ``birth_date``, ``age_at_diagnosis`` (years),
        ``diagnosis_date``, ``tumour_type`` (OncoTree), ``location_label`` and ``location_code`` (how
        the source records the primary: text and local code), ``subtype_label`` (NL's
        ``cancerSubtype``), ``metastatic``, ``purity``, ``treated``, ``os_days``, ``deceased``,
        ``death_date``, ``last_contact_date``.
    ``samples`` (sequenced sample)
        ``sample``, ``individual``, ``specimen``, ``specimen_type`` (tumour/germline), ``analysis``,
        ``assay``, ``pipeline``, ``pipeline_version``, ``tissue``, ``tumour_type``, ``vcf``
        (germline/somatic: the file the sample's calls are in).
    ``somatic`` (somatic variant of a tumour; drivers and passengers)
        ``patient_id``, ``sample``, ``chrom``, ``pos`` (1-based), ``ref``, ``alt``, ``gene``,
        ``transcript``, ``consequence``, ``impact``, ``hgvs_c``, ``hgvs_p``, ``hotspot``, ``exon``,
        ``strand``, ``driver``, ``depth``, ``alt_depth``, ``vaf``.
    ``treatments`` (drug of a line of therapy)
        ``patient_id``, ``line``, ``regimen``, ``drug``, ``atc_code``, ``start_day``, ``end_day``.
    ``responses`` (assessed line)
        ``patient_id``, ``line``, ``day``, ``recist``.
    ``germline_sites`` (germline site)
        ``chrom``, ``pos`` (1-based), ``ref``, ``alt``, ``population_af``.

    ``germline_genotypes`` is an int8 matrix (sites x patients, in ``patients`` order) of alternate
    allele copies, ``-1`` for a missing genotype.
    """

    country: Country
    seed: int
    data_cut: dt.date
    patients: pa.Table
    samples: pa.Table
    somatic: pa.Table
    treatments: pa.Table
    responses: pa.Table
    germline_sites: pa.Table
    germline_genotypes: npt.NDArray[np.int8] = field(repr=False)


def streams(country: Country, seed: int) -> dict[str, np.random.Generator]:
    """Independent random generators of one cohort, by part (see the module docstring)."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    root = np.random.SeedSequence(seed, spawn_key=(_COUNTRY_KEY[country],))
    return {
        name: np.random.default_rng(child)
        for name, child in zip(_STREAMS, root.spawn(len(_STREAMS)), strict=True)
    }


# -- patients ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Patients:
    """The per-patient draws shared by :func:`synthesise` and the fast chunk path (column arrays)."""

    profile: CountryProfile
    tumour_index: npt.NDArray[np.int64]
    female: npt.NDArray[np.bool_]
    age: npt.NDArray[np.float64]
    diagnosis: npt.NDArray[np.datetime64]
    birth: npt.NDArray[np.datetime64]
    label: list[str]
    code: list[str | None]
    subtype: list[str | None]
    ids: Identifiers

    @property
    def n(self) -> int:
        return len(self.tumour_index)

    @property
    def tumour_types(self) -> list[str]:
        return [self.profile.tumours[i].oncotree for i in self.tumour_index]


@dataclass(frozen=True, slots=True)
class Identifiers:
    """Source identifiers in the country's own style."""

    patient: list[str]
    tumour_sample: list[str]
    normal_sample: list[str]
    tumour_specimen: list[str]
    normal_specimen: list[str]
    somatic_analysis: list[str]
    germline_analysis: list[str]


def draw_patients(prof: CountryProfile, n: int, rngs: dict[str, np.random.Generator]) -> Patients:
    """Tumour types, sexes, ages, dates, source labels and identifiers of ``n`` patients."""
    rng = rngs["patients"]
    tumours = prof.tumours
    weights = np.array([t.weight for t in tumours])
    index = rng.choice(len(tumours), size=n, p=weights / weights.sum())
    female = rng.random(n) < np.array([t.female for t in tumours])[index]
    mean = np.array([t.age_mean for t in tumours])[index]
    sd = np.array([t.age_sd for t in tumours])[index]
    age_years = np.clip(rng.normal(mean, sd), 20.0, 92.0)
    first = np.datetime64(prof.first_diagnosis, "D")
    span = int((np.datetime64(prof.last_diagnosis, "D") - first).astype(int))
    diagnosis = first + rng.integers(0, span + 1, size=n).astype("timedelta64[D]")
    birth = diagnosis - np.round(age_years * 365.25).astype("timedelta64[D]")
    age = (diagnosis - birth).astype(np.float64) / 365.25
    labels: list[str] = []
    codes: list[str | None] = []
    subtypes: list[str | None] = []
    alternative = rng.random(n)
    pick = rng.random(n)
    for i, t in enumerate(index):
        tp = tumours[t]
        if tp.alternatives and alternative[i] < 0.35:
            label, code = tp.alternatives[int(pick[i] * len(tp.alternatives))]
            labels.append(label)
            codes.append(code)
        else:
            labels.append(tp.label)
            codes.append(tp.code)
        subtypes.append(tp.subtypes[int(pick[i] * len(tp.subtypes))] if tp.subtypes else None)
    return Patients(
        profile=prof,
        tumour_index=index.astype(np.int64),
        female=female,
        age=age,
        diagnosis=diagnosis,
        birth=birth,
        label=labels,
        code=codes,
        subtype=subtypes,
        ids=_identifiers(prof.country, n, rngs["identifiers"]),
    )


def _identifiers(country: Country, n: int, rng: np.random.Generator) -> Identifiers:
    # Patients are a subset of a larger register, so their numbers have gaps; sample accession
    # numbers are drawn independently so a sample name never reveals the patient number.
    numbers = np.sort(rng.choice(np.arange(1, 3 * n + 100), size=n, replace=False))
    accessions = rng.choice(np.arange(10_000, 10_000 + 4 * n + 100), size=2 * n, replace=False)
    tumour_acc, normal_acc = accessions[:n], accessions[n:]
    if country is Country.SE:
        patient = [f"SE-P{k:06d}" for k in numbers]
        tumour = [f"ACC{k}A1" for k in tumour_acc]
        normal = [f"ACC{k}A2" for k in normal_acc]
        years = rng.integers(18, 25, size=n)
        t_spec = [f"T{y}-{k:05d}" for y, k in zip(years, tumour_acc, strict=True)]
        n_spec = [f"B{y}-{k:05d}" for y, k in zip(years, normal_acc, strict=True)]
        cases = [f"case{k}" for k in tumour_acc]
        somatic = [f"{c}-somatic" for c in cases]
        germline = [f"{c}-germline" for c in cases]
    elif country is Country.NL:
        centres = rng.integers(1, 17, size=n)
        counters: dict[int, int] = {}
        patient = []
        for c in centres:
            counters[int(c)] = counters.get(int(c), int(rng.integers(1, 200))) + 1
            patient.append(f"CPCT02{c:02d}{counters[int(c)]:04d}")
        tumour = [f"{p}T" for p in patient]
        normal = [f"{p}R" for p in patient]
        t_spec = [f"{p}-BX{k % 3 + 1}" for p, k in zip(patient, tumour_acc, strict=True)]
        n_spec = [f"{p}-BL1" for p in patient]
        somatic = [f"HMF{k:06d}-somatic" for k in tumour_acc]
        germline = [f"HMF{k:06d}-germline" for k in tumour_acc]
    else:
        patient = [f"DK-{k:07d}" for k in numbers]
        tumour = [f"DNGC-S{k:07d}-T" for k in tumour_acc]
        normal = [f"DNGC-S{k:07d}-N" for k in normal_acc]
        t_spec = [f"DNGC-B{k:07d}" for k in tumour_acc]
        n_spec = [f"DNGC-B{k:07d}" for k in normal_acc]
        somatic = [f"DNGC-A{k:07d}-somatic" for k in tumour_acc]
        germline = [f"DNGC-A{k:07d}-germline" for k in tumour_acc]
    return Identifiers(patient, tumour, normal, t_spec, n_spec, somatic, germline)


# -- somatic events ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Somatic:
    """Column lists of somatic events, appended per event."""

    patient: list[int] = field(default_factory=list)
    chrom: list[str] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)
    ref: list[str] = field(default_factory=list)
    alt: list[str] = field(default_factory=list)
    gene: list[str | None] = field(default_factory=list)
    transcript: list[str | None] = field(default_factory=list)
    consequence: list[str] = field(default_factory=list)
    hgvs_c: list[str | None] = field(default_factory=list)
    hgvs_p: list[str | None] = field(default_factory=list)
    hotspot: list[str | None] = field(default_factory=list)
    exon: list[str | None] = field(default_factory=list)
    strand: list[int | None] = field(default_factory=list)
    driver: list[bool] = field(default_factory=list)
    clonal_copies: list[int] = field(default_factory=list)

    def add(
        self,
        patient: int,
        chrom: str,
        pos: int,
        ref: str,
        alt: str,
        *,
        gene: str | None,
        consequence: str,
        driver: bool,
        hgvs_c: str | None = None,
        hgvs_p: str | None = None,
        hotspot: str | None = None,
        exon: str | None = None,
        copies: int = 1,
    ) -> None:
        self.patient.append(patient)
        self.chrom.append(chrom)
        self.pos.append(pos)
        self.ref.append(ref)
        self.alt.append(alt)
        self.gene.append(gene)
        transcript = gene_transcripts().get(gene) if gene else None
        self.transcript.append(transcript)
        self.consequence.append(consequence)
        self.hgvs_c.append(f"{transcript}:{hgvs_c}" if hgvs_c and transcript else None)
        self.hgvs_p.append(hgvs_p)
        self.hotspot.append(hotspot)
        self.exon.append(exon or None)
        self.strand.append(GENE_SPANS[gene].strand if gene in GENE_SPANS else None)
        self.driver.append(driver)
        self.clonal_copies.append(copies)


def _random_base(rng: np.random.Generator, other: str | None = None) -> str:
    choices = [b for b in "ACGT" if b != other]
    return choices[int(rng.integers(len(choices)))]


def _synthetic_alleles(consequence: str, rng: np.random.Generator) -> tuple[str, str]:
    if consequence == "frameshift_variant":
        if rng.random() < 0.6:  # a one-base deletion, VCF-anchored on the preceding base
            ref = _random_base(rng) + _random_base(rng)
            return ref, ref[0]
        ref = _random_base(rng)
        return ref, ref + _random_base(rng)
    ref = _random_base(rng)
    return ref, _random_base(rng, ref)


def draw_somatic(
    patients: Patients, rng: np.random.Generator
) -> tuple[_Somatic, list[list[tuple[str, str | None]]]]:
    """Driver events (IntOGen) and passengers of every patient; also each patient's (gene, hotspot) list."""
    events = _Somatic()
    per_patient: list[list[tuple[str, str | None]]] = [[] for _ in range(patients.n)]
    for t, tp in enumerate(patients.profile.tumours):
        members = np.flatnonzero(patients.tumour_index == t)
        genes = driver_genes(tp.intogen_cohort)
        if not len(members):
            continue
        hit = rng.random((len(members), len(genes))) < np.array([g.fraction for g in genes])
        for row, col in zip(*np.nonzero(hit), strict=True):
            patient = int(members[row])
            gene = genes[col]
            label = _driver_event(events, patient, gene.gene, gene.role, tp.oncotree, rng)
            per_patient[patient].append((gene.gene, label))
    _passengers(events, patients, rng)
    return events, per_patient


def _driver_event(
    events: _Somatic, patient: int, gene: str, role: str, tumour: str, rng: np.random.Generator
) -> str | None:
    weights = _TUMOUR_HOTSPOT_WEIGHTS.get((gene, tumour)) or _HOTSPOT_WEIGHTS.get(gene) or {None: 1.0}
    labels = list(weights)
    p = np.array([weights[k] for k in labels])
    label = labels[int(rng.choice(len(labels), p=p / p.sum()))]
    # Tumour suppressors often lose the other allele, so their variants reach higher allele fractions.
    copies = 2 if role == "LoF" and rng.random() < 0.4 else 1
    if label is not None:
        spot = next(h for h in hotspots_of(gene) if h.label == label)
        events.add(
            patient,
            spot.chrom,
            spot.pos,
            spot.ref,
            spot.alt,
            gene=gene,
            consequence=spot.consequence,
            driver=True,
            hgvs_c=spot.hgvs_c,
            hgvs_p=spot.hgvs_p,
            hotspot=label,
            exon=spot.exon,
            copies=copies,
        )
        return label
    span = GENE_SPANS[gene]
    consequences = _ROLE_CONSEQUENCES.get(role, _ROLE_CONSEQUENCES["ambiguous"])
    names = list(consequences)
    cp = np.array([consequences[k] for k in names])
    consequence = names[int(rng.choice(len(names), p=cp / cp.sum()))]
    length = span.end - span.start
    pos = int(span.start + 0.15 * length + rng.integers(0, max(1, int(0.7 * length))))
    ref, alt = _synthetic_alleles(consequence, rng)
    events.add(
        patient, span.chrom, pos, ref, alt, gene=gene, consequence=consequence, driver=True, copies=copies
    )
    return None


def _passengers(events: _Somatic, patients: Patients, rng: np.random.Generator) -> None:
    lengths = np.array([CONTIGS[c] for c in CHROMOSOMES], dtype=np.float64)
    chrom_p = lengths / lengths.sum()
    means = np.array([t.passengers for t in patients.profile.tumours])[patients.tumour_index]
    counts = rng.poisson(means)
    spans_by_chrom: dict[str, list[tuple[int, int, str]]] = {}
    for span in GENE_SPANS.values():
        spans_by_chrom.setdefault(span.chrom, []).append((span.start, span.end, span.gene))
    for patient, count in enumerate(counts):
        chroms = rng.choice(len(CHROMOSOMES), size=int(count), p=chrom_p)
        for c in chroms:
            chrom = CHROMOSOMES[int(c)]
            pos = int(rng.integers(10_000, CONTIGS[chrom] - 10_000))
            ref = _random_base(rng)
            alt = _random_base(rng, ref)
            gene = next((g for s, e, g in spans_by_chrom.get(chrom, ()) if s <= pos <= e), None)
            events.add(
                patient,
                chrom,
                pos,
                ref,
                alt,
                gene=gene,
                consequence="intron_variant" if gene else "intergenic_variant",
                driver=False,
            )


def somatic_table(
    events: _Somatic, patients: Patients, purity: npt.NDArray[np.float64], rng: np.random.Generator
) -> pa.Table:
    n = len(events.patient)
    patient = np.array(events.patient, dtype=np.int64)
    depth = np.maximum(rng.poisson(patients.profile.tumour_depth, size=n), 12)
    expected = np.clip(purity[patient] * np.array(events.clonal_copies) / 2.0, 0.02, 0.98)
    alt_depth = np.maximum(rng.binomial(depth, expected), 3)
    vaf = np.round(alt_depth / depth, 3)
    order = np.lexsort((np.array(events.pos), patient))
    ids = patients.ids
    return pa.table(
        {
            "patient_id": pa.array([ids.patient[i] for i in patient[order]]),
            "sample": pa.array([ids.tumour_sample[i] for i in patient[order]]),
            "chrom": pa.array(_take(events.chrom, order)),
            "pos": pa.array(np.array(events.pos, dtype=np.int64)[order]),
            "ref": pa.array(_take(events.ref, order)),
            "alt": pa.array(_take(events.alt, order)),
            "gene": pa.array(_take(events.gene, order), pa.string()),
            "transcript": pa.array(_take(events.transcript, order), pa.string()),
            "consequence": pa.array(_take(events.consequence, order)),
            "impact": pa.array([impact_of(c).name for c in _take(events.consequence, order)]),
            "hgvs_c": pa.array(_take(events.hgvs_c, order), pa.string()),
            "hgvs_p": pa.array(_take(events.hgvs_p, order), pa.string()),
            "hotspot": pa.array(_take(events.hotspot, order), pa.string()),
            "exon": pa.array(_take(events.exon, order), pa.string()),
            "strand": pa.array(_take(events.strand, order), pa.int8()),
            "driver": pa.array(_take(events.driver, order), pa.bool_()),
            "depth": pa.array(depth[order].astype(np.int32)),
            "alt_depth": pa.array(alt_depth[order].astype(np.int32)),
            "vaf": pa.array(vaf[order]),
        }
    )


def _take(values: Sequence[_T], order: npt.NDArray[np.int64]) -> list[_T]:
    return [values[i] for i in order]


# -- outcomes ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcomes:
    """Survival and therapy lines of every patient."""

    treated: npt.NDArray[np.bool_]
    os_days: npt.NDArray[np.int64]
    deceased: npt.NDArray[np.bool_]
    treatments: pa.Table
    responses: pa.Table


def draw_outcomes(
    patients: Patients, events: list[list[tuple[str, str | None]]], rng: np.random.Generator
) -> Outcomes:
    """Treatments, responses and overall survival of every patient (see :mod:`._outcomes`)."""
    prof = patients.profile
    cut = np.datetime64(prof.data_cut, "D")
    admin = (cut - patients.diagnosis).astype(np.int64)
    n = patients.n
    treated = np.zeros(n, dtype=bool)
    os_days = np.zeros(n, dtype=np.int64)
    deceased = np.zeros(n, dtype=bool)
    t_cols: dict[str, list[object]] = {
        k: [] for k in ("patient_id", "line", "regimen", "drug", "atc_code", "start_day", "end_day")
    }
    r_cols: dict[str, list[object]] = {k: [] for k in ("patient_id", "line", "day", "recist")}
    for i in range(n):
        tp = prof.tumours[patients.tumour_index[i]]
        feats = features(events[i])
        genes = frozenset(g for g, _ in events[i])
        treated[i] = rng.random() < prof.treated
        regimen = first_line(tp.oncotree, feats, rng) if treated[i] else None
        matched = regimen is not None and is_matched(regimen, feats)
        hr = hazard_ratio(tp.oncotree, genes, feats, float(patients.age[i]), matched)
        death = survival_days(tp.median_os_days, hr, rng)
        censor = min(float(admin[i]), float(rng.exponential(LOSS_TO_FOLLOW_UP_DAYS)))
        deceased[i] = death <= censor
        os_days[i] = max(1, int(min(death, censor)))
        if regimen is None:
            continue
        pid = patients.ids.patient[i]
        for line in draw_lines(tp.oncotree, feats, regimen, int(os_days[i]), bool(deceased[i]), rng):
            for drug, atc in line.regimen.drugs:
                for key, value in (
                    ("patient_id", pid),
                    ("line", line.line),
                    ("regimen", line.regimen.name),
                    ("drug", drug),
                    ("atc_code", atc),
                    ("start_day", line.start_day),
                    ("end_day", line.end_day),
                ):
                    t_cols[key].append(value)
            if line.response is not None:
                for key, value in (
                    ("patient_id", pid),
                    ("line", line.line),
                    ("day", line.response_day),
                    ("recist", line.response),
                ):
                    r_cols[key].append(value)
    treatments = pa.table(
        {
            "patient_id": pa.array(t_cols["patient_id"], pa.string()),
            "line": pa.array(t_cols["line"], pa.int32()),
            "regimen": pa.array(t_cols["regimen"], pa.string()),
            "drug": pa.array(t_cols["drug"], pa.string()),
            "atc_code": pa.array(t_cols["atc_code"], pa.string()),
            "start_day": pa.array(t_cols["start_day"], pa.int32()),
            "end_day": pa.array(t_cols["end_day"], pa.int32()),
        }
    )
    responses = pa.table(
        {
            "patient_id": pa.array(r_cols["patient_id"], pa.string()),
            "line": pa.array(r_cols["line"], pa.int32()),
            "day": pa.array(r_cols["day"], pa.int32()),
            "recist": pa.array(r_cols["recist"], pa.string()),
        }
    )
    return Outcomes(treated, os_days, deceased, treatments, responses)


# -- germline ------------------------------------------------------------------------------------------


def allele_frequencies(n_sites: int, n_patients: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Population allele frequencies with a neutral-like spectrum: density ~ 1/p on [a, 0.5].

    ``a = max(1e-5, 1 / (4 n_patients))``. The observed site-frequency spectrum is then about
    neutral (sites with allele count ``k`` ~ ``1/k``): most sites are rare (of 20,000 patients' sites,
    about 60 % have AF < 1 %) while most non-reference alleles sit at common sites.
    """
    low = max(1e-5, 1.0 / (4.0 * n_patients))
    return np.asarray(np.exp(rng.uniform(np.log(low), np.log(0.5), size=n_sites)), dtype=np.float64)


def germline_positions(
    n_sites: int, rng: np.random.Generator
) -> tuple[list[str], npt.NDArray[np.int64], list[str], list[str]]:
    """Sorted, distinct autosomal sites with their alleles (mostly SNVs, a few short indels)."""
    autosomes = [c for c in CHROMOSOMES if c != "X"]
    lengths = np.array([CONTIGS[c] for c in autosomes], dtype=np.float64)
    chrom_index = np.sort(rng.choice(len(autosomes), size=n_sites, p=lengths / lengths.sum()))
    pos = np.empty(n_sites, dtype=np.int64)
    for c in np.unique(chrom_index):
        members = np.flatnonzero(chrom_index == c)
        pos[members] = np.sort(rng.integers(10_000, CONTIGS[autosomes[c]] - 10_000, size=len(members)))
    keep = np.ones(n_sites, dtype=bool)
    # Sites at least 6 bp apart: no two overlap, even as short indels, so they sort the same by
    # VCF position and by trimmed 0-based start.
    keep[1:] = (chrom_index[1:] != chrom_index[:-1]) | (pos[1:] - pos[:-1] > 5)
    chrom_index, pos = chrom_index[keep], pos[keep]
    n = len(pos)
    kind = rng.random(n)
    ref_base = _BASES[rng.integers(0, 4, size=n)]
    alt_base = _BASES[(np.searchsorted(_BASES, ref_base) + rng.integers(1, 4, size=n)) % 4]
    refs: list[str] = []
    alts: list[str] = []
    for i in range(n):
        if kind[i] < 0.03:  # a short deletion
            extra = "".join(_BASES[rng.integers(0, 4, size=int(rng.integers(1, 4)))])
            refs.append(ref_base[i] + extra)
            alts.append(str(ref_base[i]))
        elif kind[i] < 0.05:  # a short insertion
            refs.append(str(ref_base[i]))
            alts.append(ref_base[i] + "".join(_BASES[rng.integers(0, 4, size=int(rng.integers(1, 4)))]))
        else:
            refs.append(str(ref_base[i]))
            alts.append(str(alt_base[i]))
    return [autosomes[c] for c in chrom_index], pos, refs, alts


def _germline(
    n_sites: int, n_patients: int, rng: np.random.Generator
) -> tuple[pa.Table, npt.NDArray[np.int8]]:
    chroms, pos, refs, alts = germline_positions(n_sites, rng)
    af = allele_frequencies(len(pos), n_patients, rng)
    genotypes = rng.binomial(2, af[:, None], size=(len(pos), n_patients)).astype(np.int8)
    # Some sites are hard to call: there, a few genotypes are missing, so AN < 2N.
    hard = rng.random(len(pos)) < 0.15
    missing = (rng.random(genotypes.shape) < 0.03) & hard[:, None]
    genotypes[missing] = -1
    polymorphic: npt.NDArray[np.bool_] = np.asarray((genotypes > 0).any(axis=1))
    keep = polymorphic.tolist()
    sites = pa.table(
        {
            "chrom": pa.array([c for c, k in zip(chroms, keep, strict=True) if k], pa.string()),
            "pos": pa.array(pos[polymorphic]),
            "ref": pa.array([r for r, k in zip(refs, keep, strict=True) if k], pa.string()),
            "alt": pa.array([a for a, k in zip(alts, keep, strict=True) if k], pa.string()),
            "population_af": pa.array(af[polymorphic]),
        }
    )
    return sites, np.ascontiguousarray(genotypes[polymorphic])


# -- the cohort ----------------------------------------------------------------------------------------


def _dates(values: npt.NDArray[np.datetime64]) -> pa.Array:
    return pa.array(values.astype("datetime64[D]"), pa.date32())


def synthesise(country: Country | str, patients: int, seed: int = 0, *, germline_sites: int = 1000) -> Cohort:
    """Draw a synthetic national cancer cohort.

    Parameters
    ----------
    country
        ``"SE"``, ``"NL"`` or ``"DK"`` (:class:`Country`): sets the tumour-type mix, the IntOGen
        cohorts drivers are drawn from, identifiers, labels and pipelines.
    patients
        Number of patients (at least 1).
    seed
        Non-negative seed; the same (country, patients, seed) always gives the same cohort.
    germline_sites
        Number of germline background sites drawn (sites without a carrier are dropped, so the
        cohort has at most this many).

    Returns
    -------
    Cohort
        The cohort's tables and germline genotypes.

    Raises
    ------
    ValueError
        An unknown country, fewer than one patient, or a negative seed.

    Examples
    --------
    >>> cohort = synthesise("NL", 20, seed=1)
    >>> cohort.patients.num_rows, cohort.patients.column("patient_id")[0].as_py()[:4]
    (20, 'CPCT')
    """
    prof = profile(country)
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    if germline_sites < 1:
        raise ValueError(f"germline_sites must be at least 1, got {germline_sites}")
    rngs = streams(prof.country, seed)
    people = draw_patients(prof, patients, rngs)
    somatic_rng = rngs["somatic"]
    purity = np.round(somatic_rng.uniform(0.25, 0.9, size=patients), 2)
    events, per_patient = draw_somatic(people, somatic_rng)
    outcomes = draw_outcomes(people, per_patient, rngs["outcomes"])
    sites, genotypes = _germline(germline_sites, patients, rngs["germline"])
    end = people.diagnosis + outcomes.os_days.astype("timedelta64[D]")
    ids = people.ids
    patient_table = pa.table(
        {
            "patient_id": pa.array(ids.patient, pa.string()),
            "sex": pa.array(np.where(people.female, "female", "male")),
            "birth_date": _dates(people.birth),
            "age_at_diagnosis": pa.array(np.round(people.age, 2)),
            "diagnosis_date": _dates(people.diagnosis),
            "tumour_type": pa.array(people.tumour_types, pa.string()),
            "location_label": pa.array(people.label, pa.string()),
            "location_code": pa.array(people.code, pa.string()),
            "subtype_label": pa.array(people.subtype, pa.string()),
            "metastatic": pa.array(np.full(patients, prof.metastatic)),
            "purity": pa.array(purity),
            "treated": pa.array(outcomes.treated),
            "os_days": pa.array(outcomes.os_days.astype(np.int32)),
            "deceased": pa.array(outcomes.deceased),
            "death_date": pa.array(
                [
                    d if dead else None
                    for d, dead in zip(end.astype("datetime64[D]").tolist(), outcomes.deceased, strict=True)
                ],
                pa.date32(),
            ),
            "last_contact_date": _dates(end),
        }
    )
    return Cohort(
        country=prof.country,
        seed=seed,
        data_cut=dt.date.fromisoformat(prof.data_cut),
        patients=patient_table,
        samples=_samples(people, rngs["identifiers"]),
        somatic=somatic_table(events, people, purity, somatic_rng),
        treatments=outcomes.treatments,
        responses=outcomes.responses,
        germline_sites=sites,
        germline_genotypes=genotypes,
    )


def _samples(people: Patients, rng: np.random.Generator) -> pa.Table:
    prof = people.profile
    ids = people.ids
    n = people.n
    blood = "blood" if prof.country is Country.NL else "Blod"
    if prof.metastatic:
        sites = rng.integers(0, len(_METASTASIS_SITES), size=n)
        tissue = [_METASTASIS_SITES[s] for s in sites]
    else:
        tissue = [prof.tumours[t].tissue for t in people.tumour_index]
    rows: dict[str, list[object]] = {
        k: []
        for k in (
            "sample",
            "individual",
            "specimen",
            "specimen_type",
            "analysis",
            "assay",
            "pipeline",
            "pipeline_version",
            "tissue",
            "tumour_type",
            "vcf",
        )
    }
    tumour_types = people.tumour_types
    for i in range(n):
        # The blood sample is the germline sample of the germline VCF (and the matched normal).
        for kind in ("germline", "tumour"):
            tumour = kind == "tumour"
            values = (
                ids.tumour_sample[i] if tumour else ids.normal_sample[i],
                ids.patient[i],
                ids.tumour_specimen[i] if tumour else ids.normal_specimen[i],
                kind,
                ids.somatic_analysis[i] if tumour else ids.germline_analysis[i],
                prof.assay,
                prof.pipeline,
                prof.pipeline_version,
                tissue[i] if tumour else blood,
                tumour_types[i] if tumour else None,
                "somatic" if tumour else "germline",
            )
            for key, value in zip(rows, values, strict=True):
                rows[key].append(value)
    return pa.table({k: pa.array(v, pa.string()) for k, v in rows.items()})
