"""The signed bulletin d'adhésion: what it says, and whether the membership is paid for.

The bulletin is not a convention: one per signatory and civil year, with its own fee (by the
sector box ticked, templates/csac/membership.yaml) and its own order. That order must never be
taken for a contribution's, nor a contribution's for it. An order pays the membership when it
bears the EJ written on the bulletin, when its text names the adhésion and no accord-cadre, or
when its amount is the fee and no contribution due could explain it; when two orders could, or
one could be either, csac says so rather than guess. An EJ written on the bulletin stands for
the order. After the cut-off (31 October) nothing is due for the year, but the next year's order
is, and every message says so. Pure functions: the caller gives the documents and the date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .classify import CONVENTION_TITLE, Classified
from .facts import BOX_RE, CHECKED_RE, labelled_sirets
from .markets import markets_named
from .money import format_eur
from .orders import order_number, read_order_amount
from .problems import Catalogue, Finding
from .signature import SignatureCheck
from .tariff import MembershipFee, MembershipTariff
from .textnorm import fold, key
from .untrusted import quoted

MEDICO_SOCIAL, AUTRE, NONE, BOTH = "medico_social", "autre", "none", "both"
SECTORS = (("etablissement du secteur medico", MEDICO_SOCIAL), ("autre organisme", AUTRE))
SECTOR_FR = {MEDICO_SOCIAL: "établissement du secteur médico-social", AUTRE: "autre organisme"}
UNCLEAR_FR = {NONE: "aucune case cochée", BOTH: "les deux cases cochées"}
TYPED_TICK_RE = re.compile(r"^x\s+")  # "X Autre organisme": a box ticked by typing an X before it
YEAR_RE = re.compile(r"bulletin d'?\s?adhesion (20\d\d)|annee civile (20\d\d)")
NAME_RE = re.compile(r"^nom de l.\s?[ée]tablissement\b\s*:?\s*(.*)$", re.I)
AFTER_NAME_RE = re.compile(r"^(adresse|n°\s*sire|n°\s*finess|informations relatives)", re.I)
NAME_LINES = 3  # a long name wraps over a few lines before the address
EJ_RE = re.compile(r"engagement juridique\s*(?:\(\s*ej\s*\))?\s*:\s*(.*)$", re.I | re.M)
CODE_SERVICE_RE = re.compile(r"^code service(?: chorus)?\s*:\s*(.*)$", re.I | re.M)
BLANK_RE = re.compile(r"^[\s.…_]+|[\s.…_]+$")  # the form's dotted line, left as printed or around a value
MEMBERSHIP_RE = re.compile(r"\b(adhesion|cotisation)\b")
CONTRIBUTION_RE = re.compile(r"\bcsac\b")
NAME_QUOTE = 60


@dataclass(frozen=True)
class BulletinFacts:
    """What a bulletin says: who joins, for which year, in which sector, and how it is paid."""

    year: int | None  # the year printed in its title
    siret: str | None
    name: str | None
    sector: str  # medico_social, autre, none or both: the box(es) ticked
    order_number: str | None  # the EJ written on the bulletin instead of an order
    code_service: str | None
    signature: SignatureCheck
    scanned: bool = False  # an image: its boxes cannot be read, a person checks them

    @property
    def medico_social(self) -> bool | None:
        """The fee's sector; None when the boxes do not say it."""
        return {MEDICO_SOCIAL: True, AUTRE: False}.get(self.sector)


@dataclass(frozen=True)
class MembershipOrder:
    """The order that pays the membership, or why none can be said to."""

    order: Classified | None = None
    doubt: str | None = None


@dataclass(frozen=True)
class BulletinCheck:
    facts: BulletinFacts
    fee: MembershipFee | None  # None: the sector is not known, so neither is the fee
    order: Classified | None  # the deposit's order that pays the membership: no contribution's
    findings: tuple[Finding, ...]


def read_bulletin(doc: Classified) -> BulletinFacts:
    text = doc.doc.text
    sirets = labelled_sirets(text)
    return BulletinFacts(
        year=_year(text),
        siret=sirets[0] if sirets else None,
        name=_name(text.splitlines()),
        sector=sector(text),
        order_number=_written(EJ_RE, text, digits=True),
        code_service=_written(CODE_SERVICE_RE, text),
        signature=doc.doc.signature,
        scanned=doc.doc.scanned,
    )


