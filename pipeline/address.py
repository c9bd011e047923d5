"""E-mail addresses given by people: exactly one, checked by email-validator, in ASCII form.

The library decides whether an address is valid (syntax only, never DNS).
This module only says why in French. The local part must be ASCII: see
`check`. IDN domains are accepted and kept in their ASCII (IDNA) form.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254  # RFC 5321 path limit, as email-validator counts it
EXAMPLE = "achats@mairie.fr"


class AddressError(ValueError):
    """An address that cannot be used; the message is French and says what to write instead."""


def check(value: str) -> str:
    """The address in its ASCII form, or AddressError.

    A non-ASCII local part ("élodie@…") is refused whatever the relay: the
    verdict on a deposit must not depend on how mail leaves the Resah, and an
    address that only some relays (SMTPUTF8) carry would leave the depositor
    without the notice. Spaces around the address are forgiven.
    """
    try:
        result = validate_email(
            value.strip(" "),
            check_deliverability=False,
            allow_smtputf8=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        raise AddressError(_why(value.strip(" "))) from exc
    return result.ascii_email


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
        (not local.isascii(), "lettres accentuées avant le « @ » : beaucoup de messageries les refusent"),
        ("." not in domain, "il manque le domaine complet après le « @ » (par exemple mairie.fr)"),
    )  # fmt: skip
    reason = next((text for hit, text in reasons if hit), "adresse mal formée")
    return f"{reason} ; écrivez une seule adresse, de la forme {EXAMPLE}"
