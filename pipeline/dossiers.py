"""Dossiers: one signatory (SIRET) on one variant, as the Resah's staff think of their work.

A dossier gathers the documents of every deposit that concerns it; intake
computes its state from all of them (pipeline/intake.py) and records it here,
in the same transaction that finishes the deposit, so that a crash leaves
either both or neither. People then decide (accept, refuse) and follow it up
(traité, contre-signé, titre émis); every change is an event with who and when.

The documents' bytes are kept once each, by their sha256, under the state
folder: a follow-up deposit is judged with the documents that came before,
and the regional team receives the completed dossier whole.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from .report import Problem, Role
from .store import JOURNAL, Store, now
from .textnorm import search_fold


class DossierStatus(StrEnum):
    COMPLETE = "complete"  # every rule holds
    INCOMPLETE = "incomplete"  # problems remain, with the deposits' codes
    ACCEPTED = "accepted"  # a person accepted it (a hand signature checked on a scan…)
    REFUSED = "refused"  # a person refused it; the depositor is told


class FollowUp(StrEnum):
    """The regional team's own follow-up once a dossier is complete."""

    TRAITE = "traite"
    CONTRE_SIGNE = "contre-signe"
    TITRE_EMIS = "titre-emis"


class EventKind(StrEnum):
    OPENED = "opened"
    DEPOSIT = "deposit"  # a deposit brought documents to it
    REPLACED = "replaced"  # a newer document took the place of one of the same role
    COMPLETED = "completed"
    REOPENED = "reopened"  # a deposit came after a person's decision
    ACCEPTED = "accepted"
    REFUSED = "refused"
    FOLLOW_UP = "follow_up"
    REMINDED = "reminded"
    MESSAGE = "message"  # a message about it was sent


DECIDED = (DossierStatus.ACCEPTED, DossierStatus.REFUSED)
Check = Callable[["Dossier"], None]  # raises when a change may not be made to the dossier as it stands


def dossier_id(siret: str, variant: str) -> str:
    """Stable, so that a deposit resumed after a crash names the same dossier in the same messages."""
    return f"{siret}-{variant}"


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


