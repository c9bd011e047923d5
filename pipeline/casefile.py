"""A dossier as the regional team reads it: its state, what it lacks and its history in French, and the
messages csac sent about it, found in the journal.

`csac dossier list` and `show` print these, their `--json` forms are built here (keys in English), and
the follow-up spreadsheet (pipeline/sheet.py) takes its French words from here.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .deliver import DEPOSITORS
from .dossiers import Dossier, DossierBook, Event, EventKind, FollowUp, Held
from .notices import DOSSIER_FR, REVIEW_FR, ROLE_FR
from .store import JOURNAL, Store

STATUS_FR = DOSSIER_FR  # the dossiers' states in French, as the notices say them
FOLLOW_UP_FR = {
    FollowUp.TRAITE: "traité",
    FollowUp.CONTRE_SIGNE: "contre-signé",
    FollowUp.TITRE_EMIS: "titre émis",
}
MISSING_FR = {  # what a problem code leaves to regularise, in a few words for a table's column
    "archive_corrupt": "fichier illisible", "archive_unsafe": "fichier refusé (sécurité)",
    "convention_missing": "convention absente", "convention_unknown": "convention non reconnue",
    "convention_unsigned": "convention non signée", "annex_missing": "annexe absente",
    "purchase_order_missing": "bon de commande absent", "siret_invalid": "SIRET invalide",
    "siret_mismatch": "SIRET différents", "contract_mismatch": "numéro de marché erroné",
    "amount_mismatch": "montant du bon de commande erroné", "region_unknown": "région inconnue",
    "form_invalid": "formulaire incomplet", "duplicate": "doublon",
}  # fmt: skip
EVENT_FR = {
    EventKind.OPENED: "dossier ouvert",
    EventKind.DEPOSIT: "dépôt reçu",
    EventKind.REPLACED: "document remplacé",
    EventKind.COMPLETED: "dossier complet",
    EventKind.REOPENED: "rouvert par un nouveau dépôt",
    EventKind.ACCEPTED: "accepté",
    EventKind.REFUSED: "refusé",
    EventKind.FOLLOW_UP: "suivi",
    EventKind.REMINDED: "relance au déposant",
    EventKind.MESSAGE: "message envoyé",
}
MESSAGE_FR = {  # the kind of a message, read from its Message-ID (pipeline/deliver.py's message_id)
    "notice": "avis au déposant",
    "region": "envoi à la région",
    "duplicate": "avis de doublon",
    "quarantine": "alerte de quarantaine",
    "refusal": "refus au déposant",
    "acceptance": "dossier accepté, envoyé en entier à la région",
    "reminder": "relance au déposant",
}
SENT_FR = {  # a message's state in a Maildir (pipeline/store.py PutState) or in the relay's queue (MessageState)
    "delivered": "remis", "putting": "en cours de remise", "queued": "en attente d'envoi",
    "sending": "en cours d'envoi", "sent": "accepté par le relais", "failed": "refusé par le relais",
}  # fmt: skip
MESSAGE_ID_RE = re.compile(r"<[^<>\s]+@[^<>\s]+>")
KIND_RE = re.compile(r"<([^<>]*)\.([a-z_]+)(?:-\d+)?@")  # <{deposit or dossier}.{kind}[-{n}]@…>


def french_time(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%d/%m/%Y %H:%M")


def age_days(dossier: Dossier, today: dt.date) -> int:
    """Days since the dossier was opened (its first deposit)."""
    return (today - dt.datetime.fromisoformat(dossier.opened_at).date()).days


def missing(dossier: Dossier) -> str:
    """What it lacks, in a few words each; a code csac does not describe yet is shown as it is."""
    return ", ".join(dict.fromkeys(MISSING_FR.get(code, code) for code in dossier.codes))


def follow_up_fr(dossier: Dossier) -> str:
    return FOLLOW_UP_FR[dossier.follow_up] if dossier.follow_up else ""


def event_fr(event: Event) -> str:
    if event.kind == EventKind.FOLLOW_UP and event.detail in set(FollowUp):
        return f"suivi : {FOLLOW_UP_FR[FollowUp(event.detail)]}"
    return EVENT_FR.get(event.kind, str(event.kind))


def detail_fr(event: Event) -> str | None:
    """The event's detail as a person reads it: a follow-up's is already in the event's name."""
    return None if event.kind == EventKind.FOLLOW_UP else event.detail


