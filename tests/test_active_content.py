"""Active content is flagged for the regional team; programs never reach it; the original is kept."""

import email
import hashlib
import io
import mailbox
import re
import zipfile
from decimal import Decimal
from email import policy

import pikepdf
import pytest

from pipeline.intake import take_in
from tests import builders as b

REGION = "Hauts-de-France@resah.fr"
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\0" * 200


@pytest.fixture
def commune():
    return b.Entity()


@pytest.fixture
def parts(renderer, resources, commune):
    docs = b.rendered(renderer, resources, commune, "2021-045-lot2")
    return {
        "Convention.pdf": b.convention_pdf(docs["convention"]),
        "Annexe.xlsx": docs["annex"],
        "EJ.pdf": b.order_pdf(commune, Decimal("1000")),
    }


def region_mail(ctx):
    [msg] = [
        email.message_from_bytes(m.as_bytes(), policy=policy.default)
        for m in mailbox.Maildir(ctx.workspace.outbox / REGION)
    ]
    return msg


def attached_names(msg) -> list[str]:
    [attachment] = list(msg.iter_attachments())
    with zipfile.ZipFile(io.BytesIO(attachment.get_content())) as zf:
        return zf.namelist()


def flags(report) -> dict:
    return {d.name: d.active_content for d in report.documents if d.active_content}


# -- PDFs that run something ------------------------------------------------------------------


def _edit(pdf: bytes, change, mode=pikepdf.ObjectStreamMode.preserve) -> bytes:
    doc = pikepdf.open(io.BytesIO(pdf))
    change(doc)
    out = io.BytesIO()
    doc.save(out, object_stream_mode=mode)
    return out.getvalue()


def _javascript(doc):
    action = doc.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert('Réglez');"))
    doc.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=["paiement", action]))


def with_js(pdf):
    return _edit(pdf, _javascript)


def with_launch(pdf):
    def launch(doc):
        doc.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.Launch, F="cmd.exe")

    return _edit(pdf, launch)


def with_launch_link(pdf):
    def link(doc):
        action = pikepdf.Dictionary(S=pikepdf.Name.Launch, F="facture.exe")
        annot = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100], A=action
        )
        doc.pages[0].Annots = doc.make_indirect(pikepdf.Array([doc.make_indirect(annot)]))

    return _edit(pdf, link)


def with_page_open_script(pdf):
    def page_action(doc):
        doc.pages[0].AA = pikepdf.Dictionary(
            O=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="this.print();")
        )

    return _edit(pdf, page_action)


def with_attachment(pdf):
    def attach(doc):
        doc.attachments["facture.exe"] = pikepdf.AttachedFileSpec(doc, PE)

    return _edit(pdf, attach)


def with_escaped_js_name(pdf):
    """/J#61vaScript is /JavaScript to every reader."""
    data = re.sub(rb"/JS(?=[\s(<])", b"/#4AS", with_js(pdf).replace(b"/JavaScript", b"/J#61vaScript"))
    assert not re.search(rb"/JavaScript|/JS\b", data)
    return data


def with_js_in_object_stream(pdf):
    """The action dictionary compressed inside an object stream (PDF 1.5), invisible to a raw scan."""
    data = _edit(pdf, _javascript, pikepdf.ObjectStreamMode.generate)
    assert b"/JavaScript" not in data
    return data


PDF_ATTACKS = {
    "javascript": (with_js, "javascript"),
    "page-open-script": (with_page_open_script, "javascript"),
    "launch": (with_launch, "launch"),
    "launch-link": (with_launch_link, "launch"),
    "embedded-file": (with_attachment, "embedded_file"),
    "escaped-name": (with_escaped_js_name, "javascript"),
    "object-stream": (with_js_in_object_stream, "javascript"),
}


@pytest.mark.parametrize("attack", PDF_ATTACKS)
def test_an_order_pdf_with_active_content_is_flagged_in_the_report_and_the_regional_message(
    intake_ctx, drop, parts, commune, attack
):
    change, code = PDF_ATTACKS[attack]
    data = b.zip_of([*parts.items()][:2] + [("EJ.pdf", change(parts["EJ.pdf"]))])
    report = take_in(drop(data, form=b.form(commune)), intake_ctx)
    assert code in flags(report)["EJ.pdf"]
    msg = region_mail(intake_ctx)
    assert "contenu actif" in msg.get_body(("plain",)).get_content() and msg["X-CSAC-Active-Content"] == "yes"


# -- Office files with macros -----------------------------------------------------------------


def with_part(package: bytes, part: str, data: bytes = b"\xd0\xcf\x11\xe0 VBA project") -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as zin:
        members = [(i.filename, zin.read(i)) for i in zin.infolist()]
    return b.zip_of([*members, (part, data)])


