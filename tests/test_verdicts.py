"""Verdicts that do not lie: the order's own amount, a groupement's due, the role of each document.

Every deposit is built like a real one: a rendered convention laid out as PDF
and signed, a real XLSX annex or a groupement's own spreadsheet, purchase
orders laid out as PDF or Word the way buyers' tools print them, cover
letters, bordereaux, délibérations and e-mail printouts.
"""

import email
import mailbox
import re
from decimal import Decimal
from email import policy

import pytest

from pipeline import register
from pipeline.archive import Member
from pipeline.classify import classify, settle
from pipeline.extract import extract
from pipeline.facts import gather
from pipeline.intake import take_in
from tests import builders as b
from tests.conftest import FIXTURES
from tests.test_realistic import BETHUNE, seed_convention

DUE = Decimal("1000")  # a commune of 60,000 on 2021-045 lot 2
FIGURE_RE = re.compile(r"\d[\d \u00a0\u202f.]*(?:,\d\d)?\s*(?:€|eur)", re.I)


def codes(report) -> list[str]:
    return [p.code for p in report.problems]


def roles(report) -> dict:
    return {d.name: d.role for d in report.documents}


def messages(folder) -> list:
    return [
        email.message_from_bytes(m.as_bytes(), policy=policy.default)
        for m in mailbox.Maildir(folder, create=False)
    ]


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


@pytest.fixture(scope="module")
def commune():
    return b.Entity()


@pytest.fixture(scope="module")
def signed(renderer, resources, commune):
    """The signed convention and the rendered annex of a commune on 2021-045 lot 2, built once."""
    docs = b.rendered(renderer, resources, commune, "2021-045-lot2")
    return {"convention": b.convention_pdf(docs["convention"]), "annex": docs["annex"]}


def deposit(signed, order: bytes | None, *others: tuple[str, bytes], annex: bool = True) -> bytes:
    members = [("Convention signée.pdf", signed["convention"])]
    members += [("Annexe.xlsx", signed["annex"])] if annex else []
    members += [("EJ.pdf", order)] if order is not None else []
    return b.zip_of(members + list(others))


def read(name: str, data: bytes, variants):
    return classify(extract(Member(name, data)), variants)


# -- 2. The order's own amount ----------------------------------------------------------------


def _head() -> list[str]:
    return [
        "ENGAGEMENT JURIDIQUE — BON DE COMMANDE",
        "Numéro d'engagement juridique : 1300012345",
        "Acheteur : Commune de Test-sur-Mer — SIRET 200 042 422 00010",
        "Fournisseur : GIP RESAH, 47 rue de Charonne 75011 Paris",
    ]


def chorus_ej(own: str, extra: list[str]) -> bytes:
    """A Chorus EJ: header, the order's lines, then what the buyer's tool adds."""
    lines = _head() + ["Montant HT : " + own, "TVA : non applicable", "Montant total : " + own]
    return b.text_pdf(lines + extra)


def mairie_table(own: str, extra: list[str]) -> bytes:
    """A mairie's bon de commande: line items in a real table, then HT / TVA / TTC."""
    return b.table_pdf(
        ["MAIRIE DE TEST-SUR-MER", "BON DE COMMANDE N° 2024-042", "SIRET : 200 042 422 00010"],
        [
            ("Désignation", "Quantité", "Prix unitaire", "Montant HT"),
            ("Contribution annuelle CSAC 2024", "1", own, own),
            ("Total HT", "", "", own),
            ("TVA (non applicable)", "", "", "0,00 €"),
            ("Total TTC", "", "", own),
        ],
        extra,
    )


def split_cells(own: str, extra: list[str]) -> bytes:
    """Labels and values in separate columns: the PDF gives the labels, then the values, line by line."""
    items = [(10, 20, "BON DE COMMANDE N° 2024-042"), (10, 28, "SIRET : 200 042 422 00010")]
    items += [(10, 40, "Total HT"), (10, 46, "TVA"), (10, 52, "Total TTC")]
    items += [(150, 40, own), (150, 46, "0,00 €"), (150, 52, own)]
    items += [(10, 70 + 6 * i, line) for i, line in enumerate(extra)]
    return b.positioned_pdf(items)


def word_order(own: str, extra: list[str]) -> bytes:
    """A bon de commande typed in Word: the total on the line under its label."""
    lines = ["Bon de commande n° BC-2024-17", "SIRET : 200 042 422 00010", "Net à payer :", own]
    return b.text_docx(lines + extra)


def chorus_lines(own: str, extra: list[str]) -> bytes:
    """A Chorus Pro printout: a table of order lines, then HT, TVA and TTC totals in EUR."""
    value = own.replace(" €", "")
    return b.table_pdf(
        ["BON DE COMMANDE", "N° de bon de commande : 1300012345", "Date de création : 01/03/2024"],
        [
            ("Poste", "Désignation", "Quantité", "Prix unitaire HT", "Montant HT", "Taux TVA", "Montant TTC"),
            ("10", "Contribution CSAC", "1,000", value, value, "0,00 %", value),
        ],
        [
            f"Montant total HT : {value} EUR",
            "Montant total TVA : 0,00 EUR",
            f"Montant total TTC : {value} EUR",
        ]
        + extra,
    )


def marks_on_one_line(own: str, extra: list[str]) -> bytes:
    """HT and TTC marks after the figures, on one line."""
    lines = _head() + [f"Montant total : {own} HT / {own} TTC"]
    return b.text_docx(lines + extra)


