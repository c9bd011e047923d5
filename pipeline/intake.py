"""Take in one deposit: read, classify, check, route, deliver, journal.

`assess` is a plain function of the deposit's bytes and form; `take_in`
adds the two side effects, delivery and the journal, in that order, so that
a deposit is only marked done once its messages are in their Maildirs.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import shutil
import unicodedata
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from . import ocr
from .archive import ArchiveRejected, Limits, read_archive
from .classify import Classified, classify, settle
from .config import Config
from .conflicts import Conflicts
from .conflicts import check as check_conflicts
from .deliver import Courier, archive, quarantine
from .dossiers import Brought, Documents, Dossier, DossierStatus, Update, judging
from .errors import DeliveryError
from .extract import extract
from .facts import Facts
from .form import Form, read_form, sidecar_for
from .forward import Parcel, dossier_parcel, parcel, signature_crops
from .journal import Journal
from .judge import Judge, Judged
from .notices import (
    depositor_notice,
    duplicate_notice,
    french_date,
    quarantine_notice,
    region_message,
    rejection_notice,
)
from .orders import read_order_amount
from .photos import assemble
from .problems import Catalogue, Finding, load_catalogue
from .reading import said_failure, said_os_error, system_error
from .regions import Region, RegionBook, load_regions
from .report import (
    Contribution,
    Document,
    DossierDocument,
    DossierReport,
    IntakeReport,
    Problem,
    Role,
    Signature,
    Verdict,
)
from .resah import Resah, load_resah
from .resources import Resources, Workspace
from .routing import Route
from .rules import Due, form_checks, readable
from .store import DepositState
from .tariff import MembershipTariff, load_membership
from .untrusted import printable, quoted
from .variants import Variant, load_variants


@dataclass(frozen=True)
class IntakeContext:
    """What every intake reads, loaded once."""

    resources: Resources
    workspace: Workspace
    variants: dict[str, Variant]
    regions: RegionBook
    catalogue: Catalogue
    resah: Resah  # its own SIRET and address, never the depositor's
    limits: Limits = Limits()
    config: Config = Config()
    membership: MembershipTariff | None = None  # the bulletin d'adhésion's fees and cut-off
    ocr_limits: ocr.Limits = ocr.Limits()  # what reading one deposit's scans may cost

    @classmethod
    def build(
        cls,
        resources: Resources,
        workspace: Workspace,
        limits: Limits | None = None,
        config: Config | None = None,
    ) -> IntakeContext:
        config = replace(config, workspace=workspace) if config else Config(workspace=workspace)
        return cls(
            resources, workspace, load_variants(resources), load_regions(resources.regions_file),
            load_catalogue(resources.problems_file), load_resah(resources.resah_file), limits or Limits(), config,
            load_membership(resources.membership_file),
        )  # fmt: skip


def _said(value):
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()


@dataclass(frozen=True)
class Deposit:
    name: str
    data: bytes
    form: Form | None
    received: dt.date | None = None  # the day it was received (the bulletin's 31 October rule); None: today

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def form_sha256(self) -> str:
        """What the form says, whatever its layout: a corrected form is a new submission.

        Values count as a person reads them: in NFC, without surrounding spaces or
        Windows line ends, and an empty field as no field.
        """
        if self.form is None:
            return ""
        said = {k: _said(v) for k, v in self.form.data.items() if _said(v) != ""}
        canonical = json.dumps([said, self.form.problems], sort_keys=True, ensure_ascii=False, default=repr)
        return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Assessment:
    status: Verdict
    findings: tuple[Finding, ...]
    documents: tuple[Classified, ...] = ()
    facts: Facts | None = None
    route: Route | None = None
    due: Due | None = None
    ignored: tuple[str, ...] = ()
    parcel: Parcel | None = None  # what the regional team receives
    dossiers: tuple[Judged, ...] = ()  # each dossier the deposit concerns, judged whole
    unmatched: tuple[tuple[Classified, str], ...] = ()  # documents no convention claims, and why


def load_deposit(path: Path, form_path: Path | None, ctx: IntakeContext) -> Deposit:
    """The dropped file and its form; an oversized file is read only as far as needed.

    Neither the form nor its lookup ever raises (pipeline/form.py). A name that is not
    UTF-8 (bytes from another system) is kept readable, "\ufffd" for each bad byte.
    """
    with path.open("rb") as fh:
        data = fh.read(ctx.limits.max_archive_bytes + 1)
    form_path = form_path or sidecar_for(path)
    name = os.fsencode(path.name).decode("utf-8", "replace")
    form = (
        read_form(form_path, ctx.resources.schema("deposit-form"), ctx.config.smtputf8) if form_path else None
    )
    return Deposit(name, data, form)


def _read(
    deposit: Deposit, ctx: IntakeContext, reading: ocr.Reading
) -> tuple[list[Classified], tuple[str, ...]]:
    opened = read_archive(deposit.data, ctx.limits)
    read = assemble([extract(m, ctx.limits, reading) for m in opened.members])
    docs = [classify(d, ctx.variants) for d in read]
    return settle(docs), opened.ignored


def assess(deposit: Deposit, ctx: IntakeContext) -> Assessment:
    """Every finding about a deposit and its dossiers, and where it goes. Writes nothing."""
    reading = ocr.Reading.start(ctx.ocr_limits, ctx.workspace.state / "ocr")  # the deposit's clock starts
    try:
        docs, ignored = _read(deposit, ctx, reading)
    except ArchiveRejected as exc:
        refused = ctx.catalogue.finding(exc.code, exc.reason, scope=exc.cause or None, name=exc.name)
        return Assessment(Verdict.REJECTED, (refused,))
    dangerous = [d for d in docs if d.doc.unsafe]
    if dangerous:
        detail = "; ".join(f"{quoted(d.doc.name, 80)} : {d.doc.error}" for d in dangerous)
        names = ", ".join(quoted(d.doc.name, 80) for d in dangerous)
        refused = ctx.catalogue.finding("archive_unsafe", detail, scope="dangerous", name=names)
        return Assessment(Verdict.REJECTED, (refused,), tuple(docs))
    judge = Judge(ctx, deposit.form, deposit.received or dt.date.today(), reading)
    plan = judge.plan(docs)
    if not plan.groups:  # nothing names a dossier: the deposit is judged alone, as a whole
        plan = judge.alone(docs)
    judged = judge.judge(plan)
    findings = _union(
        [
            *readable(docs, ctx.catalogue),
            *(f for j in judged for f in j.asked),
            *form_checks(deposit.form, ctx.catalogue),
        ]
    )
    first = judged[0]
    return Assessment(
        Verdict(ctx.catalogue.verdict(findings)), tuple(findings), tuple(docs), first.facts, first.route,
        first.due, tuple(ignored), parcel(deposit.name, deposit.data, tuple(docs), tuple(ignored)),
        tuple(j for j in judged if j.dossier_id), plan.unmatched,
    )  # fmt: skip


def _union(findings: list[Finding]) -> list[Finding]:
    """Each problem once, in the order found; region_unknown last, as a deposit always listed it."""
    once = list(dict.fromkeys(findings))
    return [f for f in once if f.code != "region_unknown"] + [f for f in once if f.code == "region_unknown"]


def _note(doc: Classified, ocr_said: str | None) -> str | None:
    if doc.doc.error:
        return f"mis de côté : {doc.doc.error}"
    if doc.role == Role.CONVENTION:
        return " ; ".join(
            filter(None, [doc.variant or "accord-cadre non reconnu", ocr_said, doc.doc.signature.detail])
        )
    if doc.role == Role.BULLETIN:
        return doc.doc.signature.detail
    return " ; ".join(filter(None, ["document scanné", ocr_said])) if doc.doc.scanned else None


def _ocr_notes(docs: tuple[Classified, ...]) -> dict[int, str | None]:
    """What OCR says of each scan; that it cannot run, and how to enable it, is said once, on the first."""
    notes, told = {}, False
    for d in docs:
        missing = d.doc.ocr is not None and d.doc.ocr.startswith("OCR indisponible")
        notes[id(d)] = "non lu (OCR indisponible)" if missing and told else d.doc.ocr
        told = told or missing
    return notes


def _document(d: Classified, unmatched: dict[int, str], ocr_said: str | None) -> Document:
    note = f"non rattaché à une convention : {unmatched[id(d)]}" if id(d) in unmatched else _note(d, ocr_said)
    return Document(d.doc.name, d.role, d.doc.kind, note, tuple(d.doc.active))


def _documents(a: Assessment) -> tuple[Document, ...]:
    unmatched, said = {id(u): why for u, why in a.unmatched}, _ocr_notes(a.documents)
    return tuple(_document(d, unmatched, said[id(d)]) for d in a.documents)


def report(
    deposit: Deposit, deposit_id: str, received_at: str, a: Assessment, ctx: IntakeContext
) -> IntakeReport:
    """The intake report, before delivery: its JSON form is schemas/intake-report.schema.json."""
    facts, where, form, region = a.facts, a.route, deposit.form, _region(a, ctx)
    found = (  # a rejected deposit is never treated: nothing to check before treating it
        Conflicts()
        if a.status == Verdict.REJECTED
        else check_conflicts(form, a.dossiers, facts, {f.code for f in a.findings}, ctx.variants, a.documents)
    )
    return IntakeReport(
        deposit_id=deposit_id,
        status=a.status,
        file=deposit.name,
        sha256=deposit.sha256,
        received_at=received_at,
        variant=facts.variant if facts and len(a.dossiers) < 2 else None,
        siret=facts.siret if facts else None,
        region=region.name if region else None,
        mailbox=region.mailbox if region else None,
        documents=_documents(a),
        problems=tuple(Problem(f.code, f.message, f.ask) for f in a.findings),
        signatory=(facts.signatory if facts else None) or (form.get("raison_sociale") if form else None),
        signature=Signature.of(facts.signature) if facts and facts.signature else None,
        contribution=_total_due(a.dossiers) if len(a.dossiers) > 1 else (a.due.stated() if a.due else None),
        amount_paid=_total_paid(a.dossiers)
        if len(a.dossiers) > 1
        else (facts.amount_paid if facts else None),
        order_number=(facts.order_number if facts else None)
        or (form.get("reference_commande") if form else None),
        code_service=form.get("code_service_chorus") if form else None,
        email=form.email if form else None,
        region_source=where.source if where else None,
        ignored=a.ignored,
        withheld=a.parcel.held if a.parcel else (),
        dossiers=tuple(_dossier(j, deposit_id, found) for j in a.dossiers),
        warnings=found.warnings,
        review=found.review,
        telephone=form.get("telephone") if form else None,
        message=form.get("message") if form else None,
        representative=facts.representative if facts and len(a.dossiers) < 2 else None,
    )


def _total_due(dossiers: tuple[Judged, ...]) -> Contribution:
    """The dues of several conventions: their sum, unless one of them is not a sure figure."""
    unsure = [j.key for j in dossiers if not (j.due and j.due.certain)]
    if unsure:
        return Contribution(None, f"contribution non déterminée pour {', '.join(unsure)}")
    return Contribution(sum((j.due.amount or Decimal(0) for j in dossiers), Decimal(0)))


def _total_paid(dossiers: tuple[Judged, ...]) -> Decimal | None:
    """What the deposit's orders add up to, each order once however many conventions it pays."""
    orders = {id(d): d for j in dossiers for d in j.brought if d.role == Role.PURCHASE_ORDER}
    amounts = [read_order_amount(d.doc.text).value for d in orders.values()]
    return sum(amounts, Decimal(0)) if amounts and None not in amounts else None


