"""Dossiers: one signatory on one variant, judged from every deposit that concerns it.

Each test builds real deposits (signed PDF conventions, the rendered Excel
annexes, PDF orders) and takes them in through `take_in`, as the watcher does.
"""

from __future__ import annotations

import email
import io
import itertools
import json
import sqlite3
import zipfile
from contextlib import closing
from decimal import Decimal

import pytest

from pipeline import sample
from pipeline.dossiers import DossierBook
from pipeline.intake import take_in
from pipeline.request import contribution_due
from tests import builders
from tests.builders import Entity, convention_pdf, order_pdf, rendered, write_form, zip_of
from tests.builders import form as form_of
from tests.session_builds import once

LOT2, LOT4, AC047, AC063 = "2021-045-lot2", "2021-045-lot4", "2021-047-001", "2021-063-002"
MARKET = {LOT2: "2021-045 lot 2", LOT4: "2021-045 lot 4", AC047: "2021-047-001", AC063: "2021-063-002"}
ENTITY = Entity()  # a commune of 60,000: 1 000 € on lot 2, 500 € on lot 4, 2 500 € on 047, 500 € on 063


@pytest.fixture
def package(renderer, resources, variants):
    """(convention PDF, annex XLSX, due) of a variant for ENTITY, signed or not."""

    def _package(variant: str, signature: str = "valid") -> tuple[bytes, bytes, Decimal]:
        r = rendered(renderer, resources, ENTITY, variant)
        due = contribution_due(variants[variant], r["request"]).amount
        return convention_pdf(r["convention"], signature), r["annex"], due

    return _package


@pytest.fixture
def deposit(drop, intake_ctx):
    """Take in a ZIP of these members, with the depositor's form; returns the report."""
    count = itertools.count(1)

    def _deposit(members: list[tuple[str, bytes]], market: str = MARKET[LOT2], **form):
        path = drop(zip_of(members), f"depot-{next(count)}.zip")
        write_form(path, form_of(ENTITY, market, **form))
        return take_in(path, intake_ctx)

    return _deposit


def members_for(package, variants: list[str], signature: dict | None = None) -> list[tuple[str, bytes]]:
    out = []
    for v in variants:
        conv, annex, _ = package(v, (signature or {}).get(v, "valid"))
        out += [(f"{v}/Convention signée.pdf", conv), (f"{v}/Annexe - Vos besoins.xlsx", annex)]
    return out


def states(report) -> dict[str, tuple[str, list[str]]]:
    return {d.variant: (d.status, [p.code for p in d.problems]) for d in report.dossiers}


ALL = "2021-045, 2021-047 et 2021-063"  # a form's "numéro de marché" naming every procedure, no lot


def messages(outbox, folder: str) -> list:
    """The messages of one Maildir, in the order they were put there."""
    files = sorted((outbox / folder / "new").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


# -- a follow-up deposit completes its dossier ----------------------------------------------------


def test_a_deposit_without_its_order_then_the_order_alone_gives_one_dossier_complete_after_the_second(
    package, deposit
):
    conv, annex, due = package(LOT2)
    first = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)])
    second = deposit([("EJ 1300012345.pdf", order_pdf(ENTITY, due))])
    assert (first.status, first.codes, states(first)) == (
        "incomplete", ["purchase_order_missing"], {LOT2: ("incomplete", ["purchase_order_missing"])}
    )  # fmt: skip
    assert (second.status, second.codes, states(second)) == ("complete", [], {LOT2: ("complete", [])})
    [dossier] = second.dossiers
    assert dossier.dossier_id == first.dossiers[0].dossier_id
    assert dossier.deposits == (first.deposit_id, second.deposit_id)
    assert [(d.name, d.role.value, d.deposit_id) for d in dossier.documents] == [
        ("Convention.pdf", "convention", first.deposit_id),
        ("Annexe.xlsx", "annex", first.deposit_id),
        ("EJ 1300012345.pdf", "purchase_order", second.deposit_id),
    ]


