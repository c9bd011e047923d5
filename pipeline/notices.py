"""The French messages: a summary for the regional team, a notice for the depositor.

The summary lets a regional team act without opening every file; the
notice tells the depositor exactly what to send. Both are plain text.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

from . import active
from .deliver import DEPOSITORS, Outgoing, add_header, new_message
from .facts import quality
from .forward import Parcel
from .report import STATUS_FR, IntakeReport, Role, Verdict
from .rules import plausible_reference, reference_fr
from .untrusted import one_line, quoted, quoted_lines

REVIEW_FR = "à vérifier"  # a deposit or dossier a person checks before it is treated (pipeline/conflicts.py)
NAME = 120  # characters of a file or document name shown
ORGANISATION = 80  # characters of an organisation's name in a subject
LINE = 1000  # characters of one problem or note: messages are single sentences
ROLE_FR = {
    Role.CONVENTION: "convention",
    Role.ANNEX: "annexe « Vos besoins »",
    Role.PURCHASE_ORDER: "EJ / bon de commande",
    Role.BULLETIN: "bulletin d'adhésion",
    Role.OTHER: "autre document",
}


DOSSIER_FR = {"complete": "complet", "incomplete": "incomplet", "accepted": "accepté", "refused": "refusé"}
DONE = ("complete", "accepted")  # a dossier nothing more is asked for
NOT_SENT = ("form_invalid", "region_unknown")  # asked in a reply; nothing to do
SEND_ONLY = (
    "Inutile de renvoyer les documents déjà reçus : déposez uniquement ces pièces, avec le formulaire, "
    "dans l'espace de dépôt des adhésions ; elles seront jointes à votre dossier."
)
SEND_THESE = (
    "Déposez ces pièces, avec le formulaire, dans l'espace de dépôt des adhésions."  # nothing kept yet
)
SIGNATURE = "Le Resah — centrale d'achat"


def convention_ref(variant: str) -> str:
    """ "2021-045-lot2" as people write it: "2021-045 lot 2"."""
    number, _, lot = variant.partition("-lot")
    return number + (f" lot {lot}" if lot else "")


def convention_fr(variant: str) -> str:
    """ "2021-045-lot2" as people write it in a sentence: "accord-cadre 2021-045 lot 2"."""
    return f"accord-cadre {convention_ref(variant)}"


def subject_of(report: IntakeReport, state: str, number: str | None = None) -> str:
    """What a message is about, for its subject: the convention(s) with their lot, the organisation, the
    state ("dossier complet", "dépôt refusé"…) and the deposit number (this one unless `number` is given).

    "Convention 2021-045 lot 4 — Communauté d'Agglomération de Béthune-Bruay — dossier complet (n° …)".
    The organisation is the one the documents name, else the form's raison sociale, on one line. The
    subject starts with a plain word ("Convention", "3 conventions"), whatever follows.
    """
    variants = [d.variant for d in report.dossiers] or [v for v in (report.variant,) if v]
    what = (
        f"{len(variants)} conventions"
        if len(variants) > 1
        else " ".join(("Convention", *map(convention_ref, variants)))
    )
    who = one_line(report.signatory or "", ORGANISATION)
    return " — ".join(p for p in (what, who, f"{state} (n° {number or report.deposit_id})") if p)


def dossier_subject(variant: str, organisation: str | None, state: str, dossier_id: str) -> str:
    """A message about a dossier rather than a deposit (reminder, decision): said as the notices say it."""
    who = one_line(organisation or "", ORGANISATION)
    parts = (f"Convention {convention_ref(variant)}", who, f"{state} (dossier n° {dossier_id})")
    return " — ".join(p for p in parts if p)


def _when(report: IntakeReport) -> str:
    return dt.datetime.fromisoformat(report.received_at).strftime("%d/%m/%Y à %H:%M")


def french_date(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%d/%m/%Y")


def state_fr(report: IntakeReport) -> str:
    """The verdict as people read it: complet, incomplet, refusé, or à vérifier."""
    return REVIEW_FR if report.review else STATUS_FR[report.status]


def _problems(report: IntakeReport) -> list[str]:
    """One line per problem; its details (names, what the form said) were quoted by the rules. The codes
    are for scripts: in the X-CSAC-Problems header, never in the text."""
    return [f"  - {one_line(p.message, LINE)}" for p in report.problems]


def _invoice_by_mail(report: IntakeReport) -> bool:
    """The portal's "code service Chorus" field takes an e-mail address for invoices by mail."""
    return "@" in (report.code_service or "")


