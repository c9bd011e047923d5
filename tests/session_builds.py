"""Test documents built once per test session, whichever xdist worker asks first.

Laying out a PDF (fpdf parses its font for each one), signing it (pyHanko) or
writing a DOCX costs 30 to 300 ms, and the same documents are asked for by
tests that run on different workers: every worker built them again (about a
third of the suite's CPU went into building what another worker had built).
A builder decorated with `once` is built by the first process to ask; the
others read its bytes from a folder that lives as long as the session
(tests/conftest.py makes it, its path in FOLDER_VARIABLE).

Only for pure builders: the same arguments give the same bytes (fpdf is given
its creation date), or, for a signature, bytes as good as any other build's
(the throwaway identities are shared the same way).
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import inspect
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

FOLDER_VARIABLE = "TEST_BUILDS_FOLDER"
_FOLDER = Path(os.environ[FOLDER_VARIABLE]) if os.environ.get(FOLDER_VARIABLE) else None
_PLAIN = (str, int, float, bool, Decimal, type(None))


def once(build):
    """`build(...)`'s bytes made once per session: kept in this process, and shared with the others."""
    signature = inspect.signature(build)
    built: dict[str, bytes] = {}

    @functools.wraps(build)
    def shared(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        key = f"{build.__module__}.{build.__qualname__}-{_digest(bound.arguments)}"
        if key not in built:
            built[key] = _read_or_build(key, lambda: build(*args, **kwargs))
        return built[key]

    return shared


def _digest(value) -> str:
    """A digest of the arguments that is the same in every process (no object ids, no hash seeds)."""
    return hashlib.sha256(_stable(value).encode()).hexdigest()


def _stable(value) -> str:
    if isinstance(value, bytes | bytearray):
        return f"b:{hashlib.sha256(value).hexdigest()}"
    if isinstance(value, _PLAIN):
        return repr(value)
    if isinstance(value, list | tuple):
        return "(" + ",".join(map(_stable, value)) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_stable(k)}:{_stable(v)}" for k, v in value.items()) + "}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value).__qualname__ + _stable(dataclasses.asdict(value))
    raise TypeError(f"no stable key for {type(value).__name__}: build it without `once`")


def _read_or_build(key: str, build) -> bytes:
    """The bytes another process published under `key`, or ours, published for the others.

    The first process to ask builds while holding the key's lock; the others wait for it rather
    than build the same document at the same time (they all start with the same tests).
    """
    if _FOLDER is None:
        return build()
    path = _FOLDER / key
    with open(path.with_name(f"{key}.lock"), "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            data = build()
            mine = path.with_name(f"{key}.part")
            mine.write_bytes(data)
            mine.rename(path)  # whole or absent
            return data


def shared_folder(name: str) -> Path:
    """A folder every process of the session shares, made by the first to ask (an OCR cache: a page
    one worker read is not read again by another)."""
    folder = (_FOLDER or Path(tempfile.gettempdir())) / name
    folder.mkdir(exist_ok=True)
    return folder


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Held by one process of the session at a time: the others wait, then find the work done."""
    with open(shared_folder("locks") / name, "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
