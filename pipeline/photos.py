"""Photos of one document's pages, assembled into that document before it is classified.

A phone sends a convention as six photos: convention_p1.jpg … convention_p6.jpg, or
IMG_0412.jpg … in any order. Each photo is read alone by OCR; here the photos of one document
become one document, its pages in order, so the convention is recognised, checked and routed as
a scanned PDF is. The page's own footer ("Page 2 sur 6"), read by OCR, orders the pages and wins
over the name; without one, the number the name ends with does. Nothing is merged on a guess: only
photos OCR read, a footer's pages only with pages of the same "sur M", a name's only with the same
stem, and never past a page that reads as the first page of another kind of document (an order's
title among a convention's pages). Every photo stays a file of its own in what is kept and
forwarded (`Extracted.parts`); the report shows one document, and says which pages are missing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from .classify import content_role
from .extract import Extracted, scan_signature
from .report import Role
from .signature import NONE, SignatureCheck
from .textnorm import fold, normalise

FOOTER_RE = re.compile(r"\bpage\s*(\d{1,3})\s*(?:sur|/)\s*(\d{1,3})\b")
# the name's stem, an optional page marker, and the number it ends with: convention_p1, scan 2, IMG_0412
NAME_RE = re.compile(r"^(?P<stem>.*?)[\s_.-]*(?P<marker>p|pg|page)?[\s_.-]*(?P<number>\d{1,6})$")
MAX_OF = 200  # a footer saying more pages than this is a misread


@dataclass(frozen=True)
class Photo:
    """One photo of a page, with what places it: its name's stem and number, and its footer."""

    doc: Extracted
    stem: str | None  # the name without the number it ends with; None when it ends with none
    number: int | None  # the number the name ends with
    marked: bool  # the name says it is a page number ("p2", "page 2"), not a camera's counter
    page: int | None  # N of the footer "Page N sur M"
    of: int | None  # M

    @classmethod
    def of_doc(cls, doc: Extracted) -> Photo:
        path = PurePosixPath(doc.name)
        named = NAME_RE.match(fold(str(path.with_suffix(""))))
        footer = footer_of(doc.text)
        return cls(
            doc,
            named["stem"] if named else None,
            int(named["number"]) if named else None,
            bool(named and named["marker"]),
            footer[0] if footer else None,
            footer[1] if footer else None,
        )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.doc.data).hexdigest()

    @property
    def order(self) -> tuple:
        """Name order, numbers as numbers: p10 after p9, "IMG_0002 (1).jpg" after "IMG_0002.jpg"."""
        bare = fold(str(PurePosixPath(self.doc.name).with_suffix("")))
        return tuple((1, int(c), "") if c.isdigit() else (0, 0, c) for c in re.split(r"(\d+)", bare) if c)


@dataclass
class Group:
    """Photos found to be one document's pages: page number → photo, and the copies of a page."""

    pages: dict[int, Photo]
    of: int | None  # the footer's M; None when the order is the names'
    by_footer: bool
    duplicates: list[tuple[Photo, int]]  # a photo, and the page it repeats

    @property
    def photos(self) -> list[Photo]:
        return [self.pages[n] for n in sorted(self.pages)] + [p for p, _ in self.duplicates]


def footer_of(text: str) -> tuple[int, int] | None:
    """The last "Page N sur M" (or "page N/M") of a page's text: its footer, when it is a sane one."""
    found = [(int(n), int(m)) for n, m in FOOTER_RE.findall(fold(text))]
    found = [(n, m) for n, m in found if 1 <= n <= m <= MAX_OF]
    return found[-1] if found else None


def assemble(docs: list[Extracted]) -> list[Extracted]:
    """The deposit's documents, each set of photos of one document's pages made that one document, at
    the place of its first photo; every other document as it was."""
    photos = [Photo.of_doc(d) for d in docs if _is_photo(d)]
    footed = _by_footer(photos)
    placed = {id(p.doc) for g in footed for p in g.photos}
    groups = [
        g for g in footed + _by_name([p for p in photos if id(p.doc) not in placed]) if len(g.pages) > 1
    ]
    _copies(groups, photos)
    taken = {id(p.doc) for g in groups for p in g.photos}
    first = {id(next(d for d in docs if id(d) in {id(p.doc) for p in g.photos})): g for g in groups}
    out = []
    for doc in docs:
        if id(doc) in first:
            out.append(_merged(first[id(doc)]))
        elif id(doc) not in taken:
            out.append(doc)
    return out


def _copies(groups: list[Group], photos: list[Photo]) -> None:
    """A photo left alone that is the very same file as a page of a group: a copy of that page."""
    pages = {p.sha256: (g, n) for g in groups for n, p in g.pages.items()}
    taken = {id(p.doc) for g in groups for p in g.photos}
    for photo in photos:
        if id(photo.doc) not in taken and photo.sha256 in pages:
            group, page = pages[photo.sha256]
            group.duplicates.append((photo, page))


def _is_photo(doc: Extracted) -> bool:
    """A one-page image OCR read: a photo that may be a page of a larger document. Without OCR nothing
    says what a photo is, so none is merged (intake treats them as before)."""
    return doc.kind == "image" and len(doc.scan_pages) == 1 and doc.scan_pages[0].ocr


def _role(photo: Photo) -> Role | None:
    """What kind of document the page opens, when it opens one (a title, a form, a table)."""
    return content_role(photo.doc)


# --- by the footer ------------------------------------------------------------------------------


