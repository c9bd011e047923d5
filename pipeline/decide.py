"""People's decisions on dossiers, and what they send.

A regional team accepts a dossier (a hand signature checked on a scan, a depositor's message read), refuses
it (the depositor is told why, the region copied), or follows it up once it is complete (traité,
contre-signé, titre émis). Each is a dossier event with who and when. The dossier's state is checked
inside the transaction that writes the decision, so that two people refusing at once make one refusal.

An accepted dossier that holds every document and was never sent whole (intake sends a dossier whole when
it becomes complete, and never while it is under review) goes to its region whole, as intake would have
sent it: accepting is then what completing is.

A decision's message is named after its event (the dossier and the event's number): sent again after a
crash, by running the same command, it is the same message, and the Maildir or the relay's queue keeps
it once. It is journalled as a `message` event once handed over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from email.utils import format_datetime
from typing import TYPE_CHECKING

from .casefile import FOLLOW_UP_FR, MISSING_FR, STATUS_FR, french_time, role_fr
from .deliver import DEPOSITORS, Courier, Outgoing, add_header, compose, message_id
from .dossiers import Documents, Dossier, DossierBook, DossierStatus, Event, EventKind, FollowUp, Held
from .errors import ArgumentError
from .forward import Parcel, dossier_parcel
from .judge import read_kept
from .money import format_eur
from .notices import convention_fr, depositor_notice, dossier_subject, parcel_notes
from .report import Withheld
from .rules import ABSENT
from .untrusted import one_line

if TYPE_CHECKING:
    from .intake import IntakeContext
    from .journal import Journal

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


def version(dossier: Dossier) -> str:
    """What a page showing the dossier records of it: any change to its row (a decision, a new deposit)
    changes it, even within the second its updated_at is written to."""
    return hashlib.sha256(repr(dossier).encode()).hexdigest()[:24]


def _decided_already(status: DossierStatus, verb: str, seen: str | None = None):
    """A check for DossierBook: the same decision twice is a mistake, said with who took the first. With
    `seen` (the dossier's version when the person's page showed it), a dossier changed since then (a
    colleague's decision, a new deposit) is not decided blind: the person reads it again first."""

    def check(dossier: Dossier) -> None:
        if seen is not None and version(dossier) != seen:
            raise ArgumentError(
                f"le dossier {dossier.id} a changé depuis que vous l'avez ouvert (mis à jour le "
                f"{french_time(dossier.updated_at)}) : rien n'a été fait — relisez-le avant de décider"
            )
        if dossier.status == status:
            raise ArgumentError(
                f"le dossier {dossier.id} est déjà {STATUS_FR[status]} : rien n'a été {verb} "
                f"(qui l'a décidé et quand : `csac dossier show {dossier.id}`)"
            )

    return check


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


def refuse(
    book: DossierBook, courier: Courier, dossier_id: str, by: str, reason: str, seen: str | None = None
) -> Refusal:
    """Refused by a person, and the depositor told why (Reply-To and copy: the region's mailbox).

    A refusal already recorded whose message was never journalled (a crash in between) is not
    recorded again: its own message is sent, once.
    """
    by, reason = said(by, BY, NAME), said(reason, WHY)
    dossier = required(book, dossier_id)
    dossier, event, resumed = _decision(
        book, dossier, DossierStatus.REFUSED, by, reason, None, _unsent_refusal(book, dossier), seen
    )
    message = refusal_message(dossier, event, book.deposits(dossier.id))
    sent_to = _send(courier, dossier, message)
    if sent_to:
        to = " ; copie ".join(sent_to)
        book.event(dossier.id, EventKind.MESSAGE, f"refus envoyé à {to} — {message['Message-ID']}", event.by)
    return Refusal(dossier, event, message["Message-ID"], sent_to, resumed)


VERB = {
    DossierStatus.ACCEPTED: "changé",
    DossierStatus.REFUSED: "envoyé à nouveau",
}  # "déjà …: rien n'a été …"
KIND = {DossierStatus.ACCEPTED: EventKind.ACCEPTED, DossierStatus.REFUSED: EventKind.REFUSED}


def _decision(
    book: DossierBook,
    dossier: Dossier,
    status: DossierStatus,
    by: str,
    text: str,
    at: str | None,
    unsent: Event | None,
    seen: str | None = None,
) -> tuple[Dossier, Event, bool]:
    """The decision in force whose message never went (`unsent`: resumed), else a new one recorded."""
    if unsent is not None:
        return dossier, unsent, True
    dossier = book.decide(
        dossier.id, status, by, text, at, check=_decided_already(status, VERB[status], seen)
    )
    return dossier, _last(book.events(dossier.id), KIND[status]), False


def _last(events: list[Event], kind: EventKind) -> Event:
    return next(e for e in reversed(events) if e.kind == kind)


def _unsent(events: list[Event], kind: EventKind, named) -> Event | None:
    """The decision of this kind in force, if no event records its message (`named` after it) as sent."""
    decision = _last(events, kind)
    mid = named(decision)
    return None if any(e.kind == EventKind.MESSAGE and mid in (e.detail or "") for e in events) else decision


def _unsent_refusal(book: DossierBook, dossier: Dossier) -> Event | None:
    """The refusal in force whose message no event records as sent, if the dossier is refused."""
    if dossier.status != DossierStatus.REFUSED or not (dossier.email or dossier.mailbox):
        return None
    return _unsent(book.events(dossier.id), EventKind.REFUSED, lambda e: refusal_id(dossier, e))


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


# -- acceptances -------------------------------------------------------------------------------------

LOST = "introuvable parmi les documents conservés par csac : à demander au déposant"


@dataclass(frozen=True)
class Acceptance:
    dossier: Dossier
    event: Event  # the acceptance, with who, when and the note
    message_id: str | None = None  # the message that took the dossier whole to its region
    withheld: str | None = None  # why the dossier was not sent whole, in French, when a person may wonder
    resumed: bool = False  # an acceptance recorded earlier whose message had not gone: sent now


def acceptance_id(dossier: Dossier, event: Event) -> str:
    return message_id(dossier.id, f"acceptance-{event.seq}")


def accept(
    book: DossierBook,
    ctx: IntakeContext,
    dossier_id: str,
    by: str,
    note: str,
    at: str | None = None,
    seen: str | None = None,
) -> Acceptance:
    """Accepted by a person, whatever csac found missing: who, when and why are journalled. A dossier that
    holds every document and was never sent whole goes to its region's mailbox, whole, once.

    An acceptance already recorded whose message was never journalled (a crash in between) is not
    recorded again: its own message is sent, once.
    """
    by, note = said(by, BY, NAME), said(note, NOTE)
    dossier = required(book, dossier_id)
    dossier, event, resumed = _decision(
        book, dossier, DossierStatus.ACCEPTED, by, note, at, _unsent_acceptance(book, dossier), seen
    )
    if not _whole_due(dossier):
        return Acceptance(dossier, event, withheld=_withheld(dossier))
    held = book.documents(dossier.id)
    message = acceptance_message(dossier, event, whole(ctx, dossier, held), held)
    courier = Courier(ctx.config)
    courier.send(Outgoing(dossier.mailbox, message), message["X-CSAC-Deposit-Id"])
    courier.flush()
    detail = f"dossier accepté envoyé en entier à {dossier.mailbox} — {message['Message-ID']}"
    book.event(dossier.id, EventKind.MESSAGE, detail, event.by)
    return Acceptance(dossier, event, message["Message-ID"], resumed=resumed)


def _withheld(dossier: Dossier) -> str | None:
    """Why an accepted dossier does not go whole to its region; None when it goes, or went when complete."""
    if dossier.completed_at is not None:
        return None
    lacking = [MISSING_FR[code] for code in dict.fromkeys(dossier.codes) if code in ABSENT.values()]
    if lacking:
        return f"il y manque encore : {', '.join(lacking)} ; il n'est pas envoyé en entier à la région"
    if not dossier.mailbox:
        return "sa région n'est pas connue : il n'est envoyé en entier à personne"
    return None


def _whole_due(dossier: Dossier) -> bool:
    """Accepted, holding every document, and never sent whole: never announced complete (under review, or
    incomplete for what the person accepted)."""
    return (
        dossier.status == DossierStatus.ACCEPTED and dossier.completed_at is None and not _withheld(dossier)
    )


def _unsent_acceptance(book: DossierBook, dossier: Dossier) -> Event | None:
    """The acceptance in force whose whole dossier no event records as sent, if one was due."""
    if not _whole_due(dossier):
        return None
    return _unsent(book.events(dossier.id), EventKind.ACCEPTED, lambda e: acceptance_id(dossier, e))


def whole(ctx: IntakeContext, dossier: Dossier, held: list[Held]) -> Parcel:
    """Its current documents read again, as intake sends a completed dossier (forward.dossier_parcel): each
    under the number of the deposit that brought it; a kept file lost is named as not attached."""
    kept = Documents(ctx.workspace.documents)
    read = [(h, read_kept(ctx, kept, h)) for h in held]
    parcel = dossier_parcel(f"dossier-{dossier.id}.zip", [(h.deposit_id, d) for h, d in read if d])
    lost = tuple(Withheld(f"{h.deposit_id}/{h.name}", LOST) for h, d in read if d is None)
    return replace(parcel, held=parcel.held + lost)


def acceptance_message(dossier: Dossier, event: Event, parcel: Parcel, held: list[Held]):
    """The French message that gives the region the accepted dossier, whole, with who accepted it and why."""
    who = one_line(dossier.signatory or f"SIRET {dossier.siret}", NAME)
    deposits = list(dict.fromkeys(h.deposit_id for h in held))
    lines = [
        "Bonjour,",
        "",
        f"Le dossier n° {dossier.id} ({who}, SIRET {dossier.siret}, {convention_fr(dossier.variant)}) a été "
        f"accepté par {event.by} le {french_time(event.at)}.",
        f"Note : {event.detail}",
        "",
        f"Il est joint en entier : {parcel.filename}, chaque document sous le numéro du dépôt qui l'a apporté "
        f"(dépôt(s) n° {', n° '.join(deposits)}).",
        *parcel_notes(parcel),
        "",
        "Documents du dossier :",
        *[f"  - {role_fr(h.role)} : {one_line(h.name, NAME)} (dépôt n° {h.deposit_id})" for h in held],
        *_amounts(dossier),
        *_waived(dossier, event),
        "",
        f"Le dossier peut être traité. Une fois traité : csac dossier set {dossier.id} --state traite --by NOM",
        "",
        "— csac, Resah",
    ]
    subject = f"[CSAC] {who} — {convention_fr(dossier.variant)} — accepté — dossier n° {dossier.id}"
    msg = compose(
        dossier.mailbox, subject, "\n".join(lines), acceptance_id(dossier, event),
        dt.datetime.fromisoformat(event.at),
    )  # fmt: skip
    for name, value in (("X-CSAC-Dossier-Id", dossier.id), ("X-CSAC-Status", dossier.status.value)):
        add_header(msg, name, value)
    if deposits:
        add_header(msg, "X-CSAC-Deposit-Id", deposits[-1])  # `csac status` lists it with its deposit
    if parcel.active:
        add_header(msg, "X-CSAC-Active-Content", "yes")
    msg.add_attachment(
        parcel.data, maintype="application", subtype="zip", filename=one_line(parcel.filename, NAME)
    )
    return msg


def _amounts(dossier: Dossier) -> list[str]:
    if dossier.due is None and dossier.paid is None:
        return []
    due, paid = (format_eur(a) if a is not None else "non déterminé" for a in (dossier.due, dossier.paid))
    return ["", f"Contribution due : {due} ; montant commandé : {paid}."]


def _waived(dossier: Dossier, event: Event) -> list[str]:
    """What csac found and the person accepted with the dossier: said, never hidden."""
    if not dossier.problems:
        return []
    return [
        "",
        f"Relevé par csac et accepté par {event.by} :",
        *[f"  - {one_line(p.message, 1000)}" for p in dossier.problems],
    ]


# -- the notice, sent again ----------------------------------------------------------------------------

RESENT = ".notice-"  # in the Message-ID of a notice sent again: <deposit.notice-N@…>


@dataclass(frozen=True)
class Resent:
    dossier: Dossier
    deposit_id: str  # the deposit whose notice was sent again: the dossier's latest
    message_id: str
    to: str


def resend_notice(book: DossierBook, journal: Journal, courier: Courier, dossier_id: str, by: str) -> Resent:
    """The depositor's notice of the dossier's latest deposit sent again, word for word, dated now: a
    depositor who lost it, or whose relay refused it. Each resend is its own message (numbered after the
    earlier resends) and is journalled with who asked for it."""
    by = said(by, BY, NAME)
    dossier = required(book, dossier_id)
    deposits = book.deposits(dossier.id)
    report = journal.report(deposits[-1]) if deposits else None
    outgoing = depositor_notice(report) if report else None
    if outgoing is None:
        raise ArgumentError(
            f"le dossier {dossier.id} n'a pas d'avis à renvoyer : aucune adresse du déposant dans son dernier dépôt"
        )
    number = 1 + sum(
        RESENT in (e.detail or "") for e in book.events(dossier.id) if e.kind == EventKind.MESSAGE
    )
    msg = outgoing.message
    msg.replace_header("Message-ID", message_id(report.deposit_id, f"notice-{number}"))
    msg.replace_header("Date", format_datetime(dt.datetime.now().astimezone()))
    courier.send(outgoing, report.deposit_id)
    courier.flush()
    book.event(dossier.id, EventKind.MESSAGE, f"avis renvoyé à {msg['To']} — {msg['Message-ID']}", by)
    return Resent(dossier, report.deposit_id, msg["Message-ID"], msg["To"])