def _dossier(j: Judged, deposit_id: str, found: Conflicts) -> DossierReport:
    return DossierReport(
        j.dossier_id, j.facts.siret, j.variant, j.status.value,
        tuple(Problem(f.code, f.message, f.ask) for f in _union(list(j.findings))),
        tuple(DossierDocument(d.doc.name, d.role, o or deposit_id) for d, o in zip(j.docs, j.origins, strict=True)),
        (*j.deposits, deposit_id) if deposit_id not in j.deposits else j.deposits,
        j.due.stated() if j.due else None, j.dossier_id in found.dossiers,
    )  # fmt: skip


def _region(a: Assessment, ctx: IntakeContext) -> Region | None:
    """Its region's, else triage's; a rejected deposit goes to no region."""
    if a.route and a.route.region:
        return a.route.region
    return None if a.status == Verdict.REJECTED else triage(ctx)


def _duplicate(
    deposit: Deposit, deposit_id: str, received_at: str, original: dict, ctx: IntakeContext
) -> IntakeReport:
    finding = ctx.catalogue.finding(
        "duplicate", f"{french_date(original['received_at'])} (dépôt n° {original['id']})"
    )
    out = report(deposit, deposit_id, received_at, Assessment(Verdict.REJECTED, (finding,)), ctx)
    return replace(out, variant=original["variant"], siret=original["siret"])


