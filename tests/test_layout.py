"""What a buyer sees in the Word files: properties, the tariff's own row, the signature block,
the bulletin's contact table. (How LibreOffice paginates them: tests/test_libreoffice.py.)"""

import datetime as dt
import io

import pytest
from docx import Document
from openpyxl import load_workbook

from pipeline.context import bulletin_context, regions_context
from pipeline.ooxml import read_members, render_docx_naive
from pipeline.render import Renderer
from tests.conftest import VARIANT_IDS, W

DAY = dt.date(2024, 3, 1)
NASTY = 'Syndicat "Eau & Assainissement" <SIVU> d\'Artois'
OWN_FILL = "FFF2CC"


def _doc(renderer, request, kind="convention", variant="2021-045-lot2", on=DAY):
    docs = renderer.package(request, on, (kind,))
    return next(d for d in docs if d.variant == (variant if kind == "convention" else None))


def _open(data: bytes):
    return Document(io.BytesIO(data))


def _cell_lines(cell) -> list[str]:
    return [p.text for p in cell.paragraphs]


# -- Document properties ------------------------------------------------------------------------


@pytest.mark.parametrize("variant_id", VARIANT_IDS)
def test_a_convention_is_titled_by_its_variant_and_names_its_signatory(
    parse, renderer, variants, bethune, variant_id
):
    props = _open(_doc(renderer, parse(bethune), variant=variant_id).data).core_properties
    assert props.title == f"Convention de service d’achat centralisé – {variants[variant_id].footer_label}"
    assert (
        props.subject
        == "Communauté d’Agglomération de Béthune-Bruay, Artois-Lys Romane (SIRET 200 072 460 00013)"
    )
    assert props.author == props.last_modified_by == "Resah"
    assert props.comments.startswith("Convention de service d’achat centralisé du Resah pré-remplie pour")
    assert props.language == "fr-FR"


def test_the_bulletin_is_titled_by_its_year_and_names_its_signatory(parse, renderer, bethune):
    props = _open(_doc(renderer, parse(bethune), "bulletin").data).core_properties
    assert props.title == "Bulletin d’adhésion 2024 à la centrale d’achat du Resah"
    assert props.subject.endswith("(SIRET 200 072 460 00013)") and props.author == "Resah"
    assert "python-docx" not in props.comments


@pytest.mark.parametrize("kind", ["convention", "bulletin"])
@pytest.mark.parametrize("on", [dt.date(2024, 3, 1), dt.date(2025, 11, 30)])
def test_documents_are_dated_by_the_campaign(parse, renderer, bethune, kind, on):
    props = _open(_doc(renderer, parse(bethune), kind, on=on).data).core_properties
    assert props.created == props.modified == dt.datetime(on.year, on.month, on.day, tzinfo=dt.UTC)


def _annex_properties(renderer, request, variant="2021-045-lot2", on=DAY):
    docs = renderer.package(request, on, ("annex",))
    data = next(d for d in docs if d.variant == variant).data
    return load_workbook(io.BytesIO(data)).properties


@pytest.mark.parametrize("variant_id", VARIANT_IDS)
def test_an_annex_is_titled_by_its_variant_and_names_its_signatory(
    parse, renderer, variants, bethune, variant_id
):
    """Its workbook said "Resah — csac", no subject, and 2024-01-01 whatever the campaign."""
    props = _annex_properties(renderer, parse(bethune), variant_id)
    assert props.title == f"Annexe « Vos besoins » – {variants[variant_id].footer_label}"
    assert (
        props.subject
        == "Communauté d’Agglomération de Béthune-Bruay, Artois-Lys Romane (SIRET 200 072 460 00013)"
    )
    assert props.creator == props.lastModifiedBy == "Resah" and props.language == "fr-FR"
    assert (
        props.description.startswith("Annexe « Vos besoins » de la convention")
        and props.subject in props.description
    )


@pytest.mark.parametrize("on", [dt.date(2024, 3, 1), dt.date(2025, 11, 30)])
def test_an_annex_is_dated_by_the_campaign(parse, renderer, bethune, on):
    props = _annex_properties(renderer, parse(bethune), on=on)
    assert props.created == props.modified == dt.datetime(on.year, on.month, on.day)


