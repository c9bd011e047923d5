"""Rendered conventions, annexes and bulletins: faithful, escaped, deterministic."""

import datetime as dt
import difflib
import io
import zipfile

import pytest
from docx import Document
from openpyxl import load_workbook

from pipeline.annex import compile_annex, render_annex
from pipeline.archive import Member
from pipeline.context import signatory_context, variant_context
from pipeline.dues import OTHER_MODE, _printed
from pipeline.extract import extract
from pipeline.facts import annex_rows
from pipeline.ooxml import read_members, render_docx_naive, zip_bytes, zip_bytes_stdlib
from pipeline.tariff import GROUPEMENT
from pipeline.textnorm import squash
from tests.builders import make_siret
from tests.conftest import FIXTURES, VARIANT_IDS, W, docx_text

DAY = dt.date(2024, 3, 1)


def _docs(renderer, request, on=DAY):
    return {(d.kind, d.variant): d for d in renderer.package(request, on)}


def in_order_coverage(seed: str, rendered: str) -> float:
    """Share of the seed's characters found, in order, in the rendered text."""
    matcher = difflib.SequenceMatcher(None, seed, rendered, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / len(seed)


@pytest.mark.parametrize("variant_id", VARIANT_IDS)
def test_the_convention_reproduces_the_seed_text(parse, renderer, bethune, variant_id):
    docs = _docs(renderer, parse(bethune))
    rendered = squash(docx_text(io.BytesIO(docs["convention", variant_id].data)))
    seed = squash((FIXTURES / "seed" / f"{variant_id}.txt").read_text(encoding="utf-8"))
    assert in_order_coverage(seed, rendered) >= 0.99


def test_the_convention_is_prefilled_with_name_siret_and_own_region(parse, renderer, bethune):
    text = docx_text(io.BytesIO(_docs(renderer, parse(bethune))["convention", "2021-063-002"].data))
    assert "Communauté d’Agglomération de Béthune-Bruay, Artois-Lys Romane" in text
    assert "200 072 460 00013" in text
    assert "Votre région : Hauts-de-France — Hauts-de-France@resah.fr" in text
    assert text.count("@resah.fr") >= 18  # the 17 mailboxes, plus the own region set apart


def test_the_own_account_box_is_ticked(parse, renderer, bethune):
    text = docx_text(io.BytesIO(_docs(renderer, parse(bethune))["convention", "2021-045-lot2"].data))
    assert "☒ Lorsqu’il agit pour son propre compte" in text
    assert "☐ Le signataire agit pour le compte" in text


def test_the_footer_numbers_pages_with_word_fields(parse, renderer, bethune):
    data = _docs(renderer, parse(bethune))["convention", "2021-047-001"].data
    footer = next(v for k, v in read_members(data) if k.startswith("word/footer")).decode()
    assert (
        "Convention de service d’achat centralisé – Accord-cadre n° 2021-047-001 - Générale – Page" in footer
    )
    assert " PAGE " in footer and " NUMPAGES " in footer


NASTY = 'Syndicat "Eau & Assainissement" <SIVU> d\'Artois'


def test_special_characters_come_out_as_they_went_in(parse, renderer, bethune):
    bethune["signataire"]["denomination"] = NASTY
    docs = _docs(renderer, parse(bethune))
    for kind, variant in (("convention", "2021-045-lot2"), ("bulletin", None)):
        assert NASTY in docx_text(io.BytesIO(docs[kind, variant].data))
    sheet = load_workbook(io.BytesIO(docs["annex", "2021-045-lot2"].data))["Vos besoins"]
    assert NASTY in [c.value for c in sheet["A"]]


def test_the_compiled_renderer_gives_docxtpls_own_output(parse, renderer, resources, variants, bethune):
    bethune["signataire"]["denomination"] = NASTY
    request = parse(bethune)
    variant = variants["2021-045-lot4"]
    context = variant_context(variant, renderer.regions) | signatory_context(variant, request, DAY)
    naive = dict(read_members(render_docx_naive(resources.convention_template, context)))
    ours = dict(read_members(_docs(renderer, request)["convention", "2021-045-lot4"].data))
    assert ours == naive


def test_the_same_input_gives_the_same_bytes(parse, renderer, bethune):
    first = {k: d.data for k, d in _docs(renderer, parse(bethune)).items()}
    second = {k: d.data for k, d in _docs(renderer, parse(bethune)).items()}
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first["convention", "2021-045-lot2"])) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_the_annex_lists_each_beneficiary_with_its_maximum_and_contribution(parse, renderer, bethune):
    ben = dict(bethune["signataire"], montant_maximum=80000)
    region = dict(
        ben,
        denomination="Région Hauts-de-France",
        siret="200 053 742 00017",
        typologie="region",
        montant_maximum=120000,
    )
    bethune.update(mode="mandat", beneficiaires=[ben, region])
    annex = _docs(renderer, parse(bethune))["annex", "2021-045-lot2"].data
    sheet = load_workbook(io.BytesIO(annex))["Vos besoins"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=6) if row[0].value]
    assert rows[0][6].startswith("Montant contractuel maximum")
    assert rows[1][:2] == [ben["denomination"], "20007246000013"]
    assert rows[1][5:] == ["Communautés d’agglomérations pour leurs besoins propres", 80000, 1000]
    assert rows[2][1:] == [
        "20005374200017",
        ben["adresse"],
        "62411",
        "BETHUNE CEDEX",
        "Régions",
        120000,
        1750,
    ]
    assert rows[3][0] == "Total" and rows[3][5:] == ["2 bénéficiaires", "=SUM(G7:G8)", 2750]
    cached = load_workbook(io.BytesIO(annex), data_only=True)["Vos besoins"]
    assert cached["G9"].value == 200000  # what Excel shows before it recalculates, and what intake reads


