"""The tables of the common data model, each declared once as a :class:`Record`.

Conventions every table keeps:

- identifiers of people, specimens and analyses are node-local pseudonyms (the store replaces the
  source identifier by a keyed hash before writing: fields marked ``PSEUDONYMISED``);
- times are whole days relative to the individual's (first) diagnosis; real dates never leave ingest;
- genomic coordinates are 0-based half-open on a named :class:`~genofed.model.Assembly`; chromosome
  names are normalised (``1``..``22``, ``X``, ``Y``, ``MT``);
- tumour types are OncoTree codes, with ICD-10 kept beside them when the source has it.
"""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
from pydantic import Field

from ._codes import Assay, Origin, Recist, Sex, SpecimenType, VitalStatus, Zygosity
from ._genome import Assembly
from ._schema import PSEUDONYMISED, ArrowType, Record

__all__ = [
    "TABLES",
    "Analysis",
    "Biomarker",
    "CopyNumber",
    "Diagnosis",
    "Driver",
    "Individual",
    "Interpretation",
    "Phenotype",
    "Response",
    "SampleQc",
    "Specimen",
    "StructuralVariant",
    "Treatment",
    "VariantCall",
    "VariantSite",
]

Int32 = ArrowType(pa.int32())
Int8 = ArrowType(pa.int8())
Float32 = ArrowType(pa.float32())

IndividualId = Annotated[str, PSEUDONYMISED, Field(description="node-local pseudonym of the individual")]
AnalysisId = Annotated[str, PSEUDONYMISED, Field(description="node-local pseudonym of the analysis")]
Day = Annotated[int | None, Int32, Field(description="days relative to the individual's diagnosis")]
Chrom = Annotated[str, Field(description="chromosome, normalised (1..22, X, Y, MT)")]
Start = Annotated[int, Field(description="0-based start (inclusive)", ge=0)]
End = Annotated[int, Field(description="0-based end (exclusive)", ge=0)]


class Individual(Record):
    """A person in the node's cohort."""

    table = "individuals"

    individual_id: IndividualId
    sex: Annotated[Sex, Field(description="sex as recorded")] = Sex.UNKNOWN
    age_at_diagnosis: Annotated[
        float | None, Float32, Field(description="age in years at first diagnosis", ge=0, le=130)
    ] = None
    ethnicity_id: Annotated[str | None, Field(description="ethnicity as an NCIt code")] = None
    ethnicity_label: Annotated[str | None, Field(description="ethnicity as the source labels it")] = None
    geographic_origin: Annotated[str | None, Field(description="country or region of birth")] = None
    vital_status: Annotated[VitalStatus, Field(description="vital status at last follow-up")] = (
        VitalStatus.UNKNOWN
    )
    overall_survival_days: Annotated[
        int | None, Int32, Field(description="days from diagnosis to death or last follow-up", ge=0)
    ] = None


class Diagnosis(Record):
    """A diagnosis of an individual: a tumour type (OncoTree) or another disease (ICD-10)."""

    table = "diagnoses"

    individual_id: IndividualId
    tumour_type: Annotated[str | None, Field(description="OncoTree code")] = None
    icd10: Annotated[str | None, Field(description="ICD-10 code, when the source has one")] = None
    label: Annotated[str | None, Field(description="the disease as the source names it")] = None
    primary: Annotated[bool, Field(description="true for the index (first) cancer diagnosis")] = True
    stage: Annotated[str | None, Field(description="stage as recorded (e.g. IV, T3N1M1)")] = None
    metastatic: Annotated[bool | None, Field(description="metastatic at sampling")] = None
    day: Day = None
    disease_id: Annotated[
        str | None, Field(description="the disease as an ontology CURIE (OMIM:, MONDO:, ORPHA:, NCIT:)")
    ] = None
    onset: Annotated[str | None, Field(description="onset as given (ISO 8601 age, or term)")] = None


