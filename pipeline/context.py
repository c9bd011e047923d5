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
from .request import CONTACT_FIELDS, Request, contribution_due
from .tariff import MembershipTariff
from .variants import Variant

CHECKED, UNCHECKED = "☒", "☐"


def variant_context(variant: Variant, regions: RegionBook) -> dict:
    tariff = variant.tariff
    return {
        "v": variant.text
        | {
            "id": variant.id,
            "footer_label": variant.footer_label,
            "articles": [
                {"title": a.title, "blocks": [asdict(b) for b in a.blocks]} for a in variant.articles
            ],
            "tariff": {
                "header": tariff.header,
                "caption": tariff.caption,
                "column_note": tariff.column_note,
                "rows": [{"label": r.label, "amount_text": r.amount_text} for r in tariff.rows],
            },
        },
    } | regions_context(regions)


def regions_context(regions: RegionBook) -> dict:
    """The mailbox list printed in every convention and bulletin."""
    return {"regions": [{"label": r.label, "mailbox": r.mailbox} for r in regions.regions]}


def signatory_context(variant: Variant, request: Request) -> dict:
    entity = request.signatory.entity
    due = contribution_due(variant, request)
    rep = request.signatory.representative
    own = request.mode == "compte_propre"
    return {
        "s": {
            "denomination": entity.name,
            "siret": entity.siret_display,
            "represented_by": f" ({rep})" if rep else "",
            "box_own": CHECKED if own else UNCHECKED,
            "box_behalf": UNCHECKED if own else CHECKED,
            "contribution": f"{due.text} ({due.basis})",
            "region_name": request.region.name,
            "region_mailbox": request.region.mailbox,
        }
    }


def bulletin_context(request: Request, membership: MembershipTariff, on: dt.date) -> dict:
    sig = request.signatory
    entity, contact = sig.entity, sig.contact
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
        }
        | {f"contact_{key}": getattr(contact, field) for key, field in CONTACT_FIELDS.items()}
    }