LAYOUTS = {
    "ej_chorus": chorus_ej,
    "chorus_lines": chorus_lines,
    "mairie_table": mairie_table,
    "split_cells": split_cells,
    "word": word_order,
    "marks_on_one_line": marks_on_one_line,
}
OTHER_AMOUNTS = {  # what else an order prints, that is not its own amount ({big}: that amount)
    "market_total": ["Montant total du marché : {big}"],
    "cumulative": ["Cumul des engagements sur l'exercice : {big}"],
    "ceiling": ["Montant maximum de l'accord-cadre :", "{big}"],
    "budget": ["Budget annuel prévisionnel : {big}", "Reste à engager : 4 000,00 EUR"],
    "capital": ["GIP RESAH — établissement au capital de {big}"],
    "engaged_to_date": ["Montant total engagé à ce jour : {big}"],
    "all_orders": ["Total des commandes de l'année : {big}"],
}


def other_amounts(other: str, big: str = "12 500,00 €") -> list[str]:
    return [line.format(big=big) for line in OTHER_AMOUNTS[other]]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("other", OTHER_AMOUNTS)
def test_an_orders_own_total_is_read_beside_other_amounts(intake_ctx, drop, signed, commune, layout, other):
    order = LAYOUTS[layout]("1 000,00 €", other_amounts(other))
    report = take_in(drop(deposit(signed, order), f"{layout}-{other}.zip", b.form(commune)), intake_ctx)
    assert (report.status, report.amount_paid) == ("complete", Decimal("1000")), report.problems


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("other", ["market_total", "cumulative", "ceiling", "budget"])
def test_an_order_of_ten_euros_is_not_saved_by_the_amount_due_printed_beside_it(
    intake_ctx, drop, signed, commune, layout, other
):
    order = LAYOUTS[layout]("10,00 €", other_amounts(other, big="1 000,00 €"))
    report = take_in(drop(deposit(signed, order), f"{layout}-{other}.zip", b.form(commune)), intake_ctx)
    assert codes(report) == ["amount_mismatch"]
    assert "10,00\u00a0€ au lieu de 1\u00a0000,00\u00a0€" in report.problems[0].message


AMOUNT_FORMATS = {
    "spaces": "Montant total TTC : 1 000,00 €",
    "dots_eur": "Montant total TTC : 1.000,00 EUR",
    "no_cents": "Montant total TTC : 1000 €",
    "euros": "Montant total TTC : 1 000 euros",
    "nbsp": "Montant total TTC : 1\u00a0000,00\u00a0€",
    "nnbsp": "Montant total TTC : 1\u202f000,00\u202f€",
    "currency_first": "Montant total TTC : € 1 000,00",
    "eur_first": "Montant total TTC : EUR 1000,00",
    "next_line": "Montant total TTC\n1 000,00 €",
    "english": "Total TTC : 1,000.00 EUR",
}


@pytest.mark.parametrize("kind", ["pdf", "docx"])
@pytest.mark.parametrize("fmt", AMOUNT_FORMATS)
def test_every_way_of_writing_an_amount_is_read(variants, kind, fmt):
    lines = ["BON DE COMMANDE N° 2024-042", "Prix unitaire : 990,00 €", *AMOUNT_FORMATS[fmt].split("\n")]
    data = b.text_pdf(lines) if kind == "pdf" else b.text_docx(lines)
    facts = gather([read(f"o.{kind}", data, variants)], b.RESAH)
    assert (facts.amount_paid, facts.amount_doubt) == (Decimal("1000.00"), None)


AMBIGUOUS = {
    "two_totals": ["Total TTC : 10,00 €", "Total TTC : 1 000,00 €"],
    "unlabelled_amounts": ["Contribution 2024 : 500,00 €", "Frais de gestion : 1 000,00 €"],
    "unreadable_total": ["Montant HT : 1 000,00 €", "Montant total TTC : 1 OOO,OO €"],
    "no_amount": ["Montant : voir annexe financière"],
    "own_labels_disagree": [
        "Montant de la commande : 10,00 €",
        "Montant de la présente commande : 1 000,00 €",
    ],
    "negative_total": ["Total TTC : -1 000,00 €"],  # a refund, not a payment
    "swiss_francs": ["Total TTC : 1'000.00 CHF"],  # a foreign currency is not euros
    "dollars": ["Montant total : 1 000,00 USD"],
}


@pytest.mark.parametrize("case", AMBIGUOUS)
def test_an_unclear_order_is_said_unclear_and_no_figure_is_guessed(intake_ctx, drop, signed, commune, case):
    order = b.text_pdf(_head() + AMBIGUOUS[case])
    report = take_in(drop(deposit(signed, order), f"{case}.zip", b.form(commune)), intake_ctx)
    assert codes(report) == ["amount_mismatch"] and report.amount_paid is None
    message = report.problems[0].message
    assert "illisible ou ambigu" in message and "au lieu de" not in message


# -- 3. A groupement's due ---------------------------------------------------------------------

TIERS = {2: Decimal("3000"), 5: Decimal("3500"), 12: Decimal("4000")}  # 2021-047-001


class _Built(dict):
    """A dict whose entries are built on first use."""

    def __init__(self, build):
        super().__init__()
        self.build = build

    def __missing__(self, key):
        self[key] = self.build(key)
        return self[key]


@pytest.fixture(scope="module")
def groupements(resources, variants):
    """Rendered conventions (and csac annexes) of groupements of 2, 5 and 12 members, each built once, when used."""

    def build(count: int) -> dict:
        members = b.members_of(count)
        docs = b.groupement_rendered(resources, variants, members)
        return {
            "members": members,
            "convention": b.convention_pdf(docs["convention"]),
            "annex": docs["annex"],
        }

    return _Built(build)