def test_the_depositor_is_asked_for_the_order_then_told_the_dossier_is_complete(package, deposit, workspace):
    conv, annex, due = package(LOT2)
    first = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)])
    deposit([("EJ.pdf", order_pdf(ENTITY, due))])
    asked, told = messages(workspace.outbox, "depositors")
    assert "bon de commande de 1\u00a0000,00\u00a0€ (montant de votre contribution)" in body(asked)
    assert "Votre dossier est complet" in body(told)
    assert "déjà reçus pour votre dossier" in body(told) and first.deposit_id not in body(told)
    assert "Votre dossier est complet" not in body(asked)


def test_the_region_receives_the_completed_dossier_whole_with_the_earlier_deposit_numbers(
    package, deposit, workspace
):
    conv, annex, due = package(LOT2)
    first = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)])
    second = deposit([("EJ.pdf", order_pdf(ENTITY, due))])
    _, completed = messages(workspace.outbox, "Hauts-de-France@resah.fr")
    attachments = {p.get_filename(): p.get_content() for p in completed.iter_attachments()}
    whole = zipfile.ZipFile(io.BytesIO(attachments[f"dossier-{second.dossiers[0].dossier_id}.zip"]))
    assert sorted(whole.namelist()) == sorted(
        [
            f"{first.deposit_id}/Convention.pdf",
            f"{first.deposit_id}/Annexe.xlsx",
            f"{second.deposit_id}/EJ.pdf",
        ]
    )
    assert whole.read(f"{first.deposit_id}/Convention.pdf") == conv
    assert f"dépôts précédents : {first.deposit_id}" in body(completed)


def test_a_follow_up_names_its_signatory_by_the_form_when_its_order_bears_no_siret(package, deposit):
    conv, annex, due = package(LOT2)
    deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)])
    other = Entity(name=ENTITY.name, siret=ENTITY.siret)
    order = order_pdf(other, due).replace(b"SIRET", b"Ref. ")  # no SIRET on the order
    second = deposit([("EJ.pdf", order)], siret=ENTITY.siret)
    assert states(second) == {LOT2: ("complete", [])}


def test_an_order_alone_for_a_signatory_without_a_dossier_is_judged_alone(package, deposit):
    _, _, due = package(LOT2)
    alone = deposit([("EJ.pdf", order_pdf(ENTITY, due))])
    assert alone.dossiers == () and alone.codes == ["convention_missing", "annex_missing"]


def test_a_follow_up_goes_to_the_dossier_of_the_accord_cadre_its_order_names(package, deposit):
    deposit(members_for(package, [LOT2, AC047]))
    _, _, due047 = package(AC047)
    second = deposit([("EJ.pdf", order_pdf(ENTITY, due047, market=MARKET[AC047]))], market=MARKET[AC047])
    assert states(second) == {AC047: ("complete", [])}


def test_a_follow_up_that_names_no_accord_cadre_goes_to_the_dossier_its_amount_pays(package, deposit):
    deposit(members_for(package, [LOT2, AC047]), market=ALL)
    _, _, due047 = package(AC047)
    second = deposit([("EJ.pdf", order_pdf(ENTITY, due047, market=""))], market=ALL)
    assert states(second) == {AC047: ("complete", [])}


def test_a_follow_up_that_could_pay_either_dossier_is_not_guessed(package, deposit):
    deposit(members_for(package, [LOT4, AC063]), market=ALL)  # 500 € each
    second = deposit([("EJ.pdf", order_pdf(ENTITY, Decimal("500.00"), market=""))], market=ALL)
    assert second.dossiers == () and "convention_missing" in second.codes


# -- several conventions in one ZIP ---------------------------------------------------------------


