"""The digest for a regional team: its dossiers, what each waits for, and who never answered.

A dossier (one signatory on one variant) is counted once, however many
deposits it took: the totals are the dossiers' dues and orders. The
dossiers awaiting regularisation come oldest first, with their age and what
is missing, whenever they were opened. From the register of rendered
signatories come those who were sent a convention and never returned it
(no dossier for that SIRET and variant). Dates, states, conventions and what
is missing are written in French (pipeline/dates.py, casefile.py), never as
codes. Plain text and HTML, sent, when asked, through the same delivery as
everything else.

The triage mailbox gets its own digest: the deposits whose region csac could
not tell, what was read of each, and what a clerk does with them.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from decimal import Decimal
from functools import singledispatch
from pathlib import Path

from . import casefile, register
from .dates import age, local_day, long_date
from .deliver import Outgoing, compose
from .dossiers import Dossier, DossierBook, DossierStatus
from .journal import Journal
from .money import format_eur
from .notices import DOSSIER_FR, LINE, REVIEW_FR, STATUS_FR, convention_fr
from .regions import Region
from .report import ON_QUOTE, IntakeReport
from .untrusted import one_line

NAME = 300  # characters of a signatory's name shown


@dataclass(frozen=True)
class Unreturned:
    """A signatory sent a convention (rendered, in the register) that never came back."""

    siret: str
    name: str
    variant: str
    due: Decimal | None  # None: on quote


@dataclass(frozen=True)
class Digest:
    region: Region
    since: dt.date
    dossiers: tuple[Dossier, ...] = ()  # the region's dossiers with something new since `since`
    awaiting: tuple[Dossier, ...] = ()  # its dossiers still incomplete, oldest first, whenever opened
    deposits: int = 0  # deposits received since `since`
    unreturned: tuple[Unreturned, ...] = ()
    today: dt.date = field(default_factory=dt.date.today)

    def count(self, status: DossierStatus) -> int:
        """Dossiers in that state; one under review is counted apart (`reviewed`), never as complete."""
        return sum(d.status == status and not d.review for d in self.dossiers)

    def reviewed(self) -> int:
        return sum(d.review for d in self.dossiers)

    def total_due(self) -> Decimal:
        """The contributions due, once per dossier; one on quote or to be checked counts for nothing."""
        return sum((d.due or Decimal(0) for d in self.dossiers), Decimal(0))

    def total_paid(self) -> Decimal:
        return sum((d.paid or Decimal(0) for d in self.dossiers), Decimal(0))

    def age(self, dossier: Dossier) -> int:
        """Days since it was opened."""
        return (self.today - local_day(dossier.opened_at)).days

    @staticmethod
    def waits_on(dossier: Dossier) -> str:
        if dossier.status == DossierStatus.INCOMPLETE:
            return f"du déposant ({casefile.missing(dossier)})"
        if dossier.status == DossierStatus.REFUSED:
            return "de personne (dossier refusé)"
        if dossier.review:
            return (
                "de l'équipe régionale (dossier à vérifier avant tout traitement, puis à accepter ou refuser)"
            )
        if dossier.follow_up:
            return f"de l'équipe régionale (suivi : {casefile.follow_up_fr(dossier)})"
        return f"de l'équipe régionale (dossier {DOSSIER_FR[dossier.status]} à traiter)"


def _unreturned(register_file: Path, region: Region, dossiers: list[Dossier]) -> tuple[Unreturned, ...]:
    returned = {(d.siret, d.variant) for d in dossiers}
    return tuple(
        Unreturned(s.siret, s.denomination, variant, s.due(variant)[1])
        for s in register.of_region(register_file, region.id)
        for variant in sorted(s.dues)
        if (s.siret, variant) not in returned
    )


def build_digest(
    journal: Path,
    region: Region,
    since: dt.date,
    register_file: Path | None = None,
    today: dt.date | None = None,
) -> Digest:
    """The region's digest, from the journal's dossiers and deposits and, when given, the register."""
    today = today or dt.date.today()
    if not journal.exists():
        unreturned = _unreturned(register_file, region, []) if register_file else ()
        return Digest(region, since, unreturned=unreturned, today=today)
    every = [d for d in DossierBook(journal).search() if d.mailbox == region.mailbox]  # oldest first
    return Digest(
        region,
        since,
        tuple(d for d in every if local_day(d.updated_at) >= since),
        tuple(d for d in every if d.status == DossierStatus.INCOMPLETE),
        len(Journal(journal).reports(region.mailbox, since.isoformat())),
        _unreturned(register_file, region, every) if register_file else (),
        today,
    )


def _amount(amount: Decimal | None, none: str = "—") -> str:
    return format_eur(amount) if amount is not None else none


def _who(d: Dossier) -> str:
    return f"{one_line(d.signatory or 'signataire non lu', NAME)} (SIRET {d.siret})"


def _state(x: Dossier) -> str:
    return REVIEW_FR if x.review else DOSSIER_FR[x.status]


def _period_rows(d: Digest) -> list[tuple[str, ...]]:
    return [
        (long_date(local_day(x.opened_at)), _who(x), convention_fr(x.variant), _state(x), _amount(x.due, "non déterminé"),
         _amount(x.paid, "aucun bon de commande"), Digest.waits_on(x))
        for x in d.dossiers
    ]  # fmt: skip


def _awaiting_rows(d: Digest) -> list[tuple[str, str, str, str, list[str]]]:
    return [
        (_who(x), convention_fr(x.variant), long_date(local_day(x.opened_at)), age(d.age(x)),
         [one_line(p.message, LINE) for p in x.problems])
        for x in d.awaiting
    ]  # fmt: skip


def _unreturned_rows(d: Digest) -> list[tuple[str, str, str]]:
    return [
        (
            f"{one_line(u.name, NAME)} (SIRET {u.siret})",
            convention_fr(u.variant),
            format_eur(u.due) if u.due else ON_QUOTE,
        )
        for u in d.unreturned
    ]


def _totals(d: Digest) -> list[str]:
    counts = ", ".join(
        [*(f"{DOSSIER_FR[s]}s : {d.count(s)}" for s in DossierStatus), f"{REVIEW_FR} : {d.reviewed()}"]
    )
    return [
        f"Dépôts reçus : {d.deposits} ; dossiers concernés : {len(d.dossiers)} ({counts})",
        f"Contributions dues : {format_eur(d.total_due())} ; montants des bons de commande : "
        f"{format_eur(d.total_paid())} (une fois par dossier)",
    ]


@singledispatch
def title(d: Digest) -> str:
    return f"Synthèse des dépôts — {d.region.name} — depuis le {long_date(d.since)}"


@singledispatch
def text(d: Digest) -> str:
    lines = [f"{title(d)} (au {long_date(d.today)})", "", *_totals(d), ""]
    lines.append(f"Dossiers en attente de régularisation, du plus ancien au plus récent : {len(d.awaiting)}")
    for who, variant, opened, how_long, missing in _awaiting_rows(d):
        lines.append(f"- {who} — {variant} — ouvert le {opened} (depuis {how_long}) — il manque :")
        lines += [f"    · {m}" for m in missing]
    period = [
        f"- {opened} — {who} — {variant} — {status} — dû {due}, commandé {paid} — en attente {wait}"
        for opened, who, variant, status, due, paid, wait in _period_rows(d)
    ]
    lines += ["", "Dossiers de la période :", *(period or ["Aucun dossier sur la période."])]
    lines += ["", f"Conventions envoyées et jamais retournées : {len(d.unreturned)}"]
    lines += [f"- {who} — {variant} — contribution due : {due}" for who, variant, due in _unreturned_rows(d)]
    return "\n".join(lines + ["", "— csac, Resah"])


def _cell(value: str | list[str]) -> str:
    """A text, or a list of them (what is missing) as a bulleted list."""
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in value) + "</ul>"
    return html.escape(value)


def _table(head: tuple[str, ...], rows: list[tuple]) -> str:
    heads = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


@singledispatch
def html_page(d: Digest) -> str:
    e = html.escape
    totals = "".join(f"<p>{e(line)}</p>" for line in _totals(d))
    awaiting = _table(("Signataire", "Convention", "Ouvert le", "Depuis", "Il manque"), _awaiting_rows(d))
    period = _table(
        ("Ouvert le", "Signataire", "Convention", "État", "Dû", "Commandé", "En attente de"), _period_rows(d)
    )
    unreturned = _table(("Signataire", "Convention", "Contribution due"), _unreturned_rows(d))
    return (
        f'<!DOCTYPE html><html lang="fr"><meta charset="utf-8"><title>Synthèse — {e(d.region.name)}</title>'
        f"<body><h1>{e(title(d))}</h1><p>Au {e(long_date(d.today))}.</p>{totals}"
        f"<h2>Dossiers en attente de régularisation ({len(d.awaiting)}), du plus ancien au plus récent</h2>{awaiting}"
        f"<h2>Dossiers de la période</h2>{period}"
        f"<h2>Conventions envoyées et jamais retournées ({len(d.unreturned)})</h2>{unreturned}"
        "</body></html>\n"
    )


def message(d: Digest | TriageDigest, today: dt.date, now: dt.datetime | None = None) -> Outgoing:
    """The digest as mail, built like every other message (`compose`): one Message-ID per region,
    period and day, so that sending it twice a day delivers it once; dated `now` (by default, the
    moment it is built)."""
    subject = f"[CSAC] {title(d)}"
    mid = f"<digest-{d.region.id}-{d.since.isoformat()}-{today.isoformat()}@csac.resah.fr>"
    msg = compose(d.region.mailbox, subject, text(d), mid, now or dt.datetime.now().astimezone())
    msg.add_alternative(html_page(d), subtype="html")
    return Outgoing(d.region.mailbox, msg)


# -- the triage mailbox's digest --------------------------------------------------------------------

TRIAGE_WHY = (
    "csac n'a pas pu rattacher ces dépôts à une région : le SIRET n'est pas au registre des signataires, "
    "aucun code postal lu dans les documents n'est celui d'une région, et le formulaire n'a pas permis de "
    "la retrouver. Chaque déposant a été prévenu que l'équipe de tri reviendrait vers lui."
)
TRIAGE_STEPS = (
    "retrouver la région du signataire (adresse de l'établissement, SIRET sur l'annuaire des entreprises) ;",
    "transférer le message du dépôt reçu dans cette boîte, avec le ZIP joint, à la boîte de la région ;",
    "répondre au déposant pour lui dire quelle équipe régionale suit son dossier.",
)


@dataclass(frozen=True)
class TriageDigest:
    """The deposits routed to triage since a day: what was read of each, for a clerk to route by hand."""

    region: Region  # the triage, with its mailbox (the configuration's when it sets one)
    since: dt.date
    deposits: tuple[IntakeReport, ...] = ()  # oldest first
    today: dt.date = field(default_factory=dt.date.today)


def build_triage(journal: Path, triage: Region, since: dt.date, today: dt.date | None = None) -> TriageDigest:
    """The triage digest, from the reports of the deposits delivered to the triage mailbox."""
    reports = Journal(journal).reports(triage.mailbox, since.isoformat()) if journal.exists() else []
    found = tuple(IntakeReport.from_json(r) for r in reports)
    return TriageDigest(triage, since, found, today or dt.date.today())


def _triage_lines(r: IntakeReport) -> list[str]:
    """One deposit: its number and day, who and what was read, how to reach the depositor, and what
    else it lacks (its region aside)."""
    received = dt.datetime.fromisoformat(r.received_at)
    conventions = ", ".join(convention_fr(d.variant) for d in r.dossiers) or (
        convention_fr(r.variant) if r.variant else "non reconnue"
    )
    others = [one_line(p.message, LINE) for p in r.problems if p.code != "region_unknown"]
    return [
        f"Dépôt n° {r.deposit_id}, reçu le {received:%d/%m/%Y à %H:%M} — {STATUS_FR[r.status]}",
        f"Organisation : {one_line(r.signatory or 'non lue', NAME)} — SIRET : {r.siret or 'non lu'}",
        f"Convention : {conventions} — fichier : {one_line(r.file, NAME)}",
        f"Déposant : {r.email or 'adresse non donnée'}",
        *([f"Aussi à régulariser : {'; '.join(others)}"] if others else []),
    ]


@title.register
def _(d: TriageDigest) -> str:
    return f"Dépôts à orienter — {d.region.name} — depuis le {long_date(d.since)}"


@text.register
def _(d: TriageDigest) -> str:
    lines = [
        f"{title(d)} (au {long_date(d.today)})",
        "",
        f"Dépôts à orienter vers leur région : {len(d.deposits)}",
    ]
    if d.deposits:
        lines += ["", TRIAGE_WHY, "", "Pour chacun :", *(f"{n}. {s}" for n, s in enumerate(TRIAGE_STEPS, 1))]
    for r in d.deposits:
        lines += ["", *(f"- {x}" if i == 0 else f"  {x}" for i, x in enumerate(_triage_lines(r)))]
    return "\n".join(lines + ["", "— csac, Resah"])


@html_page.register
def _(d: TriageDigest) -> str:
    e = html.escape
    steps = "".join(f"<li>{e(s)}</li>" for s in TRIAGE_STEPS)
    items = "".join("<li>" + "<br>".join(e(x) for x in _triage_lines(r)) + "</li>" for r in d.deposits)
    how = f"<p>{e(TRIAGE_WHY)}</p><p>Pour chacun :</p><ol>{steps}</ol>" if d.deposits else ""
    return (
        f'<!DOCTYPE html><html lang="fr"><meta charset="utf-8"><title>{e(title(d))}</title>'
        f"<body><h1>{e(title(d))}</h1><p>Au {e(long_date(d.today))}.</p>"
        f"<p>Dépôts à orienter vers leur région : {len(d.deposits)}</p>{how}<ul>{items}</ul>"
        "</body></html>\n"
    )
