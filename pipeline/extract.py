"""Text of each document (PDF, DOCX, XLSX), repaired by the one normalisation.

The kind is decided by the content's magic bytes, not the name: deposits
arrive as scan001.pdf or doc.xlsx, and sometimes a file is not what its
extension says. A document that cannot be read is kept with its error, so
it is set aside rather than lost.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field, replace

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from . import active, ink, ocr
from .archive import ArchiveRejected, Limits, Member, check_package, is_zip
from .pdfguard import oversized_stream
from .signature import INVALID, NONE, UNVERIFIED, VALID, SignatureCheck, check_pdf
from .textnorm import fold, normalise

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MAX_PAGES = 200
MAX_ROWS = 5000
SIGNATURE_BLOCK = "pour le signataire"  # where a pasted signature image would sit
UNSIGNED_SCAN = "la convention scannée ne porte pas de signature"


@dataclass(frozen=True)
class Extracted:
    name: str
    kind: str  # pdf, docx, xlsx, image or other
    text: str
    rows: tuple[tuple[str, ...], ...] = ()
    pages: int = 0
    scanned_pages: int = 0
    signature: SignatureCheck = SignatureCheck(NONE)
    error: str | None = None  # could not be read: set aside
    unsafe: bool = False  # would have made its reader inflate a bomb
    active: tuple[str, ...] = ()  # active content found (active.py codes): flagged, programs never forwarded
    data: bytes = field(default=b"", repr=False, compare=False)  # the bytes, for what is forwarded
    ocr: str | None = None  # a scan: what OCR read of it, or why it could not (in French)
    scan_pages: tuple[ocr.PageText, ...] = field(default=(), repr=False, compare=False)  # as OCR read them
    # a document made of several files (photos of its pages, in page order): each file's name and bytes
    parts: tuple[tuple[str, bytes], ...] = field(default=(), repr=False, compare=False)

    @property
    def files(self) -> tuple[tuple[str, bytes], ...]:
        """The files the document is: itself, or each photo of its pages; all are kept and forwarded."""
        return self.parts or ((self.name, self.data),)

    @property
    def scanned(self) -> bool:
        return self.kind == "image" or (self.pages > 0 and self.scanned_pages == self.pages)


def sniff(data: bytes) -> str:
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if is_zip(data):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, ValueError):
            return "other"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        return "other"
    if (
        data[:3] == b"\xff\xd8\xff"
        or data[:8] == b"\x89PNG\r\n\x1a\n"
        or data[:4] in ocr.TIFF_MAGIC
        or ocr.is_heic(data)
    ):
        return "image"
    return "other"


def _pdf(member: Member, reading: ocr.Reading | None = None) -> Extracted:
    doc = pdfium.PdfDocument(bytes(member.data))
    try:
        texts, scanned, signature_image = [], 0, False
        for index in range(min(len(doc), MAX_PAGES)):
            page = doc[index]
            text = page.get_textpage().get_text_range()
            has_image = any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
            scanned += int(has_image and not text.strip())
            signature_image = signature_image or (has_image and SIGNATURE_BLOCK in fold(text))
            texts.append(text)
        pages = len(doc)
    finally:
        doc.close()
    # A logo is not a signature: only a scanned page or an image beside the signature block is.
    unverifiable = scanned > 0 or signature_image
    signature = check_pdf(member.data, unverifiable)
    extracted = Extracted(member.name, "pdf", normalise("\n".join(texts)), (), pages, scanned, signature)
    return _ocr_pdf(extracted, member.data, texts, reading) if scanned and reading else extracted


def _ocr_pdf(doc: Extracted, data: bytes, texts: list[str], reading: ocr.Reading) -> Extracted:
    """A scanned PDF's text as OCR reads it, its text layer kept where it has one."""
    if reading.missing:
        return replace(doc, ocr=reading.missing)
    pages = ocr.read_pdf(bytes(data), reading.limits, reading.cache)
    read = [p.text if p.ocr else texts[p.number - 1] for p in pages if p.number <= len(texts)]
    return _with_ocr(replace(doc, text=normalise("\n".join(read))), pages, reading.limits)


def _with_ocr(doc: Extracted, pages: tuple[ocr.PageText, ...], limits: ocr.Limits) -> Extracted:
    """The note a scan carries; a page over a limit sets the document aside, with why."""
    refused = [p for p in pages if p.unread and not ocr.beyond_pages(p, limits)]
    skipped = [p for p in pages if p.unread and ocr.beyond_pages(p, limits)]
    read = sum(p.ocr for p in pages)
    doc = replace(doc, scan_pages=pages, signature=scan_signature(doc.signature, pages))
    note = f"lu par OCR ({read} page{'s' if read > 1 else ''})"
    if skipped:
        note += f", pages {skipped[0].number} à {skipped[-1].number} non lues (au-delà de {limits.max_pages})"
    if not refused:
        return replace(doc, ocr=note)
    why = "; ".join(f"page {p.number} {p.unread}" for p in refused[:3])
    return replace(doc, ocr=note, error=f"scan non lu par OCR : {why}"[:300])