def groupement_deposit(
    convention: bytes, annex: bytes, order: bytes | None, annex_name="Membres.xlsx"
) -> bytes:
    members = [("Convention.pdf", convention), (annex_name, annex)]
    return b.zip_of(members + ([("BC.pdf", order)] if order is not None else []))


def tier_label(count: int) -> str:
    return {2: "Groupement de 2 à 4 bénéficiaires", 5: "Groupement de 5 à 9 bénéficiaires"}.get(
        count, "Groupement de 10 à 19 bénéficiaires"
    )


@pytest.mark.parametrize("count", TIERS)
@pytest.mark.parametrize("total_row", [False, True])
def test_a_groupements_due_is_its_tier_by_number_of_members_without_the_register(
    intake_ctx, drop, groupements, count, total_row
):
    g = groupements[count]
    sheet = b.groupement_xlsx(g["members"], total=tier_label(count) if total_row else None)
    order = b.order_pdf(g["members"][0], TIERS[count], market="2021-047-001")
    report = take_in(drop(groupement_deposit(g["convention"], sheet, order), f"g{count}.zip"), intake_ctx)
    assert (report.status, codes(report)) == ("complete", []), report.problems
    assert report.contribution.amount == TIERS[count]


def test_a_groupement_of_five_is_not_asked_the_sum_of_its_members_rows(intake_ctx, drop, groupements):
    """The issue's case: five members, its own spreadsheet, no csac Total row; 8 500 € was asked."""
    g = groupements[5]
    order = b.order_pdf(g["members"][0], Decimal("8500"), market="2021-047-001")
    report = take_in(
        drop(groupement_deposit(g["convention"], b.groupement_xlsx(g["members"]), order)), intake_ctx
    )
    assert codes(report) == ["amount_mismatch"]
    assert "8\u00a0500,00\u00a0€ au lieu de 3\u00a0500,00\u00a0€" in report.problems[0].message


@pytest.mark.parametrize("signal", ["annex_rows", "form_message", "convention", "csac_annex"])
def test_a_groupement_shown_by_one_document_is_charged_its_tier(intake_ctx, drop, groupements, signal):
    """Each sign alone is enough: the spreadsheet's roles, the form's message, csac's own convention
    ("Contribution annuelle due … (Groupement de 5 à 9 bénéficiaires)"), csac's annex (Mode, Total)."""
    g = groupements[5]
    if signal == "convention":
        members, convention = g["members"], g["convention"]
    else:  # the seed's convention: no box ticked, no figure printed
        members, convention = [BETHUNE] + b.members_of(5)[1:], seed_convention("2021-047-001")
    sheet = g["annex"] if signal == "csac_annex" else b.groupement_xlsx(members, roles=signal == "annex_rows")
    order = b.order_pdf(members[0], TIERS[5], market="2021-047-001")
    said = {"message": "Groupement de commandes de cinq membres, coordonné par l'agglomération."}
    form = b.form(members[0], market="2021-047-001", **(said if signal == "form_message" else {}))
    report = take_in(drop(groupement_deposit(convention, sheet, order), f"{signal}.zip", form), intake_ctx)
    assert report.contribution.amount == Decimal("3500") and "amount_mismatch" not in codes(report)


def test_the_register_stays_the_first_source_of_the_due(intake_ctx, drop, groupements, resources, variants):
    g = groupements[5]
    request = b.groupement_rendered(resources, variants, g["members"])["request"]
    register.record(intake_ctx.workspace.register, request, [variants["2021-047-001"]])
    twelve = g["members"] + b.members_of(12, start=700)[5:]  # the spreadsheet lists 12: the register says 5
    order = b.order_pdf(g["members"][0], TIERS[5], market="2021-047-001")
    report = take_in(drop(groupement_deposit(g["convention"], b.groupement_xlsx(twelve), order)), intake_ctx)
    assert report.contribution.amount == Decimal("3500") and codes(report) == []


UNSURE = {  # csac cannot be sure of the amount due: (convention, annex, annex name, why in the regional message)
    "members_uncountable": ("g5", "scan", "Annexe membres.pdf", "non dénombrables"),
    "mixed_signals": ("own_account", "sheet5", "Membres.xlsx", "contradictoires"),
    "count_disagrees_with_convention": ("g5", "sheet12", "Membres.xlsx", "mais la convention indique"),
    "mandat_or_groupement": ("behalf", "sheet5_unmarked", "Membres.xlsx", "mandat ou groupement"),
    "typology_unreadable": ("seed", "syndicat", "Membres.xlsx", "typologie illisible"),
}


def seed_with_box(ticked: str) -> bytes:
    """The seed's 2021-047-001 convention with its mode boxes ticked by hand, as a clerk fills the Word file."""
    lines = (FIXTURES / "seed" / "2021-047-001.txt").read_text(encoding="utf-8").splitlines()
    boxed = [
        ("☒ " if ticked == "own" else "☐ ") + line if line.startswith("Lorsqu’il agit pour son propre compte")
        else ("☒ " if ticked == "behalf" else "☐ ") + line if line.startswith("Le signataire agit pour le compte")
        else line
        for line in lines
    ]  # fmt: skip
    return b.signed(b.text_pdf([line for line in boxed if line.strip()]))


