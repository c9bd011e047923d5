"""The regional desk's accounts: who may log in, and which dossiers each one sees.

An account belongs to one region (its id in templates/csac/regions.yaml) or to the Resah's head office
(HEAD_OFFICE), which sees every region. Accounts live in the journal (table `accounts`), beside the
dossiers the desk shows, so that one file is backed up and one migration list keeps them. Passwords are
kept only as argon2id hashes (argon2-cffi); a hash made with weaker parameters than today's is replaced
at the next good login. An account is disabled, never deleted: the journal's events keep its name.
"""

from __future__ import annotations

import functools
import sqlite3
import unicodedata
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import ArgumentError
from .store import JOURNAL, Store, now
from .untrusted import one_line

HEAD_OFFICE = "siege"  # the Resah's head office: every region's dossiers
NAME = 64  # characters of an account's name
MIN_PASSWORD = 12  # characters: the desk is reachable from the Resah's network, not only this machine
HASHER = PasswordHasher()  # argon2id with the library's current parameters (RFC 9106, low memory)


@dataclass(frozen=True)
class Account:
    name: str
    region: str  # a region's id, or HEAD_OFFICE
    active: bool = True
    created_at: str = ""
    session_epoch: int = 0  # a session is the account's only while it carries this number (end_sessions)

    @property
    def head_office(self) -> bool:
        return self.region == HEAD_OFFICE

    @classmethod
    def of_row(cls, row: sqlite3.Row) -> Account:
        return cls(row["name"], row["region"], bool(row["active"]), row["created_at"], row["session_epoch"])


MIN_DISTINCT = 5  # different characters in a password: "aaaaaaaaaaaa" is long, not secret


def _typed(text: str) -> str:
    """A name as typed, in one spelling: NFKC (the full-width "ｍａｒｉｅ" is "marie", a composed "é" the
    decomposed one), on one line, without invisible characters."""
    return one_line(unicodedata.normalize("NFKC", (text or "")[: NAME * 4]), NAME * 4)


def name_key(text: str) -> str:
    """What two names that are the same account share: its spelling (_typed), whatever its case, in any
    script ("Émilie" and "émilie", "straße" and "STRASSE"). Logins are found, and limited, by it."""
    return _typed(text).casefold()


def account_name(text: str) -> str:
    """A name as a person types it, in one spelling (_typed); not empty, no space, not longer than NAME."""
    name = _typed(text)
    if not name:
        raise ArgumentError("le nom du compte est vide : indiquez-le, par exemple « marie.durand »")
    if any(c.isspace() for c in name):
        raise ArgumentError(
            f"le nom du compte « {name} » contient une espace : écrivez-le d'un seul tenant, par exemple "
            "« marie.durand »"
        )
    if len(name) > NAME:
        raise ArgumentError(f"le nom du compte dépasse {NAME} caractères : raccourcissez-le")
    return name


def password_of(typed: str) -> str:
    """The password as it is hashed: NFKC, so that "é" typed composed on one keyboard and decomposed on
    another is the same password (NIST SP 800-63B, 5.1.1.2)."""
    return unicodedata.normalize("NFKC", typed)


def check_password(password: str) -> str:
    """A password long enough to resist guessing over the network, and one a browser can type; refused, in
    French, otherwise."""
    if len(password) < MIN_PASSWORD:
        raise ArgumentError(
            f"mot de passe trop court ({len(password)} caractères) : {MIN_PASSWORD} au moins, "
            "par exemple quatre mots au hasard"
        )
    if any(unicodedata.category(c)[0] == "C" for c in password):
        raise ArgumentError(
            "le mot de passe contient un caractère de contrôle ou invisible (tabulation, retour à la ligne…), "
            "qu'un navigateur ne peut pas saisir : choisissez-en un autre, par exemple quatre mots au hasard"
        )
    if len(set(password.casefold()) - {" "}) < MIN_DISTINCT:
        raise ArgumentError(
            f"mot de passe trop répétitif : {MIN_DISTINCT} caractères différents au moins, "
            "par exemple quatre mots au hasard"
        )
    return password