@pytest.mark.parametrize("order", ["as-listed", "reversed", "order-first", "interleaved"])
def test_two_conventions_two_annexes_and_one_order_paying_both_give_two_complete_dossiers_in_any_order(
    package, deposit, order
):
    members = members_for(package, [LOT2, AC047])
    both = ("EJ commun.pdf", order_pdf(ENTITY, Decimal("3500.00"), market=""))
    arranged = {
        "as-listed": [*members, both],
        "reversed": [both, *reversed(members)],
        "order-first": [both, *members],
        "interleaved": [members[3], both, members[0], members[2], members[1]],
    }[order]
    out = deposit(arranged, market=ALL)
    assert (out.status, states(out)) == ("complete", {LOT2: ("complete", []), AC047: ("complete", [])})


@pytest.mark.parametrize("seed", range(5))
def test_the_verdict_of_four_conventions_and_two_orders_never_depends_on_the_members_order(
    package, deposit, seed
):
    import random

    _, _, due = package(AC047)
    members = [
        *members_for(package, [LOT2, LOT4, AC047, AC063], signature={LOT4: "none"}),
        ("EJ 047.pdf", order_pdf(ENTITY, due, market="")),  # 2 500 €: 047's due, and no other's
        (
            "EJ commun.pdf",
            order_pdf(ENTITY, Decimal("2000.00"), market=""),
        ),  # the other three: 1 000 + 500 + 500
    ]
    random.Random(seed).shuffle(members)
    out = deposit(members, market=ALL)
    assert states(out) == {
        LOT2: ("complete", []), LOT4: ("incomplete", ["convention_unsigned"]), AC047: ("complete", []),
        AC063: ("complete", []),
    }  # fmt: skip
    assert (out.variant, out.contribution.amount, out.amount_paid) == (
        None,
        Decimal("4500.00"),
        Decimal("4500.00"),
    )


def test_an_order_naming_both_accords_cadres_pays_both(package, deposit):
    both = order_pdf(ENTITY, Decimal("3500.00"), market=f"{MARKET[LOT2]} et {MARKET[AC047]}")
    out = deposit([*members_for(package, [LOT2, AC047]), ("EJ.pdf", both)])
    assert states(out) == {LOT2: ("complete", []), AC047: ("complete", [])}


def test_one_order_for_the_four_contributions_must_be_their_sum(package, deposit):
    members = members_for(package, [LOT2, LOT4, AC047, AC063])
    good = deposit([*members, ("EJ.pdf", order_pdf(ENTITY, Decimal("4500.00"), market=""))], market=ALL)
    assert good.status == "complete" and len(good.dossiers) == 4


def test_an_order_naming_two_accords_cadres_for_less_than_their_sum_is_an_amount_mismatch_for_both(
    package, deposit
):
    short = order_pdf(ENTITY, Decimal("1000.00"), market=f"{MARKET[LOT2]} et {MARKET[AC047]}")
    out = deposit([*members_for(package, [LOT2, AC047]), ("EJ.pdf", short)])
    assert states(out) == {
        LOT2: ("incomplete", ["amount_mismatch"]),
        AC047: ("incomplete", ["amount_mismatch"]),
    }
    assert (
        "au lieu de 3\u00a0500,00\u00a0€, somme de leurs contributions" in out.dossiers[0].problems[0].message
    )


def test_four_conventions_one_unsigned_give_three_complete_dossiers_and_one_convention_unsigned(
    package, deposit
):
    members = members_for(package, [LOT2, LOT4, AC047, AC063], signature={AC063: "none"})
    out = deposit([*members, ("EJ.pdf", order_pdf(ENTITY, Decimal("4500.00"), market=""))], market=ALL)
    assert out.status == "incomplete" and out.codes == ["convention_unsigned"]
    assert states(out) == {
        LOT2: ("complete", []), LOT4: ("complete", []), AC047: ("complete", []),
        AC063: ("incomplete", ["convention_unsigned"]),
    }  # fmt: skip


def test_two_conventions_with_an_order_for_only_one_give_one_complete_and_one_missing_its_order(
    package, deposit
):
    _, _, due = package(LOT2)
    out = deposit([*members_for(package, [LOT2, AC047]), ("EJ.pdf", order_pdf(ENTITY, due, market=""))])
    assert states(out) == {LOT2: ("complete", []), AC047: ("incomplete", ["purchase_order_missing"])}
    assert out.status == "incomplete" and out.codes == ["purchase_order_missing"]


