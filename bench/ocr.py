"""Benchmark: reading scans and phone photos of the four conventions, with OCR.

The corpus is built in the run (testkit/scans.py): each variant's convention, rendered by
csac for one commune and laid out as a PDF, is rasterised at 150, 200 and 300 dpi and
degraded (none, skew ±3°, JPEG quality 60, grey noise, a stamp over the text, a phone
photo's perspective and light): 4 × 3 × 6 = 72 pages-sets. A pages-set is an image-only
PDF of two pages: page 1, where the accord-cadre number, the lot and the SIRET are, and the
signature page signed in ink beside "Pour le signataire"; the same signature page left
blank is a third, one-page PDF.

In the same run, per page:
  floor — pdfplumber's text of the born-digital PDF (what reading costs with a text layer);
  ocr   — `pipeline.ocr.read_pdf` on the image-only PDF.
Then csac's own classification on the text read (classify: the variant; gather: the
signatory's SIRET), and ink in the signature zone as the reader measured it
(pipeline/ink.py): the dark pixels below "Pour le signataire" (found in the OCR word
boxes) that no printed word read by Tesseract covers.

Run: .venv/bin/python bench/ocr.py [--dpi 150 200 300] [--degradations net skew …] [--variants …]
     .venv/bin/python bench/ocr.py --quick   (2 variants, 200 dpi, 4 degradations: a few minutes)
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pdfplumber

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.render import machine  # noqa: E402
from pipeline import ink, ocr, sample  # noqa: E402
from pipeline.classify import classify  # noqa: E402
from pipeline.extract import Extracted  # noqa: E402
from pipeline.facts import gather  # noqa: E402
from pipeline.render import Renderer  # noqa: E402
from pipeline.resah import load_resah  # noqa: E402
from pipeline.resources import Resources  # noqa: E402
from pipeline.textnorm import normalise  # noqa: E402
from pipeline.variants import load_variants  # noqa: E402
from testkit import scans  # noqa: E402
from testkit.documents import laid_out, make_siret, spaced  # noqa: E402

OCR_DPI = 300  # what the reader renders an image-only page at (Limits.dpi)
QUICK = {  # a reduced run: two variants, one dpi, the degradations that move the signature zone
    "dpi": [200],
    "degradations": ["net", "skew", "stamp", "photo"],
    "variants": ["2021-045-lot2", "2021-063-002"],
}
GOALS = {"variant": 0.98, "siret": 0.95, "seconds": 2.0}


@dataclass(frozen=True)
class Page:
    text: str
    ink: float | None  # the share of the signature zone that is ink; None when its label was not read
    unread: str | None = None  # why the reader gave up on the page


def read(pdf: bytes) -> list[Page]:
    """Each page as csac reads it: text, and ink in its signature zone (pipeline/ink.py)."""
    return [Page(p.text, p.ink, p.unread) for p in ocr.read_pdf(pdf, ocr.Limits(dpi=OCR_DPI))]


# --- what csac makes of the text -------------------------------------------------------------


def understood(text: str, variants, resah) -> tuple[str | None, str | None]:
    """(variant, signatory's SIRET) as intake reads them from a convention's text."""
    doc = classify(Extracted("convention.pdf", "pdf", text, pages=1), variants)
    return doc.variant, gather([doc], resah).siret


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
    signed_inks: list = field(default_factory=list)
    blank_inks: list = field(default_factory=list)


def conventions(resources, variants, chosen: list[str]) -> dict[str, tuple[bytes, str]]:
    """Each variant's convention for one commune: (PDF without signature, its SIRET)."""
    renderer = Renderer.build(resources, [variants[v] for v in chosen])
    out = {}
    for vid in chosen:
        number = make_siret(5100 + list(variants).index(vid))
        signatory = sample.COMMUNE | {"siret": spaced(number)}
        out[vid] = (laid_out(sample.package_of(renderer, resources, signatory, vid)["convention"]), number)
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
    signed = scans.scanned(pdf, dpi, degradation, seed, pages=(0, zone.page), mark="scribble")
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
                inks = signed_page.ink, blank_page.ink
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
    tally.signed_seen += ink.signed(signed)
    tally.signed_missed += signed is not None and not ink.signed(signed)
    tally.false_signed += ink.signed(blank)
    tally.signed_inks += [signed] if signed is not None else []
    tally.blank_inks += [blank] if blank is not None else []


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
    print(f"reader: pipeline.ocr.read_pdf, pages rendered at {OCR_DPI} dpi; ink: pipeline.ink")
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
    print(
        f"ink in the zone    : signed {_spread(total.signed_inks)}; blank {_spread(total.blank_inks)}; "
        f"signed above {ink.SIGNED:.2%}"
    )
    print(f"time per page      : median {med:.2f} s, p90 {p90:.2f} s   (goal < {GOALS['seconds']:.0f} s)")
    print(
        f"  floor, pdfplumber on the born-digital page: {fmed * 1000:.1f} ms ({med / fmed:.0f}x less than OCR)"
    )
    print(
        f"peak RSS           : {rss:.0f} MiB in a child (Tesseract or a reader worker), {own:.0f} MiB this process"
    )


def _spread(values: list[float]) -> str:
    """Lowest, median and highest, in % of the zone's pixels."""
    if not values:
        return "-"
    return f"min {min(values):.3%} median {statistics.median(values):.3%} max {max(values):.3%}"


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
    parser.add_argument("--quick", action="store_true", help=f"a few minutes: {QUICK}")
    args = parser.parse_args()
    if args.quick:
        args.dpi, args.degradations, args.variants = QUICK["dpi"], QUICK["degradations"], QUICK["variants"]
    resources = Resources.default()
    variants = load_variants(resources)
    args.variants = args.variants or list(variants)
    docs = conventions(resources, variants, args.variants)
    tallies, seconds, floor_seconds = run(args, variants, load_resah(resources.resah_file), docs)
    report(args, tallies, seconds, floor_seconds)


if __name__ == "__main__":
    main()
