"""The store: every SQLite file of csac opened one way, its schema brought up to date.

A connection has WAL (a watcher writes while `csac status` reads), a busy
timeout (two intakes at once wait for each other) and foreign keys on,
migrations included. A file's `PRAGMA user_version` counts the migrations it
has had: opening it applies the missing ones in order, in one transaction. To
change a schema, append a function to its list; never edit one that has shipped.

Two files. The journal holds what intake and mail do (deposits, their events,
the Message-IDs put in each Maildir, the watcher's attempts, the mail queue,
whose rows name their deposits). The register of signatories stays apart:
rendering writes it, where no intake may run, and rendering again rebuilds it.
The states written in them are the enums below, stored as their text.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .errors import CsacError, ExitCode
from .textnorm import search_fold

BUSY_SECONDS = 30  # how long a statement waits for another process's write
SETUP_SECONDS = 30  # how long a new handle waits for another process setting the file up

Migration = Callable[[sqlite3.Connection], None]


class DepositState(StrEnum):
    """A deposit's steps, in the journal's `deposits.state` and `events.state`."""

    RECEIVED = "received"
    RESUMED = "resumed"  # logged only: a row left unfinished, taken up again
    ASSESSED = "assessed"
    DELIVERED = "delivered"  # a message put in its Maildir
    QUEUED = "queued"  # a message queued for the relay
    ARCHIVED = "archived"
    QUARANTINED = "quarantined"
    DELIVERY_FAILED = "delivery_failed"
    ALERT_FAILED = "alert_failed"
    DONE = "done"


STATE_FR = {  # what a clerk reads in the log for each step (the journal and the JSON lines keep the codes)
    DepositState.RECEIVED: "reçu",
    DepositState.RESUMED: "repris",
    DepositState.ASSESSED: "examiné",
    DepositState.DELIVERED: "remis",
    DepositState.QUEUED: "mis en file d'envoi",
    DepositState.ARCHIVED: "archivé",
    DepositState.QUARANTINED: "mis en quarantaine",
    DepositState.DELIVERY_FAILED: "remise impossible",
    DepositState.ALERT_FAILED: "alerte impossible",
    DepositState.DONE: "terminé",
}


class MessageState(StrEnum):
    """A queued message's state (`messages.state`), and each recipient's outcome."""

    QUEUED = "queued"  # waiting, or put off by the relay (4xx): tried again later
    SENDING = "sending"  # claimed by a sender
    SENT = "sent"
    FAILED = "failed"  # refused for good (5xx) or never sendable


class PutState(StrEnum):
    """A message's state in one Maildir (`delivered.state`)."""

    PUTTING = "putting"
    DELIVERED = "delivered"


class StoreError(CsacError):
    """A file written by a newer csac: this one must not touch it."""

    exit_code = ExitCode.config_error


@dataclass(frozen=True)
class Schema:
    """What one file holds: migration n brings version n-1 to version n."""

    name: str  # in French, for messages: "le journal"
    migrations: tuple[Migration, ...]

    @property
    def version(self) -> int:
        return len(self.migrations)


