"""The register of signatories that rendering already knows: SIRET → entity.

`csac render` and `csac render-batch` record each signatory they render, with
its region and the contribution due per variant, so that intake can route a
deposit and check its amount with the very figures the convention printed.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .request import Request, contribution_due
from .store import REGISTER, Store
from .textnorm import fold
from .variants import Variant


@dataclass(frozen=True)
class Registered:
    siret: str
    denomination: str
    region: str
    mode: str
    dues: dict  # variant id → Decimal, or None for "sur devis"

    def due(self, variant_id: str) -> tuple[bool, Decimal | None]:
        """(known, amount): the variant may not have been rendered for this signatory."""
        if variant_id not in self.dues:
            return False, None
        value = self.dues[variant_id]
        return True, Decimal(value) if value is not None else None


def record(path: Path, request: Request, variants: list[Variant]) -> None:
    """Remember a rendered signatory; dues of earlier variants are kept."""
    entity = request.signatory.entity
    with Store(path, REGISTER).transaction() as conn:  # read then write: two renders lose no due
        row = conn.execute("SELECT dues FROM signatories WHERE siret = ?", (entity.siret,)).fetchone()
        dues = json.loads(row[0]) if row else {}
        for v in variants:
            amount = contribution_due(v, request).amount
            dues[v.id] = str(amount) if amount is not None else None
        conn.execute(
            "INSERT OR REPLACE INTO signatories VALUES (?, ?, ?, ?, ?, ?)",
            (
                entity.siret,
                entity.name,
                fold(entity.name),
                request.region.id,
                request.mode,
                json.dumps(dues),
            ),
        )


def _row(row) -> Registered | None:
    return Registered(row[0], row[1], row[3], row[4], json.loads(row[5])) if row else None


def lookup(path: Path, siret: str | None = None, name: str | None = None) -> Registered | None:
    if not path.exists() or not (siret or name):
        return None
    with closing(Store(path, REGISTER).connect()) as conn:
        if siret:
            found = conn.execute("SELECT * FROM signatories WHERE siret = ?", (siret,)).fetchone()
            if found or not name:
                return _row(found)
        return _row(conn.execute("SELECT * FROM signatories WHERE folded_name = ?", (fold(name),)).fetchone())


def of_region(path: Path, region: str) -> list[Registered]:
    """The signatories rendered for one region (its id), by name."""
    if not path.exists():
        return []
    with closing(Store(path, REGISTER).connect()) as conn:
        rows = conn.execute(
            "SELECT * FROM signatories WHERE region = ? ORDER BY folded_name, siret", (region,)
        ).fetchall()
    return [_row(r) for r in rows]
