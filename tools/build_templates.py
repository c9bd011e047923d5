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
GREY = RGBColor(0x59, 0x59, 0x59)
OWN_ROW = "FFF2CC"  # the signatory's own row of the tariff, a highlighter yellow
SIGNATURE_ROOM = Cm(3.6)  # with the line above, about 4 cm to sign and stamp
HALF = Cm(8.5)  # half the text width: A4 less its 2 cm margins


# The order the schema gives the children of a paragraph's and a table's properties: Word refuses
# a file whose elements come in another order, where LibreOffice reads on.
PPR_ORDER = [
    "pStyle",
    "keepNext",
    "keepLines",
    "pageBreakBefore",
    "framePr",
    "widowControl",
    "numPr",
    "suppressLineNumbers",
    "pBdr",
    "shd",
    "tabs",
    "suppressAutoHyphens",
    "kinsoku",
    "wordWrap",
    "overflowPunct",
    "topLinePunct",
    "autoSpaceDE",
    "autoSpaceDN",
    "bidi",
    "adjustRightInd",
    "snapToGrid",
    "spacing",
    "ind",
    "contextualSpacing",
    "mirrorIndents",
    "suppressOverlap",
    "jc",
    "textDirection",
    "textAlignment",
    "textboxTightWrap",
    "outlineLvl",
    "divId",
    "cnfStyle",
    "rPr",
    "sectPr",
    "pPrChange",
]
TBLPR_ORDER = [
    "tblStyle",
    "tblpPr",
    "tblOverlap",
    "bidiVisual",
    "tblStyleRowBandSize",
    "tblStyleColBandSize",
    "tblW",
    "jc",
    "tblCellSpacing",
    "tblInd",
    "tblBorders",
    "shd",
    "tblLayout",
    "tblCellMar",
    "tblLook",
    "tblCaption",
    "tblDescription",
]


def _place(parent, el, order: list[str]):
    """`el` inserted among `parent`'s children where `order` puts it."""
    tag = el.tag.rpartition("}")[2]
    return parent.insert_element_before(el, *(f"w:{t}" for t in order[order.index(tag) + 1 :]))


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
    _place(pPr, borders, PPR_ORDER)
    _place(pPr, shd, PPR_ORDER)


def _no_hyphenation(style):
    """Headings never break a word: no automatic hyphenation in them."""
    _place(style.element.get_or_add_pPr(), OxmlElement("w:suppressAutoHyphens"), PPR_ORDER)


def _styles(doc):
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY

    def add(name, size=None, bold=False, center=False, before=0, after=4, indent=None, heading=False):
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
        if heading:  # never the last line of a page, never a word cut in two
            fmt.keep_with_next = fmt.keep_together = True
            fmt.alignment = fmt.alignment or WD_ALIGN_PARAGRAPH.LEFT
            _no_hyphenation(style)
        return style

    add("CSAC Titre", 14, bold=True, center=True, after=10, heading=True).font.color.rgb = NAVY
    add("CSAC Objet", 11, bold=True, center=True, after=8, heading=True)
    add("CSAC Sous-titre", 11, bold=True, center=True, after=6, heading=True)
    add("CSAC Partie", bold=True, before=8, heading=True)
    add("CSAC Vu", after=6)
    add("CSAC Convenu", 11, bold=True, center=True, before=8, after=8, heading=True)
    add("CSAC Article", 11, bold=True, before=12, after=6, heading=True).font.color.rgb = NAVY
    add("CSAC Sous-article", bold=True, before=6, after=4, heading=True)
    add("CSAC Puce", indent=1.0, after=2)
    add("CSAC Note", 8, after=2)
    # Text kept with what follows: the last article's, with the signature block that closes it;
    # the line that announces the tariff, with the table.
    add("CSAC Suivi").paragraph_format.keep_with_next = True
    cell = add("CSAC Cellule", after=0)
    cell.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    cell.paragraph_format.keep_with_next = True  # a table's rows stay together
    amount = add("CSAC Montant", after=0)
    amount.base_style = cell
    amount.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    contribution = add("CSAC Contribution", bold=True, before=6, after=6)
    contribution.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT  # a short line, not stretched
    _border_box(contribution.element.get_or_add_pPr())
    due = add("CSAC Du", bold=True, before=2, after=2)  # the contribution due, in the tariff's last row
    due.base_style = cell
    box = add("CSAC Encadre", after=0)  # a framed paragraph: the bulletin's nota bene
    box.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    _border_box(box.element.get_or_add_pPr())
    line = add("CSAC Ligne", after=0)  # in a framed cell
    line.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    line.paragraph_format.keep_with_next = True
    region = add("CSAC Region", 8.5, after=0)
    region.base_style = line
    sign = add("CSAC Signature", after=0)
    sign.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    sign.paragraph_format.keep_with_next = True
    room = add("CSAC Cachet", 8, after=0)
    room.base_style = sign
    room.paragraph_format.space_before = SIGNATURE_ROOM
    room.font.italic = True
    room.font.color.rgb = GREY


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
    return doc


