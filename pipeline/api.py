"""One function per `csac` command, each taking one typed options object (after OCRmyPDF's run_pipeline).

cli.py turns the command line into these options, makes one call here and prints what comes back;
a script, a test or a web desk makes the same calls. The configuration is read here, once per call:
the file (--config, or ./csac.yaml), then the environment (CSAC_STATE…), then folders given as options.

Each function imports the libraries it needs when it runs: `csac intake` and `csac watch` must stay
small in memory whatever a deposit holds, and need not carry the rendering stack (docxtpl, fpdf2, Pillow).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config, load_config
from .errors import ArgumentError
from .resources import KINDS, Resources

if TYPE_CHECKING:
    from .accounts import Account
    from .campaign import BatchResult
    from .casefile import CaseFile
    from .decide import Acceptance, Refusal, Resent
    from .dossiers import Dossier
    from .listing import Listed
    from .mailqueue import Flush
    from .regions import Region, RegionBook
    from .remind import Run
    from .render import Document
    from .request import Request
    from .variants import Variant

Progress = Callable[[int, int], None]  # (rows just done, rows in the campaign)


@dataclass(frozen=True, kw_only=True)
class Setup:
    """What every command reads: the configuration file and the repository's data files."""

    config_file: Path | None = None  # --config; None: ./csac.yaml if present
    resources: Resources = field(default_factory=Resources.default)

    def config(
        self, inbox: Path | None = None, outbox: Path | None = None, state: Path | None = None
    ) -> Config:
        """The file, then the environment; the folders given here win."""
        return load_config(self.config_file, self.resources).with_paths(inbox, outbox, state)


def list_variants(options: Setup) -> list[Variant]:
    from .variants import load_variants

    return list(load_variants(options.resources).values())


@dataclass(frozen=True, kw_only=True)
class RenderOptions(Setup):
    beneficiary: Path  # the signatory file, YAML or JSON
    variants: tuple[str, ...] = ()  # none: every variant
    out: Path = Path("outbox")
    on: dt.date | None = None  # the bulletin's year and its 31 October rule; None: today
    kinds: tuple[str, ...] = KINDS
    state: Path | None = None  # the register's folder; None: the configuration's
    pdf: bool = False  # a PDF beside each Word file (LibreOffice), for e-signature platforms


@dataclass(frozen=True)
class Rendered:
    request: Request
    documents: tuple[Document, ...]
    out: Path
    pdfs: tuple[Path, ...] = ()


def _pdfs(out: Path, relpaths: list[str], soffice: str) -> tuple[Path, ...]:
    """A PDF beside each Word file, all through one LibreOffice process per batch (pipeline/topdf.py).

    Only the Word files: they are what a signatory signs; the annex stays a workbook to fill in."""
    from .topdf import convert_to_pdf

    return tuple(convert_to_pdf([out / path for path in relpaths if path.endswith(".docx")], soffice))


def _soffice(pdf: bool) -> str | None:
    """LibreOffice when PDFs are asked, found before anything is written."""
    from .topdf import require_soffice

    return require_soffice() if pdf else None


def _prepared(resources: Resources, variant_ids: list[str], beneficiary: Path):
    """The variants asked, their compiled templates and the checked signatory; nothing written yet."""
    from .render import Renderer
    from .request import parse_request, read_data_file
    from .variants import load_variants, select

    chosen = select(load_variants(resources), variant_ids)
    renderer = Renderer.build(resources, chosen)
    data = read_data_file(beneficiary)
    request = parse_request(data, str(beneficiary), renderer.regions, resources.schema("beneficiary"), chosen)
    return chosen, renderer, request


