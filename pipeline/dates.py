"""Dates as the Resah's staff write them ("1er décembre 2026"), whatever the machine's locale.

strftime's month names come from the locale the process runs under: on a
server left in C or en_US they are English. The twelve names are data, here.
"""

from __future__ import annotations

import datetime as dt
import re

from .textnorm import fold

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")  # fmt: skip


def long_date(day: dt.date) -> str:
    """The day as "2 décembre 2026"; the first of the month is "1er", as French writes it."""
    return f"{'1er' if day.day == 1 else day.day} {MONTHS[day.month - 1]} {day.year}"


def local_day(iso: str, tz: dt.tzinfo | None = None) -> dt.date:
    """The day a journal timestamp falls on, in `tz` (by default the machine's time zone)."""
    return dt.datetime.fromisoformat(iso).astimezone(tz).date()


def age(days: int) -> str:
    """An age in days, in words: "aujourd'hui", "1 jour", "12 jours"."""
    if days <= 0:
        return "aujourd'hui"
    return f"{days} jour{'s' if days > 1 else ''}"


_RELATIVE_RE = re.compile(r"^(\d{1,4})\s*(j|jours?|sem|semaines?)$")
DAY_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
DAY_HELP = "une date (2026-11-01 ou 01/11/2026) ou une durée jusqu'à aujourd'hui (7j, 7 jours, 2 semaines)"


def parse_day(text: str, today: dt.date) -> dt.date:
    """The first day a person means by "2026-11-01", "01/11/2026", "7j", "7 jours" or "2 semaines"
    (that many days or weeks before `today`); ValueError, in French, for anything else."""
    wanted = fold(text)
    relative = _RELATIVE_RE.match(wanted)
    if relative:
        count, unit = int(relative.group(1)), relative.group(2)
        return today - dt.timedelta(days=count * (1 if unit.startswith("j") else 7))
    for form in DAY_FORMATS:
        try:
            return dt.datetime.strptime(wanted, form).date()
        except ValueError:
            continue
    raise ValueError(f"« {text} » n'est pas une date : écrivez {DAY_HELP}")
