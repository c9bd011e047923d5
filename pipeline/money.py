"""Euro amounts as Decimal, printed the French way."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"
CENT = Decimal("0.01")
# An amount's cell format in a workbook: French's ([$-40C], LCID 0x040C). Without it LibreOffice shows
# amounts in its own locale's way, "250,000.00 €" on an English or C system; Excel takes its
# separators from the system.
EXCEL_EUROS = '[$-40C]#,##0.00\\ "€"'
PRINTED_RE = re.compile(rf"(-?)(\d{{1,3}}(?:{NBSP}\d{{3}})*),(\d{{2}}){NBSP}€")


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


def parse_eur(text: str) -> Decimal:
    """The amount `format_eur` printed, exactly; anything else is a ValueError.

    Only for reports csac stored itself (the journal keeps them in their JSON form).
    """
    found = PRINTED_RE.fullmatch(text)
    if found is None:
        raise ValueError(f"montant illisible : {text!r}")
    sign, whole, cents = found.groups()
    return Decimal(f"{sign}{whole.replace(NBSP, '')}.{cents}")
