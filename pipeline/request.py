"""Beneficiary input: who signs, in which mode, for whom, and for how much.

A request is checked in two passes that both report every problem at once:
the schema (shape of the file), then the domain (SIRET check digits with La
Poste's exception, positive amounts, a postal code that maps to a region, and,
per variant, a typology and a mode that the variant's tariff knows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from . import sirets
from .errors import InputError, Problem
from .money import euros
from .reading import YAMLError, load_yaml, unreadable
from .regions import Region, RegionBook
from .schemas import check
from .tariff import GROUPEMENT, Contribution, Tariff, TariffRow
from .untrusted import quoted
from .variants import Variant

ALL_VARIANTS = "*"
MODES = {"compte_propre": "compte propre", "mandat": "mandat", "groupement": "groupement"}


@dataclass(frozen=True)
class Entity:
    """A signatory or a beneficiary; the input file names its fields in French (`_entity` maps them)."""

    name: str
    siret: str
    typology: str
    address: str
    postal_code: str
    city: str
    population: int | None = None
    maximums: tuple[tuple[str, Decimal], ...] = ()

    @property
    def siret_display(self) -> str:
        return sirets.spaced(self.siret)

    @property
    def siren(self) -> str:
        return self.siret[:9]

    def maximum_for(self, variant_id: str) -> Decimal | None:
        found = dict(self.maximums)
        return found.get(variant_id, found.get(ALL_VARIANTS))


@dataclass(frozen=True)
class Contact:
    """The bulletin's contact person; CONTACT_FIELDS maps the input file's French keys."""

    title: str = ""
    surname: str = ""
    first_name: str = ""
    position: str = ""
    email: str = ""
    phone: str = ""


CONTACT_FIELDS = {"civilite": "title", "nom": "surname", "prenom": "first_name", "fonction": "position",
                  "email": "email", "telephone": "phone"}  # fmt: skip


@dataclass(frozen=True)
class Signatory:
    entity: Entity
    representative: str | None = None
    medico_social: bool = False
    finess: str | None = None
    email: str | None = None
    phone: str | None = None
    contact: Contact = Contact()


@dataclass(frozen=True)
class Request:
    signatory: Signatory
    mode: str
    beneficiaries: tuple[Entity, ...]
    region: Region
    source: str


def one_line(value) -> str:
    """Free text on one line: newlines or tabs in a name must not break a document."""
    return " ".join(str(value).split())


def _entity(d: dict) -> Entity:
    amounts = d.get("montant_maximum")
    if isinstance(amounts, dict):
        maximums = tuple((k, euros(v)) for k, v in amounts.items())
    else:
        maximums = ((ALL_VARIANTS, euros(amounts)),) if amounts is not None else ()
    return Entity(
        name=one_line(d["denomination"]),
        siret=sirets.compact(d["siret"]),
        typology=d["typologie"].strip(),
        address=one_line(d["adresse"]),
        postal_code=d["code_postal"].strip(),
        city=one_line(d["ville"]),
        population=d.get("population"),
        maximums=maximums,
    )


def _signatory(d: dict) -> Signatory:
    contact = {CONTACT_FIELDS[k]: one_line(v) for k, v in d.get("contact", {}).items()}
    rep = d.get("representant")
    return Signatory(
        entity=_entity(d),
        representative=one_line(rep) if rep else None,
        medico_social=bool(d.get("medico_social", False)),
        finess=one_line(d["finess"]) if d.get("finess") else None,
        email=d.get("email"),
        phone=one_line(d["telephone"]) if d.get("telephone") else None,
        contact=Contact(**contact),
    )


def _siret_problem(path: str, value: str) -> Problem | None:
    if sirets.is_valid(value):
        return None
    return Problem(
        path, f"SIRET {value} invalide (clé de contrôle) — recopiez-le depuis l'avis de situation INSEE"
    )


def _entity_problems(path: str, e: Entity, regions: RegionBook) -> list[Problem]:
    problems = [p for p in [_siret_problem(f"{path}.siret", e.siret)] if p]
    for variant_id, amount in e.maximums:
        where = f"{path}.montant_maximum" + ("" if variant_id == ALL_VARIANTS else f".{variant_id}")
        if amount <= 0:
            problems.append(Problem(where, f"montant {amount} € : un montant maximum doit être positif"))
    if regions.for_postal_code(e.postal_code) is None:
        problems.append(
            Problem(
                f"{path}.code_postal",
                f"code postal {e.postal_code} : aucune région Resah ne le couvre — vérifiez-le",
            )
        )
    return problems


def _mode_problems(mode: str, sig: Signatory, bens: tuple[Entity, ...], explicit: bool) -> list[Problem]:
    if mode == "compte_propre":
        if len(bens) != 1:
            return [
                Problem(
                    "beneficiaires", "en compte propre, l'annexe ne compte qu'un bénéficiaire : le signataire"
                )
            ]
        if explicit and bens[0].siren != sig.entity.siren:
            return [
                Problem(
                    "beneficiaires[1].siret",
                    "en compte propre, le bénéficiaire est le signataire lui-même (même SIREN)",
                )
            ]
        if not bens[0].maximums:
            return [
                Problem(
                    "signataire.montant_maximum", "champ obligatoire manquant : montant_maximum — ajoutez-le"
                )
            ]
    elif not bens:
        return [Problem("beneficiaires", f"en {MODES[mode]}, listez au moins un bénéficiaire")]
    elif mode == GROUPEMENT and len(bens) < 2:
        return [Problem("beneficiaires", "un groupement de commandes compte au moins 2 bénéficiaires")]
    return []


def parse_request(data, source: str, regions: RegionBook, schema: Path, variants=()) -> Request:
    """A validated request, or InputError listing every problem found.

    With `variants`, what each variant's tariff and modes refuse is listed too,
    so a person fixes the file once.
    """
    problems = check(schema, data)
    if problems:
        raise InputError(source, problems)
    sig = _signatory(data["signataire"])
    explicit = "beneficiaires" in data
    bens = tuple(map(_entity, data.get("beneficiaires", ()))) or (
        (sig.entity,) if data["mode"] == "compte_propre" else ()
    )
    problems = _entity_problems("signataire", sig.entity, regions)
    for i, ben in enumerate(bens if explicit else ()):
        problems += _entity_problems(f"beneficiaires[{i + 1}]", ben, regions)
    mode_problems = _mode_problems(data["mode"], sig, bens, explicit)
    region = regions.for_postal_code(sig.entity.postal_code) or regions.triage
    request = Request(sig, data["mode"], bens, region, source)
    if not mode_problems:
        problems += [p for v in variants for p in variant_problems(request, v)]
    problems += mode_problems
    if problems:
        raise InputError(source, problems)
    return request


def read_data_file(path: Path):
    """YAML or JSON, decided by the extension; unreadable files are InputErrors."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix.lower() == ".json" else load_yaml(text)
    except (OSError, UnicodeDecodeError, ValueError, YAMLError) as exc:
        raise InputError(str(path), [Problem("", unreadable(exc))]) from exc