def test_four_conventions_with_an_order_for_only_one_tell_the_depositor_what_each_lacks(
    package, deposit, workspace
):
    _, _, due = package(AC047)
    members = members_for(package, [LOT2, LOT4, AC047, AC063])
    out = deposit([*members, ("EJ.pdf", order_pdf(ENTITY, due, market=MARKET[AC047]))], market=ALL)
    assert [s for s, _ in states(out).values()].count("complete") == 1
    [notice] = messages(workspace.outbox, "depositors")
    text = body(notice)
    assert "Votre dépôt concerne 4 conventions" in text and "Votre dossier est complet" not in text
    assert f"accord-cadre 2021-047-001 (dossier n° {ENTITY.siret}-{AC047}) : dossier complet." in text
    assert text.count("dossier incomplet") == 3


def test_an_order_that_matches_no_convention_is_reported_and_never_guessed(package, deposit):
    stray = ("EJ.pdf", order_pdf(ENTITY, Decimal("777.00"), market=""))
    out = deposit([*members_for(package, [LOT2, AC047]), stray], market=ALL)
    assert states(out) == {
        LOT2: ("incomplete", ["purchase_order_missing"]), AC047: ("incomplete", ["purchase_order_missing"])
    }  # fmt: skip
    [note] = [d.note for d in out.documents if d.name == "EJ.pdf"]
    assert note.startswith("non rattaché à une convention")


def test_an_order_that_paid_two_dossiers_still_pays_both_when_one_is_completed_later(package, deposit):
    lot2, annex2, _ = package(LOT2)
    ac047, annex047, _ = package(AC047)
    both = (
        "EJ commun.pdf",
        order_pdf(ENTITY, Decimal("3500.00"), market=f"{MARKET[LOT2]} et {MARKET[AC047]}"),
    )
    first = deposit([("C lot 2.pdf", lot2), ("A lot 2.xlsx", annex2), ("C 047.pdf", ac047), both], market=ALL)
    later = deposit([("Annexe 047.xlsx", annex047)], market=MARKET[AC047])
    assert states(first) == {LOT2: ("complete", []), AC047: ("incomplete", ["annex_missing"])}
    assert states(later) == {AC047: ("complete", [])}


# -- a newer document replaces the older one of its role -------------------------------------------


def test_a_corrected_order_replaces_a_wrong_one_and_both_stay_in_the_history(package, deposit, workspace):
    conv, annex, due = package(LOT2)
    wrong = deposit(
        [("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ-1.pdf", order_pdf(ENTITY, Decimal("10.00")))]
    )
    right = deposit([("EJ-2.pdf", order_pdf(ENTITY, due, ej="1300099999"))])
    assert states(wrong) == {LOT2: ("incomplete", ["amount_mismatch"])}
    assert states(right) == {LOT2: ("complete", [])}
    book, dossier = DossierBook(workspace.journal), right.dossiers[0].dossier_id
    assert [h.name for h in book.documents(dossier)] == ["Convention.pdf", "Annexe.xlsx", "EJ-2.pdf"]
    every = book.documents(dossier, current=False)
    assert [(h.name, h.replaced_by is not None) for h in every if h.role == "purchase_order"] == [
        ("EJ-1.pdf", True), ("EJ-2.pdf", False)
    ]  # fmt: skip
    assert any(e.kind == "replaced" and e.detail == "EJ-1.pdf → EJ-2.pdf" for e in book.events(dossier))


def test_a_corrected_convention_alone_keeps_the_annex_and_order_the_dossier_had(package, deposit):
    unsigned, annex, due = package(LOT2, "none")
    signed, _, _ = package(LOT2)
    first = deposit(
        [("Convention.pdf", unsigned), ("Annexe.xlsx", annex), ("EJ.pdf", order_pdf(ENTITY, due))]
    )
    second = deposit([("Convention signée.pdf", signed)])
    assert states(first) == {LOT2: ("incomplete", ["convention_unsigned"])}
    assert states(second) == {LOT2: ("complete", [])}
    assert [d.role.value for d in second.dossiers[0].documents] == ["convention", "annex", "purchase_order"]


