"""The annex "Vos besoins": one row per beneficiary, as an Excel workbook.

The beneficiaries' maximum amounts are what the convention caps; the
contribution column comes from the same tariff as the convention's figure.
The Resah fills the sheet and locks it; only the maximum amounts are left
open, for the beneficiary to adjust, and the Total row sums them.

openpyxl takes milliseconds per workbook: `compile_annex` builds the
variant's workbook once and keeps every part but the sheet's rows deflated;
each signatory's rows are then written as openpyxl writes them. `render_annex`
is the openpyxl reference the compiled path is tested byte for byte against.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from openpyxl import Workbook
from openpyxl.compat import safe_string
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.writer.excel import ExcelWriter

from .money import EXCEL_EUROS
from .ooxml import CompiledPackage, Spliced, pack, read_members, xml_text, zip_bytes
from .request import MODES, Request, beneficiary_due, contribution_due
from .variants import Variant

SHEET = "Vos besoins"
SHEET_PART = "xl/worksheets/sheet1.xml"
HEADER = (
    "Dénomination",
    "SIRET",
    "Adresse",
    "Code postal",
    "Ville",
    "Typologie",
    "Montant contractuel maximum (€ HT)",
    "Contribution annuelle due (€)",
)
# Widths in characters, measured on the longest usual content: a name or an address wraps on two
# lines, a SIRET's 14 digits and a bold "9 999 999,00 €" fit; 158 in all, one landscape A4 page wide.
WIDTHS = (30, 16, 26, 8, 18, 28, 16, 16)
WRAPPED = frozenset("ACEF")  # free text: wraps rather than widening the sheet
LINE = 15  # points per line of Calibri 11: a row is as tall as its longest wrapped text
HEADER_HEIGHT = 4 * LINE  # "Montant / contractuel / maximum (€ / HT)" in bold
MAXIMUM, DUE = "G", "H"
SUM_COL = "ABCDEFGH".index(MAXIMUM)
HEADER_ROW = 6  # after the four heading lines and a blank one
PROBE_DAY = dt.datetime(1901, 1, 1)  # the probe's date: no campaign's
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


@dataclass(frozen=True)
class AnnexValues:
    """What the sheet says, whoever writes it: heading lines, one row per beneficiary, the Total."""

    title: str  # the workbook's document title
    heading: tuple[str, ...]
    rows: tuple[tuple, ...]
    total: tuple  # the Total row; its maximum is the SUM formula's cached value
    subject: str  # the signatory and its SIRET, as the Word files' properties say it
    created: dt.datetime  # the campaign's day: the same campaign gives the same bytes

    @property
    def description(self) -> str:
        return (
            f"Annexe « Vos besoins » de la convention de service d’achat centralisé du Resah pré-remplie pour"
            f" {self.subject}, à compléter et renvoyer au Resah avec la convention signée."
        )

    @property
    def modified(self) -> dt.datetime:
        """Stands apart from `created` in the probe only, so that each is cut out where it is."""
        return self.created + dt.timedelta(days=1) if self.created == PROBE_DAY else self.created

    @property
    def last_row(self) -> int:
        return HEADER_ROW + len(self.rows)

    def height(self, cells) -> float:
        """Excel sizes rows to wrapped text when it edits them, LibreOffice not at all: say it."""
        return LINE * max(
            _lines(str(v), w) for v, w, col in zip(cells, WIDTHS, "ABCDEFGH", strict=True) if col in WRAPPED
        )

    @property
    def sum_formula(self) -> str:
        return f"SUM({MAXIMUM}{HEADER_ROW + 1}:{MAXIMUM}{self.last_row})"


def _lines(text: str, width: int) -> int:
    """Lines a text wraps to, word by word, in a column `width` characters wide (of "0"s: most
    letters are narrower); a word longer than a line is cut."""
    fits = int(width * 1.1)
    if len(text) <= fits:
        return 1
    lines, used = 1, -1
    for word in text.split():
        if used >= 0 and used + 1 + len(word) <= fits:
            used += 1 + len(word)
            continue
        lines += (used >= 0) + (len(word) - 1) // fits
        used = (len(word) - 1) % fits + 1
    return lines


def _typology_label(variant: Variant, ben) -> str:
    row = variant.tariff.row_for(ben.typology, ben.population)
    return row.label if row else ben.typology


def _count(request: Request, basis: str) -> str:
    """A groupement's tier names its size; otherwise the count, never the typology again."""
    if request.mode == "groupement":
        return basis
    n = len(request.beneficiaries)
    return f"{n} bénéficiaire{'s' if n > 1 else ''}"


