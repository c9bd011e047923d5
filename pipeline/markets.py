"""Accord-cadre numbers as the Resah writes them, read by one parser for conventions, forms and variants.

"2021-047-001" is lot 1 of procedure 2021-047; "2021-045 lot n° 2" is lot 2 of
procedure 2021-045. A convention may name its lot far from the number ("Lot n°
2" in its title, the number in its footer): `lots_named` reads those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .textnorm import fold

LOT = r"lot\s*(?:n\s*[°o]\s*)?(\d{1,3})"
# a number inside a longer run of digits and hyphens is none ("12-2021-045"); "AC-2021-045" is one
MARKET_RE = re.compile(
    rf"(?<!\d)(?<!\d-)((20\d{{2}}-[a-z]?\d{{3}})(?:-(\d{{3}}))?)(?!\d)(?:\D{{0,12}}{LOT})?"
)
LOT_RE = re.compile(rf"\b{LOT}\b")
# as OCR damages a number: a space in the year ("202 1"), O for 0 and l or I for 1, spaces about the
# hyphens ("2021 - 063"); still whole, never a run of digits longer than a number's (a SIRET, a date)
_D = "[0-9oli]"
_WITH_DIGIT = "(?=[a-z]{0,3}[0-9])"  # a part that is a word ("2021 - loi") is no number
DAMAGED_RE = re.compile(
    rf"(?<![0-9a-z])(?<![0-9]-)(2 ?[0o] ?{_D} ?{_D}) ?[-\u2013\u2014] ?({_WITH_DIGIT}[a-z]?{_D}{{3}})"
    rf"(?: ?[-\u2013\u2014] ?({_WITH_DIGIT}{_D}{{3}}))?(?![0-9a-z])"
)
_DIGITS = str.maketrans("oli", "011")


@dataclass(frozen=True)
class Market:
    number: str  # as written: "2021-047-001", "2021-045"
    procedure: str  # "2021-047"
    lot: int | None  # from the number's third part, or a "lot n° 2" just after it

    def names(self, other: Market) -> bool:
        """This mention names `other`: the same procedure, and its lot unless no lot is said."""
        return self.procedure == other.procedure and (self.lot is None or self.lot == other.lot)


def markets_named(text: str) -> list[Market]:
    """Every accord-cadre number in a text, in order, with the lot said with it."""
    found = []
    for number, procedure, lot3, lot in MARKET_RE.findall(repaired(fold(text))):
        said = lot3 or lot
        found.append(Market(number, procedure, int(said) if said else None))
    return found


def repaired(folded: str) -> str:
    """A folded text with each accord-cadre number OCR damaged written as it was printed."""
    return DAMAGED_RE.sub(_mended, folded)


def _mended(found: re.Match) -> str:
    year, procedure, lot = found.groups()
    letter = procedure[0] if len(procedure) == 4 else ""  # "2021-c045": a letter, then three digits
    mended = [year.replace(" ", "").translate(_DIGITS), letter + procedure[len(letter) :].translate(_DIGITS)]
    return "-".join(mended + ([lot.translate(_DIGITS)] if lot else []))


def lots_named(text: str) -> set[int]:
    """Every lot a text names ("lot 2", "Lot n° 4"), wherever it says it."""
    return {int(n) for n in LOT_RE.findall(fold(text))}


def market_of(framework_agreement: str, lot: int | None) -> Market:
    """A variant's market, from its data: the lot field, else the number's third part."""
    [named] = markets_named(framework_agreement)
    return Market(named.number, named.procedure, lot or named.lot)
