"""Facts read from the classified documents of one deposit.

Everything here is read from the documents' text: nothing is trusted
from file names. The Resah's own SIRET and address, printed in every
convention and often on purchase orders, are never taken for the depositor's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .beneficiaries import GROUPEMENT_RE, SIRET_NUMBER_RE, groupement_line, member_role, text_table
from .classify import ANNEX, CONVENTION, PURCHASE_ORDER, Classified, principal, rivals
from .orders import OrderAmount, order_number, read_order_amount
from .resah import Resah
from .signature import SignatureCheck
from .sirets import compact
from .textnorm import fold

SIRET_RE = re.compile(r"siret\W{0,12}((?:\d[ .\u00a0]?){13}\d)", re.I)
POSTAL_RE = re.compile(r"(?<![\d.,])(\d{5})(?:\s+|\s*-\s*)(?=[A-ZÀ-Ý])")  # a city name follows, capitalised
RESAH_WINDOW = 2  # lines after one naming the Resah (pipeline/resah.py) that still belong to its own address
DENOMINATION_RE = re.compile(r"denomination de la collectivite\s*:\s*(.+)", re.I)
CHECKED_RE = re.compile(r"^\s*(?:[☒☑✔✓✗✘⊠]|\[x\]|\(x\))", re.I)
BOX_RE = re.compile(r"[☒☑✔✓✗✘⊠☐□]|\[[x ]\]|\([x ]\)", re.I)
TIER_RE = re.compile(r"contribution annuelle due par le signataire\s*:[^()]{0,60}\(([^()]{1,200})\)", re.I)
ANNEX_MODE_RE = re.compile(r"^mode\s*:\s*(compte propre|mandat|groupement)\b")
REPRESENTED_RE = (
    re.compile(  # the convention's "Représenté par son exécutif dûment habilité (Jean Dupont, Maire)"
        r"repr[ée]sent[ée]e?\s+par\s+son\s+ex[ée]cutif\s+d[ûu]ment\s+habilit[ée]e?\s*\(([^()]{1,200})\)", re.I
    )
)


@dataclass(frozen=True)
class AnnexRow:
    siret: str | None
    postal_code: str | None
    typology: str
    member_role: str | None = None  # "coordonnateur" or "membre" in a groupement's own spreadsheet


@dataclass(frozen=True)
class Members:
    """The annex's beneficiaries as a groupement's tier counts them."""

    sirets: tuple[str, ...] = ()  # distinct
    uncounted: str | None = "aucune annexe"  # why they cannot be counted, in French
    marked: bool = False  # rows marked coordonnateur / membre


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
    amount_doubt: str | None = None  # why the order's amount is illegible or ambiguous
    members: Members = Members()
    annex_mode: str | None = None  # the annex's "Mode :" line (compte_propre, mandat, groupement)
    annex_groupement: str | None = None  # the annex's line naming a groupement de commandes (title, header)
    convention_box: str | None = None  # the mode the convention's checked box names
    convention_tier: str | None = None  # the tariff label printed beside the convention's contribution
    representative: str | None = None  # who represents the signatory, as the convention prints it


def order_amount(text: str) -> Decimal | None:
    """The order's own total; None when it cannot be read or is ambiguous (the doubt: `read_order_amount`)."""
    return read_order_amount(text).value


def labelled_sirets(text: str) -> list[str]:
    return [s for s in (compact(m) for m in SIRET_RE.findall(text)) if len(s) == 14]


def postal_codes(text: str, own: Resah) -> list[str]:
    """Postal codes of addresses, the Resah's own left out."""
    codes, resah_lines = [], 0
    for line in text.splitlines():
        if own.names_itself(line):
            resah_lines = RESAH_WINDOW + 1
        if resah_lines:
            resah_lines -= 1
            continue
        codes += POSTAL_RE.findall(SIRET_NUMBER_RE.sub(" ", line))
    return codes


COLUMNS = {"postal": ("code postal", "cp"), "typology": ("typologie", "categorie", "type")}


