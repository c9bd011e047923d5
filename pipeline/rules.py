"""Completeness rules: each rule in one place, each yielding the design's codes.

A rule is a plain function of what was read; it returns findings whose
French messages tell the depositor what to send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from stdnum.fr import siret as siret_number

from .classify import ANNEX, CONVENTION, PURCHASE_ORDER, Classified
from .facts import Facts
from .form import Form
from .money import format_eur
from .problems import Catalogue, Finding
from .register import Registered
from .tariff import GROUPEMENT, Tariff, TariffRow, infer_typology
from .textnorm import fold, key
from .variants import Variant

BENEFICIARIES_RE = re.compile(r"^\d+ beneficiaires$")
NEGATED_RE = re.compile(r"\b(pas|non|sans|hors|aucun)\b[^.]{0,20}groupement")
BOX_FR = {
    "groupement": "case « groupement » cochée",
    "compte_propre": "case « pour son propre compte » cochée",
    "mandat": "case « mandat » cochée",
}
MARKET_RE = re.compile(r"(20\d{2}-[a-z]?\d{3})(?:-(\d{3}))?(?:\D{0,12}lot\s*(?:n\s*[°o]\s*)?(\d{1,3}))?")


@dataclass(frozen=True)
class Due:
    """The contribution the purchase order should carry, where it comes from, and whether csac is sure.

    When csac is not sure, there is no figure at all: the depositor is never
    asked for an amount that may be wrong, and the regional team checks it.
    """

    amount: Decimal | None  # None: "sur devis", or not certain
    basis: str  # where the figure comes from; when not certain, why
    certain: bool = True

    @classmethod
    def unsure(cls, why: str) -> Due:
        return cls(None, why, certain=False)


@dataclass(frozen=True)
class ModeEvidence:
    """Where the documents (and the form) show a groupement, another mode, or either."""

    groupement: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    either: tuple[str, ...] = ()  # "mandat ou groupement": the box of 2021-047-001's convention
    tiers: tuple[tuple[str, TariffRow], ...] = ()  # (where, groupement tier) printed in the documents


def market(variant: Variant) -> tuple[str, int | None]:
    """(procedure, lot): 2021-047-001 is lot 1 of procedure 2021-047, as the Resah numbers them."""
    parts = variant.framework_agreement.split("-")
    if len(parts) == 3:
        return "-".join(parts[:2]), int(parts[2])
    return variant.framework_agreement, variant.lot


def markets_named(text: str) -> list[tuple[str, int | None]]:
    found = []
    for procedure, lot3, lot in MARKET_RE.findall(fold(text)):
        number = lot3 or lot
        found.append((procedure, int(number) if number else None))
    return found


def presence(docs: list[Classified], due: Due | None, cat: Catalogue) -> list[Finding]:
    roles = {d.role for d in docs}
    expected = (
        f"montant attendu : {format_eur(due.amount)}"
        if due and due.certain and due.amount
        else "contribution au titre de la convention"
    )
    return [
        cat.finding(code, expected if code == "purchase_order_missing" else "")
        for role, code in (
            (CONVENTION, "convention_missing"),
            (ANNEX, "annex_missing"),
            (PURCHASE_ORDER, "purchase_order_missing"),
        )
        if role not in roles
    ]


def known_variant(docs: list[Classified], facts: Facts, cat: Catalogue) -> list[Finding]:
    if not any(d.role == CONVENTION for d in docs) or facts.variant:
        return []
    detail = f"accord-cadre n° {facts.framework}" if facts.framework else "accord-cadre et lot illisibles"
    return [cat.finding("convention_unknown", detail)]


def signed(docs: list[Classified], facts: Facts, cat: Catalogue) -> list[Finding]:
    if not any(d.role == CONVENTION for d in docs) or (facts.signature and facts.signature.signed):
        return []
    detail = facts.signature.detail if facts.signature else "aucune signature"
    return [cat.finding("convention_unsigned", detail)]


def siret_checks(facts: Facts, form: Form | None, cat: Catalogue) -> list[Finding]:
    findings, invalid = [], []
    for doc, number in facts.sirets:
        if not siret_number.is_valid(number) and number not in invalid:
            invalid.append(number)
            findings.append(cat.finding("siret_invalid", f"{number} (dans « {doc} »)"))
    if not facts.siret or facts.siret in invalid:
        return findings
    by_doc: dict[str, set[str]] = {}
    for doc, number in facts.sirets:
        if number not in invalid:
            by_doc.setdefault(doc, set()).add(number)
    mandate = len(facts.annex_rows) > 1
    for doc, numbers in by_doc.items():
        is_annex = any(r.siret in numbers for r in facts.annex_rows)
        if facts.siret not in numbers and not (is_annex and mandate):
            findings.append(
                cat.finding(
                    "siret_mismatch",
                    f"SIRET {facts.siret} sur la convention, {', '.join(sorted(numbers))} dans « {doc} »",
                )
            )
    form_siret = "".join((form.get("siret") or "").split()) if form else ""
    if form_siret and form_siret != facts.siret:
        findings.append(
            cat.finding(
                "siret_mismatch", f"SIRET {facts.siret} sur la convention, {form_siret} dans le formulaire"
            )
        )
    return findings


def contract(facts: Facts, form: Form | None, variants: dict[str, Variant], cat: Catalogue) -> list[Finding]:
    number = form.get("numero_marche") if form else None
    if not number or not facts.variant:
        return []
    procedure, lot = market(variants[facts.variant])
    named = markets_named(number)
    if any(p == procedure and (n is None or n == lot) for p, n in named):
        return []
    return [
        cat.finding(
            "contract_mismatch",
            f"« {number} » pour une convention de l'accord-cadre {variants[facts.variant].label}",
        )
    ]


def _row_for_text(tariff, text: str):
    """The tariff row a label or a name designates: the exact label, else its typology."""
    exact = {key(r.label): r for r in tariff.rows}.get(key(text))
    if exact:
        return exact
    inferred = infer_typology(fold(text))
    if inferred is None or (inferred[0] == "commune" and inferred[1] is None):
        return None
    return tariff.row_for(*inferred)


def _labelled(tariff: Tariff, label: str | None, where: str) -> ModeEvidence:
    """What a printed tariff label says of the mode: a groupement tier, another row, or nothing."""
    if not label:
        return ModeEvidence()
    row = _row_for_text(tariff, label)
    if row is not None and row.typology == GROUPEMENT:
        return ModeEvidence(groupement=(f"{where} « {label} »",), tiers=((where, row),))
    if "groupement" in fold(label):
        return ModeEvidence(groupement=(f"{where} « {label} »",))
    if row is not None or BENEFICIARIES_RE.match(fold(label)):
        return ModeEvidence(other=(f"{where} « {label} »",))
    return ModeEvidence()


def _merge(*parts: ModeEvidence) -> ModeEvidence:
    return ModeEvidence(
        *(tuple(x for p in parts for x in getattr(p, f)) for f in ModeEvidence.__dataclass_fields__)
    )


def _box(box: str | None) -> ModeEvidence:
    if box in ("groupement",):
        return ModeEvidence(groupement=(f"convention : {BOX_FR[box]}",))
    if box in ("compte_propre", "mandat"):
        return ModeEvidence(other=(f"convention : {BOX_FR[box]}",))
    if box:
        return ModeEvidence(
            either=("convention : case « pour le compte de bénéficiaires » (mandat ou groupement) cochée",)
        )
    return ModeEvidence()


def mode_evidence(facts: Facts, form: Form | None, tariff: Tariff) -> ModeEvidence:
    """Every sign of the mode: the annex's rows, heading and Total, the convention's box and figure, the form."""
    annex = (
        ModeEvidence(groupement=("annexe : lignes « coordonnateur » / « membre »",))
        if facts.members.marked
        else ModeEvidence()
    )
    heading = ModeEvidence()
    if facts.annex_mode:
        field = "groupement" if facts.annex_mode == GROUPEMENT else "other"
        heading = ModeEvidence(**{field: (f"annexe : « Mode : {facts.annex_mode.replace('_', ' ')} »",)})
    message = fold(form.get("message") or "") if form else ""
    said = "groupement" in message and not NEGATED_RE.search(message)
    written = (
        ModeEvidence(groupement=("formulaire : message mentionnant un groupement",))
        if said
        else ModeEvidence()
    )
    return _merge(
        annex, heading, _labelled(tariff, facts.annex_total_label, "annexe : ligne Total"),
        _box(facts.convention_box), _labelled(tariff, facts.convention_tier, "convention : contribution"), written,
    )  # fmt: skip


def expected_due(
    facts: Facts, registered: Registered | None, variants: dict[str, Variant], form: Form | None = None
) -> Due | None:
    """From the register when rendering knew the signatory; else a groupement's tier from its members'
    count, or each beneficiary's row; not certain when the documents do not say clearly."""
    if not facts.variant:
        return None
    if registered:
        known, amount = registered.due(facts.variant)
        if known:
            return Due(amount, "registre des signataires")
    tariff = variants[facts.variant].tariff
    evidence = mode_evidence(facts, form, tariff)
    several = len(facts.members.sirets) > 1 or len(facts.annex_rows) > 1
    if evidence.groupement or (evidence.either and several and not evidence.other):
        return _groupement_due(facts, tariff, evidence)
    return _body_due(facts, tariff)


