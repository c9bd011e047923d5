"""One bad deposit never stops `csac watch`, and the next good deposit is taken in within 5 s.

Each poison below stopped the watcher on the old code, or kept it retrying one
deposit forever: an accented address in the relay's flush, line breaks in
headers, a name with no room for its form's, forms nested 100,000 deep, an
alias bomb, a 500 MB form, a 100,000-character raison sociale, a list of
addresses. The watcher runs as a real process, with a real relay (aiosmtpd) and
a quarantine mailbox; the poison is dropped, then a good deposit. The scenario
runs once per poison and the tests below read what it measured.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from stdnum.fr import siret as stdnum_siret

from pipeline.config import Config
from pipeline.intake import IntakeContext
from pipeline.journal import Journal
from pipeline.resources import Workspace
from pipeline.watch import Watcher, WatchSettings
from tests import builders as b
from tests import warm
from tests.test_faults import read_only
from tests.test_smtp import Recorder, free_port
from tests.test_watch import wait_for

GOOD_WITHIN = 5.0  # seconds from the good deposit's drop to its journal row, settle time included
OUTCOME_WITHIN = 20.0  # seconds from the poison's drop to its outcome (three tries, a rescan apart)
MEMORY_MB = 200
SAFETY_NET = 3 << 30  # address space of the watcher under test, so that a regression cannot take the machine


def _zip() -> bytes:
    return b.zip_of([("Courrier.pdf", b"%PDF-1.4 un courrier d'accompagnement")])


def _with_form(form_text: str, suffix: str = ".json", name: str = "poison") -> Callable[[Path], None]:
    def drop(inbox: Path) -> None:
        (inbox / f"{name}{suffix}").write_text(form_text, encoding="utf-8")
        (inbox / f"{name}.zip").write_bytes(_zip())

    return drop


def _field(**changes) -> Callable[[Path], None]:
    return _with_form(json.dumps(b.form(b.Entity(), **changes), ensure_ascii=False))


def _named(raw_name: bytes) -> Callable[[Path], None]:
    def drop(inbox: Path) -> None:
        with open(os.path.join(os.fsencode(inbox), raw_name), "wb") as fh:
            fh.write(_zip())

    return drop


def _sparse_form(size: int) -> Callable[[Path], None]:
    def drop(inbox: Path) -> None:
        with (inbox / "poison.json").open("wb") as fh:
            fh.truncate(size)
        (inbox / "poison.zip").write_bytes(_zip())

    return drop


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines + [f"raison_sociale: *l{levels - 1}", "email: achats@test-sur-mer.example", ""])


DEEP = 100_000
POISONS = {
    "email-accented-local-part": _field(email="éloïse.dupont@mairie-exemple.fr"),
    "email-accented-domain": _field(email="achats@mairie-évreux.fr"),
    "email-crlf": _field(email="achats@test-sur-mer.example\r\nBcc: tous@resah.fr"),
    "email-u2028": _field(email="achats@test-sur-mer.example\u2028Bcc: tous@resah.fr"),
    "raison-sociale-crlf": _field(raison_sociale="Commune de Test\r\nBcc: tous@resah.fr"),
    "raison-sociale-u2028": _field(raison_sociale="Commune de Test\u2028X-Priority: 1"),
    "name-255-bytes": _named(b"d" * 251 + b".zip"),
    "name-255-bytes-accented": _named("é".encode() * 125 + b"x.zip"),
    "name-255-bytes-no-suffix": _named(b"d" * 255),
    "name-not-utf8": _named(b"d\xe9p\xf4t de la mairie.zip"),
    "name-line-break": _named(b"depot\r\nBcc: tous@resah.fr.zip"),
    "json-100000-lists-deep": _with_form("[" * DEEP + "]" * DEEP),
    "json-100000-objects-deep": _with_form('{"a": ' * DEEP + "1" + "}" * DEEP),
    "yaml-100000-lists-deep": _with_form("[" * DEEP + "]" * DEEP, ".yaml"),
    "yaml-100000-mappings-deep": _with_form("{a: " * DEEP + "1" + "}" * DEEP, ".yaml"),
    "yaml-alias-bomb": _with_form(_alias_bomb(), ".yaml"),
    "form-500-mb": _sparse_form(500 << 20),
    "raison-sociale-100000-characters": _field(raison_sociale="Communauté d'agglomération é " * 3572),
    "raison-sociale-100000-characters-one-word": _field(raison_sociale="é" * DEEP),
    "email-list-of-addresses": _field(email="achats@test-sur-mer.example, direction@ailleurs.example"),
}


@dataclass
class Run:
    """What one scenario measured."""

    poison: str = ""
    good_seconds: float | None = None
    poison_seconds: float | None = None
    alive: bool = False
    exit_code: int | None = None
    peak_mb: float = 0.0
    rows: list[dict] = field(default_factory=list)
    left_claimed: list[str] = field(default_factory=list)
    left_in_inbox: list[str] = field(default_factory=list)
    received: list = field(default_factory=list)
    log: str = ""


def _done(root: Path) -> list[dict]:
    path = root / "var" / "journal.sqlite"
    try:
        return [r for r in Journal(path).latest(100) if r["state"] == "done"] if path.exists() else []
    except sqlite3.OperationalError:  # the watcher is creating it: read again at the next poll
        return []


def _peak_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return int(line.split()[1]) / 1024 if line else 0.0  # a dead watcher has no memory left to show


def _config(root: Path, port: int) -> Path:
    path = root / "csac.yaml"
    path.write_text(
        f"paths: {{inbox: {root}/inbox, outbox: {root}/outbox, state: {root}/var}}\n"
        f"smtp: {{host: 127.0.0.1, port: {port}, security: none, sender: csac@resah.fr, timeout: 5}}\n"
        "mailboxes: {quarantine: securite@resah.fr}\n",
        encoding="utf-8",
    )
    return path


def _start(config: Path) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "pipeline",
        "--config",
        str(config),
        "watch",
        "--settle",
        "0.2",
        "--rescan",
        "0.5",
    ]
    limits = {resource.RLIMIT_AS: (SAFETY_NET, SAFETY_NET)}
    return warm.Popen(args, stderr=subprocess.PIPE, text=True, limits=limits)


def _watch(proc: subprocess.Popen, condition, timeout: float, run: Run) -> float | None:
    """Seconds until `condition`, sampling the watcher's memory meanwhile; None if it never came."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        run.peak_mb = max(run.peak_mb, _peak_mb(proc.pid))
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def _claimed(root: Path) -> list[str]:
    """Files in claim folders; os.walk, unlike rglob, lets the watcher remove a folder under it."""
    walked = os.walk(root / "inbox" / "processing")
    return [os.path.join(d, f) for d, _, files in walked for f in files if f != ".lock"]


