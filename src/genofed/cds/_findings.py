"""A patient's findings, read from a node store: the input of matching, reports and the benefit analysis.

Shape: a handful of SQL statements over the store's views, each for a whole cohort or one patient
(the same statements with an optional ``individual_id = ?``), turned into
:class:`~genofed.cds.Finding` objects by the same Python code. :func:`cohort_findings` therefore reads
every patient in seven queries, not seven per patient, and :func:`patient_findings` is the one-patient
case of the same code -- the two cannot disagree.

What becomes a finding (the rules, also in ``docs/cds.md``):

- **small variants** (``variant_calls`` joined to the ``variant_sites`` row of the same batch), FILTER
  PASS only. Somatic: protein-altering (VEP impact HIGH or MODERATE) or flagged ``reported`` by the
  pipeline (a TERT promoter driver is neither coding nor missing). Germline: ``reported`` or HIGH
  impact (a germline missense VUS is not a finding; a truncating BRCA2 variant is);
- **copy-number events** with a gene: ``AMP``/``PARTIAL_AMP`` (amplification) and ``DEL``
  (homozygous deletion); germline events only when the pipeline reported them (common germline
  deletion polymorphisms otherwise flood a report);
- **fusions** (``structural_variants`` with ``sv_type = 'FUSION'``): two different genes, reported
  by the pipeline or in frame;
- **signatures** from ``biomarkers``: TMB >= 10 mutations/Mb -> TMB_HIGH; MSI status ``MSI_HIGH``,
  ``MSI-H`` or PURPLE's ``MSI`` -> MSI_HIGH; HRD status ``HR_DEFICIENT`` -> HRD. Numeric MSI or HRD
  scores without a status are not interpreted (their thresholds depend on the method);
- **driver-catalog entries** (``drivers``) mark the findings they back as ``reported``; an entry whose
  event the store lacks (a Hartwig folder without its somatic VCF) becomes a finding of its own --
  a gene-level small variant, amplification or deletion -- so a report still lists the driver.

The tumour type is the OncoTree code of the patient's primary diagnosis, else of a tumour specimen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pyarrow as pa

from genofed.errors import QueryError

from ._types import Finding, FindingKind

__all__ = [
    "GROUPINGS",
    "TMB_HIGH_THRESHOLD",
    "DriverEntry",
    "PatientFindings",
    "StoreLike",
    "cohort_findings",
    "patient_findings",
    "patient_groups",
]

#: mutations per megabase at or above which a tumour is TMB-high (FDA pembrolizumab label, 2020)
TMB_HIGH_THRESHOLD = 10.0
_MSI_HIGH = frozenset({"MSI_HIGH", "MSI-H", "MSI", "MSI-HIGH", "MSIH"})
_HRD = frozenset({"HR_DEFICIENT", "HRD"})
_AMP_EVENTS = frozenset({"AMP", "PARTIAL_AMP"})
# Driver-catalog types whose event is a small variant / a copy-number event (Hartwig naming).
_MUTATION_DRIVERS = frozenset({"MUTATION", "GERMLINE_MUTATION"})
_DELETION_DRIVERS = frozenset({"DEL", "GERMLINE_DELETION", "GERMLINE_HOM_DELETION"})
# Biomarkers shown in a report beside the findings (name -> shown when present).
_SHOWN_BIOMARKERS = ("TMB", "MSI", "HRD", "PURITY", "PLOIDY", "TML")


#: the second groupings :func:`patient_groups` reads from the store
GROUPINGS = ("age_band", "metastatic", "sex", "stage")
_GROUPING_SQL = {
    "sex": "SELECT individual_id, any_value(sex) AS value FROM individuals GROUP BY individual_id",
    "age_band": (
        "SELECT individual_id, min(age_at_diagnosis) AS value FROM individuals "
        "WHERE age_at_diagnosis IS NOT NULL GROUP BY individual_id"
    ),
    "stage": (
        'SELECT individual_id, arg_min(stage, CASE WHEN "primary" THEN 0 ELSE 1 END) AS value '
        "FROM diagnoses WHERE stage IS NOT NULL GROUP BY individual_id"
    ),
    "metastatic": (
        "SELECT individual_id, bool_or(metastatic) AS value FROM diagnoses "
        "WHERE metastatic IS NOT NULL GROUP BY individual_id"
    ),
}


class StoreLike(Protocol):
    """What the findings need of a store: SQL over the model's views and the node's pseudonyms.

    :class:`genofed.store.NodeStore` is one; ``cds`` does not import ``store`` (architecture layering).
    """

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table: ...

    def pseudonymise(self, source_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class DriverEntry:
    """One entry of a pipeline's driver catalog (deduplicated over transcripts)."""

    gene: str
    driver: str  # MUTATION, AMP, DEL, DISRUPTION, ... as the catalog names it
    germline: bool = False
    likelihood_method: str | None = None
    likelihood: float | None = None
    biallelic: bool | None = None

    @property
    def label(self) -> str:
        """``BRAF MUTATION (HOTSPOT)``."""
        method = f" ({self.likelihood_method})" if self.likelihood_method else ""
        origin = "germline " if self.germline and not self.driver.startswith("GERMLINE") else ""
        return f"{self.gene} {origin}{self.driver}{method}"


