"""A tenant: the customers one credential may see, or every customer (operations staff, `*`)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

ALL = "*"


def customer_key(name: str) -> str:
    """How customer names are compared: NFKC, case-folded, outer spaces dropped ("ACME " is "acme")."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


@dataclass(frozen=True, slots=True)
class Tenant:
    subject: str  # who: the API key's name or the token's `sub`; rate limits count per subject
    customers: frozenset[str]  # customer_key()s; empty with every_customer
    every_customer: bool = False

    @classmethod
    def of(cls, subject: str, customers: str | Iterable[str]) -> Tenant:
        """From configuration or a token claim: `*`, or one customer name, or a list of names (`*` among them
        means every customer)."""
        names = [customers] if isinstance(customers, str) else list(customers)
        if any(n == ALL for n in names):
            return cls(subject, frozenset(), True)
        keys = frozenset(customer_key(n) for n in names if isinstance(n, str) and n.strip())
        if not keys:
            raise ValueError(f"{subject}: no customers (give customer names as on the plans, or '*')")
        return cls(subject, keys)

    def sees(self, customer: str | None) -> bool:
        """Whether data of `customer` (as named on a plan or shipment plan; None = no plan names one) is this
        tenant's. Data without a customer is for operations staff only."""
        if self.every_customer:
            return True
        return customer is not None and customer_key(customer) in self.customers

    def claim(self) -> dict[str, object]:
        """The tenant as carried between workers (streams/security/forwarding.py)."""
        return {"sub": self.subject, "customers": ALL if self.every_customer else sorted(self.customers)}


OPEN = Tenant("anonymous", frozenset(), True)  # what every caller is when no credentials are configured
