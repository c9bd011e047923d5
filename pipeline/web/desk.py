"""The regional desk, behind a login: a region's dossiers, each with its documents, history and messages,
and the buttons a team uses (accept, refuse with a reason, resend the notice).

Everything here goes through the library (pipeline/caseload.py: the same calls as `csac dossier`), with
the logged-in account's scope: the region comes from the account, never from the URL, and a dossier or a
document of another region answers 404, as one that does not exist. A document is named in its URL by
its number in the dossier, never by a path. Every POST carries the session's CSRF token. The session is
Starlette's signed cookie: at login it is emptied and given a new token, so that nothing set before the
login (by someone else on this browser) survives it; the account is read again at every request, so that
a disabled account is out at its next click.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .. import caseload
from ..accounts import Account, Accounts, name_key
from ..casefile import age_days, detail_fr, event_fr, french_time, missing, role_fr, state_fr
from ..decide import REASON, version
from ..dossiers import DossierStatus
from ..errors import ArgumentError
from ..intake import IntakeContext
from ..notices import DOSSIER_FR, REVIEW_FR, convention_fr
from ..regions import RegionBook, load_regions
from ..textnorm import ascii_number
from ..variants import load_variants
from . import csrf
from .app import WebSettings
from .pages import page
from .throttle import Throttle

PREFIX = "/bureau"
LOGIN = f"{PREFIX}/connexion"
ACCOUNT = "account"  # the session's key for the logged-in account's name
EPOCH = "epoch"  # the account's session epoch at login: its logout moves it on, and this session is out
FLASH = "flash"  # the session's key for what the last action did, shown once
BAD_LOGIN = "Nom de compte ou mot de passe incorrect."
TOO_MANY = "Trop de tentatives de connexion : patientez une minute avant de réessayer."
PRIVATE = {"Cache-Control": "no-store"}  # personal data: kept by no cache (app.py adds nosniff and the rest)
INLINE = "application/pdf"  # the only type shown in the page; everything else is downloaded
STATES = [("", "tous")] + [(s.value, DOSSIER_FR[s]) for s in DossierStatus] + [("review", REVIEW_FR)]


class Crops:
    """The signature crops already read, by the document's sha256: a document is read once per process,
    not at each view of its dossier's page and again for its image. A few hundred at most are kept."""

    def __init__(self, ctx: IntakeContext, size: int = 256):
        self.ctx, self.size = ctx, size
        self.found: OrderedDict[str, bytes | None] = OrderedDict()

    def of(self, scope: caseload.Scope, dossier_id: str, seq: int) -> bytes | None:
        ws = self.ctx.workspace
        kept = caseload.document_for(ws.journal, ws.documents, scope, dossier_id, seq)
        if kept is None:
            return None
        sha = kept.held.sha256
        if sha not in self.found:
            self.found[sha] = caseload.crop_of(self.ctx, kept.held)
            while len(self.found) > self.size:
                self.found.popitem(last=False)
        return self.found[sha]


@dataclass(frozen=True)
class Desk:
    """What the desk's pages share, made once when the application is built."""

    settings: WebSettings
    regions: RegionBook
    variants: tuple[str, ...]
    context: IntakeContext  # accepting reads the kept documents as intake reads them
    crops: Crops
    by_address: Throttle  # login attempts: guesses are slowed, not queued
    by_name: Throttle

    @property
    def journal(self) -> Path:
        return self.settings.config.workspace.journal


def _desk(settings: WebSettings) -> Desk:
    ctx = IntakeContext.build(settings.resources, settings.config.workspace, config=settings.config)
    return Desk(
        settings, load_regions(settings.resources.regions_file), tuple(load_variants(settings.resources)), ctx,
        Crops(ctx), Throttle(settings.limits.logins_per_minute), Throttle(settings.limits.logins_per_minute),
    )  # fmt: skip


# -- who is logged in --------------------------------------------------------------------------------


def _account(desk: Desk, request: Request) -> Account | None:
    """The session's account, read again: a disabled or deleted one is logged out, and so is a session
    from before the account's last logout (a copy of its cookie)."""
    name = request.session.get(ACCOUNT)
    found = Accounts(desk.journal).get(name) if isinstance(name, str) else None
    current = found is not None and request.session.get(EPOCH) == found.session_epoch
    return found if current and found.active else None