# -- the report and the journal ---------------------------------------------------------------------


def test_the_report_lists_its_dossiers_in_the_schema_and_the_journal_keeps_them(
    package, deposit, workspace, resources
):
    import jsonschema

    out = deposit(
        [*members_for(package, [LOT2, AC047]), ("EJ.pdf", order_pdf(ENTITY, Decimal("3500.00"), market=""))]
    )
    data = out.to_json()
    jsonschema.validate(data, json.loads(resources.schema("intake-report").read_text()))
    assert [d["variant"] for d in data["dossiers"]] == [LOT2, AC047]
    with closing(sqlite3.connect(workspace.journal)) as conn:
        rows = conn.execute("SELECT id, status, due FROM dossiers ORDER BY id").fetchall()
        held = conn.execute("SELECT count(*) FROM dossier_documents WHERE deposit_id = ?", (out.deposit_id,))
        assert held.fetchone()[0] == 6  # two conventions, two annexes, and the order in each dossier
    assert rows == [
        (f"{ENTITY.siret}-{LOT2}", "complete", "1000.00"),
        (f"{ENTITY.siret}-{AC047}", "complete", "2500.00"),
    ]


def test_the_documents_of_a_dossier_are_kept_once_each_and_readable_only_by_csac(package, deposit, workspace):
    conv, annex, due = package(LOT2)
    deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", order_pdf(ENTITY, due))])
    kept = [p for p in (workspace.state / "documents").rglob("*") if p.is_file()]
    assert len(kept) == 3 and {p.stat().st_mode & 0o777 for p in kept} == {0o600}
    assert sorted(p.read_bytes() for p in kept) == sorted([conv, annex, order_pdf(ENTITY, due)])


# -- two intakes at once ----------------------------------------------------------------------------


def _take_in_after(barrier, path: str, root: str, folders: tuple[str, str, str]) -> None:
    from pathlib import Path

    from pipeline.intake import IntakeContext
    from pipeline.resources import Resources, Workspace

    ctx = IntakeContext.build(Resources(Path(root)), Workspace(*map(Path, folders)))
    barrier.wait(timeout=60)
    take_in(Path(path), ctx)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_two_follow_ups_to_one_dossier_at_once_are_judged_one_after_the_other(
    package, deposit, drop, workspace, resources, round_
):
    """Each follow-up is judged with what the other brought: the dossier ends complete, whatever came first."""
    import multiprocessing

    unsigned, annex, due = package(LOT2, "none")
    signed, _, _ = package(LOT2)
    deposit([("Convention.pdf", unsigned), ("Annexe.xlsx", annex)])
    paths = [drop(zip_of(m), f"suite-{round_}-{i}.zip") for i, m in enumerate(
        [[("EJ.pdf", order_pdf(ENTITY, due))], [("Convention signée.pdf", signed)]]
    )]  # fmt: skip
    for path in paths:
        write_form(path, form_of(ENTITY))
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    folders = tuple(str(f) for f in (workspace.inbox, workspace.outbox, workspace.state))
    takers = [
        spawn.Process(target=_take_in_after, args=(barrier, str(p), str(resources.root), folders))
        for p in paths
    ]
    for taker in takers:
        taker.start()
    for taker in takers:
        taker.join(timeout=120)
    assert [t.exitcode for t in takers] == [0, 0]
    book = DossierBook(workspace.journal)
    [dossier] = book.search(siret=ENTITY.siret)
    assert dossier.status == "complete"
    assert sorted(h.name for h in book.documents(dossier.id)) == [
        "Annexe.xlsx",
        "Convention signée.pdf",
        "EJ.pdf",
    ]


