"""A deposit the watcher may not read gets an outcome, like any other that fails (the class of o_eacces).

A shared inbox holds files of other users: a ZIP left 0600 (or 000) by its
owner cannot be opened by csac. That error is the deposit's, not the
machine's: its tries are counted, and after three it is set aside in
quarantine (a note stands for the file, which stays untouched in done/), the
quarantine mailbox is told, and the watcher goes on. Errors on csac's own
folders stay csac's (tests/test_faults.py).

The tests run as root, whom no permission stops: the watcher runs as `nobody`
(setpriv) on an inbox it owns, and the unreadable files belong to root.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pipeline.journal import Journal
from tests.test_watch import full_deposit, wait_for  # noqa: F401 (fixture)
from tests.test_watch_poison import _zip

pytestmark = pytest.mark.slow  # real watchers: make test runs them

OUTCOME_WITHIN = 20.0
GOOD_WITHIN = 5.0
CASES = {  # mode of the deposit, mode of its form (None: no form)
    "deposit-of-another-user-0600": (0o600, 0o644),
    "deposit-of-another-user-000-without-form": (0o000, None),
    "deposit-and-form-of-another-user-0600": (0o600, 0o600),
}

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("setpriv"),
        reason="needs root and setpriv to run the watcher as nobody",
    ),
    pytest.mark.slow,  # a real `csac watch`, run as nobody
]


def _nobody_cannot_run_csac() -> str | None:
    """Why `nobody` cannot start csac from this checkout (a clone under a 0700 folder), or None."""
    probe = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", "import pipeline.cli"],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    return None if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["?"])[-1]


@pytest.fixture(scope="module", autouse=True)
def nobody_runs_csac():
    why = _nobody_cannot_run_csac()
    if why:
        pytest.skip(
            f"SKIPPED LOUDLY: `nobody` cannot run {sys.executable} from this checkout ({why}); clone under a folder others may traverse"
        )


@pytest.fixture
def root():
    """A workspace under /tmp that `nobody` can reach: inbox, outbox and var are its own."""
    umask = os.umask(0o022)  # what nobody may read is the test's choice, not a umask left in this worker
    folder = Path(tempfile.mkdtemp(prefix="csac-autrui-", dir="/tmp"))
    folder.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    for name in ("inbox", "outbox", "var"):
        (folder / name).mkdir()
        os.chown(folder / name, nobody.pw_uid, nobody.pw_gid)
    (folder / "csac.yaml").write_text(
        f"paths: {{inbox: {folder}/inbox, outbox: {folder}/outbox, state: {folder}/var}}\n"
        "mailboxes: {quarantine: securite@resah.fr}\n",
        encoding="utf-8",
    )
    yield folder
    shutil.rmtree(folder)
    os.umask(umask)


def as_nobody(root: Path, *args: str) -> list[str]:
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m", "pipeline",
            "--config", str(root / "csac.yaml"), *args]  # fmt: skip


def done(root: Path) -> dict[str, dict]:
    """The finished deposits by file, read from a copy of the journal: root must not open the journal
    itself (a -wal or -shm file root made beside it would lock the watcher, nobody, out of it)."""
    journal = root / "var" / "journal.sqlite"
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / journal.name
        try:
            shutil.copyfile(journal, copy)
            shutil.copyfile(f"{journal}-wal", f"{copy}-wal")
        except FileNotFoundError:  # not made yet, or no write since the last checkpoint
            if not copy.exists():
                return {}
        try:
            rows = Journal(copy).latest(100)
        except sqlite3.DatabaseError:  # copied in the middle of a write: read again at the next poll
            return {}
    return {r["file"]: r for r in rows if r["state"] == "done"}


def stopped(watch: subprocess.Popen) -> str:
    """Ctrl-C; what the watcher said (one that does not end is killed)."""
    watch.send_signal(signal.SIGINT)
    try:
        return watch.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        watch.kill()
        return watch.communicate()[1]


def drop_foreign(inbox: Path, data: bytes, case: str) -> None:
    """Files of root's, which nobody may not read."""
    mode, form_mode = CASES[case]
    if form_mode is not None:
        (inbox / "secret.json").write_text('{"raison_sociale": "Commune de Test-sur-Mer"}', encoding="utf-8")
        (inbox / "secret.json").chmod(form_mode)
    (inbox / "secret.zip").write_bytes(data)
    (inbox / "secret.zip").chmod(mode)