def render_signatory(options: RenderOptions) -> Rendered:
    """One signatory's package written, and the signatory put in the register intake routes by."""
    from . import register
    from .render import write_documents

    soffice = _soffice(options.pdf)
    chosen, renderer, request = _prepared(options.resources, list(options.variants), options.beneficiary)
    register_file = options.config(state=options.state).workspace.register
    docs = renderer.package(request, options.on or dt.date.today(), options.kinds)
    write_documents(options.out, docs)
    pdfs = _pdfs(options.out, [d.relpath for d in docs], soffice) if soffice else ()
    register.record(register_file, request, chosen)
    return Rendered(request, tuple(docs), options.out, pdfs)


@dataclass(frozen=True, kw_only=True)
class CampaignOptions(Setup):
    campaign: Path  # .csv (one signatory per line) or .yaml
    variants: tuple[str, ...] = ()  # none: every variant
    out: Path = Path("outbox")
    jobs: int = 2  # worker processes
    on: dt.date | None = None  # None: the campaign's date, else today
    kinds: tuple[str, ...] = KINDS
    state: Path | None = None  # the register's folder; None: the configuration's
    pdf: bool = False  # a PDF beside each Word file, the whole campaign through one LibreOffice per batch


def render_campaign(options: CampaignOptions, progress: Progress | None = None) -> BatchResult:
    """Every good row rendered, written and registered; the bad ones reported; manifest.json written."""
    from .campaign import load_campaign, manifest_paths, run_campaign
    from .variants import load_variants, select

    soffice = _soffice(options.pdf)
    resources = options.resources
    ids = [v.id for v in select(load_variants(resources), list(options.variants))]
    register_file = options.config(state=options.state).workspace.register
    campaign = load_campaign(options.campaign, resources)
    total = len(campaign.rows)
    if progress:
        progress(0, total)
    tick = (lambda n: progress(n, total)) if progress else None
    result = run_campaign(
        campaign, ids, options.out, resources, options.jobs, options.on, tick, options.kinds, register_file
    )
    if soffice:
        _pdfs(options.out, list(manifest_paths(result.manifest)), soffice)
    return result


@dataclass(frozen=True, kw_only=True)
class SampleOptions(Setup):
    beneficiary: Path
    variant: str = "2021-045-lot2"
    out: Path = Path("inbox/depot-exemple.zip")  # its form goes beside it
    email: str = "acheteur@collectivite.example"  # the depositor's, in the form


def sample_deposit(options: SampleOptions) -> tuple[Path, Path]:
    """A signed sample deposit and its form: the ZIP's path, then the form's."""
    from . import sample

    chosen, renderer, request = _prepared(options.resources, [options.variant], options.beneficiary)
    return sample.write_deposit(renderer, request, chosen[0], options.out, options.email)


@dataclass(frozen=True, kw_only=True)
class IntakeOptions(Setup):
    deposit: Path  # the ZIP
    form: Path | None = None  # None: NAME.json or NAME.yaml beside NAME.zip
    outbox: Path | None = None
    state: Path | None = None


def take_in_deposit(options: IntakeOptions) -> dict:
    """One deposit checked, routed, delivered and journalled; its report."""
    from .intake import IntakeContext, take_in

    config = options.config(outbox=options.outbox, state=options.state)
    ctx = IntakeContext.build(options.resources, config.workspace, config=config)
    return take_in(options.deposit, ctx, options.form)


def take_in_deposits(options: IntakeOptions, deposits: list[Path]) -> Iterator:
    """Several deposits taken in one after the other, each with its own form beside it; one setup (the
    variants, regions and journal opened once) for them all. Their reports, as each is done."""
    from .intake import IntakeContext, take_in

    if options.form and len(deposits) > 1:
        raise ArgumentError(
            "--form ne vaut que pour un seul dépôt : placez NOM.json à côté de chaque NOM.zip"
        )
    config = options.config(outbox=options.outbox, state=options.state)
    ctx = IntakeContext.build(options.resources, config.workspace, config=config)
    for deposit in deposits:
        yield take_in(deposit, ctx, options.form)


