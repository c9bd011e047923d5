"""What the regional desk asks of the dossiers, for one logged-in account: its region's, never another's.

The account decides what is seen (a `Scope`), never the request: every call here takes the scope and
answers None for a dossier of another region, as for one that does not exist, so that a page answers
404 and does not confirm that it exists. Lists, case files and decisions are the library's own
(DossierBook, casefile, decide), the same the `csac dossier` commands call; a decision is journalled
with the account's name. A document is found by its number in the dossier (never by a path from the
request) and served from the folder intake keeps documents in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .accounts import Account
from .casefile import CaseFile, case_file
from .dossiers import Documents, Dossier, DossierBook, Held, Query
from .listing import dossier_state_query
from .regions import RegionBook
from .textnorm import ascii_number

if TYPE_CHECKING:
    from .config import Config
    from .decide import Acceptance, Refusal, Resent
    from .intake import IntakeContext

PER_PAGE = 50
MAX_PAGE = 10_000  # a page number past any real list is brought back to this: no OFFSET of millions
SEARCH = 200  # characters of a search kept


@dataclass(frozen=True)
class Scope:
    """The dossiers one account may see: those of its region (by the name intake records), or every one."""

    account: Account
    region: str | None  # None: the head office, every region and the triage

    def sees(self, dossier: Dossier) -> bool:
        return self.region is None or dossier.region == self.region


def scope_of(account: Account, regions: RegionBook) -> Scope:
    """The account's scope; an account whose region left the regions file sees nothing (KeyError)."""
    return Scope(account, None if account.head_office else regions.by_id(account.region).name)


@dataclass(frozen=True)
class Filters:
    """What a person asks the list for, as typed in the page's form; None or empty: everything."""

    status: str | None = None  # complet, incomplet, accepté, refusé, à vérifier (or in English)
    variant: str | None = None
    older_than: int | None = None  # days since the dossier was opened, at least
    search: str | None = None  # a SIRET (spaces allowed), or a few letters of the signatory's name
    page: int = 1


@dataclass(frozen=True)
class Page:
    dossiers: tuple[Dossier, ...]
    total: int  # dossiers matching, on every page
    number: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _searched(text: str | None) -> tuple[str | None, str | None]:
    """(text, SIRET prefix): digits typed, spaces allowed, are the start of a SIRET (or a SIREN), found by
    its index among tens of thousands; anything else is looked for in the name, SIRET and number."""
    text = (text or "").strip()[:SEARCH]
    digits = "".join(text.split())
    if ascii_number(digits):
        return None, digits
    return text or None, None


def query_of(scope: Scope, filters: Filters, today: dt.date) -> Query:
    """The SQL criteria for the filters, the region forced by the scope whatever the filters say."""
    status, review = dossier_state_query(filters.status) if filters.status else (None, None)
    before = (today - dt.timedelta(days=filters.older_than - 1)).isoformat() if filters.older_than else None
    text, siret = _searched(filters.search)
    return Query(
        region=scope.region, status=status, review=review, variant=filters.variant or None,
        opened_before=before, text=text, siret_prefix=siret,
    )  # fmt: skip


def listed(journal: Path, scope: Scope, filters: Filters, today: dt.date, per_page: int = PER_PAGE) -> Page:
    """One page of the account's dossiers that match the filters, newest first."""
    number = min(max(1, filters.page), MAX_PAGE)
    found, total = DossierBook(journal).page(
        query_of(scope, filters, today), per_page, (number - 1) * per_page
    )
    return Page(tuple(found), total, number, per_page)


def visible(journal: Path, scope: Scope, dossier_id: str) -> Dossier | None:
    """The dossier, if the account may see it; None for another region's, as for an unknown one."""
    found = DossierBook(journal).get(dossier_id)
    return found if found and scope.sees(found) else None


def case_for(journal: Path, scope: Scope, dossier_id: str) -> CaseFile | None:
    """Everything `csac dossier show` prints, for a dossier the account may see."""
    found = visible(journal, scope, dossier_id)
    return case_file(journal, found) if found else None


@dataclass(frozen=True)
class Kept:
    """A document of a dossier, and where csac keeps its bytes."""

    held: Held
    path: Path


def document_for(journal: Path, documents: Path, scope: Scope, dossier_id: str, seq: int) -> Kept | None:
    """The dossier's document number `seq` (replaced ones included), if the account may see the dossier
    and the file is still kept; the path is made from the journal's sha256, inside `documents`."""
    if visible(journal, scope, dossier_id) is None:
        return None
    held = next((h for h in DossierBook(journal).documents(dossier_id, current=False) if h.seq == seq), None)
    if held is None or not _is_sha256(held.sha256):
        return None
    path = Documents(documents).path(held.sha256)
    return Kept(held, path) if path.is_file() else None


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def signature_crop(ctx: IntakeContext, scope: Scope, dossier_id: str, seq: int) -> bytes | None:
    """The PNG crop of the signature a scanned convention or bulletin shows, as the region's message
    attaches it; None when there is none, or the dossier is not the account's."""
    kept = document_for(ctx.workspace.journal, ctx.workspace.documents, scope, dossier_id, seq)
    return crop_of(ctx, kept.held) if kept else None


def crop_of(ctx: IntakeContext, held: Held) -> bytes | None:
    """A kept document's signature crop, the scan read again through the OCR cache (a fraction of a
    second; a digitally signed PDF has none). The same for every dossier holding the same bytes."""
    from .forward import signature_crops
    from .judge import read_kept

    if held.role not in ("convention", "bulletin"):
        return None
    doc = read_kept(ctx, Documents(ctx.workspace.documents), held)
    return next(iter(signature_crops([doc]).values()), None) if doc else None


# -- decisions, journalled with the account's name -----------------------------------------------------


def accept_as(
    ctx: IntakeContext, scope: Scope, dossier_id: str, note: str, seen: str | None = None
) -> Acceptance | None:
    """decide.accept, as `csac dossier accept` makes it, by the account; None if not its dossier. `seen`:
    the dossier's version (decide.version) as the account's page showed it (a dossier changed since is not decided)."""
    from .decide import accept

    if visible(ctx.workspace.journal, scope, dossier_id) is None:
        return None
    return accept(DossierBook(ctx.workspace.journal), ctx, dossier_id, scope.account.name, note, seen=seen)


def refuse_as(
    config: Config, scope: Scope, dossier_id: str, reason: str, seen: str | None = None
) -> Refusal | None:
    """decide.refuse, as `csac dossier refuse` makes it, by the account; None if not its dossier."""
    from .decide import refuse
    from .deliver import Courier

    journal = config.workspace.journal
    if visible(journal, scope, dossier_id) is None:
        return None
    return refuse(DossierBook(journal), Courier(config), dossier_id, scope.account.name, reason, seen)


def resend_as(config: Config, scope: Scope, dossier_id: str) -> Resent | None:
    """decide.resend_notice, as `csac dossier resend` makes it, by the account; None if not its dossier."""
    from .decide import resend_notice
    from .deliver import Courier
    from .journal import Journal

    journal = config.workspace.journal
    if visible(journal, scope, dossier_id) is None:
        return None
    return resend_notice(
        DossierBook(journal), Journal(journal), Courier(config), dossier_id, scope.account.name
    )
