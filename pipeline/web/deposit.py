"""The public deposit page, "Dépôt des conventions": the portal's form, then the verdict.

The form is judged by the deposit form's own schema (pipeline/form.py), field by field, before
anything is kept. The ZIP, streamed to disk as it arrives (upload.py), and the form are then
dropped into the inbox as a clerk's drop is (pipeline/drop.py): the watcher takes them in, and the
page reads the verdict from the journal by the dropped file's key, showing the depositor the words
of the notice they also receive by mail. An incomplete dossier's page links to the same form,
filled so that what is sent next joins that dossier.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .. import notices
from ..drop import drop
from ..form import Form, check_fields, titles
from ..intake import SET_ASIDE
from ..journal import Journal
from ..problems import load_catalogue
from ..report import IntakeReport, Verdict
from ..sirets import compact
from ..store import DepositState
from . import csrf, upload
from .app import WebSettings
from .pages import error_page, log, page
from .throttle import Throttle

FIELDS = (
    "raison_sociale", "numero_marche", "siret", "email", "telephone", "reference_commande",
    "code_service_chorus", "message",
)  # fmt: skip  # the portal's order; the SIRET (optional) is what joins a follow-up to its dossier
OPTIONAL = ("siret", "message")  # an optional field left empty is not sent: the schema judges what is
HELP = {
    "siret": "Facultatif : les 14 chiffres du SIRET de votre établissement.",
    "telephone": "Saisissez votre n° de téléphone sous le format 01231415",
    "reference_commande": "Saisissez votre numéro d'EJ (pour un dépôt sur Chorus) ou le n° de votre bon de commande",
    "code_service_chorus": "Si vous souhaitez recevoir votre facture par mail et non via un dépôt Chorus, "
    "saisissez l'adresse mail choisie dans ce champ",
    "message": "Champ facultatif",
}
FILE_FIELD = "fichier"
FILE_LABEL = (
    "Convention signée (Téléchargez un fichier zip regroupant tous vos fichiers : convention, annexes, "
    "EJ / bon de commande)"
)
NO_FILE = "Joignez le fichier ZIP de votre dépôt (convention signée, annexes, EJ / bon de commande)."
FILE_AGAIN = "Le fichier n'a pas été conservé : joignez-le de nouveau avant de valider."
TICKET_DAYS = 30  # a verdict page, and its "send the missing piece" link, stay valid this long
STEM_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")
SOURCE = "formulaire du site"
PRIVATE = {
    "Cache-Control": "no-store"
}  # what a depositor typed, and their verdict, stay off shared caches  # where a form problem comes from, in the journal's words


@dataclass(frozen=True)
class Field:
    """One input of the form as the page shows it."""

    name: str
    label: str
    value: str
    problems: tuple[str, ...]
    required: bool
    help: str | None
    multiline: bool


@dataclass(frozen=True)
class Shown:
    """What the page shows once the journal has the deposit's outcome."""

    report: IntakeReport
    headline: str  # "Dossier complet", "Dossier incomplet", "Dépôt refusé"…
    told: str  # the notice, word for word
    css: str  # complet, incomplet, refuse or examen (set aside for a person)
    missing: tuple[str, ...] = ()  # what to send, as the notice lists it


class Tickets:
    """A deposit's ticket: its digest and dropped-file key, signed and dated, in the page's address.
    Nobody can guess another's, and nothing personal is in it."""

    def __init__(self, secret: str):
        self.serializer = URLSafeTimedSerializer(secret, salt="csac-depot")

    def issue(self, sha256: str, source: str) -> str:
        return self.serializer.dumps([sha256, source])

    def read(self, ticket: str) -> tuple[str, str, float] | None:
        """(sha256, source, when it was issued), or None for a ticket forged, damaged or too old."""
        try:
            (sha256, source), issued = self.serializer.loads(
                ticket, max_age=TICKET_DAYS * 86400, return_timestamp=True
            )
        except (BadSignature, ValueError, TypeError):
            return None
        return str(sha256), str(source), issued.timestamp()


def safe_stem(filename: str) -> str:
    """The sent name reduced to plain letters, digits and dashes: it only helps a person recognise the
    deposit in the journal, and never becomes a path of its own."""
    stem = Path(filename.replace("\\", "/")).name.rsplit(".", 1)[0]
    ascii_only = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return STEM_CHARACTERS.sub("-", ascii_only).strip("-_")[:60] or "depot"


