"""The Scout case load config (YAML) read as a GMS case's sample sheet.

Scout is the variant browser of the Swedish clinical-genomics centres; a pipeline hands it a case
as a *load config*. genofed reads the keys it needs and ignores the rest:

==========================  ==================================================================
key                         meaning for genofed
==========================  ==================================================================
``family``                  the case ID; a Scout cancer case is one patient, so this is the
                            individual's source ID (required)
``family_name``             the case's display name (kept for messages)
``samples``                 one entry per sequenced sample (required, at least one):
  ``sample_id``             the sample's source ID: specimen ID and VCF column (required)
  ``sample_name``           another name the VCF column may carry
  ``phenotype``             ``affected`` = tumour, ``unaffected`` = normal (required)
  ``analysis_type``         ``wgs`` → WGS, ``wes`` → WES, ``panel``/``panel-umi`` → PANEL,
                            ``wts`` → RNA; ``mixed``/``external``/``unknown`` leave it open
  ``tumor_type``            free text or an OncoTree code; mapped to OncoTree when it is a code
                            or exactly an OncoTree name (``Chordoma`` → ``CHDM``)
  ``tissue_type``           the sampled tissue → ``specimens.tissue``
  ``tumor_purity``          a number or fraction (``3/4``) from 0 to 1 → biomarker PURITY
  ``tmb``, ``msi``, ``hrd`` numbers → biomarkers TMB (mutations/Mb), MSI (score), HRD (score)
``vcf_cancer``              the somatic SNV/indel VCF (``vcf_snv`` when absent); relative
                            paths are resolved against the config's folder
``human_genome_build``      ``37`` or ``38`` (``genome_build`` also accepted)
``track``                   must be ``cancer`` when given
==========================  ==================================================================

Errors name the config file, the YAML line and the key path (``samples[0].tumor_purity``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from genofed.errors import CodeError, FormatError, Location
from genofed.model import Assay, Assembly, SpecimenType, normalise_assembly, oncotree

__all__ = ["ScoutLoadConfig", "ScoutSample", "oncotree_code", "read_load_config"]

#: Scout ``analysis_type`` → assay (None: the value leaves the assay to other evidence).
ANALYSIS_TYPES: dict[str, Assay | None] = {
    "wgs": Assay.WGS,
    "wes": Assay.WES,
    "panel": Assay.PANEL,
    "panel-umi": Assay.PANEL,
    "wts": Assay.RNA,
    "mixed": None,
    "external": None,
    "unknown": None,
}
_PHENOTYPES = {"affected": SpecimenType.TUMOUR, "unaffected": SpecimenType.NORMAL}
_VCF_KEYS = ("vcf_cancer", "vcf_snv")


@dataclass(frozen=True, slots=True)
class ScoutSample:
    """One ``samples:`` entry of a load config."""

    sample_id: str
    sample_name: str | None
    specimen_type: SpecimenType
    #: assay from ``analysis_type`` (None when absent or not decisive)
    assay: Assay | None
    analysis_type: str | None
    #: OncoTree code of ``tumor_type``, when it maps
    tumour_type: str | None
    #: ``tumor_type`` as written
    tumour_type_label: str | None
    purity: float | None
    tmb: float | None
    msi: float | None
    hrd: float | None
    sex: str | None
    #: ``tissue_type``: the sampled tissue
    tissue: str | None
    #: position in ``samples`` (0-based) and YAML line, for messages
    index: int
    line: int | None

    @property
    def field(self) -> str:
        """The key path of this entry (``samples[0]``)."""
        return f"samples[{self.index}]"


@dataclass(frozen=True, slots=True)
class ScoutLoadConfig:
    """What genofed reads from a Scout load config (see the module docstring)."""

    path: Path
    case_id: str
    display_name: str | None
    samples: tuple[ScoutSample, ...]
    #: the VCF the config names, resolved against the config's folder (it may not exist)
    vcf: Path | None
    #: the key that named it (``vcf_cancer`` or ``vcf_snv``) and its line
    vcf_key: str | None
    vcf_line: int | None
    assembly: Assembly | None
    owner: str | None
    analysis_date: str | None

    def location(self, field: str | None = None, line: int | None = None) -> Location:
        """A location in this config, for errors."""
        return Location(path=str(self.path), line=line, field=field)


def oncotree_code(text: str) -> str | None:
    """The OncoTree code of an OncoTree code or exact OncoTree name (any case); else None.

    >>> oncotree_code("Chordoma"), oncotree_code("luad"), oncotree_code("bone thing")
    ('CHDM', 'LUAD', None)
    """
    tree = oncotree()
    needle = text.strip()
    if needle.upper() in tree:
        return tree.get(needle.upper()).code
    lowered = needle.lower()
    return next((t.code for t in tree.search(needle) if t.name.lower() == lowered), None)


# -- YAML with line numbers ----------------------------------------------------------------------------
def _compose(text: str, where: str) -> tuple[yaml.Node | None, Any]:
    """The YAML document as a node tree (for line numbers) and as Python data."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise FormatError(f"not valid YAML: {problem}", location=Location(where, line)) from exc
    finally:
        loader.dispose()
    return node, data


