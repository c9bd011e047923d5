"""The store: one way to open csac's SQLite files, and their schemas migrated by version (issue 9).

A file is brought to the current schema from nothing, and from what csac
left before versions existed (the SQL below is frozen from that csac, rows
included): no row is lost, and opening it again changes nothing.
"""

import multiprocessing
import sqlite3
import time
from contextlib import closing

import pytest

from pipeline import register
from pipeline.dossiers import DossierBook
from pipeline.journal import Journal
from pipeline.mailqueue import MailQueue
from pipeline.store import JOURNAL, REGISTER, DepositState, Schema, Store, StoreError

# -- the files csac wrote before versions (user_version 0), frozen -------------------------------

# journal.py SCHEMA and ATTEMPTS, mailqueue.py SCHEMA, at 83ceb62 (the last commit before the store)
TODAY_JOURNAL = """
CREATE TABLE IF NOT EXISTS deposits (
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
);
CREATE INDEX IF NOT EXISTS deposits_sha ON deposits (sha256);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    deposit_id TEXT NOT NULL REFERENCES deposits (id),
    at TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS delivered (
    folder TEXT NOT NULL,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,
    name TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS delivered_once ON delivered (folder, message_id);
CREATE TABLE IF NOT EXISTS attempts (
    source TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    crashes INTEGER NOT NULL DEFAULT 0,
    running INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
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
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_at);
"""
SHA = "ab" * 32
TODAY_ROWS = f"""
INSERT INTO deposits VALUES ('20260301-100000-abababab', '{SHA}', 'f0', 'mairie.zip', '1:2:3',
    '2026-03-01T10:00:00+01:00', 'done', 'complete', '2021-045-lot2', '20007246000013', 'hauts-de-france',
    'Hauts-de-France@resah.fr', '[]', '["Hauts-de-France@resah.fr"]',
    '{{"deposit_id": "20260301-100000-abababab", "status": "complete"}}', '2026-03-01T10:00:05+01:00');
INSERT INTO events (deposit_id, at, state, detail) VALUES
    ('20260301-100000-abababab', '2026-03-01T10:00:00+01:00', 'received', 'mairie.zip'),
    ('20260301-100000-abababab', '2026-03-01T10:00:05+01:00', 'done', 'complete');
INSERT INTO delivered VALUES ('/srv/outbox/Hauts-de-France@resah.fr', '<20260301-100000-abababab.region@csac.resah.fr>',
    'delivered', '20260301-100000-abababab.region@csac.resah.fr.0123', '2026-03-01T10:00:04+01:00');
INSERT INTO attempts VALUES ('4:5:6', 'illisible.zip', 2, 1, 0, 'ValueError', '2026-03-01T11:00:00+01:00');
INSERT INTO messages (message_id, deposit_id, kind, recipients, path, state, attempts, next_at, queued_at)
    VALUES ('<20260301-100000-abababab.notice@csac.resah.fr>', '20260301-100000-abababab', 'depositors',
    'mairie@example.fr', '/srv/var/queue/notice.eml', 'queued', 0, 0, '2026-03-01T10:00:04+01:00');
"""

# the journal before form hashes and claims (test_resubmission's and test_outbox_claims' OLD_SCHEMA)
OLDER_JOURNAL = """
CREATE TABLE deposits (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, file TEXT NOT NULL, source TEXT,
    received_at TEXT NOT NULL, state TEXT NOT NULL, status TEXT, variant TEXT, siret TEXT, region TEXT,
    mailbox TEXT, problems TEXT, delivered_to TEXT, report TEXT, updated_at TEXT NOT NULL);
CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, deposit_id TEXT NOT NULL, at TEXT NOT NULL,
    state TEXT NOT NULL, detail TEXT);
CREATE TABLE messages (
    message_id TEXT PRIMARY KEY, deposit_id TEXT, kind TEXT NOT NULL, recipients TEXT NOT NULL, path TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, answer TEXT,
    queued_at TEXT NOT NULL, sent_at TEXT
);
CREATE INDEX messages_due ON messages (state, next_at);
INSERT INTO deposits VALUES ('20240301-000000-abcdef12', '0000', 'ancien.zip', NULL, '2024-03-01T10:00:00+01:00',
    'done', 'complete', NULL, NULL, NULL, NULL, '[]', '[]', '{}', '2024-03-01T10:00:00+01:00');
INSERT INTO messages (message_id, deposit_id, kind, recipients, path, state, attempts, next_at, queued_at)
    VALUES ('<ancien@csac.resah.fr>', '20240301-000000-abcdef12', 'region', 'Corse@resah.fr', '/q/ancien.eml',
    'sending', 1, 0, '2024-03-01T10:00:00+01:00');
"""

