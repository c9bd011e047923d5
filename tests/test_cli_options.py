"""Every option of every `csac` command reaches the library and shows its effect.

The commands run in this process through typer's CliRunner, in a fresh working folder: an option
the command dropped would leave its default in force, and each test sees the difference (files
written or not, register and journal rows, which configuration was read, what is printed).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline import api, register
from pipeline.cli import app
from pipeline.errors import ArgumentError, ExitCode
from pipeline.journal import Journal
from tests import builders as b
from tests.relays import Behaviour, LoopbackRelay, queue_messages
from tests.test_smtp import free_port

EXAMPLES = Path(__file__).parent.parent / "examples"
BENEFICIARY = EXAMPLES / "beneficiaire.yaml"  # Béthune-Bruay, Hauts-de-France
BETHUNE_SIRET = "20007246000013"
HDF = "Hauts-de-France@resah.fr"
CAMPAIGN_SIRETS = {"20007246000013", "21200004600012", "20001581600016", "21971001900015", "21974411700017"}
runner = CliRunner(env={"COLUMNS": "1000"})  # rich wraps nothing: lines read whole


@pytest.fixture(autouse=True)
def fresh_folder(tmp_path, monkeypatch):
    """Each command runs in an empty folder, with no CSAC_* folder or relay from the environment;
    the process-wide umask and logging that `intake` and `watch` set are put back afterwards."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("CSAC_") and v != "CSAC_HOME"]:
        monkeypatch.delenv(var)
    umask = os.umask(0o022)
    os.umask(umask)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    os.umask(umask)
    root.handlers[:], root.level = handlers, level