def scenario(root: Path, poison: Callable[[Path], None], good: tuple[bytes, dict]) -> Run:
    run, recorder = Run(), Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox = root / "inbox"
    proc = _start(_config(root, controller.port))
    try:
        wait_for(lambda: (inbox / "processing").is_dir(), "watcher start")
        started = time.monotonic()
        poison(inbox)
        _watch(proc, lambda: _claimed(root) or _done(root) or proc.poll() is not None, 10, run)
        (inbox / "bon.json").write_text(json.dumps(good[1]), encoding="utf-8")
        (inbox / "bon.zip").write_bytes(good[0])
        run.good_seconds = _watch(proc, lambda: any(r["file"] == "bon.zip" for r in _done(root)), 30, run)
        left = OUTCOME_WITHIN + 10 - (time.monotonic() - started)
        if _watch(proc, lambda: len(_done(root)) >= 2, max(left, 1), run) is not None:
            run.poison_seconds = time.monotonic() - started
        time.sleep(1.2)  # two more rescans: a poison retried forever would show in processing/
        run.peak_mb = max(run.peak_mb, _peak_mb(proc.pid))
        run.alive = proc.poll() is None
        run.rows, run.left_claimed = _done(root), _claimed(root)
        run.left_in_inbox = [p.name for p in inbox.iterdir() if p.is_file()]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            run.log = proc.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            run.log = proc.communicate()[1]
        run.exit_code = proc.returncode
        controller.stop()
    run.received = list(recorder.received)
    return run