def test_a_groupement_annex_carries_the_tier_once(parse, variants, bethune):
    ben = dict(bethune["signataire"])
    bethune.update(mode="groupement", beneficiaires=[ben] * 5)
    request = parse(bethune, ["2021-047-001"])
    sheet = load_workbook(io.BytesIO(render_annex(variants["2021-047-001"], request, DAY)))["Vos besoins"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=7)]
    assert [r[7] for r in rows[:-1]] == ["—"] * 5
    assert rows[-1][5] == "Groupement de 5 à 9 bénéficiaires" and rows[-1][7] == 3500


def _annex_sheet(renderer, request, variant="2021-045-lot2"):
    return load_workbook(io.BytesIO(_docs(renderer, request)["annex", variant].data))["Vos besoins"]


def test_the_annex_total_counts_rather_than_repeating_the_typology(parse, renderer, bethune):
    sheet = _annex_sheet(renderer, parse(bethune))
    assert sheet["A8"].value == "Total" and sheet["F7"].value.startswith("Communautés d’agglomérations")
    assert sheet["F8"].value == "1 bénéficiaire"


def test_the_annex_table_has_borders_and_a_filter(parse, renderer, bethune):
    bethune.update(mode="mandat", beneficiaires=[dict(bethune["signataire"]), dict(bethune["signataire"])])
    bethune["beneficiaires"][1]["siret"] = "200 053 742 00017"
    sheet = _annex_sheet(renderer, parse(bethune))
    assert sheet.auto_filter.ref == "A6:H8"
    table = [cell for row in sheet["A6:H9"] for cell in row]
    assert all(c.border.left.style == c.border.bottom.style == "thin" for c in table)
    assert sheet["A5"].border.left.style is None


def test_the_annex_prints_landscape_one_page_wide_with_its_header_repeated(parse, renderer, bethune):
    sheet = _annex_sheet(renderer, parse(bethune))
    setup = sheet.page_setup
    assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$6:$6"


