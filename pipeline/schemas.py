"""JSON Schema validation with French messages located by field path."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
from jsonschema.exceptions import ValidationError

from .errors import ConfigError, Problem


@cache
def validator(path: Path) -> jsonschema.Draft202012Validator:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} : schéma illisible ({exc})") from exc
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def field_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: ValidationError) -> str:
    v, value = error.validator, error.instance
    if v == "required":
        missing = [f for f in error.validator_value if f not in (value or {})]
        return f"champ obligatoire manquant : {', '.join(missing)} — ajoutez-le"
    if v in ("additionalProperties", "unevaluatedProperties"):
        return f"champ non prévu ({error.message.split('(')[-1].rstrip(')')}) — vérifiez l'orthographe"
    if v in ("enum", "const"):
        allowed = error.validator_value if v == "enum" else [error.validator_value]
        return f"valeur {value!r} non admise ; valeurs possibles : {', '.join(map(str, allowed))}"
    if v == "type":
        return f"valeur {value!r} de type incorrect (attendu : {error.validator_value})"
    if v == "pattern":
        return f"valeur {value!r} mal formée"
    if v == "format":
        return f"valeur {value!r} n'est pas un(e) {error.validator_value} valide"
    if v in ("minimum", "exclusiveMinimum"):
        return f"valeur {value!r} trop petite (minimum {error.validator_value})"
    if v in ("minItems", "minLength", "minProperties"):
        return "valeur vide : renseignez ce champ"
    if v == "oneOf" and error.context:
        return _message(min(error.context, key=lambda e: len(e.message)))
    return error.message


def check(schema: Path, data) -> list[Problem]:
    """Every schema violation of `data`, as problems sorted by field path."""
    errors = sorted(validator(schema).iter_errors(data), key=lambda e: list(map(str, e.path)))
    return [Problem(field_path(e.absolute_path), _message(e)) for e in errors]
