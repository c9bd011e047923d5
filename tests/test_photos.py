"""Photos of a document's pages make that one document: in the order of their "Page N sur M" footers,
else of their names; never merged with a photo of another document.

The photos are taken here (testkit/scans.py): the convention csac renders, printed by a mairie in six
pages (with or without the Resah's "Page N sur M" footer), signed in ink, photographed as JPEGs.
Each page is read by Tesseract once, into a cache this module shares (about 15 pages in all).
"""

from __future__ import annotations

import email
import io
import mailbox
import random
import shutil
import struct
import sys
import zipfile
from dataclasses import replace
from decimal import Decimal
from email import policy

import pytest
from PIL import Image

from pipeline import ocr
from pipeline.archive import Member
from pipeline.dossiers import Documents
from pipeline.extract import extract
from pipeline.intake import take_in
from pipeline.photos import assemble
from testkit import scans
from tests import builders as b
from tests import session_builds
from tests.ocr_scans import PATIENT

# Tesseract reads pages here, seconds each: make check leaves the file to make test.
pytestmark = pytest.mark.slow

VARIANT = "2021-045-lot2"


@pytest.fixture(scope="module")
def commune():
    return b.Entity()


@pytest.fixture(scope="module")
def cache():
    """The module's OCR cache, shared by the session's workers: a page photographed once is read by
    Tesseract once, whichever worker runs the test."""
    return session_builds.shared_folder("ocr-photos")


@pytest.fixture(scope="module")
def docx(renderer, resources, commune) -> bytes:
    return b.rendered(renderer, resources, commune, VARIANT)["convention"]


def photographed(pdf: bytes, ink: bool = True) -> list[bytes]:
    """Each page of the printout, signed in ink (a convention), photographed as a phone's JPEG."""
    return [
        data
        for _, data in scans.photo_members(
            scans.scanned(pdf, 200, "net", seed=7, mark="scribble" if ink else None)
        )
    ]


@pytest.fixture(scope="module")
def plain(docx) -> list[bytes]:
    """Six photos of the convention printed without page footers."""
    return photographed(scans.printed(docx, footer=False))


@pytest.fixture(scope="module")
def footed(docx) -> list[bytes]:
    """Six photos of the convention printed with "Page N sur 6" footers."""
    return photographed(scans.printed(docx, footer=True))


@pytest.fixture(scope="module")
def order_photo(commune) -> bytes:
    """A photo of the EJ, printed and photographed the same way."""
    return photographed(b.order_pdf(commune, Decimal("1000")), ink=False)[0]


def read(members: list[tuple[str, bytes]], cache, limits: ocr.Limits | None = None):
    """The documents intake makes of these members: each read (OCR through the cache), then assembled."""
    if (missing := ocr.available()) is not None:
        pytest.skip(f"OCR NOT TESTED: {missing}")
    reading = ocr.Reading.start(limits or PATIENT, cache)
    return assemble([extract(Member(name, data), reading=reading) for name, data in members])


@pytest.fixture(scope="module")
def six(plain, cache):
    """convention_p1.jpg … convention_p6.jpg read once: the cache then serves every test (a worker
    that asks while another reads them waits, then reads them from the cache)."""
    with session_builds.exclusive("six-photos"):
        return read([(f"convention_p{i}.jpg", data) for i, data in enumerate(plain, 1)], cache)


# --- six photos, one convention ------------------------------------------------------------------


def test_six_photos_named_by_page_are_one_document_of_six_pages_in_name_order(six, plain):
    [doc] = six
    assert doc.name == "convention_p1.jpg … convention_p6.jpg"
    assert (doc.kind, doc.pages, [p.number for p in doc.scan_pages]) == ("image", 6, [1, 2, 3, 4, 5, 6])
    assert [data for _, data in doc.files] == plain
    assert doc.text.index("CONVENTION DE SERVICE") < doc.text.index("Provence-Alpes-CotedAzur@resah.fr")


