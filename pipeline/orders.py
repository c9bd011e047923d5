"""What a purchase order says about itself: its number and its own total.

An order prints other amounts beside its own: the framework's maximum, the
cumulative commitments, the year's orders, a unit price, the VAT, the
supplier's capital. A label is read as a head word (montant, total, net…)
with its qualifiers: whose amount it is (the order's own, nobody's, or
another's: the market, the year, the convention) and its tax status. The
order's own label wins over a plain one, a plain one over an unlabelled
amount, and another owner's amount never counts; within one rank, net à
payer, total TTC, montant total, montant TTC, montant HT. A table's header
gives one label per column, so each figure below it keeps its own column's
label (the VAT column too, which is never a total). When the order does not
say clearly which amount is its own, the answer is a doubt, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from .textnorm import fold

ORDER_REF = (  # how an order names its own number: "N° EJ", "Numéro de commande", "BDC n°", "PO"…
    r"engagement juridique|engagement|ej|bon de commande|commande|bdc|bon|purchase order|po"
)
NUMBER_MARK = r"number|num[eé]ro|num\.?(?!\w)|n\s?°|n\s?o\.?(?!\w)|#|r[eé]f[eé]rence|r[eé]f\.?(?!\w)"
ORDER_PATTERNS = (
    re.compile(rf"(?<!\w)(?:{NUMBER_MARK})\s*(?:d['’]\s*|de\s+(?:la\s+|l['’]\s*)?)?(?:{ORDER_REF})(?!\w)\s*[:\-]?\s*"
               r"([^\s:][^\n]{0,49})", re.I),
    re.compile(rf"(?<!\w)(?:{ORDER_REF})\s*(?:{NUMBER_MARK})\s*[:\-]?\s*([^\s:][^\n]{{0,49}})", re.I),
    re.compile(r"(?<!\w)(?:engagement juridique|ej|po)\s*[:\-]\s*([^\s:][^\n]{0,49})", re.I),
)  # fmt: skip
ORDER_STOP = re.compile(r"\s{2,}|\s+(?:du|en date|date)\b.*$", re.I)

SEPARATOR = r"[ \u00a0\u202f\u2009.',]"
NUMBER_RE = re.compile(  # a minus counts only before a figure, never inside "2024-042" or a date
    rf"(?<![\w.,/])(?<![\w.,/][-−])(\d{{1,3}}(?:{SEPARATOR}\d{{3}})+|\d+)([.,]\d{{1,2}})?"
    r"(?![\w.,/-]?\d)(?!\s*%)(?![/-]\w)"
)
PERCENT_RE = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?\s*%")
MINUS_RE = re.compile(r"(?:^|[\s:(])[-−]\s?$")
TAX_MARK_RE = re.compile(r"\s*(?:h\.?\s?t\.?|t\.?\s?t\.?\s?c\.?)(?![a-z])", re.I)
COUNT_RE = re.compile(r"\b(quantite|qte|nombre|nb|articles?|lignes?|unites?|pieces?|postes?)\b")
CURRENCY_AFTER = re.compile(r"\s*(?:€|eur\b|euros?\b)", re.I)
CURRENCY_BEFORE = re.compile(r"(?:€|\beur|\beuros?)\s*$", re.I)
FOREIGN_CURRENCY_AFTER = re.compile(r"\s*(chf|usd|gbp|cad|\$|£)(?![a-z])", re.I)
FOREIGN_CURRENCY_BEFORE = re.compile(r"(?:\b(chf|usd|gbp|cad)|(\$|£))\s*$", re.I)
UNIT_RE = re.compile(r"\(\s*(?:en\s+)?(?:€|eur|euros?)\s*\)|\ben\s+(?:€|eur\b|euros?\b)", re.I)
GARBLED_RE = re.compile(r"(?<!\w)[\dOoIl]{1,3}(?:[ .\u00a0][\dOoIl]{3})*,[\dOoIl]{2}(?!\w)")  # "1 OOO,OO €"
# A remark after the last amount: "1 000,00 € (accord-cadre)", "… € - montant maximum du marché".
REMARK_RE = re.compile(r"^\s*(?:\(|[-–—]\s)")
ONLY_CURRENCY = re.compile(r"^(?:\W|€|eur|euros?|ht|ttc|\s)*$", re.I)
MONEY_WORDS = re.compile(
    r"\b(?:montant|total|totaux|totale|net|payer|ttc|ht|prix|tva|cumul\w*|plafond|reste|cout|valeur|somme"
    r"|mt|tot)\b"
)

# Whose amount a label names, in one place. The first owner named decides; at one place the longer
# name wins ("bon de commande cadre" is not "bon de commande").
OWN_OWNERS = (
    r"(?:presente?|cette|ce) (?:bon de )?commande", r"(?:present|ce|du|le) bon(?! de)", r"bon de commande",
    r"commande", r"engagement juridique", r"engagement", r"ej", r"a payer", r"a mandater",
)  # fmt: skip
FOREIGN_OWNERS = (
    r"march[eé]s?", r"accords?[- ]cadres?", r"ac", r"contrats?", r"conventions?", r"programm\w*",
    r"operations?", r"projets?", r"lots?", r"envelop\w*", r"devis", r"factur\w*", r"avoirs?",
    r"mandatee?s?", r"bons de commandes?", r"bons", r"bon de commande cadre", r"commandes",
    r"commande precedente", r"(?:des|les) ej", r"ejs", r"engagements", r"(?<!montant )total(?: \w+)? engage\w*",
    r"cumul\w*", r"deja", r"consomm\w*", r"plafon\w*", r"maxim\w*", r"max", r"budget\w*", r"estim\w*",
    r"previsionn\w*", r"prevu\w*", r"reste", r"restant\w*", r"solde", r"disponib\w*", r"capital",
    r"sous[- ]tota\w*", r"acomptes?", r"avances?", r"prix unitaire", r"p\.?u\.?", r"remises?",
    r"anterieu\w*", r"precedent\w*", r"credits?", r"dotations?", r"subventions?", r"a ce jour",
    r"a date", r"initial\w*", r"autoris\w*", r"allou\w*", r"reserv\w*", r"tarif\w*", r"realise\w*",
    r"paye\w*", r"rappel",
)  # fmt: skip
OWN_OWNER_RE = re.compile(rf"(?<!\w)(?:{'|'.join(OWN_OWNERS)})(?!\w)")
FOREIGN_OWNER_RE = re.compile(rf"(?<!\w)(?:{'|'.join(FOREIGN_OWNERS)})(?!\w)")
# A period makes a label the period's amount: "Total exercice 2024", "Total annuel", "Montant TTC 2023".
PERIOD_RE = re.compile(
    r"(?<![\d/.-])(?:19|20)\d{2}(?![\d/-])|\b(?:exercices?|annees?|pluriannuel\w*)\b"
    r"|\b(?:montant|total|cout)(?: (?:ttc|ht|total|global))* annuel\w*"
)
TAX_DOTS_RE = re.compile(r"(?<!\w)(t\.\s?t\.\s?c|h\.\s?t)\.?(?!\w)")  # "T.T.C.", "H.T." as words
TAX_INCLUDED = ("tva incluse", "tva comprise", "toutes taxes")

# A header row cut into its columns: each head word opens a column, unless it qualifies the head
# before it ("Montant total", "Total TVA", "Taux de TVA").
HEADS = frozenset(
    ("montant", "total", "totaux", "net", "prix", "pu", "tva", "taxe", "taxes", "reste", "solde",
     "sous-total", "plafond", "budget", "base", "taux", "cout", "valeur", "somme", "mt", "tot", "cumul",
     "quantite", "qte", "designation", "libelle", "description", "reference", "ref", "code", "poste",
     "article", "unite", "date", "nombre", "nb")
)  # fmt: skip
JOINS = {
    "montant": {"total", "tva", "net", "taxes"}, "total": {"tva", "taxes"}, "taux": {"tva", "taxe"},
    "prix": {"total", "unitaire"}, "cout": {"total"}, "valeur": {"total"}, "somme": {"total"},
}  # fmt: skip
CONNECTORS = frozenset(
    ("de", "du", "des", "d", "la", "le", "l", "a", "en", "sur", "par", "pour", "hors", "sous")
)
AMOUNT_HEADS = frozenset(
    ("montant", "total", "totaux", "net", "prix", "reste", "solde", "cout", "valeur", "somme")
)
COLUMN_WORDS = HEADS - AMOUNT_HEADS  # columns of no amount: Quantité, Désignation, Taux…

MAX_LINE = 300  # an amount and its label fit on a line; longer lines are prose, read no further
MAX_LINES = 2000  # some forty pages: an order is read in bounded time, whatever it holds
MAX_LABEL = 80  # a line of labels waiting for their values below: a table's header, not a sentence
NET, TOTAL_TTC, TOTAL, TTC, HT, UNLABELLED = 6, 5, 4, 3, 2, 1  # TTC: "montant TTC" or plain "montant"
FOREIGN, PLAIN, OWN = 0, 1, 2  # whose amount: another's, nobody named, the order's own
LEVEL_FR = {
    NET: "net à payer",
    TOTAL_TTC: "total TTC",
    TOTAL: "montant total",
    TTC: "montant",
    HT: "montant HT",
    UNLABELLED: "montant sans libellé",
}
ILLEGIBLE, NEGATIVE = "illisible", "négatif"


@dataclass(frozen=True)
class OrderAmount:
    value: Decimal | None
    label: str | None = None  # the label it was read under, in French
    doubt: str | None = None  # why no amount can be given: illegible or ambiguous


@dataclass(frozen=True)
class Label:
    """What a label says: its rank (None: no amount named, a count or a designation) and whose it is."""

    rank: int | None
    owner: int = PLAIN

    @property
    def counts(self) -> bool:
        return self.rank is not None and self.owner != FOREIGN


OTHERS = Label(None, FOREIGN)  # another's amount, a tax, a unit price: never the order's total


@dataclass(frozen=True)
class Reading:
    label: Label
    value: Decimal | None  # None: a value was printed but cannot be read
    problem: str | None = None  # illisible, négatif, en devise étrangère

    @property
    def key(self) -> tuple[int, int]:
        return self.label.owner, self.label.rank or UNLABELLED


def order_number(text: str) -> str | None:
    """The EJ or order number: free text of up to 50 characters (Chorus Pro), "4500012345" (SAP)."""
    for pattern in ORDER_PATTERNS:
        for match in pattern.finditer(text):
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


# -- Labels --------------------------------------------------------------------------------------


def parse_label(text: str) -> Label | None:
    """A label's rank and owner; None when the text names no amount at all.

    The first owner the label names decides whose amount it is: "montant
    total du marché" is the market's, "montant de la commande (marché …)" the
    order's. A period demotes it: the order's own becomes plain ("Total
    commande 2024"), a plain one foreign ("Montant TTC 2023", "Total annuel").
    """
    folded = _scope(
        TAX_DOTS_RE.sub(lambda m: m.group(1).replace(".", "").replace(" ", ""), fold(UNIT_RE.sub(" ", text)))
    )
    if COUNT_RE.search(folded) and not re.search(r"€|\beur|montant|prix", folded):
        return None  # "Total articles", "Nombre total de lignes": a count, not an amount
    owner = _owner(folded)
    if owner == FOREIGN or _is_tax(folded):
        return OTHERS
    rank = _rank(folded)
    if rank is None:
        return None  # "Commande n°", "Engagement juridique :": the order named, no amount
    tier = owner or PLAIN
    if PERIOD_RE.search(folded):
        tier -= 1
    return Label(rank, tier) if tier != FOREIGN else OTHERS


def _scope(folded: str) -> str:
    """The label proper: its last clause, after any earlier field ("Exercice : 2024 Montant TTC :")."""
    last = re.split(r"[,;|•–—\t]", folded)[-1]
    scope = last if _names_something(last) else folded
    numbers = list(re.finditer(r"\d[\d/.:\s-]*", scope))
    if numbers and MONEY_WORDS.search(scope[numbers[-1].end() :]):
        return scope[numbers[-1].end() :]
    return scope


def _names_something(text: str) -> bool:
    return any(p.search(text) for p in (MONEY_WORDS, OWN_OWNER_RE, FOREIGN_OWNER_RE))


def _owner(folded: str) -> int | None:
    """OWN or FOREIGN by the first owner named (at one place, the longer name); None when none is."""
    own = OWN_OWNER_RE.search(folded)
    foreign = FOREIGN_OWNER_RE.search(folded)
    if own is None or foreign is None:
        return OWN if own else FOREIGN if foreign else None
    if foreign.start() < own.start() or (foreign.start() == own.start() and foreign.end() > own.end()):
        return FOREIGN
    return OWN


def _is_tax(folded: str) -> bool:
    """'TVA 20 %' or 'total TVA' is a tax amount; 'montant TTC (TVA 20 %)' is a total."""
    words = set(re.findall(r"[a-z]+", folded))
    if not words & {"tva", "taxe", "taxes", "taux"}:
        return False
    return not (words & {"ttc", "ht", "hors", "net"} or any(t in folded for t in TAX_INCLUDED))


def _rank(folded: str) -> int | None:
    words = set(re.findall(r"[a-z]+", folded))
    ttc = "ttc" in words or any(t in folded for t in TAX_INCLUDED)
    ht = "ht" in words or "hors taxe" in folded or "hors tva" in folded
    total = bool(words & {"total", "totaux", "totale", "tot", "global", "globale", "general"})
    if "net" in words or "a payer" in folded or "a mandater" in folded:
        return NET
    if total and ttc:
        return TOTAL_TTC
    if total and not ht:
        return TOTAL
    if ttc:
        return TTC
    if ht:
        return HT
    if words & {"montant", "prix", "mt", "cout", "valeur", "somme"}:
        return TTC  # "montant de la commande": the order's amount, tax status unsaid
    return None


def column_labels(line: str) -> list[str]:
    """A table's header row read as one line, 'Total HT Total TVA Total TTC', cut into one label per column."""
    pieces: list[list[str]] = []
    for word in line.split():
        bare = re.sub(r"[^\w-]", "", fold(word))
        if pieces and not _opens_column(bare, pieces[-1]):
            pieces[-1].append(word)
        else:
            pieces.append([word])
    return [" ".join(piece) for piece in pieces]


def _opens_column(bare: str, current: list[str]) -> bool:
    if bare not in HEADS:
        return False
    words = [re.sub(r"[^\w-]", "", fold(w)) for w in current]
    if words[-1] in CONNECTORS or re.search(r"['’]$", current[-1]):
        return False  # "Montant de la TVA", "Montant hors taxes"
    return not (len(words) == 1 and bare in JOINS.get(words[0], ()))


def _column_label(text: str) -> Label | None:
    """A header cell: an amount's label, OTHERS, or None for a column of no amount (Quantité, Désignation)."""
    return parse_label(text) if text.strip() else None


def is_header(labels: list[str]) -> bool:
    """Every piece names a column: an amount, or one of no amount (Quantité, Taux) that a figure fills too."""
    pieces = [piece for piece in labels if piece.strip()]
    return bool(pieces) and all(parse_label(p) is not None or _first_word(p) in COLUMN_WORDS for p in pieces)


def _first_word(piece: str) -> str:
    return re.sub(r"[^\w-]", "", fold(piece.split()[0]))


# -- Figures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    value: Decimal | None
    money: bool  # marked as money: a currency, or cents
    problem: str | None = None  # négatif, en devise étrangère
    percent: bool = False


def _money(line: str, m: re.Match) -> tuple[bool, int]:
    """Whether a number is written as money (a currency, or cents), and where it ends, its currency included."""
    after = CURRENCY_AFTER.match(line, m.end())
    before = CURRENCY_BEFORE.search(line[max(0, m.start() - 8) : m.start()])
    cents = m.group(2) is not None and len(m.group(2)) == 3  # ",00": written as money
    return bool(after or before or cents), after.end() if after else m.end()


def _token(line: str, m: re.Match) -> Token:
    money, end = _money(line, m)
    return Token(m.start(), end, parse_number(m.group(0)), money, _problem(line, m))


def _problem(line: str, m: re.Match) -> str | None:
    """A negative total is no payment; a total in francs suisses or dollars is not one in euros."""
    if MINUS_RE.search(line[max(0, m.start() - 3) : m.start()]):
        return NEGATIVE
    other = FOREIGN_CURRENCY_AFTER.match(line, m.end()) or FOREIGN_CURRENCY_BEFORE.search(
        line[max(0, m.start() - 6) : m.start()]
    )
    if other:
        return f"en devise étrangère ({(other.group(1) or other.group(other.lastindex)).upper()})"
    return None


def _tokens(line: str, cells: bool = False) -> list[Token]:
    """Amounts: written as money (a currency, or cents), a lone number after its label, or a number cell."""
    found, numbers = [], list(NUMBER_RE.finditer(line))
    counted = COUNT_RE.search(fold(line)) if numbers else None  # most lines hold no number: no fold
    for m in numbers:
        money, end = _money(line, m)
        lone = len(numbers) == 1 and ONLY_CURRENCY.match(line[end:]) and not counted
        if money or lone or (cells and _fills_cell(line, m.start(), end)):
            found.append(_token(line, m))
    return found


def _fills_cell(line: str, start: int, end: int) -> bool:
    """A number alone in its spreadsheet cell: under an amount column, it is an amount."""
    first = line.rfind("\t", 0, start) + 1
    last = line.find("\t", end)
    return not re.search(r"[^\W\d_]", line[first : last if last >= 0 else len(line)].replace("€", ""))


def _figures(line: str, every: bool) -> list[Token]:
    """The figures of a line of values: every one, percentages included, when each fills a column of
    the header above; else only those written as money."""
    numbers = [m for m in NUMBER_RE.finditer(line) if every or _money(line, m)[0]]
    found = [_token(line, m) for m in numbers]
    found += [
        Token(m.start(), m.end(), None, False, percent=True) for m in PERCENT_RE.finditer(line) if every
    ]
    return sorted(found, key=lambda t: t.start)


def _values_only(line: str) -> bool:
    return ONLY_CURRENCY.match(PERCENT_RE.sub("", NUMBER_RE.sub("", line))) is not None


# -- Readings ------------------------------------------------------------------------------------


def _reading(label: Label | None, token: Token, line: str) -> Reading | None:
    """The amount a token gives under its label, its HT/TTC mark read after it."""
    marker = TAX_MARK_RE.match(line, token.end)
    if marker and label != OTHERS:
        ttc = "ttc" in fold(marker.group(0)).replace(".", "")
        label = Label(_marked(label.rank if label else None, ttc), label.owner if label else PLAIN)
    if token.percent or (label is None and not token.money):
        return None
    if label is not None and label.rank is None and label != OTHERS:
        return None  # a count or a designation's column
    return Reading(label or Label(UNLABELLED), token.value, token.problem)


def _marked(rank: int | None, ttc: bool) -> int:
    """'1 000,00 € TTC' after 'Montant total :' is a total TTC; '833,33 € HT' is a montant HT."""
    if rank == NET:
        return NET
    if ttc:
        return TOTAL_TTC if rank in (TOTAL, TOTAL_TTC) else TTC
    return HT


def _line_readings(
    line: str, tokens: list[Token], columns: list[Label | None] | None = None
) -> list[Reading]:
    """Each amount of a line with the label before it, else its cell's column label."""
    readings, cursor = [], 0
    for token in tokens:
        before = line[cursor : token.start]
        label = parse_label(before) if re.search(r"[^\W\d_]", before) else None
        if label is None and columns:
            cell = line.count("\t", 0, token.start)
            label = columns[cell] if cell < len(columns) else None
        marker = TAX_MARK_RE.match(line, token.end)
        cursor = marker.end() if marker else token.end
        if token is tokens[-1] and _foreign_remark(line[cursor:]) and (label is None or label.owner != OWN):
            label = OTHERS
        reading = _reading(label, token, line)
        readings += [reading] if reading else []
    return readings


def _foreign_remark(after: str) -> bool:
    """A remark after the last amount that names another owner: "1 000,00 € (accord-cadre)"."""
    return bool(REMARK_RE.match(after)) and _owner(fold(after)) == FOREIGN


def _unreadable(line: str) -> Reading | None:
    """A line that labels an own total but whose value cannot be read ('1 OOO,OO €'); not one in words."""
    bare = UNIT_RE.sub(" ", line)
    value = bare.split(":", 1)[1] if ":" in bare else ""
    if not (re.search(r"\d", value) or GARBLED_RE.search(bare)):
        return None  # no figure at all: the label is not read
    label = parse_label(bare.split(":")[0])
    if label is None or not label.counts:
        return None
    return Reading(label, None, ILLEGIBLE)


@dataclass
class Columns:
    """Labels waiting for their figures: one header row's columns, or labels stacked line after line."""

    labels: list[Label | None]
    rows: int = 0  # header lines read since the last figures

    def add(self, row: list[Label | None]) -> None:
        if self.rows == 0:  # labels left over by the figures above belong to another table
            self.labels = []
        self.labels += row
        self.rows += 1

    def clear(self) -> None:
        self.labels, self.rows = [], 0

    def take(self, count: int) -> list[Label | None]:
        """Labels for `count` figures: one header row aligns to the right (its text columns may be
        empty below); labels stacked one per line are taken in order."""
        if self.rows == 1 and count != len(self.labels):
            taken = ([None] * count + self.labels)[-count:] if count else []
            self.clear()
            return taken
        taken, self.labels, self.rows = self.labels[:count], self.labels[count:], 0
        return taken + [None] * (count - len(taken))


def _values(line: str, waiting: Columns) -> list[Reading]:
    """A line of figures under labels: each figure takes its own column's label."""
    figures = _figures(line, every=bool(waiting.labels))
    labels = waiting.take(len(figures)) if waiting.labels else [None] * len(figures)
    readings = []
    for figure, label in zip(figures, labels, strict=True):
        money = figure.money or (label is not None and not figure.percent)  # a number under its header
        reading = _reading(label, replace(figure, money=money), line)
        readings += [reading] if reading else []
    return readings


def _cells_header(line: str) -> list[Label | None] | None:
    """A spreadsheet row of column names, one label per cell; None when the row holds anything else."""
    cells = line.split("\t")
    filled = [c for c in cells if c.strip()]
    if (
        not filled
        or NUMBER_RE.search(line)
        or any(len(c) > MAX_LABEL for c in filled)
        or not is_header(filled)
    ):
        return None
    return [_column_label(c) for c in cells]


def readings(text: str) -> list[Reading]:
    """Every amount of the text, labelled; labels alone on a line wait for the values below them."""
    found: list[Reading] = []
    waiting, columns = Columns([]), None
    for raw in text.splitlines()[:MAX_LINES]:
        line = raw.rstrip()[:MAX_LINE] if "\t" in raw else raw.strip()[:MAX_LINE]
        if not re.search(r"[^\W_]", line):
            continue  # empty, or a lone ":"
        if "\t" in line:
            header = _cells_header(line)
            if header is not None:
                columns = header
                continue
            found += _line_readings(line, _tokens(line, cells=True), columns)
            continue
        columns = None
        found += _text_line(line, waiting)
    return found


def _text_line(line: str, waiting: Columns) -> list[Reading]:
    """One line of text: labelled amounts, figures under the labels above, or labels for the lines below."""
    if _values_only(line):
        return _values(line, waiting)
    tokens = _tokens(line)
    if tokens:
        waiting.clear()
        return _line_readings(line, tokens)
    unreadable = _unreadable(line)
    if unreadable:
        waiting.clear()
        return [unreadable]
    labels = column_labels(UNIT_RE.sub(" ", line)) if len(line) <= MAX_LABEL else []
    if labels and is_header(labels):
        waiting.add([_column_label(label) for label in labels])
    else:
        waiting.clear()
    return []


def read_order_amount(text: str) -> OrderAmount:
    """The order's own total: own label first, then by rank; a doubt when the top disagrees or is unclear."""
    counted = [r for r in readings(text) if r.label.owner != FOREIGN]
    if not counted:
        return OrderAmount(None, doubt="aucun montant de la commande lu")
    top = max(r.key for r in counted)
    at_top = [r for r in counted if r.key == top]
    label = LEVEL_FR[top[1]] + (" de la commande" if top[0] == OWN and top[1] != NET else "")
    problem = next((r.problem for r in at_top if r.problem), None)
    if problem:
        return OrderAmount(None, label, f"{label} {problem}")
    values = sorted({r.value for r in at_top if r.value is not None})
    if len(values) > 1:  # the figures are not repeated: none of them is known to be the order's
        what = "montants sans libellé de total" if top[1] == UNLABELLED else f"montants « {label} »"
        return OrderAmount(None, label, f"{len(values)} {what} différents")
    return OrderAmount(values[0], label)
