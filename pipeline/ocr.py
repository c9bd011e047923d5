"""Text of scans and photos, read by Tesseract in French, at a bounded cost.

A page is OCRed only when it has no usable text layer. Each page is rendered
and read in a forked worker whose CPU time and address space are capped
(RLIMIT_CPU, RLIMIT_AS, inherited by Tesseract) and which is killed past a
wall-clock timeout: a hostile scan costs at most those bounds, and a page
over a limit comes back unread with the reason, never as an exception.
A page's size is checked from what it declares (a PDF's MediaBox, an image's
header) before any pixel is decoded. In the worker, the page is stood upright
(Tesseract's orientation detection) and straightened when it was fed askew
(±5°), then read; the page says how it was turned, the frame of its word boxes.
A TIFF's frames are pages, read as a PDF's are. Pages already read are cached
under their rendered bytes' sha256, so no page is OCRed twice.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import multiprocessing
import os
import re
import resource
import shutil
import signal
import time
import warnings
from base64 import b64decode, b64encode
from dataclasses import dataclass, field, replace
from pathlib import Path

from .ink import Seen, Zone, look
from .textnorm import normalise

LANG = "fra"
INSTALL = "apt-get install tesseract-ocr tesseract-ocr-fra"
MIN_TEXT = 20  # fewer letters than this on a page: its text layer is not usable (a scanner's stamp)
MIN_DPI = 100  # below this a page is too coarse to read: a larger one is refused
BLANK_RANGE = 16  # a page whose darkest pixel is this close to white holds nothing to read
OSD_HALVED = 2400  # pixels on the short side (A4 at 300 dpi) from which orientation is seen at half size
OSD_SURE = 2.0  # Tesseract's orientation confidence under which a page is read as it is
DESKEW_MAX = 5  # degrees either way a page fed askew is looked for
DESKEW_MIN = 0.5  # degrees under which a page is read as it lies (a straight scan or photo: up to 0.4)
DESKEW_SIDE = 600  # pixels on the short side of the copy the angle is looked for on
# A page read as it lies is taken as upright when its French reads (see _reads_upright):
COMMON_WORDS = frozenset(("de", "la", "le", "les", "des", "et", "du", "en", "à", "au", "aux", "par", "pour", "une", "un", "est", "dans", "sur", "que", "qui", "ou"))  # fmt: skip
UPRIGHT_CONFIDENCE = 60  # Tesseract's confidence (0-100) from which a word counts as read
UPRIGHT_COMMON = 5  # common words read at least…
UPRIGHT_SHARE = 0.05  # …and at least this share of the words read
UPRIGHT_SHARE_WIDE = 0.8  # share of the longer words (4 letters and more) wider than tall
CACHE_VERSION = "3"  # 2: what the page shows of a signature (ink.py); 3: pages straightened before reading
HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
HEIC_INSTALL = "pip install 'csac[heic]'"


@dataclass(frozen=True)
class Limits:
    dpi: int = 300
    max_pages: int = 8  # a convention has 5-6 pages
    cpu_seconds_per_page: int = 20
    memory_bytes: int = 1 << 30  # address space a page's worker may add
    deposit_seconds: float = 120.0
    max_pixels: int = 60_000_000  # a page or image larger than this is shrunk (a PDF) or refused
    wall_seconds_per_page: float = 30.0
    deadline: float | None = None  # time.monotonic() when the deposit's time is up (see `started`)
    straighten: bool = True  # turn back a page fed askew before reading it (bench/deskew.py measures both)

    def started(self) -> Limits:
        """The same limits, the deposit's clock started now."""
        return replace(self, deadline=time.monotonic() + self.deposit_seconds)


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[int, int, int, int]  # left, top, width, height in the page's pixels
    confidence: float


