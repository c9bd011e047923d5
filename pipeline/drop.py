"""A deposit put into the inbox as a clerk's drop is: its form first, then the ZIP, each appearing whole.

Each file is written under a hidden temporary name in the inbox itself (the watcher ignores names
that start with a dot or end in .part), flushed to disk, then given its real name in one step, so
the watcher never sees half a file. The form comes first: the watcher never takes a ZIP without
the form beside it. Neither step ever replaces a file already there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .deliver import sync_folder
from .intake import source_key

TEMPORARY_PREFIX = (
    ".csac-drop-"  # a form being written; one a day old was left by a crash (web/upload.py sweeps it)
)
NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV}


def place(src: Path, dst: Path) -> bool:
    """Move src to dst unless dst exists; False if it does. A hard link never replaces a file."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:  # shares without hard links, files of other users
            raise
        if os.path.lexists(dst):
            return False
        os.rename(src, dst)
        return True
    os.unlink(src)
    return True


@dataclass(frozen=True)
class Dropped:
    """Where the deposit landed, and the key the journal will know this very file by (intake.source_key)."""

    path: Path
    form: Path
    source: str


def _write_form(inbox: Path, stem: str, fields: dict) -> Path:
    """The form as a sidecar NAME.json, written whole under a hidden name, then named."""
    fd, tmp = tempfile.mkstemp(dir=inbox, prefix=f"{TEMPORARY_PREFIX}{stem}-", suffix=".json.part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(json.dumps(fields, ensure_ascii=False, indent=1).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        form = inbox / f"{stem}.json"
        if not place(Path(tmp), form):
            raise FileExistsError(errno.EEXIST, "formulaire déjà présent dans la boîte de dépôt", str(form))
        return form
    finally:
        Path(tmp).unlink(missing_ok=True)


def drop(staged: Path, fields: dict, inbox: Path, stem: str) -> Dropped:
    """`staged` (a complete file already on disk in `inbox`, under a hidden name) becomes STEM.zip,
    after its form STEM.json. On failure nothing is left: neither the form nor the staged file."""
    form = _write_form(inbox, stem, fields)
    try:
        key = source_key(staged)  # the rename keeps device, inode and mtime: the watcher's key too
        path = inbox / f"{stem}.zip"
        if not place(staged, path):
            raise FileExistsError(errno.EEXIST, "dépôt déjà présent dans la boîte de dépôt", str(path))
        sync_folder(inbox)
    except BaseException:
        form.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            staged.unlink()
        raise
    return Dropped(path, form, key)
