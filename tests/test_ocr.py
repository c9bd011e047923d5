"""Scans and photos read by OCR: routed as born-digital documents are, at a bounded cost.

The scans are made here: the conventions the tests render, printed to pixels and
wrapped in image-only PDFs or saved as phone photos (tests/ocr_scans.py).
"""

import json
import os
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

import pytest

from pipeline import ocr
from pipeline.intake import take_in
from testkit import scans as corpus
from tests import builders as b
from tests import ocr_scans as scans

# Tesseract reads pages here, seconds each: make check leaves the file to make test.
pytestmark = pytest.mark.slow

VARIANT = "2021-045-lot2"
LIMITS = scans.PATIENT  # the limits themselves are tested below with their own values
slow = pytest.mark.slow  # Tesseract reads whole deposits: seconds a page


@pytest.fixture(scope="module")
def commune():
    return b.Entity()


@pytest.fixture(scope="module")
def convention(renderer, resources, commune) -> bytes:
    """The signed convention csac renders for the commune, as a born-digital PDF."""
    return b.convention_pdf(b.rendered(renderer, resources, commune, VARIANT)["convention"])


@pytest.fixture(scope="module")
def convention_pages(convention):
    return scans.pages(convention, 200)


@pytest.fixture(scope="module")
def signed_pages(convention, convention_pages):
    """The convention printed, signed in ink beside "Pour le signataire", and scanned."""
    zone = corpus.signature_zone(convention)
    pages = list(convention_pages)
    pages[zone.page] = corpus.scribble(pages[zone.page].convert("RGB"), zone, 200, seed=3).convert("L")
    return pages


def deposit(members, drop, commune):
    return drop(b.zip_of(members), form=b.form(commune))


def roles(report) -> dict:
    return {d.name: d.role for d in report.documents}


@slow
def test_a_scanned_convention_annex_and_order_are_routed_with_the_variant_known(
    tesseract, intake_ctx, drop, commune, signed_pages
):
    members = [
        ("scan0001.pdf", scans.image_pdf(signed_pages, 200)),
        ("scan0002.pdf", scans.scanned(b.annex_pdf(commune, "Communes à partir de 50.000 habitants"), 300)),
        ("scan0003.pdf", scans.scanned(b.order_pdf(commune, Decimal("1000")), 250)),
    ]
    report = take_in(deposit(members, drop, commune), intake_ctx)
    assert roles(report) == {
        "scan0001.pdf": "convention",
        "scan0002.pdf": "annex",
        "scan0003.pdf": "purchase_order",
    }
    assert (report.variant, report.siret, report.mailbox) == (
        VARIANT,
        commune.siret,
        "Hauts-de-France@resah.fr",
    )
    assert "convention_unknown" not in report.codes and "convention_unsigned" not in report.codes
    assert report.signature.status == "unverified"  # signed in ink: a person looks at it


@slow
def test_the_order_s_amount_is_read_from_its_scan(tesseract, intake_ctx, drop, commune, convention):
    members = [
        ("Convention.pdf", convention),
        ("EJ.pdf", scans.scanned(b.order_pdf(commune, Decimal("1000")), 200)),
    ]
    report = take_in(deposit(members, drop, commune), intake_ctx)
    assert (report.order_number, report.amount_paid) == ("1300012345", Decimal("1000"))


