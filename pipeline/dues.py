"""The contribution a deposit's purchase order should carry, and whether csac is sure of it.

In order: the register of signatories that rendering knows; for a
groupement (shown by the annex, the convention or the form), the tier for the
number of members the annex lists; else each beneficiary's row of the
variant's tariff. When the documents do not say clearly, the due is not
certain and carries no figure: the depositor is never asked for an amount that
may be wrong, and the regional team checks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .beneficiaries import names_groupement
from .facts import Facts
from .form import Form
from .register import Registered
from .report import Contribution as Stated
from .tariff import GROUPEMENT, Contribution, Tariff, TariffRow, infer_typology
from .textnorm import fold, key
from .untrusted import quoted
from .variants import Variant

OTHER_MODE, EITHER = "autre", "mandat_ou_groupement"
MODE_OF_BOX = {
    GROUPEMENT: GROUPEMENT,
    EITHER: EITHER,
    "contradictoire": EITHER,
    "compte_propre": OTHER_MODE,
    "mandat": OTHER_MODE,
}
BENEFICIARIES_RE = re.compile(r"^\d+ beneficiaires?$")  # a Total's count: "3 bénéficiaires", "1 bénéficiaire"
MAX_MESSAGE = 2000  # the form's free text, read only so far
BOX_FR = {
    GROUPEMENT: "la case « groupement »",
    "compte_propre": "la case « pour son propre compte »",
    "mandat": "la case « mandat »",
    EITHER: "la case « pour le compte de bénéficiaires » (mandat ou groupement)",
    "contradictoire": "plusieurs cases de mode",
}


@dataclass(frozen=True)
class Due:
    """The contribution due, where it comes from, and whether csac is sure of it."""

    amount: Decimal | None  # None: "sur devis", or not certain
    basis: str  # where the figure comes from; when not certain, why
    certain: bool = True

    @classmethod
    def unsure(cls, why: str) -> Due:
        return cls(None, why, certain=False)

    def stated(self) -> Stated:
        """As the report states it: an uncertain due carries no figure, only why."""
        return Stated(self.amount) if self.certain else Stated(None, self.basis)


@dataclass(frozen=True)
class Sign:
    """One sign of the mode: groupement, another mode, or either; where it was read."""

    mode: str
    where: str
    tier: TariffRow | None = None  # a groupement tier printed beside it


@dataclass(frozen=True)
class ModeEvidence:
    signs: tuple[Sign, ...]

    def where(self, mode: str) -> list[str]:
        return [s.where for s in self.signs if s.mode == mode]

    @property
    def tiers(self) -> list[Sign]:
        return [s for s in self.signs if s.tier is not None]


def row_for_text(tariff: Tariff, text: str) -> TariffRow | None:
    """The tariff row a label or a name designates: the exact label, else its typology."""
    exact = {key(r.label): r for r in tariff.rows}.get(key(text))
    if exact:
        return exact
    inferred = infer_typology(fold(text))
    if inferred is None or (inferred[0] == "commune" and inferred[1] is None):
        return None
    return tariff.row_for(*inferred)


def _printed(tariff: Tariff, label: str | None, where: str) -> list[Sign]:
    """What a printed tariff label says of the mode: a groupement tier, another row, or nothing."""
    if not label:
        return []
    row, said = row_for_text(tariff, label), f"{where} {quoted(label)}"
    if row is not None and row.typology == GROUPEMENT:
        return [Sign(GROUPEMENT, said, row)]
    if names_groupement(fold(label)):
        return [Sign(GROUPEMENT, said)]
    if row is not None or BENEFICIARIES_RE.match(fold(label)):
        return [Sign(OTHER_MODE, said)]
    return []


def _box(box: str | None) -> list[Sign]:
    if box is None:
        return []
    return [Sign(MODE_OF_BOX[box], f"la convention porte {BOX_FR[box]} cochée")]


def _annex(facts: Facts) -> list[Sign]:
    marked = Sign(GROUPEMENT, "l'annexe marque ses lignes « coordonnateur » / « membre »")
    signs = [marked] if facts.members.marked else []
    if facts.annex_groupement:
        signs.append(Sign(GROUPEMENT, f"l'annexe mentionne « {facts.annex_groupement} »"))
    if facts.annex_mode:
        mode = GROUPEMENT if facts.annex_mode == GROUPEMENT else OTHER_MODE
        signs.append(Sign(mode, f"l'annexe indique « Mode : {facts.annex_mode.replace('_', ' ')} »"))
    return signs


def _form(form: Form | None) -> list[Sign]:
    usable = form is not None and "message" not in form.failed
    message = fold((form.get("message") or "")[:MAX_MESSAGE]) if usable else ""
    if names_groupement(message):
        return [Sign(GROUPEMENT, "le message du formulaire mentionne un groupement")]
    return []


def mode_evidence(facts: Facts, form: Form | None, tariff: Tariff) -> ModeEvidence:
    """Every sign of the mode: the annex's rows, heading and Total, the convention's box and figure, the form."""
    return ModeEvidence(
        (
            *_annex(facts),
            *_printed(tariff, facts.annex_total_label, "la ligne Total de l'annexe indique"),
            *_box(facts.convention_box),
            *_printed(tariff, facts.convention_tier, "la convention indique la contribution"),
            *_form(form),
        )
    )


def expected_due(
    facts: Facts, registered: Registered | None, variants: dict[str, Variant], form: Form | None = None
) -> Due | None:
    """The register's figure; else a groupement's tier, or each beneficiary's row; None with no variant."""
    if not facts.variant:
        return None
    if registered:
        known, amount = registered.due(facts.variant)
        if known:
            return Due(amount, "registre des signataires")
    tariff = variants[facts.variant].tariff
    evidence = mode_evidence(facts, form, tariff)
    several = max(len(facts.members.sirets), len(facts.annex_rows))
    unsaid = not evidence.where(OTHER_MODE) and several > 1 and tariff.has_groupement
    if evidence.where(GROUPEMENT) or (unsaid and evidence.where(EITHER)):
        return groupement_due(facts, tariff, evidence)
    if unsaid:  # a mandate sums its rows, a groupement pays its tier: nothing says which
        return Due.unsure(f"{several} bénéficiaires dans l'annexe, sans préciser mandat ou groupement")
    return beneficiaries_due(facts, tariff)