def _line(node: yaml.Node | None, *path: str | int) -> int | None:
    """1-based line of the value at ``path`` (keys and list indexes), or of the nearest parent."""
    current = node
    for step in path:
        found: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode) and isinstance(step, str):
            found = next((v for k, v in current.value if getattr(k, "value", None) == step), None)
        elif isinstance(current, yaml.SequenceNode) and isinstance(step, int) and step < len(current.value):
            found = current.value[step]
        if found is None:
            break
        current = found
    return current.start_mark.line + 1 if current is not None else None


class _Reader:
    """Field access with errors naming the config, the line and the key path."""

    def __init__(self, path: Path, node: yaml.Node | None) -> None:
        self.where = str(path)
        self.node = node

    def error(self, message: str, *path: str | int) -> FormatError:
        return FormatError(message, location=Location(self.where, _line(self.node, *path), _key(path)))

    def text(self, value: object, *path: str | int, required: bool = False) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.error(f"{_key(path)} is required", *path)
            return None
        if isinstance(value, (dict, list)):
            raise self.error(f"{_key(path)} must be a single value, not a {type(value).__name__}", *path)
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        return str(value).strip()

    def number(
        self, value: object, *path: str | int, low: float | None = None, high: float | None = None
    ) -> float | None:
        text = self.text(value, *path)
        if text is None:
            return None
        try:
            # Scout accepts fractions (``3/4``) for purities; Fraction reads decimals too.
            number = float(Fraction(text))
        except (ValueError, ZeroDivisionError):
            raise self.error(f"{_key(path)} is {text!r}; expected a number", *path) from None
        if (low is not None and number < low) or (high is not None and number > high):
            span = (
                f"from {low:g} to {high:g}" if low is not None and high is not None else f"at least {low:g}"
            )
            raise self.error(f"{_key(path)} is {text}; expected a number {span}", *path)
        return number


