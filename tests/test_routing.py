"""Routing: register first, then postal codes read in the documents, then the form; else triage."""

import email
import mailbox
from decimal import Decimal
from email import policy

import pytest

from pipeline import register
from pipeline.intake import take_in
from tests import builders as b


def complete_deposit(renderer, resources, entity: b.Entity) -> bytes:
    docs = b.rendered(renderer, resources, entity, "2021-063-002")
    return b.zip_of(
        [
            ("convention.pdf", b.convention_pdf(docs["convention"])),
            ("annexe.xlsx", docs["annex"]),
            ("ej.pdf", b.order_pdf(entity, Decimal("500"), market="2021-063-002")),
        ]
    )


@pytest.mark.parametrize(
    "postal_code, city, mailbox",
    [
        ("97133", "SAINT-BARTHELEMY", "Collectivitesdoutre-mer@resah.fr"),
        ("97150", "SAINT-MARTIN", "Collectivitesdoutre-mer@resah.fr"),
        ("97500", "SAINT-PIERRE", "Collectivitesdoutre-mer@resah.fr"),
        ("98800", "NOUMEA", "Collectivitesdoutre-mer@resah.fr"),
        ("98714", "PAPEETE", "Collectivitesdoutre-mer@resah.fr"),
        ("98600", "MATA-UTU", "Collectivitesdoutre-mer@resah.fr"),
        ("97110", "POINTE-A-PITRE", "Guadeloupe-Martinique@resah.fr"),
        ("97200", "FORT-DE-FRANCE", "Guadeloupe-Martinique@resah.fr"),
        ("97300", "CAYENNE", "Guyane@resah.fr"),
        ("97400", "SAINT-DENIS", "LaReunion-Mayotte@resah.fr"),
        ("97600", "MAMOUDZOU", "LaReunion-Mayotte@resah.fr"),
        ("20000", "AJACCIO", "Corse@resah.fr"),
        ("20200", "BASTIA", "Corse@resah.fr"),
        ("62411", "BETHUNE CEDEX", "Hauts-de-France@resah.fr"),
        ("13002", "MARSEILLE", "Provence-Alpes-CotedAzur@resah.fr"),
    ],
)
def test_postal_codes_in_the_documents_route_the_deposit(
    intake_ctx, drop, renderer, resources, postal_code, city, mailbox
):
    entity = b.Entity(postal_code=postal_code, city=city)
    report = take_in(drop(complete_deposit(renderer, resources, entity)), intake_ctx)
    assert report.mailbox == mailbox
    assert report.status == "complete", report.problems
    assert postal_code in report.region_source


def test_the_register_of_rendered_signatories_wins(intake_ctx, drop, renderer, resources):
    """Rendering knew this SIRET in Corsica: a deposit naming a Paris address still goes to Corsica."""
    known = b.Entity(postal_code="20000", city="AJACCIO")
    request = b.rendered(renderer, resources, known, "2021-063-002")["request"]
    register.record(intake_ctx.workspace.register, request, list(renderer.variants))
    moved = b.Entity(postal_code="75011", city="PARIS")
    report = take_in(drop(complete_deposit(renderer, resources, moved)), intake_ctx)
    assert report.mailbox == "Corse@resah.fr" and "registre" in report.region_source


def test_the_register_gives_the_amount_due(intake_ctx, drop, renderer, resources):
    entity = b.Entity(typology="region")  # 1 500 € on 2021-063-002
    request = b.rendered(renderer, resources, entity, "2021-063-002")["request"]
    register.record(intake_ctx.workspace.register, request, list(renderer.variants))
    docs = b.rendered(renderer, resources, entity, "2021-063-002")
    annex = b.annex_pdf(entity, "—")  # a PDF annex: no typology column to read, only the register knows
    data = b.zip_of(
        [
            ("c.pdf", b.convention_pdf(docs["convention"])),
            ("a.pdf", annex),
            ("o.pdf", b.order_pdf(entity, Decimal("500"), market="2021-063-002")),
        ]
    )
    report = take_in(drop(data), intake_ctx)
    assert report.contribution.amount == Decimal("1500") and "amount_mismatch" in report.codes


def test_the_form_routes_through_the_register_when_the_documents_say_nothing(
    intake_ctx, drop, renderer, resources
):
    known = b.Entity(postal_code="97300", city="CAYENNE")
    request = b.rendered(renderer, resources, known, "2021-063-002")["request"]
    register.record(intake_ctx.workspace.register, request, list(renderer.variants))
    docs = b.rendered(renderer, resources, known, "2021-063-002")
    scanned_only = b.zip_of([("scan.pdf", b.scanned_pdf()), ("a.pdf", b.scanned_pdf())])
    report = take_in(drop(scanned_only, form=b.form(known, market="2021-063-002")), intake_ctx)
    assert report.mailbox == "Guyane@resah.fr" and "formulaire" in report.region_source
    assert docs  # the signatory was rendered before


def test_no_region_at_all_goes_to_triage(intake_ctx, drop, renderer, resources):
    entity = b.Entity()
    docs = b.rendered(renderer, resources, entity, "2021-063-002")
    abroad = b.Entity(postal_code="98000", city="MONACO")
    data = b.zip_of(
        [
            ("c.pdf", b.convention_pdf(docs["convention"])),
            ("a.pdf", b.annex_pdf(abroad, "Autres")),
            ("o.pdf", b.order_pdf(abroad, Decimal("500"), market="2021-063-002")),
        ]
    )
    report = take_in(drop(data), intake_ctx)
    assert report.mailbox == intake_ctx.regions.triage.mailbox
    assert "region_unknown" in [p.code for p in report.problems]
    assert any(p.name == intake_ctx.regions.triage.mailbox for p in intake_ctx.workspace.outbox.iterdir())


def test_the_triage_summary_says_nothing_gave_the_region_without_calling_it_determined(
    intake_ctx, drop, renderer, resources
):
    docs = b.rendered(renderer, resources, b.Entity(), "2021-063-002")
    take_in(drop(b.zip_of([("c.pdf", b.convention_pdf(docs["convention"]))])), intake_ctx)
    [msg] = mailbox.Maildir(intake_ctx.workspace.outbox / intake_ctx.regions.triage.mailbox)
    body = email.message_from_bytes(msg.as_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    [line] = [line for line in body.splitlines() if line.startswith("Région : ")]
    assert "ni les documents ni le formulaire ne l'indiquent" in line and "déterminée par" not in line


def test_the_resahs_own_address_is_never_taken_for_the_depositors(intake_ctx, drop, renderer, resources):
    entity = b.Entity(postal_code="97400", city="SAINT-DENIS")
    report = take_in(drop(complete_deposit(renderer, resources, entity)), intake_ctx)
    assert report.mailbox == "LaReunion-Mayotte@resah.fr"  # not Ile-de-France (47 rue de Charonne, 75011)
