"""The intake report: what csac found about one deposit, as a typed value.

Every step after the assessment reads this model (the messages, the journal,
the digest, the watcher). It becomes JSON (schemas/intake-report.schema.json)
only at the edges that write it (the journal, the quarantine folder, `csac
intake --json`), through `to_json`; the journal's copy is read back with
`from_json`. Amounts are Decimal here and printed in one place, `format_eur`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .money import format_eur, parse_eur
from .problems import CODES
from .signature import Coverage, SignatureCheck

ON_QUOTE = "sur devis"  # the variant's tariff gives no figure
TO_CHECK = "montant à vérifier par l'équipe régionale ({why})"
PLAIN = (  # the report's keys that are the same text in the model and in its JSON form
    "deposit_id", "status", "file", "sha256", "received_at", "variant", "siret", "region", "mailbox",
    "signatory", "order_number", "code_service", "email", "region_source", "archived_to", "telephone",
    "message", "representative", "review",
)  # fmt: skip
WARNING_CODES = (
    "form_conflict",
    "depositor_message",
    "signature_to_check",
)  # what a person checks before acting: never hidden


class Verdict(StrEnum):
    COMPLETE = "complete"  # routed, nothing missing
    INCOMPLETE = "incomplete"  # readable, something missing or wrong: routed with its problems
    REJECTED = "rejected"  # unreadable or unsafe: quarantined, never routed


STATUS_FR = {Verdict.COMPLETE: "complet", Verdict.INCOMPLETE: "incomplet", Verdict.REJECTED: "refusé"}


class Role(StrEnum):
    CONVENTION = "convention"
    ANNEX = "annex"
    PURCHASE_ORDER = "purchase_order"
    BULLETIN = "bulletin"  # the signed bulletin d'adhésion: its own fee and order (pipeline/bulletin.py)
    OTHER = "other"


class SignatureStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    EMPTY = "empty"
    UNVERIFIED = "unverified"
    NONE = "none"


def _coerce(owner: object, field: str, kind: type) -> None:
    """Turn a field given as text into its enum: a value outside it is refused, in French."""
    try:
        object.__setattr__(owner, field, kind(getattr(owner, field)))
    except ValueError:
        raise ValueError(f"{field} : valeur inconnue {getattr(owner, field)!r}") from None


def _maybe(value, convert):
    return None if value is None else convert(value)


@dataclass(frozen=True)
class Document:
    """One document of the deposit, as the regional team sees it listed."""

    name: str
    role: Role
    kind: str = ""
    note: str | None = None
    active_content: tuple[str, ...] = ()  # what could run when it is opened (pipeline/active.py)

    def __post_init__(self) -> None:
        _coerce(self, "role", Role)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "role": self.role.value,
            "kind": self.kind,
            "note": self.note,
            "active_content": list(self.active_content),
        }

    @classmethod
    def from_json(cls, data: dict) -> Document:
        return cls(
            data["name"], data["role"], data.get("kind", ""), data.get("note"),
            tuple(data.get("active_content", ())),
        )  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """A problem of the deposit: its fixed code (design.md), the French diagnosis, and what the depositor
    is asked for (pipeline/problems.py)."""

    code: str
    message: str
    ask: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"code : valeur inconnue {self.code!r}")

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message} | ({"ask": self.ask} if self.ask else {})

    @classmethod
    def from_json(cls, data: dict) -> Problem:
        return cls(data["code"], data["message"], data.get("ask", ""))


@dataclass(frozen=True)
class FormWarning:
    """What the form says against the documents (form_conflict), a depositor's message that asks for a
    change (depositor_message), or a signature only a scan shows (signature_to_check): shown first to the
    regional team, never hidden."""

    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in WARNING_CODES:
            raise ValueError(f"code : valeur inconnue {self.code!r}")

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Signature:
    """The convention's best signature, as the report states it (pipeline/signature.py)."""

    status: SignatureStatus
    detail: str
    signer: str | None = None
    covers: Coverage | None = None
    modification: str | None = None  # what was appended after the signed revision
    title: str | None = None  # the signer's quality, as the certificate's title attribute gives it

    def __post_init__(self) -> None:
        _coerce(self, "status", SignatureStatus)

    @classmethod
    def of(cls, check: SignatureCheck) -> Signature:
        """From pipeline.signature.SignatureCheck: what the report states of it (not `trusted`)."""
        return cls(check.status, check.detail, check.signer, check.covers, check.modification, check.title)

    def to_json(self) -> dict:
        return {
            "status": self.status.value,
            "detail": self.detail,
            "signer": self.signer,
            "covers": self.covers.as_dict() if self.covers else None,
            "modification": self.modification,
            "signer_title": self.title,
        }

    @classmethod
    def from_json(cls, data: dict) -> Signature:
        return cls(
            data["status"], data["detail"], data.get("signer"),
            _maybe(data.get("covers"), Coverage.from_dict), data.get("modification"), data.get("signer_title"),
        )  # fmt: skip


