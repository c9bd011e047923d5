"""Safe reading of a deposited ZIP: members in memory, never on disk.

Nothing is extracted to the file system. Every member is inflated in
chunks against a shared budget (member count, bytes actually inflated,
compression ratio, nesting depth, name length), so a bomb is refused after
reading at most the budget, whatever its headers announce.
"""

from __future__ import annotations

import io
import stat
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field

from .untrusted import quoted

CHUNK = 64 * 1024
IGNORED_NAMES = {"thumbs.db", "desktop.ini"}
UNICODE_PATH_EXTRA = 0x7075


@dataclass(frozen=True)
class Limits:
    max_archive_bytes: int = 64 * 1024 * 1024
    max_members: int = 500
    max_total_bytes: int = 64 * 1024 * 1024
    max_ratio: int = 100  # checked once a member has inflated past ratio_floor
    ratio_floor: int = 1024 * 1024
    max_depth: int = 3
    max_name_length: int = 255
    max_xml_bytes: int = 16 * 1024 * 1024  # inside a .docx/.xlsx: the XML its reader will parse
    max_pdf_stream_bytes: int = 32 * 1024 * 1024  # one decoded PDF content stream


@dataclass(frozen=True)
class Member:
    name: str  # NFC, "/"-separated; nested archives prefix their own name
    data: bytes


@dataclass(frozen=True)
class Archive:
    members: tuple[Member, ...]
    ignored: tuple[str, ...]


class ArchiveRejected(Exception):
    """The deposit cannot be read safely; `code` is archive_corrupt or archive_unsafe.

    `reason` is csac's own French, for the people who examine the quarantine; `cause`
    picks the depositor's sentence in the problem catalogue (never a library's text);
    `name` is the member concerned, quoted, when there is one.
    """

    def __init__(self, code: str, reason: str, cause: str = "", name: str = ""):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.cause = cause
        self.name = name


def _unsafe(reason: str, cause: str, name: str = "") -> ArchiveRejected:
    return ArchiveRejected("archive_unsafe", reason, cause, name)


def _corrupt(reason: str, name: str = "") -> ArchiveRejected:
    return ArchiveRejected("archive_corrupt", reason, "damaged", name)


