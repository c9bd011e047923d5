"""Where a scanned convention is signed, and whether ink is there (pipeline/ink.py), without OCR: the words
come from the PDF's own text layer, in the two layouts a convention's signature block takes."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from PIL import Image

from pipeline import ink
from pipeline.ocr import Word
from testkit import scans
from tests.builders import Entity, convention_pdf, rendered

DPI = 150


@pytest.fixture(scope="module")
def stacked(renderer, resources) -> bytes:
    """Today's layout: "Pour le signataire, / Son représentant / Pour le Resah," stacked."""
    return convention_pdf(rendered(renderer, resources, Entity(), "2021-045-lot2")["convention"], "none")


@pytest.fixture(scope="module")
def side_by_side() -> bytes:
    return scans.side_by_side_pdf()


def page_words(pdf: bytes, scale: float = 1.0) -> tuple[list[Word], float, float, int]:
    """The words of the page holding "Pour le signataire", scaled, with that page's size and number."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for number, page in enumerate(doc.pages):
            if page.search(scans.SIGNATURE_LABEL):
                words = [
                    Word(w.text, tuple(v * scale for v in w.box), w.confidence) for w in scans.words(page)
                ]
                return words, page.width * scale, page.height * scale, number
    raise AssertionError("no signature label")


def located(pdf: bytes, phrase: str) -> dict:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return next(hit for page in doc.pages for hit in page.search(phrase))


def test_stacked_the_zone_runs_from_the_label_to_above_pour_le_resah_across_the_text(stacked):
    zone = ink.zone(*page_words(stacked)[:3])
    label, resah = located(stacked, "Pour le signataire"), located(stacked, "Pour le Resah")
    assert zone.area.left <= label["x0"] and zone.area.top == pytest.approx(label["top"])
    assert label["bottom"] < zone.area.bottom < resah["top"]
    assert zone.area.right > 500  # to the text's right margin: people sign beside the label


def test_side_by_side_the_zone_stops_before_the_resah_s_cell_and_holds_signature_et_cachet(side_by_side):
    zone = ink.zone(*page_words(side_by_side)[:3])
    label, resah = located(side_by_side, "Pour le signataire"), located(side_by_side, "Pour le Resah")
    cachet = located(side_by_side, "Signature et cachet")
    assert zone.area.left <= label["x0"] and zone.area.right < resah["x0"]
    assert cachet["bottom"] <= zone.area.bottom < cachet["bottom"] + 10


def test_without_a_closing_line_the_zone_is_about_5_cm_deep():
    words = [Word(t, (100 + 40 * i, 500, 35, 9), 96.0) for i, t in enumerate(("Pour", "le", "signataire,"))]
    words.append(Word("Article", (50, 400, 500, 9), 96.0))  # the text's width
    zone = ink.zone(words, 595, 842)
    assert 130 <= zone.area.bottom - zone.area.top <= 150  # points: 4.6 to 5.3 cm


@pytest.mark.parametrize(
    "read",
    [
        ("Pour", "le", "signataire,"),
        ("POUR", "LE", "SIGNATAIRE"),
        ("Pour", "le", "signatalre,"),  # OCR damage: one letter misread
        ("Pour", "Ie", "signataire"),  # a capital I for an l
        ("Pour", "le", "sîgnataire"),
    ],
)
def test_the_label_is_found_as_ocr_may_read_it(read):
    words = [Word(t, (100 + 40 * i, 500, 35, 9), 90.0) for i, t in enumerate(read)]
    assert ink.zone(words, 595, 842) is not None


@pytest.mark.parametrize(
    "read", [("Pour", "la", "signature"), ("Pour", "le", "Resah,"), ("Le", "signataire")]
)
def test_other_words_are_not_the_label(read):
    words = [Word(t, (100 + 40 * i, 500, 35, 9), 90.0) for i, t in enumerate(read)]
    assert ink.zone(words, 595, 842) is None


def test_the_label_s_words_must_stand_on_one_line():
    words = [Word("Pour", (100, 500, 35, 9), 90.0), Word("le", (140, 500, 10, 9), 90.0)]
    words.append(Word("signataire", (100, 530, 60, 9), 90.0))
    assert ink.zone(words, 595, 842) is None


def marked(pdf: bytes, mark: str | None) -> tuple[float, bytes]:
    """The ink csac measures on the signature page rasterised at DPI (signed with `mark`, or blank),
    from the text layer's words, and the zone's crop."""
    words, width, height, number = page_words(pdf, DPI / 72)
    (image,) = scans.scanned(pdf, DPI, "net", 5, pages=(number,), mark=mark)
    zone = ink.zone(words, width, height)
    grey = image.convert("L")
    return ink.ink(grey, words, zone), ink.crop(grey, zone)


@pytest.mark.parametrize("layout", ["stacked", "side_by_side"])
def test_a_blank_zone_has_no_ink(layout, request):
    assert marked(request.getfixturevalue(layout), None)[0] < ink.SIGNED / 10


@pytest.mark.parametrize("mark", ["scribble", "stamp"])
@pytest.mark.parametrize("layout", ["stacked", "side_by_side"])
def test_a_signature_or_a_stamp_in_the_zone_is_ink(layout, mark, request):
    assert ink.signed(marked(request.getfixturevalue(layout), mark)[0])


def test_the_crop_is_a_small_grey_png_of_the_zone_showing_the_ink(stacked):
    png = marked(stacked, "scribble")[1]
    crop = Image.open(io.BytesIO(png))
    assert crop.format == "PNG" and crop.mode == "L" and crop.width < 1300
    assert crop.getextrema()[0] < 80  # the ballpoint's stroke, dark
