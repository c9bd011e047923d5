"""Active content: what could run, or reach out, on a regional buyer's machine when a file is opened.

PDF actions (JavaScript, /Launch, actions towards other files or sites), files
embedded in a PDF and XFA forms; VBA and Excel 4.0 macros, ActiveX controls,
OLE objects, remote templates and DDE in Office files; programs and scripts,
by their first bytes or by a name that Windows or a browser would run. They
are flagged for the regional team; programs are never forwarded (forward.py).

A PDF is read with qpdf (pikepdf), as its readers read it: object streams
inflated, encryption with an empty password removed, names unescaped, and
strings and stream data never taken for names. When it cannot be looked at
whole within bounds, it is "non vérifiable", never "clean".
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from xml.etree.ElementTree import ParseError

import pikepdf
from defusedxml.ElementTree import fromstring

from .signature import xref_entries

JAVASCRIPT, LAUNCH, EXTERNAL, EMBEDDED_FILE, XFA = (
    "javascript",
    "launch",
    "external_action",
    "embedded_file",
    "xfa",
)
MACRO, ACTIVEX, OLE_OBJECT, REMOTE_TEMPLATE, DDE = "macro", "activex", "ole_object", "remote_template", "dde"
EXECUTABLE, UNCHECKED = "executable", "unchecked"
LABELS_FR = {
    JAVASCRIPT: "JavaScript",
    LAUNCH: "action /Launch (lance un programme)",
    EXTERNAL: "action vers un fichier ou un site extérieur",
    EMBEDDED_FILE: "fichier incorporé",
    XFA: "formulaire XFA (peut contenir des scripts)",
    MACRO: "macros",
    ACTIVEX: "contrôle ActiveX",
    OLE_OBJECT: "objet OLE incorporé ou lié",
    REMOTE_TEMPLATE: "modèle chargé depuis l'extérieur",
    DDE: "champ DDE (lance une commande)",
    EXECUTABLE: "programme ou script exécutable",
    UNCHECKED: "contenu actif non vérifiable (document trop complexe ou illisible)",
}
CODES = tuple(LABELS_FR)

MAX_OBJECTS = 200_000  # PDF objects looked at; past this, "non vérifiable"
MAX_DEPTH = 32  # nesting of direct objects inside one object
ACTION_TYPES = {"/JavaScript": JAVASCRIPT, "/Launch": LAUNCH, "/GoToR": EXTERNAL, "/GoToE": EXTERNAL,
                "/SubmitForm": EXTERNAL, "/ImportData": EXTERNAL}  # fmt: skip

OOXML_PART_CAP = 1 << 20  # bytes of one [Content_Types].xml or .rels read
OOXML_XML_CAP = 16 << 20  # bytes of document XML searched for DDE, per package
CONTENT_TYPES = (
    ("vbaproject", MACRO), ("macrosheet", MACRO), ("macroenabled", MACRO), ("activex", ACTIVEX),
    ("oleobject", OLE_OBJECT), ("officedocument.package", OLE_OBJECT),
)  # fmt: skip
RELATIONSHIPS = (
    ("/vbaproject", MACRO), ("/xlmacrosheet", MACRO), ("/xlintlmacrosheet", MACRO), ("/control", ACTIVEX),
    ("/activexcontrol", ACTIVEX), ("/oleobject", OLE_OBJECT), ("/package", OLE_OBJECT),
)  # fmt: skip
DDE_FIELD = re.compile(rb"(?i)(?:<w:instrText[^>]*>|w:instr=\")\s*\"?\s*DDE(?:AUTO)?\b")
DDE_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*>[^<]{0,2000}\|[^<]{0,2000}![^<]{0,200}</(?:\w+:)?f>")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
RTF_OBJECT = re.compile(rb"\\object\b|\\objdata\b|\\objupdate\b")

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
    b"MSCF",  # Windows cabinet
    b"ITSF",  # compiled HTML help (.chm)
)
EXECUTABLE_SUFFIXES = (
    ".exe", ".com", ".bat", ".cmd", ".scr", ".pif", ".cpl", ".dll", ".ocx", ".sys", ".drv", ".msi", ".msp",
    ".msc", ".lnk", ".url", ".scf", ".hta", ".html", ".htm", ".xhtml", ".mht", ".mhtml", ".svg", ".js", ".jse",
    ".vbs", ".vbe", ".wsf", ".wsh", ".ws", ".sct", ".ps1", ".psm1", ".jar", ".jnlp", ".sh", ".py", ".pyw", ".pl",
    ".rb", ".app", ".apk", ".reg", ".inf", ".iso", ".img", ".vhd", ".vhdx", ".appx", ".msix", ".cab", ".chm",
    ".gadget", ".application", ".appref-ms", ".settingcontent-ms", ".library-ms", ".xll", ".xlam", ".ppam",
    ".one",
)  # fmt: skip
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


# -- PDF ---------------------------------------------------------------------------------------


def _flags(d: pikepdf.Dictionary) -> set[str]:
    found = set()
    if "/JS" in d:
        found.add(JAVASCRIPT)
    action = d.get("/S")
    if isinstance(action, pikepdf.Name) and str(action) in ACTION_TYPES:
        found.add(ACTION_TYPES[str(action)])
    if "/EF" in d or "/EmbeddedFiles" in d or d.get("/Type") == pikepdf.Name.EmbeddedFile:
        found.add(EMBEDDED_FILE)
    if "/XFA" in d:
        found.add(XFA)
    return found


def _visit(obj, found: set[str], depth: int = 0) -> None:
    """One object and the direct objects inside it; indirect ones are visited on their own."""
    if isinstance(obj, pikepdf.Stream):
        obj = obj.stream_dict
    if depth > MAX_DEPTH or not isinstance(obj, pikepdf.Dictionary | pikepdf.Array):
        return
    if isinstance(obj, pikepdf.Dictionary):
        found |= _flags(obj)
        children = obj.values()
    else:
        children = list(obj)
    for child in children:
        if isinstance(child, pikepdf.Dictionary | pikepdf.Array) and not child.is_indirect:
            _visit(child, found, depth + 1)


def in_pdf(data: bytes) -> tuple[str, ...]:
    """Every kind of active content in a PDF's objects, or "unchecked" when it cannot all be seen."""
    if xref_entries(data, MAX_OBJECTS) > MAX_OBJECTS:
        return (UNCHECKED,)
    found: set[str] = set()
    try:
        with pikepdf.open(io.BytesIO(data), inherit_page_attributes=False) as pdf:
            for count, obj in enumerate(pdf.objects):
                if count >= MAX_OBJECTS:
                    return tuple(sorted(found | {UNCHECKED}))
                _visit(obj, found)
    except Exception:  # encrypted with a password, or beyond repair: nothing can be vouched for
        return tuple(sorted(found | {UNCHECKED}))
    return tuple(sorted(found))


