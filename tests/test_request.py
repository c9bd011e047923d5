"""Beneficiary input: every problem listed at once, with its field path, in French."""

import pytest

from pipeline.errors import InputError


def _problems(parse, data, chosen=None):
    with pytest.raises(InputError) as exc:
        parse(data, chosen)
    return {p.path: p.message for p in exc.value.problems}


def test_a_valid_signatory_is_accepted_and_placed_in_its_region(parse, bethune):
    request = parse(bethune)
    assert request.signatory.entity.siret == "20007246000013"
    assert request.region.mailbox == "Hauts-de-France@resah.fr"


def test_a_wrong_siret_check_digit_is_refused(parse, bethune):
    bethune["signataire"]["siret"] = "200 072 460 00014"
    assert "clé de contrôle" in _problems(parse, bethune)["signataire.siret"]


def test_la_poste_sirets_follow_their_own_rule(parse, bethune):
    bethune["signataire"]["siret"] = "356 000 000 00048"  # La Poste head office
    parse(bethune)
    bethune["signataire"]["siret"] = "35600000049837"  # an établissement: digit sum multiple of 5
    parse(bethune)


def test_an_unknown_typology_is_refused_for_each_variant(parse, bethune):
    bethune["signataire"]["typologie"] = "hopital"
    problems = _problems(parse, bethune, ["2021-045-lot2"])
    assert "typologie « hopital » inconnue du tarif de 2021-045-lot2" in problems["signataire.typologie"]


def test_a_negative_amount_is_refused(parse, bethune):
    bethune["signataire"]["montant_maximum"] = -100
    assert "positif" in _problems(parse, bethune)["signataire.montant_maximum"]


def test_a_missing_field_is_named(parse, bethune):
    del bethune["signataire"]["ville"]
    assert "ville" in _problems(parse, bethune)["signataire"]


def test_every_error_is_listed_at_once(parse, bethune):
    sig = bethune["signataire"]
    sig.update(siret="200 072 460 00014", typologie="hopital", montant_maximum=0, code_postal="98000")
    problems = _problems(parse, bethune, ["2021-063-002"])
    assert set(problems) == {
        "signataire.siret",
        "signataire.typologie",
        "signataire.montant_maximum",
        "signataire.code_postal",
    }


def test_a_commune_needs_its_population(parse, bethune):
    bethune["signataire"]["typologie"] = "commune"
    assert "population" in _problems(parse, bethune)["signataire.population"]


def test_a_groupement_is_refused_where_the_variant_has_none(parse, bethune):
    ben = dict(bethune["signataire"])
    bethune.update(mode="groupement", beneficiaires=[ben, ben])
    assert (
        "groupement n'est pas prévu par 2021-045-lot2" in _problems(parse, bethune, ["2021-045-lot2"])["mode"]
    )


def test_a_groupement_of_one_is_refused(parse, bethune):
    bethune.update(mode="groupement", beneficiaires=[dict(bethune["signataire"])])
    assert "au moins 2" in _problems(parse, bethune, ["2021-047-001"])["beneficiaires"]


def test_a_mandate_beneficiary_is_checked_like_the_signatory(parse, bethune):
    ben = dict(bethune["signataire"], siret="12345678901234", montant_maximum=-1)
    bethune.update(mode="mandat", beneficiaires=[ben])
    problems = _problems(parse, bethune)
    assert {"beneficiaires[1].siret", "beneficiaires[1].montant_maximum"} <= set(problems)


def test_a_missing_amount_for_one_variant_is_named(parse, bethune):
    bethune["signataire"]["montant_maximum"] = {"2021-045-lot2": 1000}
    problems = _problems(parse, bethune, ["2021-045-lot2", "2021-063-002"])
    assert "absent pour 2021-063-002" in problems["signataire.montant_maximum"]


def test_an_unknown_field_is_reported_as_a_likely_typo(parse, bethune):
    bethune["signataire"]["sirett"] = "x"
    assert "sirett" in _problems(parse, bethune)["signataire"]
