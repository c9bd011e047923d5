"""Crash soak at full size: 200 deposits, the watcher SIGKILLed 10 times.

Deposits arrive written at once, slowly in chunks, under a temporary name and
renamed in, or with their form after the ZIP; a third are hostile or broken.
Prints the outcomes and what was lost or delivered twice (both must be 0).

Run: .venv/bin/python bench/soak.py [--deposits 200] [--kills 10] [--seed 2024]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pipeline.render import Renderer
from pipeline.resources import Resources
from pipeline.soak import make_drops, soak
from pipeline.variants import load_variants


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deposits", type=int, default=200)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    resources = Resources.default()
    renderer = Renderer.build(resources, list(load_variants(resources).values()))
    work = Path(tempfile.mkdtemp(prefix="csac-soak-"))
    try:
        drops = make_drops(renderer, resources, args.deposits, random.Random(args.seed))
        start = time.monotonic()
        result = soak(work / "run", drops, args.kills, args.seed, timeout=1200)
        elapsed = time.monotonic() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    hows = {how: sum(d.how == how for d in drops) for how in ("direct", "slow", "rename", "late-form")}
    print(
        f"dropped {result.dropped} deposits ({', '.join(f'{k} {v}' for k, v in hows.items())}), watcher SIGKILLed {result.kills} times, {elapsed:.0f} s"
    )
    print(
        f"outcomes: {sum(result.outcomes.values())} ({', '.join(f'{k} {v}' for k, v in sorted(result.outcomes.items()))})"
    )
    print(
        f"lost: {len(result.lost)}   delivered twice: {len(result.messages_twice)}   recorded twice: {len(result.doubled)}"
    )
    print(
        f"unfinished: {len(result.unfinished)}   left in processing: {len(result.left_in_processing)}   routed without message: {len(result.routed_without_message)}"
    )
    sys.exit(0 if result.ok and sum(result.outcomes.values()) == result.dropped else 1)


if __name__ == "__main__":
    main()
