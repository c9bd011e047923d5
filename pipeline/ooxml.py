"""Office files as deterministic zips, and docx templates compiled once.

docxtpl re-opens the template and recompiles Jinja on every render. Here it
renders each template once, with the per-signatory values left as markers;
each document is then one pass of a compiled Jinja template over the XML
parts that hold markers, written with fixed zip timestamps so that the same
input always gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from docxtpl import DocxTemplate
from jinja2 import Environment, StrictUndefined, Template

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MARK_OPEN, MARK_CLOSE = "[[csac:", "]]"
_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def xml_text(value) -> str:
    """Escape as lxml serialises text nodes, so output matches docxtpl's."""
    return str(value).translate(_XML_TEXT)


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A zip of the members in order, timestamps fixed, deflated."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
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


@dataclass(frozen=True)
class CompiledDocx:
    """A docx template with its static content already rendered."""

    parts: tuple[tuple[str, bytes | Template], ...]

    def render(self, context: dict) -> bytes:
        members = [
            (name, part.render(context).encode("utf-8") if isinstance(part, Template) else part)
            for name, part in self.parts
        ]
        return zip_bytes(members)


def compile_docx(template: Path, static: dict, deferred: tuple[str, ...]) -> CompiledDocx:
    """Render `template` once with docxtpl; names in `deferred` stay as markers."""
    tpl = DocxTemplate(template)
    tpl.render(static | {name: Deferred(name) for name in deferred}, autoescape=True)
    buf = io.BytesIO()
    tpl.save(buf)
    env = _marker_env()
    parts = []
    for name, data in read_members(buf.getvalue()):
        if MARK_OPEN.encode() in data:
            parts.append((name, env.from_string(data.decode("utf-8"))))
        else:
            parts.append((name, data))
    return CompiledDocx(tuple(parts))


def render_docx_naive(template: Path, context: dict) -> bytes:
    """docxtpl as its documentation shows it: the baseline csac must match."""
    tpl = DocxTemplate(template)
    tpl.render(context, autoescape=True)
    buf = io.BytesIO()
    tpl.save(buf)
    return zip_bytes(read_members(buf.getvalue()))