@dataclass(frozen=True)
class PageText:
    number: int  # from 1
    text: str
    unread: str | None = None  # why the page was not read, in French
    words: tuple[Word, ...] = ()
    ocr: bool = False  # the text was read by OCR, not taken from the text layer
    zone: Zone | None = None  # where "Pour le signataire" is signed, in the read image's pixels
    ink: float | None = None  # the share of that zone that is ink (pipeline/ink.py)
    crop: bytes | None = field(default=None, repr=False)  # the zone cut out, grey, as a PNG
    # how the page was turned before it was read (its word boxes are in the page so turned, see `as_read`):
    upright: int = 0  # degrees counter-clockwise, the canvas grown to fit, to stand it the right way up
    skew: float = 0.0  # then degrees counter-clockwise, on the same canvas, to straighten it


@dataclass(frozen=True)
class Reading:
    """What one deposit's readers need for OCR: its limits (the deposit's clock started) and the cache."""

    limits: Limits = Limits()
    cache: Path | None = None

    @classmethod
    def start(cls, limits: Limits, cache: Path | None) -> Reading:
        return cls(limits.started(), cache)

    @property
    def missing(self) -> str | None:
        """Why OCR cannot run (None when it can), asked only when a page or photo needs OCR: importing
        pytesseract and starting `tesseract --list-langs` cost an intake about 65 ms of CPU (0.25 s of wall
        time on a loaded machine), and most deposits hold no scan."""
        return available()


def available() -> str | None:
    """None when OCR can run; else why not, in French, with how to install it."""
    return _probe(os.environ.get("PATH", ""))


@functools.lru_cache(maxsize=4)
def _probe(path: str) -> str | None:
    """Asked once per PATH: Tesseract does not come and go while csac runs."""
    if shutil.which("tesseract", path=path) is None:
        return f"OCR indisponible (Tesseract absent) : pour lire les scans, installez-le ({INSTALL})"
    import pytesseract

    try:
        languages = pytesseract.get_languages(config="")
    except Exception as exc:  # a broken install reads as no install
        return (
            f"OCR indisponible (Tesseract ne répond pas : {type(exc).__name__}) : réinstallez-le ({INSTALL})"
        )
    if LANG not in languages:
        return f"OCR indisponible (français de Tesseract absent) : installez-le ({INSTALL})"
    return None


def read_pdf(data: bytes, limits: Limits, cache: Path | None = None) -> tuple[PageText, ...]:
    """Each page's text: the text layer where it is usable, OCR (in a bounded worker) elsewhere."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        layers = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()
    pages, ocred = [], 0
    for index, layer in enumerate(layers):
        if usable(layer):
            pages.append(PageText(index + 1, normalise(layer)))
            continue
        ocred += 1
        if ocred > limits.max_pages:
            pages.append(PageText(index + 1, "", _beyond(limits)))
            continue
        pages.append(_bounded(_pdf_page, (data, index), index + 1, limits, cache))
    return tuple(pages)


def read_image(data: bytes, limits: Limits, cache: Path | None = None) -> PageText:
    """The text of a photo or scanned image (JPEG, PNG, HEIC; a TIFF's first frame)."""
    return _bounded(_image_page, (data,), 1, limits, cache)


def read_frames(data: bytes, limits: Limits, cache: Path | None = None) -> tuple[PageText, ...]:
    """Each frame of an image, a page each (a multi-page TIFF, as a scanner's feeder writes it), at most
    `max_pages` read, as for a PDF."""
    count = frames(data)
    pages = [
        _bounded(_image_page, (data, i), i + 1, limits, cache) for i in range(min(count, limits.max_pages))
    ]
    pages += [PageText(i + 1, "", _beyond(limits)) for i in range(limits.max_pages, count)]
    return tuple(pages)


def frames(data: bytes) -> int:
    """How many frames an image holds, from its headers alone (a TIFF's chain of directories): no pixel
    is decoded here. An image Pillow cannot open counts one frame, which its reader then says it cannot
    read."""
    if data[:4] not in TIFF_MAGIC:  # the other kinds read are one page each
        return 1
    from PIL import Image

    try:
        with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as image:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return max(1, image.n_frames)
    except Exception:  # unreadable, or a header past Pillow's size limit: its one page says why
        return 1


def beyond_pages(page: PageText, limits: Limits) -> bool:
    """Left unread only because the document has more scanned pages than are read."""
    return page.unread == _beyond(limits)


def _beyond(limits: Limits) -> str:
    return f"non lue : au-delà des {limits.max_pages} pages lues par OCR"


def usable(layer: str) -> bool:
    return sum(c.isalnum() for c in layer) >= MIN_TEXT


# --- the worker -------------------------------------------------------------------------------


def _bounded(work, args: tuple, number: int, limits: Limits, cache: Path | None) -> PageText:
    """`work` run in a forked child under the limits; a child that dies or overruns reads as unread."""
    wall = limits.wall_seconds_per_page
    if limits.deadline is not None:
        wall = min(wall, limits.deadline - time.monotonic())
        if wall <= 0:
            return PageText(number, "", "non lue : temps de lecture du dépôt épuisé")
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_child, args=(sender, work, args, number, limits, cache), daemon=True
    )
    child.start()
    sender.close()
    try:
        if receiver.poll(wall):
            return receiver.recv()
        return PageText(number, "", f"non lue : lecture plus longue que {wall:.0f} s")
    except EOFError:  # the child died without answering: a limit killed it
        return PageText(number, "", _death(child, limits))
    finally:
        receiver.close()
        _end(child)


