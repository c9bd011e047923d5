"""The role of each document, decided by its content.

A convention is recognised against the rendering side's variants (the
accord-cadre number and the lot), so a convention for an agreement csac does
not know is still a convention, with an unknown variant. The file name is
only a hint, used when the content says nothing (a scan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .active import EXECUTABLE
from .extract import Extracted
from .textnorm import fold, key
from .variants import Variant

CONVENTION, ANNEX, PURCHASE_ORDER, OTHER = "convention", "annex", "purchase_order", "other"
ROLES = (CONVENTION, ANNEX, PURCHASE_ORDER, OTHER)

CONVENTION_KEYS = ("conventiondeservicedachatcentralis",)
CONVENTION_BODY_KEYS = ("entredunepart", "ilestconvenucequisuit", "reglementdesdifferends")
NOT_A_CONVENTION_KEYS = ("bulletindadhesion",)
ANNEX_KEYS = ("vosbesoins", "montantcontractuelmaximum", "recensementdesbesoins")
ORDER_KEYS = ("bondecommande", "engagementjuridique", "numerodej", "purchaseorder", "ordredachat")
NAME_HINTS = (
    (CONVENTION, ("convention", "csac")),
    (ANNEX, ("annexe", "besoins", "annex")),
    (PURCHASE_ORDER, ("bon", "commande", "bdc", "ej", "engagement")),
)
FRAMEWORK_RE = re.compile(r"(?<![\d-])(20\d{2}-\d{3}(?:-\d{3})?)(?![\d])")
LOT_RE = re.compile(r"\blot\s*(?:n\s*[°o]\s*)?(\d{1,2})\b")


@dataclass(frozen=True)
class Classified:
    doc: Extracted
    role: str
    variant: str | None = None  # conventions: the variant recognised
    framework: str | None = None  # conventions: the accord-cadre number read, known or not
    by_name: bool = False  # decided from the file name alone


def frameworks_in(text: str) -> list[str]:
    return list(dict.fromkeys(FRAMEWORK_RE.findall(fold(text))))


def recognise_variant(text: str, variants: dict[str, Variant]) -> tuple[str | None, str | None]:
    """(variant id, accord-cadre number read) for a convention's text."""
    found = frameworks_in(text)
    lots = {int(n) for n in LOT_RE.findall(fold(text))}
    for number in found:
        candidates = [v for v in variants.values() if v.framework_agreement == number]
        if not candidates:
            continue
        with_lot = [v for v in candidates if v.lot is None or v.lot in lots]
        if len(with_lot) == 1:
            return with_lot[0].id, number
        return None, number  # the lot is missing or ambiguous
    return None, found[0] if found else None


def _role_by_content(doc: Extracted) -> str | None:
    k = key(doc.text)
    if not k:
        return None
    title = any(m in k for m in CONVENTION_KEYS)
    if title and any(m in k for m in CONVENTION_BODY_KEYS) and not any(m in k for m in NOT_A_CONVENTION_KEYS):
        return CONVENTION
    if any(m in k for m in NOT_A_CONVENTION_KEYS):
        return OTHER
    if any(m in k for m in ANNEX_KEYS):
        return ANNEX
    if any(m in k for m in ORDER_KEYS):
        return PURCHASE_ORDER
    return OTHER


def _role_by_name(doc: Extracted) -> str:
    base = fold(doc.name.rsplit("/", 1)[-1])
    words = set(re.split(r"[^a-z0-9]+", base))
    for role, hints in NAME_HINTS:
        if any(h in words or (len(h) > 3 and h in base) for h in hints):
            return role
    return OTHER


def classify(doc: Extracted, variants: dict[str, Variant]) -> Classified:
    if doc.error or EXECUTABLE in doc.active:  # a program named like a PDF is no convention
        return Classified(doc, OTHER)
    role = _role_by_content(doc)
    by_name = role is None
    if by_name:
        role = _role_by_name(doc) if doc.scanned or doc.kind == "image" else OTHER
    if role != CONVENTION:
        return Classified(doc, role, by_name=by_name)
    variant, framework = recognise_variant(doc.text, variants)
    return Classified(doc, CONVENTION, variant, framework, by_name)
