"""Benchmark: reading scans and phone photos of the four conventions, with OCR.

The corpus is built in the run (tests/scans.py): each variant's convention, rendered by
csac for one commune and laid out as a PDF, is rasterised at 150, 200 and 300 dpi and
degraded (none, skew ±3°, JPEG quality 60, grey noise, a stamp over the text, a phone
photo's perspective and light): 4 × 3 × 6 = 72 pages-sets. A pages-set is an image-only
PDF of two pages: page 1, where the accord-cadre number, the lot and the SIRET are, and the
signature page signed in ink beside "Pour le signataire"; the same signature page left
blank is a third, one-page PDF.

In the same run, per page:
  floor — pdfplumber's text of the born-digital PDF (what reading costs with a text layer);
  ocr   — `pipeline.ocr.read_pdf` on the image-only PDF (pytesseract + pypdfium2 directly
          while that module is absent: the fallback below says so when it runs).
Then csac's own classification on the text read (classify: the variant; gather: the
signatory's SIRET), and ink in the signature zone: the dark pixels beside "Pour le
signataire" (found in the OCR word boxes) that no word read by Tesseract covers.

Run: .venv/bin/python bench/ocr.py [--dpi 150 200 300] [--degradations net skew …] [--variants …]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pdfplumber

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.render import machine  # noqa: E402
from pipeline.classify import classify  # noqa: E402
from pipeline.extract import Extracted  # noqa: E402
from pipeline.facts import gather  # noqa: E402
from pipeline.render import Renderer  # noqa: E402
from pipeline.resah import load_resah  # noqa: E402
from pipeline.resources import Resources  # noqa: E402
from pipeline.textnorm import fold, normalise  # noqa: E402
from pipeline.variants import load_variants  # noqa: E402
from tests import scans  # noqa: E402
from tests.builders import Entity, convention_pdf, make_siret, rendered  # noqa: E402

OCR_DPI = 300  # what the reader renders an image-only page at (Limits.dpi)
SIGNED_RATIO = 0.01  # a zone with more ink than this (share of its pixels) reads as signed
GOALS = {"variant": 0.98, "siret": 0.95, "seconds": 2.0}


@dataclass(frozen=True)
class Page:
    text: str
    words: tuple  # (text, (left, top, width, height), confidence) in OCR_DPI pixels
    unread: str | None = None  # why the reader gave up on the page


# --- reading: pipeline.ocr when it is there, else the fallback ------------------------------

try:
    from pipeline import ocr as _ocr

    def read(pdf: bytes) -> list[Page]:
        pages = _ocr.read_pdf(pdf, _ocr.Limits(dpi=OCR_DPI))
        return [Page(p.text, tuple((w.text, w.box, w.confidence) for w in p.words), p.unread) for p in pages]

    READER = "pipeline.ocr.read_pdf"
except ImportError:  # FALLBACK until pipeline/ocr.py is merged: the same tools, called directly
    import pytesseract

    def read(pdf: bytes) -> list[Page]:
        return [_tesseract(image) for image in scans.rasterise(pdf, OCR_DPI)]

    def _tesseract(image) -> Page:
        data = pytesseract.image_to_data(image.convert("L"), lang="fra", output_type=pytesseract.Output.DICT)
        lines: dict[tuple, list[str]] = {}
        words = []
        for i, text in enumerate(data["text"]):
            if text.strip():
                lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(
                    text
                )
                box = (data["left"][i], data["top"][i], data["width"][i], data["height"][i])
                words.append((text, box, float(data["conf"][i])))
        return Page(normalise("\n".join(" ".join(line) for line in lines.values())), tuple(words))

    READER = "FALLBACK: pytesseract + pypdfium2 directly (pipeline.ocr absent)"


# --- what csac makes of the text -------------------------------------------------------------


def understood(text: str, variants, resah) -> tuple[str | None, str | None]:
    """(variant, signatory's SIRET) as intake reads them from a convention's text."""
    doc = classify(Extracted("convention.pdf", "pdf", text, pages=1), variants)
    return doc.variant, gather([doc], resah).siret


def ink(page: Page, pdf: bytes, index: int) -> float | None:
    """The share of the signature zone's pixels that are ink no word read covers; None when
    "Pour le signataire" was not read on the page (page `index` of `pdf`, 0-based)."""
    label = _label(page.words)
    if label is None:
        return None
    zone = scans.zone_of_label(0, *label)
    image = scans.rasterise(pdf, OCR_DPI, (index,))[0].convert("L")
    box = tuple(round(v) for v in (zone.left, zone.top, zone.right, zone.bottom))
    for _, (left, top, width, height), confidence in page.words:
        if confidence >= 50:  # printed text, read; a scribble is read as junk, if at all
            image.paste(255, (left - 2, top - 2, left + width + 2, top + height + 2))
    return scans.ink_ratio(image, box)


def _label(words: tuple) -> tuple[int, int, int, int] | None:
    """The box of the words "Pour le signataire" (left, top, right, bottom), if read."""
    folded = [fold(w[0]) for w in words]
    for i in range(len(words) - 2):
        if folded[i] == "pour" and folded[i + 1] == "le" and folded[i + 2].startswith("signataire"):
            boxes = [w[1] for w in words[i : i + 3]]
            return (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[0] + b[2] for b in boxes),
                max(b[1] + b[3] for b in boxes),
            )
    return None


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Tally:
    sets: int = 0
    variant: int = 0
    siret: int = 0
    signed_seen: int = 0
    signed_missed: int = 0
    false_signed: int = 0
    label_unread: int = 0
    pages_unread: int = 0


def conventions(resources, variants, chosen: list[str]) -> dict[str, tuple[bytes, str]]:
    """Each variant's convention for one commune: (PDF without signature, its SIRET)."""
    renderer = Renderer.build(resources, [variants[v] for v in chosen])
    out = {}
    for vid in chosen:
        entity = Entity(siret=make_siret(5100 + list(variants).index(vid)))
        out[vid] = (
            convention_pdf(rendered(renderer, resources, entity, vid)["convention"], "none"),
            entity.siret,
        )
    return out


def floor(pdf: bytes, pages: tuple[int, ...]) -> tuple[str, float]:
    """pdfplumber's text of the born-digital pages, and the seconds per page it took."""
    start = time.perf_counter()
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        text = "\n".join(doc.pages[i].extract_text() or "" for i in pages)
    return normalise(text), (time.perf_counter() - start) / len(pages)


def one_set(pdf: bytes, dpi: int, degradation: str, seed: int) -> tuple[bytes, bytes]:
    """(page 1 + the signature page signed in ink, the signature page blank), as image-only PDFs."""
    zone = scans.signature_zone(pdf)
    signed = scans.scanned(pdf, dpi, degradation, seed, pages=(0, zone.page), ink=True)
    blank = scans.scanned(pdf, dpi, degradation, seed + 1, pages=(zone.page,))
    return scans.image_pdf(signed, dpi), scans.image_pdf(blank, dpi)


def run(args, variants, resah, docs) -> tuple[dict, list[float], list[float]]:
    tallies: dict[str, Tally] = {}
    seconds, floor_seconds = [], []
    for vid, (pdf, siret) in docs.items():
        sig_page = scans.signature_zone(pdf).page
        for dpi in args.dpi:
            for degradation in args.degradations:
                seed = set_seed(list(variants).index(vid), degradation, dpi)
                signed_pdf, blank_pdf = one_set(pdf, dpi, degradation, seed)
                start = time.perf_counter()
                first, signed_page = read(signed_pdf)
                (blank_page,) = read(blank_pdf)
                seconds.append((time.perf_counter() - start) / 3)
                floor_seconds.append(floor(pdf, (0, sig_page, sig_page))[1])
                tally = tallies.setdefault(degradation, Tally())
                tally.pages_unread += sum(p.unread is not None for p in (first, signed_page, blank_page))
                got = understood(first.text, variants, resah)
                inks = ink(signed_page, signed_pdf, 1), ink(blank_page, blank_pdf, 0)
                count(tally, got, (vid, siret))
                count_ink(tally, *inks)
                print(
                    f"  {vid:14} {dpi} dpi {degradation:7} {seconds[-1]:.2f} s/page read {got} ink {inks}",
                    file=sys.stderr,
                )
    return tallies, seconds, floor_seconds


def set_seed(variant: int, degradation: str, dpi: int) -> int:
    """The same seed for a set whichever others the run builds, so a set can be run again alone."""
    return 1000 * variant + 10 * list(scans.DEGRADATIONS).index(degradation) + dpi


def count(tally: Tally, got: tuple, want: tuple) -> None:
    tally.sets += 1
    tally.variant += got[0] == want[0]
    tally.siret += got[1] == want[1]


def count_ink(tally: Tally, signed: float | None, blank: float | None) -> None:
    tally.label_unread += (signed is None) + (blank is None)
    tally.signed_seen += signed is not None and signed > SIGNED_RATIO
    tally.signed_missed += signed is not None and signed <= SIGNED_RATIO
    tally.false_signed += blank is not None and blank > SIGNED_RATIO


def report(args, tallies: dict[str, Tally], seconds: list[float], floor_seconds: list[float]) -> None:
    total = Tally()
    for t in tallies.values():
        for k in vars(total):
            setattr(total, k, getattr(total, k) + getattr(t, k))
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"machine: {machine()}, Tesseract {tesseract_version()}, OMP_THREAD_LIMIT={os.environ.get('OMP_THREAD_LIMIT', '-')}"
    )
    print(f"reader: {READER}, pages rendered at {OCR_DPI} dpi")
    print(
        f"corpus: {len(args.variants)} variants × {len(args.dpi)} dpi {args.dpi} × {len(args.degradations)} degradations = {total.sets} pages-sets"
    )
    print("  (page 1: variant and SIRET; the signature page, inked and blank: the signature zone)")
    print(
        f"{'degradation':12} {'variant':>9} {'SIRET':>9} {'ink seen':>9} {'false signed':>13} {'label unread':>13} {'pages unread':>13}"
    )
    for name, t in [*tallies.items(), ("all", total)]:
        print(
            f"{name:12} {t.variant:4}/{t.sets:<4} {t.siret:4}/{t.sets:<4} {t.signed_seen:4}/{t.sets:<4} {t.false_signed:6}/{t.sets:<6} {t.label_unread:13} {t.pages_unread:13}"
        )
    med, p90 = statistics.median(seconds), sorted(seconds)[int(len(seconds) * 0.9) - 1]
    fmed = statistics.median(floor_seconds)
    print(
        f"variant recognised : {total.variant / total.sets:6.1%}   (goal ≥ {GOALS['variant']:.0%} of pages-sets)"
    )
    print(f"SIRET read exactly : {total.siret / total.sets:6.1%}   (goal ≥ {GOALS['siret']:.0%})")
    print(
        f"false signed       : {total.false_signed} of {total.sets} blank zones   (goal 0); ink seen on {total.signed_seen} of {total.sets} signed"
    )
    print(f"time per page      : median {med:.2f} s, p90 {p90:.2f} s   (goal < {GOALS['seconds']:.0f} s)")
    print(
        f"  floor, pdfplumber on the born-digital page: {fmed * 1000:.1f} ms ({med / fmed:.0f}x less than OCR)"
    )
    print(
        f"peak RSS           : {rss:.0f} MiB in a child (Tesseract or a reader worker), {own:.0f} MiB this process"
    )


def tesseract_version() -> str:
    try:
        import pytesseract

        return str(pytesseract.get_tesseract_version())
    except Exception:  # noqa: BLE001 - only for the report's header
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dpi", type=int, nargs="+", default=list(scans.DPIS))
    parser.add_argument("--degradations", nargs="+", default=list(scans.DEGRADATIONS))
    parser.add_argument("--variants", nargs="+")
    args = parser.parse_args()
    resources = Resources.default()
    variants = load_variants(resources)
    args.variants = args.variants or list(variants)
    docs = conventions(resources, variants, args.variants)
    tallies, seconds, floor_seconds = run(args, variants, load_resah(resources.resah_file), docs)
    report(args, tallies, seconds, floor_seconds)


if __name__ == "__main__":
    main()
