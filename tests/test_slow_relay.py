"""A relay that answers slowly, or not at all, never holds a deposit back (issue 8: "each deposit
takes under 20 s", whatever the relay does).

Under `csac watch`, intake only queues: the watcher's sender thread talks to
the relay. Each deposit gets its journal outcome within 5 s of its drop while
the relay hangs; its messages go exactly once when the relay answers again;
Ctrl-C stops the watcher at once, the message in hand staying queued. A
one-shot `csac intake` sends for a bounded time, then returns: what could not
go stays queued, and `csac status` says why. Real relays on loopback: aiosmtpd
slow to answer DATA or RCPT, and a listener that never says a word.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import pytest

from pipeline.deliver import INLINE_SECONDS
from pipeline.journal import Journal
from tests import warm
from tests.relays import SilentRelay, csac, relay_starter, run, write_config
from tests.test_relay_answers import deposits, drop, status  # noqa: F401 (fixture)
from tests.test_watch import wait_for

pytestmark = pytest.mark.slow  # relays that hang for seconds

HANG = 40.0  # seconds the relay takes, well past the configured timeout
TIMEOUT = 8  # smtp.timeout in the configuration under test
TAKEN_WITHIN = 5.0  # seconds from a deposit's drop to its journal outcome
DEPOSITS = 3
HANGS = {"data": {"delay": HANG}, "rcpt": {"rcpt_delay": HANG}}


@pytest.fixture
def start_relay():
    yield from relay_starter()


@pytest.fixture
def silent():
    relay = SilentRelay()
    yield relay
    relay.stop()


def done_files(state) -> set[str]:
    path = state / "journal.sqlite"
    return {r["file"] for r in Journal(path).latest(100) if r["state"] == "done"} if path.exists() else set()


def start_watch(tmp_path, relay, timeout: float) -> tuple[object, subprocess.Popen]:
    """A real `csac watch` on tmp_path/inbox with this relay and smtp.timeout: its config and process."""
    config = write_config(tmp_path, relay, timeout, inbox=tmp_path / "inbox", outbox=tmp_path / "out",
                          state=tmp_path / "var")  # fmt: skip
    watch = warm.Popen(csac(config, "watch", "--settle", "0.2", "--rescan", "0.5"),
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(lambda: (tmp_path / "inbox" / "processing").is_dir(), "watcher start")
    return config, watch


def drop_and_time(inbox, deposits, tmp_path) -> list[float]:  # noqa: F811
    """Each deposit dropped once the previous one is in: seconds from its drop to its journal row."""
    seconds = []
    for i in range(DEPOSITS):
        name = f"depot-{i}.zip"
        start = time.monotonic()
        drop(inbox, deposits[i % 2], name, reference_commande=f"13000000{i}")
        wait_for(lambda name=name: name in done_files(tmp_path / "var"), f"{name} in the journal", 60)
        seconds.append(time.monotonic() - start)
    return seconds


def stop(watch: subprocess.Popen, timeout: float = 60) -> tuple[float, str]:
    """Ctrl-C, and how long the watcher took to end (a watcher that does not end is killed)."""
    start = time.monotonic()
    watch.send_signal(signal.SIGINT)
    try:
        _, err = watch.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        watch.kill()
        _, err = watch.communicate()
    return time.monotonic() - start, err


@pytest.mark.parametrize("where", sorted(HANGS))
def test_each_deposit_is_journalled_within_5_s_while_the_relay_hangs_then_its_mail_goes_once(
    start_relay,
    tmp_path,
    deposits,  # noqa: F811
    where,
):
    relay = start_relay(**HANGS[where])
    config, watch = start_watch(tmp_path, relay, TIMEOUT)
    try:
        seconds = drop_and_time(tmp_path / "inbox", deposits, tmp_path)
        assert max(seconds) < TAKEN_WITHIN, seconds
        relay.behaviour.delay = relay.behaviour.rcpt_delay = 0
        messages = lambda: [m for r in status(config) for m in r["messages"]]  # noqa: E731
        # The relay's own count first: polling `csac status` meanwhile would start a process each time.
        wait_for(lambda: len(relay.handler.ids()) == 2 * DEPOSITS, "every message at the relay", 90)
        wait_for(
            lambda: [m["state"] for m in messages()] == ["sent"] * 2 * DEPOSITS, "every message sent", 90
        )
        time.sleep(1.5)  # a few more rounds of the sender: nothing goes twice
    finally:
        _, err = stop(watch)
    assert watch.returncode == 0, err[-3000:]
    counts = relay.handler.ids()
    assert len(counts) == 2 * DEPOSITS and set(counts.values()) == {1}, counts


def test_each_deposit_is_journalled_within_5_s_while_the_relay_never_greets(silent, tmp_path, deposits):  # noqa: F811
    config, watch = start_watch(tmp_path, silent, TIMEOUT)
    try:
        seconds = drop_and_time(tmp_path / "inbox", deposits, tmp_path)
    finally:
        stop(watch)
    assert max(seconds) < TAKEN_WITHIN, seconds
    states = {m["state"] for r in status(config) for m in r["messages"]}
    assert states <= {"queued", "sending"}, (
        states
    )  # "sending": claimed by the stopped watcher, taken again at once


def test_ctrl_c_stops_the_watcher_within_seconds_while_the_relay_hangs_on_data(
    start_relay,
    tmp_path,
    deposits,  # noqa: F811
):
    relay = start_relay(delay=120)
    config, watch = start_watch(tmp_path, relay, 60)
    drop(tmp_path / "inbox", deposits[0])
    wait_for(lambda: "d.zip" in done_files(tmp_path / "var"), "the deposit in the journal")
    time.sleep(1.0)  # the sender is now waiting on the relay's answer to DATA
    seconds, err = stop(watch)
    assert seconds < 8 and watch.returncode == 0, err[-3000:]
    messages = [m for r in status(config) for m in r["messages"]]
    assert [m["state"] for m in messages] == ["queued", "queued"]
    assert any("interrompu par l'arrêt de csac" in (m["answer"] or "") for m in messages)
    relay.behaviour.delay = 0
    assert run(config, "outbox", "flush").returncode == 0  # due at once: no backoff for a cut message
    assert sorted(Counter(relay.handler.ids()).values()) == [1, 1]


def test_ctrl_c_stops_the_watcher_within_seconds_while_the_relay_never_greets(silent, tmp_path, deposits):  # noqa: F811
    config, watch = start_watch(tmp_path, silent, 60)
    drop(tmp_path / "inbox", deposits[0])
    wait_for(lambda: "d.zip" in done_files(tmp_path / "var"), "the deposit in the journal")
    time.sleep(1.0)  # the sender is now waiting for the relay's greeting
    seconds, err = stop(watch)
    assert seconds < 8 and watch.returncode == 0, err[-3000:]
    assert sorted(m["state"] for r in status(config) for m in r["messages"]) in (
        ["queued", "queued"],
        ["queued", "sending"],  # claimed by the stopped watcher: claimed again at once, its process gone
    )


@pytest.mark.parametrize("where", sorted(HANGS))
def test_csac_intake_returns_within_its_sending_budget_and_says_what_waits(
    start_relay,
    tmp_path,
    deposits,  # noqa: F811
    where,
):
    relay = start_relay(**HANGS[where])
    config = write_config(tmp_path, relay, 30, outbox=tmp_path / "out", state=tmp_path / "var")
    drop(tmp_path / "drops", deposits[0])
    start = time.monotonic()
    done = run(config, "intake", str(tmp_path / "drops" / "d.zip"), "--json", timeout=120)
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert seconds < INLINE_SECONDS + 8, seconds
    [row] = status(config)
    assert row["state"] == "done" and [m["state"] for m in row["messages"]] == ["queued", "queued"]
    answers = " ".join(m["answer"] or "" for m in row["messages"])
    assert "temps accordé à l'envoi immédiat" in answers, answers
    assert "temps accordé" in run(config, "status").stdout
    relay.behaviour.delay = relay.behaviour.rcpt_delay = 0
    assert run(config, "outbox", "flush", "--force").returncode == 0
    assert [m["state"] for m in status(config)[0]["messages"]] == ["sent", "sent"]
    assert sorted(relay.handler.ids().values()) == [1, 1]