def unsure_parts(case, groupements, renderer, resources):
    conv, annex, name, why = UNSURE[case]
    five, twelve = groupements[5]["members"], b.members_of(12, start=800)
    conventions = {
        "g5": lambda: groupements[5]["convention"],
        "behalf": lambda: seed_with_box("behalf"),
        "seed": lambda: seed_convention("2021-047-001"),
        "own_account": lambda: b.convention_pdf(
            b.rendered(renderer, resources, five[0], "2021-047-001")["convention"]
        ),
    }
    annexes = {
        "scan": b.scanned_pdf,
        "sheet5": lambda: b.groupement_xlsx(five),
        "sheet12": lambda: b.groupement_xlsx(twelve),
        "sheet5_unmarked": lambda: b.groupement_xlsx(five, roles=False),
        "syndicat": lambda: b.groupement_xlsx(
            [b.Entity("Syndicat mixte du Test", typology="Syndicat mixte")], roles=False
        ),
    }
    return conventions[conv](), annexes[annex](), name, why


@pytest.mark.parametrize("case", UNSURE)
def test_when_csac_is_not_sure_of_the_due_the_depositor_gets_no_figure(
    intake_ctx, drop, groupements, renderer, resources, case
):
    convention, annex, name, why = unsure_parts(case, groupements, renderer, resources)
    form = b.form(groupements[5]["members"][0], market="2021-047-001", message="Groupement de commandes")
    if case in ("mandat_or_groupement", "typology_unreadable"):
        form.pop("message")
    report = take_in(drop(groupement_deposit(convention, annex, None, name), form=form), intake_ctx)
    assert "purchase_order_missing" in codes(report)
    [notice] = messages(intake_ctx.workspace.outbox / "depositors")
    assert not FIGURE_RE.search(body(notice)), body(notice)
    [region] = messages(intake_ctx.workspace.outbox / report.mailbox)
    assert "montant à vérifier par l'équipe régionale" in body(region) and why in body(region)


@pytest.mark.parametrize("case", ["members_uncountable", "mixed_signals", "count_disagrees_with_convention"])
def test_when_csac_is_not_sure_of_the_due_no_order_amount_is_refused(
    intake_ctx, drop, groupements, renderer, resources, case
):
    convention, annex, name, _ = unsure_parts(case, groupements, renderer, resources)
    order = b.order_pdf(groupements[5]["members"][0], Decimal("3500"), market="2021-047-001")
    form = b.form(groupements[5]["members"][0], market="2021-047-001", message="Groupement de commandes")
    report = take_in(drop(groupement_deposit(convention, annex, order, name), form=form), intake_ctx)
    assert "amount_mismatch" not in codes(report) and report.contribution.to_check
    [notice] = messages(intake_ctx.workspace.outbox / "depositors")
    assert not FIGURE_RE.search(body(notice)), body(notice)


# -- 4. Roles by weight of evidence ------------------------------------------------------------

LETTERS = {
    "courrier": [
        "Mairie de Test-sur-Mer", "Service de la commande publique", "1 place de la Mairie", "62000 ARRAS",
        "Arras, le 4 mars 2024", "Objet : transmission de notre convention de service d'achat centralisé",
        "Madame, Monsieur,",
        "Veuillez trouver ci-joint la convention, l'annexe « Vos besoins » et le bon de commande n° 1300012345 "
        "d'un montant de 1 000,00 €, établis pour notre commune (SIRET 200 042 422 00010).",
        "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
        "Le Maire, Jean Dupont",
    ],
    "bordereau": [
        "BORDEREAU D'ENVOI", "Expéditeur : Mairie de Test-sur-Mer", "Destinataire : Resah — Hauts-de-France",
        "Désignation des pièces Nombre", "Convention de service d'achat centralisé signée 1",
        "Annexe « Vos besoins » (montant contractuel maximum) 1", "Bon de commande n° 1300012345 — 1 000,00 € 1",
    ],
    "deliberation": [
        "EXTRAIT DU REGISTRE DES DÉLIBÉRATIONS DU CONSEIL MUNICIPAL", "Séance du 12 février 2024",
        "Objet : recours à la centrale d'achat du Resah",
        "Vu la convention de service d'achat centralisé proposée par le Resah, entre d'une part la commune et d'autre part le Resah,",
        "Le conseil municipal, après en avoir délibéré, autorise le Maire à signer la convention, son annexe "
        "« Vos besoins » et le bon de commande de 1 000,00 €.",
    ],
    "email": [
        "De : Jean Dupont <achats@test-sur-mer.example>", "Envoyé : lundi 4 mars 2024 10:12",
        "À : Hauts-de-France@resah.fr", "Objet : Convention CSAC — pièces jointes", "Bonjour,",
        "Vous trouverez ci-joint la convention signée, l'annexe vos besoins et l'EJ n° 1300012345 (montant : 1 000,00 €).",
        "Cordialement,", "Jean Dupont",
    ],
    "short_note": [
        "Bonjour, veuillez trouver ci-joint la convention, l'annexe et le bon de commande pour la contribution 2024.",
        "Cordialement,", "Service des marchés",
    ],
    "council_decision": [
        "DÉPARTEMENT DU PAS-DE-CALAIS", "COMMUNAUTÉ DE COMMUNES DU TEST", "DÉLIBÉRATION N° 2024-015",
        "Le conseil communautaire, après avoir délibéré, approuve la convention de service d'achat centralisé "
        "du Resah et son annexe « Vos besoins », et autorise le Président à signer l'engagement juridique n° 1300012345.",
    ],
    "letter_about_the_annex": [
        "Communauté de communes du Test", "Objet : annexe « Vos besoins »", "Madame, Monsieur,",
        "Nous vous adressons l'annexe « Vos besoins » : le SIRET et le montant contractuel maximum de chaque bénéficiaire y figurent.",
        "SIRET : 200 042 422 00010", "Bien à vous,",
    ],
}  # fmt: skip