@pytest.mark.parametrize("case", list(CASES))
def test_a_deposit_the_watcher_may_not_read_is_set_aside_after_three_tries_and_told(
    root,
    full_deposit,  # noqa: F811
    case,
):
    inbox, data = root / "inbox", _zip()
    watch = subprocess.Popen(as_nobody(root, "watch", "--settle", "0.2", "--rescan", "0.5"),
                             stderr=subprocess.PIPE, text=True, cwd=root)  # fmt: skip
    try:
        wait_for(lambda: (inbox / "processing").is_dir(), "watcher start")
        start = time.monotonic()
        drop_foreign(inbox, data, case)
        wait_for(lambda: "secret.zip" in done(root), "the unreadable deposit's outcome", OUTCOME_WITHIN)
        assert time.monotonic() - start < OUTCOME_WITHIN
        (inbox / "bon.json").write_text(json.dumps(full_deposit[1]), encoding="utf-8")
        (inbox / "bon.zip").write_bytes(full_deposit[0])
        good = time.monotonic()
        wait_for(lambda: "bon.zip" in done(root), "the next good deposit", 30)
        assert time.monotonic() - good < GOOD_WITHIN
        time.sleep(2.0)  # four more rescans: nothing is tried again
        claimed = [p.name for p in (inbox / "processing").rglob("*") if p.is_file() and p.name != ".lock"]
    finally:
        err = stopped(watch)
    assert watch.returncode == 0 and claimed == [], err[-3000:]
    row = done(root)["secret.zip"]
    assert (row["status"], row["problems"]) == ("rejected", ["archive_corrupt"])
    kept = root / "outbox" / "quarantine" / row["id"]
    reason = (kept / "reason.txt").read_text(encoding="utf-8")
    assert "3 essais en échec" in reason and "accès refusé" in reason, reason
    assert "n'a pas pu être lu par csac" in (kept / "fichier-illisible.txt").read_text(encoding="utf-8")
    assert (inbox / "done" / "secret.zip").read_bytes() == data  # untouched, where the note says
    [alert] = list((root / "outbox" / "securite@resah.fr" / "new").iterdir())
    assert "archive_corrupt" in alert.read_text(encoding="utf-8")
    said = [line for line in err.splitlines() if "secret.zip" in line and " ERREUR " in line]
    assert len(said) <= 3, "\n".join(said)  # tries 1 and 2, then set aside: not one line per rescan


def test_a_form_the_watcher_may_not_read_earns_its_deposit_a_verdict(root, full_deposit):  # noqa: F811
    """The form is the deposit's too: unreadable, it is an invalid form, said to the depositor's region."""
    inbox = root / "inbox"
    watch = subprocess.Popen(as_nobody(root, "watch", "--settle", "0.2", "--rescan", "0.5"),
                             stderr=subprocess.PIPE, text=True, cwd=root)  # fmt: skip
    try:
        wait_for(lambda: (inbox / "processing").is_dir(), "watcher start")
        (inbox / "d.json").write_text(json.dumps(full_deposit[1]), encoding="utf-8")
        (inbox / "d.json").chmod(0o600)
        (inbox / "d.zip").write_bytes(full_deposit[0])
        wait_for(lambda: "d.zip" in done(root), "the deposit's verdict", OUTCOME_WITHIN)
    finally:
        err = stopped(watch)
    row = done(root)["d.zip"]
    assert (row["status"], row["problems"]) == ("incomplete", ["form_invalid"]), err[-3000:]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["d.json", "d.zip"]