def _properties(doc, title: str, subject: str, description: str, created: str):
    """Core properties as Jinja: docxtpl renders the texts, csac the dates (pipeline/ooxml.py).

    `|safe` in the texts: docxtpl sets them as element text, which lxml escapes once already."""
    props = doc.core_properties
    props.author = props.last_modified_by = "Resah"
    props.title, props.subject, props.comments = title, subject, description
    props.language = "fr-FR"
    props.keywords = ""
    props.created = props.modified = dt.datetime(2000, 1, 1)  # the element, with its W3CDTF type
    props.revision = 1
    element = props._element
    element.created.text = element.modified.text = created


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


def _row(table, *cells: str, bold: bool = False, styles: tuple[str, ...] = ()):
    row = table.add_row()
    for i, (cell, text) in enumerate(zip(row.cells, cells, strict=True)):
        para = cell.paragraphs[0]
        para.style = table.part.document.styles[styles[i] if styles else "CSAC Cellule"]
        para.add_run(text).bold = bold
    return row


def _set(parent, tag: str, order: list[str] | None = None, **attrs: str):
    """A w: child element with w: attributes, appended to `parent` (or placed by `order`)."""
    el = OxmlElement(f"w:{tag}")
    for k, v in attrs.items():
        el.set(qn(f"w:{k}"), v)
    return _place(parent, el, order) if order else parent.append(el) or el


def _shade(cell, fill: str):
    _set(cell._tc.get_or_add_tcPr(), "shd", val="clear", color="auto", fill=fill)


def _unsplittable(row, header: bool = False):
    """A row that never breaks across pages (and, for a header, repeats on the next one)."""
    trPr = row._tr.get_or_add_trPr()
    _set(trPr, "cantSplit")
    if header:
        _set(trPr, "tblHeader")


def _margins(table, top: int, side: int):
    """Cell padding, in twentieths of a point."""
    mar = _set(table._tbl.tblPr, "tblCellMar", TBLPR_ORDER)
    for edge, size in (("top", top), ("left", side), ("bottom", top), ("right", side)):
        _set(mar, edge, w=str(size), type="dxa")


def _borders(table, val: str, color: str = "auto", inside: bool = True):
    borders = _set(table._tbl.tblPr, "tblBorders", TBLPR_ORDER)
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        edge_val = val if inside or edge[:6] != "inside" else "nil"
        _set(borders, edge, val=edge_val, sz="0" if edge_val == "nil" else "6", space="0", color=color)


def _widths(table, *widths):
    """Column widths in the grid (what LibreOffice reads) and in every cell (what Word reads)."""
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=False):
            cell.width = width


def _merged(table, text: str, style: str):
    """A last row across both columns."""
    row = table.add_row()
    _unsplittable(row)
    cell = row.cells[0].merge(row.cells[1])
    para = cell.paragraphs[0]
    para.style = table.part.document.styles[style]
    para.paragraph_format.keep_with_next = True
    para.add_run(text)
    return row