@dataclass(frozen=True)
class Contribution:
    """The contribution due: a figure, "sur devis" (no figure, no doubt), or to be checked, and why."""

    amount: Decimal | None = None
    to_check: str | None = None  # csac is not sure of the due: why; the regional team checks it

    @property
    def text(self) -> str:
        if self.to_check is not None:
            return TO_CHECK.format(why=self.to_check)
        return format_eur(self.amount) if self.amount is not None else ON_QUOTE


@dataclass(frozen=True)
class Withheld:
    """A file not forwarded to the regional team, and the French reason."""

    name: str
    reason: str

    def to_json(self) -> dict:
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class DossierDocument:
    """A document of a dossier, and the deposit that brought it."""

    name: str
    role: Role
    deposit_id: str

    def __post_init__(self) -> None:
        _coerce(self, "role", Role)

    def to_json(self) -> dict:
        return {"name": self.name, "role": self.role.value, "deposit_id": self.deposit_id}


@dataclass(frozen=True)
class DossierReport:
    """One dossier this deposit opened or updated, as it stands after it (pipeline/dossiers.py)."""

    dossier_id: str
    siret: str
    variant: str
    status: str  # complete or incomplete (a person's decision comes later: accepted, refused)
    problems: tuple[Problem, ...] = ()
    documents: tuple[DossierDocument, ...] = ()
    deposits: tuple[str, ...] = ()  # every deposit that brought it documents, this one last
    contribution: Contribution | None = None  # its contribution due
    review: bool = False  # a person checks it before it is treated (pipeline/conflicts.py)

    def to_json(self) -> dict:
        return {
            "dossier_id": self.dossier_id,
            "siret": self.siret,
            "variant": self.variant,
            "status": self.status,
            "problems": [p.to_json() for p in self.problems],
            "documents": [d.to_json() for d in self.documents],
            "deposits": list(self.deposits),
            "contribution_due": self.contribution.text if self.contribution else None,
            "contribution_to_check": self.contribution.to_check if self.contribution else None,
            "review": self.review,
        }

    @classmethod
    def from_json(cls, data: dict) -> DossierReport:
        return cls(
            data["dossier_id"], data["siret"], data["variant"], data["status"],
            tuple(Problem.from_json(p) for p in data["problems"]),
            tuple(DossierDocument(d["name"], d["role"], d["deposit_id"]) for d in data["documents"]),
            tuple(data["deposits"]), _contribution(data), data.get("review", False),
        )  # fmt: skip

    @property
    def earlier(self) -> tuple[str, ...]:
        """The deposits before this one."""
        return self.deposits[:-1]