def _invoice_line(report: IntakeReport) -> str:
    code = report.code_service
    if not code:
        return "Code service Chorus : non renseigné"
    if _invoice_by_mail(report):
        return f"Facturation : titre de recettes à envoyer par courriel à {code} (pas de dépôt Chorus)"
    return f"Code service Chorus : {one_line(code, 100)}"


def _caution(report: IntakeReport) -> list[str]:
    """Active content and held-back files, before anything else the team would open."""
    lines = []
    flagged = [d for d in report.documents if d.active_content]
    if flagged:
        lines += ["", "Attention — contenu actif (à n'ouvrir qu'avec précaution) :"]
        lines += [f"  - {quoted(d.name, NAME)} : {active.describe(d.active_content)}" for d in flagged]
    if report.withheld:
        lines += ["", "Fichiers retenus, non transmis avec ce message :"]
        lines += [f"  - {quoted(h.name, NAME)} : {h.reason}" for h in report.withheld]
        if report.archived_to:
            lines += [f"  Le dépôt d'origine est conservé pour contrôle : {report.archived_to}"]
    return lines


def _region_line(report: IntakeReport) -> str:
    if report.region_source:
        return f"Région : {report.region} (déterminée par : {report.region_source})"
    return f"Région : {report.region or 'non déterminée'} — ni les documents ni le formulaire ne l'indiquent"


def summary(report: IntakeReport, dossiers: tuple[Parcel, ...] = (), crops: tuple[str, ...] = ()) -> str:
    """The region's text; `crops`: the names of the signature crops attached (pipeline/ink.py)."""
    lines = ["Bonjour,", "", *_warnings(report)]
    lines += [
        f"Un dépôt de convention a été reçu le {_when(report)} ({one_line(report.file, NAME)}).",
        f"Verdict : {_verdict(report)}",
        "",
        f"Établissement : {one_line(report.signatory or 'non lu', 300)}",
        f"Signé par : {_signed_by(report)}",
        f"SIRET : {report.siret or 'non lu'}",
        f"Convention : {_conventions(report)}",
        f"Signature : {_signature(report)}",
        *[f"Signature manuscrite à vérifier : voir l'image jointe {one_line(name, NAME)}" for name in crops],
        f"Contribution due : {report.due_text or 'non déterminée'} ; montant du bon de commande : {report.paid_text or 'non lu'}",
        f"Référence de commande (EJ / bon de commande) : {one_line(report.order_number or 'non lue', 60)}",
        _invoice_line(report),
        _region_line(report),
        *_depositor(report),
        "",
        "Documents :",
        *[
            f"  - {quoted(d.name, NAME)} : {ROLE_FR[d.role]}"
            + (f" ({one_line(d.note, LINE)})" if d.note else "")
            for d in report.documents
        ],
    ]
    lines += _caution(report)
    lines += _dossiers(report) + _whole(dossiers)
    lines += _to_do(report)
    lines += _told(report)
    lines += [
        "",
        f"Dépôt n° {report.deposit_id} — "
        + ("seuls ses documents lus sont joints" if report.withheld else "le fichier déposé est joint")
        + f" (sha256 du dépôt : {report.sha256}).",
        "",
        "— csac, Resah",
    ]
    return "\n".join(lines)


def _warnings(report: IntakeReport) -> list[str]:
    """First of all: what the team checks before acting (pipeline/conflicts.py)."""
    if not report.warnings:
        return []
    head = "À VÉRIFIER AVANT TOUT TRAITEMENT :" if report.review else "Points d'attention :"
    return [head, *[f"  - {one_line(w.message, LINE)}" for w in report.warnings], ""]


def _verdict(report: IntakeReport) -> str:
    if not report.review:
        return STATUS_FR[report.status].upper()
    if report.status == Verdict.COMPLETE:
        return "À VÉRIFIER (rien ne manque dans les documents, mais voir les points en tête de ce message)"
    return "À VÉRIFIER (incomplet ; voir aussi les points en tête de ce message)"


def _signed_by(report: IntakeReport) -> str:
    """The signer's name from the certificate, and their quality: the certificate's title, else the one the
    convention gives its representative."""
    sig = report.signature
    role = (sig.title if sig else None) or quality(report.representative)
    said = f", {one_line(role, 80)}" if role else " (qualité non indiquée)"
    if sig and sig.signer:
        named = one_line(sig.signer, 120)
        return named if role and named.casefold().endswith(role.casefold()) else named + said
    if report.representative:
        return f"{quoted(report.representative, 120)} d'après la convention (nom non lu sur la signature)"
    return "nom non lu sur la signature (qualité non indiquée)"