def now() -> str:
    """The time written in the journal: local, with its offset, to the second."""
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode: writers take their transaction with `transaction()`."""
    conn = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    # search_fold(): a search typed without accents or capitals finds the names written with them
    # ("orleans" finds "Orléans", "coeur" finds "Cœur"), as SQLite's own LIKE only ignores ASCII case
    conn.create_function("search_fold", 1, _fold_or_null, deterministic=True)
    return conn


def _fold_or_null(text):
    return search_fold(text) if isinstance(text, str) else text


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, its lock taken at once: what it reads, nobody changes before it writes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # some errors (a full disk) have rolled it back already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Store:
    """A handle on one file, set up and migrated when made; each use opens its own connection."""

    def __init__(self, path: Path, schema: Schema):
        self.path, self.schema = path, schema
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + SETUP_SECONDS
        while True:
            try:
                return self._setup()
            except sqlite3.OperationalError as exc:  # another process is creating the same file
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _setup(self) -> None:
        """Switching to WAL takes a lock that SQLite's busy handler does not wait for: hence the retries."""
        with closing(connect(self.path)) as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn, self.schema, self.path)

    def connect(self) -> sqlite3.Connection:
        return connect(self.path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(self.connect()) as conn, immediate(conn):
            yield conn


def version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, schema: Schema, path: Path) -> None:
    """The migrations the file lacks, in order, in one transaction: all of them or none.

    The version is read again under the write lock: another process may have migrated the file meanwhile.
    """
    if version(conn) == schema.version:  # the usual case: no write lock taken
        return
    with immediate(conn):
        found = version(conn)
        if found > schema.version:
            raise StoreError(
                f"{path} : {schema.name} a été écrit par une version plus récente de csac (schéma {found} ; "
                f"celle-ci connaît le schéma {schema.version}) : mettez csac à jour"
            )
        for migration in schema.migrations[found:]:
            migration(conn)
        conn.execute(f"PRAGMA user_version = {schema.version}")