def _key(path: tuple[str | int, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


# -- the config -------------------------------------------------------------------------------------------
def read_load_config(path: str | Path) -> ScoutLoadConfig:
    """Read a Scout case load config (YAML).

    Parameters
    ----------
    path
        The ``*.load_config.yaml`` file.

    Returns
    -------
    ScoutLoadConfig
        The case, its samples and the VCF it names (not checked to exist here).

    Raises
    ------
    FormatError
        The file is missing or not YAML, a required key is missing, a value is of the wrong kind,
        a purity is outside 0–1, the track is not ``cancer``, or two samples share an ID.
    CodeError
        ``analysis_type``, ``phenotype`` or the genome build is not a known value.
    """
    file = Path(path)
    where = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError("load config not found", location=Location(path=where)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read the load config: {exc}", location=Location(path=where)) from exc
    node, data = _compose(text, where)
    reader = _Reader(file, node)
    if not isinstance(data, dict):
        raise FormatError(
            "a load config is a YAML mapping (family:, samples:, vcf_cancer:, ...)",
            location=Location(where, 1),
        )
    case_id = reader.text(data.get("family"), "family", required=True)
    assert case_id is not None
    track = reader.text(data.get("track"), "track")
    if track is not None and track != "cancer":
        raise reader.error(
            f"track is {track!r}; the GMS adapter reads cancer cases (track: cancer). "
            "Ingest a rare-disease case's VCF with `genofed ingest vcf`",
            "track",
        )
    raw_samples = data.get("samples")
    if not isinstance(raw_samples, list) or not raw_samples:
        raise reader.error("samples is required: a list of the case's sequenced samples", "samples")
    samples = tuple(_sample(reader, raw, i) for i, raw in enumerate(raw_samples))
    seen: dict[str, ScoutSample] = {}
    for sample in samples:
        first = seen.setdefault(sample.sample_id, sample)
        if first is not sample:
            raise reader.error(
                f"sample_id {sample.sample_id!r} is also {first.field}'s",
                "samples",
                sample.index,
                "sample_id",
            )
    vcf: Path | None = None
    vcf_key = next((k for k in _VCF_KEYS if reader.text(data.get(k), k) is not None), None)
    if vcf_key is not None:
        named = Path(str(reader.text(data[vcf_key], vcf_key)))
        vcf = named if named.is_absolute() else file.parent / named
    build = reader.text(data.get("human_genome_build", data.get("genome_build")), "human_genome_build")
    assembly: Assembly | None = None
    if build is not None:
        try:
            assembly = normalise_assembly(build)
        except ValueError as exc:
            raise CodeError(
                str(exc), location=Location(where, _line(node, "human_genome_build"), "human_genome_build")
            ) from None
    return ScoutLoadConfig(
        path=file,
        case_id=case_id,
        display_name=reader.text(data.get("family_name"), "family_name"),
        samples=samples,
        vcf=vcf,
        vcf_key=vcf_key,
        vcf_line=_line(node, vcf_key) if vcf_key else None,
        assembly=assembly,
        owner=reader.text(data.get("owner"), "owner"),
        analysis_date=reader.text(data.get("analysis_date"), "analysis_date"),
    )


def _sample(reader: _Reader, raw: object, index: int) -> ScoutSample:
    at = ("samples", index)
    if not isinstance(raw, dict):
        raise reader.error("each sample is a mapping (sample_id:, phenotype:, ...)", *at)
    sample_id = reader.text(raw.get("sample_id"), *at, "sample_id", required=True)
    assert sample_id is not None
    phenotype = reader.text(raw.get("phenotype"), *at, "phenotype", required=True)
    assert phenotype is not None
    specimen_type = _PHENOTYPES.get(phenotype.lower())
    if specimen_type is None:
        raise CodeError(
            f"phenotype is {phenotype!r}; a cancer case's samples are 'affected' (tumour) or "
            "'unaffected' (normal)",
            location=Location(reader.where, _line(reader.node, *at, "phenotype"), _key((*at, "phenotype"))),
        )
    analysis_type = reader.text(raw.get("analysis_type"), *at, "analysis_type")
    assay: Assay | None = None
    if analysis_type is not None:
        if analysis_type.lower() not in ANALYSIS_TYPES:
            raise CodeError(
                f"analysis_type is {analysis_type!r}; expected one of {', '.join(ANALYSIS_TYPES)}",
                location=Location(
                    reader.where, _line(reader.node, *at, "analysis_type"), _key((*at, "analysis_type"))
                ),
            )
        assay = ANALYSIS_TYPES[analysis_type.lower()]
    label = reader.text(raw.get("tumor_type"), *at, "tumor_type")
    return ScoutSample(
        sample_id=sample_id,
        sample_name=reader.text(raw.get("sample_name"), *at, "sample_name"),
        specimen_type=specimen_type,
        assay=assay,
        analysis_type=analysis_type,
        tumour_type=oncotree_code(label)
        if label is not None and specimen_type is SpecimenType.TUMOUR
        else None,
        tumour_type_label=label,
        purity=reader.number(raw.get("tumor_purity"), *at, "tumor_purity", low=0.0, high=1.0),
        tmb=reader.number(raw.get("tmb"), *at, "tmb", low=0.0),
        msi=reader.number(raw.get("msi"), *at, "msi", low=0.0),
        hrd=reader.number(raw.get("hrd"), *at, "hrd", low=0.0),
        sex=reader.text(raw.get("sex"), *at, "sex"),
        tissue=reader.text(raw.get("tissue_type"), *at, "tissue_type"),
        index=index,
        line=_line(reader.node, *at),
    )
