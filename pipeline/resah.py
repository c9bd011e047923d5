"""The Resah's own identity, read from templates/csac/resah.yaml.

The Resah's SIRET and address are printed in every convention and on most
orders: intake must recognise them to never take them for the depositor's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from . import sirets
from .errors import ConfigError
from .reading import YAMLError, load_yaml
from .textnorm import fold


@dataclass(frozen=True)
class Resah:
    name: str
    siret: str
    street: str
    postal_code: str
    city: str
    marks: tuple[str, ...]  # folded

    def names_itself(self, line: str) -> bool:
        """The line is the Resah's own: its name or its street is on it."""
        folded = fold(line)
        return any(mark in folded for mark in self.marks)

    @property
    def as_supplier(self) -> str:
        """'GIP RESAH, SIRET 130 005 010 00025, 47 rue de Charonne 75011 Paris', as an order prints it."""
        return f"{self.name}, SIRET {sirets.spaced(self.siret)}, {self.street} {self.postal_code} {self.city}"


def load_resah(path: Path) -> Resah:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
        address = data["address"]
        resah = Resah(
            data["name"], str(data["siret"]), address["street"], str(address["postal_code"]), address["city"],
            tuple(fold(m) for m in data["marks"]),
        )  # fmt: skip
    except (OSError, YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} : fiche du Resah invalide ({exc})") from exc
    try:
        return replace(resah, siret=sirets.validate(resah.siret))
    except ValueError as exc:
        raise ConfigError(f"{path} : siret : {resah.siret} n'est pas un SIRET valide") from exc