def _problem_fields(form: Form) -> tuple[dict[str, list[str]], list[str]]:
    """The form's problems beside their field, and those of no field in particular (a field missing)."""
    beside: dict[str, list[str]] = {}
    for name, message in form.located:
        beside.setdefault(name, []).append(message)
    placed = {m for _, m in form.located}
    return beside, [p for p in form.problems if p not in placed]


class DepositPages:
    """The deposit form, its submission, and the page that waits for the verdict."""

    def __init__(self, settings: WebSettings):
        self.settings = settings
        self.schema = settings.resources.schema("deposit-form")
        self.labels = titles(self.schema)
        self.tickets = Tickets(settings.secret_key)
        self.throttle = Throttle(settings.limits.deposits_per_minute)
        self.inbox = settings.config.workspace.inbox
        self.inbox.mkdir(parents=True, exist_ok=True)
        upload.sweep(self.inbox, time.time())
        self.journal = Journal(settings.config.workspace.journal)
        catalogue = load_catalogue(settings.resources.problems_file)
        self.set_aside_ask = catalogue.finding("archive_corrupt", scope="internal").ask

    # -- the form --------------------------------------------------------------------------------
    def _fields(self, values: dict[str, str], beside: dict[str, list[str]]) -> list[Field]:
        return [
            Field(
                name=name,
                label=self.labels[name],
                value=values.get(name, ""),
                problems=tuple(beside.get(name, ())),
                required=name not in OPTIONAL,
                help=HELP.get(name),
                multiline=name == "message",
            )  # fmt: skip
            for name in FIELDS
        ]

    def _form_page(self, request: Request, values: dict, status: int = 200, **said) -> Response:
        beside = said.pop("beside", {})
        return page(
            request, "deposit_form.html", status, PRIVATE, fields=self._fields(values, beside),
            file_field=FILE_FIELD, file_label=FILE_LABEL, limit_mb=self.settings.limits.upload_bytes // 2**20,
            limit_bytes=self.settings.limits.upload_bytes, **said,
        )  # fmt: skip

    async def form(self, request: Request) -> Response:
        """The empty form, or one filled for the follow-up of an incomplete dossier (?suite=TICKET)."""
        values, follow_up = {}, None
        ticket = request.query_params.get("suite")
        if ticket:
            report = await self._report(ticket)
            if report is None:
                raise HTTPException(404, "Ce lien d'envoi complémentaire n'est plus valable.")
            values, follow_up = follow_up_values(report, request.query_params.get("dossier"))
        return self._form_page(request, values, follow_up=follow_up)

    # -- the submission --------------------------------------------------------------------------
    async def submit(self, request: Request) -> Response:
        """Counted, received, checked, dropped; then the page that waits for the verdict."""
        address = request.client.host if request.client else "inconnu"
        limit = self.settings.limits.upload_bytes
        if not self.throttle.allow(address):
            await upload.Body(request, self.settings.limits).drain(upload.DRAIN_FACTOR * limit)
            per_minute = self.settings.limits.deposits_per_minute
            message = (
                f"Trop de dépôts depuis votre adresse : {per_minute} par minute au plus. Rien n'a été "
                "enregistré. Patientez une minute, puis déposez de nouveau."
            )
            return error_page(request, 429, message, {"Retry-After": str(self.throttle.retry_after(address))})

        def token_first(fields: dict[str, str]) -> None:
            """The page sends its token before the file: a request without it writes nothing."""
            if not csrf.valid(request, fields.get(csrf.FIELD)):
                raise upload.UploadRefused(csrf.REFUSED, 403)

        try:
            received = await upload.receive(
                request, self.inbox, self.settings.limits, FILE_FIELD, token_first
            )
        except ClientDisconnect:  # gone mid-upload: nothing was kept, and nobody reads an answer
            log.info("dépôt web : %s est parti avant la fin de l'envoi ; rien n'a été gardé", address)
            return Response(status_code=400)
        except upload.UploadRefused as exc:  # nothing was kept
            if exc.status == 403:
                return error_page(request, 403, str(exc))
            return self._form_page(request, exc.fields, exc.status, refusal=str(exc))
        try:
            csrf.require(request, received.fields.get(csrf.FIELD))
            return await self._accept(request, received)
        finally:
            if received.staged:
                received.staged.path.unlink(missing_ok=True)  # dropped, or refused: never left staged

    async def _accept(self, request: Request, received: upload.Upload) -> Response:
        values = {k: received.fields.get(k, "").strip() for k in FIELDS}
        data = {k: v for k, v in values.items() if v or k not in OPTIONAL}
        form = check_fields(data, SOURCE, self.schema, self.settings.config.smtputf8)
        if form.problems or received.staged is None:
            beside, general = _problem_fields(form)
            file_problem = NO_FILE if received.staged is None else FILE_AGAIN
            return self._form_page(
                request, values, 400, beside=beside, general=general, file_problem=file_problem
            )
        staged = received.staged
        stem = f"{safe_stem(staged.filename)}-web-{secrets.token_hex(4)}"
        try:
            dropped = await run_in_threadpool(drop, staged.path, data, self.inbox, stem)
        except OSError:  # the inbox cannot be written (disk full…): said, and nothing is left there
            log.exception("dépôt web : la boîte de dépôt %s n'a pas pu être écrite", self.inbox)
            return error_page(request, 503, upload.NOT_KEPT)
        ticket = self.tickets.issue(staged.sha256, dropped.source)
        # a path, not an address: the Host header a client sends never chooses where it is sent next
        return RedirectResponse(request.url_for("deposit_verdict", ticket=ticket).path, 303)

    # -- the verdict -----------------------------------------------------------------------------
    async def _row(self, ticket: str) -> tuple[dict | None, float] | None:
        read = self.tickets.read(ticket)
        if read is None:
            return None
        sha256, source, issued = read
        return await run_in_threadpool(self.journal.of_drop, sha256, source), issued

    async def _report(self, ticket: str) -> IntakeReport | None:
        found = await self._row(ticket)
        if found is None or not found[0] or found[0]["state"] != DepositState.DONE:
            return None
        return IntakeReport.from_json(json.loads(found[0]["report"]))

    async def verdict(self, request: Request) -> Response:
        """The verdict once the journal has it; until then a page that looks again every second, then,
        past the wait, one that says the verdict will come by mail."""
        ticket = request.path_params["ticket"]
        found = await self._row(ticket)
        if found is None:
            raise HTTPException(404, "Ce lien de suivi de dépôt n'est pas valable, ou a expiré.")
        row, issued = found
        if row and row["state"] == DepositState.DONE:
            shown = verdict_of(IntakeReport.from_json(json.loads(row["report"])), self.set_aside_ask)
            return page(request, "deposit_verdict.html", 200, PRIVATE, verdict=shown, ticket=ticket)
        waited = time.time() - issued
        limits = self.settings.limits
        refresh = limits.refresh if waited < limits.verdict_wait else None
        return page(request, "deposit_wait.html", 200, PRIVATE, refresh=refresh)

    async def endpoint(self, request: Request) -> Response:
        return await (self.submit(request) if request.method == "POST" else self.form(request))


