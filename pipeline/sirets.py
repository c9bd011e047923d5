"""SIRET numbers, cleaned, checked and printed by python-stdnum, in one place.

A SIRET reaches csac typed by a person or printed on a paper: grouped by
spaces, dots, no-break spaces or dashes. Every reader cleans it here, so that
the same number is the same string for the register, the rules and routing.
"""

from __future__ import annotations

from stdnum.fr import siren, siret


def compact(number: str) -> str:
    """The number without its separators: stdnum's spaces and dots (no-break and thin spaces too,
    which stdnum reads as spaces), and dashes of any kind, which stdnum turns into "-"."""
    return siret.compact(number).replace("-", "")


def is_valid(number: str) -> bool:
    """The Luhn check digit, with La Poste's own rule for its establishments."""
    return siret.is_valid(compact(number))


def validate(number: str) -> str:
    """The number, compacted; a ValueError saying why when it is no SIRET (stdnum's own errors)."""
    return siret.validate(compact(number))


def spaced(number: str) -> str:
    """'732 829 320 00074', as the conventions print it."""
    return siret.format(compact(number))


def spaced_siren(number: str) -> str:
    """The SIREN (the first nine digits) as '732 829 320'."""
    return siren.format(compact(number)[:9])