@pytest.fixture(scope="module")
def good(renderer, resources):
    entity = b.Entity(postal_code="20000", city="AJACCIO")
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    data = b.zip_of([("Convention.pdf", b.convention_pdf(docs["convention"])), ("Annexe.xlsx", docs["annex"]),
                     ("EJ.pdf", b.order_pdf(entity, Decimal("1000")))])  # fmt: skip
    return data, b.form(entity)


# What these poisons still cost the watcher without the form's own limits (issue 8, item 6: size
# cap, no YAML aliases, field lengths before use; branch issue8-form). The watcher survives them
# here, but no watcher can make a 500 MB read or an alias bomb cheap. Drop an entry once merged.
# One scenario per poison, shared by the tests below: under xdist (--dist loadgroup) they go to one worker.
@pytest.fixture(scope="module", params=[pytest.param(p, marks=pytest.mark.xdist_group(p)) for p in POISONS])
def run(request, good, tmp_path_factory) -> Run:
    result = scenario(tmp_path_factory.mktemp("poison"), POISONS[request.param], good)
    result.poison = request.param
    outcome = sorted((r["file"][:20], r["status"], tuple(r["problems"])) for r in result.rows)
    print(f"\n{request.param}: good {result.good_seconds}, poison {result.poison_seconds}, "
          f"VmHWM {result.peak_mb:.0f} MB, {outcome}")  # fmt: skip
    return result


@pytest.mark.slow
def test_the_next_good_deposit_is_taken_in_within_5_s(run):
    assert run.good_seconds is not None and run.good_seconds < GOOD_WITHIN, run.log[-3000:]


@pytest.mark.slow
def test_the_good_deposits_messages_reach_the_relay(run):
    assert {"Corse@resah.fr", "achats@test-sur-mer.example"} <= {m["To"] for m in run.received}, run.log[
        -3000:
    ]


@pytest.mark.slow
def test_the_watcher_outlives_the_poison_and_stops_cleanly(run):
    assert run.alive and run.exit_code == 0, run.log[-3000:]


@pytest.mark.slow
def test_the_poison_gets_one_outcome_within_20_s(run):
    assert run.poison_seconds is not None and run.poison_seconds < OUTCOME_WITHIN, run.log[-3000:]
    assert len(run.rows) == 2  # the poison and the good deposit, once each


@pytest.mark.slow
def test_the_poison_is_not_retried_once_it_has_its_outcome(run):
    assert run.left_claimed == [] and run.left_in_inbox == [], run.log[-3000:]


@pytest.mark.slow
def test_a_poison_set_aside_is_told_to_the_quarantine_mailbox(run):
    set_aside = [r for r in run.rows if r["status"] == "rejected"]
    told = [m for m in run.received if m["To"] == "securite@resah.fr"]
    assert len(told) == len(set_aside), run.log[-3000:]  # a verdict instead needs no person


@pytest.mark.slow
def test_the_watcher_stays_under_200_mb(run):
    assert run.peak_mb < MEMORY_MB, f"VmHWM {run.peak_mb:.0f} Mo"


# -- the rule itself: tries counted across restarts, then set aside -------------------------------
SETTINGS = WatchSettings(settle=0, form_grace=0, rescan=0.1)
FORM = json.dumps(b.form(b.Entity()), ensure_ascii=False)


def _library_fault(*args, **kwargs):
    raise RuntimeError("défaillance interne de la bibliothèque de contrôle des SIRET")


def _deposit_with_a_siret(inbox: Path) -> bytes:
    data = b.zip_of([("EJ.pdf", b.order_pdf(b.Entity(), Decimal("1000")))])
    (inbox / "poison.zip").write_bytes(data)
    (inbox / "poison.json").write_text(FORM, encoding="utf-8")
    return data


def _context(tmp_path, resources) -> IntakeContext:
    workspace = Workspace(tmp_path / "inbox", tmp_path / "outbox", tmp_path / "var")
    workspace.inbox.mkdir(parents=True)
    return IntakeContext.build(resources, workspace, config=Config(workspace, quarantine="securite@resah.fr"))