def csac(*args: str | Path, env: dict | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def ok(*args: str | Path, env: dict | None = None):
    result = csac(*args, env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def folder_given(how: str, key: str, folder: Path) -> tuple[list[str], list[str], dict]:
    """A folder (state, outbox, inbox) given as an option, in --config's file, in ./csac.yaml or in
    CSAC_<KEY>: (arguments before the command, arguments after it, environment)."""
    if how == "option":
        return [], [f"--{key}", str(folder)], {}
    if how == "environment":
        return [], [], {f"CSAC_{key.upper()}": str(folder)}
    config = Path("elsewhere.yaml" if how == "--config" else "csac.yaml").resolve()
    config.write_text(yaml.safe_dump({"paths": {key: str(folder)}}), encoding="utf-8")
    return (["--config", str(config)] if how == "--config" else []), [], {}


SOURCES = ["option", "--config", "working-folder csac.yaml", "environment"]
GIVEN = ["option", "--config"]  # commands that always read the configuration: the option and the file


def files_under(folder: Path) -> set[str]:
    return {p.name for p in folder.rglob("*") if p.is_file()}


def note_zip(folder: Path, name: str) -> Path:
    """A cheap deposit: a ZIP holding a note, judged and journalled like any other."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b.zip_of([("note.txt", f"dépôt {name}".encode())]))
    return path


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[Path, Path]:
    """A signed deposit of the example signatory and its form beside it, built once."""
    folder = tmp_path_factory.mktemp("signed")
    return api.sample_deposit(api.SampleOptions(beneficiary=BENEFICIARY, out=folder / "depot.zip"))


@pytest.fixture
def other_signatory(tmp_path) -> tuple[Path, str]:
    entity = b.Entity()
    path = tmp_path / "autre.yaml"
    path.write_text(yaml.safe_dump(entity.data(), allow_unicode=True), encoding="utf-8")
    return path, entity.siret


# -- --config -------------------------------------------------------------------------------------


def test_config_is_the_file_config_check_reads(tmp_path):
    config = tmp_path / "prod.yaml"
    config.write_text("paths: {inbox: /srv/depots, state: /srv/etat}\n", encoding="utf-8")
    result = ok("--config", config, "config", "check")
    assert f"configuration : {config}" in result.stdout and "entrée /srv/depots" in result.stdout


# -- variants -------------------------------------------------------------------------------------


def test_variants_json_prints_every_variant_with_its_tariff():
    data = json.loads(ok("variants", "--json").stdout)
    assert [v["id"] for v in data] == ["2021-045-lot2", "2021-045-lot4", "2021-047-001", "2021-063-002"]
    assert {"label": "Régions", "typology": "region", "amount": "1\u00a0750,00\u00a0€"} in data[0]["tariff"]


def test_variants_without_json_prints_tables_for_people():
    result = ok("variants")
    assert "contribution annuelle" in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


# -- render ---------------------------------------------------------------------------------------


def rendered_kinds(out: Path) -> dict[str, set[str | None]]:
    """kind → variants of the files written (None for the bulletin), read from their names."""
    kinds: dict[str, set[str | None]] = {}
    for name in files_under(out) - {"manifest.json"}:
        kind = {"CSAC": "convention", "Annexe": "annex", "Bulletin": "bulletin"}[name.split("_")[0]]
        variant = name.split("_")[-2] if kind != "bulletin" else None
        kinds.setdefault(kind, set()).add(variant)
    return kinds


@pytest.mark.parametrize(
    ("asked", "variants"),
    [
        (["2021-063-002"], {"2021-063-002"}),
        (["2021-045-lot4", "2021-063-002"], {"2021-045-lot4", "2021-063-002"}),
        (["all"], {"2021-045-lot2", "2021-045-lot4", "2021-047-001", "2021-063-002"}),
    ],
)
def test_render_writes_the_conventions_of_the_variants_named(asked, variants):
    ok("render", *asked, "-b", BENEFICIARY, "-o", "out", "--no-bulletin")
    assert rendered_kinds(Path("out"))["convention"] == variants


@pytest.mark.parametrize("flag", ["-b", "--beneficiary"])
def test_render_renders_the_signatory_of_the_file_given(flag, other_signatory):
    path, siret = other_signatory
    ok("render", "2021-063-002", flag, path, "-o", "out")
    assert [p.name for p in Path("out").iterdir()] == [siret]


@pytest.mark.parametrize("flag", ["-o", "--out"])
def test_render_writes_into_the_folder_given(flag):
    ok("render", "2021-063-002", "-b", BENEFICIARY, flag, "ailleurs")
    assert f"CSAC_2021-063-002_{BETHUNE_SIRET}.docx" in files_under(Path("ailleurs"))
    assert not Path("outbox").exists()


def test_render_date_sets_the_bulletins_year():
    ok("render", "2021-063-002", "-b", BENEFICIARY, "-o", "out", "--date", "2023-11-15")
    assert f"Bulletin_adhesion_2023_{BETHUNE_SIRET}.docx" in files_under(Path("out"))


@pytest.mark.parametrize(("flag", "bulletin"), [("--bulletin", True), ("--no-bulletin", False)])
def test_render_writes_the_bulletin_unless_told_not_to(flag, bulletin):
    ok("render", "2021-063-002", "-b", BENEFICIARY, "-o", "out", flag)
    assert ("bulletin" in rendered_kinds(Path("out"))) is bulletin


def test_render_json_lists_each_file_written_with_its_sha256():
    entries = json.loads(ok("render", "2021-063-002", "-b", BENEFICIARY, "-o", "out", "--json").stdout)
    assert sorted(e["kind"] for e in entries) == ["annex", "bulletin", "convention"]
    assert all(len(e["sha256"]) == 64 and (Path("out") / e["path"]).is_file() for e in entries)


def test_render_without_json_prints_a_table_naming_the_region():
    result = ok("render", "2021-063-002", "-b", BENEFICIARY, "-o", "out")
    assert f"Hauts-de-France ({HDF})" in " ".join(result.stdout.split())  # the title may wrap


@pytest.mark.parametrize("how", SOURCES)
def test_render_records_the_signatory_in_the_register_of_the_state_folder(how, tmp_path):
    before, after, env = folder_given(how, "state", tmp_path / "etat")
    ok(*before, "render", "2021-063-002", "-b", BENEFICIARY, "-o", "out", *after, env=env)
    known = register.lookup(tmp_path / "etat" / "register.sqlite", siret=BETHUNE_SIRET)
    assert known.region == "hauts-de-france" and "2021-063-002" in known.dues
    assert not Path("var").exists()


# -- render-batch ---------------------------------------------------------------------------------


def manifest(out: Path = Path("out")) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def batch(*args: str | Path, env: dict | None = None):
    return ok("render-batch", EXAMPLES / "campagne.csv", "--variants", "2021-063-002", *args, env=env)


@pytest.mark.parametrize(("campaign", "rows"), [("campagne.csv", 5), ("campagne.yaml", 3)])
def test_render_batch_renders_the_campaign_file_given(campaign, rows):
    ok(
        "render-batch",
        EXAMPLES / campaign,
        "--variants",
        "2021-047-001",
        "--documents",
        "convention",
        "-o",
        "out",
    )
    assert manifest()["source"] == campaign and manifest()["rows"] == rows


@pytest.mark.parametrize(
    ("asked", "variants"),
    [("2021-063-002", {"2021-063-002"}), ("2021-045-lot2,2021-063-002", {"2021-045-lot2", "2021-063-002"})],
)
def test_render_batch_renders_only_the_variants_asked(asked, variants):
    ok(
        "render-batch",
        EXAMPLES / "campagne.csv",
        "--variants",
        asked,
        "--documents",
        "convention",
        "-o",
        "out",
    )
    assert {e["variant"] for e in manifest()["outputs"]} == variants


def test_render_batch_writes_files_and_manifest_into_the_folder_given():
    batch("--documents", "convention", "--out", "ailleurs")
    assert len(manifest(Path("ailleurs"))["outputs"]) == 5 and not Path("outbox").exists()


@pytest.mark.parametrize("jobs", [1, 2])
def test_render_batch_renders_with_as_many_worker_processes_as_asked(jobs, tmp_path):
    """Nine rows make two chunks of work, enough for two processes; `jobs` says how many are used."""
    lines = [f"Commune {n};{b.make_siret(n)};commune;5000;1 rue Haute;62000;ARRAS;1000\n" for n in range(9)]
    campaign = tmp_path / "neuf.csv"
    campaign.write_text(
        "denomination;siret;typologie;population;adresse;code_postal;ville;montant_maximum\n"
        + "".join(lines),
        encoding="utf-8",
    )
    result = ok(
        "render-batch", campaign, "--variants", "2021-063-002", "--documents", "convention", "-j", jobs
    )
    assert f"par {jobs} processus" in result.stdout


def test_render_batch_date_dates_the_manifest_and_the_bulletins():
    batch("-o", "out", "--documents", "bulletin", "--date", "2023-11-15")
    assert manifest()["date"] == "2023-11-15"
    assert f"Bulletin_adhesion_2023_{BETHUNE_SIRET}.docx" in files_under(Path("out"))


@pytest.mark.parametrize(
    ("documents", "kinds"),
    [
        ("convention", {"convention"}),
        ("annex,bulletin", {"annex", "bulletin"}),
        ("convention,annex,bulletin", {"convention", "annex", "bulletin"}),
    ],
)
def test_render_batch_writes_only_the_documents_asked(documents, kinds):
    batch("-o", "out", "--documents", documents)
    assert {e["kind"] for e in manifest()["outputs"]} == kinds
    assert set(rendered_kinds(Path("out"))) == kinds


def test_render_batch_refuses_a_document_kind_it_does_not_know():
    result = csac("render-batch", EXAMPLES / "campagne.csv", "-o", "out", "--documents", "convention,lettre")
    assert result.exit_code == ExitCode.bad_args and "« lettre » inconnu" in result.output
    assert not Path("out").exists()


@pytest.mark.parametrize("how", SOURCES)
def test_render_batch_records_every_signatory_in_the_register_of_the_state_folder(how, tmp_path):
    before, after, env = folder_given(how, "state", tmp_path / "etat")
    ok(*before, "render-batch", EXAMPLES / "campagne.csv", "--variants", "2021-063-002", "--documents",
       "convention", "-o", "out", *after, env=env)  # fmt: skip
    found = {s: register.lookup(tmp_path / "etat" / "register.sqlite", siret=s) for s in CAMPAIGN_SIRETS}
    assert all(known and "2021-063-002" in known.dues for known in found.values())
    assert not Path("var").exists()


def test_intake_routes_a_campaign_signatory_by_the_register_render_batch_filled(signed):
    batch("-o", "out", "--documents", "convention")
    report = json.loads(ok("intake", signed[0], "--json").stdout)
    assert report["region_source"] == f"registre des signataires (SIRET {BETHUNE_SIRET})"


# -- intake ---------------------------------------------------------------------------------------


def test_intake_takes_in_the_zip_given(signed):
    report = json.loads(ok("intake", signed[0], "--json").stdout)
    assert report["file"] == "depot.zip" and report["status"] == "complete"


def test_intake_reads_the_form_given_rather_than_none(signed, tmp_path):
    alone = tmp_path / "seul" / "depot.zip"
    alone.parent.mkdir()
    shutil.copy(signed[0], alone)
    form = json.loads(signed[1].read_text(encoding="utf-8")) | {"email": "autre@mairie.example"}
    (tmp_path / "formulaire.json").write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    report = json.loads(ok("intake", alone, "--form", tmp_path / "formulaire.json", "--json").stdout)
    assert report["email"] == "autre@mairie.example"


@pytest.mark.parametrize("how", GIVEN)
def test_intake_delivers_into_the_outbox_given(how, signed, tmp_path):
    before, after, env = folder_given(how, "outbox", tmp_path / "courrier")
    ok(*before, "intake", signed[0], *after, env=env)
    assert len(list((tmp_path / "courrier" / HDF / "new").iterdir())) == 1
    assert not Path("outbox").exists()


@pytest.mark.parametrize("how", GIVEN)
def test_intake_journals_in_the_state_folder_given(how, signed, tmp_path):
    before, after, env = folder_given(how, "state", tmp_path / "etat")
    ok(*before, "intake", signed[0], *after, env=env)
    assert [r["file"] for r in Journal(tmp_path / "etat" / "journal.sqlite").latest()] == ["depot.zip"]
    assert not Path("var").exists()


@pytest.mark.parametrize(("flag", "is_json"), [("--json", True), (None, False)])
def test_intake_prints_json_only_when_asked(flag, is_json, signed):
    result = ok("intake", signed[0], *([flag] if flag else []))
    assert ('"deposit_id"' in result.stdout) is is_json
    assert ("remis à : " in result.stdout) is not is_json


# -- status ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def journal_of_two(tmp_path_factory) -> Path:
    """A state folder whose journal holds two deposits, made once."""
    folder = tmp_path_factory.mktemp("two")
    for name in ("a.zip", "b.zip"):
        deposit = note_zip(folder / "depots", name)
        api.take_in_deposit(
            api.IntakeOptions(deposit=deposit, outbox=folder / "courrier", state=folder / "etat")
        )
    return folder / "etat"


@pytest.fixture
def two_deposits(journal_of_two, tmp_path) -> Path:
    return Path(shutil.copytree(journal_of_two, tmp_path / "etat"))


@pytest.mark.parametrize("flag", ["-n", "--limit"])
def test_status_lists_as_many_deposits_as_the_limit(flag, two_deposits):
    rows = json.loads(ok("status", "--state", two_deposits, flag, "1", "--json").stdout)
    assert len(rows) == 1


@pytest.mark.parametrize("how", GIVEN)
def test_status_reads_the_journal_of_the_state_folder_given(how, two_deposits):
    before, after, env = folder_given(how, "state", two_deposits)
    rows = json.loads(ok(*before, "status", "--json", *after, env=env).stdout)
    assert sorted(r["file"] for r in rows) == ["a.zip", "b.zip"]


@pytest.mark.parametrize(("flag", "is_json"), [("--json", True), (None, False)])
def test_status_prints_json_only_when_asked(flag, is_json, two_deposits):
    result = ok("status", "--state", two_deposits, *([flag] if flag else []))
    assert (result.stdout.lstrip().startswith("[")) is is_json
    assert ("Derniers dépôts" in result.stdout) is not is_json


# -- sample-deposit -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict, str]:
    """`csac sample-deposit` once, every option away from its default: (ZIP, its form, the SIRET)."""
    folder = tmp_path_factory.mktemp("sample")
    entity = b.Entity()
    beneficiary = folder / "autre.yaml"
    beneficiary.write_text(yaml.safe_dump(entity.data(), allow_unicode=True), encoding="utf-8")
    out = folder / "ici" / "exemple.zip"
    ok(
        "sample-deposit",
        "-b",
        beneficiary,
        "--variant",
        "2021-045-lot4",
        "--out",
        out,
        "--email",
        "achats@test.example",
    )
    return out, json.loads(out.with_suffix(".json").read_text(encoding="utf-8")), entity.name


def test_sample_deposit_is_signed_by_the_signatory_of_the_file_given(sample):
    assert sample[1]["raison_sociale"] == sample[2]


def test_sample_deposit_is_for_the_variant_given(sample):
    assert sample[1]["numero_marche"] == "2021-045 lot 4"


def test_sample_deposit_writes_the_zip_and_its_form_where_told(sample):
    assert sample[0].is_file() and sample[0].with_suffix(".json").is_file()


def test_sample_deposit_puts_the_email_given_in_the_form(sample):
    assert sample[1]["email"] == "achats@test.example"


# -- config check, outbox flush ----------------------------------------------------------------------


@pytest.fixture
def relay():
    started = LoopbackRelay(Behaviour())
    yield started
    started.stop()


def relay_config(port: int, retry_seconds: float = 600) -> Path:
    path = Path("relais.yaml").resolve()
    path.write_text(
        f"smtp: {{host: 127.0.0.1, port: {port}, security: none, sender: csac@resah.fr, timeout: 5}}\n"
        f"retry: {{first_seconds: {retry_seconds}, max_seconds: {retry_seconds}}}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(("flag", "connects"), [("--connect", True), (None, False)])
def test_config_check_connects_to_the_relay_only_when_asked(flag, connects, relay):
    result = ok("--config", relay_config(relay.port), "config", "check", *([flag] if flag else []))
    assert ("connexion : 127.0.0.1" in result.stdout) is connects


def test_config_check_connect_exits_5_when_the_relay_cannot_be_reached():
    result = csac("--config", relay_config(free_port()), "config", "check", "--connect")
    assert (
        result.exit_code == ExitCode.file_access_error and "connexion au relais impossible" in result.stderr
    )
    assert "connexion refusée" in result.stderr and "Unreachable" not in result.stderr, result.stderr


def test_config_check_connect_says_an_unknown_relay_host_in_french():
    """The resolver's codes are not errno's: "erreur système -2" said nothing to the clerk."""
    config = relay_config(free_port())
    config.write_text(
        config.read_text(encoding="utf-8").replace("127.0.0.1", "relais.invalid"), encoding="utf-8"
    )
    result = csac("--config", config, "config", "check", "--connect")
    assert result.exit_code == ExitCode.file_access_error
    assert "nom d'hôte" in result.stderr and "erreur système" not in result.stderr, result.stderr


@pytest.mark.parametrize(("flag", "sent"), [("--force", 1), (None, 0)])
def test_outbox_flush_force_sends_what_waits_out_its_backoff(flag, sent, relay, tmp_path):
    queue_messages(tmp_path / "var", 1)
    ok("--config", relay_config(free_port()), "outbox", "flush")  # no relay there: waits ten minutes
    ok("--config", relay_config(relay.port), "outbox", "flush", *([flag] if flag else []))
    assert len(relay.accepted) == sent


def test_outbox_flush_sends_the_queue_of_the_state_folder_given(relay, tmp_path):
    queue_messages(tmp_path / "etat", 1)
    result = ok("--config", relay_config(relay.port), "outbox", "flush", "--state", tmp_path / "etat")
    assert len(relay.accepted) == 1 and "envoyés : 1" in result.stdout


def test_outbox_flush_without_a_relay_exits_1():
    result = csac("outbox", "flush")
    assert isinstance(result.exception, ArgumentError) and result.exception.exit_code == ExitCode.bad_args


# -- digest ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def journal_of_one(signed, tmp_path_factory) -> Path:
    """A state folder whose journal holds one complete deposit for Hauts-de-France, received today."""
    folder = tmp_path_factory.mktemp("journal")
    options = api.IntakeOptions(deposit=signed[0], outbox=folder / "courrier", state=folder / "etat")
    api.take_in_deposit(options)
    return folder / "etat"


@pytest.fixture
def state(journal_of_one, tmp_path) -> Path:
    return Path(shutil.copytree(journal_of_one, tmp_path / "etat"))


@pytest.mark.parametrize(
    ("region", "name", "count"),
    [
        ("Hauts-de-France", "Hauts-de-France", 1),
        ("HAUTS-DE-FRANCE", "Hauts-de-France", 1),
        ("hauts-de-france@resah.fr", "Hauts-de-France", 1),
        ("corse", "Corse", 0),
        ("Provence-Alpes-CotedAzur", "Provence-Alpes-Côte d’Azur", 0),
    ],
)
def test_digest_is_for_the_region_named_by_its_name_id_mailbox_or_label(region, name, count, state):
    result = ok("digest", "--region", region, "--since", "2020-01-01", "--state", state)
    assert f"Synthèse des dépôts — {name} —" in result.stdout and f"Dépôts reçus : {count} " in result.stdout


def test_digest_for_an_unknown_region_exits_1_naming_the_regions(state):
    result = csac("digest", "--region", "Atlantide", "--since", "2020-01-01", "--state", state)
    assert isinstance(result.exception, ArgumentError) and result.exception.exit_code == ExitCode.bad_args
    assert "Atlantide" in str(result.exception) and "Hauts-de-France" in str(result.exception)


@pytest.mark.parametrize(("since", "count"), [("2020-01-01", 1), ("2999-01-01", 0)])
def test_digest_counts_the_deposits_received_since_the_day_given(since, count, state):
    result = ok("digest", "--region", "Hauts-de-France", "--since", since, "--state", state)
    assert f"Dépôts reçus : {count} " in result.stdout


def test_digest_out_writes_text_and_html():
    ok("digest", "--region", "Corse", "--since", "2024-03-01", "--out", "synthese")
    assert files_under(Path("synthese")) == {"digest-corse-2024-03-01.txt", "digest-corse-2024-03-01.html"}


@pytest.mark.parametrize(("flag", "sent"), [("--send", True), (None, False)])
def test_digest_is_sent_to_the_regions_mailbox_only_when_asked(flag, sent):
    result = ok("digest", "--region", "Corse", "--since", "2024-03-01", *([flag] if flag else []))
    assert (Path("outbox") / "Corse@resah.fr" / "new").is_dir() is sent
    assert ("synthèse envoyée à Corse@resah.fr" in result.stdout) is sent


@pytest.mark.parametrize("how", GIVEN)
def test_digest_reads_the_journal_of_the_state_folder_given(how, state):
    before, after, env = folder_given(how, "state", state)
    result = ok(*before, "digest", "--region", "Hauts-de-France", "--since", "2020-01-01", *after, env=env)
    assert "Dépôts reçus : 1 " in result.stdout


# -- watch ----------------------------------------------------------------------------------------


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def watching(*args: str | Path, inbox: Path, env=None, drop=None, until=lambda: False, timeout: float = 5.0):
    """`csac ARGS` (a watch) in this process, stopped by Ctrl-C once `until()` holds or after `timeout` s.

    Ctrl-C is sent only while the command's own handler stands in for pytest's. `drop()` runs once
    the watcher has made its folder in the inbox's processing/ (or after 5 s: a watcher that looks
    elsewhere is stopped all the same, and the test fails rather than hangs)."""
    pytests = signal.getsignal(signal.SIGINT)
    mine = inbox / "processing" / f"{socket.gethostname()}-{os.getpid()}"
    finished = threading.Event()

    def handled() -> bool:
        return signal.getsignal(signal.SIGINT) is not pytests

    def stopper() -> None:
        if not wait_for(lambda: handled() or finished.is_set(), 30) or finished.is_set():
            return
        wait_for(mine.is_dir, 5)
        if drop:
            drop()
        wait_for(until, timeout)
        if not finished.is_set() and handled():
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=stopper)
    thread.start()
    try:
        return ok(*args, env=env)
    finally:
        finished.set()
        thread.join()


def taken(inbox: Path, name: str = "a.zip"):
    return lambda: (inbox / "done" / name).exists()


def quick(inbox: Path, *args: str | Path) -> list[str | Path]:
    return ["watch", "--inbox", inbox, "--settle", "0.1", *args]


@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
@pytest.mark.parametrize("how", GIVEN)
def test_watch_takes_in_what_is_dropped_in_the_inbox_given(how, tmp_path):
    inbox = tmp_path / "depots"
    before, after, env = folder_given(how, "inbox", inbox)
    note_zip(inbox, "a.zip")
    watching(*before, "watch", "--settle", "0.1", *after, inbox=inbox, env=env, until=taken(inbox))
    assert taken(inbox)() and not Path("inbox").exists()


@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
def test_watch_delivers_into_the_outbox_given(tmp_path):
    inbox = tmp_path / "depots"
    note_zip(inbox, "a.zip")
    watching(*quick(inbox, "--outbox", tmp_path / "courrier"), inbox=inbox, until=taken(inbox))
    assert files_under(tmp_path / "courrier") and not Path("outbox").exists()


@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
def test_watch_journals_in_the_state_folder_given(tmp_path):
    inbox = tmp_path / "depots"
    note_zip(inbox, "a.zip")
    watching(*quick(inbox, "--state", tmp_path / "etat"), inbox=inbox, until=taken(inbox))
    assert [r["file"] for r in Journal(tmp_path / "etat" / "journal.sqlite").latest()] == ["a.zip"]


@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
@pytest.mark.parametrize(("args", "said"), [(["--poll", "0.2"], "interrogation toutes les 0.2 s"),
                                            ([], "événements du système de fichiers")])  # fmt: skip
@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
def test_watch_polls_the_inbox_when_asked(args, said, tmp_path):
    inbox = tmp_path / "depots"
    note_zip(inbox, "a.zip")
    result = watching(*quick(inbox, *args), inbox=inbox, until=taken(inbox))
    assert said in result.stderr and taken(inbox)()


@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
def test_watch_leaves_a_file_alone_until_it_has_settled(tmp_path):
    """Taken within a second by default (0.5 s), a file waits the 60 s asked."""
    inbox = tmp_path / "depots"
    drop = lambda: note_zip(inbox, "a.zip")  # noqa: E731
    watching("watch", "--inbox", inbox, "--settle", "60", inbox=inbox, drop=drop, timeout=2)
    assert (inbox / "a.zip").exists() and not taken(inbox)()


@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
def test_watch_takes_a_file_that_never_reads_as_a_zip_once_it_has_waited_the_grace_given(tmp_path):
    """Taken (and refused) after the 0.3 s asked, where it waits 30 s by default: it may still be
    being written."""
    inbox = tmp_path / "depots"
    inbox.mkdir()
    (inbox / "a.zip").write_bytes(b"pas un zip")
    watching(*quick(inbox, "--corrupt-grace", "0.3"), inbox=inbox, until=taken(inbox))
    assert taken(inbox)()
    assert [r["status"] for r in Journal(Path("var") / "journal.sqlite").latest()] == ["rejected"]


@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
def test_watch_rescan_adopts_a_dead_watchers_deposit_that_often(tmp_path):
    """A dead watcher's claim is adopted at the next rescan: 0.3 s asked, 10 s by default. It is
    made once a first deposit was taken, so after the rescan every watcher makes as it starts."""
    inbox = tmp_path / "depots"

    def dead_watchers_claim() -> None:
        note_zip(inbox, "a.zip")
        if wait_for(taken(inbox), 5):
            note_zip(inbox / "processing" / "ailleurs-1" / "123-x", "b.zip")

    watching(
        *quick(inbox, "--rescan", "0.3"), inbox=inbox, drop=dead_watchers_claim, until=taken(inbox, "b.zip")
    )
    assert taken(inbox, "b.zip")()


@pytest.mark.slow  # a real watcher in process (make check leaves watchers out)
@pytest.mark.parametrize(("flag", "is_json"), [("--log-json", True), (None, False)])
def test_watch_logs_one_json_object_per_line_when_asked(flag, is_json, tmp_path):
    inbox = tmp_path / "depots"
    note_zip(inbox, "a.zip")
    result = watching(*quick(inbox, *([flag] if flag else [])), inbox=inbox, until=taken(inbox))
    lines = result.stderr.strip().splitlines()
    assert len(lines) > 2

    def parses(line: str) -> bool:
        try:
            return "message" in json.loads(line)
        except json.JSONDecodeError:
            return False

    assert all(map(parses, lines)) is is_json and any(map(parses, lines)) is is_json
