"""Each rule in one place: SIRETs, accord-cadre numbers, the contribution due, the Resah's own identity.

Rendering and intake read and compute these the same way because they ask the
same module; the tests go through both sides with the files csac renders.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from pipeline import sirets
from pipeline.classify import recognise_variant
from pipeline.errors import ConfigError
from pipeline.intake import Deposit, IntakeContext, assess, take_in
from pipeline.markets import markets_named
from pipeline.render import Renderer
from pipeline.request import contribution_due, parse_request
from pipeline.resah import load_resah
from pipeline.resources import Resources, Workspace
from pipeline.tariff import GROUPEMENT
from pipeline.variants import load_variants
from tests import builders as b

DAY = dt.date(2024, 3, 1)
VARIANTS = load_variants(Resources.default())
# On one xdist worker: the four one-variant renderers (one_variant_renderers) are then built once.
pytestmark = pytest.mark.xdist_group("rules-once")
SEPARATORS = {
    "spaces": " ",
    "dots": ".",
    "no-break spaces": "\u00a0",
    "narrow no-break spaces": "\u202f",
    "dashes": "-",
    "en dashes": "\u2013",
}


def written_with(siret: str, separator: str) -> str:
    return sirets.spaced(siret).replace(" ", separator)


# -- SIRETs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_a_siret_written_with_any_separator_is_its_fourteen_digits(separator):
    written = f" {written_with('20007246000013', separator)} "
    assert sirets.compact(written) == "20007246000013" and sirets.is_valid(written)


@pytest.mark.parametrize("separator", [".", "-", "\u2013"], ids=["dots", "dashes", "en dashes"])
def test_a_groupement_annex_writing_sirets_with_dots_or_dashes_counts_its_members(
    resources, variants, intake_ctx, drop, separator
):
    members = b.members_of(3)
    docs = b.groupement_rendered(resources, variants, members)
    book = load_workbook(io.BytesIO(docs["annex"]))
    cells = [c for row in book.active.iter_rows() for c in row if c.value in {m.siret for m in members}]
    for cell in cells:
        cell.value = written_with(cell.value, separator)
    annex = io.BytesIO()
    book.save(annex)
    data = b.zip_of([("Convention.docx", docs["convention"]), ("Annexe.xlsx", annex.getvalue())])
    due = assess(Deposit("depot.zip", data, None), intake_ctx).due
    assert len(cells) == 3 and (due.certain, due.amount) == (True, Decimal("3000"))  # 2 to 4 members


# -- Accord-cadre numbers -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, read",
    [
        ("Accord-cadre n° 2021-045 lot n° 2 - Générale", [("2021-045", 2)]),
        ("2021-045-002", [("2021-045", 2)]),
        ("Vu l'accord-cadre n° 2021-047-001 conclu par le Resah", [("2021-047", 1)]),
        ("Marché 2021-045", [("2021-045", None)]),
        ("AC-2021-063-002", [("2021-063", 2)]),
        ("tél. 12-2021-045", []),
    ],
)
def test_an_accord_cadre_number_is_read_with_its_lot(text, read):
    assert [(m.procedure, m.lot) for m in markets_named(text)] == read


@pytest.mark.parametrize(
    "text, read",
    [
        ("Accord-cadre n° 202 1-063-002", [("2021-063", 2)]),  # a space in the year
        ("Accord-cadre n° 2021-063-0O2", [("2021-063", 2)]),  # O for 0
        ("2O21-O63-OO2", [("2021-063", 2)]),
        ("Accord-cadre n° 202l-047-00l", [("2021-047", 1)]),  # l for 1
        ("Accord-cadre n° 2021 - 045 lot n° 2", [("2021-045", 2)]),  # spaces about the hyphen
        ("Accord-cadre n° 2021–063–002", [("2021-063", 2)]),  # en dashes
    ],
)
def test_an_accord_cadre_number_damaged_by_ocr_is_read_as_printed(text, read):
    assert [(m.procedure, m.lot) for m in markets_named(text)] == read


@pytest.mark.parametrize(
    "text",
    [
        "le 2021-06-30",  # a date
        "SIRET 20005103500018",
        "n° 12021-063-002",  # a longer run of digits
        "2021-0633-002",
        "tél. 02 21-063-002",
        "pour 2021 - loi du 7 août",  # a word where a number would be
        "exercices 2021 - 2022",
    ],
)
def test_what_only_looks_like_a_damaged_number_is_none(text):
    assert markets_named(text) == []


@pytest.mark.parametrize(
    "text, variant",
    [
        ("Accord-cadre n° 202 1-063-002", "2021-063-002"),
        ("Accord-cadre n° 2021-063-0O2", "2021-063-002"),
        ("Accord-cadre n° 2021-063-0O3", None),  # another lot: no variant, never the nearest one
        ("Accord-cadre n° 2021-O64-002", None),  # another procedure
    ],
)
def test_a_damaged_number_names_its_variant_and_no_neighbour(text, variant):
    assert recognise_variant(text, VARIANTS)[0] == variant


def test_each_variants_market_is_read_from_its_data_by_the_same_parser():
    assert {v.id: (v.market.procedure, v.market.lot) for v in VARIANTS.values()} == {
        "2021-045-lot2": ("2021-045", 2),
        "2021-045-lot4": ("2021-045", 4),
        "2021-047-001": ("2021-047", 1),
        "2021-063-002": ("2021-063", 2),
    }


# -- The contribution due -----------------------------------------------------------------------
def _cases() -> list:
    """Every row of every variant's tariff, then a mandate of two bodies per variant."""
    cases = []
    for v in VARIANTS.values():
        for row in v.tariff.rows:
            mode = "groupement" if row.typology == GROUPEMENT else "compte_propre"
            cases.append(pytest.param(v.id, mode, row.label, id=f"{v.id}:{row.label}"))
        cases.append(pytest.param(v.id, "mandat", None, id=f"{v.id}:mandat"))
    return cases


