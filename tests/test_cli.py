"""The `csac` command, run as a real process on files the tests write."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import BETHUNE, VARIANT_IDS, run_csac

HEADER = "denomination;siret;typologie;population;adresse;code_postal;ville;montant_maximum\n"
GOOD = "Commune d'Ajaccio;212 000 046 00012;commune;71000;Avenue Serafini;20000;AJACCIO;90 000\n"
BAD_SIRET = "Commune X;212 000 046 00013;commune;71000;Rue Y;20000;AJACCIO;1000\n"
BAD_TYPO = "Hôpital Z;200 072 460 00013;hopital;;Rue Z;62411;BETHUNE;-5\n"
OVERSEAS = "Saint-Barthélemy;200 015 816 00016;autre;;Rue Lubin Brin;97133;GUSTAVIA;40 000\n"


def _campaign(tmp_path, *lines, name="campagne.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


@pytest.mark.slow  # a program started cold
@pytest.mark.parametrize(
    "program", [[str(Path(sys.executable).with_name("csac"))], [sys.executable, "-m", "pipeline"]]
)
def test_the_installed_program_and_the_module_start_csac(program):
    """Exec'd here: the other tests fork csac from a warm process that has its libraries imported (tests/warm.py)."""
    done = subprocess.run(
        [*program, "--help"], capture_output=True, text=True, env=os.environ | {"COLUMNS": "200"}
    )
    assert done.returncode == 0 and "render-batch" in done.stdout, done.stderr


@pytest.mark.slow  # a real csac process
@pytest.mark.parametrize("command", ["variants", "render", "render-batch"])
def test_every_command_has_help_with_an_example(command):
    result = run_csac(command, "--help")
    assert result.returncode == 0 and "Exemple" in result.stdout


@pytest.mark.slow  # a real csac process
def test_variants_lists_the_four_variants_with_their_tariffs():
    result = run_csac("variants", "--json")
    data = json.loads(result.stdout)
    assert [v["id"] for v in data] == VARIANT_IDS
    lot2 = data[0]["tariff"]
    assert {"label": "Régions", "typology": "region", "amount": "1\u00a0750,00\u00a0€"} in lot2


@pytest.mark.slow  # a real csac process
def test_render_writes_the_full_package(tmp_path):
    beneficiary = tmp_path / "b.yaml"
    beneficiary.write_text(yaml.safe_dump(BETHUNE, allow_unicode=True), encoding="utf-8")
    result = run_csac(
        "render", "all", "-b", str(beneficiary), "-o", str(tmp_path / "out"), "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert sorted(e["kind"] for e in entries) == ["annex"] * 4 + ["bulletin"] + ["convention"] * 4
    for entry in entries:
        written = (tmp_path / "out" / entry["path"]).read_bytes()
        assert hashlib.sha256(written).hexdigest() == entry["sha256"]


@pytest.mark.slow  # a real csac process
def test_bad_input_exits_2_lists_every_error_and_writes_nothing(tmp_path):
    data = json.loads(json.dumps(BETHUNE))
    data["signataire"].update(siret="200 072 460 00014", typologie="hopital", montant_maximum=-1)
    del data["signataire"]["ville"]
    beneficiary = tmp_path / "b.json"
    beneficiary.write_text(json.dumps(data), encoding="utf-8")
    result = run_csac("render", "all", "-b", str(beneficiary), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "b.json" in result.stderr and "ville" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # a real csac process
def test_all_domain_errors_are_listed_together(tmp_path):
    data = json.loads(json.dumps(BETHUNE))
    data["signataire"].update(siret="200 072 460 00014", typologie="hopital", montant_maximum=-1)
    beneficiary = tmp_path / "b.json"
    beneficiary.write_text(json.dumps(data), encoding="utf-8")
    result = run_csac("render", "2021-045-lot2", "-b", str(beneficiary), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    for field in ("signataire.siret", "signataire.typologie", "signataire.montant_maximum"):
        assert field in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # a real csac process
def test_an_unknown_variant_exits_1_as_a_bad_argument(tmp_path):
    beneficiary = tmp_path / "b.yaml"
    beneficiary.write_text(yaml.safe_dump(BETHUNE, allow_unicode=True), encoding="utf-8")
    result = run_csac("render", "2021-045-lot9", "-b", str(beneficiary), "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and "2021-045-lot9" in result.stderr and "Utilisation" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # a real csac process
def test_a_batch_goes_on_past_bad_rows_and_reports_their_numbers(tmp_path):
    campaign = _campaign(tmp_path, GOOD, BAD_SIRET, BAD_TYPO, OVERSEAS)
    result = run_csac(
        "render-batch",
        str(campaign),
        "--variants",
        "2021-045-lot2",
        "-o",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "ligne 3" in result.stderr and "ligne 4" in result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert [r["row"] for r in manifest["rejected"]] == [3, 4]
    assert {e["siret"] for e in manifest["outputs"]} == {"21200004600012", "20001581600016"}
    assert len(manifest["outputs"]) == 2 * 3  # convention, annex, bulletin per good row
    for entry in manifest["outputs"]:
        written = (tmp_path / "out" / entry["path"]).read_bytes()
        assert hashlib.sha256(written).hexdigest() == entry["sha256"]
    assert not list((tmp_path / "out").glob("212000046000*/*.part"))


@pytest.mark.slow  # a real csac process
def test_a_second_row_for_the_same_siret_is_refused(tmp_path):
    campaign = _campaign(tmp_path, GOOD, GOOD)
    result = run_csac(
        "render-batch", str(campaign), "--variants", "2021-063-002", "-o", str(tmp_path / "out"), cwd=tmp_path
    )
    assert result.returncode == 2 and "déjà présent ligne 2" in result.stderr


@pytest.mark.slow  # a real csac process
def test_the_same_campaign_rendered_twice_gives_identical_files(tmp_path):
    campaign = _campaign(tmp_path, GOOD, OVERSEAS)
    for out in ("a", "b"):
        result = run_csac(
            "render-batch", str(campaign), "-o", str(tmp_path / out), "--date", "2024-03-01", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 2 * 9 + 1
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


@pytest.mark.slow  # a real csac process
def test_a_yaml_campaign_renders_mandates_and_groupements(tmp_path):
    example = Path(__file__).parent.parent / "examples" / "campagne.yaml"
    result = run_csac(
        "render-batch", str(example), "--variants", "2021-047-001", "-o", str(tmp_path / "out"), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == 3 and manifest["rejected"] == []
