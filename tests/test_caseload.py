"""What the regional desk asks of the dossiers (pipeline/caseload.py): an account sees its region's
dossiers and no other's, whatever it asks for; its decisions are the library's, journalled in its name.

The dossiers come from real deposits taken in once per module (tests/desk_builds.py): two in Bretagne,
one in Corse, one in Hauts-de-France. Tests that decide work on their own copy.
"""

from __future__ import annotations

import datetime as dt
import email
import mailbox
from email import policy

import pytest

from pipeline.accounts import HEAD_OFFICE, Account
from pipeline.caseload import (
    Filters,
    accept_as,
    case_for,
    document_for,
    listed,
    refuse_as,
    resend_as,
    scope_of,
    signature_crop,
    visible,
)
from pipeline.deliver import DEPOSITORS
from pipeline.dossiers import DossierBook, EventKind
from pipeline.errors import ArgumentError
from tests.desk_builds import (
    AC063,
    AGGLO_ID,
    AJACCIO,
    AJACCIO_ID,
    BREST,
    BREST_ID,
    RENNES,
    RENNES_ID,
    context,
    email_of,
    take_in_regions,
)

pytestmark = pytest.mark.xdist_group("desk")  # the deposits are taken in once, on one worker
BRETAGNE = Account("marie.durand", "bretagne")
CORSE = Account("paolo.santoni", "corse")
SIEGE = Account("direction", HEAD_OFFICE)
TODAY = dt.date.today()


@pytest.fixture(scope="module")
def regions_taken(tmp_path_factory, renderer, resources, loaded_intake):
    return take_in_regions(tmp_path_factory.mktemp("regions"), renderer, resources, loaded_intake)


@pytest.fixture(scope="module")
def journal(regions_taken):
    return regions_taken.workspace.journal


@pytest.fixture
def scope(regions):
    return lambda account: scope_of(account, regions)


@pytest.fixture
def copy(regions_taken, loaded_intake, tmp_path):
    """An intake context on this test's own copy of the journal, documents and outbox."""
    return context(loaded_intake, regions_taken.copied(tmp_path))


def ids(page) -> set[str]:
    return {d.id for d in page.dossiers}


# -- what each account sees ---------------------------------------------------------------------------


def test_a_regional_account_lists_only_its_region_dossiers(journal, scope):
    assert ids(listed(journal, scope(BRETAGNE), Filters(), TODAY)) == {RENNES_ID, BREST_ID}
    assert ids(listed(journal, scope(CORSE), Filters(), TODAY)) == {AJACCIO_ID}


def test_the_head_office_lists_every_region_dossiers(journal, scope):
    assert ids(listed(journal, scope(SIEGE), Filters(), TODAY)) == {RENNES_ID, BREST_ID, AJACCIO_ID, AGGLO_ID}


@pytest.mark.parametrize("search", [AJACCIO.siret, "Ajaccio", AJACCIO_ID])
def test_a_search_never_reaches_another_region_dossier(journal, scope, search):
    assert listed(journal, scope(BRETAGNE), Filters(search=search), TODAY).total == 0


def test_the_bretagne_account_gets_nothing_of_a_corse_dossier(journal, scope):
    bretagne = scope(BRETAGNE)
    assert visible(journal, bretagne, AJACCIO_ID) is None and case_for(journal, bretagne, AJACCIO_ID) is None


def test_the_bretagne_account_gets_no_document_of_a_corse_dossier(journal, scope, regions_taken):
    documents = regions_taken.workspace.documents
    corse = [h.seq for h in DossierBook(journal).documents(AJACCIO_ID)]
    assert corse and all(document_for(journal, documents, scope(CORSE), AJACCIO_ID, s) for s in corse)
    assert not any(document_for(journal, documents, scope(BRETAGNE), AJACCIO_ID, s) for s in corse)


def test_a_document_number_of_another_dossier_is_not_served_under_a_visible_one(
    journal, scope, regions_taken
):
    """The number is looked for among the dossier's own documents: Rennes' page never serves Ajaccio's."""
    documents = regions_taken.workspace.documents
    corse = [h.seq for h in DossierBook(journal).documents(AJACCIO_ID)]
    assert not any(document_for(journal, documents, scope(BRETAGNE), RENNES_ID, s) for s in corse)


def test_a_visible_dossier_case_file_has_its_documents_history_and_notice(journal, scope):
    found = case_for(journal, scope(BRETAGNE), RENNES_ID)
    assert {str(h.role) for h in found.documents} >= {"convention", "annex", "purchase_order"}
    assert [e.kind for e in found.events][:2] == [EventKind.OPENED, EventKind.DEPOSIT]
    assert any(m.kind == "notice" and m.to == DEPOSITORS for m in found.messages)


def test_a_document_is_served_from_the_folder_intake_keeps_it_in(journal, scope, regions_taken):
    documents = regions_taken.workspace.documents
    held = DossierBook(journal).documents(RENNES_ID)[0]
    kept = document_for(journal, documents, scope(BRETAGNE), RENNES_ID, held.seq)
    assert kept.path.parent.parent == documents and kept.held.name == held.name
    assert kept.path.read_bytes()[:4] in (b"%PDF", b"PK\x03\x04")


def test_a_signed_pdf_convention_has_no_signature_crop(copy, scope):
    """A crop is for a scan's ink; a digitally signed PDF has none."""
    held = next(h for h in DossierBook(copy.workspace.journal).documents(RENNES_ID) if h.role == "convention")
    assert signature_crop(copy, scope(BRETAGNE), RENNES_ID, held.seq) is None


# -- filters, search and pages -------------------------------------------------------------------------


@pytest.mark.parametrize("status, expected", [("incomplet", {BREST_ID}), ("complete", {RENNES_ID}),
                                              ("accepté", set())])  # fmt: skip
