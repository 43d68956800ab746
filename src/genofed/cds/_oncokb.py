"""OncoKB, queried per finding with the user's own API token.

OncoKB's licence forbids redistributing or storing its content, so this adapter keeps answers in
memory for the life of one client and writes nothing to disk; there is no ``kb import`` for it.
Each finding becomes one call to the annotate API (``/annotate/mutations/byProteinChange``,
``/annotate/copyNumberAlterations``, ``/annotate/structuralVariants``), and each treatment in the
answer becomes one `Evidence` item whose biomarker is the queried finding itself: OncoKB has already
decided which of its alterations the finding belongs to. Tests use ``httpx.MockTransport``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from genofed.errors import AuthError, QueryError
from genofed.model import oncotree

from ._disease import map_disease
from ._syntax import canonical_protein_change
from ._types import BiomarkerKind, Direction, Evidence, Finding, FindingKind

__all__ = ["ONCOKB_API", "OncoKbClient"]

ONCOKB_API = "https://www.oncokb.org/api/v1"
# OncoKB's cancer types that stand for any tumour (its tumour-agnostic levels).
_PAN = frozenset({"all tumors", "all solid tumors", "all liquid tumors", "all pan-cancer"})
_SIGNATURE_ALTERATIONS = {"TMB_HIGH": "TMB-H", "MSI_HIGH": "MSI-H"}


class OncoKbClient:
    """A client of the OncoKB annotate API for one user's token.

    Parameters
    ----------
    token
        The user's OncoKB API token (https://www.oncokb.org/account/settings).
    base_url
        The API root; the public one by default.
    transport
        An httpx transport, for tests (``httpx.MockTransport``).
    release
        The date recorded as the evidence's release; today by default (OncoKB answers are live).
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = ONCOKB_API,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        release: dt.date | None = None,
    ) -> None:
        if not token or not token.strip():
            raise AuthError("an OncoKB API token is required (https://www.oncokb.org/account/settings)")
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token.strip()}", "Accept": "application/json"},
            transport=transport,
            timeout=timeout,
        )
        self.release = release or dt.date.today()
        self._memo: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}

    def __enter__(self) -> OncoKbClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        key = (path, tuple(sorted(params.items())))
        if key in self._memo:
            return self._memo[key]
        try:
            response = self._client.get(path, params=dict(params))
        except httpx.HTTPError as exc:
            raise QueryError(f"OncoKB request {path} failed: {exc}") from exc
        if response.status_code in (401, 403):
            raise AuthError(f"OncoKB refused the API token (HTTP {response.status_code}); check it is valid")
        if response.is_error:
            raise QueryError(f"OncoKB answered HTTP {response.status_code} to {path}: {response.text[:200]}")
        try:
            data = response.json()
        except ValueError as exc:
            raise QueryError(f"OncoKB answered {path} with something other than JSON") from exc
        if not isinstance(data, dict):
            raise QueryError(f"OncoKB answered {path} with an unexpected JSON {type(data).__name__}")
        self._memo[key] = data
        return data

    def _query(self, finding: Finding, tumour_type: str | None) -> tuple[str, dict[str, str]] | None:
        params: dict[str, str] = {"tumorType": tumour_type} if tumour_type else {}
        if finding.kind is FindingKind.SMALL_VARIANT and finding.gene and finding.protein_change:
            change = finding.protein_change.removeprefix("p.")
            return "/annotate/mutations/byProteinChange", {
                "hugoSymbol": finding.gene,
                "alteration": change,
                **params,
            }
        if finding.kind in (FindingKind.AMPLIFICATION, FindingKind.DELETION) and finding.gene:
            what = "AMPLIFICATION" if finding.kind is FindingKind.AMPLIFICATION else "DELETION"
            return "/annotate/copyNumberAlterations", {
                "hugoSymbol": finding.gene,
                "copyNameAlterationType": what,
                **params,
            }
        if finding.kind is FindingKind.FUSION and finding.gene:
            query = {
                "hugoSymbolA": finding.gene,
                "structuralVariantType": "FUSION",
                "isFunctionalFusion": "true",
            }
            if finding.partner_gene:
                query["hugoSymbolB"] = finding.partner_gene
            return "/annotate/structuralVariants", {**query, **params}
        alteration = _SIGNATURE_ALTERATIONS.get((finding.signature or "").upper())
        if finding.kind is FindingKind.SIGNATURE and alteration:
            return "/annotate/mutations/byProteinChange", {
                "hugoSymbol": "Other Biomarkers",
                "alteration": alteration,
                **params,
            }
        return None

    def evidence_for(self, findings: Sequence[Finding], tumour_type: str | None = None) -> list[Evidence]:
        """OncoKB's treatments for each finding, as evidence items that match that finding.

        Raises
        ------
        AuthError
            The token is refused.
        QueryError
            The API cannot be reached or answers with an error.
        """
        out: list[Evidence] = []
        for finding in findings:
            query = self._query(finding, tumour_type)
            if query is None:
                continue
            answer = self._get(*query)
            for k, treatment in enumerate(answer.get("treatments") or ()):
                item = self._evidence(finding, treatment, k)
                if item is not None:
                    out.append(item)
        return out

    def _evidence(self, finding: Finding, treatment: Mapping[str, Any], k: int) -> Evidence | None:
        level = str(treatment.get("level") or "")
        drugs = [str(d.get("drugName", "")) for d in treatment.get("drugs") or () if d.get("drugName")]
        if not level or not drugs:
            return None
        cancer = treatment.get("levelAssociatedCancerType") or {}
        code = str(cancer.get("code") or "")
        name = str(cancer.get("name") or (cancer.get("mainType") or {}).get("name") or "")
        codes: tuple[str, ...]
        if code and code in oncotree():
            codes, pan = (oncotree().get(code).code,), False
        elif name.casefold() in _PAN:
            codes, pan = (), True
        else:
            mapping = map_disease(name)
            codes, pan = mapping.codes, mapping.pan_cancer
        kind, change = _biomarker(finding)
        pmids = treatment.get("pmids") or ()
        return Evidence(
            source="oncokb",
            release=self.release,
            evidence_id=f"OncoKB:{finding.label}:{level}:{k + 1}",
            biomarker=kind,
            gene=finding.gene if kind not in _SIGNATURE_KINDS else None,
            therapy=" + ".join(drugs),
            direction=Direction.RESISTANT if level.startswith("LEVEL_R") else Direction.RESPONSIVE,
            source_level=level,
            disease=name or code,
            protein_change=change,
            partner_gene=finding.partner_gene if finding.kind is FindingKind.FUSION else None,
            tumour_types=codes,
            pan_cancer=pan,
            drug_status=str(treatment.get("fdaLevel") or "") or None,
            citation=f"PMID:{pmids[0]}" if pmids else None,
        )


_SIGNATURE_KINDS = frozenset({BiomarkerKind.TMB_HIGH, BiomarkerKind.MSI_HIGH, BiomarkerKind.HRD})


def _biomarker(finding: Finding) -> tuple[BiomarkerKind, str | None]:
    if finding.kind is FindingKind.SMALL_VARIANT:
        raw = (finding.protein_change or "").removeprefix("p.")
        return BiomarkerKind.PROTEIN_CHANGE, canonical_protein_change(raw) or raw
    if finding.kind is FindingKind.AMPLIFICATION:
        return BiomarkerKind.AMPLIFICATION, None
    if finding.kind is FindingKind.DELETION:
        return BiomarkerKind.DELETION, None
    if finding.kind is FindingKind.FUSION:
        return BiomarkerKind.FUSION, None
    return BiomarkerKind((finding.signature or "").upper()), None
