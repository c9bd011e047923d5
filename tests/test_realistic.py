"""Deposits made outside csac: the seed's own convention, and a real office-suite export."""

import functools
import subprocess
from decimal import Decimal

import pytest

from pipeline import sample
from pipeline.intake import take_in
from tests import builders as b
from tests.conftest import FIXTURES

BETHUNE = b.Entity(
    name="Communauté d’Agglomération de Béthune-Bruay, Artois-Lys Romane", siret="20007246000013",
    typology="communaute_agglomeration", address="100 avenue de Londres, CS 40548", postal_code="62411", city="BETHUNE CEDEX",
)  # fmt: skip


@functools.cache
def seed_convention(variant_id: str) -> bytes:
    """The convention as the Resah sent it (the seed's damaged text), signed by the signatory (once per session)."""
    lines = (FIXTURES / "seed" / f"{variant_id}.txt").read_text(encoding="utf-8").splitlines()
    return b.signed(b.text_pdf([line for line in lines if line.strip()]))


def codes(report):
    return [p.code for p in report.problems]


def test_the_seed_convention_with_a_foreign_annex_is_read_without_the_register(intake_ctx, drop):
    annex = b.annex_pdf(BETHUNE, "Communauté d'agglomération")
    data = b.zip_of(
        [
            ("CSAC lot 2.pdf", seed_convention("2021-045-lot2")),
            ("besoins.pdf", annex),
            ("BC.pdf", b.order_pdf(BETHUNE, Decimal("1000"))),
        ]
    )
    report = take_in(drop(data, form=b.form(BETHUNE)), intake_ctx)
    assert (report.status, report.variant, report.siret) == (
        "complete",
        "2021-045-lot2",
        "20007246000013",
    )
    assert report.mailbox == "Hauts-de-France@resah.fr"
    assert report.contribution.amount == Decimal("1000")  # from "Communauté d'Agglomération" in the name


def test_the_seed_convention_with_a_wrong_amount(intake_ctx, drop):
    data = b.zip_of(
        [
            ("a.pdf", seed_convention("2021-045-lot4")),
            ("b.pdf", b.annex_pdf(BETHUNE, "—")),
            ("c.pdf", b.order_pdf(BETHUNE, Decimal("1000"), market="2021-045 lot 4")),
        ]
    )
    report = take_in(drop(data, form=b.form(BETHUNE, market="2021-045 lot 4")), intake_ctx)
    assert report.variant == "2021-045-lot4" and codes(report) == ["amount_mismatch"]  # lot 4 is 500 €


def test_every_seed_convention_is_recognised(intake_ctx, drop):
    for variant_id in ("2021-045-lot2", "2021-045-lot4", "2021-047-001", "2021-063-002"):
        data = b.zip_of([("x.pdf", seed_convention(variant_id))])
        report = take_in(drop(data, f"{variant_id}.zip"), intake_ctx)
        assert report.variant == variant_id and report.signature.status == "valid"


@pytest.mark.slow
def test_a_libreoffice_export_of_the_rendered_convention(
    intake_ctx, drop, renderer, resources, soffice, tmp_path
):
    docs = b.rendered(renderer, resources, BETHUNE, "2021-063-002")
    (tmp_path / "c.docx").write_bytes(docs["convention"])
    profile = f"-env:UserInstallation=file://{tmp_path}/lo"
    subprocess.run(
        [
            soffice,
            profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(tmp_path / "c.docx"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    signed = sample.sign_pdf((tmp_path / "c.pdf").read_bytes(), b.IDENTITY)
    data = b.zip_of(
        [
            ("Convention.pdf", signed),
            ("Annexe.xlsx", docs["annex"]),
            ("EJ.pdf", b.order_pdf(BETHUNE, Decimal("500"), market="2021-063-002")),
        ]
    )
    report = take_in(drop(data, form=b.form(BETHUNE, market="2021-063-002")), intake_ctx)
    assert (report.status, report.variant) == ("complete", "2021-063-002"), report.problems
