"""The Starlette application: its settings, its sessions, and the route modules it mounts.

Each page module (deposit.py, desk.py) exposes `routes(settings)`; a module that is not there
(yet) is simply not mounted, so the public deposit page runs on its own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..archive import Limits
from ..config import Config
from ..resources import Resources
from . import pages
from .pages import SECURITY_HEADERS

ROUTE_MODULES = ("desk", "deposit")  # pipeline/web/NAME.py, each with routes(settings); first match wins
SESSION_COOKIE = "csac_session"
SESSION_DAYS = 1  # a session (its CSRF token, a desk login) lasts a working day


@dataclass(frozen=True)
class WebLimits:
    """What one client may cost the server."""

    upload_bytes: int = Limits().max_archive_bytes  # a deposit larger than the archive limit is refused
    deposits_per_minute: int = 6  # per client address
    verdict_wait: float = 120.0  # seconds the page waits for the watcher before saying the mail will tell
    refresh: float = 1.0  # seconds between two looks at the journal while the page waits
    logins_per_minute: int = 10  # desk login attempts, per client address and per account name
    upload_idle: float = 60.0  # seconds an upload may stall before it is refused: a stalled client holds a
    # connection and a staging file
    upload_seconds: float = 1800.0  # the longest upload taken (64 MB at 300 kbit/s): a trickle is cut there


@dataclass(frozen=True)
class WebSettings:
    """Everything the pages read, given once when the application is built (no global state)."""

    config: Config  # its workspace: the inbox deposits are dropped in, the journal verdicts are read from
    secret_key: str  # signs the session cookie and the deposit tickets
    resources: Resources = field(default_factory=Resources.default)
    secure_cookies: bool = False  # True behind TLS: the session cookie is sent over HTTPS only
    limits: WebLimits = WebLimits()


class SecurityHeaders:
    """Every answer with the headers above (a plain ASGI middleware: it never reads a body)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _modules() -> list:
    """The page modules present in this installation."""
    found = []
    for name in ROUTE_MODULES:
        try:
            found.append(importlib.import_module(f"{__package__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise  # a module that is there but fails to import is a bug, not an absence
    return found


def _routes(settings: WebSettings) -> list[BaseRoute]:
    routes = [r for module in _modules() for r in module.routes(settings)]
    routes.append(Mount("/static", StaticFiles(directory=pages.STATIC), name="static"))
    routes.append(Route("/", lambda request: RedirectResponse("/depot", 303), name="home"))
    return routes


def create_app(settings: WebSettings) -> Starlette:
    """The whole site: the page modules' routes, signed session cookies, French error pages."""
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_DAYS * 86400,
            same_site="lax",
            https_only=settings.secure_cookies,
        ),
    ]
    app = Starlette(routes=_routes(settings), middleware=middleware, exception_handlers=pages.HANDLERS)
    app.state.settings = settings
    return app
