"""When the form and the documents agree, and when the depositor's message asks for a change
(pipeline/conflicts.py): the classes the warnings of the regional message are drawn from."""

from __future__ import annotations

import pytest

from pipeline.conflicts import changes_asked, same_name, same_reference
from pipeline.facts import quality

SAME_ORGANISATION = {
    "case and hyphens": ("COMMUNE DE TEST SUR MER", "Commune de Test-sur-Mer"),
    "Mairie de": ("Mairie de Test-sur-Mer", "Commune de Test-sur-Mer"),
    "Ville d' and accents": ("Ville d'Évry", "Commune d’Evry"),
    "without its prefix": ("Test-sur-Mer", "Commune de Test-sur-Mer"),
    "St for Saint": ("St-Denis", "Commune de Saint-Denis"),
    "CA and a complement after a comma": (
        "CA de Béthune-Bruay",
        "Communauté d’Agglomération de Béthune-Bruay, Artois-Lys Romane",
    ),
    "CCAS": ("CCAS d'Arras", "Centre communal d'action sociale d'Arras"),
    "initials with dots": ("C.C.A.S. d'Arras", "Centre communal d'action sociale d'Arras"),
    "without its de": ("CCAS Arras", "Centre communal d'action sociale d'Arras"),
    "an article in the name": ("Le Mans", "Commune du Mans"),
    "CHRU": ("CHRU de Lille", "Centre hospitalier régional universitaire de Lille"),
}
OTHER_ORGANISATION = {
    "another commune": ("Commune de Lens", "Commune de Test-sur-Mer"),
    "a longer name": ("Commune de Saint-Denis", "Commune de Saint-Denis-de-Pile"),
    "a shorter name": ("Commune de Test", "Commune de Test-sur-Mer"),
    "another kind of body": ("Centre hospitalier d'Arras", "Commune d'Arras"),
    "the issue's": ("Communauté de communes du Cap Corse", "Commune de Test-sur-Mer"),
}


@pytest.mark.parametrize("said, read", SAME_ORGANISATION.values(), ids=SAME_ORGANISATION)
def test_two_spellings_of_one_organisation_are_the_same_raison_sociale(said, read):
    assert same_name(said, read) and same_name(read, said)


@pytest.mark.parametrize("said, read", OTHER_ORGANISATION.values(), ids=OTHER_ORGANISATION)
def test_two_organisations_are_two_raisons_sociales(said, read):
    assert not same_name(said, read) and not same_name(read, said)


@pytest.mark.parametrize("said", ["1300012345", "EJ n° 1300 012 345", "ej1300012345", "1300.012.345"])
def test_an_ej_number_however_written_is_the_same_reference(said):
    assert same_reference(said, "1300012345")


@pytest.mark.parametrize("said", ["1300099999", "130001234", "BC-2024-118"])
def test_another_number_is_another_reference(said):
    assert not same_reference(said, "1300012345")


ASKING = {
    "the issue's": ("l'EJ joint est annulé, merci d'utiliser l'EJ 1300099999", 2),
    "annulation in capitals": ("ANNULE ET REMPLACE le dépôt du 3 mars", 2),
    "a correction": ("Bon de commande corrigé suite à une erreur de montant.", 1),
    "a new engagement juridique": ("Merci de retenir l'engagement juridique n° 1300055555.", 1),
    "an E.J. written with dots": ("Le bon E.J. est le 1300055555", 1),
    "a replacement": ("Ce document remplace celui envoyé hier.", 1),
    "a modification": ("Modification du montant de la commande", 1),
}
NOT_ASKING = {
    "a cover note": "Bonjour, veuillez trouver ci-joint notre convention signée. Cordialement",
    "the sample form's": "Convention signée, annexe et EJ ci-joints.",
    "the known EJ": "EJ n° 1300012345 ci-joint.",
    "a telephone": "Pour l'EJ, appelez-moi au 03 21 00 00 00",
    "an international telephone": "EJ ci-joint. Tél : +33 3 21 61 70 00",
    "a SIRET": "EJ joint, SIRET 20007246000013",
    "correct is no correction": "Tout est correct, merci.",
    "déjà, projet, objet": "Objet : projet déjà validé en conseil",
}


@pytest.mark.parametrize("message, count", ASKING.values(), ids=ASKING)
def test_a_message_asking_for_an_annulation_a_correction_or_another_ej_is_flagged(message, count):
    assert len(changes_asked(message, ["1300012345"])) == count


@pytest.mark.parametrize("message", NOT_ASKING.values(), ids=NOT_ASKING)
def test_a_message_asking_for_no_change_is_not_flagged(message):
    assert changes_asked(message, ["1300012345"]) == []


def test_the_other_ej_a_message_names_is_said_in_the_warning():
    assert changes_asked("Merci d'utiliser l'EJ 1300 099 999", ["1300012345"]) == [
        "un autre numéro d'EJ ou de commande (1300099999)"
    ]


@pytest.mark.parametrize(
    "representative, expected",
    [
        ("Monsieur Olivier Gacquerre, Président", "Président"),
        ("Mme Claire Martin, Maire", "Maire"),
        ("Le Directeur général, Jean Dupont", "Le Directeur général"),
        ("Jean Dupont", None),
    ],
)
def test_the_quality_of_a_representative_is_the_part_that_names_a_role(representative, expected):
    assert quality(representative) == expected