def _depositor(report: IntakeReport) -> list[str]:
    """What the depositor gave to be reached, and wrote: quoted as theirs."""
    phone = quoted(report.telephone, 30) if report.telephone else "non indiqué"
    lines = [f"Téléphone du déposant : {phone}", f"Courriel du déposant : {report.email or 'non indiqué'}"]
    if not report.message:
        return [*lines, "Message du déposant : aucun"]
    return [
        *lines,
        "Message du déposant (ses propres mots, tels qu'écrits dans le formulaire) :",
        *[f"  {line}" for line in quoted_lines(report.message)],
    ]


def _to_do(report: IntakeReport) -> list[str]:
    """What is left to regularise, and how a person ends a review."""
    return _to_regularise(report) + (_accept(report) if report.review else [])


def _to_regularise(report: IntakeReport) -> list[str]:
    """The diagnosis, for the team: what is wrong, as the rules said it."""
    general = _general(report)
    if general:
        return ["", "À régulariser :", *[f"  - {one_line(p.message, LINE)}" for p in general]]
    if report.problems:
        return ["", "À régulariser : ce que chaque dossier ci-dessus indique."]
    if report.review:
        return [
            "",
            "Rien ne manque dans les documents, mais le dépôt est à vérifier (voir en tête de ce message).",
        ]
    if report.contribution and report.contribution.to_check:  # csac could not be sure of the amount due
        return [
            "",
            "Rien ne manque côté déposant ; le montant de la contribution est à vérifier avant traitement.",
        ]
    return ["", "Rien ne manque : le dépôt peut être traité."]


def _accept(report: IntakeReport) -> list[str]:
    """How a person ends the review: each dossier under review is treated once accepted."""
    return [
        f"Une fois vérifié, acceptez le dossier : csac dossier accept {d.dossier_id} --by NOM --note TEXTE"
        for d in report.dossiers
        if d.review
    ]


def _told(report: IntakeReport) -> list[str]:
    """What the depositor was told, word for word: the region receives no copy of the notice itself."""
    if not report.email:
        why = (
            "le formulaire de dépôt n'a pas pu être lu, ou ne donne pas d'adresse électronique valide (voir "
            "ci-dessus)"
            if "form_invalid" in report.codes
            else "le formulaire de dépôt ne donne pas d'adresse électronique valide"
        )
        return ["", f"Aucun avis n'a été envoyé au déposant : {why}. Prévenez-le si nécessaire."]
    told = [f"    {line}".rstrip() for line in notice(report).splitlines()]
    return ["", f"Message envoyé au déposant ({report.email}) — objet : {notice_subject(report)}", "", *told]


def _signature(report: IntakeReport) -> str:
    if len(report.dossiers) > 1:
        return "celle de chaque convention, ci-dessous"
    return one_line(report.signature.detail if report.signature else "sans objet", LINE)


def _conventions(report: IntakeReport) -> str:
    if len(report.dossiers) > 1:
        return f"{len(report.dossiers)} conventions ({', '.join(convention_fr(d.variant) for d in report.dossiers)})"
    return convention_fr(report.variant) if report.variant else "non reconnue"


def _dossiers(report: IntakeReport) -> list[str]:
    """Each dossier the deposit concerns: its state after it, and the deposits it was built from."""
    if not report.dossiers:
        return []
    lines = ["", "Dossiers (un signataire, une convention) :"]
    for d in report.dossiers:
        earlier = f" ; dépôts précédents : {', '.join(d.earlier)}" if d.earlier else ""
        due = f" ; contribution due : {d.contribution.text}" if d.contribution else ""
        state = REVIEW_FR if d.review else DOSSIER_FR[d.status]
        lines.append(f"  - {d.dossier_id} ({convention_fr(d.variant)}) : {state}{due}{earlier}")
        lines += (
            [f"      - {one_line(p.message, LINE)}" for p in d.problems] if len(report.dossiers) > 1 else []
        )
    return lines


def _whole(parcels: tuple[Parcel, ...]) -> list[str]:
    """The dossiers this deposit completed, attached whole: what in them could run, what was held back."""
    if not parcels:
        return []
    lines = [
        "",
        f"Dossier(s) complété(s) par ce dépôt, joints en entier : {', '.join(p.filename for p in parcels)}.",
    ]
    return lines + [line for p in parcels for line in parcel_notes(p)]


