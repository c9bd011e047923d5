"""The rendered .docx open in LibreOffice, and their footers count the real pages."""

import datetime as dt
import re
import subprocess

import pdfplumber
import pytest

from pipeline.render import write_documents
from pipeline.request import parse_request
from tests.conftest import BETHUNE

pytestmark = pytest.mark.slow  # LibreOffice converts every rendered document

FOOTER = re.compile(r"– Page (\d+) sur (\d+)")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory, parse, renderer, soffice):
    out = tmp_path_factory.mktemp("lo")
    docs = renderer.package(parse(BETHUNE), dt.date(2024, 3, 1))
    write_documents(out, docs)
    sources = [str(out / d.relpath) for d in docs if d.relpath.endswith(".docx")]
    profile = f"-env:UserInstallation=file://{out}/lo-profile"
    subprocess.run(
        [soffice, profile, "--headless", "--convert-to", "pdf", "--outdir", str(out / "pdf"), *sources],
        check=True,
        capture_output=True,
        timeout=240,
    )
    return sorted((out / "pdf").glob("*.pdf"))


@pytest.fixture(scope="module")
def parse(resources, regions, variants):
    return lambda data: parse_request(
        data, "test", regions, resources.schema("beneficiary"), list(variants.values())
    )


def test_every_docx_converts_to_pdf(pdfs):
    assert len(pdfs) == 5  # four conventions and the bulletin


def test_footers_say_page_n_of_the_real_page_count(pdfs):
    for pdf_path in pdfs:
        with pdfplumber.open(pdf_path) as pdf:
            pages = len(pdf.pages)
            found = [FOOTER.findall(page.extract_text() or "")[-1] for page in pdf.pages]
        assert pages >= 2, pdf_path.name
        assert found == [(str(n), str(pages)) for n in range(1, pages + 1)], pdf_path.name
