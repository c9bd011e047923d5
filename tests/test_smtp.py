"""Delivery through a real SMTP server (aiosmtpd on loopback): what it actually receives."""

import email
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from decimal import Decimal
from email import policy

import pytest
from aiosmtpd.controller import Controller

from pipeline.config import Config, Relay, Retry
from pipeline.intake import IntakeContext, take_in
from pipeline.mailqueue import MailQueue
from tests import builders as b
from tests import warm


class Recorder:
    """An SMTP server's handler: keeps what it accepted; can refuse or kill the sender."""

    def __init__(self):
        self.received: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = 0  # answer 451 to the next N messages
        self.reject = False  # answer 550 to every message
        self.kill_pid = None  # kill this process once the message is in, before answering
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.reject:
                return "550 5.1.1 Boîte inconnue"
            if self.refuse:
                self.refuse -= 1
                return "451 4.3.0 Réessayez plus tard"
            self.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            if self.kill_pid:
                os.kill(self.kill_pid, signal.SIGKILL)
                self.kill_pid = None
        return "250 2.0.0 Ok: queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    recorder.controller = controller
    yield recorder
    recorder.controller.stop()


def relay_config(workspace, port, redirect=None) -> Config:
    relay = Relay("127.0.0.1", "Resah — dépôts <csac@resah.fr>", port, "none", timeout=5)
    return Config(workspace, relay, redirect, retry=Retry(first_seconds=0.01, max_seconds=0.02))


@pytest.fixture
def entity():
    return b.Entity(postal_code="20000", city="AJACCIO")


@pytest.fixture
def deposit(renderer, resources, entity):
    def _build(amount=Decimal("1000")):
        docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
        return b.zip_of([("Convention.pdf", b.convention_pdf(docs["convention"])), ("Annexe.xlsx", docs["annex"]),
                         ("EJ.pdf", b.order_pdf(entity, amount))])  # fmt: skip

    return _build


def ctx_for(resources, workspace, config):
    return IntakeContext.build(resources, workspace, config=config)