def parcel_notes(parcel: Parcel) -> list[str]:
    """What the team must know of an attached dossier before opening it: what could run, what is not in it."""
    lines = [f"  Attention — contenu actif dans {parcel.filename} : {', '.join(parcel.active)}."]
    return (lines if parcel.active else []) + [
        f"  Non joint : {quoted(h.name, NAME)} ({h.reason})" for h in parcel.held
    ]


def _general(report: IntakeReport) -> list:
    """The problems to list once: all of them for one dossier; for several, those of none in particular
    (each dossier's are listed with it)."""
    if len(report.dossiers) < 2:
        return list(report.problems)
    return [p for p in report.problems if not any(p in d.problems for d in report.dossiers)]


def _follow_up_line(report: IntakeReport) -> list[str]:
    """Said without the earlier deposits' numbers: the depositor may not be the one who sent them."""
    if not any(d.earlier for d in report.dossiers):
        return []
    return ["Ce dépôt est joint aux documents que nous avions déjà reçus pour votre dossier.", ""]


def things_to_send(problems) -> list[str]:
    """The pieces to send, as things (never a diagnosis); the form's are asked apart, and the region not
    found is information. A problem kept by an older csac, without its ask, is said as it was."""
    return [one_line(p.ask or p.message, LINE) for p in problems if p.code not in NOT_SENT]


def to_send(problems) -> list[str]:
    """The pieces to send, one a line, as the notice lists them."""
    return [f"  – {thing}" for thing in things_to_send(problems)]


def _form_lines(problems) -> list[str]:
    """The form's problems, field by field in the portal's words: it cannot be edited once submitted."""
    fields = [line for p in problems if p.code == "form_invalid" for line in p.ask.splitlines() if line]
    if not fields:
        return []
    return [
        "",
        "Le formulaire de dépôt, déjà envoyé depuis le portail, ne peut plus être modifié. Répondez simplement "
        "à ce message en indiquant la bonne valeur de chaque champ ci-dessous ; l'équipe du Resah corrigera "
        "votre dossier :",
        "",
        *[f"  – {one_line(line, LINE)}" for line in fields],
    ]


def _noted(problems) -> list[str]:
    """What the depositor has nothing to do about, told as information: the region not found."""
    return [f"À noter : {one_line(p.message, LINE)}" for p in problems if p.code == "region_unknown"]


def _missing(report: IntakeReport) -> list[str]:
    """One dossier, or a deposit no dossier takes: what to send, once, and nothing else."""
    lines = ["Votre dossier ne peut pas encore être traité."]
    things = to_send(report.problems)
    if things:
        kept = any(d.role != Role.OTHER for d in report.documents)  # else there is nothing not to send again
        lines += ["", "Pour le compléter, merci de nous envoyer uniquement :", "", *things, ""]
        lines += [SEND_ONLY if kept else SEND_THESE]
    lines += _form_lines(report.problems)
    noted = _noted(report.problems)
    return lines + ([""] + noted if noted else [])


def _per_dossier(report: IntakeReport) -> list[str]:
    """A deposit of several conventions: what each needs, convention by convention, then what concerns
    the deposit as a whole."""
    lines, asked = [f"Votre dépôt concerne {len(report.dossiers)} conventions :", ""], False
    for d in report.dossiers:
        if d.review and d.status in DONE:
            lines.append(
                f"  - {convention_fr(d.variant)} (dossier n° {d.dossier_id}) : dossier reçu, en cours de "
                "vérification par l'équipe du Resah de votre région."
            )
            continue
        things = to_send(d.problems) if d.status not in DONE else []
        lines.append(
            f"  - {convention_fr(d.variant)} (dossier n° {d.dossier_id}) : dossier {DOSSIER_FR[d.status]}"
            + (" ; merci de nous envoyer uniquement :" if things else ".")
        )
        lines += [f"    {line}" for line in things]
        asked = asked or bool(things)
    general = [p for p in report.problems if not any(p in d.problems for d in report.dossiers)]
    things = to_send(general)
    if things:
        lines += ["", "Pour l'ensemble du dépôt, merci de nous envoyer aussi :", "", *things]
    lines += ["", SEND_ONLY] if asked or things else []
    lines += _form_lines(report.problems)
    noted = _noted(general)
    return lines + ([""] + noted if noted else [])