@dataclass(frozen=True, kw_only=True)
class StatusOptions(Setup):
    limit: int = 20  # deposits, newest first
    region: str | None = None  # its name, id, label or mailbox, as a person types it; or the triage
    siret: str | None = None  # spaces allowed
    search: str | None = None  # in the organisation, file name, deposit number or dossier number
    status: str | None = None  # complet/complete, incomplet/incomplete, refusé/rejected
    since: dt.date | None = None  # received on that day or after
    state: Path | None = None


def latest_deposits(options: StatusOptions) -> list[Listed]:
    """The journal's latest deposits that match the options, each with its messages (sent, queued or
    failed through the relay)."""
    from .listing import Criteria, deposits, verdict_named
    from .mailqueue import MailQueue

    config = options.config(state=options.state)
    mailbox = _region_named(options.resources, options.region, config).mailbox if options.region else None
    criteria = Criteria(
        mailbox, options.siret, options.search, verdict_named(options.status) if options.status else None,
        options.since, options.limit,
    )  # fmt: skip
    queue = MailQueue(config.workspace.state)
    rows = deposits(config.workspace.journal, criteria)
    return [replace(row, messages=tuple(queue.for_deposit(row.id))) for row in rows]


@dataclass(frozen=True, kw_only=True)
class CheckOptions(Setup):
    connect: bool = False  # also connect to the relay and log in


@dataclass(frozen=True)
class ConfigCheck:
    config: Config
    connection: str | None = None  # the relay's greeting, when asked to connect
    failure: str | None = None  # why the relay could not be reached or greeted


def check_config(options: CheckOptions) -> ConfigCheck:
    """The configuration, valid (else ConfigError); with `connect`, what the relay answered."""
    config = options.config()
    if not (options.connect and config.relay):
        return ConfigCheck(config)
    from .mailqueue import check_relay
    from .relay import Misconfigured, Unreachable, describe

    try:
        return ConfigCheck(config, connection=check_relay(config.relay))
    except (Unreachable, Misconfigured) as exc:  # already said in French
        return ConfigCheck(config, failure=str(exc))
    except Exception as exc:  # any failure to reach or greet the relay is reported as such
        return ConfigCheck(config, failure=describe(exc, config.relay))


@dataclass(frozen=True, kw_only=True)
class FlushOptions(Setup):
    force: bool = False  # also the messages still waiting out their backoff
    state: Path | None = None


def flush_outbox(options: FlushOptions) -> Flush:
    from .mailqueue import MailQueue

    config = options.config(state=options.state)
    if config.relay is None:
        raise ArgumentError(
            "aucun relais SMTP configuré : les messages sont dans les Maildir du dossier de sortie"
        )
    return MailQueue(config.workspace.state).flush(config, force=options.force)


@dataclass(frozen=True, kw_only=True)
class DigestOptions(Setup):
    region: str  # its name, id, label or mailbox, as a person types it; or the triage
    since: dt.date  # the first day covered
    out: Path | None = None  # write digest-REGION-DATE.txt and .html there
    send: bool = False  # send it to the region's mailbox
    outbox: Path | None = None  # where the Maildirs are when there is no relay: intake's
    state: Path | None = None


@dataclass(frozen=True)
class DigestDone:
    text: str
    files: tuple[Path, ...] = ()
    sent_to: str | None = None


def regional_digest(options: DigestOptions) -> DigestDone:
    """A region's digest, or the triage's, written and sent as asked; ArgumentError for a region nobody
    knows. Sent without a relay, it lands in the outbox intake delivers to."""
    from . import digest
    from .deliver import Courier

    config = options.config(outbox=options.outbox, state=options.state)
    book = _regions(options.resources, config)
    region, ws = book.find(options.region), config.workspace
    if region == book.triage:
        result = digest.build_triage(ws.journal, region, options.since)
    else:
        result = digest.build_digest(ws.journal, region, options.since, ws.register)
    files = ()
    if options.out:
        options.out.mkdir(parents=True, exist_ok=True)
        stem = options.out / f"digest-{region.id}-{options.since:%Y-%m-%d}"
        files = (stem.with_suffix(".txt"), stem.with_suffix(".html"))
        files[0].write_text(digest.text(result) + "\n", encoding="utf-8")
        files[1].write_text(digest.html_page(result), encoding="utf-8")
    if options.send:
        courier = Courier(config)
        courier.send(digest.message(result, dt.date.today()), None)
        courier.flush()
    return DigestDone(digest.text(result), files, region.mailbox if options.send else None)


