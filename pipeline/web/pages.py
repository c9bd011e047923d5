"""Templates and error pages: every page in French, every form with its CSRF token.

Pages are Jinja2 templates extending base.html, auto-escaped: what a depositor typed, or what the
journal read in a deposit, is never taken as HTML.
"""

from __future__ import annotations

import http
import logging
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from . import csrf

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = Jinja2Templates(directory=HERE / "templates")  # read-only once built: shared by every app
log = logging.getLogger("csac.web")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),  # a deposit's bytes are never read as a page or a script
    (b"x-frame-options", b"SAMEORIGIN"),  # no other site frames our forms
    (b"referrer-policy", b"same-origin"),  # a verdict's address (its ticket) never leaves the site
]


ERRORS_FR = {
    400: ("Requête invalide", "La requête n'a pas pu être lue. Rechargez la page et recommencez."),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable", "Cette page n'existe pas, ou plus."),
    405: ("Méthode non admise", "Cette page ne s'utilise pas ainsi : revenez au formulaire."),
    413: ("Envoi trop volumineux", "Ce que vous avez envoyé dépasse la taille admise."),  # a file or a form
    429: ("Trop de demandes", "Trop de demandes en peu de temps : patientez une minute puis recommencez."),
    500: ("Erreur interne", "Une erreur est survenue de notre côté. Réessayez dans quelques minutes."),
    503: ("Service momentanément indisponible", "Réessayez dans quelques minutes."),
}


def page(
    request: Request, template: str, status: int = 200, headers: dict | None = None, **context
) -> Response:
    """A page from its template; `csrf_token` is always there for the forms it holds."""
    context = {"csrf_token": csrf.token(request), **context}
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status, headers=headers)


def error_page(request: Request, status: int, message: str | None = None, headers: dict | None = None):
    title, default = ERRORS_FR.get(status, (http.HTTPStatus(status).phrase, ""))
    return page(request, "error.html", status, headers, title=title, message=message or default)


def _french(exc: HTTPException) -> str | None:
    """The exception's own message when one was given (ours are French); Starlette's English phrase is not."""
    return None if exc.detail == http.HTTPStatus(exc.status_code).phrase else exc.detail


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return error_page(request, exc.status_code, _french(exc), exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    """The 500 page leaves through Starlette's outermost middleware, past the one that adds the security
    headers (app.SecurityHeaders): they are added here."""
    log.exception("page %s : erreur interne", request.url.path)
    return error_page(request, 500, None, {k.decode(): v.decode() for k, v in SECURITY_HEADERS})


HANDLERS = {HTTPException: _http_error, 500: _server_error}
