"""The rendered .docx as LibreOffice lays them out: page count, blocks kept whole, headings
never stranded, footers counting the real pages, and every page an image worth looking at.

Pages depend on the font: the templates ask for Calibri, which LibreOffice replaces by
Carlito, its metric twin, so these pages are the pages Word prints."""

import datetime as dt
import io
import os
import re
import shutil
import subprocess

import pdfplumber
import pypdfium2 as pdfium
import pytest
from PIL import ImageOps

from pipeline.errors import CsacError
from pipeline.render import write_documents
from pipeline.request import parse_request
from pipeline.textnorm import squash
from pipeline.topdf import convert_to_pdf
from tests.conftest import BETHUNE, VARIANT_IDS

# LibreOffice converts every rendered document: one worker does it, once per module.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("libreoffice")]

FOOTER = re.compile(r"– Page (\d+) sur (\d+)")
# The seed's conventions (seeds/000) have 5 pages each, and so do ours; the bulletin has 3
# (its form on page 1, the mailboxes and annexes on pages 2 and 3).
PAGES = dict.fromkeys(VARIANT_IDS, 5) | {"bulletin": 3}
DOCUMENTS = [*VARIANT_IDS, "bulletin"]
CM = 72 / 2.54  # PDF points in a centimetre
LONG_NAME = "Syndicat intercommunal à vocation multiple pour l’eau, l’assainissement et les déchets"

# Two members of the class: the sample signatory on its own account, with a representative; and a
# long-named signatory acting for two beneficiaries, none named to sign (its block says so).
SIGNATORIES = {
    "bethune": BETHUNE
    | {"signataire": BETHUNE["signataire"] | {"representant": "Olivier Gacquerre, Président"}},
    "mandat": {
        "signataire": BETHUNE["signataire"] | {"denomination": LONG_NAME, "typologie": "communaute_communes"},
        "mode": "mandat",
        "beneficiaires": [
            BETHUNE["signataire"],
            BETHUNE["signataire"] | {"siret": "200 053 742 00017", "typologie": "region"},
        ],
    },
}


@pytest.fixture(scope="module")
def carlito():
    """Calibri's metric twin: without it LibreOffice falls back to a wider font and paginates otherwise."""
    found = (
        shutil.which("fc-match")
        and subprocess.run(["fc-match", "Calibri"], capture_output=True, text=True, check=False).stdout
    )
    if found and "Carlito" in found:
        return
    if os.environ.get("CI"):
        pytest.fail("Carlito is missing in CI: .ci/run should have installed fonts-crosextra-carlito")
    pytest.skip(
        "Carlito (Calibri's metrics) absent: apt-get install -y fonts-crosextra-carlito to run this check"
    )


@pytest.fixture(scope="module")
def parse(resources, regions, variants):
    return lambda data: parse_request(
        data, "test", regions, resources.schema("beneficiary"), list(variants.values())
    )


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory, parse, renderer, soffice) -> dict[tuple[str, str], bytes]:
    """Both signatories' Word files, converted in ONE soffice call: (signatory, document) -> PDF."""
    out = tmp_path_factory.mktemp("lo")
    sources = {}
    for name, data in SIGNATORIES.items():
        docs = renderer.package(parse(data), dt.date(2024, 3, 1), ("convention", "bulletin"))
        write_documents(out / name, docs)
        for doc in docs:
            sources[name, doc.variant or "bulletin"] = out / name / doc.relpath
    made = convert_to_pdf(list(sources.values()), soffice)
    assert len(made) == len(sources)
    return {key: path.with_suffix(".pdf").read_bytes() for key, path in sources.items()}


