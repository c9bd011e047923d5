"""The journal: one row per dropped file, every state change with its time.

SQLite in WAL mode, so that a watcher and `csac status` can read while
another process writes. A submission is the ZIP and its form: the same ZIP
sent again with a corrected form is a new submission, judged on its new
form; the same ZIP with the same form, already finished, is a duplicate. A
deposit that was claimed but never finished (a crash) is resumed under the
same id, so its messages keep their ids.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .dossiers import Update, record
from .report import STATUS_FR, IntakeReport
from .store import JOURNAL, STATE_FR, DepositState, PutState, Store, now

FINAL = (DepositState.DONE,)
IN_HAND_SECONDS = 600  # an unfinished row younger than this is a deposit in hand
log = logging.getLogger("csac.journal")


def _log(deposit_id: str, state: DepositState, detail: str = "") -> None:
    """One line per state change, naming the deposit by id; never document text. Said in French;
    the JSON lines and the journal keep the codes."""
    if state == DepositState.ASSESSED:
        detail = STATUS_FR.get(detail, detail)
    log.info(
        "dépôt %s : %s%s",
        deposit_id,
        STATE_FR.get(state, state),
        f" — {detail}" if detail else "",
        extra={"deposit": deposit_id, "state": state},
    )


def _safe(state: DepositState, detail: str) -> str:
    """The depositor's address is personal data: logs say who, not where."""
    if state == DepositState.DELIVERED and not detail.endswith("@resah.fr"):
        return "avis au déposant"
    return detail


def _in_hand(row) -> bool:
    """Being taken in elsewhere now; a row left unfinished long ago (a crash) blocks nothing."""
    updated = dt.datetime.fromisoformat(row["updated_at"])
    return (dt.datetime.now(dt.UTC) - updated).total_seconds() < IN_HAND_SECONDS


def _kept_where(codes: str) -> str:
    """A duplicate is not kept again: it points at the deposit already received."""
    return "déjà reçu" if codes == "duplicate" else "quarantaine"


@dataclass(frozen=True)
class Opened:
    deposit_id: str
    received_at: str
    duplicate_of: dict | None = None  # the finished deposit with the same ZIP and form, if any
    finished: IntakeReport | None = None  # this very file's report, when it was already taken in
    created: bool = False


@dataclass(frozen=True)
class Tally:
    """The watcher's tries at one dropped file, kept across restarts and releases."""

    failures: int = 0  # tries that ended in an error of the deposit's making
    crashes: int = 0  # tries cut short by the watcher's own death (killed, out of memory)
    last_error: str | None = None