# -- Office ------------------------------------------------------------------------------------


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    with zf.open(info) as fh:
        return fh.read(cap)


def _xml(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    try:
        return fromstring(_read(zf, info, OOXML_PART_CAP))
    except (ParseError, ValueError, zipfile.BadZipFile, OSError, EOFError):
        return None


def _content_types(zf: zipfile.ZipFile) -> dict[str, str]:
    """Each part's declared content type: its Override, else the Default of its extension."""
    info = next((i for i in zf.infolist() if i.filename.lower() == "[content_types].xml"), None)
    root = _xml(zf, info) if info else None
    nodes = list(root) if root is not None else []
    defaults = {
        (n.get("Extension") or "").lower(): n.get("ContentType") or "" for n in nodes if n.get("Extension")
    }
    overrides = {
        (n.get("PartName") or "").lower(): n.get("ContentType") or "" for n in nodes if n.get("PartName")
    }
    parts = {}
    for name in zf.namelist():
        lower = name.lower()
        parts[lower] = overrides.get("/" + lower) or defaults.get(lower.rsplit(".", 1)[-1], "")
    return parts


def _part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, ctype: str) -> set[str]:
    """One part: by the places Office looks, then by its declared type, then by its first bytes."""
    name, ctype = info.filename.lower(), ctype.lower()
    found = {EXECUTABLE} if name.rstrip(" .").endswith(EXECUTABLE_SUFFIXES) else set()
    if name.endswith("vbaproject.bin") or "/vbadata" in name or "/macrosheets/" in name:
        return found | {MACRO}
    if "/activex/" in name or "/controls/" in name:
        return found | {ACTIVEX}
    typed = {code for mark, code in CONTENT_TYPES if mark in ctype}
    if typed:
        return found | typed
    if "/embeddings/" in name and (name.endswith(".bin") or _read(zf, info, 8).startswith(OLE_MAGIC)):
        found.add(OLE_OBJECT)  # an OLE compound file, whatever its name; an embedded chart's workbook is not
    return found


def _relationships(zf: zipfile.ZipFile) -> set[str]:
    """What the package links to: macros and objects by relationship type, remote templates and links."""
    found = set()
    for info in zf.infolist():
        root = _xml(zf, info) if info.filename.lower().endswith(".rels") else None
        for node in root if root is not None else []:
            kind = (node.get("Type") or "").lower()
            found |= {code for mark, code in RELATIONSHIPS if kind.endswith(mark)}
            if (node.get("TargetMode") or "").lower() == "external":
                if kind.endswith("/attachedtemplate"):
                    found.add(REMOTE_TEMPLATE)
                elif kind.endswith(("/oleobject", "/frame", "/package")):
                    found.add(OLE_OBJECT)
    return found


def _parts(zf: zipfile.ZipFile) -> set[str]:
    types = _content_types(zf)
    found = set()
    for info in zf.infolist():
        found |= _part(zf, info, types.get(info.filename.lower(), ""))
    return found


def _dde(zf: zipfile.ZipFile) -> set[str]:
    budget = OOXML_XML_CAP
    for info in zf.infolist():
        if not info.filename.lower().endswith(".xml") or budget <= 0:
            continue
        try:
            xml = _read(zf, info, budget)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            continue
        budget -= len(xml)
        if DDE_FIELD.search(xml) or DDE_FORMULA.search(xml):
            return {DDE}
    return set()


def in_ooxml(data: bytes) -> tuple[str, ...]:
    """Macros, ActiveX, OLE objects, remote templates and DDE: from content types, relationships and parts."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            found = _parts(zf) | _relationships(zf) | _dde(zf)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error):  # a part that does not inflate
        return (UNCHECKED,)
    return tuple(sorted(found))


# -- programs ----------------------------------------------------------------------------------


def is_executable(name: str, data: bytes) -> bool:
    """A program or script, by its first bytes or by a name that would run (`Lisez-moi.pdf.exe`).

    Windows ignores trailing dots and spaces, and a right-to-left override can
    hide the real suffix from the eye ("facture\u202efdp.exe"): both are seen through.
    """
    shown = _INVISIBLE.sub("", name).lower().rstrip(" .")
    return data.startswith(EXECUTABLE_MAGIC) or shown.endswith(EXECUTABLE_SUFFIXES)


def in_other(data: bytes) -> tuple[str, ...]:
    """Files csac does not read: an RTF may still carry OLE objects."""
    return (OLE_OBJECT,) if data.startswith(b"{\\rtf") and RTF_OBJECT.search(data[: 16 << 20]) else ()


def describe(codes) -> str:
    return ", ".join(LABELS_FR.get(c, c) for c in codes)