@dataclass(frozen=True, kw_only=True)
class RemindOptions(Setup):
    days: int | None = None  # None: the configuration's reminder_days
    dry_run: bool = False  # list the reminders due, send nothing
    now: dt.datetime | None = None  # the moment that decides what is due; None: now
    outbox: Path | None = None
    state: Path | None = None


def send_reminders(options: RemindOptions) -> Run:
    """The depositors of the dossiers still incomplete after N days reminded of what is missing."""
    from .remind import remind

    config = options.config(outbox=options.outbox, state=options.state)
    now = options.now or dt.datetime.now()
    return remind(config, now, options.days, options.dry_run)


@dataclass(frozen=True, kw_only=True)
class WatchOptions(Setup):
    inbox: Path | None = None
    outbox: Path | None = None
    state: Path | None = None
    poll: float | None = None  # poll every this many seconds instead of file-system events
    settle: float = 0.5  # seconds a file must stay unchanged before it is taken
    rescan: float = 10.0  # seconds between full rescans and retries
    corrupt_grace: float = 30.0  # seconds a stable file that never reads as a ZIP waits before it is taken


def watch(options: WatchOptions, stop: threading.Event) -> None:
    """Take in every deposit dropped in the inbox until `stop` is set; the deposit in hand is finished."""
    from .intake import IntakeContext
    from .watch import Watcher, WatchSettings

    config = options.config(options.inbox, options.outbox, options.state)
    ctx = IntakeContext.build(options.resources, config.workspace, config=config)
    settings = WatchSettings(
        settle=options.settle, poll=options.poll, rescan=options.rescan, corrupt_grace=options.corrupt_grace
    )
    how = (
        f"interrogation toutes les {options.poll:g} s"
        if options.poll
        else "événements du système de fichiers"
    )
    ws = config.workspace
    logging.getLogger("csac.watch").info("veille de %s (%s ; sortie : %s)", ws.inbox, how, ws.outbox)
    Watcher(ctx, settings).run(stop)


def watch_until_signalled(options: WatchOptions) -> None:
    """`watch` until SIGINT or SIGTERM: the first finishes the deposit in hand, a second gives it back."""
    import signal

    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        logging.getLogger("csac.watch").info("arrêt demandé : fin du dépôt en cours")
        stop.set()

    before = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        watch(options, stop)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


# -- the web desk ------------------------------------------------------------------------------------

SECRET_ENV = "CSAC_SECRET_KEY"
SECRET_FILE = "web-secret.key"  # in the state folder: sessions and deposit links outlive a restart
WATCHER_STOP_SECONDS = 120.0  # the deposit in hand is finished before `csac serve` returns


@dataclass(frozen=True, kw_only=True)
class ServeOptions(Setup):
    host: str = "127.0.0.1"
    port: int = 8000
    inbox: Path | None = None
    outbox: Path | None = None
    state: Path | None = None
    watch: bool = (
        True  # also run the inbox watcher, in a process of its own; False: a `csac watch` runs apart
    )
    secure_cookies: bool = False  # behind TLS: the session cookie goes over HTTPS only
    forwarded_allow_ips: str = "127.0.0.1"  # the reverse proxy's addresses: its X-Forwarded-* are believed
    deposits_per_minute: int | None = None  # per client address; None: WebLimits' default
    log_json: bool = False


def _secret_key(state: Path) -> str:
    """CSAC_SECRET_KEY, else a key made once and kept (owner only) in the state folder."""
    import os
    import secrets

    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = state / SECRET_FILE
    state.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


