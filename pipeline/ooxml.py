"""Office files as deterministic zips, compiled once and rendered per document.

docxtpl re-opens the template and recompiles Jinja on every render, openpyxl
rebuilds a whole workbook. Here each template is rendered once, its static
members deflated once (`CompiledPackage`); each document is then one pass
over the parts that change (a Jinja template over the XML, or a `Spliced`
part), written with fixed zip timestamps so that the same input always gives
the same bytes.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from docxtpl import DocxTemplate
from jinja2 import Environment, StrictUndefined

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip's epoch: no clock in the output
MARK_OPEN, MARK_CLOSE = "[[csac:", "]]"


def xml_text(value) -> str:
    """Escape as lxml serialises text nodes, so output matches docxtpl's (replace: faster than translate)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Packed:
    """A zip member deflated once, ready to be written any number of times."""

    name: bytes
    crc: int
    size: int
    deflated: bytes


def pack(name: str, data: bytes) -> Packed:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    deflated = compressor.compress(data) + compressor.flush()
    return Packed(name.encode("utf-8"), zlib.crc32(data), len(data), deflated)


# The same header fields zipfile writes for a deflated member (version 2.0, unix).
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_DOS_DATE = (FIXED_TIME[0] - 1980) << 9 | FIXED_TIME[1] << 5 | FIXED_TIME[2]
_MODE = 0o600 << 16  # deposits and conventions hold personal data: owner only


def write_zip(members: list[Packed]) -> bytes:
    """The bytes zipfile would write for these members, without re-deflating."""
    out, central = bytearray(), bytearray()
    for m in members:
        flags = 0 if m.name.isascii() else 0x800
        offset = len(out)
        out += _LOCAL.pack(
            b"PK\x03\x04", 20, 0, flags, 8, 0, _DOS_DATE, m.crc, len(m.deflated), m.size, len(m.name), 0
        )
        out += m.name + m.deflated
        central += _CENTRAL.pack(
            b"PK\x01\x02",
            20,
            3,
            20,
            0,
            flags,
            8,
            0,
            _DOS_DATE,
            m.crc,
            len(m.deflated),
            m.size,
            len(m.name),
            0,
            0,
            0,
            0,
            _MODE,
            offset,
        )
        central += m.name
    end = _END.pack(b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A zip of the members in order, timestamps fixed, deflated."""
    return write_zip([pack(name, data) for name, data in members])


def zip_bytes_stdlib(members: list[tuple[str, bytes]]) -> bytes:
    """The same zip through zipfile: the reference write_zip is tested against."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = _MODE
            zf.writestr(info, data)
    return buf.getvalue()


def read_members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


class Deferred:
    """Stands for a per-signatory value while docxtpl renders the variant."""

    def __init__(self, path: str):
        self._path = path

    def __getattr__(self, name: str) -> Deferred:
        if name.startswith("__"):
            raise AttributeError(name)
        return Deferred(f"{self._path}.{name}")

    def __html__(self) -> str:
        return f"{MARK_OPEN}{self._path}{MARK_CLOSE}"

    __str__ = __html__


def _marker_env() -> Environment:
    """Jinja that only sees csac's markers, never text that looks like Jinja."""
    return Environment(
        variable_start_string=MARK_OPEN,
        variable_end_string=MARK_CLOSE,
        block_start_string="[[%csac",
        block_end_string="%]]",
        comment_start_string="[[#csac",
        comment_end_string="#]]",
        autoescape=False,
        finalize=xml_text,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


class Part(Protocol):
    """A member rendered per document: a Jinja template over the XML, or `Spliced`."""

    def render(self, context: dict) -> str: ...


@dataclass(frozen=True)
class Spliced:
    """An XML part cut where per-document text goes: text, hole, text, hole, … text.

    A hole is filled with the context's value for its name, already XML: the caller escapes.
    """

    pieces: tuple[str, ...]  # even indexes are text, odd ones are the context's keys

    @classmethod
    def cut(cls, xml: str, holes: dict[str, str]) -> Spliced:
        """Cut `xml` at each occurrence (exactly one) of the holes' stand-in texts, in any order."""
        pattern = "|".join(re.escape(s) for s in holes.values())
        names = {stand_in: name for name, stand_in in holes.items()}
        found = [names[m.group(0)] for m in re.finditer(pattern, xml)]
        if sorted(found) != sorted(holes):
            raise ValueError(f"each stand-in must occur once: found {found} for {sorted(holes)}")
        texts = re.split(pattern, xml)
        return cls(tuple(p for pair in zip(texts, [*found, ""], strict=True) for p in pair)[:-1])

    def render(self, context: dict) -> str:
        return "".join(context[p] if i % 2 else p for i, p in enumerate(self.pieces))


@dataclass(frozen=True)
class CompiledPackage:
    """An Office file with its static members deflated once; the others rendered per document."""

    parts: tuple[tuple[str, Packed | Part], ...]

    def render(self, context: dict) -> bytes:
        members = [
            part
            if isinstance(part, Packed)
            else pack(name, _self_closed(part.render(context)).encode("utf-8"))
            for name, part in self.parts
        ]
        return write_zip(members)


def _self_closed(xml: str) -> str:
    """An empty value leaves `<w:t ...></w:t>`, which lxml (docxtpl) writes `<w:t .../>`.

    Nothing else writes `></w:t>`: lxml self-closes every empty element, and text escapes `>`."""
    return xml.replace("></w:t>", "/>")


def _render(template: Path, context: dict) -> DocxTemplate:
    """docxtpl's render, and the core properties' dates, which it leaves as written.

    The templates write the creation date as Jinja too (tools/build_templates.py): it is the
    campaign's date, so the same campaign always gives the same bytes."""
    tpl = DocxTemplate(template)
    tpl.render(context, autoescape=True)
    env = Environment(autoescape=True)
    props = tpl.docx.core_properties._element
    for element in (props.created, props.modified):
        if element is not None and element.text and "{{" in element.text:
            element.text = env.from_string(element.text).render(context)
    return tpl


def compile_docx(template: Path, static: dict, deferred: tuple[str, ...]) -> CompiledPackage:
    """Render `template` once with docxtpl; names in `deferred` stay as markers."""
    tpl = _render(template, static | {name: Deferred(name) for name in deferred})
    buf = io.BytesIO()
    tpl.save(buf)
    env = _marker_env()
    parts = []
    for name, data in read_members(buf.getvalue()):
        if MARK_OPEN.encode() in data:
            parts.append((name, env.from_string(data.decode("utf-8"))))
        else:
            parts.append((name, pack(name, data)))
    return CompiledPackage(tuple(parts))


def render_docx_naive(template: Path, context: dict) -> bytes:
    """docxtpl as its documentation shows it: the baseline csac must match."""
    tpl = _render(template, context)
    buf = io.BytesIO()
    tpl.save(buf)
    return zip_bytes(read_members(buf.getvalue()))
