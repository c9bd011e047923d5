"""The `csac` command: it parses the command line into an options object, makes one call into the
library (pipeline/api.py) and prints the result in French. Nothing else happens here."""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import api, resident
from .cli_french import FrenchTyper
from .dates import DAY_HELP
from .errors import ArgumentError, CsacError, ExitCode, InputError
from .resources import KINDS

KIND_FR = {
    "convention": "convention",
    "annex": "annexe",
    "bulletin": "bulletin",
}  # documents as people name them
# Documents to send out do not belong among the deposits intake writes in outbox/ (README): a folder of their own.
OUT_HELP = "Dossier où écrire les documents : un dossier à eux (rendu/ par exemple), pas outbox/ où arrivent les dépôts."
app = FrenchTyper(
    help="csac — conventions de service d'achat centralisé du Resah.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)


def consoles() -> tuple[Console, Console]:
    """Standard output and error as rich writes them; a Console reads the terminal and the environment
    (COLUMNS, NO_COLOR...) when made: the resident server's children make theirs again."""
    # a line is never cut: scripts read it; ":smile:" in a name stays as typed (and rich's emoji table,
    # 4 ms to load, is never loaded)
    return Console(soft_wrap=True, emoji=False), Console(stderr=True, soft_wrap=True, emoji=False)


out, err = consoles()


def _readable(value: str | None) -> str | None:
    """A text typed on a terminal that does not send UTF-8 (a Latin-1 « é ») arrives with bytes Python
    could not decode: said here, rather than an internal error where the journal stores or searches it."""
    if isinstance(value, str) and any("\udc80" <= c <= "\udcff" for c in value):
        raise typer.BadParameter(
            "des caractères n'ont pu être lus : le terminal n'envoie pas de l'UTF-8 (réglez-le, par exemple "
            "LANG=fr_FR.UTF-8), puis retapez le texte"
        )
    return value


DateOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        "--date",
        formats=["%Y-%m-%d"],
        help="Date de la campagne (année du bulletin, règle du 31 octobre). Par défaut : aujourd'hui.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Sortie JSON pour les scripts, au lieu d'un tableau.")]
PdfOpt = Annotated[
    bool,
    typer.Option(
        "--pdf",
        help="Écrire aussi un PDF à côté de chaque document Word (plateformes de signature électronique) ; "
        "demande LibreOffice.",
    ),
]
PRIVATE = 0o077  # deposits, journal and messages hold personal data (GDPR): owner only
StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="Dossier du journal et du registre des signataires. Par défaut : celui de la configuration (var/).",
    ),
]
OutboxOpt = Annotated[
    Path | None,
    typer.Option("--outbox", help="Dossier des boîtes Maildir régionales et de la quarantaine."),
]
BeneficiaryOpt = Annotated[
    Path, typer.Option("--beneficiary", "-b", help="Fichier du signataire (YAML ou JSON).")
]


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Fichier de configuration (par défaut : ./csac.yaml s'il existe)."),
    ] = None,
) -> None:
    ctx.obj = config
    _width_from_environment()


