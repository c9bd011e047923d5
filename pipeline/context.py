"""The validated context: what the templates see, built from the models.

Static parts (the variant's text, the mailbox list) are rendered once per
variant; per-signatory parts are flat strings, so they can be substituted
into the compiled XML without touching its structure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from . import sirets
from .money import format_eur
from .regions import RegionBook
from .request import CONTACT_FIELDS, Request, contribution_due, tariff_rows_due
from .tariff import MembershipTariff
from .variants import Variant

CHECKED, UNCHECKED = "☒", "☐"
OWN_ROW, OTHER_ROW = "FFF2CC", "auto"  # cell fills of the tariff: the signatory's rows highlighted
NO_SIGNER = "Nom et qualité : ……………………………………"  # no representative in the file: written by hand


def _row_key(index: int) -> str:
    return f"row{index}"


def created(on: dt.date) -> str:
    """The documents' creation date: the campaign's day, so that a campaign's files are reproducible."""
    return f"{on:%Y-%m-%d}T00:00:00Z"


def _blocks(blocks, closing: bool) -> list[dict]:
    """An article's blocks; `kept`: printed on the page of what follows (the last article's text
    with the signature block, the line that announces the tariff with the table)."""
    out = [asdict(b) for b in blocks]
    for block, after in zip(out, [*out[1:], None], strict=True):
        block["kept"] = closing or (after is not None and after["kind"] == "tariff")
    return out


def variant_context(variant: Variant, regions: RegionBook) -> dict:
    tariff = variant.tariff
    return {
        "v": variant.text
        | {
            "id": variant.id,
            "footer_label": variant.footer_label,
            "articles": [
                {"title": a.title, "blocks": _blocks(a.blocks, a is variant.articles[-1])}
                for a in variant.articles
            ],
            "tariff": {
                "header": tariff.header,
                "caption": tariff.caption,
                "column_note": tariff.column_note,
                "rows": [
                    {"label": r.label, "amount_text": r.amount_text, "key": _row_key(i)}
                    for i, r in enumerate(tariff.rows)
                ],
            },
        },
    } | regions_context(regions)


def regions_context(regions: RegionBook) -> dict:
    """The mailbox list printed in every convention and bulletin."""
    listed = [{"label": r.label, "mailbox": r.mailbox} for r in regions.regions]
    half = (len(listed) + 1) // 2
    return {"regions": listed, "region_columns": (listed[:half], listed[half:])}


def _tariff_marks(variant: Variant, request: Request) -> dict:
    """The fill of each tariff row, the signatory's own lit, and the note that says so."""
    due = tariff_rows_due(variant, request)
    own = {i for i, row in enumerate(variant.tariff.rows) if row in due}
    note = ""
    if own:
        note = (
            "Ligne surlignée : votre typologie."
            if len(own) == 1
            else ("Lignes surlignées : les typologies de vos bénéficiaires.")
        )
    rows = {_row_key(i): OWN_ROW if i in own else OTHER_ROW for i in range(len(variant.tariff.rows))}
    return {"rows": rows, "tariff_note": note}


def signatory_context(variant: Variant, request: Request, on: dt.date) -> dict:
    entity = request.signatory.entity
    due = contribution_due(variant, request)
    rep = request.signatory.representative
    own = request.mode == "compte_propre"
    return {
        "s": {
            "denomination": entity.name,
            "siret": entity.siret_display,
            "represented_by": f" ({rep})" if rep else "",
            "signer": rep or NO_SIGNER,
            "box_own": CHECKED if own else UNCHECKED,
            "box_behalf": UNCHECKED if own else CHECKED,
            "contribution": f"{due.text} ({due.basis})",
            "region_name": request.region.name,
            "region_mailbox": request.region.mailbox,
            "subject": f"{entity.name} (SIRET {entity.siret_display})",
            "created": created(on),
        }
        | _tariff_marks(variant, request)
    }


def _contact(sig) -> dict:
    """The bulletin's contact table: the file's `contact`, else the representative, e-mail and
    telephone of the signatory itself ("Olivier Gacquerre, Président": name, then quality)."""
    name, _, quality = (sig.representative or "").partition(",")
    fallback = {"surname": name.strip(), "position": quality.strip(), "email": sig.email or "",
                "phone": sig.phone or ""}  # fmt: skip
    return {
        f"contact_{key}": getattr(sig.contact, field) or fallback.get(field, "")
        for key, field in CONTACT_FIELDS.items()
    }


def bulletin_context(request: Request, membership: MembershipTariff, on: dt.date) -> dict:
    sig = request.signatory
    entity = sig.entity
    fee = membership.fee(sig.medico_social, on)
    if fee.after_cutoff:
        fee_line = (
            f"aucune contribution pour {fee.year} (bulletin reçu après le "
            f"{fee.cutoff:%d/%m/%Y}) ; bon de commande de {format_eur(fee.amount)} "
            f"à transmettre pour l’adhésion {fee.billed_year}"
        )
    else:
        fee_line = f"{format_eur(fee.amount)} nets de taxe pour l’année civile {fee.year}"
    return {
        "b": {
            "year": str(fee.year),
            "next_year": str(fee.year + 1),
            "name": entity.name,
            "address": entity.address,
            "postal_code": entity.postal_code,
            "city": entity.city,
            "siren": sirets.spaced_siren(entity.siret),
            "siret": entity.siret_display,
            "finess": sig.finess or "",
            "signer": sig.representative or "",
            "box_medico_social": CHECKED if sig.medico_social else UNCHECKED,
            "box_other": UNCHECKED if sig.medico_social else CHECKED,
            "fee_line": fee_line,
            "region_name": request.region.name,
            "region_mailbox": request.region.mailbox,
            "subject": f"{entity.name} (SIRET {entity.siret_display})",
            "created": created(on),
        }
        | _contact(sig)
    }