def _by_footer(photos: list[Photo]) -> list[Group]:
    """Pages saying "sur M" (M ≥ 2), grouped by M in name order; a page number seen again opens a new
    group when a second document follows (two or more pages), else it is a copy of the page. Then the
    photos whose footer OCR missed join, when their name's number places them among the group's pages."""
    groups: list[Group] = []
    for of in sorted({p.of for p in photos if p.of and p.of > 1}):
        found: list[Group] = []
        for photo in sorted((p for p in photos if p.of == of), key=lambda p: p.order):
            _place(found, photo, of)
        main, *others = found
        for other in others:
            if len(other.pages) > 1:
                groups.append(other)
            else:  # one page seen twice: a second photo of it, not a second document
                main.duplicates += [(p, n) for n, p in other.pages.items()]
        groups.append(main)
    unplaced = [p for p in photos if not p.of]
    for group in groups:
        _join_by_name(group, unplaced)
    return groups


def _place(groups: list[Group], photo: Photo, of: int) -> None:
    for group in groups:
        same = group.pages.get(photo.page)
        if same is not None and same.sha256 == photo.sha256:  # the very same photo twice
            group.duplicates.append((photo, photo.page))
            return
        if same is None:
            group.pages[photo.page] = photo
            return
    groups.append(Group({photo.page: photo}, of, True, []))


def _join_by_name(group: Group, unplaced: list[Photo]) -> None:
    """A footer-less photo joins the group when the group's named pages are all offset alike from
    their names' numbers (p1 is page 1, or IMG_0412 is page 1), its number lands on a page not there,
    and it reads as no other kind of document."""
    named = [p for p in group.pages.values() if p.number is not None]
    stems = {p.stem for p in named}
    offsets = {p.page - p.number for p in named}
    if len(stems) != 1 or len(offsets) != 1:
        return
    [stem], [offset] = stems, offsets
    kind = _group_role(group.pages[n] for n in sorted(group.pages))
    for photo in list(unplaced):
        page = photo.number + offset if photo.number is not None else None
        if photo.stem != stem or page is None or not 1 <= page <= group.of or page in group.pages:
            continue
        if _role(photo) not in (None, kind):
            continue
        group.pages[page] = photo
        unplaced.remove(photo)


def _group_role(photos) -> Role | None:
    return next((r for p in photos if (r := _role(p)) is not None and r != Role.OTHER), None)


# --- by the name --------------------------------------------------------------------------------


def _by_name(photos: list[Photo]) -> list[Group]:
    """Footer-less photos of one stem, in their names' order, split where a page reads as the start of
    another kind of document; a page marker in the names ("p1", "page 2") gives the page numbers."""
    free = [p for p in photos if not p.of and p.stem is not None]
    groups = []
    for stem in dict.fromkeys(p.stem for p in sorted(free, key=lambda p: p.order)):
        run: list[Photo] = []
        kind = None
        for photo in sorted((p for p in free if p.stem == stem), key=lambda p: p.order):
            role = _role(photo)
            if run and role not in (None, Role.OTHER, kind) and kind is not None:
                groups.append(_named_group(run))
                run, kind = [], None
            run.append(photo)
            kind = kind or (role if role != Role.OTHER else None)
        groups.append(_named_group(run))
    return groups


def _named_group(run: list[Photo]) -> Group:
    marked = all(p.marked for p in run)
    group = Group({}, None, False, [])
    for position, photo in enumerate(run, start=1):
        page = photo.number if marked else position
        same = group.pages.get(page)
        if same is not None:
            group.duplicates.append((photo, page))
        else:
            group.pages[page] = photo
    return group


# --- the document they make ---------------------------------------------------------------------


def _merged(group: Group) -> Extracted:
    """The photos as one document: its pages in order, its files every photo, its note what is missing."""
    order = sorted(group.pages)
    photos = [group.pages[n] for n in order]
    pages = tuple(replace(p.doc.scan_pages[0], number=n) for n, p in zip(order, photos, strict=True))
    names = sorted((p for p in group.photos), key=lambda p: p.order)
    name = f"{names[0].doc.name} … {names[-1].doc.name}"
    count = group.of or max(order)
    errors = [f"{p.doc.name} : {p.doc.error}" for p in photos if p.doc.error]
    return Extracted(
        name,
        "image",
        normalise("\n".join(p.doc.text for p in photos)),
        pages=count,
        scanned_pages=count,
        signature=scan_signature(SignatureCheck(NONE), pages),
        error=errors[0][:300] if errors else None,
        active=tuple(dict.fromkeys(code for p in group.photos for code in p.doc.active)),
        data=photos[0].doc.data,
        ocr=_note(group, order, count),
        scan_pages=pages,
        parts=tuple((p.doc.name, p.doc.data) for p in group.photos),
    )


def _note(group: Group, order: list[int], count: int) -> str:
    """In French: how many photos were read and put in which order, the pages missing, the copies."""
    how = f"des mentions « Page N sur {group.of} »" if group.by_footer else "de leurs noms"
    said = [f"lu par OCR : {len(order)} photos assemblées en un document, dans l'ordre {how}"]
    missing = [n for n in range(1, count + 1) if n not in group.pages]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        whole = f"sur {count}" if group.by_footer else "d'après les noms des photos"
        said.append(f"page{plural} {_listed(missing)} ({whole}) manquante{plural}")
    for photo, page in group.duplicates:
        said.append(f"{photo.doc.name} : seconde photo de la page {page}, gardée mais non lue comme page")
    return " ; ".join(said)


def _listed(numbers: list[int]) -> str:
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} et {words[-1]}"