def web_settings(options: ServeOptions):
    """The web desk's settings from the configuration, as `csac serve` reads it."""
    from .web.app import WebLimits, WebSettings

    config = options.config(options.inbox, options.outbox, options.state)
    limits = WebLimits()
    if options.deposits_per_minute is not None:
        limits = replace(limits, deposits_per_minute=options.deposits_per_minute)
    return WebSettings(
        config, _secret_key(config.workspace.state), options.resources, options.secure_cookies, limits
    )


READING_LIBRARIES = (
    "pdfplumber",
    "openpyxl",
    "jsonschema",
    "pyhanko.sign.validation",
    "pyhanko.sign.diff_analysis",
)


def _warm() -> None:
    """The libraries intake reads a deposit with, loaded as the watcher starts rather than by the first
    deposit: its depositor waits on the page (1.6 s of imports, measured on 2 cores)."""
    import importlib

    for name in READING_LIBRARIES:
        importlib.import_module(name)


def _watch_in_child(options: WatchOptions, log_json: bool, parent: int) -> None:
    """The watcher of `csac serve`: stopped by its parent (SIGTERM), or when its parent is gone.
    A Ctrl-C in the terminal is the parent's to handle: it stops us once its pages are closed."""
    import os
    import signal

    from .logs import to_stderr

    to_stderr(log_json)
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

    def orphaned() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                logging.getLogger("csac.watch").error("csac serve s'est arrêté : la veille s'arrête aussi")
                stop.set()

    threading.Thread(target=orphaned, name="parent", daemon=True).start()
    _warm()
    watch(options, stop)


def _start_watcher(options: ServeOptions):
    """The watcher in a process of its own: a deposit that takes seconds of CPU never slows the pages,
    and one that brings its process down never brings the site down."""
    import multiprocessing
    import os

    watch_options = WatchOptions(
        config_file=options.config_file, resources=options.resources, inbox=options.inbox,
        outbox=options.outbox, state=options.state,
    )  # fmt: skip
    child = multiprocessing.get_context("spawn").Process(
        target=_watch_in_child, args=(watch_options, options.log_json, os.getpid()), name="csac-watch"
    )
    child.start()
    return child


def _server(app, options: ServeOptions):
    """uvicorn's server, without its own signal handling: `serve` stops it, then its watcher (uvicorn
    would re-raise the signal once stopped, killing csac before its watcher is stopped)."""
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            yield

    config = uvicorn.Config(
        app, host=options.host, port=options.port, proxy_headers=True,
        forwarded_allow_ips=options.forwarded_allow_ips, server_header=False, log_config=None,
    )  # fmt: skip
    return Server(config)


def serve(options: ServeOptions) -> None:
    """The web desk on host:port until SIGINT or SIGTERM (a second one cuts the open requests short),
    with its watcher unless told otherwise, stopped last, once the deposit in hand is finished."""
    import signal

    from .web.app import create_app

    server = _server(create_app(web_settings(options)), options)

    def on_signal(signum, frame):
        server.force_exit = server.should_exit
        server.should_exit = True

    before = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    child = _start_watcher(options) if options.watch else None
    try:
        server.run()
    finally:
        if child is not None:
            child.terminate()  # SIGTERM: the deposit in hand is finished first
            child.join(WATCHER_STOP_SECONDS)
        for signum, handler in before.items():
            signal.signal(signum, handler)


# -- dossiers: what the regional teams do with them ----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DossierQuery(Setup):
    region: str | None = None  # its name, id, label or mailbox
    status: str | None = None  # complet/complete, incomplet, accepté, refusé, à vérifier/review
    siret: str | None = None  # spaces allowed
    search: str | None = None  # in the signatory's name, the SIRET and the dossier's id
    state: Path | None = None