def _amount(value) -> str | None:
    return str(value) if value is not None else None


def state_fr(dossier: Dossier) -> str:
    """A dossier's state as people read it: "à vérifier" while a person has to check it."""
    return REVIEW_FR if dossier.review else STATUS_FR[dossier.status]


def summary_json(dossier: Dossier, today: dt.date) -> dict:
    """One line of `csac dossier list --json`: amounts as decimal text ("1000.00"), dates in ISO 8601."""
    d = dossier
    return {
        "dossier_id": d.id, "siret": d.siret, "variant": d.variant, "status": d.status.value,
        "problems": [p.to_json() for p in d.problems], "signatory": d.signatory, "region": d.region,
        "mailbox": d.mailbox, "email": d.email, "due": _amount(d.due), "paid": _amount(d.paid),
        "follow_up": d.follow_up.value if d.follow_up else None, "opened_at": d.opened_at,
        "updated_at": d.updated_at, "completed_at": d.completed_at, "age_days": age_days(d, today),
        "reminders": d.reminders, "reminded_at": d.reminded_at, "review": d.review,
    }  # fmt: skip


@dataclass(frozen=True)
class Deposit:
    """A deposit that brought the dossier documents, as the journal has it."""

    id: str
    file: str
    received_at: str
    status: str | None
    review: bool = False  # "à vérifier": its verdict is not told as such

    def to_json(self) -> dict:
        return {
            "deposit_id": self.id,
            "file": self.file,
            "received_at": self.received_at,
            "status": self.status,
            "review": self.review,
        }


@dataclass(frozen=True)
class Sent:
    """A message about the dossier found in the journal: put in a Maildir, or queued for the relay."""

    message_id: str
    kind: str | None  # notice, region, refusal…: from its Message-ID
    to: str  # the Maildir's mailbox ("depositors": the depositors' Maildir), or the relay's recipients
    via: str  # "maildir" or "relay"
    state: str  # delivered / putting (Maildir); queued / sending / sent / failed (relay)
    at: str
    answer: str | None = None  # the relay's last answer
    deposit_id: str | None = None  # the deposit it is about, when it is about one

    @property
    def kind_fr(self) -> str:
        return MESSAGE_FR.get(self.kind or "", "message")

    @property
    def state_fr(self) -> str:
        answer = f" ({self.answer})" if self.answer and self.state != "sent" else ""
        return SENT_FR.get(self.state, self.state) + answer

    @property
    def via_fr(self) -> str:
        return "Maildir" if self.via == "maildir" else "relais SMTP"

    @property
    def to_fr(self) -> str:
        return "déposant" if self.to == DEPOSITORS else self.to

    def to_json(self) -> dict:
        return {"message_id": self.message_id, "kind": self.kind, "to": self.to, "via": self.via,
                "state": self.state, "at": self.at, "answer": self.answer, "deposit_id": self.deposit_id}  # fmt: skip


@dataclass(frozen=True)
class CaseFile:
    """Everything `csac dossier show` prints about one dossier."""

    dossier: Dossier
    documents: tuple[Held, ...]  # every document it was given, the replaced ones included
    deposits: tuple[Deposit, ...]
    events: tuple[Event, ...]
    messages: tuple[Sent, ...]

    def to_json(self, today: dt.date) -> dict:
        return summary_json(self.dossier, today) | {
            "documents": [_held_json(h) for h in self.documents],
            "deposits": [d.to_json() for d in self.deposits],
            "events": [_event_json(e) for e in self.events],
            "messages": [m.to_json() for m in self.messages],
        }


