"""What a person must check before a deposit is treated: the form against the documents, what the
depositor wrote, and a signature only a scan shows.

The form is typed on the portal; the documents are what was signed. When they disagree on the raison
sociale or the EJ number, or when the depositor's message asks for a change (another EJ, an annulation,
a correction), csac cannot tell which is right: the deposit is "à vérifier" (`review`), whatever its
documents make of it, until a person accepts it. A disagreement on the marché or the SIRET is a problem
already (contract_mismatch, siret_mismatch); it is a warning here only where no problem says it. Ink in a
scanned convention's signature zone is no certificate: a person looks at it (the region's message shows the
zone's crop) and accepts the dossier.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .classify import Classified, principal
from .dossiers import DECIDED
from .facts import Facts
from .form import Form
from .forward import crop_name
from .judge import Judged
from .match import variants_in
from .notices import convention_fr
from .report import FormWarning
from .textnorm import fold, key
from .untrusted import quoted
from .variants import Variant

NAME_QUOTE = 120  # characters of a raison sociale quoted in a warning
ABBREVIATIONS = {  # how the same organisation is also written, by folded word
    "st": "saint", "ste": "sainte", "ca": "communaute d agglomeration", "cc": "communaute de communes",
    "cu": "communaute urbaine", "ccas": "centre communal d action sociale", "ch": "centre hospitalier",
    "chu": "centre hospitalier universitaire", "chr": "centre hospitalier regional",
    "chru": "centre hospitalier regional universitaire",
}  # fmt: skip
INITIALS_RE = re.compile(r"\b(?:[a-z]\.){2,}")  # "c.c.a.s." is "ccas"
PARTICLES = {"de", "du", "des", "d", "l", "la", "le", "les"}  # "Le Mans" is "Commune du Mans"
PREFIX_RE = re.compile(r"^(?:(?:la|le|les) )?(?:commune|mairie|ville)(?: (?:de la|de l|des|du|de|d))? ")
HEAD_RE = re.compile(r",|\(| [-–] ")  # what follows is a complement: "…Béthune-Bruay, Artois-Lys Romane"
CHANGES = {  # what a depositor's message asks to be changed, on its folded text
    "une annulation": re.compile(r"\bannul"),
    "une correction ou un remplacement": re.compile(
        r"\b(?:corrig|correction|rectifi|erreur|errone|remplac|modifi)"
    ),
}
ORDER_WORDS = re.compile(r"\be\.?j(?![a-z])|\bengagements? juridiques?\b|\bbons? de commande\b|\bcommande\b")
NUMBER_RE = re.compile(r"(?<!\d)\d(?:[ .]?\d){7,12}(?!\d)")  # 8 to 13 digits: an EJ or an order number
# A telephone written the international way (+33 3 21 61 70 00, 0033 (0)3…): its digits are no order number.
PHONE_RE = re.compile(r"(?:\+|\b00)\s?\d{2,3}\s?(?:\(0\)\s?)?\d(?:[ .-]?\d){7,9}(?!\d)")


@dataclass(frozen=True)
class Conflicts:
    """The warnings of one deposit, and who is under review: the deposit, and which of its dossiers."""

    warnings: tuple[FormWarning, ...] = ()
    review: bool = False
    dossiers: frozenset[str] = frozenset()  # the dossiers under review, by id


def _words(name: str) -> str:
    folded = INITIALS_RE.sub(lambda m: m.group().replace(".", ""), fold(name))
    words = re.sub(r"[^a-z0-9]+", " ", folded).split()
    named = PREFIX_RE.sub("", " ".join(ABBREVIATIONS.get(w, w) for w in words) + " ")
    return " ".join(w for w in named.split() if w not in PARTICLES)


def _forms(name: str) -> set[str]:
    """A name whole, and its head before a complement."""
    return {_words(name), _words(HEAD_RE.split(name, 1)[0])} - {""}


def same_name(said: str, read: str) -> bool:
    """Whether two raisons sociales name one organisation: regardless of case, accents, punctuation,
    "Commune de" / "Mairie de" / "Ville de", common abbreviations (St, CA, CCAS, CH), and a complement after
    a comma. "Commune de Saint-Denis" and "Commune de Saint-Denis-de-Pile" are two."""
    return _words(said) in _forms(read) or _words(read) in _forms(said)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def same_reference(said: str, read: str) -> bool:
    """An EJ or order number, however written: "EJ n° 1300 012 345" is 1300012345."""
    return key(said) == key(read) or bool(_digits(said)) and _digits(said) == _digits(read)


def changes_asked(message: str, known: Sequence[str]) -> list[str]:
    """What the depositor's message asks to change: an annulation, a correction, or an EJ number other than
    those `known` (read on the documents, given in the form). "EJ ci-joint" asks for nothing."""
    folded = fold(message)
    asked = [what for what, pattern in CHANGES.items() if pattern.search(folded)]
    if ORDER_WORDS.search(folded):
        numbers = NUMBER_RE.findall(PHONE_RE.sub(" ", folded))
        others = [n for n in numbers if _order_like(n) and not _known(n, known)]
        if others:
            asked.insert(
                0,
                f"un autre numéro d'EJ ou de commande ({', '.join(dict.fromkeys(_digits(n) for n in others))})",
            )
    return asked


def _order_like(number: str) -> bool:
    """Not a telephone (0 and nine digits), a SIREN (9) or a SIRET (14, out of range anyway)."""
    digits = _digits(number)
    return len(digits) != 9 and not (len(digits) == 10 and digits.startswith("0"))


def _known(number: str, known: Sequence[str]) -> bool:
    return any(same_reference(number, k) for k in known)


@dataclass(frozen=True)
class Subject:
    """What the documents of one dossier (or of a deposit no dossier takes) say."""

    dossier_id: str | None
    facts: Facts
    variant: str | None
    convention: str | None = None  # its convention's file name


def subjects(judged: Sequence[Judged], alone: Facts | None, docs: Sequence[Classified] = ()) -> list[Subject]:
    if judged:
        return [Subject(j.dossier_id, j.facts, j.variant, _convention(j.docs)) for j in judged]
    return [Subject(None, alone, alone.variant, _convention(docs))] if alone else []


def _convention(docs: Sequence[Classified]) -> str | None:
    found = principal(list(docs), "convention")
    return found.doc.name if found else None


def check(
    form: Form | None,
    judged: Sequence[Judged],
    alone: Facts | None,
    codes: set[str],
    variants: dict[str, Variant],
    docs: Sequence[Classified] = (),
) -> Conflicts:
    """Every warning of a deposit; under review: the dossiers a conflict on the raison sociale or the EJ
    concerns, or whose convention's signature only a scan shows, all of them when the message asks for a
    change, and those still under review from before. `docs`: the deposit's, for a deposit no dossier takes."""
    found = subjects(judged, alone, docs)
    kept = frozenset(
        j.dossier_id for j in judged if j.earlier and j.earlier.review and j.earlier.status not in DECIDED
    )
    signatures, looked = _signatures(found)
    if form is None:
        return Conflicts(tuple(signatures), bool(kept or looked), frozenset(i for i in kept | looked if i))
    warnings, concerned = list(signatures), set(looked)
    for found_warnings, ids in (_name(form, found), _reference(form, found)):
        warnings += found_warnings
        concerned |= ids
    warnings += _market(form, found, codes, variants) + _siret(form, found, codes)
    asked = changes_asked(form.get("message") or "", _references(form, found))
    if asked:
        warnings.insert(0, FormWarning("depositor_message", _asked(asked)))
        concerned |= {s.dossier_id for s in found}
    review = bool(asked or concerned or kept)
    return Conflicts(tuple(warnings), review, frozenset(i for i in concerned | kept if i))


