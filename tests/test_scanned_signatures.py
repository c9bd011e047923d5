"""What counts as signed on paper: ink or a stamp in a scanned convention's signature zone, read by OCR.

The scans are made here (testkit/scans.py): the conventions csac renders, rasterised, signed in ink or
stamped beside "Pour le signataire", or left blank, degraded as scanners and phones degrade them. Only
the pages that matter are scanned (the signature page; page 1 when the variant must be read): a page
costs Tesseract seconds.
"""

from __future__ import annotations

import email
import io
import mailbox
from dataclasses import replace
from decimal import Decimal
from email import policy

import pytest
from PIL import Image

from pipeline import ocr
from pipeline.archive import Member
from pipeline.extract import UNSIGNED_SCAN, extract
from pipeline.intake import take_in
from testkit import scans
from tests import builders as b
from tests import session_builds
from tests.ocr_scans import PATIENT

# Tesseract reads pages here, seconds each: make check leaves the file to make test.
pytestmark = pytest.mark.slow

VARIANT = "2021-045-lot2"
MAILBOX = "Hauts-de-France@resah.fr"


@pytest.fixture(scope="module")
def unsigned(renderer, resources):
    """Each variant's convention for the commune, laid out without a digital signature: to print and sign."""

    def made(variant: str) -> bytes:
        return b.convention_pdf(b.rendered(renderer, resources, b.Entity(), variant)["convention"], "none")

    return made


def signature_page(pdf: bytes) -> int:
    return scans.signature_zone(pdf).page


def member(pdf: bytes, dpi: int, degradation: str, travels: str, mark: str | None = None, seed: int = 11):
    """The signature page scanned (an image-only PDF) or photographed (a JPEG), signed with `mark` or blank."""
    images = scans.scanned(pdf, dpi, degradation, seed, pages=(signature_page(pdf),), mark=mark)
    if travels == "jpeg":
        return Member("signature.jpg", scans.jpeg_bytes(images[0], 85))
    return Member("Convention.pdf", scans.image_pdf(images, dpi))


def read(m: Member):
    doc = extract(m, reading=ocr.Reading.start(PATIENT, None))
    assert doc.error is None, doc.error  # read, not over a limit: what the page shows is judged
    return doc.signature


# -- one signature page: blank is unsigned, ink or a stamp is signed for a person to check ------------


@pytest.mark.parametrize(
    "variant, dpi, degradation, travels",
    [
        ("2021-045-lot2", 200, "net", "pdf"),
        ("2021-063-002", 300, "jpeg60", "pdf"),
        ("2021-047-001", 200, "noise", "pdf"),
        ("2021-045-lot4", 200, "photo", "jpeg"),  # a phone's photo of the page
    ],
)
def test_a_scanned_signature_page_left_blank_is_not_signed(
    tesseract, unsigned, variant, dpi, degradation, travels
):
    signature = read(member(unsigned(variant), dpi, degradation, travels))
    assert (signature.status, signature.detail) == ("none", UNSIGNED_SCAN)


@pytest.mark.parametrize(
    "variant, dpi, degradation, travels, mark",
    [
        ("2021-045-lot2", 300, "net", "pdf", "scribble"),
        ("2021-063-002", 200, "skew", "pdf", "scribble"),
        ("2021-047-001", 200, "net", "pdf", "stamp"),  # the mairie's stamp alone
        ("2021-045-lot4", 200, "photo", "jpeg", "scribble"),
    ],
)
def test_ink_or_a_stamp_in_a_scanned_signature_zone_is_signed_for_a_person_to_check(
    tesseract, unsigned, variant, dpi, degradation, travels, mark
):
    signature = read(member(unsigned(variant), dpi, degradation, travels, mark))
    assert signature.status == "unverified" and signature.scanned
    assert signature.detail.startswith("signature manuscrite ou cachet à vérifier")
    assert dark(signature.crop)


@pytest.mark.parametrize("mark", [None, "scribble"])
def test_the_two_column_signature_block_is_read_as_well(tesseract, mark):
    """Issue 13's layout: the signatory's cell beside the Resah's, "Signature et cachet" below the room."""
    signature = read(member(scans.side_by_side_pdf(), 200, "net", "pdf", mark))
    assert signature.status == ("unverified" if mark else "none")


@pytest.fixture(scope="module")
def printed(tmp_path_factory, soffice, renderer, resources) -> bytes:
    """The convention csac renders, printed by LibreOffice: the signature block as a buyer gets it."""
    from pipeline.topdf import convert_to_pdf

    source = tmp_path_factory.mktemp("printed") / "convention.docx"
    source.write_bytes(b.rendered(renderer, resources, b.Entity(), VARIANT)["convention"])
    (pdf,) = convert_to_pdf([source], soffice)
    return pdf.read_bytes()


@pytest.mark.parametrize(
    "mark, degradation", [(None, "jpeg60"), (None, "photo"), ("scribble", "jpeg60"), ("stamp", "net")]
)
def test_the_convention_as_libreoffice_prints_it_is_read_as_well(tesseract, printed, mark, degradation):
    """The real block: the name and "Fait à ……, le ……" printed in the zone are no ink, a signature is."""
    signature = read(member(printed, 200, degradation, "pdf", mark))
    assert signature.status == ("unverified" if mark else "none")


