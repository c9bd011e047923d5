"""Load test of the web desk as it is used: N depositors at once while a regional team reads its list.

In one run, on loopback:
  1. 30,000 dossiers are recorded in the journal (bench/desk_list.py `fill`, the library's own
     recording function), and two accounts added (Bretagne, the head office);
  2. `csac serve` starts over that workspace, its watcher in a process of its own;
  3. N depositors (bench/deposit_load.py `depositor`) each open the form, post a real signed deposit
     and read their verdict page until it shows; meanwhile the Bretagne account asks for its list
     page again and again;
  4. the list page is then asked for again with nobody depositing.

Reported: every upload with exactly one outcome (checked against the journal and the inbox), the
time from upload to verdict, and the list page's median and 95th percentile, under load and idle.

    .venv/bin/python bench/web_load.py                 # 50 depositors, 30,000 dossiers
    .venv/bin/python bench/web_load.py --clients 10 --dossiers 3000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.deposit_load import deposit_all, journal_rows, outcomes_said, start_server  # noqa: E402
from bench.desk_list import PASSWORD, fill, logged_in  # noqa: E402
from bench.intake import deposits  # noqa: E402
from bench.render import machine  # noqa: E402
from pipeline.accounts import Accounts  # noqa: E402
from pipeline.regions import load_regions  # noqa: E402
from pipeline.resources import Resources  # noqa: E402
from testkit.visitor import free_port  # noqa: E402

READ_EVERY = 0.2  # seconds between two list pages: a regional team of several people at work


def read_list(opener, url: str, until: threading.Event, times: list[float]) -> None:
    """The regional team's list page, asked for every READ_EVERY seconds until `until` is set."""
    while not until.wait(READ_EVERY):
        start = time.perf_counter()
        with opener.open(url) as answer:
            body = answer.read()
        times.append(time.perf_counter() - start)
        if b"dossier(s)" not in body:
            raise SystemExit(f"page de liste inattendue : {body[:300]!r}")


def shown(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"médiane {statistics.median(ordered) * 1000:.1f} ms, 95e centile {p95 * 1000:.1f} ms ({len(ordered)} pages)"


def deposit_while_reading(base: str, prepared: list, opener) -> tuple[list, list[float], float]:
    """Every depositor at once, the list page read meanwhile: (outcomes, list times, wall)."""
    done, times = threading.Event(), []
    reader = threading.Thread(target=read_list, args=(opener, f"{base}/bureau", done, times))
    reader.start()
    try:
        out, wall = deposit_all(base, prepared)
    finally:
        done.set()
        reader.join()
    return out, times, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--dossiers", type=int, default=30_000)
    parser.add_argument("--requests", type=int, default=200, help="pages de liste demandées au repos")
    args = parser.parse_args()
    print(f"machine : {machine()}")
    print(f"{args.clients} dépôts signés préparés…", flush=True)
    prepared = deposits(Resources.default(), args.clients)
    with tempfile.TemporaryDirectory(prefix="csac-charge-web-") as scratch:
        root, port = Path(scratch), free_port()
        (root / "var").mkdir()
        fill(root / "var" / "journal.sqlite", args.dossiers, load_regions(Resources.default().regions_file))
        accounts = Accounts(root / "var" / "journal.sqlite")
        accounts.add("bretagne", "bretagne", PASSWORD)
        print(f"{args.dossiers} dossiers dans le journal ; csac serve démarre…", flush=True)
        server = start_server(root, port, args.clients)
        base = f"http://127.0.0.1:{port}"
        try:
            opener = logged_in(base, "bretagne")
            out, busy, wall = deposit_while_reading(base, prepared, opener)
            idle: list[float] = []
            for _ in range(args.requests):
                start = time.perf_counter()
                opener.open(f"{base}/bureau").read()
                idle.append(time.perf_counter() - start)
            rows = journal_rows(root)
            left = sorted(p.name for p in (root / "inbox").iterdir() if p.is_file())
        finally:
            server.terminate()
            server.wait(180)
    one_each = outcomes_said(out, args.clients, rows, left, wall)
    print(f"page de liste (Bretagne, {args.dossiers} dossiers) pendant les dépôts : {shown(busy)}")
    print(f"page de liste au repos : {shown(idle)}")
    sys.exit(0 if one_each else 1)


if __name__ == "__main__":
    main()