def sector(text: str) -> str:
    """Which of the two boxes is ticked: a ticked box (☒, [x], an X typed) beside its label."""
    ticked = set()
    for line in text.splitlines():
        label = fold(BOX_RE.sub(" ", line)).strip(" :")
        typed = TYPED_TICK_RE.match(label)
        label = label[typed.end() :] if typed else label
        found = next((name for start, name in SECTORS if label.startswith(start)), None)
        if found and (typed or any(CHECKED_RE.match(m.group(0)) for m in BOX_RE.finditer(line))):
            ticked.add(found)
    return ticked.pop() if len(ticked) == 1 else (BOTH if ticked else NONE)


def _year(text: str) -> int | None:
    found = YEAR_RE.search(fold(text))
    return int(found.group(1) or found.group(2)) if found else None


def _name(lines: list[str]) -> str | None:
    """The établissement's name: after its label, on the same line or the next ones, up to the address."""
    for i, line in enumerate(lines):
        found = NAME_RE.match(line.strip())
        if found is None:
            continue
        parts = [found.group(1)] + lines[i + 1 : i + 1 + NAME_LINES]
        name = []
        for part in parts:
            if AFTER_NAME_RE.match(part.strip()):
                break
            name.append(part.strip())
        return " ".join(p for p in name if p) or None
    return None


def _written(pattern: re.Pattern, text: str, digits: bool = False) -> str | None:
    """What the depositor wrote on a field's dotted line; None when it was left blank."""
    for found in pattern.finditer(text):
        value = BLANK_RE.sub("", found.group(1))
        if value and (not digits or any(c.isdigit() for c in value)):
            return value[:50]
    return None


# -- Which order pays the membership -------------------------------------------------------------


def names_contribution(order: Classified) -> bool:
    """An order naming an accord-cadre or the convention pays a contribution, whatever else it says."""
    text = order.doc.text
    return (
        bool(markets_named(text)) or CONVENTION_TITLE in key(text) or bool(CONTRIBUTION_RE.search(fold(text)))
    )


def names_membership(order: Classified) -> bool:
    return bool(MEMBERSHIP_RE.search(fold(order.doc.text)))


def membership_order(
    orders: Sequence[Classified],
    fees: Sequence[Decimal],
    written: str | None = None,
    dues: Sequence[Decimal] = (),
) -> MembershipOrder:
    """The order paying the membership: the one bearing the EJ `written` on the bulletin; else the one
    naming the adhésion; else the one of a fee's amount (`fees`), unless a contribution is due of it
    too (`dues`). No order naming an accord-cadre is ever taken. Two candidates are a doubt."""
    if written:
        return _by_written(orders, written)
    free = [o for o in orders if not names_contribution(o)]
    worded = [o for o in free if names_membership(o)]
    return _one(worded, "citent l'adhésion") if worded else _by_amount(free, fees, dues)


def _by_written(orders: Sequence[Classified], written: str) -> MembershipOrder:
    """The EJ on the bulletin pays the membership: its order if the deposit holds it (one EJ for the
    contributions too stays theirs). An order naming the adhésion under another number contradicts it."""
    free = [o for o in orders if not names_contribution(o)]
    bearing = [o for o in free if _bears(o, written)]
    if bearing:
        return _one(bearing, f"portent le numéro d'EJ {quoted(written)} inscrit sur le bulletin")
    worded = [o for o in free if names_membership(o)]
    return MembershipOrder(doubt=_other_ej(worded[0], written)) if worded else MembershipOrder()


def _by_amount(free: list[Classified], fees: Sequence[Decimal], dues: Sequence[Decimal]) -> MembershipOrder:
    priced = [(o, v) for o in free if (v := read_order_amount(o.doc.text).value) in fees]
    if not priced:
        return MembershipOrder()
    if len(priced) == 1 and priced[0][1] in dues:
        order, amount = priced[0]
        return MembershipOrder(
            doubt=f"{_name_of(order)} est de {format_eur(amount)} : montant de l'adhésion, mais aussi d'une contribution due"
        )
    amounts = " ou ".join(format_eur(f) for f in fees)
    return _one([o for o, _ in priced], f"sont du montant de l'adhésion ({amounts})")


def _bears(order: Classified, written: str) -> bool:
    number = order_number(order.doc.text)
    return number is not None and key(number) == key(written)


def _one(found: list[Classified], why: str) -> MembershipOrder:
    if len(found) == 1:
        return MembershipOrder(found[0])
    names = ", ".join(_name_of(o) for o in sorted(found, key=lambda o: o.doc.name))
    return MembershipOrder(doubt=f"{len(found)} bons de commande {why} : {names}")