@dataclass(frozen=True)
class Dossier:
    id: str
    siret: str
    variant: str
    status: DossierStatus
    problems: tuple[Problem, ...] = ()
    signatory: str | None = None
    region: str | None = None
    mailbox: str | None = None
    email: str | None = None  # the depositor's address, from the latest deposit's form
    due: Decimal | None = None  # the contribution due, when csac is sure of it
    paid: Decimal | None = None  # the orders' total attributed to it
    follow_up: FollowUp | None = None
    opened_at: str = ""
    updated_at: str = ""
    completed_at: str | None = None
    reminders: int = 0
    reminded_at: str | None = None
    review: bool = False  # "à vérifier": a person checks it before it is treated (pipeline/conflicts.py)

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    @classmethod
    def of_row(cls, row: sqlite3.Row) -> Dossier:
        return cls(
            row["id"], row["siret"], row["variant"], DossierStatus(row["status"]),
            tuple(Problem.from_json(p) for p in json.loads(row["problems"])),
            row["signatory"], row["region"], row["mailbox"], row["email"], _decimal(row["due"]),
            _decimal(row["paid"]), FollowUp(row["follow_up"]) if row["follow_up"] else None,
            row["opened_at"], row["updated_at"], row["completed_at"], row["reminders"], row["reminded_at"],
            bool(row["review"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Held:
    """A document a dossier holds, from one of its deposits; `replaced_by` once a newer one came."""

    seq: int
    dossier_id: str
    deposit_id: str
    role: Role
    name: str
    sha256: str
    added_at: str
    replaced_by: int | None = None
    purpose: str = ""  # "membership": the order paying the bulletin d'adhésion

    @classmethod
    def of_row(cls, row: sqlite3.Row) -> Held:
        return cls(
            row["seq"], row["dossier_id"], row["deposit_id"], Role(row["role"]), row["name"], row["sha256"],
            row["added_at"], row["replaced_by"], row["purpose"],
        )  # fmt: skip


@dataclass(frozen=True)
class Event:
    at: str
    kind: EventKind
    by: str | None = None
    detail: str | None = None
    deposit_id: str | None = None
    seq: int | None = None  # its number in the journal: what was sent about it is named after it


@dataclass(frozen=True)
class Brought:
    """A document a deposit brings to a dossier."""

    role: Role
    name: str
    sha256: str
    purpose: str = ""  # "membership" for the order that pays the bulletin d'adhésion, not a contribution


@dataclass(frozen=True)
class Update:
    """A dossier as intake judged it after one deposit: its state and the documents the deposit brought."""

    dossier: Dossier
    brought: tuple[Brought, ...] = ()


@contextmanager
def judging(state: Path) -> Iterator[None]:
    """An exclusive lock on the dossiers while one intake judges them, or a person decides: released by the
    system if the process dies. A decision never lands between an intake's reading and its writing."""
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(state / "dossiers.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _like(text: str) -> str:
    """`text` anywhere, its own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class Query:
    """What the dossiers listed must match; None matches everything."""

    region: str | None = None  # the region's name, as intake records it
    status: DossierStatus | None = None
    siret: str | None = None
    text: str | None = None  # in the signatory's name (accents and capitals aside), the SIRET and the id
    review: bool | None = None  # under review ("à vérifier"), or not
    variant: str | None = None
    opened_before: str | None = None  # ISO 8601: opened before then (an age in days, as the desk asks)
    siret_prefix: str | None = None  # digits a SIRET starts with (a SIREN, a whole SIRET): by its index

    def where(self) -> tuple[str, list]:
        where, args = [], []
        for column, value in (("region", self.region), ("status", self.status), ("siret", self.siret),
                              ("variant", self.variant)):  # fmt: skip
            if value:
                where.append(f"{column} = ?")
                args.append(str(value))
        if self.review is not None:
            where.append("review = ?")
            args.append(int(self.review))
        if self.opened_before:
            where.append("opened_at < ?")
            args.append(self.opened_before)
        if self.siret_prefix:  # a range, not LIKE: SQLite reads it from the (siret, variant) index
            where.append("siret >= ? AND siret < ?")
            args += [self.siret_prefix, self.siret_prefix + ":"]  # ":" sorts right after "9"
        if self.text:
            where.append(
                "(search_fold(signatory) LIKE ? ESCAPE '\\' OR siret LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')"
            )
            args += [_like(search_fold(self.text)), _like(self.text), _like(self.text)]
        return (" WHERE " + " AND ".join(where) if where else ""), args


class DossierBook:
    """The dossiers of one journal file; each call is its own transaction."""

    def __init__(self, journal: Path):
        self._store = Store(journal, JOURNAL)

    # -- reading -------------------------------------------------------------------------------------
    def get(self, dossier: str) -> Dossier | None:
        with closing(self._store.connect()) as conn:
            row = conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier,)).fetchone()
        return Dossier.of_row(row) if row else None

    def of_siret(self, siret: str) -> list[Dossier]:
        """A signatory's dossiers, oldest first: where a follow-up deposit may belong."""
        return self.search(siret=siret)

    def search(
        self,
        region: str | None = None,
        status: DossierStatus | None = None,
        siret: str | None = None,
        text: str | None = None,
        review: bool | None = None,
    ) -> list[Dossier]:
        """Dossiers, oldest first; `text` is looked for in the signatory's name, SIRET and id; `review`
        keeps those under review ("à vérifier"), or those not, when given."""
        where, args = Query(region, status, siret, text, review).where()
        with closing(self._store.connect()) as conn:
            rows = conn.execute(f"SELECT * FROM dossiers{where} ORDER BY opened_at, id", args).fetchall()
        return [Dossier.of_row(r) for r in rows]

    def page(self, query: Query, limit: int, offset: int = 0) -> tuple[list[Dossier], int]:
        """One page of the dossiers matching `query`, newest first, and how many match in all: what a
        desk lists, a page at a time, among tens of thousands (indexes dossiers_region, dossiers_opened).
        Within one second (opened_at's precision), the one opened last comes first: rowid, which each index
        holds, is the order dossiers were written in."""
        where, args = query.where()
        with closing(self._store.connect()) as conn:
            total = conn.execute(f"SELECT count(*) FROM dossiers{where}", args).fetchone()[0]
            rows = conn.execute(
                f"SELECT * FROM dossiers{where} ORDER BY opened_at DESC, rowid DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [Dossier.of_row(r) for r in rows], total

    def documents(self, dossier: str, current: bool = True) -> list[Held]:
        """Its documents in the order they came; only those not replaced, unless `current` is False."""
        sql = "SELECT * FROM dossier_documents WHERE dossier_id = ?"
        if current:
            sql += " AND replaced_by IS NULL"
        with closing(self._store.connect()) as conn:
            return [Held.of_row(r) for r in conn.execute(sql + " ORDER BY seq", (dossier,))]

    def holding(self, sha256: str, siret: str) -> list[Dossier]:
        """The signatory's dossiers that hold this very document now: one order paying several."""
        with closing(self._store.connect()) as conn:
            rows = conn.execute(
                "SELECT DISTINCT dossiers.* FROM dossiers JOIN dossier_documents ON dossier_id = dossiers.id"
                " WHERE sha256 = ? AND siret = ? AND replaced_by IS NULL ORDER BY id",
                (sha256, siret),
            ).fetchall()
        return [Dossier.of_row(r) for r in rows]

    def deposits(self, dossier: str) -> list[str]:
        """The deposits that brought it documents, in order."""
        return list(dict.fromkeys(h.deposit_id for h in self.documents(dossier, current=False)))

    def events(self, dossier: str) -> list[Event]:
        with closing(self._store.connect()) as conn:
            rows = conn.execute(
                "SELECT at, kind, by, detail, deposit_id, seq FROM dossier_events WHERE dossier_id = ? ORDER BY seq",
                (dossier,),
            ).fetchall()
        return [
            Event(r["at"], EventKind(r["kind"]), r["by"], r["detail"], r["deposit_id"], r["seq"])
            for r in rows
        ]

    # -- writing -------------------------------------------------------------------------------------
    def decide(
        self,
        dossier: str,
        status: DossierStatus,
        by: str,
        note: str,
        at: str | None = None,
        check: Check | None = None,
    ) -> Dossier:
        """A person's decision: accepted or refused, with who, when and why."""
        if status not in DECIDED:
            raise ValueError(f"décision inconnue : {status}")
        kind = EventKind.ACCEPTED if status == DossierStatus.ACCEPTED else EventKind.REFUSED
        return self._change(dossier, {"status": status, "review": 0}, kind, by, note, at, check)

    def set_follow_up(
        self, dossier: str, state: FollowUp, by: str, at: str | None = None, check: Check | None = None
    ) -> Dossier:
        return self._change(dossier, {"follow_up": state}, EventKind.FOLLOW_UP, by, str(state), at, check)

    def reminded(self, dossier: str, detail: str, at: str, number: int | None = None) -> Dossier:
        """One more reminder sent; the count and the date decide the next one. With its `number`, it is
        counted only if it is the next one: two runs that sent the same reminder record it once."""
        sql, args = (
            "UPDATE dossiers SET reminders = reminders + 1, reminded_at = ? WHERE id = ?",
            [at, dossier],
        )
        if number is not None:
            sql, args = f"{sql} AND reminders = ?", [*args, number - 1]
        with self._store.transaction() as conn:
            if conn.execute(sql, args).rowcount:
                add_event(conn, dossier, EventKind.REMINDED, at, detail=detail)
        return self._required(dossier)

    def event(self, dossier: str, kind: EventKind, detail: str, by: str | None = None, at: str | None = None):
        with self._store.transaction() as conn:
            add_event(conn, dossier, kind, at or now(), by, detail)

    def _change(
        self,
        dossier: str,
        values: dict,
        kind: EventKind,
        by: str,
        detail: str,
        at: str | None,
        check: Check | None = None,
    ):
        """`check` sees the dossier as it is under the write lock, and may refuse the change by raising."""
        at = at or now()
        with judging(self._store.path.parent), self._store.transaction() as conn:
            row = conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier,)).fetchone()
            if row is None:
                raise KeyError(dossier)
            if check:
                check(Dossier.of_row(row))
            sets = ", ".join(f"{column} = ?" for column in values)
            conn.execute(
                f"UPDATE dossiers SET {sets}, updated_at = ? WHERE id = ?",
                (*(str(v) for v in values.values()), at, dossier),
            )
            add_event(conn, dossier, kind, at, by, detail)
        return self._required(dossier)

    def _required(self, dossier: str) -> Dossier:
        found = self.get(dossier)
        if found is None:
            raise KeyError(dossier)
        return found


def add_event(
    conn: sqlite3.Connection,
    dossier: str,
    kind: EventKind,
    at: str,
    by: str | None = None,
    detail: str | None = None,
    deposit_id: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO dossier_events (dossier_id, at, kind, by, detail, deposit_id) VALUES (?, ?, ?, ?, ?, ?)",
        (dossier, at, kind, by, detail, deposit_id),
    )


def record(conn: sqlite3.Connection, update: Update, deposit_id: str, at: str) -> None:
    """A deposit's effect on one dossier, inside the transaction that finishes the deposit."""
    d = update.dossier
    before = conn.execute("SELECT status FROM dossiers WHERE id = ?", (d.id,)).fetchone()
    _upsert(conn, d, at)
    if before is None:
        add_event(conn, d.id, EventKind.OPENED, at, deposit_id=deposit_id)
    elif before["status"] in DECIDED and before["status"] != d.status:
        add_event(conn, d.id, EventKind.REOPENED, at, detail=before["status"], deposit_id=deposit_id)
    names = ", ".join(b.name for b in update.brought)
    add_event(conn, d.id, EventKind.DEPOSIT, at, detail=names, deposit_id=deposit_id)
    for brought in update.brought:
        _hold(conn, d.id, deposit_id, brought, at)
    if _announced(d) and (before is None or before["status"] != DossierStatus.COMPLETE):
        add_event(conn, d.id, EventKind.COMPLETED, at, deposit_id=deposit_id)


def _announced(d: Dossier) -> bool:
    """Complete, and said so: a dossier under review is complete only once a person accepts it."""
    return d.status == DossierStatus.COMPLETE and not d.review


def _upsert(conn: sqlite3.Connection, d: Dossier, at: str) -> None:
    problems = json.dumps([p.to_json() for p in d.problems], ensure_ascii=False)
    completed = at if _announced(d) else None
    conn.execute(
        "INSERT INTO dossiers (id, siret, variant, signatory, region, mailbox, email, status, problems, due,"
        " paid, opened_at, updated_at, completed_at, review) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET signatory = coalesce(excluded.signatory, signatory),"
        " region = coalesce(excluded.region, region), mailbox = coalesce(excluded.mailbox, mailbox),"
        " email = coalesce(email, excluded.email), status = excluded.status, problems = excluded.problems,"
        " due = excluded.due, paid = excluded.paid, updated_at = excluded.updated_at, review = excluded.review,"
        " completed_at = CASE WHEN excluded.status = 'complete' THEN coalesce(completed_at, excluded.completed_at)"
        " ELSE NULL END",
        (
            d.id, d.siret, d.variant, d.signatory, d.region, d.mailbox, d.email, d.status, problems,
            _text(d.due), _text(d.paid), at, at, completed, int(d.review),
        ),
    )  # fmt: skip


def _text(amount: Decimal | None) -> str | None:
    return str(amount) if amount is not None else None


def _hold(conn: sqlite3.Connection, dossier: str, deposit_id: str, doc: Brought, at: str) -> None:
    """The document, in place of the earlier deposits' documents of its role and purpose (both stay in
    the history): a membership order never replaces a contribution's."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO dossier_documents (dossier_id, deposit_id, role, name, sha256, purpose, added_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (dossier, deposit_id, doc.role, doc.name, doc.sha256, doc.purpose, at),
    )
    if not cur.rowcount:  # the same deposit recorded again after a crash
        return
    same = conn.execute(
        "SELECT seq FROM dossier_documents WHERE dossier_id = ? AND role = ? AND purpose = ? AND sha256 = ?"
        " AND deposit_id != ? AND replaced_by IS NULL",
        (dossier, doc.role, doc.purpose, doc.sha256, deposit_id),
    ).fetchone()
    if same:  # the very document it holds, sent again: nothing is replaced
        conn.execute("DELETE FROM dossier_documents WHERE seq = ?", (cur.lastrowid,))
        return
    older = conn.execute(
        "SELECT seq, name FROM dossier_documents WHERE dossier_id = ? AND role = ? AND purpose = ?"
        " AND deposit_id != ? AND replaced_by IS NULL",
        (dossier, doc.role, doc.purpose, deposit_id),
    ).fetchall()
    for row in older:
        conn.execute(
            "UPDATE dossier_documents SET replaced_by = ? WHERE seq = ?", (cur.lastrowid, row["seq"])
        )
        add_event(
            conn, dossier, EventKind.REPLACED, at, detail=f"{row['name']} → {doc.name}", deposit_id=deposit_id
        )


# -- the documents' bytes -----------------------------------------------------------------------------


class Documents:
    """Each document kept once, by its sha256, 0600: written whole (a temporary file, then renamed)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / sha256

    def keep(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.path(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{sha}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return sha

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