@pytest.mark.parametrize("kind", ["pdf", "docx"])
@pytest.mark.parametrize("letter", LETTERS)
def test_a_cover_letter_is_never_taken_for_a_deposit_document(
    intake_ctx, drop, signed, commune, letter, kind
):
    paper = b.text_pdf(LETTERS[letter]) if kind == "pdf" else b.text_docx(LETTERS[letter])
    name = f"Courrier.{kind}"
    report = take_in(
        drop(deposit(signed, None, (name, paper), annex=False), f"{letter}-{kind}.zip"), intake_ctx
    )
    assert roles(report)[name] == "other"
    assert {"annex_missing", "purchase_order_missing"} <= set(codes(report))


@pytest.mark.parametrize("letter", ["courrier", "email"])
def test_a_real_order_keeps_its_role_beside_a_letter_quoting_its_number(
    intake_ctx, drop, signed, commune, letter
):
    paper = ("Lettre.pdf", b.text_pdf(LETTERS[letter]))
    report = take_in(drop(deposit(signed, b.order_pdf(commune, DUE), paper), f"{letter}.zip"), intake_ctx)
    assert roles(report)["EJ.pdf"] == "purchase_order" and roles(report)["Lettre.pdf"] == "other"
    assert report.status == "complete"


NOTES = {
    "guide": [
        "Guide de remplissage",
        "Complétez l'onglet « Vos besoins » de l'annexe : renseignez le SIRET et le montant contractuel maximum "
        "de chaque bénéficiaire, puis joignez l'annexe à la convention.",
    ],
    "acknowledgement": [
        "Vos besoins ont bien été pris en compte par nos services et seront transmis au Resah avec la convention.",
        "Le service des marchés",
    ],
}


@pytest.mark.parametrize("kind", ["pdf", "docx"])
@pytest.mark.parametrize("note", NOTES)
def test_of_two_annexes_the_real_table_wins_over_a_document_mentioning_vos_besoins(
    intake_ctx, drop, signed, commune, note, kind
):
    paper = b.text_pdf(NOTES[note]) if kind == "pdf" else b.text_docx(NOTES[note])
    name = f"Vos besoins - {note}.{kind}"
    report = take_in(
        drop(deposit(signed, b.order_pdf(commune, DUE), (name, paper)), f"{note}-{kind}.zip"), intake_ctx
    )
    assert roles(report)[name] == "other" and roles(report)["Annexe.xlsx"] == "annex"
    assert report.status == "complete"


def test_two_real_annexes_both_keep_their_role(variants, signed, commune):
    docs = [
        read("Annexe.xlsx", signed["annex"], variants),
        read("Annexe.pdf", b.annex_pdf(commune, "Communes à partir de 50.000 habitants"), variants),
    ]
    assert [d.role for d in settle(docs)] == ["annex", "annex"]


def test_two_real_conventions_of_different_variants_both_keep_their_role(
    renderer, resources, variants, commune
):
    other = b.convention_pdf(b.rendered(renderer, resources, commune, "2021-063-002")["convention"])
    docs = [
        read(
            "lot2.pdf",
            b.convention_pdf(b.rendered(renderer, resources, commune, "2021-045-lot2")["convention"]),
            variants,
        )
    ]
    docs.append(read("063.pdf", other, variants))
    assert [(d.role, d.variant) for d in settle(docs)] == [
        ("convention", "2021-045-lot2"),
        ("convention", "2021-063-002"),
    ]


# -- 2 (continued). One label per column; the order's own label first --------------------------

ORDER_HEAD = ["MAIRIE DE TEST-SUR-MER", "BON DE COMMANDE N° 2024-042", "SIRET : 200 042 422 00010"]
TOTALS_HEADERS = {  # a totals table: its header row, the figures on the row below
    "total_ht_tva_ttc": ("Total HT", "Total TVA", "Total TTC"),
    "montant_ht_tva_montant_ttc": ("Montant HT", "TVA", "Montant TTC"),
    "tva_total_ttc": ("TVA", "Total TTC"),
    "base_taux_montant_tva_total_ttc": ("Base HT", "Taux TVA", "Montant TVA", "Total TTC"),
}
TABLE_LAYOUTS = ("pdf", "docx", "xlsx", "xlsx_numbers")
SUFFIX = {"pdf": "pdf", "docx": "docx", "xlsx": "xlsx", "xlsx_numbers": "xlsx"}


def totals_order(layout: str, header: tuple[str, ...], ht: str, vat: str, ttc: str) -> bytes:
    """A bon de commande: a line-items table, then its totals in a table of their own."""

    def figure(column: str) -> str:
        if "Taux" in column:
            return "20 %" if vat != "0,00 €" else "0 %"
        return ttc if "TTC" in column else vat if "TVA" in column else ht

    items = [
        ("Désignation", "Quantité", "Prix unitaire HT", "Montant HT"),
        ("Contribution CSAC 2024", "1", ht, ht),
    ]
    totals = [header, tuple(figure(column) for column in header)]
    return b.tables_order(layout, ORDER_HEAD, [items, totals])