def scan_signature(found: SignatureCheck, pages: tuple[ocr.PageText, ...]) -> SignatureCheck:
    """A scan's signature: what its pages show (a scan has no certificate to check), unless the PDF
    also carries a digital signature, which says more. The one place a scan's signature is decided,
    whether its pages come from one PDF or from several photos: ink in the zone of "Pour le signataire"
    is a signature for a person to look at; that zone empty, none; that label never read, a person looks."""
    if found.status in (VALID, INVALID):
        return found
    zoned = [p for p in pages if p.zone is not None]
    inked = [p for p in zoned if ink.signed(p.ink)]
    if inked:
        page = inked[0]
        detail = f"signature manuscrite ou cachet à vérifier (page {page.number})"
        return SignatureCheck(UNVERIFIED, detail=detail, scanned=True, crop=page.crop)
    if zoned:
        return SignatureCheck(NONE, detail=UNSIGNED_SCAN, scanned=True)
    return SignatureCheck(
        UNVERIFIED, detail="signature non localisée : à vérifier visuellement", scanned=True
    )


def _image(member: Member, reading: ocr.Reading) -> Extracted:
    """A photo's text, or a multi-page TIFF's, a page a frame."""
    doc = Extracted(member.name, "image", "", scanned_pages=1)
    if reading.missing:
        return replace(doc, ocr=reading.missing)
    pages = ocr.read_frames(member.data, reading.limits, reading.cache)
    text = normalise("\n".join(p.text for p in pages))
    return _with_ocr(
        replace(doc, text=text, pages=len(pages), scanned_pages=len(pages)), pages, reading.limits
    )


def _image_after_signature_block(body) -> bool:
    seen_block = False
    for para in body.iter(f"{W}p"):
        seen_block = seen_block or SIGNATURE_BLOCK in fold("".join(t.text or "" for t in para.iter(f"{W}t")))
        if seen_block and para.find(f".//{W}drawing") is not None:
            return True
    return False


def _docx(member: Member) -> Extracted:
    from docx import Document as open_docx  # imported by the deposits that hold Word: 0.1 s at start-up

    document = open_docx(io.BytesIO(member.data))
    parts = [document.element.body] + [
        part._element for section in document.sections for part in (section.header, section.footer)
    ]
    lines = ["".join(t.text or "" for t in p.iter(f"{W}t")) for part in parts for p in part.iter(f"{W}p")]
    image = _image_after_signature_block(document.element.body)
    signature = (
        SignatureCheck(
            "unverified", detail="image de signature dans le document Word : à vérifier visuellement"
        )
        if image
        else SignatureCheck(NONE, detail="document Word non signé")
    )
    return Extracted(member.name, "docx", normalise("\n".join(lines)), (), 0, 0, signature)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return normalise(str(value))


def _xlsx(member: Member) -> Extracted:
    from openpyxl import load_workbook  # imported by the deposits that hold Excel: 0.2 s at start-up

    workbook = load_workbook(io.BytesIO(member.data), read_only=True, data_only=True)
    try:
        rows = []
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows(values_only=True):
                cells = tuple(_cell(v) for v in row)
                if any(cells):
                    rows.append(cells)
                if len(rows) >= MAX_ROWS:
                    break
    finally:
        workbook.close()
    text = "\n".join("\t".join(cells) for cells in rows)
    return Extracted(member.name, "xlsx", text, tuple(rows))


READERS = {"pdf": _pdf, "docx": _docx, "xlsx": _xlsx}


def _guard(kind: str, member: Member, limits: Limits) -> None:
    """Refuse what would make a reader inflate a bomb, before the reader sees it."""
    if kind in ("docx", "xlsx"):
        check_package(member.data, limits)
    elif kind == "pdf" and oversized_stream(member.data, limits.max_pdf_stream_bytes):
        raise ArchiveRejected("archive_unsafe", "flux PDF démesuré une fois décompressé (bombe)", "bomb")


def _active(kind: str, member: Member) -> tuple[str, ...]:
    if active.is_executable(member.name, member.data):
        return (active.EXECUTABLE,)
    if kind == "pdf":
        return active.in_pdf(member.data)
    return active.in_ooxml(member.data) if kind in ("docx", "xlsx") else active.in_other(member.data)


def extract(member: Member, limits: Limits = Limits(), reading: ocr.Reading | None = None) -> Extracted:
    """The document's text, and any active content it carries, whether or not it reads.

    With `reading`, scans and photos are read by OCR; without, they have no text (a name only)."""
    kind = sniff(member.data)
    return replace(_read(member, limits, kind, reading), active=_active(kind, member), data=member.data)


def _read(member: Member, limits: Limits, kind: str, reading: ocr.Reading | None = None) -> Extracted:
    reader = READERS.get(kind)
    if kind == "image" and reading:
        return _image(member, reading)
    if reader is None:
        return Extracted(member.name, kind, "", scanned_pages=int(kind == "image"))
    try:
        _guard(kind, member, limits)
        return reader(member, reading) if kind == "pdf" else reader(member)
    except ArchiveRejected as exc:
        return Extracted(member.name, "other", "", error=f"document dangereux : {exc.reason}", unsafe=True)
    except Exception as exc:  # a broken document is set aside, never fatal to the deposit
        return Extracted(member.name, "other", "", error=unreadable_document(kind, exc))


def unreadable_document(kind: str, exc: Exception) -> str:
    """Why a document could not be read, in French: the library's own words ("Failed to load document
    (PDFium: Data format error)", "File is not a zip file") reached the regional team's message. The
    exception's name stays, in parentheses, for whoever investigates."""
    return f"{kind.upper()} illisible : fichier endommagé ou d'un format que csac ne lit pas ({type(exc).__name__})"
