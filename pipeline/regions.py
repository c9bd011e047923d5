"""The seventeen Resah regions, read from the one canonical data file.

Rendering prints their mailboxes; intake routes deposits to them. Both ask
this module, which only knows how to read `regions.yaml` and map a postal
code to a département and a région.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ArgumentError, ConfigError
from .reading import YAMLError, load_yaml, unreadable
from .textnorm import key

_POSTAL_RE = re.compile(r"^\d{5}$")
PART = 4  # letters a name typed in part must have to pick the one region that contains it


@dataclass(frozen=True)
class Region:
    id: str
    label: str
    name: str
    mailbox: str
    departments: tuple[str, ...]  # INSEE codes; the YAML key is "departements"
    postal_codes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def spellings(self) -> set[str]:
        """What a person may type for it, as `textnorm.key` reduces it (letters and digits only): its
        name, id, label, mailbox and the mailbox's aliases, with or without "@resah.fr"."""
        boxes = (self.mailbox, *self.aliases)
        words = (self.name, self.id, self.label, *boxes, *(b.partition("@")[0] for b in boxes))
        return {key(w) for w in words}


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
        """The region (or triage) a person names by its name, id, label or mailbox, whatever the case,
        accents, hyphens, spaces or apostrophes: "hauts de france", "ILE-DE-FRANCE", "corse@resah.fr"."""
        wanted = key(text)
        return next((r for r in (*self.regions, self.triage) if wanted in r.spellings()), None)

    def find(self, text: str) -> Region:
        """`named`, else the one region whose name holds what was typed ("Réunion", "Bourgogne");
        else ArgumentError, in French, with the closest names, or all of them."""
        found = self.named(text)
        if found:
            return found
        wanted, everyone = key(text), (*self.regions, self.triage)
        holding = [r for r in everyone if len(wanted) >= PART and any(wanted in s for s in r.spellings())]
        if len(holding) == 1:
            return holding[0]
        names = {key(r.name): r.name for r in everyone}
        close = [names[k] for k in difflib.get_close_matches(wanted, names, n=3, cutoff=0.6)]
        if holding or close:
            maybe = " ou ".join(r.name for r in holding) if holding else " ou ".join(close)
            raise ArgumentError(f"région inconnue : {text} — vouliez-vous dire {maybe} ?")
        known = ", ".join(r.name for r in everyone)
        raise ArgumentError(f"région inconnue : {text} — régions : {known}")

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
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise ConfigError(f"{path} : {unreadable(exc)}") from exc
    regions = tuple(_region(e, path) for e in data.get("regions", ()))
    seen: dict[str, str] = {}
    for region in regions:
        for dep in region.departments + region.postal_codes:
            if dep in seen:
                raise ConfigError(f"{path} : {dep} est à la fois dans {seen[dep]} et {region.id}")
            seen[dep] = region.id
    return RegionBook(regions, _region(data["triage"], path))