def test_the_annex_columns_fit_their_content(parse, renderer, bethune):
    """About 150 characters in all (208 before): an amount and a SIRET fit; free text wraps."""
    bethune["signataire"]["montant_maximum"] = 999999.99
    sheet = _annex_sheet(renderer, parse(bethune))
    width = {col: sheet.column_dimensions[col].width for col in "ABCDEFGH"}
    assert sum(width.values()) <= 160
    assert width["B"] >= len("20007246000013") and min(width["G"], width["H"]) >= len("999 999,99 €")
    assert all(sheet[f"{col}7"].alignment.wrap_text for col in "ACEF")


def test_an_annex_row_is_as_tall_as_its_wrapped_text(parse, renderer, bethune):
    """LibreOffice keeps a row's height when text wraps: the annex sets it."""
    short = dict(bethune["signataire"], denomination="Béthune", adresse="1 rue X")
    long = dict(short, denomination="Syndicat " * 12, siret="200 053 742 00017")
    bethune.update(mode="mandat", beneficiaires=[short, long])
    sheet = _annex_sheet(renderer, parse(bethune))
    heights = [sheet.row_dimensions[i].height for i in (7, 8)]
    assert heights[0] == 30  # the typology, "Communautés d’agglomérations / pour leurs besoins propres"
    assert heights[1] >= 60  # the name, on four lines


def test_only_the_beneficiarys_maximums_are_open_in_the_locked_sheet(parse, renderer, bethune):
    bethune.update(mode="mandat", beneficiaires=[dict(bethune["signataire"]), dict(bethune["signataire"])])
    bethune["beneficiaires"][1]["siret"] = "200 053 742 00017"
    sheet = _annex_sheet(renderer, parse(bethune))
    assert sheet.protection.sheet and not sheet.protection.password
    assert not sheet.protection.autoFilter  # filtering stays allowed
    open_cells = {
        c.coordinate for row in sheet.iter_rows() for c in row if c.has_style and not c.protection.locked
    }
    assert open_cells == {"G7", "G8"}


@pytest.mark.parametrize(
    "mode, count, total",
    [("compte_propre", 1, "1 bénéficiaire"), ("mandat", 3, "3 bénéficiaires"), ("groupement", 5, None)],
)
def test_intake_reads_the_annex_total_as_the_sign_of_its_mode(
    parse, renderer, variants, bethune, mode, count, total
):
    """The Total's count (a mandate, one's own account) or tier (a groupement) tells intake the mode."""
    bens = [dict(bethune["signataire"], siret=make_siret(40 + i)) for i in range(count)]
    if mode != "compte_propre":
        bethune.update(mode=mode, beneficiaires=bens)
    variant = variants["2021-047-001"]
    data = renderer.annexes[variant.id].render(parse(bethune, [variant.id]), DAY)
    rows, label = annex_rows(extract(Member("annexe.xlsx", data)))
    signs = _printed(variant.tariff, label, "la ligne Total de l'annexe indique")
    assert len(rows) == count and label == (total or "Groupement de 5 à 9 bénéficiaires")
    assert [s.mode for s in signs] == [GROUPEMENT if mode == "groupement" else OTHER_MODE]


NAMES = (
    NASTY,
    "Commune d’Évry-Courcouronnes — Île-de-France",
    "= SUM(A1) : une formule n'en est pas une",
    "Établissement " + "très long nom de collectivité " * 8,
    "Régie 🚰 des eaux",
)
ANNEX_CASES = (  # (variant, mode, [(typology, population, maximum), ...]): one row to a dozen
    ("2021-045-lot2", "compte_propre", [("communaute_agglomeration", None, 250000)]),
    ("2021-045-lot4", "compte_propre", [("commune", 62000, 12345.67)]),
    ("2021-063-002", "mandat", [("region", None, 120000), ("metropole", None, 0.5), ("autre", None, 1)]),
    ("2021-047-001", "groupement", [("commune", 20000 + i * 3000, 10000 * i + 1) for i in range(12)]),
    ("2021-047-001", "mandat", [("communaute_communes", None, 999999999.99), ("commune", 52000, 80000)]),
)