def _width_from_environment() -> None:
    """COLUMNS as it is when the command runs, not when csac was imported (a script may set it)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        out.width = err.width = int(columns)


def _variant_ids(names: list[str]) -> tuple[str, ...]:
    """`all` (or nothing) is every variant: the empty tuple."""
    return () if not names or names == ["all"] else tuple(names)


def _kinds(documents: str) -> tuple[str, ...]:
    """The documents asked, by their French names or their codes (`annexe` or `annex`)."""
    named = {**{k: k for k in KINDS}, **{fr: k for k, fr in KIND_FR.items()}}
    asked = [k.strip().lower() for k in documents.split(",")]
    unknown = [k for k in asked if k not in named]
    if unknown:
        raise typer.BadParameter(
            f"--documents : {', '.join(f'« {k} »' for k in unknown)} inconnu ; choisissez parmi "
            f"{', '.join(KIND_FR.values())}"
        )
    return tuple(dict.fromkeys(named[k] for k in asked))


@app.command("variants")
def variants_cmd(as_json: JsonOpt = False) -> None:
    """Liste les variantes de convention et leurs tarifs.

    Exemple : `csac variants` ou `csac variants --json`
    """
    from .money import format_eur

    variants = api.list_variants(api.Setup())
    if as_json:
        out.print_json(json.dumps([v.as_json() for v in variants], ensure_ascii=False))
        return
    for v in variants:
        table = Table(title=f"{v.id} — {v.label} — {v.summary}", title_justify="left")
        table.add_column("typologie")
        table.add_column("libellé du tarif")
        table.add_column("contribution annuelle", justify="right")
        for row in v.tariff.rows:
            table.add_row(row.typology, row.label, row.amount_text)
        extra = v.supplementary_contribution
        table.caption = f"modes : {', '.join(m.replace('_', ' ') for m in v.modes)}" + (
            f" — contribution complémentaire : {format_eur(extra)}" if extra else ""
        )
        out.print(table)


@app.command("render")
def render_cmd(
    ctx: typer.Context,
    variants: Annotated[
        list[str], typer.Argument(metavar="VARIANTES", help="Identifiants des variantes, ou `all` (toutes).")
    ],
    beneficiary: BeneficiaryOpt,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help=OUT_HELP)] = Path("outbox"),
    date: DateOpt = None,
    bulletin: Annotated[bool, typer.Option(help="Produire aussi le bulletin d'adhésion.")] = True,
    as_json: JsonOpt = False,
    state: StateOpt = None,
    pdf: PdfOpt = False,
) -> None:
    """Produit les conventions, les annexes et le bulletin d'un signataire, et l'inscrit au registre.

    Exemple : `csac render 2021-045-lot2 --beneficiary examples/beneficiaire.yaml --out rendu/`

    Exemple : `csac render all -b examples/beneficiaire.yaml -o rendu/ --date 2024-03-01`
    """
    options = api.RenderOptions(
        config_file=ctx.obj,
        variants=_variant_ids(variants),
        beneficiary=beneficiary,
        out=out_dir,
        on=date.date() if date else None,
        kinds=KINDS if bulletin else ("convention", "annex"),
        state=state,
        pdf=pdf,
    )
    done = api.render_signatory(options)
    if as_json:
        out.print_json(json.dumps([d.manifest_entry() for d in done.documents], ensure_ascii=False))
        return
    request = done.request
    table = Table(
        title=_plain(f"{request.signatory.entity.name} → {request.region.name} ({request.region.mailbox})")
    )
    for col in ("document", "variante", "fichier", "sha256"):
        table.add_column(col, overflow="fold")
    for d in done.documents:
        table.add_row(*map(_plain, (KIND_FR[d.kind], d.variant, done.out / d.relpath, d.sha256[:12])))
    out.print(table)


@app.command("render-batch")
def render_batch_cmd(
    ctx: typer.Context,
    campaign_file: Annotated[
        Path,
        typer.Argument(
            metavar="CAMPAGNE", help="Fichier de campagne : .csv (un signataire par ligne) ou .yaml."
        ),
    ],
    variants: Annotated[
        str,
        typer.Option("--variants", help="Identifiants des variantes, séparés par des virgules, ou `all`."),
    ] = "all",
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help=OUT_HELP + " manifest.json y est écrit.")
    ] = Path("outbox"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Processus de rendu.")] = os.cpu_count()
    or 2,
    date: DateOpt = None,
    documents: Annotated[
        str,
        typer.Option(
            "--documents",
            help="Documents à produire, séparés par des virgules : convention, annexe, bulletin.",
        ),
    ] = ",".join(KIND_FR.values()),
    state: StateOpt = None,
    pdf: PdfOpt = False,
) -> None:
    """Produit toute une campagne sans s'arrêter aux lignes en erreur, inscrit ses signataires au
    registre et écrit manifest.json.

    Exemple : `csac render-batch examples/campagne.csv --variants 2021-045-lot2,2021-063-002 --out rendu/campagne`
    """
    options = api.CampaignOptions(
        config_file=ctx.obj,
        campaign=campaign_file,
        variants=_variant_ids(variants.split(",")),
        out=out_dir,
        jobs=jobs,
        on=date.date() if date else None,
        kinds=_kinds(documents),
        state=state,
        pdf=pdf,
    )
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("signataires", total=None)
        result = api.render_campaign(options, lambda n, total: progress.update(task, total=total, advance=n))
    out.print(
        f"{result.files} fichier(s) écrit(s) par {result.workers} processus ; manifeste : {result.manifest}",
        markup=False,  # a folder's name
    )
    for failure in result.failures:
        err.print(
            Text.assemble((f"ligne {failure.number}", "red"), f" {failure.label} :")
        )  # no markup from rows
        for problem in failure.problems:
            err.print(_plain(f"    - {problem}"))
    if result.failures:
        err.print(
            f"[red]{len(result.failures)} ligne(s) refusée(s) sur {result.rows}[/red] — corrigez-les et relancez."
        )
        raise typer.Exit(ExitCode.input_file)


@app.command("intake")
def intake_cmd(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="DÉPÔTS", help="Le ZIP déposé, ou plusieurs.", exists=True, dir_okay=False),
    ],
    form: Annotated[
        Path | None,
        typer.Option(
            "--form",
            exists=True,  # a path mistyped by the clerk is a bad argument; an unreadable form, the deposit's
            dir_okay=False,
            help="Formulaire de dépôt (JSON ou YAML), pour un seul dépôt. Par défaut : NOM.json ou NOM.yaml à "
            "côté de NOM.zip.",
        ),
    ] = None,
    outbox: OutboxOpt = None,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reçoit un dépôt, ou plusieurs l'un après l'autre : le vérifie, l'achemine vers sa région et affiche
    le verdict.

    Sort avec 0 quel que soit le verdict ; avec un autre code seulement si csac n'a pas pu travailler.
    Avec --json : le rapport d'un dépôt, ou la liste des rapports de plusieurs.

    Exemple : `csac intake inbox/depot.zip --json`, ou `csac intake inbox/*.zip`
    """
    os.umask(PRIVATE)
    options = api.IntakeOptions(config_file=ctx.obj, deposit=paths[0], form=form, outbox=outbox, state=state)
    reports = []
    for report in api.take_in_deposits(options, paths):
        if as_json:
            reports.append(report.to_json())
        else:
            _print_report(report)
    if as_json:
        out.print_json(json.dumps(reports[0] if len(paths) == 1 else reports, ensure_ascii=False))


def _print_report(report) -> None:
    from .notices import DOSSIER_FR, REVIEW_FR, ROLE_FR, state_fr  # loaded with intake, not at every start-up

    colour = (
        "yellow"
        if report.review
        else {"complete": "green", "incomplete": "yellow", "rejected": "red"}[report.status]
    )
    out.print(
        Text.assemble((state_fr(report), colour), f" {report.deposit_id} — {report.file}")
    )  # a file name
    out.print(
        f"  convention : {report.variant or (f'{len(report.dossiers)} conventions' if report.dossiers else '—')}"
        f" — SIRET : {report.siret or '—'} — région : {report.region or '—'} ({report.mailbox or '—'})",
        markup=False,
    )
    for doc in report.documents:
        out.print(f"  {ROLE_FR[doc.role]:<24} {doc.name}", markup=False)
    for hint in _ocr_hint(report):  # scans left unread: how to have them read, once
        out.print(f"  {hint}", style="yellow", markup=False)
    for warning in report.warnings:
        out.print(Text.assemble("  ", (REVIEW_FR, "yellow"), " ", warning.message))  # no markup from a form
    for problem in report.problems:
        out.print(Text.assemble("  ", (problem.code, colour), f" {problem.message}"))  # it quotes the deposit
    for d in report.dossiers:
        state = REVIEW_FR if d.review else DOSSIER_FR[d.status]
        out.print(f"  dossier {d.dossier_id} : {state} (dépôts : {', '.join(d.deposits)})", markup=False)
    out.print(f"  remis à : {', '.join(report.delivered_to) or '—'}", markup=False)


def _ocr_hint(report) -> list[str]:
    from .ocr import INSTALL

    notes = (part for d in report.documents if d.note for part in d.note.split(" ; "))
    return [part for part in notes if INSTALL in part][:1]


DATE_WIDTH, GAP = 16, 2  # "01/11/2026 10:15"; the spaces between two columns of `status`
STATUS_HEADS = ("reçu le", "n° de dépôt", "organisation", "région", "état")
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="Région : son nom, son identifiant ou sa boîte aux lettres, sans souci des majuscules, accents "
        "ni tirets (« hauts de france »), ou `triage`.",
        callback=_readable,
    ),
]


def _day(text: str | None) -> dt.date | None:
    """A first day as people write it (pipeline/dates.py): a date, or how many days or weeks back."""
    from .dates import parse_day

    try:
        return parse_day(text, dt.date.today()) if text else None
    except ValueError as exc:
        raise ArgumentError(f"--since : {exc}") from None


SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="DATE",
        help=f"Depuis ce jour inclus : {DAY_HELP}.",
    ),
]


def _status_table(rows, with_region: bool) -> Table:
    """Readable in 80 columns: date, number and state whole; the organisation and the region share what
    is left, cut with an ellipsis, never wrapped; the region left out when the list is one region's."""
    heads = [h for h in STATUS_HEADS if with_region or h != "région"]
    cells = [(r.received_fr(), r.id, r.signatory or "—", *([r.region or "—"] if with_region else []), r.state_fr)
             for r in rows]  # fmt: skip
    widths = dict(
        zip(heads, (max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)), strict=True)
    )
    shared = ("organisation", "région")
    rest = out.width - sum(w for h, w in widths.items() if h not in shared) - (GAP * len(heads) - 1)
    rest = max(rest, 2 * len("région"))  # a terminal narrower than 80 columns squeezes every column
    if with_region:
        widths["région"] = min(widths["région"], max(len("région"), rest // 2 - 1))
    widths["organisation"] = min(widths["organisation"], rest - widths.get("région", 0))
    table = Table(title="Derniers dépôts", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=(0, GAP - 1, 0, 0), caption=f"{len(rows)} dépôt(s), du plus récent au plus ancien",
                  caption_justify="left")  # fmt: skip
    for head in heads:
        table.add_column(head, no_wrap=True, overflow="ellipsis", width=widths[head])
    for row in cells:
        table.add_row(*map(_plain, row))
    return table


def _mails(rows) -> list[str]:
    """Under a relay: how many of these deposits' messages stand where, then each one still waiting or
    refused, with the relay's answer."""
    from collections import Counter

    from .casefile import SENT_FR

    counts = Counter(m["state"] for r in rows for m in r.messages)
    if not counts:
        return []  # no relay: the messages are in the Maildirs
    states = " ; ".join(f"{SENT_FR.get(state, state)} : {n}" for state, n in sorted(counts.items()))
    return [f"Courriels par le relais SMTP — {states}"] + [
        f"{r.id} — courriel à {m['recipients']} : {SENT_FR.get(m['state'], m['state'])}"
        + (f" — {m['answer']}" if m["answer"] else "")
        for r in rows
        for m in r.messages
        if m["state"] != "sent" or m["refused"]
    ]


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Nombre de dépôts, du plus récent au plus ancien.")
    ] = 20,
    region: RegionOpt = None,
    siret: Annotated[
        str | None, typer.Option("--siret", help="SIRET du signataire (espaces permis).")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            help="Texte cherché dans l'organisation, le nom du fichier, le numéro du dépôt et celui du dossier "
            "(sans souci des majuscules ni des accents).",
            callback=_readable,
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="État : complet, incomplet, refusé ou à vérifier (ou complete, incomplete, rejected, review).",
        ),
    ] = None,
    since: SinceOpt = None,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Liste les derniers dépôts et leur état, d'après le journal ; lisible sur 80 colonnes.

    Exemples : `csac status --region "hauts de france" --since 7j`, `csac status --status incomplet
    --since 01/11/2026`, `csac status --search Béthune`, `csac status --siret "200 072 460 00013" --json -n 100`
    """
    options = api.StatusOptions(config_file=ctx.obj, limit=limit, region=region, siret=siret, search=search,
                                status=status, since=_day(since), state=state)  # fmt: skip
    rows = api.latest_deposits(options)
    if as_json:
        out.print_json(json.dumps([r.to_json() for r in rows], ensure_ascii=False))
        return
    if not rows:
        out.print("Aucun dépôt ne correspond. `csac status` sans critère liste les derniers.")
        return
    out.print(_status_table(rows, with_region=not region))
    for line in _mails(rows):
        out.print(_plain(line), soft_wrap=False)


@app.command("sample-deposit")
def sample_deposit_cmd(
    ctx: typer.Context,
    beneficiary: BeneficiaryOpt,
    variant: Annotated[str, typer.Option("--variant", help="Identifiant de la variante.")] = "2021-045-lot2",
    out_zip: Annotated[
        Path, typer.Option("--out", "-o", help="Le ZIP à écrire ; son formulaire est écrit à côté.")
    ] = Path("inbox/depot-exemple.zip"),
    email: Annotated[
        str, typer.Option(help="Adresse électronique du déposant, dans le formulaire.")
    ] = "acheteur@collectivite.example",
) -> None:
    """Construit un dépôt d'exemple signé (convention en PDF signée d'un certificat jetable, annexe, EJ).

    Exemple : `csac sample-deposit -b examples/beneficiaire.yaml --variant 2021-045-lot2 -o inbox/depot.zip`
    """
    options = api.SampleOptions(
        config_file=ctx.obj, beneficiary=beneficiary, variant=variant, out=out_zip, email=email
    )
    deposit, form = api.sample_deposit(options)
    out.print(f"dépôt d'exemple : {deposit} (formulaire : {form})", markup=False)


config_app = FrenchTyper(
    help="Vérifier la configuration (csac.yaml et l'environnement).", no_args_is_help=True
)
outbox_app = FrenchTyper(
    help="La file des courriels sortants, quand un relais SMTP est configuré.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(outbox_app, name="outbox")


@config_app.command("check")
def config_check_cmd(
    ctx: typer.Context,
    connect: Annotated[
        bool, typer.Option("--connect", help="Se connecter aussi au relais SMTP (et s'y authentifier).")
    ] = False,
) -> None:
    """Valide la configuration par son schéma ; avec --connect, essaie le relais.

    Exemple : `csac --config csac.yaml config check --connect`
    """
    check = api.check_config(api.CheckOptions(config_file=ctx.obj, connect=connect))
    config, ws = check.config, check.config.workspace
    out.print(f"configuration : {config.source}", markup=False)  # file and folder names
    out.print(f"  dossiers : entrée {ws.inbox}, sortie {ws.outbox}, état {ws.state}", markup=False)
    out.print(
        f"  relais SMTP : {config.relay.describe() if config.relay else 'aucun (Maildir dans le dossier de sortie)'}",
        markup=False,
    )
    out.print(
        f"  relances : après {config.reminder_days} jours sans régularisation, puis tous les {config.reminder_days} jours"
    )
    if config.redirect:
        out.print(f"  [yellow]répétition : tous les messages vont à {config.redirect}[/yellow]")
    if check.failure:
        err.print(
            Text.assemble(("connexion au relais impossible", "red"), f" : {check.failure}")
        )  # the relay's words
        raise typer.Exit(ExitCode.file_access_error)
    if check.connection:
        out.print(f"  connexion : {check.connection}", markup=False)  # the relay's words
    out.print("[green]configuration valide[/green]")


@outbox_app.command("flush")
def outbox_flush_cmd(
    ctx: typer.Context,
    force: Annotated[
        bool,
        typer.Option("--force", help="Envoyer aussi les messages qui attendent encore leur prochain essai."),
    ] = False,
    state: StateOpt = None,
) -> None:
    """Envoie maintenant par le relais les messages en file.

    Exemple : `csac outbox flush`, ou `csac outbox flush --force` après une panne du relais
    """
    result = api.flush_outbox(api.FlushOptions(config_file=ctx.obj, force=force, state=state))
    out.print(
        f"envoyés : {len(result.sent)} ; en attente : {len(result.deferred)} ; refusés définitivement : {len(result.failed)}"
    )


@app.command("digest")
def digest_cmd(
    ctx: typer.Context,
    region: Annotated[
        str,
        typer.Option(
            "--region",
            help="Région : son nom, son identifiant ou sa boîte aux lettres, sans souci des majuscules, accents "
            "ni tirets (« hauts de france »), ou `triage` pour les dépôts dont la région est inconnue.",
        ),
    ],
    since: Annotated[
        str,
        typer.Option(
            "--since",
            metavar="DATE",
            help=f"Premier jour couvert : {DAY_HELP}.",
        ),
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Écrire ici digest-REGION-DATE.txt et .html.")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="L'envoyer à la boîte de la région.")] = False,
    outbox: OutboxOpt = None,
    state: StateOpt = None,
) -> None:
    """Synthèse pour une équipe régionale : ses dossiers (chacun compté une fois, quel que soit le nombre
    de dépôts), ceux en attente de régularisation du plus ancien au plus récent avec ce qui manque, de
    qui chacun attend la suite, et les conventions envoyées jamais retournées (registre des signataires).

    Avec `--region triage` : les dépôts dont la région n'a pu être déterminée, ce qui en a été lu et ce
    que l'équipe de tri doit en faire. Sans relais SMTP, `--send` la dépose dans le dossier de sortie
    de `csac intake` (configuration, CSAC_OUTBOX ou --outbox).

    Exemples : `csac digest --region "hauts de france" --since 7j --send`,
    `csac digest --region triage --since 01/11/2026 --out syntheses/`
    """
    options = api.DigestOptions(config_file=ctx.obj, region=region, since=_day(since), out=out_dir, send=send,
                                outbox=outbox, state=state)  # fmt: skip
    done = api.regional_digest(options)
    out.print(_plain(done.text), highlight=False)
    if done.sent_to:
        out.print(f"synthèse envoyée à {done.sent_to}")


@app.command("remind")
def remind_cmd(
    ctx: typer.Context,
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            help="Jours sans régularisation avant une relance, puis entre deux relances. Par défaut : "
            "`reminder_days` de la configuration (10).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Lister les relances dues sans rien envoyer ni journaliser.")
    ] = False,
    now: Annotated[
        dt.datetime | None,
        typer.Option(
            "--now",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"],
            help="Date (et heure) de référence au lieu de maintenant : avec --dry-run, ce qui partirait ce jour-là.",
        ),
    ] = None,
    outbox: OutboxOpt = None,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Relance les déposants des dossiers encore incomplets après N jours : ce qui manque, copie à la région.

    Une relance au plus tous les N jours, trois au plus ; un dossier complet, accepté ou refusé n'en reçoit
    pas. `csac watch` les envoie aussi, une fois par jour.

    Exemple : `csac remind --dry-run`, ou `csac remind --days 15 --json`
    """
    os.umask(PRIVATE)
    options = api.RemindOptions(
        config_file=ctx.obj, days=days, dry_run=dry_run, now=now, outbox=outbox, state=state
    )
    run = api.send_reminders(options)
    if as_json:
        out.print_json(json.dumps(run.to_json(), ensure_ascii=False))
        return
    from .casefile import missing

    verb = "à envoyer (simulation : rien n'est envoyé)" if run.dry_run else "envoyées"
    out.print(f"relances {verb} : {len(run.reminders)} (dossiers incomplets depuis {run.days} jours)")
    for r in run.reminders:
        d = r.dossier
        out.print(
            f"  {d.id} — relance {r.number} à {d.email} (copie {d.mailbox or '—'}) — à régulariser : {missing(d)}"
        )
    for d in run.unreachable:
        out.print(f"  [yellow]{d.id} : aucune adresse du déposant, pas de relance[/yellow]")
    for d, why in run.failed:
        err.print(
            Text.assemble(
                (f"  {d.id} : relance impossible", "red"), f" ({why}) ; nouvel essai à la prochaine relance"
            )
        )
    if run.failed:
        raise typer.Exit(ExitCode.file_access_error)


