"""Benchmark: rendering a 1,000-signatory campaign × 4 variants.

In the same run, per convention document, on one core:
  naive  — docxtpl as documented: a new DocxTemplate, render, save, per document;
  csac   — the project's renderer (templates compiled once, zip written directly);
  floor  — a plain zipfile copy of the same template (no rendering at all).
Then the whole campaign through `run_campaign` on 2 worker processes: the
4,000 conventions alone, and the full package (+ 4,000 annexes, 1,000 bulletins).

Run: .venv/bin/python bench/render.py [--signatories 1000] [--sample 100]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from docxtpl import DocxTemplate
from stdnum import luhn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.campaign import load_campaign, run_campaign  # noqa: E402
from pipeline.context import signatory_context, variant_context  # noqa: E402
from pipeline.render import Renderer  # noqa: E402
from pipeline.request import parse_request  # noqa: E402
from pipeline.resources import Resources  # noqa: E402
from pipeline.variants import load_variants  # noqa: E402

DAY = dt.date(2024, 3, 1)
TYPOLOGIES = ["region", "metropole", "communaute_urbaine", "communaute_agglomeration", "communaute_communes"]
POSTAL = ["62411", "75011", "13002", "20000", "97133", "97400", "69001", "33000", "35000", "67000"]


def siret(n: int) -> str:
    siren = f"2{n:07d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


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


def per_document(resources, variants, requests, out: Path) -> dict[str, float]:
    renderer = Renderer.build(resources, variants)
    template = resources.convention_template
    jobs = [
        (v, r, variant_context(v, renderer.regions) | signatory_context(v, r))
        for r in requests
        for v in variants
    ]

    def naive(job):
        v, r, ctx = job
        tpl = DocxTemplate(template)
        tpl.render(ctx, autoescape=True)
        tpl.save(out / f"naive-{v.id}-{r.signatory.entity.siret}.docx")

    def ours(job):
        v, r, _ = job
        data = renderer.conventions[v.id].render(signatory_context(v, r))
        (out / f"csac-{v.id}-{r.signatory.entity.siret}.docx").write_bytes(data)

    def floor(job):
        v, r, _ = job
        with (
            zipfile.ZipFile(template) as zin,
            zipfile.ZipFile(
                out / f"floor-{v.id}-{r.signatory.entity.siret}.docx", "w", zipfile.ZIP_DEFLATED
            ) as zout,
        ):
            for info in zin.infolist():
                zout.writestr(info, zin.read(info))

    return {
        name: statistics.median(timed(fn, jobs))
        for name, fn in (("naive", naive), ("csac", ours), ("floor", floor))
    }


def whole_campaign(resources, campaign, ids, out: Path, kinds) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = run_campaign(campaign, ids, out, resources, jobs=2, on=DAY, kinds=kinds)
    elapsed = time.perf_counter() - start
    assert not result.failures, result.failures[:3]
    return elapsed, result.files


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--signatories", type=int, default=1000)
    parser.add_argument(
        "--sample", type=int, default=100, help="signatories timed per document (× 4 variants)"
    )
    args = parser.parse_args()

    resources = Resources.default()
    variants = list(load_variants(resources).values())
    ids = [v.id for v in variants]
    work = Path(tempfile.mkdtemp(prefix="csac-bench-"))
    try:
        write_campaign(work / "campaign.csv", args.signatories)
        campaign = load_campaign(work / "campaign.csv", resources)
        regions = Renderer.build(resources, variants).regions
        schema = resources.schema("beneficiary")
        requests = [
            parse_request(r.data, str(r.number), regions, schema, variants)
            for r in campaign.rows[: args.sample]
        ]
        (work / "docs").mkdir()
        per_doc = per_document(resources, variants, requests, work / "docs")
        conventions, n_conv = whole_campaign(resources, campaign, ids, work / "out", ("convention",))
        full, n_full = whole_campaign(
            resources, campaign, ids, work / "out", ("convention", "annex", "bulletin")
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ms = {k: v * 1000 for k, v in per_doc.items()}
    print(f"machine: {machine()}")
    print(f"per convention, median of {args.sample * 4} documents, one process:")
    print(f"  naive docxtpl loop : {ms['naive']:8.2f} ms")
    print(f"  csac renderer      : {ms['csac']:8.2f} ms")
    print(f"  zipfile copy floor : {ms['floor']:8.2f} ms")
    print(f"  naive / csac = {ms['naive'] / ms['csac']:.1f}x   (target >= 4x)")
    print(f"  csac / floor = {ms['csac'] / ms['floor']:.2f}x   (target <= 1.5x)")
    print(f"campaign of {args.signatories} signatories x 4 variants, 2 worker processes:")
    print(f"  conventions only : {n_conv} files in {conventions:.1f} s   (target < 30 s)")
    print(f"  full package     : {n_full} files in {full:.1f} s   (conventions, annexes, bulletins)")


if __name__ == "__main__":
    main()