@pytest.mark.parametrize("layout", TABLE_LAYOUTS)
@pytest.mark.parametrize("header", TOTALS_HEADERS)
def test_a_vat_column_is_never_read_as_the_orders_total(intake_ctx, drop, signed, commune, layout, header):
    order = totals_order(layout, TOTALS_HEADERS[header], "1 000,00 €", "0,00 €", "1 000,00 €")
    name = f"BC.{SUFFIX[layout]}"
    report = take_in(
        drop(deposit(signed, None, (name, order)), f"{layout}-{header}.zip", b.form(commune)), intake_ctx
    )
    assert (report.status, report.amount_paid) == ("complete", Decimal("1000")), report.problems


@pytest.mark.parametrize("layout", TABLE_LAYOUTS)
@pytest.mark.parametrize("header", ["total_ht_tva_ttc", "base_taux_montant_tva_total_ttc"])
def test_an_order_whose_vat_equals_the_due_is_read_at_its_total(
    intake_ctx, drop, signed, commune, layout, header
):
    """HT 5 000, VAT 1 000, TTC 6 000: the VAT column holds the amount due, the order does not."""
    order = totals_order(layout, TOTALS_HEADERS[header], "5 000,00 €", "1 000,00 €", "6 000,00 €")
    name = f"BC.{SUFFIX[layout]}"
    report = take_in(
        drop(deposit(signed, None, (name, order)), f"{layout}-{header}.zip", b.form(commune)), intake_ctx
    )
    assert codes(report) == ["amount_mismatch"]
    assert "6\u00a0000,00\u00a0€ au lieu de 1\u00a0000,00\u00a0€" in report.problems[0].message


CURRENCY_HEADERS = ["Montant TTC (en euros)", "Total TTC (EUR)", "Total TTC (€)", "Net à payer en euros"]


@pytest.mark.parametrize("place", ["next_line", "next_column"])
@pytest.mark.parametrize("header", CURRENCY_HEADERS)
def test_an_amount_header_naming_its_currency_is_read_with_the_value_below(
    intake_ctx, drop, signed, commune, header, place
):
    if place == "next_line":
        order = b.text_pdf([*ORDER_HEAD, header, "1 000,00"])
    else:
        order = b.table_pdf(
            ORDER_HEAD, [("Désignation", header), ("Contribution annuelle CSAC 2024", "1 000,00")]
        )
    report = take_in(drop(deposit(signed, order), f"{place}.zip", b.form(commune)), intake_ctx)
    assert (report.status, report.amount_paid) == ("complete", Decimal("1000")), report.problems


NOT_THE_ORDERS = [  # totals an order prints that are not its own
    "Total engagé sur l'exercice 2024", "Total exercice 2024", "Total facturé", "Total mandaté", "Total AC",
    "Total du contrat", "Total de la convention", "Total convention", "Montant total TTC de la convention",
    "Total programmé", "Total pluriannuel", "Total des EJ", "Total de l'opération", "Coût total du projet",
    "Total TTC (contrat)", "Total des bons de commande 2024", "Total commande 2024",
    "Total TTC",  # no owner named: the order's own label still wins
]  # fmt: skip


def labelled_order(own_label: str, own: str, other: str, big: str) -> bytes:
    return b.text_pdf([*_head(), f"{own_label} : {own}", f"{other} : {big}"])


@pytest.mark.parametrize("other", NOT_THE_ORDERS)
def test_an_order_of_ten_euros_is_not_saved_by_a_total_that_is_not_its_own(
    intake_ctx, drop, signed, commune, other
):
    order = labelled_order("Montant de la commande", "10,00 €", other, "1 000,00 €")
    report = take_in(drop(deposit(signed, order), "o.zip", b.form(commune)), intake_ctx)
    assert codes(report) == ["amount_mismatch"]
    assert "10,00\u00a0€ au lieu de 1\u00a0000,00\u00a0€" in report.problems[0].message


@pytest.mark.parametrize("other", NOT_THE_ORDERS)
def test_a_correct_order_is_not_refused_for_a_total_that_is_not_its_own(
    intake_ctx, drop, signed, commune, other
):
    order = labelled_order("Montant de la commande", "1 000,00 €", other, "12 500,00 €")
    report = take_in(drop(deposit(signed, order), "o.zip", b.form(commune)), intake_ctx)
    assert (report.status, report.amount_paid) == ("complete", Decimal("1000")), report.problems


OWN_LABELS = [
    "Montant de la commande", "Montant de la présente commande", "Montant TTC du bon de commande",
    "Montant de l'engagement juridique", "Montant de l'EJ", "Total du présent bon", "Net à payer",
]  # fmt: skip


@pytest.mark.parametrize("other", ["Total TTC", "Total commande 2024", "Total des bons de commande"])
@pytest.mark.parametrize("own_label", OWN_LABELS)
def test_a_label_naming_the_order_as_owner_wins_over_an_ownerless_or_foreign_total(
    variants, own_label, other
):
    data = labelled_order(own_label, "10,00 €", other, "1 000,00 €")
    facts = gather([read("EJ.pdf", data, variants)], b.RESAH)
    assert (facts.amount_paid, facts.amount_doubt) == (Decimal("10.00"), None)


# -- 4 (continued). A seller's paper is not the buyer's order -----------------------------------

