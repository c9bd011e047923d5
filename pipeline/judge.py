"""Judge each dossier a deposit concerns, with the documents that came before.

A dossier is one signatory on one variant (pipeline/dossiers.py). A deposit
with conventions opens or updates one dossier per convention; what none of
them takes (the order sent alone, days later) goes to the signatory's other
dossiers on evidence: the accord-cadre it names, a due or a sum of dues it
pays, else the form's numéro de marché. Either way the
dossier is judged whole: its earlier documents, re-read from where csac kept
them, with this deposit's documents in place of those of the same role. The
rules are the ones a single deposit always had (pipeline/rules.py), run on
each dossier's documents; what a deposit says as a whole (its form, a
document that could not be read) is judged once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from . import ocr
from .archive import Member
from .bulletin import BulletinCheck, check_bulletin, read_bulletin
from .classify import ANNEX, BULLETIN, CONVENTION, PURCHASE_ORDER, Classified, classify, principal
from .dossiers import Documents, Dossier, DossierBook, DossierStatus, Held, dossier_id
from .extract import Extracted, extract
from .facts import Facts, gather
from .form import Form
from .match import Shared, attach_annexes, attach_orders, by_convention, variants_in, variants_named
from .money import format_eur
from .orders import read_order_amount
from .photos import assemble
from .problems import Finding
from .routing import Route, route
from .rules import Due, amount, contract, expected_due, known_variant, presence, signed, siret_checks
from .sirets import is_valid
from .untrusted import quoted

log = logging.getLogger("csac.dossiers")
DOSSIER_ROLES = (CONVENTION, ANNEX, PURCHASE_ORDER, BULLETIN)
MEMBERSHIP = "membership"  # the purpose of the order that pays the bulletin d'adhésion


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
    purposes: tuple[str, ...] = ()  # for each document, what it pays when it is an order: "membership" or ""
    paid: Decimal | None = None  # what its orders pay for it: its share of an order paying several
    deduced: str | None = None  # a scanned convention's variant, as its annex, order or form name it

    @property
    def variant(self) -> str | None:
        return self.facts.variant or self.deduced

    @property
    def dossier_id(self) -> str | None:
        """None when csac cannot say whose dossier it is (no SIRET, or no known variant)."""
        if self.facts.siret and self.variant:
            return dossier_id(self.facts.siret, self.variant)
        return None

    @property
    def status(self) -> DossierStatus:
        """Complete, incomplete; or still accepted, when what remains is what a person accepted."""
        if not self.findings:
            return DossierStatus.COMPLETE
        return DossierStatus.ACCEPTED if self.waived else DossierStatus.INCOMPLETE

    @property
    def waived(self) -> bool:
        """A person accepted the dossier with these very problems (a hand signature checked on a scan…)."""
        accepted = self.earlier is not None and self.earlier.status == DossierStatus.ACCEPTED
        return accepted and {f.code for f in self.findings} <= set(self.earlier.codes)

    @property
    def asked(self) -> tuple[Finding, ...]:
        """What the depositor is still asked for: nothing a person accepted."""
        return () if self.waived else self.findings


@dataclass(frozen=True)
class Plan:
    """How a deposit's documents fall into dossiers; `unmatched` are reported, never guessed."""

    groups: dict[str, list[Classified]]
    earlier: dict[str, tuple[Dossier, tuple[Classified, ...]]]  # key → (dossier, its kept documents)
    kept: frozenset[int] = frozenset()  # id() of the documents read back from earlier deposits
    shared: tuple[Shared, ...] = ()
    unmatched: tuple[tuple[Classified, str], ...] = ()
    membership: frozenset[int] = frozenset()  # id() of the orders that pay a bulletin d'adhésion
    bulletin: BulletinCheck | None = None  # the deposit's own bulletin, checked with its orders

    def slot(self, doc: Classified) -> tuple[str, str]:
        """What a document stands for in a dossier: its role, and for an order what it pays."""
        return doc.role, MEMBERSHIP if id(doc) in self.membership else ""

    def newest(self, key: str) -> list[Classified]:
        """This deposit's documents take the place of the kept ones of the same role and purpose."""
        group = self.groups[key]
        brought = {self.slot(d) for d in group if id(d) not in self.kept}
        return [d for d in group if id(d) not in self.kept or self.slot(d) not in brought]

    def contribution(self, key: str) -> list[Classified]:
        """The documents the convention's rules read: neither the bulletin nor the order paying it."""
        return [d for d in self.newest(key) if d.role != BULLETIN and id(d) not in self.membership]


