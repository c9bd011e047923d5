"""Deposits built like real ones, and the verdict, roles and problems csac gives them."""

from decimal import Decimal

import pytest

from pipeline.intake import take_in
from pipeline.render import Renderer
from tests import builders as b

DUE = Decimal("1000")  # a commune of 60,000 on 2021-045 lot 2


@pytest.fixture
def commune():
    return b.Entity()


@pytest.fixture
def parts(renderer, resources, commune):
    """The three documents of a complete deposit for 2021-045 lot 2."""
    docs = b.rendered(renderer, resources, commune, "2021-045-lot2")
    return {
        "convention": b.convention_pdf(docs["convention"]),
        "annex": docs["annex"],
        "order": b.order_pdf(commune, DUE),
        "docx": docs["convention"],
    }


def deposit(parts, *, drop_names=(), names=None, **replace):
    names = names or {"convention": "Convention signée.pdf", "annex": "Annexe.xlsx", "order": "EJ.pdf"}
    chosen = {k: replace.get(k, parts[k]) for k in ("convention", "annex", "order") if k not in drop_names}
    return b.zip_of([(names[k], v) for k, v in chosen.items()])


def codes(report) -> list[str]:
    return [p.code for p in report.problems]


def roles(report) -> dict:
    return {d.name: d.role for d in report.documents}


def test_a_complete_deposit_is_complete_and_routed(intake_ctx, drop, parts, commune):
    report = take_in(drop(deposit(parts), form=b.form(commune)), intake_ctx)
    assert (report.status, codes(report)) == ("complete", [])
    assert report.variant == "2021-045-lot2" and report.siret == commune.siret
    assert report.mailbox == "Hauts-de-France@resah.fr"
    assert set(roles(report).values()) == {"convention", "annex", "purchase_order"}
    assert report.order_number == "1300012345" and report.amount_paid == Decimal("1000")


def test_roles_come_from_content_not_names(intake_ctx, drop, parts, commune):
    names = {"convention": "scan001.pdf", "annex": "doc.xlsx", "order": "document.pdf"}
    report = take_in(drop(deposit(parts, names=names), form=b.form(commune)), intake_ctx)
    assert roles(report) == {
        "scan001.pdf": "convention",
        "doc.xlsx": "annex",
        "document.pdf": "purchase_order",
    }
    assert report.status == "complete"


def test_misleading_names_do_not_fool_it(intake_ctx, drop, parts, commune):
    names = {"convention": "EJ.pdf", "annex": "convention.xlsx", "order": "annexe.pdf"}
    report = take_in(drop(deposit(parts, names=names), form=b.form(commune)), intake_ctx)
    assert roles(report) == {
        "EJ.pdf": "convention",
        "convention.xlsx": "annex",
        "annexe.pdf": "purchase_order",
    }


def test_word_ligature_damage_is_read_through(intake_ctx, drop, parts, commune):
    from pipeline.archive import Member
    from pipeline.extract import extract

    text = extract(Member("c.pdf", parts["convention"])).text
    assert "Ɵ" not in text and "convention" in text
    assert "Auvergne-Rhone-Alpes@resah.fr" in text  # the letter-spaced mailbox list, rejoined


def test_a_word_docx_convention_is_recognised_but_unsigned(intake_ctx, drop, parts, commune):
    report = take_in(
        drop(
            deposit(
                parts,
                convention=parts["docx"],
                names={"convention": "c.docx", "annex": "a.xlsx", "order": "o.pdf"},
            )
        ),
        intake_ctx,
    )
    assert report.variant == "2021-045-lot2" and codes(report) == ["convention_unsigned"]


@pytest.mark.parametrize("signature", ["none", "empty", "tampered"])
def test_an_unsigned_convention_is_incomplete(intake_ctx, drop, parts, commune, signature):
    unsigned = b.convention_pdf(parts["docx"], signature=signature)
    report = take_in(drop(deposit(parts, convention=unsigned), form=b.form(commune)), intake_ctx)
    assert report.status == "incomplete" and codes(report) == ["convention_unsigned"]
    assert report.mailbox == "Hauts-de-France@resah.fr"  # still routed, with the problem listed


def test_a_logo_does_not_make_an_unsigned_convention_signed(intake_ctx, drop, parts, commune):
    unsigned = b.convention_with_images(parts["docx"], logo=True)
    report = take_in(drop(deposit(parts, convention=unsigned), form=b.form(commune)), intake_ctx)
    assert codes(report) == ["convention_unsigned"]


