"""One canonical regions file: every département once, overseas cases, CEDEX codes."""

import pytest

METROPOLE = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
OVERSEAS = ["971", "972", "973", "974", "975", "976", "977", "978", "984", "986", "987", "988", "989"]


def test_seventeen_regions_with_canonical_mailboxes(regions):
    assert len(regions.regions) == 17
    assert all(r.mailbox.endswith("@resah.fr") for r in regions.regions)
    assert regions.by_id("hauts-de-france").mailbox == "Hauts-de-France@resah.fr"
    assert regions.by_id("collectivites-outre-mer").mailbox == "Collectivitesdoutre-mer@resah.fr"
    assert regions.by_id("provence-alpes-cote-d-azur").mailbox == "Provence-Alpes-CotedAzur@resah.fr"


def test_every_departement_belongs_to_exactly_one_region(regions):
    owners = [d for r in regions.regions for d in r.departments]
    assert sorted(owners) == sorted(METROPOLE + OVERSEAS)


@pytest.mark.parametrize(
    "postal_code, region_id",
    [
        ("62411", "hauts-de-france"),  # BETHUNE CEDEX
        ("75011", "ile-de-france"),
        ("20000", "corse"),  # Ajaccio, 2A
        ("20200", "corse"),  # Bastia, 2B
        ("20600", "corse"),
        ("97100", "guadeloupe-martinique"),
        ("97200", "guadeloupe-martinique"),
        ("97300", "guyane"),
        ("97400", "la-reunion-mayotte"),
        ("97600", "la-reunion-mayotte"),
        ("97133", "collectivites-outre-mer"),  # Saint-Barthélemy, a 971 code
        ("97150", "collectivites-outre-mer"),  # Saint-Martin, a 971 code
        ("97500", "collectivites-outre-mer"),  # Saint-Pierre-et-Miquelon
        ("98600", "collectivites-outre-mer"),  # Wallis-et-Futuna
        ("98714", "collectivites-outre-mer"),  # Polynésie
        ("98800", "collectivites-outre-mer"),  # Nouvelle-Calédonie
        ("01000", "auvergne-rhone-alpes"),
        ("13001", "provence-alpes-cote-d-azur"),
    ],
)
def test_postal_code_to_region(regions, postal_code, region_id):
    assert regions.for_postal_code(postal_code).id == region_id


@pytest.mark.parametrize("postal_code", ["98000", "00100", "ABCDE", "7501"])
def test_postal_codes_outside_every_region_give_none(regions, postal_code):
    assert regions.for_postal_code(postal_code) is None


def test_the_bulletins_broken_spellings_are_known_aliases(regions):
    assert regions.for_mailbox("Hauts-deFrance@resah.fr").id == "hauts-de-france"
    assert regions.for_mailbox("collectivitesdoutremer@resah.fr").id == "collectivites-outre-mer"
    assert regions.for_mailbox("Provence-AlpesCotedAzur@resah.fr").id == "provence-alpes-cote-d-azur"