@app.command("watch")
def watch_cmd(
    ctx: typer.Context,
    inbox: Annotated[
        Path | None, typer.Option("--inbox", help="Dossier où les agents déposent les ZIP.")
    ] = None,
    outbox: OutboxOpt = None,
    state: StateOpt = None,
    poll: Annotated[
        float | None,
        typer.Option(
            "--poll",
            help="Interroger le dossier toutes les SECONDES au lieu des événements du système de fichiers (partages réseau).",
        ),
    ] = None,
    settle: Annotated[
        float,
        typer.Option(
            "--settle", help="Secondes pendant lesquelles un fichier doit rester inchangé avant d'être pris."
        ),
    ] = 0.5,
    rescan: Annotated[
        float,
        typer.Option(
            "--rescan", help="Secondes entre deux balayages complets et nouveaux essais des dépôts en échec."
        ),
    ] = 10.0,
    corrupt_grace: Annotated[
        float,
        typer.Option(
            "--corrupt-grace",
            help="Secondes pendant lesquelles un fichier stable qui ne se lit pas comme un ZIP est attendu"
            " avant d'être pris quand même (et refusé).",
        ),
    ] = 30.0,
    log_json: Annotated[bool, typer.Option("--log-json", help="Un objet JSON par ligne de journal.")] = False,
) -> None:
    """Surveille la boîte de dépôt et reçoit chaque dépôt qui y arrive, une seule fois.

    Ctrl-C termine le dépôt en cours puis arrête ; un second Ctrl-C le rend à la boîte de dépôt.

    Exemple : `csac watch --inbox inbox/ --outbox outbox/`, ou `csac watch --poll 2` sur un partage réseau
    """
    from .logs import to_stderr

    to_stderr(log_json)
    os.umask(PRIVATE)
    options = api.WatchOptions(
        config_file=ctx.obj, inbox=inbox, outbox=outbox, state=state, poll=poll, settle=settle, rescan=rescan,
        corrupt_grace=corrupt_grace,
    )  # fmt: skip
    api.watch_until_signalled(options)


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Adresse d'écoute.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port d'écoute.")] = 8000,
    inbox: Annotated[
        Path | None, typer.Option("--inbox", help="Boîte de dépôt où la page dépose les ZIP.")
    ] = None,
    outbox: OutboxOpt = None,
    state: StateOpt = None,
    no_watch: Annotated[
        bool,
        typer.Option(
            "--no-watch",
            help="Ne pas lancer la veille de la boîte de dépôt avec le site (un `csac watch` tourne à part).",
        ),
    ] = False,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies", help="Cookies de session en HTTPS seulement (derrière un proxy TLS)."
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            help="Adresses du proxy inverse dont les en-têtes X-Forwarded-For et X-Forwarded-Proto sont crus.",
        ),
    ] = "127.0.0.1",
    deposits_per_minute: Annotated[
        int | None,
        typer.Option(
            "--deposits-per-minute", min=1, help="Dépôts admis par minute et par adresse (6 par défaut)."
        ),
    ] = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="Un objet JSON par ligne de journal.")] = False,
) -> None:
    """Ouvre le guichet web : la page publique de dépôt (et le bureau des équipes régionales).

    La veille de la boîte de dépôt tourne avec lui, dans un processus à part, sauf avec --no-watch.
    Ctrl-C arrête le site, puis la veille une fois le dépôt en cours terminé.

    Exemple : `csac serve --host 127.0.0.1 --port 8000`, derrière un proxy inverse en HTTPS :
    `csac serve --secure-cookies --forwarded-allow-ips 127.0.0.1`
    """
    from .logs import to_stderr

    to_stderr(log_json)
    os.umask(PRIVATE)
    options = api.ServeOptions(
        config_file=ctx.obj, host=host, port=port, inbox=inbox, outbox=outbox, state=state, watch=not no_watch,
        secure_cookies=secure_cookies, forwarded_allow_ips=forwarded_allow_ips,
        deposits_per_minute=deposits_per_minute, log_json=log_json,
    )  # fmt: skip
    api.serve(options)