@slow
def test_jpeg_photos_of_the_convention_are_read(
    tesseract, intake_ctx, drop, commune, convention_pages, parts
):
    photos = [
        (f"convention_p{i}.jpg", scans.jpeg(page, 70)) for i, page in enumerate(convention_pages[:2], 1)
    ]
    report = take_in(deposit([*photos, *parts], drop, commune), intake_ctx)
    merged = "convention_p1.jpg … convention_p2.jpg"  # the photos of one document's pages: that document
    assert roles(report)[merged] == "convention" and report.variant == VARIANT
    assert "lu par OCR" in next(d.note for d in report.documents if d.name == merged)


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_photo_taken_sideways_or_upside_down_is_read_the_right_way_up(tesseract, convention_pages, turn):
    """Read as it lies, such a page does not read as French in lines: the orientation pass turns it,
    by the quarter turns that undo the photo's, and the word boxes are the upright page's."""
    page = ocr.read_image(scans.jpeg(convention_pages[0], 80, turn=turn), LIMITS)
    assert "CONVENTION DE SERVICE" in page.text and page.unread is None
    assert page.upright == -turn % 360
    title = next(w for w in page.words if w.text == "CONVENTION")
    assert title.box[2] > 3 * title.box[3]  # wider than tall: read in the page's own lines


@pytest.fixture
def parts(commune, renderer, resources):
    """The annex and order beside the convention, born-digital."""
    annex = b.rendered(renderer, resources, commune, VARIANT)["annex"]
    return [("Annexe.xlsx", annex), ("EJ.pdf", b.order_pdf(commune, Decimal("1000")))]


def test_a_page_with_a_text_layer_is_not_ocred(tesseract, convention):
    assert not any(p.ocr for p in ocr.read_pdf(convention, LIMITS))


# -- bounded cost --------------------------------------------------------------------------------


MEASURE = """
import json, resource, sys, time
from pathlib import Path
from pipeline import ocr
data, limits = Path(sys.argv[2]).read_bytes(), ocr.Limits(**json.loads(sys.argv[3]))
start = time.monotonic()
page = ocr.read_image(data, limits) if sys.argv[1] == "image" else ocr.read_pdf(data, limits)[0]
took = time.monotonic() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"unread": page.unread, "seconds": took, "worker_rss": rss}))
"""


