"""OncoTree: the tumour-type code system, with descendant look-up.

The tree ships as package data (release 2025-10-03, CC BY 4.0, © MSKCC). Codes are upper-case
strings such as ``COADREAD`` or ``SKCM``; every query by tumour type includes the code's descendants.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["ONCOTREE_RELEASE", "OncoTree", "TumourType", "oncotree"]

ONCOTREE_RELEASE = "oncotree_2025_10_03"


@dataclass(frozen=True, slots=True)
class TumourType:
    """One OncoTree node."""

    code: str
    name: str
    main_type: str | None
    tissue: str | None
    parent: str | None
    level: int
    ncit: tuple[str, ...]


class OncoTree:
    """The tumour-type tree: code look-up, ancestry, descendants and name search."""

    def __init__(self, root: dict[str, Any]) -> None:
        self._nodes: dict[str, TumourType] = {}
        self._children: dict[str, list[str]] = {}
        self._walk(root, parent=None)

    def _walk(self, node: dict[str, Any], parent: str | None) -> None:
        code = node["code"]
        refs = node.get("externalReferences") or {}
        self._nodes[code] = TumourType(
            code=code,
            name=node.get("name") or code,
            main_type=node.get("mainType"),
            tissue=node.get("tissue"),
            parent=parent,
            level=int(node.get("level") or 0),
            ncit=tuple(refs.get("NCI", ())),
        )
        self._children.setdefault(code, [])
        if parent is not None:
            self._children[parent].append(code)
        for child in (node.get("children") or {}).values():
            self._walk(child, parent=code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.upper() in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[TumourType]:
        return iter(self._nodes.values())

    def get(self, code: str) -> TumourType:
        """The node for ``code`` (case-insensitive); raises KeyError naming the code."""
        try:
            return self._nodes[code.strip().upper()]
        except KeyError:
            raise KeyError(f"{code!r} is not an OncoTree code ({ONCOTREE_RELEASE})") from None

    def descendants(self, code: str, *, include_self: bool = True) -> frozenset[str]:
        """All codes below ``code`` in the tree (and the code itself unless told otherwise).

        >>> sorted(oncotree().descendants("COADREAD"))
        ['CAIS', 'COAD', 'COADREAD', 'MACR', 'READ', 'SRCCR']
        """
        start = self.get(code).code
        found: set[str] = {start} if include_self else set()
        stack = list(self._children[start])
        while stack:
            current = stack.pop()
            found.add(current)
            stack.extend(self._children[current])
        return frozenset(found)

    def ancestors(self, code: str) -> tuple[str, ...]:
        """Codes from the parent of ``code`` up to the root, nearest first."""
        chain: list[str] = []
        parent = self.get(code).parent
        while parent is not None:
            chain.append(parent)
            parent = self._nodes[parent].parent
        return tuple(chain)

    def search(self, text: str) -> list[TumourType]:
        """Nodes whose code or name contains ``text`` (case-insensitive), codes first."""
        needle = text.strip().lower()
        exact = [n for n in self._nodes.values() if n.code.lower() == needle]
        rest = [n for n in self._nodes.values() if needle in n.name.lower() and n not in exact]
        return exact + sorted(rest, key=lambda n: (n.level, n.name))


@cache
def oncotree() -> OncoTree:
    """The packaged OncoTree release, loaded once."""
    data = resources.files("genofed.model").joinpath(f"data/{ONCOTREE_RELEASE}.json").read_text()
    tree = json.loads(data)
    return OncoTree(tree["TISSUE"])
