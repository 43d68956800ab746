"""Reading a study specification (:class:`~genofed.api.Study`) from a YAML or JSON file.

The file holds exactly what the Python API and ``POST /analyses`` take -- one typed format::

    name: KRAS in colorectal cancer
    cohort: {tumour_type: COADREAD, gene: KRAS}
    analyses:
      - kind: count
      - kind: crosstab
        rows: {kind: sex}
        columns: {kind: age_band, edges: [50, 65]}

A wrong key, an unknown code or a wrong type is a :class:`~genofed.errors.ConfigError` naming the
file and the key.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from genofed.api import Study
from genofed.errors import ConfigError, QueryError

from ._registry import describe_validation_error

__all__ = ["load_study", "parse_study"]


def load_study(path: str | Path) -> Study:
    """Read and validate a study specification file (YAML; JSON is YAML too).

    Raises
    ------
    ConfigError
        The file cannot be read or parsed, or a key is wrong; the message names file and key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the study specification: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_study(data, source=str(path))


def parse_study(data: object, *, source: str = "study") -> Study:
    """Validate a study given as parsed YAML/JSON."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with name, cohort and analyses")
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from exc
    except QueryError as exc:  # the cohort filter's own validators name the field
        raise ConfigError(f"{source}: cohort: {exc}") from exc
