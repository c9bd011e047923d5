"""The README's page images: the sample package converted by LibreOffice, three pages as PNG.

Run: make docs (or .venv/bin/python tools/page_images.py [--all DIR] to see every page of every
document, as the layout is reviewed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.render import Renderer, write_documents  # noqa: E402
from pipeline.request import parse_request, read_data_file  # noqa: E402
from pipeline.resources import Resources  # noqa: E402
from pipeline.topdf import convert_to_pdf  # noqa: E402
from pipeline.variants import load_variants  # noqa: E402

SAMPLE = ROOT / "examples" / "beneficiaire.yaml"
DAY = dt.date(2024, 3, 1)
DPI = 110
# (image, document, text that marks its page)
SHOWN = (
    ("signature.png", "CSAC_2021-045-lot2_", "Pour le signataire"),
    ("tarifs.png", "CSAC_2021-045-lot2_", "votre typologie"),
    ("annexe.png", "Annexe_Vos-besoins_2021-045-lot2_", None),
)


def render_sample(out: Path) -> list[Path]:
    """The sample signatory's whole package, written, then converted to PDF in one soffice call."""
    resources = Resources.default()
    variants = list(load_variants(resources).values())
    renderer = Renderer.build(resources, variants)
    request = parse_request(
        read_data_file(SAMPLE), str(SAMPLE), renderer.regions, resources.schema("beneficiary"), variants
    )
    docs = renderer.package(request, DAY)
    write_documents(out, docs)
    return convert_to_pdf([out / d.relpath for d in docs])


def page_with(pdf: Path, text: str | None) -> int:
    if text is None:
        return 0
    with pdfplumber.open(pdf) as doc:
        for number, page in enumerate(doc.pages):
            if text in (page.extract_text() or ""):
                return number
    raise SystemExit(f"{pdf.name} : aucune page ne contient {text!r}")


def save_page(pdf: Path, number: int, target: Path) -> None:
    doc = pdfium.PdfDocument(pdf)
    try:
        doc[number].render(scale=DPI / 72).to_pil().convert("RGB").save(target, optimize=True)
    finally:
        doc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--all", type=Path, help="write every page of every document into this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="csac-docs-") as scratch:
        pdfs = render_sample(Path(scratch))
        if args.all:
            args.all.mkdir(parents=True, exist_ok=True)
            for pdf in pdfs:
                for number in range(len(pdfium.PdfDocument(pdf))):
                    save_page(pdf, number, args.all / f"{pdf.stem}-p{number + 1}.png")
            print(f"pages écrites dans {args.all}")
            return
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        for image, prefix, marker in SHOWN:
            pdf = next(p for p in pdfs if p.name.startswith(prefix))
            save_page(pdf, page_with(pdf, marker), docs / image)
            print(f"écrit docs/{image}")


if __name__ == "__main__":
    main()