def test_a_routed_deposit_arrives_once_at_its_region_with_the_zip_intact(
    smtp, resources, workspace, drop, deposit, entity
):
    data = deposit()
    ctx = ctx_for(resources, workspace, relay_config(workspace, smtp.controller.port))
    report = take_in(drop(data, form=b.form(entity)), ctx)
    to_region = [m for m in smtp.received if m["To"] == "Corse@resah.fr"]
    assert len(to_region) == 1
    msg = to_region[0]
    assert msg["Message-ID"] == f"<{report.deposit_id}.region@csac.resah.fr>"
    assert (
        msg["Subject"].endswith(f"— complet — dépôt n° {report.deposit_id}")
        and "Verdict : COMPLET" in msg.get_body(("plain",)).get_content()
    )
    [attachment] = list(msg.iter_attachments())
    assert hashlib.sha256(attachment.get_content()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert ("csac@resah.fr", ["Corse@resah.fr"]) in smtp.envelopes
    [notice] = [m for m in smtp.received if m["To"] == "achats@test-sur-mer.example"]
    assert notice["Subject"] == (
        f"Convention 2021-045 lot 2 — {entity.name} — dossier complet (n° {report.deposit_id})"
    )
    assert [r["state"] for r in MailQueue(workspace.state).all()] == ["sent", "sent"]


def test_an_incomplete_deposits_notice_lists_what_to_send_and_goes_to_the_depositor_alone(
    smtp, resources, workspace, drop, deposit, entity
):
    ctx = ctx_for(resources, workspace, relay_config(workspace, smtp.controller.port))
    take_in(drop(deposit(Decimal("10")), form=b.form(entity)), ctx)
    [notice] = [m for m in smtp.received if m["To"] == "achats@test-sur-mer.example"]
    assert (
        notice["Cc"] is None
        and "merci de nous envoyer uniquement" in notice.get_body(("plain",)).get_content()
    )
    assert [rcpts for _, rcpts in smtp.envelopes if "achats@test-sur-mer.example" in rcpts] == [
        ["achats@test-sur-mer.example"]
    ]


def test_a_refusal_then_acceptance_is_retried(smtp, resources, workspace, drop, deposit):
    smtp.refuse = 1
    config = relay_config(workspace, smtp.controller.port)
    take_in(drop(deposit()), ctx_for(resources, workspace, config))
    queue = MailQueue(workspace.state)
    [row] = queue.all()
    assert row["state"] == "queued" and row["answer"].startswith("451") and smtp.received == []
    result = queue.flush(config, force=True)
    assert len(result.sent) == 1 and len(smtp.received) == 1
    assert queue.all()[0]["answer"].startswith("250")


def test_a_relay_outage_then_recovery_loses_nothing(smtp, resources, workspace, drop, deposit):
    port = smtp.controller.port
    smtp.controller.stop()
    config = relay_config(workspace, port)
    take_in(drop(deposit(), "a.zip"), ctx_for(resources, workspace, config))
    take_in(drop(deposit(Decimal("20")), "b.zip"), ctx_for(resources, workspace, config))
    queue = MailQueue(workspace.state)
    assert [r["state"] for r in queue.all()] == ["queued", "queued"] and "injoignable" in queue.all()[0][
        "answer"
    ]
    smtp.controller = Controller(smtp, hostname="127.0.0.1", port=port)  # the relay is back
    smtp.controller.start()
    queue.flush(config, force=True)
    assert sorted(m["Message-ID"] for m in smtp.received) == sorted(r["message_id"] for r in queue.all())
    assert [r["state"] for r in queue.all()] == ["sent", "sent"]


@pytest.mark.slow  # a real csac process
def test_a_permanent_refusal_is_failed_and_shown_by_status(
    smtp, resources, workspace, drop, deposit, tmp_path
):
    smtp.reject = True
    take_in(drop(deposit()), ctx_for(resources, workspace, relay_config(workspace, smtp.controller.port)))
    done = warm.run(
        [sys.executable, "-m", "pipeline", "status", "--json", "--state", str(workspace.state)],
        capture_output=True,
        text=True,
    )
    [row] = json.loads(done.stdout)
    assert [(m["state"], m["answer"][:3]) for m in row["messages"]] == [("failed", "550")]


def test_a_rehearsal_redirect_sends_everything_to_one_address(
    smtp, resources, workspace, drop, deposit, entity
):
    config = relay_config(workspace, smtp.controller.port, redirect="repetition@resah.fr")
    take_in(drop(deposit(), form=b.form(entity)), ctx_for(resources, workspace, config))
    assert {tuple(rcpts) for _, rcpts in smtp.envelopes} == {("repetition@resah.fr",)} and len(
        smtp.received
    ) == 2


@pytest.mark.slow
def test_a_sender_killed_after_the_relay_took_the_message_resends_it_with_the_same_id(
    smtp, resources, workspace, drop, deposit, tmp_path
):
    smtp.refuse = 1  # queue it first, unsent
    config = relay_config(workspace, smtp.controller.port)
    take_in(drop(deposit()), ctx_for(resources, workspace, config))
    (tmp_path / "csac.yaml").write_text(
        f"paths: {{state: {workspace.state}}}\nsmtp: {{host: 127.0.0.1, port: {smtp.controller.port}, security: none, sender: csac@resah.fr}}\n",
        encoding="utf-8",
    )
    flush = [
        sys.executable,
        "-m",
        "pipeline",
        "--config",
        str(tmp_path / "csac.yaml"),
        "outbox",
        "flush",
        "--force",
    ]
    sender = warm.Popen(flush, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    smtp.kill_pid = sender.pid  # the relay has the message; the sender dies before recording it
    sender.communicate(timeout=60)
    assert sender.returncode == -signal.SIGKILL
    queue = MailQueue(workspace.state)
    assert queue.all()[0]["state"] == "sending" and len(smtp.received) == 1
    again = warm.run(flush, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    ids = [m["Message-ID"] for m in smtp.received]
    assert len(ids) == 2 and len(set(ids)) == 1  # the same Message-ID: the mailbox keeps one
    assert queue.all()[0]["state"] == "sent"


@pytest.mark.slow  # a real csac process
def test_config_check_connects_to_the_relay(smtp, tmp_path):
    (tmp_path / "csac.yaml").write_text(
        f"smtp: {{host: 127.0.0.1, port: {smtp.controller.port}, security: none, sender: csac@resah.fr}}\n",
        encoding="utf-8",
    )
    done = warm.run([sys.executable, "-m", "pipeline", "--config", str(tmp_path / "csac.yaml"), "config", "check", "--connect"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and "127.0.0.1" in done.stdout and "250" in done.stdout


def test_the_password_never_comes_from_the_file(tmp_path, resources):
    from pipeline.config import load_config
    from pipeline.errors import ConfigError

    (tmp_path / "c.yaml").write_text("smtp: {host: h, sender: s@x.fr, password: secret}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="smtp"):
        load_config(tmp_path / "c.yaml", resources, {})
    (tmp_path / "c.yaml").write_text("smtp: {host: h, sender: s@x.fr, username: u}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="CSAC_SMTP_PASSWORD"):
        load_config(tmp_path / "c.yaml", resources, {})
    config = load_config(
        tmp_path / "c.yaml", resources, {"CSAC_SMTP_PASSWORD": "from-env", "CSAC_SMTP_PORT": "2525"}
    )
    assert config.relay.password == "from-env" and config.relay.port == 2525


@pytest.mark.slow  # 17 deposits, one per region
def test_every_region_gets_exactly_its_own_deposits(smtp, renderer, resources, workspace, drop):
    config = relay_config(workspace, smtp.controller.port)
    ctx = ctx_for(resources, workspace, config)
    places = [("97133", "GUSTAVIA", "Collectivitesdoutre-mer@resah.fr"), ("20200", "BASTIA", "Corse@resah.fr"),
              ("97400", "SAINT-DENIS", "LaReunion-Mayotte@resah.fr"), ("62000", "ARRAS", "Hauts-de-France@resah.fr")]  # fmt: skip
    sent = {}
    for i, (code, city, mailbox) in enumerate(places):
        entity = b.Entity(siret=b.make_siret(900 + i), postal_code=code, city=city)
        docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
        data = b.zip_of([("c.pdf", b.convention_pdf(docs["convention"])), ("a.xlsx", docs["annex"]),
                         ("o.pdf", b.order_pdf(entity, Decimal("1000")))])  # fmt: skip
        take_in(drop(data, f"d{i}.zip"), ctx)
        sent[mailbox] = hashlib.sha256(data).hexdigest()
    received = {}
    for m in smtp.received:
        [attachment] = list(m.iter_attachments())
        received.setdefault(m["To"], []).append(hashlib.sha256(attachment.get_content()).hexdigest())
    assert received == {mailbox: [digest] for mailbox, digest in sent.items()}


def test_the_configured_triage_and_quarantine_mailboxes(smtp, resources, workspace, drop):
    from dataclasses import replace

    config = replace(
        relay_config(workspace, smtp.controller.port), triage="tri@resah.fr", quarantine="securite@resah.fr"
    )
    ctx = ctx_for(resources, workspace, config)
    take_in(drop(b.zip_of([("note.txt", b"rien")]), "vide.zip"), ctx)
    take_in(drop(b.raw_zip([b.Raw(b"../evil.pdf", b"x")]), "evil.zip"), ctx)
    assert sorted(m["To"] for m in smtp.received) == ["securite@resah.fr", "tri@resah.fr"]
    [alert] = [m for m in smtp.received if m["To"] == "securite@resah.fr"]
    assert alert["X-CSAC-Problems"] == "archive_unsafe" and not list(alert.iter_attachments())


@pytest.mark.slow  # a real csac process
def test_a_digest_for_a_region_is_written_and_sent(
    smtp, resources, workspace, drop, deposit, entity, tmp_path
):
    ctx = ctx_for(resources, workspace, relay_config(workspace, smtp.controller.port))
    take_in(drop(deposit(), "a.zip", form=b.form(entity)), ctx)
    take_in(drop(deposit(Decimal("10")), "b.zip"), ctx)
    smtp.received.clear()
    (tmp_path / "csac.yaml").write_text(
        f"paths: {{state: {workspace.state}}}\nsmtp: {{host: 127.0.0.1, port: {smtp.controller.port}, security: none, sender: csac@resah.fr}}\n",
        encoding="utf-8",
    )
    done = warm.run([sys.executable, "-m", "pipeline", "--config", str(tmp_path / "csac.yaml"), "digest", "--region", "Corse",
                           "--since", "2020-01-01", "--out", str(tmp_path / "dg"), "--send"], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    [msg] = smtp.received
    assert msg["To"] == "Corse@resah.fr" and msg["Subject"].startswith("[CSAC] Synthèse des dépôts — Corse")
    plain = msg.get_body(("plain",)).get_content()
    # the same signatory's lot twice, the second with a wrong order: one dossier, counted once
    assert "Dépôts reçus : 2 ; dossiers concernés : 1 (complets : 0, incomplets : 1," in plain
    assert "Contributions dues : 1\u00a0000,00\u00a0€ ; montants des bons de commande : 10,00\u00a0€" in plain
    assert "en attente du déposant (montant du bon de commande erroné)" in plain
    assert "<table>" in msg.get_body(("html",)).get_content()
    assert (tmp_path / "dg" / "digest-corse-2020-01-01.html").exists()


def test_the_example_configuration_is_valid(resources):
    from pathlib import Path

    from pipeline.config import load_config

    config = load_config(
        Path(__file__).parent.parent / "examples" / "csac.yaml", resources, {"CSAC_SMTP_PASSWORD": "x"}
    )
    assert config.relay.security == "starttls" and config.quarantine == "securite@resah.fr"
    assert config.retry.delay(1) == 60 and config.retry.delay(10) == 3600


@pytest.mark.slow
def test_csac_watch_routes_by_mail_through_the_relay(smtp, deposit, entity, tmp_path):
    from tests.test_watch import wait_for

    (tmp_path / "csac.yaml").write_text(
        f"paths: {{inbox: {tmp_path}/inbox, outbox: {tmp_path}/outbox, state: {tmp_path}/var}}\n"
        f"smtp: {{host: 127.0.0.1, port: {smtp.controller.port}, security: none, sender: csac@resah.fr}}\n",
        encoding="utf-8",
    )
    watch = warm.Popen([sys.executable, "-m", "pipeline", "--config", str(tmp_path / "csac.yaml"), "watch", "--settle", "0.2"],
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for(lambda: (tmp_path / "inbox" / "processing").is_dir(), "watcher start")
        (tmp_path / "inbox" / "d.json").write_text(json.dumps(b.form(entity)), encoding="utf-8")
        (tmp_path / "inbox" / "d.zip").write_bytes(deposit())
        wait_for(lambda: len(smtp.received) == 2, "the region's message and the notice")
    finally:
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=30)
    assert sorted(m["To"] for m in smtp.received) == ["Corse@resah.fr", "achats@test-sur-mer.example"]
    assert not (tmp_path / "outbox" / "Corse@resah.fr").exists()  # by mail, not into a Maildir
    table = warm.run([sys.executable, "-m", "pipeline", "--config", str(tmp_path / "csac.yaml"), "status"],
                           capture_output=True, text=True, env=os.environ | {"COLUMNS": "250"}).stdout  # fmt: skip
    assert "Courriels par le relais SMTP — accepté par le relais : 2" in table
