"""Benchmark: the regional desk's list page with 30,000 dossiers in the journal, over HTTP on loopback.

The dossiers are written by the library's own recording function (pipeline/dossiers.py `record`, the
one intake calls in the transaction that finishes a deposit), a thousand per transaction, spread over
the seventeen regions and the triage, the four accord-cadres, the five states and 400 days; no intake
is run. The desk (`csac serve`'s application) then runs in a thread under uvicorn, and the list page is
asked for by a regional account (Bretagne) and by the head office, without filters, with a state
filter, an age filter, a search by name and a search by SIRET: the median and 95th percentile of each.

Run: .venv/bin/python bench/desk_list.py [--dossiers 30000] [--requests 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.render import machine, siret  # noqa: E402
from pipeline.accounts import Accounts  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.dossiers import Dossier, DossierStatus, Update, record  # noqa: E402
from pipeline.regions import load_regions  # noqa: E402
from pipeline.report import Problem  # noqa: E402
from pipeline.resources import Resources, Workspace  # noqa: E402
from pipeline.store import JOURNAL, Store  # noqa: E402
from testkit.visitor import free_port  # noqa: E402

VARIANTS = ("2021-045-lot2", "2021-045-lot4", "2021-047-001", "2021-063-002")
NAMES = ("Commune de", "Ville de", "Communauté de communes de", "Centre hospitalier de", "Syndicat de")
PLACES = ("Rennes", "Brest", "Quimper", "Ajaccio", "Bastia", "Arras", "Lille", "Lyon", "Nantes", "Dijon",
          "Orléans", "Tours", "Metz", "Nancy", "Amiens", "Rouen", "Caen", "Limoges", "Pau", "Nîmes")  # fmt: skip
PASSWORD = "banc d'essai du bureau"
BATCH = 1000


def fill(journal: Path, count: int, regions, seed: int = 14) -> None:
    """`count` dossiers recorded as intake records them, each opened by a deposit of its own."""
    rng, today = random.Random(seed), dt.datetime.now().astimezone()
    store = Store(journal, JOURNAL)
    for start in range(0, count, BATCH):
        with store.transaction() as conn:
            for n in range(start, min(start + BATCH, count)):
                region = rng.choice([*regions.regions, None])
                status = rng.choice(list(DossierStatus))
                problems = (
                    ()
                    if status != DossierStatus.INCOMPLETE
                    else (Problem("purchase_order_missing", "bon de commande absent"),)
                )
                number, variant = siret(n + 1), rng.choice(VARIANTS)
                dossier = Dossier(
                    f"{number}-{variant}", number, variant, status, problems,
                    f"{rng.choice(NAMES)} {rng.choice(PLACES)} {n}", region.name if region else None,
                    region.mailbox if region else None, f"achats{n}@collectivite.example",
                )  # fmt: skip
                at = (today - dt.timedelta(days=rng.uniform(0, 400))).isoformat(timespec="seconds")
                record(conn, Update(dossier), f"bench-{n:06d}", at)


def serve(state: Path, port: int):
    """The desk's application under uvicorn, in a thread of this process."""
    import uvicorn

    from pipeline.web.app import WebSettings, create_app

    config = load_config(None, Resources.default()).with_paths(
        state.parent / "inbox", state.parent / "outbox", state
    )
    app = create_app(WebSettings(config=config, secret_key="banc-d-essai"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def logged_in(base: str, name: str):
    """A client with the account's session cookie, logged in through the login form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(f"{base}/bureau/connexion").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "nom": name, "mot_de_passe": PASSWORD}).encode()
    opener.open(f"{base}/bureau/connexion", data).read()
    return opener


def timings(opener, url: str, count: int) -> list[float]:
    found = []
    for _ in range(count):
        start = time.perf_counter()
        with opener.open(url) as answer:
            body = answer.read()
        found.append(time.perf_counter() - start)
    assert b"dossier(s)" in body, body[:500]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=30_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    regions = load_regions(Resources.default().regions_file)
    with tempfile.TemporaryDirectory(prefix="csac-bench-desk-") as tmp:
        ws = Workspace(Path(tmp) / "inbox", Path(tmp) / "outbox", Path(tmp) / "var")
        start = time.perf_counter()
        fill(ws.journal, args.dossiers, regions)
        print(f"{args.dossiers} dossiers enregistrés en {time.perf_counter() - start:.1f} s")
        accounts = Accounts(ws.journal)
        accounts.add("bretagne", "bretagne", PASSWORD)
        accounts.add("siege", "siege", PASSWORD)
        port = free_port()
        server = serve(ws.state, port)
        base = f"http://127.0.0.1:{port}"
        print(machine())
        print(f"{'compte':10} {'page de liste':34} {'médiane ms':>10} {'p95 ms':>8}")
        for name in ("bretagne", "siege"):
            opener = logged_in(base, name)
            for label, query in (
                ("sans filtre", ""), ("état : incomplet", "etat=incomplet"), ("ancienneté : 30 jours et plus", "anciennete=30"),
                ("recherche : un nom", "q=Quimper"), ("recherche : un SIRET", f"q={siret(12345)}"), ("page 20", "page=20"),
            ):  # fmt: skip
                times = sorted(timings(opener, f"{base}/bureau?{query}", args.requests))
                p95 = times[int(len(times) * 0.95) - 1]
                print(f"{name:10} {label:34} {statistics.median(times) * 1000:10.1f} {p95 * 1000:8.1f}")
        server.should_exit = True


if __name__ == "__main__":
    main()