# -- the bulletin d'adhésion ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bulletin(renderer, resources):
    """The signatory's bulletin d'adhésion as it comes back (ticking "autre organisme": 600 €), and an
    order paying the membership."""
    docx = sample.bulletin_docx(renderer, resources, ENTITY.data()["signataire"])

    def _bulletin(signed: bool = True, sector: str = "autre") -> bytes:
        return _bulletin_pdf(docx, signed, sector)

    _bulletin.order = _membership_order
    return _bulletin


@once
def _bulletin_pdf(docx: bytes, signed: bool, sector: str) -> bytes:
    """Laid out and signed (or not) once per session."""
    identity = builders.identity("Maire", ENTITY.name) if signed else None
    return sample.bulletin_pdf(docx, identity, sector=sector)


@once
def _membership_order(amount: str, ej: str = "1300055555") -> bytes:
    """Laid out once per session."""
    return sample.membership_order_of(ENTITY.data()["signataire"], Decimal(amount), ej, builders.RESAH)


def test_a_bulletin_in_the_deposit_has_its_role_and_its_600_euro_order_is_not_taken_for_the_contribution(
    package, deposit, bulletin
):
    conv, annex, due = package(LOT2)
    out = deposit([
        ("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ contribution.pdf", order_pdf(ENTITY, due)),
        ("Bulletin d'adhésion.pdf", bulletin()), ("EJ adhésion.pdf", bulletin.order("600")),
    ])  # fmt: skip
    assert (out.status, states(out)) == ("complete", {LOT2: ("complete", [])})
    roles = {d.name: d.role.value for d in out.dossiers[0].documents}
    assert roles["Bulletin d'adhésion.pdf"] == "bulletin" and roles["EJ adhésion.pdf"] == "purchase_order"


@pytest.mark.parametrize(
    "case, codes",
    [
        ("unsigned", ["convention_unsigned"]),
        ("300 €", ["amount_mismatch"]),
        ("no order", ["purchase_order_missing"]),
    ],
)
def test_a_bulletin_is_checked_and_its_problems_are_its_dossiers(package, deposit, bulletin, case, codes):
    conv, annex, due = package(LOT2)
    extra = {
        "unsigned": [("Bulletin.pdf", bulletin(signed=False)), ("EJ adhésion.pdf", bulletin.order("600"))],
        "300 €": [("Bulletin.pdf", bulletin()), ("EJ adhésion.pdf", bulletin.order("300"))],
        "no order": [("Bulletin.pdf", bulletin())],
    }[case]
    out = deposit(
        [("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", order_pdf(ENTITY, due)), *extra]
    )
    assert states(out) == {LOT2: ("incomplete", codes)}
    assert "adhésion" in out.dossiers[0].problems[0].message


def test_a_bulletin_sent_alone_later_joins_every_dossier_of_its_signatory(package, deposit, bulletin):
    deposit(
        [*members_for(package, [LOT2, AC047]), ("EJ.pdf", order_pdf(ENTITY, Decimal("3500.00"), market=""))]
    )
    later = deposit([("Bulletin.pdf", bulletin()), ("EJ adhésion.pdf", bulletin.order("600"))])
    assert states(later) == {LOT2: ("complete", []), AC047: ("complete", [])}
    assert all("Bulletin.pdf" in [d.name for d in dossier.documents] for dossier in later.dossiers)


def test_a_membership_order_sent_alone_pays_the_bulletin_its_dossier_kept(package, deposit, bulletin):
    conv, annex, due = package(LOT2)
    first = deposit([
        ("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", order_pdf(ENTITY, due)), ("Bulletin.pdf", bulletin()),
    ])  # fmt: skip
    second = deposit([("EJ adhésion.pdf", bulletin.order("600"))])
    assert states(first) == {LOT2: ("incomplete", ["purchase_order_missing"])}
    assert states(second) == {LOT2: ("complete", [])}
    assert [d.name for d in second.dossiers[0].documents if d.role == "purchase_order"] == [
        "EJ.pdf",
        "EJ adhésion.pdf",
    ]


