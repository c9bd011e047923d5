"""The annex "Vos besoins": one row per beneficiary, as an Excel workbook.

The beneficiaries' maximum amounts are what the convention caps; the
contribution column comes from the same tariff as the convention's figure.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.writer.excel import ExcelWriter

from .ooxml import read_members, zip_bytes
from .request import MODES, Request, beneficiary_due, contribution_due
from .variants import Variant

SHEET = "Vos besoins"
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
EUR = '#,##0.00\\ "€"'
FIXED = dt.datetime(2024, 1, 1)


def _typology_label(variant: Variant, ben) -> str:
    row = variant.tariff.row_for(ben.typology, ben.population)
    return row.label if row else ben.typology


def _heading(ws, variant: Variant, request: Request) -> None:
    sig = request.signatory.entity
    lines = (
        "Annexe « Vos besoins » — Convention de service d’achat centralisé",
        f"{variant.footer_label} — {variant.summary}",
        f"Signataire : {sig.name} — SIRET {sig.siret_display}",
        f"Mode : {MODES[request.mode]} — région : {request.region.name} ({request.region.mailbox})",
    )
    for line in lines:
        ws.append([line])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([])


def _table(ws, variant: Variant, request: Request) -> None:
    ws.append(HEADER)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DCE6F2")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for ben in request.beneficiaries:
        due = beneficiary_due(variant, request.mode, ben)
        ws.append(
            [
                ben.name,
                ben.siret,
                ben.address,
                ben.postal_code,
                ben.city,
                _typology_label(variant, ben),
                ben.maximum_for(variant.id),
                (due.amount if due.amount is not None else due.text) if due else "—",
            ]
        )
    total = contribution_due(variant, request)
    ws.append(
        [
            "Total",
            "",
            "",
            "",
            "",
            total.basis,
            sum(b.maximum_for(variant.id) for b in request.beneficiaries),
            total.amount if total.amount is not None else total.text,
        ]
    )
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)


def _layout(ws) -> None:
    for col, width in zip("ABCDEFGH", (42, 17, 36, 11, 22, 40, 20, 20), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=7, min_col=7, max_col=8):
        for cell in row:
            cell.number_format = EUR
    ws.freeze_panes = "A7"


def render_annex(variant: Variant, request: Request) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    _heading(ws, variant, request)
    _table(ws, variant, request)
    _layout(ws)
    wb.properties.creator = "Resah — csac"
    wb.properties.title = f"Annexe Vos besoins {variant.id} {request.signatory.entity.siret}"
    wb.properties.created = wb.properties.modified = FIXED
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        ExcelWriter(wb, archive).save()
    return zip_bytes(read_members(buf.getvalue()))