class Specimen(Record):
    """A biological sample taken from an individual."""

    table = "specimens"

    specimen_id: Annotated[str, PSEUDONYMISED, Field(description="node-local pseudonym of the specimen")]
    individual_id: IndividualId
    specimen_type: Annotated[SpecimenType, Field(description="tumour, normal or germline")]
    tissue: Annotated[str | None, Field(description="sampled tissue or biopsy site")] = None
    tumour_type: Annotated[str | None, Field(description="OncoTree code of a tumour specimen")] = None
    collection_day: Day = None


class Analysis(Record):
    """One sequencing analysis: what was sequenced, how, and against which reference."""

    table = "analyses"

    analysis_id: AnalysisId
    individual_id: IndividualId
    specimen_id: Annotated[
        str | None, PSEUDONYMISED, Field(description="pseudonym of the (tumour) specimen")
    ] = None
    normal_specimen_id: Annotated[
        str | None, PSEUDONYMISED, Field(description="pseudonym of the matched normal specimen")
    ] = None
    assay: Annotated[Assay, Field(description="WGS, WES, PANEL or RNA")] = Assay.WGS
    pipeline: Annotated[str | None, Field(description="pipeline name (e.g. hmftools, BALSAMIC)")] = None
    pipeline_version: Annotated[str | None, Field(description="pipeline version")] = None
    reference_assembly: Annotated[Assembly, Field(description="reference assembly")] = Assembly.GRCH38
    origin: Annotated[Origin, Field(description="germline or somatic calls")] = Origin.GERMLINE
    mean_coverage: Annotated[float | None, Float32, Field(description="mean sequencing depth", ge=0)] = None
    contamination: Annotated[
        float | None, Float32, Field(description="estimated contamination", ge=0, le=1)
    ] = None
    qc_status: Annotated[str | None, Field(description="pipeline QC verdict (e.g. PASS, FAIL_PURITY)")] = None
    source: Annotated[str | None, Field(description="file the analysis was read from (base name)")] = None


class VariantSite(Record):
    """One alternate allele at one site, with its annotation and allele counts in one ingest batch.

    AC/AN are per batch; the store sums them over batches. AN counts called alleles, so samples with
    a missing genotype lower AN rather than counting as reference.
    """

    table = "variant_sites"
    partition_by = ("chrom",)
    sort_by = ("start", "ref", "alt")

    chrom: Chrom
    start: Start
    end: End
    ref: Annotated[str, Field(description="reference allele (trimmed)")]
    alt: Annotated[str, Field(description="alternate allele (trimmed)")]
    variant_id: Annotated[int, Field(description="node-internal 64-bit key of the allele")]
    assembly: Annotated[Assembly, Field(description="reference assembly")]
    vrs_id: Annotated[str | None, Field(description="GA4GH VRS computed identifier, when computable")] = None
    variant_type: Annotated[str, Field(description="SNV, MNV, INS, DEL or DELINS")] = "SNV"
    gene: Annotated[str | None, Field(description="HGNC symbol of the most severe annotation")] = None
    transcript: Annotated[str | None, Field(description="transcript of that annotation")] = None
    consequence: Annotated[str | None, Field(description="most severe SO consequence term")] = None
    impact: Annotated[str | None, Field(description="HIGH, MODERATE, LOW or MODIFIER")] = None
    hgvs_c: Annotated[str | None, Field(description="HGVS c. change")] = None
    protein_change: Annotated[str | None, Field(description="HGVS p. change, one-letter short form")] = None
    origin: Annotated[Origin, Field(description="germline or somatic")] = Origin.GERMLINE
    allele_count: Annotated[int, Int32, Field(description="AC: called copies of this allele", ge=0)] = 0
    allele_number: Annotated[int, Int32, Field(description="AN: called alleles at the site", ge=0)] = 0
    homozygous_count: Annotated[int, Int32, Field(description="samples homozygous for this allele", ge=0)] = 0