def _other_ej(order: Classified, written: str) -> str:
    number = order_number(order.doc.text)
    return (
        f"le bulletin porte le numéro d'EJ {quoted(written)}, mais {_name_of(order)}, qui cite l'adhésion, "
        + (f"porte le numéro {quoted(number)}" if number else "ne porte aucun numéro lisible")
    )


def _name_of(order: Classified) -> str:
    return quoted(order.doc.name.rsplit("/", 1)[-1], NAME_QUOTE)


# -- The checks ----------------------------------------------------------------------------------


def check_bulletin(
    bulletin: Classified,
    orders: Sequence[Classified],
    received: dt.date,
    membership: MembershipTariff,
    cat: Catalogue,
    dues: Sequence[Decimal] = (),
) -> BulletinCheck:
    """Signed; one sector, hence the fee for the date received; the order that pays it, of that fee.

    `orders` are the deposit's purchase orders; `dues`, the contributions its conventions call for
    (an order of that amount may be theirs). The order claimed is to be left out of the contributions'.
    """
    facts = read_bulletin(bulletin)
    fee = membership.fee(facts.medico_social, received) if facts.medico_social is not None else None
    fees = (fee.amount,) if fee else tuple(membership.fee(m, received).amount for m in (True, False))
    claim = membership_order(orders, fees, facts.order_number, dues)
    findings = [
        *_signed(facts, cat),
        *_sector(facts, membership, received, cat),
        *_paid(facts, fee, claim, membership, received, cat),
    ]
    return BulletinCheck(facts, fee, claim.order, tuple(findings))


def _signed(facts: BulletinFacts, cat: Catalogue) -> list[Finding]:
    if facts.signature.signed:
        return []
    return [
        cat.finding("convention_unsigned", facts.signature.detail or "aucune signature", scope="bulletin")
    ]


def _sector(facts: BulletinFacts, membership: MembershipTariff, on: dt.date, cat: Catalogue) -> list[Finding]:
    """One box, and only one, must be ticked: it sets the fee. A scan's boxes are for a person to read."""
    if facts.medico_social is not None or facts.scanned:
        return []
    detail = f"{UNCLEAR_FR[facts.sector]} ; {_either(membership, on)}"
    return [cat.finding("amount_mismatch", detail, scope="membership_sector")]


def _paid(
    facts: BulletinFacts,
    fee: MembershipFee | None,
    claim: MembershipOrder,
    membership: MembershipTariff,
    on: dt.date,
    cat: Catalogue,
) -> list[Finding]:
    if claim.doubt:
        return [cat.finding("purchase_order_missing", claim.doubt, scope="membership_unclear")]
    if claim.order is None:
        if facts.order_number:
            return []  # the EJ written on the bulletin stands for its order
        return [cat.finding("purchase_order_missing", _wanted(fee, membership, on), scope="membership")]
    paid = read_order_amount(claim.order.doc.text)
    if paid.value is None:
        detail = f"bon de commande de l'adhésion {_name_of(claim.order)} : {paid.doubt or 'aucun montant lu'}"
        return [cat.finding("amount_mismatch", detail, scope="ambiguous")]
    if fee is None or paid.value == fee.amount:
        return []
    why = "".join((SECTOR_FR[facts.sector], f", adhésion {fee.billed_year}", *_after_cutoff(fee, " ; {}")))
    detail = f"{format_eur(paid.value)} au lieu de {format_eur(fee.amount)} ({why})"
    return [cat.finding("amount_mismatch", detail, scope="membership")]


def _wanted(fee: MembershipFee | None, membership: MembershipTariff, on: dt.date) -> str:
    """The order asked for: its year and amount, and why it is next year's after the cut-off."""
    told = fee or membership.fee(False, on)
    amount = format_eur(fee.amount) if fee else _either(membership, on)
    return "".join((f"{told.billed_year}, d'un montant de {amount}", *_after_cutoff(told, " ({})")))


def _either(membership: MembershipTariff, on: dt.date) -> str:
    medico, other = (membership.fee(m, on).amount for m in (True, False))
    return f"{format_eur(medico)} pour un {SECTOR_FR[MEDICO_SOCIAL]} ou {format_eur(other)} pour un {SECTOR_FR[AUTRE]}"


def _after_cutoff(fee: MembershipFee, shape: str) -> tuple[str, ...]:
    """After the cut-off, the words saying that nothing is due for the year (`shape` places them)."""
    if not fee.after_cutoff:
        return ()
    return (
        shape.format(
            f"rien n'est dû pour {fee.year} : le bulletin a été reçu après le {fee.cutoff:%d/%m/%Y}"
        ),
    )
