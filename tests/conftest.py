"""Shared fixtures: the real data files, a compiled renderer, sample inputs."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from docx import Document

from pipeline import resident
from pipeline.regions import load_regions
from pipeline.render import Renderer
from pipeline.request import parse_request
from pipeline.resources import Resources
from pipeline.variants import load_variants
from tests import session_builds, warm

# No test goes through a resident csac its user may have started (`csac warm start`): every csac here runs
# in its own process, as the tests expect. tests/test_resident.py starts its own, on a private socket folder.
os.environ[resident.OFF] = "1"

FIXTURES = Path(__file__).parent / "fixtures"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
VARIANT_IDS = ["2021-045-lot2", "2021-045-lot4", "2021-047-001", "2021-063-002"]

BETHUNE = {
    "signataire": {
        "denomination": "Communauté d’Agglomération de Béthune-Bruay, Artois-Lys Romane",
        "siret": "200 072 460 00013",
        "typologie": "communaute_agglomeration",
        "adresse": "100 avenue de Londres, CS 40548",
        "code_postal": "62411",
        "ville": "BETHUNE CEDEX",
        "montant_maximum": 250000,
    },
    "mode": "compte_propre",
}


@pytest.fixture(scope="session")
def signed_deposit(tmp_path_factory) -> Path:
    """A signed deposit of the example signatory (pipeline.sample), its form beside it; built once."""
    from pipeline import api

    folder = tmp_path_factory.mktemp("signed")
    beneficiary = Path(__file__).parent.parent / "examples" / "beneficiaire.yaml"
    return api.sample_deposit(api.SampleOptions(beneficiary=beneficiary, out=folder / "d.zip"))[0]


@pytest.fixture(scope="session")
def resources() -> Resources:
    return Resources.default()


@pytest.fixture(scope="session")
def variants(resources):
    return load_variants(resources)


@pytest.fixture(scope="session")
def regions(resources):
    return load_regions(resources.regions_file)


@pytest.fixture(scope="session")
def renderer(resources, variants) -> Renderer:
    return Renderer.build(resources, list(variants.values()))


@pytest.fixture
def bethune() -> dict:
    return copy.deepcopy(BETHUNE)


@pytest.fixture
def parse(resources, regions, variants):
    """Parse beneficiary data the way the CLI does, against every variant."""

    def _parse(data, chosen=None):
        chosen = [variants[i] for i in (chosen or VARIANT_IDS)]
        return parse_request(data, "test", regions, resources.schema("beneficiary"), chosen)

    return _parse


def docx_text(source) -> str:
    """Every text run of the body, tables included, in document order."""
    body = Document(source).element.body
    return "\n".join(t.text or "" for t in body.iter(f"{W}t"))


def run_csac(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real `csac` command in a process of its own (forked warm: tests/warm.py), by default in an
    empty folder of its own.

    What csac writes beside itself (var/ when no --state is given) then never
    lands in the repository, where parallel test workers would share it.
    """
    env = os.environ | {"COLUMNS": "200"}
    with tempfile.TemporaryDirectory(prefix="csac-cwd-") as scratch:
        return warm.run(
            [sys.executable, "-m", "pipeline", *args],
            capture_output=True,
            text=True,
            cwd=cwd or scratch,
            env=env,
            timeout=300,
        )


@pytest.fixture(scope="session")
def soffice() -> str:
    """LibreOffice, required in CI (.ci/run installs it), skipped loudly elsewhere."""
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("LibreOffice is missing in CI: .ci/run should have installed libreoffice-writer-nogui")
    pytest.skip("LibreOffice (soffice) absent: apt-get install -y libreoffice-writer-nogui to run this check")


@pytest.fixture(scope="session")
def tesseract() -> str:
    """Tesseract with its French, required in CI (.ci/run installs it), skipped loudly elsewhere."""
    from pipeline.ocr import available

    missing = available()
    if missing is None:
        return shutil.which("tesseract")
    if os.environ.get("CI"):
        pytest.fail(f"{missing} — in CI, .ci/run should have installed tesseract-ocr tesseract-ocr-fra")
    pytest.skip(f"OCR NOT TESTED: {missing}")


@pytest.fixture
def workspace(tmp_path):
    from pipeline.resources import Workspace

    return Workspace(tmp_path / "inbox", tmp_path / "outbox", tmp_path / "var")


@pytest.fixture(scope="session")
def loaded_intake(resources):
    """What IntakeContext.build reads from the repository (variants, regions, problems): once per session.

    Its OCR is patient (tests/ocr_scans.py): a scan's verdict must not hang on the machine's load."""
    from pipeline.intake import IntakeContext
    from pipeline.resources import Workspace
    from tests.ocr_scans import PATIENT

    return replace(IntakeContext.build(resources, Workspace()), ocr_limits=PATIENT)


@pytest.fixture
def intake_ctx(loaded_intake, workspace):
    """IntakeContext.build(resources, workspace), without reading the repository's files again."""
    config = replace(loaded_intake.config, workspace=workspace)
    return replace(loaded_intake, workspace=workspace, config=config)


@pytest.fixture
def drop(tmp_path):
    """Write a deposit ZIP (and its form) where a clerk would put it."""

    def _drop(data: bytes, name: str = "depot.zip", form: dict | None = None):
        folder = tmp_path / "drops"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_bytes(data)
        if form is not None:
            import json

            path.with_suffix(".json").write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
        return path

    return _drop


def pytest_configure(config):
    """The folder where tests/session_builds.py shares built documents, for this session only.

    Made by the first process (xdist's controller, or pytest alone): the workers it starts inherit
    its path, set before they start.
    """
    if os.environ.get(session_builds.FOLDER_VARIABLE):
        return
    folder = tempfile.mkdtemp(prefix="csac-tests-built-")
    os.environ[session_builds.FOLDER_VARIABLE] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    config.add_cleanup(lambda: os.environ.pop(session_builds.FOLDER_VARIABLE, None))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Each parametrized test's first case stays in `make check`, its other cases are `slow`; the
    files holding slow tests run first, each file's tests kept together.

    Run first, the long waits of watchers and relays overlap with the rest under xdist instead of
    trailing at the end. Kept together, a file's module fixtures (six photos read by Tesseract, a
    watcher, a rendered package) are built once per worker: sorting the slow tests alone to the front
    split each file in two, and its module fixtures were torn down and built again in between.
    """
    seen = set()
    for item in items:
        if not hasattr(item, "callspec"):
            continue
        function = item.nodeid.split("[")[0]
        if function in seen:
            item.add_marker(pytest.mark.slow)
        seen.add(function)
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)
