"""Talking to the SMTP relay: the envelope of one message, one connection, what each answer means.

An address is checked before the relay is asked (email-validator): one
address, no control character. A domain in Unicode goes as IDNA (ASCII); a
local part in Unicode needs SMTPUTF8, used only when the relay offers it.
Every failure is judged for one message only: final (`failed`, with a French
reason or the relay's own answer) or temporary (`queued`, tried again). Once
the relay has answered 250 to DATA the message is delivered, whatever the
end of the session looks like.
"""

from __future__ import annotations

import copy
import logging
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from email_validator import EmailNotValidError, validate_email

from .config import Relay

log = logging.getLogger("csac.mail")
ADDRESS_HEADERS = ("From", "To", "Cc", "Reply-To")
INVISIBLE = ("Cc", "Cf", "Zl", "Zp")  # control and format characters, line and paragraph separators


class Refused(Exception):
    """The message can never go as it is: its reason, in French."""


class Unreachable(Exception):
    """No connection to the relay in this flush: the reason, in French."""


class Misconfigured(Exception):
    """csac's own settings stop the message: it waits, queued, until they are fixed."""


@dataclass(frozen=True)
class Outcome:
    state: str  # sent, queued (tried again later) or failed (final)
    answer: str


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    utf8: bool  # needs SMTPUTF8: a local part or a header in Unicode
    eight_bit: bool  # a body part in 8-bit: BODY=8BITMIME when the relay offers it


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
    """MAIL FROM and RCPT TO for one message; Refused when an address cannot go at all."""
    if not recipients:
        raise Refused("aucun destinataire")
    try:
        sender_address, sender_utf8 = checked(sender)
    except Refused as exc:  # the configuration's fault, not the message's: it waits for the fix
        raise Misconfigured(f"expéditeur de la configuration (smtp.sender) : {exc}") from exc
    addresses = [checked(r) for r in recipients]
    head, _, body = raw.partition(b"\r\n\r\n")
    utf8 = sender_utf8 or any(u for _, u in addresses) or not head.isascii()
    return Envelope(sender_address, tuple(a for a, _ in addresses), utf8, not body.isascii())


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


def connect(relay: Relay) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if relay.security == "tls":
        smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=relay.timeout, context=context)
    else:
        smtp = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
        if relay.security == "starttls":
            smtp.starttls(context=context)
    if relay.username:
        smtp.login(relay.username, relay.password or "")
    smtp.ehlo_or_helo_if_needed()
    return smtp


class Session:
    """One connection to the relay for a flush: opened on first need, reopened after a failure."""

    def __init__(self, relay: Relay):
        self.relay = relay
        self.smtp: smtplib.SMTP | None = None
        self.reused = False  # the connection has carried a message already
        self.unreachable: str | None = None

    def open(self) -> smtplib.SMTP:
        if self.smtp is None:
            if self.unreachable:
                raise Unreachable(self.unreachable)
            try:
                self.smtp, self.reused = connect(self.relay), False
            except Exception as exc:
                self.unreachable = f"relais injoignable : {describe(exc, self.relay)}"
                raise Unreachable(self.unreachable) from exc
        return self.smtp

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
        if self.smtp is None:
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
                describe(exc, self.relay),
            )
        finally:
            self.drop()


def send(session: Session, env: Envelope, raw: bytes) -> str:
    """MAIL, RCPT, DATA; the relay's 250 to DATA is its acceptance, recorded as such.

    A connection that carried a message and was closed by the relay since is
    opened again once: nothing of this message had reached it.
    """
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
    for rcpt in env.recipients:
        code, resp = smtp.rcpt(rcpt)
        if code not in (250, 251):
            raise smtplib.SMTPResponseException(code, resp)
    code, resp = smtp.data(raw)
    if code != 250:
        raise smtplib.SMTPResponseException(code, resp)
    session.reused = True
    return _text(code, resp)


def _options(smtp: smtplib.SMTP, env: Envelope) -> list[str]:
    options = ["SMTPUTF8"] if env.utf8 else []
    if (env.utf8 or env.eight_bit) and smtp.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    return options


def judge(exc: Exception, session: Session) -> Outcome:
    """What a failure means for this one message, and for the connection."""
    if isinstance(exc, Refused):
        return Outcome("failed", str(exc))
    if isinstance(exc, Unreachable | Misconfigured):
        return Outcome("queued", str(exc))
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code == 421:  # the relay is closing this connection
            session.drop()
        else:
            session.reset()
        return Outcome(
            "failed" if 500 <= exc.smtp_code < 600 else "queued", _text(exc.smtp_code, exc.smtp_error)
        )
    session.drop()
    if isinstance(exc, OSError):
        return Outcome("queued", describe(exc, session.relay))
    if isinstance(exc, UnicodeError | ValueError):
        return Outcome("failed", f"message impossible à transmettre tel quel ({type(exc).__name__} : {exc})")
    return Outcome("queued", f"erreur inattendue ({type(exc).__name__} : {exc})")


def describe(exc: BaseException, relay: Relay) -> str:
    """A connection failure, in French."""
    again = "s'il l'avait pris, il le recevra à nouveau avec le même Message-ID"
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"le relais n'a pas répondu dans les {relay.timeout:g} s ; {again}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"le relais a fermé la connexion sans confirmer qu'il acceptait le message ; {again}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return _text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPException):
        return f"erreur SMTP ({exc})"
    if isinstance(exc, OSError):
        return f"erreur réseau ({exc.strerror or exc})"
    return f"{type(exc).__name__} : {exc}"


def _text(code: int, resp) -> str:
    return f"{code} {resp.decode(errors='replace') if isinstance(resp, bytes) else resp}"


def check_relay(relay: Relay) -> str:
    """Connect, greet and quit: what `csac config check --connect` reports."""
    session = Session(relay)
    try:
        code, resp = session.open().noop()
    finally:
        session.close()  # a relay that answers QUIT badly still answered NOOP
    return f"{relay.describe()} : {code} {resp.decode(errors='replace')}"
