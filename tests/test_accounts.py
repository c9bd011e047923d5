"""The regional desk's accounts: one region each, or the head office; passwords kept as argon2id hashes.

The library (pipeline/accounts.py) is tested on a real journal; `csac user add/list/disable` run in
this process (typer's CliRunner), each option showing its effect.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from pipeline import api
from pipeline.accounts import HEAD_OFFICE, Accounts
from pipeline.cli import app
from pipeline.errors import ArgumentError, ExitCode
from tests.test_cli_options import fresh_folder  # noqa: F401  (autouse: each test in an empty folder)

runner = CliRunner(env={"COLUMNS": "1000"})
PASSWORD = "quatre mots au hasard"
OTHER = "un tout autre secret"


# argon2id at its lowest cost: the library's own parameters cost 0.3 s of CPU a hash (the CLI's tests use them)
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def accounts(tmp_path) -> Accounts:
    return Accounts(tmp_path / "var" / "journal.sqlite", CHEAP)


def stored_hash(journal: Path, name: str) -> str:
    with closing(sqlite3.connect(journal)) as conn:
        return conn.execute("SELECT password FROM accounts WHERE name = ?", (name,)).fetchone()[0]


# -- the library ----------------------------------------------------------------------------------


def test_an_account_logs_in_with_its_password_and_is_given_its_region(accounts):
    accounts.add("marie.durand", "bretagne", PASSWORD)
    found = accounts.verify("marie.durand", PASSWORD)
    assert found is not None and found.region == "bretagne" and not found.head_office


@pytest.mark.parametrize(
    "name, password", [("marie.durand", OTHER), ("marie.durand", ""), ("inconnu", PASSWORD)]
)
def test_a_wrong_password_or_an_unknown_name_logs_nobody_in(accounts, name, password):
    accounts.add("marie.durand", "bretagne", PASSWORD)
    assert accounts.verify(name, password) is None


def test_a_disabled_account_no_longer_logs_in_and_is_still_listed(accounts):
    accounts.add("marie.durand", "bretagne", PASSWORD)
    accounts.disable("marie.durand")
    assert accounts.verify("marie.durand", PASSWORD) is None
    assert [(a.name, a.active) for a in accounts.all()] == [("marie.durand", False)]


def test_only_an_argon2id_hash_of_the_password_is_kept(accounts, tmp_path):
    accounts.add("marie.durand", "bretagne", PASSWORD)
    kept = stored_hash(tmp_path / "var" / "journal.sqlite", "marie.durand")
    assert kept.startswith("$argon2id$") and PASSWORD not in kept


def test_a_hash_made_with_weaker_parameters_is_renewed_at_the_next_good_login(accounts, tmp_path):
    journal = tmp_path / "var" / "journal.sqlite"
    accounts.add("marie.durand", "bretagne", PASSWORD)  # with CHEAP's parameters
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert Accounts(journal, stronger).verify("marie.durand", PASSWORD) is not None
    renewed = stored_hash(journal, "marie.durand")
    assert CHEAP.check_needs_rehash(renewed) and not stronger.check_needs_rehash(renewed)


@pytest.mark.parametrize("taken", ["marie.durand", "Marie.Durand"])
def test_a_name_already_taken_whatever_its_case_is_refused(accounts, taken):
    accounts.add("marie.durand", "bretagne", PASSWORD)
    with pytest.raises(ArgumentError, match="existe déjà"):
        accounts.add(taken, "corse", OTHER)
    assert accounts.verify("marie.durand", PASSWORD).region == "bretagne"


@pytest.mark.parametrize("password", ["court", "onze caract"])
def test_a_short_password_is_refused_and_nothing_is_written(accounts, password):
    with pytest.raises(ArgumentError, match="mot de passe trop court"):
        accounts.add("marie.durand", "bretagne", password)
    assert accounts.all() == []


@pytest.mark.parametrize("typed, region", [("Bretagne", "bretagne"), ("corse@resah.fr", "corse"),
                                           ("ILE DE FRANCE", "ile-de-france"), ("siège", HEAD_OFFICE),
                                           ("siege", HEAD_OFFICE)])  # fmt: skip
def test_an_account_region_is_read_as_people_type_it(resources, typed, region):
    assert api.account_region(resources, typed) == region


@pytest.mark.parametrize("typed, said", [("triage", "le triage n'est la région d'aucun compte"),
                                         ("Atlantide", "région inconnue")])  # fmt: skip
def test_the_triage_or_an_unknown_region_is_no_account_region(resources, typed, said):
    with pytest.raises(ArgumentError, match=said):
        api.account_region(resources, typed)


# -- csac user ------------------------------------------------------------------------------------


def csac(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def ok(*args: str, input: str | None = None):
    result = csac(*args, input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_user_add_asks_the_password_twice_and_the_account_logs_in_with_it():
    result = ok("user", "add", "marie.durand", "--region", "Bretagne", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert "compte « marie.durand » créé : Bretagne" in result.stdout
    assert Accounts(Path("var/journal.sqlite")).verify("marie.durand", PASSWORD).region == "bretagne"


def test_user_add_with_two_different_passwords_creates_nothing():
    result = csac("user", "add", "marie.durand", "--region", "Bretagne", input=f"{PASSWORD}\n{OTHER}\n")
    assert result.exit_code == ExitCode.bad_args
    assert "les deux mots de passe saisis diffèrent" in str(result.exception)
    assert Accounts(Path("var/journal.sqlite")).all() == []


def test_user_add_password_stdin_reads_the_first_line_for_scripts():
    ok("user", "add", "siege.resah", "--region", "siege", "--password-stdin", input=f"{PASSWORD}\nsuite\n")
    found = Accounts(Path("var/journal.sqlite")).verify("siege.resah", PASSWORD)
    assert found is not None and found.head_office


def test_user_add_region_is_required():
    result = csac("user", "add", "marie.durand", "--password-stdin", input=f"{PASSWORD}\n")
    assert result.exit_code == ExitCode.bad_args and "--region" in result.output


def test_user_add_state_puts_the_account_in_that_journal():
    ok("user", "add", "marie.durand", "--region", "Corse", "--state", "ailleurs", "--password-stdin",
       input=f"{PASSWORD}\n")  # fmt: skip
    assert not Path("var").exists()
    assert Accounts(Path("ailleurs/journal.sqlite")).get("marie.durand").region == "corse"


def test_user_add_refuses_an_unknown_region_in_french_and_creates_nothing():
    result = csac(
        "user", "add", "marie.durand", "--region", "Bretonnie", "--password-stdin", input=f"{PASSWORD}\n"
    )
    assert result.exit_code == ExitCode.bad_args
    assert "région inconnue : Bretonnie" in str(result.exception)
    assert Accounts(Path("var/journal.sqlite")).all() == []


def test_user_list_prints_each_account_with_its_region_in_french():
    for name, region in (("marie.durand", "Bretagne"), ("paul.siege", "siege")):
        ok("user", "add", name, "--region", region, "--password-stdin", input=f"{PASSWORD}\n")
    table = ok("user", "list").stdout
    assert "marie.durand" in table and "Bretagne" in table and "siège (toutes les régions)" in table


def test_user_list_json_gives_the_accounts_keys_in_english_and_never_a_hash():
    ok("user", "add", "marie.durand", "--region", "Bretagne", "--password-stdin", input=f"{PASSWORD}\n")
    rows = json.loads(ok("user", "list", "--json").stdout)
    assert [(r["name"], r["region"], r["active"]) for r in rows] == [("marie.durand", "bretagne", True)]
    assert "argon2" not in ok("user", "list", "--json").stdout


def test_user_list_state_reads_that_journal():
    ok("user", "add", "marie.durand", "--region", "Corse", "--state", "ailleurs", "--password-stdin",
       input=f"{PASSWORD}\n")  # fmt: skip
    assert "Aucun compte" in ok("user", "list").stdout
    assert "marie.durand" in ok("user", "list", "--state", "ailleurs").stdout


def test_user_disable_stops_the_logins_of_that_account():
    ok("user", "add", "marie.durand", "--region", "Bretagne", "--password-stdin", input=f"{PASSWORD}\n")
    assert "compte « marie.durand » désactivé" in ok("user", "disable", "marie.durand").stdout
    assert Accounts(Path("var/journal.sqlite")).get("marie.durand").active is False


def test_user_disable_of_an_unknown_account_says_how_to_list_them():
    result = csac("user", "disable", "personne")
    assert result.exit_code == ExitCode.bad_args and "csac user list" in str(result.exception)


# -- names and passwords as hostile or careless people type them ------------------------------------------


@pytest.mark.parametrize("first, second", [
    ("Émilie", "émilie"), ("ÉMILIE", "émilie"), ("straße", "STRASSE"), ("ｍａｒｉｅ", "marie"),
    ("a\u0301ngel", "ángel"), ("ǅan", "ǆan"), ("ma\u200brie", "marie"), ("Bretagne", "bretagne"),
])  # fmt: skip
def test_two_spellings_of_one_name_are_one_account(accounts, first, second):
    accounts.add(first, "bretagne", PASSWORD)
    with pytest.raises(ArgumentError, match="existe déjà"):
        accounts.add(second, "corse", OTHER)
    assert accounts.verify(second, PASSWORD).region == "bretagne"  # and it logs in as the first


@pytest.mark.parametrize("name", ["marie durand", "marie\u00a0durand", "marie\tdurand", "marie\x00durand",
                                  "marie\u2028durand", "marie\u3000durand"])  # fmt: skip
def test_a_name_with_a_space_or_a_control_character_is_refused(accounts, name):
    with pytest.raises(ArgumentError, match="contient une espace"):
        accounts.add(name, "bretagne", PASSWORD)
    assert accounts.all() == []


@pytest.mark.parametrize("password, said", [
    (" " * 12, "trop répétitif"), ("aaaaaaaaaaaaaaaa", "trop répétitif"), ("abababab abab", "trop répétitif"),
    ("mot\tde\tpasse\tlong", "caractère de contrôle"), ("mot de passe\x00long", "caractère de contrôle"),
    ("mot de passe\u200blong", "caractère de contrôle"), ("", "trop court"),
])  # fmt: skip
def test_a_password_a_browser_cannot_type_or_too_repetitive_is_refused(accounts, password, said):
    with pytest.raises(ArgumentError, match=said):
        accounts.add("marie.durand", "bretagne", password)
    assert accounts.all() == []


@pytest.mark.parametrize("typed, logged", [
    ("crème brûlée à la chicorée", "cre\u0300me bru\u0302le\u0301e a\u0300 la chicore\u0301e"),
    ("ﬁlle d'été n°９", "fille d'été n°9"), ("ÆØÅ æøå ß ŒœĲ", "ÆØÅ æøå ß ŒœĲ"),
])  # fmt: skip
def test_a_non_ascii_password_logs_in_however_the_keyboard_composes_it(accounts, typed, logged):
    accounts.add("marie.durand", "bretagne", typed)
    assert accounts.verify("marie.durand", logged) is not None
    assert accounts.verify("marie.durand", logged + "x") is None


def test_disabling_finds_the_account_as_a_login_does(accounts):
    accounts.add("Émilie", "bretagne", PASSWORD)
    assert accounts.disable("émilie").name == "Émilie" and accounts.verify("Émilie", PASSWORD) is None


@pytest.mark.parametrize(
    "typed", ["mot de passe très sûr\r\n", "mot de passe très sûr\n", "mot de passe très sûr"]
)
def test_user_add_password_stdin_drops_the_line_end_whatever_the_system_and_keeps_accents(typed):
    ok("user", "add", "marie.durand", "--region", "Bretagne", "--password-stdin", input=typed)
    accounts = Accounts(Path("var/journal.sqlite"))
    assert accounts.verify("marie.durand", "mot de passe très sûr") is not None
    assert accounts.verify("marie.durand", "mot de passe très sûr\r") is None


@pytest.mark.parametrize("typed", ["", "   ", "court\n", "\t\t\t\t\t\t\t\t\t\t\t\t\n"])
def test_user_add_refuses_an_empty_or_weak_password_from_stdin_in_french(typed):
    result = csac("user", "add", "marie.durand", "--region", "Bretagne", "--password-stdin", input=typed)
    assert result.exit_code == ExitCode.bad_args and "mot de passe" in str(result.exception)
    assert Accounts(Path("var/journal.sqlite")).all() == []


def test_user_add_names_every_known_region_when_the_one_typed_is_like_none(resources):
    result = csac(
        "user", "add", "marie.durand", "--region", "Zzzyx", "--password-stdin", input=f"{PASSWORD}\n"
    )
    said = str(result.exception)
    assert result.exit_code == ExitCode.bad_args and "région inconnue : Zzzyx — régions :" in said
    assert all(r.name in said for r in api._regions(resources).regions)
