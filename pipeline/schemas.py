"""JSON Schema validation with French messages located by field path.

Messages quote the offending value capped and on one line (pipeline/untrusted.py):
a 60 KB value, or one with line breaks, is never echoed back as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from difflib import get_close_matches
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, Problem
from .untrusted import FIELD_QUOTE, one_line, quoted

UNKNOWN = ("additionalProperties", "unevaluatedProperties")
if TYPE_CHECKING:  # jsonschema and email-validator are imported by the first validation (0.2 s)
    import jsonschema
    from jsonschema.exceptions import ValidationError

RANK = {"required": 0, "type": 1, "not": 2, "maxLength": 3}  # the one problem told per field
FORMAT_FR = {"date": "une date AAAA-MM-JJ", "date-time": "une date et une heure", "uri": "une adresse web"}
TYPE_FR = {"string": "un texte", "integer": "un nombre entier", "number": "un nombre", "boolean": "vrai ou faux",
           "object": "une liste de champs", "array": "une liste", "null": "rien"}  # fmt: skip


def _format_checker() -> jsonschema.FormatChecker:
    """The draft's checks, except "email": one address, checked by email-validator (its syntax only)."""
    import jsonschema

    from . import address

    checker = jsonschema.FormatChecker(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("email", raises=address.AddressError)(
        lambda value: not isinstance(value, str) or bool(address.check(value, smtputf8=True))
    )
    return checker


@cache
def validator(path: Path) -> jsonschema.Draft202012Validator:
    import jsonschema

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} : schéma illisible ({exc})") from exc
    return jsonschema.Draft202012Validator(schema, format_checker=_format_checker())


def field_path(parts) -> str:
    """Where a problem is, as people read it; names from the input are put on one line and capped."""
    out = ""
    for part in parts:
        name = one_line(str(part), FIELD_QUOTE)
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out


def shown(value) -> str:
    """A value as people may see it: a scalar quoted and capped, a list or mapping only named."""
    if isinstance(value, dict):
        return "une liste de champs"
    if isinstance(value, list | tuple | set):
        return "une liste"
    if value is None or isinstance(value, bool | int | float):
        return quoted(json.dumps(value))
    return quoted(str(value))


def _wrong_type(value, spec) -> str:
    kinds = [spec] if isinstance(spec, str) else spec
    expected = TYPE_FR.get(kinds[0], kinds[0]) if len(kinds) == 1 else "une valeur simple (texte ou nombre)"
    expected += " est attendue" if expected.startswith("une ") else " est attendu"
    if value is None:
        return "valeur vide : renseignez ce champ"
    if isinstance(value, dict | list | tuple | set):
        return f"{shown(value)} n'est pas admise ici : {expected}"
    hint = " (mettez-la entre guillemets)" if kinds == ["string"] else ""
    return f"valeur {shown(value)} de type incorrect : {expected}{hint}"


def _length(error: ValidationError) -> str:
    if "propertyNames" in error.schema_path:
        return f"nom de champ trop long ({shown(error.instance)}, {error.validator_value} caractères au plus)"
    return f"valeur trop longue ({len(error.instance)} caractères, {error.validator_value} au plus) : raccourcissez-la"


def _unknown_fields(value, known: dict) -> str:
    """Fields the schema does not have, each with the known one it was probably meant to be."""
    extra = sorted(set(value) - set(known)) if isinstance(value, dict) else []
    said = []
    for name in extra[:5]:
        near = get_close_matches(str(name), list(known), n=1)
        said.append(shown(str(name)) + (f" (vouliez-vous dire {near[0]} ?)" if near else ""))
    return f"champ{'s' if len(said) > 1 else ''} inconnu{'s' if len(said) > 1 else ''} : {', '.join(said)} — vérifiez l'orthographe"