def _tell_duplicate(out: IntakeReport, original: dict, ctx: IntakeContext, journal: Journal) -> list[str]:
    """The depositor learns in one line that this was already received, and under which number."""
    outgoing = duplicate_notice(out, original)
    if outgoing is None:
        return []
    courier = Courier(ctx.config)
    delivered = courier.send(outgoing, out.deposit_id)
    journal.event(out.deposit_id, courier.verb, outgoing.message["To"])
    courier.flush()
    return [delivered]


def triage(ctx: IntakeContext) -> Region:
    """The triage mailbox: the configuration's, else the regions file's."""
    configured = ctx.config.triage
    return replace(ctx.regions.triage, mailbox=configured) if configured else ctx.regions.triage


def _reason(out: IntakeReport) -> str:
    """Why a deposit is in quarantine: reason.txt, one problem a line."""
    return "\n".join(f"{p.code} : {p.message}" for p in out.problems)


def _quarantine(
    source: Path, deposit: Deposit, out: IntakeReport, ctx: IntakeContext, journal: Journal
) -> IntakeReport:
    folder = quarantine(
        ctx.workspace.quarantine / out.deposit_id,
        source,
        deposit.name,
        _reason(out),
        out,
        ctx.limits.max_archive_bytes,
    )
    journal.event(out.deposit_id, DepositState.QUARANTINED, str(folder))
    notices = (
        quarantine_notice(out, ctx.config.quarantine, str(folder)) if ctx.config.quarantine else None,
        rejection_notice(out),
    )
    courier, sent = Courier(ctx.config), [n for n in notices if n]
    for notice in sent:
        courier.send(notice, out.deposit_id)
        journal.event(out.deposit_id, courier.verb, notice.message["To"])
    if sent:
        courier.flush()
    return replace(out, delivered_to=(str(folder),))