def test_a_deposit_that_fails_every_time_is_set_aside_after_three_tries_across_restarts(
    tmp_path, resources, monkeypatch
):
    """No input crashes csac today; a fault in a library we do not own stands for tomorrow's bug."""
    monkeypatch.setattr(stdnum_siret, "is_valid", _library_fault)
    ctx = _context(tmp_path, resources)
    data = _deposit_with_a_siret(ctx.workspace.inbox)
    first = Watcher(ctx, SETTINGS)
    assert first.take(ctx.workspace.inbox / "poison.zip") is None  # try 1
    first.release()  # stopped: given back to the inbox
    again = Watcher(ctx, SETTINGS)  # restarted
    assert again.take(ctx.workspace.inbox / "poison.zip") is None  # try 2
    again.retry_mine()  # try 3, and set aside
    [row] = Journal(ctx.workspace.journal).latest()
    assert (row["state"], row["status"], row["problems"]) == ("done", "rejected", ["archive_corrupt"])
    kept = ctx.workspace.quarantine / row["id"]
    assert (kept / "poison.zip").read_bytes() == data and (kept / "formulaire.json").read_text() == FORM
    reason = (kept / "reason.txt").read_text()
    assert "traité automatiquement" in reason and "3 essais en échec" in reason and "RuntimeError" in reason
    [alert] = list((ctx.workspace.outbox / "securite@resah.fr" / "new").iterdir())
    assert "X-CSAC-Problems: archive_corrupt" in alert.read_text() and "RuntimeError" in alert.read_text()
    assert sorted(p.name for p in ctx.workspace.done.iterdir()) == ["poison.json", "poison.zip"]
    assert not list(ctx.workspace.processing.rglob("*.zip"))


def test_a_failure_on_our_side_is_never_counted_against_the_deposit(tmp_path, resources):
    ctx = _context(tmp_path, resources)
    ctx.workspace.outbox.mkdir()
    (ctx.workspace.inbox / "depot.zip").write_bytes(_zip())
    watcher = Watcher(ctx, SETTINGS)
    with read_only(ctx.workspace.outbox):
        assert watcher.take(ctx.workspace.inbox / "depot.zip") is None
        for _ in range(SETTINGS.attempts + 2):
            watcher.retry_mine()
        assert not ctx.workspace.quarantine.exists()
        assert len(list(ctx.workspace.processing.rglob("*.zip"))) == 1
    watcher.retry_mine()
    [row] = Journal(ctx.workspace.journal).latest()
    assert (row["state"], row["status"]) == ("done", "incomplete")  # its own verdict, once the outbox is back


def _tries(root: Path) -> dict:
    try:
        with closing(sqlite3.connect(root / "var" / "journal.sqlite")) as conn:
            row = conn.execute("SELECT running, crashes FROM attempts").fetchone()
    except sqlite3.Error:
        return {}
    return {"running": row[0], "crashes": row[1]} if row else {}


def _begun(root: Path, deaths: int) -> bool:
    """The try is under way: the first one running, or a later one that has counted the last death."""
    tries = _tries(root)
    return tries.get("running") == 1 and (deaths == 0 or tries.get("crashes") == deaths)


@pytest.mark.slow
def test_a_deposit_in_hand_each_time_the_watcher_dies_is_set_aside_after_five_deaths(tmp_path):
    """A deposit that kills the watcher (out of memory, a parser's crash) must not kill it at every restart."""

    pdf = b.text_pdf([f"Ligne {i} d'un long courrier d'accompagnement" for i in range(200)], "Courrier")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "lourd.zip").write_bytes(
        b.zip_of([(f"piece-{i:03d}.pdf", pdf) for i in range(200)])
    )
    args = [sys.executable, "-m", "pipeline", "watch", "--inbox", str(tmp_path / "inbox"), "--outbox",
            str(tmp_path / "outbox"), "--state", str(tmp_path / "var"), "--settle", "0.2", "--rescan", "0.5"]  # fmt: skip
    for deaths in range(WatchSettings().crashes):
        proc = warm.Popen(args, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda deaths=deaths: _begun(tmp_path, deaths), "a try under way")
        finally:
            proc.kill()
            proc.wait()
    proc = warm.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _done(tmp_path), "the deposit's outcome")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    [row] = _done(tmp_path)
    assert (row["status"], row["problems"]) == ("rejected", ["archive_corrupt"])
    report = json.loads((tmp_path / "outbox" / "quarantine" / row["id"] / "report.json").read_text())
    assert "interrompu 5 fois" in report["problems"][0]["message"]
