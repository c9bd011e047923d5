"""Repair the damage that PDF text extraction does to Resah documents.

Word exports Calibri ligatures that extract as private or odd code points
("Ɵ" for "ti", "Ʃ" for "tt"), bullets as U+F0A7, and some lines come out
letter-spaced ("A u v e r g n e"). Every reader goes through `normalise`, so
the repair lives in one place.
"""

from __future__ import annotations

import re
import unicodedata

LIGATURES = {
    "\u019f": "ti",  # Ɵ
    "\U0010019f": "ti",
    "\u01a9": "tt",  # Ʃ
    "\U001001a9": "tt",
    "\uf0a7": "•",
}
_LIGATURE_RE = re.compile("|".join(map(re.escape, LIGATURES)))
_SPACES_RE = re.compile(r"[ \t\u00a0\u202f]+")
# The combining diacritical marks NFKD leaves after a French letter, all at once (U+034F, the grapheme
# joiner, is in the block but not combining): a regex pass instead of a test per character.
_DIACRITICS = re.compile("[\u0300-\u034e\u0350-\u036f]+")


def _unspace_line(line: str) -> str:
    """Join a letter-spaced line; words are separated by runs of 2+ spaces."""
    tokens = line.split()
    if len(tokens) < 4 or sum(len(t) <= 2 for t in tokens) < 0.7 * len(tokens):
        return line
    words = re.split(r"\s{2,}", line.strip())
    return " ".join(w.replace(" ", "") for w in words)


def normalise(text: str) -> str:
    """Repaired text in NFKC (compatibility forms folded: no-break spaces, full-width digits, "ﬁ"),
    ligatures expanded and spacing collapsed."""
    text = _LIGATURE_RE.sub(lambda m: LIGATURES[m.group(0)], text)
    text = unicodedata.normalize("NFKC", text)
    lines = (_unspace_line(line) for line in text.splitlines())
    return "\n".join(_SPACES_RE.sub(" ", line).strip() for line in lines)


def squash(text: str) -> str:
    """Whitespace-free, case-folded form, for comparing texts to the letter."""
    return "".join(normalise(text).casefold().split())


def fold(text: str) -> str:
    """For matching: no accents, case-folded, one kind of apostrophe, single spaces."""
    if text.isascii():  # the common case, words and labels: nothing to decompose or strip
        return " ".join(text.casefold().split())
    bare = _DIACRITICS.sub("", unicodedata.normalize("NFKD", text))
    if not bare.isascii():  # other marks, looked for among the distinct characters left (a few dozen)
        marks = {ord(c): None for c in set(bare) if unicodedata.combining(c)}
        bare = bare.translate(marks) if marks else bare
    bare = bare.replace("\u2019", "'").replace("\u2018", "'").casefold()
    return " ".join(bare.split())


def search_fold(text: str) -> str:
    """For a search box: fold, and œ, æ as French keyboards type them ("coeur" finds "Cœur", "œuvre"
    finds "Oeuvre")."""
    return fold(text).replace("œ", "oe").replace("æ", "ae")  # what fold leaves of Œ, œ, Æ, æ


def key(text: str) -> str:
    """Letters and digits only: survives letter-spacing and line breaks."""
    return "".join(c for c in fold(text) if c.isalnum())


def ascii_number(text: str, most: int | None = None) -> bool:
    """ASCII digits only (at most `most` of them): str.isdigit() also takes "²" or "①", which int()
    refuses, so a query string, a header or a search box could otherwise raise where it is read."""
    return text.isascii() and text.isdigit() and (most is None or len(text) <= most)
