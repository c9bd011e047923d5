"""Completeness rules: each rule in one place, each yielding the design's codes.

A rule is a plain function of what was read; it returns findings whose
French messages tell the depositor what to send.
"""

from __future__ import annotations

import re

from .classify import ANNEX, CONVENTION, PURCHASE_ORDER, Classified, principal
from .dues import Due as Due
from .dues import expected_due as expected_due
from .facts import Facts
from .form import Form
from .markets import markets_named
from .money import format_eur
from .problems import Catalogue, Finding
from .sirets import is_valid
from .untrusted import quoted
from .variants import Variant

NAME_QUOTE = 80  # characters of a file name from the deposit shown in a message
REQUIRED, FORM_REFERENCE_SUFFICES = "required", "form_reference_suffices"  # config: order_document
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]{2,28}[A-Za-z0-9]")  # an EJ or order number, as typed
FORM_PROBLEMS = 8  # listed in full; the rest are counted
ABSENT = {  # the problem that says a dossier's document is absent, by its role
    CONVENTION: "convention_missing", ANNEX: "annex_missing", PURCHASE_ORDER: "purchase_order_missing",
}  # fmt: skip


def presence(
    docs: list[Classified], due: Due | None, cat: Catalogue, form: Form | None = None, policy: str = REQUIRED
) -> list[Finding]:
    """The documents a dossier needs; for its order, the form's reference may do (config: order_document)."""
    roles = {d.role for d in docs}
    found = [cat.finding(ABSENT[role]) for role in (CONVENTION, ANNEX) if role not in roles]
    return found + ([] if PURCHASE_ORDER in roles else _order_missing(due, cat, form, policy))


def _order_missing(due: Due | None, cat: Catalogue, form: Form | None, policy: str) -> list[Finding]:
    """No order document: asked for, unless the form gives a plausible reference and the policy lets it do."""
    certain = due is not None and due.certain and due.amount
    expected = (
        f"montant attendu : {format_eur(due.amount)}" if certain else "contribution au titre de la convention"
    )
    amount = (
        f"de {format_eur(due.amount)} (montant de votre contribution)" if certain else "de votre contribution"
    )
    reference = plausible_reference(form.get("reference_commande") if form else None)
    if reference is None:
        return [cat.finding(ABSENT[PURCHASE_ORDER], expected, due=amount)]
    if policy == FORM_REFERENCE_SUFFICES:
        return []
    return [
        cat.finding(
            ABSENT[PURCHASE_ORDER],
            expected,
            "form_reference",
            due=amount,
            reference=reference_fr(reference),
        )
    ]


def reference_fr(reference: str) -> str:
    """A plausible reference as people say it: digits are a Chorus EJ, anything else a bon de commande."""
    return f"l'EJ n° {reference}" if reference.isdigit() else f"le bon de commande n° {reference}"


def plausible_reference(text: str | None) -> str | None:
    """The form's "référence de commande" when it can be an EJ or a bon de commande number, spaces
    squeezed: 4 to 30 letters, digits and separators (- / . _ space), at least 4 digits, not one
    character repeated ("0000000000"). "En cours", "voir PJ" or "N/A" are no reference."""
    said = " ".join((text or "").split())
    if not REFERENCE.fullmatch(said) or sum(c.isdigit() for c in said) < 4:
        return None
    return said if len(set(said) - set(" -/._")) > 1 else None


def known_variant(docs: list[Classified], facts: Facts, cat: Catalogue) -> list[Finding]:
    if not any(d.role == CONVENTION for d in docs) or facts.variant:
        return []
    detail = f"accord-cadre n° {facts.framework}" if facts.framework else "accord-cadre et lot illisibles"
    return [cat.finding("convention_unknown", detail)]


def signed(docs: list[Classified], facts: Facts, cat: Catalogue) -> list[Finding]:
    if not any(d.role == CONVENTION for d in docs) or (facts.signature and facts.signature.signed):
        return []
    detail = facts.signature.detail if facts.signature else "aucune signature"
    return [cat.finding("convention_unsigned", detail)]


def siret_checks(facts: Facts, form: Form | None, cat: Catalogue) -> list[Finding]:
    findings, invalid = [], []
    for doc, number in facts.sirets:
        if not is_valid(number) and number not in invalid:
            invalid.append(number)
            findings.append(cat.finding("siret_invalid", f"{number} (dans {quoted(doc, NAME_QUOTE)})"))
    if not facts.siret or facts.siret in invalid:
        return findings
    by_doc: dict[str, set[str]] = {}
    for doc, number in facts.sirets:
        if number not in invalid:
            by_doc.setdefault(doc, set()).add(number)
    mandate = len(facts.annex_rows) > 1
    for doc, numbers in by_doc.items():
        is_annex = any(r.siret in numbers for r in facts.annex_rows)
        if facts.siret not in numbers and not (is_annex and mandate):
            findings.append(
                cat.finding(
                    "siret_mismatch",
                    f"SIRET {facts.siret} sur la convention, {', '.join(sorted(numbers))} dans {quoted(doc, NAME_QUOTE)}",
                )
            )
    form_siret = (form.siret or "") if form else ""
    if form_siret and form_siret != facts.siret:
        findings.append(
            cat.finding(
                "siret_mismatch", f"SIRET {facts.siret} sur la convention, {form_siret} dans le formulaire"
            )
        )
    return findings


def contract(facts: Facts, form: Form | None, variants: dict[str, Variant], cat: Catalogue) -> list[Finding]:
    number = form.get("numero_marche") if form else None
    if not number or not facts.variant:
        return []
    if any(m.names(variants[facts.variant].market) for m in markets_named(number)):
        return []
    return [
        cat.finding(
            "contract_mismatch",
            f"{quoted(number)} ; convention : {variants[facts.variant].label}",
        )
    ]


def amount(docs: list[Classified], facts: Facts, due: Due | None, cat: Catalogue) -> list[Finding]:
    """The order's own total against the contribution due; an unclear order is said to be unclear."""
    order = principal(docs, PURCHASE_ORDER)
    if order is None or due is None or order.doc.scanned or (due.certain and due.amount is None):
        return []
    if facts.amount_paid is None:
        detail = facts.amount_doubt or "aucun montant de la commande lu"
        if due.certain:
            detail += f" ; contribution due : {format_eur(due.amount)}"
        return [cat.finding("amount_mismatch", detail, scope="ambiguous")]
    if due.certain and facts.amount_paid != due.amount:
        return [
            cat.finding(
                "amount_mismatch", f"{format_eur(facts.amount_paid)} au lieu de {format_eur(due.amount)}"
            )
        ]
    return []


def readable(docs: list[Classified], cat: Catalogue) -> list[Finding]:
    """A document that cannot be read is set aside; the depositor is asked to send it again."""
    return [
        cat.finding("archive_corrupt", quoted(d.doc.name, NAME_QUOTE), scope="document")
        for d in docs
        if d.doc.error
    ]


def form_checks(form: Form | None, cat: Catalogue) -> list[Finding]:
    """One finding listing the form's problems; each quotes its value capped (pipeline/schemas.py)."""
    if form is None or not form.problems:
        return []
    told = list(form.problems[:FORM_PROBLEMS])
    if len(form.problems) > FORM_PROBLEMS:
        told.append(f"et {len(form.problems) - FORM_PROBLEMS} autre(s) problème(s)")
    return [cat.finding("form_invalid", " ; ".join(told), fields="\n".join(told))]  # the notice: one a line