SELLERS_PAPERS = {
    "devis_resah": [
        "GIP RESAH", "47 rue de Charonne 75011 Paris", "DEVIS N° D-2024-017", "Client : Commune de Test-sur-Mer",
        "Contribution annuelle CSAC 2024", "Total TTC : 1 000,00 €", "Merci de nous retourner votre bon de commande.",
    ],
    "facture_resah": [
        "GIP RESAH", "FACTURE N° F-2024-0042", "Client : Commune de Test-sur-Mer",
        "Votre commande n° 1300012345 du 01/03/2024", "Total TTC : 1 000,00 €", "Net à payer : 1 000,00 €",
    ],
    "facture_quoting_the_ej": [
        "FACTURE", "N° de facture : 2024-0042", "Numéro d'engagement juridique : 1300012345",
        "Contribution annuelle CSAC 2024", "Montant TTC : 1 000,00 €",
    ],
    "mandat_de_paiement": [
        "MANDAT DE PAIEMENT N° 2024-1234", "Exercice 2024", "Bénéficiaire : GIP RESAH",
        "Engagement juridique n° 1300012345", "Montant TTC : 1 000,00 €",
    ],
    "avis_des_sommes_a_payer": [
        "AVIS DES SOMMES À PAYER", "Titre n° 42 — Bordereau n° 7", "Engagement juridique n° 1300012345",
        "Montant : 1 000,00 €",
    ],
    "titre_de_recettes": [
        "TITRE DE RECETTES N° 2024-17", "Débiteur : Commune de Test-sur-Mer", "Bon de commande n° 1300012345",
        "Montant : 1 000,00 €",
    ],
    "accuse_de_reception": [
        "ACCUSÉ DE RÉCEPTION", "Commande n° 1300012345 reçue le 02/03/2024", "Montant TTC : 1 000,00 €",
    ],
    "issued_by_the_resah": [
        "GIP RESAH", "47 rue de Charonne 75011 Paris", "Client : Commune de Test-sur-Mer",
        "N° EJ : 1300012345", "Net à payer : 1 000,00 €",
    ],
}  # fmt: skip


def paper(name: str, kind: str) -> bytes:
    return b.text_pdf(SELLERS_PAPERS[name]) if kind == "pdf" else b.text_docx(SELLERS_PAPERS[name])


@pytest.mark.parametrize("kind", ["pdf", "docx"])
@pytest.mark.parametrize("name", SELLERS_PAPERS)
def test_a_devis_a_facture_or_a_mandat_is_never_taken_for_the_order(
    intake_ctx, drop, signed, commune, name, kind
):
    member = f"Piece.{kind}"
    report = take_in(
        drop(deposit(signed, None, (member, paper(name, kind))), f"{name}-{kind}.zip", b.form(commune)),
        intake_ctx,
    )
    assert roles(report)[member] == "other" and "purchase_order_missing" in codes(report)


@pytest.mark.parametrize("first", ["paper", "order"])
@pytest.mark.parametrize("name", ["devis_resah", "facture_resah"])
def test_the_real_order_wins_over_a_sellers_paper_whatever_the_zip_order(
    intake_ctx, drop, signed, commune, name, first
):
    members = [("Devis.pdf", paper(name, "pdf")), ("EJ.pdf", b.order_pdf(commune, Decimal("10")))]
    zipped = deposit(signed, None, *(members if first == "paper" else members[::-1]))
    report = take_in(drop(zipped, f"{name}-{first}.zip", b.form(commune)), intake_ctx)
    assert roles(report)["EJ.pdf"] == "purchase_order" and roles(report)["Devis.pdf"] == "other"
    assert "10,00\u00a0€ au lieu de 1\u00a0000,00\u00a0€" in report.problems[0].message


@pytest.mark.parametrize("first", ["ten", "right"])
def test_two_orders_that_disagree_are_a_doubt_whatever_the_zip_order(
    intake_ctx, drop, signed, commune, first
):
    ten = ("EJ 10.pdf", b.order_pdf(commune, Decimal("10")))
    right = ("EJ.pdf", b.order_pdf(commune, DUE))
    report = take_in(
        drop(
            deposit(signed, None, *((ten, right) if first == "ten" else (right, ten))), form=b.form(commune)
        ),
        intake_ctx,
    )
    assert codes(report) == ["amount_mismatch"] and report.amount_paid is None
    assert "2 bons de commande aux montants différents" in report.problems[0].message


ORDERS_BY_NUMBER = {  # (lines, the number read): how buyers' tools name an order
    "sap": (
        ["Commune de Test-sur-Mer", "SIRET : 200 042 422 00010", "Numéro de commande : 4500012345",
         "Date de commande : 01/03/2024", "Fournisseur : GIP RESAH", "Contribution annuelle CSAC 2024",
         "Montant total : 1 000,00 EUR"], "4500012345"),
    "bdc": (["BDC N° 2024-042", "Commune de Test-sur-Mer", "Montant total TTC : 1 000,00 €"], "2024-042"),
    "n_de_commande": (
        ["Ville de Test-sur-Mer", "N° de commande : 4500012345", "Fournisseur : GIP RESAH",
         "Total TTC : 1 000,00 €"], "4500012345"),
    "po": (["Ville de Test-sur-Mer", "PO n° 4500012345", "Supplier : GIP RESAH", "Total TTC : 1 000,00 €"], "4500012345"),
    "reference_commande": (
        ["Commune de Test-sur-Mer", "Référence commande : 4500012345", "Montant TTC : 1 000,00 €"], "4500012345"),
}  # fmt: skip


