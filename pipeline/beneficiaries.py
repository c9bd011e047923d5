"""The annex's table of beneficiaries, whatever its layout.

The rendered workbook, a hand-made spreadsheet with its columns in another
order, a PDF or Word table (one cell per line): a header with a SIRET column
and an amount column, then the beneficiaries, each with its SIRET. A
groupement names itself in a title or a header, or marks its rows with roles
("coordonnateur", "chef de file", "membre", "adhérent").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sirets import compact
from .textnorm import fold

SIRET_NUMBER_RE = re.compile(r"(?<!\d)(\d{3}[ .\u00a0]?\d{3}[ .\u00a0]?\d{3}[ .\u00a0]?\d{5})(?!\d)")
# How a groupement de commandes shows itself, in one place: its name (never the GIP Resah's, a GHT's
# or a GCS's "groupement"), unless negated just before, and the roles its rows are marked with.
GROUPEMENT_RE = re.compile(
    r"\bgroupements?\b(?!\s+(?:d'interet|hospitalier|de cooperation|d'employeurs|europeen|forestier))"
)
NEGATION_RE = re.compile(r"\b(?:pas|non|sans|hors|aucun|ni|ne)\b[^.;:\n]{0,20}$")
COORDINATOR_RE = re.compile(r"coordonnat(?:eur|rice)|coordinat(?:eur|rice)")  # named so anywhere in a row
LEAD_ROLES = (
    r"coordonnat(?:eur|rice)|coordinat(?:eur|rice)|coord\.?|chef de file|pilote|mandataire(?= du groupement)"
)
MEMBER_ROLES = r"membre(?:s)?(?: associe(?:e)?s?)?|adherent(?:e)?s?|participant(?:e)?s?|associe(?:e)?s?"
ROLE_CELL_RE = re.compile(
    rf"^\(?(?:(?P<lead>{LEAD_ROLES})|(?P<member>{MEMBER_ROLES}))s?( du groupement( de commandes?)?)?\)?$"
)
SENTENCE_WORDS = frozenset(
    ("le", "la", "les", "et", "un", "une", "chaque", "votre", "vos", "notre", "nos", "pour", "dans", "au",
     "aux", "est", "sont", "vous", "nous", "il", "elle", "ce", "cette")
)  # fmt: skip
ANNEX_HEADER_RE = re.compile(  # the annex's own columns; "Montant des dépenses" or "du capital" is another table
    r"\btypologie|montant (contractuel )?max|\bbesoins\b|\bbeneficiaires?\b|\bmembres?\b|role dans le groupement"
)
HEADER_WINDOW = 6  # lines around "SIRET" where a table cut one cell per line keeps its other headers


@dataclass(frozen=True)
class TextTable:
    """Beneficiaries read from lines of text: None for header when there is no table."""

    header: int | None
    sirets: tuple[
        str, ...
    ]  # distinct, in order (the Resah's own among them: pipeline/facts.py leaves it out)
    marked: bool  # lines marked coordonnateur / membre


def sirets_in(line: str) -> list[str]:
    return [compact(m) for m in SIRET_NUMBER_RE.findall(line)]


def header_line(lines: list[str]) -> int | None:
    """The first line naming a SIRET column (no number on it) with an amount or typology column near it."""
    for i, line in enumerate(lines):
        folded = fold(line)
        if not re.search(r"\bsiret\b", folded) or SIRET_NUMBER_RE.search(line) or is_prose(folded):
            continue
        window = fold(" ".join(lines[max(0, i - HEADER_WINDOW) : i + HEADER_WINDOW + 1]))
        if ANNEX_HEADER_RE.search(window):
            return i
    return None


def is_prose(folded: str) -> bool:
    """'Renseignez le SIRET et le montant de chaque bénéficiaire' is prose, not a row of column names."""
    return sum(w in SENTENCE_WORDS for w in re.findall(r"[a-z]+", folded)) > 2


def text_table(text: str) -> TextTable:
    lines = [line for line in text.splitlines() if line.strip()]
    head = header_line(lines)
    if head is None:
        return TextTable(None, (), False)
    found, marked = [], False
    for line in lines[head + 1 :]:
        if fold(line).startswith("total"):
            break
        found += sirets_in(line)
        marked = marked or member_role(re.split(r"[|\t]", line)) is not None
    return TextTable(head, tuple(dict.fromkeys(found)), marked)


def member_role(cells) -> str | None:
    """'coordonnateur' or 'membre' when a row is marked as part of a groupement.

    "Coordonnateur" anywhere in a row marks it; "membre" only as a cell of its own,
    not inside a name ("établissement membre du GHT").
    """
    for cell in cells:
        folded = fold(cell).strip()
        role = ROLE_CELL_RE.match(folded)
        if COORDINATOR_RE.search(folded) or (role and role.group("lead")):
            return "coordonnateur"
        if role:
            return "membre"
    return None


def names_groupement(folded: str) -> bool:
    """A groupement de commandes is named, not negated ("pas de groupement", "hors groupement")."""
    return any(
        not NEGATION_RE.search(folded[max(0, m.start() - 40) : m.start()])
        for m in GROUPEMENT_RE.finditer(folded)
    )


def groupement_line(text: str) -> str | None:
    """The first line of a document that names a groupement de commandes: a title, a header, a role."""
    for line in text.splitlines():
        cells = [c for c in re.split(r"[|\t]", line) if c.strip()]
        if any(names_groupement(fold(c)) for c in cells):
            return " ".join(" ".join(cells).split())[:80]
    return None
