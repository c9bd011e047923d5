"""The crash soak: `csac watch` killed with SIGKILL while deposits keep arriving.

Shared by tests/test_soak.py (small) and bench/soak.py (full size), so it
lives in the package beside `sample`, which builds its deposits.

Deposits arrive the ways they do in a shared folder: written at once,
written slowly in chunks, written under a temporary name and renamed in,
or with their form written after the ZIP. Meanwhile the watcher is killed
at random moments and restarted. When everything has settled, every dropped
file must have exactly one outcome and every routed deposit one message.
"""

from __future__ import annotations

import email
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from . import sample, store
from .journal import Journal

ROOT = Path(__file__).resolve().parent.parent
MARKET = "2021-045 lot 2"


@dataclass
class Drop:
    name: str
    data: bytes
    form: dict | None
    how: str  # direct, slow, rename or late-form


@dataclass
class SoakResult:
    dropped: int
    kills: int
    outcomes: Counter = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    left_in_processing: list[str] = field(default_factory=list)
    messages_twice: list[str] = field(default_factory=list)
    routed_without_message: list[str] = field(default_factory=list)
    dossier_twice: list[str] = field(default_factory=list)  # a deposit recorded twice in one dossier
    dossier_missing: list[str] = field(
        default_factory=list
    )  # a deposit whose report names a dossier it is not in
    follow_ups_completing: int = 0  # follow-up deposits (an order alone) that found their dossier

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.unfinished or self.left_in_processing
                    or self.messages_twice or self.routed_without_message or self.dossier_twice
                    or self.dossier_missing)  # fmt: skip


def _hostile_zip(i: int) -> bytes:
    """A member named ../evilN.pdf: zipfile writes names as given, it only cleans them on extraction."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"../evil{i}.pdf"), b"x")
    return buf.getvalue()


def make_drops(renderer, resources, count: int, rng: random.Random) -> list[Drop]:
    """A third complete, a sixth without annex, a sixth an order alone (a follow-up to the signatory's
    dossier), a third hostile or broken; half with a form."""
    package = sample.signed_package(renderer, resources)
    convention, annex, e = package["convention"], package["annex"], sample.COMMUNE
    drops = []
    for i in range(count):
        kind = rng.choice(["complete", "complete", "incomplete", "follow-up", "hostile", "hostile"])
        order = sample.order_of(e, Decimal("1000"), f"EJ-{i:05d}", renderer.resah)
        if kind == "complete":
            data = sample.zip_of([("c.pdf", convention), ("a.xlsx", annex), ("o.pdf", order)])
        elif kind == "incomplete":
            data = sample.zip_of([("c.pdf", convention), ("o.pdf", order)])
        elif kind == "follow-up":
            data = sample.zip_of([(f"EJ-{i:05d}.pdf", order)])
        else:
            data = rng.choice([
                _hostile_zip(i),
                sample.zip_of([("c.pdf", convention)])[: 5000 + i],
                f"pas un zip n° {i}".encode(),
            ])  # fmt: skip
        form = None
        if rng.random() < 0.5:
            form = json.loads(
                sample.form_for(e["denomination"], MARKET, "achats@test-sur-mer.example", f"EJ-{i:05d}")
            )
        how = rng.choice(["direct", "slow", "rename", "late-form" if form else "direct"])
        drops.append(Drop(f"depot-{i:04d}.zip", data, form, how))
    return drops


def _drop(inbox: Path, staging: Path, d: Drop, rng: random.Random) -> None:
    target = inbox / d.name
    if d.form and d.how != "late-form":
        (inbox / d.name).with_suffix(".json").write_text(json.dumps(d.form), encoding="utf-8")
    if d.how == "slow":
        with target.open("wb") as fh:
            step = max(1, len(d.data) // 6)
            for pos in range(0, len(d.data), step):
                fh.write(d.data[pos : pos + step])
                fh.flush()
                time.sleep(rng.uniform(0.05, 0.25))
    elif d.how == "rename":
        temp = staging / (d.name + ".part")
        temp.write_bytes(d.data)
        os.rename(temp, target)
    else:
        target.write_bytes(d.data)
    if d.form and d.how == "late-form":
        time.sleep(rng.uniform(0.0, 0.2))
        target.with_suffix(".json").write_text(json.dumps(d.form), encoding="utf-8")


class Watchers:
    """The watcher process, killed and restarted on demand."""

    def __init__(self, work: Path, corrupt_grace: float | None = None):
        self.work = work
        self.grace = [] if corrupt_grace is None else ["--corrupt-grace", str(corrupt_grace)]
        self.proc: subprocess.Popen | None = None
        self.log = (work / "watch.log").open("a")

    def start(self) -> None:
        args = [sys.executable, "-m", "pipeline", "watch", "--inbox", str(self.work / "inbox"),
                "--outbox", str(self.work / "outbox"), "--state", str(self.work / "var"), "--settle", "0.3", "--rescan", "1", *self.grace]  # fmt: skip
        self.proc = subprocess.Popen(args, stderr=self.log, env=os.environ | {"CSAC_HOME": str(ROOT)})

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def kill_while_working(self, rng: random.Random, patience: float = 5.0) -> None:
        """Kill inside the critical window: once a deposit is claimed, at a random instant."""
        processing, deadline = self.work / "inbox" / "processing", time.monotonic() + patience
        while time.monotonic() < deadline:
            if any(p.suffix == ".zip" for p in processing.glob("*/*/*")):  # watcher / claim / file
                time.sleep(rng.uniform(0.0, 0.08))
                break
            time.sleep(0.002)
        self.kill()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        self.log.close()


def _settled(work: Path, names: set[str]) -> bool:
    journal = work / "var" / "journal.sqlite"
    if not journal.exists():
        return False
    done = {r["file"] for r in Journal(journal).latest(100_000) if r["state"] == "done"}
    return names <= done and not any(p.suffix == ".zip" for p in (work / "inbox").iterdir())


def soak(
    work: Path,
    drops: list[Drop],
    kills: int,
    seed: int,
    timeout: float = 600,
    corrupt_grace: float | None = None,
) -> SoakResult:
    """`corrupt_grace`: the watcher's, when not its default (what never reads as a ZIP waits that long)."""
    rng = random.Random(seed)
    inbox, staging = work / "inbox", work / "staging"
    inbox.mkdir(parents=True)
    staging.mkdir()
    watchers = Watchers(work, corrupt_grace)
    watchers.start()
    writer = threading.Thread(
        target=lambda: [(_drop(inbox, staging, d, rng), time.sleep(rng.uniform(0, 0.15))) for d in drops]
    )
    writer.start()
    for k in range(kills):  # half at random moments, half while a deposit is in hand
        time.sleep(rng.uniform(0.3, 1.5))
        if k % 2:
            watchers.kill()
        else:
            watchers.kill_while_working(rng)
        watchers.start()
    writer.join()
    names = {d.name for d in drops}
    deadline = time.monotonic() + timeout
    while not _settled(work, names) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    watchers.stop()
    return check(work, drops, kills)


