"""The form beside a deposit is found whatever the Unicode normalisation and the suffix's case,
and looking for it never raises."""

import json
import os
import unicodedata
from decimal import Decimal

import pytest
import yaml

from pipeline.form import sidecar_for
from pipeline.intake import take_in
from tests import builders as b
from tests.test_watch import WatchProcess, rows, wait_for

ENTITY = b.Entity()
NAMES = ["Dépôt Évry", "Convention signée — Hôpital Saint-Étienne", "Mairie d'Aÿ-Champagne (ñ, ç, œ)"]


@pytest.fixture(scope="module")
def order_only() -> bytes:
    return b.zip_of([("EJ.pdf", b.order_pdf(ENTITY, Decimal("1000")))])


def nf(form: str, text: str) -> str:
    return unicodedata.normalize(form, text)


def write_form(path, data: dict) -> None:
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize("zip_nf, form_nf", [("NFD", "NFC"), ("NFC", "NFD")], ids=["NFD zip", "NFD form"])
@pytest.mark.parametrize("name", NAMES)
def test_a_form_is_paired_with_its_deposit_whatever_the_normalisation(
    tmp_path, intake_ctx, order_only, name, zip_nf, form_nf
):
    deposit = tmp_path / f"{nf(zip_nf, name)}.zip"
    deposit.write_bytes(order_only)
    write_form(tmp_path / f"{nf(form_nf, name)}.json", b.form(ENTITY))
    assert deposit.name != f"{nf(form_nf, name)}.zip"  # the file system keeps both spellings apart
    report = take_in(deposit, intake_ctx)
    assert report.email == "achats@test-sur-mer.example"
    assert list((intake_ctx.workspace.outbox / "depositors" / "new").iterdir())


@pytest.mark.parametrize("suffix", [".JSON", ".Json", ".YAML", ".Yaml", ".YML", ".yml"])
def test_a_forms_suffix_is_recognised_in_any_case(tmp_path, intake_ctx, order_only, suffix):
    deposit = tmp_path / "depot.zip"
    deposit.write_bytes(order_only)
    write_form(tmp_path / f"depot{suffix}", b.form(ENTITY))
    assert take_in(deposit, intake_ctx).email == "achats@test-sur-mer.example"


def test_the_exact_spelling_wins_when_two_forms_match(tmp_path):
    deposit = tmp_path / f"{nf('NFC', NAMES[0])}.zip"
    deposit.write_bytes(b"PK")
    for form in ("NFD", "NFC"):
        (tmp_path / f"{nf(form, NAMES[0])}.json").write_text("{}", encoding="utf-8")
    assert sidecar_for(deposit).name == f"{nf('NFC', NAMES[0])}.json"


def neighbour(kind: str, folder):
    """A deposit beside something that is not a usable form; returns the deposit's path."""
    deposit = folder / "depot.zip"
    if kind == "255-byte deposit name":
        deposit = folder / ("é" * 125 + "x.zip")
    elif kind == "folder named like the form":
        (folder / "depot.json").mkdir()
    elif kind == "fifo named like the form":
        os.mkfifo(folder / "depot.yaml")
    elif kind == "broken symbolic link":
        (folder / "depot.json").symlink_to(folder / "absent.json")
    elif kind == "link to a file elsewhere":
        (folder.parent / "ailleurs.json").write_text("{}", encoding="utf-8")
        (folder / "depot.json").symlink_to(folder.parent / "ailleurs.json")
    elif kind == "missing folder":
        return folder / "absent" / "depot.zip"
    elif kind == "a file in place of the folder":
        (folder / "fichier").write_bytes(b"")
        return folder / "fichier" / "depot.zip"
    return deposit


NEIGHBOURS = [
    "255-byte deposit name",
    "folder named like the form",
    "fifo named like the form",
    "broken symbolic link",
    "link to a file elsewhere",
    "missing folder",
    "a file in place of the folder",
]


@pytest.mark.parametrize("kind", NEIGHBOURS)
def test_looking_for_the_form_never_raises_and_finds_none(tmp_path, kind):
    folder = tmp_path / "drops"
    folder.mkdir()
    assert sidecar_for(neighbour(kind, folder)) is None


@pytest.mark.parametrize("kind", NEIGHBOURS[:5])
def test_a_deposit_beside_an_unusable_form_gets_a_verdict(tmp_path, intake_ctx, order_only, kind):
    folder = tmp_path / "drops"
    folder.mkdir()
    deposit = neighbour(kind, folder)
    deposit.write_bytes(order_only)
    report = take_in(deposit, intake_ctx)
    assert report.status == "incomplete" and report.email is None


@pytest.fixture
def watching(tmp_path):
    process = WatchProcess(tmp_path)
    yield process
    process.stop()


@pytest.mark.slow
def test_the_watcher_pairs_an_nfd_deposit_with_its_nfc_form(tmp_path, watching, order_only):
    inbox = tmp_path / "inbox"
    write_form(inbox / f"{nf('NFC', NAMES[0])}.Json", b.form(ENTITY))
    (inbox / f"{nf('NFD', NAMES[0])}.zip").write_bytes(order_only)
    wait_for(lambda: len(rows(tmp_path)) == 1, "the deposit")
    wait_for(lambda: (tmp_path / "outbox" / "depositors" / "new").is_dir(), "the notice")
    assert list((tmp_path / "outbox" / "depositors" / "new").iterdir())
    wait_for(lambda: not list(inbox.glob("*.Json")), "the form taken with its deposit")
