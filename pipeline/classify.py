"""The role of each document, decided by weighing what its content shows.

Not a keyword anywhere: a cover letter speaks of "la convention, l'annexe et
le bon de commande" without being any of them. What counts is the title zone
(the first lines, before any "Objet :" or salutation) and the structure: a
convention's clauses, the annex's table of beneficiaries with their SIRETs,
an order's number and amount. A letter, a bordereau d'envoi, a délibération
or an e-mail printout is `other` unless its structure says more; so is a
seller's paper (a devis, a facture, a mandat de paiement, an avis des sommes à
payer, a paper the Resah issued to its "Client"), even when it quotes the EJ
and an amount. A title is a heading, never a sentence. When several documents
claim one role, the strongest keeps it; documents with strong evidence each
keep theirs (a ZIP may hold two real conventions), and the one that speaks for
the role is chosen by weight and name, never by the ZIP's member order.

A bulletin d'adhésion is known the same way, by its title as a heading and
the parts of its form (the établissement, the interlocuteur, the two sector
boxes): it is never a convention or an order, though it names the convention,
an amount and, once filled in, an EJ number. A letter sending it is `other`.

A convention is recognised against the rendering side's variants (the
accord-cadre number and the lot), so a convention for an agreement csac does
not know is still a convention, with an unknown variant. The file name is
only a hint, used when there is no text at all (a scan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .active import EXECUTABLE
from .beneficiaries import is_prose, text_table
from .extract import Extracted
from .markets import lots_named, markets_named
from .orders import order_number, read_order_amount
from .report import Role
from .textnorm import fold, key
from .variants import Variant

CONVENTION, ANNEX, PURCHASE_ORDER, BULLETIN, OTHER = (
    Role.CONVENTION, Role.ANNEX, Role.PURCHASE_ORDER, Role.BULLETIN, Role.OTHER,
)  # fmt: skip
ROLES = (CONVENTION, ANNEX, PURCHASE_ORDER, BULLETIN, OTHER)

CONVENTION_TITLE = "conventiondeservicedachatcentralis"
CONVENTION_CLAUSES = (
    "entredunepart", "etdautrepart", "ilestconvenucequisuit", "reglementdesdifferends",
    "dureeetdatedeffet", "cipresdesignelesignataire",
)  # fmt: skip
BULLETIN_TITLE_RE = re.compile(r"^([^:]{0,40}\s[—–|-]\s)?bulletin d[' ]?\s?adhesion\b")
BULLETIN_PARTS = (  # the form's own parts, as key() reads them across the PDF's line breaks
    "informationsrelativesaletablissement", "interlocuteuruniquepourleresah", "souhaiteadhereralacentraledachat",
    "netsdetaxepourlanneecivile", "mercidecocherlacategorie", "etablissementdusecteurmedicosocial",
)  # fmt: skip
ANNEX_TITLE_RE = re.compile(
    r"^(annexe\b.*\b(besoins|beneficiaires|recensement)|vos besoins|recensement des besoins)"
)
ORDER_TITLE_RE = re.compile(  # a heading that starts with the order's name, maybe after "BUYER — "
    r"^([^:]{0,40}\s[—–|-]\s)?(bon de commande|bon d'engagement|engagement juridique|ordre d'achat"
    r"|purchase order|bdc\b|(commande|ej|engagement|bon) (n°|no\b|numero))"
)
TITLE_LINES = 12
TITLE_PREFIX = 70  # letters (of key()) before a heading's own words: "RESAH — CONVENTION DE SERVICE…"
ORDER_LINES = 300  # an order shows its number and amount early; a long document is not read twice whole
SALUTATION_RE = re.compile(r"^(madame|monsieur|mesdames|messieurs|bonjour|cher|chere)\b.{0,50},$")
SUBJECT_RE = re.compile(r"^(objet|obj|subject|sujet)\s*:")
ATTACHED_RE = re.compile(r"^(p\.?\s?j\.?|pieces? jointes?)\s*:")
CLOSING = (
    "veuillez agreer",
    "vous prie d'agreer",
    "prions d'agreer",
    "salutations",
    "cordialement",
    "bien a vous",
)
MAIL_HEADER_RE = re.compile(r"^(de|from|a|to|envoye|sent|cc|date|objet|subject)\s*:")
NUMBERED = r"(\s+(n°|no\b|numero|pro[- ]?forma|d'acompte)|$)"  # "FACTURE", "DEVIS N° D-2024-017"
OTHER_PAPERS = {  # the kind of paper a title names → its title: none of them is a deposit's document
    "bordereau": r"^bordereau",
    "deliberation": r"^(extrait du registre des )?deliberations?\b",
    "devis": rf"^(devis|proposition commerciale|offre de prix){NUMBERED}",
    "facture": rf"^(facture|avoir){NUMBERED}",
    "mandat de paiement": rf"^mandat( de paiement| administratif)?{NUMBERED}",
    "avis des sommes à payer": r"^avis des sommes a payer",
    "titre de recettes": r"^titre (de recettes?|executoire)",
    "accusé de réception": r"^(accuse de reception|confirmation de commande)",
    "bon de livraison": rf"^bon de livraison{NUMBERED}",
    "RIB": r"^(releve d'identite bancaire|rib$)",
    "avis de situation": r"^avis de situation",
    "attestation": r"^attestation\b",
}
OTHER_PAPER_RES = tuple((re.compile(title), kind) for kind, title in OTHER_PAPERS.items())
SUPPLIER_RE = re.compile(r"^(client|code client|destinataire de la facture)\s*:")  # a seller's paper
RESAH_ISSUER_RE = re.compile(r"^(gip\s+)?resah\b|^reseau des acheteurs hospitaliers")
NAME_HINTS = (
    (BULLETIN, ("bulletin",)),
    (CONVENTION, ("convention", "csac")),
    (ANNEX, ("annexe", "besoins", "annex")),
    (PURCHASE_ORDER, ("bon", "commande", "bdc", "ej", "engagement")),
)
CLAIM = {CONVENTION: 2, ANNEX: 2, PURCHASE_ORDER: 2, BULLETIN: 3}  # the least evidence for a role
STRONG = {CONVENTION: 5, ANNEX: 4, PURCHASE_ORDER: 4, BULLETIN: 5}  # evidence that holds against a rival
LETTER = 2  # letter marks that make a document `other` unless its structure weighs more


@dataclass(frozen=True)
class Classified:
    doc: Extracted
    role: Role
    variant: str | None = None  # conventions: the variant recognised
    framework: str | None = None  # conventions: the accord-cadre number read, known or not
    by_name: bool = False  # decided from the file name alone
    weight: int = 0  # the evidence for the role, compared when documents compete


def recognise_variant(text: str, variants: dict[str, Variant]) -> tuple[str | None, str | None]:
    """(variant id, accord-cadre number read) for a convention's text: its number as the variant
    prints it, and a lot the text names when the variant has lots."""
    found = list(dict.fromkeys(m.number for m in markets_named(text)))
    lots = lots_named(text)
    for number in found:
        candidates = [v for v in variants.values() if v.framework_agreement == number]
        if not candidates:
            continue
        with_lot = [v for v in candidates if v.lot is None or v.lot in lots]
        if len(with_lot) == 1:
            return with_lot[0].id, number
        return None, number  # the lot is missing or ambiguous
    return None, found[0] if found else None


def _lines(doc: Extracted) -> list[str]:
    return [fold(line) for line in doc.text.splitlines() if line.strip()]


def is_mail(lines: list[str]) -> bool:
    """An e-mail printout opens with its headers (De, À, Envoyé, Objet…), addresses in them."""
    headers = [(m.group(1), line) for line in lines[:TITLE_LINES] if (m := MAIL_HEADER_RE.match(line))]
    return len({name for name, _ in headers}) >= 3 and any("@" in line for _, line in headers)


def title(lines: list[str]) -> str | None:
    """What the document says it is: the first heading of its title zone (the lines before any
    "Objet :" or salutation). A bordereau listing "Bon de commande n° …" is titled a bordereau."""
    if is_mail(lines):
        return OTHER
    for line in lines[:TITLE_LINES]:
        if SUBJECT_RE.match(line) or SALUTATION_RE.match(line):
            return None
        if is_sentence(line):  # "Vos besoins ont bien été pris en compte…" is a sentence, not a heading
            continue
        if paper_kind(line):
            return OTHER
        if ANNEX_TITLE_RE.match(line):  # "Annexe « Vos besoins » — Convention de service…" is an annex
            return ANNEX
        if ORDER_TITLE_RE.match(line):
            return PURCHASE_ORDER
        if BULLETIN_TITLE_RE.match(line):
            return BULLETIN
        if CONVENTION_TITLE in key(line)[:TITLE_PREFIX]:  # maybe after a letterhead on the same line
            return CONVENTION
    return None


def is_sentence(line: str) -> bool:
    """'Merci de nous retourner votre bon de commande.' is a sentence, not a title."""
    return is_prose(line) or (line.rstrip().endswith((".", "!", "?")) and len(line.split()) >= 4)


def paper_kind(line: str) -> str | None:
    """The kind of paper a heading names, when it is not a deposit's document (a devis, a facture…)."""
    return next((kind for pattern, kind in OTHER_PAPER_RES if pattern.match(line)), None)