def _tariff_table(doc):
    """Header merged down over the lot's note and shaded; amounts right; the signatory's rows lit."""
    table = doc.add_table(rows=0, cols=2)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _margins(table, top=30, side=100)
    amount = ("CSAC Cellule", "CSAC Montant")
    head = _row(table, "{{ v.tariff.header[0] }}", "{{ v.tariff.header[1] }}", bold=True, styles=amount)
    _set(head.cells[0]._tc.get_or_add_tcPr(), "vMerge", val="restart")
    _row(table, "{%tr if v.tariff.column_note %}", "")
    note = _row(table, "", "{{ v.tariff.column_note }}", bold=True, styles=amount)
    _set(note.cells[0]._tc.get_or_add_tcPr(), "vMerge")
    _row(table, "{%tr endif %}", "")
    for row in (head, note):
        _unsplittable(row, header=True)
        for cell in row.cells:
            _shade(cell, BLUE)
    _row(table, "{%tr for r in v.tariff.rows %}", "")
    line = _row(table, "{{ r.label }}", "{{ r.amount_text }}", styles=amount)
    _unsplittable(line)
    for cell in line.cells:
        _shade(cell, "{{ s.rows[r.key] }}")
    _row(table, "{%tr endfor %}", "")
    # The note and the contribution due close the table: rows of it, so that they share its page.
    note = _merged(table, "{{ s.tariff_note }}", "CSAC Note")
    due = _merged(table, "Contribution annuelle due par le signataire : {{ s.contribution }}", "CSAC Du")
    _shade(due.cells[0], BLUE)
    _widths(table, Cm(12.0), Cm(5.0))
    note.cells[0].width = due.cells[0].width = Cm(17.0)


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
    _p(doc, "", "CSAC Note")  # air below the table
    _tag(doc, "elif b.kept")
    _p(doc, "{{ b.text }}", "CSAC Suivi")
    _tag(doc, "else")
    _p(doc, "{{ b.text }}")
    _tag(doc, "endif")
    _tag(doc, "endfor")
    _tag(doc, "endfor")


