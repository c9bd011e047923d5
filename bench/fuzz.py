"""Fuzz the intake with atheris (libFuzzer) for a fixed time, and report what it found.

The target is `assess`, the whole reading and checking of a deposit: any
exception that escapes it is a finding. The corpus starts from real
deposits (signed convention PDF, annex workbook, EJ PDF, a DOCX, a nested ZIP).

Run: .venv/bin/pip install atheris && .venv/bin/python bench/fuzz.py [--seconds 120]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def corpus(folder: Path) -> None:
    """Seeds: a real deposit, the same stored without compression, and one nested in another ZIP."""
    from decimal import Decimal

    from pipeline import sample
    from pipeline.render import Renderer
    from pipeline.resources import Resources
    from pipeline.variants import load_variants

    resources = Resources.default()
    renderer = Renderer.build(resources, list(load_variants(resources).values()))
    package = sample.signed_package(renderer, resources)
    members = [("c.pdf", package["convention"]), ("a.xlsx", package["annex"]),
               ("o.pdf", sample.order_of(sample.COMMUNE, Decimal("1000"), "1300012345", renderer.resah)), ("c.docx", package["docx"])]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(
        [
            sample.zip_of(members),
            sample.zip_of(members[:2], zipfile.ZIP_STORED),
            sample.zip_of([("n.zip", sample.zip_of(members[2:]))]),
        ]
    ):
        (folder / f"seed{i}.zip").write_bytes(data)


def target(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["pipeline"]):
        from pipeline.intake import Deposit, IntakeContext, assess
        from pipeline.resources import Resources, Workspace

    work = Path(tempfile.mkdtemp(prefix="csac-fuzz-"))
    ctx = IntakeContext.build(Resources.default(), Workspace(work / "in", work / "out", work / "var"))

    def one(data: bytes) -> None:
        result = assess(Deposit("fuzz.zip", data, None), ctx)
        assert result.status in ("complete", "incomplete", "rejected")

    atheris.Setup(argv, one)
    atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--target", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.target is not None:
        target([sys.argv[0], *args.target])
        return
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: .venv/bin/pip install atheris (nothing fuzzed)")
        return
    work = Path(tempfile.mkdtemp(prefix="csac-fuzz-run-"))
    try:
        corpus(work / "corpus")
        seeds = sorted(str(p) for p in (work / "corpus").iterdir())
        cmd = [sys.executable, __file__, "--target", f"-max_total_time={args.seconds}", f"-seed={random.randrange(1, 2**31)}",
               "-rss_limit_mb=1024", f"-artifact_prefix={work}/", "-timeout=20", str(work / "corpus")]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 300)
        log = done.stdout + done.stderr
        runs = re.findall(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE)", log)
        crashes = sorted(p.name for p in work.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-")))
        kept = ROOT / "bench" / "out" / "fuzz"
        for name in crashes:
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copy(work / name, kept / name)
        print(
            f"atheris, {args.seconds} s, seeds {len(seeds)}: {runs[-1] if runs else '?'} executions, exit {done.returncode}"
        )
        print(f"findings: {len(crashes)} {crashes}" + (" (kept in bench/out/fuzz/)" if crashes else ""))
        if crashes:
            print(log[-3000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
