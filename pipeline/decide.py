"""People's decisions on dossiers, and what they send.

A regional team accepts a dossier (a hand signature checked on a scan), refuses it (the depositor is
told why, the region copied), or follows it up once it is complete (traité, contre-signé, titre émis).
Each is a dossier event with who and when. The dossier's state is checked inside the transaction that
writes the decision, so that two people refusing at once make one refusal.

A refusal's message is named after its event (the dossier and the event's number): sent again after a
crash, by running the same command, it is the same message, and the Maildir or the relay's queue keeps
it once. It is journalled as a `message` event once handed over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .casefile import FOLLOW_UP_FR, STATUS_FR, french_time
from .deliver import DEPOSITORS, Courier, Outgoing, add_header, compose, message_id
from .dossiers import Dossier, DossierBook, DossierStatus, Event, EventKind, FollowUp
from .errors import ArgumentError
from .notices import convention_fr, dossier_subject
from .untrusted import one_line

NAME = 120  # characters of a person's name kept
REASON = 2000  # characters of a reason or a note kept
FOLLOWED = (DossierStatus.COMPLETE, DossierStatus.ACCEPTED)  # the dossiers a team follows up


class UnknownDossier(ArgumentError):
    """No dossier has this id: the message says how to find it."""

    def __init__(self, dossier_id: str, near: list[Dossier]):
        hint = "cherchez-le avec `csac dossier list --search TEXTE` (nom du signataire, SIRET ou numéro)"
        if near:
            hint = "dossiers proches : " + ", ".join(d.id for d in near[:5]) + " ; sinon " + hint
        super().__init__(f"dossier inconnu : {one_line(dossier_id, NAME)} — {hint}")


def required(book: DossierBook, dossier_id: str) -> Dossier:
    """The dossier, or UnknownDossier naming those whose id, SIRET or signatory contains what was typed."""
    found = book.get(dossier_id.strip())
    if found is None:
        near = book.search(text=dossier_id.strip()) if dossier_id.strip() else []
        raise UnknownDossier(dossier_id, near)
    return found


# what a person must type, and an example of it
BY = ("le nom de la personne qui décide (--by)", '--by "Marie Durand"')
NOTE = ("la note (--note)", '--note "signature manuscrite vérifiée sur le scan"')
WHY = (
    "le motif du refus (--reason)",
    '--reason "le bon de commande est établi au nom d\'un autre établissement"',
)


def said(text: str, field: tuple[str, str], limit: int = REASON) -> str:
    """A name, a note or a reason a person typed: on one line, and not empty."""
    line = one_line(text or "", limit)
    if not line:
        what, example = field
        raise ArgumentError(f"{what} est vide : indiquez-le, par exemple {example}")
    return line


def _decided_already(status: DossierStatus, verb: str):
    """A check for DossierBook: the same decision twice is a mistake, said with who took the first."""

    def check(dossier: Dossier) -> None:
        if dossier.status == status:
            raise ArgumentError(
                f"le dossier {dossier.id} est déjà {STATUS_FR[status]} : rien n'a été {verb} "
                f"(qui l'a décidé et quand : `csac dossier show {dossier.id}`)"
            )

    return check


def accept(book: DossierBook, dossier_id: str, by: str, note: str, at: str | None = None) -> Dossier:
    """Accepted by a person, whatever csac found missing: who, when and why are journalled."""
    by, note = said(by, BY, NAME), said(note, NOTE)
    dossier = required(book, dossier_id)
    check = _decided_already(DossierStatus.ACCEPTED, "changé")
    return book.decide(dossier.id, DossierStatus.ACCEPTED, by, note, at, check)


def follow_up(book: DossierBook, dossier_id: str, state: FollowUp, by: str, at: str | None = None) -> Dossier:
    """The team's own follow-up, for a complete or accepted dossier only."""
    by = said(by, BY, NAME)
    dossier = required(book, dossier_id)

    def check(current: Dossier) -> None:
        if current.status not in FOLLOWED:
            raise ArgumentError(
                f"le dossier {current.id} est {STATUS_FR[current.status]} : le suivi (traité, contre-signé, "
                "titre émis) ne concerne qu'un dossier complet ou accepté — acceptez-le d'abord avec "
                f"`csac dossier accept {current.id} --by NOM --note TEXTE` si c'est votre décision"
            )
        if current.follow_up == state:
            raise ArgumentError(
                f"le dossier {current.id} est déjà « {FOLLOW_UP_FR[state]} » : rien n'a changé"
            )

    return book.set_follow_up(dossier.id, state, by, at, check)


