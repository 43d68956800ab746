"""GA4GH Beacon v2 (v2.1.1) on a node, mounted under ``/beacon``.

Mounted under a prefix because the node's own ``/service-info`` (genofed's service type) already
sits at the root; ``/beacon/service-info`` is the Beacon's. Framework endpoints (``/``, ``/info``,
``/service-info``, ``/configuration``, ``/map``, ``/entry_types``, ``/filtering_terms``) and entry
types (``/individuals``, ``/biosamples``, ``/g_variants``, ``/analyses``, ``/runs``, ``/cohorts``,
``/datasets``; each with ``/{id}`` and cross-links) answer GET and POST.

Granularity is capped by access level on the node's dataset: anonymous callers get booleans,
registered callers counts, controlled callers (a visa for the dataset) records. The response says
what it returned (``meta.returnedGranularity``). Counts go through the node's disclosure policy: a
count the policy would show as ``<k`` is not released as a number, and the answer falls back to a
boolean. For anonymous callers an allele carried by fewer than the policy's
``rare_allele_min_carriers`` individuals does not count as existing (Shringarpure & Bustamante 2015).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from genofed import __version__
from genofed.auth import AccessLevel, Identity
from genofed.errors import AuthError, GenofedError, QueryError
from genofed.ingest import beacon_biosamples, beacon_genomic_variations, beacon_individuals
from genofed.privacy import ReleasedCount, release_count
from genofed.query._beacon import (
    IndividualFilter,
    VariantQuery,
    individual_ids_sql,
    parse_filters,
    parse_variant_query,
    sequence_carriers_sql,
)
from genofed.query._beacon import variant_sql as _variant_sql

from ._beacon_defences import BeaconDefences, RateLimitedError
from ._context import NodeContext
from ._deps import NodeDep

__all__ = [
    "BEACON_API_VERSION",
    "BEACON_PREFIX",
    "BeaconError",
    "BeaconRequest",
    "answer_beacon",
    "beacon_defences",
    "router",
]

BEACON_API_VERSION = "v2.1.1"
BEACON_PREFIX = "/beacon"
_GRANULARITIES = ("boolean", "count", "record")
_DEFAULT_LIMIT = 10
_MAX_LIMIT = 1000

#: Entry types: endpoint path → (entry type id, entity name, schema name).
ENTRY_TYPES: dict[str, tuple[str, str, str]] = {
    "individuals": ("individual", "Individual", "individuals"),
    "biosamples": ("biosample", "Biosample", "biosamples"),
    "g_variants": ("genomicVariation", "Genomic Variation", "genomicVariations"),
    "analyses": ("analysis", "Bioinformatics analysis", "analyses"),
    "runs": ("run", "Sequencing run", "runs"),
    "cohorts": ("cohort", "Cohort", "cohorts"),
    "datasets": ("dataset", "Dataset", "datasets"),
}
_COLLECTIONS = ("cohorts", "datasets")
# Cross-links: from an entry (or collection), the records of another type linked to it.
_LINKS: dict[str, tuple[str, ...]] = {
    "individuals": ("g_variants", "biosamples", "analyses", "runs"),
    "biosamples": ("g_variants", "analyses", "runs"),
    "g_variants": ("individuals", "biosamples", "analyses", "runs"),
    "analyses": ("g_variants",),
    "runs": ("g_variants", "analyses"),
    "cohorts": ("individuals", "analyses", "runs", "biosamples", "g_variants"),
    "datasets": ("individuals", "analyses", "runs", "biosamples", "g_variants"),
}
_bearer = HTTPBearer(auto_error=False, scheme_name="GA4GH Passport (optional for Beacon)")

router = APIRouter(prefix=BEACON_PREFIX, tags=["beacon"])


class BeaconError(GenofedError):
    """A Beacon request the node answers with a ``beaconErrorResponse`` of the given status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def beacon_identity(
    request: Request,
    node: NodeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The caller: without a passport an anonymous Beacon user (booleans only), else the verified passport.

    A node with ``anonymous_access`` (demos) treats callers without a passport as registered, as its
    other endpoints do.
    """
    if credentials is None:
        level = AccessLevel.REGISTERED if node.settings.anonymous_access else AccessLevel.ANONYMOUS
        return Identity(level=level)
    if node.verifier is None:
        raise AuthError("this node trusts no passport issuer; it answers anonymous callers only")
    identity = node.verifier.verify(credentials.credentials)
    request.scope.setdefault("state", {})["researcher"] = identity.researcher
    return identity


BeaconIdentityDep = Annotated[Identity, Depends(beacon_identity)]


# -- requests -------------------------------------------------------------------------------------------
class BeaconRequest:
    """A Beacon request, from GET query parameters or a POST body, with defaults applied."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        query = body.get("query") or {}
        meta = body.get("meta") or {}
        if not isinstance(query, Mapping) or not isinstance(meta, Mapping):
            raise BeaconError("'query' and 'meta' must be objects")
        self.meta = meta
        self.parameters: dict[str, Any] = dict(query.get("requestParameters") or {})
        filters = query.get("filters") or []
        if not isinstance(filters, list):
            raise BeaconError("query.filters must be an array")
        self.filters: list[Any] = filters
        granularity = query.get("requestedGranularity") or "boolean"
        if granularity not in _GRANULARITIES:
            raise BeaconError(f"requestedGranularity must be one of {', '.join(_GRANULARITIES)}")
        self.granularity: str = granularity
        pagination = query.get("pagination") or {}
        try:
            self.skip = max(0, int(pagination.get("skip", 0)))
            self.limit = min(_MAX_LIMIT, max(0, int(pagination.get("limit", _DEFAULT_LIMIT))))
        except (TypeError, ValueError) as exc:
            raise BeaconError("pagination.skip and pagination.limit must be integers") from exc
        self.test_mode = bool(query.get("testMode", False))
        include = query.get("includeResultsetResponses") or "HIT"
        if include not in ("ALL", "HIT", "MISS", "NONE"):
            raise BeaconError("includeResultsetResponses must be ALL, HIT, MISS or NONE")
        self.include: str = include

    @classmethod
    def from_query_string(cls, params: Mapping[str, str]) -> BeaconRequest:
        """GET: ``requestedGranularity``, ``skip``, ``limit``, ``filters`` (comma-separated),
        ``testMode``, ``includeResultsetResponses``; every other parameter is a request parameter."""
        framework = {
            "requestedGranularity",
            "skip",
            "limit",
            "filters",
            "testMode",
            "includeResultsetResponses",
        }
        query: dict[str, Any] = {
            "requestParameters": {k: v for k, v in params.items() if k not in framework},
            "filters": [f for f in params.get("filters", "").split(",") if f],
            "requestedGranularity": params.get("requestedGranularity"),
            "pagination": {"skip": params.get("skip", 0), "limit": params.get("limit", _DEFAULT_LIMIT)},
            "testMode": params.get("testMode", "false").lower() == "true",
            "includeResultsetResponses": params.get("includeResultsetResponses"),
        }
        return cls({"query": query})

    def summary(self, entry_type: str = "genomicVariation") -> dict[str, Any]:
        """``meta.receivedRequestSummary``.

        The framework schema types ``requestParameters`` as a map from a key to an object, so the
        parameters are echoed under the entry type they were read for (``{"genomicVariation": {...}}``).
        """
        summary: dict[str, Any] = {
            "apiVersion": str(self.meta.get("apiVersion") or BEACON_API_VERSION),
            "requestedSchemas": list(self.meta.get("requestedSchemas") or []),
            "pagination": {"skip": self.skip, "limit": self.limit},
            "requestedGranularity": self.granularity,
            "includeResultsetResponses": self.include,
            "testMode": self.test_mode,
        }
        if self.filters:
            # The summary lists filters as strings: an object filter as its id (with operator and value).
            summary["filters"] = [
                f
                if isinstance(f, str)
                else f"{f.get('id')}{f.get('operator') or ''}{'' if f.get('value') is None else f['value']}"
                for f in self.filters
                if isinstance(f, (str, Mapping))
            ]
        if self.parameters:
            summary["requestParameters"] = {entry_type: self.parameters}
        return summary


async def _read(request: Request) -> BeaconRequest:
    if request.method == "GET":
        return BeaconRequest.from_query_string(dict(request.query_params))
    raw = await request.body()
    if not raw.strip():
        return BeaconRequest({})
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BeaconError(f"the request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BeaconError("the request body must be a JSON object")
    return BeaconRequest(body)


# -- responses ------------------------------------------------------------------------------------------
def _beacon_id(node: NodeContext) -> str:
    return f"org.genofed.node.{node.settings.node_id}.beacon"


def _schemas(path: str) -> list[dict[str, str]]:
    entry, _, schema = ENTRY_TYPES[path]
    return [{"entityType": entry, "schema": f"beacon-{schema}-v2.1.1"}]


def _informational(
    node: NodeContext, response: dict[str, Any], schemas: list[dict[str, str]]
) -> dict[str, Any]:
    meta = {"beaconId": _beacon_id(node), "apiVersion": BEACON_API_VERSION, "returnedSchemas": schemas}
    return {"meta": meta, "response": response}


def _error(node: NodeContext, status: int, message: str) -> JSONResponse:
    body = {
        "meta": {
            "beaconId": _beacon_id(node),
            "apiVersion": BEACON_API_VERSION,
            "returnedSchemas": [],
            "returnedGranularity": "boolean",
            # The request could not be read: its summary is the defaults'.
            "receivedRequestSummary": BeaconRequest({}).summary(),
        },
        "error": {"errorCode": status, "errorMessage": message},
    }
    return JSONResponse(body, status_code=status)


def _allowed(identity: Identity, dataset: str) -> str:
    level = identity.level_for(dataset)
    return {AccessLevel.ANONYMOUS: "boolean", AccessLevel.REGISTERED: "count"}.get(level, "record")


def _cap(requested: str, allowed: str) -> str:
    return _GRANULARITIES[min(_GRANULARITIES.index(requested), _GRANULARITIES.index(allowed))]


class _Answer:
    """Matches of one entry-type query at this node's dataset."""

    def __init__(
        self,
        count: int,
        records: list[dict[str, Any]] | None = None,
        info: dict[str, Any] | None = None,
        *,
        people: bool = True,
    ) -> None:
        self.count = count
        #: The count is of people (individuals, their samples, runs, analyses): it passes the policy.
        #: Variant and collection counts are not; a variant's carriers (in ``info``) are.
        self.people = people
        self.records = records
        self.info = info or {}


def _respond(
    node: NodeContext,
    path: str,
    request: BeaconRequest,
    identity: Identity,
    answer: _Answer,
    warnings: list[str],
) -> dict[str, Any]:
    dataset = node.settings.dataset_id
    granularity = _cap(request.granularity, _allowed(identity, dataset))
    released = (
        release_count(answer.count, node.policy) if answer.people else ReleasedCount.exact(answer.count)
    )
    exists = answer.count > 0
    if granularity == "count" and released.value is None:
        granularity = "boolean"  # a count the policy shows as "<k" is no number: say only that it exists
    meta: dict[str, Any] = {
        "beaconId": _beacon_id(node),
        "apiVersion": BEACON_API_VERSION,
        "returnedGranularity": granularity,
        "receivedRequestSummary": request.summary(ENTRY_TYPES[path][0]),
        "returnedSchemas": _schemas(path),
        "testMode": request.test_mode,
    }
    summary: dict[str, Any] = {"exists": exists}
    body: dict[str, Any] = {"meta": meta, "responseSummary": summary}
    if granularity != "boolean":
        summary["numTotalResults"] = int(released.value or 0)
    if warnings:
        body["info"] = {"warnings": {"unsupportedFilters": warnings}}
    if granularity == "boolean" or request.include == "NONE":
        return body
    hit = exists
    if (request.include == "HIT" and not hit) or (request.include == "MISS" and hit):
        body["response"] = {"resultSets": []}
        return body
    result_set: dict[str, Any] = {
        "id": dataset,
        "setType": "dataset",
        "exists": exists,
        "resultsCount": int(released.value or 0),
        "results": [],
    }
    info = dict(answer.info)
    if info:
        result_set["info"] = info
    if granularity == "record" and answer.records is not None:
        result_set["results"] = answer.records
    body["response"] = {"resultSets": [result_set]}
    return body


# -- queries --------------------------------------------------------------------------------------------
def _scalar(node: NodeContext, sql: str, params: list[Any]) -> int:
    return int(node.store.lookup.execute(f"SELECT count(*) FROM ({sql})", params).column(0)[0].as_py())


def _page(request: BeaconRequest) -> str:
    return f" LIMIT {int(request.limit)} OFFSET {int(request.skip)}"


def _latest_rows(node: NodeContext, table: str, ids: list[str]) -> Any:
    if not ids:
        return None
    marks = ", ".join("?" for _ in ids)
    sql = (
        f'SELECT * EXCLUDE (batch_id) FROM "{table}" AS t WHERE t.individual_id IN ({marks}) AND batch_id = '
        f'(SELECT max(u.batch_id) FROM "{table}" AS u WHERE u.individual_id = t.individual_id)'
    )
    return node.store.lookup.execute(sql, ids)


def _individual_records(node: NodeContext, ids: list[str]) -> list[dict[str, Any]]:
    tables = {}
    for name in ("individuals", "diagnoses", "phenotypes", "treatments"):
        table = _latest_rows(node, name, ids)
        if table is not None:
            tables[name] = table
    records = {r["id"]: r for r in beacon_individuals(tables)}
    # People known only from their sequencing analyses: a record with an unknown sex.
    return [records.get(i) or {"id": i, "sex": {"id": "NCIT:C17998", "label": "unknown"}} for i in ids]


def _people(
    node: NodeContext, selection: IndividualFilter, scope: tuple[str, list[Any]] | None
) -> tuple[str, list[Any]]:
    sql, params = individual_ids_sql(selection)
    if scope is not None:
        sql = f"SELECT individual_id FROM ({sql}) WHERE individual_id IN ({scope[0]})"
        params = params + scope[1]
    return sql, params


def _variants(
    node: NodeContext,
    query: VariantQuery,
    people: tuple[str, list[Any]] | None,
    identity: Identity,
    granularity: str,
    request: BeaconRequest,
    defences: BeaconDefences | None,
) -> _Answer:
    fast = sequence_carriers_sql(query, people) if granularity != "record" else None
    if fast is not None:
        rows = [r for r in node.store.lookup.execute(*fast).to_pylist() if r["carriers"]]
    else:
        rows = node.store.lookup.execute(*_variant_sql(query, people)).to_pylist()
    if defences is not None:
        rows = defences.visible(node, rows, identity, node.settings.dataset_id)
    elif identity.level_for(node.settings.dataset_id) <= AccessLevel.ANONYMOUS:
        # Rare alleles do not "exist" for anonymous callers: their presence could place a person.
        rows = [r for r in rows if r["carriers"] >= node.policy.rare_allele_min_carriers]
    carriers = sum(r["carriers"] for r in rows)
    info: dict[str, Any] = {}
    if granularity != "boolean":
        released = release_count(carriers, node.policy)
        info["carriers"] = {"display": released.display, "value": released.value}
    records = None
    if granularity == "record":
        page = rows[request.skip : request.skip + request.limit]
        ids = [r["variant_id"] for r in page]
        records = _variant_records(node, ids, with_calls=True) if ids else []
    return _Answer(len(rows), records, info, people=False)


def _variant_records(node: NodeContext, ids: list[int], *, with_calls: bool) -> list[dict[str, Any]]:
    marks = ", ".join("?" for _ in ids)
    sites = node.store.lookup.execute(
        f"SELECT * EXCLUDE (batch_id) FROM variant_sites WHERE variant_id IN ({marks}) ORDER BY chrom, start",
        ids,
    )
    tables = {
        "variant_sites": sites,
        "analyses": node.store.lookup.execute("SELECT analysis_id, specimen_id FROM analyses"),
    }
    if with_calls:
        tables["variant_calls"] = node.store.lookup.execute(
            "SELECT variant_id, individual_id, analysis_id, zygosity, origin FROM variant_calls "
            f"WHERE variant_id IN ({marks})",
            ids,
        )
    return list(beacon_genomic_variations(tables))


def _scope_of(node: NodeContext, path: str, entry: str) -> tuple[str, list[Any]]:
    """The individuals linked to one entry (its id), as SQL selecting ``individual_id``."""
    if path == "individuals":
        return "SELECT ?::VARCHAR AS individual_id", [entry]
    if path == "biosamples":
        return "SELECT individual_id FROM specimens WHERE specimen_id = ?", [entry]
    if path in ("analyses", "runs"):
        return "SELECT individual_id FROM analyses WHERE analysis_id = ?", [entry]
    if path == "g_variants":
        try:
            key = int(entry)
        except ValueError as exc:
            raise BeaconError(f"no genomic variation {entry!r}", 404) from exc
        return "SELECT individual_id FROM variant_calls WHERE variant_id = ?", [key]
    if path in _COLLECTIONS:
        if entry != node.settings.dataset_id:
            raise BeaconError(
                f"this node holds dataset/cohort {node.settings.dataset_id!r}, not {entry!r}", 404
            )
        return "SELECT individual_id FROM individuals UNION SELECT individual_id FROM analyses", []
    raise BeaconError(f"unknown entry type {path!r}", 404)


def _collection_record(node: NodeContext, path: str) -> dict[str, Any]:
    s = node.settings
    record: dict[str, Any] = {"id": s.dataset_id, "name": s.display_name}
    if path == "datasets":
        record["description"] = f"The genomic and clinical data of node {s.node_id} ({s.country})"
    else:
        record["cohortType"] = "beacon-defined"
    return record


def answer_beacon(
    node: NodeContext,
    path: str,
    request: BeaconRequest,
    identity: Identity,
    *,
    entry: str | None = None,
    source: str | None = None,
    defences: BeaconDefences | None = None,
) -> dict[str, Any]:
    """Answer ``/{path}``, ``/{path}/{entry}`` or ``/{source}/{entry}/{path}``.

    ``defences`` (the application's, on HTTP) hides rare alleles from anonymous callers and spends
    the per-individual disclosure budget; without them only the rare-allele hiding applies.
    """
    granularity = _cap(request.granularity, _allowed(identity, node.settings.dataset_id))
    selection = parse_filters(request.filters)
    warnings = list(selection.unknown)
    scope = _scope_of(node, source, entry) if source is not None and entry is not None else None
    if path in _COLLECTIONS:
        if entry is not None and source is None and entry != node.settings.dataset_id:
            answer = _Answer(0, [], people=False)
        else:
            answer = _Answer(1, [_collection_record(node, path)], people=False)
        return _respond(node, path, request, identity, answer, warnings)
    people = _people(node, selection, scope)
    if path == "g_variants":
        query = parse_variant_query(request.parameters)
        if entry is not None and source is None:
            try:
                query = VariantQuery(variant_id=int(entry))
            except ValueError:
                query = VariantQuery(variant_id=-1)
        restrict = None if selection.empty and scope is None else people
        answer = _variants(node, query, restrict, identity, granularity, request, defences)
        return _respond(node, path, request, identity, answer, warnings)
    if path == "individuals":
        sql, params = people
        if entry is not None and source is None:
            sql, params = f"SELECT individual_id FROM ({sql}) WHERE individual_id = ?", [*params, entry]
        sql, params = _with_variant_condition(request, sql, params)
        count = _scalar(node, sql, params)
        records = None
        if granularity == "record":
            ids = node.store.lookup.execute(
                f"SELECT individual_id FROM ({sql}) ORDER BY 1{_page(request)}", params
            )
            records = _individual_records(node, [str(i) for i in ids.column(0).to_pylist()])
        return _respond(node, path, request, identity, _Answer(count, records), warnings)
    if path == "biosamples":
        sql, params = _with_variant_condition(request, *people)
        base = f"SELECT * EXCLUDE (batch_id) FROM specimens WHERE individual_id IN ({sql})"
        if entry is not None and source is None:
            base, params = base + " AND specimen_id = ?", [*params, entry]
        count = _scalar(node, f"SELECT DISTINCT specimen_id FROM ({base})", params)
        records = None
        if granularity == "record":
            rows = node.store.lookup.execute(f"{base} ORDER BY specimen_id{_page(request)}", params)
            records = list(beacon_biosamples({"specimens": rows}))
        return _respond(node, path, request, identity, _Answer(count, records), warnings)
    # analyses and runs: one sequencing analysis is one run in the store.
    sql, params = _with_variant_condition(request, *people)
    base = f"SELECT * EXCLUDE (batch_id) FROM analyses WHERE individual_id IN ({sql})"
    if entry is not None and source is None:
        base, params = base + " AND analysis_id = ?", [*params, entry]
    count = _scalar(node, f"SELECT DISTINCT analysis_id FROM ({base})", params)
    records = None
    if granularity == "record":
        rows = node.store.lookup.execute(f"{base} ORDER BY analysis_id{_page(request)}", params).to_pylist()
        records = [_analysis_record(row, path) for row in rows]
    return _respond(node, path, request, identity, _Answer(count, records), warnings)


def _with_variant_condition(request: BeaconRequest, sql: str, params: list[Any]) -> tuple[str, list[Any]]:
    """Individuals queries may carry variant request parameters: keep the carriers of a matching allele."""
    if not request.parameters:
        return sql, params
    query = parse_variant_query(request.parameters)
    if query == VariantQuery():
        return sql, params  # no variant condition among the parameters: nothing to restrict by
    vsql, vparams = _variant_sql(query, None)
    carriers = (
        "SELECT c.individual_id FROM variant_calls AS c "
        f"WHERE c.variant_id IN (SELECT variant_id FROM ({vsql}))"
    )
    return f"SELECT individual_id FROM ({sql}) WHERE individual_id IN ({carriers})", [*params, *vparams]


def _analysis_record(row: Mapping[str, Any], path: str) -> dict[str, Any]:
    if path == "runs":
        return {
            "id": row["analysis_id"],
            "biosampleId": row.get("specimen_id") or row["analysis_id"],
            "individualId": row["individual_id"],
            "runDate": "1970-01-01",  # the store keeps no dates: this is a placeholder, not a date
            "librarySource": {"id": "GENEPIO:0001966", "label": "genomic source"},
            "platformModel": {"id": "OBI:0002048", "label": "Illumina HiSeq 2500"},
        }
    return {
        "id": row["analysis_id"],
        "runId": row["analysis_id"],
        "individualId": row["individual_id"],
        "biosampleId": row.get("specimen_id") or row["analysis_id"],
        "analysisDate": "1970-01-01",
        "pipelineName": row.get("pipeline") or "unknown",
        "pipelineRef": row.get("pipeline_version") or "unknown",
        "aligner": "unknown",
        "variantCaller": row.get("pipeline") or "unknown",
    }


# -- framework ------------------------------------------------------------------------------------------
def _environment(value: str | None) -> str:
    """The Beacon info enumeration (prod, test, dev, staging) for the node's service-info environment."""
    text = (value or "").lower()
    for short, words in (("prod", ("prod",)), ("test", ("test",)), ("staging", ("stag",))):
        if text.startswith(words):
            return short
    return "dev"


def _info(node: NodeContext) -> dict[str, Any]:
    s = node.settings
    organization = s.organization
    return {
        "id": _beacon_id(node),
        "name": f"{s.display_name} (Beacon)",
        "apiVersion": BEACON_API_VERSION,
        "environment": _environment(s.environment),
        "organization": {
            "id": s.node_id,
            "name": organization.name if organization else s.display_name,
            **({"welcomeUrl": str(organization.url)} if organization and organization.url else {}),
        },
        "version": __version__,
        "description": f"GA4GH Beacon v2 of genofed node {s.node_id} ({s.country})",
    }


def _entry_types() -> dict[str, Any]:
    types: dict[str, Any] = {}
    for path, (entry, name, schema) in ENTRY_TYPES.items():
        definition: dict[str, Any] = {
            "id": entry,
            "name": name,
            "partOfSpecification": "Beacon v2.1.1",
            "defaultSchema": {
                "id": f"beacon-{schema}-v2.1.1",
                "name": f"Default schema for {name.lower()}",
                "referenceToSchemaDefinition": f"https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/v2.1.1/models/json/beacon-v2-default-model/{schema}/defaultSchema.json",
                "schemaVersion": "v2.1.1",
            },
            "ontologyTermForThisType": {
                "id": "NCIT:C25464" if path == "datasets" else "NCIT:C16960",
                "label": name,
            },
            "nonFilteredQueriesAllowed": True,
        }
        if path in _COLLECTIONS:
            definition["aCollectionOf"] = [{"id": "individual", "name": "Individual"}]
        types[entry] = definition
    return types


def _map(request: Request) -> dict[str, Any]:
    root = str(request.base_url).rstrip("/") + BEACON_PREFIX
    sets: dict[str, Any] = {}
    for path, (entry, _, _) in ENTRY_TYPES.items():
        sets[entry] = {
            "entryType": entry,
            "rootUrl": f"{root}/{path}",
            "singleEntryUrl": f"{root}/{path}/{{id}}",
            "endpoints": {
                ENTRY_TYPES[target][0]: {
                    "returnedEntryType": ENTRY_TYPES[target][0],
                    "url": f"{root}/{path}/{{id}}/{target}",
                }
                for target in _LINKS[path]
            },
        }
    return {
        "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconMapSchema.json",
        "endpointSets": sets,
    }


def _filtering_terms(node: NodeContext) -> dict[str, Any]:
    terms: list[dict[str, Any]] = [
        {"type": "ontologyTerm", "id": curie, "label": label, "scopes": ["individuals"]}
        for curie, label in (
            ("NCIT:C16576", "female"),
            ("NCIT:C20197", "male"),
            ("NCIT:C17649", "other"),
            ("NCIT:C17998", "unknown"),
        )
    ]
    rows = node.store.lookup.execute(
        "SELECT DISTINCT ethnicity_id, any_value(ethnicity_label) AS label FROM individuals "
        "WHERE ethnicity_id IS NOT NULL GROUP BY ethnicity_id ORDER BY ethnicity_id"
    ).to_pylist()
    terms += [
        {
            "type": "ontologyTerm",
            "id": r["ethnicity_id"],
            "label": r["label"] or "",
            "scopes": ["individuals"],
        }
        for r in rows
    ]
    tumours = (
        node.store.lookup.execute(
            "SELECT DISTINCT tumour_type FROM diagnoses WHERE tumour_type IS NOT NULL ORDER BY 1"
        )
        .column(0)
        .to_pylist()
    )
    terms += [{"type": "ontologyTerm", "id": f"ONCOTREE:{t}", "scopes": ["individuals"]} for t in tumours]
    icd = node.store.lookup.execute(
        "SELECT icd10, any_value(label) FROM diagnoses WHERE icd10 IS NOT NULL GROUP BY icd10 ORDER BY 1"
    ).to_pylist()
    terms += [{"type": "ontologyTerm", "id": f"ICD10:{r['icd10']}", "scopes": ["individuals"]} for r in icd]
    terms.append(
        {
            "type": "alphanumeric",
            "id": "age",
            "label": "age at diagnosis (ISO 8601 duration)",
            "scopes": ["individuals"],
        }
    )
    terms += [
        {"type": "custom", "id": f"vital_status:{v}", "scopes": ["individuals"]}
        for v in ("alive", "deceased", "unknown")
    ]
    resources = [
        {
            "id": "ncit",
            "name": "NCI Thesaurus",
            "url": "http://purl.obolibrary.org/obo/ncit.owl",
            "nameSpacePrefix": "NCIT",
            "iriPrefix": "http://purl.obolibrary.org/obo/NCIT_",
        },
        {
            "id": "oncotree",
            "name": "OncoTree",
            "url": "https://oncotree.mskcc.org",
            "nameSpacePrefix": "ONCOTREE",
        },
        {"id": "icd10", "name": "ICD-10", "url": "https://icd.who.int/browse10", "nameSpacePrefix": "ICD10"},
        {
            "id": "hp",
            "name": "Human Phenotype Ontology",
            "url": "http://purl.obolibrary.org/obo/hp.owl",
            "nameSpacePrefix": "HP",
        },
    ]
    return {"filteringTerms": terms, "resources": resources}


def _framework(node: NodeContext, request: Request, what: str) -> dict[str, Any]:
    if what == "info":
        return _informational(node, _info(node), [{"entityType": "info", "schema": "beacon-info-v2.1.1"}])
    if what == "configuration":
        config = {
            "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconConfigurationSchema.json",
            "maturityAttributes": {"productionStatus": "DEV"},
            "securityAttributes": {
                "defaultGranularity": "boolean",
                "securityLevels": ["PUBLIC", "REGISTERED", "CONTROLLED"],
            },
            "entryTypes": _entry_types(),
        }
        return _informational(
            node, config, [{"entityType": "configuration", "schema": "beacon-configuration-v2.1.1"}]
        )
    if what == "map":
        return _informational(node, _map(request), [{"entityType": "map", "schema": "beacon-map-v2.1.1"}])
    if what == "entry_types":
        return _informational(
            node,
            {"entryTypes": _entry_types()},
            [{"entityType": "entryType", "schema": "beacon-entry-types-v2.1.1"}],
        )
    return _informational(
        node,
        _filtering_terms(node),
        [{"entityType": "filteringTerm", "schema": "beacon-filtering-terms-v2.1.1"}],
    )


def _service_info(node: NodeContext) -> dict[str, Any]:
    s = node.settings
    organization = s.organization
    return {
        "id": _beacon_id(node),
        "name": f"{s.display_name} (Beacon)",
        "type": {"group": "org.ga4gh", "artifact": "beacon", "version": BEACON_API_VERSION},
        "organization": {
            "name": organization.name if organization else s.display_name,
            "url": str(organization.url) if organization else "https://genofed.org",
        },
        "version": __version__,
        "environment": str(s.environment or "dev"),
    }


def beacon_defences(request: Request) -> BeaconDefences:
    """The application's Beacon defences, made from the node's ``beacon:`` settings on first use.

    The spent budget persists in the node's state folder; tests may replace ``app.state.beacon_defences``.
    """
    state = request.app.state
    defences: BeaconDefences | None = getattr(state, "beacon_defences", None)
    if defences is None:
        node: NodeContext = state.node
        beacon = node.settings.beacon
        defences = BeaconDefences(
            enabled=beacon.defences,
            rare_fraction=beacon.rare_fraction,
            budget=beacon.budget,
            rate=beacon.rate,
            window=beacon.window_seconds,
            state_file=node.settings.state_path / "beacon-budget.json",
        )
        state.beacon_defences = defences
    return defences


# -- routes ---------------------------------------------------------------------------------------------
async def _guarded(node: NodeContext, work: Any) -> JSONResponse:
    try:
        return JSONResponse(await work())
    except BeaconError as exc:
        return _error(node, exc.status, str(exc))
    except QueryError as exc:
        return _error(node, 400, str(exc))


def _add(path: str, endpoint: Any, operation: str) -> None:
    """Register ``endpoint`` for GET and POST, each with its own operation id (OpenAPI wants them unique)."""
    for method in ("GET", "POST"):
        router.add_api_route(path, endpoint, methods=[method], operation_id=f"{operation}_{method.lower()}")


async def beacon_info(node: NodeDep, request: Request) -> JSONResponse:
    """Beacon information (``beaconInfoResponse``)."""
    return JSONResponse(_framework(node, request, "info"))


_add("", beacon_info, "beacon_root")
_add("/info", beacon_info, "beacon_info")


@router.get("/service-info", operation_id="beaconServiceInfo")
async def beacon_service_info(node: NodeDep) -> JSONResponse:
    """GA4GH service-info of the Beacon (type ``org.ga4gh:beacon``)."""
    return JSONResponse(_service_info(node))


def _framework_route(what: str) -> Any:
    async def route(node: NodeDep, request: Request) -> JSONResponse:
        return JSONResponse(_framework(node, request, what))

    route.__name__ = f"beacon_{what}"
    return route


for _what in ("configuration", "map", "entry_types", "filtering_terms"):
    _add(f"/{_what}", _framework_route(_what), f"beacon_{_what}")


def _entry_route(path: str, *, single: bool = False, target: str | None = None) -> Any:
    async def route(node: NodeDep, identity: BeaconIdentityDep, request: Request) -> JSONResponse:
        defences = beacon_defences(request)

        async def work() -> dict[str, Any]:
            caller = (
                identity.researcher
                if identity.subject
                else f"address:{request.client.host if request.client else '?'}"
            )
            try:
                defences.admit(caller)
            except RateLimitedError as exc:
                raise BeaconError(str(exc), 429) from exc
            beacon_request = await _read(request)
            entry = request.path_params.get("entry_id")
            # The store's queries block: run them off the event loop.
            if target is not None:
                call = functools.partial(
                    answer_beacon,
                    node,
                    target,
                    beacon_request,
                    identity,
                    entry=entry,
                    source=path,
                    defences=defences,
                )
            else:
                call = functools.partial(
                    answer_beacon,
                    node,
                    path,
                    beacon_request,
                    identity,
                    entry=entry if single else None,
                    defences=defences,
                )
            result: dict[str, Any] = await anyio.to_thread.run_sync(call)
            return result

        return await _guarded(node, work)

    route.__name__ = f"beacon_{path}" + ("_one" if single else "") + (f"_{target}" if target else "")
    return route


for _path in ENTRY_TYPES:
    _add(f"/{_path}", _entry_route(_path), f"beacon_{_path}")
    _add(f"/{_path}/{{entry_id}}", _entry_route(_path, single=True), f"beacon_{_path}_one")
    for _target in _LINKS[_path]:
        _add(
            f"/{_path}/{{entry_id}}/{_target}",
            _entry_route(_path, target=_target),
            f"beacon_{_path}_{_target}",
        )
