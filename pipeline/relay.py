"""Talking to the SMTP relay: the envelope of one message, one connection, what each answer means.

An address is checked before the relay is asked (email-validator): one
address, no control character. A domain in Unicode goes as IDNA (ASCII); a
local part in Unicode needs SMTPUTF8, used only when the relay offers it.
Every failure is judged for one message only: final (`failed`, with a French
reason or the relay's own answer) or temporary (`queued`, tried again). Once
the relay has answered 250 to DATA the message is delivered, whatever the
end of the session looks like.

Each recipient gets its own answer, as with smtplib's sendmail: the message
goes to those the relay accepted; one it refused for good (5xx) is dropped
with that answer; one it put off (4xx) waits for a later transaction. A
session may have a deadline (a one-shot intake must return) and may be
aborted from another thread (Ctrl-C under `csac watch`).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import smtplib
import socket
import ssl
import time
import unicodedata
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from email_validator import EmailNotValidError, validate_email

from .config import Relay
from .reading import system_error
from .store import MessageState

log = logging.getLogger("csac.mail")
ADDRESS_HEADERS = ("From", "To", "Cc", "Reply-To")
INVISIBLE = ("Cc", "Cf", "Zl", "Zp")  # control and format characters, line and paragraph separators
STOPPED = "envoi interrompu par l'arrêt de csac ; le message reste en file et partira au prochain démarrage"
LABELS = {
    MessageState.SENT: "accepté pour",
    MessageState.FAILED: "refusé définitivement pour",
    MessageState.QUEUED: "en attente pour",
}


class Refused(Exception):
    """The message can never go as it is: its reason, in French."""


class Unreachable(Exception):
    """No connection to the relay in this flush: the reason, in French."""


class Misconfigured(Exception):
    """csac's own settings stop the message: it waits, queued, until they are fixed."""


@dataclass(frozen=True)
class Outcome:
    state: MessageState  # sent, queued (tried again later) or failed (final)
    answer: str


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]  # as the relay must see them (IDNA domains)
    utf8: bool  # needs SMTPUTF8: a local part or a header in Unicode
    eight_bit: bool  # a body part in 8-bit: BODY=8BITMIME when the relay offers it
    named: tuple[str, ...] = ()  # the same recipients as the queue names them, in the same order
    refused: tuple[tuple[str, str], ...] = ()  # addresses that can never go, with the reason


def shown(text: str, limit: int = 80) -> str:
    """An address as a person can read it in a log or a status: controls made visible, length capped."""
    visible = repr(text)[1:-1]
    return visible if len(visible) <= limit else visible[: limit - 1] + "…"


def checked(text: str) -> tuple[str, bool]:
    """The address as the relay must see it (IDNA domain), and whether its local part needs SMTPUTF8."""
    found = None
    if not any(unicodedata.category(c) in INVISIBLE for c in text):
        addr_spec = _one_address(text)
        found = _valid(addr_spec) if addr_spec else None
    if found is None:
        raise Refused(
            f"adresse invalide « {shown(text)} » : une seule adresse de la forme nom@domaine est attendue, sans caractère de contrôle"
        )
    return f"{found.local_part}@{found.ascii_domain}", not found.local_part.isascii()


def _one_address(text: str) -> str | None:
    """The one address in `text` ("nom@domaine" or "Nom <nom@domaine>"), or None."""
    try:
        parsed = policy.SMTP.header_factory("To", text).addresses
    except Exception:  # the header parser has raised on hostile input before: any failure means "no address"
        return None
    return parsed[0].addr_spec if len(parsed) == 1 else None


def _valid(addr_spec: str):
    try:
        return validate_email(addr_spec, check_deliverability=False, globally_deliverable=False,
                              test_environment=True, allow_quoted_local=True)  # fmt: skip
    except (EmailNotValidError, ValueError):  # IDNA errors are ValueErrors too
        return None


