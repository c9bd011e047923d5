"""Each recipient gets its own answer (issue 8, item 13, the class of k_relay_rcpt).

A relay answers RCPT for each address: it may refuse one for good (5xx) and
accept the other, or put one off (4xx: too many recipients, mailbox busy).
The message goes to the recipients it accepted, as smtplib's sendmail does; a
recipient refused for good is dropped and named, in French, in the answer; a
recipient put off waits on the same row and goes in a later transaction, with
the same Message-ID. The row is `sent` once no recipient waits. Real aiosmtpd
relays on loopback answer per recipient (handle_RCPT).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pipeline.deliver import add_header, new_message
from pipeline.mailqueue import MailQueue
from tests import builders as b
from tests.relays import relay_starter, run, write_config
from tests.test_relay_answers import ENTITY, deposits, relay_config  # noqa: F401 (fixture)

TO = "achats@test-sur-mer.example"
CC = "Corse@resah.fr"
REFUSALS = ["550 5.2.2 Boîte pleine", "551 5.1.6 Utilisateur parti", "553 5.1.3 Adresse refusée",
            "554 5.7.1 Destinataire refusé"]  # fmt: skip
DEFERRALS = ["450 4.2.1 Boîte occupée", "451 4.3.0 Réessayez plus tard", "452 4.5.3 Trop de destinataires"]


@pytest.fixture
def start_relay():
    yield from relay_starter()


def queue_notice(config) -> str:
    """A notice to the depositor with the region in copy, queued as intake does: its Message-ID."""
    msg = new_message(TO, "Resah — dépôt incomplet", "Madame, Monsieur,\n", "avis", "notice",
                      "2024-03-01T10:00:00+01:00")  # fmt: skip
    add_header(msg, "Cc", CC)
    MailQueue(config.workspace.state).enqueue(msg, "avis", "depositors", [TO, CC])
    return msg["Message-ID"]


def row(config, mid: str) -> dict:
    [found] = [r for r in MailQueue(config.workspace.state).all() if r["message_id"] == mid]
    return found


def flush(config):
    return MailQueue(config.workspace.state).flush(config, force=True)


@pytest.mark.parametrize("refused", [TO, CC], ids=["to-refused", "cc-refused"])
@pytest.mark.parametrize("answer", REFUSALS)
def test_a_recipient_refused_for_good_is_dropped_and_the_others_get_the_message(
    start_relay, tmp_path, refused, answer
):
    relay = start_relay(rcpt_answers={refused: answer})
    config = relay_config(tmp_path, relay)
    mid = queue_notice(config)
    flush(config)
    [accepted] = relay.accepted
    kept = TO if refused == CC else CC
    assert accepted.message_id == mid and accepted.rcpt_tos == [kept]
    sent = row(config, mid)
    assert sent["state"] == "sent"
    assert f"refusé définitivement pour {refused} : {answer}" in sent["answer"]
    assert f"accepté pour {kept} : 250" in sent["answer"]


@pytest.mark.parametrize("answer", DEFERRALS)
def test_a_recipient_put_off_is_sent_later_on_the_same_row_with_the_same_message_id(
    start_relay, tmp_path, answer
):
    relay = start_relay(rcpt_answers={CC: answer})
    config = relay_config(tmp_path, relay)
    mid = queue_notice(config)
    flush(config)
    waiting = row(config, mid)
    assert waiting["state"] == "queued" and f"en attente pour {CC} : {answer}" in waiting["answer"]
    relay.behaviour.rcpt_answers = {}
    flush(config)
    assert row(config, mid)["state"] == "sent"
    assert [(a.message_id, a.rcpt_tos) for a in relay.accepted] == [(mid, [TO]), (mid, [CC])]


def test_a_relay_that_takes_one_recipient_per_transaction_gets_each_once(start_relay, tmp_path):
    relay = start_relay(rcpt_limit=1)
    config = relay_config(tmp_path, relay)
    mid = queue_notice(config)
    flush(config)
    flush(config)
    assert row(config, mid)["state"] == "sent"
    assert Counter(r for a in relay.accepted for r in a.rcpt_tos) == {TO: 1, CC: 1}
    flush(config)  # nothing is left to send: nothing goes again
    assert len(relay.accepted) == 2


def test_one_recipient_refused_and_one_put_off_ends_sent_to_the_one_accepted_later(start_relay, tmp_path):
    relay = start_relay(rcpt_answers={TO: REFUSALS[0], CC: DEFERRALS[2]})
    config = relay_config(tmp_path, relay)
    mid = queue_notice(config)
    flush(config)
    assert row(config, mid)["state"] == "queued" and relay.accepted == []
    relay.behaviour.rcpt_answers = {
        TO: "250 2.1.5 Ok, mais trop tard"
    }  # a refusal for good is never asked again
    flush(config)
    done = row(config, mid)
    assert done["state"] == "sent" and [a.rcpt_tos for a in relay.accepted] == [[CC]]
    assert f"refusé définitivement pour {TO} : {REFUSALS[0]}" in done["answer"]


@pytest.mark.parametrize("answer", REFUSALS[:2])
def test_every_recipient_refused_for_good_fails_the_message_with_the_answer(start_relay, tmp_path, answer):
    relay = start_relay(rcpt_answers={TO: answer, CC: answer})
    config = relay_config(tmp_path, relay)
    mid = queue_notice(config)
    flush(config)
    failed = row(config, mid)
    assert failed["state"] == "failed" and failed["answer"] == answer and relay.accepted == []


@pytest.mark.slow  # a real csac process
def test_csac_status_names_the_recipient_the_relay_refused(start_relay, tmp_path, deposits):  # noqa: F811
    """The attacker's case, end to end: an incomplete deposit's message to its region, whose RCPT is refused
    (the depositor's notice no longer copies the region: the region's own message carries it)."""
    relay = start_relay(rcpt_answers={CC: REFUSALS[0]})
    config = write_config(tmp_path, relay, outbox=tmp_path / "out", state=tmp_path / "var")
    (tmp_path / "d.json").write_text(json.dumps(b.form(ENTITY, numero_marche="2099-999")), encoding="utf-8")
    (tmp_path / "d.zip").write_bytes(deposits[0])
    done = run(config, "intake", str(tmp_path / "d.zip"), "--json")
    assert done.returncode == 0, done.stderr
    [deposit] = json.loads(run(config, "status", "--json").stdout)
    region = next(m for m in deposit["messages"] if m["kind"] == CC)
    assert region["state"] == "failed" and region["refused"] == [CC]
    assert [a.rcpt_tos for a in relay.accepted] == [[TO]]
    assert f"courriel à {CC} : refusé par le relais — {REFUSALS[0]}" in run(config, "status").stdout