def _complete(report: IntakeReport) -> list[str]:
    """The acknowledgement: what the complete dossier holds, the form's EJ number when it stands for the order."""
    held = {doc.role for d in report.dossiers for doc in d.documents} or {d.role for d in report.documents}
    reference = None if Role.PURCHASE_ORDER in held else plausible_reference(report.order_number)
    order = (
        f"{reference_fr(reference)} indiqué dans le formulaire"
        if reference
        else "votre EJ ou bon de commande"
    )
    return [
        f"Votre dossier est complet : convention signée, annexe « Vos besoins » et {order}. Il est transmis à "
        f"l'équipe du Resah de votre région ({report.mailbox}), qui reviendra vers vous pour la mise à disposition.",
    ]


def _received_line(report: IntakeReport) -> str:
    return (
        f"Nous avons bien reçu votre dépôt du {_when(report)} (fichier {quoted(report.file, NAME)}), "
        f"enregistré sous le n° {report.deposit_id}."
    )


def notice(report: IntakeReport) -> str:
    head = ["Madame, Monsieur,", "", _received_line(report), ""]
    if len(report.dossiers) == 1:
        head += [f"Référence de votre dossier : {report.dossiers[0].dossier_id}.", ""]
    head += _follow_up_line(report)
    if len(report.dossiers) > 1:
        body = _per_dossier(report)
    elif report.status == Verdict.COMPLETE and report.review:
        body = [_checking(report) + " Vous n'avez rien à envoyer d'ici là."]
    elif report.status == Verdict.COMPLETE:
        body = _complete(report)
    else:
        body = _missing(report)
        body += ["", _checking(report)] if report.review else []
    if _invoice_by_mail(report):
        body += [
            "",
            f"Le titre de recettes vous sera adressé par courriel à {report.code_service}, comme demandé dans le formulaire.",
        ]
    return "\n".join(head + body + ["", _contact(report), "", SIGNATURE])


def _contact(report: IntakeReport, mailbox: str | None = None) -> str:
    """The region's mailbox (`mailbox` when the report has none: a duplicate's is its original's)."""
    mailbox = report.mailbox or mailbox
    return f"Pour toute question : {mailbox}" if mailbox else "Pour toute question : 01.55.78.54.54 (tapez 1)"


def _checking(report: IntakeReport) -> str:
    team = f"l'équipe du Resah de votre région ({report.mailbox})" if report.mailbox else "l'équipe du Resah"
    return f"Votre dépôt est en cours de vérification par {team}, qui reviendra vers vous pour la suite."


def region_subject(report: IntakeReport) -> str:
    """Who, which accord-cadre and lot, in what state, which deposit: told apart in a list of mails."""
    who = one_line(report.signatory or report.file, 80)
    what = convention_fr(report.variant) if report.variant else "convention non reconnue"
    if len(report.dossiers) > 1:
        what = f"{len(report.dossiers)} conventions"
    return f"[CSAC] {who} — {what} — {state_fr(report)} — dépôt n° {report.deposit_id}"


def _machine_headers(msg: EmailMessage, report: IntakeReport) -> None:
    """What scripts read: the codes stay out of the text people read."""
    add_header(msg, "X-CSAC-Status", report.status.value)
    add_header(msg, "X-CSAC-Review", "yes" if report.review else "no")
    if report.problems:
        add_header(msg, "X-CSAC-Problems", ", ".join(dict.fromkeys(report.codes)))
    if report.warnings:
        add_header(msg, "X-CSAC-Warnings", ", ".join(dict.fromkeys(w.code for w in report.warnings)))


def region_message(
    report: IntakeReport,
    sent: Parcel,
    dossiers: tuple[Parcel, ...] = (),
    crops: dict[str, bytes] | None = None,
) -> Outgoing:
    """The summary, with the deposit attached: as it came, or only its documents if files were held back;
    each dossier this deposit completed, whole; and, shown in the message, `crops`: the signature zone of
    each convention of its dossiers that only a scan shows signed (forward.signature_crops)."""
    crops = crops or {}
    msg = new_message(
        report.mailbox, region_subject(report), summary(report, dossiers, tuple(crops)), report.deposit_id,
        "region", report.received_at,
    )  # fmt: skip
    _machine_headers(msg, report)
    if any(d.active_content for d in report.documents) or any(p.active for p in dossiers):
        add_header(msg, "X-CSAC-Active-Content", "yes")
    for name, png in crops.items():  # shown in the message: the team sees the signature without the ZIP
        msg.add_attachment(
            png, maintype="image", subtype="png", filename=one_line(name, NAME), disposition="inline"
        )
    for parcel in (sent, *dossiers):
        msg.add_attachment(
            parcel.data, maintype="application", subtype="zip", filename=one_line(parcel.filename, NAME)
        )
    return Outgoing(report.mailbox, msg)


