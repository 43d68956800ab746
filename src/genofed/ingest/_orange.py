"""The ORANGE JSON reader: Hartwig's one-file summary of a sample's hmftools results -> the model.

ORANGE (``<tumour>.orange.json``) carries what a report needs: PURPLE's fit, QC and genome-wide
characteristics, the reportable small variants with their canonical PAVE impact, driver catalogs,
reportable gains and deletions, LINX fusions, CHORD, LILAC, and reported viruses. It has no
coordinates for copy-number events or structural variants, so those reach ``drivers`` (gene
level) rather than ``copy_numbers``; small variants have coordinates and reach ``variant_sites`` and
``variant_calls`` like a VCF's. The rows are the same as :class:`~genofed.ingest.HartwigReader`'s
(:mod:`._hartwig_common`), so a sample ingested from its folder or its ORANGE JSON answers queries
alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from genofed.errors import FormatError, Location
from genofed.model import (
    Assay,
    Assembly,
    Biomarker,
    Driver,
    Origin,
    StructuralVariant,
    VariantCall,
    VariantSite,
    Zygosity,
    normalise_assembly,
    normalise_chromosome,
    normalise_protein_change,
    trim_alleles,
    variant_id,
)

from ._hartwig_common import HartwigSummary, SampleIds, consequence_of, patient_of_sample, table_of
from ._normalise import variant_type
from ._source import Chunk

__all__ = ["OrangeReader"]

_REF_GENOMES = {
    "V37": Assembly.GRCH37,
    "V38": Assembly.GRCH38,
    "HG19": Assembly.GRCH37,
    "HG38": Assembly.GRCH38,
}
_ASSAYS = {"WHOLE_GENOME": Assay.WGS, "TARGETED": Assay.PANEL, "PANEL": Assay.PANEL}
_BASES = frozenset("ACGTN")


class OrangeReader:
    """A :class:`~genofed.ingest.SourceReader` for one ORANGE JSON report.

    Parameters
    ----------
    path
        The ORANGE JSON (``*.orange.json``).
    individual
        The patient's source ID; default: from ``sample_info``, else Hartwig's sample naming.
    sample_info
        Clinical facts by tumour sample ID (see :class:`~genofed.ingest.HartwigReader`).
    assembly
        Reference assembly; default: ORANGE's ``refGenomeVersion``.

    Raises
    ------
    FormatError
        The file is not JSON, or lacks ``sampleId`` or the PURPLE fit.
    """

    kind: str = "hartwig"

    def __init__(
        self,
        path: str | Path,
        *,
        individual: str | None = None,
        sample_info: Mapping[str, Any] | None = None,
        assembly: str | None = None,
    ) -> None:
        self.path = Path(path)
        self._where = str(self.path)
        try:
            self.report: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise FormatError(f"cannot read the ORANGE JSON: {exc}", location=Location(self._where)) from exc
        except json.JSONDecodeError as exc:
            raise FormatError(
                f"not valid JSON: {exc.msg}", location=Location(self._where, exc.lineno)
            ) from exc
        if not isinstance(self.report, dict):
            raise FormatError("expected a JSON object (an ORANGE report)", location=Location(self._where))
        tumour = self._get(self.report, "sampleId", str)
        info = (sample_info or {}).get(tumour)
        patient = individual or (info.patient if info is not None else None) or patient_of_sample(tumour)
        self._info = info
        self.ids = SampleIds(patient=patient, tumour=tumour)
        if assembly:
            self.assembly = normalise_assembly(assembly)
        else:
            label = str(self.report.get("refGenomeVersion") or "")
            if label.upper() not in _REF_GENOMES:
                raise FormatError(
                    f"refGenomeVersion {label!r} is not V37 or V38; give the assembly",
                    location=Location(self._where, field="refGenomeVersion"),
                )
            self.assembly = _REF_GENOMES[label.upper()]
        self.summary = HartwigSummary(
            layout="orange", tumour_sample=tumour, patient=patient, assembly=self.assembly.value
        )

    @property
    def source(self) -> str:
        """The JSON's file name."""
        return self.path.name

    @property
    def batch_key(self) -> str:
        """``hartwig:<tumour sample>``, as for the sample's folder: one replaces the other."""
        return self.ids.batch_key

    # -- access with located errors ---------------------------------------------------------------
    def _get(
        self, obj: Mapping[str, Any], key: str, kind: type, *, path: str = "", required: bool = True
    ) -> Any:
        where = f"{path}.{key}" if path else key
        value = obj.get(key)
        if value is None:
            if required:
                raise FormatError(f"{where} is missing", location=Location(self._where, field=where))
            return None
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise FormatError(
                f"{where} is {value!r}; expected a {kind.__name__}",
                location=Location(self._where, field=where),
            )
        return value

    def _list(self, obj: Mapping[str, Any], key: str, path: str) -> list[dict[str, Any]]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            where = f"{path}.{key}"
            raise FormatError(
                f"{where} is not a list of objects", location=Location(self._where, field=where)
            )
        return value

    # -- the read ---------------------------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        """Yield specimens, analyses, biomarkers, drivers, fusions, then reportable small variants."""
        self.summary.rows = {}
        self.summary.files = {self.path.name: "ORANGE JSON"}
        report = self.report
        purple = self._get(report, "purple", dict)
        fit = self._get(purple, "fit", dict, path="purple")
        qc = self._get(fit, "qc", dict, path="purple.fit", required=False) or {}
        biomarkers = self._biomarkers(purple, fit)
        drivers = self._drivers(purple, report.get("linx") or {})
        fusions = self._fusions(report.get("linx") or {})
        sites, calls = self._variants(purple)
        status = qc.get("status")
        qc_status = ",".join(str(s) for s in status) if isinstance(status, list) else status
        experiment = str(report.get("experimentType") or "WHOLE_GENOME").upper()
        self.summary.pipeline_version = report.get("pipelineVersion")
        info = self._info
        out: list[tuple[str, pa.Table]] = [
            (
                "specimens",
                self.ids.specimens(
                    tissue=info.tissue if info is not None else None,
                    tumour_type=info.tumour_type if info is not None else None,
                ),
            ),
            (
                "analyses",
                self.ids.analyses(
                    germline=any(d.origin is Origin.GERMLINE for d in drivers)
                    or any(c.origin is Origin.GERMLINE for c in calls),
                    assay=_ASSAYS.get(experiment, Assay.WGS),
                    pipeline="hmftools",
                    pipeline_version=self.summary.pipeline_version,
                    assembly=self.assembly,
                    qc_status=qc_status if isinstance(qc_status, str) else None,
                    contamination=self._number(qc, "contamination", "purple.fit.qc", 0, 1),
                    mean_coverage=self._number(qc, "amberMeanDepth", "purple.fit.qc", 0, None),
                    source=self.source,
                ),
            ),
            ("biomarkers", table_of(Biomarker, biomarkers)),
        ]
        if drivers:
            out.append(("drivers", table_of(Driver, drivers)))
        if fusions:
            out.append(("structural_variants", table_of(StructuralVariant, fusions)))
        if sites:
            out.append(("variant_sites", table_of(VariantSite, sites)))
            out.append(("variant_calls", table_of(VariantCall, calls)))
        for name, table in out:
            self.summary.count(name, table.num_rows)
            yield name, table

    def _number(
        self, obj: Mapping[str, Any], key: str, path: str, low: float, high: float | None
    ) -> float | None:
        value = self._get(obj, key, float, path=path, required=False)
        if value is not None and (value < low or (high is not None and value > high)):
            bound = f"{low}-{high}" if high is not None else f"at least {low}"
            raise FormatError(
                f"{path}.{key} {value} is outside {bound}",
                location=Location(self._where, field=f"{path}.{key}"),
            )
        return value  # type: ignore[no-any-return]

    def _biomarkers(self, purple: Mapping[str, Any], fit: Mapping[str, Any]) -> list[Biomarker]:
        ids = self.ids
        purity = self._number(fit, "purity", "purple.fit", 0, 1)
        if purity is None:
            raise FormatError(
                "purple.fit.purity is missing", location=Location(self._where, field="purple.fit.purity")
            )
        ploidy = self._number(fit, "ploidy", "purple.fit", 0, None)
        out = [
            ids.biomarker("PURITY", value=purity, status=fit.get("fittedPurityMethod"), method="PURPLE"),
            ids.biomarker("PLOIDY", value=ploidy, method="PURPLE"),
        ]
        chars = self._get(purple, "characteristics", dict, path="purple", required=False) or {}
        where = "purple.characteristics"
        for name, number, status in (
            ("TMB", "tumorMutationalBurdenPerMb", "tumorMutationalBurdenStatus"),
            ("TML", "tumorMutationalLoad", "tumorMutationalLoadStatus"),
            ("MSI", "microsatelliteIndelsPerMb", "microsatelliteStatus"),
            ("SV_TMB", "svTumorMutationalBurden", None),
        ):
            if number in chars:
                value = self._get(chars, number, float, path=where, required=False)
                out.append(
                    ids.biomarker(
                        name, value=value, status=chars.get(status) if status else None, method="PURPLE"
                    )
                )
        wgd = self._get(chars, "wholeGenomeDuplication", bool, path=where, required=False)
        if wgd is not None:
            out.append(
                ids.biomarker("WGD", value=float(wgd), status="WGD" if wgd else "NO_WGD", method="PURPLE")
            )
        chord = self.report.get("chord")
        if isinstance(chord, dict):
            value = self._number(chord, "hrdValue", "chord", 0, 1)
            status = chord.get("hrStatus")
            out.append(
                ids.biomarker(
                    "HRD", value=value, status=str(status).upper() if status else None, method="CHORD"
                )
            )
        lilac = self.report.get("lilac")
        if isinstance(lilac, dict):
            for i, allele in enumerate(self._list(lilac, "alleles", "lilac")):
                name = self._get(allele, "allele", str, path=f"lilac.alleles[{i}]")
                gene = f"HLA-{name.split('*', 1)[0]}"
                if gene not in ("HLA-A", "HLA-B", "HLA-C"):
                    raise FormatError(
                        f"{name!r} is not an HLA class I allele",
                        location=Location(self._where, field=f"lilac.alleles[{i}].allele"),
                    )
                copies = self._get(
                    allele, "tumorCopyNumber", float, path=f"lilac.alleles[{i}]", required=False
                )
                out.append(ids.biomarker(gene, value=copies, status=name, method="LILAC"))
            qc = lilac.get("qc")
            if isinstance(qc, str):
                out.append(ids.biomarker("HLA_QC", status=qc, method="LILAC"))
        virus = self.report.get("virusInterpreter")
        if isinstance(virus, dict):
            for i, hit in enumerate(self._list(virus, "reportableViruses", "virusInterpreter")):
                where_v = f"virusInterpreter.reportableViruses[{i}]"
                integrations = self._get(hit, "integrations", float, path=where_v, required=False)
                label = hit.get("interpretation") or self._get(hit, "name", str, path=where_v)
                out.append(
                    ids.biomarker("VIRUS", value=integrations, status=str(label), method="Virus Interpreter")
                )
        return out

    def _drivers(self, purple: Mapping[str, Any], linx: Mapping[str, Any]) -> list[Driver]:
        out: list[Driver] = []
        seen: set[tuple[str, str | None, str, Origin]] = set()
        for key, origin in (("somaticDrivers", Origin.SOMATIC), ("germlineDrivers", Origin.GERMLINE)):
            for i, entry in enumerate(self._list(purple, key, "purple")):
                where = f"purple.{key}[{i}]"
                gene = self._get(entry, "gene", str, path=where)
                driver = self._get(entry, "type", str, path=where)
                transcript = entry.get("transcript")
                seen.add((gene, transcript, driver, origin))
                out.append(
                    self.ids.driver(
                        origin,
                        gene=gene,
                        driver=driver,
                        likelihood_method=entry.get("likelihoodMethod"),
                        driver_likelihood=self._number(entry, "driverLikelihood", where, 0, 1),
                        transcript=transcript,
                        canonical=entry.get("isCanonical")
                        if isinstance(entry.get("isCanonical"), bool)
                        else None,
                    )
                )
        # Reportable gains and deletions: gene level, without coordinates in ORANGE.
        for key, origin in (
            ("somaticGainsDels", Origin.SOMATIC),
            ("somaticGainsLosses", Origin.SOMATIC),
            ("germlineGainsDels", Origin.GERMLINE),
            ("germlineGainsLosses", Origin.GERMLINE),
        ):
            for i, entry in enumerate(self._list(purple, key, "purple")):
                where = f"purple.{key}[{i}]"
                gene = self._get(entry, "gene", str, path=where)
                driver = self._get(entry, "interpretation", str, path=where)
                transcript = entry.get("transcript")
                if (gene, transcript, driver, origin) in seen:
                    continue
                seen.add((gene, transcript, driver, origin))
                chrom = entry.get("chromosome")
                out.append(
                    self.ids.driver(
                        origin,
                        gene=gene,
                        driver=driver,
                        chrom=normalise_chromosome(str(chrom)) if chrom else None,
                        chromosome_band=entry.get("chromosomeBand"),
                        transcript=transcript,
                        canonical=entry.get("isCanonical")
                        if isinstance(entry.get("isCanonical"), bool)
                        else None,
                        min_copy_number=self._get(entry, "minCopyNumber", float, path=where, required=False),
                        max_copy_number=self._get(entry, "maxCopyNumber", float, path=where, required=False),
                    )
                )
        for i, entry in enumerate(self._list(linx, "somaticDrivers", "linx")):
            where = f"linx.somaticDrivers[{i}]"
            gene = self._get(entry, "gene", str, path=where)
            driver = self._get(entry, "type", str, path=where)
            if (gene, None, driver, Origin.SOMATIC) not in seen:
                seen.add((gene, None, driver, Origin.SOMATIC))
                out.append(self.ids.driver(Origin.SOMATIC, gene=gene, driver=driver))
        return out

    def _fusions(self, linx: Mapping[str, Any]) -> list[StructuralVariant]:
        out = []
        for i, entry in enumerate(self._list(linx, "fusions", "linx")):
            where = f"linx.fusions[{i}]"
            phased = entry.get("phased")
            reported_type = entry.get("reportedType")
            out.append(
                StructuralVariant(
                    individual_id=self.ids.patient,
                    analysis_id=self.ids.somatic_analysis,
                    sv_type="FUSION",
                    gene_5p=self._get(entry, "geneUp", str, path=where),
                    gene_3p=self._get(entry, "geneDown", str, path=where),
                    in_frame=phased in ("INFRAME", "SKIPPED_EXONS") if phased else None,
                    reported=bool(entry.get("reported", reported_type not in (None, "", "NONE"))),
                )
            )
        return out

    def _variants(self, purple: Mapping[str, Any]) -> tuple[list[VariantSite], list[VariantCall]]:
        sites: dict[int, VariantSite] = {}
        calls: list[VariantCall] = []
        assembly = self.assembly.value
        for key, origin in (("somaticVariants", Origin.SOMATIC), ("germlineVariants", Origin.GERMLINE)):
            analysis = self.ids.somatic_analysis if origin is Origin.SOMATIC else self.ids.germline_analysis
            for i, entry in enumerate(self._list(purple, key, "purple")):
                where = f"purple.{key}[{i}]"
                chrom = normalise_chromosome(str(self._get(entry, "chromosome", str, path=where)))
                position = self._get(entry, "position", int, path=where)
                ref = self._get(entry, "ref", str, path=where).upper()
                alt = self._get(entry, "alt", str, path=where).upper()
                for name, allele in (("ref", ref), ("alt", alt)):
                    if not allele or not set(allele) <= _BASES:
                        raise FormatError(
                            f"{name} {allele!r} is not a sequence of A, C, G, T, N",
                            location=Location(self._where, field=f"{where}.{name}"),
                        )
                if position < 1 or ref == alt:
                    raise FormatError(
                        f"not a variant: position {position}, {ref}>{alt}",
                        location=Location(self._where, field=where),
                    )
                start, tref, talt = trim_alleles(position - 1, ref, alt)
                vid = variant_id(assembly, chrom, start, tref, talt)
                impact = _object(entry.get("canonicalImpact"))
                raw_effects = impact.get("effects")
                effects = raw_effects if isinstance(raw_effects, list) else []
                consequence, level = consequence_of(str(e) for e in effects)
                if vid not in sites:
                    sites[vid] = VariantSite(
                        chrom=chrom,
                        start=start,
                        end=start + len(tref),
                        ref=tref,
                        alt=talt,
                        variant_id=vid,
                        assembly=self.assembly,
                        variant_type=variant_type(tref, talt),
                        gene=entry.get("gene") or None,
                        transcript=impact.get("transcript") or None,
                        consequence=consequence,
                        impact=level,
                        hgvs_c=impact.get("hgvsCodingImpact") or None,
                        protein_change=normalise_protein_change(impact.get("hgvsProteinImpact")),
                        origin=origin,
                        allele_count=1,
                        allele_number=2,
                    )
                depth = _object(entry.get("tumorDepth"))
                total = depth.get("totalReadCount")
                supporting = depth.get("alleleReadCount")
                vaf = (
                    supporting / total
                    if isinstance(total, int) and isinstance(supporting, int) and total > 0
                    else None
                )
                calls.append(
                    VariantCall(
                        chrom=chrom,
                        start=start,
                        end=start + len(tref),
                        ref=tref,
                        alt=talt,
                        variant_id=vid,
                        individual_id=self.ids.patient,
                        analysis_id=analysis,
                        zygosity=Zygosity.UNKNOWN,
                        depth=total if isinstance(total, int) else None,
                        alt_depth=supporting if isinstance(supporting, int) else None,
                        vaf=min(vaf, 1.0) if vaf is not None else None,
                        origin=origin,
                        reported=bool(entry.get("reported")),
                        purity_adjusted_vaf=_non_negative(
                            self._get(entry, "adjustedVAF", float, path=where, required=False)
                        ),
                        variant_copy_number=self._get(
                            entry, "variantCopyNumber", float, path=where, required=False
                        ),
                    )
                )
        return list(sites.values()), calls


def _non_negative(value: float | None) -> float | None:
    # PURPLE's purity-adjusted allele fraction can dip below 0 in noise; the model keeps it >= 0.
    return None if value is None else max(0.0, value)


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
