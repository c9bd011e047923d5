"""E-mail addresses given by people: exactly one, checked by email-validator, in ASCII form.

The library decides whether an address is valid (syntax only, never DNS).
This module only says why in French. IDN domains are accepted and kept in
their ASCII (IDNA) form; a local part with accents ("élodie@…") only where
the mail can carry it (SMTPUTF8): see `check`.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254  # RFC 5321 path limit, as email-validator counts it
EXAMPLE = "achats@mairie.fr"
ACCENTS = "lettres accentuées avant le « @ »"
WRITE = f"écrivez une seule adresse, de la forme {EXAMPLE}"


class AddressError(ValueError):
    """An address that cannot be used; the message is French and says what to write instead."""


def check(value: str, smtputf8: bool = False) -> str:
    """The address in its ASCII form when it has one, or AddressError.

    A local part with accents ("élodie@…") is accepted only when `smtputf8`:
    the Maildirs, or a relay configured as carrying SMTPUTF8. Elsewhere the
    notice could never leave, so the depositor is told at once, through the
    form's problems. Spaces around the address are forgiven.
    """
    try:
        result = validate_email(
            value.strip(" "),
            check_deliverability=False,
            allow_smtputf8=True,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        raise AddressError(_why(value.strip(" "))) from exc
    if result.ascii_email:
        return result.ascii_email
    if not smtputf8:
        raise AddressError(f"{ACCENTS} : notre messagerie ne peut pas les acheminer ; {WRITE}")
    return result.normalized


def _why(value: str) -> str:
    """The likeliest reason, in French, for an address the library refused."""
    local, _, domain = value.rpartition("@")
    reasons = (
        (not value, "adresse vide"),
        (any(c < " " or "\x7f" <= c <= "\x9f" or c in "\u2028\u2029" for c in value),
         "retour à la ligne ou caractère invisible dans l'adresse"),
        (len(value) > MAX_LENGTH, f"adresse trop longue (plus de {MAX_LENGTH} caractères)"),
        ("<" in value or ">" in value or '"' in value,
         "indiquez l'adresse seule, sans nom ni chevrons"),
        (any(c in value for c in ",;") or value.count("@") > 1,
         "une seule adresse est admise, pas une liste"),
        ("(" in value or ")" in value, "les commentaires entre parenthèses ne sont pas admis"),
        (any(c.isspace() for c in value), "l'adresse ne doit pas contenir d'espace"),
        ("@" not in value, "il manque le « @ »"),
        (not local, "il manque la partie avant le « @ »"),
        (not local.isascii(), f"{ACCENTS} : beaucoup de messageries les refusent"),
        ("." not in domain, "il manque le domaine complet après le « @ » (par exemple mairie.fr)"),
    )  # fmt: skip
    reason = next((text for hit, text in reasons if hit), "adresse mal formée")
    return f"{reason} ; {WRITE}"
