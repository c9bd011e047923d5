"""The signed bulletin d'adhésion: its own role, its own fee by sector, its own order, the 31 October rule.

Every bulletin is the one csac renders, laid out as PDF with Word's ligature damage and signed, or
the seed's own text; orders are Chorus-style EJ PDFs; all of them go through a real ZIP, read,
extracted and classified the way intake reads a deposit.
"""

import datetime as dt
import email
import json
import mailbox
from decimal import Decimal
from email import policy

import jsonschema
import pytest

from pipeline import sample
from pipeline.archive import read_archive
from pipeline.bulletin import check_bulletin, read_bulletin
from pipeline.classify import BULLETIN, PURCHASE_ORDER, classify, principal, settle
from pipeline.extract import extract
from pipeline.intake import take_in
from pipeline.tariff import load_membership
from tests import builders as b
from tests.conftest import FIXTURES
from tests.session_builds import once
from tests.test_verdicts import LETTERS

COMMUNE = sample.COMMUNE  # 1 000,00 € due on 2021-045 lot 2
MEDICO = COMMUNE | {"medico_social": True}
SPRING = dt.date(2024, 3, 1)
CONTRIBUTION_EJ, MEMBERSHIP_EJ = "1300012345", "1300099999"


@pytest.fixture(scope="module")
def docx(renderer, resources):
    """The bulletin csac renders, for an "autre organisme" and for a médico-social establishment."""
    return {
        "autre": sample.bulletin_docx(renderer, resources, COMMUNE),
        "medico_social": sample.bulletin_docx(renderer, resources, MEDICO),
    }


@pytest.fixture(scope="module")
def membership(resources):
    return load_membership(resources.membership_file)


@once
def bulletin(docx, sector: str = "autre", signed: bool = True, **filled) -> bytes:
    """The rendered bulletin of `sector`, exported by Word, filled in and signed (or not); "none" and
    "both" tick no box or both on the rendered "autre organisme" bulletin. Once per session."""
    rendered = docx.get(sector, docx["autre"])
    ticked = sector if sector not in docx else None
    return sample.bulletin_pdf(rendered, b.IDENTITY if signed else None, ticked, **filled)


@once
def membership_order(amount: str, ej: str = MEMBERSHIP_EJ) -> bytes:
    return sample.membership_order_of(COMMUNE, Decimal(amount), ej, b.RESAH)


@once
def contribution_order(amount: str = "1000", ej: str = CONTRIBUTION_EJ) -> bytes:
    return sample.order_of(COMMUNE, Decimal(amount), ej, b.RESAH)


def plain_order(amount: str, ej: str = MEMBERSHIP_EJ) -> bytes:
    """An order that names neither the adhésion nor an accord-cadre: only its number and amount."""
    return b.text_pdf(
        [
            "BON DE COMMANDE",
            f"Numéro d'engagement juridique : {ej}",
            f"Acheteur : {COMMUNE['denomination']} — SIRET {COMMUNE['siret']}",
            f"Fournisseur : {b.RESAH.as_supplier}",
            f"Montant total : {amount},00 €",
        ]
    )


def documents(members: list[tuple[str, bytes]], variants) -> list:
    """The deposit's documents as intake classifies them, from a real ZIP."""
    opened = read_archive(b.zip_of(members))
    return settle([classify(extract(m), variants) for m in opened.members])


def role_of(name: str, data: bytes, variants) -> str:
    return {d.doc.name: d.role for d in documents([(name, data)], variants)}[name]


def check(members, variants, membership, catalogue, received: dt.date = SPRING, dues=()):
    docs = documents(members, variants)
    orders = [d for d in docs if d.role == PURCHASE_ORDER]
    return check_bulletin(principal(docs, BULLETIN), orders, received, membership, catalogue, dues)


def codes(checked) -> list[tuple[str, str]]:
    return [f.code for f in checked.findings]


# -- 1. Its role -------------------------------------------------------------------------------


def seed_bulletin() -> bytes:
    """The 2024 bulletin as the Resah sent it to Béthune: the seed's damaged text, no box ticked."""
    lines = (FIXTURES / "seed" / "bulletin-2024.txt").read_text(encoding="utf-8").splitlines()
    return b.text_pdf([line for line in lines if line.strip()])