class Judge:
    """What judging needs: the intake context's data, and the journal's dossiers (read only)."""

    def __init__(self, ctx, form: Form | None, received: dt.date, reading: ocr.Reading | None = None):
        self.ctx, self.form, self.received = ctx, form, received
        self.reading = reading  # the deposit's OCR: kept scans are read again through its cache
        journal = ctx.workspace.journal
        self.book = DossierBook(journal) if journal.exists() else None
        self.kept = Documents(ctx.workspace.documents)
        self.origin: dict[int, Held] = {}  # id() of a kept document → where the journal has it
        self.membership: set[int] = set()  # id() of the kept orders that paid a bulletin

    # -- which dossiers -----------------------------------------------------------------------------
    def plan(self, docs: list[Classified]) -> Plan:
        """The deposit's conventions, each with what its dossier holds; then what none of them takes
        goes to the signatory's other dossiers on evidence (their accord-cadre named, a due or a sum of
        dues paid), never by guess. The bulletin goes to every dossier the deposit concerns."""
        groups = by_convention(docs)
        earlier = self._earlier(groups, docs)
        bulletin_only = not groups and any(d.role == BULLETIN for d in docs)
        taken = {d.id for d, _ in earlier.values()}  # a scan's dossier is its conventions' already
        extra = self._others(docs, groups, taken) if not groups or self._leftovers(docs, groups) else {}
        for key, (_, kept) in (earlier | extra).items():
            groups.setdefault(key, []).extend(kept)
        earlier |= extra
        kept_ids = frozenset(id(d) for _, kept in earlier.values() for d in kept)
        unmatched = attach_annexes(groups, docs, self.ctx.variants, kept_ids)
        dues = {
            k: self._due_of(Plan(groups, earlier, kept_ids, membership=frozenset(self.membership)), k)
            for k in groups
        }
        bulletin = self._bulletin(docs, dues, [d for g in groups.values() for d in g if id(d) in kept_ids])
        paying = bulletin.order if bulletin and id(bulletin.order) not in kept_ids else None
        orders = [d for d in docs if d is not paying]
        shared, unplaced = attach_orders(groups, orders, dues, self.ctx.variants, strict=bool(extra))
        unplaced = self._by_form(groups, unplaced, extra)
        for s in shared:
            for k in s.keys:
                groups[k].append(s.order)
        bulletins = [d for d in docs if d.role == BULLETIN]
        for key in groups:  # the bulletin is the signatory's: every dossier of this deposit holds it
            holds = bulletins or any(d.role == BULLETIN for d in groups[key])
            groups[key] += bulletins + ([paying] if paying and holds else [])
        mine = {id(d) for d in docs}
        if not bulletin_only:  # the signatory's other dossiers that this deposit brings nothing to
            for key in [k for k in extra if not any(id(d) in mine for d in groups[k])]:
                del groups[key], earlier[key]
        shared += self._kept_shares(earlier)  # already in their groups
        membership = frozenset(self.membership | ({id(paying)} if paying else set()))
        left = tuple((d, why) for d, why in unmatched + unplaced if why)
        return Plan(groups, earlier, kept_ids, tuple(shared), left, membership, bulletin)

    def _form_names(self) -> set[str]:
        """The variants the form's "numéro de marché" names."""
        return variants_in(self.form.get("numero_marche") or "", self.ctx.variants) if self.form else set()

    def _leftovers(self, docs: list[Classified], groups: dict) -> bool:
        """Whether a deposit with conventions holds an order or annex naming another accord-cadre."""
        mine = set(groups)
        return any(
            d.role in (ANNEX, PURCHASE_ORDER) and variants_named(d, self.ctx.variants) - mine for d in docs
        )

    def _by_form(self, groups: dict, unplaced: list, extra: dict) -> list:
        """An order of a follow-up that names no accord-cadre, of an amount that is no due: the form's
        "numéro de marché", when it names exactly one of the signatory's dossiers, says whose it is.
        Returns what is still unplaced."""
        named = [k for k in extra if k in self._form_names()]
        still = []
        for doc, why in unplaced:
            if len(named) == 1 and doc.role == PURCHASE_ORDER and not variants_named(doc, self.ctx.variants):
                groups[named[0]].append(doc)
            else:
                still.append((doc, why))
        return still

    def _kept_shares(self, earlier: dict) -> list[Shared]:
        """A kept order that pays several dossiers pays them still: its amount is checked against the sum
        of their dues, the dossiers outside this deposit at the dues they were judged with."""
        shares = []
        for dossier, kept in earlier.values():
            for doc in kept:
                held = self.origin[id(doc)]
                if doc.role != PURCHASE_ORDER or held.purpose or any(s.order is doc for s in shares):
                    continue
                holders = self.book.holding(held.sha256, dossier.siret)
                if len(holders) > 1:
                    inside = tuple(h.variant for h in holders if h.variant in earlier)
                    outside = tuple((h.variant, h.due) for h in holders if h.variant not in earlier)
                    shares.append(Shared(doc, inside, read_order_amount(doc.doc.text).value, outside))
        return shares

    def _bulletin(
        self, docs: list[Classified], dues: dict, kept: list[Classified] = ()
    ) -> BulletinCheck | None:
        """The signatory's bulletin d'adhésion (this deposit's, else the one its dossier kept) checked, and
        the order that pays it: one of this deposit's orders, else the one kept for it."""
        bulletin = principal(docs, BULLETIN) or principal([d for d in kept if d.role == BULLETIN], BULLETIN)
        if bulletin is None or self.ctx.membership is None:
            return None
        held = self.origin.get(id(bulletin))
        received = dt.date.fromisoformat(held.added_at[:10]) if held else self.received
        known = [v for v in dues.values() if v is not None]

        def check(orders: list[Classified]) -> BulletinCheck:
            return check_bulletin(bulletin, orders, received, self.ctx.membership, self.ctx.catalogue, known)

        checked = check([d for d in docs if d.role == PURCHASE_ORDER])
        paying = [d for d in kept if id(d) in self.membership]
        return check(paying) if checked.order is None and paying else checked

    def alone(self, docs: list[Classified]) -> Plan:
        """A deposit no dossier takes: judged as a whole, as a deposit always was; a bulletin sent alone
        (with the order paying it) is judged as a bulletin."""
        if any(d.role == BULLETIN for d in docs) and not any(d.role in (CONVENTION, ANNEX) for d in docs):
            bulletin = self._bulletin(docs, {})
            others = [d for d in docs if d.role == PURCHASE_ORDER and d is not bulletin.order]
            if not others:
                paying = {id(bulletin.order)} if bulletin.order else set()
                return Plan({"": list(docs)}, {}, membership=frozenset(paying), bulletin=bulletin)
        return Plan({"": list(docs)}, {})

    def _earlier(self, groups: dict[str, list[Classified]], docs: list[Classified]) -> dict:
        """The dossiers these conventions update, when they exist already (a scan's, by its deduced variant)."""
        if self.book is None:
            return {}
        found = {}
        for key, convs in groups.items():
            siret = gather(convs, self.ctx.resah).siret or self._signatory(docs)
            variant = self._deduced(docs) if key == "?" else key
            dossier = (
                self.book.get(dossier_id(siret, variant)) if siret and variant and variant[0] != "?" else None
            )
            if dossier is not None:  # its convention is this deposit's: the kept one is not read again
                found[key] = (dossier, self._kept_documents(dossier, skip=CONVENTION))
        return found

    def _due_of(self, plan: Plan, key: str) -> Decimal | None:
        due = self._facts_and_due(plan.contribution(key))[2]
        return due.amount if due and due.certain else None

    def _facts_and_due(self, docs: list[Classified]) -> tuple[Facts, Route, Due | None]:
        facts = gather(docs, self.ctx.resah)
        if not facts.siret and self.form and self.form.siret and is_valid(self.form.siret):
            facts = replace(facts, siret=self.form.siret)
        where = route(facts, self.form, self.ctx.workspace.register, self.ctx.regions)
        return facts, where, expected_due(facts, where.registered, self.ctx.variants, self.form)

    # -- the signatory's other dossiers ------------------------------------------------------------
    def _others(
        self, docs: list[Classified], groups: dict, taken: set[str] = frozenset()
    ) -> dict[str, tuple[Dossier, tuple[Classified, ...]]]:
        """The signatory's dossiers this deposit's conventions are not, with what they hold. The signatory
        is the one its documents name; a form naming another SIRET makes it nobody's (never a stranger's
        dossier)."""
        if self.book is None or not any(d.role in DOSSIER_ROLES for d in docs):
            return {}
        siret = self._signatory(docs)
        if siret is None:
            return {}
        return {
            d.variant: (d, self._kept_documents(d))
            for d in self.book.of_siret(siret)
            if d.variant not in groups and d.id not in taken
        }

    @staticmethod
    def _bulletin_siret(docs: list[Classified]) -> str | None:
        bulletin = principal(docs, BULLETIN)
        return read_bulletin(bulletin).siret if bulletin else None

    def _signatory(self, docs: list[Classified]) -> str | None:
        read = gather(docs, self.ctx.resah).siret or self._bulletin_siret(docs)
        said = self.form.siret if self.form else None
        if read and said and read != said:
            return None
        siret = read or said
        return siret if siret and is_valid(siret) else None

    def _kept_documents(self, dossier: Dossier, skip: str | None = None) -> tuple[Classified, ...]:
        """The dossier's current documents, read again from where csac kept them (but those of the role
        `skip`, which this deposit replaces whatever they say)."""
        read = {}
        for held in self.book.documents(dossier.id):
            if held.role == skip:
                continue
            doc = kept_document(self.kept, held, self.ctx.limits, self.reading)
            # a kept file lost (None): the dossier is judged without it, and asks for it again
            if doc is not None:
                read[id(doc)] = (held, doc)
        out = []
        for doc in assemble([doc for _, doc in read.values()]):  # photos of one convention: one again
            held = read[id(doc)][0] if id(doc) in read else _first_part(doc, read.values())
            found = _in_role(doc, held, self.ctx.variants)
            self.origin[id(found)] = held
            if held.purpose == MEMBERSHIP:
                self.membership.add(id(found))
            out.append(found)
        return tuple(out)

    # -- judging each dossier -----------------------------------------------------------------------
    def judge(self, plan: Plan) -> list[Judged]:
        dues = {k: self._due_of(plan, k) for k in plan.groups} if plan.shared else {}
        return [self._judge_one(plan, key, dues) for key in plan.groups]

    def _judge_one(self, plan: Plan, key: str, dues: dict[str, Decimal | None]) -> Judged:
        group = plan.contribution(key)
        if not group and plan.bulletin:  # a bulletin sent alone
            return self._bulletin_alone(plan, key)
        facts, where, due = self._facts_and_due(group)
        deduced = self._deduced(group) if key == "?" else None
        if not facts.variant and key in self.ctx.variants:  # its convention's file lost: the dossier's own
            deduced = key
        if deduced:  # a scan's contribution: the tariff of the variant its annex or order names
            due = expected_due(
                replace(facts, variant=deduced), where.registered, self.ctx.variants, self.form
            )
        cat = self.ctx.catalogue
        findings = [
            *self._unmatched(presence(group, due, cat, self.form, self.ctx.config.order_document), plan),
            *known_variant(group, facts, cat),
            *signed(group, facts, cat),
            *siret_checks(facts, self.form, cat),
            *self._contract(facts, plan),
        ]
        share = next((s for s in plan.shared if key in s.keys and any(s.order is d for d in group)), None)
        findings += self._shared_amount(share, dues) if share else amount(group, facts, due, cat)
        findings += self._membership(plan, key)
        if where.region is None:
            findings.append(cat.finding("region_unknown"))
        group = plan.newest(key)
        brought = tuple(d for d in group if id(d) not in plan.kept)
        earlier = plan.earlier.get(key)
        dossier = earlier[0] if earlier else None
        origins = tuple(self.origin[id(d)].deposit_id if id(d) in self.origin else None for d in group)
        deposits = tuple(self.book.deposits(dossier.id)) if dossier and self.book else ()
        purposes = tuple(plan.slot(d)[1] for d in group)
        paid = (due.amount if due and due.certain else None) if share else facts.amount_paid
        return Judged(
            key, tuple(group), brought, facts, where, due, tuple(findings), dossier, origins, deposits, purposes, paid,
            deduced,
        )  # fmt: skip

    def _deduced(self, group: list[Classified]) -> str | None:
        """A convention with no text (a scan signed by hand) names no accord-cadre: its dossier is the one its
        annex and orders, else its form, name, when they name exactly one. Its problem stays (a person checks
        the scan, and may accept the dossier)."""
        named = set().union(
            *(variants_named(d, self.ctx.variants) for d in group if d.role in (ANNEX, PURCHASE_ORDER))
        )
        named = named or self._form_names()
        return named.pop() if len(named) == 1 else None

    def _unmatched(self, found: list[Finding], plan: Plan) -> list[Finding]:
        """A missing order, when the deposit holds orders no convention takes: said as such."""
        orders = [d for d, _ in plan.unmatched if d.role == PURCHASE_ORDER]
        if not orders:
            return found
        named = ", ".join(_amounted(d) for d in orders)
        cat = self.ctx.catalogue
        return [
            cat.finding(f.code, named, scope="unmatched") if f.code == "purchase_order_missing" else f
            for f in found
        ]

    def _membership(self, plan: Plan, key: str) -> list[Finding]:
        """The bulletin's findings, for each dossier that holds it."""
        if plan.bulletin is None or not any(d.role == BULLETIN for d in plan.newest(key)):
            return []
        return list(plan.bulletin.findings)

    def _bulletin_alone(self, plan: Plan, key: str) -> Judged:
        facts, where, _ = self._facts_and_due(plan.groups[key])
        findings = list(plan.bulletin.findings)
        if where.region is None:
            findings.append(self.ctx.catalogue.finding("region_unknown"))
        group = tuple(plan.groups[key])
        purposes = tuple(plan.slot(d)[1] for d in group)
        return Judged(key, group, group, facts, where, None, tuple(findings), purposes=purposes)

    def _contract(self, facts: Facts, plan: Plan) -> list[Finding]:
        """The form's "numéro de marché" names one market: a deposit of several conventions is checked once."""
        found = contract(facts, self.form, self.ctx.variants, self.ctx.catalogue)
        if found and len(plan.groups) > 1 and self._form_names() & (plan.groups.keys() - {facts.variant}):
            return []
        return found

    def _shared_amount(self, share: Shared, known: dict[str, Decimal | None]) -> list[Finding]:
        """One order for several conventions: its amount against the sum of their dues."""
        dues = {k: known[k] for k in share.keys} | dict(share.elsewhere)
        if share.amount is None:
            detail = f"{quoted(share.order.doc.name, 80)}, pour {len(dues)} conventions ({', '.join(sorted(dues))})"
            return [self.ctx.catalogue.finding("amount_mismatch", detail, scope="ambiguous")]
        if any(v is None for v in dues.values()):
            return []  # no figure is guessed; the regional team checks it
        total = sum(dues.values(), Decimal(0))
        if share.amount == total:
            return []
        detail = (
            f"{format_eur(share.amount)} pour {len(dues)} conventions ({', '.join(sorted(dues))}) "
            f"au lieu de {format_eur(total)}, somme de leurs contributions"
        )
        return [self.ctx.catalogue.finding("amount_mismatch", detail)]


