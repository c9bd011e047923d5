"""Render a signatory's package: conventions, annexes and the bulletin.

Everything is rendered in memory first and written only when every document
of the package succeeded, each file through a temporary name and an atomic
rename: a failure never leaves half a package behind.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import BinaryIO

from .annex import CompiledAnnex, compile_annex
from .context import bulletin_context, regions_context, signatory_context, variant_context
from .ooxml import CompiledPackage, compile_docx
from .regions import RegionBook, load_regions
from .request import Request, check_variants
from .resah import Resah, load_resah
from .resources import KINDS, Resources
from .tariff import MembershipTariff, load_membership
from .variants import Variant


@dataclass(frozen=True)
class Document:
    """One rendered file, not yet written."""

    kind: str  # convention, annex or bulletin
    variant: str | None
    siret: str
    relpath: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def manifest_entry(self) -> dict:
        return {
            "kind": self.kind,
            "variant": self.variant,
            "siret": self.siret,
            "path": self.relpath,
            "sha256": self.sha256,
            "bytes": len(self.data),
        }


@dataclass(frozen=True)
class Renderer:
    """Templates compiled once per variant; render() is then cheap."""

    variants: tuple[Variant, ...]
    regions: RegionBook
    membership: MembershipTariff
    conventions: dict[str, CompiledPackage]
    bulletin: CompiledPackage
    annexes: dict[str, CompiledAnnex]
    resah: Resah  # the other party: sample deposits print it as their orders' supplier

    @classmethod
    def build(cls, resources: Resources, variants: list[Variant]) -> Renderer:
        regions = load_regions(resources.regions_file)
        conventions = {
            v.id: compile_docx(resources.convention_template, variant_context(v, regions), ("s",))
            for v in variants
        }
        bulletin = compile_docx(resources.bulletin_template, regions_context(regions), ("b",))
        membership = load_membership(resources.membership_file)
        annexes = {v.id: compile_annex(v) for v in variants}
        resah = load_resah(resources.resah_file)
        return cls(tuple(variants), regions, membership, conventions, bulletin, annexes, resah)

    def package(self, request: Request, on: dt.date, kinds: tuple[str, ...] = KINDS) -> list[Document]:
        """The documents of one signatory, of the kinds asked; InputError if a variant refuses it."""
        check_variants(request, list(self.variants))
        siret = request.signatory.entity.siret
        docs = []
        for v in self.variants:
            if "convention" in kinds:
                data = self.conventions[v.id].render(signatory_context(v, request, on))
                docs.append(Document("convention", v.id, siret, f"{siret}/CSAC_{v.id}_{siret}.docx", data))
            if "annex" in kinds:
                data = self.annexes[v.id].render(request, on)
                path = f"{siret}/Annexe_Vos-besoins_{v.id}_{siret}.xlsx"
                docs.append(Document("annex", v.id, siret, path, data))
        if "bulletin" in kinds:
            data = self.bulletin.render(bulletin_context(request, self.membership, on))
            path = f"{siret}/Bulletin_adhesion_{on.year}_{siret}.docx"
            docs.append(Document("bulletin", None, siret, path, data))
        return docs


@contextmanager
def atomic_file(path: Path, sync: bool = True) -> Iterator[BinaryIO]:
    """A file written under a temporary name in its folder and renamed when complete: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    """`sync=False` when the caller syncs a whole batch at once (`sync_filesystem`)."""
    with atomic_file(path, sync) as fh:
        fh.write(data)


def write_documents(out: Path, docs: list[Document], sync: bool = True) -> None:
    for doc in docs:
        write_atomic(out / doc.relpath, doc.data, sync)


@cache
def _syncfs():
    return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)


def sync_filesystem(folder: Path) -> None:
    """Every file written so far on `folder`'s file system on disk, in one call (Linux syncfs;
    os.sync elsewhere): a campaign syncs once per chunk of rows, not once per file."""
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(folder))
    finally:
        os.close(fd)