def test_the_status_filter_keeps_the_dossiers_in_that_state(journal, scope, status, expected):
    assert ids(listed(journal, scope(BRETAGNE), Filters(status=status), TODAY)) == expected


def test_an_unknown_status_is_refused_naming_the_states(journal, scope):
    with pytest.raises(ArgumentError, match="état inconnu : perdu"):
        listed(journal, scope(BRETAGNE), Filters(status="perdu"), TODAY)


def test_the_variant_filter_keeps_that_accord_cadre(journal, scope):
    assert ids(listed(journal, scope(SIEGE), Filters(variant=AC063), TODAY)) == {BREST_ID}


@pytest.mark.parametrize("days_later, older_than, kept", [(0, 1, False), (5, 5, True), (5, 6, False)])
def test_the_age_filter_keeps_dossiers_opened_that_many_days_ago_or_more(
    journal, scope, days_later, older_than, kept
):
    today = TODAY + dt.timedelta(days=days_later)
    found = ids(listed(journal, scope(BRETAGNE), Filters(older_than=older_than), today))
    assert found == ({RENNES_ID, BREST_ID} if kept else set())


@pytest.mark.parametrize("search", [RENNES.siret, " ".join([RENNES.siret[:3], RENNES.siret[3:6], RENNES.siret[6:]]),
                                    "Rennes", "rennes", "Ville de", RENNES.siret[:9]])  # fmt: skip
def test_a_search_by_siret_spaced_or_not_or_by_name_finds_the_dossier(journal, scope, search):
    assert ids(listed(journal, scope(BRETAGNE), Filters(search=search), TODAY)) == {RENNES_ID}


def test_a_page_holds_per_page_dossiers_newest_first_and_counts_them_all(journal, scope):
    first = listed(journal, scope(SIEGE), Filters(page=1), TODAY, per_page=3)
    last = listed(journal, scope(SIEGE), Filters(page=2), TODAY, per_page=3)
    assert (first.total, first.pages, len(first.dossiers), len(last.dossiers)) == (4, 2, 3, 1)
    assert [d.id for d in first.dossiers][0] == AGGLO_ID and [d.id for d in last.dossiers] == [RENNES_ID]


@pytest.mark.parametrize("page", [0, -3])
def test_a_page_number_below_one_is_the_first(journal, scope, page):
    assert listed(journal, scope(SIEGE), Filters(page=page), TODAY).number == 1


# -- decisions, in the account's name ------------------------------------------------------------------


def test_accepting_a_dossier_journals_the_account_as_the_one_who_decided(copy, scope):
    done = accept_as(copy, scope(BRETAGNE), BREST_ID, "bon de commande reçu par courrier")
    events = DossierBook(copy.workspace.journal).events(BREST_ID)
    assert done.dossier.status == "accepted"
    assert (events[-1].kind, events[-1].by, events[-1].detail) == (
        EventKind.ACCEPTED, "marie.durand", "bon de commande reçu par courrier",
    )  # fmt: skip


def test_refusing_a_dossier_journals_the_account_and_tells_the_depositor_why(copy, scope):
    done = refuse_as(
        copy.config, scope(BRETAGNE), BREST_ID, "convention signée par une personne sans délégation"
    )
    refused = next(
        e for e in DossierBook(copy.workspace.journal).events(BREST_ID) if e.kind == EventKind.REFUSED
    )
    assert refused.by == "marie.durand" and done.sent_to[0] == email_of(BREST)
    told = [m for m in depositors(copy) if m["Message-ID"] == done.message_id]
    assert "sans délégation" in told[0].get_body(("plain",)).get_content()


def depositors(ctx) -> list:
    box = mailbox.Maildir(ctx.workspace.outbox / DEPOSITORS)
    return [email.message_from_bytes(m.as_bytes(), policy=policy.default) for m in box]


def test_resending_the_notice_sends_the_latest_deposit_notice_again_under_its_own_id(copy, scope):
    first = resend_as(copy.config, scope(CORSE), AJACCIO_ID)
    second = resend_as(copy.config, scope(CORSE), AJACCIO_ID)
    assert first.message_id != second.message_id and first.to == email_of(AJACCIO)
    sent = {m["Message-ID"]: m for m in depositors(copy)}
    original = sent[f"<{first.deposit_id}.notice@csac.resah.fr>"]
    again = sent[first.message_id]
    assert again["Subject"] == original["Subject"]
    assert again.get_body(("plain",)).get_content() == original.get_body(("plain",)).get_content()


def test_a_resent_notice_is_journalled_with_the_account_and_shown_among_the_messages(copy, scope):
    done = resend_as(copy.config, scope(CORSE), AJACCIO_ID)
    last = DossierBook(copy.workspace.journal).events(AJACCIO_ID)[-1]
    assert (last.kind, last.by) == (EventKind.MESSAGE, "paolo.santoni") and done.message_id in last.detail
    found = case_for(copy.workspace.journal, scope(CORSE), AJACCIO_ID)
    assert any(m.message_id == done.message_id and m.kind == "notice" for m in found.messages)


@pytest.mark.parametrize("act", ["accept", "refuse", "resend"])
def test_no_decision_is_taken_on_another_region_dossier(copy, scope, act):
    bretagne, journal = scope(BRETAGNE), copy.workspace.journal
    before = DossierBook(journal).events(AJACCIO_ID)
    done = {
        "accept": lambda: accept_as(copy, bretagne, AJACCIO_ID, "vu"),
        "refuse": lambda: refuse_as(copy.config, bretagne, AJACCIO_ID, "non"),
        "resend": lambda: resend_as(copy.config, bretagne, AJACCIO_ID),
    }[act]()
    assert done is None and DossierBook(journal).events(AJACCIO_ID) == before