def groupement_due(facts: Facts, tariff: Tariff, evidence: ModeEvidence) -> Due:
    """The tier for the annex's number of members, when every sign agrees with it."""
    shown, other = " ; ".join(evidence.where(GROUPEMENT)), evidence.where(OTHER_MODE)
    if other:
        return Due.unsure(f"indices contradictoires : {shown}, mais {' ; '.join(other)}")
    if not shown:
        return Due.unsure(f"{evidence.where(EITHER)[0]}, sans préciser mandat ou groupement")
    if facts.members.uncounted:
        return Due.unsure(f"groupement ({shown}), membres non dénombrables : {facts.members.uncounted}")
    count = len(facts.members.sirets)
    row = tariff.row_for_group(count)
    if row is None:
        return Due.unsure(
            f"groupement de {count} membre(s) ({shown}) : aucune tranche du tarif ne s'applique"
        )
    for sign in evidence.tiers:
        if sign.tier != row:
            return Due.unsure(f"l'annexe compte {count} membres (« {row.label} »), mais {sign.where}")
    return Due(row.amount, f"groupement de {count} membres (annexe) : {row.label}")


def beneficiaries_due(facts: Facts, tariff: Tariff) -> Due:
    """Each beneficiary's row of the tariff, summed as rendering sums them (`Contribution.of_rows`);
    the signatory's name when the annex has no table."""
    texts, basis = [r.typology for r in facts.annex_rows], "annexe"
    if not texts and facts.signatory:
        texts, basis = [facts.signatory], "dénomination du signataire"
    if not texts:
        return Due.unsure("typologie illisible : ni l'annexe ni la convention ne la donnent")
    rows = [row_for_text(tariff, t) for t in texts]
    unread = [t for t, r in zip(texts, rows, strict=True) if r is None]
    if unread:
        return Due.unsure(f"typologie illisible ({basis}) : {quoted(unread[0] or 'non renseignée')}")
    owed = Contribution.of_rows(rows)
    if owed.amount is None:
        return Due(None, "sur devis")
    return Due(owed.amount, f"{basis} : {', '.join(sorted({r.label for r in rows}))}")
