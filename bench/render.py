"""Benchmark: what a document and a campaign cost, against honest floors.

In one run, on this machine:
  per document, one process, each written to disk:
    convention — naive docxtpl (a new DocxTemplate per document), csac, floor;
    annex      — openpyxl (the reference csac equals byte for byte), csac, floor;
    bulletin   — csac, floor;
  the floor of a document: deflate the parts that change per signatory (their
  final bytes, computed beforehand), write the zip around the members deflated
  once, write the file: what any renderer must still do once the text is known.
  Then whole campaigns through `run_campaign` on 2 worker processes, each in a
  fresh process: the conventions alone and the full package (+ annexes and
  bulletins), and the main process's peak RSS (VmHWM) at several sizes.

Run: .venv/bin/python bench/render.py [--signatories 1000] [--sample 100] [--rss 1000,10000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

from docxtpl import DocxTemplate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.annex import render_annex  # noqa: E402
from pipeline.campaign import load_campaign, run_campaign  # noqa: E402
from pipeline.context import bulletin_context, signatory_context, variant_context  # noqa: E402
from pipeline.ooxml import CompiledPackage, Packed, pack, read_members, write_zip  # noqa: E402
from pipeline.render import Renderer  # noqa: E402
from pipeline.request import parse_request  # noqa: E402
from pipeline.resources import KINDS, Resources  # noqa: E402
from pipeline.variants import load_variants  # noqa: E402
from testkit.documents import make_siret as siret  # noqa: E402

DAY = dt.date(2024, 3, 1)
TYPOLOGIES = ["region", "metropole", "communaute_urbaine", "communaute_agglomeration", "communaute_communes"]
POSTAL = ["62411", "75011", "13002", "20000", "97133", "97400", "69001", "33000", "35000", "67000"]


def write_campaign(path: Path, count: int) -> None:
    rng = random.Random(2024)
    fields = [
        "denomination",
        "siret",
        "typologie",
        "population",
        "adresse",
        "code_postal",
        "ville",
        "montant_maximum",
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(fields)
        for i in range(count):
            commune = i % 3 == 0
            writer.writerow(
                [
                    f"Collectivité n° {i} & associés",
                    siret(i),
                    "commune" if commune else rng.choice(TYPOLOGIES),
                    rng.choice([25000, 60000, 150000]) if commune else "",
                    f"{i} rue de la République",
                    rng.choice(POSTAL),
                    "VILLE",
                    rng.randrange(10_000, 900_000),
                ]
            )


def timed(fn, items) -> list[float]:
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    return times


def floor(package: CompiledPackage, rendered: bytes, path: Path):
    """The floor of one document: its changing parts deflated, the zip written around the rest."""
    changed = {name for name, part in package.parts if not isinstance(part, Packed)}
    final = {name: data for name, data in read_members(rendered) if name in changed}
    order = [(name, part) for name, part in package.parts]

    def run(_):
        members = [pack(name, final[name]) if name in changed else part for name, part in order]
        path.write_bytes(write_zip(members))

    return run


def median_ms(pairs) -> float:
    """Median time of each job's function, in ms: pairs of (function, argument)."""
    return statistics.median(timed(lambda p: p[0](p[1]), pairs)) * 1000


