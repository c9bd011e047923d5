"""Judge each dossier a deposit concerns, with the documents that came before.

A dossier is one signatory on one variant (pipeline/dossiers.py). A deposit
with conventions opens or updates one dossier per convention; a deposit
without one (the order sent alone, days later) goes to the signatory's open
dossier that its accord-cadre, else its amount, designates. Either way the
dossier is judged whole: its earlier documents, re-read from where csac kept
them, with this deposit's documents in place of those of the same role. The
rules are the ones a single deposit always had (pipeline/rules.py), run on
each dossier's documents; what a deposit says as a whole (its form, a
document that could not be read) is judged once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from .archive import Member
from .classify import ANNEX, CONVENTION, PURCHASE_ORDER, Classified, classify
from .dossiers import Documents, Dossier, DossierBook, DossierStatus, Held, dossier_id
from .extract import extract
from .facts import Facts, gather
from .form import Form
from .markets import markets_named
from .match import Shared, attach_annexes, attach_orders, by_convention, variants_named
from .money import format_eur
from .orders import read_order_amount
from .problems import Finding
from .routing import Route, route
from .rules import Due, amount, contract, expected_due, known_variant, presence, signed, siret_checks

DOSSIER_ROLES = (CONVENTION, ANNEX, PURCHASE_ORDER)


@dataclass(frozen=True)
class Judged:
    """One dossier after this deposit: its documents now, and what the rules found in them."""

    key: str  # its variant, or '?' and the accord-cadre read for a convention csac does not know
    docs: tuple[Classified, ...]
    brought: tuple[Classified, ...]  # this deposit's documents among them
    facts: Facts
    route: Route
    due: Due | None
    findings: tuple[Finding, ...]
    earlier: Dossier | None = None  # the dossier as it stood before this deposit
    origins: tuple[str | None, ...] = ()  # for each document, the earlier deposit that brought it
    deposits: tuple[str, ...] = ()  # the earlier deposits that brought it documents

    @property
    def dossier_id(self) -> str | None:
        """None when csac cannot say whose dossier it is (no SIRET, or no known variant)."""
        if self.facts.siret and self.facts.variant:
            return dossier_id(self.facts.siret, self.facts.variant)
        return None

    @property
    def status(self) -> DossierStatus:
        return DossierStatus.INCOMPLETE if self.findings else DossierStatus.COMPLETE


@dataclass(frozen=True)
class Plan:
    """How a deposit's documents fall into dossiers; `unmatched` are reported, never guessed."""

    groups: dict[str, list[Classified]]
    earlier: dict[str, tuple[Dossier, tuple[Classified, ...]]]  # key → (dossier, its kept documents)
    kept: frozenset[int] = frozenset()  # id() of the documents read back from earlier deposits
    shared: tuple[Shared, ...] = ()
    unmatched: tuple[tuple[Classified, str], ...] = ()

    def newest(self, key: str) -> list[Classified]:
        """This deposit's documents take the place of the kept ones of the same role."""
        group = self.groups[key]
        brought = {d.role for d in group if id(d) not in self.kept}
        return [d for d in group if id(d) not in self.kept or d.role not in brought]


