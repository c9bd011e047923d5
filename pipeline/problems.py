"""The problem catalogue: codes, French messages and the verdict they imply.

Each problem has two sentences: its `message`, the diagnosis the regional team
and the journal read; and its `ask`, what the depositor is asked for (a thing
to send, or for a refused deposit what happened and what to do).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .reading import YAMLError, load_yaml, unreadable

CODES = (
    "archive_corrupt", "archive_unsafe", "convention_missing", "convention_unknown", "convention_unsigned",
    "annex_missing", "purchase_order_missing", "siret_invalid", "siret_mismatch", "contract_mismatch",
    "amount_mismatch", "region_unknown", "form_invalid", "duplicate",
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """A problem found in a deposit: its fixed code, the French sentence, its verdict."""

    code: str
    message: str
    verdict: str = "incomplete"
    ask: str = ""  # the depositor's words: what to send or do; empty when there is nothing to ask

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Catalogue:
    entries: dict

    def finding(self, code: str, detail: str = "", scope: str | None = None, **fields: str) -> Finding:
        """The problem with its message and its ask; `scope` picks a variant of the code (e.g. "document"),
        which takes from its code what it does not say itself. `fields` fill the other {names} of the texts."""
        entry = self.entries[code]
        if scope:
            entry = {k: v for k, v in entry.items() if not isinstance(v, dict)} | entry[scope]
        values = {"detail": detail, **fields}
        values["told"] = entry.get("told", "").format(**values)
        ask = entry.get("ask", "").format(**values)
        return Finding(code, entry["message"].format(**values), entry["verdict"], ask)

    @staticmethod
    def verdict(findings) -> str:
        if any(f.verdict == "rejected" for f in findings):
            return "rejected"
        return "incomplete" if findings else "complete"


def load_catalogue(path: Path) -> Catalogue:
    try:
        entries = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise ConfigError(f"{path} : {unreadable(exc)}") from exc
    missing = [c for c in CODES if c not in entries or "message" not in entries[c]]
    if missing or set(entries) - set(CODES):
        raise ConfigError(
            f"{path} : codes manquants ou inconnus : {missing or sorted(set(entries) - set(CODES))}"
        )
    return Catalogue(entries)