def per_document(resources, variants, requests, out: Path) -> dict[str, dict[str, float]]:
    renderer = Renderer.build(resources, variants)
    template = resources.convention_template
    jobs = [(v, r) for r in requests for v in variants]

    def conv_path(tag, v, r):
        return out / f"{tag}-{v.id}-{r.signatory.entity.siret}.docx"

    def naive(job):
        v, r = job
        tpl = DocxTemplate(template)
        tpl.render(variant_context(v, renderer.regions) | signatory_context(v, r, DAY), autoescape=True)
        tpl.save(conv_path("naive", v, r))

    def convention(job):
        v, r = job
        conv_path("csac", v, r).write_bytes(renderer.conventions[v.id].render(signatory_context(v, r, DAY)))

    def annex_ours(job):
        v, r = job
        (out / f"csac-{v.id}-{r.signatory.entity.siret}.xlsx").write_bytes(
            renderer.annexes[v.id].render(r, DAY)
        )

    def annex_openpyxl(job):
        v, r = job
        (out / f"openpyxl-{v.id}-{r.signatory.entity.siret}.xlsx").write_bytes(render_annex(v, r, DAY))

    def bulletin(r):
        data = renderer.bulletin.render(bulletin_context(r, renderer.membership, DAY))
        (out / f"csac-bulletin-{r.signatory.entity.siret}.docx").write_bytes(data)

    def conv_floor(job):
        v, r = job
        done = renderer.conventions[v.id].render(signatory_context(v, r, DAY))
        return floor(renderer.conventions[v.id], done, conv_path("floor", v, r))

    def annex_floor(job):
        v, r = job
        done = renderer.annexes[v.id].render(r, DAY)
        return floor(
            renderer.annexes[v.id].package, done, out / f"floor-{v.id}-{r.signatory.entity.siret}.xlsx"
        )

    def bulletin_floor(r):
        done = renderer.bulletin.render(bulletin_context(r, renderer.membership, DAY))
        return floor(renderer.bulletin, done, out / f"floor-bulletin-{r.signatory.entity.siret}.docx")

    return {
        "convention": {
            "naive docxtpl": median_ms([(naive, j) for j in jobs]),
            "csac": median_ms([(convention, j) for j in jobs]),
            "floor": median_ms([(conv_floor(j), None) for j in jobs]),
        },
        "annex": {
            "openpyxl": median_ms([(annex_openpyxl, j) for j in jobs]),
            "csac": median_ms([(annex_ours, j) for j in jobs]),
            "floor": median_ms([(annex_floor(j), None) for j in jobs]),
        },
        "bulletin": {
            "csac": median_ms([(bulletin, r) for r in requests]),
            "floor": median_ms([(bulletin_floor(r), None) for r in requests]),
        },
    }


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, not ru_maxrss, which a child keeps from the parent it was forked from."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def campaign_run(source: Path, out: Path, kinds: tuple[str, ...]) -> dict:
    """In this (fresh) process: the campaign on 2 workers, its time, files and our peak RSS."""
    resources = Resources.default()
    ids = [v.id for v in load_variants(resources).values()]
    start_rss = peak_rss_mb()
    start = time.perf_counter()
    result = run_campaign(load_campaign(source, resources), ids, out, resources, jobs=2, on=DAY, kinds=kinds)
    elapsed = time.perf_counter() - start
    assert not result.failures, result.failures[:3]
    return {"seconds": elapsed, "files": result.files, "start_mb": start_rss, "peak_mb": peak_rss_mb()}


def whole_campaign(work: Path, count: int, kinds: tuple[str, ...]) -> dict:
    """A campaign of `count` signatories in a fresh process: its peak RSS is this campaign's alone."""
    source = work / f"campaign-{count}.csv"
    if not source.exists():
        write_campaign(source, count)
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, __file__, "--campaign-run", str(source), str(out), ",".join(kinds)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(done.stdout)


def pdf_conversion(resources, variants, requests, work: Path) -> tuple[float, float]:
    """Seconds per convention converted to PDF (--pdf): all in one soffice call, against one soffice
    per document; both with the same LibreOffice profile, already created."""
    from pipeline.topdf import convert_to_pdf

    renderer = Renderer.build(resources, variants[:1])
    files = []
    for r in requests:
        path = work / f"CSAC_{r.signatory.entity.siret}.docx"
        path.write_bytes(renderer.conventions[variants[0].id].render(signatory_context(variants[0], r, DAY)))
        files.append(path)
    profile = work / "lo-profile"
    convert_to_pdf(files[:1], profile=profile)  # the profile's first start, counted in neither
    start = time.perf_counter()
    convert_to_pdf(files, profile=profile)
    shared = (time.perf_counter() - start) / len(files)
    start = time.perf_counter()
    for path in files:
        convert_to_pdf([path], profile=profile)
    return shared, (time.perf_counter() - start) / len(files)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load}"