def read_kept(ctx, kept: Documents, held: Held) -> Classified | None:
    """A dossier's document read again from where csac kept it, as intake read it (a scan's pages come back
    from the OCR cache, with its signature's ink and crop), in the role the journal gives it; None (and a
    warning) when its file was lost."""
    reading = ocr.Reading.start(ctx.ocr_limits, ctx.workspace.state / "ocr")  # a scan: from the OCR cache
    doc = kept_document(kept, held, ctx.limits, reading)
    return None if doc is None else _in_role(doc, held, ctx.variants)


def _in_role(doc: Extracted, held: Held, variants) -> Classified:
    """A kept document classified, in the role the journal gives it (a person may have corrected it)."""
    found = classify(doc, variants)
    return replace(found, role=held.role) if found.role != held.role else found


def kept_document(
    kept: Documents, held: Held, limits, reading: ocr.Reading | None = None
) -> Extracted | None:
    """A kept file's text (a scan's through the OCR cache, with `reading`); None, said, when it was lost."""
    try:
        data = kept.read(held.sha256)
    except OSError:
        log.warning(
            "dossier %s : document conservé introuvable (%s, %s)",
            held.dossier_id,
            held.sha256[:12],
            held.role,
        )
        return None
    return extract(Member(held.name, data), limits, reading)


def _first_part(doc: Extracted, read) -> Held:
    """Where the journal has the first photo of a document assembled from several."""
    name, data = doc.parts[0]
    return next(held for held, part in read if part.name == name and part.data == data)


def _amounted(order: Classified) -> str:
    value = read_order_amount(order.doc.text).value
    return quoted(order.doc.name, 80) + (f" ({format_eur(value)})" if value is not None else "")