@pytest.mark.slow
def test_six_jpeg_photos_annex_and_order_are_one_convention_routed_with_its_variant(
    tesseract, six, plain, cache, intake_ctx, drop, commune, renderer, resources
):
    shutil.copytree(cache, intake_ctx.workspace.state / "ocr")  # the pages six read: not read again
    photos = [(f"convention_p{i}.jpg", data) for i, data in enumerate(plain, 1)]
    annex = b.rendered(renderer, resources, commune, VARIANT)["annex"]
    parts = [("Annexe.xlsx", annex), ("EJ.pdf", b.order_pdf(commune, Decimal("1000")))]
    held = ("lisez-moi.txt", b"photos prises en mairie")  # held back: the team gets a ZIP of the documents
    report = take_in(drop(b.zip_of([*photos, *parts, held]), form=b.form(commune)), intake_ctx)

    assert {d.name: d.role for d in report.documents} == {
        "convention_p1.jpg … convention_p6.jpg": "convention",
        "Annexe.xlsx": "annex",
        "EJ.pdf": "purchase_order",
        "lisez-moi.txt": "other",
    }
    assert (report.variant, report.siret, report.mailbox) == (
        VARIANT,
        commune.siret,
        "Hauts-de-France@resah.fr",
    )
    codes = {p.code for p in report.problems}
    assert not codes & {
        "convention_missing", "convention_unknown", "convention_unsigned", "annex_missing", "purchase_order_missing"
    }  # fmt: skip
    assert [w.code for w in report.warnings] == ["signature_to_check"]  # the ink on page 6, for a person
    assert "6 photos assemblées" in report.documents[0].note
    kept = Documents(intake_ctx.workspace.documents)
    assert all(kept.path(sha).is_file() for sha in map(sha256, plain))  # the dossier keeps every photo
    assert [w.name for w in report.withheld] == ["lisez-moi.txt"]
    assert {n for n, _ in photos} <= attached_names(intake_ctx, report.mailbox)  # the team receives each


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def attached_names(ctx, mailbox_name: str) -> set[str]:
    """The files in the ZIP attached to the regional message."""
    [kept] = list(mailbox.Maildir(ctx.workspace.outbox / mailbox_name))
    message = email.message_from_bytes(kept.as_bytes(), policy=policy.default)
    names = set()
    for part in message.iter_attachments():
        if part.get_filename().lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(part.get_content())) as zf:
                names |= set(zf.namelist())
    return names


# --- the footer orders the pages -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shuffled(footed):
    """The footed photos under a phone's names, in no page order: IMG_0101.jpg holds some page."""
    order = list(range(6))
    random.Random(3).shuffle(order)
    assert order != sorted(order)
    return [(f"IMG_{101 + at:04d}.jpg", footed[page]) for at, page in enumerate(order)]


def test_the_footer_orders_photos_whose_names_do_not(shuffled, footed, cache):
    [doc] = read(shuffled, cache)
    assert doc.name == "IMG_0101.jpg … IMG_0106.jpg"
    assert [data for _, data in doc.files] == footed  # in page order, whatever the names say
    assert "Page N sur 6" in doc.ocr and doc.pages == 6


def test_the_footer_wins_over_page_numbers_in_the_names(footed, cache):
    members = [(f"convention_p{7 - i}.jpg", data) for i, data in enumerate(footed, 1)]  # named backwards
    [doc] = read(members, cache)
    assert [data for _, data in doc.files] == footed


def test_missing_pages_are_said_in_the_document_s_note(footed, cache):
    members = [(f"IMG_{i:04d}.jpg", footed[i - 1]) for i in (1, 2, 4)]
    [doc] = read(members, cache)
    assert doc.pages == 6 and [p.number for p in doc.scan_pages] == [1, 2, 4]
    assert "pages 3, 5 et 6 (sur 6) manquantes" in doc.ocr


def test_the_same_photo_twice_is_one_page_and_both_files_are_kept(footed, cache):
    members = [(f"IMG_{i:04d}.jpg", footed[i - 1]) for i in (1, 2, 3)] + [("IMG_0002 (1).jpg", footed[1])]
    [doc] = read(members, cache)
    assert [p.number for p in doc.scan_pages] == [1, 2, 3] and len(doc.files) == 4
    assert "IMG_0002 (1).jpg : seconde photo de la page 2" in doc.ocr
    assert doc.text.count("Page 2 sur 6") == 1


# --- unrelated photos stay apart -----------------------------------------------------------------


def test_a_convention_page_and_an_order_photographed_in_a_row_are_not_merged(footed, order_photo, cache):
    docs = read([("IMG_0001.jpg", footed[0]), ("IMG_0002.jpg", order_photo)], cache)
    assert [d.name for d in docs] == ["IMG_0001.jpg", "IMG_0002.jpg"]


def test_photos_without_footers_are_not_merged_across_another_document_s_first_page(
    plain, order_photo, cache
):
    docs = read([("scan 1.jpg", plain[0]), ("scan 2.jpg", plain[1]), ("scan 3.jpg", order_photo)], cache)
    assert [d.name for d in docs] == ["scan 1.jpg … scan 2.jpg", "scan 3.jpg"]


def test_photos_of_different_names_without_footers_stay_apart(plain, cache):
    docs = read([("recto.jpg", plain[0]), ("verso.jpg", plain[1])], cache)
    assert [d.name for d in docs] == ["recto.jpg", "verso.jpg"]


# --- other image formats -----------------------------------------------------------------------------


def tiff_of(photos: list[bytes]) -> bytes:
    """A multi-page TIFF, as a scanner's feeder writes it: the photos' grey pixels, a frame each."""
    frames = [Image.open(io.BytesIO(p)).convert("L") for p in photos]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return out.getvalue()


def test_each_frame_of_a_tiff_is_a_page_in_order(footed, cache):
    [doc] = read([("scan.tif", tiff_of(footed[:3]))], cache)
    assert (doc.pages, [p.number for p in doc.scan_pages]) == (3, [1, 2, 3])
    assert doc.text.index("Page 1 sur 6") < doc.text.index("Page 2 sur 6") < doc.text.index("Page 3 sur 6")


