"""Source adapters: VCF, clinical tables (more formats as their adapters land) → the common data model."""

from ._annotation import Annotation, AnnotationParser, AnnotationStyle
from ._clinical import (
    ClinicalReader,
    ColumnReport,
    FileReport,
    MappingReport,
    ReportRow,
    ValueCount,
    ValueStatus,
)
from ._mapping import (
    MAPPED_TABLES,
    ClinicalMapping,
    DateColumn,
    FieldMapping,
    FieldType,
    FileMapping,
    GroupMapping,
    ReferenceDate,
    SurvivalMapping,
    TimeUnit,
    load_mapping,
    packaged_mapping,
    packaged_mappings,
)
from ._normalise import FastaReference, is_symbolic, left_align, trim_alleles, variant_type
from ._samples import SampleEntry, SampleSheet
from ._source import Chunk, SourceReader
from ._vcf import VcfReader, VcfSummary

__all__ = [
    "MAPPED_TABLES",
    "Annotation",
    "AnnotationParser",
    "AnnotationStyle",
    "Chunk",
    "ClinicalMapping",
    "ClinicalReader",
    "ColumnReport",
    "DateColumn",
    "FastaReference",
    "FieldMapping",
    "FieldType",
    "FileMapping",
    "FileReport",
    "GroupMapping",
    "MappingReport",
    "ReferenceDate",
    "ReportRow",
    "SampleEntry",
    "SampleSheet",
    "SourceReader",
    "SurvivalMapping",
    "TimeUnit",
    "ValueCount",
    "ValueStatus",
    "VcfReader",
    "VcfSummary",
    "is_symbolic",
    "left_align",
    "load_mapping",
    "packaged_mapping",
    "packaged_mappings",
    "trim_alleles",
    "variant_type",
]