def test_a_bulletin_with_its_order_for_a_signatory_without_a_dossier_is_judged_as_a_bulletin(
    deposit, bulletin
):
    out = deposit([("Bulletin.pdf", bulletin()), ("EJ adhésion.pdf", bulletin.order("600"))])
    assert (out.status, out.codes, out.dossiers) == ("complete", [], ())
    assert [d.role.value for d in out.documents] == ["bulletin", "purchase_order"]


# -- follow-ups go where the evidence says, never by guess ----------------------------------------


def test_one_follow_up_with_an_order_for_each_of_two_open_dossiers_completes_both(package, deposit):
    deposit(members_for(package, [LOT2, AC047]), market=ALL)
    _, _, due2 = package(LOT2)
    _, _, due047 = package(AC047)
    later = deposit(
        [
            ("EJ lot 2.pdf", order_pdf(ENTITY, due2)),
            ("EJ 047.pdf", order_pdf(ENTITY, due047, market=MARKET[AC047])),
        ],
        market=ALL,
    )
    assert states(later) == {LOT2: ("complete", []), AC047: ("complete", [])}


@pytest.mark.parametrize("names", ["nothing", "both"])
def test_one_order_sent_later_for_two_open_dossiers_pays_both(package, deposit, names):
    deposit(members_for(package, [LOT2, AC047]), market=ALL)
    market = "" if names == "nothing" else f"{MARKET[LOT2]} et {MARKET[AC047]}"
    later = deposit([("EJ.pdf", order_pdf(ENTITY, Decimal("3500.00"), market=market))], market=ALL)
    assert states(later) == {LOT2: ("complete", []), AC047: ("complete", [])}


def test_a_new_convention_and_the_order_of_an_open_dossier_each_go_to_their_own(package, deposit):
    conv2, annex2, due2 = package(LOT2)
    deposit([("Convention.pdf", conv2), ("Annexe.xlsx", annex2)])
    conv047, annex047, _ = package(AC047)
    later = deposit(
        [
            ("Convention 047.pdf", conv047),
            ("Annexe 047.xlsx", annex047),
            ("EJ lot 2.pdf", order_pdf(ENTITY, due2)),
        ],
        market=ALL,
    )
    assert states(later) == {LOT2: ("complete", []), AC047: ("incomplete", ["purchase_order_missing"])}


@pytest.mark.parametrize("market", ["2021-045 lot 7", "2022-999", MARKET[AC047]])
def test_an_order_naming_another_accord_cadre_never_replaces_a_dossiers_order(package, deposit, market):
    conv, annex, due = package(LOT2)
    deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", order_pdf(ENTITY, due))])
    stray = deposit([("EJ autre.pdf", order_pdf(ENTITY, due, ej="1300077777", market=market))], market=market)
    assert stray.dossiers == ()


@pytest.mark.parametrize("market", ["2022-999", MARKET[LOT4]])
def test_an_order_naming_an_accord_cadre_that_no_convention_of_the_deposit_is_is_not_placed_by_amount(
    package, deposit, market
):
    _, _, due = package(LOT2)
    out = deposit([*members_for(package, [LOT2, AC047]), ("EJ.pdf", order_pdf(ENTITY, due, market=market))])
    assert states(out)[LOT2] == ("incomplete", ["purchase_order_missing"])


def test_a_follow_up_whose_form_names_another_siret_than_its_order_is_nobodys_follow_up(
    package, deposit, workspace
):
    from tests.builders import make_siret

    conv, annex, due = package(LOT2)
    first = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", order_pdf(ENTITY, due))])
    stranger = deposit(
        [("EJ.pdf", order_pdf(ENTITY, Decimal("12.00"), ej="1300066666"))],
        siret=make_siret(777), email="autre@voisine.example",
    )  # fmt: skip
    dossier = DossierBook(workspace.journal).get(first.dossiers[0].dossier_id)
    assert stranger.dossiers == () and dossier.status == "complete"
    assert dossier.email == "achats@test-sur-mer.example"