class Accounts:
    """The accounts of one journal file; each call is its own transaction."""

    def __init__(self, journal: Path, hasher: PasswordHasher = HASHER):
        self._store = Store(journal, JOURNAL)
        self._hasher = hasher

    def add(self, name: str, region: str, password: str) -> Account:
        """A new account; ArgumentError if the name is taken (whatever its case or spelling: name_key),
        even by a disabled one."""
        name, at = account_name(name), now()
        hashed = self._hasher.hash(check_password(password_of(password)))
        with self._store.transaction() as conn:
            taken = _named(conn, name)
            if taken is not None:
                raise ArgumentError(
                    f"le compte « {name} » existe déjà (« {taken['name']} ») : choisissez un autre nom"
                )
            conn.execute(
                "INSERT INTO accounts (name, region, password, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (name, region, hashed, at, at),
            )
        return Account(name, region, True, at)

    def disable(self, name: str) -> Account:
        """No more logins; its name stays in the history of what it did. Found as a login finds it."""
        with self._store.transaction() as conn:
            row = _named(conn, name)
            if row is None:
                raise ArgumentError(
                    f"compte inconnu : « {one_line(name, NAME)} » (`csac user list` les liste)"
                )
            conn.execute(
                "UPDATE accounts SET active = 0, updated_at = ? WHERE name = ?", (now(), row["name"])
            )
        return self.get(row["name"])

    def end_sessions(self, name: str) -> None:
        """Every session of the account ends, in every browser and every copy of its cookie: at logout. The
        session lives in a signed cookie, which the server cannot take back; this number it can."""
        with self._store.transaction() as conn:
            conn.execute(
                "UPDATE accounts SET session_epoch = session_epoch + 1, updated_at = ? WHERE name = ?",
                (now(), name),
            )

    def get(self, name: str) -> Account | None:
        with closing(self._store.connect()) as conn:
            row = conn.execute("SELECT * FROM accounts WHERE name = ?", (name,)).fetchone()
        return Account.of_row(row) if row else None

    def all(self) -> list[Account]:
        with closing(self._store.connect()) as conn:
            rows = conn.execute("SELECT * FROM accounts ORDER BY name COLLATE NOCASE").fetchall()
        return [Account.of_row(r) for r in rows]

    def verify(self, name: str, password: str) -> Account | None:
        """The active account with this name (whatever its case or spelling: name_key) and password, else
        None; its hash renewed if it was made with older parameters. An unknown name takes as long as a
        wrong password: names are not revealed."""
        password = password_of(password)
        with closing(self._store.connect()) as conn:
            row = _named(conn, name)
        hashed = row["password"] if row else _dummy(self._hasher)
        if not _matches(self._hasher, hashed, password) or row is None or not row["active"]:
            return None
        if self._hasher.check_needs_rehash(row["password"]):
            self._rehash(row["name"], password)
        return Account.of_row(row)

    def _rehash(self, name: str, password: str) -> None:
        with self._store.transaction() as conn:
            conn.execute(
                "UPDATE accounts SET password = ?, updated_at = ? WHERE name = ?",
                (self._hasher.hash(password), now(), name),
            )


def _named(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    """The account whose name_key is the name's: SQLite's NOCASE folds ASCII only, so the few accounts are
    compared here."""
    key = name_key(name)
    return next((r for r in conn.execute("SELECT * FROM accounts") if name_key(r["name"]) == key), None)


@functools.cache
def _dummy(hasher: PasswordHasher) -> str:
    """A hash an unknown name is checked against: it costs the same time as a wrong password."""
    return hasher.hash("compte inconnu")


def _matches(hasher: PasswordHasher, hashed: str, password: str) -> bool:
    try:
        return hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
