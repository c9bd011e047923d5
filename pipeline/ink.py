"""Ink in a scanned convention's signature zone: where the signatory signs, and whether they did.

A scan has no certificate to check: what says it is signed is ink where the signatory signs. The
zone is found from the words read on the page (Tesseract's word boxes, or a PDF's text layer for the
tests' scans), so it follows the layout: from the label "Pour le signataire" down to the next label
of its column ("Pour le Resah" below it when the two are stacked, else the line "Signature et cachet"
included, else about 5 cm), across to "Pour le Resah" when the two labels stand side by side, else to
the text's right margin. In label heights, so one geometry serves points and pixels at any dpi.
Printed words read with confidence are masked; what is left darker than DARK is ink: a ballpoint,
or a stamp pad's colour. The zone is also cut out, small and grey, for a person to look at.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .textnorm import fold

LABEL = ("pour", "le", "signataire")
RESAH = ("pour", "le", "resah")
CACHET = ("signature", "et", "cachet")
LOOKALIKE = str.maketrans("i1|", "lll")
ROOM = 16  # label heights below the label when no other label closes the zone: about 5 cm at 9 pt
FARTHEST = (
    32  # label heights below the label within which "Signature et cachet" closes the zone (about 10 cm)
)
PRINTED = 50  # Tesseract's confidence from which a word is printed text, masked
FLAT = (
    0.45  # a word this flat (in label heights) is a rule or a dotted leader, masked whatever its confidence
)
DARK = 160  # grey level under which a pixel is ink: ballpoint, or a stamp pad printed at 60 %; paper, grain
# and a photo's shade stay above 190
TALL = 1.3  # label heights a shape must exceed to be a stroke: a printed letter is at most a line high
SIGNED = 0.004  # share of the zone's pixels that are ink from which it is signed (see README: measured)
CROP_DPI = 150  # what the crop is scaled down to: enough to see a signature, small in a message
A4_INCHES = 8.27  # a page's width, for its dpi when only pixels are known (a photo)
MARGIN_INCHES = 0.4  # around the zone in the crop: a signature overflows it


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def pixels(self, scale: float = 1.0) -> tuple[int, int, int, int]:
        return (round(self.left * scale), round(self.top * scale), round(self.right * scale), round(self.bottom * scale))  # fmt: skip


@dataclass(frozen=True)
class Zone:
    """Where the signatory signs (`area`) and the label it was found from, in the page's units."""

    label: Box
    area: Box

    def as_dict(self) -> dict:
        return {"label": list(self.label.pixels()), "area": list(self.area.pixels())}

    @classmethod
    def from_dict(cls, data: dict) -> Zone:
        return cls(Box(*data["label"]), Box(*data["area"]))


@dataclass(frozen=True)
class Seen:
    """What a page shows of a signature: its zone, the share of it that is ink, and its crop (PNG)."""

    zone: Zone | None = None
    ink: float | None = None
    crop: bytes | None = None


def signed(ink: float | None) -> bool:
    return ink is not None and ink > SIGNED


def _box(word) -> Box:
    left, top, width, height = word.box
    return Box(left, top, left + width, top + height)


def _bare(text: str) -> str:
    return re.sub(r"[^a-z0-9|]", "", fold(text))


def _like(read: str, wanted: str) -> bool:
    """A word as OCR may damage it: one letter off in a short word, a fifth of a long one."""
    if len(wanted) <= 3:  # where an l is read as I, i or 1
        return read.translate(LOOKALIKE) == wanted.translate(LOOKALIKE)
    return difflib.SequenceMatcher(None, read, wanted).ratio() >= (0.75 if len(wanted) <= 5 else 0.8)


def _same_line(a: Box, b: Box) -> bool:
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= 0.5 * min(a.height, b.height)


def find(words: Sequence, phrase: tuple[str, ...]) -> list[Box]:
    """Each place the words of `phrase` follow one another on a line: the box around them."""
    bare = [_bare(w.text) for w in words]
    found = []
    for i in range(len(words) - len(phrase) + 1):
        run = [_box(w) for w in words[i : i + len(phrase)]]
        if all(_like(bare[i + k], p) for k, p in enumerate(phrase)) and all(
            _same_line(run[0], b) for b in run[1:]
        ):
            found.append(
                Box(
                    min(b.left for b in run),
                    min(b.top for b in run),
                    max(b.right for b in run),
                    max(b.bottom for b in run),
                )  # fmt: skip
            )
    return found


