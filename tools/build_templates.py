"""Build the docxtpl templates in templates/csac/ with python-docx.

The templates are committed; this script is how they were made, so that a
change of layout is a reviewed change of code rather than a binary edit.
Run: .venv/bin/python tools/build_templates.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

OUT = Path(__file__).resolve().parent.parent / "templates" / "csac"
BLUE = "DCE6F2"
NAVY = RGBColor(0x1F, 0x3A, 0x68)


def _border_box(pPr, color="4F81BD"):
    borders = OxmlElement("w:pBdr")
    for side in ("top", "left", "bottom", "right"):
        el = OxmlElement(f"w:{side}")
        for k, v in (("val", "single"), ("sz", "6"), ("space", "4"), ("color", color)):
            el.set(qn(f"w:{k}"), v)
        borders.append(el)
    shd = OxmlElement("w:shd")
    for k, v in (("val", "clear"), ("color", "auto"), ("fill", BLUE)):
        shd.set(qn(f"w:{k}"), v)
    pPr.append(borders)
    pPr.append(shd)


def _styles(doc):
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY

    def add(name, size=None, bold=False, center=False, before=0, after=4, indent=None):
        style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        style.font.bold = bold
        if size:
            style.font.size = Pt(size)
        fmt = style.paragraph_format
        fmt.space_before, fmt.space_after = Pt(before), Pt(after)
        if center:
            fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if indent:
            fmt.left_indent, fmt.first_line_indent = Cm(indent), Cm(-0.4)
        return style

    add("CSAC Titre", 14, bold=True, center=True, after=10).font.color.rgb = NAVY
    add("CSAC Objet", 11, bold=True, center=True, after=8)
    add("CSAC Sous-titre", 11, bold=True, center=True, after=6)
    add("CSAC Partie", bold=True, before=8)
    add("CSAC Vu", after=6)
    add("CSAC Convenu", 11, bold=True, center=True, before=8, after=8)
    add("CSAC Article", 11, bold=True, before=12, after=6).font.color.rgb = NAVY
    add("CSAC Sous-article", bold=True, before=6, after=4)
    add("CSAC Puce", indent=1.0, after=2)
    add("CSAC Note", 8, after=2)
    add("CSAC Cellule", after=0).paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    add("CSAC Contribution", bold=True, before=6, after=6)
    _border_box(doc.styles["CSAC Contribution"].element.get_or_add_pPr())
    box = add("CSAC Encadre", after=0)
    box.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    _border_box(box.element.get_or_add_pPr())


def _field(paragraph, instr: str, placeholder: str):
    """A Word field (PAGE, NUMPAGES) that Word and LibreOffice compute."""
    for kind, text in (
        ("begin", None),
        ("instr", instr),
        ("separate", None),
        ("text", placeholder),
        ("end", None),
    ):
        run = paragraph.add_run()
        if kind == "instr":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = f" {text} "
        elif kind == "text":
            run.text = text
            continue
        else:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        run._r.append(el)


def _document():
    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    section.top_margin, section.bottom_margin = Cm(1.8), Cm(1.8)
    _styles(doc)
    props = doc.core_properties
    props.author = props.last_modified_by = "Resah — csac"
    props.created = props.modified = dt.datetime(2024, 1, 1)
    props.revision = 1
    return doc


def _footer(doc, text: str):
    para = doc.sections[0].footer.paragraphs[0]
    para.style = doc.styles["CSAC Note"]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    para.add_run(text + " – Page ")
    _field(para, "PAGE", "1")
    para.add_run(" sur ")
    _field(para, "NUMPAGES", "1")


def _p(doc, text: str, style: str = "Normal", bold_tail: str | None = None):
    para = doc.add_paragraph(text, style=style)
    if bold_tail:
        para.add_run(bold_tail).bold = True
    return para


def _tag(doc, tag: str):
    doc.add_paragraph("{%p " + tag + " %}")


def _loop(doc, head: str, body: str, style: str = "Normal"):
    _tag(doc, head)
    _p(doc, body, style)
    _tag(doc, "endfor")


def _row(table, *cells: str, bold: bool = False):
    row = table.add_row()
    for cell, text in zip(row.cells, cells, strict=True):
        para = cell.paragraphs[0]
        para.style = table.part.document.styles["CSAC Cellule"]
        para.add_run(text).bold = bold
    return row


def _tariff_table(doc):
    table = doc.add_table(rows=0, cols=2)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _row(table, "{{ v.tariff.header[0] }}", "{{ v.tariff.header[1] }}", bold=True)
    _row(table, "{%tr if v.tariff.column_note %}", "")
    _row(table, "", "{{ v.tariff.column_note }}", bold=True)
    _row(table, "{%tr endif %}", "")
    _row(table, "{%tr for r in v.tariff.rows %}", "")
    _row(table, "{{ r.label }}", "{{ r.amount_text }}")
    _row(table, "{%tr endfor %}", "")
    for row in table.rows:
        row.cells[0].width, row.cells[1].width = Cm(11.5), Cm(5.0)


def _parties(doc):
    _p(doc, "{{ v.parties.intro }}", "CSAC Partie")
    _p(doc, "{{ v.parties.name_label }} ", bold_tail="{{ s.denomination }}")
    _p(doc, "{{ v.parties.siret_label }} ", bold_tail="{{ s.siret }}")
    _p(doc, "{{ v.parties.represented }}{{ s.represented_by }}")
    _p(doc, "{{ v.parties.designation }}")
    _p(doc, "{{ s.box_own }} {{ v.parties.own_account }}")
    _p(doc, "{{ s.box_behalf }} {{ v.parties.on_behalf }}")
    _p(doc, "{{ v.parties.resah[0] }}", "CSAC Partie")
    _loop(doc, "for line in v.parties.resah[1:]", "{{ line }}")


def _articles(doc):
    _tag(doc, "for a in v.articles")
    _p(doc, "{{ a.title }}", "CSAC Article")
    _tag(doc, "for b in a.blocks")
    _tag(doc, "if b.kind == 'h2'")
    _p(doc, "{{ b.text }}", "CSAC Sous-article")
    _tag(doc, "elif b.kind == 'li'")
    _p(doc, "- {{ b.text }}", "CSAC Puce")
    _tag(doc, "elif b.kind == 'tariff'")
    _tag(doc, "if v.tariff.caption")
    _p(doc, "{{ v.tariff.caption }}", "CSAC Sous-article")
    _tag(doc, "endif")
    _tariff_table(doc)
    _p(doc, "Contribution annuelle due par le signataire : {{ s.contribution }}", "CSAC Contribution")
    _tag(doc, "else")
    _p(doc, "{{ b.text }}")
    _tag(doc, "endif")
    _tag(doc, "endfor")
    _tag(doc, "endfor")


def _mailboxes(doc, own_line: str):
    _p(doc, own_line, "CSAC Encadre").runs[0].bold = True
    _loop(doc, "for r in regions", "{{ r.label }} : {{ r.mailbox }}", "CSAC Encadre")


def build_convention(path: Path):
    doc = _document()
    _footer(doc, "Convention de service d’achat centralisé – {{ v.footer_label }}")
    _p(doc, "{{ v.title }}", "CSAC Titre")
    _p(doc, "{{ v.object }}", "CSAC Objet")
    _loop(doc, "for line in v.subtitles", "{{ line }}", "CSAC Sous-titre")
    _parties(doc)
    _loop(doc, "for line in v.recitals", "{{ line }}", "CSAC Vu")
    para = _p(doc, "{{ v.agreed }}", "CSAC Convenu")
    para.runs[0].font._element.get_or_add_rPr().append(_spacing(40))
    _loop(doc, "for n in v.footnotes", "{{ n }}", "CSAC Note")
    _articles(doc)
    _p(doc, "{{ v.signature.place }} ____________________ {{ v.signature.place_note }}", "CSAC Partie")
    _loop(doc, "for line in v.signature.signatory", "{{ line }}")
    _p(doc, "")
    _loop(doc, "for line in v.signature.resah", "{{ line }}")
    _p(doc, "")
    _loop(doc, "for line in v.signature.by_post", "{{ line }}", "CSAC Encadre")
    _loop(doc, "for line in v.signature.electronic", "{{ line }}", "CSAC Encadre")
    _mailboxes(doc, "Votre région : {{ s.region_name }} — {{ s.region_mailbox }}")
    doc.save(path)


def _spacing(twentieths: int):
    el = OxmlElement("w:spacing")
    el.set(qn("w:val"), str(twentieths))
    return el


def _info_table(doc, rows: list[tuple[str, str]]):
    table = doc.add_table(rows=0, cols=2)
    table.style = doc.styles["Table Grid"]
    for label, value in rows:
        _row(table, label, value)
    for row in table.rows:
        row.cells[0].width, row.cells[1].width = Cm(6.0), Cm(10.5)


BULLETIN_ANNEXES = Path(__file__).with_name("bulletin_annexes.txt")


def build_bulletin(path: Path):
    doc = _document()
    _footer(doc, "Bulletin d’adhésion {{ b.year }} à la centrale d’achat du Resah – {{ b.name }}")
    _p(doc, "BULLETIN D’ADHESION {{ b.year }} A LA CENTRALE D’ACHAT", "CSAC Titre")
    _p(doc, "Informations relatives à l’établissement", "CSAC Article")
    _info_table(
        doc,
        [
            ("Nom de l’établissement", "{{ b.name }}"),
            ("Adresse de l’établissement", "{{ b.address }} – {{ b.postal_code }} {{ b.city }}"),
            ("N° SIREN", "{{ b.siren }}"),
            ("N° SIRET", "{{ b.siret }}"),
            ("N° FINESS", "{{ b.finess }}"),
        ],
    )
    _p(doc, "Informations relatives à l’interlocuteur unique pour le Resah", "CSAC Article")
    _info_table(
        doc,
        [
            ("Civilité", "{{ b.contact_civilite }}"),
            ("Nom", "{{ b.contact_nom }}"),
            ("Prénom", "{{ b.contact_prenom }}"),
            ("Fonction", "{{ b.contact_fonction }}"),
            ("E-mail", "{{ b.contact_email }}"),
            ("Téléphone", "{{ b.contact_telephone }}"),
        ],
    )
    _p(doc, "")
    _p(
        doc,
        "Je soussigné, {{ b.signer }}, souhaite adhérer à la centrale d’achat du GIP Resah pour un montant de 300 euros (établissements médico-sociaux) 600 euros (autres organismes) nets de taxe pour l’année civile {{ b.year }}, afin de pouvoir bénéficier, le cas échéant, de ses marchés. Un titre de recettes est envoyé dès la signature de la présente convention. Les suivants seront envoyés au premier trimestre des années civiles suivantes.",
    )
    _p(
        doc,
        "Cette adhésion sera renouvelée tacitement chaque année. En cas de décision de non-renouvellement, il convient d’en informer le Resah par un courrier recommandé avec accusé de réception. A défaut de réception de ce courrier avant le 31 octobre de l’année en cours, l’adhésion sera automatiquement renouvelée.",
    )
    _p(doc, "Fait à …………………………………., le ...................... ,", "CSAC Partie")
    _p(
        doc,
        "Nota bene : Aucune contribution financière n’est due au titre de l’adhésion pour l’année {{ b.year }} pour tout bulletin reçu après le 31 octobre {{ b.year }}. Un bon de commande relatif à l’adhésion pour l’année {{ b.next_year }} doit néanmoins être transmis au Resah.",
        "CSAC Encadre",
    )
    _p(doc, "Merci de cocher la catégorie de votre établissement :", "CSAC Partie")
    _p(doc, "{{ b.box_medico_social }} Établissement du secteur médico-social")
    _p(doc, "{{ b.box_other }} Autre organisme")
    _p(doc, "Montant de l’adhésion : {{ b.fee_line }}", "CSAC Contribution")
    _p(
        doc,
        "Merci de joindre le bon de commande relatif à l’engagement financier issu du bulletin d’adhésion ou d’inscrire ci-dessous les informations nécessaires à la facturation sur CHORUS PRO (pour les établissements soumis à la comptabilité publique et à la facturation électronique) :",
    )
    _p(doc, "Numéro d’Engagement juridique (EJ) : …………………………..")
    _p(doc, "Code service : …………………………..")
    _p(doc, "Le Bulletin est à retourner complété par courriel à l’adresse de votre région :", "CSAC Partie")
    _mailboxes(doc, "Votre région : {{ b.region_name }} — {{ b.region_mailbox }}")
    for line in BULLETIN_ANNEXES.read_text(encoding="utf-8").strip().split("\n\n"):
        style = (
            "CSAC Article"
            if line.startswith("Annexe")
            else "CSAC Puce"
            if line.startswith("- ")
            else "Normal"
        )
        doc.add_paragraph(" ".join(line.split()), style=style)
    doc.save(path)


if __name__ == "__main__":
    build_convention(OUT / "convention.docx")
    build_bulletin(OUT / "bulletin.docx")
    print(f"wrote {OUT / 'convention.docx'} and {OUT / 'bulletin.docx'}")