def verdict_of(report: IntakeReport, set_aside_ask: str) -> Shown:
    """The page's verdict; a deposit csac failed on and set aside for a person says so (its ask is the
    catalogue's archive_corrupt/internal one), not "refusé"."""
    headline = notices.headline(report)
    css = {Verdict.COMPLETE: "complet", Verdict.INCOMPLETE: "incomplet"}.get(report.status, "refuse")
    if any(p.ask == set_aside_ask for p in report.problems):
        headline, css = SET_ASIDE, "examen"  # no "Déposer de nouveau": the notice says not to
    missing = notices.things_to_send(report.problems) if report.status == Verdict.INCOMPLETE else []
    return Shown(report, headline[0].upper() + headline[1:], notices.told(report), css, tuple(missing))


def follow_up_values(report: IntakeReport, dossier_id: str | None) -> tuple[dict[str, str], str | None]:
    """The form of a follow-up: what the depositor gave, with the SIRET and accord-cadre of the dossier
    to complete (what joins the piece sent alone to that dossier: pipeline/judge.py). Only one of this
    deposit's own dossiers can be named."""
    dossier = next((d for d in report.dossiers if d.dossier_id == dossier_id), None)
    if dossier is None and len(report.dossiers) == 1:
        dossier = report.dossiers[0]
    variant = dossier.variant if dossier else report.variant
    siret = (dossier.siret if dossier else None) or report.siret
    values = {
        "raison_sociale": report.signatory or "",
        "numero_marche": notices.convention_ref(variant) if variant else "",
        "siret": compact(siret) if siret else "",
        "email": report.email or "",
        "telephone": report.telephone or "",
        "reference_commande": report.order_number or "",
        "code_service_chorus": report.code_service or "",
    }
    return values, dossier.dossier_id if dossier else None


def routes(settings: WebSettings) -> list[BaseRoute]:
    pages = DepositPages(settings)
    return [
        Route("/depot", pages.endpoint, methods=["GET", "POST"], name="deposit"),
        Route("/depot/suivi/{ticket}", pages.verdict, methods=["GET"], name="deposit_verdict"),
    ]