def _regions(resources: Resources, config: Config | None = None) -> RegionBook:
    """The regions, and the triage with the configuration's mailbox when it sets one (intake.triage)."""
    from .regions import load_regions

    book = load_regions(resources.regions_file)
    if config and config.triage:
        return replace(book, triage=replace(book.triage, mailbox=config.triage))
    return book


def _region_named(resources: Resources, name: str, config: Config | None = None) -> Region:
    """The region (or the triage) a person names, whatever the case, accents or hyphens; ArgumentError,
    in French, for a name nobody knows."""
    return _regions(resources, config).find(name)


def list_dossiers(options: DossierQuery) -> list[Dossier]:
    """The dossiers that match every criterion given, oldest first."""
    from .dossiers import DossierBook
    from .listing import dossier_state_query

    region = _region_named(options.resources, options.region).name if options.region else None
    siret = "".join(options.siret.split()) if options.siret else None
    status, review = dossier_state_query(options.status) if options.status else (None, None)
    book = DossierBook(options.config(state=options.state).workspace.journal)
    return book.search(region=region, status=status, siret=siret, text=options.search, review=review)


@dataclass(frozen=True, kw_only=True)
class DossierOptions(Setup):
    dossier: str  # its id, as `csac dossier list` prints it
    state: Path | None = None


def show_dossier(options: DossierOptions) -> CaseFile:
    """The dossier with its documents, deposits, history and the messages the journal knows of."""
    from .casefile import case_file
    from .decide import required
    from .dossiers import DossierBook

    journal = options.config(state=options.state).workspace.journal
    return case_file(journal, required(DossierBook(journal), options.dossier))


@dataclass(frozen=True, kw_only=True)
class AcceptOptions(DossierOptions):
    by: str  # who decides
    note: str  # why, e.g. "signature manuscrite vérifiée sur le scan"
    outbox: Path | None = None


def accept_dossier(options: AcceptOptions) -> Acceptance:
    """Accepted; a dossier that holds every document and was never sent whole goes to its region, whole,
    through the same delivery as every message (Maildir or relay), its documents read as intake reads them."""
    from .decide import accept
    from .dossiers import DossierBook
    from .intake import IntakeContext

    config = options.config(outbox=options.outbox, state=options.state)
    ctx = IntakeContext.build(options.resources, config.workspace, config=config)
    return accept(DossierBook(config.workspace.journal), ctx, options.dossier, options.by, options.note)


@dataclass(frozen=True, kw_only=True)
class RefuseOptions(DossierOptions):
    by: str  # who decides
    reason: str  # told to the depositor, in their message
    outbox: Path | None = None


def refuse_dossier(options: RefuseOptions) -> Refusal:
    """Refused, and the depositor told why through the same delivery as every message (Maildir or relay)."""
    from .decide import refuse
    from .deliver import Courier
    from .dossiers import DossierBook

    config = options.config(outbox=options.outbox, state=options.state)
    return refuse(
        DossierBook(config.workspace.journal), Courier(config), options.dossier, options.by, options.reason
    )


@dataclass(frozen=True, kw_only=True)
class ResendOptions(DossierOptions):
    by: str  # who asks for it
    outbox: Path | None = None


def resend_notice(options: ResendOptions) -> Resent:
    """The depositor's notice of the dossier's latest deposit sent again, through the same delivery as
    every message (Maildir or relay), journalled with who asked."""
    from . import decide
    from .deliver import Courier
    from .dossiers import DossierBook
    from .journal import Journal

    config = options.config(outbox=options.outbox, state=options.state)
    journal = config.workspace.journal
    return decide.resend_notice(
        DossierBook(journal), Journal(journal), Courier(config), options.dossier, options.by
    )


@dataclass(frozen=True, kw_only=True)
class FollowUpOptions(DossierOptions):
    follow_up: str  # traite, contre-signe or titre-emis
    by: str


