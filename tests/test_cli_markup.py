"""What depositors and signatories write is printed as they wrote it: a name or a file name with square
brackets or colons is text, not rich markup or an emoji code. "[/]" in a name used to stop `csac render`
with an internal error once its files were written, and ":smile:" came out as an emoji.

Each command runs in this process (typer's CliRunner) in a fresh folder, over real files.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml

from testkit.documents import make_siret
from tests.test_cli_options import EXAMPLES, csac, fresh_folder  # noqa: F401 (autouse: a fresh folder each)

WRITTEN = ["Commune [/] de Gras", "Ville de [bold]Vire[/bold]", "Bourg :smile: et :thumbs_up:", "Mairie [red",
           "Syndicat \\[x] des eaux", "[link=https://exemple.invalid]Clic[/link]"]  # fmt: skip


@pytest.mark.parametrize("name", WRITTEN)
def test_a_signatory_name_is_printed_as_written_by_render(name):
    data = yaml.safe_load((EXAMPLES / "beneficiaire.yaml").read_text(encoding="utf-8"))
    data["signataire"]["denomination"] = name
    Path("b.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = csac("render", "2021-063-002", "-b", "b.yaml", "-o", "sortie")
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"{name} → Hauts-de-France" in result.stdout


@pytest.mark.parametrize("name", WRITTEN)
def test_a_deposit_file_name_is_printed_as_written_by_intake(name):
    deposit = Path(f"{name.replace('/', '-')}.zip")
    with zipfile.ZipFile(deposit, "w") as archive:
        archive.writestr("note.txt", "rien de signé")
    result = csac("intake", deposit, "--outbox", "sortie", "--state", "etat")
    assert "erreur interne" not in result.output, result.output
    assert deposit.name in result.stdout, result.stdout


@pytest.mark.parametrize("name", WRITTEN)
def test_a_refused_campaign_row_is_named_as_written_by_render_batch(name):
    Path("c.csv").write_text(
        "denomination;siret;typologie;population;adresse;code_postal;ville;montant_maximum\n"
        f"{name};{make_siret(91)};commune;5000;1 rue Haute;62000;ARRAS;1000\n"
        f"{name} bis;123;commune;5000;1 rue Haute;62000;ARRAS;1000\n",
        encoding="utf-8",
    )
    result = csac(
        "render-batch", "c.csv", "--variants", "2021-063-002", "--documents", "convention", "-o", "s"
    )
    assert "erreur interne" not in result.output, result.output
    assert (
        f"{name} bis" in result.stderr and "ligne 3 " in result.stderr
    )  # the header is line 1, result.stderr


# -- file names given on the command line, and the relay's words ---------------------------------------

FOLDER = "dossier [/] :smile:"  # a folder a clerk may name so (brackets, colons); "[/]" stopped csac


def test_render_batch_names_its_manifest_in_a_folder_named_with_brackets():
    Path("c.csv").write_text(
        "denomination;siret;typologie;population;adresse;code_postal;ville;montant_maximum\n"
        f"Ville de Vire;{make_siret(92)};commune;5000;1 rue Haute;62000;ARRAS;1000\n",
        encoding="utf-8",
    )
    result = csac(
        "render-batch", "c.csv", "--variants", "2021-063-002", "--documents", "convention", "-o", FOLDER
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"manifeste : {Path(FOLDER) / 'manifest.json'}" in result.stdout, result.stdout


def test_sample_deposit_names_its_files_in_a_folder_named_with_brackets():
    result = csac("sample-deposit", "-b", EXAMPLES / "beneficiaire.yaml", "-o", Path(FOLDER) / "depot.zip")
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"{Path(FOLDER) / 'depot.zip'}" in result.stdout, result.stdout


def test_config_check_names_a_configuration_and_folders_named_with_brackets():
    Path(FOLDER).mkdir(parents=True)  # "[/]" makes it two folders: "dossier [" and "] :smile:"
    config = Path(FOLDER) / "csac.yaml"
    config.write_text(f"paths: {{inbox: '{FOLDER}/entree', outbox: sortie, state: etat}}\n", encoding="utf-8")
    result = csac("--config", config, "config", "check")
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"configuration : {config}" in result.stdout and f"entrée {FOLDER}/entree" in result.stdout


class _Answers:
    """A relay whose answer to NOOP quotes what it likes (its words are not csac's)."""

    async def handle_NOOP(self, server, session, envelope, arg):
        return "250 2.0.0 Ok [/] :smile: [bold]relais[/bold]"


def test_config_check_connect_prints_the_relays_answer_as_it_said_it():
    from aiosmtpd.controller import Controller

    from tests.test_smtp import free_port

    port = free_port()
    relay = Controller(_Answers(), hostname="127.0.0.1", port=port)
    relay.start()
    try:
        Path("relais.yaml").write_text(
            f"smtp: {{host: 127.0.0.1, port: {port}, security: none, sender: csac@resah.fr, timeout: 5}}\n",
            encoding="utf-8",
        )
        result = csac("--config", "relais.yaml", "config", "check", "--connect")
    finally:
        relay.stop()
    assert result.exit_code == 0, (result.output, result.exception)
    assert "250 2.0.0 Ok [/] :smile: [bold]relais[/bold]" in result.stdout, result.stdout
