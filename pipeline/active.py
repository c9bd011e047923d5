"""Active content: what could run on a regional buyer's machine when a document is opened.

PDF actions (/JavaScript, /JS, /Launch), files embedded in a PDF, VBA macros
and ActiveX controls in Office files, and programs (found by their magic
bytes, whatever their name, or by a name that Windows would run). They are
flagged for the regional team; programs are never forwarded.

PDF names are read from the raw bytes, with their #xx escapes decoded, and
from inside compressed object streams, where PDF 1.5 writers hide dictionaries.
"""

from __future__ import annotations

import bisect
import io
import re
import zipfile
import zlib

JAVASCRIPT, LAUNCH, EMBEDDED_FILE = "javascript", "launch", "embedded_file"
MACRO, ACTIVEX, OLE_OBJECT, EXECUTABLE = "macro", "activex", "ole_object", "executable"
LABELS_FR = {
    JAVASCRIPT: "JavaScript",
    LAUNCH: "action /Launch (lance un programme)",
    EMBEDDED_FILE: "fichier incorporé",
    MACRO: "macros VBA",
    ACTIVEX: "contrôle ActiveX",
    OLE_OBJECT: "objet OLE incorporé",
    EXECUTABLE: "programme exécutable",
}
PDF_NAMES = {
    b"JavaScript": JAVASCRIPT,
    b"JS": JAVASCRIPT,
    b"Launch": LAUNCH,
    b"EmbeddedFile": EMBEDDED_FILE,
    b"EmbeddedFiles": EMBEDDED_FILE,
}


def _spelled(name: bytes) -> bytes:
    """A name as a PDF may write it: any character as itself or as #xx."""
    return b"".join(b"(?:%s|#(?i:%02x))" % (re.escape(bytes([c])), c) for c in name)


_NAME = re.compile(
    rb"/(" + b"|".join(_spelled(n) for n in sorted(PDF_NAMES, key=len, reverse=True)) + rb")(?![A-Za-z0-9#])"
)
_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_END = re.compile(rb"endstream")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
OBJECT_STREAM_CAP = 16 * 1024 * 1024  # inflated bytes of object streams read per PDF
_LOOKBACK = 1024
_CHUNK = 64 * 1024

EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE (.exe, .dll, .scr)
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",  # Mach-O
    b"\xca\xfe\xba\xbe",  # Mach-O universal, Java class
    b"#!",  # scripts
    b"L\x00\x00\x00\x01\x14\x02\x00",  # Windows shortcut (.lnk)
)
EXECUTABLE_SUFFIXES = (
    ".exe", ".com", ".bat", ".cmd", ".scr", ".pif", ".cpl", ".dll", ".msi", ".msp", ".lnk", ".hta",
    ".js", ".jse", ".vbs", ".vbe", ".wsf", ".wsh", ".ps1", ".psm1", ".jar", ".sh", ".app", ".reg",
    ".iso", ".img", ".vhd", ".appx", ".msix",
)  # fmt: skip


def _names(data: bytes) -> set[str]:
    found = set()
    for match in _NAME.finditer(data):
        name = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        if name in PDF_NAMES:
            found.add(PDF_NAMES[name])
    return found


def _inflate(data: bytes, start: int, end: int, budget: int) -> bytes:
    """At most `budget` bytes of this stream, fed in chunks: zlib copies whatever input follows its end."""
    inflater, out, view = zlib.decompressobj(), [], memoryview(data)
    try:
        for pos in range(start, end, _CHUNK):
            out.append(inflater.decompress(view[pos : min(pos + _CHUNK, end)], budget - sum(map(len, out))))
            if inflater.eof or inflater.unconsumed_tail or sum(map(len, out)) >= budget:
                break
    except zlib.error:
        pass
    return b"".join(out)


def _object_streams(data: bytes):
    """The inflated bodies of /ObjStm streams, within a shared budget; one pass over the file."""
    budget, ends = OBJECT_STREAM_CAP, [m.start() for m in _END.finditer(data)]
    for match in _STREAM.finditer(data):
        if budget <= 0:
            return
        head = data[max(0, match.start() - _LOOKBACK) : match.start()]
        head = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), head[head.rfind(b"<<") :])
        if b"/ObjStm" not in head or b"Flate" not in head:
            continue
        following = bisect.bisect_left(ends, match.end())
        body = _inflate(data, match.end(), ends[following] if following < len(ends) else len(data), budget)
        budget -= len(body)
        yield body


def in_pdf(data: bytes) -> tuple[str, ...]:
    found = _names(data)
    for body in _object_streams(data):
        found |= _names(body)
    return tuple(sorted(found))


def in_ooxml(data: bytes) -> tuple[str, ...]:
    """Macros, ActiveX controls and OLE objects, from the package's part names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n.lower() for n in zf.namelist()]
    except (zipfile.BadZipFile, ValueError):
        return ()
    found = set()
    for name in names:
        if name.endswith("vbaproject.bin") or "/vbadata" in name:
            found.add(MACRO)
        elif "/activex/" in name:
            found.add(ACTIVEX)
        elif "/embeddings/" in name and not name.endswith(
            (".xlsx", ".docx", ".png", ".jpeg", ".jpg", ".emf")
        ):
            found.add(OLE_OBJECT)
    return tuple(sorted(found))


def is_executable(name: str, data: bytes) -> bool:
    """A program, by its first bytes or by a name Windows would run (`Lisez-moi.pdf.exe`)."""
    return data.startswith(EXECUTABLE_MAGIC) or name.lower().rstrip(" .").endswith(EXECUTABLE_SUFFIXES)


def describe(codes) -> str:
    return ", ".join(LABELS_FR[c] for c in codes)