@pytest.mark.parametrize("variant_id, mode, rows", ANNEX_CASES)
def test_the_compiled_annex_gives_openpyxls_own_bytes(parse, variants, bethune, variant_id, mode, rows):
    """The reference is openpyxl's workbook with the Total's cached SUM written in (render_annex)."""
    entities = [
        dict(
            bethune["signataire"],
            denomination=NAMES[i % len(NAMES)],
            siret=make_siret(100 + i),
            typologie=typology,
            montant_maximum=maximum,
            **({"population": population} if population else {}),
        )
        for i, (typology, population, maximum) in enumerate(rows)
    ]
    bethune["signataire"]["denomination"] = NAMES[len(rows) % len(NAMES)]
    if mode == "compte_propre":
        bethune["signataire"].update(entities[0], denomination=bethune["signataire"]["denomination"])
    else:
        bethune.update(mode=mode, beneficiaires=entities)
    request = parse(bethune, [variant_id])
    variant = variants[variant_id]
    assert compile_annex(variant).render(request, DAY) == render_annex(variant, request, DAY)


@pytest.mark.parametrize(
    "medico_social, expected",
    [
        (False, "600,00 € nets de taxe pour l’année civile 2024"),
        (True, "300,00 € nets de taxe pour l’année civile 2024"),
    ],
)
def test_the_bulletin_is_prefilled_with_the_fee(parse, renderer, bethune, medico_social, expected):
    bethune["signataire"]["medico_social"] = medico_social
    text = docx_text(io.BytesIO(_docs(renderer, parse(bethune))["bulletin", None].data)).replace(
        "\u00a0", " "
    )
    assert f"Montant de l’adhésion : {expected}" in text
    assert "BULLETIN D’ADHESION 2024 A LA CENTRALE D’ACHAT" in text
    assert "200 072 460" in text and "Communauté d’Agglomération de Béthune-Bruay" in text


def test_a_bulletin_after_31_october_owes_nothing_this_year(parse, renderer, bethune):
    docs = _docs(renderer, parse(bethune), on=dt.date(2024, 11, 4))
    text = docx_text(io.BytesIO(docs["bulletin", None].data)).replace("\u00a0", " ")
    assert "aucune contribution pour 2024 (bulletin reçu après le 31/10/2024)" in text
    assert "bon de commande de 600,00 € à transmettre pour l’adhésion 2025" in text


def test_the_bulletin_reproduces_the_seed_text(parse, renderer, bethune):
    """The legal text to the letter; the mailbox list comes from regions.yaml instead
    of the seed's two-column list, which repeats two regions and breaks three addresses."""
    docs = _docs(renderer, parse(bethune))
    rendered = squash(docx_text(io.BytesIO(docs["bulletin", None].data)))
    seed = (FIXTURES / "seed" / "bulletin-2024.txt").read_text(encoding="utf-8")
    head, rest = seed.split("Le Bulletin est à retourner")
    tail = rest[rest.index("Annexe 1") :]
    assert in_order_coverage(squash(head), rendered) >= 0.99
    assert in_order_coverage(squash(tail), rendered) >= 0.99


def test_rendered_docx_open_with_python_docx(parse, renderer, bethune):
    for doc in renderer.package(parse(bethune), DAY):
        if doc.relpath.endswith(".docx"):
            assert Document(io.BytesIO(doc.data)).element.body.find(f"{W}p") is not None


def test_the_hand_written_zip_is_byte_for_byte_what_zipfile_writes(resources):
    members = read_members(resources.convention_template.read_bytes()) + [("word/média é.xml", b"<x/>" * 300)]
    ours = zip_bytes(members)
    assert ours == zip_bytes_stdlib(members)
    with zipfile.ZipFile(io.BytesIO(ours)) as zf:
        assert zf.testzip() is None and [i.filename for i in zf.infolist()][-1] == "word/média é.xml"
