"""Everything `csac` says to a person is French, and its exit code says whose fault it was.

The commands run in this process through typer's CliRunner, in a fresh folder: bad arguments exit 1
with the usage line, the error and where the help is; bad input exits 2 naming the file, the line
or field and what to do; no English from typer, jsonschema, PyYAML or the system shows through.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from pipeline.cli import app, main
from pipeline.errors import CsacError, ExitCode
from pipeline.reading import load_yaml, said_failure, unreadable, what_to_do
from tests import builders as b

EXAMPLES = Path(__file__).parent.parent / "examples"
BENEFICIARY = EXAMPLES / "beneficiaire.yaml"
CAMPAIGN_HEADER = (EXAMPLES / "campagne.csv").read_text(encoding="utf-8").splitlines()[0]
ENGLISH = re.compile(
    r"\b(Usage|Error|Invalid value|Missing (argument|option)|No such (option|command)|Try '|Show this message"
    r"|Commands|\[default|\[required\]|Did you mean|Possible options|does not exist|is a directory"
    r"|was unexpected|Errno|No such file|while (parsing|scanning)|expected|Input should|Value error|range|Traceback"
    r"|Permission denied|File exists|Not a directory|Warning|INFO)\b"
)
runner = CliRunner(env={"COLUMNS": "1000"})  # rich wraps nothing: lines read whole


@pytest.fixture(autouse=True)
def fresh_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("CSAC_STATE", "CSAC_OUTBOX", "CSAC_INBOX"):
        monkeypatch.delenv(var, raising=False)


def csac(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def refused(result, code: ExitCode, *fragments: str) -> bool:
    """Exited with `code`, said every fragment, and said nothing in English. An error of csac itself
    reaches CliRunner as its exception: `csac`'s main prints it and exits with its code (tested below)."""
    error = result.exception if isinstance(result.exception, CsacError) else None
    said = result.output + (str(error) if error else "")
    assert not ENGLISH.search(said), said
    assert all(f in said for f in fragments), said
    return (error.exit_code if error else result.exit_code) == code


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["intake", "absent.zip"], ExitCode.bad_args, "fichier introuvable : « absent.zip »"),
        (["status", "--region", "Atlantide"], ExitCode.bad_args, "Atlantide"),
        (["render", "2021-063-002", "-b", "absent.yaml"], ExitCode.input_file, "fichier introuvable"),
        (["render", "2021-063-009", "-b", str(BENEFICIARY)], ExitCode.bad_args, "2021-063-009"),
    ],
    ids=["usage error", "unknown region", "unreadable file", "unknown variant"],
)
def test_csac_exits_1_on_bad_arguments_and_2_on_bad_input(argv, code, said, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["csac", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == code and said in err and not ENGLISH.search(err), err


@pytest.mark.parametrize(
    ("argv", "command", "said"),
    [
        (["status", "--region", "Atlantide"], "csac status", "région inconnue : Atlantide"),
        (["--config", "absent.yaml", "dossier", "show", "nope", "--state", "var"], "csac dossier show",
         "dossier inconnu : nope"),
        (["digest", "--region", "hdf", "--since", "7j", "--state", "var"], "csac digest", "région inconnue : hdf"),
    ],
    ids=["status region", "dossier show", "digest region"],
)  # fmt: skip
def test_an_argument_csac_does_not_know_shows_the_usage_line_and_where_the_help_is(
    argv, command, said, monkeypatch, capsys
):
    """README: exit 1 with "the usage line, the error and where the help is", as for typer's own errors."""
    if "absent.yaml" in argv:
        Path("absent.yaml").write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["csac", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err.splitlines()
    assert exited.value.code == ExitCode.bad_args, err
    assert err[0].startswith(f"Utilisation : {command} [OPTIONS]") and err[1] == f"Aide : {command} --help", (
        err
    )
    assert err[2].startswith(f"erreur : {said}"), err


# -- bad arguments: exit 1, in French ---------------------------------------------------------------

BAD_ARGUMENTS = [
    (["intake", "absent.zip"], "fichier introuvable : « absent.zip »"),
    (["intake"], "il manque l’argument DÉPÔTS"),
    (["intake", "--bogus", "x.zip"], "option inconnue : --bogus"),
    (["intake", "--jsn"], "vouliez-vous dire --json ?"),
    (["intake", "."], "« . » est un dossier ; un fichier est attendu"),
    (["render-batch", "c.csv", "--jobs", "abc"], "--jobs/-j : « abc » : un nombre entier est attendu"),
    (["remind", "--days", "0"], "--days : « 0 » : au moins 1 est attendu"),
    (["status", "-n", "-3"], "--limit/-n : « -3 » : au moins 1 est attendu"),
    (["render-batch", "c.csv", "--jobs", "0"], "--jobs/-j : « 0 » : au moins 1 est attendu"),
    (["remind", "--now", "hier"], "une date au format AAAA-MM-JJ ou AAAA-MM-JJThh:mm est attendue"),
    (["render", "all", "-b", "x.yaml", "--date", "2024-13-01"], "« 2024-13-01 » : une date au format AAAA-MM-JJ"),
    (["watch", "--poll", "vite"], "--poll : « vite » : un nombre est attendu"),
    (["intak"], "commande inconnue : « intak » (vouliez-vous dire intake ?)"),
    (["dossier", "acept"], "commande inconnue : « acept »"),
    (["intake", "a.zip", "--form"], "l’option --form attend une valeur"),
    (["variants", "--json=oui"], "l’option --json ne prend pas de valeur"),
    (["status", "en", "trop"], "argument(s) en trop : en trop"),
    (["digest", "--since", "7j"], "il manque l’option --region"),
    (["render-batch", "c.csv", "--documents", "lettre"], "« lettre » inconnu ; choisissez parmi convention, annexe"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "said"), BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_exits_1_and_says_what_is_wrong_in_french(args, said):
    Path("c.csv").write_text(CAMPAIGN_HEADER + "\n", encoding="utf-8")
    assert refused(csac(*args), ExitCode.bad_args, "erreur : ", said)


@pytest.mark.parametrize("args", [["intake", "absent.zip"], ["render-batch", "--jobs", "x", "c.csv"]])
def test_a_bad_argument_shows_the_usage_line_and_where_the_help_is(args):
    result = csac(*args)
    command = args[0]
    assert f"Utilisation : root {command} [OPTIONS]" in result.stderr
    assert f"Aide : root {command} --help" in result.stderr


@pytest.mark.parametrize("args", [[], ["dossier"], ["config"]])
def test_a_group_without_its_command_shows_its_help_and_exits_1(args):
    result = csac(*args)
    assert result.exit_code == ExitCode.bad_args and "Commandes" in result.stdout


def _commands(group, path=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield [*path, name]


COMMANDS = list(_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("path", [[], *COMMANDS], ids=["csac", *(" ".join(p) for p in COMMANDS)])
def test_every_help_is_french_from_usage_to_the_last_option(path):
    result = csac(*path, "--help")
    assert result.exit_code == 0
    assert not ENGLISH.search(result.stdout), result.stdout
    assert "Utilisation : root" in result.stdout and "Affiche cette aide et quitte." in result.stdout
    assert not re.search(r"<(path|bool|str|int|float|file)\b|\bx ?[<>]=?", result.stdout, re.I), result.stdout
    assert not path or "Exemple" in result.stdout


def test_help_shows_defaults_and_required_options_in_french():
    result = csac("render", "--help")
    assert "[par défaut : outbox]" in result.stdout and "[obligatoire]" in result.stdout
    assert "<AAAA-MM-JJ>" in result.stdout and "<chemin>" in result.stdout


@pytest.mark.parametrize(
    ("path", "said"),
    [(["remind"], "--days           <entier> [au moins 1]"), (["intake"], "DÉPÔTS      <chemin...>"),
     (["serve"], "--deposits-per-minute        <entier> [au moins 1]")],
    ids=["remind", "intake", "serve"],
)  # fmt: skip
def test_help_says_a_number_s_bounds_and_a_list_of_paths_in_french(path, said):
    """typer wrote "<int range> [x>=1]" and "<Path...>": neither is French."""
    result = csac(*path, "--help")
    assert said in re.sub(r"[│ ]+$", "", result.stdout, flags=re.M), result.stdout


# -- a folder csac must write and cannot: exit 5, in French, no traceback ---------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["render", "2021-063-002", "-b", str(BENEFICIARY), "-o", "bloque", "--state", "var"],
         "bloque/20007246000013 : un élément du chemin n'est pas un dossier"),
        (["render", "2021-063-002", "-b", str(BENEFICIARY), "-o", "out", "--state", "bloque"],
         "bloque : un fichier porte déjà ce nom"),
        (["status", "--state", "bloque"], "bloque/queue : un élément du chemin n'est pas un dossier"),
        (["render", "2021-063-002", "-b", str(BENEFICIARY), "-o", "/proc/csac", "--state", "var"],
         "/proc/csac : fichier ou dossier introuvable"),
    ],
    ids=["output folder is a file", "state folder is a file", "status state is a file", "output folder impossible"],
)  # fmt: skip
def test_a_folder_csac_cannot_write_exits_5_saying_which_and_why_in_french(argv, said, monkeypatch, capsys):
    """Python's "[Errno 20] Not a directory" and a rich traceback showed, and csac exited 1."""
    Path("bloque").write_text("un fichier là où un dossier est attendu", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["csac", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == ExitCode.file_access_error and said in err, err
    assert not ENGLISH.search(err) and "Errno" not in err and "╭" not in err, err


# -- bad input: exit 2, in French, naming the file and where -------------------------------------------


def _beneficiary(text: str, name: str = "signataire.yaml") -> Path:
    path = Path(name)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


GOOD = BENEFICIARY.read_text(encoding="utf-8")
BAD_INPUTS = [
    ("unknown field", GOOD.replace("  siret:", "  sirett:"), "signataire.yaml",
     ["champ inconnu : « sirett » (vouliez-vous dire siret ?)", "champ obligatoire manquant : siret"]),
    ("two unknown fields", GOOD.replace("  ville:", "  vile:").replace("  email:", "  courriel:"), "signataire.yaml",
     ["champs inconnus : « courriel »", "« vile » (vouliez-vous dire ville ?)"]),
    ("text for a number", GOOD.replace("2021-045-lot2: 250000", "2021-045-lot2: beaucoup"), "signataire.yaml",
     ["« beaucoup »", "un nombre est attendu"]),
    ("unclosed list", "signataire:\n  denomination: X\n  siret: [1\n", "signataire.yaml",
     ["YAML invalide ligne 4, colonne 1", "une liste ouverte par « [ » n'est pas fermée"]),
    ("colon in a value", "signataire:\n  denomination: Mairie: annexe\n", "signataire.yaml",
     ["YAML invalide ligne 2, colonne 23", "« : » inattendu"]),
    ("tab indent", "signataire:\n\tdenomination: X\n", "signataire.yaml", ["YAML invalide ligne 2, colonne 1", "tabulation"]),
    ("broken JSON", '{"signataire": {"denomination": "X",}}', "signataire.json",
     ["JSON invalide ligne 1, colonne 37", "nom de champ entre guillemets attendu"]),
    ("not UTF-8", "signataire:\n  denomination: Béthune\n".encode("cp1252"), "signataire.yaml",
     ["n'est pas en UTF-8", "enregistrez-le en UTF-8"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "name", "said"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_a_bad_signatory_file_exits_2_naming_the_file_and_each_problem_in_french(text, name, said):
    path = _beneficiary(text, name)
    result = csac("render", "2021-045-lot2", "-b", path, "-o", "out", "--state", "var")
    assert refused(result, ExitCode.input_file, name, *said)
    assert not Path("out").exists()


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda: None, "fichier introuvable : vérifiez le chemin"),
        (lambda: Path("absent.yaml").mkdir(), "c'est un dossier : donnez le chemin d'un fichier"),
        (lambda: Path("absent.yaml").symlink_to("absent.yaml"), "trop de liens symboliques"),
    ],
    ids=["missing", "a folder", "a link loop"],
)
def test_a_signatory_file_the_system_cannot_read_is_said_in_french(make, said):
    make()
    result = csac("render", "2021-045-lot2", "-b", "absent.yaml", "-o", "out", "--state", "var")
    assert refused(result, ExitCode.input_file, "absent.yaml", said)


def test_a_missing_campaign_file_is_said_in_french():
    result = csac("render-batch", "absente.csv", "-o", "out", "--state", "var")
    assert refused(result, ExitCode.input_file, "absente.csv", "fichier introuvable")


def test_a_configuration_that_is_not_yaml_is_said_with_its_line_in_french():
    Path("csac.yaml").write_text("paths: [inbox\n", encoding="utf-8")
    result = csac("--config", "csac.yaml", "config", "check")
    assert refused(result, ExitCode.config_error, "configuration illisible", "YAML invalide ligne 2")


def test_an_unknown_configuration_key_is_said_with_the_key_it_was_meant_to_be():
    Path("csac.yaml").write_text("path: {inbox: depots}\n", encoding="utf-8")
    result = csac("--config", "csac.yaml", "config", "check")
    assert refused(result, ExitCode.config_error, "champ inconnu : « path » (vouliez-vous dire paths ?)")


def test_yaml_is_read_by_a_safe_loader_that_builds_no_python_object():
    with pytest.raises(yaml.YAMLError) as refused_tag:
        load_yaml("!!python/object/apply:os.system ['true']")
    assert unreadable(refused_tag.value).endswith("étiquette YAML (!…) non admise")


# -- a campaign's rows: every problem of each --------------------------------------------------------


def _campaign(*rows: str) -> Path:
    path = Path("campagne.csv")
    path.write_text("\n".join([CAMPAIGN_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


COLUMNS = len(CAMPAIGN_HEADER.split(";"))
GOOD_ROW = "Commune d'Ajaccio;212 000 046 00012;commune;71000;Avenue Serafini;20000;AJACCIO;Le Maire;;90 000"


@pytest.mark.parametrize(
    ("row", "count"),
    [("Commune X;212 000 046 00012", 2), (GOOD_ROW.rsplit(";", 3)[0], COLUMNS - 3), (GOOD_ROW + ";en trop;", COLUMNS + 2)],
    ids=["2 columns", "3 missing", "2 more"],
)  # fmt: skip
def test_a_row_with_the_wrong_number_of_columns_says_how_many_against_the_header(row, count):
    result = csac("render-batch", _campaign(row), "--variants", "2021-063-002", "-o", "out", "--state", "var")
    assert refused(result, ExitCode.input_file, "ligne 2", f"{count} colonnes au lieu de {COLUMNS}")
    assert not list(Path("out").glob("*/*.docx"))


@pytest.mark.parametrize(
    ("header", "said"),
    [
        (CAMPAIGN_HEADER.replace("siret", "sirett"), "colonne inconnue : « sirett » (vouliez-vous dire siret ?)"),
        (CAMPAIGN_HEADER.replace("representant", "represantant"),
         "colonne inconnue : « represantant » (vouliez-vous dire representant ?)"),
        (CAMPAIGN_HEADER + ";commentaire", "colonne inconnue : « commentaire » ; colonnes possibles : adresse"),
        ("", "fichier vide : la première ligne est l'en-tête"),
    ],
    ids=["a required column misspelt", "an optional column misspelt", "a column csac does not know", "empty"],
)  # fmt: skip
def test_a_campaign_header_with_a_column_csac_does_not_know_is_refused_before_any_row(header, said):
    """A misspelt "sirett" left every row without its SIRET; a misspelt "represantant" went unread."""
    Path("campagne.csv").write_text(f"{header}\n{GOOD_ROW};\n" if header else "", encoding="utf-8")
    result = csac("render-batch", "campagne.csv", "--variants", "2021-063-002", "-o", "out", "--state", "var")
    assert refused(result, ExitCode.input_file, "campagne.csv", "ligne 1 : " + said)
    assert not Path("out").exists()


def test_a_row_reports_every_problem_not_only_the_first():
    row = "Commune X;212 000 046 00013;commune;abc;Rue Y;2000;AJACCIO;Le Maire;pas-une-adresse;-5"
    result = csac(
        "render-batch", _campaign("A;B", row), "--variants", "2021-063-002", "-o", "out", "--state", "var"
    )
    said = result.stderr
    assert "2 colonnes au lieu de 10" in said and "champs obligatoires manquants" in said  # line 2
    assert all(field in said for field in ("code_postal", "email", "population"))  # line 3, three fields
    manifest = json.loads(Path("out/manifest.json").read_text(encoding="utf-8"))
    assert [len(r["errors"]) for r in manifest["rejected"]] >= [3, 3]


# -- names people read, and no None ----------------------------------------------------------------


def test_variants_says_amounts_and_modes_as_people_write_them():
    result = csac("variants")
    assert "contribution complémentaire : 150,00\u00a0€" in result.stdout and "150.00" not in result.stdout
    assert "modes : compte propre, mandat" in result.stdout and "compte_propre" not in result.stdout


def test_render_names_the_documents_in_french():
    result = csac("render", "2021-063-002", "-b", BENEFICIARY, "-o", "out", "--state", "var")
    kinds = {line.split()[1] for line in result.stdout.splitlines() if "CSAC_" in line or "_2021" in line}
    assert result.exit_code == 0 and "annexe" in kinds and "annex" not in kinds, result.stdout


def test_render_batch_accepts_the_documents_by_their_french_names():
    result = csac("render-batch", _campaign(GOOD_ROW), "--variants", "2021-063-002", "-o", "out",
                  "--state", "var", "--documents", "convention,annexe")  # fmt: skip
    assert result.exit_code == 0, result.output
    kinds = {e["kind"] for e in json.loads(Path("out/manifest.json").read_text(encoding="utf-8"))["outputs"]}
    assert kinds == {"convention", "annex"}  # the manifest keeps its codes


def _note(name: str) -> Path:
    Path(name).write_bytes(b.zip_of([("note.txt", f"dépôt {name}".encode())]))
    return Path(name)


def test_intake_takes_several_deposits_in_one_process():
    result = csac(
        "intake", _note("a.zip"), _note("b.zip"), "--outbox", "courrier", "--state", "var", "--json"
    )
    reports = json.loads(result.stdout)
    assert result.exit_code == 0 and [r["file"] for r in reports] == ["a.zip", "b.zip"]
    assert len({r["deposit_id"] for r in reports}) == 2


def test_intake_of_one_deposit_prints_its_report_not_a_list():
    result = csac("intake", _note("a.zip"), "--outbox", "courrier", "--state", "var", "--json")
    assert json.loads(result.stdout)["file"] == "a.zip"


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ("absent.json", "fichier introuvable : « absent.json »"),
        (".", "« . » est un dossier ; un fichier est attendu"),
    ],
    ids=["missing", "a folder"],
)
def test_intake_refuses_a_form_path_that_is_no_file_as_a_bad_argument(form, said):
    """It was taken in with "le fichier du formulaire n'a pas pu être lu", the typo told to the depositor."""
    result = csac("intake", _note("a.zip"), "--form", form, "--outbox", "courrier", "--state", "var")
    assert refused(result, ExitCode.bad_args, "--form", said)
    assert not Path("var").exists()


def test_intake_refuses_one_form_for_several_deposits():
    Path("f.json").write_text("{}", encoding="utf-8")
    result = csac("intake", _note("a.zip"), _note("b.zip"), "--form", "f.json", "--state", "var")
    assert result.exit_code == ExitCode.bad_args and "un seul dépôt" in str(result.exception)
    assert not Path("var").exists() or not list(Path("var").rglob("*.zip"))


@pytest.mark.parametrize(
    "args",
    [
        ["variants"],
        ["intake", "a.zip", "--outbox", "courrier", "--state", "var"],
        ["status", "--state", "var"],
        ["dossier", "list", "--state", "var"],
        ["config", "check"],
        ["remind", "--dry-run", "--state", "var", "--outbox", "courrier"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_none_is_printed_nowhere(args):
    csac("intake", _note("a.zip"), "--outbox", "courrier", "--state", "var")
    result = csac(*args)
    assert result.exit_code == 0, result.output
    assert not re.search(r"\bNone\b", result.output), result.output


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda: Path("courrier").write_text("un fichier, pas un dossier"), "n'est pas un dossier"),
        (lambda: Path("courrier").symlink_to("courrier"), "trop de liens symboliques"),
    ],
    ids=["a file in the way", "a link loop"],
)
def test_an_outbox_that_cannot_be_written_is_said_in_french(make, said):
    make()
    result = csac("intake", _note("a.zip"), "--outbox", "courrier", "--state", "var")
    assert refused(result, ExitCode.file_access_error, "remise impossible dans courrier", said)


SCHEMA = {
    "type": "object",
    "properties": {
        "jour": {"type": "string", "format": "date"},
        "liste": {"type": "array", "uniqueItems": True},
        "pas": {"type": "number", "multipleOf": 5},
        "montant": {"type": "number"},
        "mode": {"enum": ["compte_propre", "mandat"]},
        "fiche": {"type": "object"},
        "lignes": {"type": "array"},
    },
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"jour": "hier"}, "valeur « hier » non valide : une date AAAA-MM-JJ est attendue"),
        ({"liste": [1, 1]}, "une même valeur figure deux fois dans la liste"),
        ({"pas": 3}, "valeur « 3 » non admise ici"),
        ({"montant": "beaucoup"}, "un nombre est attendu"),
        ({"fiche": "a;b"}, "une liste de champs est attendue"),
        ({"lignes": 3}, "une liste est attendue"),
        ({"mode": "seul"}, "valeurs possibles : compte_propre, mandat"),
        ({"mondant": 1}, "champ inconnu : « mondant » (vouliez-vous dire montant ?)"),
    ],
    ids=[
        "format",
        "uniqueItems",
        "multipleOf",
        "type",
        "type object",
        "type array",
        "enum",
        "additionalProperties",
    ],
)
def test_every_jsonschema_error_is_said_in_french(data, said, tmp_path):
    from pipeline.schemas import check

    schema = tmp_path / "s.schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    [problem] = check(schema, data)
    assert said in str(problem) and not ENGLISH.search(str(problem)), problem


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda: Path("absent.zip").read_bytes(), "absent.zip : fichier ou dossier introuvable"),
        (lambda: Path(".").read_bytes(), ". : c'est un dossier"),
        (lambda: Path("f").write_text("x") and Path("f/enfant").read_bytes(), "f/enfant : un élément du chemin n'est pas un dossier"),
        (lambda: os.mkdir(Path("d").mkdir() or "d"), "d : un fichier porte déjà ce nom"),
    ],
    ids=["missing", "a folder", "a file in the path", "already there"],
)  # fmt: skip
def test_a_system_failure_is_said_by_its_path_and_a_french_reason(make, said):
    """What `csac watch` writes in reason.txt, the journal and its log when a try fails."""
    with pytest.raises(OSError) as failed:
        make()
    assert said_failure(failed.value) == said


