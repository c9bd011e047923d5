"""What a relay accepted is delivered; what it could not take is said (issue 8, items 13 and 5).

Real aiosmtpd relays on loopback that answer QUIT with 500, drop the line
right after accepting a message, or answer too slowly; and addresses a relay
may not take (accents, IDNA domains, CR/LF). `csac intake`, the journal and
`csac status` tell the truth each time, and one bad address never stops the
other messages or the watcher.
"""

import json
import signal
import subprocess
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.config import Config, Relay, Retry
from pipeline.deliver import Courier, Outgoing, new_message
from pipeline.mailqueue import MailQueue
from pipeline.resources import Workspace
from tests import builders as b
from tests import warm
from tests.relays import csac, queue_messages, relay_starter, run, write_config
from tests.test_watch import wait_for

ENTITY = b.Entity(postal_code="20000", city="AJACCIO")
NOTICE_TO = "achats@test-sur-mer.example"


@pytest.fixture
def start_relay():
    yield from relay_starter()


@pytest.fixture(scope="module")
def deposits(renderer, resources):
    """Two different routed deposits for Corse."""
    docs = b.rendered(renderer, resources, ENTITY, "2021-045-lot2")
    convention = b.convention_pdf(docs["convention"])
    return [b.zip_of([("Convention.pdf", convention), ("Annexe.xlsx", docs["annex"]),
                      ("EJ.pdf", b.order_pdf(ENTITY, Decimal("1000"), ej=f"13000000{i}"))]) for i in range(2)]  # fmt: skip


def drop(folder, data: bytes, name: str = "d.zip", **form) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).with_suffix(".json").write_text(json.dumps(b.form(ENTITY, **form)), encoding="utf-8")
    (folder / name).write_bytes(data)


