"""The digest for a regional team: what came in since a date, and who it waits on.

Read from the journal's reports; written in French, as plain text and HTML,
and sent, when asked, through the same delivery as everything else.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .deliver import Outgoing, compose
from .journal import Journal
from .money import format_eur
from .notices import STATUS_FR
from .regions import Region
from .report import IntakeReport, Verdict


@dataclass(frozen=True)
class Digest:
    region: Region
    since: dt.date
    reports: tuple[IntakeReport, ...]

    def count(self, status: Verdict) -> int:
        return sum(r.status == status for r in self.reports)

    def total_due(self) -> Decimal:
        """The contributions due; one on quote or to be checked counts for nothing."""
        return sum((r.contribution.amount or Decimal(0) for r in self.reports if r.contribution), Decimal(0))

    def total_paid(self) -> Decimal:
        return sum((r.amount_paid or Decimal(0) for r in self.reports), Decimal(0))

    @staticmethod
    def waits_on(report: IntakeReport) -> str:
        if report.status == Verdict.COMPLETE:
            return "de l'équipe régionale (dossier complet à traiter)"
        return f"du déposant ({', '.join(report.codes)})"


def build_digest(journal: Path, region: Region, since: dt.date) -> Digest:
    if not journal.exists():
        return Digest(region, since, ())
    return Digest(
        region,
        since,
        tuple(IntakeReport.from_json(r) for r in Journal(journal).reports(region.mailbox, since.isoformat())),
    )


def _lines(d: Digest) -> list[tuple[str, str, str, str, str, str, str]]:
    return [
        (r.received_at[:10], r.signatory or r.file, r.variant or "—", STATUS_FR[r.status],
         r.due_text or "—", r.paid_text or "—", Digest.waits_on(r))
        for r in d.reports
    ]  # fmt: skip


def text(d: Digest) -> str:
    head = [
        f"Synthèse des dépôts — {d.region.name} — depuis le {d.since:%d/%m/%Y}",
        "",
        f"Dépôts reçus : {len(d.reports)} (complets : {d.count(Verdict.COMPLETE)}, incomplets : {d.count(Verdict.INCOMPLETE)})",
        f"Contributions dues : {format_eur(d.total_due())} ; montants des bons de commande : {format_eur(d.total_paid())}",
        "",
    ]
    body = [f"- {day} — {who} — {variant} — {status} — dû {due}, commandé {paid} — en attente {wait}"
            for day, who, variant, status, due, paid, wait in _lines(d)]  # fmt: skip
    return "\n".join(head + (body or ["Aucun dépôt sur la période."]) + ["", "— csac, Resah"])


def html_page(d: Digest) -> str:
    e = html.escape
    rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in line) + "</tr>" for line in _lines(d))
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Reçu", "Signataire", "Convention", "Verdict", "Dû", "Commandé", "En attente de")
    )
    return (
        f'<!DOCTYPE html><html lang="fr"><meta charset="utf-8"><title>Synthèse — {e(d.region.name)}</title>'
        f"<body><h1>Synthèse des dépôts — {e(d.region.name)}</h1><p>Depuis le {d.since:%d/%m/%Y} : "
        f"{len(d.reports)} dépôt(s), {d.count(Verdict.COMPLETE)} complet(s), {d.count(Verdict.INCOMPLETE)} incomplet(s). "
        f"Contributions dues : {e(format_eur(d.total_due()))} ; commandées : {e(format_eur(d.total_paid()))}.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>\n"
    )


def message(d: Digest, today: dt.date, now: dt.datetime | None = None) -> Outgoing:
    """The digest as mail, built like every other message (`compose`): one Message-ID per region,
    period and day, so that sending it twice a day delivers it once; dated `now` (by default, the
    moment it is built)."""
    subject = f"[CSAC] Synthèse des dépôts — {d.region.name} — depuis le {d.since:%d/%m/%Y}"
    mid = f"<digest-{d.region.id}-{d.since.isoformat()}-{today.isoformat()}@csac.resah.fr>"
    msg = compose(d.region.mailbox, subject, text(d), mid, now or dt.datetime.now().astimezone())
    msg.add_alternative(html_page(d), subtype="html")
    return Outgoing(d.region.mailbox, msg)
