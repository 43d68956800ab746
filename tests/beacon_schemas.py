"""Validators for the official Beacon v2.1.1 JSON schemas in ``../shared/fixtures/beacon-v2``.

A local ``referencing`` registry maps the schemas' raw GitHub URLs to the fixture files and mends
the upstream ``$ref`` faults the fixtures README lists (``../common/info.json`` from a model folder;
``#/definitions/…`` for ``#/$defs/…``). Nothing is fetched over the network.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

RAW = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/"
VRS_13 = "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json"
MODELS = "models/json/beacon-v2-default-model"
FRAMEWORK = "framework/json"

#: Beacon response kinds → their framework schema (relative to ``framework/json``).
RESPONSES = {
    "boolean": "responses/beaconBooleanResponse.json",
    "count": "responses/beaconCountResponse.json",
    "record": "responses/beaconResultsetsResponse.json",
    "collections": "responses/beaconCollectionsResponse.json",
    "info": "responses/beaconInfoResponse.json",
    "configuration": "responses/beaconConfigurationResponse.json",
    "map": "responses/beaconMapResponse.json",
    "entry_types": "responses/beaconEntryTypesResponse.json",
    "filtering_terms": "responses/beaconFilteringTermsResponse.json",
    "error": "responses/beaconErrorResponse.json",
    "service_info": "responses/ga4gh-service-info-1-0-0-schema.json",
    "request": "requests/beaconRequestBody.json",
}


def registry(root: Path) -> Registry[Any]:
    """Every schema of the fixture folder under its raw GitHub URL, crawled once up front."""

    def resource(path: Path) -> Resource[Any]:
        contents = json.loads(path.read_text())
        if "$defs" in contents and "definitions" not in contents:
            contents["definitions"] = contents["$defs"]
        return Resource.from_contents(contents, default_specification=DRAFT202012)

    resources = [(VRS_13, resource(root / "vrs-1.3.0.json"))]
    for path in sorted(root.glob("**/*.json")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(("framework/", "models/")):
            resources.append((RAW + relative, resource(path)))
    info = resource(root / "framework" / "json" / "common" / "info.json")
    resources.append((f"{RAW}{MODELS}/common/info.json", info))

    def retrieve(uri: str) -> Resource[Any]:
        raise NoSuchResource(ref=uri)

    return Registry(retrieve=retrieve).with_resources(resources).crawl()


@functools.cache
def _registry(root: str) -> Registry[Any]:
    return registry(Path(root))


def validator(root: Path, schema: str) -> Draft202012Validator:
    """A validator for a framework schema (``responses/…``) or a model (``individuals``, …)."""
    if schema.endswith(".json"):
        url = f"{RAW}{FRAMEWORK}/{schema}"
    else:
        url = f"{RAW}{MODELS}/{schema}/defaultSchema.json"
    return Draft202012Validator({"$ref": url}, registry=_registry(str(root)))


def errors(root: Path, schema: str, document: Any) -> list[str]:
    """Every schema violation of ``document``, as ``path: message`` lines (empty when valid)."""
    return [f"{e.json_path}: {e.message}" for e in validator(root, schema).iter_errors(document)]