def dark(png: bytes | None) -> bool:
    """A PNG holding ink: pixels near black."""
    image = Image.open(io.BytesIO(png))
    return image.format == "PNG" and sum(image.convert("L").histogram()[:96]) > 200


# -- through intake -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def commune():
    return b.Entity()


def scanned_convention(pdf: bytes, mark: str | None, dpi: int = 200, degradation: str = "net") -> bytes:
    """Page 1 (the accord-cadre, the lot, the SIRET) and the signature page, as a copier scans them."""
    return scans.image_pdf(
        scans.scanned(pdf, dpi, degradation, 5, pages=(0, signature_page(pdf)), mark=mark), dpi
    )


@pytest.fixture(scope="module")
def inked(unsigned) -> bytes:
    return scanned_convention(unsigned(VARIANT), "scribble", 300, "jpeg60")


@pytest.fixture(scope="module")
def blank(unsigned) -> bytes:
    return scanned_convention(unsigned(VARIANT), None)


@pytest.fixture(scope="module")
def read_pages():
    """An OCR cache the module's intakes share, on every worker: the same scan is read once, whichever
    test takes it in."""
    return session_builds.shared_folder("ocr-signatures")


@pytest.fixture
def ctx(intake_ctx, read_pages):
    """The test's own intake, with the module's OCR cache where intake keeps what OCR read."""
    state = intake_ctx.workspace.state
    state.mkdir(parents=True, exist_ok=True)
    (state / "ocr").symlink_to(read_pages, target_is_directory=True)
    return replace(intake_ctx, ocr_limits=PATIENT)


@pytest.fixture
def annex(renderer, resources, commune):
    return ("Annexe.xlsx", b.rendered(renderer, resources, commune, VARIANT)["annex"])


@pytest.fixture
def order(commune):
    return ("EJ.pdf", b.order_pdf(commune, Decimal("1000")))


def deposit(members, drop, commune, name: str = "depot.zip"):
    return drop(b.zip_of(members), name=name, form=b.form(commune))


def region_mail(ctx) -> list[email.message.EmailMessage]:
    folder = ctx.workspace.outbox / MAILBOX
    return [email.message_from_bytes(m.as_bytes(), policy=policy.default) for m in mailbox.Maildir(folder)]


def about(ctx, deposit_id: str) -> email.message.EmailMessage:
    return next(m for m in region_mail(ctx) if m["X-CSAC-Deposit-Id"] == deposit_id)


def images(msg) -> dict[str, bytes]:
    return {
        p.get_filename(): p.get_content()
        for p in msg.iter_attachments()
        if p.get_content_type() == "image/png"
    }


def test_a_scanned_unsigned_convention_is_convention_unsigned(
    tesseract, ctx, drop, commune, blank, annex, order
):
    report = take_in(deposit([("Convention.pdf", blank), annex, order], drop, commune), ctx)
    [unsigned] = [p for p in report.problems if p.code == "convention_unsigned"]
    assert UNSIGNED_SCAN in unsigned.message and report.variant == VARIANT and report.mailbox == MAILBOX


def test_a_scanned_signed_convention_is_to_check_and_its_dossier_under_review(
    tesseract, ctx, drop, commune, inked, annex, order
):
    report = take_in(deposit([("Convention.pdf", inked), annex, order], drop, commune), ctx)
    assert report.signature.status == "unverified" and "convention_unsigned" not in report.codes
    assert report.review and report.dossiers[0].review
    assert [w.code for w in report.warnings] == ["signature_to_check"]


def test_the_region_sees_the_scanned_signature_in_its_message(
    tesseract, ctx, drop, commune, inked, annex, order
):
    report = take_in(deposit([("Convention.pdf", inked), annex, order], drop, commune), ctx)
    msg = about(ctx, report.deposit_id)
    [part] = [p for p in msg.iter_attachments() if p.get_content_type() == "image/png"]
    assert part.get_filename() == "signature-Convention.png" and part.get_content_disposition() == "inline"
    assert dark(part.get_content())
    text = msg.get_body(("plain",)).get_content()
    assert "Signature manuscrite à vérifier : voir l'image jointe signature-Convention.png" in text


def test_a_later_deposit_still_shows_the_signature_its_dossier_s_earlier_scan_bears(
    tesseract, ctx, drop, commune, inked, annex, order
):
    take_in(deposit([("Convention.pdf", inked), annex], drop, commune), ctx)
    later = take_in(deposit([order], drop, commune, "suite.zip"), ctx)
    assert later.signature.status == "unverified" and later.review
    assert dark(images(about(ctx, later.deposit_id))["signature-Convention.png"])


def test_a_later_deposit_finds_its_dossier_s_earlier_scan_still_unsigned(
    tesseract, ctx, drop, commune, blank, annex, order
):
    take_in(deposit([("Convention.pdf", blank), annex], drop, commune), ctx)
    later = take_in(deposit([order], drop, commune, "suite.zip"), ctx)
    assert "convention_unsigned" in later.codes and later.status == "incomplete"
