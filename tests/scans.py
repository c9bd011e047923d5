"""Scans and phone photos of a rendered convention, made the way small communes make them.

A convention laid out by csac is rasterised page by page with pypdfium2 (at 150, 200 or
300 dpi, as scanners and multifunction printers are set), then degraded by pure functions
on PIL images: a page fed askew, JPEG compression, sensor noise, a mairie's stamp over the
text, a phone's perspective with uneven light. Each is deterministic for its seed, so a
test or the bench reads the same pixels every run. The signature zone (beside "Pour le
signataire": csac's layout prints text right below it; found in the PDF's own text layer
before rasterising) is inked with a
ballpoint scribble or left blank. Pages then travel as an image-only PDF or as JPEG
members convention_p1.jpg, convention_p2.jpg…
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass

import pdfplumber
import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageDraw, ImageFont

DPIS = (150, 200, 300)
WHITE = (255, 255, 255)
INK = (20, 30, 110)  # a blue ballpoint
STAMP_COLOURS = ((40, 60, 170), (170, 30, 50), (110, 40, 140))  # blue, red, violet pads
SIGNATURE_LABEL = "Pour le signataire"


@dataclass(frozen=True)
class Zone:
    """Where a convention is signed, in PDF points (or pixels) from the page's top left corner."""

    page: int  # 0-based
    left: float
    top: float
    right: float
    bottom: float

    def pixels(self, dpi: int) -> tuple[int, int, int, int]:
        k = dpi / 72
        return round(self.left * k), round(self.top * k), round(self.right * k), round(self.bottom * k)


def zone_of_label(page: int, left: float, top: float, right: float, bottom: float) -> Zone:
    """The signature zone for the label "Pour le signataire" boxed (left, top, right, bottom).

    csac's layout prints "Son représentant" and "Pour le Resah" right below the label, so people
    sign beside it: from three label heights to its right, over the two short lines below it,
    stopping before the long "Le directeur général…" line. In label heights, so the same
    geometry serves PDF points and a scan's pixels at any resolution."""
    h = bottom - top
    return Zone(page, right + 3 * h, top - 0.5 * h, left + 30 * h, top + 4.2 * h)


def signature_zone(pdf: bytes) -> Zone:
    """The signature zone of a convention, read from the PDF's text layer."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for number, page in enumerate(doc.pages):
            found = page.search(SIGNATURE_LABEL, regex=False)
            if found:
                hit = found[0]
                return zone_of_label(number, hit["x0"], hit["top"], hit["x1"], hit["bottom"])
    raise ValueError(f"no {SIGNATURE_LABEL!r} in this PDF")


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
    """`image` (the zone's page) with a hand signature: random Bezier strokes in dark blue ink."""
    rng = random.Random(seed)
    left, top, right, bottom = zone.pixels(dpi)
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


def scanned(
    pdf: bytes, dpi: int, degradation: str, seed: int, pages: tuple[int, ...] | None = None, ink: bool = False
) -> list[Image.Image]:
    """The convention's pages as scanned: rasterised at `dpi`, signed in ink (or not) in its
    signature zone, then degraded; `pages` 0-based, all by default."""
    zone = signature_zone(pdf) if ink else None
    chosen = tuple(range(len(pdfium.PdfDocument(pdf)))) if pages is None else pages
    images = rasterise(pdf, dpi, chosen)
    if zone is not None and zone.page in chosen:
        at = chosen.index(zone.page)
        images[at] = scribble(images[at], zone, dpi, seed)
    return [DEGRADATIONS[degradation](img, seed + i, dpi) for i, img in enumerate(images)]


def ink_ratio(image: Image.Image, box: tuple[int, int, int, int], threshold: int = 128) -> float:
    """The share of dark pixels in `box` (left, top, right, bottom, pixels) of a page."""
    crop = image.crop(box).convert("L")
    dark = sum(crop.point(lambda v: 255 if v < threshold else 0).histogram()[255:])
    return dark / max(1, crop.width * crop.height)


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
