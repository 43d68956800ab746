"""Gene panels emulated on whole genomes: what a panel would have detected of a patient's findings.

A :class:`Panel` is a gene set plus what the assay declares beyond small variants: fusion coverage
(and for which genes), TMB, MSI, HRD and germline calling, and its size in megabases. The benefit
analysis asks :meth:`Panel.detects` of each WGS finding; the rules, one per finding class:

========================  ==================================================================
finding                   a panel detects it when
========================  ==================================================================
small variant, CNA        the gene is a panel gene (somatic); germline ones also need the
                          panel to declare germline calling
fusion                    the panel declares fusion coverage and a partner is one of its
                          fusion genes (default: any panel gene)
TMB-high, MSI-high        the panel declares it and covers at least 1 Mb (the size below
                          which TMB and MSI estimates are not reliable: Chalmers et al.,
                          Genome Med 2017; Buchhalter et al., Int J Cancer 2019)
HRD                       the panel declares it (a genomic-scar score needs genome-wide SNPs)
========================  ==================================================================

Panels come from the package (``hotspot50``, ``gms560``: ``data/panels/*.yaml``, built as
``data/README.md`` says), a YAML file of the same shape, a gene list (one symbol per line, ``#``
comments) or a BED file whose fourth column names the gene (``BRAF`` or ``BRAF_exon15``-style
names; the size is the merged length of the intervals). :func:`load_panel` picks by name or suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from genofed.errors import ConfigError, FormatError, Location

from ._types import Finding, FindingKind

__all__ = ["MIN_SIGNATURE_MB", "PACKAGED_PANELS", "Panel", "load_panel"]

#: smallest panel territory (Mb) on which TMB and MSI are called
MIN_SIGNATURE_MB = 1.0
#: names of the panels shipped with genofed
PACKAGED_PANELS = ("gms560", "hotspot50")
_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
_FLAGS = ("fusions", "tmb", "msi", "hrd", "germline")


@dataclass(frozen=True, slots=True)
class Panel:
    """A targeted panel: its genes and what else it declares it detects (module doc for the rules)."""

    name: str
    genes: frozenset[str]
    size_mb: float | None = None
    fusions: bool = False
    fusion_genes: frozenset[str] | None = None  # None: any panel gene, when ``fusions``
    tmb: bool = False
    msi: bool = False
    hrd: bool = False
    germline: bool = False
    title: str | None = None
    source: str | None = None

    @classmethod
    def from_genes(
        cls, name: str, genes: list[str] | tuple[str, ...] | frozenset[str], **declared: Any
    ) -> Panel:
        """A panel from gene symbols; keyword arguments are the other fields (``tmb=True``...)."""
        bad = sorted(g for g in genes if not _SYMBOL.match(g))
        if bad:
            raise ConfigError(f"panel {name!r}: {bad[:5]} are not gene symbols")
        if not genes:
            raise ConfigError(f"panel {name!r} has no genes")
        return cls(name=name, genes=frozenset(genes), **declared)

    @classmethod
    def packaged(cls, name: str) -> Panel:
        """One of the panels shipped with genofed: ``hotspot50`` or ``gms560``."""
        if name not in PACKAGED_PANELS:
            raise ConfigError(
                f"no packaged panel {name!r}; choose one of {', '.join(PACKAGED_PANELS)} or give a file"
            )
        resource = resources.files("genofed.cds").joinpath("data").joinpath("panels").joinpath(f"{name}.yaml")
        return _from_yaml(resource.read_text(encoding="utf-8"), f"{name}.yaml (packaged)")

    @classmethod
    def from_file(cls, path: str | Path, *, name: str | None = None, **declared: Any) -> Panel:
        """A panel from a YAML panel file, a BED file or a gene list (by suffix: .yaml/.yml, .bed, other)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise FormatError(
                f"cannot read the panel file: {exc.strerror}", location=Location(str(file))
            ) from exc
        suffixes = [s.lower() for s in file.suffixes]
        if suffixes and suffixes[-1] in (".yaml", ".yml"):
            return _from_yaml(text, str(file))
        label = name or file.name.split(".")[0]
        if ".bed" in suffixes:
            genes, size = _read_bed(text, file)
            declared.setdefault("size_mb", size)
            return cls.from_genes(label, sorted(genes), **declared)
        return cls.from_genes(label, sorted(_read_gene_list(text, file)), **declared)

    def covers(self, gene: str | None) -> bool:
        """Whether ``gene`` is a panel gene."""
        return gene is not None and gene in self.genes

    def detects(self, finding: Finding) -> bool:
        """Whether the panel would have detected ``finding`` (module doc for the rules)."""
        return self.why(finding)[0]

    def why(self, finding: Finding) -> tuple[bool, str]:
        """:meth:`detects` with the rule that decided, for reports and tests."""
        kind = finding.kind
        if kind is FindingKind.SIGNATURE:
            signature = (finding.signature or "").upper()
            if signature == "HRD":
                return (True, "HRD declared") if self.hrd else (False, "HRD needs WGS (not declared)")
            flag = {"TMB_HIGH": self.tmb, "MSI_HIGH": self.msi}.get(signature)
            if flag is None:
                return False, f"unknown signature {finding.signature!r}"
            if not flag:
                return False, f"{signature} not declared by the panel"
            if self.size_mb is None or self.size_mb < MIN_SIGNATURE_MB:
                return False, f"{signature} needs at least {MIN_SIGNATURE_MB:g} Mb (panel: {self.size_mb} Mb)"
            return True, f"{signature} declared on {self.size_mb:g} Mb"
        if finding.germline and not self.germline:
            return False, "germline calling not declared by the panel"
        if kind is FindingKind.FUSION:
            if not self.fusions:
                return False, "fusion coverage not declared by the panel"
            targets = self.fusion_genes if self.fusion_genes is not None else self.genes
            partners = [g for g in (finding.gene, finding.partner_gene) if g in targets]
            if partners:
                return True, f"fusion partner {partners[0]} is a fusion gene of the panel"
            return False, "neither fusion partner is a fusion gene of the panel"
        if self.covers(finding.gene):
            return True, f"{finding.gene} is a panel gene"
        return False, f"{finding.gene} is not a panel gene"


