"""Which region, and so which mailbox, a deposit goes to.

In order: the register of signatories that rendering knows (by SIRET); the
postal codes read in the annex, the purchase order and the convention; the
deposit form (its SIRET or its raison sociale, looked up in the register).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .facts import Facts
from .form import Form
from .regions import Region, RegionBook
from .register import Registered, lookup


@dataclass(frozen=True)
class Route:
    region: Region | None
    source: str  # how it was found, for the regional team
    registered: Registered | None = None


def route(facts: Facts, form: Form | None, register: Path, regions: RegionBook) -> Route:
    known = lookup(register, siret=facts.siret)
    if known:
        return Route(regions.by_id(known.region), f"registre des signataires (SIRET {known.siret})", known)
    for code in facts.postal_codes:
        region = regions.for_postal_code(code)
        if region:
            return Route(region, f"code postal {code} lu dans les documents")
    if form:
        known = lookup(register, siret=form.siret, name=form.get("raison_sociale"))
        if known:
            return Route(regions.by_id(known.region), "formulaire de dépôt (registre des signataires)", known)
    return Route(None, "")
