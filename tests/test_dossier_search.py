"""A clerk searches the dossiers by a few letters of a name, typed as French keyboards and habits make
them: without accents, in capitals, with a straight or curly apostrophe. Each finds the name as intake
recorded it, in the desk's list (pipeline/caseload.py) and in `csac dossier list --search`
(DossierBook.search) alike; nothing else is found, and % or _ typed are letters, not wildcards.

The dossiers are written into a real journal as intake records them (dossiers.record).
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.accounts import HEAD_OFFICE, Account
from pipeline.caseload import Filters, Scope, listed
from pipeline.dossiers import Dossier, DossierBook, DossierStatus, Update, record
from pipeline.store import JOURNAL, Store
from testkit.documents import make_siret

NAMES = {
    "orleans": "Communauté de communes du Pays d’Orléans",
    "oeuvre": "Œuvre hospitalière de Saint-Étienne",
    "plain": "Ville de Rennes",
    "percent": "Syndicat 50% eau_potable",
    "coeur": "Association Coeur de Lætitia",
}
TODAY = dt.date.today()


@pytest.fixture(scope="module")
def journal(tmp_path_factory):
    path = tmp_path_factory.mktemp("recherche") / "journal.sqlite"
    with Store(path, JOURNAL).transaction() as conn:
        for n, (key, name) in enumerate(NAMES.items(), start=1):
            siret = make_siret(700 + n)
            dossier = Dossier(f"{siret}-2021-045-lot2", siret, "2021-045-lot2", DossierStatus.COMPLETE,
                              signatory=name, region="Bretagne", mailbox="Bretagne@resah.fr")  # fmt: skip
            record(conn, Update(dossier), f"depot-{key}", f"2026-11-0{n}T10:00:00+01:00")
    return path


def found(journal, text: str) -> set[str]:
    """The names found, by the desk's list and by the command line: both must agree."""
    desk = listed(journal, Scope(Account("direction", HEAD_OFFICE), None), Filters(search=text), TODAY)
    command = DossierBook(journal).search(text=text)
    assert {d.id for d in desk.dossiers} == {d.id for d in command}
    return {d.signatory for d in command}


@pytest.mark.parametrize(
    "typed", ["orleans", "ORLEANS", "Orléans", "orléans", "d'orleans", "d’Orléans", "PAYS D’O"]
)
def test_a_name_is_found_without_its_accents_capitals_or_curly_apostrophe(journal, typed):
    assert found(journal, typed) == {NAMES["orleans"]}


@pytest.mark.parametrize("typed", ["communaute", "COMMUNAUTÉ de communes", "saint-etienne", "œuvre", "ŒUVRE"])
def test_accented_words_anywhere_in_the_name_are_found(journal, typed):
    assert len(found(journal, typed)) == 1


@pytest.mark.parametrize("typed", ["oeuvre", "OEUVRE hospitalière", "Œuvre", "cœur", "lætitia", "LAETITIA"])
def test_the_ligatures_oe_and_ae_are_found_as_french_keyboards_type_them(journal, typed):
    """œ and æ are letters of their own to NFKD (fold keeps them), but an AZERTY keyboard has neither:
    "oeuvre" is how a clerk types « Œuvre », and a name may be recorded either way."""
    assert len(found(journal, typed)) == 1, typed


def test_a_name_written_without_accents_is_found_by_a_search_typed_with_them(journal):
    assert found(journal, "Rénnes") == {NAMES["plain"]}


@pytest.mark.parametrize(("typed", "names"), [("50%", {"percent"}), ("%", {"percent"}), ("_", {"percent"}),
                                              ("o_p", set()), ("orleans%rennes", set())])  # fmt: skip
def test_percent_and_underscore_typed_are_letters_not_wildcards(journal, typed, names):
    assert found(journal, typed) == {NAMES[k] for k in names}


def test_a_search_finds_nothing_that_does_not_bear_it(journal):
    assert found(journal, "Orléansville") == set()