def follow_up_dossier(options: FollowUpOptions) -> Dossier:
    from .decide import follow_up
    from .dossiers import DossierBook, FollowUp

    if options.follow_up not in set(FollowUp):
        raise ArgumentError(f"suivi inconnu : {options.follow_up} — suivis : {', '.join(FollowUp)}")
    book = DossierBook(options.config(state=options.state).workspace.journal)
    return follow_up(book, options.dossier, FollowUp(options.follow_up), options.by)


@dataclass(frozen=True, kw_only=True)
class ExportOptions(Setup):
    region: str
    format: str = "xlsx"  # or csv
    out: Path | None = None  # None: dossiers-REGION-DATE.FORMAT in the working folder
    today: dt.date | None = None  # the ages' reference; None: today
    state: Path | None = None


@dataclass(frozen=True)
class Exported:
    path: Path
    count: int
    region: str


def export_dossiers(options: ExportOptions) -> Exported:
    """A region's dossiers written as its follow-up spreadsheet."""
    from . import sheet
    from .dossiers import DossierBook

    if options.format not in sheet.FORMATS:
        raise ArgumentError(f"format inconnu : {options.format} — formats : {', '.join(sheet.FORMATS)}")
    region = _region_named(options.resources, options.region)
    today = options.today or dt.date.today()
    book = DossierBook(options.config(state=options.state).workspace.journal)
    dossiers = book.search(region=region.name)
    path = options.out or Path(f"dossiers-{region.id}-{today:%Y-%m-%d}.{options.format}")
    return Exported(sheet.write(dossiers, path, options.format, today), len(dossiers), region.name)


# -- the regional desk's accounts ----------------------------------------------------------------------

HEAD_OFFICE_WORDS = ("siege", "siège", "siege du resah", "siège du resah", "resah")


@dataclass(frozen=True, kw_only=True)
class UserOptions(Setup):
    name: str
    region: str  # a region's name, id, label or mailbox, as a person types it; or "siege" (every region)
    password: str
    state: Path | None = None


def account_region(resources: Resources, text: str) -> str:
    """The region id an account is given from what a person typed, or the head office; ArgumentError for the
    triage (nobody's region) or a name nobody knows."""
    from .accounts import HEAD_OFFICE
    from .textnorm import key

    if key(text) in {key(w) for w in HEAD_OFFICE_WORDS}:
        return HEAD_OFFICE
    book = _regions(resources)
    region = book.find(text)
    if region == book.triage:
        raise ArgumentError(
            "le triage n'est la région d'aucun compte : ses dossiers sont vus par le siège (--region siege)"
        )
    return region.id


def add_user(options: UserOptions) -> Account:
    """A desk account, its password hashed (argon2id)."""
    from .accounts import Accounts

    region = account_region(options.resources, options.region)
    journal = options.config(state=options.state).workspace.journal
    return Accounts(journal).add(options.name, region, options.password)


@dataclass(frozen=True, kw_only=True)
class UsersOptions(Setup):
    state: Path | None = None


@dataclass(frozen=True)
class User:
    account: Account
    region_fr: str  # the region's name, or "siège (toutes les régions)"


def region_fr(resources: Resources, region_id: str) -> str:
    """An account's region as people read it; an id the regions file no longer knows is shown as it is."""
    from .accounts import HEAD_OFFICE

    if region_id == HEAD_OFFICE:
        return "siège (toutes les régions)"
    try:
        return _regions(resources).by_id(region_id).name
    except KeyError:
        return f"{region_id} (région inconnue)"


def list_users(options: UsersOptions) -> list[User]:
    """Every desk account, disabled ones included, by name."""
    from .accounts import Accounts

    accounts = Accounts(options.config(state=options.state).workspace.journal).all()
    return [User(a, region_fr(options.resources, a.region)) for a in accounts]


@dataclass(frozen=True, kw_only=True)
class DisableOptions(Setup):
    name: str
    state: Path | None = None


def disable_user(options: DisableOptions) -> Account:
    from .accounts import Accounts

    return Accounts(options.config(state=options.state).workspace.journal).disable(options.name)