def envelope(sender: str, recipients: list[str], raw: bytes) -> Envelope:
    """MAIL FROM and RCPT TO for one message. An address that cannot go is refused alone;
    Refused when none can."""
    try:
        sender_address, sender_utf8 = checked(sender)
    except Refused as exc:  # the configuration's fault, not the message's: it waits for the fix
        raise Misconfigured(f"expéditeur de la configuration (smtp.sender) : {exc}") from exc
    good, refused = [], []
    for recipient in recipients:
        try:
            good.append((recipient, *checked(recipient)))
        except Refused as exc:
            refused.append((recipient, str(exc)))
    if not good:
        raise Refused(" ; ".join(reason for _, reason in refused) or "aucun destinataire")
    head, _, body = raw.partition(b"\r\n\r\n")
    utf8 = sender_utf8 or any(u for _, _, u in good) or not head.isascii()
    return Envelope(sender_address, tuple(a for _, a, _ in good), utf8, not body.isascii(),
                    tuple(n for n, _, _ in good), tuple(refused))  # fmt: skip


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as the relay gets it: ASCII headers when the addresses allow (IDNA domains),
    UTF-8 headers (for SMTPUTF8) only when a local part is in Unicode."""
    if all(a.addr_spec.isascii() for a in _addresses(message)):
        return message.as_bytes(policy=policy.SMTP)
    rewritten = copy.deepcopy(message)  # the caller's message is left as it was
    for header in ADDRESS_HEADERS:
        if rewritten[header]:
            rewritten.replace_header(header, [_idna(a) for a in rewritten[header].addresses])
    ascii_only = all(a.username.isascii() for a in _addresses(rewritten))
    return rewritten.as_bytes(policy=policy.SMTP if ascii_only else policy.SMTPUTF8)


def _addresses(message) -> list[Address]:
    return [a for h in ADDRESS_HEADERS if message[h] for a in message[h].addresses]


def _idna(address: Address) -> Address:
    found = _valid(address.addr_spec)
    domain = found.ascii_domain if found else address.domain
    return Address(address.display_name, address.username, domain)


def connect(relay: Relay, timeout: float | None = None) -> smtplib.SMTP:
    """A connection, greeted (and logged in): each wait on the relay lasts `timeout` at most."""
    timeout = relay.timeout if timeout is None else timeout
    context = ssl.create_default_context()
    if relay.security == "tls":
        smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
        if relay.security == "starttls":
            smtp.starttls(context=context)
    if relay.username:
        smtp.login(relay.username, relay.password or "")
    smtp.ehlo_or_helo_if_needed()
    return smtp


class Session:
    """One connection to the relay for a flush: opened on first need, reopened after a failure.

    With a deadline, no wait on the relay lasts beyond it; `abort` (from another
    thread) cuts the connection in use, and no other is opened (a connection
    being opened ends within the timeout).
    """

    def __init__(self, relay: Relay, deadline: float | None = None):
        self.relay = relay
        self.deadline = deadline  # time.monotonic() by which the session must be done
        self.smtp: smtplib.SMTP | None = None
        self.reused = False  # the connection has carried a message already
        self.unreachable: str | None = None
        self.aborted = False
        self.waited = relay.timeout  # the wait last allowed for an answer, to say it if it runs out

    @property
    def timeout(self) -> float:
        """How long the next answer may take: the relay's timeout, or what is left before the deadline."""
        if self.deadline is None:
            return self.relay.timeout
        return max(0.1, min(self.relay.timeout, self.deadline - time.monotonic()))

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def open(self) -> smtplib.SMTP:
        if self.smtp is None:
            if self.aborted:
                raise Unreachable(STOPPED)
            if self.unreachable:
                raise Unreachable(self.unreachable)
            self.waited = self.timeout
            try:
                self.smtp, self.reused = connect(self.relay, self.waited), False
            except Exception as exc:
                why = self.why(exc)
                self.unreachable = why if self.aborted else f"relais injoignable : {why}"
                raise Unreachable(self.unreachable) from exc
            if self.aborted:  # stopped while connecting
                self.drop()
                raise Unreachable(STOPPED)
        self.pace()
        return self.smtp

    def pace(self) -> None:
        """The next answer is awaited no longer than `timeout`."""
        sock = getattr(self.smtp, "sock", None)
        if sock is not None:
            self.waited = self.timeout
            sock.settimeout(self.waited)

    def abort(self) -> None:
        """From another thread: cut the connection in use; the message in hand stays queued."""
        self.aborted = True
        sock = getattr(self.smtp, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # closed meanwhile
                sock.shutdown(socket.SHUT_RDWR)

    def why(self, exc: BaseException) -> str:
        """A failure of this session, in French: an abort is said as such, not as the relay's fault."""
        return STOPPED if self.aborted else describe(exc, self.relay, self.waited)

    def reset(self) -> None:
        """Forget a refused transaction before the next message."""
        if self.smtp is None:
            return
        try:
            self.smtp.rset()
        except Exception:  # a connection that cannot even reset is not used again
            self.drop()

    def drop(self) -> None:
        """A connection in an unknown state is never reused: its next answer could be an old one."""
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    def close(self) -> None:
        """QUIT; what the relay says then changes nothing about what it accepted before."""
        if self.smtp is None or self.aborted:  # cut on purpose: nothing to say to the relay
            self.drop()
            return
        try:
            code, resp = self.smtp.quit()
            if code != 221:
                log.warning(
                    "le relais a répondu « %s » à la fin de la session : les messages acceptés restent envoyés",
                    _text(code, resp),
                )
        except Exception as exc:
            log.warning(
                "fin de session avec le relais incorrecte (%s) : les messages acceptés restent envoyés",
                self.why(exc),
            )
        finally:
            self.drop()


def send(session: Session, env: Envelope, raw: bytes) -> dict[str, Outcome]:
    """MAIL, RCPT for each recipient, DATA to those accepted: each recipient's outcome, by address.

    The relay's 250 to DATA is its acceptance for every recipient it accepted.
    A 421 (the relay closes) or a failed connection concerns the whole message
    and is raised, to be judged. A connection that carried a message and was
    closed by the relay since is opened again once: nothing of this message
    had reached it.
    """
    smtp = _begin(session, env)
    answers = {}
    for rcpt in env.recipients:
        session.pace()
        code, resp = smtp.rcpt(rcpt)
        if code == 421:
            raise smtplib.SMTPResponseException(code, resp)
        answers[rcpt] = _answer(code, resp)
    accepted = [r for r, a in answers.items() if a.state == MessageState.SENT]
    if not accepted:
        session.reset()
        return answers
    session.pace()
    try:
        code, resp = smtp.data(raw)
    except smtplib.SMTPDataError as exc:  # DATA itself refused
        code, resp = exc.smtp_code, exc.smtp_error
    if code == 421:
        raise smtplib.SMTPResponseException(code, resp)
    taken = _answer(code, resp)
    if taken.state == MessageState.SENT:
        session.reused = True
    else:
        session.reset()
    return answers | dict.fromkeys(accepted, taken)


def _answer(code: int, resp) -> Outcome:
    """One recipient's answer: 2xx taken, 5xx refused for good, anything else tried again later."""
    state = MessageState.SENT if 200 <= code < 300 else _refused_or_queued(code)
    return Outcome(state, _text(code, resp))


def _refused_or_queued(code: int) -> MessageState:
    """A 5xx answer is final; anything else is tried again later."""
    return MessageState.FAILED if 500 <= code < 600 else MessageState.QUEUED


def _begin(session: Session, env: Envelope) -> smtplib.SMTP:
    """The connection, with MAIL FROM accepted."""
    while True:
        smtp = session.open()
        if env.utf8 and not smtp.has_extn("smtputf8"):
            raise Refused(
                "l'adresse ou l'en-tête contient des caractères non ASCII avant le @ et le relais ne propose pas SMTPUTF8 : "
                "le message ne peut pas être acheminé, corrigez l'adresse"
            )
        try:
            code, resp = smtp.mail(env.sender, _options(smtp, env))
        except smtplib.SMTPServerDisconnected:
            if not session.reused:
                raise
            session.drop()
            continue
        break
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, resp, env.sender)
    return smtp