def _end(child) -> None:
    if child.is_alive():
        try:
            os.killpg(child.pid, signal.SIGKILL)  # Tesseract too: the child leads its own group
        except ProcessLookupError:  # killed before it made its group
            child.kill()
    child.join()


def _death(child, limits: Limits) -> str:
    child.join()
    if child.exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"non lue : plus de {limits.cpu_seconds_per_page} s de calcul"
    return f"non lue : la lecture a dépassé la mémoire permise ({limits.memory_bytes >> 20} Mo)"


def _child(sender, work, args: tuple, number: int, limits: Limits, cache: Path | None) -> None:
    os.setpgid(0, 0)
    _limit(limits)
    try:
        page = work(*args, number=number, limits=limits, cache=cache)
    except MemoryError:
        page = PageText(
            number, "", f"non lue : la lecture a dépassé la mémoire permise ({limits.memory_bytes >> 20} Mo)"
        )
    except Exception as exc:  # an unreadable page is said, never raised into intake
        page = PageText(number, "", f"non lue : {type(exc).__name__}: {exc}"[:300])
    sender.send(page)
    sender.close()
    os._exit(0)


def _limit(limits: Limits) -> None:
    """Caps this process and Tesseract, which inherits them: CPU seconds, and address space added."""
    cpu = limits.cpu_seconds_per_page
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    used = _address_space()
    resource.setrlimit(resource.RLIMIT_AS, (used + limits.memory_bytes, used + limits.memory_bytes))
    os.environ["OMP_THREAD_LIMIT"] = "1"  # one page, one core: the other workers have theirs


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


# --- in the child: render, refuse, read ----------------------------------------------------------


def _pdf_page(data: bytes, index: int, *, number: int, limits: Limits, cache: Path | None) -> PageText:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    page = doc[index]
    width, height = page.get_size()  # points, as the page declares them: nothing rendered yet
    dpi = _fitting_dpi(width, height, limits)
    if dpi < MIN_DPI:
        px = (width * limits.dpi / 72) * (height * limits.dpi / 72)
        return PageText(number, "", f"non lue : page démesurée ({px / 1e6:.0f} Mpx à {limits.dpi} dpi)")
    image = page.render(scale=dpi / 72, grayscale=True).to_pil()
    return _read(image, number, limits, cache)


def _fitting_dpi(width: float, height: float, limits: Limits) -> float:
    """The page's dpi: the limits' own, lowered so the page holds at most max_pixels."""
    pixels = (width * limits.dpi / 72) * (height * limits.dpi / 72)
    if pixels <= limits.max_pixels:
        return limits.dpi
    return limits.dpi * math.sqrt(limits.max_pixels / pixels)