def _completed(a: Assessment, out: IntakeReport) -> tuple[Parcel, ...]:
    """Each dossier this deposit completed after earlier ones: all its documents, for the regional team,
    each under the number of the deposit that brought it; never again once it was complete, nor while it
    is under review (a person accepts it first)."""
    views = {v.dossier_id: v for v in out.dossiers}
    return tuple(
        dossier_parcel(
            f"dossier-{j.dossier_id}.zip",
            [(o or out.deposit_id, d) for d, o in zip(j.docs, j.origins, strict=True)],
        )
        for j in a.dossiers
        if views[j.dossier_id].status == "complete"
        and not views[j.dossier_id].review
        and views[j.dossier_id].earlier
        and not (j.earlier and j.earlier.status == DossierStatus.COMPLETE)
    )


def _crops(a: Assessment) -> dict[str, bytes]:
    """The signature crops the region sees: this deposit's scans', and those its dossiers kept from before
    (read again from the OCR cache), for a signature seen on an earlier deposit's scan is still to check."""
    return signature_crops([*a.documents, *(d for j in a.dossiers for d in j.docs)])


def _deliver(
    source: Path,
    deposit: Deposit,
    out: IntakeReport,
    parcels: tuple[Parcel, ...],
    ctx: IntakeContext,
    journal: Journal,
    crops: dict[str, bytes] | None = None,
) -> IntakeReport:
    """The report once delivered: where its messages went, and where its original is kept if need be."""
    sent = parcels[0]
    if out.status == Verdict.REJECTED:
        return _quarantine(source, deposit, out, ctx, journal)
    if not sent.original:  # files were held back: the whole deposit is kept for audit
        kept = archive(ctx.workspace.archive / out.deposit_id, source, deposit.name)
        out = replace(out, archived_to=str(kept))
        journal.event(out.deposit_id, DepositState.ARCHIVED, out.archived_to)
    delivered, courier = [], Courier(ctx.config)
    for outgoing in (region_message(out, sent, parcels[1:], crops), depositor_notice(out)):
        if outgoing:
            delivered.append(courier.send(outgoing, out.deposit_id))
            journal.event(out.deposit_id, courier.verb, outgoing.message["To"])
    courier.flush()
    return replace(out, delivered_to=tuple(delivered))


def source_key(path: Path) -> str:
    """One dropped file, across renames: device, inode and modification time."""
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}:{st.st_mtime_ns}"