def _options(smtp: smtplib.SMTP, env: Envelope) -> list[str]:
    options = ["SMTPUTF8"] if env.utf8 else []
    if (env.utf8 or env.eight_bit) and smtp.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    return options


def judge(exc: Exception, session: Session) -> Outcome:
    """What a failure means for this one message, and for the connection."""
    if isinstance(exc, Refused):
        return Outcome(MessageState.FAILED, str(exc))
    if isinstance(exc, Unreachable | Misconfigured):
        return Outcome(MessageState.QUEUED, str(exc))
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code == 421:  # the relay is closing this connection
            session.drop()
        else:
            session.reset()
        return Outcome(_refused_or_queued(exc.smtp_code), _text(exc.smtp_code, exc.smtp_error))
    why = session.why(exc)
    session.drop()
    if isinstance(exc, OSError):
        return Outcome(MessageState.QUEUED, why)
    if isinstance(exc, UnicodeError | ValueError):
        return Outcome(
            MessageState.FAILED, f"message impossible à transmettre tel quel ({type(exc).__name__} : {exc})"
        )
    return Outcome(MessageState.QUEUED, f"erreur inattendue ({type(exc).__name__} : {exc})")


def describe(exc: BaseException, relay: Relay, timeout: float | None = None) -> str:
    """A connection failure, in French."""
    again = "s'il l'avait pris, il le recevra à nouveau avec le même Message-ID"
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        waited = relay.timeout if timeout is None else timeout
        cut = "" if waited >= relay.timeout else " (temps accordé à l'envoi immédiat écoulé)"
        return f"le relais n'a pas répondu dans les {waited:.3g} s{cut} ; {again}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"le relais a fermé la connexion sans confirmer qu'il acceptait le message ; {again}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return _text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPException):
        return f"erreur SMTP ({exc})"
    if isinstance(exc, OSError):
        return f"erreur réseau ({system_error(exc)})"
    return f"{type(exc).__name__} : {exc}"


def _text(code: int, resp) -> str:
    return f"{code} {resp.decode(errors='replace') if isinstance(resp, bytes) else resp}"


def summary(outcomes: dict[str, Outcome]) -> str:
    """One line for a message's recipients: the answer itself when all got the same one,
    else each answer with the addresses it concerns."""
    texts = {o.answer for o in outcomes.values()}
    if len(texts) <= 1:
        return next(iter(texts), "")
    groups: dict[tuple[str, str], list[str]] = {}
    for address, o in outcomes.items():
        groups.setdefault((o.state, o.answer), []).append(address)
    return " ; ".join(
        f"{LABELS[state]} {', '.join(shown(a) for a in addresses)} : {text}"
        for (state, text), addresses in groups.items()
    )


def check_relay(relay: Relay) -> str:
    """Connect, greet and quit: what `csac config check --connect` reports."""
    session = Session(relay)
    try:
        code, resp = session.open().noop()
    finally:
        session.close()  # a relay that answers QUIT badly still answered NOOP
    return f"{relay.describe()} : {code} {resp.decode(errors='replace')}"
