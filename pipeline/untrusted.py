"""Text from outside (forms, file names, documents), made safe to show to people.

Anyone can write a deposit. A value shown in a header, a notice or a problem
message is put on one line with no control characters and capped. So it
cannot add a header, fake a paragraph in the Resah's own voice, or make
header folding take quadratic time.
"""

from __future__ import annotations

import re
import unicodedata

BREAKS = ("Cc", "Zl", "Zp")  # tabs, CR/LF, NEL, U+2028/2029… become a space (no-break spaces stay)
RUNS = re.compile(r" {2,}")
LINK = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]{1,15}://|www\.)\S*")
GUILLEMETS = str.maketrans({"«": '"', "»": '"', "‹": "'", "›": "'"})
FIELD_QUOTE = 60  # characters of a form's value quoted back to people
_UNPRINTABLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def one_line(text: str, limit: int) -> str:
    """`text` on one line, without control or invisible characters, cut to `limit` with "…"."""
    out = []
    for char in text[: limit * 4]:  # bounded work, whatever the input
        category = unicodedata.category(char)
        if category in BREAKS:
            out.append(" ")
        elif category[0] != "C":  # Cf (bidi overrides), Cs (lone surrogates), Co, Cn: dropped
            out.append(char)
    line = RUNS.sub(" ", "".join(out)).strip(" ")
    return line if len(line) <= limit and len(text) <= limit * 4 else line[: limit - 1].rstrip() + "…"


def quoted(text: str, limit: int = FIELD_QUOTE) -> str:
    """What a depositor wrote, quoted as theirs: « … », links removed, capped.

    Guillemets inside become plain quotes, so the quotation cannot be closed from
    within and the rest made to read as the Resah's own words.
    """
    inner = one_line(text, limit * 4).translate(GUILLEMETS)
    return f"« {one_line(LINK.sub('[lien retiré]', inner), limit)} »"


def quoted_lines(text: str, lines: int = 20, width: int = 200) -> list[str]:
    """A depositor's text over several lines, each line quoted "> " as theirs, links removed: at most
    `lines` lines of `width` characters, blank runs made one, and said to be cut when it was."""
    raw = [one_line(line, width * 4) for line in text[: lines * width * 4].splitlines()]
    kept: list[str] = []
    for line in raw:
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    out = [f"> {one_line(LINK.sub('[lien retiré]', line), width)}".rstrip() for line in kept[:lines]]
    if len(kept) > lines or len(text) > lines * width * 4:
        out.append("> […] (message tronqué)")
    return out


def printable(name: str, limit: int = 255) -> str:
    """A file name a person can read anywhere (header, journal, report): valid UTF-8, one line, bounded.

    A dropped file's name can hold bytes that are not UTF-8 (lone surrogates once decoded),
    line breaks or control characters; each becomes U+FFFD.
    """
    clean = "".join("\ufffd" if unicodedata.category(c) in _UNPRINTABLE else c for c in name)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def fit_name(name: str, max_bytes: int = 200) -> str:
    """A file name that fits the file system (255 bytes) with room to spare, its suffix kept."""
    if len(name.encode("utf-8", "surrogatepass")) <= max_bytes:
        return name
    suffix = name[name.rfind(".") :][:16] if "." in name else ""
    room = max_bytes - len(suffix.encode("utf-8", "surrogatepass")) - len("…".encode())
    stem = name[: len(name) - len(suffix)].encode("utf-8", "surrogatepass")[:room]
    return stem.decode("utf-8", "ignore") + "…" + suffix
