"""Configuration, read once: csac.yaml, then the environment on top.

The SMTP password is never read from the file: only from the environment
variable the file names (CSAC_SMTP_PASSWORD by default), so the file can be
committed and shared.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ConfigError
from .reading import YAMLError, load_yaml, unreadable
from .resources import Resources, Workspace
from .schemas import check

DEFAULT_FILE = Path("csac.yaml")
REMINDER_DAYS = 10  # days an incomplete dossier waits for a reminder, and between two
ENV_PATHS = {"inbox": "CSAC_INBOX", "outbox": "CSAC_OUTBOX", "state": "CSAC_STATE"}
ENV_SMTP = {"host": "CSAC_SMTP_HOST", "port": "CSAC_SMTP_PORT", "security": "CSAC_SMTP_SECURITY",
            "username": "CSAC_SMTP_USERNAME", "sender": "CSAC_SMTP_SENDER"}  # fmt: skip


@dataclass(frozen=True)
class Relay:
    host: str
    sender: str
    port: int = 587
    security: str = "starttls"  # starttls, tls (implicit) or none
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    smtputf8: bool = False  # the relay carries addresses with accents before the @

    def describe(self) -> str:
        who = f"{self.username}@" if self.username else ""
        return f"{who}{self.host}:{self.port} ({self.security})"


@dataclass(frozen=True)
class Retry:
    first_seconds: float = 60.0
    max_seconds: float = 3600.0

    def delay(self, attempts: int) -> float:
        """Exponential backoff: 1, 2, 4… times the first delay, capped."""
        return min(self.max_seconds, self.first_seconds * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Config:
    workspace: Workspace = Workspace()
    relay: Relay | None = None
    redirect: str | None = None
    triage: str | None = None
    quarantine: str | None = None
    retry: Retry = Retry()
    source: str = "défauts"
    send_inline: bool = True  # False under `csac watch`: intake only queues, the watcher's sender sends
    reminder_days: int = REMINDER_DAYS
    order_document: str = (
        "required"  # or "form_reference_suffices": the form's EJ number stands for the order
    )

    @property
    def smtputf8(self) -> bool:
        """Whether an address with accents before the @ can be written to: Maildirs can, a relay if it says so."""
        return self.relay is None or self.relay.smtputf8

    def with_paths(self, inbox=None, outbox=None, state=None) -> Config:
        """Command-line folders win over the file and the environment."""
        ws = self.workspace
        return replace(self, workspace=Workspace(inbox or ws.inbox, outbox or ws.outbox, state or ws.state))


def _merged(data: dict, env: Mapping[str, str]) -> dict:
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for key, var in ENV_PATHS.items():
        if env.get(var):
            data.setdefault("paths", {})[key] = env[var]
    for key, var in ENV_SMTP.items():
        if env.get(var):
            value = env[var]
            data.setdefault("smtp", {})[key] = int(value) if key == "port" and value.isdigit() else value
    if "CSAC_REDIRECT" in env:
        data["redirect"] = env["CSAC_REDIRECT"] or None
    return data


def _relay(smtp: dict | None, env: Mapping[str, str]) -> Relay | None:
    if not smtp:
        return None
    security = smtp.get("security", "starttls")
    port = smtp.get("port", {"starttls": 587, "tls": 465, "none": 25}[security])
    password = env.get(smtp.get("password_env", "CSAC_SMTP_PASSWORD"))
    return Relay(
        smtp["host"],
        smtp["sender"],
        port,
        security,
        smtp.get("username"),
        password,
        smtp.get("timeout", 30.0),
        bool(smtp.get("smtputf8", False)),
    )


def load_config(path: Path | None, resources: Resources, env: Mapping[str, str] = os.environ) -> Config:
    """The configuration from `path` (or ./csac.yaml when it exists), then the environment."""
    path = path or (DEFAULT_FILE if DEFAULT_FILE.is_file() else None)
    data = {}
    if path:
        try:
            data = load_yaml(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, YAMLError) as exc:
            raise ConfigError(f"{path} : configuration illisible ({unreadable(exc)})") from exc
    data = _merged(data, env)
    problems = (
        check(resources.schema("config"), data) if data else []
    )  # nothing to check: no jsonschema import
    if problems:
        source = path or "environnement"
        raise ConfigError(f"{source} : configuration invalide\n" + "\n".join(f"  - {p}" for p in problems))
    paths, boxes, retry = data.get("paths", {}), data.get("mailboxes", {}), data.get("retry", {})
    workspace = Workspace(
        *(Path(paths.get(k, d)) for k, d in (("inbox", "inbox"), ("outbox", "outbox"), ("state", "var")))
    )
    if data.get("smtp") and data["smtp"].get("username") and not _relay(data["smtp"], env).password:
        var = data["smtp"].get("password_env", "CSAC_SMTP_PASSWORD")
        raise ConfigError(
            f"smtp.username est renseigné mais la variable d'environnement {var} (mot de passe) est vide"
        )
    return Config(workspace, _relay(data.get("smtp"), env), data.get("redirect"), boxes.get("triage"), boxes.get("quarantine"),
                  Retry(**retry), str(path or "défauts"), reminder_days=data.get("reminder_days", REMINDER_DAYS),
                  order_document=data.get("order_document", "required"))  # fmt: skip