def _image_page(data: bytes, frame: int = 0, *, number: int, limits: Limits, cache: Path | None) -> PageText:
    from PIL import Image

    if is_heic(data) and not _heic_opener():
        return PageText(
            number, "", f"non lue : photo HEIC (iPhone) illisible sans pillow-heif ({HEIC_INSTALL})"
        )
    Image.MAX_IMAGE_PIXELS = limits.max_pixels  # this worker's own Pillow: refuses from the header
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # up to twice as large: refused below
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only: the size is known, nothing decoded
        image.seek(frame)  # a TIFF's later page: its own header, its own size
    except Image.DecompressionBombError:
        image = None
    if image is None or image.size[0] * image.size[1] > limits.max_pixels:
        return PageText(number, "", f"non lue : image démesurée (plus de {limits.max_pixels / 1e6:.0f} Mpx)")
    image = image.convert("L")
    return _read(image, number, limits, cache)


def is_heic(data: bytes) -> bool:
    """An HEIF photo (an iPhone's HEIC), by its ISO-BMFF brand: `ftyp` then heic, mif1…"""
    return data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS


def _heic_opener() -> bool:
    """Pillow taught to open HEIC, when the optional pillow-heif is installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _read(image, number: int, limits: Limits, cache: Path | None) -> PageText:
    key = hashlib.sha256(image.tobytes()).hexdigest()
    known = _cached(cache, key, number)
    if known is not None:
        return known
    if image.getextrema()[0] >= 255 - BLANK_RANGE:
        page = PageText(number, "", ocr=True)
    else:
        page = _oriented(image, number, limits)
    _store(cache, key, page)
    return page


def _oriented(image, number: int, limits: Limits) -> PageText:
    """The page read the right way up. Read first as it lies: most scans and photos stand upright, and
    Tesseract's orientation pass costs about a second of CPU a page, a fifth of reading it. Only a
    page that does not read as French lines of text is asked which way is up, then read again."""
    page = _read_turned(image, 0, number, limits)
    if _reads_upright(page):
        return page
    upright = _upright(image)
    return _read_turned(image, upright, number, limits) if upright else page


def _read_turned(image, upright: int, number: int, limits: Limits) -> PageText:
    skew = _straight(_turned(image, upright, 0.0)) if limits.straighten else 0.0
    turned = _turned(image, upright, skew)
    page = replace(_ocr(turned, number), upright=upright, skew=skew)
    seen = look(turned, page.words)  # on the image the words were read on: their boxes are its own
    return replace(page, zone=seen.zone, ink=seen.ink, crop=seen.crop)


def _reads_upright(page: PageText) -> bool:
    """French read in horizontal lines: enough of its commonest words read with confidence, and the
    longer words wider than tall. Upside down or sideways, Tesseract reads almost none of them (under
    1 % of the words, against 9 to 31 % upright); a page it turned into vertical lines itself (a quarter
    turn) has tall words: either is then turned by the orientation pass, whose frame ink.py needs."""
    sure = [w for w in page.words if w.confidence >= UPRIGHT_CONFIDENCE]
    common = sum(w.text.lower() in COMMON_WORDS for w in sure)
    if common < UPRIGHT_COMMON or common < UPRIGHT_SHARE * len(page.words):
        return False
    long = [w for w in sure if len(w.text) >= 4]
    return sum(w.box[2] > w.box[3] for w in long) >= UPRIGHT_SHARE_WIDE * len(long)


def as_read(image, page: PageText):
    """The page's image (as rendered or decoded) turned as OCR turned it: the frame of its word boxes."""
    return _turned(image, page.upright, page.skew)


def _turned(image, upright: int, skew: float):
    from PIL import Image

    if upright:
        image = image.rotate(upright, expand=True)
    if skew:
        image = image.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=255)
    return image


def _upright(image) -> int:
    """The quarter turn (counter-clockwise) that stands the page the right way up, as Tesseract's
    orientation detection says; none when it cannot tell. Detection reads a large page at half size:
    as sure, and faster."""
    import pytesseract

    seen = image.reduce(2) if min(image.size) >= OSD_HALVED else image
    try:
        osd = pytesseract.image_to_osd(seen, config="--psm 0")
    except pytesseract.TesseractError:  # too little text to tell: read it as it is
        return 0
    angle = re.search(r"Rotate: (\d+)", osd)
    sure = re.search(r"Orientation confidence: ([\d.]+)", osd)
    if not angle or not sure or float(sure.group(1)) < OSD_SURE or int(angle.group(1)) % 360 == 0:
        return 0
    return -int(angle.group(1)) % 360