def test_a_tiff_s_frames_past_the_page_limit_are_not_read(footed, cache):
    [doc] = read([("scan.tif", tiff_of(footed[:3]))], cache, replace(PATIENT, max_pages=2))
    assert [p.unread is None for p in doc.scan_pages] == [True, True, False]
    assert "Page 3 sur 6" not in doc.text and "pages 3 à 3 non lues (au-delà de 2)" in doc.ocr


def looping_tiff() -> bytes:
    """A TIFF whose chain of page directories points back to itself: endless pages, to a naive reader."""
    out = io.BytesIO()
    Image.new("L", (64, 64), 255).save(out, "TIFF")
    data = bytearray(out.getvalue())
    first = struct.unpack("<I", data[4:8])[0]
    after = first + 2 + 12 * struct.unpack("<H", data[first : first + 2])[0]
    data[after : after + 4] = struct.pack("<I", first)
    return bytes(data)


def test_a_tiff_whose_pages_loop_is_read_once(cache):
    [doc] = read([("boucle.tif", looping_tiff())], cache)
    assert doc.pages == 1 and doc.error is None


def heic_of(photo: bytes) -> bytes:
    """The photo as an iPhone saves it (HEIC), by pillow-heif."""
    pytest.importorskip("pillow_heif", reason="HEIC NOT TESTED: pip install 'csac[heic]'")
    return _encoded_heic(photo)


@session_builds.once
def _encoded_heic(photo: bytes) -> bytes:
    """Encoded once per session: x265 takes seconds for a page-sized photo."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.open(io.BytesIO(photo)).save(out, "HEIF", quality=85)
    return out.getvalue()


def test_an_iphone_heic_photo_is_read(footed, cache):
    [doc] = read([("IMG_0001.HEIC", heic_of(footed[0]))], cache)
    assert doc.kind == "image" and "CONVENTION DE SERVICE" in doc.text


def test_without_pillow_heif_a_heic_photo_is_set_aside_saying_how_to_read_it(footed, cache, monkeypatch):
    heic = heic_of(footed[0])
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as where the optional extra is not installed
    [doc] = read([("photo.heic", heic)], cache)
    assert doc.kind == "image" and "pip install 'csac[heic]'" in doc.error


# --- pages fed askew -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def printout(docx) -> bytes:
    return scans.printed(docx)


@pytest.fixture(scope="module")
def first_page(printout) -> Image.Image:
    return scans.rasterise(printout, 200, (0,))[0]


@pytest.mark.parametrize("degrees", [-4.5, -3.0, -1.2, 0.8, 2.0, 3.0, 4.2])
def test_the_angle_a_page_was_fed_askew_is_found(first_page, degrees):
    assert abs(ocr.skew_angle(scans.skew(first_page, degrees).convert("L")) + degrees) <= 0.3


@pytest.mark.parametrize("degradation", ["net", "noise", "stamp", "photo"])
def test_a_straight_page_is_not_turned(first_page, degradation):
    page = scans.DEGRADATIONS[degradation](first_page, 5, 200)
    assert abs(ocr.skew_angle(page.convert("L"))) < ocr.DESKEW_MIN


def test_a_page_fed_askew_is_straightened_before_it_is_read_and_says_so(tesseract, first_page):
    page = scans.skew(first_page, 3.0)
    read_page = ocr.read_image(scans.jpeg_bytes(page, 85), PATIENT)
    assert abs(read_page.skew + 3.0) <= 0.3 and read_page.upright == 0
    assert "CONVENTION DE SERVICE" in read_page.text
    title = next(w for w in read_page.words if w.text == "CONVENTION")
    straight = ocr.as_read(Image.open(io.BytesIO(scans.jpeg_bytes(page, 85))).convert("L"), read_page)
    left, top, width, height = title.box  # the word's box is in the page as read: ink under it there
    assert straight.crop((left, top, left + width, top + height)).getextrema()[0] < 100


@pytest.mark.slow
def test_a_follow_up_order_completes_the_photographed_convention_s_dossier_read_as_one(
    tesseract, plain, six, cache, intake_ctx, drop, commune, renderer, resources
):
    shutil.copytree(cache, intake_ctx.workspace.state / "ocr")
    photos = [(f"convention_p{i}.jpg", data) for i, data in enumerate(plain, 1)]
    annex = b.rendered(renderer, resources, commune, VARIANT)["annex"]
    first = take_in(drop(b.zip_of([*photos, ("Annexe.xlsx", annex)]), form=b.form(commune)), intake_ctx)
    order = [("EJ.pdf", b.order_pdf(commune, Decimal("1000")))]
    second = take_in(drop(b.zip_of(order), "suite.zip", form=b.form(commune)), intake_ctx)
    [dossier] = second.dossiers
    assert dossier.dossier_id == first.dossiers[0].dossier_id
    assert [(d.name, d.role, d.deposit_id) for d in dossier.documents] == [
        ("convention_p1.jpg … convention_p6.jpg", "convention", first.deposit_id),  # read again as one
        ("Annexe.xlsx", "annex", first.deposit_id),
        ("EJ.pdf", "purchase_order", second.deposit_id),
    ]
    assert "convention_unknown" not in {p.code for p in second.problems}
