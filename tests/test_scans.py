"""The scan corpus itself: what tests and bench/ocr.py feed to the OCR is what they claim to be."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from PIL import Image, ImageChops

from testkit import scans
from tests.builders import Entity, convention_pdf, rendered


@pytest.fixture(scope="module")
def convention(renderer, resources) -> bytes:
    return convention_pdf(rendered(renderer, resources, Entity(), "2021-045-lot2")["convention"], "none")


@pytest.fixture(scope="module")
def page(convention) -> Image.Image:
    return scans.rasterise(convention, 150, (0,))[0]


def differs(a: Image.Image, b: Image.Image) -> bool:
    return a.size != b.size or ImageChops.difference(a, b).getbbox() is not None


def test_a_page_is_rasterised_at_the_asked_resolution(convention):
    (page,) = scans.rasterise(convention, 200, (0,))
    assert (page.width, page.height) == (round(595.28 * 200 / 72), round(841.89 * 200 / 72))


def test_the_image_only_pdf_has_no_text_layer(convention, page):
    pdf = scans.image_pdf([page, page], 150)
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == 2
        assert all(not (p.extract_text() or "").strip() for p in doc.pages)


def test_the_signature_zone_holds_the_label_and_no_printed_text_beside_it(convention):
    zone = scans.signature_zone(convention)
    k = 72 / 150
    with pdfplumber.open(io.BytesIO(convention)) as doc:
        page = doc.pages[zone.page]
        (label,) = page.search(scans.SIGNATURE_LABEL)
        beside = page.crop(tuple(v * k for v in zone.room(150))).chars
        below = page.search("Pour le Resah")[0]
    assert zone.left <= label["x0"] and zone.top <= label["top"] and zone.bottom < below["top"]
    assert beside == []


def test_the_scribble_inks_the_signature_zone_and_nothing_else(convention):
    zone = scans.signature_zone(convention)
    (blank,) = scans.rasterise(convention, 150, (zone.page,))
    signed = scans.scribble(blank, zone, 150, seed=1)
    box = zone.room(150)
    assert scans.ink_ratio(blank, box) == 0
    assert scans.ink_ratio(signed, box) > 0.02
    left, top, right, bottom = ImageChops.difference(blank, signed).getbbox()
    assert left >= box[0] and top >= box[1] and right <= box[2] + 1 and bottom <= box[3] + 1


@pytest.mark.parametrize("name", sorted(set(scans.DEGRADATIONS) - {"net"}))
def test_each_degradation_changes_the_page(page, name):
    assert differs(scans.DEGRADATIONS[name](page, 3, 150), page)


@pytest.mark.parametrize("name", sorted(scans.DEGRADATIONS))
def test_each_degradation_gives_the_same_pixels_for_the_same_seed(page, name):
    made = scans.DEGRADATIONS[name]
    assert not differs(made(page, 3, 150), made(page, 3, 150))


@pytest.mark.parametrize("name", ["noise", "stamp", "photo"])
def test_a_seeded_degradation_differs_with_another_seed(page, name):
    made = scans.DEGRADATIONS[name]
    assert differs(made(page, 3, 150), made(page, 4, 150))


def test_the_skew_goes_either_way_by_the_seed(page):
    assert differs(scans.DEGRADATIONS["skew"](page, 1, 150), scans.DEGRADATIONS["skew"](page, 2, 150))


def test_the_photo_shows_the_desk_at_its_corners(page):
    shot = scans.photo(page, 5)
    assert page.getpixel((2, 2)) == (255, 255, 255)
    assert max(shot.getpixel((2, 2))) < 128


def colour_spread(image: Image.Image) -> int:
    red, _, blue = image.split()
    return ImageChops.difference(red, blue).getextrema()[1]


def test_the_stamp_is_coloured(page):
    assert colour_spread(page) < 10
    assert colour_spread(scans.stamp(page, 7, 150)) > 60


def test_photos_are_jpeg_members_named_by_page(page):
    members = scans.photo_members([page, page, page])
    assert [name for name, _ in members] == ["convention_p1.jpg", "convention_p2.jpg", "convention_p3.jpg"]
    assert all(Image.open(io.BytesIO(data)).format == "JPEG" for _, data in members)


def test_scanned_signs_only_when_asked(convention):
    zone = scans.signature_zone(convention)
    box = zone.room(150)
    (signed,) = scans.scanned(convention, 150, "net", 1, pages=(zone.page,), mark="scribble")
    (blank,) = scans.scanned(convention, 150, "net", 1, pages=(zone.page,))
    assert scans.ink_ratio(signed, box) > 0.02
    assert scans.ink_ratio(blank, box) == 0