def take_in(
    source: Path,
    ctx: IntakeContext,
    form_path: Path | None = None,
    name: str | None = None,
    claimed: bool = False,
) -> IntakeReport:
    """Process one deposit end to end and return its report.

    `claimed` is the watcher's: the file was claimed from the inbox, and if
    this very file was already taken in (a crash after the journal), its
    report is returned again rather than a duplicate recorded.
    """
    deposit = load_deposit(source, form_path, ctx)
    if name:
        deposit = replace(deposit, name=name)
    journal = Journal(ctx.workspace.journal)
    opened = journal.open(
        deposit.sha256, deposit.name, source_key(source) if claimed else None, deposit.form_sha256
    )
    if opened.finished:
        return opened.finished
    if opened.duplicate_of:
        out = _duplicate(deposit, opened.deposit_id, opened.received_at, opened.duplicate_of, ctx)
        out = replace(out, delivered_to=tuple(_tell_duplicate(out, opened.duplicate_of, ctx, journal)))
        journal.finish(out)
        return out
    deposit = replace(deposit, received=dt.datetime.fromisoformat(opened.received_at).date())
    with judging(ctx.workspace.state):  # two intakes never judge one dossier at once
        return _take(source, deposit, opened, ctx, journal)


def _take(source: Path, deposit: Deposit, opened, ctx: IntakeContext, journal: Journal) -> IntakeReport:
    """Judge, deliver, then finish: the deposit and its dossiers are written in one transaction, last."""
    assessment = assess(deposit, ctx)
    journal.event(opened.deposit_id, DepositState.ASSESSED, assessment.status)
    out = report(deposit, opened.deposit_id, opened.received_at, assessment, ctx)
    try:
        updates = _updates(assessment, out, deposit, ctx)
        sent = assessment.parcel or Parcel(deposit.name, deposit.data)
        parcels = (sent, *_completed(assessment, out))
        out = _deliver(source, deposit, out, parcels, ctx, journal, _crops(assessment))
    except OSError as exc:
        journal.event(opened.deposit_id, DepositState.DELIVERY_FAILED, said_os_error(exc))
        raise DeliveryError(
            f"dépôt {opened.deposit_id} : remise impossible dans {ctx.workspace.outbox} ({system_error(exc)})"
        ) from exc
    journal.finish(out, updates)
    return out


def _updates(a: Assessment, out: IntakeReport, deposit: Deposit, ctx: IntakeContext) -> tuple[Update, ...]:
    """What the deposit does to each dossier; the documents it brings are kept first (once each)."""
    kept = Documents(ctx.workspace.documents)
    name = deposit.form.get("raison_sociale") if deposit.form else None
    return tuple(
        Update(
            Dossier(
                view.dossier_id, view.siret, view.variant, j.status, view.problems,
                j.facts.signatory or name, j.route.region.name if j.route.region else None,
                j.route.region.mailbox if j.route.region else None, out.email,
                j.due.amount if j.due and j.due.certain else None, j.paid, review=view.review,
            ),
            tuple(
                Brought(d.role, name, kept.keep(data), purpose)
                for d, purpose in zip(j.docs, j.purposes, strict=True) if any(d is b for b in j.brought)
                for name, data in d.doc.files
            ),
        )
        for j, view in zip(a.dossiers, out.dossiers, strict=True)
    )  # fmt: skip


SET_ASIDE = "dépôt mis de côté pour examen"  # what the depositor's subject says of a deposit set aside
FORM_KEPT_BYTES = 1 << 20  # a form up to this size is copied beside its deposit in quarantine
UNREAD = (errno.EACCES, errno.EPERM, errno.EIO)  # a file csac may not read: set aside without a copy


def set_aside(
    source: Path, ctx: IntakeContext, why: str, form_path: Path | None = None, name: str | None = None
) -> IntakeReport:
    """The last resort for a deposit csac failed on again and again: kept in quarantine for a person.

    Only its bytes are read, and its form only for whom to tell (it is often what failed); a
    file csac may not read at all is set aside too, a note standing for it. It gets a final
    outcome, rejected with archive_corrupt (internal); the quarantine mailbox and the
    depositor are told.
    """
    data, unread = _bytes_of(source, ctx)
    deposit = Deposit(printable(name or source.name), data, _form_if_readable(form_path, ctx))
    journal = Journal(ctx.workspace.journal)
    opened = journal.open(deposit.sha256, deposit.name, source_key(source))
    if opened.finished:
        return opened.finished
    finding = ctx.catalogue.finding("archive_corrupt", why, scope="internal")
    out = report(
        deposit, opened.deposit_id, opened.received_at, Assessment(Verdict.REJECTED, (finding,)), ctx
    )
    try:
        folder = _keep(source, form_path, out, ctx, unread)
        journal.event(out.deposit_id, DepositState.QUARANTINED, str(folder))
        _alert(out, folder, ctx, journal)
    except OSError as exc:
        raise DeliveryError(
            f"dépôt {out.deposit_id} : mise en quarantaine impossible dans {ctx.workspace.quarantine} ({system_error(exc)})"
        ) from exc
    out = replace(out, delivered_to=(str(folder),))
    journal.finish(out)
    return out