def report(name: str, times: dict[str, float], sample: int) -> None:
    print(f"per {name}, median of {sample} documents, one process, written to disk:")
    for label, ms in times.items():
        print(f"  {label:14s}: {ms:8.2f} ms")
    ratio = times["csac"] / times["floor"]
    goal = {"annex": "   (goal <= 1.5x)"}.get(name, "")
    print(f"  csac / floor = {ratio:.2f}x{goal}")
    for slow in set(times) - {"csac", "floor"}:
        print(f"  {slow} / csac = {times[slow] / times['csac']:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--signatories", type=int, default=1000)
    parser.add_argument(
        "--sample", type=int, default=100, help="signatories timed per document (x 4 variants)"
    )
    parser.add_argument(
        "--rss", default="1000,10000", help="campaign sizes whose main-process peak RSS is measured"
    )
    parser.add_argument(
        "--campaign-run", nargs=3, help=argparse.SUPPRESS
    )  # the fresh process of whole_campaign
    parser.add_argument("--pdf", type=int, default=20, help="conventions converted to PDF (0: skip)")
    args = parser.parse_args()
    if args.campaign_run:
        source, out, kinds = args.campaign_run
        print(json.dumps(campaign_run(Path(source), Path(out), tuple(kinds.split(",")))))
        return

    resources = Resources.default()
    variants = list(load_variants(resources).values())
    work = Path(tempfile.mkdtemp(prefix="csac-bench-"))
    try:
        write_campaign(work / f"campaign-{args.signatories}.csv", args.signatories)
        campaign = load_campaign(work / f"campaign-{args.signatories}.csv", resources)
        regions = Renderer.build(resources, variants).regions
        schema = resources.schema("beneficiary")
        requests = [
            parse_request(r.data, str(r.number), regions, schema, variants)
            for r in islice(campaign.rows, args.sample)
        ]
        (work / "docs").mkdir()
        per_doc = per_document(resources, variants, requests, work / "docs")
        conventions = whole_campaign(work, args.signatories, ("convention",))
        full = whole_campaign(work, args.signatories, KINDS)
        sizes = [int(n) for n in args.rss.split(",")]
        rss = {n: full if n == args.signatories else whole_campaign(work, n, KINDS) for n in sizes}
        if args.pdf:
            (work / "pdf").mkdir()
            pdf = pdf_conversion(resources, variants, requests[: args.pdf], work / "pdf")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"machine: {machine()}")
    for name, times in per_doc.items():
        report(name, times, len(requests) * (1 if name == "bulletin" else len(variants)))
    print(f"campaign of {args.signatories} signatories x {len(variants)} variants, 2 worker processes:")
    print(f"  conventions only : {conventions['files']} files in {conventions['seconds']:.1f} s")
    print(f"  full package     : {full['files']} files in {full['seconds']:.1f} s")
    print(f"  full / conventions = {full['seconds'] / conventions['seconds']:.2f}x   (goal <= 1.6x)")
    print("main process, full package, peak RSS (VmHWM; in brackets after imports, before the campaign):")
    for n, run in rss.items():
        print(
            f"  {n:>7,} signatories: {run['peak_mb']:6.0f} MB   ({run['start_mb']:.0f} MB; {run['seconds']:.0f} s)"
        )
    if args.pdf:
        print(f"--pdf, per convention, {args.pdf} converted by LibreOffice:")
        print(f"  one soffice for all : {pdf[0] * 1000:8.0f} ms")
        print(f"  one soffice per file: {pdf[1] * 1000:8.0f} ms   ({pdf[1] / pdf[0]:.1f}x)")


if __name__ == "__main__":
    main()
