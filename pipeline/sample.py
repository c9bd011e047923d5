"""Build a realistic signed deposit from a rendered package, for the demo.

The convention's text is laid out as a PDF the way Word exports it (the
"ti"/"tt" ligatures come out as Ɵ/Ʃ on extraction, as in real returns),
then signed (PAdES) with a throwaway certificate made on the spot. The
annex is the rendered workbook; the purchase order is a Chorus-style EJ. The
bulletin d'adhésion is laid out and signed the same way, with its own order.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from docx import Document as open_docx
from fpdf import FPDF
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .archive import zip_of
from .context import CHECKED, UNCHECKED
from .money import format_eur
from .render import write_atomic
from .request import contribution_due, parse_request
from .resah import Resah

FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
LATIN1 = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "–": "-",
        "—": "-",
        "€": "EUR",
        "œ": "oe",
        "…": "...",
        "☒": "[X]",
        "☐": "[ ]",
        "Ɵ": "ti",
        "Ʃ": "tt",
        "\u00a0": " ",
    }
)


@dataclass(frozen=True)
class Identity:
    """A throwaway signing certificate and its key (PKCS#8 DER)."""

    certificate: bytes
    key: bytes


def throwaway_identity(name: str, organisation: str, title: str | None = None) -> Identity:
    """A self-signed signing certificate; `title`, the signer's quality, as qualified certificates state it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]),
    ]
    subject = x509.Name(attributes + ([x509.NameAttribute(NameOID.TITLE, title)] if title else []))
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + dt.timedelta(days=365))
        .add_extension(usage, critical=True).sign(key, hashes.SHA256())
    )  # fmt: skip
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Identity(cert.public_bytes(serialization.Encoding.DER), pkcs8)


def sign_pdf(pdf: bytes, identity: Identity, field: str = "Signature1") -> bytes:
    """A PAdES signature in a new signature field, as an e-signature tool adds it."""
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(identity.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(identity.key),
        cert_registry=SimpleCertificateStore.from_certs([]),
    )
    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(
        field_name=field, reason="Signature de la convention", location="France"
    )
    # 4 KB set aside for the CMS (about twice what it takes): without it pyHanko signs twice, once to measure.
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer, output=out, bytes_reserved=8192
    )
    return out.getvalue()


def word_ligatures(text: str) -> str:
    """What Calibri's ligatures become when a Word export is read back."""
    return text.replace("tt", "\u01a9").replace("ti", "\u019f")


def text_pdf(paragraphs: list[str], title: str = "") -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creation_date(dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    font = next((f for f in FONTS if Path(f).is_file()), None)
    if font:
        pdf.add_font("Body", fname=font)
    pdf.set_font("Body" if font else "Helvetica", size=9)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    for para in paragraphs:
        text = para if font else para.translate(LATIN1).encode("latin-1", "replace").decode("latin-1")
        pdf.multi_cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    return bytes(pdf.output())


def docx_paragraphs(data: bytes) -> list[str]:
    body = open_docx(io.BytesIO(data)).element.body
    paras = ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in body.iter(f"{W}p")]
    return [p for p in paras if p.strip()]


def convention_pdf(docx: bytes, damaged: bool = True) -> bytes:
    paras = docx_paragraphs(docx)
    return text_pdf([word_ligatures(p) for p in paras] if damaged else paras, "Convention")


def purchase_order_pdf(
    buyer: str,
    siret: str,
    address: str,
    postal_code: str,
    city: str,
    amount: Decimal,
    ej: str,
    market: str,
    supplier: Resah,
    subject: str | None = None,
) -> bytes:
    """`subject`: what the order pays, when not the contribution to the accord-cadre `market`."""
    subject = (
        subject
        or f"contribution annuelle au titre de la convention de service d'achat centralisé — accord-cadre {market}"
    )
    lines = [
        "ENGAGEMENT JURIDIQUE — BON DE COMMANDE",
        f"Numéro d'engagement juridique : {ej}",
        f"Date : {dt.date(2024, 3, 1):%d/%m/%Y}",
        f"Acheteur : {buyer}",
        f"SIRET : {siret}",
        f"{address}",
        f"{postal_code} {city}",
        f"Fournisseur : {supplier.as_supplier}",
        f"Objet : {subject}",
        f"Montant HT : {format_eur(amount)}",
        "TVA : non applicable",
        f"Montant total : {format_eur(amount)}",
    ]
    return text_pdf(lines, "Engagement juridique")


def form_for(
    denomination: str, market: str, email: str, ej: str, code_service: str = "SERVICE-ACHATS"
) -> str:
    data = {
        "raison_sociale": denomination,
        "numero_marche": market,
        "email": email,
        "telephone": "0321617000",
        "reference_commande": ej,
        "code_service_chorus": code_service,
        "message": "Convention signée, annexe et EJ ci-joints.",
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def write_deposit(renderer, request, variant, out_zip: Path, email: str) -> tuple[Path, Path]:
    """Render, sign and zip a deposit for one signatory and variant, with its form beside it."""
    docs = {d.kind: d.data for d in renderer.package(request, dt.date.today(), ("convention", "annex"))}
    entity = request.signatory.entity
    name, _, title = (request.signatory.representative or "Représentant").partition(", ")
    identity = throwaway_identity(name, entity.name, title or None)
    due = contribution_due(variant, request).amount or Decimal("0")
    ej = "1300012345"
    market = variant.framework_agreement + (f" lot {variant.lot}" if variant.lot else "")
    order = purchase_order_pdf(
        entity.name,
        entity.siret_display,
        entity.address,
        entity.postal_code,
        entity.city,
        due,
        ej,
        market,
        renderer.resah,
    )
    members = [
        ("Dépôt CSAC/Convention signée.pdf", sign_pdf(convention_pdf(docs["convention"]), identity)),
        ("Dépôt CSAC/Annexe - Vos besoins.xlsx", docs["annex"]),
        (f"Dépôt CSAC/EJ {ej}.pdf", order),
    ]
    form_path = out_zip.with_suffix(".json")
    write_atomic(form_path, form_for(entity.name, market, email, ej).encode("utf-8"))
    write_atomic(out_zip, zip_of(members))
    return out_zip, form_path


COMMUNE = {  # a commune of 60,000: 1 000,00 € due on 2021-045 lot 2 (the soak's and the fuzz bench's)
    "denomination": "Commune de Test-sur-Mer", "siret": "200 042 422 00010", "typologie": "commune",
    "population": 60000, "adresse": "1 place de la Mairie", "code_postal": "62000", "ville": "ARRAS",
    "montant_maximum": 100000,
}  # fmt: skip


def package_of(renderer, resources, signatory: dict = COMMUNE, variant_id: str = "2021-045-lot2") -> dict:
    """The convention and annex csac renders for `signatory` on one variant, dated 2024-03-01: {kind: bytes}."""
    variant = [v for v in renderer.variants if v.id == variant_id]
    request = parse_request({"signataire": signatory, "mode": "compte_propre"}, "sample", renderer.regions,
                            resources.schema("beneficiary"), variant)  # fmt: skip
    docs = renderer.package(request, dt.date(2024, 3, 1), ("convention", "annex"))
    return {d.kind: d.data for d in docs if d.variant == variant_id}


def signed_package(renderer, resources, signatory: dict = COMMUNE, variant_id: str = "2021-045-lot2") -> dict:
    """What a signatory sends back: its convention as Word (`docx`), laid out as PDF and signed, and its annex."""
    docs = package_of(renderer, resources, signatory, variant_id)
    identity = throwaway_identity("Maire", signatory["denomination"])
    convention = sign_pdf(convention_pdf(docs["convention"]), identity)
    return {"docx": docs["convention"], "convention": convention, "annex": docs["annex"]}


def order_of(
    signatory: dict, amount: Decimal, ej: str, supplier: Resah, market: str = "2021-045 lot 2"
) -> bytes:
    """The signatory's purchase order (EJ) for `amount`, from `supplier` (the renderer's Resah)."""
    s = signatory
    return purchase_order_pdf(s["denomination"], s["siret"], s["adresse"], s["code_postal"], s["ville"], amount, ej, market, supplier)  # fmt: skip


SECTOR_BOXES = {"medico_social": "Établissement du secteur médico-social", "autre": "Autre organisme"}
EJ_LINE, CODE_SERVICE_LINE = "Numéro d’Engagement juridique (EJ) :", "Code service :"


def bulletin_docx(renderer, resources, signatory: dict = COMMUNE, on: dt.date = dt.date(2024, 3, 1)) -> bytes:
    """The bulletin d'adhésion csac renders for `signatory` (its "medico_social" ticks that box) in the year of `on`."""
    request = parse_request({"signataire": signatory, "mode": "compte_propre"}, "sample", renderer.regions,
                            resources.schema("beneficiary"), list(renderer.variants))  # fmt: skip
    [bulletin] = renderer.package(request, on, ("bulletin",))
    return bulletin.data


def bulletin_pdf(
    docx: bytes,
    identity: Identity | None,
    sector: str | None = None,
    ej: str | None = None,
    code_service: str | None = None,
) -> bytes:
    """The bulletin as it comes back: laid out as Word exports it, filled in, signed by `identity` (None:
    unsigned). `sector` ticks medico_social, autre, both or none of the boxes instead of the rendered one;
    `ej` and `code_service` are written on their dotted lines instead of a separate order."""
    paragraphs = [_filled(p, sector, ej, code_service) for p in docx_paragraphs(docx)]
    pdf = text_pdf([word_ligatures(p) for p in paragraphs], "Bulletin d'adhésion")
    return sign_pdf(pdf, identity) if identity else pdf


def _filled(paragraph: str, sector: str | None, ej: str | None, code_service: str | None) -> str:
    for name, label in SECTOR_BOXES.items():
        if sector and paragraph.endswith(label) and paragraph[:1] in (CHECKED, UNCHECKED):
            return f"{CHECKED if sector in (name, 'both') else UNCHECKED} {label}"
    for start, value in ((EJ_LINE, ej), (CODE_SERVICE_LINE, code_service)):
        if value and paragraph.startswith(start):
            return f"{start} {value}"
    return paragraph


def membership_order_of(
    signatory: dict, amount: Decimal, ej: str, supplier: Resah, year: int = 2024
) -> bytes:
    """The signatory's order (EJ) paying its membership of the centrale d'achat for `year`: no accord-cadre named."""
    s, subject = signatory, f"adhésion {year} à la centrale d'achat du Resah (bulletin d'adhésion)"
    return purchase_order_pdf(s["denomination"], s["siret"], s["adresse"], s["code_postal"], s["ville"], amount, ej, "", supplier, subject)  # fmt: skip