async def _scope(desk: Desk, request: Request) -> caseload.Scope:
    """The logged-in account's scope; else a redirection to the login page (raised)."""
    account = await run_in_threadpool(_account, desk, request)
    if account is None:
        request.session.pop(ACCOUNT, None)
        raise HTTPException(303, headers={"Location": LOGIN})
    try:
        return caseload.scope_of(account, desk.regions)
    except KeyError:  # its region left the regions file: it sees nothing
        raise HTTPException(
            403, "Votre compte est rattaché à une région inconnue : voyez le siège."
        ) from None


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


async def login_page(desk: Desk, request: Request) -> Response:
    if await run_in_threadpool(_account, desk, request):
        return RedirectResponse(PREFIX, 303)
    return page(request, "desk_login.html", headers=PRIVATE, error=None, name="")


async def login(desk: Desk, request: Request) -> Response:
    """A good name and password: the session emptied, then given the account and a new CSRF token."""
    form = await csrf.require_form(request)
    name, password = str(form.get("nom", "")).strip(), str(form.get("mot_de_passe", ""))
    if not (desk.by_address.allow(_address(request)) and desk.by_name.allow(name_key(name))):
        return page(request, "desk_login.html", 429, PRIVATE, error=TOO_MANY, name=name)
    account = await run_in_threadpool(Accounts(desk.journal).verify, name, password)
    if account is None:
        return page(request, "desk_login.html", 401, PRIVATE, error=BAD_LOGIN, name=name)
    request.session.clear()
    request.session[ACCOUNT] = account.name
    request.session[EPOCH] = account.session_epoch
    csrf.token(request)
    return RedirectResponse(PREFIX, 303)


async def logout(desk: Desk, request: Request) -> Response:
    """The account's sessions end everywhere (this one, another browser's, a copied cookie), then this
    browser's is emptied."""
    await csrf.require_form(request)
    account = await run_in_threadpool(_account, desk, request)
    if account is not None:
        await run_in_threadpool(Accounts(desk.journal).end_sessions, account.name)
    request.session.clear()
    return RedirectResponse(LOGIN, 303)


# -- the list -----------------------------------------------------------------------------------------


def _filters(request: Request) -> tuple[caseload.Filters, list[str]]:
    """The list's filters as the query string gives them; what cannot be read is said, and left out."""
    q, errors = request.query_params, []
    older, number = q.get("anciennete", "").strip(), q.get("page", "1").strip()
    if older and not (ascii_number(older, 5) and 0 < int(older) < 100_000):
        errors.append(f"ancienneté « {older} » : indiquez un nombre de jours, par exemple 10")
        older = ""
    filters = caseload.Filters(
        status=q.get("etat") or None, variant=q.get("convention") or None,
        older_than=int(older) if older else None, search=q.get("q") or None,
        page=int(number) if ascii_number(number, 6) else 1,
    )  # fmt: skip
    return filters, errors


def _page_link(request: Request, number: int) -> str:
    params = dict(request.query_params) | {"page": str(number)}
    return f"{PREFIX}?{urllib.parse.urlencode(params)}"


async def dossier_list(desk: Desk, request: Request) -> Response:
    scope = await _scope(desk, request)
    filters, errors = _filters(request)
    try:
        found = await run_in_threadpool(caseload.listed, desk.journal, scope, filters, dt.date.today())
    except ArgumentError as exc:  # a state nobody knows: said, and the list shown unfiltered
        errors.append(str(exc))
        filters = caseload.Filters(
            variant=filters.variant, older_than=filters.older_than, search=filters.search
        )
        found = await run_in_threadpool(caseload.listed, desk.journal, scope, filters, dt.date.today())
    return page(
        request, "desk_list.html", headers=PRIVATE, scope=scope, found=found, filters=filters, errors=errors,
        states=STATES, variants=desk.variants, age=partial(age_days, today=dt.date.today()),
        state_fr=state_fr, missing=missing, previous=_page_link(request, found.number - 1),
        next=_page_link(request, found.number + 1),
    )  # fmt: skip


# -- one dossier --------------------------------------------------------------------------------------