def _pages(pdf: bytes) -> list[list[dict]]:
    """Each page's text lines (pdfplumber), the footer left out."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return [
            [line for line in page.extract_text_lines() if not FOOTER.search(line["text"])]
            for page in doc.pages
        ]


def _on_one_page(pages: list[list[dict]], first: str, last: str) -> list[int]:
    """The pages that hold any line from the one with `first` to the one with `last` (in either column)."""
    held, inside = set(), False
    for number, lines in enumerate(pages):
        for line in lines:
            inside = inside or first in line["text"]
            if inside:
                held.add(number)
            if inside and last in line["text"]:
                return sorted(held)
    raise AssertionError(f"no block from {first!r} to {last!r}")


def _headings(variants, document: str) -> list[str]:
    if document == "bulletin":
        return [
            "Informations relatives à l’établissement",
            "Informations relatives à l’interlocuteur unique pour le Resah",
            "Merci de cocher la catégorie de votre établissement :",
            "Le Bulletin est à retourner complété par courriel à l’adresse de votre région :",
            "Annexe 1",
            "Annexe 2",
        ]
    variant = variants[document]
    return [a.title for a in variant.articles] + [
        b.text for a in variant.articles for b in a.blocks if b.kind == "h2"
    ]


def _stranded(pages: list[list[dict]], heading: str) -> str | None:
    """Why `heading` is badly placed (last on its page, cut across pages or inside a word), or None."""
    want = squash(heading)
    for number, lines in enumerate(pages):
        texts = [squash(line["text"]) for line in lines]
        for start in range(len(texts)):
            joined, end = "", start
            while end < len(texts) and len(joined) < len(want):
                joined += texts[end]
                end += 1
            if joined.startswith(want):
                if end == len(texts):
                    return f"page {number + 1}: the heading is the page's last line"
                if any(lines[i]["text"].rstrip().endswith("-") for i in range(start, end - 1)):
                    return f"page {number + 1}: the heading breaks inside a hyphenated word"
                return None
    return "not found whole on any page: cut across two pages"


@pytest.mark.parametrize("signatory", SIGNATORIES)
@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_page_count_is_the_seeds(pdfs, carlito, signatory, document):
    assert len(_pages(pdfs[signatory, document])) == PAGES[document]


@pytest.mark.parametrize("signatory", SIGNATORIES)
@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_mailbox_frame_sits_on_one_page(pdfs, carlito, signatory, document):
    first = "Votre région" if document == "bulletin" else "En cas de signature manuscrite"
    pages = _pages(pdfs[signatory, document])
    assert len(_on_one_page(pages, first, "Pays de la Loire")) == 1
    assert len(_on_one_page(pages, first, "Guyane")) == 1  # the two columns' last lines


@pytest.mark.parametrize("signatory", SIGNATORIES)
@pytest.mark.parametrize("document", VARIANT_IDS)
def test_the_signature_block_sits_on_one_page_with_room_to_sign(pdfs, carlito, variants, signatory, document):
    pages = _pages(pdfs[signatory, document])
    (number,) = _on_one_page(pages, "Pour le signataire", "Signature et cachet")
    lines = pages[number]
    last_words = variants[document].articles[-1].blocks[-1].text  # the closing lines, kept with it
    assert squash(last_words[:60]) in squash(" ".join(line["text"] for line in lines))
    label = next(line for line in lines if line["text"].startswith("Pour le signataire"))
    # The OCR side's contract: both parties' labels open the same line, the signatory's on the left
    assert "Pour le Resah" in label["text"] and label["x0"] < 3 * CM
    closing = [line for line in lines if line["text"].startswith("Signature et cachet")]
    assert len(closing) == 1 and closing[0]["text"].count("Signature et cachet") == 2
    above = [line for line in lines if label["top"] <= line["top"] < closing[0]["top"]]
    assert closing[0]["top"] - above[-1]["bottom"] >= 3.5 * CM  # about 4 cm to sign and stamp


@pytest.mark.parametrize("signatory", SIGNATORIES)
@pytest.mark.parametrize("document", DOCUMENTS)
def test_no_heading_is_the_last_line_of_a_page(pdfs, carlito, variants, signatory, document):
    pages = _pages(pdfs[signatory, document])
    placed = {h: _stranded(pages, h) for h in _headings(variants, document)}
    assert {h: why for h, why in placed.items() if why} == {}


@pytest.mark.parametrize("signatory", SIGNATORIES)
@pytest.mark.parametrize("document", DOCUMENTS)
def test_footers_say_page_n_of_the_real_page_count_on_one_line(pdfs, signatory, document):
    """One line whatever the signatory's name: the bulletin's footer names its SIRET, not its name."""
    label = "Bulletin d’adhésion" if document == "bulletin" else "Convention de service d’achat centralisé"
    with pdfplumber.open(io.BytesIO(pdfs[signatory, document])) as pdf:
        pages = len(pdf.pages)
        lines = [
            [t["text"] for t in page.extract_text_lines() if FOOTER.search(t["text"])] for page in pdf.pages
        ]
    assert pages >= 2
    assert [FOOTER.findall(found[-1])[-1] for found in lines] == [
        (str(n), str(pages)) for n in range(1, pages + 1)
    ]
    assert all(found[-1].startswith(label) for found in lines)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_page_has_text_above_its_footer(pdfs, document):
    """Each page as an image (what make docs shows): ink in the body, not a footer alone."""
    doc = pdfium.PdfDocument(pdfs["bethune", document])
    try:
        for number in range(len(doc)):
            image = ImageOps.invert(doc[number].render(scale=40 / 72).to_pil().convert("L"))
            body = image.crop((0, 0, image.width, int(image.height * 0.85)))
            assert body.getbbox() is not None, f"page {number + 1} is empty"
    finally:
        doc.close()


@pytest.fixture(scope="module")
def annex_text(tmp_path_factory, parse, renderer, soffice) -> str:
    """The sample signatory's annex as LibreOffice Calc prints it, whatever the machine's locale."""
    out = tmp_path_factory.mktemp("lo-annex")
    docs = renderer.package(parse(SIGNATORIES["bethune"]), dt.date(2024, 3, 1), ("annex",))
    write_documents(out, docs[:1])
    source = out / docs[0].relpath
    try:
        [made] = convert_to_pdf([source], soffice)
    except CsacError as exc:  # Writer alone cannot open a workbook
        pytest.skip(
            f"LibreOffice Calc absent ({exc}): apt-get install -y libreoffice-calc-nogui to run this check"
        )
    with pdfplumber.open(made) as pdf:
        return "\n".join(page.extract_text() for page in pdf.pages)


def test_the_annex_amounts_print_the_french_way_whatever_the_locale(annex_text):
    """LibreOffice formats a number in the locale its format names; none named, the system's ("250,000.00 €")."""
    assert "250 000,00 €" in annex_text and "1 000,00 €" in annex_text, annex_text
    assert not re.search(r"\d,\d{3}\.\d\d", annex_text), annex_text