INVISIBLE_FR = {  # the characters a schema refuses as unseen, by what a person would call them
    "\t": "tabulation", "\n": "retour à la ligne", "\r": "retour chariot", "\x00": "caractère nul",
    "\u00ad": "trait d'union conditionnel", "\u200b": "espace sans largeur", "\u200c": "antiliant sans largeur",
    "\u200d": "liant sans largeur", "\u200e": "marque gauche-à-droite", "\u200f": "marque droite-à-gauche",
    "\u2028": "séparateur de lignes", "\u2029": "séparateur de paragraphes",
    "\u202a": "enchâssement gauche-à-droite", "\u202b": "enchâssement droite-à-gauche",
    "\u202c": "fin d'enchâssement", "\u202d": "forçage gauche-à-droite", "\u202e": "forçage droite-à-gauche",
    "\u2060": "gluon de mots", "\u2066": "isolat gauche-à-droite", "\u2067": "isolat droite-à-gauche",
    "\u2068": "isolat de première force", "\u2069": "fin d'isolat", "\ufeff": "indicateur d'ordre des octets",
}  # fmt: skip


def _invisible(value: str, pattern: str) -> str:
    """Which unseen character a text holds, and where: "U+202E" alone would leave the clerk looking."""
    import re

    found = re.search(pattern, value) if pattern else None
    if found is None:
        return "retour à la ligne ou caractère invisible dans la valeur : écrivez-la sur une seule ligne"
    char = found.group()
    name = INVISIBLE_FR.get(char, "caractère de contrôle")
    return (
        f"caractère invisible dans la valeur : {name} (U+{ord(char):04X}), en position {found.start() + 1}"
        f" après « {one_line(value[: found.start()], 300)[-30:]} » — retirez-le (retapez la valeur au clavier)"
    )


def _message(error: ValidationError) -> str:
    v, value = error.validator, error.instance
    if v == "required":
        missing = [f for f in error.validator_value if f not in (value or {})]
        if len(missing) > 1:
            return f"champs obligatoires manquants : {', '.join(missing)} — ajoutez-les"
        return f"champ obligatoire manquant : {', '.join(missing)} — ajoutez-le"
    if v in ("additionalProperties", "unevaluatedProperties"):
        return _unknown_fields(value, error.schema.get("properties", {}))
    if v in ("enum", "const"):
        allowed = error.validator_value if v == "enum" else [error.validator_value]
        return f"valeur {shown(value)} non admise ; valeurs possibles : {', '.join(map(str, allowed))}"
    if v == "type":
        return _wrong_type(value, error.validator_value)
    if v == "pattern":
        return f"valeur {shown(value)} mal formée"
    if v == "not" and isinstance(value, str):
        return _invisible(value, error.validator_value.get("pattern", ""))
    if v == "format" and error.validator_value == "email":
        return f"adresse électronique {shown(value)} non valide : {error.cause or 'adresse mal formée'}"
    if v == "format":
        what = FORMAT_FR.get(error.validator_value, f"au format {error.validator_value}")
        return f"valeur {shown(value)} non valide : {what} est attendue"
    if v in ("minimum", "exclusiveMinimum"):
        return f"valeur {shown(value)} trop petite (minimum {error.validator_value})"
    if v in ("maximum", "exclusiveMaximum"):
        return f"valeur {shown(value)} trop grande (maximum {error.validator_value})"
    if v in ("minItems", "minLength", "minProperties"):
        return "valeur vide : renseignez ce champ"
    if v == "maxLength":
        return _length(error)
    if v in ("maxProperties", "maxItems"):
        return f"trop d'éléments ({len(value)}, {error.validator_value} au plus)"
    if v == "oneOf" and error.context:
        return _message(min(error.context, key=lambda e: len(e.message)))
    if v == "uniqueItems":
        return "une même valeur figure deux fois dans la liste : gardez-en une"
    return f"valeur {shown(value)} non admise ici"  # never jsonschema's English


def check(schema: Path, data, wording: Callable[[ValidationError], str] = _message) -> list[Problem]:
    """The first violation of each field of `data` (type, then characters, then length), by field path;
    `wording` says it (the deposit form has its own, in the portal's words: pipeline/form_words.py)."""
    first: dict[tuple[str, bool], ValidationError] = {}
    for error in validator(schema).iter_errors(data):
        where = (field_path(error.absolute_path), error.validator in UNKNOWN)  # a misspelt field is said too
        if where not in first or _rank(error) < _rank(first[where]):
            first[where] = error
    return [Problem(where[0], wording(first[where])) for where in sorted(first)]


def _rank(error: ValidationError) -> int:
    return RANK.get(error.validator, len(RANK))
