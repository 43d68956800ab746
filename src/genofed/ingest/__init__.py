"""Source adapters: VCF, clinical tables (more formats as their adapters land) → the common data model."""

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
from ._source import Chunk, SourceReader

__all__ = [
    "MAPPED_TABLES",
    "Chunk",
    "ClinicalMapping",
    "ClinicalReader",
    "ColumnReport",
    "DateColumn",
    "FieldMapping",
    "FieldType",
    "FileMapping",
    "FileReport",
    "GroupMapping",
    "MappingReport",
    "ReferenceDate",
    "ReportRow",
    "SourceReader",
    "SurvivalMapping",
    "TimeUnit",
    "ValueCount",
    "ValueStatus",
    "load_mapping",
    "packaged_mapping",
    "packaged_mappings",
]
