"""The French messages: a summary for the regional team, a notice for the depositor.

The summary lets a regional team act without opening every file; the
notice tells the depositor exactly what to send. Both are plain text.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

from .deliver import DEPOSITORS, Outgoing, new_message
from .textnorm import printable

STATUS_FR = {"complete": "complet", "incomplete": "incomplet", "rejected": "refusé"}
ROLE_FR = {
    "convention": "convention",
    "annex": "annexe « Vos besoins »",
    "purchase_order": "EJ / bon de commande",
    "other": "autre document",
}


def _when(report: dict) -> str:
    return dt.datetime.fromisoformat(report["received_at"]).strftime("%d/%m/%Y à %H:%M")


def _invoice_by_mail(report: dict) -> bool:
    """The portal's "code service Chorus" field takes an e-mail address for invoices by mail."""
    return "@" in (report.get("code_service") or "")


def _invoice_line(report: dict) -> str:
    code = report.get("code_service")
    if not code:
        return "Code service Chorus : non renseigné"
    if _invoice_by_mail(report):
        return f"Facturation : titre de recettes à envoyer par courriel à {code} (pas de dépôt Chorus)"
    return f"Code service Chorus : {code}"


def summary(report: dict) -> str:
    lines = [
        "Bonjour,",
        "",
        f"Un dépôt de convention a été reçu le {_when(report)} ({report['file']}).",
        f"Verdict : {STATUS_FR[report['status']].upper()}",
        "",
        f"Signataire : {report.get('signatory') or 'non lu'}",
        f"SIRET : {report.get('siret') or 'non lu'}",
        f"Convention : {report.get('variant') or 'non reconnue'}",
        f"Signature : {(report.get('signature') or {}).get('detail', 'sans objet')}",
        f"Contribution due : {report.get('contribution_due') or 'non déterminée'} ; montant du bon de commande : {report.get('amount_paid') or 'non lu'}",
        f"Référence de commande (EJ / bon de commande) : {report.get('order_number') or 'non lue'}",
        _invoice_line(report),
        f"Région : {report.get('region')} (déterminée par : {report.get('region_source') or 'aucune source'})",
        "",
        "Documents :",
        *[
            f"  - {d['name']} : {ROLE_FR[d['role']]}" + (f" ({d['note']})" if d.get("note") else "")
            for d in report["documents"]
        ],
    ]
    if report["problems"]:
        lines += ["", "À régulariser :", *[f"  - [{p['code']}] {p['message']}" for p in report["problems"]]]
    else:
        lines += ["", "Rien ne manque : le dépôt peut être traité."]
    if report.get("email"):
        lines += ["", f"Le déposant ({report['email']}) a été prévenu."]
    lines += [
        "",
        f"Dépôt n° {report['deposit_id']} — le fichier déposé est joint (sha256 {report['sha256']}).",
        "",
        "— csac, Resah",
    ]
    return "\n".join(lines)


def notice(report: dict) -> str:
    head = [
        "Madame, Monsieur,",
        "",
        f"Nous avons bien reçu votre dépôt du {_when(report)} ({report['file']}), enregistré sous le n° {report['deposit_id']}.",
        "",
    ]
    if report["status"] == "complete":
        body = [
            "Votre dossier est complet : convention signée, annexe et bon de commande. Il est transmis à l'équipe "
            f"du Resah de votre région ({report.get('mailbox')}), qui reviendra vers vous pour la mise à disposition.",
        ]
    else:
        body = ["Votre dossier ne peut pas encore être traité. Merci de nous faire parvenir :", ""]
        body += [f"  - {p['message']}" for p in report["problems"]]
        body += [
            "",
            "Vous pouvez déposer à nouveau l'ensemble des documents dans l'espace de dépôt des adhésions.",
        ]
    if _invoice_by_mail(report):
        body += [
            "",
            f"Le titre de recettes vous sera adressé par courriel à {report['code_service']}, comme demandé dans le formulaire.",
        ]
    contact = (
        f"Pour toute question : {report['mailbox']}"
        if report.get("mailbox")
        else "Pour toute question : 01.55.78.54.54 (tapez 1)"
    )
    return "\n".join(head + body + ["", contact, "", "Le Resah — centrale d'achat"])


def region_message(report: dict, zip_bytes: bytes) -> Outgoing:
    subject = f"[CSAC] Dépôt {STATUS_FR[report['status']]} — {report.get('signatory') or report['file']} — {report.get('variant') or 'convention non reconnue'}"
    msg = new_message(
        report["mailbox"], subject, summary(report), report["deposit_id"], "region", report["received_at"]
    )
    msg["X-CSAC-Status"] = report["status"]
    msg.add_attachment(zip_bytes, maintype="application", subtype="zip", filename=report["file"])
    return Outgoing(report["mailbox"], msg)


def depositor_notice(report: dict) -> Outgoing | None:
    if not report.get("email"):
        return None
    subject = (
        "Resah — accusé de réception de votre convention"
        if report["status"] == "complete"
        else "Resah — votre dépôt de convention est incomplet"
    )
    msg: EmailMessage = new_message(
        report["email"], subject, notice(report), report["deposit_id"], "notice", report["received_at"]
    )
    if report.get("mailbox"):
        msg["Reply-To"] = report["mailbox"]
        if (
            report["status"] == "incomplete"
        ):  # the region follows the regularisation up (seed: "par courriel à l'adresse de votre région")
            msg["Cc"] = report["mailbox"]
    return Outgoing(DEPOSITORS, msg)


def quarantine_notice(report: dict, mailbox: str, folder: str) -> Outgoing:
    """Tell the quarantine mailbox; the refused file itself stays in the quarantine folder.

    The file's name is whatever the depositor typed: it is made printable before it is shown.
    """
    name = printable(report["file"], 120)
    lines = [
        f"Un dépôt a été refusé le {_when(report)} ({name}, sha256 {report['sha256']}).",
        "",
        *[f"  - [{p['code']}] {p['message']}" for p in report["problems"]],
        "",
        f"Le fichier est conservé, intact, dans {folder} avec le motif du refus. Il n'est pas joint à ce message.",
        "",
        "— csac, Resah",
    ]
    subject = f"[CSAC] Dépôt refusé — {name}"
    return Outgoing(
        mailbox,
        new_message(
            mailbox, subject, "\n".join(lines), report["deposit_id"], "quarantine", report["received_at"]
        ),
    )
