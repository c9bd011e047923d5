"""What the regional team receives: only documents csac read, never a program.

The deposited ZIP goes as it is when every file in it was read as a
document, under a name that opens it as one. Otherwise a new ZIP is made of
the documents alone (PDF, Word, Excel or image files, named as such), and
the files held back are named in the message; the original is kept for
audit. A PDF named `.html`, or a Word file named `.zip` that hides a
program, is held back: the name decides what the reader's machine runs. Files csac ignores (dot-files, __MACOSX) could hide anything,
so they also make the original stay behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from .active import EXECUTABLE
from .archive import zip_of
from .classify import BULLETIN, CONVENTION, Classified
from .report import Withheld

SUFFIXES = {  # the names under which each kind csac reads opens as a document, and nothing else
    "pdf": (".pdf",),
    "docx": (".docx", ".docm", ".dotx", ".dotm"),
    "xlsx": (".xlsx", ".xlsm", ".xltx", ".xltm"),
    "image": (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".heic", ".heif"),
}
KIND_FR = {"pdf": "PDF", "docx": "Word", "xlsx": "Excel", "image": "image"}


@dataclass(frozen=True)
class Parcel:
    """The attachment for the regional team."""

    filename: str
    data: bytes
    held: tuple[Withheld, ...] = ()
    active: tuple[str, ...] = ()  # the names of the documents in it that could run something when opened

    @property
    def original(self) -> bool:
        return not self.held


def crop_name(document: str) -> str:
    """The name of a scanned document's signature crop, as the message attaches it and its text says it."""
    stem = re.sub(r"[^\w.-]+", "_", PurePosixPath(document).stem).strip("._")[:60]
    return f"signature-{stem or 'document'}.png"


def signature_crops(docs: list[Classified]) -> dict[str, bytes]:
    """The crops of the signatures only a scan shows (pipeline/ink.py) on what is signed (a convention, a
    bulletin), by name: each document's once."""
    found: dict[str, bytes] = {}
    for d in docs:
        if d.role in (CONVENTION, BULLETIN) and d.doc.signature.crop and d.doc.signature.signed:
            found.setdefault(crop_name(d.doc.name), d.doc.signature.crop)
    return found


def _suffix(name: str) -> str:
    base = PurePosixPath(name).name.lower().rstrip(" .")
    return "." + base.rsplit(".", 1)[1] if "." in base else ""


def _why_held(doc: Classified) -> str | None:
    if EXECUTABLE in doc.doc.active:
        return "programme ou script exécutable, jamais transmis"
    if doc.doc.error:
        return "illisible, mis de côté"
    if doc.doc.kind not in SUFFIXES:
        return "format non lu par csac (ni PDF, ni Word, ni Excel, ni image)"
    for name, _ in doc.doc.files:  # each photo of a document's pages under its own name
        suffix = _suffix(name)
        if suffix and suffix not in SUFFIXES[doc.doc.kind]:  # a PDF named .html opens in a browser
            return f"son nom (« {suffix} ») ne correspond pas à son contenu ({KIND_FR[doc.doc.kind]})"
    return None


def dossier_parcel(name: str, docs: list[tuple[str, Classified]]) -> Parcel:
    """A dossier's documents, each under the folder of the deposit that brought it: only those a deposit
    would forward (never a program, nor a file whose name would open it as something else)."""
    held = tuple(Withheld(f"{folder}/{d.doc.name}", why) for folder, d in docs if (why := _why_held(d)))
    kept = [(folder, d) for folder, d in docs if not _why_held(d)]
    active = tuple(f"{folder}/{d.doc.name}" for folder, d in kept if d.doc.active)
    files = [(f"{folder}/{n}", data) for folder, d in kept for n, data in d.doc.files]
    return Parcel(name, zip_of(files), held, active)


def parcel(name: str, data: bytes, docs: tuple[Classified, ...], ignored: tuple[str, ...]) -> Parcel:
    held = [Withheld(d.doc.name, why) for d in docs if (why := _why_held(d))]
    held += [Withheld(n, "fichier caché ou système, ignoré") for n in ignored]
    if not held:
        return Parcel(name, data)
    kept = [file for d in docs if not _why_held(d) for file in d.doc.files]
    stem = PurePosixPath(name).stem
    return Parcel(f"{stem} - documents lus.zip", zip_of(kept), tuple(held))
