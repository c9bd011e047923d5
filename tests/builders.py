"""Real deposits, built the way they reach the Resah.

Conventions are rendered by csac, laid out as PDF with Word's ligature damage
and signed (PAdES) with a throwaway certificate; annexes are the rendered
workbook or a PDF; purchase orders are Chorus-style EJ. ZIPs are written
byte by byte when a test needs what zipfile will not write: cp850 names
without the UTF-8 flag, a Unicode-path extra field, symlinks, encryption flags.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field
from stdnum import luhn

from pipeline import sample
from pipeline.request import parse_request

IDENTITY = sample.throwaway_identity("Maire", "Commune")


def make_siret(n: int) -> str:
    siren = f"2{n:07d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


def spaced(siret: str) -> str:
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"


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


def rendered(renderer, resources, entity: Entity, variant_id: str) -> dict:
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
    """The convention and annex csac renders for a groupement: the first member is the coordonnateur."""
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


def groupement_xlsx(members: list[Entity], total: str | None = None, roles: bool = True) -> bytes:
    """A groupement's own spreadsheet: rows marked coordonnateur / membre; `total` adds csac's Total row."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Membres"
    ws.append(["Groupement de commandes — liste des membres"])
    ws.append([])
    ws.append(GROUPEMENT_HEADER)
    for i, m in enumerate(members):
        role = ("coordonnateur" if i == 0 else "membre") if roles else ""
        typology = TYPOLOGY_FR.get(m.typology, m.typology)
        ws.append([m.siret, role, m.name, typology, m.postal_code, m.city, 50000, m.address])
    if total is not None:
        ws.append(["Total", "", "", total, "", "", 50000 * len(members), ""])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def text_docx(paragraphs: list[str]) -> bytes:
    """A Word document of plain paragraphs, as a clerk types a letter."""
    from docx import Document

    document = Document()
    for para in paragraphs:
        document.add_paragraph(para)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def positioned_pdf(items: list[tuple[float, float, str]]) -> bytes:
    """Text drawn at (x, y) in the given order: how table cells come out of a PDF, one per line."""
    pdf = FPDF(format="A4")
    pdf.add_font("Body", fname=next(f for f in sample.FONTS if Path(f).is_file()))
    pdf.set_font("Body", size=9)
    pdf.add_page()
    for x, y, text in items:
        pdf.text(x, y, text)
    return bytes(pdf.output())


def table_pdf(head: list[str], rows: list[tuple[str, ...]], tail: list[str] = ()) -> bytes:
    """Paragraphs, a real table (each row comes out as one line), then more paragraphs."""
    pdf = FPDF(format="A4")
    pdf.add_font("Body", fname=next(f for f in sample.FONTS if Path(f).is_file()))
    pdf.set_font("Body", size=9)
    pdf.add_page()
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


def convention_pdf(docx: bytes, signature: str = "valid", letter_spaced: bool = True) -> bytes:
    """signature: valid, none, empty (an empty signature field) or tampered."""
    paragraphs = [sample.word_ligatures(p) for p in sample.docx_paragraphs(docx)]
    if letter_spaced:  # the mailbox list comes out letter-spaced, as in the seed
        paragraphs = [
            "  ".join(" ".join(w) for w in p.split(" ")) if "@resah.fr" in p else p for p in paragraphs
        ]
    pdf = sample.text_pdf(paragraphs, "Convention")
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


def scanned_pdf() -> bytes:
    """A page that is only an image: a scanned, hand-signed convention."""
    image = Image.new("L", (300, 400), 255)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buf.getvalue()), x=10, y=10, w=180)
    return bytes(pdf.output())


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
    return sample.purchase_order_pdf(
        entity.name,
        spaced(siret or entity.siret),
        entity.address,
        entity.postal_code,
        entity.city,
        amount,
        ej,
        market,
    )


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


def deflated_zeros(size: int, raw: bool = True) -> tuple[bytes, int]:
    """`size` zero bytes, deflated without ever holding them: (payload, crc32)."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15 if raw else 15)
    block, out, crc = b"\0" * (1 << 20), [], 0
    for _ in range(size >> 20):
        out.append(comp.compress(block))
        crc = zlib.crc32(block, crc)
    out.append(comp.flush())
    return b"".join(out), crc


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
