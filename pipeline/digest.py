"""The digest for a regional team: what came in since a date, and who it waits on.

Read from the journal's reports; written in French, as plain text and HTML,
and sent, when asked, through the same delivery as everything else.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .deliver import Outgoing, compose
from .money import format_eur
from .notices import STATUS_FR
from .regions import Region


@dataclass(frozen=True)
class Digest:
    region: Region
    since: dt.date
    reports: tuple[dict, ...]

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.reports)

    def total(self, key: str) -> Decimal:
        return sum((amount(r.get(key)) or Decimal(0) for r in self.reports), Decimal(0))

    @staticmethod
    def waits_on(report: dict) -> str:
        if report["status"] == "complete":
            return "de l'équipe régionale (dossier complet à traiter)"
        codes = ", ".join(p["code"] for p in report["problems"])
        return f"du déposant ({codes})"


def amount(text: str | None) -> Decimal | None:
    if not text or "€" not in text:
        return None
    try:
        return Decimal(text.replace("\u00a0", "").replace(" ", "").replace("€", "").replace(",", "."))
    except InvalidOperation:
        return None


def build_digest(journal: Path, region: Region, since: dt.date) -> Digest:
    if not journal.exists():
        return Digest(region, since, ())
    with closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT report FROM deposits WHERE state = 'done' AND mailbox = ? AND received_at >= ? ORDER BY received_at",
            (region.mailbox, since.isoformat()),
        ).fetchall()
    return Digest(region, since, tuple(json.loads(r[0]) for r in rows))


def _lines(d: Digest) -> list[tuple[str, str, str, str, str, str, str]]:
    return [
        (r["received_at"][:10], r.get("signatory") or r["file"], r.get("variant") or "—", STATUS_FR[r["status"]],
         r.get("contribution_due") or "—", r.get("amount_paid") or "—", Digest.waits_on(r))
        for r in d.reports
    ]  # fmt: skip


def text(d: Digest) -> str:
    head = [
        f"Synthèse des dépôts — {d.region.name} — depuis le {d.since:%d/%m/%Y}",
        "",
        f"Dépôts reçus : {len(d.reports)} (complets : {d.count('complete')}, incomplets : {d.count('incomplete')})",
        f"Contributions dues : {format_eur(d.total('contribution_due'))} ; montants des bons de commande : {format_eur(d.total('amount_paid'))}",
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
        f"{len(d.reports)} dépôt(s), {d.count('complete')} complet(s), {d.count('incomplete')} incomplet(s). "
        f"Contributions dues : {e(format_eur(d.total('contribution_due')))} ; commandées : {e(format_eur(d.total('amount_paid')))}.</p>"
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