@dataclass(frozen=True, slots=True)
class PatientFindings:
    """Everything decision support reads about one patient.

    ``individual_id`` is the node-local pseudonym; ``assays`` are the assays of the patient's analyses
    (WGS, PANEL, ...); ``biomarkers`` are (name, value) pairs shown in a report (TMB, MSI, HRD,
    purity...), whether or not they made a signature finding.
    """

    individual_id: str
    tumour_type: str | None
    findings: tuple[Finding, ...]
    drivers: tuple[DriverEntry, ...] = ()
    biomarkers: tuple[tuple[str, str], ...] = ()
    assays: tuple[str, ...] = ()
    tumour_type_from: str | None = None  # "diagnoses" or "specimens"

    def of_kind(self, kind: FindingKind) -> tuple[Finding, ...]:
        """The findings of one kind."""
        return tuple(f for f in self.findings if f.kind is kind)


@dataclass
class _Patient:
    """Accumulates one patient's rows while the cohort's query results are walked."""

    tumour_type: str | None = None
    tumour_type_from: str | None = None
    findings: list[Finding] = field(default_factory=list)
    drivers: dict[tuple[str, str, bool], DriverEntry] = field(default_factory=dict)
    biomarkers: list[tuple[str, str]] = field(default_factory=list)
    assays: set[str] = field(default_factory=set)


def patient_findings(store: StoreLike, individual_id: str) -> PatientFindings:
    """Read one patient's findings from a node store (module doc for what counts as a finding).

    Parameters
    ----------
    store
        A :class:`genofed.store.NodeStore` (or anything with its ``execute`` and ``pseudonymise``).
    individual_id
        The patient's pseudonym in the store, or the source identifier (as ingested), which is
        pseudonymised with the node's key.

    Returns
    -------
    PatientFindings
        The patient's tumour type, findings, driver catalog, biomarkers and assays.

    Raises
    ------
    QueryError
        Neither the identifier nor its pseudonym names anyone in the store.
    """
    pseudonym = _resolve(store, individual_id)
    (found,) = _read(store, pseudonym)
    return found


def cohort_findings(store: StoreLike) -> list[PatientFindings]:
    """Read every sequenced patient's findings in a few queries (one per table), ordered by pseudonym.

    A patient counts when the store holds at least one analysis of theirs; clinical-only records
    (no genome) are not part of a findings cohort.
    """
    return _read(store, None)