def _straight(image) -> float:
    """The small turn that straightens a page fed askew; none under DESKEW_MIN. Tesseract's orientation
    pass only knows quarter turns, and a page 3° askew can lose its title block (bench/deskew.py)."""
    angle = skew_angle(image)
    return angle if abs(angle) >= DESKEW_MIN else 0.0


def skew_angle(image) -> float:
    """The turn, in degrees counter-clockwise within ±DESKEW_MAX, that makes the rows of text sharpest:
    the variance of the row sums of a small black-and-white copy, by whole degrees, then by tenths."""
    small = image.reduce(max(1, min(image.size) // DESKEW_SIDE)).point(lambda v: 255 if v < 160 else 0)
    coarse = max(range(-DESKEW_MAX, DESKEW_MAX + 1), key=lambda d: (_sharpness(small, d), -abs(d)))
    fine = [coarse + t / 10 for t in range(-9, 10)]
    return max(fine, key=lambda d: (_sharpness(small, d), -abs(d)))


def _sharpness(image, degrees: float) -> float:
    from PIL import Image

    turned = image.rotate(degrees, resample=Image.Resampling.NEAREST)
    rows = turned.resize((1, turned.height), Image.Resampling.BOX).tobytes()  # one grey byte a row
    mean = sum(rows) / len(rows)
    return sum((r - mean) ** 2 for r in rows)


def _ocr(image, number: int) -> PageText:
    import pytesseract

    data = pytesseract.image_to_data(image, lang=LANG, output_type=pytesseract.Output.DICT)
    lines: dict[tuple[int, int, int], list[str]] = {}
    words = []
    for i, text in enumerate(data["text"]):
        if not text.strip():
            continue
        lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(text)
        box = (data["left"][i], data["top"][i], data["width"][i], data["height"][i])
        words.append(Word(text, box, float(data["conf"][i])))
    text = "\n".join(" ".join(line) for line in lines.values())
    return PageText(number, normalise(text), words=tuple(words), ocr=True)


# --- the cache ----------------------------------------------------------------------------------


def _cached(cache: Path | None, key: str, number: int) -> PageText | None:
    path = _cache_path(cache, key)
    if path is None or not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        words = tuple(Word(w["text"], tuple(w["box"]), w["confidence"]) for w in saved["words"])
        seen = _seen(saved.get("signature"))
        turn = int(saved.get("upright", 0)), float(saved.get("skew", 0.0))  # absent: read as it lay
        return PageText(
            number, saved["text"], words=words, ocr=True, zone=seen.zone, ink=seen.ink, crop=seen.crop,
            upright=turn[0], skew=turn[1],
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):  # a damaged entry is read again
        return None


def _store(cache: Path | None, key: str, page: PageText) -> None:
    path = _cache_path(cache, key)
    if path is None:
        return
    words = [{"text": w.text, "box": list(w.box), "confidence": w.confidence} for w in page.words]
    saved = {"text": page.text, "words": words, "signature": _signature(page)}
    saved |= {"upright": page.upright, "skew": page.skew}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)  # whole or absent: a reader never sees half an entry


def _signature(page: PageText) -> dict | None:
    if page.zone is None:
        return None
    crop = b64encode(page.crop).decode("ascii") if page.crop else None
    return {"zone": page.zone.as_dict(), "ink": page.ink, "crop": crop}


def _seen(saved: dict | None) -> Seen:
    if saved is None:
        return Seen()
    crop = b64decode(saved["crop"]) if saved.get("crop") else None
    return Seen(Zone.from_dict(saved["zone"]), saved["ink"], crop)


def _cache_path(cache: Path | None, key: str) -> Path | None:
    return cache / f"{CACHE_VERSION}-{LANG}-{key}.json" if cache is not None else None