# register.py SCHEMA at 83ceb62, with one signatory
TODAY_REGISTER = """
CREATE TABLE IF NOT EXISTS signatories (
    siret TEXT PRIMARY KEY,
    denomination TEXT NOT NULL,
    folded_name TEXT NOT NULL,
    region TEXT NOT NULL,
    mode TEXT NOT NULL,
    dues TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signatories_name ON signatories (folded_name);
INSERT INTO signatories VALUES ('20007246000013', 'Communauté d''Agglomération de Béthune-Bruay',
    'communaute d''agglomeration de bethune-bruay', 'hauts-de-france', 'compte_propre', '{"2021-045-lot2": "1000.00"}');
"""


def written(path, script: str):
    """A file as an earlier csac left it: its SQL run as is, no version set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(script)
    return path


def query(path, sql: str, *args) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, args).fetchall()


def version(path) -> int:
    return query(path, "PRAGMA user_version")[0][0]


def tables(path) -> list[str]:
    return [r[0] for r in query(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def rows(path) -> dict[str, list[tuple]]:
    return {t: sorted(query(path, f"SELECT * FROM {t}"), key=repr) for t in tables(path)}


def without_later_tables(found: dict) -> dict:
    """The rows of the tables a journal of issue 9 had: the dossiers (version 2), chores (3) and the desk's
    accounts (5) came later."""
    return {t: r for t, r in found.items() if not t.startswith("dossier") and t not in ("chores", "accounts")}


def shape(path) -> dict:
    """Each table's columns (name, type, not null, default, key) and indexes, whatever their order."""
    found = {}
    for table in tables(path):
        columns = {tuple(c[1:]) for c in query(path, f"PRAGMA table_info({table})")}
        indexes = {
            (i[1], i[2], tuple(c[2] for c in query(path, f"PRAGMA index_info({i[1]})")))
            for i in query(path, f"PRAGMA index_list({table})")
        }
        found[table] = (columns, indexes)
    return found


def fresh(tmp_path, schema: Schema = JOURNAL):
    path = tmp_path / "vide" / "fresh.sqlite"
    Store(path, schema)
    return path