@dataclass
class _Budget:
    """What is left to spend on one deposit, nested archives included."""

    limits: Limits
    members: int = 0
    inflated: int = 0
    names: list[str] = field(default_factory=list)

    def count_member(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _unsafe(f"plus de {self.limits.max_members} fichiers dans l'archive", "too_many")


def _unicode_path(extra: bytes, raw: bytes) -> str | None:
    """The Info-ZIP Unicode Path extra field (0x7075), if it matches the raw name."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        if tag == UNICODE_PATH_EXTRA and len(body) > 5 and body[0] == 1:
            (crc,) = struct.unpack_from("<L", body, 1)
            if crc == zlib.crc32(raw):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
        pos += 4 + size
    return None


def member_name(info: zipfile.ZipInfo) -> str:
    """The name as the depositor saw it: UTF-8 flag, 0x7075, strict UTF-8, then cp850."""
    if info.flag_bits & 0x800:
        name = info.filename
    else:
        raw = info.filename.encode("cp437")  # zipfile decoded the raw bytes as cp437
        name = _unicode_path(info.extra, raw)
        if name is None:
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                name = raw.decode("cp850")  # Windows Explorer, French locale
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def _ignored(name: str) -> bool:
    parts = [p for p in name.split("/") if p]
    return (
        not parts
        or parts[0] == "__MACOSX"
        or any(p.startswith(".") for p in parts)
        or parts[-1].lower() in IGNORED_NAMES
    )


def _check_name(name: str, info: zipfile.ZipInfo, limits: Limits) -> None:
    shown = quoted(name, 80)
    if len(name) > limits.max_name_length:
        raise _unsafe(
            f"nom de fichier de plus de {limits.max_name_length} caractères", "name_too_long", shown
        )
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _unsafe(f"chemin absolu refusé : {shown}", "traversal", shown)
    if ".." in name.split("/"):
        raise _unsafe(f"chemin remontant hors de l'archive refusé : {shown}", "traversal", shown)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise _unsafe(f"lien symbolique refusé : {shown}", "link", shown)
    if info.flag_bits & 0x1:
        raise _unsafe(f"fichier chiffré (protégé par mot de passe) : {shown}", "encrypted", shown)


def _inflate(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, budget: _Budget, keep: bool = True
) -> bytes:
    """The member's bytes, counted chunk by chunk against the budget (kept only if asked).

    When not kept, the first chunk is still returned: enough to look at an XML prolog.
    """
    limits, chunks, size = budget.limits, [], 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                if not keep and not chunks:
                    chunks.append(chunk)
                size += len(chunk)
                budget.inflated += len(chunk)
                if budget.inflated > limits.max_total_bytes:
                    raise _unsafe(
                        f"plus de {limits.max_total_bytes // 2**20} Mo une fois décompressée", "bomb"
                    )
                if size > limits.ratio_floor and size > limits.max_ratio * max(info.compress_size, 1):
                    shown = quoted(name, 80)
                    raise _unsafe(
                        f"taux de compression anormal (bombe de décompression) : {shown}", "bomb", shown
                    )
                if keep:
                    chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OverflowError) as exc:
        shown = quoted(name, 80)
        raise _corrupt(f"fichier endommagé dans l'archive : {shown} ({_what(exc)})", shown) from exc
    return b"".join(chunks)


def check_package(data: bytes, limits: Limits = Limits()) -> None:
    """A .docx or .xlsx is a ZIP too: inflate each part once against the caps, keeping nothing.

    Its reader would otherwise inflate a bomb in full; XML parts, which the
    reader parses into a tree, get a tighter cap of their own.
    """
    budget, xml = _Budget(limits), 0
    with _open(data, "le document") as zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise _unsafe(f"document de plus de {limits.max_members} parties", "too_many")
        for info in infos:
            if info.flag_bits & 0x1:
                raise _unsafe(f"partie chiffrée : {quoted(info.filename, 80)}", "encrypted")
            before = budget.inflated
            head = _inflate(zf, info, info.filename, budget, keep=False)
            if info.filename.endswith((".xml", ".rels")) and (b"<!DOCTYPE" in head or b"<!ENTITY" in head):
                raise _unsafe(
                    f"déclaration d'entités XML dans {quoted(info.filename, 80)} (attaque par expansion)",
                    "bomb",
                )
            if info.filename.endswith((".xml", ".rels")):
                xml += budget.inflated - before
                if xml > limits.max_xml_bytes:
                    raise _unsafe(
                        f"plus de {limits.max_xml_bytes // 2**20} Mo de XML dans le document", "bomb"
                    )


def zip_of(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP of documents held in memory: what csac forwards, and the demo's deposit."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def is_ooxml(data: bytes) -> bool:
    """A .docx or .xlsx is a zip too, but a document, not a nested archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "[Content_Types].xml" in zf.namelist()
    except (zipfile.BadZipFile, ValueError):
        return False


def _what(exc: BaseException) -> str:
    """What went wrong, in csac's words: a library's message is never shown to people."""
    if isinstance(exc, zlib.error | EOFError):
        return "données compressées tronquées ou altérées"
    if isinstance(exc, NotImplementedError):
        return "méthode de compression non prise en charge"
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in str(exc):
        return "somme de contrôle erronée"
    return "structure interne incohérente"


def _open(data: bytes, label: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise _corrupt(
            f"{label} n'est pas une archive ZIP lisible (répertoire de l'archive absent ou tronqué)"
        ) from exc
    except Exception as exc:  # zipfile's own parsing: any failure means the directory is unreadable
        raise _corrupt(f"{label} : répertoire de l'archive illisible ({_what(exc)})") from exc


def _walk(data: bytes, prefix: str, depth: int, budget: _Budget, found: list, ignored: list) -> None:
    if depth > budget.limits.max_depth:
        raise _unsafe(f"archives imbriquées sur plus de {budget.limits.max_depth} niveaux", "nested")
    with _open(data, quoted(prefix.rstrip("/"), 80) if prefix else "le dépôt") as zf:
        infos = zf.infolist()
        if len(infos) + budget.members > budget.limits.max_members:
            raise _unsafe(f"plus de {budget.limits.max_members} fichiers dans l'archive", "too_many")
        for info in infos:
            name = member_name(info)
            _check_name(name, info, budget.limits)
            full = prefix + name
            if not name or name.endswith("/"):
                continue
            if _ignored(name):
                ignored.append(full)
                continue
            budget.count_member(full)
            content = _inflate(zf, info, full, budget)
            if is_zip(content) and not is_ooxml(content):
                _walk(content, full + "/", depth + 1, budget, found, ignored)
            else:
                found.append(Member(full, content))


def read_archive(data: bytes, limits: Limits = Limits()) -> Archive:
    """Every document in the deposit, nested archives opened, or ArchiveRejected."""
    if len(data) > limits.max_archive_bytes:
        raise _unsafe(f"archive de plus de {limits.max_archive_bytes // 2**20} Mo", "too_big")
    if not is_zip(data):
        raise ArchiveRejected("archive_corrupt", "le fichier déposé n'est pas une archive ZIP", "not_zip")
    found: list[Member] = []
    ignored: list[str] = []
    try:
        _walk(data, "", 0, _Budget(limits), found, ignored)
    except ArchiveRejected:
        raise
    except RecursionError as exc:
        raise _unsafe("archive imbriquée à l'infini", "nested") from exc
    except Exception as exc:  # zipfile trips over malformed headers in ways of its own
        raise _corrupt(f"structure de l'archive illisible ({_what(exc)})") from exc
    return Archive(tuple(found), tuple(ignored))