def supplier_paper(lines: list[str]) -> bool:
    """A paper issued by the Resah (its letterhead first) or addressed to a client: a seller's, not
    the buyer's order."""
    return bool(lines) and (
        RESAH_ISSUER_RE.match(lines[0]) is not None
        or any(SUPPLIER_RE.match(line) for line in lines[:TITLE_LINES])
    )


def convention_weight(k: str, titled: bool) -> int:
    """A convention shows its title as a heading and its clauses; a letter quoting them is no convention."""
    clauses = sum(c in k for c in CONVENTION_CLAUSES)
    if not titled or clauses == 0:
        return 0
    return 3 + min(clauses, 3)


def bulletin_weight(k: str, titled: bool) -> int:
    """A bulletin shows its title and the parts of its form; untitled, three of them still make one."""
    parts = sum(p in k for p in BULLETIN_PARTS)
    return 3 * titled + min(parts, 3) if parts else 0


def annex_weight(doc: Extracted, titled: bool) -> int:
    table = text_table(doc.text)
    rows = min(len(table.sirets), 3)
    return 2 * titled + (2 + rows if table.header is not None else 0)


def order_weight(doc: Extracted, titled: bool) -> int:
    head = "\n".join(doc.text.splitlines()[:ORDER_LINES])
    number = order_number(head) is not None
    amount = read_order_amount(head).value is not None
    return 3 * titled + number + amount