# -- dossiers: the regional teams' commands -------------------------------------------------------------

dossier_app = FrenchTyper(
    help="Les dossiers (un signataire sur une convention) : les suivre, les accepter, les refuser, les exporter.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(dossier_app, name="dossier")
DossierArg = Annotated[
    str, typer.Argument(metavar="DOSSIER", help="Numéro du dossier, tel que `csac dossier list` l'affiche.")
]


ByOpt = Annotated[
    str, typer.Option("--by", help="Votre nom : il est journalisé avec la décision.", callback=_readable)
]


def _plain(value: object) -> Text:
    """Text read from deposits, shown as written: no rich markup taken from it."""
    return Text("—" if value in (None, "") else str(value))


WIDE_TABLE = 120  # columns the dossier table needs to be read; narrower, each dossier on lines of its own


def _dossier_row(d, today: dt.date) -> list[Text]:
    from .casefile import age_days, follow_up_fr, missing, state_fr

    cells = (d.id, d.signatory, d.siret, d.variant, d.region, state_fr(d), age_days(d, today),
             missing(d), follow_up_fr(d))  # fmt: skip
    return [_plain(c) for c in cells]


@dossier_app.command("list")
def dossier_list_cmd(
    ctx: typer.Context,
    region: RegionOpt = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="État : complet, incomplet, accepté, refusé ou à vérifier (ou complete, incomplete, accepted, "
            "refused, review).",
        ),
    ] = None,
    siret: Annotated[
        str | None, typer.Option("--siret", help="SIRET du signataire (espaces permis).")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            help="Texte cherché dans le nom du signataire, le SIRET et le numéro du dossier.",
            callback=_readable,
        ),
    ] = None,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Liste les dossiers, du plus ancien au plus récent, avec ce qui manque à chacun.

    Exemples : `csac dossier list --region Corse --status incomplet`, `csac dossier list --search Béthune`,
    `csac dossier list --siret "200 072 460 00013" --json`
    """
    from .casefile import summary_json

    query = api.DossierQuery(
        config_file=ctx.obj, region=region, status=status, siret=siret, search=search, state=state
    )
    dossiers, today = api.list_dossiers(query), dt.date.today()
    if as_json:
        out.print_json(json.dumps([summary_json(d, today) for d in dossiers], ensure_ascii=False))
        return
    if not dossiers:
        out.print("Aucun dossier ne correspond. `csac dossier list` sans critère les liste tous.")
        return
    if out.width < WIDE_TABLE:
        _dossier_lines(dossiers, today)
        return
    table = Table(title="Dossiers", caption=f"{len(dossiers)} dossier(s)")
    columns = ("dossier", "signataire", "SIRET", "convention", "région", "état", "âge (jours)",
               "à régulariser", "suivi")  # fmt: skip
    for col in columns:
        table.add_column(col, overflow="fold")
    for d in dossiers:
        table.add_row(*_dossier_row(d, today))
    out.print(table)


def _dossier_lines(dossiers, today: dt.date) -> None:
    """A terminal too narrow for nine columns: each dossier on a few lines of its own, each cut with an
    ellipsis rather than wrapped letter by letter."""
    from .casefile import age_days, follow_up_fr, missing, state_fr
    from .notices import convention_fr

    for d in dossiers:
        lacks, follow = missing(d), follow_up_fr(d)
        lines = [
            f"{d.id} — {state_fr(d)} — {age_days(d, today)} j",
            f"  {d.signatory or '—'} — SIRET {d.siret}",
            f"  {convention_fr(d.variant)} — {d.region or 'région indéterminée'}",
            *([f"  à régulariser : {lacks}"] if lacks else []),
            *([f"  suivi : {follow}"] if follow else []),
        ]
        for line in lines:
            out.print(_plain(line), no_wrap=True, overflow="ellipsis", crop=True)
        out.print()
    out.print(f"{len(dossiers)} dossier(s)")


@dossier_app.command("show")
def dossier_show_cmd(
    ctx: typer.Context, dossier: DossierArg, state: StateOpt = None, as_json: JsonOpt = False
) -> None:
    """Montre un dossier : ses documents (en vigueur et remplacés), ce qui manque, ses dépôts, son
    historique (qui, quand) et les messages envoyés à son sujet.

    Exemple : `csac dossier show 20007246000013-2021-045-lot2`
    """
    found = api.show_dossier(api.DossierOptions(config_file=ctx.obj, dossier=dossier, state=state))
    if as_json:
        out.print_json(json.dumps(found.to_json(dt.date.today()), ensure_ascii=False))
        return
    _print_head(found.dossier)
    _print_documents(found)
    _print_history(found)


def _print_head(d) -> None:
    from .casefile import follow_up_fr, french_time, state_fr
    from .money import format_eur

    out.print(Text.assemble(("Dossier ", "bold"), (d.id, "bold"), f" — {state_fr(d)}"))
    due, paid = (format_eur(a) if a is not None else "—" for a in (d.due, d.paid))
    for line in (
        f"  signataire : {d.signatory or '—'} — SIRET : {d.siret} — convention : {d.variant}",
        f"  région : {d.region or '—'} ({d.mailbox or '—'}) — déposant : {d.email or '—'}",
        f"  ouvert le {french_time(d.opened_at)} — mis à jour le {french_time(d.updated_at)}",
        f"  contribution due : {due} ; montant commandé : {paid}",
        f"  suivi : {follow_up_fr(d) or '—'} — relances : {d.reminders}",
    ):
        out.print(_plain(line))
    if d.problems:
        out.print("À régulariser :")
        for p in d.problems:
            out.print(_plain(f"  [{p.code}] {p.message}"))


def _print_documents(found) -> None:
    from .casefile import french_time, role_fr
    from .notices import REVIEW_FR, STATUS_FR

    table = Table(title="Documents", title_justify="left")
    for col in ("rôle", "fichier", "dépôt", "reçu le", "état"):
        table.add_column(col, overflow="fold")
    for h in found.documents:
        status = "remplacé" if h.replaced_by is not None else "en vigueur"
        table.add_row(*map(_plain, (role_fr(h.role), h.name, h.deposit_id, french_time(h.added_at), status)))
    out.print(table)
    table = Table(title="Dépôts", title_justify="left")
    for col in ("dépôt", "fichier", "reçu le", "verdict"):
        table.add_column(col, overflow="fold")
    for dep in found.deposits:
        verdict = REVIEW_FR if dep.review else STATUS_FR.get(dep.status, dep.status)
        table.add_row(*map(_plain, (dep.id, dep.file, french_time(dep.received_at), verdict)))
    out.print(table)


def _print_history(found) -> None:
    from .casefile import detail_fr, event_fr, french_time

    table = Table(title="Historique", title_justify="left")
    for col in ("date", "événement", "par", "détail", "dépôt"):
        table.add_column(col, overflow="fold")
    for e in found.events:
        table.add_row(*map(_plain, (french_time(e.at), event_fr(e), e.by, detail_fr(e), e.deposit_id)))
    out.print(table)
    table = Table(title="Messages", title_justify="left")
    for col in ("date", "message", "à", "voie", "état", "dépôt"):
        table.add_column(col, overflow="fold")
    for m in found.messages:
        table.add_row(
            *map(_plain, (french_time(m.at), m.kind_fr, m.to_fr, m.via_fr, m.state_fr, m.deposit_id))
        )
    out.print(table if found.messages else "Messages : aucun trouvé dans le journal.")


@dossier_app.command("accept")
def dossier_accept_cmd(
    ctx: typer.Context,
    dossier: DossierArg,
    by: ByOpt,
    note: Annotated[
        str, typer.Option("--note", help="Pourquoi : ce que vous avez vérifié.", callback=_readable)
    ],
    outbox: OutboxOpt = None,
    state: StateOpt = None,
) -> None:
    """Accepte un dossier, même si csac y voit un manque (par exemple une signature manuscrite vérifiée
    sur le scan) ou s'il était à vérifier. La décision est journalisée avec votre nom, la date et la note.

    Un dossier qui contient toutes ses pièces et n'a jamais été envoyé en entier à sa région (à vérifier,
    ou incomplet pour ce que vous acceptez) lui est envoyé en entier, une seule fois, avec votre nom et la
    note. Relancée après une interruption, la commande envoie ce message s'il n'était pas parti.

    Exemple : `csac dossier accept 20007246000013-2021-045-lot2 --by "Marie Durand" --note "signature manuscrite vérifiée sur le scan"`
    """
    options = api.AcceptOptions(
        config_file=ctx.obj, dossier=dossier, by=by, note=note, outbox=outbox, state=state
    )
    done = api.accept_dossier(options)
    _said_decided(
        done,
        "l'acceptation enregistrée",
        "n'avait pas été envoyée à la région : elle l'est maintenant",
        "accepté",
    )
    if done.message_id:
        out.print(_plain(f"dossier envoyé en entier à {done.dossier.mailbox}"))
    elif done.withheld:
        err.print(Text(done.withheld, style="yellow"))


def _said_decided(done, recorded: str, unsent: str, verb: str) -> None:
    """What a decision did: made now, or recorded before an interruption and only its message sent now."""
    if done.resumed:
        from .casefile import french_time

        said = f"{recorded} le {french_time(done.event.at)} par {done.event.by} {unsent}"
    else:
        said = f"dossier {done.dossier.id} {verb} par {done.event.by}"
    out.print(_plain(said))


@dossier_app.command("refuse")
def dossier_refuse_cmd(
    ctx: typer.Context,
    dossier: DossierArg,
    by: ByOpt,
    reason: Annotated[
        str,
        typer.Option(
            "--reason", help="Le motif, tel que le déposant le lira dans le message.", callback=_readable
        ),
    ],
    outbox: OutboxOpt = None,
    state: StateOpt = None,
) -> None:
    """Refuse un dossier et en prévient le déposant par courriel, avec le motif, en copie à la région
    (réponse à la région). La décision est journalisée avec votre nom et la date.

    Relancée après une interruption, la commande envoie le message du refus déjà enregistré, une seule fois.

    Exemple : `csac dossier refuse 20007246000013-2021-045-lot2 --by "Marie Durand" --reason "le bon de commande est au nom d'un autre établissement"`
    """
    options = api.RefuseOptions(
        config_file=ctx.obj, dossier=dossier, by=by, reason=reason, outbox=outbox, state=state
    )
    done = api.refuse_dossier(options)
    unsent = f"(motif : {done.event.detail}) n'avait pas été envoyé : il l'est maintenant"
    _said_decided(done, "le refus enregistré", unsent, "refusé")
    if not done.sent_to:
        err.print(
            "[yellow]personne n'a pu être prévenu : ni adresse du déposant ni boîte régionale connues[/yellow]"
        )
    elif done.dossier.email:
        copy = f", copie à {done.sent_to[1]}" if len(done.sent_to) > 1 else ""
        out.print(_plain(f"déposant prévenu : {done.sent_to[0]}{copy}"))
    else:
        err.print(
            _plain(f"aucune adresse du déposant : le refus est envoyé à la région seule ({done.sent_to[0]})")
        )


@dossier_app.command("resend")
def dossier_resend_cmd(
    ctx: typer.Context, dossier: DossierArg, by: ByOpt, outbox: OutboxOpt = None, state: StateOpt = None
) -> None:
    """Renvoie au déposant l'avis de son dernier dépôt pour ce dossier, mot pour mot (un avis perdu, ou
    refusé par son relais). Chaque renvoi est un message à part, journalisé avec votre nom.

    Exemple : `csac dossier resend 20007246000013-2021-045-lot2 --by "Marie Durand"`
    """
    options = api.ResendOptions(config_file=ctx.obj, dossier=dossier, by=by, outbox=outbox, state=state)
    done = api.resend_notice(options)
    out.print(_plain(f"avis du dépôt n° {done.deposit_id} renvoyé à {done.to}"))


@dossier_app.command("set")
def dossier_set_cmd(
    ctx: typer.Context,
    dossier: DossierArg,
    follow_up: Annotated[
        str,
        typer.Option(
            "--state",
            metavar="SUIVI",
            help="Où en est l'équipe : traite, contre-signe ou titre-emis. Le dossier du journal se donne ici par "
            "--config ou CSAC_STATE.",
        ),
    ],
    by: ByOpt,
) -> None:
    """Note le suivi de l'équipe régionale pour un dossier complet ou accepté : traité, contre-signé,
    titre émis. Journalisé avec votre nom et la date.

    Exemple : `csac dossier set 20007246000013-2021-045-lot2 --state contre-signe --by "Marie Durand"`
    """
    from .casefile import follow_up_fr

    options = api.FollowUpOptions(config_file=ctx.obj, dossier=dossier, follow_up=follow_up, by=by)
    done = api.follow_up_dossier(options)
    out.print(_plain(f"dossier {done.id} : {follow_up_fr(done)} (par {by.strip()})"))


@dossier_app.command("export")
def dossier_export_cmd(
    ctx: typer.Context,
    region: Annotated[
        str, typer.Option("--region", help="Région : son nom, son identifiant ou sa boîte aux lettres.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="xlsx (Excel) ou csv (séparateur « ; », UTF-8).")
    ] = "xlsx",
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Fichier à écrire. Par défaut : dossiers-REGION-DATE.FORMAT ici."),
    ] = None,
    state: StateOpt = None,
) -> None:
    """Écrit le tableau de suivi des dossiers d'une région, pour Excel : une ligne par dossier, avec son
    état, son âge, ce qui manque, les montants et le suivi.

    Exemple : `csac dossier export --region Corse --format xlsx --out suivi-corse.xlsx`
    """
    options = api.ExportOptions(config_file=ctx.obj, region=region, format=fmt, out=out_file, state=state)
    done = api.export_dossiers(options)
    out.print(_plain(f"{done.count} dossier(s) de {done.region} écrit(s) dans {done.path}"))


user_app = FrenchTyper(
    help="Les comptes du bureau régional (`csac serve`) : une région chacun, ou le siège qui les voit toutes.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(user_app, name="user")
UserArg = Annotated[
    str, typer.Argument(metavar="NOM", help="Nom du compte, tel qu'il se connecte.", callback=_readable)
]


def _password(from_stdin: bool) -> str:
    """From standard input (its first line) for scripts, else typed twice without being shown."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    # Hidden only at a terminal: from a pipe nothing is shown anyway, and getpass would say in English
    # "Warning: Password input may be echoed".
    hide = sys.stdin.isatty()
    first = typer.prompt("Mot de passe", hide_input=hide, prompt_suffix=" : ")
    if typer.prompt("Mot de passe (encore une fois)", hide_input=hide, prompt_suffix=" : ") != first:
        raise ArgumentError(
            "les deux mots de passe saisis diffèrent : aucun compte n'a été créé, recommencez"
        )
    return first


