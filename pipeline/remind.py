"""Reminders: the depositor of a dossier still incomplete is told again what is missing.

A dossier still `incomplete` N days (configuration `reminder_days`, 10 by
default) after it was opened, or after its last reminder, gets one: to the
depositor, copied to the region's mailbox (Reply-To the region), naming each
problem as the notice words it. Three at most. A dossier complete, accepted
or refused gets none. The clock is a parameter: `now` decides what is due.

Each reminder is sent, then journalled. Its Message-ID is made of the
dossier and the reminder's number, so that a run cut between the two sends
the same Message-ID again, and a Maildir (the journal's `delivered` rows)
and the relay queue (one row per Message-ID) take it once; the record counts
it only if it is still the next one, so that two runs at once (the watcher,
`csac remind`) count it once.

The watcher runs the reminders once a day (`daily`), from REMIND_FROM on: the
day of the last whole run is kept in the journal (`chores`), so that a restart
does not run it again, and a day the watcher was down at that hour runs when
it starts.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import closing
from dataclasses import dataclass

from .config import Config
from .dates import local_day, long_date
from .deliver import DEPOSITORS, Courier, Outgoing, add_header, compose, message_id
from .dossiers import Dossier, DossierBook, DossierStatus
from .notices import SEND_ONLY, convention_fr, dossier_subject, to_send
from .reading import said_failure
from .store import JOURNAL, Store
from .untrusted import one_line

MAX_REMINDERS = 3
REMIND_FROM = dt.time(8)  # the watcher's daily run: in the morning, not at midnight
CHORE = "reminders"  # its row in the journal's `chores`
log = logging.getLogger("csac.remind")


@dataclass(frozen=True)
class Reminder:
    """One reminder of one dossier: its number (1 to MAX_REMINDERS) and its message."""

    dossier: Dossier
    number: int
    outgoing: Outgoing

    @property
    def message_id(self) -> str:
        return self.outgoing.message["Message-ID"]

    def to_json(self) -> dict:
        d = self.dossier
        return {
            "dossier_id": d.id, "siret": d.siret, "variant": d.variant, "signatory": d.signatory,
            "email": d.email, "cc": d.mailbox, "number": self.number, "message_id": self.message_id,
            "missing": d.codes,
        }  # fmt: skip


@dataclass(frozen=True)
class Run:
    """What one run did (or, dry, would do)."""

    now: dt.datetime
    days: int
    dry_run: bool = False
    reminders: tuple[Reminder, ...] = ()  # sent and journalled; due, when dry
    unreachable: tuple[Dossier, ...] = ()  # due, but no depositor's address to write to
    failed: tuple[tuple[Dossier, str], ...] = ()  # could not be sent: tried again at the next run
    left: int = 0  # due, but past the run's limit: the next run sends them

    def to_json(self) -> dict:
        return {
            "now": self.now.isoformat(timespec="seconds"),
            "days": self.days,
            "dry_run": self.dry_run,
            "reminders": [r.to_json() for r in self.reminders],
            "unreachable": [d.id for d in self.unreachable],
            "failed": [{"dossier_id": d.id, "error": why} for d, why in self.failed],
            "left": self.left,
        }


def is_due(dossier: Dossier, now: dt.datetime, days: int) -> bool:
    """Incomplete, not under review (the regional team answers the depositor itself), fewer than three
    reminders, and `days` calendar days since it opened or was last reminded (days, not hours: a daily
    run at 8 o'clock reminds a dossier opened at 14 o'clock on time)."""
    if dossier.status != DossierStatus.INCOMPLETE or dossier.review or dossier.reminders >= MAX_REMINDERS:
        return False
    since = local_day(dossier.reminded_at or dossier.opened_at, now.tzinfo)
    return now.date() >= since + dt.timedelta(days=days)


def body(dossier: Dossier, number: int, deposits: list[str], now: dt.datetime) -> str:
    opened = long_date(local_day(dossier.opened_at, now.tzinfo))
    who = one_line(dossier.signatory or "votre établissement", 300)
    lines = [
        "Madame, Monsieur,",
        "",
        f"Votre dossier n° {dossier.id} ({convention_fr(dossier.variant)}) pour {who} (SIRET {dossier.siret}), "
        f"ouvert le {opened}, ne peut toujours pas être traité. Merci de nous envoyer uniquement :",
        "",
        *to_send(dossier.problems),
        "",
        SEND_ONLY,
        "",
        f"Dépôt(s) déjà reçu(s) pour ce dossier : {', '.join(f'n° {d}' for d in deposits) or 'aucun'}.",
        f"Relance n° {number} sur {MAX_REMINDERS}"
        + (" : c'est la dernière relance automatique." if number == MAX_REMINDERS else "."),
    ]
    if dossier.mailbox:
        lines += ["", f"Pour toute question : {dossier.mailbox}"]
    return "\n".join(lines + ["", "Le Resah — centrale d'achat"])


def reminder(dossier: Dossier, number: int, deposits: list[str], now: dt.datetime) -> Reminder:
    """Reminder `number` of a dossier, to its depositor, copied to its region; its Message-ID is the
    dossier's and the number's, whenever it is built."""
    subject = dossier_subject(dossier.variant, dossier.signatory, "relance : dossier incomplet", dossier.id)
    mid = message_id(dossier.id, f"reminder-{number}")
    msg = compose(dossier.email or "", subject, body(dossier, number, deposits, now), mid, now)
    add_header(msg, "X-CSAC-Dossier-Id", dossier.id)
    if dossier.mailbox:
        add_header(msg, "Cc", dossier.mailbox)
        add_header(msg, "Reply-To", dossier.mailbox)
    return Reminder(dossier, number, Outgoing(DEPOSITORS, msg))


def remind(
    config: Config, now: dt.datetime, days: int | None = None, dry_run: bool = False, limit: int | None = None
) -> Run:
    """Every reminder due at `now`, or the first `limit` of them, sent then journalled (or only listed,
    when dry)."""
    now, days = now.astimezone(), config.reminder_days if days is None else days
    book = DossierBook(config.workspace.journal)
    due = [d for d in book.search(status=DossierStatus.INCOMPLETE) if is_due(d, now, days)]
    unreachable = tuple(d for d in due if not d.email)
    reachable = [d for d in due if d.email]
    now_due, left = (reachable, []) if limit is None else (reachable[:limit], reachable[limit:])
    reminders = [reminder(d, d.reminders + 1, book.deposits(d.id), now) for d in now_due]
    if dry_run:
        return Run(now, days, True, tuple(reminders), unreachable, left=len(left))
    courier, sent, failed = Courier(config), [], []
    for r in reminders:
        try:
            send(courier, book, r, now)
            sent.append(r)
        except Exception as exc:  # one dossier's failure (a full disk) leaves the others to go
            why = said_failure(exc)
            log.error(
                "relance du dossier %s impossible (%s) ; nouvel essai à la prochaine relance",
                r.dossier.id,
                why,
            )
            failed.append((r.dossier, why))
    courier.flush()
    if sent or failed:
        log.info("relances : %d envoyée(s), %d en échec", len(sent), len(failed))
    return Run(now, days, False, tuple(sent), unreachable, tuple(failed), len(left))


def send(courier: Courier, book: DossierBook, r: Reminder, now: dt.datetime) -> None:
    """Sent first, then journalled: sent again after a crash, the same Message-ID is delivered once."""
    courier.send(r.outgoing, None)
    detail = f"relance {r.number}/{MAX_REMINDERS} ({', '.join(r.dossier.codes)}) — {r.message_id}"
    book.reminded(r.dossier.id, detail, now.isoformat(timespec="seconds"), number=r.number)


# -- once a day, under the watcher -----------------------------------------------------------------


def last_run(config: Config) -> dt.date | None:
    """The day of the last whole daily run, from the journal."""
    with closing(Store(config.workspace.journal, JOURNAL).connect()) as conn:
        row = conn.execute("SELECT day FROM chores WHERE name = ?", (CHORE,)).fetchone()
    return dt.date.fromisoformat(row["day"]) if row else None


def daily(
    config: Config, now: dt.datetime, start: dt.time = REMIND_FROM, limit: int | None = None
) -> Run | None:
    """Today's reminders, if today's run has not happened yet and its hour has come; None otherwise.

    The day is kept only once the run went whole: a run cut short, or with a failure, is run again,
    and sends only what it had not (see `send`). A backlog (thousands of dossiers due, the first
    morning after a migration: 3,650 reminders took the watcher 111 s) goes `limit` at a time, the
    watcher taking its deposits in between.
    """
    now = now.astimezone()
    last = last_run(config)
    if now.time() < start or (last is not None and last >= now.date()):
        return None
    run = remind(config, now, limit=limit)
    if not run.failed and not run.left:
        with Store(config.workspace.journal, JOURNAL).transaction() as conn:
            conn.execute(
                "INSERT INTO chores (name, day, at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET day = excluded.day, at = excluded.at",
                (CHORE, now.date().isoformat(), now.isoformat(timespec="seconds")),
            )
    return run