def load_panel(spec: str | Path) -> Panel:
    """A packaged panel by name (``hotspot50``, ``gms560``) or a panel file (:meth:`Panel.from_file`)."""
    text = str(spec)
    if text in PACKAGED_PANELS:
        return Panel.packaged(text)
    path = Path(spec)
    if not path.exists():
        raise ConfigError(
            f"panel {text!r} is neither a packaged panel ({', '.join(PACKAGED_PANELS)}) nor an existing file"
        )
    return Panel.from_file(path)


def _from_yaml(text: str, where: str) -> Panel:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError(
            f"not valid YAML: {exc}", location=Location(where, mark.line + 1 if mark else None)
        ) from exc
    if not isinstance(data, dict):
        raise FormatError("a panel file is a mapping with name and genes", location=Location(where))
    unknown = sorted(set(data) - {"name", "title", "source", "size_mb", "genes", "fusion_genes", *_FLAGS})
    if unknown:
        raise FormatError(f"unknown panel keys {unknown}", location=Location(where, field=unknown[0]))
    genes = data.get("genes")
    if not isinstance(genes, list) or not all(isinstance(g, str) for g in genes):
        raise FormatError("genes must be a list of gene symbols", location=Location(where, field="genes"))
    for flag in _FLAGS:
        if not isinstance(data.get(flag, False), bool):
            raise FormatError(f"{flag} must be true or false", location=Location(where, field=flag))
    size = data.get("size_mb")
    if size is not None and (not isinstance(size, int | float) or isinstance(size, bool) or size <= 0):
        raise FormatError("size_mb must be a positive number", location=Location(where, field="size_mb"))
    fusion_genes = data.get("fusion_genes")
    if fusion_genes is not None and not (
        isinstance(fusion_genes, list) and all(isinstance(g, str) for g in fusion_genes)
    ):
        raise FormatError("fusion_genes must be a list", location=Location(where, field="fusion_genes"))
    try:
        return Panel.from_genes(
            str(data.get("name") or Path(where).name.split(".")[0]),
            genes,
            size_mb=float(size) if size is not None else None,
            fusion_genes=frozenset(fusion_genes) if fusion_genes is not None else None,
            title=data.get("title"),
            source=data.get("source"),
            **{flag: bool(data.get(flag, False)) for flag in _FLAGS},
        )
    except ConfigError as exc:
        raise FormatError(str(exc), location=Location(where, field="genes")) from exc


def _read_gene_list(text: str, path: Path) -> set[str]:
    genes: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        symbol = line.split()[0].split(",")[0]
        if not _SYMBOL.match(symbol):
            raise FormatError(
                f"{symbol!r} is not a gene symbol (expected one HGNC symbol per line)",
                location=Location(str(path), number),
            )
        genes.add(symbol)
    if not genes:
        raise FormatError("the gene list names no genes", location=Location(str(path)))
    return genes


def _read_bed(text: str, path: Path) -> tuple[set[str], float]:
    """Gene names (4th column, up to the first ``_``/``:``) and the merged territory in Mb."""
    genes: set[str] = set()
    intervals: dict[str, list[tuple[int, int]]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith(("#", "track", "browser")):
            continue
        fields = raw.split("\t")
        if len(fields) < 4:
            raise FormatError(
                "a panel BED needs 4 columns (chrom, start, end, gene name)",
                location=Location(str(path), number, "name" if len(fields) == 3 else None),
            )
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise FormatError(
                f"start/end {fields[1]!r}-{fields[2]!r} are not integers",
                location=Location(str(path), number, "start"),
            ) from None
        if start < 0 or end <= start:
            raise FormatError(
                f"interval {start}-{end} is empty or negative (BED is 0-based half-open)",
                location=Location(str(path), number, "end"),
            )
        symbol = re.split(r"[_:;,|]", fields[3].strip(), maxsplit=1)[0]
        if not _SYMBOL.match(symbol):
            raise FormatError(
                f"name {fields[3]!r} does not start with a gene symbol",
                location=Location(str(path), number, "name"),
            )
        genes.add(symbol)
        intervals.setdefault(fields[0], []).append((start, end))
    if not genes:
        raise FormatError("the BED file has no intervals", location=Location(str(path)))
    covered = 0
    for spans in intervals.values():
        spans.sort()
        current_start, current_end = spans[0]
        for start, end in spans[1:]:
            if start > current_end:
                covered += current_end - current_start
                current_start, current_end = start, end
            else:
                current_end = max(current_end, end)
        covered += current_end - current_start
    return genes, covered / 1e6