def noted(n: int):
    """A migration that leaves a trace of each run: a version applied twice shows."""

    def migration(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS applied (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO applied VALUES (?)", (n,))

    return migration


# -- from an empty file ---------------------------------------------------------------------------


def test_an_empty_file_is_given_every_table_of_the_journal_and_its_version(tmp_path):
    path = fresh(tmp_path)
    assert tables(path) == [
        "accounts", "attempts", "chores", "delivered", "deposits", "dossier_documents", "dossier_events",
        "dossiers", "events", "messages", "sqlite_sequence",
    ]  # fmt: skip
    assert version(path) == JOURNAL.version == 6
    assert "session_epoch" in {r[1] for r in query(path, "PRAGMA table_info(accounts)")}


def test_an_empty_file_is_given_the_register_table_and_its_version(tmp_path):
    path = fresh(tmp_path, REGISTER)
    assert tables(path) == ["signatories"] and version(path) == REGISTER.version == 1


# -- from the files csac wrote before versions ------------------------------------------------------


def test_a_journal_of_today_keeps_every_row_and_is_set_to_the_current_version(tmp_path):
    path = written(tmp_path / "var" / "journal.sqlite", TODAY_JOURNAL + TODAY_ROWS)
    before = rows(path)
    Journal(path)
    assert without_later_tables(rows(path)) == before
    assert version(path) == JOURNAL.version


def test_a_journal_of_today_ends_with_the_schema_of_a_new_journal(tmp_path):
    path = written(tmp_path / "var" / "journal.sqlite", TODAY_JOURNAL + TODAY_ROWS)
    Journal(path)
    assert shape(path) == shape(fresh(tmp_path))


def test_a_journal_older_than_form_hashes_and_claims_gains_their_columns_and_keeps_its_rows(tmp_path):
    path = written(tmp_path / "var" / "journal.sqlite", OLDER_JOURNAL)
    Journal(path)
    assert shape(path) == shape(fresh(tmp_path))
    assert query(path, "SELECT id, form_sha256, state FROM deposits") == [
        ("20240301-000000-abcdef12", "", "done")
    ]
    assert query(path, "SELECT message_id, state, owner FROM messages") == [
        ("<ancien@csac.resah.fr>", "sending", None)
    ]


def test_a_deposit_finished_in_a_journal_of_today_makes_a_new_copy_a_duplicate(tmp_path):
    """The states are stored as the same text: a row written as 'done' is still finished."""
    path = written(tmp_path / "var" / "journal.sqlite", TODAY_JOURNAL + TODAY_ROWS)
    opened = Journal(path).open(SHA, "copie.zip", form_sha256="f0")
    assert opened.created and opened.duplicate_of["id"] == "20260301-100000-abababab"


def test_a_message_queued_in_a_journal_of_today_is_due(tmp_path):
    written(tmp_path / "var" / "journal.sqlite", TODAY_JOURNAL + TODAY_ROWS)
    due = MailQueue(tmp_path / "var").due()
    assert [r["message_id"] for r in due] == ["<20260301-100000-abababab.notice@csac.resah.fr>"]


def test_a_register_of_today_keeps_its_signatories_and_is_set_to_the_current_version(tmp_path):
    path = written(tmp_path / "var" / "register.sqlite", TODAY_REGISTER)
    known = register.lookup(path, siret="20007246000013")
    assert known.region == "hauts-de-france" and str(known.due("2021-045-lot2")[1]) == "1000.00"
    assert version(path) == REGISTER.version


# -- versions ---------------------------------------------------------------------------------------


def test_opening_a_file_again_applies_no_migration_twice(tmp_path):
    schema = Schema("essai", (noted(1), noted(2)))
    path = tmp_path / "essai.sqlite"
    for _ in range(3):
        Store(path, schema)
    assert query(path, "SELECT version FROM applied ORDER BY rowid") == [(1,), (2,)]


def test_opening_a_journal_again_changes_neither_its_schema_nor_its_rows(tmp_path):
    path = written(tmp_path / "var" / "journal.sqlite", TODAY_JOURNAL + TODAY_ROWS)
    Journal(path)
    once = (shape(path), rows(path), version(path))
    Journal(path)
    assert (shape(path), rows(path), version(path)) == once


def test_a_journal_at_version_1_is_given_the_dossier_tables_and_keeps_its_rows(tmp_path):
    """The journal the csac of issue 9 wrote (version 1), opened by the csac of dossiers (version 2)."""
    path = tmp_path / "var" / "journal.sqlite"
    Store(path, Schema("journal", JOURNAL.migrations[:1]))
    written(path, TODAY_ROWS)
    before = rows(path)
    Journal(path)
    assert version(path) == JOURNAL.version and {"dossiers", "dossier_documents", "dossier_events"} <= set(
        tables(path)
    )
    assert without_later_tables(rows(path)) == before


def test_a_journal_at_version_2_is_given_the_table_of_daily_chores_and_keeps_its_rows(tmp_path):
    """The journal of the first dossiers (version 2), opened by the csac that sends reminders daily (3)."""
    path = tmp_path / "var" / "journal.sqlite"
    Store(path, Schema("journal", JOURNAL.migrations[:2]))
    written(path, TODAY_ROWS)
    before = rows(path)
    Journal(path)
    assert version(path) == JOURNAL.version and "chores" in tables(path)
    assert {t: r for t, r in rows(path).items() if t not in ("chores", "accounts")} == before


V3_DOSSIER = """
INSERT INTO dossiers (id, siret, variant, signatory, status, problems, opened_at, updated_at)
    VALUES ('20007246000013-2021-045-lot2', '20007246000013', '2021-045-lot2', 'Béthune-Bruay', 'incomplete',
    '[{"code": "annex_missing", "message": "annexe absente"}]', '2026-03-01T10:00:00+01:00', '2026-03-01T10:00:00+01:00');
"""


def test_a_journal_at_version_3_gives_its_dossiers_a_review_flag_off_and_keeps_them(tmp_path):
    """The journal of the daily reminders (version 3), opened by the csac of dossiers "à vérifier" (4)."""
    path = tmp_path / "var" / "journal.sqlite"
    Store(path, Schema("journal", JOURNAL.migrations[:3]))
    written(path, TODAY_ROWS + V3_DOSSIER)
    before = rows(path)
    dossier = DossierBook(path).get("20007246000013-2021-045-lot2")
    assert version(path) == JOURNAL.version and dossier.review is False and dossier.codes == ["annex_missing"]
    assert {
        t: [r[:-1] for r in found] if t == "dossiers" else found
        for t, found in rows(path).items()
        if t != "accounts"
    } == before


def test_a_journal_at_version_4_is_given_the_desk_accounts_and_list_indexes_and_keeps_its_rows(tmp_path):
    """The journal of dossiers "à vérifier" (version 4), opened by the csac of the regional desk (5)."""
    path = tmp_path / "var" / "journal.sqlite"
    Store(path, Schema("journal", JOURNAL.migrations[:4]))
    written(path, TODAY_ROWS + V3_DOSSIER)
    before = rows(path)
    Journal(path)
    assert version(path) == JOURNAL.version and query(path, "SELECT count(*) FROM accounts") == [(0,)]
    indexes = {r[1] for r in query(path, "PRAGMA index_list(dossiers)")}
    assert {"dossiers_region", "dossiers_opened"} <= indexes
    assert {t: r for t, r in rows(path).items() if t != "accounts"} == before


def test_a_journal_at_version_5_gives_its_accounts_a_session_epoch_and_keeps_them(tmp_path):
    """The desk's journal (version 5), opened by the csac whose logout ends copied sessions (6): each
    account keeps its name, region and password, at epoch 0, and still logs in."""
    from argon2 import PasswordHasher

    from pipeline.accounts import Accounts

    path = tmp_path / "var" / "journal.sqlite"
    Store(path, Schema("journal", JOURNAL.migrations[:5]))
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    account = ("INSERT INTO accounts (name, region, password, created_at, updated_at) VALUES ('marie.durand', "
               f"'bretagne', '{cheap.hash('un mot de passe sûr')}', '2026-11-02', '2026-11-02');")  # fmt: skip
    written(path, TODAY_ROWS + account)
    before = rows(path)
    accounts = Accounts(path, cheap)
    assert version(path) == JOURNAL.version
    assert accounts.verify("marie.durand", "un mot de passe sûr").session_epoch == 0
    assert {t: r for t, r in rows(path).items() if t != "accounts"} == {
        t: r for t, r in before.items() if t != "accounts"
    }
    accounts.end_sessions("marie.durand")
    assert accounts.get("marie.durand").session_epoch == 1


def test_a_later_version_is_applied_to_a_journal_at_an_earlier_version(tmp_path):
    """What a later issue will do: a table added by the next version to a journal already in use."""

    def later(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE later (id TEXT PRIMARY KEY)")

    path = written(tmp_path / "var" / "journal.sqlite", TODAY_JOURNAL + TODAY_ROWS)
    Journal(path)
    before = rows(path)
    Store(path, Schema("journal", (*JOURNAL.migrations, later)))
    assert version(path) == JOURNAL.version + 1 and "later" in tables(path)
    assert {t: r for t, r in rows(path).items() if t != "later"} == before


def test_migrations_are_applied_in_the_order_of_their_versions(tmp_path):
    path = tmp_path / "essai.sqlite"
    Store(path, Schema("essai", (noted(1),)))
    Store(path, Schema("essai", (noted(1), noted(2), noted(3))))
    assert query(path, "SELECT version FROM applied ORDER BY rowid") == [(1,), (2,), (3,)]


def test_a_migration_that_fails_leaves_the_file_at_its_former_version(tmp_path):
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE later (id TEXT PRIMARY KEY)")
        raise sqlite3.OperationalError("disk I/O error")

    path = tmp_path / "var" / "journal.sqlite"
    Journal(path)
    with pytest.raises(sqlite3.OperationalError):
        Store(path, Schema("journal", (*JOURNAL.migrations, broken)))
    assert version(path) == JOURNAL.version and "later" not in tables(path)


def test_a_file_written_by_a_newer_csac_is_refused_in_french(tmp_path):
    path = tmp_path / "var" / "journal.sqlite"
    Journal(path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 7")
    with pytest.raises(StoreError, match="a été écrit par une version plus récente de csac"):
        Journal(path)


# -- connections ------------------------------------------------------------------------------------


WITH_DOSSIERS = Schema("journal", (*JOURNAL.migrations, noted(JOURNAL.version + 1)))


def _open_each(folder: str, rounds: int, barrier) -> None:
    """One opener: for each fresh file, wait for the others, then open it."""
    from pathlib import Path

    for n in range(rounds):
        barrier.wait(timeout=60)
        Store(Path(folder) / f"tour-{n}" / "journal.sqlite", WITH_DOSSIERS)


def test_processes_opening_a_fresh_file_at_once_all_succeed_and_migrate_it_once(tmp_path):
    """Two `csac intake` at once on a new state folder: each waits while another sets the file up."""
    forked = multiprocessing.get_context("fork")  # real processes, without importing the test suite again
    rounds, barrier = 10, forked.Barrier(4)
    openers = [forked.Process(target=_open_each, args=(str(tmp_path), rounds, barrier)) for _ in range(4)]
    for p in openers:
        p.start()
    for p in openers:
        p.join(timeout=120)
    assert [p.exitcode for p in openers] == [0] * 4
    for n in range(rounds):
        path = tmp_path / f"tour-{n}" / "journal.sqlite"
        last = JOURNAL.version + 1
        assert version(path) == last and query(path, "SELECT version FROM applied") == [(last,)]


def _hold(path: str, held) -> None:
    """Another process with the fresh file's write lock, as one setting it up has."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(0.3)  # past the moment the opener first tries
        conn.execute("COMMIT")


def test_a_new_handle_waits_for_another_process_holding_the_fresh_file(tmp_path):
    """Switching to WAL does not wait on SQLite's busy handler: the store itself waits (ec9f125)."""
    forked = multiprocessing.get_context("fork")
    path, held = tmp_path / "journal.sqlite", forked.Event()
    holder = forked.Process(target=_hold, args=(str(path), held))
    holder.start()
    assert held.wait(timeout=60)
    Journal(path)
    holder.join(timeout=60)
    assert holder.exitcode == 0 and journal_mode(path) == "wal" and version(path) == JOURNAL.version


def journal_mode(path) -> str:
    return query(path, "PRAGMA journal_mode")[0][0]


def test_the_register_is_in_wal_mode(tmp_path, parse, bethune, variants):
    path = tmp_path / "var" / "register.sqlite"
    register.record(path, parse(bethune, ["2021-045-lot2"]), [variants["2021-045-lot2"]])
    assert journal_mode(path) == "wal"


def test_a_journal_first_opened_by_the_mail_queue_is_in_wal_mode(tmp_path):
    MailQueue(tmp_path / "var")
    assert journal_mode(tmp_path / "var" / "journal.sqlite") == "wal"


def test_an_event_for_a_deposit_the_journal_does_not_hold_is_refused(tmp_path):
    """Foreign keys are on: an event always belongs to a deposit."""
    journal = Journal(tmp_path / "var" / "journal.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        journal.event("20260301-000000-inconnu", DepositState.ASSESSED, "complete")
    assert query(journal.path, "SELECT count(*) FROM events") == [(0,)]