def measured(kind: str, data: bytes, tmp_path, **limits) -> dict:
    """What a fresh process reads of `data`, the time it took and its worker's peak RSS (its only child).
    Fresh, so that its worker's address space is its own, not a large test process's."""
    path = tmp_path / "page"
    path.write_bytes(data)
    run = [sys.executable, "-c", MEASURE, kind, path, json.dumps(limits)]
    run = subprocess.run(run, capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


WORKER_RSS = 200 << 20  # Python with pipeline.ocr, forked: the 400 Mpx decoded would take twice that at least


def test_a_20000_pixel_square_png_is_refused_within_bounded_memory_and_time(tesseract, tmp_path):
    read = measured("image", scans.huge_png(20_000, 20_000), tmp_path)
    assert "démesurée" in read["unread"] and read["seconds"] < 5 and read["worker_rss"] < WORKER_RSS


def test_a_pdf_page_declaring_an_enormous_mediabox_is_refused_within_bounded_memory_and_time(
    tesseract, tmp_path
):
    read = measured("pdf", scans.enormous_page_pdf(), tmp_path)
    assert "démesurée" in read["unread"] and read["seconds"] < 5 and read["worker_rss"] < WORKER_RSS


def test_a_large_pdf_page_is_read_at_a_lower_dpi_rather_than_refused(tesseract, convention_pages):
    a4 = scans.image_pdf([convention_pages[0]], 200)  # 8.7 Mpx at 300 dpi: read at 200 dpi under 4 Mpx
    (page,) = ocr.read_pdf(a4, replace(LIMITS, max_pixels=4_000_000))
    assert page.unread is None and "CONVENTION DE SERVICE" in page.text


def test_a_page_over_its_cpu_time_is_unread_with_why(tesseract, convention_pages):
    page = ocr.read_image(scans.jpeg(convention_pages[0]), ocr.Limits(cpu_seconds_per_page=0))
    assert page.text == "" and "non lue" in page.unread


def test_a_page_over_its_memory_is_unread_with_why(tesseract, convention_pages, tmp_path):
    read = measured("image", scans.jpeg(convention_pages[0]), tmp_path, memory_bytes=1 << 20)
    assert "non lue" in read["unread"]


def test_a_deposit_over_its_time_is_unread_not_waited_for(tesseract, convention_pages):
    spent = ocr.Limits(deposit_seconds=0).started()
    page = ocr.read_image(scans.jpeg(convention_pages[0]), spent)
    assert page.unread == "non lue : temps de lecture du dépôt épuisé"


def test_a_scan_with_a_page_refused_is_set_aside_with_why(tesseract, intake_ctx, drop, commune, parts):
    report = take_in(deposit([("Convention.png", scans.huge_png()), *parts], drop, commune), intake_ctx)
    note = next(d.note for d in report.documents if d.name == "Convention.png")
    assert "archive_corrupt" in [p.code for p in report.problems] and "démesurée" in note


def test_a_page_is_not_ocred_twice(tesseract, tmp_path, convention_pages):
    photo = scans.jpeg(convention_pages[0])
    first = ocr.read_image(photo, LIMITS, tmp_path)
    (entry,) = tmp_path.iterdir()
    entry.write_text(json.dumps({"text": "lu dans le cache", "words": []}), encoding="utf-8")
    again = ocr.read_image(photo, LIMITS, tmp_path)
    assert "CONVENTION DE SERVICE" in first.text and again.text == "lu dans le cache"


def test_intake_keeps_what_ocr_read_in_the_state_folder(tesseract, intake_ctx, drop, commune, parts):
    photo = ("Convention.jpg", scans.jpeg(scans.pages(b.order_pdf(commune, Decimal("1000")), 150)[0]))
    take_in(deposit([photo, *parts], drop, commune), intake_ctx)
    assert len(list((intake_ctx.workspace.state / "ocr").iterdir())) == 1


# -- without Tesseract -------------------------------------------------------------------------


def intake_without_tesseract(tmp_path, members, commune, *options: str) -> str:
    """`csac intake` run where Tesseract is not on the PATH: what it prints."""
    zipped = tmp_path / "depot.zip"
    zipped.write_bytes(b.zip_of(members))
    zipped.with_suffix(".json").write_text(json.dumps(b.form(commune)), encoding="utf-8")
    bare = tmp_path / "bin"  # only Python: no tesseract on this PATH
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    env = os.environ | {"PATH": str(bare), "COLUMNS": "300"}
    run = [sys.executable, "-m", "pipeline", "intake", zipped, "--outbox", tmp_path / "outbox"]
    run += ["--state", tmp_path / "var", *options]
    return subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def scans_and_parts(convention_pages, parts):
    """A convention scanned in two pages and a photo of its third, beside its annex and order."""
    scan = scans.image_pdf(convention_pages[:2], 200)
    return [("Convention.pdf", scan), ("Photo.jpg", scans.jpeg(convention_pages[2])), *parts]


def test_without_tesseract_intake_treats_scans_as_before_and_says_once_how_to_enable_ocr(
    tmp_path, commune, scans_and_parts
):
    report = json.loads(intake_without_tesseract(tmp_path, scans_and_parts, commune, "--json"))
    notes = " ".join(d["note"] or "" for d in report["documents"])
    assert "convention_unknown" in [p["code"] for p in report["problems"]]
    assert notes.count("apt-get install tesseract-ocr tesseract-ocr-fra") == 1
    assert not (tmp_path / "var" / "ocr").exists()


def test_without_tesseract_csac_intake_prints_how_to_enable_ocr_once(tmp_path, commune, scans_and_parts):
    said = intake_without_tesseract(tmp_path, scans_and_parts, commune)
    assert said.count("apt-get install tesseract-ocr tesseract-ocr-fra") == 1


def test_without_tesseract_available_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "apt-get install tesseract-ocr tesseract-ocr-fra" in ocr.available()


def test_with_tesseract_available_says_nothing(tesseract):
    assert ocr.available() is None