class VariantCall(Record):
    """One non-reference call of one analysis (sparse: reference calls are not stored)."""

    table = "variant_calls"
    partition_by = ("chrom",)
    sort_by = ("start", "ref", "alt")

    chrom: Chrom
    start: Start
    end: End
    ref: Annotated[str, Field(description="reference allele (trimmed)")]
    alt: Annotated[str, Field(description="alternate allele (trimmed)")]
    variant_id: Annotated[int, Field(description="node-internal 64-bit key of the allele")]
    individual_id: IndividualId
    analysis_id: AnalysisId
    genotype: Annotated[str | None, Field(description="genotype relative to this allele (0/1, 1|1, 1)")] = (
        None
    )
    zygosity: Annotated[Zygosity, Field(description="het, hom, hemi or unknown")] = Zygosity.UNKNOWN
    alt_copies: Annotated[int, Int8, Field(description="copies of this allele in the genotype", ge=0)] = 1
    depth: Annotated[int | None, Int32, Field(description="read depth", ge=0)] = None
    alt_depth: Annotated[int | None, Int32, Field(description="reads supporting the allele", ge=0)] = None
    vaf: Annotated[float | None, Float32, Field(description="variant allele fraction", ge=0, le=1)] = None
    filter_pass: Annotated[bool, Field(description="FILTER was PASS or missing")] = True
    origin: Annotated[Origin, Field(description="germline or somatic")] = Origin.GERMLINE
    reported: Annotated[bool, Field(description="reported as a driver by the pipeline (PURPLE REPORTED)")] = (
        False
    )
    purity_adjusted_vaf: Annotated[
        float | None, Float32, Field(description="allele fraction adjusted for purity (PURPLE_AF)", ge=0)
    ] = None
    variant_copy_number: Annotated[
        float | None, Float32, Field(description="copies of the allele in the tumour (PURPLE_VCN)")
    ] = None


class CopyNumber(Record):
    """A copy-number segment or gene-level copy-number event."""

    table = "copy_numbers"
    partition_by = ("chrom",)
    sort_by = ("start",)

    chrom: Chrom
    start: Start
    end: End
    individual_id: IndividualId
    analysis_id: AnalysisId
    gene: Annotated[str | None, Field(description="gene, for gene-level events")] = None
    copy_number: Annotated[float | None, Float32, Field(description="absolute copy number", ge=0)] = None
    minor_allele_copy_number: Annotated[
        float | None, Float32, Field(description="minor allele copy number")
    ] = None
    event: Annotated[str | None, Field(description="AMP, DEL (homozygous), LOSS, GAIN or LOH")] = None
    reported: Annotated[bool, Field(description="reported as a driver by the pipeline")] = False
    origin: Annotated[Origin, Field(description="somatic (tumour) or germline event")] = Origin.SOMATIC


class StructuralVariant(Record):
    """A structural variant or a fusion of two genes."""

    table = "structural_variants"

    individual_id: IndividualId
    analysis_id: AnalysisId
    sv_type: Annotated[str, Field(description="DEL, DUP, INV, INS, BND or FUSION")]
    chrom: Annotated[str | None, Field(description="chromosome of the first breakend")] = None
    start: Annotated[int | None, Field(description="0-based position of the first breakend", ge=0)] = None
    chrom2: Annotated[str | None, Field(description="chromosome of the second breakend")] = None
    end: Annotated[int | None, Field(description="0-based position of the second breakend", ge=0)] = None
    gene_5p: Annotated[str | None, Field(description="5' partner gene of a fusion")] = None
    gene_3p: Annotated[str | None, Field(description="3' partner gene of a fusion")] = None
    in_frame: Annotated[bool | None, Field(description="fusion keeps the reading frame")] = None
    reported: Annotated[bool, Field(description="reported as a driver by the pipeline")] = False


class Biomarker(Record):
    """A genome-wide biomarker of an analysis: TMB, TML, MSI, HRD, purity, ploidy."""

    table = "biomarkers"

    individual_id: IndividualId
    analysis_id: AnalysisId
    name: Annotated[str, Field(description="TMB, TML, MSI, HRD, PURITY or PLOIDY")]
    value: Annotated[float | None, Field(description="numeric value")] = None
    status: Annotated[str | None, Field(description="categorical call (e.g. MSI_HIGH, HR_DEFICIENT)")] = None
    unit: Annotated[str | None, Field(description="unit of value (e.g. mutations/Mb)")] = None
    method: Annotated[
        str | None, Field(description="tool that estimated it (e.g. PURPLE, PureCN, ASCAT, MSIsensor-pro)")
    ] = None