def test_a_pasted_signature_image_is_unverified_for_a_person_to_check(intake_ctx, drop, parts, commune):
    pasted = b.convention_with_images(parts["docx"], logo=True, signature_image=True)
    report = take_in(drop(deposit(parts, convention=pasted), form=b.form(commune)), intake_ctx)
    assert report.signature.status == "unverified" and report.status == "complete"
    assert "à vérifier" in report.signature.detail


def test_a_scanned_convention_is_unverified_not_unsigned(intake_ctx, drop, parts, commune):
    report = take_in(
        drop(
            deposit(
                parts,
                convention=b.scanned_pdf(),
                names={"convention": "convention scannée.pdf", "annex": "a.xlsx", "order": "o.pdf"},
            ),
            form=b.form(commune),
        ),
        intake_ctx,
    )
    assert roles(report)["convention scannée.pdf"] == "convention"
    assert report.signature.status == "unverified"
    assert "convention_unsigned" not in codes(report) and "convention_unknown" in codes(report)


@pytest.mark.parametrize(
    "missing, code",
    [("convention", "convention_missing"), ("annex", "annex_missing"), ("order", "purchase_order_missing")],
)
def test_a_missing_document_is_named(intake_ctx, drop, parts, commune, missing, code):
    report = take_in(drop(deposit(parts, drop_names=(missing,)), form=b.form(commune)), intake_ctx)
    assert report.status == "incomplete" and code in codes(report)


def test_a_convention_for_an_unknown_accord_cadre_is_convention_unknown(intake_ctx, drop, parts, commune):
    text = [p.replace("2021-045", "2019-012") for p in b.sample.docx_paragraphs(parts["docx"])]
    other = b.signed(b.text_pdf(text))
    report = take_in(drop(deposit(parts, convention=other)), intake_ctx)
    assert roles(report)["Convention signée.pdf"] == "convention"
    assert "convention_unknown" in codes(report) and "2019-012" in report.problems[0].message


def test_a_wrong_siret_check_digit_is_siret_invalid(intake_ctx, drop, parts, commune):
    bad = commune.siret[:-1] + str((int(commune.siret[-1]) + 1) % 10)
    report = take_in(drop(deposit(parts, order=b.order_pdf(commune, DUE, siret=bad))), intake_ctx)
    assert "siret_invalid" in codes(report)


def test_documents_naming_another_siret_are_siret_mismatch(intake_ctx, drop, parts, commune):
    other = b.make_siret(777)
    report = take_in(drop(deposit(parts, order=b.order_pdf(commune, DUE, siret=other))), intake_ctx)
    assert codes(report) == ["siret_mismatch"] and other in report.problems[0].message


def test_a_form_siret_that_differs_is_siret_mismatch(intake_ctx, drop, parts, commune):
    report = take_in(drop(deposit(parts), form=b.form(commune, siret=b.make_siret(778))), intake_ctx)
    assert codes(report) == ["siret_mismatch"]


@pytest.mark.parametrize(
    "market, ok",
    [
        ("2021-045 lot 2", True),
        ("2021-045-002", True),
        ("Marché 2021-045", True),
        ("2021-045 lot 4", False),
        ("2021-063-002", False),
        ("téléphonie", False),
    ],
)
def test_the_forms_numero_de_marche_must_be_the_conventions(intake_ctx, drop, parts, commune, market, ok):
    report = take_in(drop(deposit(parts), form=b.form(commune, market=market)), intake_ctx)
    assert ("contract_mismatch" not in codes(report)) is ok


def test_a_wrong_amount_is_amount_mismatch(intake_ctx, drop, parts, commune):
    report = take_in(drop(deposit(parts, order=b.order_pdf(commune, Decimal("750")))), intake_ctx)
    assert codes(report) == ["amount_mismatch"]
    assert "750,00" in report.problems[0].message and "1\u00a0000,00" in report.problems[0].message


def test_the_amount_due_follows_the_groupement_tier(intake_ctx, drop, renderer, resources, commune):
    data = commune.data("groupement")
    data["beneficiaires"] = [
        dict(data["signataire"], siret=b.spaced(b.make_siret(500 + i))) for i in range(6)
    ]
    variants = [v for v in renderer.variants if v.id == "2021-047-001"]
    only_047 = Renderer.build(resources, variants)
    request = b.parse_request(data, "t", renderer.regions, resources.schema("beneficiary"), variants)
    docs = {d.kind: d.data for d in only_047.package(request, b.dt.date(2024, 3, 1), ("convention", "annex"))}
    good = b.zip_of(
        [
            ("c.pdf", b.convention_pdf(docs["convention"])),
            ("a.xlsx", docs["annex"]),
            ("o.pdf", b.order_pdf(commune, Decimal("3500"), market="2021-047-001")),
        ]
    )
    assert take_in(drop(good, "g.zip"), intake_ctx).status == "complete"
    wrong = b.zip_of(
        [
            ("c.pdf", b.convention_pdf(docs["convention"])),
            ("a.xlsx", docs["annex"]),
            ("o.pdf", b.order_pdf(commune, Decimal("3000"), market="2021-047-001")),
        ]
    )
    assert codes(take_in(drop(wrong, "w.zip"), intake_ctx)) == ["amount_mismatch"]


