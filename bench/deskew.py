"""Benchmark: does straightening a page fed askew help Tesseract read it?

Page 1 of each variant's convention (the accord-cadre number, the lot and the SIRET are
there), rasterised at 150, 200 and 300 dpi and turned by +3° and by −3° (testkit/scans.py's
`skew`), is read by `pipeline.ocr.read_pdf` twice: as it lies (`Limits(straighten=False)`)
and straightened first (the projection-profile search of `pipeline.ocr.skew_angle`). Then
csac's own classify and gather say whether the variant and the SIRET were read. The angle
the search finds is also reported for every page, and for unskewed pages (net, noise, stamp,
photo), where a turn found would be a harm.

Run: .venv/bin/python bench/deskew.py [--dpi 150 200 300] [--degrees 3 -3]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ocr import conventions, understood  # noqa: E402
from bench.render import machine  # noqa: E402
from pipeline import ocr  # noqa: E402
from pipeline.resah import load_resah  # noqa: E402
from pipeline.resources import Resources  # noqa: E402
from pipeline.variants import load_variants  # noqa: E402
from testkit import scans  # noqa: E402

# generous bounds: on a loaded machine a page must not come back unread for time, only be measured
LIMITS = ocr.Limits(cpu_seconds_per_page=300, wall_seconds_per_page=600)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dpi", type=int, nargs="+", default=list(scans.DPIS))
    parser.add_argument("--degrees", type=float, nargs="+", default=[3.0, -3.0])
    args = parser.parse_args()
    resources = Resources.default()
    variants = load_variants(resources)
    resah = load_resah(resources.resah_file)
    docs = conventions(resources, variants, list(variants))
    right = {"as it lies": [0, 0], "straightened": [0, 0]}
    seconds = {k: [] for k in right}
    found, sets = [], 0
    for vid, (pdf, siret) in docs.items():
        for dpi in args.dpi:
            (page,) = scans.rasterise(pdf, dpi, (0,))
            for degrees in args.degrees:
                askew = scans.skew(page, degrees)
                found.append(ocr.skew_angle(askew.convert("L")) + degrees)  # the error left after the turn
                sets += 1
                for name, straighten in (("as it lies", False), ("straightened", True)):
                    start = time.perf_counter()
                    [read] = ocr.read_pdf(
                        scans.image_pdf([askew], dpi),
                        replace(LIMITS, straighten=straighten),
                    )
                    seconds[name].append(time.perf_counter() - start)
                    got = understood(read.text, variants, resah)
                    right[name][0] += got[0] == vid
                    right[name][1] += got[1] == siret
                    print(
                        f"  {vid:14} {dpi} dpi {degrees:+.0f}° {name:12} {got} {read.unread or ''}",
                        file=sys.stderr,
                    )
    unskewed = [
        abs(ocr.skew_angle(img.convert("L")))
        for pdf, _ in docs.values()
        for degradation in ("net", "noise", "stamp", "photo")
        for img in scans.scanned(pdf, 200, degradation, seed=11, pages=(0,))
    ]
    print(f"machine: {machine()}")
    print(f"{sets} pages turned by {args.degrees}° at {args.dpi} dpi, page 1 of the 4 conventions")
    for name, (variant, siret) in right.items():
        mean = sum(seconds[name]) / len(seconds[name])
        print(
            f"{name:13} variant {variant}/{sets}  SIRET {siret}/{sets}  ({mean:.1f} s a page, loaded machine)"
        )
    print(
        f"angle found: off by at most {max(abs(e) for e in found):.1f}° on the turned pages; "
        f"at most {max(unskewed):.1f}° on {len(unskewed)} unturned pages (net, noise, stamp, photo at 200 dpi)"
    )


if __name__ == "__main__":
    main()
