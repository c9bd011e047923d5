"""What a `csac` process imports before its first line of work, in fresh interpreters.

Start-up is most of a single command's cost (bench/intake.py measures it): the heavy libraries are
imported by the code that uses them, YAML is parsed by libyaml, a signature is validated without
pyHanko's signing API and the aiohttp it drags in, Tesseract is started only for a scan, and csac's
objects are left to the OS at exit. The import tests start a fresh interpreter (exec'd, not forked from
the tests' warm server, which has all of these imported already).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml
from PIL import Image

from pipeline import api, ocr
from pipeline.archive import Member
from pipeline.extract import extract
from pipeline.reading import SAFE_LOADER
from tests import ocr_scans as scans

EXAMPLES = Path(__file__).parent.parent / "examples"
HEAVY = ("jsonschema", "openpyxl", "docx", "docxtpl", "pypdfium2", "pikepdf", "pyhanko", "pdfplumber", "fpdf")


def fresh(code: str) -> dict:
    """Run `code` in a new interpreter; it prints a JSON value, returned here."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow  # fresh interpreters
@pytest.mark.parametrize("module", ["pipeline.cli", "pipeline.api", "pipeline.config"])
def test_starting_csac_imports_no_document_library(module):
    loaded = fresh(
        f"import sys, json, {module}; print(json.dumps(sorted(set(m.split('.')[0] for m in sys.modules))))"
    )
    assert not set(HEAVY) & set(loaded)


@pytest.mark.slow  # fresh interpreters
def test_help_imports_no_document_library():
    code = (
        "import sys, json, contextlib, io\nfrom pipeline.cli import app\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): app(['intake', '--help'])\n"
        "print(json.dumps(sorted(set(m.split('.')[0] for m in sys.modules))))"
    )
    assert not set(HEAVY) & set(fresh(code))


@pytest.fixture
def signed(signed_deposit) -> Path:
    return signed_deposit


@pytest.mark.slow  # a fresh interpreter
def test_a_signature_is_validated_without_the_signing_api_or_aiohttp(signed):
    code = (
        "import sys, json, zipfile\nfrom pipeline.signature import check_pdf\n"
        f"z = zipfile.ZipFile({str(signed)!r})\n"
        "pdf = z.read(next(n for n in z.namelist() if 'Convention' in n))\n"
        "found = check_pdf(pdf, False)\n"
        "print(json.dumps([found.status, 'aiohttp' in sys.modules, 'pyhanko.sign.signers' in sys.modules]))"
    )
    assert fresh(code) == ["valid", False, False]


@pytest.mark.slow  # the installed program, exec'd
def test_the_installed_csac_takes_in_a_signed_deposit_as_complete(signed, tmp_path):
    csac = Path(sys.executable).with_name("csac")
    done = subprocess.run(
        [csac, "intake", signed, "--outbox", tmp_path / "o", "--state", tmp_path / "v", "--json"],
        capture_output=True, text=True, env=os.environ | {"COLUMNS": "200"},
    )  # fmt: skip
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["status"] == "complete", done.stderr
    assert report["signature"]["status"] == "valid"


def test_yaml_is_read_by_libyaml_when_pyyaml_has_it():
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml (apt-get install libyaml-dev, then reinstall PyYAML)")
    assert SAFE_LOADER is yaml.CSafeLoader