def annex_values(variant: Variant, request: Request, on: dt.date) -> AnnexValues:
    sig = request.signatory.entity
    heading = (
        "Annexe « Vos besoins » — Convention de service d’achat centralisé",
        f"{variant.footer_label} — {variant.summary}",
        f"Signataire : {sig.name} — SIRET {sig.siret_display}",
        f"Mode : {MODES[request.mode]} — région : {request.region.name} ({request.region.mailbox})",
    )
    rows = []
    for ben in request.beneficiaries:
        due = beneficiary_due(variant, request.mode, ben)
        amount = (due.amount if due.amount is not None else due.text) if due else "—"
        label = _typology_label(variant, ben)
        rows.append(
            (
                ben.name,
                ben.siret,
                ben.address,
                ben.postal_code,
                ben.city,
                label,
                ben.maximum_for(variant.id),
                amount,
            )
        )
    total = contribution_due(variant, request)
    maximum = sum((b.maximum_for(variant.id) for b in request.beneficiaries), Decimal(0))
    due = total.amount if total.amount is not None else total.text
    return AnnexValues(
        f"Annexe « Vos besoins » – {variant.footer_label}",
        heading,
        tuple(rows),
        ("Total", "", "", "", "", _count(request, total.basis), maximum, due),
        f"{sig.name} (SIRET {sig.siret_display})",
        dt.datetime(on.year, on.month, on.day),
    )


# openpyxl: the reference


def _style_table(ws, values: AnnexValues) -> None:
    for col, width in zip("ABCDEFGH", WIDTHS, strict=True):
        ws.column_dimensions[col].width = width
    for cell in ws[HEADER_ROW]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DCE6F2")
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        cell.border = _BORDER
    for row in ws.iter_rows(min_row=HEADER_ROW + 1, max_row=values.last_row + 1, max_col=len(HEADER)):
        for cell in row:
            cell.border = _BORDER
            cell.alignment = Alignment(wrap_text=cell.column_letter in WRAPPED, vertical="top")
            if cell.column_letter in (MAXIMUM, DUE):
                cell.number_format = EXCEL_EUROS
            if cell.column_letter == MAXIMUM and cell.row <= values.last_row:
                cell.protection = Protection(locked=False)  # the beneficiary's to adjust
    for cell in ws[values.last_row + 1]:
        cell.font = Font(bold=True)
    ws.row_dimensions[HEADER_ROW].height = HEADER_HEIGHT
    for i, cells in enumerate(values.rows, start=HEADER_ROW + 1):
        ws.row_dimensions[i].height = values.height(cells)


def _page(ws, values: AnnexValues) -> None:
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    ws.auto_filter.ref = f"A{HEADER_ROW}:{DUE}{values.last_row}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.protection.sheet = True  # no password: a guard against slips, not a lock (README)
    ws.protection.autoFilter = ws.protection.sort = False  # filtering stays allowed
    ws.protection.formatColumns = ws.protection.formatRows = False


def _write(ws, row: int, cells) -> None:
    for col, value in enumerate(cells, start=1):
        cell = ws.cell(row, col, value)
        if isinstance(value, str):
            cell.data_type = "s"  # a name starting with "=" is text, never a formula


def build_workbook(values: AnnexValues) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    for i, line in enumerate(values.heading, start=1):
        _write(ws, i, [line])
    ws["A1"].font = Font(bold=True, size=13)
    _write(ws, HEADER_ROW, HEADER)
    for i, cells in enumerate(values.rows, start=HEADER_ROW + 1):
        _write(ws, i, cells)
    _write(ws, values.last_row + 1, values.total)
    ws[f"{MAXIMUM}{values.last_row + 1}"] = f"={values.sum_formula}"
    _style_table(ws, values)
    _page(ws, values)
    props = wb.properties
    props.creator = props.lastModifiedBy = "Resah"
    props.title, props.subject, props.description = values.title, values.subject, values.description
    props.language = "fr-FR"
    props.created, props.modified = values.created, values.modified
    return wb


def _with_cached_sum(xml: bytes, values: AnnexValues) -> bytes:
    """openpyxl writes a formula with an empty value; Excel and intake read the cached one."""
    empty = f"<f>{values.sum_formula}</f><v></v>".encode()
    assert xml.count(empty) == 1, "openpyxl changed how it writes a formula"
    return xml.replace(
        empty, f"<f>{values.sum_formula}</f><v>{safe_string(values.total[SUM_COL])}</v>".encode()
    )


def _openpyxl_members(values: AnnexValues) -> list[tuple[str, bytes]]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        ExcelWriter(build_workbook(values), archive).save()
    return read_members(buf.getvalue())


def render_annex(variant: Variant, request: Request, on: dt.date) -> bytes:
    """openpyxl's workbook, the SUM's cached value written in: the bytes compile_annex must give."""
    values = annex_values(variant, request, on)
    members = [
        (name, _with_cached_sum(data, values) if name == SHEET_PART else data)
        for name, data in _openpyxl_members(values)
    ]
    return zip_bytes(members)


# compiled: openpyxl once per variant, then the rows written as openpyxl writes them

_CELL_RE = re.compile(r'<c r="([A-Z]+)(\d+)"(?: s="(\d+)")?')


