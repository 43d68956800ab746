"""The registry of ingest adapters: what each reads, for ``genofed sources`` and the docs.

Each adapter module declares itself once, at import, with :func:`register_adapter`; importing
``genofed.ingest`` imports every adapter module, so :func:`registered_adapters` then lists them all
without this module knowing any of them. A declaration holds plain data only (no reader class), so
registering never imports anything and adapters may register from anywhere in their module.

The VCF and clinical-table adapters are declared here: their modules are shared by every other
adapter and this keeps them free of a dependency on the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AdapterInfo", "register_adapter", "registered_adapters"]


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """One ingest adapter, as ``genofed sources`` shows it.

    Attributes
    ----------
    name
        The adapter's name: its ``SourceReader.kind`` in the catalog and ``genofed ingest NAME``.
    description
        What a source of this kind is, in a few words.
    reads
        The formats, versions and layouts it reads (e.g. ``"VCF 4.1–4.3"``, ``"VEP CSQ"``).
    usage
        The command that ingests one source.
    """

    name: str
    description: str
    reads: tuple[str, ...]
    usage: str

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ValueError(
                f"adapter name must be a short identifier (as in `genofed ingest NAME`), got {self.name!r}"
            )
        if not self.reads:
            raise ValueError(f"adapter {self.name!r}: say which formats or versions it reads")


_ADAPTERS: dict[str, AdapterInfo] = {}


def register_adapter(info: AdapterInfo) -> AdapterInfo:
    """Declare an ingest adapter (call once, at the adapter module's import).

    Registering the same declaration again is a no-op (modules may be re-imported); a different
    declaration under a name already taken is an error.

    Parameters
    ----------
    info
        The adapter's declaration.

    Returns
    -------
    AdapterInfo
        ``info``, so a module may keep it as a constant.

    Raises
    ------
    ValueError
        When another adapter already registered ``info.name`` differently.
    """
    known = _ADAPTERS.get(info.name)
    if known is not None and known != info:
        raise ValueError(f"ingest adapter {info.name!r} is registered twice, with different declarations")
    _ADAPTERS[info.name] = info
    return info


def registered_adapters() -> tuple[AdapterInfo, ...]:
    """Every registered ingest adapter, by name.

    >>> import genofed.ingest  # imports (and so registers) every adapter
    >>> {"clinical", "vcf"} <= {a.name for a in registered_adapters()}
    True
    """
    return tuple(_ADAPTERS[name] for name in sorted(_ADAPTERS))


register_adapter(
    AdapterInfo(
        name="vcf",
        description="germline or somatic small-variant calls of one VCF, with its sample sheet",
        reads=(
            "VCF 4.1–4.3 (plain, gzip, BGZF)",
            "SnpEff ANN",
            "Ensembl VEP CSQ",
            "sample sheet TSV",
            "reference FASTA (optional: left-alignment, REF check)",
        ),
        usage="genofed ingest vcf FILE --store DIR",
    )
)
register_adapter(
    AdapterInfo(
        name="clinical",
        description="clinical tables (patients, diagnoses, treatments, ...) through a mapping file",
        reads=("CSV / TSV tables (plain or gzip)", "genofed mapping file v1 (YAML)"),
        usage="genofed ingest clinical TABLE... --mapping FILE --store DIR",
    )
)
