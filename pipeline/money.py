"""Euro amounts as Decimal, printed the French way."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"
CENT = Decimal("0.01")


def euros(value) -> Decimal:
    """Decimal euros from a YAML/JSON/CSV number, without float noise."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def format_eur(amount: Decimal) -> str:
    """'1 750,00 €' with no-break spaces, as in the conventions."""
    whole, cents = f"{amount:.2f}".split(".")
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return f"{sign}{NBSP.join(groups)},{cents}{NBSP}€"