@user_app.command("add")
def user_add_cmd(
    ctx: typer.Context,
    name: UserArg,
    region: Annotated[
        str,
        typer.Option(
            "--region",
            help="Région du compte (son nom, son identifiant ou sa boîte aux lettres), ou « siege » pour le "
            "siège du Resah, qui voit toutes les régions.",
            callback=_readable,
        ),
    ],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Lire le mot de passe sur l'entrée standard (première ligne), pour les scripts.",
        ),
    ] = False,
    state: StateOpt = None,
) -> None:
    """Crée un compte du bureau régional. Le mot de passe (12 caractères au moins) est demandé deux fois
    sans s'afficher ; seule son empreinte (argon2id) est conservée, dans le journal.

    Exemples : `csac user add marie.durand --region Bretagne`,
    `echo "$MOT_DE_PASSE" | csac user add siege.resah --region siege --password-stdin`
    """
    options = api.UserOptions(
        config_file=ctx.obj, name=name, region=region, password=_password(password_stdin), state=state
    )
    done = api.add_user(options)
    where = api.region_fr(options.resources, done.region)
    out.print(_plain(f"compte « {done.name} » créé : {where}"))


@user_app.command("list")
def user_list_cmd(ctx: typer.Context, state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Liste les comptes du bureau régional, avec leur région et s'ils sont actifs.

    Exemple : `csac user list --json`
    """
    users = api.list_users(api.UsersOptions(config_file=ctx.obj, state=state))
    if as_json:
        rows = [{"name": u.account.name, "region": u.account.region, "active": u.account.active,
                 "created_at": u.account.created_at} for u in users]  # fmt: skip
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    if not users:
        out.print("Aucun compte. `csac user add NOM --region RÉGION` en crée un.")
        return
    table = Table(title="Comptes du bureau régional", caption=f"{len(users)} compte(s)")
    for col in ("compte", "région", "actif", "créé le"):
        table.add_column(col, overflow="fold")
    for u in users:
        active = "oui" if u.account.active else "non (désactivé)"
        table.add_row(*map(_plain, (u.account.name, u.region_fr, active, u.account.created_at)))
    out.print(table)


@user_app.command("disable")
def user_disable_cmd(ctx: typer.Context, name: UserArg, state: StateOpt = None) -> None:
    """Désactive un compte : il ne peut plus se connecter ; son nom reste dans l'historique des dossiers.

    Exemple : `csac user disable marie.durand`
    """
    done = api.disable_user(api.DisableOptions(config_file=ctx.obj, name=name, state=state))
    out.print(_plain(f"compte « {done.name} » désactivé"))


warm_app = FrenchTyper(
    help="Le serveur csac résident : il charge une fois les bibliothèques, et chaque commande `csac` démarre "
    "ensuite en une fraction de seconde.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(warm_app, name="warm")


@warm_app.command("start")
def warm_start_cmd(
    idle: Annotated[
        int,
        typer.Option(
            "--idle",
            min=0,
            metavar="MINUTES",
            help="Minutes sans commande après lesquelles le serveur s'arrête de lui-même ; 0 : jamais. "
            "Par défaut : 480 (une journée de travail).",
        ),
    ] = resident.IDLE_MINUTES,
) -> None:
    """Démarre le serveur résident en arrière-plan. Les commandes `csac` suivantes (sauf `watch`, `serve`
    et `warm`) s'exécutent dans un processus qu'il crée, avec vos dossiers, environnement et flux ; sans
    lui, ou si csac a été mis à jour depuis, elles s'exécutent comme avant.

    Exemple : `csac warm start`, puis `csac intake inbox/depot.zip`
    """
    found = resident.start(idle)
    said = "déjà démarré" if found["already"] else "démarré"
    out.print(_plain(f"serveur csac résident {said} (pid {found['pid']}), à l'écoute sur {found['socket']}"))
    out.print(_plain(f"  journal : {resident.log_path()}"))
    out.print(f"  arrêt : `csac warm stop`{_idle_fr(found['idle_minutes'])}", markup=False)


def _idle_fr(minutes: float) -> str:
    return f", ou de lui-même après {resident.minutes_fr(minutes)} min sans commande" if minutes else ""


@warm_app.command("stop")
def warm_stop_cmd() -> None:
    """Arrête le serveur résident ; les commandes en cours finissent leur travail.

    Exemple : `csac warm stop`
    """
    found = resident.stop()
    if found is None:
        out.print("aucun serveur csac résident ne tourne")
        return
    out.print(f"serveur csac résident arrêté (pid {found['pid']}, {found['served']} commande(s) servie(s))")


@warm_app.command("status")
def warm_status_cmd(as_json: JsonOpt = False) -> None:
    """Dit si le serveur résident tourne, depuis quand, combien de commandes il a servies, sa mémoire, et
    s'il est à jour (sinon, la prochaine commande s'exécute sans lui et il s'arrête).

    Exemple : `csac warm status --json`
    """
    found = resident.status()
    if as_json:
        out.print_json(json.dumps(found, ensure_ascii=False))
        return
    if not found["running"]:
        out.print(
            _plain(
                f"aucun serveur csac résident ne tourne ({found['socket']}) ; `csac warm start` le démarre"
            )
        )
        return
    table = Table(title="Serveur csac résident", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    since = dt.datetime.fromtimestamp(found["started"]).strftime("%Y-%m-%d %H:%M:%S")
    rows = (
        ("processus", str(found["pid"])),
        ("socket", found["socket"]),
        ("démarré le", f"{since} (prêt en {found['ready'] - found['started']:.1f} s)".replace(".", ",")),
        ("commandes servies", str(found["served"])),
        ("mémoire", f"{found['rss_kb'] / 1024:.0f} Mo"),
        (
            "arrêt si inactif",
            f"après {resident.minutes_fr(found['idle_minutes'])} min" if found["idle_minutes"] else "jamais",
        ),
        ("à jour", "oui" if found["current"] else "non : csac a changé ; la prochaine commande l'arrêtera"),
    )
    for row in rows:
        table.add_row(*map(_plain, row))
    out.print(table)


def main() -> None:
    """Entry point: typed errors become a French message and an exit code (usage errors are said and
    exit 1 in pipeline/cli_french.py)."""
    _leave_objects_to_the_os()
    try:
        app()
    except ArgumentError as exc:  # like a usage error: the usage line and where the help is, then why
        from .cli_french import show_argument_error

        show_argument_error(typer.main.get_command(app), sys.argv[1:], str(exc))
        sys.exit(exc.exit_code)
    except CsacError as exc:
        err.print(Text.assemble(("erreur", "red"), f" : {exc}"))  # what it quotes is no markup
        if isinstance(exc, InputError):
            err.print("Rien n'a été écrit. Corrigez le fichier et relancez.")
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):  # typer turns most into exit 130 (cli_french.py says it)
        err.print("interrompu")
        sys.exit(ExitCode.interrupted)
    except OSError as exc:  # a folder csac had to write (-o, --state, --inbox) and could not
        from .reading import said_os_error, what_to_do

        err.print(Text.assemble(("erreur", "red"), f" : {said_os_error(exc)}"))
        err.print(what_to_do(exc))
        sys.exit(ExitCode.file_access_error)
    except Exception as exc:  # a fault of csac: a French line for the clerk, the traceback on request
        if os.environ.get("CSAC_DEBUG"):
            raise
        err.print(
            Text.assemble(
                ("erreur interne de csac", "red"),
                f" ({type(exc).__name__}) : signalez-la avec la commande lancée ; CSAC_DEBUG=1 affiche le détail technique.",
            )
        )
        sys.exit(ExitCode.other_error)


def _leave_objects_to_the_os() -> None:
    """When csac exits, what it built is left to the OS rather than traversed by the interpreter's last
    garbage collections: 0.1 to 0.15 s of CPU after a `csac intake`, whose imports alone make some
    100,000 objects. atexit handlers (logging's flush, pypdfium2's and weakref finalizers) still run,
    and objects still go by reference counting; only cycles nothing refers to are not collected (Python
    does not promise their finalizers at exit)."""
    atexit.unregister(gc.freeze)  # once, however many times main runs in one process (tests)
    atexit.register(gc.freeze)
