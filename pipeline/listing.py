"""The deposits `csac status` lists: the journal's, newest first, as a regional team asks for them.

A team looks for its own deposits (its region's mailbox), one signatory's (SIRET), one it was told of
(a few words of the organisation, the file name, the deposit or dossier number, typed as people type:
accents, case, hyphens and spaces do not matter), those in one state, or those of the last days. The
filters are SQL here; the command only parses and prints. Each row keeps the journal's English values
for scripts (`to_json`) and says its state in French for people (`state_fr`).
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .dossiers import DossierStatus
from .errors import ArgumentError
from .notices import DOSSIER_FR, REVIEW_FR, STATUS_FR
from .report import Verdict
from .store import JOURNAL, DepositState, Store
from .textnorm import fold, key, search_fold

PENDING_FR = {  # a deposit not finished yet, or whose delivery failed
    DepositState.DELIVERY_FAILED: "remise en échec",
    DepositState.ALERT_FAILED: "alerte en échec",
}
IN_PROGRESS = "en cours"
REVIEW = "review"  # not a verdict: a deposit a person checks before it is treated (report.review)
# The states as a person may type them, in French or in English, accents and case aside.
VERDICT_WORDS = {fold(word): v for v in Verdict for word in (v.value, STATUS_FR[v])} | {
    "complete": Verdict.COMPLETE,
    "incomplete": Verdict.INCOMPLETE,
    "refuse": Verdict.REJECTED,
    "rejete": Verdict.REJECTED,
    fold(REVIEW_FR): REVIEW,
    REVIEW: REVIEW,
}
# A dossier's states as a person may type them (`csac dossier list --status`): its own, where "refusé" is a
# person's refusal, and "à vérifier" as a deposit's.
DOSSIER_WORDS = {fold(word): s for s in DossierStatus for word in (s.value, DOSSIER_FR[s])} | {
    word: REVIEW for word, found in VERDICT_WORDS.items() if found == REVIEW
}
COLUMNS = (
    "id, file, received_at, state, status, variant, siret, region, mailbox, problems, delivered_to,"
    " json_extract(report, '$.signatory') AS signatory, coalesce(json_extract(report, '$.review'), 0) AS review"
)
_TEXT = (  # the free text: organisation, file name, deposit number, or the number of one of its dossiers
    "(instr(csac_key(json_extract(report, '$.signatory')), :text) OR instr(csac_key(file), :text)"
    " OR instr(csac_key(id), :text) OR EXISTS (SELECT 1 FROM json_each(report, '$.dossiers')"
    " WHERE instr(csac_key(json_extract(value, '$.dossier_id')), :text)))"
)


def _searched(text: str) -> str:
    """The letters and digits searched; none would match every deposit (instr of "" is 1)."""
    searched = _key(text)
    if not searched:
        raise ArgumentError(
            f"--search : « {text} » ne contient ni lettre ni chiffre : écrivez quelques mots de "
            "l'organisation, un nom de fichier, un numéro de dépôt ou de dossier"
        )
    return searched


def verdict_named(text: str) -> Verdict | str:
    """The state a person types: "complet", "incomplete", "refusé", "à vérifier"…; else ArgumentError."""
    return _named(text, VERDICT_WORDS, [(STATUS_FR[v], v.value) for v in Verdict])


def dossier_state_named(text: str) -> DossierStatus | str:
    """A dossier's state as a person types it: "incomplet", "accepted", "Refusé", "à vérifier"…; else
    ArgumentError."""
    return _named(text, DOSSIER_WORDS, [(DOSSIER_FR[s], s.value) for s in DossierStatus])


def dossier_state_query(text: str) -> tuple[DossierStatus | None, bool | None]:
    """The dossiers' status and review flag a typed state asks for: a dossier under review is "à vérifier"
    only, whatever its status; any other state excludes those under review."""
    state = dossier_state_named(text)
    return (None, True) if state == REVIEW else (state, False)


def _named(text: str, words: dict, states: list[tuple[str, str]]):
    """What `words` makes of the folded text; an error naming every state, in French then in English."""
    found = words.get(fold(text))
    if found is None:
        known = ", ".join(f"{fr} ({en})" for fr, en in [*states, (REVIEW_FR, REVIEW)])
        raise ArgumentError(f"état inconnu : {text} — états : {known}")
    return found


@dataclass(frozen=True)
class Criteria:
    """What the deposits listed must match; None matches everything."""

    mailbox: str | None = None  # the region's (or triage's) mailbox
    siret: str | None = None  # spaces allowed
    text: str | None = None  # in the organisation, file name, deposit number or dossier number
    status: Verdict | str | None = None  # a verdict, or REVIEW
    since: dt.date | None = None  # received on that day or after
    limit: int = 20

    def where(self) -> tuple[str, dict]:
        clauses, args = [], {}
        if self.mailbox:
            clauses.append("mailbox = :mailbox COLLATE NOCASE")
            args["mailbox"] = self.mailbox
        if self.siret:
            clauses.append("siret = :siret")
            args["siret"] = "".join(self.siret.split())
        if self.text is not None:
            clauses.append(_TEXT)
            args["text"] = _searched(self.text)
        if self.status == REVIEW:
            clauses.append("state = :done AND json_extract(report, '$.review') = 1")
            args["done"] = DepositState.DONE
        elif self.status:  # a deposit under review is "à vérifier", not "complet"
            clauses.append(
                "state = :done AND status = :status AND coalesce(json_extract(report, '$.review'), 0) = 0"
            )
            args |= {"done": DepositState.DONE, "status": self.status.value}
        if self.since:
            clauses.append("received_at >= :since")
            args["since"] = self.since.isoformat()
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


@dataclass(frozen=True)
class Listed:
    """One deposit as `csac status` shows it."""

    id: str
    file: str
    received_at: str  # ISO 8601, with its offset
    state: str  # DepositState
    status: str | None  # the verdict, once done
    variant: str | None
    siret: str | None
    region: str | None
    mailbox: str | None
    signatory: str | None  # the organisation, as read in its documents or its form
    review: bool = False  # "à vérifier"
    problems: tuple[str, ...] = ()  # codes
    delivered_to: tuple[str, ...] = ()
    messages: tuple[dict, ...] = ()  # the relay queue's, when there is one

    @classmethod
    def of_row(cls, row) -> Listed:
        data = dict(row) | {
            "problems": tuple(json.loads(row["problems"] or "[]")),
            "delivered_to": tuple(json.loads(row["delivered_to"] or "[]")),
            "review": bool(row["review"]),
        }
        return cls(**data)

    @property
    def state_fr(self) -> str:
        """Its verdict in French once done; else where it stands."""
        if self.state == DepositState.DONE and self.review:
            return REVIEW_FR
        if self.state == DepositState.DONE and self.status:
            return STATUS_FR[Verdict(self.status)]
        return PENDING_FR.get(self.state, IN_PROGRESS)

    def received_fr(self) -> str:
        """The day and time it was received, as the Resah writes them: 01/11/2026 10:15."""
        return dt.datetime.fromisoformat(self.received_at).strftime("%d/%m/%Y %H:%M")

    def to_json(self) -> dict:
        """For scripts: the journal's keys and values, in English."""
        data = {k: getattr(self, k) for k in ("id", "file", "received_at", "state", "status", "variant",
                                              "siret", "region", "mailbox", "signatory", "review")}  # fmt: skip
        return data | {
            "problems": list(self.problems),
            "delivered_to": list(self.delivered_to),
            "messages": list(self.messages),
        }


def _key(text: str | None) -> str:
    """Letters and digits, folded as a search box folds them: "oeuvre" finds « Œuvre », as on the desk."""
    return key(search_fold(text)) if text else ""


def deposits(journal: Path, criteria: Criteria) -> list[Listed]:
    """The deposits matching every criterion, newest first, `criteria.limit` at most."""
    where, args = criteria.where()
    sql = f"SELECT {COLUMNS} FROM deposits{where} ORDER BY received_at DESC, id DESC LIMIT :limit"
    with closing(Store(journal, JOURNAL).connect()) as conn:
        conn.create_function("csac_key", 1, _key, deterministic=True)
        rows = conn.execute(sql, args | {"limit": criteria.limit}).fetchall()
    return [Listed.of_row(r) for r in rows]
