"""What a signatory file may hold in its texts: they go as they are into the Word documents, the
annex and the register, and are read by people who cannot see an invisible character.

Decided: a line break or a tab (a folded YAML line, a cell typed with Alt+Entrée) is printed as one
space; any other control character (NUL, ESC, DEL, C1) and every invisible formatting character
(zero-width space or joiner, soft hyphen, bidirectional mark, override or isolate, byte order mark)
is refused, naming the file, the row, the field, the character and where it is: removing it quietly
could hide a name made to read otherwise (U+202E turns "Béthune" around on the page).
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
import yaml
from docx import Document
from openpyxl import load_workbook
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import ExitCode, InputError
from tests.conftest import BETHUNE
from tests.test_cli_french import CAMPAIGN_HEADER, ENGLISH

runner = CliRunner(env={"COLUMNS": "1000"})

INVISIBLE = {  # character: what the message calls it
    "\u202e": "forçage droite-à-gauche (U+202E)",
    "\u2067": "isolat droite-à-gauche (U+2067)",
    "\u200f": "marque droite-à-gauche (U+200F)",
    "\u200b": "espace sans largeur (U+200B)",
    "\u200d": "liant sans largeur (U+200D)",
    "\ufeff": "indicateur d'ordre des octets (U+FEFF)",
    "\u00ad": "trait d'union conditionnel (U+00AD)",
    "\x00": "caractère nul (U+0000)",
    "\x1b": "caractère de contrôle (U+001B)",
    "\x7f": "caractère de contrôle (U+007F)",
    "\x9b": "caractère de contrôle (U+009B)",
}
FIELDS = ["denomination", "adresse", "ville", "representant", "typologie"]


@pytest.fixture(autouse=True)
def fresh_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _signatory_file(field: str, value: str, suffix: str = ".yaml") -> Path:
    data = copy.deepcopy(BETHUNE)
    data["signataire"][field] = value
    path = Path(f"signataire{suffix}")
    text = (
        json.dumps(data, ensure_ascii=False)
        if suffix == ".json"
        else yaml.safe_dump(data, allow_unicode=True)
    )
    path.write_text(text, encoding="utf-8")
    return path


def _render(path: Path, *more: str):
    return runner.invoke(
        app, ["render", "2021-063-002", "-b", str(path), "-o", "out", "--state", "var", *more]
    )


CASES = [(FIELDS[i % len(FIELDS)], char) for i, char in enumerate(INVISIBLE)]  # each field, each character


@pytest.mark.parametrize(("field", "char"), CASES, ids=[f"{f}-U+{ord(c):04X}" for f, c in CASES])
def test_an_invisible_character_in_a_signatory_text_is_refused_naming_it_and_where(field, char):
    value = {"typologie": "commune", "representant": "Marie Durand, Maire"}.get(field, "Béthune-Bruay")
    at = 4
    path = _signatory_file(field, value[:at] + char + value[at:], ".json" if char == "\x00" else ".yaml")
    result = _render(path)
    error = result.exception
    assert isinstance(error, InputError) and error.exit_code == ExitCode.input_file, result.output
    said = str(error)
    assert path.name in said and f"signataire.{field} : caractère invisible" in said, said
    assert f"{INVISIBLE[char]}, en position {at + 1} après « {value[:at]} »" in said, said
    assert not ENGLISH.search(said) and char not in said, said
    assert not Path("out").exists() and not Path("var").exists()


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\x1b"], ids=["U+202E", "U+200B", "U+001B"])
def test_an_invisible_character_in_a_campaign_row_is_refused_with_its_line_and_field(char):
    good = "Commune d'Ajaccio;212 000 046 00012;commune;71000;Avenue Serafini;20000;AJACCIO;Le Maire;;90 000"
    bad = good.replace("Avenue Serafini", f"Avenue{char} Serafini").replace("212 000 046", "200 072 460")
    bad = bad.replace("00012", "00013")
    Path("campagne.csv").write_text("\n".join([CAMPAIGN_HEADER, good, bad]) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["render-batch", "campagne.csv", "--variants", "2021-063-002", "-o", "out", "--state", "var"]
    )
    manifest = json.loads(Path("out/manifest.json").read_text(encoding="utf-8"))
    [rejected] = manifest["rejected"]
    assert rejected["row"] == 3 and len(manifest["outputs"]) == 3  # the good row's three documents
    [error] = rejected["errors"]
    assert error["path"] == "signataire.adresse" and "caractère invisible" in error["message"], rejected
    assert char not in result.output, result.output  # the row's label is printed without it too


def test_a_second_row_for_a_siret_is_refused_with_every_other_problem_it_has():
    good = "Commune d'Ajaccio;212 000 046 00012;commune;71000;Avenue Serafini;20000;AJACCIO;Le Maire;;90 000"
    again = good.replace("Avenue Serafini", "Avenue\u200b Serafini").replace(";20000;", ";2000;")
    Path("campagne.csv").write_text("\n".join([CAMPAIGN_HEADER, good, again]) + "\n", encoding="utf-8")
    runner.invoke(
        app, ["render-batch", "campagne.csv", "--variants", "2021-063-002", "-o", "out", "--state", "var"]
    )
    [rejected] = json.loads(Path("out/manifest.json").read_text(encoding="utf-8"))["rejected"]
    paths = sorted(e["path"] for e in rejected["errors"])
    assert paths == ["signataire.adresse", "signataire.code_postal", "signataire.siret"], rejected


@pytest.mark.parametrize(
    "written",
    ["Commune\tde Béthune", "Commune\nde Béthune\n", "Commune \r\nde  Béthune", "Commune\u2028de Béthune"],
)
def test_a_line_break_or_a_tab_in_a_name_is_printed_as_one_space(written):
    """A folded YAML line, a cell typed with Alt+Entrée: the text is right, only laid out."""
    result = _render(_signatory_file("denomination", written), "--no-bulletin")
    assert result.exit_code == 0, result.output
    [convention] = Path("out").glob("*/CSAC_*.docx")
    text = "\n".join(p.text for p in Document(convention).paragraphs)
    assert "Commune de Béthune" in text and "\t" not in text
    [annex] = Path("out").glob("*/Annexe_*.xlsx")
    sheet = load_workbook(io.BytesIO(annex.read_bytes()))["Vos besoins"]
    assert sheet["A7"].value == "Commune de Béthune"
