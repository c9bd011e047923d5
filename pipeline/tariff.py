"""Contribution tariffs: which row of a variant's table applies, and how much.

The amounts are data (the variant YAML, membership.yaml); this module only
holds the matching logic, so rendering and intake compute the same figure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .errors import ConfigError
from .money import euros, format_eur
from .reading import YAMLError, load_yaml

GROUPEMENT = "groupement"
OTHER = "autre"
COMMUNE = "commune"


# How bodies name themselves, most specific first ("Communauté d'agglomération de la
# Région de …" is an agglomeration), matched on folded text.
TYPOLOGY_WORDS = (
    (
        "communaute_agglomeration",
        ("communaute d'agglomeration", "communautes d'agglomeration", "agglomeration"),
    ),
    ("communaute_urbaine", ("communaute urbaine", "communautes urbaines")),
    ("communaute_communes", ("communaute de communes", "communautes de communes", "communaute des communes")),
    ("metropole", ("metropole",)),
    ("region", ("region", "conseil regional")),
    ("commune", ("commune", "ville de", "mairie")),
)
_POPULATION_RE = re.compile(r"(\d{1,3}(?:[ .\u00a0]\d{3})+|\d{4,})")


def infer_typology(folded: str) -> tuple[str, int | None] | None:
    """(typology, population) from a name or a tariff label, e.g. 'communes à partir de 50.000 habitants'."""
    for typology, words in TYPOLOGY_WORDS:
        if any(w in folded for w in words):
            population = None
            if typology == "commune":
                found = _POPULATION_RE.search(folded)
                population = int(re.sub(r"\D", "", found.group(1))) if found else None
            return typology, population
    return None


@dataclass(frozen=True)
class Range:
    min: int | None = None
    max: int | None = None

    def __contains__(self, n: int) -> bool:
        return (self.min is None or n >= self.min) and (self.max is None or n <= self.max)


@dataclass(frozen=True)
class TariffRow:
    label: str
    typology: str
    amount: Decimal | None
    quote: str | None = None
    population: Range | None = None
    members: Range | None = None

    @property
    def amount_text(self) -> str:
        return format_eur(self.amount) if self.amount is not None else self.quote or ""


@dataclass(frozen=True)
class Tariff:
    header: tuple[str, str]
    rows: tuple[TariffRow, ...]
    caption: str | None = None
    column_note: str | None = None

    @property
    def typologies(self) -> frozenset[str]:
        return frozenset(r.typology for r in self.rows)

    def row_for(self, typology: str, population: int | None = None) -> TariffRow | None:
        """The row for one body; a commune outside every bracket is 'Autres'."""
        candidates = [r for r in self.rows if r.typology == typology]
        if typology == COMMUNE and population is not None:
            candidates = [r for r in candidates if r.population is None or population in r.population]
            if not candidates:
                return self.row_for(OTHER)
        return candidates[0] if candidates else None

    @property
    def has_groupement(self) -> bool:
        """The variant prices groupements by tier: several beneficiaries may be a groupement or a mandate."""
        return any(r.typology == GROUPEMENT for r in self.rows)

    def row_for_group(self, members: int) -> TariffRow | None:
        return next(
            (r for r in self.rows if r.typology == GROUPEMENT and r.members and members in r.members),
            None,
        )


@dataclass(frozen=True)
class Contribution:
    """What a signatory owes per year; amount None means 'sur devis'."""

    amount: Decimal | None
    basis: str
    quote: str | None = None

    @property
    def text(self) -> str:
        return format_eur(self.amount) if self.amount is not None else (self.quote or "Sur devis")

    @classmethod
    def of_row(cls, row: TariffRow) -> Contribution:
        return cls(row.amount, row.label, row.quote)

    @classmethod
    def of_rows(cls, rows: Sequence[TariffRow]) -> Contribution:
        """What the bodies of these rows owe together, the one rule for rendering and intake: the
        sum of their rows; "sur devis" (the first such row's words) as soon as one row is."""
        if len(rows) == 1:
            return cls.of_row(rows[0])
        basis = f"{len(rows)} bénéficiaires"
        quoted = next((r for r in rows if r.amount is None), None)
        if quoted is not None:
            return cls(None, basis, quoted.quote)
        return cls(sum((r.amount for r in rows), Decimal("0.00")), basis)


def tariff_from_data(data: dict) -> Tariff:
    def rng(d):
        return Range(d.get("min"), d.get("max")) if d else None

    rows = tuple(
        TariffRow(
            label=r["label"],
            typology=r["typology"],
            amount=euros(r["amount"]) if "amount" in r else None,
            quote=r.get("quote"),
            population=rng(r.get("population")),
            members=rng(r.get("members")),
        )
        for r in data["rows"]
    )
    return Tariff(tuple(data["header"]), rows, data.get("caption"), data.get("column_note"))


@dataclass(frozen=True)
class MembershipFee:
    """The bulletin's figure: which civil year is billed and how much."""

    year: int
    amount: Decimal
    after_cutoff: bool
    cutoff: dt.date

    @property
    def billed_year(self) -> int:
        return self.year + 1 if self.after_cutoff else self.year


@dataclass(frozen=True)
class MembershipTariff:
    medico_social: Decimal
    other: Decimal
    cutoff_month: int
    cutoff_day: int

    def fee(self, medico_social: bool, on: dt.date) -> MembershipFee:
        """After 31 October nothing is due for the year, but next year's order is."""
        cutoff = dt.date(on.year, self.cutoff_month, self.cutoff_day)
        amount = self.medico_social if medico_social else self.other
        return MembershipFee(on.year, amount, on > cutoff, cutoff)


def load_membership(path: Path) -> MembershipTariff:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
        return MembershipTariff(
            euros(data["fees"]["medico_social"]),
            euros(data["fees"]["autre"]),
            int(data["cutoff"]["month"]),
            int(data["cutoff"]["day"]),
        )
    except (OSError, YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} : fichier d'adhésion invalide ({exc})") from exc
