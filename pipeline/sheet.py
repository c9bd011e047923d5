"""The regional team's follow-up spreadsheet: one line per dossier, headers in French.

Excel (.xlsx) with amounts as numbers and dates as dates, or CSV as French Excel opens it without
asking: UTF-8 with a byte-order mark, `;` between cells, decimal commas. Written whole or not at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from decimal import Decimal
from pathlib import Path

from .casefile import age_days, follow_up_fr, missing, state_fr
from .dossiers import Dossier
from .money import EXCEL_EUROS

FORMATS = ("csv", "xlsx")
HEADERS = (
    "Dossier", "Signataire", "SIRET", "Convention", "Région", "État", "Ouvert le", "Âge (jours)",
    "À régulariser", "Contribution due (€)", "Montant commandé (€)", "Suivi", "Relances", "Courriel du déposant",
)  # fmt: skip
AMOUNTS = ("Contribution due (€)", "Montant commandé (€)")
DATE_FORMAT = "DD/MM/YYYY"
FORMULA = ("=", "+", "-", "@")  # how a cell Excel would compute starts


def row(d: Dossier, today: dt.date) -> tuple:
    """A dossier's cells, typed: text, a date, whole days, Decimal amounts (None when unknown)."""
    opened = dt.datetime.fromisoformat(d.opened_at).date()
    return (
        d.id, d.signatory or "", d.siret, d.variant, d.region or "", state_fr(d), opened,
        age_days(d, today), missing(d), d.due, d.paid, follow_up_fr(d), d.reminders, d.email or "",
    )  # fmt: skip


def write(dossiers: list[Dossier], path: Path, fmt: str, today: dt.date) -> Path:
    data = (xlsx if fmt == "xlsx" else csv_bytes)([row(d, today) for d in dossiers])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # depositors' addresses: 0600
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(partial, path)
    return path


def _csv_cell(value) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, dt.date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, str) and value.startswith(FORMULA):  # Excel would compute it (OWASP: CSV injection)
        return "'" + value
    return "" if value is None else str(value)


def csv_bytes(rows: list[tuple]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows([_csv_cell(v) for v in r] for r in rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx(rows: list[tuple]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Dossiers"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for values in rows:
        ws.append(values)
    for line in ws.iter_rows(min_row=2):
        for cell, header in zip(line, HEADERS, strict=True):
            if cell.data_type == "f":  # a name read from a deposit that looks like a formula stays text
                cell.data_type = "s"
            if header in AMOUNTS:
                cell.number_format = EXCEL_EUROS
            elif header == "Ouvert le":
                cell.number_format = DATE_FORMAT
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
