"""`--pdf`: a PDF beside each Word file, the whole campaign through one LibreOffice per batch.

Each test puts a `soffice` first on PATH that notes its call, then runs the real one: the count
of calls is the count of LibreOffice processes csac started."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pdfplumber
import pytest
from typer.testing import CliRunner

from pipeline import api
from pipeline.cli import app
from pipeline.errors import ArgumentError, ExitCode
from pipeline.topdf import convert_to_pdf

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("libreoffice")]

EXAMPLES = Path(__file__).parent.parent / "examples"
runner = CliRunner(env={"COLUMNS": "1000"})


@pytest.fixture
def calls(tmp_path, monkeypatch, soffice) -> Path:
    """The log of soffice calls: one line per LibreOffice process started."""
    bin_dir, log = tmp_path / "bin", tmp_path / "soffice-calls.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "soffice"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{soffice}" "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    log.touch()
    return log


def _text(pdf: Path) -> str:
    with pdfplumber.open(pdf) as doc:
        return "\n".join(page.extract_text() or "" for page in doc.pages)


def test_render_pdf_writes_a_pdf_beside_each_word_file_in_one_soffice_call(calls, tmp_path):
    result = runner.invoke(
        app,
        ["render", "all", "-b", str(EXAMPLES / "beneficiaire.yaml"), "-o", "out", "--state", "var", "--pdf"],
    )
    assert result.exit_code == 0, result.output
    words = sorted(Path("out").rglob("*.docx"))
    assert len(words) == 5  # four conventions and the bulletin
    assert sorted(Path("out").rglob("*.pdf")) == [w.with_suffix(".pdf") for w in words]
    assert not list(Path("out").rglob("Annexe*.pdf"))  # the annex stays a workbook to fill in
    assert "Pour le signataire" in _text(
        next(w for w in words if "2021-045-lot2" in w.name).with_suffix(".pdf")
    )
    assert len(calls.read_text().splitlines()) == 1


def test_without_pdf_no_libreoffice_runs(calls):
    result = runner.invoke(
        app,
        ["render", "2021-045-lot2", "-b", str(EXAMPLES / "beneficiaire.yaml"), "-o", "out", "--state", "var"],
    )
    assert result.exit_code == 0, result.output
    assert not list(Path("out").rglob("*.pdf")) and calls.read_text() == ""


def test_a_campaign_is_converted_by_one_soffice_call(calls):
    options = api.CampaignOptions(
        campaign=EXAMPLES / "campagne.csv",
        variants=("2021-063-002",),
        out=Path("out"),
        jobs=1,
        kinds=("convention",),
        state=Path("var"),
        pdf=True,
    )
    result = api.render_campaign(options)
    words = sorted(Path("out").rglob("*.docx"))
    assert len(words) == result.files == 5
    for word in words:  # each PDF is its own signatory's convention
        siret = word.parent.name
        assert f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}" in _text(word.with_suffix(".pdf"))
    assert len(calls.read_text().splitlines()) == 1


def test_files_of_the_same_name_in_two_folders_go_in_two_calls(calls, tmp_path, renderer, parse, bethune):
    """soffice writes every PDF of a call into one folder: two files named alike cannot share it."""
    import datetime as dt

    from pipeline.render import write_documents

    sources = []
    for folder, name in (("a", "Commune d’Alpha"), ("b", "Commune de Bêta")):
        bethune["signataire"]["denomination"] = name
        (doc,) = renderer.package(parse(bethune), dt.date(2024, 3, 1), ("bulletin",))
        write_documents(tmp_path / folder, [doc])
        sources.append(tmp_path / folder / doc.relpath)
    assert sources[0].name == sources[1].name
    made = convert_to_pdf(sources)
    assert made == [s.with_suffix(".pdf") for s in sources]
    assert "Commune d’Alpha" in _text(made[0]) and "Commune de Bêta" in _text(made[1])
    assert len(calls.read_text().splitlines()) == 2


def test_without_libreoffice_pdf_is_refused_in_french(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice there
    monkeypatch.chdir(tmp_path)
    word = tmp_path / "lettre.docx"
    word.write_bytes(b"")
    with pytest.raises(ArgumentError, match="LibreOffice .soffice. introuvable.*relancez sans --pdf"):
        convert_to_pdf([word])
    result = runner.invoke(
        app,
        [
            "render",
            "2021-045-lot2",
            "-b",
            str(EXAMPLES / "beneficiaire.yaml"),
            "-o",
            "out",
            "--state",
            "v",
            "--pdf",
        ],
    )
    assert isinstance(result.exception, ArgumentError) and result.exception.exit_code == ExitCode.bad_args
    assert not Path("out").exists()  # checked before anything is written
