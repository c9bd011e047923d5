"""What a purchase order says about itself: its number and its own total.

An order prints other amounts beside its own: the framework's maximum, the
cumulative commitments, a unit price, the VAT, the supplier's capital. Only
an amount labelled as the order's own total counts, by a fixed priority
(net à payer, total TTC, montant total, montant TTC, montant HT, then a lone
unlabelled amount). When the order does not say clearly which amount is its
own, the answer is a doubt, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .textnorm import fold

ORDER_PATTERNS = (
    re.compile(
        r"(?:n°|no|num[eé]ro|num\.?)\s*(?:d['’]\s*)?(?:engagement juridique|ej)\s*[:\-]?\s*([^\s:][^\n]{0,49})",
        re.I,
    ),
    re.compile(r"(?:engagement juridique|\bej\b)\s*(?:n°|no)?\s*[:\-]\s*([^\s:][^\n]{0,49})", re.I),
    re.compile(r"(?:bon de commande|commande)\s*(?:n°|no|num[eé]ro)\s*[:\-]?\s*([^\s:][^\n]{0,49})", re.I),
)
ORDER_STOP = re.compile(r"\s{2,}|\s+(?:du|en date|date)\b.*$", re.I)

SEPARATOR = r"[ \u00a0\u202f\u2009.',]"
NUMBER_RE = re.compile(
    rf"(?<![\w.,/-])(\d{{1,3}}(?:{SEPARATOR}\d{{3}})+|\d+)([.,]\d{{1,2}})?(?![\w.,/-]?\d)(?!\s*%)(?![/-]\w)"
)
LABEL_HEAD_RE = re.compile(r"^(montant|total|net|prix|tva|reste|cumul\w*|solde|sous-total|plafond|budget)$")
TAX_MARK_RE = re.compile(r"\s*(?:h\.?\s?t\.?|t\.?\s?t\.?\s?c\.?)(?![a-z])", re.I)
COUNT_RE = re.compile(r"\b(quantite|qte|nombre|nb|articles?|lignes?|unites?|pieces?|postes?)\b")
CURRENCY_AFTER = re.compile(r"\s*(?:€|eur\b|euros?\b)", re.I)
CURRENCY_BEFORE = re.compile(r"(?:€|\beur|\beuros?)\s*$", re.I)
ONLY_CURRENCY = re.compile(r"^(?:\W|€|eur|euros?|ht|ttc|\s)*$", re.I)
MONEY_WORDS = re.compile(r"\b(?:montant|total|totaux|net|payer|ttc|ht|prix|tva|cumul\w*|plafond|reste)\b")

# Whose amount it is: the first owner a label names decides.
OWN_OWNER_RE = re.compile(r"(?<!\w)(?:commande|ej|engagement juridique|a payer|a mandater|facture)(?!\w)")
FOREIGN_OWNER_RE = re.compile(
    r"(?<!\w)(?:march[eé]s?|accords?[- ]cadres?|cumul\w*|deja|engagements|consomm\w*|plafon\w*|maxim\w*"
    r"|budget\w*|envelop\w*|estim\w*|previsionn\w*|reste|restant\w*|solde|disponib\w*|capital|sous[- ]tota\w*"
    r"|acomptes?|prix unitaire|p\.?u\.?|remises?|anterieu\w*|precedent\w*|credits?|dotations?|subventions?"
    r"|commandes|a ce jour|a date|initial\w*|autoris\w*|allou\w*|reserv\w*)(?!\w)"
)
TAX_INCLUDED = ("tva incluse", "tva comprise", "toutes taxes")

MAX_LINE = 300  # an amount and its label fit on a line; longer lines are prose, read no further
MAX_LINES = 2000  # some forty pages: an order is read in bounded time, whatever it holds
MAX_LABEL = 80  # a line of labels waiting for their values below: a table's header, not a sentence
NET, TOTAL_TTC, TOTAL, TTC, HT, UNLABELLED = 6, 5, 4, 3, 2, 1  # TTC: "montant TTC" or plain "montant"
LEVEL_FR = {
    NET: "net à payer",
    TOTAL_TTC: "total TTC",
    TOTAL: "montant total",
    TTC: "montant",
    HT: "montant HT",
    UNLABELLED: "montant sans libellé",
}
FOREIGN = 0


@dataclass(frozen=True)
class OrderAmount:
    value: Decimal | None
    label: str | None = None  # the label it was read under, in French
    doubt: str | None = None  # why no amount can be given: illegible or ambiguous


@dataclass(frozen=True)
class Reading:
    level: int  # FOREIGN, or a priority (higher wins)
    value: Decimal | None  # None: a value was printed but cannot be read


def order_number(text: str) -> str | None:
    """The EJ or order number: free text of up to 50 characters (Chorus Pro)."""
    for pattern in ORDER_PATTERNS:
        match = pattern.search(text)
        if match:
            value = ORDER_STOP.sub("", match.group(1)).strip(" .;,")
            if value and any(c.isdigit() for c in value):
                return value[:50]
    return None


def parse_number(token: str) -> Decimal | None:
    """'1 000,00', '1.000,00', '1,000.00', '1000' → Decimal; the last ',' or '.' with 1-2 digits is the decimal mark."""
    digits = re.sub(r"[ \u00a0\u202f\u2009']", "", token)
    match = re.fullmatch(r"([\d.,]*?)(?:[.,](\d{1,2}))?", digits)
    if not match:
        return None
    whole, cents = match.group(1), match.group(2) or "00"
    whole = re.sub(r"[.,]", "", whole)
    try:
        return Decimal(f"{whole or '0'}.{cents:0<2}")
    except InvalidOperation:
        return None


def label_level(label: str) -> int | None:
    """FOREIGN, a priority, or None when the text names no amount at all.

    The first owner the label names decides whose amount it is: "montant
    total du marché" is the market's, "montant de la commande (marché …)" the order's.
    """
    folded = _last_clause(fold(label))
    if COUNT_RE.search(folded) and not re.search(r"€|\beur|montant|prix", folded):
        return None  # "Total articles", "Nombre total de lignes": a count, not an amount
    own = _first_index(folded, OWN_OWNER_RE)
    foreign = _first_index(folded, FOREIGN_OWNER_RE)
    if foreign is not None and (own is None or foreign < own):
        return FOREIGN
    if _is_tax(folded):
        return FOREIGN
    return _own_level(folded)


def _last_clause(folded: str) -> str:
    """'TVA non applicable, montant total :' is labelled by its last clause, when that names an amount."""
    last = re.split(r"[,;|•–—]", folded)[-1]
    named = MONEY_WORDS.search(last) or OWN_OWNER_RE.search(last) or FOREIGN_OWNER_RE.search(last)
    return last if named else folded


def _first_index(folded: str, pattern: re.Pattern) -> int | None:
    found = pattern.search(folded)
    return found.start() if found else None


def _is_tax(folded: str) -> bool:
    """'TVA 20 %' or 'total TVA' is a tax amount; 'montant TTC (TVA 20 %)' is a total."""
    words = set(re.findall(r"[a-z]+", folded))
    if not words & {"tva", "taxe", "taxes"}:
        return False
    return not (words & {"ttc", "ht", "hors", "net"} or any(t in folded for t in TAX_INCLUDED))


def _own_level(folded: str) -> int | None:
    words = set(re.findall(r"[a-z]+", folded))
    ttc = "ttc" in words or any(t in folded for t in TAX_INCLUDED)
    ht = "ht" in words or "hors taxe" in folded or "hors tva" in folded
    if "net" in words or "a payer" in folded or "a mandater" in folded:
        return NET
    if "total" in words and ttc:
        return TOTAL_TTC
    if ("total" in words or "totaux" in words) and not ht:
        return TOTAL
    if ttc:
        return TTC
    if ht:
        return HT
    if "montant" in words or "prix" in words:
        return TTC  # "montant de la commande": the order's amount, tax status unsaid
    return None


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    value: Decimal | None
    money: bool  # marked as money: a currency, or cents


def _tokens(line: str) -> list[Token]:
    """Amounts: written as money (a currency, or cents), or a lone number after its label."""
    found, counted = [], COUNT_RE.search(fold(line))
    numbers = list(NUMBER_RE.finditer(line))
    for m in numbers:
        after = CURRENCY_AFTER.match(line, m.end())
        before = CURRENCY_BEFORE.search(line[max(0, m.start() - 8) : m.start()])
        cents = m.group(2) is not None and len(m.group(2)) == 3  # ",00": written as money
        money = bool(after or before or cents)
        end = after.end() if after else m.end()
        lone = len(numbers) == 1 and ONLY_CURRENCY.match(line[end:]) and not counted
        if money or lone:
            found.append(Token(m.start(), end, parse_number(m.group(0)), money))
    return found


def _line_readings(line: str, tokens: list[Token], pending: list[int | None]) -> list[Reading]:
    """Each amount of a line with the label before it (or on the lines above), and its HT/TTC mark."""
    readings, cursor = [], 0
    for token in tokens:
        before = line[cursor : token.start]
        level = label_level(before) if re.search(r"[^\W\d_]", before) else None
        if level is None and pending:
            level = pending.pop(0)
        marker = TAX_MARK_RE.match(line, token.end)
        cursor = marker.end() if marker else token.end
        if marker and level != FOREIGN:
            level = _marked(level, "ttc" in fold(marker.group(0)).replace(".", ""))
        if level is None and not token.money:
            continue
        readings.append(Reading(UNLABELLED if level is None else level, token.value))
    return readings


def _marked(level: int | None, ttc: bool) -> int:
    """'1 000,00 € TTC' after 'Montant total :' is a total TTC; '833,33 € HT' is a montant HT."""
    if level == NET:
        return NET
    if ttc:
        return TOTAL_TTC if level in (TOTAL, TOTAL_TTC) else TTC
    return HT


def _unreadable(line: str) -> Reading | None:
    """A line that labels an own total but whose value cannot be read ('1 OOO,OO €')."""
    level = label_level(line.split(":")[0])
    value = line.split(":", 1)[1] if ":" in line else ""
    if not level or not (re.search(r"\d", value) or re.search(r"€|\beur", fold(line))):
        return None
    return Reading(level, None)


def column_labels(line: str) -> list[str]:
    """A table's header row read as one line, 'Total HT Total TTC', cut into its column labels."""
    pieces, current = [], ""
    for word in line.split():
        head = LABEL_HEAD_RE.match(fold(word))
        if head and MONEY_WORDS.search(fold(current)) and _has_other_words(current):
            pieces.append(current)
            current = ""
        current = f"{current} {word}".strip()
    return pieces + [current]


