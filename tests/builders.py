"""Real deposits, built the way they reach the Resah.

Conventions are rendered by csac, laid out as PDF with Word's ligature damage
and signed (PAdES) with a throwaway certificate; annexes are the rendered
workbook or a PDF; purchase orders are Chorus-style EJ. ZIPs are written
byte by byte when a test needs what zipfile will not write: cp850 names
without the UTF-8 flag, a Unicode-path extra field, symlinks, encryption flags.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import json
import struct
import zipfile
import zlib
from dataclasses import astuple, dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from pipeline import sample
from pipeline.request import parse_request
from pipeline.resah import load_resah
from pipeline.resources import Resources
from testkit.documents import laid_out, make_siret, spaced  # noqa: F401 (the tests' own names)
from tests.session_builds import once

RESAH = load_resah(Resources.default().resah_file)  # the orders' supplier


@once
def _identity(name: str, organisation: str) -> bytes:
    """A throwaway certificate of `name` at `organisation` and its key (DER), the certificate's length first."""
    made = sample.throwaway_identity(name, organisation)
    return struct.pack("<I", len(made.certificate)) + made.certificate + made.key


@functools.cache
def identity(name: str, organisation: str = "Commune") -> sample.Identity:
    """A signatory's throwaway certificate: its RSA key is made once per session."""
    data = _identity(name, organisation)
    size = struct.unpack_from("<I", data)[0]
    return sample.Identity(data[4 : 4 + size], data[4 + size :])


IDENTITY = identity("Maire")


@dataclass
class Entity:
    name: str = "Commune de Test-sur-Mer"
    siret: str = field(default_factory=lambda: make_siret(4242))
    typology: str = "commune"
    population: int = 60000
    address: str = "1 place de la Mairie"
    postal_code: str = "62000"
    city: str = "ARRAS"

    def data(self, mode: str = "compte_propre") -> dict:
        sig = {
            "denomination": self.name, "siret": spaced(self.siret), "typologie": self.typology,
            "adresse": self.address, "code_postal": self.postal_code, "ville": self.city, "montant_maximum": 100000,
        }  # fmt: skip
        if self.typology == "commune":
            sig["population"] = self.population
        return {"signataire": sig, "mode": mode}


# (id of the renderer or variants, resources, entities, variant) -> (that renderer or variants, documents)
_RENDERED: dict[tuple, tuple] = {}


def rendered(renderer, resources, entity: Entity, variant_id: str) -> dict:
    """The convention and annex csac renders for `entity`: once per session, their bytes then shared."""
    key = (id(renderer), resources, astuple(entity), variant_id)
    if key not in _RENDERED:  # the renderer is kept with its documents: its id is never reused meanwhile
        _RENDERED[key] = (renderer, _render(renderer, resources, entity, variant_id))
    return dict(_RENDERED[key][1])


def _render(renderer, resources, entity: Entity, variant_id: str) -> dict:
    variants = [v for v in renderer.variants if v.id == variant_id]
    request = parse_request(
        entity.data(), "test", renderer.regions, resources.schema("beneficiary"), variants
    )
    docs = [
        d
        for d in renderer.package(request, dt.date(2024, 3, 1), ("convention", "annex"))
        if d.variant == variant_id
    ]
    return {d.kind: d.data for d in docs} | {"request": request}


def groupement_rendered(resources, variants, members: list[Entity], variant_id: str = "2021-047-001") -> dict:
    """The convention and annex csac renders for a groupement: the first member is the coordonnateur.

    Rendered once per session for the same members, like `rendered`.
    """
    key = (id(variants), resources, tuple(map(astuple, members)), variant_id)
    if key not in _RENDERED:
        _RENDERED[key] = (variants, _render_groupement(resources, variants, members, variant_id))
    return dict(_RENDERED[key][1])


def _render_groupement(resources, variants, members: list[Entity], variant_id: str) -> dict:
    from pipeline.render import Renderer

    chosen = [variants[variant_id]]
    renderer = Renderer.build(resources, chosen)
    data = members[0].data("groupement")
    data["beneficiaires"] = [m.data()["signataire"] for m in members]
    request = parse_request(data, "test", renderer.regions, resources.schema("beneficiary"), chosen)
    docs = renderer.package(request, dt.date(2024, 3, 1), ("convention", "annex"))
    return {d.kind: d.data for d in docs} | {"request": request}


def members_of(count: int, start: int = 600) -> list[Entity]:
    """A groupement's members: an agglomeration that coordinates, then communautés de communes."""
    head = Entity("Communauté d'agglomération du Test", make_siret(start), "communaute_agglomeration")
    return [head] + [
        Entity(f"Communauté de communes n° {i}", make_siret(start + i), "communaute_communes")
        for i in range(1, count)
    ]


GROUPEMENT_HEADER = (  # the real annex's headers, in another order, with a role column
    "SIRET", "Rôle dans le groupement", "Dénomination", "Typologie", "Code postal", "Ville",
    "Montant contractuel maximum (€ HT)", "Adresse",
)  # fmt: skip


TYPOLOGY_FR = {
    "communaute_agglomeration": "Communauté d'agglomération",
    "communaute_communes": "Communauté de communes",
    "commune": "Commune",
}


@once
def groupement_xlsx(members: list[Entity], total: str | None = None, roles: bool = True) -> bytes:
    """A groupement's own spreadsheet: titled, rows marked coordonnateur / membre; `total` adds csac's
    Total row. Without roles, a plain list of beneficiaries: no title, no role column, nothing says
    groupement."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Membres" if roles else "Bénéficiaires"
    if roles:
        ws.append(["Groupement de commandes — liste des membres"])
        ws.append([])
    header = [h for h in GROUPEMENT_HEADER if roles or h != "Rôle dans le groupement"]
    ws.append(header)
    for i, m in enumerate(members):
        role = ["coordonnateur" if i == 0 else "membre"] if roles else []
        typology = TYPOLOGY_FR.get(m.typology, m.typology)
        ws.append([m.siret, *role, m.name, typology, m.postal_code, m.city, 50000, m.address])
    if total is not None:
        ws.append(["Total", *([""] if roles else []), "", total, "", "", 50000 * len(members), ""])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@once
def text_pdf(paragraphs: list[str], title: str = "") -> bytes:
    """sample.text_pdf's page of paragraphs, laid out once per session for the same text."""
    return sample.text_pdf(list(paragraphs), title)


@once
def signed(pdf: bytes) -> bytes:
    """`pdf` signed (PAdES) by the session's throwaway signatory, once per session for the same PDF."""
    return sample.sign_pdf(pdf, IDENTITY)