def letter_weight(lines: list[str]) -> int:
    """Marks of a letter, a bordereau, a délibération or an e-mail: none of them is a deposit's document."""
    marks = any(SALUTATION_RE.match(line) for line in lines)
    marks += any(SUBJECT_RE.match(line) for line in lines)
    marks += any(ATTACHED_RE.match(line) for line in lines)
    marks += any(c in line for c in CLOSING for line in lines[-15:])
    kinds = {kind for line in _title_zone(lines) if not is_sentence(line) and (kind := paper_kind(line))}
    if supplier_paper(lines):
        kinds.add("fournisseur")
    if any(re.search(r"apres (en )?avoir delibere", line) for line in lines):
        kinds.add("deliberation")
    if is_mail(lines):
        kinds.add("courriel")
    return marks + 3 * len(kinds)


def _title_zone(lines: list[str]) -> list[str]:
    zone = []
    for line in lines[:TITLE_LINES]:
        if SUBJECT_RE.match(line) or SALUTATION_RE.match(line):
            break
        zone.append(line)
    return zone


def weigh(doc: Extracted) -> dict[str, int]:
    """The evidence for each role; `other` holds the letter's marks."""
    lines = _lines(doc)
    titled, k = title(lines), key(doc.text)
    return {
        CONVENTION: convention_weight(k, titled == CONVENTION),
        ANNEX: annex_weight(doc, titled == ANNEX),
        PURCHASE_ORDER: order_weight(doc, titled == PURCHASE_ORDER),
        BULLETIN: bulletin_weight(k, titled == BULLETIN),
        OTHER: letter_weight(lines),
    }


def _role_by_content(doc: Extracted) -> tuple[str, int] | None:
    if not key(doc.text):
        return None
    weights = weigh(doc)
    claims = {r: w for r, w in weights.items() if r != OTHER and w >= CLAIM[r]}
    if not claims:
        return OTHER, 0
    role = max(claims, key=lambda r: (claims[r], -ROLES.index(r)))
    if weights[OTHER] >= LETTER and weights[OTHER] >= claims[role]:
        return OTHER, 0
    return role, claims[role]


def _role_by_name(doc: Extracted) -> str:
    base = fold(doc.name.rsplit("/", 1)[-1])
    words = set(re.split(r"[^a-z0-9]+", base))
    for role, hints in NAME_HINTS:
        if any(h in words or (len(h) > 3 and h in base) for h in hints):
            return role
    return OTHER


def content_role(doc: Extracted) -> Role | None:
    """The role a document's content shows, if any; None when nothing in it says (the name is not read)."""
    if doc.error or EXECUTABLE in doc.active:
        return None
    decided = _role_by_content(doc)
    return decided[0] if decided else None


def classify(doc: Extracted, variants: dict[str, Variant]) -> Classified:
    if doc.error or EXECUTABLE in doc.active:  # a program named like a PDF is no convention
        return Classified(doc, OTHER)
    decided = _role_by_content(doc)
    if decided is None:
        role = _role_by_name(doc) if doc.scanned or doc.kind == "image" else OTHER
        return Classified(doc, role, by_name=True)
    role, weight = decided
    if role != CONVENTION:
        return Classified(doc, role, weight=weight)
    variant, framework = recognise_variant(doc.text, variants)
    return Classified(doc, CONVENTION, variant, framework, weight=weight)


def settle(docs: list[Classified]) -> list[Classified]:
    """Rivals for one role: the strongest keeps it, weaker ones become `other`; strong ones all keep theirs."""
    best = {r: max((d.weight for d in docs if d.role == r and not d.by_name), default=0) for r in STRONG}
    return [
        replace(d, role=OTHER, variant=None, framework=None)
        if d.role in STRONG and not d.by_name and d.weight < best[d.role] and d.weight < STRONG[d.role]
        else d
        for d in docs
    ]


def principal(docs: list[Classified], role: str) -> Classified | None:
    """The document that speaks for a role: the strongest, then by name; never the ZIP's member order."""
    holders = [d for d in docs if d.role == role]
    return min(holders, key=lambda d: (-d.weight, d.by_name, d.doc.name), default=None)


def rivals(docs: list[Classified], role: str) -> list[Classified]:
    """The documents as strong as the principal one for a role: each may say something different."""
    first = principal(docs, role)
    return [
        d for d in docs if first and d.role == role and (d.weight, d.by_name) == (first.weight, first.by_name)
    ]
