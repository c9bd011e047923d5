"""The deposit form's problems in the portal's own words, with what was received.

The depositor filled the form "Dépôt des conventions" on the buyer portal: they
know its labels ("Code service Chorus", "Votre référence de commande"), not the
keys of the sidecar file, and they cannot edit it once submitted. So each
problem names the field by its label (the schema's `title`), quotes what was
received (one line, capped), and never asks to shorten or fix the form. No
schema key and no jsonschema sentence reaches a person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .untrusted import quoted

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

KINDS = {"object": "une liste de champs", "array": "une liste de valeurs"}
RECEIVED = (
    "la valeur reçue dans le formulaire"  # said of every value quoted: the depositor's, never the Resah's
)


def label(name: str, titles: dict[str, str]) -> str:
    """A field as the portal names it; a field the portal does not have is named as it was received."""
    title = titles.get(name)
    return f"« {title} »" if title else f"le champ {quoted(name)} (inconnu du formulaire du portail)"


def _received(value) -> str:
    if isinstance(value, dict):
        return KINDS["object"]
    if isinstance(value, list | tuple | set):
        return KINDS["array"]
    if value is None or value == "":
        return "une valeur vide"
    return quoted(str(value))


def _missing(error: ValidationError, titles: dict[str, str]) -> str:
    names = [f for f in error.validator_value if f not in (error.instance or {})]
    fields = ", ".join(label(f, titles) for f in names)
    return f"{fields} : non renseigné" + ("s" if len(names) > 1 else "")


def _too_long(error: ValidationError, field: str) -> str:
    if "propertyNames" in error.schema_path:
        return f"un nom de champ trop long a été reçu : {quoted(error.instance)}"
    return (
        f"{field} : {RECEIVED} est trop longue ({len(error.instance)} caractères, "
        f"{error.validator_value} au plus) : {quoted(error.instance)}"
    )


def _pattern(error: ValidationError, field: str) -> str:
    if not str(error.instance).strip():  # the portal sent the field empty: nothing to quote
        return f"{field} : vide"
    examples = error.schema.get("examples")
    hint = f" (par exemple {examples[0]})" if examples else ""
    return f"{field} : {RECEIVED}, {quoted(str(error.instance))}, n'est pas au format attendu{hint}"


def said(error: ValidationError, titles: dict[str, str]) -> str:
    """One problem of the form, for a person: the field's label, what was received, what is wrong."""
    v, value = error.validator, error.instance
    path = list(error.absolute_path)
    field = label(str(path[0]), titles) if path else "le formulaire"
    if v == "required":
        return _missing(error, titles)
    if v == "maxProperties":
        return f"le formulaire compte trop de champs ({len(value)}, {error.validator_value} au plus)"
    if v == "maxLength":
        return _too_long(error, field)
    if v == "oneOf" and error.context:
        return said(min(error.context, key=lambda e: len(e.message)), titles)
    if v in ("minLength", "minItems") or (v == "type" and value is None):
        return f"{field} : vide"
    if v == "type":
        expected = (
            "un texte est attendu" if error.validator_value == "string" else "une valeur simple est attendue"
        )
        return f"{field} : {expected} ; reçu dans le formulaire : {_received(value)}"
    if v == "not":
        return f"{field} : {RECEIVED} contient un retour à la ligne ou un caractère invisible ({_received(value)})"
    if v == "pattern":
        return _pattern(error, field)
    if v == "format":
        why = f" : {error.cause}" if error.cause else ""
        return f"{field} : l'adresse reçue dans le formulaire, {_received(value)}, n'est pas valide{why}"
    return f"{field} : {RECEIVED}, {_received(value)}, n'est pas admise"