def test_the_same_documents_sent_again_to_a_complete_dossier_replace_nothing_and_are_not_sent_again_whole(
    package, deposit, workspace
):
    conv, annex, due = package(LOT2)
    deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)])
    deposit([("EJ.pdf", order_pdf(ENTITY, due))])
    again = deposit(
        [("EJ.pdf", order_pdf(ENTITY, due))], telephone="0321000001"
    )  # another form: not a duplicate
    assert states(again) == {LOT2: ("complete", [])}
    book = DossierBook(workspace.journal)
    assert not [e for e in book.events(again.dossiers[0].dossier_id) if e.kind == "replaced"]
    last = messages(workspace.outbox, "Hauts-de-France@resah.fr")[-1]
    assert [p.get_filename() for p in last.iter_attachments()] == ["depot-3.zip"]


def test_an_accepted_dossier_stays_accepted_when_only_what_was_accepted_remains(package, deposit, workspace):
    from pipeline.dossiers import DossierStatus

    unsigned, annex, due = package(LOT2, "none")
    first = deposit(
        [
            ("Convention scannée.pdf", unsigned),
            ("Annexe.xlsx", annex),
            ("EJ.pdf", order_pdf(ENTITY, Decimal("10"))),
        ]
    )
    book = DossierBook(workspace.journal)
    book.decide(
        first.dossiers[0].dossier_id, DossierStatus.ACCEPTED, "M. Durand", "signature manuscrite vérifiée"
    )
    assert states(first)[LOT2][1] == ["convention_unsigned", "amount_mismatch"]
    later = deposit([("EJ corrigé.pdf", order_pdf(ENTITY, due))])
    assert (later.status, states(later)) == ("complete", {LOT2: ("accepted", ["convention_unsigned"])})


def test_a_persons_decision_waits_for_the_intake_judging_the_dossier(package, deposit, workspace):
    import threading
    import time

    from pipeline.dossiers import DossierStatus, judging

    conv, annex, _ = package(LOT2)
    dossier = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)]).dossiers[0].dossier_id
    book, decided = DossierBook(workspace.journal), threading.Event()

    def accept() -> None:
        book.decide(dossier, DossierStatus.ACCEPTED, "Mme Martin", "bon de commande reçu par courrier")
        decided.set()

    with judging(workspace.state):  # as an intake holds it from reading the dossier to writing it
        taker = threading.Thread(target=accept)
        taker.start()
        time.sleep(0.5)
        assert not decided.is_set()
    taker.join(timeout=10)
    assert decided.is_set() and book.get(dossier).status == "accepted"


def test_a_scanned_convention_opens_the_dossier_its_annex_names_for_a_person_to_accept(
    package, deposit, renderer, resources, workspace
):
    from pipeline.dossiers import DossierStatus
    from tests.builders import scanned_pdf

    _, annex, due = package(LOT2)
    scan = deposit(
        [
            ("Convention signée.pdf", scanned_pdf()),
            ("Annexe.xlsx", annex),
            ("EJ.pdf", order_pdf(ENTITY, Decimal("10"))),
        ]
    )
    assert states(scan) == {LOT2: ("incomplete", ["convention_unknown", "amount_mismatch"])}
    DossierBook(workspace.journal).decide(
        scan.dossiers[0].dossier_id,
        DossierStatus.ACCEPTED,
        "M. Durand",
        "signature manuscrite vérifiée sur le scan",
    )
    later = deposit([("Convention signée.pdf", scanned_pdf()), ("EJ corrigé.pdf", order_pdf(ENTITY, due))])
    assert (later.status, states(later)) == ("complete", {LOT2: ("accepted", ["convention_unknown"])})


def test_a_follow_up_to_a_dossier_whose_kept_files_were_lost_still_goes_to_it_and_asks_for_them(
    package, deposit, workspace
):
    import shutil

    conv, annex, due = package(LOT2)
    first = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)])
    shutil.rmtree(workspace.state / "documents")
    later = deposit([("EJ.pdf", order_pdf(ENTITY, due))])
    assert [d.dossier_id for d in later.dossiers] == [first.dossiers[0].dossier_id]
    assert states(later) == {LOT2: ("incomplete", ["convention_missing", "annex_missing"])}