class Treatment(Record):
    """A systemic treatment of an individual."""

    table = "treatments"

    individual_id: IndividualId
    drug: Annotated[str, Field(description="drug or regimen name")]
    atc_code: Annotated[str | None, Field(description="WHO ATC code, when known")] = None
    line: Annotated[int | None, Int32, Field(description="line of therapy (1 = first)", ge=1)] = None
    start_day: Day = None
    end_day: Day = None


class Response(Record):
    """A RECIST response assessment of a treatment."""

    table = "responses"

    individual_id: IndividualId
    recist: Annotated[Recist, Field(description="RECIST 1.1 response")]
    line: Annotated[int | None, Int32, Field(description="line of therapy assessed", ge=1)] = None
    day: Day = None


class Phenotype(Record):
    """A phenotypic feature (HPO term), observed or explicitly excluded."""

    table = "phenotypes"

    individual_id: IndividualId
    hpo_id: Annotated[str, Field(description="HPO term (HP:0000000)", pattern=r"^HP:\d{7}$")]
    label: Annotated[str | None, Field(description="HPO term label")] = None
    excluded: Annotated[bool, Field(description="the feature was looked for and is absent")] = False
    onset_day: Day = None
    onset: Annotated[str | None, Field(description="onset as given (ISO 8601 age, or term)")] = None


class Interpretation(Record):
    """A reported genomic interpretation of a case (Phenopackets): a variant or gene, its
    classification and the disease it explains. Variants with coordinates are also stored as
    ``variant_sites``/``variant_calls`` (joined by ``variant_id``); this row keeps what those tables
    cannot: the source's HGVS, the ACMG class, and a record that could not be placed on the genome.
    """

    table = "interpretations"

    individual_id: IndividualId
    interpretation_id: Annotated[
        str, PSEUDONYMISED, Field(description="pseudonym of the interpretation (groups its variants)")
    ]
    specimen_id: Annotated[
        str | None, PSEUDONYMISED, Field(description="pseudonym of the specimen called (None: the person)")
    ] = None
    progress_status: Annotated[str | None, Field(description="SOLVED, UNSOLVED, IN_PROGRESS, ...")] = None
    disease_id: Annotated[str | None, Field(description="the diagnosed disease as an ontology CURIE")] = None
    disease_label: Annotated[str | None, Field(description="its label")] = None
    status: Annotated[str | None, Field(description="CAUSATIVE, CONTRIBUTORY, CANDIDATE, ...")] = None
    acmg_class: Annotated[str | None, Field(description="ACMG class (PATHOGENIC, ..., BENIGN)")] = None
    actionability: Annotated[str | None, Field(description="therapeutic actionability")] = None
    descriptor_id: Annotated[str | None, Field(description="the source's id of the variant")] = None
    gene: Annotated[str | None, Field(description="HGNC symbol")] = None
    gene_id: Annotated[str | None, Field(description="gene CURIE (HGNC:...)")] = None
    hgvs_c: Annotated[str | None, Field(description="HGVS c. expression, with its transcript")] = None
    hgvs_g: Annotated[str | None, Field(description="HGVS g. expression, with its RefSeq chromosome")] = None
    hgvs_p: Annotated[str | None, Field(description="HGVS p. expression, as given")] = None
    # A plain string, not the Assembly enum: conform() rejects nulls in enum columns, and a variant
    # given only as c. HGVS has no assembly.
    assembly: Annotated[str | None, Field(description="assembly of the coordinates (GRCh37, GRCh38)")] = None
    chrom: Annotated[str | None, Field(description="chromosome, normalised")] = None
    start: Annotated[int | None, Field(description="0-based start of ref (VCF anchor kept)", ge=0)] = None
    end: Annotated[int | None, Field(description="0-based end (exclusive) of ref", ge=0)] = None
    ref: Annotated[str | None, Field(description="reference allele as given (None: unknown)")] = None
    alt: Annotated[str | None, Field(description="alternate allele as given (None: unknown)")] = None
    coordinates_from: Annotated[
        str | None, Field(description="vcfRecord or hgvs.g: where the coordinates were read")
    ] = None
    variant_id: Annotated[
        int | None, Field(description="key of the trimmed allele in variant_sites (None: not placed)")
    ] = None
    zygosity: Annotated[Zygosity, Field(description="het, hom, hemi or unknown")] = Zygosity.UNKNOWN
    allelic_state_id: Annotated[str | None, Field(description="allelic state as a GENO CURIE")] = None
    allelic_state_label: Annotated[str | None, Field(description="its label")] = None
    molecule_context: Annotated[str | None, Field(description="genomic, transcript or protein")] = None