def test_an_annex_as_pdf_is_an_annex(intake_ctx, drop, parts, commune):
    annex = b.annex_pdf(commune, "Communes à partir de 50.000 habitants pour leurs besoins propres")
    report = take_in(
        drop(
            deposit(
                parts, annex=annex, names={"convention": "c.pdf", "annex": "besoins.pdf", "order": "o.pdf"}
            )
        ),
        intake_ctx,
    )
    assert roles(report)["besoins.pdf"] == "annex" and report.status == "complete"


def test_an_invalid_form_is_form_invalid_and_still_routed(intake_ctx, drop, parts, commune):
    report = take_in(
        drop(deposit(parts), form=b.form(commune, email="pas-une-adresse", reference_commande="x" * 60)),
        intake_ctx,
    )
    assert codes(report) == ["form_invalid"] and "« Email »" in report.problems[0].message
    assert report.mailbox == "Hauts-de-France@resah.fr"


def test_the_ej_may_be_any_free_text_up_to_50_characters(intake_ctx, drop, parts, commune):
    order = b.order_pdf(commune, DUE, ej="BC/2024-00042-ARRAS")
    report = take_in(
        drop(deposit(parts, order=order), form=b.form(commune, reference_commande="BC/2024-00042-ARRAS")),
        intake_ctx,
    )
    assert report.order_number == "BC/2024-00042-ARRAS" and report.status == "complete"


def test_an_explorer_zip_with_subfolders_litter_and_a_nested_zip(intake_ctx, drop, parts, commune):
    inner = b.zip_of([("EJ n°1300012345.pdf", parts["order"])])
    data = b.explorer_zip(
        [
            ("Dépôt Mairie/Convention signée Été.pdf", parts["convention"]),
            ("Dépôt Mairie/Annexe « besoins ».xlsx", parts["annex"]),
            ("Dépôt Mairie/Thumbs.db", b"\0" * 100),
            ("Dépôt Mairie/desktop.ini", b"[.ShellClassInfo]"),
            ("Dépôt Mairie/Pièces jointes.zip", inner),
            ("Dépôt Mairie/Délibération.pdf", b.text_pdf(["Délibération du conseil municipal"])),
        ]
    )
    report = take_in(drop(data, form=b.form(commune)), intake_ctx)
    assert report.status == "complete"
    assert roles(report) == {
        "Dépôt Mairie/Convention signée Été.pdf": "convention",
        "Dépôt Mairie/Annexe « besoins ».xlsx": "annex",
        "Dépôt Mairie/Pièces jointes.zip/EJ n°1300012345.pdf": "purchase_order",
        "Dépôt Mairie/Délibération.pdf": "other",
    }


@pytest.mark.parametrize(
    "data, code",
    [
        (b"%PDF-1.4 not a zip", "archive_corrupt"),
        (b.raw_zip([b.Raw(b"../evil.pdf", b"x")]), "archive_unsafe"),
    ],
)
def test_unreadable_or_unsafe_deposits_are_rejected_and_quarantined(intake_ctx, drop, data, code):
    report = take_in(drop(data), intake_ctx)
    assert report.status == "rejected" and codes(report) == [code]
    assert report.mailbox is None
    folder = intake_ctx.workspace.quarantine / report.deposit_id
    assert (folder / "depot.zip").read_bytes() == data and code in (folder / "reason.txt").read_text()
    assert not any(p.name.endswith("@resah.fr") for p in intake_ctx.workspace.outbox.iterdir())


def test_a_document_that_cannot_be_read_is_set_aside(intake_ctx, drop, parts, commune):
    data = b.zip_of(
        [
            ("c.pdf", parts["convention"]),
            ("a.xlsx", parts["annex"]),
            ("o.pdf", parts["order"]),
            ("cassé.pdf", b"%PDF-1.7\n garbage"),
        ]
    )
    report = take_in(drop(data, form=b.form(commune)), intake_ctx)
    broken = next(d for d in report.documents if d.name == "cassé.pdf")
    assert broken.role == "other" and broken.note.startswith("mis de côté")
    assert report.status == "incomplete" and codes(report) == ["archive_corrupt"]
    assert "« cassé.pdf »" in report.problems[0].message and report.mailbox  # still routed