@pytest.fixture
def watched_tesseract(tmp_path, monkeypatch) -> Path:
    """A `tesseract` first on the PATH that notes each start in the file returned and knows no language:
    OCR then reads as unavailable (French missing), and nothing is ever OCRed. Its folder's name is new
    each time: pytest may give the next test the same tmp_path, and csac asks Tesseract once per PATH."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    started = tmp_path / "tesseract-started"
    (folder / "tesseract").write_text(f"#!/bin/sh\necho \"$@\" >> '{started}'\n", encoding="utf-8")
    (folder / "tesseract").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return started


def test_a_deposit_without_scans_never_starts_tesseract(signed, tmp_path, watched_tesseract):
    options = api.IntakeOptions(deposit=signed, outbox=tmp_path / "o", state=tmp_path / "v")
    report = api.take_in_deposit(options)
    assert report.status == "complete"
    assert not watched_tesseract.exists()


@pytest.mark.parametrize("named", ["Convention signée", "/EJ ", ".xlsx"])
def test_a_document_with_text_is_read_without_starting_tesseract(named, signed, watched_tesseract):
    with zipfile.ZipFile(signed) as z:
        member = next(Member(n, z.read(n)) for n in z.namelist() if named in n)
    doc = extract(member, reading=ocr.Reading.start(ocr.Limits(), None))
    assert doc.text and doc.ocr is None
    assert not watched_tesseract.exists()


@pytest.mark.parametrize("kind", ["photo", "image-only PDF"])
def test_a_scan_asks_tesseract_whether_ocr_can_run(kind, watched_tesseract):
    page = Image.new("L", (850, 1100), 255)
    data = {"photo": scans.jpeg(page), "image-only PDF": scans.image_pdf([page], 100)}[kind]
    doc = extract(Member("scan", data), reading=ocr.Reading.start(ocr.Limits(), None))
    assert watched_tesseract.read_text(encoding="utf-8").split() == ["--list-langs"]
    assert doc.ocr.startswith("OCR indisponible (français de Tesseract absent)")


CONVENTION_PDF = (
    "import sys, json, zipfile\nfrom pipeline import signature\n"
    "z = zipfile.ZipFile(sys.argv[1])\npdf = z.read(next(n for n in z.namelist() if 'Convention' in n))\n"
)


def fresh_on(signed: Path, code: str) -> dict:
    """`code` in a new interpreter, `pdf` bound to the signed convention's bytes; it prints a JSON value."""
    done = subprocess.run(
        [sys.executable, "-c", CONVENTION_PDF + code, str(signed)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow  # a fresh interpreter
def test_after_a_validation_pyhankos_signing_names_still_import(signed):
    """A tool's probe (inspect.unwrap asks for __wrapped__) does not load the signing API; a name of it does."""
    code = (
        "status = signature.check_pdf(pdf, False).status\nimport pyhanko.sign, inspect\n"
        "inspect.unwrap(pyhanko.sign)\nbefore = 'aiohttp' in sys.modules\n"
        "from pyhanko.sign import DEFAULT_MD, PdfSigner, Signer, signers\n"
        "print(json.dumps([status, before, PdfSigner is signers.PdfSigner, Signer is signers.Signer,\n"
        "                  pyhanko.sign.sign_pdf is signers.sign_pdf, DEFAULT_MD == signers.DEFAULT_MD]))"
    )
    assert fresh_on(signed, code) == ["valid", False, True, True, True, True]


@pytest.mark.slow  # fresh interpreters
def test_the_first_validation_in_a_process_gets_the_whole_call_budget(signed):
    """The least budget under which the signature reads as valid, found once pyHanko is imported, is
    enough, within a tenth (first calls fill caches), for the first validation of a fresh process:
    importing pyHanko's validation (about as many calls again as the check) is not charged to the PDF."""
    least = fresh_on(
        signed,
        "signature.check_pdf(pdf, False)\nlow, high = 1, signature.CALL_BUDGET\n"
        "while low < high:\n    signature.CALL_BUDGET = (low + high) // 2\n"
        "    ok = signature.check_pdf(pdf, False).status == 'valid'\n"
        "    low, high = (low, signature.CALL_BUDGET) if ok else (signature.CALL_BUDGET + 1, high)\n"
        "print(low)",
    )
    code = f"signature.CALL_BUDGET = {least * 11 // 10}\nprint(json.dumps([signature.check_pdf(pdf, False).status]))"
    assert fresh_on(signed, code) == ["valid"]


@pytest.mark.slow  # a fresh interpreter
def test_at_exit_csac_leaves_its_objects_to_the_os(tmp_path):
    """Frozen at exit, csac's objects are not traversed by the interpreter's last collections (about 130 ms
    of CPU after an intake, README); an exit handler registered before csac ran still runs, after it."""
    code = (
        "import atexit, gc, json, sys\n"
        "atexit.register(lambda: print(json.dumps([gc.get_freeze_count() > 1000])))\n"
        "from pipeline.cli import main\nsys.argv = ['csac', 'variants', '--json']\nmain()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [True]
