"""Scans and phone photos of a rendered convention, made the way small communes make them.

A convention laid out by csac is rasterised page by page with pypdfium2 (at 150, 200 or
300 dpi, as scanners and multifunction printers are set), then degraded by pure functions
on PIL images: a page fed askew, JPEG compression, sensor noise, a mairie's stamp over the
text, a phone's perspective with uneven light. Each is deterministic for its seed, so a
test or the bench reads the same pixels every run. The signature zone (below "Pour le
signataire", found by csac's own pipeline/ink.py in the PDF's text layer before rasterising)
is inked with a ballpoint scribble beside the label, or a stamp, or left blank. Pages then travel as an image-only PDF or as JPEG
members convention_p1.jpg, convention_p2.jpg…
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageDraw, ImageFont

from pipeline import ink
from pipeline.ocr import Word

DPIS = (150, 200, 300)
WHITE = (255, 255, 255)
INK = (20, 30, 110)  # a blue ballpoint
STAMP_COLOURS = ((40, 60, 170), (170, 30, 50), (110, 40, 140))  # blue, red, violet pads
SIGNATURE_LABEL = "Pour le signataire"


@dataclass(frozen=True)
class Zone:
    """Where a convention is signed, in PDF points from the page's top left corner, as csac finds it
    (pipeline/ink.py); `label_right` is where the printed lines in the zone end (the label, the name,
    "Fait à …"): people sign beside them."""

    page: int  # 0-based
    left: float
    top: float
    right: float
    bottom: float
    label_right: float

    def pixels(self, dpi: int) -> tuple[int, int, int, int]:
        k = dpi / 72
        return round(self.left * k), round(self.top * k), round(self.right * k), round(self.bottom * k)

    def room(self, dpi: int) -> tuple[int, int, int, int]:
        """The part of the zone beside its printed lines, in pixels: where people sign."""
        left, top, right, bottom = self.pixels(dpi)
        return round(self.label_right * dpi / 72), top, right, bottom


def words(page) -> list[Word]:
    """A pdfplumber page's words as csac's OCR gives them: text and box (left, top, width, height),
    in points, read with full confidence."""
    return [
        Word(w["text"], (w["x0"], w["top"], w["x1"] - w["x0"], w["bottom"] - w["top"]), 100.0)
        for w in page.extract_words()
    ]


def signature_zone(pdf: bytes) -> Zone:
    """The signature zone of a convention: csac's own geometry (pipeline/ink.py), on the words of the
    PDF's text layer, so that a scribble lands where csac looks, whatever the layout."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for number, page in enumerate(doc.pages):
            found = ink.zone(words(page), page.width, page.height)
            if found:
                area = found.area
                return Zone(number, area.left, area.top, area.right, area.bottom, _printed_right(page, area))
    raise ValueError(f"no {SIGNATURE_LABEL!r} in this PDF")


def _printed_right(page, area) -> float:
    """Where the words printed inside the zone end, on the right."""
    inside = [
        w["x1"]
        for w in page.extract_words()
        if w["top"] < area.bottom and w["bottom"] > area.top and area.left <= w["x0"] < area.right
    ]
    return max(inside, default=area.left) + 2  # a pen keeps clear of the last letter


def rasterise(pdf: bytes, dpi: int, pages: tuple[int, ...] | None = None) -> list[Image.Image]:
    """The PDF's pages (0-based `pages`, all by default) as RGB images, as a flatbed scanner sees them."""
    doc = pdfium.PdfDocument(pdf)
    try:
        chosen = range(len(doc)) if pages is None else pages
        return [doc[i].render(scale=dpi / 72).to_pil().convert("RGB") for i in chosen]
    finally:
        doc.close()


# --- ink in the signature zone ---------------------------------------------------------


def _bezier(p0, p1, p2, p3, steps: int = 40) -> list[tuple[float, float]]:
    out = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        out.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return out


def scribble(image: Image.Image, zone: Zone, dpi: int, seed: int) -> Image.Image:
    """`image` (the zone's page) with a hand signature: random Bezier strokes in dark blue ink, beside
    the label, as people sign (over the lines below it, not over the label itself)."""
    rng = random.Random(seed)
    left, top, right, bottom = zone.room(dpi)
    inner = (
        left + (right - left) * 0.05,
        top + (bottom - top) * 0.1,
        right - (right - left) * 0.15,
        bottom - (bottom - top) * 0.1,
    )
    out = image.copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(dpi * 0.5 / 25.4))  # a 0.5 mm ballpoint
    pen = (rng.uniform(inner[0], inner[2]), rng.uniform(inner[1], inner[3]))
    for _ in range(rng.randint(6, 9)):
        points = [pen] + [
            (rng.uniform(inner[0], inner[2]), rng.uniform(inner[1], inner[3])) for _ in range(3)
        ]
        draw.line(_bezier(*points), fill=INK, width=width, joint="curve")
        pen = points[-1]
    return out


