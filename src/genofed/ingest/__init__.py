"""Source adapters: VCF, clinical tables (more formats as their adapters land) → the common data model."""

from ._source import Chunk, SourceReader

__all__ = ["Chunk", "SourceReader"]