@once
def text_docx(paragraphs: list[str]) -> bytes:
    """A Word document of plain paragraphs, as a clerk types a letter."""
    from docx import Document

    document = Document()
    for para in paragraphs:
        document.add_paragraph(para)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _page() -> FPDF:
    """An A4 page in the body font, as buyers' tools print."""
    pdf = FPDF(format="A4")
    pdf.add_font("Body", fname=next(f for f in sample.FONTS if Path(f).is_file()))
    pdf.set_font("Body", size=9)
    pdf.add_page()
    return pdf


@once
def positioned_pdf(items: list[tuple[float, float, str]]) -> bytes:
    """Text drawn at (x, y) in the given order: how table cells come out of a PDF, one per line."""
    pdf = _page()
    for x, y, text in items:
        pdf.text(x, y, text)
    return bytes(pdf.output())


@once
def table_pdf(head: list[str], rows: list[tuple[str, ...]], tail: list[str] = ()) -> bytes:
    """Paragraphs, a real table (each row comes out as one line), then more paragraphs."""
    pdf = _page()
    for line in head:
        pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    with pdf.table(first_row_as_headings=False) as table:
        for cells in rows:
            row = table.row()
            for cell in cells:
                row.cell(cell)
    for line in tail:
        pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


@once
def tables_order(kind: str, head: list[str], tables: list[list[tuple[str, ...]]]) -> bytes:
    """An order with real tables, as a buyer's tool prints it: PDF, Word, or Excel with text cells or,
    for kind "xlsx_numbers", amounts typed as numbers ("1 000,00 €" becomes the number 1000)."""
    if kind == "pdf":
        return _tables_pdf(head, tables)
    if kind == "docx":
        return _tables_docx(head, tables)
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for line in head:
        ws.append([line])
    for rows in tables:
        ws.append([])
        for row in rows:
            ws.append([_typed(cell) if kind == "xlsx_numbers" else cell for cell in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _typed(cell: str):
    """A cell as Excel holds it when the clerk typed a number: "1 000,00 €" is 1000.0."""
    bare = cell.replace("€", "").replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        return float(bare)
    except ValueError:
        return cell


def _tables_pdf(head: list[str], tables: list[list[tuple[str, ...]]]) -> bytes:
    pdf = _page()
    for line in head:
        pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    for rows in tables:
        with pdf.table(first_row_as_headings=False) as table:
            for cells in rows:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
        pdf.ln(3)
    return bytes(pdf.output())


def _tables_docx(head: list[str], tables: list[list[tuple[str, ...]]]) -> bytes:
    from docx import Document

    document = Document()
    for line in head:
        document.add_paragraph(line)
    for rows in tables:
        table = document.add_table(rows=0, cols=max(len(r) for r in rows))
        for row in rows:
            for cell, text in zip(table.add_row().cells, row, strict=False):
                cell.text = text
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


@once
def own_sheet(
    members: list[Entity],
    title: str | None = None,
    roles: tuple[str, str] | None = None,
    name_header: str = "Dénomination",
) -> bytes:
    """A groupement's or a mandate's own spreadsheet, in its own words: maybe a title, maybe a role
    column ("Rôle") with the first row's role and the others'; no csac Total row."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if title:
        ws.append([title])
        ws.append([])
    role_header = ["Rôle"] if roles else []
    ws.append(
        ["SIRET", *role_header, name_header, "Typologie", "Code postal", "Ville", "Montant maximum (€ HT)"]
    )
    for i, m in enumerate(members):
        role = [roles[0] if i == 0 else roles[1]] if roles else []
        typology = TYPOLOGY_FR.get(m.typology, m.typology)
        ws.append([m.siret, *role, m.name, typology, m.postal_code, m.city, 50000])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@once
def convention_pdf(docx: bytes, signature: str = "valid", letter_spaced: bool = True) -> bytes:
    """signature: valid, none, empty (an empty signature field) or tampered. Laid out and signed once per session."""
    pdf = laid_out(docx, letter_spaced)
    if signature == "empty":
        out = io.BytesIO()
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        append_signature_field(writer, SigFieldSpec(sig_field_name="Signature1", box=(50, 50, 250, 100)))
        writer.write(out)
        return out.getvalue()
    if signature in ("valid", "tampered"):
        signed = sample.sign_pdf(pdf, IDENTITY)
        if signature == "tampered":
            index = signed.index(b"/Producer") if b"/Producer" in signed else len(signed) // 3
            signed = signed[:index] + b"X" + signed[index + 1 :]
        return signed
    return pdf


@once
def scanned_pdf() -> bytes:
    """A page that is only an image: a scanned, hand-signed convention."""
    image = Image.new("L", (300, 400), 255)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buf.getvalue()), x=10, y=10, w=180)
    return bytes(pdf.output())


@once
def annex_pdf(entity: Entity, typology_label: str) -> bytes:
    lines = [
        "Annexe « Vos besoins »",
        "Dénomination | SIRET | Adresse | Typologie | Montant contractuel maximum",
        f"{entity.name} | SIRET {spaced(entity.siret)} | {entity.address} {entity.postal_code} {entity.city} | {typology_label} | 100 000,00 €",
    ]
    return sample.text_pdf(lines, "Annexe")


def order_pdf(
    entity: Entity,
    amount: Decimal,
    ej: str = "1300012345",
    market: str = "2021-045 lot 2",
    siret: str | None = None,
) -> bytes:
    """Laid out once per session for the same order."""
    where = (entity.address, entity.postal_code, entity.city)
    return _order_pdf(entity.name, spaced(siret or entity.siret), where, str(amount), ej, market)


@once
def _order_pdf(buyer: str, siret: str, where: tuple, amount: str, ej: str, market: str) -> bytes:
    return sample.purchase_order_pdf(buyer, siret, *where, Decimal(amount), ej, market, RESAH)


def form(entity: Entity, market: str = "2021-045 lot 2", **changes) -> dict:
    data = {
        "raison_sociale": entity.name, "numero_marche": market, "email": "achats@test-sur-mer.example",
        "telephone": "0321000000", "reference_commande": "1300012345", "code_service_chorus": "SERVICE-ACHATS",
    }  # fmt: skip
    return data | changes


def write_form(path, data: dict) -> None:
    path.with_suffix(".json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


# -- ZIPs, byte by byte -----------------------------------------------------------------------


@dataclass
class Raw:
    """One member as it will sit in the ZIP, headers included."""

    name: bytes
    data: bytes
    flags: int = 0
    extra: bytes = b""
    external_attr: int = 0o644 << 16
    method: int = 8
    announced_size: int | None = None  # lie about the inflated size
    payload: bytes | None = None  # already deflated (bombs are built without holding them)
    crc: int | None = None


def unicode_path_extra(raw_name: bytes, real_name: str) -> bytes:
    body = b"\x01" + struct.pack("<L", zlib.crc32(raw_name)) + real_name.encode("utf-8")
    return struct.pack("<HH", 0x7075, len(body)) + body


def raw_zip(members: list[Raw]) -> bytes:
    out, central = bytearray(), bytearray()
    for m in members:
        if m.payload is not None:
            payload = m.payload
        elif m.method == 8:
            comp = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = comp.compress(m.data) + comp.flush()
        else:
            payload = m.data
        crc = m.crc if m.crc is not None else zlib.crc32(m.data)
        size = m.announced_size if m.announced_size is not None else len(m.data)
        offset = len(out)
        out += struct.pack(
            "<4s2B4HL2L2H",
            b"PK\x03\x04",
            20,
            0,
            m.flags,
            m.method,
            0,
            33,
            crc,
            len(payload),
            size,
            len(m.name),
            len(m.extra),
        )
        out += m.name + m.extra + payload
        central += struct.pack(
            "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, m.flags, m.method, 0, 33, crc, len(payload), size,
            len(m.name), len(m.extra), 0, 0, 0, m.external_attr, offset,
        )  # fmt: skip
        central += m.name + m.extra
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    return sample.zip_of(members)


def explorer_zip(members: list[tuple[str, bytes]]) -> bytes:
    """As Windows Explorer (French) writes it: cp850 names, no UTF-8 flag."""
    return raw_zip([Raw(name.encode("cp850"), data) for name, data in members])


def _png(width: int = 120, height: int = 40) -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 60, 120)).save(buf, format="PNG")
    buf.seek(0)
    return buf


@once
def convention_with_images(docx: bytes, logo: bool = True, signature_image: bool = False) -> bytes:
    """An unsigned Word export with the Resah logo on page 1, and maybe a pasted signature."""
    pdf = FPDF(format="A4")
    font = next(f for f in sample.FONTS if Path(f).is_file())
    pdf.add_font("Body", fname=font)
    pdf.set_font("Body", size=9)
    pdf.add_page()
    if logo:
        pdf.image(_png(), x=10, y=8, w=40)
        pdf.ln(20)
    for para in sample.docx_paragraphs(docx):
        pdf.multi_cell(0, 4.5, sample.word_ligatures(para), new_x="LMARGIN", new_y="NEXT")
        if signature_image and para.startswith("Pour le signataire"):
            pdf.image(_png(200, 80), w=50)
    return bytes(pdf.output())


@functools.cache
def deflated_zeros(size: int, raw: bool = True) -> tuple[bytes, int]:
    """`size` zero bytes (whole megabytes), deflated without ever holding them: (payload, crc32).

    A full flush after each megabyte resets the compressor, so every megabyte
    deflates to the same bytes: one is compressed, the others repeat it. Kept
    for the session: five hostile inputs inflate to the same gigabyte.
    """
    block, megabytes = b"\0" * (1 << 20), size >> 20
    if not raw:  # the zlib wrapping: a header, then the Adler-32 of zeros (their sum stays 1)
        deflated, crc = deflated_zeros(size)
        adler32 = (megabytes << 20) % 65521 << 16 | 1
        return b"\x78\x9c" + deflated + adler32.to_bytes(4, "big"), crc
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    one = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = functools.reduce(lambda crc, _: zlib.crc32(block, crc), range(megabytes), 0)
    return one * megabytes + comp.flush(), crc


def bomb_member(name: str, size: int) -> Raw:
    payload, crc = deflated_zeros(size)
    return Raw(name.encode(), b"", payload=payload, crc=crc, announced_size=size)


def ooxml_bomb(kind: str, size: int) -> bytes:
    """A .docx or .xlsx whose main XML part inflates to `size` bytes."""
    part = "word/document.xml" if kind == "docx" else "xl/worksheets/sheet1.xml"
    types = (
        b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
    )
    marker = "word/document.xml" if kind == "docx" else "xl/workbook.xml"
    members = [Raw(b"[Content_Types].xml", types), bomb_member(part, size)]
    if kind == "xlsx":
        members.insert(1, Raw(marker.encode(), b"<workbook/>"))
    return raw_zip(members)


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY l1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY l2 "&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;"><!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">
<!ENTITY l4 "&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;"><!ENTITY l5 "&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;">
<!ENTITY l6 "&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;"><!ENTITY l7 "&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;">
<!ENTITY l8 "&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;"><!ENTITY l9 "&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;">]>
"""


def entity_bomb(kind: str) -> bytes:
    """Billion laughs in the main part of a real .docx / .xlsx."""
    import openpyxl
    from docx import Document

    buf = io.BytesIO()
    if kind == "docx":
        Document().save(buf)
        part, root = (
            "word/document.xml",
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p></w:body></w:document>',
        )
    else:
        openpyxl.Workbook().save(buf)
        part, root = (
            "xl/worksheets/sheet1.xml",
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&l9;</t></is></c></row></sheetData></worksheet>',
        )
    with zipfile.ZipFile(buf) as zin:
        members = [(i.filename, zin.read(i)) for i in zin.infolist()]
    return zip_of([(n, LAUGHS + root if n == part else d) for n, d in members])


def pdf_of(objects: list[bytes]) -> bytes:
    """A PDF from numbered objects (1 0 obj …), with a correct xref table."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def pdf_stream_bomb(size: int) -> bytes:
    """One page whose content stream inflates to `size` bytes."""
    payload, _ = deflated_zeros(size, raw=False)
    stream = (
        f"<< /Length {len(payload)} /Filter /FlateDecode >>\nstream\n".encode() + payload + b"\nendstream"
    )
    return pdf_of(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            stream,
        ]
    )


def pdf_cycle() -> bytes:
    """A page tree whose node lists itself among its kids."""
    return pdf_of(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
            b"<< /FT /Sig /T (Signature1) /Kids [4 0 R] /Parent 4 0 R >>",
        ]
    )


def pdf_object_streams(count: int, inflated: int, closed: bool = True) -> bytes:
    """A page, then `count` object streams (PDF 1.5) that each inflate to `inflated` bytes of names.

    Unclosed streams (no `endstream`) make a naive reader take the rest of the file for each one.
    """
    names = b"/Type /Catalog /Producer (x) " * (min(inflated, 1 << 24) // 29 + 1)
    payload = (
        zlib.compress(names[:inflated], 9) if inflated < 1 << 24 else deflated_zeros(inflated, raw=False)[0]
    )
    stream = b"<< /Type /ObjStm /N 1 /First 4 /Length %d /Filter /FlateDecode >>\nstream\n" % len(payload)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    return pdf_of(objects + [stream + payload + (b"\nendstream" if closed else b"\n" + b"%" * 2048)] * count)


# -- Changes appended to a signed PDF as incremental updates --------------------------------------


def _appended(pdf: bytes, change) -> bytes:
    """`pdf` followed by one incremental update that pypdf writes after `change(writer)`."""
    from pypdf import PdfWriter

    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pages_of(pdf: bytes) -> list:
    from pypdf import PdfReader

    return list(PdfReader(io.BytesIO(pdf)).pages)


def pages_replaced(signed: bytes, other: bytes) -> bytes:
    """The page-swap attack: every signed page removed, another document's pages put in their place."""

    def swap(writer):
        for index in reversed(range(len(writer.pages))):
            writer.remove_page(index)
        for page in _pages_of(other):
            writer.add_page(page)

    return _appended(signed, swap)


def page_appended(signed: bytes, other: bytes) -> bytes:
    return _appended(signed, lambda writer: writer.add_page(_pages_of(other)[0]))


def page_overlaid(signed: bytes, other: bytes) -> bytes:
    """Another document's first page drawn over the signed first page (its content streams added)."""
    return _appended(signed, lambda writer: writer.pages[0].merge_page(_pages_of(other)[0]))


def annotation_added(signed: bytes, text: str = "Montant total : 10,00 EUR") -> bytes:
    """A free-text comment on the first page: its appearance is drawn over the signed text."""
    from pypdf.annotations import FreeText

    return _appended(signed, lambda w: w.add_annotation(0, FreeText(text=text, rect=(50, 500, 300, 560))))


def page_rotated(signed: bytes) -> bytes:
    return _appended(signed, lambda writer: writer.pages[0].rotate(180))


@dataclass(frozen=True)
class Layout:
    """Where things are in a PDF, for hand-written incremental updates."""

    root: int
    info: int
    size: int
    startxref: int
    contents: int  # the first page's (first) content stream
    resources: bytes  # the first page's font resources, as PDF source


def layout(pdf: bytes) -> Layout:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    contents = page.raw_get("/Contents")
    contents = contents[0] if isinstance(contents, list) else contents
    fonts = page["/Resources"]["/Font"]
    resources = b" ".join(f"{name} {fonts.raw_get(name).idnum} 0 R".encode() for name in fonts)
    startxref = int(pdf[pdf.rindex(b"startxref") :].split()[1])
    return Layout(
        reader.trailer.raw_get("/Root").idnum,
        reader.trailer.raw_get("/Info").idnum,
        int(reader.trailer["/Size"]),
        startxref,
        contents.idnum,
        resources,
    )


def _write_update(out: bytearray, at: Layout, bodies: dict[int, bytes], free_rows: int = 0) -> int:
    """Append to `out` one update that rewrites exactly the numbered objects; return its xref offset."""
    offsets = {}
    for number, body in sorted(bodies.items()):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n"
    for number, offset in sorted(offsets.items()):
        out += f"{number} 1\n{offset:010d} 00000 n \n".encode()
    if free_rows:
        out += f"{at.size} {free_rows}\n".encode() + b"0000000000 00000 f \n" * free_rows
    size = max([at.size + free_rows, *(n + 1 for n in bodies)])
    trailer = f"<< /Size {size} /Root {at.root} 0 R /Info {at.info} 0 R /Prev {at.startxref} >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return xref


def hand_update(pdf: bytes, bodies: dict[int, bytes], free_rows: int = 0) -> bytes:
    """`pdf` and one incremental update that rewrites exactly the numbered objects, nothing else.

    `free_rows` adds that many free entries to the update's xref table (a huge table).
    """
    out = bytearray(pdf)
    _write_update(out, layout(pdf), bodies, free_rows)
    return bytes(out)


def _stream(data: bytes) -> bytes:
    return f"<< /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"


def content_rewritten(signed: bytes, text: str = "Montant total : 10,00 EUR") -> bytes:
    """The first page's content stream object rewritten in place: same number, other text."""
    at = layout(signed)
    return hand_update(
        signed, {at.contents: _stream(f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode("latin-1"))}
    )


def text_added(signed: bytes, text: str = "Montant total : 10,00 EUR") -> bytes:
    """A second content stream on the first page, with Helvetica, drawing `text` over the signed text."""
    from pypdf import PdfReader

    at = layout(signed)
    page = PdfReader(io.BytesIO(signed)).pages[0]
    page_number = page.indirect_reference.idnum
    font, stream = at.size, at.size + 1
    media = " ".join(str(float(x)) for x in page.mediabox)
    bodies = {
        font: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream: _stream(f"BT /FX 14 Tf 72 400 Td ({text}) Tj ET".encode("latin-1")),
        page_number: (
            f"<< /Type /Page /Parent {page.raw_get('/Parent').idnum} 0 R /MediaBox [{media}] "
            f"/Contents [{at.contents} 0 R {stream} 0 R] "
        ).encode()
        + b"/Resources << /Font << "
        + at.resources
        + f" /FX {font} 0 R >> >> >>".encode(),
    }
    return hand_update(signed, bodies)


def info_rewritten(signed: bytes, title: str = "Convention") -> bytes:
    """The document information dictionary rewritten: metadata, which DocMDP leaves free."""
    at = layout(signed)
    return hand_update(signed, {at.info: f"<< /Title ({title}) /Producer (csac tests) >>".encode()})


def many_revisions(signed: bytes, count: int) -> bytes:
    """`count` incremental updates after the signature, each rewriting the document information."""
    at, out = layout(signed), bytearray(signed)
    for index in range(count):
        xref = _write_update(out, at, {at.info: f"<< /Title (Revision {index}) >>".encode()})
        at = replace(at, startxref=xref)
    return bytes(out)


def huge_xref(signed: bytes, rows: int) -> bytes:
    """One update after the signature whose cross-reference table lists `rows` more entries."""
    at = layout(signed)
    return hand_update(signed, {at.info: b"<< /Producer (csac tests) >>"}, free_rows=rows)


def disguised_xref(signed: bytes, rows: int) -> bytes:
    """Like huge_xref, but the rows padded with spaces (a lenient reader takes them) and /Size left small."""
    at = layout(signed)
    out = bytearray(signed)
    info = len(out)
    out += f"{at.info} 0 obj\n<< /Producer (csac tests) >>\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 1\n0000000000 65535 f \n{at.info} 1\n{info:010d} 00000 n \n".encode()
    out += f"{at.size} {rows}\n{info:010d} 00000 n \n".encode() + f"{info:>10} {0:>5} n \n".encode() * (
        rows - 1
    )
    trailer = f"<< /Size {at.size} /Root {at.root} 0 R /Info {at.info} 0 R /Prev {at.startxref} >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def doubling_graph(pdf: bytes, depth: int) -> bytes:
    """Objects under the catalog that each refer twice to the next: 2**depth paths from the root."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    ref = writer.add_object(generic.DictionaryObject())
    for _ in range(depth):
        ref = writer.add_object(generic.DictionaryObject({pdf_name("/A"): ref, pdf_name("/B"): ref}))
    writer.root[pdf_name("/Annexes")] = ref
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- What may follow a signature ------------------------------------------------------------------


def certified(pdf: bytes, permission: str) -> bytes:
    """A certification signature whose DocMDP permits `permission`: NO_CHANGES, FILL_FORMS or ANNOTATE."""
    from asn1crypto import keys, x509
    from pyhanko.sign import signers
    from pyhanko.sign.fields import MDPPerm
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer = signers.SimpleSigner(
        signing_cert=x509.Certificate.load(IDENTITY.certificate),
        signing_key=keys.PrivateKeyInfo.load(IDENTITY.key),
        cert_registry=SimpleCertificateStore.from_certs([]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", certify=True, docmdp_permissions=MDPPerm[permission]
    )
    out = io.BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer, output=out)
    return out.getvalue()


def timestamped(signed: bytes) -> bytes:
    """A PAdES-LTA document timestamp after the signature, from a throwaway time-stamping authority."""
    from asn1crypto import keys, x509
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator import ValidationContext

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Horodatage")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    usage = cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
    cert = (
        cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(cx509.random_serial_number()).not_valid_before(start).not_valid_after(start + dt.timedelta(days=30))
        .add_extension(usage, critical=True).sign(key, hashes.SHA256())
    )  # fmt: skip
    tsa_cert = x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stamper = DummyTimeStamper(tsa_cert=tsa_cert, tsa_key=keys.PrivateKeyInfo.load(pkcs8))
    out = io.BytesIO()
    PdfTimeStamper(timestamper=stamper).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(signed)),
        "sha256",
        validation_context=ValidationContext(trust_roots=[tsa_cert]),
        output=out,
    )
    return out.getvalue()


def countersigned(signed: bytes, name: str = "Adjoint au maire") -> bytes:
    return sample.sign_pdf(signed, identity(name), field="Signature2")


def signature_field_added(signed: bytes) -> bytes:
    """An empty signature field for a second signatory, added after the first signature."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    append_signature_field(writer, SigFieldSpec(sig_field_name="Signature2", box=(300, 50, 500, 100)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_text_field(
    pdf: bytes,
    name: str = "Observations",
    rect: tuple = (50, 50, 300, 80),
    page: int = 0,
    appearance: str | None = None,
    flags: int = 4,
    value: str | None = None,
) -> bytes:
    """An empty text form field on a page, as a form the signatory leaves to be filled.

    The default `rect` lies over the first page's last lines of text; `appearance` names what the
    widget already draws (see widget_appearance), `flags` its annotation flags (2: hidden), `value`
    a value its appearance does not show.
    """
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"].raw_get("/Kids")[page]
    field = generic.DictionaryObject(
        {
            pdf_name("/FT"): pdf_name("/Tx"),
            pdf_name("/T"): pdf_string(name),
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/Rect"): generic.ArrayObject(map(generic.NumberObject, rect)),
            pdf_name("/F"): generic.NumberObject(flags),
            pdf_name("/P"): page_ref,
            pdf_name("/DA"): pdf_string("/Helv 10 Tf 0 g"),
        }
    )
    if appearance is not None:
        field[pdf_name("/AP")] = _pdf_value({"/N": widget_appearance(writer, rect, appearance)})
    if value is not None:
        field[pdf_name("/V")] = pdf_string(value)
    field_ref = writer.add_object(field)
    page = page_ref.get_object()
    page[pdf_name("/Annots")] = generic.ArrayObject([field_ref])
    writer.update_container(page)
    helvetica = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    resources = generic.DictionaryObject({pdf_name("/Helv"): helvetica})
    writer.root[pdf_name("/AcroForm")] = generic.DictionaryObject(
        {
            pdf_name("/Fields"): generic.ArrayObject([field_ref]),
            pdf_name("/DR"): generic.DictionaryObject({pdf_name("/Font"): resources}),
        }
    )
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def field_filled(signed: bytes, value: str = "Lu et approuvé", appearance: str | None = None) -> bytes:
    """The text field left empty at signing filled in, value and appearance, as a PDF reader does.

    `appearance` names another appearance to draw (see widget_appearance), in the field's box.
    """
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    for field_ref in writer.root["/AcroForm"]["/Fields"]:
        field = field_ref.get_object()
        if field.get("/FT") != "/Tx":
            continue
        if appearance is not None:
            field[pdf_name("/V")] = pdf_string(value)
            field[pdf_name("/AP")] = _pdf_value({"/N": widget_appearance(writer, field["/Rect"], appearance)})
            writer.mark_update(field_ref)
            continue
        appearance = generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 250, 30))),
                pdf_name("/Resources"): writer.root["/AcroForm"]["/DR"],
            },
            stream_data=b"/Tx BMC BT /Helv 10 Tf 2 10 Td (" + value.encode("latin-1") + b") Tj ET EMC",
        )
        field[pdf_name("/V")] = pdf_string(value)
        field[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): writer.add_object(appearance)})
        writer.mark_update(field_ref)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- Comments (annotations) added after a signature --------------------------------------------


