"""The `csac` command: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .errors import CsacError, ExitCode, InputError
from .journal import Journal
from .resources import KINDS, Resources, Workspace
from .variants import load_variants, select

# Each command imports the libraries it needs when it runs: `csac intake` and
# `csac watch` must stay small in memory whatever a deposit holds, and need not
# carry the rendering stack (docxtpl, fpdf2, Pillow).

app = typer.Typer(
    help="csac — conventions de service d'achat centralisé du Resah.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

DateOpt = Annotated[
    dt.datetime | None,
    typer.Option(
        "--date",
        formats=["%Y-%m-%d"],
        help="Date of the campaign (bulletin year, 31 October rule). Default: today.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
PRIVATE = 0o077  # deposits, journal and messages hold personal data (GDPR): owner only
StateOpt = Annotated[
    Path | None, typer.Option("--state", help="Folder of the journal and the register of signatories.")
]
OutboxOpt = Annotated[
    Path | None, typer.Option("--outbox", help="Folder of the regional Maildirs and the quarantine.")
]


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="Configuration file (default: ./csac.yaml if present).")
    ] = None,
) -> None:
    ctx.obj = config


def _config(ctx: typer.Context, inbox=None, outbox=None, state=None):
    """The configuration, read once; folders given on the command line win."""
    from .config import load_config

    return load_config(ctx.obj, Resources.default()).with_paths(inbox, outbox, state)


def _variant_ids(names: list[str]) -> list[str] | None:
    return None if not names or names == ["all"] else names


@app.command("variants")
def variants_cmd(as_json: JsonOpt = False) -> None:
    """List the convention variants and their tariffs.

    Example: `csac variants` or `csac variants --json`
    """
    variants = load_variants(Resources.default())
    if as_json:
        data = [
            {
                "id": v.id,
                "framework_agreement": v.framework_agreement,
                "lot": v.lot,
                "summary": v.summary,
                "modes": list(v.modes),
                "tariff": [
                    {"label": r.label, "typology": r.typology, "amount": r.amount_text} for r in v.tariff.rows
                ],
                "supplementary_contribution": str(v.supplementary_contribution)
                if v.supplementary_contribution
                else None,
            }
            for v in variants.values()
        ]
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    for v in variants.values():
        table = Table(title=f"{v.id} — {v.label} — {v.summary}", title_justify="left")
        table.add_column("typologie")
        table.add_column("libellé du tarif")
        table.add_column("contribution annuelle", justify="right")
        for row in v.tariff.rows:
            table.add_row(row.typology, row.label, row.amount_text)
        extra = v.supplementary_contribution
        table.caption = f"modes : {', '.join(v.modes)}" + (
            f" — contribution complémentaire : {extra} €" if extra else ""
        )
        out.print(table)


@app.command("render")
def render_cmd(
    variants: Annotated[list[str], typer.Argument(help="Variant ids, or `all`.")],
    beneficiary: Annotated[Path, typer.Option("--beneficiary", "-b", help="Signatory file (YAML or JSON).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("outbox"),
    date: DateOpt = None,
    bulletin: Annotated[bool, typer.Option(help="Also render the membership bulletin.")] = True,
    as_json: JsonOpt = False,
    state: StateOpt = Path("var"),
) -> None:
    """Render the conventions, annexes and bulletin for one signatory.

    Example: `csac render 2021-045-lot2 --beneficiary examples/beneficiaire.yaml --out outbox/`

    Example: `csac render all -b examples/beneficiaire.yaml -o outbox/demo --date 2024-03-01`
    """
    from . import register
    from .render import Renderer, write_documents
    from .request import parse_request, read_data_file

    resources = Resources.default()
    chosen = select(load_variants(resources), _variant_ids(variants))
    renderer = Renderer.build(resources, chosen)
    data = read_data_file(beneficiary)
    request = parse_request(data, str(beneficiary), renderer.regions, resources.schema("beneficiary"), chosen)
    on = (date or dt.datetime.now()).date()
    kinds = KINDS if bulletin else ("convention", "annex")
    docs = renderer.package(request, on, kinds)
    write_documents(out_dir, docs)
    register.record(Workspace(state=state).register, request, chosen)
    if as_json:
        out.print_json(json.dumps([d.manifest_entry() for d in docs], ensure_ascii=False))
        return
    table = Table(title=f"{request.signatory.entity.name} → {request.region.name} ({request.region.mailbox})")
    for col in ("document", "variante", "fichier", "sha256"):
        table.add_column(col, overflow="fold")
    for d in docs:
        table.add_row(d.kind, d.variant or "—", str(out_dir / d.relpath), d.sha256[:12])
    out.print(table)


@app.command("render-batch")
def render_batch_cmd(
    campaign_file: Annotated[
        Path,
        typer.Argument(metavar="CAMPAIGN", help="Campaign file: .csv (one signatory per line) or .yaml."),
    ],
    variants: Annotated[
        str, typer.Option("--variants", help="Comma-separated variant ids, or `all`.")
    ] = "all",
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder (manifest.json goes there).")
    ] = Path("outbox"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes.")] = os.cpu_count() or 2,
    date: DateOpt = None,
    documents: Annotated[
        str, typer.Option("--documents", help="Comma-separated kinds to render: convention, annex, bulletin.")
    ] = ",".join(KINDS),
    state: StateOpt = Path("var"),
) -> None:
    """Render a whole campaign, going on past bad rows, and write manifest.json.

    Example: `csac render-batch examples/campagne.csv --variants 2021-045-lot2,2021-063-002 --out outbox/campagne`
    """
    from .campaign import load_campaign, run_campaign

    resources = Resources.default()
    ids = [v.id for v in select(load_variants(resources), _variant_ids(variants.split(",")))]
    kinds = tuple(k.strip() for k in documents.split(","))
    if not kinds or set(kinds) - set(KINDS):
        raise typer.BadParameter(f"--documents : choisissez parmi {', '.join(KINDS)}")
    campaign = load_campaign(campaign_file, resources)
    on = date.date() if date else None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("signataires", total=len(campaign.rows))
        result = run_campaign(
            campaign, ids, out_dir, resources, jobs, on, lambda n: progress.advance(task, n)
        )
    out.print(f"{len(result.outputs)} fichier(s) écrit(s) ; manifeste : {result.manifest}")
    for failure in result.failures:
        err.print(f"[red]ligne {failure.number}[/red] {failure.label} :")
        for problem in failure.problems:
            err.print(f"    - {problem}")
    if result.failures:
        err.print(
            f"[red]{len(result.failures)} ligne(s) refusée(s) sur {len(campaign.rows)}[/red] — corrigez-les et relancez."
        )
        raise typer.Exit(ExitCode.input_file)


@app.command("intake")
def intake_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The deposited ZIP.", exists=True, dir_okay=False)],
    form: Annotated[
        Path | None,
        typer.Option(
            "--form", help="Deposit form (JSON or YAML). Default: NAME.json or NAME.yaml beside NAME.zip."
        ),
    ] = None,
    outbox: OutboxOpt = None,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take in one deposit: check it, route it to its region, and print the verdict.

    Exits 0 whatever the verdict; non-zero only when csac itself could not work.

    Example: `csac intake inbox/depot.zip --json`
    """
    from .intake import IntakeContext, take_in

    os.umask(PRIVATE)
    config = _config(ctx, outbox=outbox, state=state)
    intake = IntakeContext.build(Resources.default(), config.workspace, config=config)
    report = take_in(path, intake, form)
    if as_json:
        out.print_json(json.dumps(report.to_json(), ensure_ascii=False))
        return
    colour = {"complete": "green", "incomplete": "yellow", "rejected": "red"}[report.status]
    out.print(f"[{colour}]{report.status}[/{colour}] {report.deposit_id} — {report.file}")
    out.print(
        f"  variante : {report.variant} — SIRET : {report.siret} — région : {report.region} ({report.mailbox})"
    )
    for doc in report.documents:
        out.print(f"  {doc.role:<15} {doc.name}")
    for problem in report.problems:
        out.print(f"  [{colour}]{problem.code}[/{colour}] {problem.message}")
    out.print(f"  remis à : {', '.join(report.delivered_to) or '—'}")


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many deposits, newest first.")] = 20,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the latest deposits and their verdicts, from the journal.

    Example: `csac status` or `csac status --json -n 100`
    """
    from .mailqueue import MailQueue

    workspace = _config(ctx, state=state).workspace
    rows = Journal(workspace.journal).latest(limit)
    queue = MailQueue(workspace.state)
    for row in rows:
        row["messages"] = queue.for_deposit(row["id"])
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="Derniers dépôts")
    for col in (
        "dépôt",
        "reçu",
        "fichier",
        "état",
        "verdict",
        "variante",
        "région",
        "problèmes",
        "courriels",
    ):
        table.add_column(col, overflow="fold")
    for r in rows:
        mails = ", ".join(
            f"{m['state']}"
            + (
                f" ({m['answer']})"
                if (m["state"] in ("failed", "queued") or m["refused"]) and m["answer"]
                else ""
            )
            for m in r["messages"]
        )
        table.add_row(
            r["id"],
            r["received_at"][:19],
            r["file"],
            r["state"],
            r["status"] or "—",
            r["variant"] or "—",
            r["region"] or "—",
            ", ".join(r["problems"]),
            mails or "—",
        )
    out.print(table)


@app.command("sample-deposit")
def sample_deposit_cmd(
    beneficiary: Annotated[Path, typer.Option("--beneficiary", "-b", help="Signatory file (YAML or JSON).")],
    variant: Annotated[str, typer.Option("--variant", help="Variant id.")] = "2021-045-lot2",
    out_zip: Annotated[
        Path, typer.Option("--out", "-o", help="The ZIP to write; its form goes beside it.")
    ] = Path("inbox/depot-exemple.zip"),
    email: Annotated[
        str, typer.Option(help="Depositor's e-mail in the form.")
    ] = "acheteur@collectivite.example",
) -> None:
    """Build a signed sample deposit (convention PDF signed with a throwaway certificate, annex, EJ).

    Example: `csac sample-deposit -b examples/beneficiaire.yaml --variant 2021-045-lot2 -o inbox/depot.zip`
    """
    from . import sample
    from .render import Renderer
    from .request import parse_request, read_data_file

    resources = Resources.default()
    chosen = select(load_variants(resources), [variant])
    renderer = Renderer.build(resources, chosen)
    request = parse_request(
        read_data_file(beneficiary),
        str(beneficiary),
        renderer.regions,
        resources.schema("beneficiary"),
        chosen,
    )
    paths = sample.write_deposit(renderer, request, chosen[0], out_zip, email)
    out.print(f"dépôt d'exemple : {paths[0]} (formulaire : {paths[1]})")


config_app = typer.Typer(
    help="Check the configuration (csac.yaml and the environment).", no_args_is_help=True
)
outbox_app = typer.Typer(
    help="The outgoing mail queue, when an SMTP relay is configured.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(outbox_app, name="outbox")


@config_app.command("check")
def config_check_cmd(
    ctx: typer.Context,
    connect: Annotated[
        bool, typer.Option("--connect", help="Also connect to the SMTP relay (and log in).")
    ] = False,
) -> None:
    """Validate the configuration against its schema; with --connect, try the relay.

    Example: `csac --config csac.yaml config check --connect`
    """
    config = _config(ctx)
    ws = config.workspace
    out.print(f"configuration : {config.source}")
    out.print(f"  dossiers : entrée {ws.inbox}, sortie {ws.outbox}, état {ws.state}")
    out.print(
        f"  relais SMTP : {config.relay.describe() if config.relay else 'aucun (Maildir dans le dossier de sortie)'}"
    )
    if config.redirect:
        out.print(f"  [yellow]répétition : tous les messages vont à {config.redirect}[/yellow]")
    if connect and config.relay:
        from .mailqueue import check_relay

        try:
            out.print(f"  connexion : {check_relay(config.relay)}")
        except Exception as exc:  # any failure to reach or greet the relay is reported as such
            err.print(f"[red]connexion au relais impossible[/red] : {type(exc).__name__}: {exc}")
            raise typer.Exit(ExitCode.file_access_error) from exc
    out.print("[green]configuration valide[/green]")


@outbox_app.command("flush")
def outbox_flush_cmd(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Also send messages still waiting out their backoff.")
    ] = False,
    state: StateOpt = None,
) -> None:
    """Send the queued messages through the relay now.

    Example: `csac outbox flush` or `csac outbox flush --force` after a relay outage
    """
    from .mailqueue import MailQueue

    config = _config(ctx, state=state)
    if config.relay is None:
        err.print("aucun relais SMTP configuré : les messages sont dans les Maildir du dossier de sortie")
        raise typer.Exit(ExitCode.bad_args)
    result = MailQueue(config.workspace.state).flush(config, force=force)
    out.print(
        f"envoyés : {len(result.sent)} ; en attente : {len(result.deferred)} ; refusés définitivement : {len(result.failed)}"
    )


@app.command("digest")
def digest_cmd(
    ctx: typer.Context,
    region: Annotated[str, typer.Option("--region", help="Region: its name, id or mailbox.")],
    since: Annotated[dt.datetime, typer.Option("--since", formats=["%Y-%m-%d"], help="First day covered.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write digest-REGION-DATE.txt and .html here.")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="Send it to the region's mailbox.")] = False,
    state: StateOpt = None,
) -> None:
    """A French summary for a regional team: deposits received, complete or not, dues, who it waits on.

    Example: `csac digest --region Corse --since 2024-03-01 --send`
    """
    from . import digest
    from .deliver import Courier
    from .regions import load_regions
    from .textnorm import fold

    config = _config(ctx, state=state)
    book = load_regions(Resources.default().regions_file)
    found = next(
        (
            r
            for r in book.regions
            if fold(region) in (fold(r.name), fold(r.id), fold(r.mailbox), fold(r.label))
        ),
        None,
    )
    if found is None:
        err.print(f"région inconnue : {region} — régions : {', '.join(r.name for r in book.regions)}")
        raise typer.Exit(ExitCode.bad_args)
    result = digest.build_digest(config.workspace.journal, found, since.date())
    out.print(digest.text(result), highlight=False)
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = out_dir / f"digest-{found.id}-{since:%Y-%m-%d}"
        stem.with_suffix(".txt").write_text(digest.text(result) + "\n", encoding="utf-8")
        stem.with_suffix(".html").write_text(digest.html_page(result), encoding="utf-8")
    if send:
        courier = Courier(config)
        courier.send(digest.message(result, dt.date.today()), None)
        courier.flush()
        out.print(f"synthèse envoyée à {found.mailbox}")


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"at": self.formatTime(record), "level": record.levelname, "message": record.getMessage()}
        line |= {k: getattr(record, k) for k in ("deposit", "state") if hasattr(record, k)}
        return json.dumps(line, ensure_ascii=False)


def _logging(json_lines: bool) -> None:
    """Lines on stderr; a warning or error that recurs is said twice, then once a minute (pipeline/logs.py)."""
    from .logs import Throttle

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonLines() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    handler.addFilter(Throttle())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


@app.command("watch")
def watch_cmd(
    ctx: typer.Context,
    inbox: Annotated[
        Path | None, typer.Option("--inbox", help="Folder the clerks drop deposits into.")
    ] = None,
    outbox: OutboxOpt = None,
    state: StateOpt = None,
    poll: Annotated[
        float | None,
        typer.Option("--poll", help="Poll every SECONDS instead of file-system events (network shares)."),
    ] = None,
    settle: Annotated[
        float, typer.Option("--settle", help="Seconds a file must stay unchanged before it is taken.")
    ] = 0.5,
    rescan: Annotated[
        float, typer.Option("--rescan", help="Seconds between full rescans and retries of failed deliveries.")
    ] = 10.0,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line.")] = False,
) -> None:
    """Watch the inbox and take in every deposit dropped there, exactly once.

    Ctrl-C finishes the deposit in hand and stops; a second Ctrl-C gives it back to the inbox.

    Example: `csac watch --inbox inbox/ --outbox outbox/` or `csac watch --poll 2` on a network share
    """
    from .intake import IntakeContext
    from .watch import Watcher, WatchSettings

    _logging(log_json)
    os.umask(PRIVATE)
    config = _config(ctx, inbox, outbox, state)
    intake = IntakeContext.build(Resources.default(), config.workspace, config=config)
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        logging.getLogger("csac.watch").info("arrêt demandé : fin du dépôt en cours")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    settings = WatchSettings(settle=settle, poll=poll, rescan=rescan)
    ws = config.workspace
    logging.getLogger("csac.watch").info("veille de %s (sortie : %s)", ws.inbox, ws.outbox)
    Watcher(intake, settings).run(stop)


def main() -> None:
    """Entry point: typed errors become a French message and an exit code."""
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit codes here
    except CsacError as exc:
        err.print(f"[red]erreur[/red] : {exc}", highlight=False)
        if isinstance(exc, InputError):
            err.print("Rien n'a été écrit. Corrigez le fichier et relancez.")
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: typer prints them and says how
        show = getattr(exc, "show", None)
        show() if show else err.print(str(exc))
        sys.exit(getattr(exc, "exit_code", ExitCode.bad_args))
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrompu")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else ExitCode.ok)
