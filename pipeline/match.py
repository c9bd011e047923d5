"""Which convention each annex and order of a deposit belongs to.

A ZIP may hold several conventions (a local authority joining four
agreements returns them together). Each convention opens a group; an annex
or an order joins the group of the accord-cadre and lot it names, else the
one its amount designates: the contribution due of one convention, or the sum
of several when one order pays them together. An annex that names nothing
joins the only group still without one; otherwise a document stays unmatched
and is reported, never guessed. Everything is taken in an order of its own
(variant ids, document names), never the ZIP's member order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from .classify import ANNEX, CONVENTION, PURCHASE_ORDER, Classified
from .markets import markets_named
from .orders import read_order_amount
from .variants import Variant

HEAD = 4000  # characters of an annex or an order read for the accord-cadre it names
MAX_SUBSET = 8  # groups among which an order's amount is matched to a sum: 2**8 subsets at most


@dataclass(frozen=True)
class Shared:
    """An order that pays several conventions at once: its amount must be the sum of their dues."""

    order: Classified
    keys: tuple[str, ...]
    amount: Decimal | None
    elsewhere: tuple[
        tuple[str, Decimal | None], ...
    ] = ()  # dues of the dossiers it pays outside this deposit


def key_of(convention: Classified) -> str:
    return convention.variant or f"?{convention.framework or ''}"


def variants_in(text: str, variants: dict[str, Variant]) -> set[str]:
    """The variants a text (a document's head, a form's "numéro de marché") names by accord-cadre and lot."""
    named = markets_named(text)
    return {v.id for v in variants.values() for m in named if m.names(v.market)}


def variants_named(doc: Classified, variants: dict[str, Variant]) -> set[str]:
    """The variants an annex or an order names by its accord-cadre number and lot."""
    return variants_in(doc.doc.text[:HEAD], variants)


def by_convention(docs: list[Classified]) -> dict[str, list[Classified]]:
    """One group per convention's variant, in the order of their keys."""
    groups: dict[str, list[Classified]] = {}
    for conv in sorted((d for d in docs if d.role == CONVENTION), key=lambda d: (key_of(d), d.doc.name)):
        groups.setdefault(key_of(conv), []).append(conv)
    return dict(sorted(groups.items()))


def _ordered(docs: list[Classified], role: str) -> list[Classified]:
    return sorted((d for d in docs if d.role == role), key=lambda d: (d.doc.name, d.doc.data))


def attach_annexes(
    groups: dict[str, list[Classified]], docs: list[Classified], variants, kept: frozenset[int] = frozenset()
) -> list:
    """Each annex to the convention it names; then each other one to the only convention still without an
    annex from this deposit (`kept`: the documents earlier deposits left, which a new annex replaces)."""
    unmatched, unnamed = [], []
    for annex in _ordered(docs, ANNEX):
        named = variants_named(annex, variants) & groups.keys()
        if len(named) == 1:
            groups[named.pop()].append(annex)
        elif named:
            unmatched.append((annex, _why_annex(named, groups)))
        else:
            unnamed.append(annex)
    for annex in unnamed:
        lacking = [k for k in groups if not any(d.role == ANNEX and id(d) not in kept for d in groups[k])]
        target = next(iter(groups)) if len(groups) == 1 else _one(set(lacking))
        if target:
            groups[target].append(annex)
        else:
            unmatched.append((annex, _why_annex(set(), groups)))
    return unmatched


def _one(keys) -> str | None:
    return next(iter(keys)) if len(keys) == 1 else None


def _why_annex(named: set[str], groups) -> str:
    if len(named) > 1:
        return f"elle désigne plusieurs conventions ({', '.join(sorted(named))})"
    return f"elle ne désigne aucune des {len(groups)} conventions déposées par son accord-cadre et son lot"


def attach_orders(
    groups: dict[str, list[Classified]],
    docs: list[Classified],
    dues: dict[str, Decimal | None],
    variants: dict[str, Variant],
    strict: bool = False,
) -> tuple[list[Shared], list]:
    """Each order to the conventions it names; then, among those still without an order, to the one
    whose due its amount is; then to the one set of them whose dues it adds up to. An order naming an
    accord-cadre none of them is goes to none. Not `strict`, a deposit of one convention keeps every
    order for it, as a deposit always did: its amount is checked."""
    orders = [(o, read_order_amount(o.doc.text).value) for o in _ordered(docs, PURCHASE_ORDER)]
    placed: dict[int, list[str]] = {}
    elsewhere: set[int] = set()
    for order, _ in orders:
        known = variants_named(order, variants)
        named = sorted(known & groups.keys())
        if named:
            placed[id(order)] = named
        elif len(groups) == 1 and not strict:
            placed[id(order)] = list(groups)
        elif known or markets_named(order.doc.text[:HEAD]):  # another dossier's order, or an unknown market
            elsewhere.add(id(order))
    for by_amount in (_single, _subset):
        for order, amount in orders:
            if id(order) not in placed and id(order) not in elsewhere and amount is not None:
                paid = {k for keys in placed.values() for k in keys}
                keys = by_amount(amount, {k: v for k, v in dues.items() if k in groups and k not in paid})
                if keys:
                    placed[id(order)] = keys
    return _place(groups, orders, placed, elsewhere)


def _place(groups, orders, placed, elsewhere) -> tuple[list[Shared], list]:
    shared, unmatched = [], []
    for order, amount in orders:
        keys = placed.get(id(order))
        if not keys:
            unmatched.append((order, _why_order(amount, id(order) in elsewhere)))
        elif len(keys) == 1:
            groups[keys[0]].append(order)
        else:
            shared.append(Shared(order, tuple(keys), amount))
    return shared, unmatched


def _single(amount: Decimal, dues: dict[str, Decimal | None]) -> list[str]:
    """The one convention whose due the amount is."""
    found = [k for k, v in dues.items() if v == amount]
    return found if len(found) == 1 else []


def _subset(amount: Decimal, dues: dict[str, Decimal | None]) -> list[str]:
    """The one set of conventions whose dues add up to the amount; none when no set, or several, do."""
    known = {k: v for k, v in dues.items() if v is not None}
    keys = sorted(known)[:MAX_SUBSET]
    found = [
        list(c)
        for n in range(2, len(keys) + 1)
        for c in combinations(keys, n)
        if sum(known[k] for k in c) == amount
    ]
    return found[0] if len(found) == 1 else []


def _why_order(amount: Decimal | None, said: bool = False) -> str:
    if said:
        return "il désigne un accord-cadre qui n'est celui d'aucune des conventions concernées"
    if amount is None:
        return "il ne désigne aucun accord-cadre et son montant n'a pas pu être lu"
    return "il ne désigne aucun accord-cadre et son montant ne correspond à aucune contribution due"