def _pdf_value(value) -> generic.PdfObject:
    """A PDF object from Python: dict, list, '/Name', text, number, bool or an indirect reference."""
    if isinstance(value, generic.PdfObject):
        return value
    if isinstance(value, dict):
        return generic.DictionaryObject({pdf_name(k): _pdf_value(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return generic.ArrayObject(_pdf_value(v) for v in value)
    if isinstance(value, bool):
        return generic.BooleanObject(value)
    if isinstance(value, int):
        return generic.NumberObject(value)
    if isinstance(value, float):
        return generic.FloatObject(value)
    return pdf_name(value) if value.startswith("/") else pdf_string(value)


RECT = (60, 640, 300, 700)
_QUADS = [60, 700, 300, 700, 60, 640, 300, 640]
COMMENT_ENTRIES = {  # what a PDF reader writes for each kind of comment, beyond /Rect, /Contents, /AP
    "Text": {"/Name": "/Comment", "/Open": False},
    "Highlight": {"/QuadPoints": _QUADS, "/C": [1, 1, 0]},
    "Underline": {"/QuadPoints": _QUADS, "/C": [0, 0, 1]},
    "FreeText": {"/DA": "/Helv 12 Tf 0 g", "/Q": 0},
    "Ink": {"/InkList": [[70, 650, 150, 690, 290, 660]], "/C": [1, 0, 0], "/BS": {"/W": 2}},
    "Square": {"/C": [1, 0, 0], "/BS": {"/W": 2}},
    "Stamp": {"/Name": "/Approved"},
    # what is no comment: it acts, plays, carries a file or belongs to a form
    "Link": {"/A": {"/S": "/Launch", "/F": "calc.exe"}},
    "Widget": {"/F": 4},
    "Screen": {"/A": {"/S": "/Rendition", "/OP": 0}},
    "RichMedia": {"/RichMediaContent": {"/Assets": {"/Names": []}}},
    "FileAttachment": {"/Name": "/PushPin"},
}


def _appearance(writer, text: str) -> generic.IndirectObject:
    """A comment's normal appearance: a frame and its text in Helvetica (new objects, as readers write)."""
    font = writer.add_object(_pdf_value({"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}))
    width, height = RECT[2] - RECT[0], RECT[3] - RECT[1]
    content = f"1 0 0 RG 0 0 {width} {height} re S BT /Helv 12 Tf 4 {height // 2} Td ({text}) Tj ET"
    stream = generic.StreamObject(
        _pdf_value({"/Type": "/XObject", "/Subtype": "/Form", "/BBox": [0, 0, width, height]})
        | {pdf_name("/Resources"): _pdf_value({"/Font": {"/Helv": font}})},
        stream_data=content.encode("latin-1"),
    )
    return writer.add_object(stream)


def _updated(pdf: bytes, change) -> bytes:
    """`pdf` followed by one incremental update that pyHanko writes after `change(writer, page_ref)`."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    change(writer, writer.root["/Pages"].raw_get("/Kids").raw_get(0))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_comment(
    writer, page_ref, subtype: str, text: str = "Vu, à revoir", entries: dict | None = None
) -> generic.IndirectObject:
    """One annotation of `subtype` on a page, with its appearance (and popup, for a sticky note)."""
    annot = _pdf_value(
        {"/Type": "/Annot", "/Subtype": f"/{subtype}", "/Rect": list(RECT), "/Contents": text}
        | {"/T": "Relecteur", "/F": 4, "/P": page_ref}
        | COMMENT_ENTRIES.get(subtype, {})
        | (entries or {})
    )
    annot[pdf_name("/AP")] = _pdf_value({"/N": _appearance(writer, text)})
    ref = writer.add_object(annot)
    writer.register_annotation(page_ref, ref)
    if subtype == "Text":
        popup = {"/Type": "/Annot", "/Subtype": "/Popup", "/Rect": [300, 600, 500, 700], "/Parent": ref}
        annot[pdf_name("/Popup")] = popup_ref = writer.add_object(_pdf_value(popup))
        writer.register_annotation(page_ref, popup_ref)
    return ref


def comment_added(pdf: bytes, subtype: str = "Text", entries: dict | None = None, also=None) -> bytes:
    """A comment added on the first page in one update, as a PDF reader saves it.

    `also(writer, page_ref, comment_ref)` changes more in the same update.
    """

    def change(writer, page_ref):
        comment = add_comment(writer, page_ref, subtype, entries=entries)
        if also:
            also(writer, page_ref, comment)

    return _updated(pdf, change)


def new_content_stream(writer, page_ref, comment) -> None:
    """Text drawn by a new content stream on the page (its /Contents changes)."""
    stream = generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 400 Td (Montant total : 10,00 EUR) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream))


def content_stream_rewritten(writer, page_ref, comment) -> None:
    """The page's content stream object rewritten in place: same number, other text."""
    contents = page_ref.get_object().raw_get("/Contents")
    stream = generic.StreamObject(stream_data=b"BT /F1 14 Tf 72 760 Td (Montant total : 10,00 EUR) Tj ET")
    writer.objects[(contents.generation, contents.idnum)] = stream


def annotations_listed(pdf: bytes, order) -> bytes:
    """A comment added, the page's /Annots set to `order(old_entries, comment)`: dropping or moving entries."""

    def change(writer, page_ref):
        page = page_ref.get_object()
        old = list(page["/Annots"])
        comment = add_comment(writer, page_ref, "Square")
        page[pdf_name("/Annots")] = generic.ArrayObject(order(old, comment))
        writer.update_container(page)

    return _updated(pdf, change)


def comment_edited(pdf: bytes, text: str = "Montant total : 10,00 EUR") -> bytes:
    """The first comment on the first page given another text (/Contents), in place."""

    def change(writer, page_ref):
        for ref in page_ref.get_object()["/Annots"]:
            annot = ref.get_object()
            if annot.get("/Subtype") not in ("/Widget", "/Popup"):
                annot[pdf_name("/Contents")] = pdf_string(text)
                writer.update_container(annot)
                return

    return _updated(pdf, change)


def indirect_annots(pdf: bytes) -> bytes:
    """The first page's annotation list made an indirect object, as some writers keep it."""

    def change(writer, page_ref):
        page = page_ref.get_object()
        page[pdf_name("/Annots")] = writer.add_object(generic.ArrayObject(page.get("/Annots", [])))
        writer.update_container(page)

    return _updated(pdf, change)


def popup_acting(writer, page_ref, comment) -> None:
    """The comment's popup replaced by a link that runs JavaScript (reachable only through /Popup)."""
    link = {"/Type": "/Annot", "/Subtype": "/Link", "/Rect": [0, 0, 595, 842], "/A": JAVASCRIPT}
    comment.get_object()[pdf_name("/Popup")] = writer.add_object(_pdf_value(link))


JAVASCRIPT = {"/S": "/JavaScript", "/JS": "app.launchURL('https://example.invalid/')"}


def page_rotated_too(writer, page_ref, comment) -> None:
    """The page turned upside down in the same update as the comment."""
    page_ref.get_object()[pdf_name("/Rotate")] = generic.NumberObject(180)


def media_box_shrunk_too(writer, page_ref, comment) -> None:
    """The page cut down to its top half in the same update as the comment: the rest is no longer shown."""
    page_ref.get_object()[pdf_name("/MediaBox")] = _pdf_value([0, 421, 595, 842])


def contents_borrowed_too(writer, page_ref, comment) -> None:
    """The page made to show the second page's signed content, in the same update as the comment."""
    second = writer.root["/Pages"].raw_get("/Kids").raw_get(1).get_object()
    page_ref.get_object()[pdf_name("/Contents")] = second.raw_get("/Contents")


def annotation_shown_elsewhere(pdf: bytes) -> bytes:
    """The first page's first annotation also listed on the second page (an object of the signed revision)."""

    def change(writer, page_ref):
        first = page_ref.get_object().raw_get("/Annots").raw_get(0)
        writer.register_annotation(writer.root["/Pages"].raw_get("/Kids").raw_get(1), first)

    return _updated(pdf, change)


def signature_field_with_widget_kid(signed: bytes) -> bytes:
    """An empty signature field whose widget is a separate kid annotation, as some signing tools lay it out."""

    def change(writer, page_ref):
        field = writer.add_object(_pdf_value({"/FT": "/Sig", "/T": "Signature2"}))
        widget = {"/Type": "/Annot", "/Subtype": "/Widget", "/Rect": [300, 50, 500, 100], "/F": 4}
        widget = writer.add_object(_pdf_value(widget | {"/Parent": field, "/P": page_ref}))
        field.get_object()[pdf_name("/Kids")] = generic.ArrayObject([widget])
        writer.register_annotation(page_ref, widget)
        form = writer.root["/AcroForm"]
        form["/Fields"].append(field)
        writer.update_container(form["/Fields"])

    return _updated(signed, change)


def many_comments(signed: bytes, count: int, appearance: bool = True) -> bytes:
    """`count` sticky notes added to the first page in one update (with their appearances, or bare)."""

    def change(writer, page_ref):
        for index in range(count):
            if appearance:
                add_comment(writer, page_ref, "Square", text=f"Note {index}")
                continue
            note = {"/Type": "/Annot", "/Subtype": "/Text", "/Rect": list(RECT), "/Contents": f"Note {index}"}
            writer.register_annotation(page_ref, writer.add_object(_pdf_value(note)))

    return _updated(signed, change)


OBJSTM_FILTERS = {
    "flate": (b"/FlateDecode", lambda d: zlib.compress(d)),
    "abbreviated": (b"/Fl", lambda d: zlib.compress(d)),
    "hex then flate": (b"[/ASCIIHexDecode /FlateDecode]", lambda d: zlib.compress(d).hex().encode() + b">"),
    "ascii85": (b"/ASCII85Decode", lambda d: base64.a85encode(d) + b"~>"),
}


def objstm_pdf(filter_name: str, action: bytes, eol: bytes = b"\n", padding: int = 0) -> bytes:
    """A PDF 1.5 whose catalog and `action` (its /OpenAction) sit in an object stream under `filter_name`.

    `padding` lengthens the stream dictionary (a reader must not stop at 1 KB).
    """
    name, encode = OBJSTM_FILTERS[filter_name]
    inside = {1: b"<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R >>", 6: action}
    head, body = b"", b""
    for number, obj in inside.items():
        head += b"%d %d " % (number, len(body))
        body += obj + b"\n"
    stream = encode(head + body)
    out, offsets = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"), {}
    text = b"BT /F1 24 Tf 72 700 Td (Bon de commande) Tj ET"

    def obj(number: int, content: bytes) -> None:
        offsets[number] = len(out)
        out.extend(b"%d 0 obj\n" % number + content + b"\nendobj\n")

    obj(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    obj(
        3,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
    )
    obj(4, b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream")
    pad = b" /Padding (" + b"x" * padding + b")" if padding else b""
    obj(5, b"<< /Type /ObjStm /N 2 /First %d /Extra << /Nested true >>%s /Filter %s /Length %d >>\nstream%s"
        % (len(head), pad, name, len(stream), eol) + stream + b"\nendstream")  # fmt: skip
    rows = [(0, 0, 255)] + [
        (2, 5, 0) if n == 1 else (2, 5, 1) if n == 6 else (1, len(out) if n == 7 else offsets[n], 0)
        for n in range(1, 8)
    ]
    xref = b"".join(struct.pack(">BIH", *r) for r in rows)
    start = len(out)
    out.extend(b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(xref))
    out.extend(xref + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % start)
    return bytes(out)


# -- Widgets added or changed after a signature ----------------------------------------------------

PAGE = (0, 0, 612, 842)  # a whole page, A4 or Letter
BLANK_SPOT = (50, 300, 250, 350)  # 200 x 50, blank space on the convention's last page
WIDGET_APPEARANCES = {  # what a widget's normal appearance draws in its box (w x h), by name
    "a white box and other text": lambda w, h: (
        f"1 1 1 rg 0 0 {w} {h} re f 0 g BT /Helv 14 Tf 10 {h - 30} Td "
        "(CONVENTION - montant maximum : 10 EUR) Tj ET"
    ),
    "text only": lambda w, h: f"BT /Helv 14 Tf 10 {h - 30} Td (montant maximum : 10 EUR) Tj ET",
    "thick white strokes": lambda w, h: f"1 1 1 RG {h} w 0 {h / 2} m {w} {h / 2} l S",
    "an image": lambda w, h: f"q {w} 0 0 {h} 0 0 cm /Im Do Q",
    "a form XObject": lambda w, h: "/Fm Do",
    "a signature stamp": lambda w, h: (
        f"0 0 1 RG 1 1 {w - 2} {h - 2} re S BT /Helv 9 Tf 6 {h / 2} Td (Signé par : Adjoint au maire) Tj ET"
    ),
    "nothing": lambda w, h: "",
    "a marked, empty text": lambda w, h: "% DSBlank\n/Tx BMC q Q EMC",
}


def widget_appearance(writer, rect, kind: str) -> generic.IndirectObject:
    """A form XObject for a widget in `rect`, drawing WIDGET_APPEARANCES[kind], with its resources."""
    x1, y1, x2, y2 = (float(v) for v in rect)
    w, h = abs(x2 - x1), abs(y2 - y1)
    font = writer.add_object(_pdf_value({"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}))
    image = generic.StreamObject(
        _pdf_value({"/Type": "/XObject", "/Subtype": "/Image", "/Width": 1, "/Height": 1})
        | _pdf_value({"/ColorSpace": "/DeviceGray", "/BitsPerComponent": 8}),
        stream_data=b"\xff",
    )
    inner = generic.StreamObject(
        _pdf_value({"/Type": "/XObject", "/Subtype": "/Form", "/BBox": [0, 0, w, h]}),
        stream_data=f"1 1 1 rg 0 0 {w} {h} re f".encode(),
    )
    resources = {"/Font": {"/Helv": font}, "/XObject": {"/Im": writer.add_object(image)}}
    resources["/XObject"]["/Fm"] = writer.add_object(inner)
    stream = generic.StreamObject(
        _pdf_value(
            {"/Type": "/XObject", "/Subtype": "/Form", "/BBox": [0, 0, w, h], "/Resources": resources}
        ),
        stream_data=WIDGET_APPEARANCES[kind](w, h).encode("latin-1"),
    )
    return writer.add_object(stream)


def signature_widget_added(
    pdf: bytes,
    rect: tuple = PAGE,
    appearance: str | None = "a white box and other text",
    page: int = 0,
    entries: dict | None = None,
    kid: bool = False,
) -> bytes:
    """A new, empty signature field whose widget draws `appearance` (None: no /AP) in `rect`.

    The attack: the whole page, a white box and other text. `kid` lays the widget out as a
    separate kid of the field; `entries` adds to the widget (/MK, /AA, /F ...).
    """

    def change(writer, first_page):
        page_ref = writer.root["/Pages"].raw_get("/Kids").raw_get(page)
        widget = {"/Type": "/Annot", "/Subtype": "/Widget", "/Rect": list(rect), "/F": 4, "/P": page_ref}
        widget |= entries or {}
        if appearance is not None:
            widget["/AP"] = {"/N": widget_appearance(writer, rect, appearance)}
        field = {"/FT": "/Sig", "/T": "Signature2"}
        if kid:
            field_ref = writer.add_object(_pdf_value(field))
            widget_ref = writer.add_object(_pdf_value(widget | {"/Parent": field_ref}))
            field_ref.get_object()[pdf_name("/Kids")] = generic.ArrayObject([widget_ref])
        else:
            field_ref = widget_ref = writer.add_object(_pdf_value(widget | field))
        writer.register_annotation(page_ref, widget_ref)
        form = writer.root["/AcroForm"]
        form["/Fields"].append(field_ref)
        writer.update_container(form["/Fields"])

    return _updated(pdf, change)


def visibly_countersigned(signed: bytes, box: tuple, page: int = -1, name: str = "Adjoint au maire") -> bytes:
    """A second signature whose stamp (pyHanko's, with its text) is drawn in `box` on a page."""
    from asn1crypto import keys, x509
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    second = identity(name)
    signer = signers.SimpleSigner(
        signing_cert=x509.Certificate.load(second.certificate),
        signing_key=keys.PrivateKeyInfo.load(second.key),
        cert_registry=SimpleCertificateStore.from_certs([]),
    )
    spec = SigFieldSpec(sig_field_name="Signature2", box=box, on_page=page)
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="Signature2"), signer=signer, new_field_spec=spec
    )
    out = io.BytesIO()
    pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(signed)), output=out)
    return out.getvalue()


def last_signature_broken(pdf: bytes) -> bytes:
    """The latest signature's value altered (one hex digit): it no longer holds, what it signed is intact."""
    start = pdf.rindex(b"/Contents <") + len(b"/Contents <")
    digits = pdf[start : pdf.index(b">", start)].rstrip(b"0")
    at = start + len(digits) - 8  # inside the signature value, which closes the CMS
    return pdf[:at] + (b"1" if pdf[at : at + 1] != b"1" else b"2") + pdf[at + 1 :]


def field_shown(signed: bytes) -> bytes:
    """The text field hidden at signing made visible (its annotation flags set to print)."""

    def change(writer, first_page):
        for field_ref in writer.root["/AcroForm"]["/Fields"]:
            if field_ref.get_object().get("/FT") == "/Tx":
                field_ref.get_object()[pdf_name("/F")] = generic.NumberObject(4)
                writer.mark_update(field_ref)

    return _updated(signed, change)


def field_action_added(signed: bytes) -> bytes:
    """The text field present at signing given a JavaScript action when the page opens (/AA)."""

    def change(writer, first_page):
        for field_ref in writer.root["/AcroForm"]["/Fields"]:
            if field_ref.get_object().get("/FT") == "/Tx":
                field_ref.get_object()[pdf_name("/AA")] = _pdf_value({"/PO": JAVASCRIPT})
                writer.mark_update(field_ref)

    return _updated(signed, change)


def appearances_regenerated(signed: bytes) -> bytes:
    """/NeedAppearances turned on in the form: viewers redraw every field from its value."""

    def change(writer, first_page):
        writer.root["/AcroForm"][pdf_name("/NeedAppearances")] = generic.BooleanObject(True)
        writer.update_root()

    return _updated(signed, change)


def many_signature_fields(signed: bytes, count: int) -> bytes:
    """`count` empty signature fields added to the first page in one update, each with a small stamp."""

    def change(writer, page_ref):
        fields = writer.root["/AcroForm"]["/Fields"]
        for index in range(count):
            rect = [300, 50 + index % 700, 310, 60 + index % 700]
            widget = {"/Type": "/Annot", "/Subtype": "/Widget", "/Rect": rect, "/F": 4, "/P": page_ref}
            widget |= {"/FT": "/Sig", "/T": f"Signature{index + 2}"}
            widget["/AP"] = {"/N": widget_appearance(writer, rect, "a signature stamp")}
            ref = writer.add_object(_pdf_value(widget))
            writer.register_annotation(page_ref, ref)
            fields.append(ref)
        writer.update_container(fields)

    return _updated(signed, change)


def with_check_box(pdf: bytes, rect: tuple, page: int = 0, on: str = "a white box and other text") -> bytes:
    """An unticked check box on a page; its 'Yes' appearance draws `on` (see widget_appearance)."""

    def change(writer, first_page):
        page_ref = writer.root["/Pages"].raw_get("/Kids").raw_get(page)
        states = {
            "/Off": widget_appearance(writer, rect, "nothing"),
            "/Yes": widget_appearance(writer, rect, on),
        }
        box = {"/FT": "/Btn", "/T": "Accord", "/V": "/Off", "/AS": "/Off", "/AP": {"/N": states}}
        box |= {"/Type": "/Annot", "/Subtype": "/Widget", "/Rect": list(rect), "/F": 4, "/P": page_ref}
        box_ref = writer.add_object(_pdf_value(box))
        writer.register_annotation(page_ref, box_ref)
        writer.root[pdf_name("/AcroForm")] = _pdf_value({"/Fields": [box_ref]})
        writer.update_root()

    return _updated(pdf, change)


def check_box_ticked(signed: bytes) -> bytes:
    """The check box left unticked at signing ticked (/V and /AS set to its 'Yes' state)."""

    def change(writer, first_page):
        box_ref = writer.root["/AcroForm"]["/Fields"].raw_get(0)
        box = box_ref.get_object()
        box[pdf_name("/V")] = box[pdf_name("/AS")] = pdf_name("/Yes")
        writer.mark_update(box_ref)

    return _updated(signed, change)