def _has_other_words(piece: str) -> bool:
    return any(not LABEL_HEAD_RE.match(w) for w in re.findall(r"[a-z]+", fold(piece)))


def readings(text: str) -> list[Reading]:
    """Every amount of the text, labelled; labels alone on a line wait for the values below them."""
    found: list[Reading] = []
    pending: list[int | None] = []
    for raw in text.splitlines()[:MAX_LINES]:
        line = raw.strip()[:MAX_LINE]
        if not line:
            continue
        tokens = _tokens(line)
        if tokens:
            amount_only = ONLY_CURRENCY.match(NUMBER_RE.sub("", line)) is not None
            found += _line_readings(line, tokens, pending if amount_only else [])
            if not amount_only:
                pending.clear()
            continue
        unreadable = _unreadable(line)
        if unreadable:
            found.append(unreadable)
        if not unreadable and len(line) <= MAX_LABEL and label_level(line) is not None:
            pending += [level for level in map(label_level, column_labels(line)) if level is not None]
        else:
            pending.clear()
    return found


def read_order_amount(text: str) -> OrderAmount:
    """The order's own total, by priority; a doubt when the top priority disagrees or cannot be read."""
    own = [r for r in readings(text) if r.level != FOREIGN]
    if not own:
        return OrderAmount(None, doubt="aucun montant de la commande lu")
    top = max(r.level for r in own)
    values = sorted({r.value for r in own if r.level == top and r.value is not None})
    label = LEVEL_FR[top]
    if any(r.value is None for r in own if r.level == top):
        return OrderAmount(None, label, f"{label} illisible")
    if len(values) > 1:  # the figures are not repeated: none of them is known to be the order's
        what = "montants sans libellé de total" if top == UNLABELLED else f"montants « {label} »"
        return OrderAmount(None, label, f"{len(values)} {what} différents")
    return OrderAmount(values[0], label)
