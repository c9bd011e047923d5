"""A look at a PDF's streams before PDFium parses it.

PDFium inflates a page's content stream in full to extract its text; a
stream of a few kilobytes can inflate to gigabytes. Each Flate stream that
is not an image is inflated here first, chunk by chunk and keeping nothing,
against a cap. The scan reads raw bytes, so cyclic references cannot loop it.
"""

from __future__ import annotations

import re
import zlib

_STREAM = re.compile(rb"stream\r?\n")
_CHUNK = 64 * 1024
_DICT_LOOKBACK = 1024


def _inflated_size(data: bytes, start: int, cap: int) -> int:
    """How far a zlib stream at `start` inflates, stopping once past `cap`; output is discarded."""
    inflater, size = zlib.decompressobj(), 0
    for pos in range(start, len(data), _CHUNK):
        piece = data[pos : pos + _CHUNK]
        while piece and size <= cap and not inflater.eof:
            size += len(inflater.decompress(piece, _CHUNK))
            piece = inflater.unconsumed_tail
        if inflater.eof or size > cap:
            break
    return size


def oversized_stream(data: bytes, cap: int) -> bool:
    """Whether some non-image Flate stream inflates past `cap` bytes."""
    for match in _STREAM.finditer(data):
        head = data[max(0, match.start() - _DICT_LOOKBACK) : match.start()]
        if b"/Image" in head[head.rfind(b"<<") :] or b"Flate" not in head[head.rfind(b"<<") :]:
            continue
        try:
            if _inflated_size(data, match.end(), cap) > cap:
                return True
        except zlib.error:
            continue
    return False