# --- degradations: pure, deterministic for a seed ------------------------------------------


def skew(image: Image.Image, degrees: float) -> Image.Image:
    """A page fed askew: turned by `degrees` (counter-clockwise), the corners left white."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=WHITE)


def jpeg(image: Image.Image, quality: int = 60) -> Image.Image:
    """The page after a JPEG round trip, as a scanner's 'compact' setting saves it."""
    return Image.open(io.BytesIO(jpeg_bytes(image, quality))).convert("RGB")


def jpeg_bytes(image: Image.Image, quality: int = 60) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def noise(image: Image.Image, seed: int, amplitude: int = 48) -> Image.Image:
    """Grey sensor noise: each pixel darkened or lightened by up to `amplitude` levels."""
    rng = random.Random(seed)
    size = image.width * image.height

    def layer() -> Image.Image:
        raw = Image.frombytes("L", image.size, rng.randbytes(size))
        return Image.merge("RGB", [raw.point(lambda v: v * amplitude // 255)] * 3)

    return ImageChops.subtract(ImageChops.add(image, layer()), layer())


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def stamp(image: Image.Image, seed: int, dpi: int, at: tuple[float, float] = (0.55, 0.3)) -> Image.Image:
    """A mairie's stamp over the text at `at` (fractions of the page): a round or rectangular
    ring with its name, in a pad colour, printed at 60% so the text stays under it."""
    rng = random.Random(seed)
    colour = rng.choice(STAMP_COLOURS)
    radius = round(dpi * 0.75)  # 1.5 in across
    cx, cy = round(image.width * at[0]), round(image.height * at[1])
    box = (cx - radius, cy - radius * (1 if rng.random() < 0.5 else 0.6), cx + radius, cy + radius * 0.6)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    ink = (*colour, 170)
    line = max(3, dpi // 40)
    if box[1] == cy - radius:
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        draw.ellipse(box, outline=ink, width=line)
        draw.ellipse(
            [c + (line * 3 if i < 2 else -line * 3) for i, c in enumerate(box)], outline=ink, width=line // 2
        )
    else:
        draw.rectangle(box, outline=ink, width=line)
    font = _font(dpi // 7)
    for dy, text in ((-0.25, "MAIRIE DE"), (0.0, "TEST-SUR-MER"), (0.25, "Le Maire")):
        draw.text((cx, cy + dy * radius), text, fill=ink, font=font, anchor="mm")
    layer = layer.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BICUBIC, center=(cx, cy))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def stamp_in_zone(image: Image.Image, zone: Zone, dpi: int, seed: int) -> Image.Image:
    """`image` (the zone's page) with the mairie's stamp beside the label, where some sign with it only."""
    left, top, right, bottom = zone.room(dpi)
    at = ((left + (right - left) * 0.3) / image.width, (top + bottom) / 2 / image.height)
    return stamp(image, seed, dpi, at)


def _solve(matrix: list[list[float]], values: list[float]) -> list[float]:
    """Gauss-Jordan elimination with partial pivoting (8 unknowns: no numpy needed)."""
    rows = [row[:] + [v] for row, v in zip(matrix, values, strict=True)]
    n = len(rows)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                f = rows[r][col] / rows[col][col]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def _perspective(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """PIL's PERSPECTIVE coefficients mapping each output point in `dst` to its input point in `src`."""
    matrix, values = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    return _solve(matrix, values)


def photo(image: Image.Image, seed: int) -> Image.Image:
    """A phone photo of the page lying on a desk: seen at an angle (its corners pulled in by up
    to 6%), on a grey desk, lit from one side (a quarter darker on the far side)."""
    rng = random.Random(seed)
    w, h = image.size
    corners = [(0, 0), (w, 0), (w, h), (0, h)]
    pulled = [(x + rng.uniform(0.01, 0.06) * w * (1 if x == 0 else -1), y + rng.uniform(0.01, 0.06) * h * (1 if y == 0 else -1)) for x, y in corners]  # fmt: skip
    coeffs = _perspective(pulled, corners)
    seen = image.transform(
        image.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=(96, 88, 80)
    )
    light = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize(image.size)
    light = light.point(lambda v: 255 - v // 4)  # 255 on the lit side, 192 on the far side
    return ImageChops.multiply(seen, Image.merge("RGB", [light] * 3))


# --- how the pages travel -----------------------------------------------------------------


def image_pdf(images: list[Image.Image], dpi: int) -> bytes:
    """An image-only PDF, one page per image, as a scanner's 'scan to PDF' writes it."""
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buf.getvalue()


def photo_members(
    images: list[Image.Image], quality: int = 85, stem: str = "convention"
) -> list[tuple[str, bytes]]:
    """JPEG members convention_p1.jpg, convention_p2.jpg…, as a phone shares a series of photos."""
    return [(f"{stem}_p{i}.jpg", jpeg_bytes(img, quality)) for i, img in enumerate(images, start=1)]


# --- the bench's corpus ------------------------------------------------------------------------


Degradation = Callable[[Image.Image, int, int], Image.Image]  # (page, seed, dpi) -> degraded page

DEGRADATIONS: dict[str, Degradation] = {
    "net": lambda img, seed, dpi: img,
    "skew": lambda img, seed, dpi: skew(img, 3.0 if seed % 2 else -3.0),  # ±3°, the side by the seed
    "jpeg60": lambda img, seed, dpi: jpeg(img, 60),
    "noise": lambda img, seed, dpi: noise(img, seed),
    "stamp": lambda img, seed, dpi: stamp(img, seed, dpi),
    "photo": lambda img, seed, dpi: photo(img, seed),
}


MARKS = {"scribble": scribble, "stamp": stamp_in_zone}  # (page, zone, dpi, seed) -> the page signed


def scanned(
    pdf: bytes,
    dpi: int,
    degradation: str,
    seed: int,
    pages: tuple[int, ...] | None = None,
    mark: str | None = None,
) -> list[Image.Image]:
    """The convention's pages as scanned: rasterised at `dpi`, signed in its signature zone with a
    `mark` (a "scribble" in ink, or a "stamp") or left blank, then degraded; `pages` 0-based, all
    by default."""
    zone = signature_zone(pdf) if mark else None
    chosen = tuple(range(len(pdfium.PdfDocument(pdf)))) if pages is None else pages
    images = rasterise(pdf, dpi, chosen)
    if zone is not None and zone.page in chosen:
        at = chosen.index(zone.page)
        images[at] = MARKS[mark](images[at], zone, dpi, seed)
    return [DEGRADATIONS[degradation](img, seed + i, dpi) for i, img in enumerate(images)]


def ink_ratio(image: Image.Image, box: tuple[int, int, int, int], threshold: int = 128) -> float:
    """The share of dark pixels in `box` (left, top, right, bottom, pixels) of a page."""
    crop = image.crop(box).convert("L")
    dark = sum(crop.point(lambda v: 255 if v < threshold else 0).histogram()[255:])
    return dark / max(1, crop.width * crop.height)


# --- the two-column signature block (issue 13's layout) -----------------------------------------

SIDE_BY_SIDE = (
    (
        "Pour le signataire,",
        "Son représentant",
        "Fait à ………………………………, le ………………",
        "Nom et qualité : ………………………………",
    ),
    ("Pour le Resah,", "Le directeur général", "Fait à Paris, le ………………", "Dominique LEGOUGE"),
)


def side_by_side_pdf() -> bytes:
    """A convention's last page laid out as issue 13 lays it out: a borderless two-column table, the
    signatory's cell on the left and the Resah's on the right, each with its lines, about 4 cm of room,
    then "Signature et cachet"."""
    from fpdf import FPDF

    from pipeline.sample import FONTS

    pdf = FPDF(format="A4")
    font = next((f for f in FONTS if Path(f).is_file()), None)
    pdf.add_font("Body", fname=font)
    pdf.set_font("Body", size=10)
    pdf.add_page()
    pdf.multi_cell(0, 5, "Article 12 – Signatures\nLa présente convention est établie en deux exemplaires.")
    top = pdf.get_y() + 10
    for column, lines in enumerate(SIDE_BY_SIDE):
        pdf.set_xy(15 + column * 95, top)
        pdf.multi_cell(85, 5.5, "\n".join(lines))
        pdf.set_xy(15 + column * 95, top + 4 * 5.5 + 40)
        pdf.multi_cell(85, 5.5, "Signature et cachet")
    return bytes(pdf.output())


# --- a convention as a mairie prints it -------------------------------------------------------------


def printed(docx: bytes, size: float = 10.5, footer: bool = True) -> bytes:
    """The convention as a word processor prints it: in a larger body (six A4 pages at 10.5 pt) and,
    as the Resah's own conventions are, with a "Page N sur M" footer on each page (`footer`)."""
    from fpdf import FPDF

    from pipeline import sample

    class Printed(FPDF):
        def footer(self) -> None:
            if footer:
                self.set_y(-12)
                self.cell(0, 5, f"Page {self.page_no()} sur {{nb}}", align="R")

    pdf = Printed(format="A4")
    font = next(f for f in sample.FONTS if __import__("pathlib").Path(f).is_file())
    pdf.add_font("Body", fname=font)
    pdf.set_font("Body", size=size)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    for para in sample.docx_paragraphs(docx):
        pdf.multi_cell(0, size * 0.5, para, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    return bytes(pdf.output())