def _state(report: IntakeReport) -> str:
    """The dossier state, as the depositor's subject says it."""
    several = len(report.dossiers) > 1
    if report.status == Verdict.COMPLETE and report.review:
        return "dossiers en cours de vérification" if several else "dossier en cours de vérification"
    if report.status == Verdict.COMPLETE:
        return "dossiers complets" if several else "dossier complet"
    return "dossiers à compléter" if several else "dossier incomplet"


def notice_subject(report: IntakeReport) -> str:
    return subject_of(report, _state(report))


def depositor_notice(report: IntakeReport) -> Outgoing | None:
    """To the depositor alone: the region reads it, word for word, in its own summary (one message per
    deposit), and the depositor's answer goes to the region (Reply-To)."""
    if not report.email:
        return None
    msg: EmailMessage = new_message(
        report.email, notice_subject(report), notice(report), report.deposit_id, "notice", report.received_at
    )
    if report.mailbox:
        add_header(msg, "Reply-To", report.mailbox)
    return Outgoing(DEPOSITORS, msg)


def _refused(report: IntakeReport, mailbox: str | None = None) -> str:
    """A refused deposit, told in the depositor's words: what happened, what to do, its number."""
    told = [one_line(p.ask, LINE) for p in report.problems if p.ask]
    lines = ["Madame, Monsieur,", "", _received_line(report), "", *told, ""]
    return "\n".join(lines + [_contact(report, mailbox), "", SIGNATURE])


def told(report: IntakeReport) -> str:
    """What the depositor's message says of this deposit, word for word (a page shows it too)."""
    return _refused(report) if report.status == Verdict.REJECTED else notice(report)


def headline(report: IntakeReport) -> str:
    """The deposit's state as the depositor's subject says it: "dossier complet", "dépôt refusé"…"""
    if report.status != Verdict.REJECTED:
        return _state(report)
    if "duplicate" in report.codes:
        return "dépôt déjà reçu"
    return "dépôt refusé"


def duplicate_notice(report: IntakeReport, original: dict) -> Outgoing | None:
    """A depositor who sent the same ZIP and form again: already received, under which number, what to do."""
    if not report.email:
        return None
    subject = subject_of(report, f"dépôt déjà reçu le {french_date(original['received_at'])}", original["id"])
    msg = new_message(
        report.email,
        subject,
        _refused(report, original.get("mailbox")),
        report.deposit_id,
        "duplicate",
        report.received_at,
    )
    if original.get("mailbox"):
        add_header(msg, "Reply-To", original["mailbox"])
    return Outgoing(DEPOSITORS, msg)


def rejection_notice(report: IntakeReport, state: str = "dépôt refusé") -> Outgoing | None:
    """A deposit refused (unreadable, unsafe) or set aside for a person: the depositor is told, in their
    words, never a library's; `state` is what the subject says of it."""
    if not report.email:
        return None
    msg = new_message(
        report.email, subject_of(report, state), _refused(report), report.deposit_id, "rejection",
        report.received_at,
    )  # fmt: skip
    return Outgoing(DEPOSITORS, msg)


def quarantine_notice(report: IntakeReport, mailbox: str, folder: str) -> Outgoing:
    """Tell the quarantine mailbox; the refused file itself stays in the quarantine folder. The problem
    codes go in a header, for filters; the body is for a person."""
    told = (
        f"Le déposant ({report.email}) a été prévenu."
        if report.email
        else "Aucune adresse du déposant : personne n'a été prévenu."
    )
    lines = [
        f"Un dépôt a été refusé le {_when(report)} ({one_line(report.file, NAME)}, sha256 {report.sha256}).",
        "",
        *_problems(report),
        "",
        f"Le fichier est conservé, intact, dans {folder} avec le motif du refus. Il n'est pas joint à ce message.",
        told,
        "",
        f"Dépôt n° {report.deposit_id}.",
        "",
        "— csac, Resah",
    ]
    subject = f"[CSAC] Dépôt refusé — {one_line(report.file, NAME)} (n° {report.deposit_id})"
    msg = new_message(mailbox, subject, "\n".join(lines), report.deposit_id, "quarantine", report.received_at)
    _machine_headers(msg, report)
    return Outgoing(mailbox, msg)