class Driver(Record):
    """An entry of a pipeline's driver catalog: a gene judged to carry a driver event in one analysis.

    Gene-level, as the catalogs are (Hartwig PURPLE/LINX ``driver.catalog.tsv``, ORANGE drivers): the
    events themselves are in ``variant_calls`` (flagged ``reported``), ``copy_numbers`` and
    ``structural_variants`` when the source gives their coordinates.
    """

    table = "drivers"

    individual_id: IndividualId
    analysis_id: AnalysisId
    gene: Annotated[str, Field(description="HGNC symbol")]
    driver: Annotated[
        str, Field(description="event type as the catalog names it (MUTATION, AMP, PARTIAL_AMP, DEL, ...)")
    ]
    origin: Annotated[Origin, Field(description="somatic or germline driver")] = Origin.SOMATIC
    category: Annotated[str | None, Field(description="ONCO (oncogene) or TSG (tumour suppressor)")] = None
    likelihood_method: Annotated[
        str | None, Field(description="how the likelihood was set (HOTSPOT, DNDS, BIALLELIC, DEL, AMP, ...)")
    ] = None
    driver_likelihood: Annotated[
        float | None, Field(description="likelihood that the event is a driver", ge=0, le=1)
    ] = None
    biallelic: Annotated[bool | None, Field(description="both alleles of the gene are affected")] = None
    chrom: Annotated[str | None, Field(description="chromosome of the gene, normalised")] = None
    chromosome_band: Annotated[str | None, Field(description="cytogenetic band (e.g. q34)")] = None
    transcript: Annotated[str | None, Field(description="transcript the entry is for")] = None
    canonical: Annotated[bool | None, Field(description="the transcript is the gene's canonical one")] = None
    min_copy_number: Annotated[float | None, Field(description="minimum copy number over the gene")] = None
    max_copy_number: Annotated[float | None, Field(description="maximum copy number over the gene")] = None


class SampleQc(Record):
    """The node's QC verdict on one analysis under its sample-QC policy (``genofed qa flag``).

    Written as one batch that replaces the previous verdicts. Analyses that fail are left out of every
    analysis the node answers -- and people whose every analysis fails, with all their records -- unless
    a study asks for them (``include_failed_qc``).
    """

    table = "sample_qc"

    individual_id: IndividualId
    analysis_id: AnalysisId
    passed: Annotated[bool, Field(description="the analysis meets every threshold of the policy")]
    reasons: Annotated[str | None, Field(description="the thresholds it misses, '; '-separated")] = None
    policy: Annotated[str, Field(description="the thresholds applied, as text")] = ""


TABLES: dict[str, type[Record]] = {
    record.table: record
    for record in (
        Individual,
        Diagnosis,
        Specimen,
        Analysis,
        VariantSite,
        VariantCall,
        CopyNumber,
        StructuralVariant,
        Biomarker,
        Treatment,
        Response,
        Phenotype,
        Interpretation,
        Driver,
        SampleQc,
    )
}