def _signature_crops(desk: Desk, scope: caseload.Scope, found) -> dict[int, bool]:
    """Which current conventions and bulletins show a signature crop (a scan's ink)."""
    signed = [h for h in found.documents if h.replaced_by is None and h.role in ("convention", "bulletin")]
    return {h.seq: desk.crops.of(scope, found.dossier.id, h.seq) is not None for h in signed}


async def dossier_page(desk: Desk, request: Request) -> Response:
    scope = await _scope(desk, request)
    dossier_id = request.path_params["dossier"]
    found = await run_in_threadpool(caseload.case_for, desk.journal, scope, dossier_id)
    if found is None:
        raise HTTPException(404)
    crops = await run_in_threadpool(_signature_crops, desk, scope, found)
    return page(
        request, "desk_dossier.html", headers=PRIVATE, scope=scope, found=found, d=found.dossier, crops=crops,
        flash=request.session.pop(FLASH, None), state_fr=state_fr, role_fr=role_fr, event_fr=event_fr,
        detail_fr=detail_fr, french_time=french_time, convention_fr=convention_fr, is_pdf=_is_pdf,
        reason_limit=REASON, seen=SEEN, version=version,
    )  # fmt: skip


def _is_pdf(name: str) -> bool:
    return name.lower().endswith(".pdf")


def _reads_as_pdf(path) -> bool:
    """A PDF by its bytes, not only its name: a file named .pdf that is not one is only downloaded."""
    with open(path, "rb") as fh:
        return b"%PDF-" in fh.read(1024)


def _disposition(kind: str, name: str) -> str:
    """The file's own name, in ASCII for old clients and whole in UTF-8 (RFC 6266); a name read from a ZIP
    that is not valid UTF-8 (lone surrogates) has those characters replaced, never a server error."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    whole = urllib.parse.quote(name.encode("utf-8", "replace"), safe="")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{whole}"


def _served(
    desk: Desk, scope: caseload.Scope, dossier_id: str, seq: int
) -> tuple[caseload.Kept, bool] | None:
    """The kept document, and whether it is a PDF by its name and its bytes; None when not the account's."""
    ws = desk.settings.config.workspace
    kept = caseload.document_for(ws.journal, ws.documents, scope, dossier_id, seq)
    return (kept, _is_pdf(kept.held.name) and _reads_as_pdf(kept.path)) if kept else None


async def document(desk: Desk, request: Request, inline: bool = False) -> Response:
    """A document's bytes, found by its number among the dossier's own; a PDF shown in the page when
    asked inline, every other type downloaded (never rendered by the browser: app.py's nosniff)."""
    scope = await _scope(desk, request)
    dossier_id, seq = request.path_params["dossier"], request.path_params["seq"]
    found = await run_in_threadpool(_served, desk, scope, dossier_id, seq)
    if found is None:
        raise HTTPException(404)
    kept, pdf = found
    headers = PRIVATE | {
        "Content-Disposition": _disposition("inline" if inline and pdf else "attachment", kept.held.name)
    }
    return FileResponse(kept.path, media_type=INLINE if pdf else "application/octet-stream", headers=headers)


async def signature(desk: Desk, request: Request) -> Response:
    scope = await _scope(desk, request)
    dossier_id, seq = request.path_params["dossier"], request.path_params["seq"]
    crop = await run_in_threadpool(desk.crops.of, scope, dossier_id, seq)
    if crop is None:
        raise HTTPException(404)
    return Response(crop, media_type="image/png", headers=PRIVATE)


# -- actions ------------------------------------------------------------------------------------------


def _said(form, field: str) -> str:
    value = form.get(field)
    return value if isinstance(value, str) else ""


SEEN = "vu"  # the hidden field: the dossier's version (decide.version) when its page was shown


def _seen(form) -> str | None:
    """The dossier's state the page showed; a form without it (a script) decides on the dossier as it is."""
    return _said(form, SEEN) or None


NO_NOTE = "Rien n'a été fait : indiquez dans la note ce que vous avez vérifié avant d'accepter."
NO_REASON = "Rien n'a été fait : indiquez le motif du refus, tel que le déposant le lira."


