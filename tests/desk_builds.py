"""Real deposits in three regions, taken in once, for the regional desk's tests (library and web).

Bretagne: Rennes complete (2021-045 lot 2, convention signed, annex, order), Brest without its order on
another accord-cadre (2021-063-002). Corse: Ajaccio without its order. Hauts-de-France: the
agglomeration of Béthune-Bruay, complete. Each test that writes works on its own copy (`copied`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from pipeline.intake import IntakeContext, take_in
from pipeline.resources import Workspace
from tests import builders as b

LOT2, AC063 = "2021-045-lot2", "2021-063-002"
RENNES = b.Entity(
    "Ville de Rennes", b.make_siret(3501), "commune", 220000, "Place de la Mairie", "35000", "RENNES"
)
BREST = b.Entity(
    "Brest Métropole", b.make_siret(2901), "commune", 140000, "24 rue Coat-ar-Gueven", "29200", "BREST"
)
AJACCIO = b.Entity("Commune d'Ajaccio", b.make_siret(2020), "commune", 70000, "Avenue Antoine Serafini",
                   "20000", "AJACCIO")  # fmt: skip
AGGLO = b.Entity("Communauté d'agglomération de Béthune-Bruay", b.make_siret(5151), "communaute_agglomeration",
                 address="100 avenue de Londres", postal_code="62400", city="BETHUNE")  # fmt: skip
MARKET = {LOT2: "2021-045 lot 2", AC063: "2021-063-002"}
DUE = Decimal("1000")  # the contribution of Rennes and of the agglomeration on 2021-045 lot 2


def email_of(entity: b.Entity) -> str:
    return f"achats@{entity.city.lower()}.example"


def dossier_of(entity: b.Entity, variant: str = LOT2) -> str:
    return f"{entity.siret}-{variant}"


RENNES_ID, BREST_ID, AJACCIO_ID, AGGLO_ID = (
    dossier_of(RENNES), dossier_of(BREST, AC063), dossier_of(AJACCIO), dossier_of(AGGLO),
)  # fmt: skip


@dataclass(frozen=True)
class Regions:
    """A state folder and an outbox after the deposits."""

    workspace: Workspace

    def copied(self, root: Path) -> Workspace:
        """A copy of the journal, the kept documents and the outbox under `root`, for a test that writes."""
        ws = workspace(root)
        shutil.copytree(self.workspace.state, ws.state)
        shutil.copytree(self.workspace.outbox, ws.outbox)
        return ws


def workspace(root: Path) -> Workspace:
    """The folders tests/web.py's site serves under `root`."""
    return Workspace(root / "inbox", root / "outbox", root / "var")


def context(loaded: IntakeContext, ws: Workspace) -> IntakeContext:
    return replace(loaded, workspace=ws, config=replace(loaded.config, workspace=ws))


def _deposit(
    folder: Path, name: str, entity: b.Entity, variant: str, members: list[tuple[str, bytes]]
) -> Path:
    path = folder / name
    path.write_bytes(b.zip_of(members))
    b.write_form(path, b.form(entity, market=MARKET[variant], email=email_of(entity)))
    return path


def _signed(renderer, resources, entity: b.Entity, variant: str) -> list[tuple[str, bytes]]:
    docs = b.rendered(renderer, resources, entity, variant)
    return [("Convention signée.pdf", b.convention_pdf(docs["convention"])), ("Annexe.xlsx", docs["annex"])]


def take_in_regions(root: Path, renderer, resources, loaded: IntakeContext) -> Regions:
    """The four deposits, taken in one after the other into a fresh workspace under `root`."""
    ws = workspace(root)
    ctx, drops = context(loaded, ws), root / "drops"
    drops.mkdir(parents=True)
    for entity, variant, order in ((RENNES, LOT2, True), (BREST, AC063, False), (AJACCIO, LOT2, False),
                                   (AGGLO, LOT2, True)):  # fmt: skip
        members = _signed(renderer, resources, entity, variant)
        if order:
            members.append(("EJ.pdf", b.order_pdf(entity, DUE)))
        take_in(_deposit(drops, f"{entity.city.lower()}.zip", entity, variant, members), ctx)
    return Regions(ws)