def test_a_name_with_markup_characters_comes_out_once_escaped_in_the_annex_properties(
    parse, renderer, bethune
):
    bethune["signataire"]["denomination"] = NASTY
    props = _annex_properties(renderer, parse(bethune))
    assert props.subject.startswith(NASTY + " (SIRET") and NASTY in props.description


@pytest.mark.parametrize("kind", ["convention", "bulletin"])
def test_a_name_with_markup_characters_comes_out_once_escaped_in_the_properties(
    parse, renderer, bethune, kind
):
    bethune["signataire"]["denomination"] = NASTY
    props = _open(_doc(renderer, parse(bethune), kind).data).core_properties
    assert props.subject.startswith(NASTY + " (SIRET") and NASTY in props.comments


def test_the_compiled_bulletin_gives_docxtpls_own_output(parse, renderer, resources, bethune):
    bethune["signataire"]["denomination"] = NASTY
    request = parse(bethune)
    context = regions_context(renderer.regions) | bulletin_context(request, renderer.membership, DAY)
    naive = dict(read_members(render_docx_naive(resources.bulletin_template, context)))
    assert dict(read_members(_doc(renderer, request, "bulletin").data)) == naive


# -- The tariff: the signatory's own rows ------------------------------------------------------


def _tariff_rows(data: bytes) -> dict[str, str]:
    """Each row of the tariff table: its first cell's text -> its fill."""
    document = _open(data)
    table = next(t for t in document.tables if "Autres" in t._tbl.xml)
    rows = {}
    for tr in table._tbl.iter(f"{W}tr"):
        shd = tr.find(f".//{W}shd")
        fill = shd.get(f"{W}fill") if shd is not None else None
        rows["".join(t.text or "" for t in tr.find(f"{W}tc").iter(f"{W}t"))] = fill
    return rows


@pytest.mark.parametrize(
    "typology, population, row",
    [
        ("communaute_agglomeration", None, "Communautés d’agglomérations pour leurs besoins propres"),
        ("region", None, "Régions"),
        ("commune", 30000, "Communes de ≥ 20.000 et < 50 000 habitants pour leurs besoins propres"),
        ("commune", 8000, "Autres"),
    ],
)
def test_the_signatorys_own_row_is_the_one_highlighted(parse, renderer, bethune, typology, population, row):
    bethune["signataire"]["typologie"] = typology
    if population:
        bethune["signataire"]["population"] = population
    data = _doc(renderer, parse(bethune)).data
    lit = [label for label, fill in _tariff_rows(data).items() if fill == OWN_FILL]
    assert lit == [row]
    assert _tariff_rows(data)["Ligne surlignée : votre typologie."] is None


def test_a_mandate_highlights_each_beneficiarys_row(parse, renderer, bethune):
    own = dict(bethune["signataire"])
    region = dict(own, denomination="Région Hauts-de-France", siret="200 053 742 00017", typologie="region")
    bethune.update(mode="mandat", beneficiaires=[own, region])
    data = _doc(renderer, parse(bethune)).data
    lit = {label for label, fill in _tariff_rows(data).items() if fill == OWN_FILL}
    assert lit == {"Régions", "Communautés d’agglomérations pour leurs besoins propres"}
    assert "Lignes surlignées : les typologies de vos bénéficiaires." in _tariff_rows(data)


def test_a_groupement_highlights_its_tier(parse, resources, variants, bethune):
    bethune.update(mode="groupement", beneficiaires=[dict(bethune["signataire"])] * 5)
    renderer = Renderer.build(resources, [variants["2021-047-001"]])
    data = _doc(renderer, parse(bethune, ["2021-047-001"]), variant="2021-047-001").data
    lit = [k for k, fill in _tariff_rows(data).items() if fill == OWN_FILL]
    assert lit == ["Groupement de 5 à 9 bénéficiaires"]


