"""Scans and photos made from the documents the tests render: what OCR is given to read.

A page is rasterised with pypdfium2 as a scanner would (grey, at a given dpi), then
wrapped in an image-only PDF or saved as a phone's JPEG. The bombs are written
header first, their pixels streamed, so building one never holds it in memory.
"""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
import pypdfium2 as pdfium
from PIL import Image

from pipeline import ocr

# The tests run beside others on two cores: a page may wait its turn for a core many times over.
# The limits themselves are tested with their own values (tests/test_ocr.py).
PATIENT = ocr.Limits(cpu_seconds_per_page=120, wall_seconds_per_page=300, deposit_seconds=600)


def pages(pdf: bytes, dpi: int = 200) -> list[Image.Image]:
    """Each page of a PDF as a scanner's grey image at `dpi`."""
    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for i in range(len(doc))]
    finally:
        doc.close()


def image_pdf(images: list[Image.Image], dpi: int = 200) -> bytes:
    """An image-only PDF, one image a page, as a copier writes it: no text layer at all."""
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


def scanned(pdf: bytes, dpi: int = 200) -> bytes:
    """The PDF printed and scanned back: the same pages, only pixels."""
    return image_pdf(pages(pdf, dpi), dpi)


def jpeg(image: Image.Image, quality: int = 85, turn: int = 0) -> bytes:
    """A phone's photo of a page, maybe held sideways (`turn` degrees counter-clockwise)."""
    out = io.BytesIO()
    (image.rotate(turn, expand=True) if turn else image).save(out, "JPEG", quality=quality)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A white 1-bit PNG of width × height: a few hundred kB that decode to width × height pixels."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte, then the row's bits
    squeeze = zlib.compressobj(9)
    body = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def enormous_page_pdf(points: int = 14_400) -> bytes:
    """A one-page PDF whose MediaBox declares points × points (200 inches a side: 3.6 Gpx at 300 dpi),
    holding only a small image, as a scan's page does."""
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, b"\x80" * 100)
    image.update({"/Type": "/XObject", "/Subtype": "/Image", "/Width": 10, "/Height": 10,
                  "/ColorSpace": "/DeviceGray", "/BitsPerComponent": 8})  # fmt: skip
    content = pikepdf.Stream(pdf, f"q {points} 0 0 {points} 0 0 cm /Im Do Q".encode())
    page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, points, points], Contents=content,
                              Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im=image)))  # fmt: skip
    pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
