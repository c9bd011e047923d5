"""The contribution due, for every typology of every variant, to the seed's figures.

The expected amounts below are copied from the seed conventions by hand; they
do not come from the YAML, so a wrong transcription fails here.
"""

import datetime as dt
import io
from decimal import Decimal

import pytest

from pipeline.request import contribution_due
from tests.conftest import docx_text

SEED = {
    "2021-045-lot2": {
        ("region", None): "1750",
        ("metropole", None): "1750",
        ("communaute_urbaine", None): "1500",
        ("communaute_agglomeration", None): "1000",
        ("commune", 50000): "1000",
        ("commune", 250000): "1000",
        ("communaute_communes", None): "750",
        ("commune", 20000): "750",
        ("commune", 49999): "750",
        ("commune", 19999): None,
        ("autre", None): None,
    },
    "2021-045-lot4": {
        ("region", None): "1100",
        ("metropole", None): "1100",
        ("communaute_urbaine", None): "700",
        ("communaute_agglomeration", None): "500",
        ("commune", 50000): "500",
        ("communaute_communes", None): "300",
        ("commune", 20000): "300",
        ("commune", 49999): "300",
        ("autre", None): None,
    },
    "2021-047-001": {
        ("region", None): "4000",
        ("metropole", None): "3500",
        ("communaute_urbaine", None): "3000",
        ("communaute_agglomeration", None): "2500",
        ("commune", 50000): "2500",
        ("communaute_communes", None): "1500",
        ("commune", 20000): "1500",
        ("commune", 49999): "1500",
        ("autre", None): None,
    },
    "2021-063-002": {
        ("region", None): "1500",
        ("metropole", None): "750",
        ("communaute_urbaine", None): "750",
        ("commune", 50000): "500",
        ("communaute_agglomeration", None): "500",
        ("communaute_communes", None): "300",
        # The seed's own bracket: "de 20 000 habitants à 30 000 habitants".
        ("commune", 20000): "300",
        ("commune", 30000): "300",
        ("commune", 30001): None,
        ("commune", 49999): None,
        ("autre", None): None,
    },
}
QUOTES = {
    "2021-045-lot2": "Sur devis",
    "2021-045-lot4": "Sur devis",
    "2021-047-001": "Nous contacter",
    "2021-063-002": "Sur devis",
}
CASES = [(v, t, p, a) for v, table in SEED.items() for (t, p), a in table.items()]


def _own_account(bethune, typology, population):
    bethune["signataire"]["typologie"] = typology
    if population is not None:
        bethune["signataire"]["population"] = population
    return bethune


@pytest.mark.parametrize("variant_id, typology, population, amount", CASES)
def test_contribution_due_for_each_typology(
    parse, variants, bethune, variant_id, typology, population, amount
):
    request = parse(_own_account(bethune, typology, population), [variant_id])
    due = contribution_due(variants[variant_id], request)
    if amount is None:
        assert due.amount is None and due.text == QUOTES[variant_id]
    else:
        assert due.amount == Decimal(amount)


@pytest.mark.parametrize(
    "members, amount",
    [
        (2, "3000"),
        (4, "3000"),
        (5, "3500"),
        (9, "3500"),
        (10, "4000"),
        (19, "4000"),
        (20, "5000"),
        (150, "5000"),
    ],
)
def test_groupement_tiers_of_2021_047_001(parse, variants, bethune, members, amount):
    ben = {k: v for k, v in bethune["signataire"].items()}
    bethune["mode"] = "groupement"
    bethune["beneficiaires"] = [ben] * members
    request = parse(bethune, ["2021-047-001"])
    assert contribution_due(variants["2021-047-001"], request).amount == Decimal(amount)


def test_a_mandate_owes_the_sum_of_its_beneficiaries(parse, variants, bethune):
    ben = dict(bethune["signataire"])
    region = dict(ben, typologie="region")
    bethune["mode"] = "mandat"
    bethune["beneficiaires"] = [ben, region]
    request = parse(bethune, ["2021-045-lot2"])
    assert contribution_due(variants["2021-045-lot2"], request).amount == Decimal("2750")


@pytest.mark.parametrize("variant_id", list(SEED))
def test_the_rendered_convention_states_the_contribution_due(parse, renderer, bethune, variant_id):
    request = parse(_own_account(bethune, "region", None), [variant_id])
    docs = renderer.package(request, dt.date(2024, 3, 1), ("convention",))
    convention = next(d for d in docs if d.kind == "convention" and d.variant == variant_id)
    amount = {
        "2021-045-lot2": "1 750,00",
        "2021-045-lot4": "1 100,00",
        "2021-047-001": "4 000,00",
        "2021-063-002": "1 500,00",
    }[variant_id]
    text = docx_text(io.BytesIO(convention.data)).replace("\u00a0", " ")

    assert f"Contribution annuelle due par le signataire : {amount} € (Régions)" in text


@pytest.mark.parametrize(
    "medico_social, day, due_year, amount, after_cutoff",
    [
        (False, dt.date(2024, 3, 1), 2024, "600", False),
        (True, dt.date(2024, 3, 1), 2024, "300", False),
        (False, dt.date(2024, 10, 31), 2024, "600", False),
        (False, dt.date(2024, 11, 1), 2025, "600", True),
        (True, dt.date(2024, 12, 15), 2025, "300", True),
    ],
)
def test_membership_fee_and_the_31_october_rule(renderer, medico_social, day, due_year, amount, after_cutoff):
    fee = renderer.membership.fee(medico_social, day)
    assert (fee.billed_year, fee.amount, fee.after_cutoff) == (due_year, Decimal(amount), after_cutoff)