class Judge:
    """What judging needs: the intake context's data, and the journal's dossiers (read only)."""

    def __init__(self, ctx, form: Form | None):
        self.ctx, self.form = ctx, form
        journal = ctx.workspace.journal
        self.book = DossierBook(journal) if journal.exists() else None
        self.kept = Documents(ctx.workspace.documents)
        self.origin: dict[int, Held] = {}  # id() of a kept document → where the journal has it

    # -- which dossiers -----------------------------------------------------------------------------
    def plan(self, docs: list[Classified]) -> Plan:
        """Each convention's group, with the documents its dossier already holds; annexes, then orders."""
        groups = by_convention(docs)
        earlier = self._earlier(groups) if groups else self._follow_up(docs)
        for key, (_, kept) in earlier.items():
            groups.setdefault(key, []).extend(kept)
        kept_ids = frozenset(id(d) for _, kept in earlier.values() for d in kept)
        unmatched = attach_annexes(groups, docs, self.ctx.variants)
        draft = Plan(groups, earlier, kept_ids)
        dues = {k: self._due_of(draft, k) for k in groups}
        shared, orders = attach_orders(groups, docs, dues, self.ctx.variants)
        for s in shared:
            for k in s.keys:
                groups[k].append(s.order)
        return Plan(groups, earlier, kept_ids, tuple(shared), tuple(unmatched + orders))

    def _earlier(self, groups: dict[str, list[Classified]]) -> dict:
        """The dossiers these conventions update, when they exist already."""
        if self.book is None:
            return {}
        found = {}
        for key, convs in groups.items():
            facts = gather(convs, self.ctx.resah)
            dossier = self.book.get(dossier_id(facts.siret, key)) if facts.siret and facts.variant else None
            if dossier is not None:
                found[key] = (dossier, self._kept_documents(dossier))
        return found

    def _due_of(self, plan: Plan, key: str) -> Decimal | None:
        due = self._facts_and_due(plan.newest(key))[2]
        return due.amount if due and due.certain else None

    def _facts_and_due(self, docs: list[Classified]) -> tuple[Facts, Route, Due | None]:
        facts = gather(docs, self.ctx.resah)
        if not facts.siret and self.form and self.form.siret:
            facts = replace(facts, siret=self.form.siret)
        where = route(facts, self.form, self.ctx.workspace.register, self.ctx.regions)
        return facts, where, expected_due(facts, where.registered, self.ctx.variants, self.form)

    # -- a follow-up: no convention in the deposit ----------------------------------------------------
    def _follow_up(self, docs: list[Classified]) -> dict[str, tuple[Dossier, tuple[Classified, ...]]]:
        """The open dossier this deposit completes: the signatory's, of the accord-cadre it names, else
        of the amount it pays. None when it cannot be told: the deposit is then judged alone."""
        if self.book is None or not any(d.role in DOSSIER_ROLES for d in docs):
            return {}
        siret = gather(docs, self.ctx.resah).siret or (self.form.siret if self.form else None)
        candidates = (
            [d for d in self.book.of_siret(siret) if d.status != DossierStatus.REFUSED] if siret else []
        )
        chosen = self._designated(docs, candidates)
        return {d.variant: (d, self._kept_documents(d)) for d in chosen}

    def _designated(self, docs: list[Classified], candidates: list[Dossier]) -> list[Dossier]:
        """The accord-cadre its documents (or its form) name, else its amount; never a guess."""
        named = set().union(*(variants_named(d, self.ctx.variants) for d in docs if d.role in DOSSIER_ROLES))
        if self.form and self.form.get("numero_marche"):
            said = markets_named(self.form.get("numero_marche"))
            named |= {v.id for v in self.ctx.variants.values() for m in said if m.names(v.market)}
        if named:
            candidates = [d for d in candidates if d.variant in named]
        if len(candidates) <= 1:
            return candidates
        open_ = [d for d in candidates if d.status == DossierStatus.INCOMPLETE]
        return open_ if len(open_) == 1 else self._by_amount(docs, open_)

    def _by_amount(self, docs: list[Classified], candidates: list[Dossier]) -> list[Dossier]:
        amounts = {read_order_amount(d.doc.text).value for d in docs if d.role == PURCHASE_ORDER} - {None}
        if len(amounts) != 1:
            return []
        [paid] = amounts
        single = [d for d in candidates if d.due == paid]
        return single if len(single) == 1 else []

    def _kept_documents(self, dossier: Dossier) -> tuple[Classified, ...]:
        """The dossier's current documents, read again from where csac kept them."""
        out = []
        for held in self.book.documents(dossier.id):
            try:
                data = self.kept.read(held.sha256)
            except OSError:
                continue  # a kept file lost: the dossier is judged without it, and asks for it again
            doc = classify(extract(Member(held.name, data), self.ctx.limits), self.ctx.variants)
            doc = replace(doc, role=held.role) if doc.role != held.role else doc
            self.origin[id(doc)] = held
            out.append(doc)
        return tuple(out)

    # -- judging each dossier -----------------------------------------------------------------------
    def judge(self, plan: Plan) -> list[Judged]:
        return [self._judge_one(plan, key) for key in plan.groups]

    def _judge_one(self, plan: Plan, key: str) -> Judged:
        group = plan.newest(key)
        facts, where, due = self._facts_and_due(group)
        cat = self.ctx.catalogue
        findings = [
            *presence(group, due, cat),
            *known_variant(group, facts, cat),
            *signed(group, facts, cat),
            *siret_checks(facts, self.form, cat),
            *self._contract(facts, plan),
        ]
        share = next((s for s in plan.shared if key in s.keys), None)
        findings += self._shared_amount(share, plan) if share else amount(group, facts, due, cat)
        if where.region is None:
            findings.append(cat.finding("region_unknown"))
        brought = tuple(d for d in group if id(d) not in plan.kept)
        earlier = plan.earlier.get(key)
        dossier = earlier[0] if earlier else None
        origins = tuple(self.origin[id(d)].deposit_id if id(d) in self.origin else None for d in group)
        deposits = tuple(self.book.deposits(dossier.id)) if dossier and self.book else ()
        return Judged(
            key, tuple(group), brought, facts, where, due, tuple(findings), dossier, origins, deposits
        )

    def _contract(self, facts: Facts, plan: Plan) -> list[Finding]:
        """The form's "numéro de marché" names one market: a deposit of several conventions is checked once."""
        found = contract(facts, self.form, self.ctx.variants, self.ctx.catalogue)
        if found and len(plan.groups) > 1:
            others = [k for k in plan.groups if k != facts.variant]
            said = markets_named(self.form.get("numero_marche") or "")
            if any(
                m.names(self.ctx.variants[k].market) for k in others if k in self.ctx.variants for m in said
            ):
                return []
        return found

    def _shared_amount(self, share: Shared, plan: Plan) -> list[Finding]:
        """One order for several conventions: its amount against the sum of their dues."""
        dues = {k: self._due_of(plan, k) for k in share.keys}
        if share.amount is None or any(v is None for v in dues.values()):
            return []  # no figure is guessed; the regional team checks it
        total = sum(dues.values(), Decimal(0))
        if share.amount == total:
            return []
        detail = (
            f"{format_eur(share.amount)} pour {len(share.keys)} conventions ({', '.join(share.keys)}) "
            f"au lieu de {format_eur(total)}, somme de leurs contributions"
        )
        return [self.ctx.catalogue.finding("amount_mismatch", detail)]


def unknown(key: str) -> bool:
    return key.startswith("?")