def _xml(value: str) -> str:
    """Text as openpyxl's writer puts it: escaped, every non-ASCII character as a reference."""
    text = xml_text(value)
    return text if text.isascii() else text.encode("ascii", "xmlcharrefreplace").decode("ascii")


@dataclass(frozen=True)
class Cached:
    """A formula with the value it gives, as the Total's SUM is written."""

    formula: str
    value: Decimal


def _cell(ref: str, style: str | None, value) -> str:
    """One cell exactly as openpyxl's lxml writer puts it (openpyxl/cell/_writer.py)."""
    s = f' s="{style}"' if style is not None else ""
    if isinstance(value, Cached):
        return f'<c r="{ref}"{s}><f>{value.formula}</f><v>{safe_string(value.value)}</v></c>'
    if isinstance(value, str):
        if value == "":
            return f'<c r="{ref}"{s} t="inlineStr"></c>'
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{_xml(value)}</t></is></c>'
    return f'<c r="{ref}"{s} t="n"><v>{safe_string(value)}</v></c>'


@dataclass(frozen=True)
class SheetRows:
    """The sheet's rows for any signatory, in the style ids openpyxl gave this variant's probe."""

    styles: dict[tuple[str, int], str | None]  # (column, probe row): style id; the probe has one beneficiary

    def _row(self, number: int, probe_row: int, cells, height: float | None = None) -> str:
        body = "".join(
            _cell(f"{col}{number}", self.styles[col, probe_row], value)
            for col, value in zip("ABCDEFGH", cells, strict=False)  # a heading line: one cell
        )
        ht = f' ht="{safe_string(height)}" customHeight="1"' if height is not None else ""
        return f'<row r="{number}"{ht}>{body}</row>'

    @cached_property
    def _header(self) -> str:
        return self._row(HEADER_ROW, HEADER_ROW, HEADER, HEADER_HEIGHT)

    def render(self, values: AnnexValues) -> str:
        rows = [self._row(i, i, [line]) for i, line in enumerate(values.heading, start=1)]
        rows.append(self._header)
        first = HEADER_ROW + 1
        rows += [
            self._row(i, first, cells, values.height(cells))
            for i, cells in enumerate(values.rows, start=first)
        ]
        total = list(values.total)
        total[SUM_COL] = Cached(values.sum_formula, total[SUM_COL])
        rows.append(self._row(values.last_row + 1, first + 1, total))
        return f"<sheetData>{''.join(rows)}</sheetData>"


def _probe() -> AnnexValues:
    """A one-beneficiary sheet, its cells filled as a real one's: its XML shows each cell's style."""
    row = ("x",) * 6 + (Decimal(1), Decimal(1))
    total = ("Total", "", "", "", "", "x", Decimal(1), "x")
    return AnnexValues("[[title]]", ("x",) * 4, (row,), total, "[[subject]]", PROBE_DAY)


def _w3cdtf(when: dt.datetime) -> str:
    """A date as openpyxl writes it in docProps/core.xml."""
    return f"{when:%Y-%m-%dT%H:%M:%S}Z"


def _varying(values: AnnexValues, sheet_data: str) -> dict[str, dict[str, str]]:
    """Per member, the texts that change with the signatory, by name: the probe's are cut out."""
    last = values.last_row
    return {
        "docProps/core.xml": {
            "title": xml_text(values.title),
            "subject": xml_text(values.subject),
            "description": xml_text(values.description),
            "created": _w3cdtf(values.created),
            "modified": _w3cdtf(values.modified),
        },
        "xl/workbook.xml": {"filter_db": f"$A${HEADER_ROW}:${DUE}${last}"},
        SHEET_PART: {
            "dimension": f'<dimension ref="A1:{DUE}{last + 1}"/>',
            "rows": sheet_data,
            "filter": f'<autoFilter ref="A{HEADER_ROW}:{DUE}{last}"/>',
        },
    }


@dataclass(frozen=True)
class CompiledAnnex:
    variant: Variant
    package: CompiledPackage
    rows: SheetRows

    def render(self, request: Request, on: dt.date) -> bytes:
        values = annex_values(self.variant, request, on)
        texts = _varying(values, self.rows.render(values))
        return self.package.render({k: v for member in texts.values() for k, v in member.items()})


def compile_annex(variant: Variant) -> CompiledAnnex:
    """The variant's workbook built once by openpyxl, cut where a signatory's values go."""
    probe = _probe()
    members = dict(_openpyxl_members(probe))
    sheet = members[SHEET_PART].decode("ascii")
    sheet_data = sheet[sheet.index("<sheetData>") : sheet.index("</sheetData>") + len("</sheetData>")]
    styles = {(col, int(row)): style or None for col, row, style in _CELL_RE.findall(sheet_data)}
    holes = _varying(probe, sheet_data)
    parts = tuple(
        (name, Spliced.cut(data.decode("utf-8"), holes[name]) if name in holes else pack(name, data))
        for name, data in members.items()
    )
    return CompiledAnnex(variant, CompiledPackage(parts), SheetRows(styles))