def _request_data(variant, mode: str, label: str | None) -> dict:
    if mode == "mandat":
        bodies = [b.Entity("Communauté de communes du Test", b.make_siret(11), "communaute_communes"),
                  b.Entity("Communauté d'agglomération du Test", b.make_siret(12), "communaute_agglomeration")]  # fmt: skip
        data = bodies[0].data("mandat")
        data["beneficiaires"] = [e.data()["signataire"] for e in bodies]
        return data
    row = next(r for r in variant.tariff.rows if r.label == label)
    if mode == "groupement":
        members = b.members_of(row.members.min)
        data = members[0].data("groupement")
        data["beneficiaires"] = [m.data()["signataire"] for m in members]
        return data
    population = (row.population.min or row.population.max) if row.population else None
    return b.Entity(typology=row.typology, population=population).data()


@pytest.fixture(scope="module")
def one_variant_renderers(resources):
    return {i: Renderer.build(resources, [v]) for i, v in VARIANTS.items()}


@pytest.fixture(scope="module")
def unregistered(resources, tmp_path_factory):
    """Intake with no register of signatories: the due comes from the documents alone."""
    root = tmp_path_factory.mktemp("unregistered")
    return IntakeContext.build(resources, Workspace(root / "inbox", root / "outbox", root / "var"))


@pytest.mark.parametrize("variant_id, mode, label", _cases())
def test_rendering_and_intake_owe_the_same_contribution(
    one_variant_renderers, resources, unregistered, variant_id, mode, label
):
    renderer, variant = one_variant_renderers[variant_id], VARIANTS[variant_id]
    data = _request_data(variant, mode, label)
    request = parse_request(data, "test", renderer.regions, resources.schema("beneficiary"), [variant])
    docs = {d.kind: d.data for d in renderer.package(request, DAY, ("convention", "annex"))}
    deposit = b.zip_of([("Convention.docx", docs["convention"]), ("Annexe.xlsx", docs["annex"])])
    due = assess(Deposit("depot.zip", deposit, None), unregistered).due
    assert (due.certain, due.amount) == (True, contribution_due(variant, request).amount)


# -- The Resah's own identity -------------------------------------------------------------------
def test_the_resahs_own_siret_is_the_one_its_data_file_gives(tmp_path, resources, drop):
    home = tmp_path / "home"
    shutil.copytree(resources.templates, home / "templates" / "csac")
    shutil.copytree(resources.root / "schemas", home / "schemas")
    moved = Resources(home)
    other = b.make_siret(31337)
    moved.resah_file.write_text(
        moved.resah_file.read_text(encoding="utf-8").replace('"13000501000025"', f'"{other}"'),
        encoding="utf-8",
    )
    commune = b.Entity()
    order = b.text_pdf(  # the supplier's block first, as many orders print it
        ["BON DE COMMANDE", f"Fournisseur : {load_resah(moved.resah_file).as_supplier}",
         "Numéro d'engagement juridique : 1300012345", f"Acheteur : {commune.name}",
         f"SIRET : {b.spaced(commune.siret)}", commune.address, f"{commune.postal_code} {commune.city}",
         "Montant total : 1 000,00 €"],
        "Bon de commande",
    )  # fmt: skip
    data = b.zip_of([("EJ.pdf", order)])

    def signatory(res: Resources, name: str) -> str:
        ctx = IntakeContext.build(
            res, Workspace(tmp_path / name / "in", tmp_path / name / "out", tmp_path / name)
        )
        return take_in(drop(data, f"{name}.zip", form=b.form(commune)), ctx).siret

    assert signatory(moved, "moved") == commune.siret
    assert signatory(resources, "default") == other  # for the default data, a stranger's SIRET


def test_a_resah_data_file_whose_siret_fails_its_check_digit_is_refused(tmp_path, resources):
    wrong = tmp_path / "resah.yaml"
    wrong.write_text(resources.resah_file.read_text(encoding="utf-8").replace("025", "026"), encoding="utf-8")
    with pytest.raises(ConfigError, match="siret : 13000501000026 n'est pas un SIRET valide"):
        load_resah(wrong)


# -- The input file's French keys, mapped at the edge -------------------------------------------
CONTACT = {
    "civilite": "Madame",
    "nom": "Durand",
    "prenom": "Claire",
    "fonction": "Directrice de la commande publique",
    "email": "c.durand@bethune-bruay.example",
    "telephone": "03 21 61 50 00",
}


def _rendered_text(renderer, parse, data, kind: str) -> str:
    from tests.conftest import docx_text

    docs = renderer.package(parse(data), DAY, (kind,))
    return docx_text(io.BytesIO(next(d for d in docs if d.kind == kind).data))


def test_the_bulletin_prints_the_contact_person_the_input_file_names(renderer, parse, bethune):
    bethune["signataire"]["contact"] = CONTACT
    text = _rendered_text(renderer, parse, bethune, "bulletin")
    assert [v for v in CONTACT.values() if v not in text] == []


def test_the_convention_and_the_bulletin_name_the_representative(renderer, parse, bethune):
    bethune["signataire"]["representant"] = "Monsieur Olivier Gacquerre, Président"
    for kind in ("convention", "bulletin"):
        assert "Monsieur Olivier Gacquerre, Président" in _rendered_text(renderer, parse, bethune, kind)
