"""What the regional team receives: only documents csac read, never a program.

The deposited ZIP goes as it is when every file in it was read as a
document. Otherwise a new ZIP is made of the documents alone (the
convention, the annex, the order, and other PDF, Office or image files),
and the files held back are named in the message; the original is kept
for audit. Files csac ignores (dot-files, __MACOSX) could hide anything,
so they also make the original stay behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from .active import EXECUTABLE
from .archive import zip_of
from .classify import Classified

READ_KINDS = ("pdf", "docx", "xlsx", "image")
DOCUMENT_ROLES = ("convention", "annex", "purchase_order")


@dataclass(frozen=True)
class Held:
    name: str
    reason: str  # French, for the regional team


@dataclass(frozen=True)
class Parcel:
    """The attachment for the regional team."""

    filename: str
    data: bytes
    held: tuple[Held, ...] = ()

    @property
    def original(self) -> bool:
        return not self.held


def _why_held(doc: Classified) -> str | None:
    if EXECUTABLE in doc.doc.active:
        return "programme exécutable, jamais transmis"
    if doc.doc.error:
        return "illisible, mis de côté"
    if doc.role in DOCUMENT_ROLES or doc.doc.kind in READ_KINDS:
        return None
    return "format non lu par csac (ni PDF, ni Word, ni Excel, ni image)"


def parcel(name: str, data: bytes, docs: tuple[Classified, ...], ignored: tuple[str, ...]) -> Parcel:
    held = [Held(d.doc.name, why) for d in docs if (why := _why_held(d))]
    held += [Held(n, "fichier caché ou système, ignoré") for n in ignored]
    if not held:
        return Parcel(name, data)
    kept = [(d.doc.name, d.doc.data) for d in docs if not _why_held(d)]
    stem = PurePosixPath(name).stem
    return Parcel(f"{stem} - documents lus.zip", zip_of(kept), tuple(held))