def test_a_fault_of_csac_is_said_as_an_internal_error_naming_it():
    assert said_failure(KeyError("siret")) == "erreur interne (KeyError : 'siret')"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (Linux) to fill a disk cheaply")
def test_a_full_disk_is_said_with_what_to_do():
    with pytest.raises(OSError) as failed:
        Path("/dev/full").write_bytes(b"x")
    assert said_failure(failed.value) == "disque plein"  # a write that names no file
    assert what_to_do(failed.value).startswith("Libérez de la place sur ce disque")


@pytest.mark.parametrize("command", ["render", "render-batch"])
def test_render_s_help_advises_a_folder_of_its_own_and_its_examples_follow_it(command):
    """Point 12: documents to send out do not belong among received deposits (outbox/)."""
    said = re.sub(r"[│\s]+", " ", csac(command, "--help").stdout)
    assert "un dossier à eux (rendu/ par exemple), pas outbox/" in said, said
    assert not re.search(r"(-o|--out) outbox", said), said


def test_make_demo_ends_by_printing_the_status_command_of_its_own_journal():
    """Point 12: after `make demo`, a bare `csac status` looked in var/ and showed nothing."""
    makefile = (Path(__file__).parent.parent / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    state = re.search(r"\$\(CSAC\) intake .*--state (\S+)", "\n".join(recipe)).group(1)
    last = [line for line in recipe if "@echo" in line][-2:]
    assert f"status --state {state}" in last[0] and "Pour le revoir" in last[0], last
    assert not any(ENGLISH.search(line) for line in recipe if "@echo" in line), recipe


def _main_part_broken(office: bytes, part: str) -> bytes:
    """A real Word or Excel file whose main part is no longer XML (a transfer cut short, a bad repair)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(office)) as source, zipfile.ZipFile(buf, "w") as archive:
        for item in source.infolist():
            archive.writestr(item, b"\x00 plus du XML" if item.filename == part else source.read(item))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("convention.pdf", b"%PDF-1.7\n garbage, no objects, no trailer"),
        ("convention.docx", _main_part_broken(b.text_docx(["Convention"]), "word/document.xml")),
        ("annexe.xlsx", _main_part_broken(b.groupement_xlsx([b.Entity()]), "xl/worksheets/sheet1.xml")),
    ],
    ids=["pdf", "docx", "xlsx"],
)
def test_a_document_that_cannot_be_read_is_said_so_in_french_not_in_the_library_s_words(name, data):
    """The regional team's message read "PdfiumError: Failed to load document (PDFium: Data format error)"."""
    Path("depot.zip").write_bytes(b.zip_of([(name, data)]))
    result = csac("intake", "depot.zip", "--outbox", "courrier", "--state", "var", "--json")
    [document] = json.loads(result.stdout)["documents"]
    assert document["note"].startswith(
        f"mis de côté : {name.rsplit('.', 1)[1].upper()} illisible : fichier endommagé"
    )
    messages = " ".join(
        p.read_text(encoding="utf-8", errors="replace") for p in Path("courrier").rglob("*") if p.is_file()
    )
    assert not re.search(
        r"Failed to|Data format|no item named|not a zip|There is no|Errno", document["note"] + messages
    )


def test_a_ctrl_c_inside_a_command_says_interrompu_and_exits_130(capsys):
    """typer turns a KeyboardInterrupt into a silent exit 130: `render-batch` stopped without a word."""
    from pipeline.cli_french import FrenchTyper

    demo = FrenchTyper()

    @demo.command()
    def longue() -> None:
        os.kill(os.getpid(), signal.SIGINT)  # the clerk's Ctrl-C, delivered to this process
        time.sleep(5)

    @demo.command()
    def autre() -> None:
        pass

    with pytest.raises(SystemExit) as exited:
        demo(["longue"], prog_name="csac")
    assert exited.value.code == ExitCode.interrupted == 130
    assert "interrompu" in capsys.readouterr().err


UNREADABLE = (
    "caf\udce9 de l'\udce9cole"  # « café de l'école » typed on a Latin-1 terminal, as Python reads it
)


@pytest.mark.parametrize(
    "argv",
    [["dossier", "list", "--search", UNREADABLE], ["status", "--search", UNREADABLE],
     ["dossier", "accept", "X", "--by", UNREADABLE, "--note", "vu"], ["dossier", "accept", "X", "--by", "Marie", "--note", UNREADABLE],
     ["dossier", "refuse", "X", "--by", "Marie", "--reason", UNREADABLE], ["dossier", "resend", "X", "--by", UNREADABLE],
     ["user", "add", UNREADABLE, "--region", "bretagne", "--password-stdin"], ["user", "disable", UNREADABLE],
     ["user", "add", "rene", "--region", UNREADABLE, "--password-stdin"], ["status", "--region", UNREADABLE],
     ["dossier", "list", "--region", UNREADABLE]],
    ids=["dossier list --search", "status --search", "accept --by", "accept --note", "refuse --reason", "resend --by",
         "user add NOM", "user disable NOM", "user add --region", "status --region", "dossier list --region"],
)  # fmt: skip
def test_a_text_typed_on_a_terminal_that_does_not_send_utf8_is_a_bad_argument_saying_so(argv):
    """It used to reach the journal and stop with an internal error (dossier list), be searched without its
    unreadable letters (status), or make an account named without them (« Ren » for « René »)."""
    result = runner.invoke(app, [*argv, "--state", "var"], input="un mot de passe assez long\n")
    assert result.exit_code == ExitCode.bad_args, (result.output, result.exception)
    assert "le terminal n'envoie pas de l'UTF-8" in result.stderr and not ENGLISH.search(result.stderr)
