"""Keyed pseudonyms: source identifiers become HMAC-SHA256 digests under the node's secret.

The secret never leaves the node; without it a pseudonym cannot be linked back to the source ID,
and two nodes give the same person different pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Pseudonymiser"]

PSEUDONYM_HEX_CHARS = 24  # 96 bits: collision-free for any national cohort


class Pseudonymiser:
    """Maps source identifiers to node-local pseudonyms."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the node secret must be at least 16 bytes")
        self._secret = secret

    def __call__(self, source_id: str) -> str:
        """The pseudonym of one identifier.

        >>> Pseudonymiser(b"0" * 32)("HG00096") == Pseudonymiser(b"0" * 32)("HG00096")
        True
        """
        digest = hmac.new(self._secret, source_id.encode(), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_CHARS]

    def array(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Pseudonymise a string column, hashing each distinct value once."""
        combined = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        encoded = pc.dictionary_encode(combined)
        mapped = pa.array(
            [None if v is None else self(v) for v in encoded.dictionary.to_pylist()], pa.string()
        )
        return pc.take(mapped, encoded.indices)