@pytest.mark.parametrize("kind", ["pdf", "docx"])
@pytest.mark.parametrize("case", ORDERS_BY_NUMBER)
def test_an_order_is_known_by_its_number_whatever_its_tool_calls_it(
    intake_ctx, drop, signed, commune, case, kind
):
    lines, number = ORDERS_BY_NUMBER[case]
    order = b.text_pdf(lines) if kind == "pdf" else b.text_docx(lines)
    member = f"BC.{kind}"
    report = take_in(
        drop(deposit(signed, None, (member, order)), f"{case}-{kind}.zip", b.form(commune)), intake_ctx
    )
    assert roles(report)[member] == "purchase_order" and report.order_number == number
    assert report.status == "complete", report.problems


NOT_THE_ANNEX = {  # tables of SIRETs with an amount that are not the annex's beneficiaries
    "etablissements": [
        "Liste des établissements de la commune", "SIRET | Établissement | Effectif | Montant des dépenses 2023",
        "200 042 422 00010 | Mairie | 450 | 1 200 000 €", "200 042 422 00028 | CCAS | 30 | 200 000 €",
    ],
    "sirene": [
        "Avis de situation au répertoire Sirene", "Établissement", "SIRET Dénomination Adresse Montant du capital",
        "200 042 422 00010 COMMUNE DE TEST-SUR-MER 1 PLACE DE LA MAIRIE 62000 ARRAS",
    ],
}  # fmt: skip


@pytest.mark.parametrize("kind", ["pdf", "docx"])
@pytest.mark.parametrize("table", NOT_THE_ANNEX)
def test_a_table_of_sirets_that_is_not_the_annex_is_other(intake_ctx, drop, signed, commune, table, kind):
    data = b.text_pdf(NOT_THE_ANNEX[table]) if kind == "pdf" else b.text_docx(NOT_THE_ANNEX[table])
    member = f"Tableau.{kind}"
    report = take_in(
        drop(deposit(signed, b.order_pdf(commune, DUE), (member, data), annex=False), f"{table}-{kind}.zip"),
        intake_ctx,
    )
    assert roles(report)[member] == "other" and "annex_missing" in codes(report)


CLAUSE_LETTER = [
    "Mairie de Test-sur-Mer", "Objet : Convention de service d'achat centralisé", "Madame, Monsieur,",
    "Suite à votre envoi de la convention de service d'achat centralisé, entre d'une part le Resah et d'autre "
    "part notre commune, il est convenu ce qui suit : nous vous retournons les pièces signées.",
    "Cordialement",
]  # fmt: skip


@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_a_letter_quoting_the_conventions_clauses_is_not_the_convention(
    intake_ctx, drop, signed, commune, kind
):
    letter = b.text_pdf(CLAUSE_LETTER) if kind == "pdf" else b.text_docx(CLAUSE_LETTER)
    member = f"Courrier.{kind}"
    zipped = b.zip_of(
        [(member, letter), ("Annexe.xlsx", signed["annex"]), ("EJ.pdf", b.order_pdf(commune, DUE))]
    )
    report = take_in(drop(zipped, f"letter-{kind}.zip"), intake_ctx)
    assert roles(report)[member] == "other" and "convention_missing" in codes(report)


# -- 3 (continued). A groupement in its own words; a mode nothing says -------------------------

OWN_WORDS = {  # how a groupement's own spreadsheet says it is one
    "title": {"title": "Groupement de commandes — liste des membres"},
    "coordinateur_adherent": {"roles": ("Coordinateur", "Adhérent")},
    "chef_de_file": {"roles": ("Chef de file", "Membre associé")},
    "pilote_participant": {"roles": ("Pilote", "Participant")},
    "mandataire_du_groupement": {"roles": ("Mandataire du groupement", "Adhérent")},
    "header": {"name_header": "Membres du groupement de commandes"},
}
FIVE = [BETHUNE] + b.members_of(5)[1:]


@pytest.mark.parametrize("words", OWN_WORDS)
def test_a_groupement_in_its_own_words_is_charged_its_tier(intake_ctx, drop, words):
    sheet = b.own_sheet(FIVE, **OWN_WORDS[words])
    order = b.order_pdf(FIVE[0], TIERS[5], market="2021-047-001")
    report = take_in(
        drop(groupement_deposit(seed_convention("2021-047-001"), sheet, order), f"{words}.zip",
             b.form(FIVE[0], market="2021-047-001")),
        intake_ctx,
    )  # fmt: skip
    assert (report.status, report.contribution.amount) == ("complete", Decimal("3500")), report.problems


UNSAID = {  # several beneficiaries on a variant with groupement tiers, nothing saying mandate or groupement
    "plain_rows": {},
    "negated_title": {"title": "Liste des bénéficiaires — pas de groupement de commandes"},
    "outside_a_groupement": {"title": "Bénéficiaires hors groupement"},
}


@pytest.mark.parametrize("case", UNSAID)
def test_several_beneficiaries_with_nothing_saying_the_mode_get_no_figure(intake_ctx, drop, case):
    three = b.members_of(4)[1:]
    sheet = b.own_sheet(three, **UNSAID[case])
    order = b.order_pdf(three[0], Decimal("3000"), market="2021-047-001")
    form = b.form(three[0], market="2021-047-001")
    report = take_in(
        drop(groupement_deposit(seed_convention("2021-047-001"), sheet, order), f"{case}.zip", form),
        intake_ctx,
    )
    assert "amount_mismatch" not in codes(report) and report.contribution.to_check
    [notice] = messages(intake_ctx.workspace.outbox / "depositors")
    assert not FIGURE_RE.search(body(notice)), body(notice)
    [region] = messages(intake_ctx.workspace.outbox / report.mailbox)
    assert "montant à vérifier par l'équipe régionale" in body(region)
    assert "sans préciser mandat ou groupement" in body(region)
