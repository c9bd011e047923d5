"""The digest is about dossiers: counted once each, those awaiting regularisation oldest first with
their age and what is missing, the conventions sent and never returned, and dates in French.

Dossiers come from real deposits taken in by intake; the register of signatories is filled by
rendering (`render_signatory`), as `csac render` does.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import yaml

from pipeline import api, digest
from pipeline.dates import local_day
from pipeline.dossiers import DossierBook
from pipeline.intake import take_in
from tests import builders as b

COMMUNE = b.Entity()  # Arras: Hauts-de-France
OTHER = b.Entity("Commune de Test-les-Bains", b.make_siret(4243))
DUE = Decimal("1000")  # a commune of 60,000 on lot 2
ENGLISH_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December")  # fmt: skip


@pytest.fixture
def hdf(regions):
    return regions.by_id("hauts-de-france")


@pytest.fixture
def deposit(renderer, resources, intake_ctx, drop):
    """Take in a real deposit: `parts` among convention (or unsigned), annex, order; the report."""
    count = itertools.count()

    def _deposit(entity=COMMUNE, parts=("convention", "annex"), variant="2021-045-lot2", **fields):
        docs = b.rendered(renderer, resources, entity, variant)
        files = {
            "convention": ("convention.pdf", lambda: b.convention_pdf(docs["convention"])),
            "unsigned": ("convention.pdf", lambda: b.convention_pdf(docs["convention"], "none")),
            "annex": ("annexe.xlsx", lambda: docs["annex"]),
            "order": ("EJ.pdf", lambda: b.order_pdf(entity, DUE)),
        }
        members = [(files[p][0], files[p][1]()) for p in parts]
        return take_in(
            drop(b.zip_of(members), f"depot-{next(count)}.zip", form=b.form(entity, **fields)), intake_ctx
        )

    return _deposit


def build(intake_ctx, region, today=None, since=dt.date(2020, 1, 1)) -> digest.Digest:
    ws = intake_ctx.workspace
    return digest.build_digest(ws.journal, region, since, ws.register, today)


# -- counted once per dossier ---------------------------------------------------------------------


def test_a_lot_deposited_three_times_counts_once(deposit, intake_ctx, hdf):
    deposit(parts=("convention", "annex"))  # the order is missing
    deposit(parts=("order",))  # the order alone: the dossier is complete
    deposit(parts=("convention", "annex", "order"))  # everything again, to be sure
    text = digest.text(build(intake_ctx, hdf))
    assert "Dépôts reçus : 3 ; dossiers concernés : 1 (complets : 1, incomplets : 0," in text
    assert (
        "Contributions dues : 1\u00a0000,00\u00a0€ ; montants des bons de commande : 1\u00a0000,00\u00a0€"
        in text
    )


CANCELLED = "l'EJ joint est annulé, merci d'utiliser l'EJ 1300099999"  # puts the deposit under review


def test_a_dossier_under_review_is_listed_as_a_verifier_not_complete(deposit, intake_ctx, hdf):
    deposit(parts=("convention", "annex", "order"), message=CANCELLED)
    [line] = [
        x for x in digest.text(build(intake_ctx, hdf)).splitlines() if "accord-cadre 2021-045 lot 2" in x
    ]
    assert "— à vérifier —" in line and "complet" not in line


def test_a_dossier_under_review_is_counted_apart_from_the_complete_ones(deposit, intake_ctx, hdf):
    deposit(parts=("convention", "annex", "order"), message=CANCELLED)
    text = digest.text(build(intake_ctx, hdf))
    assert "(complets : 0, incomplets : 0, acceptés : 0, refusés : 0, à vérifier : 1)" in text


def test_the_totals_add_each_dossier_once(deposit, intake_ctx, hdf):
    deposit(parts=("convention", "annex", "order"))
    deposit(OTHER, parts=("convention", "annex", "order"))
    deposit(OTHER, parts=("order",))  # a second copy of its order
    d = build(intake_ctx, hdf)
    assert (d.total_due(), d.total_paid()) == (Decimal("2000.00"), Decimal("2000.00"))


# -- awaiting regularisation ------------------------------------------------------------------------


def test_the_dossiers_awaiting_regularisation_come_oldest_first(deposit, intake_ctx, hdf):
    deposit(OTHER)  # opened first, though its SIRET sorts after
    time.sleep(1.05)  # the journal's times are to the second
    deposit(COMMUNE)
    assert [x.siret for x in build(intake_ctx, hdf).awaiting] == [OTHER.siret, COMMUNE.siret]


def test_a_dossier_awaiting_regularisation_shows_its_age_and_what_is_missing(deposit, intake_ctx, hdf):
    report = deposit(parts=("unsigned", "annex"))  # unsigned, and no order
    opened = local_day(DossierBook(intake_ctx.workspace.journal).get(report.dossiers[0].dossier_id).opened_at)
    text = digest.text(build(intake_ctx, hdf, today=opened + dt.timedelta(days=45)))
    [line] = [line for line in text.splitlines() if line.startswith(f"- {COMMUNE.name}")]
    assert "(depuis 45 jours)" in line and "il manque" in line
    missing = text.split(line)[1].split("\n\n")[0].splitlines()[1:]
    assert len(missing) == 2 and missing == [f"    · {p.message}" for p in report.dossiers[0].problems]


def test_a_complete_dossier_is_not_awaiting_regularisation(deposit, intake_ctx, hdf):
    deposit(parts=("convention", "annex"))
    deposit(parts=("order",))
    assert build(intake_ctx, hdf).awaiting == ()


def test_the_html_digest_lists_what_each_awaiting_dossier_lacks(deposit, intake_ctx, hdf):
    report = deposit(parts=("convention", "annex"))
    page = digest.html_page(build(intake_ctx, hdf))
    [problem] = report.dossiers[0].problems
    assert (
        "Dossiers en attente de régularisation (1)" in page
        and f"<li>{html.escape(problem.message)}</li>" in page
    )


# -- never returned ---------------------------------------------------------------------------------


@pytest.fixture
def render(tmp_path, intake_ctx):
    """`render_signatory`, as `csac render` calls it: the signatory goes in the register of the state folder."""

    def _render(entity: b.Entity, variants: tuple[str, ...]) -> None:
        beneficiary = tmp_path / f"{entity.siret}.yaml"
        beneficiary.write_text(yaml.safe_dump(entity.data(), allow_unicode=True), encoding="utf-8")
        options = api.RenderOptions(beneficiary=beneficiary, variants=variants, out=tmp_path / "rendu",
                                    kinds=("convention",), state=intake_ctx.workspace.state)  # fmt: skip
        api.render_signatory(options)

    return _render


def test_signatories_sent_a_convention_they_never_returned_are_listed(render, deposit, intake_ctx, hdf):
    render(COMMUNE, ("2021-045-lot2", "2021-045-lot4"))
    render(OTHER, ("2021-045-lot2",))
    deposit(COMMUNE, parts=("convention", "annex"))  # lot 2 came back, incomplete
    unreturned = [(u.siret, u.variant) for u in build(intake_ctx, hdf).unreturned]
    assert unreturned == [(OTHER.siret, "2021-045-lot2"), (COMMUNE.siret, "2021-045-lot4")]  # by name


def test_the_signatories_of_another_region_are_not_listed(render, intake_ctx, regions):
    render(b.Entity(postal_code="20000", city="AJACCIO"), ("2021-045-lot2",))
    assert build(intake_ctx, regions.by_id("hauts-de-france")).unreturned == ()
    assert len(build(intake_ctx, regions.by_id("corse")).unreturned) == 1


def test_a_never_returned_convention_is_named_with_its_due_in_the_text(render, intake_ctx, hdf):
    render(OTHER, ("2021-045-lot2",))
    text = digest.text(build(intake_ctx, hdf))
    assert "Conventions envoyées et jamais retournées : 1" in text
    assert (
        f"- {OTHER.name} (SIRET {OTHER.siret}) — accord-cadre 2021-045 lot 2 — contribution due : 1\u00a0000,00\u00a0€"
        in text
    )


# -- French dates -----------------------------------------------------------------------------------


@pytest.mark.slow  # a real csac process, in the C locale
def test_the_digests_dates_are_french_whatever_the_machines_locale(deposit, intake_ctx, tmp_path):
    deposit(parts=("convention", "annex"))
    env = os.environ | {"LC_ALL": "C", "LANG": "C", "COLUMNS": "1000"}
    args = ["digest", "--region", "Hauts-de-France", "--since", "2024-12-01", "--out", str(tmp_path / "dg")]
    done = subprocess.run([sys.executable, "-m", "pipeline", *args, "--state", str(intake_ctx.workspace.state)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "dg" / "digest-hauts-de-france-2024-12-01.html").read_text(encoding="utf-8")
    assert "depuis le 1er décembre 2024" in done.stdout and "depuis le 1er décembre 2024" in page
    assert not any(month in done.stdout + page for month in ENGLISH_MONTHS)


def test_the_first_of_the_month_is_written_1er_and_other_days_as_numbers(regions):
    corsica = regions.by_id("corse")
    text = digest.text(digest.Digest(corsica, dt.date(2026, 12, 2), today=dt.date(2027, 1, 1)))
    assert text.startswith("Synthèse des dépôts — Corse — depuis le 2 décembre 2026 (au 1er janvier 2027)")