@dataclass(frozen=True)
class IntakeReport:
    """The outcome of one deposit: its verdict, what was read, where it went."""

    deposit_id: str
    status: Verdict
    file: str
    sha256: str
    received_at: str  # ISO 8601, with its offset
    variant: str | None = None
    siret: str | None = None
    region: str | None = None
    mailbox: str | None = None
    documents: tuple[Document, ...] = ()
    problems: tuple[Problem, ...] = ()
    signatory: str | None = None
    signature: Signature | None = None
    contribution: Contribution | None = None  # None: no due could be determined
    amount_paid: Decimal | None = None  # the purchase order's own total
    order_number: str | None = None
    code_service: str | None = None  # the form's "code service Chorus", or an address for invoices by mail
    email: str | None = None
    region_source: str | None = None  # how the region was found, for the regional team
    delivered_to: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    withheld: tuple[Withheld, ...] = ()
    archived_to: str | None = None  # where the original is kept when files were withheld
    dossiers: tuple[DossierReport, ...] = ()  # the dossiers it opened or updated (pipeline/judge.py)
    warnings: tuple[FormWarning, ...] = ()  # the form against the documents, the depositor's message
    review: bool = False  # "à vérifier": a person checks it before it is treated, whatever its status
    telephone: str | None = None  # the form's, the depositor's own words
    message: str | None = None  # the form's free text, the depositor's own words
    representative: str | None = None  # who represents the signatory, as the convention prints it

    def __post_init__(self) -> None:
        _coerce(self, "status", Verdict)

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    @property
    def due_text(self) -> str | None:
        return self.contribution.text if self.contribution else None

    @property
    def paid_text(self) -> str | None:
        return _maybe(self.amount_paid, format_eur)

    def to_json(self) -> dict:
        """The JSON form (schemas/intake-report.schema.json), keys in their documented order."""
        return {
            "deposit_id": self.deposit_id,
            "status": self.status.value,
            "variant": self.variant,
            "siret": self.siret,
            "region": self.region,
            "mailbox": self.mailbox,
            "documents": [d.to_json() for d in self.documents],
            "problems": [p.to_json() for p in self.problems],
            "file": self.file,
            "sha256": self.sha256,
            "received_at": self.received_at,
            "signatory": self.signatory,
            "signature": self.signature.to_json() if self.signature else None,
            "contribution_due": self.due_text,
            "contribution_to_check": self.contribution.to_check if self.contribution else None,
            "amount_paid": self.paid_text,
            "order_number": self.order_number,
            "code_service": self.code_service,
            "email": self.email,
            "region_source": self.region_source,
            "delivered_to": list(self.delivered_to),
            "ignored": list(self.ignored),
            "withheld": [w.to_json() for w in self.withheld],
            "archived_to": self.archived_to,
            "dossiers": [d.to_json() for d in self.dossiers],
            "warnings": [w.to_json() for w in self.warnings],
            "review": self.review,
            "telephone": self.telephone,
            "message": self.message,
            "representative": self.representative,
        }

    @classmethod
    def from_json(cls, data: dict) -> IntakeReport:
        """A report csac wrote (the journal's copy); keys added since an older csac take their defaults."""
        return cls(
            **{k: data[k] for k in PLAIN if k in data},
            documents=tuple(Document.from_json(d) for d in data["documents"]),
            problems=tuple(Problem.from_json(p) for p in data["problems"]),
            signature=_maybe(data.get("signature"), Signature.from_json),
            contribution=_contribution(data),
            amount_paid=_maybe(data.get("amount_paid"), parse_eur),
            delivered_to=tuple(data.get("delivered_to", ())),
            ignored=tuple(data.get("ignored", ())),
            withheld=tuple(Withheld(w["name"], w["reason"]) for w in data.get("withheld", ())),
            dossiers=tuple(DossierReport.from_json(d) for d in data.get("dossiers", ())),
            warnings=tuple(FormWarning(w["code"], w["message"]) for w in data.get("warnings", ())),
        )


def _contribution(data: dict) -> Contribution | None:
    """The due as stored: its text, and why it is to be checked when csac was not sure."""
    text, why = data.get("contribution_due"), data.get("contribution_to_check")
    if text is None:
        return None
    if why is not None:
        return Contribution(None, why)
    return Contribution(None if text == ON_QUOTE else parse_eur(text))