def _row_problem(tariff: Tariff, variant: Variant, path: str, e: Entity) -> Problem | None:
    if e.typology == "commune" and e.population is None:
        return Problem(
            f"{path}.population",
            "population requise pour une commune (le tarif dépend du nombre d'habitants)",
        )
    if tariff.row_for(e.typology, e.population) is None:
        known = ", ".join(sorted(tariff.typologies - {GROUPEMENT}))
        return Problem(
            f"{path}.typologie",
            f"typologie {quoted(e.typology)} inconnue du tarif de {variant.id} ; typologies prévues : {known}",
        )
    return None


def _entity_path(request: Request, index: int) -> str:
    """Where a beneficiary comes from: the signatory itself in compte propre."""
    return "signataire" if request.mode == "compte_propre" else f"beneficiaires[{index + 1}]"


def variant_problems(request: Request, variant: Variant) -> list[Problem]:
    """What stops this request from being rendered for this variant."""
    if request.mode not in variant.modes:
        allowed = ", ".join(MODES[m] for m in variant.modes)
        return [
            Problem(
                "mode", f"le mode {MODES[request.mode]} n'est pas prévu par {variant.id} (modes : {allowed})"
            )
        ]
    problems = []
    if request.mode == GROUPEMENT:
        if variant.tariff.row_for_group(len(request.beneficiaries)) is None:
            count = len(request.beneficiaries)
            problems.append(
                Problem("beneficiaires", f"aucune tranche de groupement pour {count} bénéficiaire(s)")
            )
    else:
        for i, ben in enumerate(request.beneficiaries):
            problem = _row_problem(variant.tariff, variant, _entity_path(request, i), ben)
            problems += [problem] if problem else []
    for i, ben in enumerate(request.beneficiaries):
        if ben.maximum_for(variant.id) is None:
            problems.append(
                Problem(
                    f"{_entity_path(request, i)}.montant_maximum", f"montant maximum absent pour {variant.id}"
                )
            )
    return problems


def check_variants(request: Request, variants: list[Variant]) -> None:
    problems = [p for v in variants for p in variant_problems(request, v)]
    if problems:
        raise InputError(request.source, problems)


def beneficiary_due(variant: Variant, mode: str, ben: Entity) -> Contribution | None:
    """One beneficiary's share; a groupement pays one amount for all, so None."""
    if mode == GROUPEMENT:
        return None
    return Contribution.of_row(variant.tariff.row_for(ben.typology, ben.population))


def tariff_rows_due(variant: Variant, request: Request) -> list[TariffRow]:
    """The tariff rows the signatory pays by: a groupement's tier, else one per beneficiary."""
    tariff = variant.tariff
    if request.mode == GROUPEMENT:
        return [tariff.row_for_group(len(request.beneficiaries))]
    return [tariff.row_for(b.typology, b.population) for b in request.beneficiaries]


def contribution_due(variant: Variant, request: Request) -> Contribution:
    """The signatory's annual contribution: a groupement's tier, else its beneficiaries' rows
    (`Contribution.of_rows`, which intake's pipeline/dues.py applies to what the annex says)."""
    rows = tariff_rows_due(variant, request)
    if request.mode == GROUPEMENT:
        return Contribution.of_row(rows[0])
    return Contribution.of_rows(rows)
