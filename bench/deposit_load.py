"""Load on the deposit page: N depositors at once on loopback, each sending a real signed deposit.

`csac serve` runs as in production (its watcher in a process of its own), over a fresh workspace.
Each depositor opens the form (session cookie and token), posts its ZIP and form, then reads its
verdict page until it shows the verdict. Reported: that every upload had exactly one outcome (a
verdict, or a refusal), checked against the journal and the inbox too, and the time from the start
of the upload to the verdict on the page (median, 90th percentile, worst).

    .venv/bin/python bench/deposit_load.py            # 50 depositors
    .venv/bin/python bench/deposit_load.py --clients 10
"""

from __future__ import annotations

import argparse
import collections
import html
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import deposits  # noqa: E402
from bench.render import machine  # noqa: E402
from pipeline.resources import Resources  # noqa: E402
from testkit.visitor import Visitor, free_port  # noqa: E402

VERDICT = re.compile(r'<div class="verdict [^"]*" id="verdict">\s*<h1>([^<]+)</h1>')


def start_server(root: Path, port: int, clients: int) -> subprocess.Popen:
    """`csac serve` with its watcher, once both are ready: the port open, and the watcher's first line
    ("veille de …") in its log, its libraries loaded."""
    command = [sys.executable, "-m", "pipeline", "serve", "--port", str(port), "--deposits-per-minute",
               str(clients * 2), "--inbox", str(root / "inbox"), "--outbox", str(root / "outbox"),
               "--state", str(root / "var")]  # fmt: skip
    log = root / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            if "veille de" in log.read_text(encoding="utf-8", errors="replace"):
                return server
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("csac serve n'a pas démarré")


def depositor(
    url: str, zip_bytes: bytes, form: dict, index: int, start: threading.Barrier, out: list
) -> None:
    """One depositor: the form, the upload, then the verdict page until it has the verdict."""
    visitor = Visitor(url)
    token = visitor.token()
    start.wait()
    began = time.monotonic()
    try:
        status, page, address = visitor.deposit(
            form | {"csrf_token": token}, zip_bytes, f"depot-{index}.zip", token=False
        )
    except OSError as exc:
        out.append(("erreur de connexion : " + type(exc).__name__, time.monotonic() - began))
        return
    if status != 200 or "/depot/suivi/" not in address:
        out.append((f"refusé ({status})", time.monotonic() - began))
        return
    path = address.removeprefix(url)
    while (found := VERDICT.search(page)) is None and time.monotonic() - began < 600:
        time.sleep(0.2)
        page = visitor.open(path)[1]
    out.append((html.unescape(found.group(1)) if found else "sans verdict", time.monotonic() - began))


def deposit_all(base: str, prepared: list) -> tuple[list, float]:
    """Every depositor at once (they wait for one another after opening the form): (outcomes, wall)."""
    out: list = []
    start = threading.Barrier(len(prepared))
    threads = [
        threading.Thread(target=depositor, args=(base, z, f, i, start, out))
        for i, (z, f) in enumerate(prepared)
    ]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out, time.monotonic() - began


def journal_rows(root: Path) -> collections.Counter:
    with sqlite3.connect(root / "var" / "journal.sqlite") as conn:
        return collections.Counter(
            f"{state}/{status}" for state, status in conn.execute("SELECT state, status FROM deposits")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    print(f"machine : {machine()}")
    print(f"{args.clients} dépôts signés préparés…", flush=True)
    prepared = deposits(Resources.default(), args.clients)
    with tempfile.TemporaryDirectory(prefix="csac-charge-") as scratch:
        root, port = Path(scratch), free_port()
        server = start_server(root, port, args.clients)
        try:
            out, wall = deposit_all(f"http://127.0.0.1:{port}", prepared)
            rows = journal_rows(root)
            left = sorted(p.name for p in (root / "inbox").iterdir() if p.is_file())
        finally:
            server.terminate()
            server.wait(180)
    sys.exit(0 if outcomes_said(out, args.clients, rows, left, wall) else 1)


def outcomes_said(out: list, clients: int, rows: collections.Counter, left: list[str], wall: float) -> bool:
    """The outcomes and the times to a verdict, printed; True when each upload had exactly one."""
    outcomes = collections.Counter(kind for kind, _ in out)
    latencies = sorted(seconds for _, seconds in out)
    print(f"{len(out)} envois sur {clients}, chacun avec un seul résultat : {dict(outcomes)}")
    print(f"journal : {dict(rows)} ; restés dans la boîte de dépôt : {left or 'rien'}")
    print(
        f"envoi → verdict affiché : médiane {statistics.median(latencies):.1f} s, "
        f"90e centile {latencies[int(0.9 * (len(latencies) - 1))]:.1f} s, pire {latencies[-1]:.1f} s, "
        f"premier {latencies[0]:.1f} s ; tous en {wall:.1f} s"
    )
    one_each = len(out) == clients and sum(rows.values()) == clients and not left
    print("chaque envoi a exactement un résultat" if one_each else "ÉCHEC : un envoi sans résultat, ou deux")
    return one_each


if __name__ == "__main__":
    main()