def add_columns(conn: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    """Columns a file of an earlier csac lacks; its rows are kept."""
    present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
    for name, declaration in columns.items():
        if name not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")


def run(conn: sqlite3.Connection, statements: tuple[str, ...]) -> None:
    """One statement at a time: `executescript` would commit the migration's transaction."""
    for statement in statements:
        conn.execute(statement)


# -- the journal --------------------------------------------------------------------------------

JOURNAL_V1 = (
    """CREATE TABLE IF NOT EXISTS deposits (
        id TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        form_sha256 TEXT NOT NULL DEFAULT '',
        file TEXT NOT NULL,
        source TEXT,
        received_at TEXT NOT NULL,
        state TEXT NOT NULL,
        status TEXT,
        variant TEXT,
        siret TEXT,
        region TEXT,
        mailbox TEXT,
        problems TEXT,
        delivered_to TEXT,
        report TEXT,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS deposits_sha ON deposits (sha256)",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        deposit_id TEXT NOT NULL REFERENCES deposits (id),
        at TEXT NOT NULL,
        state TEXT NOT NULL,
        detail TEXT
    )""",
    # the Message-IDs put in each Maildir: a message is put there once
    """CREATE TABLE IF NOT EXISTS delivered (
        folder TEXT NOT NULL,
        message_id TEXT NOT NULL,
        state TEXT NOT NULL,
        name TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS delivered_once ON delivered (folder, message_id)",
    """CREATE TABLE IF NOT EXISTS attempts (
        source TEXT PRIMARY KEY,
        file TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        crashes INTEGER NOT NULL DEFAULT 0,
        running INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS messages (
        message_id TEXT PRIMARY KEY,
        deposit_id TEXT,
        kind TEXT NOT NULL,
        recipients TEXT NOT NULL,
        path TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        answer TEXT,
        queued_at TEXT NOT NULL,
        sent_at TEXT,
        owner TEXT,
        lease_until REAL,
        outcomes TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_at)",
)


def journal_v1(conn: sqlite3.Connection) -> None:
    """The journal of csac before versions, from an empty file or from any file an earlier csac left
    (version 0): the tables, indexes and columns it lacks."""
    run(conn, JOURNAL_V1)
    add_columns(conn, "deposits", {"form_sha256": "TEXT NOT NULL DEFAULT ''"})
    add_columns(conn, "messages", {"owner": "TEXT", "lease_until": "REAL", "outcomes": "TEXT"})


JOURNAL_V2 = (
    # one signatory (SIRET) on one variant; its state is computed from all its documents
    """CREATE TABLE IF NOT EXISTS dossiers (
        id TEXT PRIMARY KEY,
        siret TEXT NOT NULL,
        variant TEXT NOT NULL,
        signatory TEXT,
        region TEXT,
        mailbox TEXT,
        email TEXT,
        status TEXT NOT NULL,
        problems TEXT NOT NULL DEFAULT '[]',
        due TEXT,
        paid TEXT,
        follow_up TEXT,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        completed_at TEXT,
        reminders INTEGER NOT NULL DEFAULT 0,
        reminded_at TEXT,
        UNIQUE (siret, variant)
    )""",
    "CREATE INDEX IF NOT EXISTS dossiers_status ON dossiers (status, opened_at)",
    """CREATE TABLE IF NOT EXISTS dossier_documents (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        dossier_id TEXT NOT NULL REFERENCES dossiers (id),
        deposit_id TEXT NOT NULL REFERENCES deposits (id),
        role TEXT NOT NULL,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        purpose TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL,
        replaced_by INTEGER REFERENCES dossier_documents (seq),
        UNIQUE (dossier_id, deposit_id, name, sha256)
    )""",
    "CREATE INDEX IF NOT EXISTS dossier_documents_of ON dossier_documents (dossier_id, replaced_by)",
    """CREATE TABLE IF NOT EXISTS dossier_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        dossier_id TEXT NOT NULL REFERENCES dossiers (id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        by TEXT,
        detail TEXT,
        deposit_id TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS dossier_events_of ON dossier_events (dossier_id, seq)",
)


def journal_v2(conn: sqlite3.Connection) -> None:
    """Dossiers: one signatory on one variant, the documents of its deposits, and what people decided."""
    run(conn, JOURNAL_V2)


JOURNAL_V3 = (
    # the last day each daily chore of the watcher ran (the reminders): a restart does not run it again
    """CREATE TABLE IF NOT EXISTS chores (
        name TEXT PRIMARY KEY,
        day TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
)


def journal_v3(conn: sqlite3.Connection) -> None:
    """The watcher's daily chores: the last day each one ran."""
    run(conn, JOURNAL_V3)


def journal_v4(conn: sqlite3.Connection) -> None:
    """A dossier "à vérifier": a person checks it before it is treated (the form against its documents,
    the depositor's message); its status stays what its documents make it."""
    add_columns(conn, "dossiers", {"review": "INTEGER NOT NULL DEFAULT 0"})


JOURNAL_V5 = (
    # the regional desk's accounts (pipeline/accounts.py): a region's id, or "siege" (the head office)
    """CREATE TABLE IF NOT EXISTS accounts (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        region TEXT NOT NULL,
        password TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    # the desk lists a region's dossiers (or all of them) newest first, a page at a time
    "CREATE INDEX IF NOT EXISTS dossiers_region ON dossiers (region, opened_at)",
    "CREATE INDEX IF NOT EXISTS dossiers_opened ON dossiers (opened_at)",
)


def journal_v5(conn: sqlite3.Connection) -> None:
    """The regional desk: its accounts, and the indexes its list pages need with tens of thousands of
    dossiers."""
    run(conn, JOURNAL_V5)


def journal_v6(conn: sqlite3.Connection) -> None:
    """Logging out ends the account's sessions everywhere, a copied cookie included: a session carries the
    account's epoch from its login, and logging out moves the epoch on (pipeline/web/desk.py)."""
    add_columns(conn, "accounts", {"session_epoch": "INTEGER NOT NULL DEFAULT 0"})


JOURNAL = Schema("le journal", (journal_v1, journal_v2, journal_v3, journal_v4, journal_v5, journal_v6))


# -- the register of signatories ----------------------------------------------------------------

REGISTER_V1 = (
    """CREATE TABLE IF NOT EXISTS signatories (
        siret TEXT PRIMARY KEY,
        denomination TEXT NOT NULL,
        folded_name TEXT NOT NULL,
        region TEXT NOT NULL,
        mode TEXT NOT NULL,
        dues TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS signatories_name ON signatories (folded_name)",
)


def register_v1(conn: sqlite3.Connection) -> None:
    """The register of csac before versions."""
    run(conn, REGISTER_V1)


REGISTER = Schema("le registre des signataires", (register_v1,))
