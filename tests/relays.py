"""Real SMTP relays on loopback (aiosmtpd) that misbehave the ways real ones do.

A relay can be slow to answer DATA or RCPT, answer each recipient its own way
(refused for good, put off, too many in one transaction), answer QUIT with an
error, drop the line right after accepting a message, or not offer SMTPUTF8.
Whatever it accepted is kept, with its envelope, to be compared with what
csac recorded. A silent relay accepts connections and never says a word.
"""

from __future__ import annotations

import asyncio
import email
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from pipeline.deliver import new_message
from pipeline.mailqueue import MailQueue
from tests import warm
from tests.test_smtp import free_port


@dataclass
class Behaviour:
    delay: float = 0.0  # seconds before answering DATA
    quit_answer: str | None = None  # e.g. "500 5.0.0 Non"
    drop_after_data: bool = False  # close the connection right after accepting a message
    smtputf8: bool = True  # offer SMTPUTF8 in the EHLO answer
    rcpt_delay: float = 0.0  # seconds before answering each RCPT
    rcpt_answers: dict[str, str] = field(default_factory=dict)  # address -> answer to its RCPT, e.g. "550 …"
    rcpt_limit: int | None = None  # "452 too many recipients" past this many in one transaction


@dataclass
class Accepted:
    message_id: str
    mail_from: str
    rcpt_tos: list[str]
    options: list[str]
    message: email.message.EmailMessage


@dataclass
class Handler:
    behaviour: Behaviour
    accepted: list[Accepted] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        if self.behaviour.delay:
            await asyncio.sleep(self.behaviour.delay)
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.accepted.append(Accepted(msg["Message-ID"], envelope.mail_from, list(envelope.rcpt_tos),
                                          list(envelope.mail_options), msg))  # fmt: skip
        return "250 2.0.0 Ok: queued"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.behaviour.rcpt_delay:
            await asyncio.sleep(self.behaviour.rcpt_delay)
        answer = self.behaviour.rcpt_answers.get(address)
        if answer:
            return answer
        if self.behaviour.rcpt_limit is not None and len(envelope.rcpt_tos) >= self.behaviour.rcpt_limit:
            return "452 4.5.3 Trop de destinataires pour ce message"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_QUIT(self, server, session, envelope):
        return self.behaviour.quit_answer or "221 2.0.0 Bye"

    def ids(self) -> Counter:
        with self.lock:
            return Counter(a.message_id for a in self.accepted)


class _Dropping(SMTP):
    async def smtp_DATA(self, arg):
        await super().smtp_DATA(arg)
        if self.transport is not None:
            self.transport.close()  # the message is accepted; then the line goes dead


class _Controller(Controller):
    def factory(self):
        kind = _Dropping if self.handler.behaviour.drop_after_data else SMTP
        return kind(self.handler, **self.SMTP_kwargs)


class LoopbackRelay:
    """An aiosmtpd server on 127.0.0.1 with one behaviour, changeable while it runs."""

    def __init__(self, behaviour: Behaviour):
        self.handler = Handler(behaviour)
        self.port = free_port()
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      enable_SMTPUTF8=behaviour.smtputf8)  # fmt: skip
        self.controller.start()

    @property
    def behaviour(self) -> Behaviour:
        return self.handler.behaviour

    @property
    def accepted(self) -> list[Accepted]:
        return self.handler.accepted

    def stop(self) -> None:
        self.controller.stop()


class SilentRelay:
    """A listener that accepts connections and never answers: a relay hung before its greeting."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def stop(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


def write_config(folder: Path, relay, timeout: float = 5, extra: str = "", **paths: Path) -> Path:
    """csac.yaml for the CLI: this relay, these folders, a short backoff (and `extra` YAML lines)."""
    where = ", ".join(f"{k}: {v}" for k, v in paths.items())
    path = folder / "csac.yaml"
    path.write_text(
        f"paths: {{{where}}}\n"
        f"smtp: {{host: 127.0.0.1, port: {relay.port}, security: none, sender: csac@resah.fr, timeout: {timeout}}}\n"
        "retry: {first_seconds: 0.01, max_seconds: 0.02}\n" + extra,
        encoding="utf-8",
    )
    return path


def csac(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "--config", str(config), *args]


def run(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real `csac` with this configuration; a terminal wide enough for status's table."""
    env = os.environ | {"COLUMNS": "1000"}
    return warm.run(csac(config, *args), capture_output=True, text=True, timeout=timeout, env=env)


def queue_messages(state: Path, count: int, to: str = "Corse@resah.fr", prefix: str = "m") -> list[str]:
    """Queue `count` real messages, as an intake would; their Message-IDs."""
    queue, ids = MailQueue(state), []
    for i in range(count):
        msg = new_message(to, f"[CSAC] Dépôt n° {i}", "Bonjour,\n\nUn dépôt.\n", f"{prefix}-{i:03d}", "region",
                          "2024-03-01T10:00:00+01:00")  # fmt: skip
        queue.enqueue(msg, f"{prefix}-{i:03d}", "region", [to])
        ids.append(msg["Message-ID"])
    return ids


def relay_starter():
    """For a fixture: start loopback relays with a behaviour; all are stopped after the test."""
    started: list[LoopbackRelay] = []

    def _start(**behaviour) -> LoopbackRelay:
        started.append(LoopbackRelay(Behaviour(**behaviour)))
        return started[-1]

    yield _start
    for relay in started:
        relay.stop()
