"""Facts read from the classified documents of one deposit.

Everything here is read from the documents' text: nothing is trusted
from file names. The Resah's own SIRET and address, printed in every
convention and often on purchase orders, are never taken for the depositor's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .classify import ANNEX, CONVENTION, PURCHASE_ORDER, Classified
from .signature import SignatureCheck
from .textnorm import fold

RESAH_SIRET = "13000501000025"
RESAH_LINE = re.compile(r"resah|charonne", re.I)
SIRET_RE = re.compile(r"siret\W{0,12}((?:\d[ .\u00a0]?){13}\d)", re.I)
BARE_SIRET_RE = re.compile(r"(?<!\d)(\d{3}[ .\u00a0]?\d{3}[ .\u00a0]?\d{3}[ .\u00a0]?\d{5})(?!\d)")
POSTAL_RE = re.compile(r"(?<![\d.,])(\d{5})(?:\s+|\s*-\s*)(?=[A-ZÀ-Ý])")  # a city name follows, capitalised
RESAH_WINDOW = 2  # lines after "Resah"/"Charonne" that still belong to the Resah's own address
BARE_AMOUNT_RE = re.compile(r"(?<![\d,.])(\d{1,3}(?:[ .\u00a0\u202f]\d{3})+|\d+),(\d{2})(?![\d])")
AMOUNT_RE = re.compile(
    r"(?<![\d,.])(\d{1,3}(?:[ .\u00a0\u202f]\d{3})+|\d+)(?:[,.](\d{2}))?\s*(?:€|eur\b|euros?\b)", re.I
)
DENOMINATION_RE = re.compile(r"denomination de la collectivite\s*:\s*(.+)", re.I)
ORDER_PATTERNS = (
    re.compile(
        r"(?:n°|no|num[eé]ro|num\.?)\s*(?:d['’]\s*)?(?:engagement juridique|ej)\s*[:\-]?\s*([^\s:][^\n]{0,49})",
        re.I,
    ),
    re.compile(r"(?:engagement juridique|\bej\b)\s*(?:n°|no)?\s*[:\-]\s*([^\s:][^\n]{0,49})", re.I),
    re.compile(r"(?:bon de commande|commande)\s*(?:n°|no|num[eé]ro)\s*[:\-]?\s*([^\s:][^\n]{0,49})", re.I),
)
ORDER_STOP = re.compile(r"\s{2,}|\s+(?:du|en date|date)\b.*$", re.I)


@dataclass(frozen=True)
class AnnexRow:
    siret: str | None
    postal_code: str | None
    typology: str


@dataclass(frozen=True)
class Facts:
    variant: str | None
    framework: str | None  # the accord-cadre number read on the convention
    signatory: str | None
    siret: str | None  # the signatory's, as the documents give it
    sirets: tuple[tuple[str, str], ...]  # (document name, SIRET) for every SIRET read
    order_number: str | None
    amount_paid: Decimal | None
    postal_codes: tuple[str, ...]  # annex first, then purchase order, then convention
    signature: SignatureCheck | None
    annex_rows: tuple[AnnexRow, ...]
    annex_total_label: str | None


def compact(number: str) -> str:
    return re.sub(r"\D", "", number)


def labelled_sirets(text: str) -> list[str]:
    return [s for s in (compact(m) for m in SIRET_RE.findall(text)) if len(s) == 14]


def parse_amount(whole: str, cents: str | None) -> Decimal | None:
    try:
        return Decimal(compact(whole) + "." + (cents or "00"))
    except InvalidOperation:
        return None


def order_amount(text: str) -> Decimal | None:
    """The order's total: on a 'total' line if there is one, else the largest amount."""
    found: list[tuple[bool, Decimal]] = []
    for line in text.splitlines():
        is_total = "total" in fold(line) or "montant" in fold(line)
        matches = AMOUNT_RE.findall(line) or (BARE_AMOUNT_RE.findall(line) if is_total else [])
        for whole, cents in matches:
            amount = parse_amount(whole, cents)
            if amount is not None:
                found.append((is_total, amount))
    if not found:
        return None
    totals = [a for is_total, a in found if is_total]
    return max(totals) if totals else max(a for _, a in found)