LAYOUTS = {
    "word_export_signed": lambda docx: bulletin(docx),
    "the_seeds_own_text": lambda docx: seed_bulletin(),
    "the_word_file_itself": lambda docx: docx["autre"],
    "filled_in_with_its_ej_and_amount": lambda docx: bulletin(
        docx, ej=MEMBERSHIP_EJ, code_service="SERV-ACH"
    ),
    "scanned": lambda docx: b.scanned_pdf(),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_bulletin_dadhesion_has_the_role_bulletin_whatever_its_layout(docx, variants, layout):
    name = (
        "Bulletin d'adhésion signé.docx"
        if layout == "the_word_file_itself"
        else "Bulletin d'adhésion signé.pdf"
    )
    assert role_of(name, LAYOUTS[layout](docx), variants) == "bulletin"


BULLETIN_LETTER = [
    "Mairie de Test-sur-Mer", "Service de la commande publique", "1 place de la Mairie", "62000 ARRAS",
    "Arras, le 4 mars 2024", "Objet : bulletin d'adhésion 2024 à la centrale d'achat", "Madame, Monsieur,",
    "Veuillez trouver ci-joint notre bulletin d'adhésion à la centrale d'achat du Resah, catégorie « Autre "
    "organisme », et le bon de commande n° 1300099999 d'un montant de 600,00 € nets de taxe.",
    "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
    "Le Maire, Jean Dupont",
]  # fmt: skip
QUOTING = {
    "courrier": BULLETIN_LETTER,
    "email": LETTERS["email"] + ["PJ : bulletin d'adhésion signé"],
    "short_note": [  # hardly a letter's marks: only what it quotes could make it a bulletin
        "Bulletin d'adhésion 2024 signé et bon de commande de l'adhésion (600,00 €) ci-joints.",
        "Cordialement,",
        "Service des marchés",
    ],
}


@pytest.mark.parametrize("kind", ["pdf", "docx"])
@pytest.mark.parametrize("letter", QUOTING)
def test_a_letter_quoting_the_bulletin_dadhesion_is_not_one(variants, letter, kind):
    paper = b.text_pdf(QUOTING[letter]) if kind == "pdf" else b.text_docx(QUOTING[letter])
    assert role_of(f"Bulletin d'adhésion - courrier.{kind}", paper, variants) == "other"


def test_a_bulletin_is_taken_for_neither_the_convention_nor_the_order_beside_it(
    renderer, resources, docx, variants
):
    convention = b.convention_pdf(b.rendered(renderer, resources, b.Entity(), "2021-045-lot2")["convention"])
    filled = bulletin(docx, ej=MEMBERSHIP_EJ, code_service="SERV-ACH")  # an EJ and an amount on it
    members = [("Bulletin.pdf", filled), ("Convention.pdf", convention), ("EJ.pdf", contribution_order())]
    assert {d.doc.name: d.role for d in documents(members, variants)} == {
        "Bulletin.pdf": "bulletin",
        "Convention.pdf": "convention",
        "EJ.pdf": "purchase_order",
    }


# -- 2. What it says ---------------------------------------------------------------------------


def test_the_bulletins_facts_are_read_from_the_seeds_own_text(variants):
    [doc] = documents([("b.pdf", seed_bulletin())], variants)
    facts = read_bulletin(doc)
    assert (facts.year, facts.siret, facts.sector) == (2024, "20007246000013", "none")
    assert facts.name == "Communauté d’Agglomération de Béthune-Bruay, Artois-Lys Romane"
    assert (facts.order_number, facts.code_service, facts.signature.signed) == (None, None, False)


def test_the_ej_and_code_service_written_on_the_bulletin_are_read(docx, variants):
    [doc] = documents([("b.pdf", bulletin(docx, ej=MEMBERSHIP_EJ, code_service="SERV-ACH"))], variants)
    facts = read_bulletin(doc)
    assert (facts.order_number, facts.code_service, facts.sector) == (MEMBERSHIP_EJ, "SERV-ACH", "autre")
    assert facts.signature.signed


# -- 3. Its checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(("sector", "fee"), [("autre", "600"), ("medico_social", "300")])
def test_a_signed_bulletin_with_its_sectors_order_has_no_problem(
    docx, variants, membership, loaded_intake, sector, fee
):
    members = [("Bulletin.pdf", bulletin(docx, sector)), ("EJ adhésion.pdf", membership_order(fee))]
    checked = check(members, variants, membership, loaded_intake.catalogue)
    assert checked.findings == () and checked.fee.amount == Decimal(fee)
    assert checked.order.doc.name == "EJ adhésion.pdf"


def test_an_unsigned_bulletin_is_asked_for_again_signed(docx, variants, membership, loaded_intake):
    members = [("Bulletin.pdf", bulletin(docx, signed=False)), ("EJ.pdf", membership_order("600"))]
    [finding] = check(members, variants, membership, loaded_intake.catalogue).findings
    assert finding.code == "convention_unsigned"
    assert finding.message.startswith(
        "Le bulletin d'adhésion n'est pas signé (aucune signature). Merci de transmettre"
    )


@pytest.mark.parametrize(
    ("sector", "paid", "told"),
    [
        ("autre", "300", "300,00 € au lieu de 600,00 € (autre organisme, adhésion 2024)"),
        ("medico_social", "600", "600,00 € au lieu de 300,00 € (établissement du secteur médico-social, adhésion 2024)"),
    ],
)  # fmt: skip
def test_the_membership_order_must_be_the_fee_of_the_sector_ticked(
    docx, variants, membership, loaded_intake, sector, paid, told
):
    members = [("Bulletin.pdf", bulletin(docx, sector)), ("EJ.pdf", membership_order(paid))]
    [finding] = check(members, variants, membership, loaded_intake.catalogue).findings
    assert finding.code == "amount_mismatch" and told.replace(" ", "\u00a0") in finding.message.replace(
        " ", "\u00a0"
    )
    assert "Merci de transmettre un bon de commande du montant de l'adhésion" in finding.message


@pytest.mark.parametrize(
    ("ticked", "said"), [("none", "aucune case cochée"), ("both", "les deux cases cochées")]
)
def test_a_bulletin_ticking_no_sector_or_both_is_asked_to_tick_one(
    docx, variants, membership, loaded_intake, ticked, said
):
    members = [("Bulletin.pdf", bulletin(docx, sector=ticked)), ("EJ.pdf", membership_order("600"))]
    checked = check(members, variants, membership, loaded_intake.catalogue)
    [finding] = checked.findings
    assert checked.fee is None and finding.code == "amount_mismatch"
    assert said in finding.message and "en cochant une seule case" in finding.message


@pytest.mark.parametrize("reverse", [False, True])
def test_the_membership_order_is_the_bulletins_and_the_contribution_order_is_left_to_the_contribution(
    docx, variants, membership, loaded_intake, reverse
):
    members = [
        ("EJ 1.pdf", contribution_order()),
        ("EJ 2.pdf", membership_order("600")),
        ("B.pdf", bulletin(docx)),
    ]
    checked = check(members[::-1] if reverse else members, variants, membership, loaded_intake.catalogue)
    assert checked.order.doc.name == "EJ 2.pdf" and checked.findings == ()


def test_an_order_of_the_fee_that_names_nothing_pays_the_membership(
    docx, variants, membership, loaded_intake
):
    members = [
        ("B.pdf", bulletin(docx)),
        ("EJ 1.pdf", contribution_order()),
        ("EJ 2.pdf", plain_order("600")),
    ]
    assert check(members, variants, membership, loaded_intake.catalogue).order.doc.name == "EJ 2.pdf"


def test_an_order_of_the_fee_that_a_contribution_is_due_of_too_is_a_doubt(
    docx, variants, membership, loaded_intake
):
    members = [("B.pdf", bulletin(docx)), ("EJ.pdf", plain_order("600"))]
    checked = check(members, variants, membership, loaded_intake.catalogue, dues=(Decimal("600"),))
    [finding] = checked.findings
    assert checked.order is None and finding.code == "purchase_order_missing"
    assert (
        "n'a pas pu être reconnu avec certitude" in finding.message and "contribution due" in finding.message
    )


def test_a_contribution_order_of_the_fees_amount_is_never_taken_for_the_membership(
    docx, variants, membership, loaded_intake
):
    members = [("B.pdf", bulletin(docx)), ("EJ.pdf", contribution_order("600"))]  # it names its accord-cadre
    checked = check(members, variants, membership, loaded_intake.catalogue)
    [finding] = checked.findings
    assert checked.order is None and finding.code == "purchase_order_missing"
    assert "bon de commande de l'adhésion 2024, d'un montant de 600,00\u00a0€" in finding.message


def test_two_orders_naming_the_adhesion_are_a_doubt_never_a_guess(docx, variants, membership, loaded_intake):
    members = [
        ("B.pdf", bulletin(docx)),
        ("EJ 1.pdf", membership_order("600")),
        ("EJ 2.pdf", membership_order("600", "1300077777")),
    ]
    checked = check(members, variants, membership, loaded_intake.catalogue)
    [finding] = checked.findings
    assert checked.order is None and finding.code == "purchase_order_missing"
    assert "2 bons de commande citent l'adhésion : « EJ 1.pdf », « EJ 2.pdf »" in finding.message


@pytest.mark.parametrize(
    ("received", "asked"),
    [
        (dt.date(2024, 10, 31), "adhésion 2024, d'un montant de 600,00\u00a0€, ou le bulletin"),
        (dt.date(2024, 11, 1), "adhésion 2025, d'un montant de 600,00\u00a0€ (rien n'est dû pour 2024 : "
                               "le bulletin a été reçu après le 31/10/2024)"),
    ],
)  # fmt: skip
def test_after_31_october_nothing_is_due_for_the_year_but_next_years_order_is(
    docx, variants, membership, loaded_intake, received, asked
):
    members = [("B.pdf", bulletin(docx)), ("EJ.pdf", contribution_order())]
    checked = check(members, variants, membership, loaded_intake.catalogue, received)
    [finding] = checked.findings
    assert finding.code == "purchase_order_missing" and asked in finding.message
    assert checked.fee.billed_year == (2025 if received.month == 11 else 2024)


def test_the_ej_written_on_the_bulletin_counts_as_its_order(docx, variants, membership, loaded_intake):
    members = [
        ("B.pdf", bulletin(docx, ej=MEMBERSHIP_EJ, code_service="SERV-ACH")),
        ("EJ.pdf", contribution_order()),
    ]
    checked = check(members, variants, membership, loaded_intake.catalogue)
    assert checked.findings == () and checked.order is None


def test_the_order_bearing_the_ej_written_on_the_bulletin_is_the_membership_order(
    docx, variants, membership, loaded_intake
):
    members = [
        ("B.pdf", bulletin(docx, ej=MEMBERSHIP_EJ)),
        ("EJ 1.pdf", plain_order("600", "1300055555")),
        ("EJ 2.pdf", plain_order("600", MEMBERSHIP_EJ)),
    ]
    assert check(members, variants, membership, loaded_intake.catalogue).order.doc.name == "EJ 2.pdf"


def test_an_adhesion_order_under_another_number_than_the_bulletins_ej_is_a_doubt(
    docx, variants, membership, loaded_intake
):
    members = [("B.pdf", bulletin(docx, ej=MEMBERSHIP_EJ)), ("EJ.pdf", membership_order("600", "1300077777"))]
    checked = check(members, variants, membership, loaded_intake.catalogue)
    [finding] = checked.findings
    assert checked.order is None and finding.code == "purchase_order_missing"
    assert "« 1300099999 »" in finding.message and "« 1300077777 »" in finding.message


# -- 4. Through intake, unchanged --------------------------------------------------------------


def test_a_deposit_with_a_bulletin_is_taken_in_with_the_bulletins_role(
    intake_ctx, drop, renderer, resources, docx
):
    commune = b.Entity()
    rendered = b.rendered(renderer, resources, commune, "2021-045-lot2")
    members = [
        ("Convention signée.pdf", b.convention_pdf(rendered["convention"])),
        ("Annexe.xlsx", rendered["annex"]),
        ("EJ.pdf", b.order_pdf(commune, Decimal("1000"))),
        ("Bulletin d'adhésion.pdf", bulletin(docx, ej=MEMBERSHIP_EJ)),
    ]
    report = take_in(drop(b.zip_of(members), form=b.form(commune)), intake_ctx)
    assert report.status == "complete" and report.documents[-1].role == "bulletin"
    jsonschema.validate(report.to_json(), json.loads(resources.schema("intake-report").read_text()))
    [region] = mailbox.Maildir(intake_ctx.workspace.outbox / "Hauts-de-France@resah.fr", create=False)
    text = (
        email.message_from_bytes(region.as_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    )
    assert "Bulletin d'adhésion.pdf » : bulletin d'adhésion" in text