def _groupement_due(facts: Facts, tariff: Tariff, evidence: ModeEvidence) -> Due:
    shown = " ; ".join(evidence.groupement)
    if evidence.other:
        return Due.unsure(
            f"indices contradictoires : groupement ({shown}), mais {' ; '.join(evidence.other)}"
        )
    if not evidence.groupement:
        return Due.unsure(f"{evidence.either[0]} : mandat ou groupement, les documents ne le précisent pas")
    if facts.members.uncounted:
        return Due.unsure(f"groupement ({shown}), membres non dénombrables : {facts.members.uncounted}")
    count = len(facts.members.sirets)
    row = tariff.row_for_group(count)
    if row is None:
        return Due.unsure(
            f"groupement de {count} membre(s) ({shown}) : aucune tranche du tarif ne s'applique"
        )
    for where, printed in evidence.tiers:
        if printed != row:
            return Due.unsure(
                f"l'annexe compte {count} membres ({row.label}), mais {where} indique « {printed.label} »"
            )
    return Due(row.amount, f"groupement de {count} membres (annexe) : {row.label}")


def _body_due(facts: Facts, tariff: Tariff) -> Due:
    """Each beneficiary's row of the tariff, summed; the signatory's name when the annex has no table."""
    texts, basis = [r.typology for r in facts.annex_rows], "annexe"
    if not texts and facts.signatory:
        texts, basis = [facts.signatory], "dénomination du signataire"
    if not texts:
        return Due.unsure("typologie illisible : ni l'annexe ni la convention ne la donnent")
    rows = [_row_for_text(tariff, t) for t in texts]
    unread = [t for t, r in zip(texts, rows, strict=True) if r is None]
    if unread:
        return Due.unsure(f"typologie illisible ({basis}) : « {unread[0] or 'non renseignée'} »")
    if any(r.amount is None for r in rows):
        return Due(None, "sur devis")
    labels = ", ".join(sorted({r.label for r in rows}))
    return Due(sum((r.amount for r in rows), Decimal("0")), f"{basis} : {labels}")