def _held_json(h: Held) -> dict:
    return {"role": str(h.role), "name": h.name, "sha256": h.sha256, "deposit_id": h.deposit_id,
            "added_at": h.added_at, "replaced": h.replaced_by is not None}  # fmt: skip


def _event_json(e: Event) -> dict:
    return {"at": e.at, "kind": e.kind.value, "by": e.by, "detail": e.detail, "deposit_id": e.deposit_id}


def role_fr(role: str) -> str:
    return ROLE_FR.get(role, str(role))


def case_file(journal: Path, dossier: Dossier) -> CaseFile:
    book = DossierBook(journal)
    events = book.events(dossier.id)
    deposit_ids = book.deposits(dossier.id)
    mids = [m for e in events for m in MESSAGE_ID_RE.findall(e.detail or "")]  # refusals, reminders…
    return CaseFile(
        dossier,
        tuple(book.documents(dossier.id, current=False)),
        tuple(_deposits(journal, deposit_ids)),
        tuple(events),
        tuple(sent_messages(journal, deposit_ids, mids)),
    )


def _marks(values: list) -> str:
    return ",".join("?" * len(values))


def _deposits(journal: Path, ids: list[str]) -> list[Deposit]:
    with closing(Store(journal, JOURNAL).connect()) as conn:
        rows = conn.execute(
            "SELECT id, file, received_at, status, coalesce(json_extract(report, '$.review'), 0) AS review"
            f" FROM deposits WHERE id IN ({_marks(ids)})",
            ids,
        ).fetchall()
    found = {
        r["id"]: Deposit(r["id"], r["file"], r["received_at"], r["status"], bool(r["review"])) for r in rows
    }
    return [found[i] for i in ids if i in found]


def sent_messages(journal: Path, deposit_ids: list[str], message_ids: list[str]) -> list[Sent]:
    """The messages of these deposits (their Message-IDs start with the deposit's id) and these
    Message-IDs, as the journal records them: each Maildir it was put in, or its row in the relay's queue.
    What the journal does not know (a Maildir emptied since, a message of another tool) is not shown."""
    prefixes = [f"<{d}.%" for d in deposit_ids]
    with closing(Store(journal, JOURNAL).connect()) as conn:
        put = conn.execute(
            "SELECT folder, message_id, state, at FROM delivered WHERE message_id IN"
            f" ({_marks(message_ids)})" + "".join(" OR message_id LIKE ?" for _ in prefixes),
            [*message_ids, *prefixes],
        ).fetchall()
        queued = conn.execute(
            "SELECT message_id, recipients, state, queued_at, sent_at, answer FROM messages WHERE"
            f" deposit_id IN ({_marks(deposit_ids)}) OR message_id IN ({_marks(message_ids)})",
            [*deposit_ids, *message_ids],
        ).fetchall()
    found = [
        Sent(r["message_id"], _kind(r["message_id"]), Path(r["folder"]).name, "maildir", r["state"], r["at"],
             deposit_id=_about(r["message_id"], deposit_ids))
        for r in put
    ]  # fmt: skip
    found += [
        Sent(r["message_id"], _kind(r["message_id"]), r["recipients"], "relay", r["state"],
             r["sent_at"] or r["queued_at"], r["answer"], _about(r["message_id"], deposit_ids))
        for r in queued
    ]  # fmt: skip
    return sorted(found, key=lambda s: (s.at, s.message_id, s.to))


def _kind(message_id: str) -> str | None:
    found = KIND_RE.match(message_id)
    return found.group(2) if found else None


def _about(message_id: str, deposit_ids: list[str]) -> str | None:
    found = KIND_RE.match(message_id)
    return found.group(1) if found and found.group(1) in deposit_ids else None