def status(config) -> list[dict]:
    done = run(config, "status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def intake(tmp_path, relay, data: bytes, timeout: float = 5):
    drop(tmp_path / "drops", data)
    config = write_config(tmp_path, relay, timeout, outbox=tmp_path / "out", state=tmp_path / "var")
    return config, run(config, "intake", str(tmp_path / "drops" / "d.zip"), "--json")


# -- item 13: the end of the session, a dropped line, a slow relay -------------------------------


@pytest.mark.slow  # a real csac process
def test_a_relay_that_answers_quit_with_500_after_accepting_both_messages_delivered_them(
    start_relay, tmp_path, deposits
):
    relay = start_relay(quit_answer="500 5.5.1 Au revoir refusé")
    config, done = intake(tmp_path, relay, deposits[0])
    assert done.returncode == 0, done.stderr
    [row] = status(config)
    assert row["state"] == "done" and [m["state"] for m in row["messages"]] == ["sent", "sent"]
    assert sorted(relay.handler.ids().values()) == [1, 1]


@pytest.mark.slow  # a real csac process
def test_a_relay_that_drops_the_line_after_accepting_a_message_gets_the_next_on_a_new_line(
    start_relay, tmp_path, deposits
):
    relay = start_relay(drop_after_data=True)
    config, done = intake(tmp_path, relay, deposits[0])
    assert done.returncode == 0, done.stderr
    [row] = status(config)
    assert row["state"] == "done" and [m["state"] for m in row["messages"]] == ["sent", "sent"]
    assert sorted(a.rcpt_tos[0] for a in relay.accepted) == ["Corse@resah.fr", NOTICE_TO]
    assert sorted(relay.handler.ids().values()) == [1, 1]


@pytest.mark.slow
def test_a_relay_too_slow_to_answer_leaves_the_messages_queued_with_the_reason_then_they_go(
    start_relay, tmp_path, deposits
):
    relay = start_relay(delay=3)
    config, done = intake(tmp_path, relay, deposits[0], timeout=1)
    assert done.returncode == 0, done.stderr
    [row] = status(config)
    assert row["state"] == "done" and [m["state"] for m in row["messages"]] == ["queued", "queued"]
    assert all("n'a pas répondu dans les 1 s" in m["answer"] for m in row["messages"])
    table = run(config, "status").stdout
    assert "n'a pas répondu" in table
    relay.behaviour.delay = 0
    flushed = run(config, "outbox", "flush", "--force")
    assert flushed.returncode == 0, flushed.stderr
    assert [m["state"] for m in status(config)[0]["messages"]] == ["sent", "sent"]
    assert sorted(a.rcpt_tos[0] for a in relay.accepted) == ["Corse@resah.fr", NOTICE_TO]


# -- item 5, relay part: addresses a relay may not take ------------------------------------------

ACCENTED = "élise.dupré@mairie-exemple.fr"
IDNA = "achats@mairie-évry.fr"
IDNA_ASCII = "achats@xn--mairie-vry-h7a.fr"
CASES = {  # recipient, SMTPUTF8 offered -> state, envelope recipient or words of the reason
    "accent-utf8-offered": (ACCENTED, True, "sent", ACCENTED),
    "accent-utf8-not-offered": (ACCENTED, False, "failed", "SMTPUTF8"),
    "idna-domain": (IDNA, False, "sent", IDNA_ASCII),
    "idna-domain-utf8-offered": (IDNA, True, "sent", IDNA_ASCII),
    "accent-and-idna-utf8-offered": ("élise@mairie-évry.fr", True, "sent", "élise@xn--mairie-vry-h7a.fr"),
}
BROKEN = {  # strings no envelope may carry, whatever the relay offers
    "crlf-injection": f"{NOTICE_TO}\r\nRCPT TO:<pirate@exemple.fr>",
    "lf-only": f"{NOTICE_TO}\nBcc: pirate@exemple.fr",
    "line-separator": f"{NOTICE_TO}\u2028pirate@exemple.fr",
    "nul": "achats\x00@test-sur-mer.example",
    "at-sign-alone": "@",
    "empty": "",
    "two-at-signs": "a@b@exemple.fr",
}


def relay_config(tmp_path, relay) -> Config:
    return Config(Workspace(tmp_path / "in", tmp_path / "out", tmp_path / "var"),
                  Relay("127.0.0.1", "Resah — dépôts <csac@resah.fr>", relay.port, "none", timeout=5),
                  retry=Retry(0.01, 0.02))  # fmt: skip


def queue_between(config: Config, to_header: str, recipients: list[str] | None) -> tuple[list[str], str]:
    """A good message, the one under test, another good one; the ids of the good ones and of the tested."""
    state = config.workspace.state
    [before] = queue_messages(state, 1, prefix="avant")
    msg = new_message(to_header, "Resah — accusé de réception", "Madame, Monsieur,\n", "teste", "notice",
                      "2024-03-01T10:00:00+01:00")  # fmt: skip
    if recipients is None:
        Courier(config).send(Outgoing("depositors", msg), "teste")  # the real path: the header's addresses
    else:
        MailQueue(state).enqueue(msg, "teste", "notice", recipients)  # any string in the recipients column
    [after] = queue_messages(state, 1, prefix="apres")
    return [before, after], msg["Message-ID"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_address_with_accents_or_an_idna_domain_goes_as_the_relay_allows(start_relay, tmp_path, case):
    address, utf8, state, expected = CASES[case]
    relay = start_relay(smtputf8=utf8)
    config = relay_config(tmp_path, relay)
    good, tested = queue_between(config, address, None)
    result = MailQueue(config.workspace.state).flush(config, force=True)
    rows = {r["message_id"]: r for r in MailQueue(config.workspace.state).all()}
    assert [rows[m]["state"] for m in good] == ["sent", "sent"] and set(good) <= set(result.sent)
    assert rows[tested]["state"] == state
    if state == "sent":
        [accepted] = [a for a in relay.accepted if a.message_id == tested]
        assert accepted.rcpt_tos == [expected] and ("SMTPUTF8" in accepted.options) == (
            not expected.isascii()
        )
        assert accepted.message["To"].addresses[0].domain.isascii()
    else:
        assert expected in rows[tested]["answer"] and tested not in relay.handler.ids()


@pytest.mark.parametrize("smtputf8", [True, False], ids=["utf8-offered", "utf8-not-offered"])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_recipient_no_envelope_may_carry_fails_alone_in_french(start_relay, tmp_path, case, smtputf8):
    relay = start_relay(smtputf8=smtputf8)
    config = relay_config(tmp_path, relay)
    good, tested = queue_between(config, NOTICE_TO, [BROKEN[case]])
    MailQueue(config.workspace.state).flush(config, force=True)
    rows = {r["message_id"]: r for r in MailQueue(config.workspace.state).all()}
    assert [rows[m]["state"] for m in good] == ["sent", "sent"]
    assert rows[tested]["state"] == "failed" and rows[tested]["answer"].startswith("adresse invalide")
    assert all(a.message_id != tested for a in relay.accepted)
    assert all("pirate@exemple.fr" not in a.rcpt_tos for a in relay.accepted)


def test_a_message_file_gone_from_the_queue_fails_alone(start_relay, tmp_path):
    relay = start_relay()
    config = relay_config(tmp_path, relay)
    good, tested = queue_between(config, NOTICE_TO, [NOTICE_TO])
    [path] = [r["path"] for r in MailQueue(config.workspace.state).all() if r["message_id"] == tested]
    Path(path).unlink()
    MailQueue(config.workspace.state).flush(config, force=True)
    rows = {r["message_id"]: r for r in MailQueue(config.workspace.state).all()}
    assert [rows[m]["state"] for m in good] == ["sent", "sent"] and rows[tested]["state"] == "failed"


@pytest.mark.slow
def test_csac_watch_goes_on_after_a_depositor_address_the_relay_cannot_take(start_relay, tmp_path, deposits):
    relay = start_relay(smtputf8=False)
    config = write_config(
        tmp_path, relay, inbox=tmp_path / "inbox", outbox=tmp_path / "out", state=tmp_path / "var"
    )
    watch = warm.Popen(
        csac(config, "watch", "--settle", "0.2", "--rescan", "0.5"), stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: (tmp_path / "inbox" / "processing").is_dir(), "watcher start")
        drop(tmp_path / "inbox", deposits[0], "accent.zip", email=ACCENTED)
        wait_for(lambda: [r["state"] for r in status(config)] == ["done"], "the first deposit done")
        drop(tmp_path / "inbox", deposits[1], "suivant.zip")
        wait_for(
            lambda: NOTICE_TO in [a.rcpt_tos[0] for a in relay.accepted], "the next deposit's notice sent"
        )
        assert watch.poll() is None
        assert all(m["state"] in ("sent", "failed") for r in status(config) for m in r["messages"])
    finally:
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=30)


def test_a_sender_the_relay_cannot_take_keeps_the_messages_queued_with_the_reason(start_relay, tmp_path):
    relay = start_relay()
    config = replace(
        relay_config(tmp_path, relay),
        relay=replace(relay_config(tmp_path, relay).relay, sender="csac sans arobase"),
    )
    queue_messages(config.workspace.state, 1)
    MailQueue(config.workspace.state).flush(config, force=True)
    [row] = MailQueue(config.workspace.state).all()
    assert row["state"] == "queued" and "smtp.sender" in row["answer"] and relay.accepted == []


def test_a_flush_that_cannot_even_open_the_queue_logs_in_french_and_returns(tmp_path, caplog):
    (tmp_path / "var").write_text("pas un dossier", encoding="utf-8")
    config = Config(
        Workspace(state=tmp_path / "var"), Relay("127.0.0.1", "csac@resah.fr", 9, "none", timeout=1)
    )
    Courier(config).flush()
    assert any("nouvel essai plus tard" in r.getMessage() for r in caplog.records)