def _message_ids(outbox: Path) -> Counter:
    ids: Counter = Counter()
    for box in outbox.glob("*@*"):
        for sub in ("new", "cur"):
            for path in (box / sub).glob("*") if (box / sub).exists() else ():
                with path.open("rb") as fh:
                    ids[email.message_from_binary_file(fh)["Message-ID"]] += 1
    return ids


def check(work: Path, drops: list[Drop], kills: int) -> SoakResult:
    result = SoakResult(len(drops), kills)
    rows = Journal(work / "var" / "journal.sqlite").latest(100_000)
    by_file = Counter(r["file"] for r in rows)
    done_names = {p.name for p in (work / "inbox" / "done").iterdir()}
    for d in drops:
        if by_file[d.name] == 0 and d.name not in done_names:
            result.lost.append(d.name)
        elif by_file[d.name] > 1:
            result.doubled.append(d.name)
    result.unfinished = [r["file"] for r in rows if r["state"] != "done"]
    result.outcomes = Counter(r["status"] for r in rows if r["state"] == "done")
    result.left_in_processing = [str(p) for p in (work / "inbox" / "processing").rglob("*") if p.is_file()]
    ids = _message_ids(work / "outbox")
    result.messages_twice = [mid for mid, n in ids.items() if n > 1]
    for r in rows:
        if r["status"] in ("complete", "incomplete") and ids[f"<{r['id']}.region@csac.resah.fr>"] != 1:
            result.routed_without_message.append(r["id"])
    _check_dossiers(work / "var" / "journal.sqlite", result)
    return result


def _check_dossiers(journal: Path, result: SoakResult) -> None:
    """Each finished deposit is in each dossier its report names, once."""
    with closing(store.connect(journal)) as conn:  # read-only: the store's setup, no schema of its own
        recorded = Counter(
            tuple(r)
            for r in conn.execute("SELECT dossier_id, deposit_id FROM dossier_events WHERE kind = 'deposit'")
        )
        reports = [json.loads(r[0]) for r in conn.execute("SELECT report FROM deposits WHERE state = 'done'")]
    result.dossier_twice = [f"{d} ← {dep}" for (d, dep), n in recorded.items() if n > 1]
    for report in reports:
        for d in report.get("dossiers", ()):
            if (d["dossier_id"], report["deposit_id"]) not in recorded:
                result.dossier_missing.append(f"{d['dossier_id']} ← {report['deposit_id']}")
        if report.get("dossiers") and all(doc["role"] == "purchase_order" for doc in report["documents"]):
            result.follow_ups_completing += 1
