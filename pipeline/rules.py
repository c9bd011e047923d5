"""Completeness rules: each rule in one place, each yielding the design's codes.

A rule is a plain function of what was read; it returns findings whose
French messages tell the depositor what to send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from stdnum.fr import siret as siret_number

from .classify import ANNEX, CONVENTION, PURCHASE_ORDER, Classified
from .facts import Facts
from .form import Form
from .money import format_eur
from .problems import Catalogue, Finding
from .register import Registered
from .tariff import GROUPEMENT, infer_typology
from .textnorm import fold, key
from .untrusted import quoted
from .variants import Variant

FORM_PROBLEMS = 8  # listed in full; the rest are counted
MARKET_RE = re.compile(r"(20\d{2}-[a-z]?\d{3})(?:-(\d{3}))?(?:\D{0,12}lot\s*(?:n\s*[°o]\s*)?(\d{1,3}))?")


@dataclass(frozen=True)
class Due:
    """The contribution the purchase order should carry, and where it comes from."""

    amount: Decimal | None  # None: "sur devis", nothing to compare
    basis: str


def market(variant: Variant) -> tuple[str, int | None]:
    """(procedure, lot): 2021-047-001 is lot 1 of procedure 2021-047, as the Resah numbers them."""
    parts = variant.framework_agreement.split("-")
    if len(parts) == 3:
        return "-".join(parts[:2]), int(parts[2])
    return variant.framework_agreement, variant.lot


def markets_named(text: str) -> list[tuple[str, int | None]]:
    found = []
    for procedure, lot3, lot in MARKET_RE.findall(fold(text)):
        number = lot3 or lot
        found.append((procedure, int(number) if number else None))
    return found


def presence(docs: list[Classified], due: Due | None, cat: Catalogue) -> list[Finding]:
    roles = {d.role for d in docs}
    expected = (
        f"montant attendu : {format_eur(due.amount)}"
        if due and due.amount
        else "contribution au titre de la convention"
    )
    return [
        cat.finding(code, expected if code == "purchase_order_missing" else "")
        for role, code in (
            (CONVENTION, "convention_missing"),
            (ANNEX, "annex_missing"),
            (PURCHASE_ORDER, "purchase_order_missing"),
        )
        if role not in roles
    ]


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
        if not siret_number.is_valid(number) and number not in invalid:
            invalid.append(number)
            findings.append(cat.finding("siret_invalid", f"{number} (dans « {doc} »)"))
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
                    f"SIRET {facts.siret} sur la convention, {', '.join(sorted(numbers))} dans « {doc} »",
                )
            )
    form_siret = "".join((form.get("siret") or "").split()) if form else ""
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
    procedure, lot = market(variants[facts.variant])
    named = markets_named(number)
    if any(p == procedure and (n is None or n == lot) for p, n in named):
        return []
    return [
        cat.finding(
            "contract_mismatch",
            f"{quoted(number)} ; convention : {variants[facts.variant].label}",
        )
    ]


def _row_for_text(tariff, text: str):
    """The tariff row a label or a name designates: the exact label, else its typology."""
    exact = {key(r.label): r for r in tariff.rows}.get(key(text))
    if exact:
        return exact
    inferred = infer_typology(fold(text))
    if inferred is None or (inferred[0] == "commune" and inferred[1] is None):
        return None
    return tariff.row_for(*inferred)


def expected_due(facts: Facts, registered: Registered | None, variants: dict[str, Variant]) -> Due | None:
    """From the register when rendering knew the signatory, else from the annex, else from the name."""
    if not facts.variant:
        return None
    if registered:
        known, amount = registered.due(facts.variant)
        if known:
            return Due(amount, "registre des signataires")
    tariff = variants[facts.variant].tariff
    total = _row_for_text(tariff, facts.annex_total_label) if facts.annex_total_label else None
    if total is not None and total.typology == GROUPEMENT:
        return Due(total.amount, f"annexe : {total.label}")
    rows = [_row_for_text(tariff, r.typology) for r in facts.annex_rows]
    if not rows and facts.signatory:
        rows = [_row_for_text(tariff, facts.signatory)]
    if not rows or None in rows:
        return None
    if any(r.amount is None for r in rows):
        return Due(None, "sur devis")
    basis = "annexe" if facts.annex_rows else "dénomination du signataire"
    return Due(
        sum((r.amount for r in rows), Decimal("0")), f"{basis} : {', '.join(sorted({r.label for r in rows}))}"
    )


def amount(docs: list[Classified], facts: Facts, due: Due | None, cat: Catalogue) -> list[Finding]:
    order = next((d for d in docs if d.role == PURCHASE_ORDER), None)
    if order is None or due is None or due.amount is None or order.doc.scanned:
        return []
    if facts.amount_paid is None:
        return [
            cat.finding(
                "amount_mismatch", f"aucun montant lisible ; contribution due : {format_eur(due.amount)}"
            )
        ]
    if facts.amount_paid != due.amount:
        return [
            cat.finding(
                "amount_mismatch", f"{format_eur(facts.amount_paid)} au lieu de {format_eur(due.amount)}"
            )
        ]
    return []


def readable(docs: list[Classified], cat: Catalogue) -> list[Finding]:
    """A document that cannot be read is set aside; the depositor is asked to send it again."""
    return [
        cat.finding("archive_corrupt", f"« {d.doc.name} »", scope="document") for d in docs if d.doc.error
    ]


def form_checks(form: Form | None, cat: Catalogue) -> list[Finding]:
    """One finding listing the form's problems; each quotes its value capped (pipeline/schemas.py)."""
    if form is None or not form.problems:
        return []
    told = list(form.problems[:FORM_PROBLEMS])
    if len(form.problems) > FORM_PROBLEMS:
        told.append(f"et {len(form.problems) - FORM_PROBLEMS} autre(s) problème(s)")
    return [cat.finding("form_invalid", " ; ".join(told))]