# -- refusals ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    dossier: Dossier
    event: Event  # the refusal, with who, when and why
    message_id: str
    sent_to: tuple[str, ...]  # the depositor, then the region's copy; empty if nobody could be told
    resumed: bool = False  # a refusal recorded earlier whose message had not gone: sent now


def refusal_id(dossier: Dossier, event: Event) -> str:
    return message_id(dossier.id, f"refusal-{event.seq}")


def refuse(book: DossierBook, courier: Courier, dossier_id: str, by: str, reason: str) -> Refusal:
    """Refused by a person, and the depositor told why (Reply-To and copy: the region's mailbox).

    A refusal already recorded whose message was never journalled (a crash in between) is not
    recorded again: its own message is sent, once.
    """
    by, reason = said(by, BY, NAME), said(reason, WHY)
    dossier = required(book, dossier_id)
    event = _unsent_refusal(book, dossier)
    resumed = event is not None
    if event is None:
        dossier = book.decide(
            dossier.id,
            DossierStatus.REFUSED,
            by,
            reason,
            check=_decided_already(DossierStatus.REFUSED, "envoyé à nouveau"),
        )
        event = _last(book.events(dossier.id), EventKind.REFUSED)
    message = refusal_message(dossier, event, book.deposits(dossier.id))
    sent_to = _send(courier, dossier, message)
    if sent_to:
        to = " ; copie ".join(sent_to)
        book.event(dossier.id, EventKind.MESSAGE, f"refus envoyé à {to} — {message['Message-ID']}", event.by)
    return Refusal(dossier, event, message["Message-ID"], sent_to, resumed)


def _last(events: list[Event], kind: EventKind) -> Event:
    return next(e for e in reversed(events) if e.kind == kind)


def _unsent_refusal(book: DossierBook, dossier: Dossier) -> Event | None:
    """The refusal in force whose message no event records as sent, if the dossier is refused."""
    if dossier.status != DossierStatus.REFUSED:
        return None
    events = book.events(dossier.id)
    refusal = _last(events, EventKind.REFUSED)
    mid = refusal_id(dossier, refusal)
    sent = any(e.kind == EventKind.MESSAGE and mid in (e.detail or "") for e in events)
    return None if sent or not (dossier.email or dossier.mailbox) else refusal


def _send(courier: Courier, dossier: Dossier, message) -> tuple[str, ...]:
    """By the relay, one message reaches To and Cc; in Maildirs, each mailbox gets its own copy."""
    if not (dossier.email or dossier.mailbox):
        return ()
    folders = [DEPOSITORS if dossier.email else dossier.mailbox]
    if dossier.email and dossier.mailbox and courier.config.relay is None:
        folders.append(dossier.mailbox)
    deposit = message["X-CSAC-Deposit-Id"]  # the latest deposit: `csac status` lists it with its messages
    for folder in folders:
        courier.send(Outgoing(folder, message), str(deposit) if deposit else None)
    courier.flush()
    return tuple(a for a in (dossier.email, dossier.mailbox) if a)


def refusal_message(dossier: Dossier, event: Event, deposits: list[str]):
    """The French message telling the depositor (or, without one, the region) why the dossier is refused."""
    to = dossier.email or dossier.mailbox
    who = one_line(dossier.signatory or f"SIRET {dossier.siret}", NAME)
    what = convention_fr(dossier.variant)
    lines = [
        "Madame, Monsieur,",
        "",
        f"Après examen, l'équipe du Resah de votre région n'a pas retenu votre dossier pour la convention de "
        f"l'{what} ({who}, SIRET {dossier.siret}), dossier n° {dossier.id}.",
        "",
        f"Motif : {event.detail}",
        "",
    ]
    if deposits:
        lines += [f"Dépôt(s) concerné(s) : n° {', n° '.join(deposits)}.", ""]
    lines += [
        "Vous pouvez déposer à nouveau un dossier corrigé dans l'espace de dépôt des adhésions.",
        f"Pour toute question : {dossier.mailbox} (répondez simplement à ce message)."
        if dossier.mailbox
        else "Pour toute question : 01.55.78.54.54 (tapez 1)",
        "",
        f"Décision du {french_time(event.at)}.",
        "",
        "Le Resah — centrale d'achat",
    ]
    subject = dossier_subject(dossier.variant, dossier.signatory, "dossier non retenu", dossier.id)
    msg = compose(
        to, subject, "\n".join(lines), refusal_id(dossier, event), dt.datetime.fromisoformat(event.at)
    )
    add_header(msg, "X-CSAC-Dossier-Id", dossier.id)
    if deposits:
        add_header(msg, "X-CSAC-Deposit-Id", deposits[-1])
    if dossier.email and dossier.mailbox:
        add_header(msg, "Reply-To", dossier.mailbox)
        add_header(msg, "Cc", dossier.mailbox)
    return msg