def _header(rows) -> tuple[int, int] | None:
    """(row, column) of the SIRET column's header: a cell naming SIRET, with no number, among other headers."""
    for r, row in enumerate(rows):
        if sum(bool(cell.strip()) for cell in row) < 2:  # a title row, not a table's header
            continue
        for c, cell in enumerate(row):
            if re.search(r"\bsiret\b", fold(cell)) and not SIRET_NUMBER_RE.search(cell):
                return r, c
    return None


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    return next((i for i, h in enumerate(header) if any(h.startswith(n) for n in names)), None)


def _cell(cells: list[str], col: int | None) -> str:
    return cells[col] if col is not None else ""


def _siret_cell(cell: str) -> str | None:
    """The number a SIRET cell holds, typed with any separators, or written after a word ("SIRET : …")."""
    number = compact(cell)
    if number.isdigit():
        return number
    found = SIRET_NUMBER_RE.search(cell)
    return compact(found.group(1)) if found else None


def annex_rows(doc) -> tuple[tuple[AnnexRow, ...], str | None]:
    """The beneficiaries of a spreadsheet annex, read under its header row, whatever the column order.

    A row with a single filled cell is a note, not a beneficiary; the table ends at its Total row.
    """
    rows = doc.rows
    where = _header(rows)
    if where is None:
        return (), None
    head, siret_col = where
    header = [fold(c) for c in rows[head]]
    col = {name: _column(header, names) for name, names in COLUMNS.items()}
    found, total = [], None
    for row in rows[head + 1 :]:
        cells = list(row) + [""] * len(header)
        filled = [c for c in cells if c.strip()]
        if filled and fold(filled[0]).startswith("total"):
            total = _cell(cells, col["typology"]) or None
            break
        if len(filled) < 2:
            continue
        postal = _cell(cells, col["postal"])
        found.append(
            AnnexRow(
                _siret_cell(cells[siret_col]),
                postal if re.fullmatch(r"\d{5}", postal) else None,
                _cell(cells, col["typology"]),
                member_role(cells),
            )
        )
    return tuple(found), total


def members(annex: Classified | None, rows: tuple[AnnexRow, ...], own: Resah) -> Members:
    """Who a groupement counts: the annex's distinct SIRETs (never the Resah's), or why they cannot be counted."""
    if annex is None:
        return Members()
    if annex.doc.kind == "xlsx":
        sirets = tuple(dict.fromkeys(r.siret for r in rows if r.siret and r.siret != own.siret))
        marked = any(r.member_role for r in rows)
        missing = sum(r.siret is None for r in rows)
        if missing:
            return Members(sirets, f"{missing} ligne(s) de l'annexe sans SIRET", marked)
        return Members(sirets, None if sirets else "aucun bénéficiaire lu dans l'annexe", marked)
    table = text_table(annex.doc.text)
    sirets = tuple(s for s in table.sirets if s != own.siret)
    if not sirets:
        return Members((), "aucun tableau de bénéficiaires lisible dans l'annexe", table.marked)
    return Members(sirets, None, table.marked)


def annex_mode(text: str) -> str | None:
    """The rendered annex states its mode on a line of its heading: "Mode : groupement — région : …"."""
    for line in text.splitlines()[:10]:
        found = ANNEX_MODE_RE.match(fold(line))
        if found:
            return found.group(1).replace(" ", "_")
    return None


def convention_box(text: str) -> str | None:
    """The mode named by the convention's checked box(es): the sentence after each ☒."""
    lines = text.splitlines()
    modes = set()
    for i, line in enumerate(lines):
        if CHECKED_RE.match(line):
            modes.add(_mode_named(fold(BOX_RE.split(_paragraph(lines, i))[1])))
    modes.discard(None)
    return modes.pop() if len(modes) == 1 else ("contradictoire" if modes else None)


def _paragraph(lines: list[str], start: int) -> str:
    """A box's sentence, wrapped over a few lines by the PDF: up to its final full stop."""
    end = next(
        (j for j in range(start, start + 4) if j < len(lines) and lines[j].rstrip().endswith(".")), start
    )
    return " ".join(lines[start : end + 1])