def amount(docs: list[Classified], facts: Facts, due: Due | None, cat: Catalogue) -> list[Finding]:
    """The order's own total against the contribution due; an unclear order is said to be unclear."""
    order = next((d for d in docs if d.role == PURCHASE_ORDER), None)
    if order is None or due is None or order.doc.scanned or (due.certain and due.amount is None):
        return []
    if facts.amount_paid is None:
        detail = facts.amount_doubt or "aucun montant de la commande lu"
        if due.certain:
            detail += f" ; contribution due : {format_eur(due.amount)}"
        return [cat.finding("amount_mismatch", detail, scope="ambiguous")]
    if due.certain and facts.amount_paid != due.amount:
        return [
            cat.finding(
                "amount_mismatch", f"{format_eur(facts.amount_paid)} au lieu de {format_eur(due.amount)}"
            )
        ]
    return []


def readable(docs: list[Classified], cat: Catalogue) -> list[Finding]:
    """A document that cannot be read is set aside; the depositor is asked to send it again."""
    return [
        cat.finding("archive_corrupt", f"« {d.doc.name} »", scope="document") for d in docs if d.doc.error
    ]


def form_checks(form: Form | None, cat: Catalogue) -> list[Finding]:
    if form is None or not form.problems:
        return []
    return [cat.finding("form_invalid", " ; ".join(form.problems))]
