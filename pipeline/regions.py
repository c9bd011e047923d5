"""The seventeen Resah regions, read from the one canonical data file.

Rendering prints their mailboxes; intake routes deposits to them. Both ask
this module, which only knows how to read `regions.yaml` and map a postal
code to a département and a région.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ConfigError
from .textnorm import fold

_POSTAL_RE = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class Region:
    id: str
    label: str
    name: str
    mailbox: str
    departments: tuple[str, ...]  # INSEE codes; the YAML key is "departements"
    postal_codes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegionBook:
    regions: tuple[Region, ...]
    triage: Region

    def by_id(self, region_id: str) -> Region:
        for region in self.regions:
            if region.id == region_id:
                return region
        raise KeyError(region_id)

    def named(self, text: str) -> Region | None:
        """The region a person names by its name, id, label or mailbox, whatever the case or accents."""
        wanted = fold(text)
        return next(
            (r for r in self.regions if wanted in (fold(r.name), fold(r.id), fold(r.mailbox), fold(r.label))),
            None,
        )

    def for_department(self, code: str) -> Region | None:
        return next((r for r in self.regions if code in r.departments), None)

    def for_postal_code(self, postal_code: str) -> Region | None:
        """Region of a French postal code (CEDEX codes included), or None."""
        code = postal_code.replace(" ", "")
        if not _POSTAL_RE.match(code):
            return None
        exact = next((r for r in self.regions if code in r.postal_codes), None)
        return exact or self.for_department(department_of(code))

    def for_mailbox(self, address: str) -> Region | None:
        wanted = address.strip().casefold()
        for region in self.regions:
            spellings = (region.mailbox, *region.aliases)
            if wanted in (s.casefold() for s in spellings):
                return region
        return None


def department_of(postal_code: str) -> str:
    """INSEE département of a postal code: 20xxx is Corsica, 97x/98x overseas."""
    if postal_code.startswith("20"):
        return "2A" if postal_code < "20200" else "2B"
    if postal_code[:2] in ("97", "98"):
        return postal_code[:3]
    return postal_code[:2]


def _region(entry: dict, source: Path) -> Region:
    try:
        return Region(
            id=entry["id"],
            label=entry.get("label", entry["name"]),
            name=entry["name"],
            mailbox=entry["mailbox"],
            departments=tuple(str(d) for d in entry.get("departements", ())),
            postal_codes=tuple(str(c) for c in entry.get("postal_codes", ())),
            aliases=tuple(entry.get("aliases", ())),
        )
    except KeyError as exc:
        raise ConfigError(f"{source} : région {entry!r} : champ {exc} manquant") from exc


def load_regions(path: Path) -> RegionBook:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path} : illisible ({exc})") from exc
    regions = tuple(_region(e, path) for e in data.get("regions", ()))
    seen: dict[str, str] = {}
    for region in regions:
        for dep in region.departments + region.postal_codes:
            if dep in seen:
                raise ConfigError(f"{path} : {dep} est à la fois dans {seen[dep]} et {region.id}")
            seen[dep] = region.id
    return RegionBook(regions, _region(data["triage"], path))
