"""The deposit form ("Dépôt des conventions"), read from its sidecar file.

A form that fails its schema does not stop the intake: its problems are
reported as form_invalid, and the fields that are usable are still used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from .schemas import check

SIDECAR_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Form:
    data: dict
    source: str
    problems: tuple[str, ...]  # French, one per invalid field

    def get(self, name: str) -> str | None:
        value = self.data.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    @property
    def email(self) -> str | None:
        return self.get("email") if not any(p.startswith("email") for p in self.problems) else None


def sidecar_for(deposit: Path) -> Path | None:
    """NAME.json or NAME.yaml beside NAME.zip."""
    for suffix in SIDECAR_SUFFIXES:
        candidate = deposit.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def read_form(path: Path, schema: Path) -> Form:
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        return Form({}, path.name, (f"formulaire illisible ({type(exc).__name__})",))
    if not isinstance(data, dict):
        return Form({}, path.name, ("le formulaire n'est pas une liste de champs",))
    return Form(data, path.name, tuple(str(p) for p in check(schema, data)))