def _box(doc):
    """The blue frame of the mailboxes: a table, which unlike bordered paragraphs never splits
    across pages. A first row across, then the seventeen regions in two columns (as the seed's
    bulletin prints them), so that the signature page keeps the whole frame."""
    table = doc.add_table(rows=2, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _borders(table, "single", color="4F81BD", inside=False)
    _margins(table, top=50, side=90)
    _widths(table, HALF, HALF)
    for row in table.rows:
        _unsplittable(row)
        for cell in row.cells:
            _shade(cell, BLUE)
    top = table.rows[0].cells[0].merge(table.rows[0].cells[1])
    return top, table.rows[1].cells


def _cell_p(cell, text: str, style: str = "CSAC Ligne", first: bool = False):
    para = cell.paragraphs[0] if first else cell.add_paragraph()
    para.style = cell.part.document.styles[style]
    para.add_run(text)
    return para


def _cell_loop(cell, head: str, body: str, style: str = "CSAC Ligne", first: bool = False):
    _cell_p(cell, "{%p " + head + " %}", first=first)
    _cell_p(cell, body, style)
    _cell_p(cell, "{%p endfor %}")


def _mailboxes(box, own_line: str, first: bool = False):
    top, columns = box
    _cell_p(top, own_line, "CSAC Ligne", first=first).runs[0].bold = True
    for i, cell in enumerate(columns):
        _cell_loop(cell, f"for r in region_columns[{i}]", "{{ r.label }} : {{ r.mailbox }}", "CSAC Region",
                   first=True)  # fmt: skip


def _signature_block(doc):
    """Two borderless columns side by side, each with room to sign above "Signature et cachet".

    OCR finds "Pour le signataire" and reads ink from there down to the left column's "Signature
    et cachet" (pipeline/ocr.py): both labels open the first line, the room is in each cell."""
    _p(doc, "", "CSAC Suivi")  # a line of air between the last article and the block
    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _borders(table, "nil")
    _margins(table, top=0, side=0)
    _unsplittable(table.rows[0])
    _widths(table, HALF, HALF)
    left, right = table.rows[0].cells
    _cell_loop(left, "for line in v.signature.signatory", "{{ line }}", "CSAC Signature", first=True)
    _cell_p(left, "{{ s.signer }}", "CSAC Signature")
    _cell_p(left, "Fait à ……………………………, le ……………………", "CSAC Signature")
    _cell_p(left, "Signature et cachet", "CSAC Cachet")
    _cell_loop(right, "for line in v.signature.resah", "{{ line }}", "CSAC Signature", first=True)
    _cell_p(right, "{{ v.signature.place }} ……………………… {{ v.signature.place_note }}", "CSAC Signature")
    _cell_p(right, "Signature et cachet", "CSAC Cachet")


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
    _signature_block(doc)
    _p(doc, "")
    box = _box(doc)
    _cell_loop(box[0], "for line in v.signature.by_post", "{{ line }}", first=True)
    _cell_loop(box[0], "for line in v.signature.electronic", "{{ line }}")
    _mailboxes(box, "Votre région : {{ s.region_name }} — {{ s.region_mailbox }}")
    _properties(
        doc,
        title="Convention de service d’achat centralisé – {{ v.footer_label }}",
        subject="{{ s.subject|safe }}",
        description="Convention de service d’achat centralisé du Resah pré-remplie pour {{ s.subject|safe }}, "
        "à compléter, signer et renvoyer au Resah.",
        created="{{ s.created }}",
    )
    doc.save(path)


def _spacing(twentieths: int):
    el = OxmlElement("w:spacing")
    el.set(qn("w:val"), str(twentieths))
    return el


def _info_table(doc, rows: list[tuple[str, str]]):
    table = doc.add_table(rows=0, cols=2)
    table.style = doc.styles["Table Grid"]
    _margins(table, top=15, side=100)
    for label, value in rows:
        row = _row(table, label, value)
        _unsplittable(row)
        _shade(row.cells[0], BLUE)
    _widths(table, Cm(6.0), Cm(11.0))
    for cell in table.rows[-1].cells:  # the table holds together, not to what follows
        cell.paragraphs[0].paragraph_format.keep_with_next = False


BULLETIN_ANNEXES = Path(__file__).with_name("bulletin_annexes.txt")


def build_bulletin(path: Path):
    doc = _document()
    # SIRET rather than the name in the footer: a fixed width, never wrapped whatever the name's length
    _footer(doc, "Bulletin d’adhésion {{ b.year }} à la centrale d’achat du Resah – SIRET {{ b.siret }}")
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
    _p(doc, "", "CSAC Note")  # air below the table
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
    _mailboxes(_box(doc), "Votre région : {{ b.region_name }} — {{ b.region_mailbox }}", first=True)
    for line in BULLETIN_ANNEXES.read_text(encoding="utf-8").strip().split("\n\n"):
        style = (
            "CSAC Article"
            if line.startswith("Annexe")
            else "CSAC Puce"
            if line.startswith("- ")
            else "Normal"
        )
        doc.add_paragraph(" ".join(line.split()), style=style)
    _properties(
        doc,
        title="Bulletin d’adhésion {{ b.year }} à la centrale d’achat du Resah",
        subject="{{ b.subject|safe }}",
        description="Bulletin d’adhésion {{ b.year }} à la centrale d’achat du Resah pré-rempli pour "
        "{{ b.subject|safe }}, à compléter, signer et renvoyer au Resah.",
        created="{{ b.created }}",
    )
    doc.save(path)


if __name__ == "__main__":
    build_convention(OUT / "convention.docx")
    build_bulletin(OUT / "bulletin.docx")
    print(f"wrote {OUT / 'convention.docx'} and {OUT / 'bulletin.docx'}")
