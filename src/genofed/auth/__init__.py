"""Identity and access: GA4GH Passport verification, access levels, and a demo broker."""

from ._broker import DemoBroker
from ._identity import ANONYMOUS, AccessLevel, Identity
from ._passport import PassportVerifier

__all__ = ["ANONYMOUS", "AccessLevel", "DemoBroker", "Identity", "PassportVerifier"]
