"""fold() makes texts comparable whatever their accents, case, apostrophes and spaces: the classifier,
the facts and the rules all match through it."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from pipeline.textnorm import fold


def by_each_character(text: str) -> str:
    """The rule fold() keeps, written the plain way: decompose, drop every combining mark."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(bare.replace("\u2019", "'").replace("\u2018", "'").casefold().split())


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("CONVENTION DE SERVICE D’ACHAT CENTRALISÉ", "convention de service d'achat centralise"),
        ("Région  Île-de-France\u00a0", "region ile-de-france"),
        ("Établissement ‘médico-social’", "etablissement 'medico-social'"),
        ("Straße ŒUVRE", "strasse œuvre"),
        ("ﬁnancière", "financiere"),
    ],
)
def test_accents_case_apostrophes_and_spaces_fold_away(text, folded):
    assert fold(text) == folded


def test_every_combining_mark_is_dropped_as_the_plain_rule_drops_it():
    """Each character of the BMP, and every mark beyond it, between accented letters: the French
    diacritics go in one pass, the rarer marks (Hebrew points, Vedic signs, musical symbols) all the same."""
    marks = [cp for cp in range(0x10000, sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("M")]
    points = [cp for cp in range(0x80, 0x10000) if not 0xD800 <= cp <= 0xDFFF] + marks
    assert len(marks) > 300
    assert [hex(cp) for cp in points if fold(f"É{chr(cp)}ü") != by_each_character(f"É{chr(cp)}ü")] == []