def _signatures(found: list[Subject]) -> tuple[list[FormWarning], set[str | None]]:
    """Ink seen in a scanned convention's signature zone: a person looks at its crop before the dossier is
    treated. (A zone not found is "à vérifier" in the signature's detail, as any scan was before.)"""
    warnings, concerned = [], set()
    for s in found:
        sig = s.facts.signature
        if not (sig and sig.scanned and sig.signed and sig.crop):
            continue
        name = s.convention or "convention"
        warnings.append(
            FormWarning(
                "signature_to_check",
                f"Convention scannée {quoted(name, NAME_QUOTE)} : signature manuscrite ou cachet à vérifier "
                f"(voir l'image jointe {crop_name(name)}).",
            )
        )
        concerned.add(s.dossier_id)
    return warnings, concerned


def _asked(asked: list[str]) -> str:
    return (
        f"Le message du déposant évoque {' et '.join(asked)} : lisez-le ci-dessous avant tout traitement, "
        "le dossier ne peut être traité tel quel."
    )


def _references(form: Form, found: list[Subject]) -> list[str]:
    """The EJ numbers csac knows: those read on the orders, the form's own."""
    read = [s.facts.order_number for s in found if s.facts.order_number]
    return read + ([form.get("reference_commande")] if form.get("reference_commande") else [])


def _name(form: Form, found: list[Subject]) -> tuple[list[FormWarning], set]:
    said = form.get("raison_sociale")
    if not said:
        return [], set()
    other = {
        s.facts.signatory: s for s in found if s.facts.signatory and not same_name(said, s.facts.signatory)
    }
    warnings = [
        FormWarning(
            "form_conflict",
            f"Raison sociale : le formulaire indique {quoted(said, NAME_QUOTE)}, les documents nomment "
            f"{quoted(name, NAME_QUOTE)}.",
        )
        for name in other
    ]
    return warnings, {s.dossier_id for s in found if s.facts.signatory in other}


def _reference(form: Form, found: list[Subject]) -> tuple[list[FormWarning], set]:
    said = form.get("reference_commande")
    read = {s.facts.order_number: s for s in found if s.facts.order_number}
    if not said or not read or any(same_reference(said, r) for r in read):
        return [], set()
    shown = ", ".join(quoted(r) for r in read)
    message = f"Numéro d'EJ : le formulaire indique {quoted(said)}, le bon de commande joint porte {shown}."
    return [FormWarning("form_conflict", message)], {s.dossier_id for s in found if s.facts.order_number}


def _market(
    form: Form, found: list[Subject], codes: set[str], variants: dict[str, Variant]
) -> list[FormWarning]:
    """Only where contract_mismatch does not say it: a follow-up without its convention."""
    said = form.get("numero_marche")
    concerned = list(dict.fromkeys(s.variant for s in found if s.variant in variants))
    if (
        "contract_mismatch" in codes
        or not said
        or not concerned
        or variants_in(said, variants) & set(concerned)
    ):
        return []
    which = ", ".join(f"l'{convention_fr(v)}" for v in concerned)
    return [
        FormWarning(
            "form_conflict",
            f"Numéro de marché : le formulaire indique {quoted(said)}, le dossier concerne {which}.",
        )
    ]


def _siret(form: Form, found: list[Subject], codes: set[str]) -> list[FormWarning]:
    """Only where siret_mismatch does not say it: the documents' SIRET is invalid, the form's another."""
    read = list(dict.fromkeys(s.facts.siret for s in found if s.facts.siret))
    if "siret_mismatch" in codes or not form.siret or not read or form.siret in read:
        return []
    return [
        FormWarning(
            "form_conflict",
            f"SIRET : le formulaire indique {form.siret}, les documents portent {', '.join(read)}.",
        )
    ]