class Journal:
    """A handle on the journal file; each call is its own transaction."""

    def __init__(self, path: Path):
        self.path = path
        self._store = Store(path, JOURNAL)
        self._connect = self._store.connect

    def open(self, sha256: str, file: str, source: str | None = None, form_sha256: str = "") -> Opened:
        """A row for this submission (ZIP and form): resumed if it was left unfinished, else new.

        `source` identifies one dropped file (device, inode, mtime survive a
        rename): the same file claimed again after a crash resumes its own row
        instead of becoming a duplicate of itself.
        """
        with self._store.transaction() as conn:
            opened = self._open(conn, sha256, file, source, form_sha256)
        _log(opened.deposit_id, DepositState.RECEIVED if opened.created else DepositState.RESUMED, file)
        return opened

    def _open(self, conn, sha256: str, file: str, source: str | None, form_sha256: str) -> Opened:
        rows = conn.execute(
            "SELECT * FROM deposits WHERE sha256 = ? ORDER BY received_at", (sha256,)
        ).fetchall()
        same = next((r for r in rows if source and r["source"] == source), None)  # this very drop
        if same and same["state"] not in FINAL:
            return Opened(same["id"], same["received_at"])  # taken up again after a crash, whatever its form
        # this very file, finished: with the same form, or with none (its form went to done/ first and the
        # watcher died before the file followed: adopted again, the file comes without it)
        if same and (same["form_sha256"] == form_sha256 or not form_sha256):
            return Opened(
                same["id"], same["received_at"], finished=IntakeReport.from_json(json.loads(same["report"]))
            )
        rows = [r for r in rows if r["form_sha256"] == form_sha256]  # the same submission, sent before
        resumed = next(
            (r for r in rows if r["state"] not in FINAL and r["file"] == file and not source), None
        )
        if resumed:  # `csac intake` run again on the same file after a crash
            return Opened(resumed["id"], resumed["received_at"])
        original = next((dict(r) for r in rows if r["state"] in FINAL), None) or next(
            (dict(r) for r in rows if (r["file"] != file or source) and _in_hand(r)), None
        )  # finished, or being taken in elsewhere right now: either way this copy is a duplicate
        deposit_id, at = self._new_id(conn, sha256), now()
        conn.execute(
            "INSERT INTO deposits (id, sha256, form_sha256, file, source, received_at, state, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (deposit_id, sha256, form_sha256, file, source, at, DepositState.RECEIVED, at),
        )
        conn.execute(
            "INSERT INTO events (deposit_id, at, state, detail) VALUES (?, ?, ?, ?)",
            (deposit_id, at, DepositState.RECEIVED, file),
        )
        return Opened(deposit_id, at, original, created=True)

    @staticmethod
    def _new_id(conn, sha256: str) -> str:
        base = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{sha256[:8]}"
        taken = {r[0] for r in conn.execute("SELECT id FROM deposits WHERE id LIKE ?", (base + "%",))}
        return base if base not in taken else f"{base}-{len(taken) + 1}"

    def event(self, deposit_id: str, state: DepositState, detail: str = "") -> None:
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO events (deposit_id, at, state, detail) VALUES (?, ?, ?, ?)",
                (deposit_id, now(), state, detail),
            )
            conn.execute(
                "UPDATE deposits SET state = ?, updated_at = ? WHERE id = ?", (state, now(), deposit_id)
            )
        _log(deposit_id, state, _safe(state, detail))

    def finish(self, outcome: IntakeReport, dossiers: tuple[Update, ...] = ()) -> None:
        """The outcome, written once delivery is done: the deposit's last state, its report in JSON form,
        and what it did to its dossiers, in the same transaction."""
        report = outcome.to_json()
        problems = json.dumps([p["code"] for p in report["problems"]])
        with self._store.transaction() as conn:
            conn.execute(
                "UPDATE deposits SET state = ?, status = ?, variant = ?, siret = ?, region = ?, mailbox = ?,"
                " problems = ?, delivered_to = ?, report = ?, updated_at = ? WHERE id = ?",
                (
                    DepositState.DONE,
                    report["status"],
                    report["variant"],
                    report["siret"],
                    report["region"],
                    report["mailbox"],
                    problems,
                    json.dumps(report.get("delivered_to", [])),
                    json.dumps(report, ensure_ascii=False),
                    now(),
                    report["deposit_id"],
                ),
            )
            conn.execute(
                "INSERT INTO events (deposit_id, at, state, detail) VALUES (?, ?, ?, ?)",
                (report["deposit_id"], now(), DepositState.DONE, report["status"]),
            )
            for update in dossiers:
                record(conn, update, report["deposit_id"], now())
        codes = ", ".join(p["code"] for p in report["problems"])
        _log(
            report["deposit_id"],
            DepositState.DONE,
            f"{STATUS_FR.get(report['status'], report['status'])} → {report['mailbox'] or _kept_where(codes)}"
            + (f" [{codes}]" if codes else ""),
        )

    def latest(self, limit: int = 20) -> list[dict]:
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT id, file, received_at, state, status, variant, siret, region, mailbox, problems, delivered_to"
                " FROM deposits ORDER BY received_at DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            dict(r)
            | {
                "problems": json.loads(r["problems"] or "[]"),
                "delivered_to": json.loads(r["delivered_to"] or "[]"),
            }
            for r in rows
        ]

    def of_drop(self, sha256: str, source: str) -> dict | None:
        """The row of one dropped file (its content and intake.source_key), once the watcher has opened it:
        how a page that dropped a deposit finds its verdict. Found through the sha256 index."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT id, state, status, report FROM deposits WHERE sha256 = ? AND source = ?"
                " ORDER BY received_at DESC LIMIT 1",
                (sha256, source),
            ).fetchone()
        return dict(row) if row else None

    def reports(self, mailbox: str, since: str) -> list[dict]:
        """The reports of the deposits finished for one mailbox, received on or after `since` (ISO date)."""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT report FROM deposits WHERE state = ? AND mailbox = ? AND received_at >= ?"
                " ORDER BY received_at",
                (DepositState.DONE, mailbox, since),
            ).fetchall()
        return [json.loads(r["report"]) for r in rows]

    def report(self, deposit_id: str) -> IntakeReport | None:
        """A finished deposit's report, as intake wrote it: what its notice said (sent again on demand)."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT report FROM deposits WHERE id = ? AND state = ?", (deposit_id, DepositState.DONE)
            ).fetchone()
        return IntakeReport.from_json(json.loads(row["report"])) if row and row["report"] else None

    def events(self, deposit_id: str) -> list[dict]:
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT at, state, detail FROM events WHERE deposit_id = ? ORDER BY seq", (deposit_id,)
            )
            return [dict(r) for r in rows]

    def delivery(self, folder: str, message_id: str) -> PutState | None:
        """Where a message stands in one Maildir: None (never tried), 'putting' or 'delivered'."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT state FROM delivered WHERE folder = ? AND message_id = ?", (folder, message_id)
            ).fetchone()
        return PutState(row["state"]) if row else None

    def begin_delivery(self, folder: str, message_id: str, name: str) -> bool:
        """True if the message was delivered there already; else it is recorded as being put."""
        with self._store.transaction() as conn:
            row = conn.execute(
                "SELECT state FROM delivered WHERE folder = ? AND message_id = ?", (folder, message_id)
            ).fetchone()
            done = bool(row and row["state"] == PutState.DELIVERED)
            if not done:
                self._mark(conn, folder, message_id, PutState.PUTTING, name)
        return done

    def mark_delivery(self, folder: str, message_id: str, state: PutState, name: str) -> None:
        with closing(self._connect()) as conn:
            self._mark(conn, folder, message_id, state, name)

    @staticmethod
    def _mark(conn, folder: str, message_id: str, state: PutState, name: str) -> None:
        conn.execute(
            "INSERT INTO delivered (folder, message_id, state, name, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (folder, message_id) DO UPDATE SET state = excluded.state, name = excluded.name, at = excluded.at",
            (folder, message_id, state, name, now()),
        )

    # -- attempts: keyed by the dropped file (source_key), since a try may fail before its row exists --
    def begin_attempt(self, source: str, file: str) -> Tally:
        """Count a try; one still marked running was cut short by the watcher's death."""
        with closing(self._connect()) as conn:
            conn.execute(
                "INSERT INTO attempts (source, file, running, updated_at) VALUES (?, ?, 1, ?)"
                " ON CONFLICT (source) DO UPDATE SET crashes = crashes + running, running = 1,"
                " updated_at = excluded.updated_at",
                (source, file, now()),
            )
            return self._tally(conn, source)

    def count_failure(self, source: str, error: str) -> Tally:
        with closing(self._connect()) as conn:
            conn.execute(
                "UPDATE attempts SET failures = failures + 1, last_error = ?, updated_at = ? WHERE source = ?",
                (error, now(), source),
            )
            return self._tally(conn, source)

    def end_attempt(self, source: str, final: bool = False) -> None:
        """The try is over; once the file has its outcome its count goes (a later file may reuse the key)."""
        with closing(self._connect()) as conn:
            if final:
                conn.execute("DELETE FROM attempts WHERE source = ?", (source,))
            else:
                conn.execute(
                    "UPDATE attempts SET running = 0, updated_at = ? WHERE source = ?", (now(), source)
                )

    @staticmethod
    def _tally(conn, source: str) -> Tally:
        row = conn.execute(
            "SELECT failures, crashes, last_error FROM attempts WHERE source = ?", (source,)
        ).fetchone()
        return Tally(row["failures"], row["crashes"], row["last_error"]) if row else Tally()