def order_number(text: str) -> str | None:
    """The EJ or order number: free text of up to 50 characters (Chorus Pro)."""
    for pattern in ORDER_PATTERNS:
        match = pattern.search(text)
        if match:
            value = ORDER_STOP.sub("", match.group(1)).strip(" .;,")
            if value and any(c.isdigit() for c in value):
                return value[:50]
    return None


def postal_codes(text: str) -> list[str]:
    """Postal codes of addresses, the Resah's own (47 rue de Charonne, 75011) left out."""
    codes, resah_lines = [], 0
    for line in text.splitlines():
        if RESAH_LINE.search(line):
            resah_lines = RESAH_WINDOW + 1
        if resah_lines:
            resah_lines -= 1
            continue
        codes += POSTAL_RE.findall(BARE_SIRET_RE.sub(" ", line))
    return codes


def _header_index(rows, word: str) -> tuple[int, int] | None:
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            if fold(cell).startswith(word):
                return r, c
    return None


def annex_rows(doc) -> tuple[tuple[AnnexRow, ...], str | None]:
    """The beneficiaries of a spreadsheet annex, read under its header row."""
    rows = doc.rows
    where = _header_index(rows, "siret")
    if where is None:
        return (), None
    head, siret_col = where
    header = [fold(c) for c in rows[head]]
    col = {
        name: next((i for i, h in enumerate(header) if h.startswith(name)), None)
        for name in ("code postal", "typologie")
    }
    found, total = [], None
    for row in rows[head + 1 :]:
        cells = list(row) + [""] * len(header)
        if fold(cells[0]).startswith("total"):
            total = cells[col["typologie"]] if col["typologie"] is not None else None
            break
        siret = compact(cells[siret_col])
        postal = cells[col["code postal"]] if col["code postal"] is not None else ""
        typology = cells[col["typologie"]] if col["typologie"] is not None else ""
        found.append(AnnexRow(siret or None, postal if re.fullmatch(r"\d{5}", postal) else None, typology))
    return tuple(found), total


def _first(docs: list[Classified], role: str) -> Classified | None:
    return next((d for d in docs if d.role == role), None)


def _signatory_siret(convention, annex, order, rows) -> str | None:
    for doc in (convention, annex, order):
        if doc is None:
            continue
        own = [s for s in labelled_sirets(doc.doc.text) if s != RESAH_SIRET]
        if own:
            return own[0]
    return rows[0].siret if rows else None


def gather(docs: list[Classified]) -> Facts:
    convention, annex, order = (_first(docs, r) for r in (CONVENTION, ANNEX, PURCHASE_ORDER))
    rows, total = annex_rows(annex.doc) if annex and annex.doc.kind == "xlsx" else ((), None)
    sirets = [(d.doc.name, s) for d in docs if d.role != "other" for s in labelled_sirets(d.doc.text)]
    sirets += [(annex.doc.name, r.siret) for r in rows if r.siret and (annex.doc.name, r.siret) not in sirets]
    name = DENOMINATION_RE.search(convention.doc.text) if convention else None
    codes = [r.postal_code for r in rows if r.postal_code]
    for doc in (annex, order, convention):
        codes += postal_codes(doc.doc.text) if doc else []
    return Facts(
        variant=convention.variant if convention else None,
        framework=convention.framework if convention else None,
        signatory=name.group(1).strip() if name else None,
        siret=_signatory_siret(convention, annex, order, rows),
        sirets=tuple((doc, s) for doc, s in sirets if s != RESAH_SIRET),
        order_number=order_number(order.doc.text) if order else None,
        amount_paid=order_amount(order.doc.text) if order else None,
        postal_codes=tuple(dict.fromkeys(codes)),
        signature=convention.doc.signature if convention else None,
        annex_rows=rows,
        annex_total_label=total,
    )