def patient_groups(store: StoreLike, by: str) -> dict[str, str]:
    """A second grouping of the store's patients for the benefit analysis: pseudonym -> label.

    ``by`` is ``sex``, ``stage`` (of the primary diagnosis first), ``metastatic`` (``metastatic`` /
    ``not metastatic``) or ``age_band`` (age at diagnosis in bands: <40, 40-49, ..., 80+). Patients
    without the value are absent (the analysis groups them under None).
    """
    if by not in _GROUPING_SQL:
        raise QueryError(f"cannot group patients by {by!r}; choose one of {', '.join(GROUPINGS)}")
    out: dict[str, str] = {}
    for row in store.execute(_GROUPING_SQL[by]).to_pylist():
        value = row["value"]
        if value is None:
            continue
        if by == "age_band":
            decade = int(value // 10 * 10)
            label = "<40" if decade < 40 else "80+" if decade >= 80 else f"{decade}-{decade + 9}"
        elif by == "metastatic":
            label = "metastatic" if value else "not metastatic"
        else:
            label = str(value)
        out[row["individual_id"]] = label
    return out


def _resolve(store: StoreLike, individual_id: str) -> str:
    sql = (
        "SELECT count(*) AS n FROM (SELECT individual_id FROM analyses UNION ALL "
        "SELECT individual_id FROM individuals UNION ALL SELECT individual_id FROM diagnoses) "
        "WHERE individual_id = ?"
    )
    for candidate in (individual_id, store.pseudonymise(individual_id)):
        if store.execute(sql, [candidate]).column("n")[0].as_py():
            return candidate
    raise QueryError(
        f"no individual {individual_id!r} in the store (tried it as a pseudonym and as a source "
        "identifier); list the store's individuals with `genofed query count` or check the ingest"
    )


def _query(
    store: StoreLike, sql: str, individual: str | None, column: str = "individual_id"
) -> list[dict[str, Any]]:
    """Run one of the statements below for the cohort, or with ``individual_id = ?`` for one patient."""
    where = f" AND {column} = ?" if individual is not None else ""
    params = [individual] * sql.count("{where}") if individual is not None else []
    rows: list[dict[str, Any]] = store.execute(sql.format(where=where), params).to_pylist()
    return rows


_ANALYSES = "SELECT DISTINCT individual_id, assay FROM analyses WHERE true{where}"
# Primary diagnosis first, then any diagnosis, then tumour specimens; the first per patient wins.
_TUMOUR_TYPES = """
SELECT individual_id, tumour_type, source FROM (
    SELECT individual_id, tumour_type, 'diagnoses' AS source, CASE WHEN "primary" THEN 0 ELSE 1 END AS rank,
           coalesce(day, 0) AS day
    FROM diagnoses WHERE tumour_type IS NOT NULL{where}
    UNION ALL
    SELECT individual_id, tumour_type, 'specimens' AS source, 2 AS rank, coalesce(collection_day, 0) AS day
    FROM specimens WHERE tumour_type IS NOT NULL AND specimen_type = 'tumour'{where}
) ORDER BY individual_id, rank, day, tumour_type
"""
# The site row of the call's own batch carries the annotation the call was ingested with.
_SMALL_VARIANTS = """
SELECT c.individual_id, c.origin, c.reported, c.vaf, c.zygosity, c.chrom, c.start, c.ref, c.alt,
       s.gene, s.protein_change, s.consequence, s.impact, s.hgvs_c
FROM variant_calls AS c
JOIN variant_sites AS s ON s.chrom = c.chrom AND s.variant_id = c.variant_id AND s.batch_id = c.batch_id
WHERE c.filter_pass AND s.gene IS NOT NULL
  AND ((c.origin = 'somatic' AND (c.reported OR s.impact IN ('HIGH', 'MODERATE')))
       OR (c.origin = 'germline' AND (c.reported OR s.impact = 'HIGH'))){where}
ORDER BY c.individual_id, c.chrom, c.start, c.ref, c.alt
"""
_COPY_NUMBERS = """
SELECT individual_id, gene, event, copy_number, origin, reported FROM copy_numbers
WHERE gene IS NOT NULL AND event IN ('AMP', 'PARTIAL_AMP', 'DEL')
  AND (origin = 'somatic' OR reported){where}
ORDER BY individual_id, chrom, start, gene
"""
_FUSIONS = """
SELECT individual_id, gene_5p, gene_3p, in_frame, reported FROM structural_variants
WHERE sv_type = 'FUSION' AND gene_5p IS NOT NULL AND gene_3p IS NOT NULL AND gene_5p <> gene_3p
  AND (reported OR in_frame){where}
ORDER BY individual_id, gene_5p, gene_3p
"""
_BIOMARKERS = """
SELECT individual_id, name, value, status, unit, method FROM biomarkers
WHERE name IN ('TMB', 'TML', 'MSI', 'HRD', 'PURITY', 'PLOIDY'){where}
ORDER BY individual_id, name, method, value
"""
_DRIVERS = """
SELECT individual_id, gene, driver, origin, likelihood_method, driver_likelihood, biallelic FROM drivers
WHERE true{where}
ORDER BY individual_id, gene, driver, CASE WHEN canonical THEN 0 ELSE 1 END, driver_likelihood DESC
"""


def _read(store: StoreLike, individual: str | None) -> list[PatientFindings]:
    patients: dict[str, _Patient] = defaultdict(_Patient)
    for row in _query(store, _ANALYSES, individual):
        patients[row["individual_id"]].assays.add(str(row["assay"]))
    if individual is not None:
        patients.setdefault(individual, _Patient())  # clinical records only: an empty result
    for row in _query(store, _TUMOUR_TYPES, individual):
        patient = patients.get(row["individual_id"])
        if patient is not None and patient.tumour_type is None:
            patient.tumour_type, patient.tumour_type_from = row["tumour_type"], row["source"]
    for row in _query(store, _SMALL_VARIANTS, individual, "c.individual_id"):
        patient = patients.get(row["individual_id"])
        if patient is not None:
            patient.findings.append(_small_variant(row))
    for row in _query(store, _COPY_NUMBERS, individual):
        patient = patients.get(row["individual_id"])
        if patient is not None:
            patient.findings.append(_copy_number(row))
    for row in _query(store, _FUSIONS, individual):
        patient = patients.get(row["individual_id"])
        if patient is not None:
            patient.findings.append(_fusion(row))
    for row in _query(store, _BIOMARKERS, individual):
        patient = patients.get(row["individual_id"])
        if patient is None:
            continue
        shown = _biomarker_text(row)
        if shown is not None:
            patient.biomarkers.append((str(row["name"]), shown))
        signature = _signature(row)
        if signature is not None:
            patient.findings.append(signature)
    for row in _query(store, _DRIVERS, individual):
        patient = patients.get(row["individual_id"])
        if patient is None:
            continue
        entry = DriverEntry(
            gene=row["gene"],
            driver=row["driver"],
            germline=row["origin"] == "germline",
            likelihood_method=row["likelihood_method"],
            likelihood=row["driver_likelihood"],
            biallelic=row["biallelic"],
        )
        # The catalog lists a gene once per transcript; the canonical one sorts first.
        patient.drivers.setdefault((entry.gene, entry.driver, entry.germline), entry)
    out = []
    for pseudonym in sorted(patients):
        patient = patients[pseudonym]
        out.append(
            PatientFindings(
                individual_id=pseudonym,
                tumour_type=patient.tumour_type,
                findings=_with_drivers(patient.findings, list(patient.drivers.values())),
                drivers=tuple(patient.drivers.values()),
                biomarkers=tuple(patient.biomarkers),
                assays=tuple(sorted(patient.assays)),
                tumour_type_from=patient.tumour_type_from,
            )
        )
    return out


def _number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def _small_variant(row: dict[str, Any]) -> Finding:
    germline = row["origin"] == "germline"
    change = row["protein_change"]
    detail = [
        ("origin", str(row["origin"])),
        ("locus", f"{row['chrom']}:{row['start'] + 1} {row['ref']}>{row['alt']}"),
    ]
    if row["hgvs_c"]:
        detail.append(("HGVS c.", str(row["hgvs_c"])))
    if row["vaf"] is not None:
        detail.append(("VAF", f"{row['vaf']:.2f}"))
    if germline and row["zygosity"] not in (None, "unknown"):
        detail.append(("zygosity", str(row["zygosity"])))
    return Finding(
        kind=FindingKind.SMALL_VARIANT,
        gene=row["gene"],
        # The store keeps HGVS p. short form with its prefix; findings carry the bare change (V600E).
        protein_change=change.removeprefix("p.") if change else None,
        consequence=row["consequence"],
        germline=germline,
        reported=bool(row["reported"]),
        detail=tuple(detail),
    )


def _copy_number(row: dict[str, Any]) -> Finding:
    detail = [("origin", str(row["origin"])), ("event", str(row["event"]))]
    if row["copy_number"] is not None:
        detail.append(("copy number", f"{row['copy_number']:.1f}"))
    return Finding(
        kind=FindingKind.AMPLIFICATION if row["event"] in _AMP_EVENTS else FindingKind.DELETION,
        gene=row["gene"],
        germline=row["origin"] == "germline",
        reported=bool(row["reported"]),
        detail=tuple(detail),
    )


def _fusion(row: dict[str, Any]) -> Finding:
    frame = {True: "in frame", False: "out of frame", None: "unknown"}[row["in_frame"]]
    return Finding(
        kind=FindingKind.FUSION,
        gene=row["gene_5p"],
        partner_gene=row["gene_3p"],
        reported=bool(row["reported"]),
        detail=(("origin", "somatic"), ("frame", frame)),
    )


def _signature(row: dict[str, Any]) -> Finding | None:
    name, value, status = row["name"], row["value"], (row["status"] or "").upper()
    method = row["method"] or "unknown method"
    if name == "TMB" and value is not None and value >= TMB_HIGH_THRESHOLD:
        return Finding(
            kind=FindingKind.SIGNATURE,
            signature="TMB_HIGH",
            detail=(("TMB", f"{value:.1f} {row['unit'] or 'mutations/Mb'}"), ("method", method)),
        )
    if name == "MSI" and status in _MSI_HIGH:
        return Finding(
            kind=FindingKind.SIGNATURE,
            signature="MSI_HIGH",
            detail=(("MSI status", status), ("method", method)),
        )
    if name == "HRD" and status in _HRD:
        return Finding(
            kind=FindingKind.SIGNATURE,
            signature="HRD",
            detail=(("HRD status", status), ("score", _number(value)), ("method", method)),
        )
    return None


def _biomarker_text(row: dict[str, Any]) -> str | None:
    value, status, unit, method = row["value"], row["status"], row["unit"], row["method"]
    parts = []
    if value is not None:
        parts.append(_number(value, 4) + (f" {unit}" if unit else ""))
    if status and row["name"] != "PURITY":
        parts.append(str(status))
    if not parts:
        return None
    return ", ".join(parts) + (f" ({method})" if method else "")


def _replace_reported(finding: Finding) -> Finding:
    return replace(finding, reported=True)


def _driver_kind(driver: str) -> FindingKind | None:
    if driver in _MUTATION_DRIVERS:
        return FindingKind.SMALL_VARIANT
    if driver in _AMP_EVENTS:
        return FindingKind.AMPLIFICATION
    if driver in _DELETION_DRIVERS:
        return FindingKind.DELETION
    return None  # disruptions have no finding kind; the report lists them among the drivers


def _with_drivers(findings: list[Finding], drivers: Iterable[DriverEntry]) -> tuple[Finding, ...]:
    """Mark the findings a driver entry backs as reported; add a finding for an entry backed by none."""
    out = _dedupe(findings)
    for entry in drivers:
        kind = _driver_kind(entry.driver)
        if kind is None:
            continue
        backing = [
            i
            for i, f in enumerate(out)
            if f.kind is kind and f.gene == entry.gene and f.germline == entry.germline
        ]
        if backing:
            if not any(out[i].reported for i in backing):
                for i in backing:
                    out[i] = _replace_reported(out[i])
            continue
        detail = [("origin", "germline" if entry.germline else "somatic"), ("source", "driver catalog")]
        if entry.likelihood_method:
            detail.append(("driver likelihood", f"{entry.likelihood_method} {_number(entry.likelihood)}"))
        out.append(
            Finding(kind=kind, gene=entry.gene, germline=entry.germline, reported=True, detail=tuple(detail))
        )
    return tuple(out)


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per alteration (a tumour sequenced twice, a fusion listed per transcript pair)."""
    seen: dict[tuple[object, ...], int] = {}
    out: list[Finding] = []
    for finding in findings:
        key = (
            finding.kind,
            finding.gene,
            finding.protein_change,
            finding.partner_gene,
            finding.signature,
            finding.germline,
            # Small variants without a protein change (splice, promoter) are told apart by locus.
            dict(finding.detail).get("locus") if not finding.protein_change else None,
        )
        if key in seen:
            if finding.reported and not out[seen[key]].reported:
                out[seen[key]] = _replace_reported(out[seen[key]])
            continue
        seen[key] = len(out)
        out.append(finding)
    return out