def zone(words: Sequence, width: float, height: float) -> Zone | None:
    """The signature zone of a page from its words (`text`, `box` = left, top, width, height), in the
    page's units; None when "Pour le signataire" is not on it."""
    labels = find(words, LABEL)
    if not labels:
        return None
    label = labels[0]
    h = label.height
    printed = [_box(w) for w in words if getattr(w, "confidence", 100) >= PRINTED]
    right = max((b.right for b in printed), default=width)
    closing = []  # what ends the zone below the label
    for other in find(words, RESAH):
        if _same_line(other, label) and other.left > label.right:  # side by side: the zone stops before it
            right = min(right, other.left - h)
        elif other.top > label.bottom and other.left < label.right:  # stacked: it closes the zone
            closing.append(other.top - 0.3 * h)
    for line in find(words, CACHET):
        below = label.bottom < line.top < label.top + FARTHEST * h
        if below and line.left < right and line.right > label.left - 2 * h:
            closing.append(line.bottom + 0.3 * h)
    bottom = min(closing, default=label.top + ROOM * h)
    area = Box(max(0, label.left - 0.5 * h), label.top, min(width, right + 0.5 * h), min(height, bottom))
    return Zone(label, area)


def ink(image, words: Sequence, found: Zone) -> float:
    """The share of the zone's pixels that are ink (`image` grey, in pixels): the strokes in it, but where
    a printed word read with confidence lies."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = found.area.pixels()
    seen = image.crop((left, top, right, bottom)).convert("L")
    marks = seen.point(lambda v: 1 if v < DARK else 0)
    strokes = Image.frombytes("L", marks.size, bytes(_strokes(marks, TALL * found.label.height)))
    mask = ImageDraw.Draw(strokes)
    pad = max(2, round(0.15 * found.label.height))
    for word in words:
        box = _box(word)
        if getattr(word, "confidence", 100) >= PRINTED or box.height <= FLAT * found.label.height:
            x0, y0, x1, y1 = box.pixels()
            mask.rectangle((x0 - left - pad, y0 - top - pad, x1 - left + pad, y1 - top + pad), fill=0)
    return strokes.histogram()[1] / max(1, seen.width * seen.height)


def _strokes(marks, tall: float) -> bytearray:
    """The dark pixels (1 in `marks`) of shapes taller than `tall`, as 1s: a pen's strokes, a stamp's
    frame. Printed letters are no taller than a line, so a line OCR did not read (a "Fait à ……, le ……"
    it skipped, a name read with low confidence) is no ink; nor are dots, specks or a scanner's grain."""
    width, pixels = marks.width, bytearray(marks.tobytes())
    kept = bytearray(len(pixels))
    for start in [i for i, v in enumerate(pixels) if v]:
        if pixels[start]:
            shape = _shape(pixels, width, start)
            rows = [at // width for at in shape]
            if max(rows) - min(rows) + 1 > tall:
                for at in shape:
                    kept[at] = 1
    return kept


def _shape(pixels: bytearray, width: int, start: int) -> list[int]:
    """The pixels 8-connected to `start`, cleared from `pixels` as they are taken."""
    pixels[start], stack, shape = 0, [start], []
    while stack:
        at = stack.pop()
        shape.append(at)
        row, col = divmod(at, width)
        for n_row in (row - 1, row, row + 1):
            for n_col in (col - 1, col, col + 1):
                n = n_row * width + n_col
                if 0 <= n_col < width and 0 <= n < len(pixels) and pixels[n]:
                    pixels[n] = 0
                    stack.append(n)
    return shape


def crop(image, found: Zone) -> bytes:
    """The zone and a margin around it, grey, at about CROP_DPI: a PNG a person looks at."""
    from PIL import ImageOps

    dpi = min(image.size) / A4_INCHES
    margin = MARGIN_INCHES * dpi
    area = found.area
    box = Box(max(0, area.left - margin), max(0, area.top - margin),
              min(image.width, area.right + margin), min(image.height, area.bottom + margin))  # fmt: skip
    cut = image.crop(box.pixels()).convert("L")
    scale = min(1.0, CROP_DPI / dpi)
    if scale < 1:
        cut = cut.resize((max(1, round(cut.width * scale)), max(1, round(cut.height * scale))))
    cut = ImageOps.posterize(cut, 4)  # 16 greys show a signature; a noisy scan's grain no longer weighs
    out = io.BytesIO()
    cut.save(out, "PNG", optimize=True)
    return out.getvalue()


def look(image, words: Sequence) -> Seen:
    """What the page (`image`, the words read on it) shows of a signature."""
    found = zone(words, image.width, image.height)
    if found is None:
        return Seen()
    return Seen(found, ink(image, words, found), crop(image, found))