def _bounded(text: str, what: str) -> str:
    """A note or a reason whole, never cut without saying: the journal and the depositor's message keep
    REASON characters (decide.said), so a longer one is sent back to be shortened."""
    if len(text) > REASON:
        raise ArgumentError(
            f"Rien n'a été fait : {what} compte {len(text)} caractères, {REASON} au plus — raccourcissez-le."
        )
    return text


def _accept(desk: Desk, scope, dossier_id: str, form) -> str | None:
    if not _said(form, "note").strip():
        raise ArgumentError(NO_NOTE)
    _bounded(_said(form, "note"), "la note")
    done = caseload.accept_as(desk.context, scope, dossier_id, _said(form, "note"), _seen(form))
    if done is None:
        return None
    sent = f" ; dossier envoyé en entier à {done.dossier.mailbox}" if done.message_id else ""
    withheld = f" {done.withheld[:1].upper()}{done.withheld[1:]}." if done.withheld else ""
    return f"Dossier accepté par {done.event.by}{sent}.{withheld}"


def _refuse(desk: Desk, scope, dossier_id: str, form) -> str | None:
    if not _said(form, "motif").strip():
        raise ArgumentError(NO_REASON)
    _bounded(_said(form, "motif"), "le motif")
    done = caseload.refuse_as(desk.settings.config, scope, dossier_id, _said(form, "motif"), _seen(form))
    if done is None:
        return None
    told = f" ; déposant prévenu : {done.sent_to[0]}" if done.sent_to else " ; personne n'a pu être prévenu"
    return f"Dossier refusé par {done.event.by}{told}."


def _resend(desk: Desk, scope, dossier_id: str, form) -> str | None:
    done = caseload.resend_as(desk.settings.config, scope, dossier_id)
    return None if done is None else f"Avis renvoyé à {done.to}."


async def action(desk: Desk, request: Request, act) -> Response:
    """One button's POST: logged in, its CSRF token, the dossier the account's; then the library's call.
    What it did (or why it did nothing) is shown once on the dossier's page."""
    scope = await _scope(desk, request)
    form = await csrf.require_form(request)
    dossier_id = request.path_params["dossier"]
    if await run_in_threadpool(caseload.visible, desk.journal, scope, dossier_id) is None:
        raise HTTPException(404)
    try:
        said = await run_in_threadpool(act, desk, scope, dossier_id, form)
    except ArgumentError as exc:
        request.session[FLASH] = ["erreur", str(exc)]
    else:
        if said is None:
            raise HTTPException(404)
        request.session[FLASH] = ["fait", said]
    return RedirectResponse(f"{PREFIX}/dossiers/{urllib.parse.quote(dossier_id, safe='')}", 303)


def routes(settings: WebSettings) -> list[BaseRoute]:
    desk = _desk(settings)
    on = partial
    base = f"{PREFIX}/dossiers/{{dossier}}"
    return [
        Route(LOGIN, on(login_page, desk), methods=["GET"], name="desk_login_page"),
        Route(LOGIN, on(login, desk), methods=["POST"], name="desk_login"),
        Route(f"{PREFIX}/deconnexion", on(logout, desk), methods=["POST"], name="desk_logout"),
        Route(PREFIX, on(dossier_list, desk), methods=["GET"], name="desk_list"),
        Route(base, on(dossier_page, desk), methods=["GET"], name="desk_dossier"),
        Route(f"{base}/documents/{{seq:int}}", on(document, desk), methods=["GET"], name="desk_document"),
        Route(
            f"{base}/documents/{{seq:int}}/apercu",
            on(document, desk, inline=True),
            methods=["GET"],
            name="desk_preview",
        ),  # fmt: skip
        Route(
            f"{base}/documents/{{seq:int}}/signature.png",
            on(signature, desk),
            methods=["GET"],
            name="desk_signature",
        ),  # fmt: skip
        Route(f"{base}/accepter", on(action, desk, act=_accept), methods=["POST"], name="desk_accept"),
        Route(f"{base}/refuser", on(action, desk, act=_refuse), methods=["POST"], name="desk_refuse"),
        Route(f"{base}/renvoyer-avis", on(action, desk, act=_resend), methods=["POST"], name="desk_resend"),
    ]