@pytest.mark.parametrize(
    "part, code",
    [
        ("xl/vbaProject.bin", "macro"),
        ("xl/activeX/activeX1.bin", "activex"),
        ("xl/embeddings/oleObject1.bin", "ole_object"),
    ],
)
def test_an_annex_workbook_with_macros_or_controls_is_flagged(intake_ctx, drop, parts, commune, part, code):
    annex = with_part(parts["Annexe.xlsx"], part)
    report = take_in(
        drop(b.zip_of([*(parts | {"Annexe.xlsm": annex}).items()][1:]), form=b.form(commune)), intake_ctx
    )
    assert flags(report)["Annexe.xlsm"] == (code,)


def test_a_word_convention_with_macros_is_flagged(intake_ctx, drop, parts, renderer, resources, commune):
    docx = b.rendered(renderer, resources, commune, "2021-045-lot2")["convention"]
    data = b.zip_of([("Convention.docm", with_part(docx, "word/vbaProject.bin")), *list(parts.items())[1:]])
    report = take_in(drop(data, form=b.form(commune)), intake_ctx)
    assert flags(report) == {"Convention.docm": ("macro",)}


# -- Programs ---------------------------------------------------------------------------------

PROGRAMS = {
    "double extension": ("Lisez-moi.pdf.exe", PE),
    "PE named as a PDF": ("Facture.pdf", PE),
    "ELF": ("outil", b"\x7fELF\x02\x01\x01" + b"\0" * 100),
    "shell script": ("installer.sh", b"#!/bin/sh\nrm -rf ~\n"),
    "script named as text": ("lisez-moi.txt.vbs", b'CreateObject("WScript.Shell").Run "cmd"'),
    "trailing dot": ("facture.exe.", b"plain text that Windows would run as .exe"),
    "shortcut": ("Convention.lnk", b"L\x00\x00\x00\x01\x14\x02\x00" + b"\0" * 60),
}


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_program_is_never_forwarded_and_the_original_is_kept_for_audit(
    intake_ctx, drop, parts, commune, program
):
    name, data = PROGRAMS[program]
    deposit = b.zip_of([*parts.items(), (name, data)])
    report = take_in(drop(deposit, form=b.form(commune)), intake_ctx)
    assert report.status == "complete" and flags(report)[name] == ("executable",)
    msg = region_mail(intake_ctx)
    assert name not in attached_names(msg) and set(attached_names(msg)) == set(parts)
    body = msg.get_body(("plain",)).get_content()
    assert f"« {name} » : programme ou script exécutable, jamais transmis" in body
    kept = intake_ctx.workspace.archive / report.deposit_id / "depot.zip"
    assert kept.read_bytes() == deposit and report.archived_to == str(kept.parent / "depot.zip")


def test_a_program_named_like_a_convention_does_not_count_as_the_convention(intake_ctx, drop, parts, commune):
    """A real convention PDF renamed `.exe` is still a program: not read as the convention, not sent."""
    data = b.zip_of([("Convention.pdf.exe", parts["Convention.pdf"]), *list(parts.items())[1:]])
    report = take_in(drop(data, form=b.form(commune)), intake_ctx)
    assert "convention_missing" in [p.code for p in report.problems]


def test_a_hidden_file_makes_csac_send_the_documents_rather_than_the_original(
    intake_ctx, drop, parts, commune
):
    deposit = b.zip_of([*parts.items(), ("Dossier/.cache.exe", PE), ("__MACOSX/._EJ.pdf", b"\0" * 10)])
    report = take_in(drop(deposit, form=b.form(commune)), intake_ctx)
    msg = region_mail(intake_ctx)
    assert set(attached_names(msg)) == set(parts)
    assert [h.name for h in report.withheld] == ["Dossier/.cache.exe", "__MACOSX/._EJ.pdf"]


# -- What is clean stays clean ----------------------------------------------------------------


def test_clean_documents_of_every_kind_carry_no_flag_and_the_zip_goes_as_it_came(
    intake_ctx, drop, parts, commune, renderer, resources
):
    docx = b.rendered(renderer, resources, commune, "2021-045-lot2")["convention"]
    extra = {
        "Délibération.docx": docx,
        "Signature scannée.pdf": b.scanned_pdf(),
        "Photo.png": b._png().getvalue(),
        "Logo.pdf": b.convention_with_images(docx),
    }
    deposit = b.zip_of([*parts.items(), *extra.items()])
    report = take_in(drop(deposit, form=b.form(commune)), intake_ctx)
    assert flags(report) == {} and report.withheld == () and report.archived_to is None
    [attachment] = list(region_mail(intake_ctx).iter_attachments())
    assert hashlib.sha256(attachment.get_content()).digest() == hashlib.sha256(deposit).digest()
    assert attachment.get_filename() == "depot.zip"