def test_the_contribution_due_closes_the_tariff_table(parse, renderer, bethune):
    last = list(_tariff_rows(_doc(renderer, parse(bethune)).data))[-1]
    assert last.startswith("Contribution annuelle due par le signataire : 1")
    assert last.endswith("(Communautés d’agglomérations pour leurs besoins propres)")


# -- The signature block -----------------------------------------------------------------------


def _signature_table(data: bytes):
    return next(t for t in _open(data).tables if t.cell(0, 0).text.startswith("Pour le signataire"))


@pytest.mark.parametrize("variant_id", VARIANT_IDS)
def test_the_signature_block_sets_the_parties_side_by_side(parse, renderer, bethune, variant_id):
    bethune["signataire"]["representant"] = "Olivier Gacquerre, Président"
    table = _signature_table(_doc(renderer, parse(bethune), variant=variant_id).data)
    assert len(table.rows) == 1 and len(table.columns) == 2
    left, right = (_cell_lines(c) for c in table.rows[0].cells)
    assert left[:3] == ["Pour le signataire,", "Son représentant", "Olivier Gacquerre, Président"]
    assert left[3].startswith("Fait à …") and left[-1] == "Signature et cachet"
    assert right[0] == "Pour le Resah," and right[-1] == "Signature et cachet"
    assert right[-2].startswith("Fait à Paris, le") and right[-2].endswith("(ne pas remplir)")


def test_without_a_representative_the_name_and_quality_are_left_to_write(parse, renderer, bethune):
    bethune["signataire"].pop("representant", None)
    left = _cell_lines(_signature_table(_doc(renderer, parse(bethune)).data).rows[0].cells[0])
    assert left[2].startswith("Nom et qualité : ……")


def test_the_signature_block_has_borders_nowhere_and_never_splits(parse, renderer, bethune):
    table = _signature_table(_doc(renderer, parse(bethune)).data)._tbl
    borders = table.tblPr.find(f"{W}tblBorders")
    assert {b.get(f"{W}val") for b in borders} == {"nil"}
    assert table.find(f"{W}tr/{W}trPr/{W}cantSplit") is not None


# -- The bulletin's contact table --------------------------------------------------------------


def _contact_table(data: bytes) -> dict[str, str]:
    table = next(t for t in _open(data).tables if t.cell(0, 0).text == "Civilité")
    return {row.cells[0].text: row.cells[1].text for row in table.rows}


def test_the_bulletin_contact_comes_from_the_signatory_when_no_contact_is_given(parse, renderer, bethune):
    bethune["signataire"].update(
        representant="Olivier Gacquerre, Président",
        email="commande-publique@bethunebruay.example",
        telephone="03 21 61 50 50",
    )
    assert _contact_table(_doc(renderer, parse(bethune), "bulletin").data) == {
        "Civilité": "",
        "Nom": "Olivier Gacquerre",
        "Prénom": "",
        "Fonction": "Président",
        "E-mail": "commande-publique@bethunebruay.example",
        "Téléphone": "03 21 61 50 50",
    }


def test_the_bulletin_contact_given_in_the_file_wins_field_by_field(parse, renderer, bethune):
    bethune["signataire"].update(representant="Olivier Gacquerre, Président", telephone="03 21 61 50 50")
    bethune["signataire"]["contact"] = {"nom": "Durand", "prenom": "Claire", "email": "c.durand@b.example"}
    table = _contact_table(_doc(renderer, parse(bethune), "bulletin").data)
    assert (table["Nom"], table["Prénom"], table["E-mail"]) == ("Durand", "Claire", "c.durand@b.example")
    assert (table["Fonction"], table["Téléphone"]) == ("Président", "03 21 61 50 50")


def test_the_bulletin_footer_names_the_siret_not_the_name_so_it_keeps_one_width(parse, renderer, bethune):
    bethune["signataire"]["denomination"] = "Syndicat intercommunal " * 12
    data = _doc(renderer, parse(bethune), "bulletin").data
    footer = next(v for k, v in read_members(data) if k.startswith("word/footer")).decode()
    assert "SIRET 200 072 460 00013 – Page" in footer and "Syndicat" not in footer
