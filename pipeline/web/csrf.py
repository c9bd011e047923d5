"""One CSRF token per session, required by every POST.

The token lives in the signed session cookie (Starlette's SessionMiddleware, itsdangerous) and is
echoed by each form as a hidden field (or by a script as the X-CSRF-Token header). A request from
another site carries the cookie but cannot read the token, so it is refused.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..textnorm import ascii_number

SESSION_KEY = "csrf"
FIELD = "csrf_token"  # the hidden field's name in every form
HEADER = "x-csrf-token"
REFUSED = (
    "Le formulaire a expiré ou ne vient pas de ce site (jeton de sécurité absent ou invalide). "
    "Rechargez la page du formulaire et envoyez-le de nouveau."
)


def token(request: Request) -> str:
    """This session's token, made on first use."""
    if not isinstance(request.session.get(SESSION_KEY), str):
        request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    return request.session[SESSION_KEY]


def valid(request: Request, sent: str | None) -> bool:
    """Whether `sent` (the form's field, else the header) is this session's token."""
    sent = sent or request.headers.get(HEADER)
    expected = request.session.get(SESSION_KEY)
    return bool(sent and isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode()))


def require(request: Request, sent: str | None) -> None:
    """Refuse (403, a French page) a request without this session's token."""
    if not valid(request, sent):
        raise HTTPException(403, REFUSED)


FORM_BYTES = 64 * 1024  # a desk form: a name, a password, a note or a reason of 2,000 characters at most
FORM_FIELDS = 20
TOO_LONG = (
    "Le formulaire envoyé est trop long : une note ou un motif tient en 2 000 caractères au plus. "
    "Raccourcissez-le et envoyez-le de nouveau."
)
UNREADABLE = "Le formulaire envoyé n'a pas pu être lu. Rechargez la page et envoyez-le de nouveau."


async def small_form(request: Request) -> FormData:
    """A small form (the desk's), read only when its announced length is small: Starlette reads an
    urlencoded body whole, whatever its size. A body that cannot be read is said in French (Starlette's
    own messages are English)."""
    length, chunked = request.headers.get("content-length"), "transfer-encoding" in request.headers
    if chunked or (length is not None and not (ascii_number(length) and int(length) <= FORM_BYTES)):
        raise HTTPException(413, TOO_LONG)
    try:
        return await request.form(max_files=0, max_fields=FORM_FIELDS)
    except HTTPException:
        raise HTTPException(400, UNREADABLE) from None


async def require_form(request: Request) -> FormData:
    """The same for a small urlencoded form (the desk's buttons), which it returns; a deposit's upload is
    streamed and checks its token itself (pipeline/web/upload.py)."""
    form = await small_form(request)
    value = form.get(FIELD)
    require(request, value if isinstance(value, str) else None)
    return form
