"""The deposit form ("Dépôt des conventions"), read from its sidecar file.

Anyone can write a form, so it is read within bounds. It may be 64 KB at
most, and no more than that is ever read. YAML anchors and aliases are
refused (the "billion laughs"). Deep nesting is refused: a form is a flat
mapping of scalars. Every field has a maximum length in the schema. A form
that fails does not stop the intake: its problems are reported as
form_invalid. Only the fields that pass the schema are kept, so a field that
fails is never used (headers, notices, routing).
"""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import address, sirets
from .form_words import label, said
from .schemas import check, field_path, shown, validator

SIDECAR_SUFFIXES = (".json", ".yaml", ".yml")
MAX_BYTES = 64 * 1024
MAX_DEPTH = 20  # deeper YAML is refused before it is built (PyYAML builds it recursively)
ADDRESS_FIELDS = ("email", "code_service_chorus")  # kept in their ASCII form once checked
LOADER = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # every scalar as written: an EJ 1300012345 stays text
NESTED = "formulaire imbriqué trop profondément : il doit être une simple liste de champs « nom : valeur »"


class FormRefused(Exception):
    """The whole form is unusable; the message is French and says why."""


@dataclass(frozen=True)
class Form:
    data: dict  # the fields that passed the schema, and only those
    source: str
    problems: tuple[str, ...]  # French, in the portal's words, one per invalid field
    failed: frozenset[str] = frozenset()  # the names of the fields refused
    located: tuple[
        tuple[str, str], ...
    ] = ()  # (field, problem) for the problems of one field: a page shows them beside it

    def get(self, name: str) -> str | None:
        value = self.data.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    @property
    def email(self) -> str | None:
        return self.get("email")

    @property
    def siret(self) -> str | None:
        """The establishment's SIRET, when the portal sends it, without its spaces."""
        value = self.get("siret")
        return sirets.compact(value) if value else None


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def sidecar_for(deposit: Path) -> Path | None:
    """The form beside a deposit: same stem in NFC (a macOS NFD name pairs with an NFC one),
    suffix .json, .yaml or .yml in any case. Never raises: an unreadable folder, a name too long
    for the file system or a folder named like a form all mean "no form"."""
    stem = _key(deposit.stem)
    found = []
    try:
        with os.scandir(deposit.parent) as entries:
            for entry in entries:
                base, dot, suffix = entry.name.rpartition(".")
                kind = f".{suffix.lower()}"
                if dot and kind in SIDECAR_SUFFIXES and _key(base) == stem and _regular(entry):
                    found.append(
                        (SIDECAR_SUFFIXES.index(kind), entry.name != f"{deposit.stem}{kind}", entry.name)
                    )
    except (OSError, ValueError):
        return None
    return deposit.parent / min(found)[2] if found else None


def _regular(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _read_bytes(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes of a regular file (a FIFO or a device is refused, not waited on)."""
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise FormRefused("le formulaire n'est pas un fichier ordinaire")
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FormRefused(
            f"formulaire trop volumineux (plus de {MAX_BYTES // 1024} Ko) : "
            "il ne doit contenir que les champs du formulaire de dépôt"
        )
    return data


def _parse_yaml(text: str):
    """Refuse anchors, aliases and deep nesting from the parse events, before anything is built."""
    depth = 0
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise FormRefused("les ancres et alias YAML (& et *) ne sont pas admis dans un formulaire")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise FormRefused(NESTED)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return yaml.load(text, Loader=LOADER)  # no tags, no types: text only


def _parse(path: Path):
    text = _read_bytes(path).decode("utf-8-sig")
    return json.loads(text) if path.suffix.lower() == ".json" else _parse_yaml(text)


def _unreadable(exc: BaseException) -> str:
    """Why a form could not be read, in French."""
    if isinstance(exc, FormRefused):
        return str(exc)
    if isinstance(exc, RecursionError) or "nesting" in str(getattr(exc, "problem", "")):
        return NESTED
    if isinstance(exc, UnicodeDecodeError):
        return "formulaire illisible : enregistrez-le en UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"formulaire JSON mal formé (ligne {exc.lineno}, colonne {exc.colno})"
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"formulaire YAML mal formé (ligne {mark.line + 1}, colonne {mark.column + 1})"
    if isinstance(exc, OSError):
        return "le fichier du formulaire n'a pas pu être lu"
    return "formulaire mal formé : une valeur n'a pas pu être lue"


def read_form(path: Path, schema: Path, smtputf8: bool = False) -> Form:
    """The form at `path`, whatever it holds: its valid fields and its problems. Never raises.

    `smtputf8`: whether an address with accents before the @ can be written to (config.smtputf8).
    """
    try:
        data = _parse(path)
    except (OSError, ValueError, RecursionError, MemoryError, yaml.YAMLError, FormRefused) as exc:
        return Form({}, path.name, (_unreadable(exc),))
    if not isinstance(data, dict):
        return Form({}, path.name, ("le formulaire doit être une liste de champs « nom : valeur »",))
    return _validated(data, path.name, schema, smtputf8)


def check_fields(data: dict, source: str, schema: Path, smtputf8: bool = False) -> Form:
    """Fields typed on a page (the web deposit), judged exactly as a sidecar's are before one is written."""
    return _validated(data, source, schema, smtputf8)


def _text(value) -> bool:
    """A string that is real text: a lone surrogate ("\\ud800" in JSON) encodes to nothing."""
    return isinstance(value, str) and not any("\ud800" <= c <= "\udfff" for c in value)


def _readable(value) -> str:
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _as_text(value):
    """A whole number where text is expected (an EJ or a telephone typed without quotes) is that text."""
    return str(value) if type(value) is int else value


def titles(schema: Path) -> dict[str, str]:
    """Each field's label on the portal (the schema's titles)."""
    return {k: v["title"] for k, v in validator(schema).schema["properties"].items() if "title" in v}


def _validated(data: dict, source: str, schema: Path, smtputf8: bool) -> Form:
    """Keep the fields the schema accepts, addresses in their ASCII form; report the others."""
    named = titles(schema)
    problems = [f"un nom de champ non admis a été reçu : {shown(_readable(k))}" for k in data if not _text(k)]
    broken = [k for k, v in data.items() if _text(k) and isinstance(v, str) and not _text(v)]
    problems += [f"{label(k, named)} : caractère invalide reçu (texte mal encodé)" for k in broken]
    fields = {k: _as_text(v) for k, v in data.items() if _text(k) and k not in broken}
    found = check(schema, fields, lambda error: said(error, named))
    failed = {p.path for p in found}
    problems += [p.message for p in found]
    located = [(p.path, p.message) for p in found if p.path in fields]
    valid = {k: v for k, v in fields.items() if field_path([k]) not in failed}
    for name in ADDRESS_FIELDS:
        if "@" in str(valid.get(name, "")):
            try:
                valid[name] = address.check(valid[name], smtputf8)
            except address.AddressError as exc:
                problems.append(
                    f"{label(name, named)} : l'adresse reçue dans le formulaire, {shown(valid[name])}, n'est pas utilisable : {exc}"
                )
                located.append((name, problems[-1]))
                del valid[name]
    refused = frozenset(k for k in map(_readable, data) if k not in valid) - {""}
    return Form(valid, source, tuple(problems), refused, tuple(located))