def _bytes_of(source: Path, ctx: IntakeContext) -> tuple[bytes, OSError | None]:
    """The deposit's bytes; none, and why, when csac may not read it (another user's file)."""
    try:
        with source.open("rb") as fh:
            return fh.read(ctx.limits.max_archive_bytes + 1), None
    except OSError as exc:
        if exc.errno not in UNREAD:
            raise
        return b"", exc


def _keep(
    source: Path, form_path: Path | None, out: IntakeReport, ctx: IntakeContext, unread: OSError | None
) -> Path:
    """The deposit, untouched, with the reason and the report; its form too, when it is of a sane size."""
    folder = ctx.workspace.quarantine / out.deposit_id
    if unread is None:
        quarantine(folder, source, out.file, _reason(out), out, ctx.limits.max_archive_bytes)
    else:
        _stand_in(folder, out, unread, ctx)
    if form_path is not None:
        _keep_form(folder, form_path, ctx)
    return folder


def _stand_in(folder: Path, out: IntakeReport, unread: OSError, ctx: IntakeContext) -> None:
    """For a deposit csac may not read: a note in its place, saying why and where the original stays."""
    ctx.workspace.quarantine.mkdir(parents=True, exist_ok=True, mode=0o700)
    note = ctx.workspace.quarantine / f".{out.deposit_id}.note"
    note.write_text(
        f"Le fichier déposé « {out.file} » n'a pas pu être lu par csac ({system_error(unread)}) : "
        f"il n'est pas copié ici. L'original est gardé tel quel dans {ctx.workspace.done}. Vérifiez son "
        "propriétaire et ses droits, puis déposez-le à nouveau.\n",
        encoding="utf-8",
    )
    try:
        quarantine(folder, note, "fichier-illisible.txt", _reason(out), out)
    finally:
        note.unlink(missing_ok=True)


def _keep_form(folder: Path, form_path: Path, ctx: IntakeContext) -> None:
    """A copy of the form, or a line in reason.txt saying why there is none and where it is."""
    size, why = form_path.stat().st_size, None
    if size > FORM_KEPT_BYTES:
        why = f"{size} octets"
    else:
        kept = folder / f"formulaire{form_path.suffix.lower()}"
        try:
            shutil.copyfile(form_path, kept)
            kept.chmod(0o600)
        except OSError as exc:
            if exc.errno not in UNREAD or not _is_about(exc, form_path):
                raise
            why = f"illisible par csac : {system_error(exc)}"
    if why:
        with (folder / "reason.txt").open("a", encoding="utf-8") as fh:
            fh.write(
                f"Formulaire non copié ({why}) : il est gardé avec le dépôt dans {ctx.workspace.done}.\n"
            )


def _is_about(exc: OSError, path: Path) -> bool:
    """Whether the error names this very file (not the copy being written)."""
    return exc.filename is not None and os.fsdecode(exc.filename) == str(path)


def _form_if_readable(form_path: Path | None, ctx: IntakeContext) -> Form | None:
    """The form of a deposit set aside, for the depositor's address; none if it fails again."""
    if form_path is None:
        return None
    try:
        return read_form(form_path, ctx.resources.schema("deposit-form"), ctx.config.smtputf8)
    except Exception:  # the last resort must not fail on what may have made the deposit fail
        return None


def _alert(out: IntakeReport, folder: Path, ctx: IntakeContext, journal: Journal) -> None:
    """Tell the quarantine mailbox and the depositor; a notice that cannot be built is journalled,
    never fatal."""
    quarantined = ctx.config.quarantine
    builds = [lambda: quarantine_notice(out, quarantined, str(folder))] if quarantined else []
    builds.append(lambda: rejection_notice(out, SET_ASIDE))
    courier, sent = Courier(ctx.config), False
    for build in builds:
        try:
            notice = build()
            if notice is None:
                continue
            courier.send(notice, out.deposit_id)
        except OSError:
            raise
        except Exception as exc:
            journal.event(out.deposit_id, DepositState.ALERT_FAILED, printable(said_failure(exc), 300))
            continue
        journal.event(out.deposit_id, courier.verb, notice.message["To"])
        sent = True
    if sent:
        courier.flush()
