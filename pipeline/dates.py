"""Dates as the Resah's staff write them ("1er décembre 2026"), whatever the machine's locale.

strftime's month names come from the locale the process runs under: on a
server left in C or en_US they are English. The twelve names are data, here.
"""

from __future__ import annotations

import datetime as dt

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