def _mode_named(folded: str) -> str | None:
    if "propre compte" in folded:
        return "compte_propre"
    if GROUPEMENT_RE.search(folded):
        return "mandat_ou_groupement" if "mandat" in folded else "groupement"
    return "mandat" if "mandat" in folded or "pour le compte" in folded else None


def convention_tier(text: str) -> str | None:
    """The tariff label the rendered convention prints beside the contribution it states."""
    found = TIER_RE.search(text)
    return " ".join(found.group(1).split()) if found else None


def representative(text: str) -> str | None:
    """The signatory's representative the rendered convention names, when its request gave one."""
    found = REPRESENTED_RE.search(" ".join(text.split()))
    return found.group(1).strip() or None if found else None


QUALITY_RE = re.compile(  # on folded text: the words of a representative's quality
    r"\b(?:maire|adjoint|president|vice-president|directeur|directrice|dgs|secretaire general|ordonnateur"
    r"|conseill|delegue|administrat|gerant|responsable)"
)


def quality(representative: str | None) -> str | None:
    """The quality in "Monsieur Olivier Gacquerre, Président": the part of it that names a role."""
    if not representative:
        return None
    parts = [p.strip() for p in representative.split(",") if p.strip()]
    return next((p for p in parts if QUALITY_RE.search(fold(p))), None)


def paid_amount(docs: list[Classified]) -> OrderAmount:
    """The order's own total; a doubt when equally strong orders state different totals."""
    orders = rivals(docs, PURCHASE_ORDER)
    amounts = [read_order_amount(d.doc.text) for d in orders]
    if not amounts:
        return OrderAmount(None)
    if len({a.value for a in amounts}) > 1:
        return OrderAmount(None, doubt=f"{len(orders)} bons de commande aux montants différents")
    return amounts[0]


def _signatory_siret(convention, annex, order, rows, own: Resah) -> str | None:
    for doc in (convention, annex, order):
        if doc is None:
            continue
        theirs = [s for s in labelled_sirets(doc.doc.text) if s != own.siret]
        if theirs:
            return theirs[0]
    return rows[0].siret if rows else None


def gather(docs: list[Classified], own: Resah) -> Facts:
    """What the documents say; the Resah's own SIRET and address (`own`) are never the depositor's."""
    convention, annex, order = (principal(docs, r) for r in (CONVENTION, ANNEX, PURCHASE_ORDER))
    rows, total = annex_rows(annex.doc) if annex and annex.doc.kind == "xlsx" else ((), None)
    sirets = [(d.doc.name, s) for d in docs if d.role != "other" for s in labelled_sirets(d.doc.text)]
    sirets += [(annex.doc.name, r.siret) for r in rows if r.siret and (annex.doc.name, r.siret) not in sirets]
    name = DENOMINATION_RE.search(convention.doc.text) if convention else None
    codes = [r.postal_code for r in rows if r.postal_code]
    for doc in (annex, order, convention):
        codes += postal_codes(doc.doc.text, own) if doc else []
    paid = paid_amount(docs)
    return Facts(
        variant=convention.variant if convention else None,
        framework=convention.framework if convention else None,
        signatory=name.group(1).strip() if name else None,
        siret=_signatory_siret(convention, annex, order, rows, own),
        sirets=tuple((doc, s) for doc, s in sirets if s != own.siret),
        order_number=order_number(order.doc.text) if order else None,
        amount_paid=paid.value,
        postal_codes=tuple(dict.fromkeys(codes)),
        signature=convention.doc.signature if convention else None,
        annex_rows=rows,
        annex_total_label=total,
        amount_doubt=paid.doubt if order and not order.doc.scanned else None,
        members=members(annex, rows, own),
        annex_mode=annex_mode(annex.doc.text) if annex else None,
        annex_groupement=groupement_line(annex.doc.text) if annex else None,
        convention_box=convention_box(convention.doc.text) if convention else None,
        convention_tier=convention_tier(convention.doc.text) if convention else None,
        representative=representative(convention.doc.text) if convention else None,
    )
