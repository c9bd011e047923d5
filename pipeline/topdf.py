"""Office documents to PDF, through one LibreOffice process per batch of files.

Starting soffice costs about a second and a half; converting one more page-light
document in the same process costs a fraction of that. So a campaign hands
LibreOffice its documents in batches, one `soffice --convert-to pdf` call per
batch, never one process per document. Each call gets a throwaway user profile:
a desktop LibreOffice left open by the user, or another csac, never blocks it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import ArgumentError, CsacError

BATCH = 200  # files per soffice call: bounds the command line and what a failure loses
TIMEOUT_PER_FILE = 20  # seconds; a first start with a fresh profile takes a few


def find_soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def require_soffice() -> str:
    """LibreOffice's path, checked before anything is written: no package half-done for want of it."""
    soffice = find_soffice()
    if soffice is None:
        raise _no_soffice()
    return soffice


def _batches(sources: Sequence[Path]) -> Iterable[list[Path]]:
    """Batches whose files have distinct names: soffice writes every PDF into one folder."""
    pending = list(sources)
    while pending:
        batch, names, later = [], set(), []
        for path in pending:
            if path.stem in names or len(batch) == BATCH:
                later.append(path)
            else:
                names.add(path.stem)
                batch.append(path)
        yield batch
        pending = later


def _no_soffice() -> ArgumentError:
    return ArgumentError(
        "LibreOffice (soffice) introuvable : installez-le (apt-get install libreoffice-writer-nogui "
        "libreoffice-calc-nogui) pour obtenir les PDF, ou relancez sans --pdf."
    )


def convert_to_pdf(
    sources: Sequence[Path], soffice: str | None = None, profile: Path | None = None
) -> list[Path]:
    """A PDF beside each source (same name, .pdf), in one soffice call per batch of files.

    `profile`: a LibreOffice user profile to reuse (bench/render.py compares warm starts); by
    default a throwaway one."""
    soffice = soffice or require_soffice()
    done = []
    with tempfile.TemporaryDirectory(prefix="csac-soffice-") as scratch:
        profile, out = profile or Path(scratch, "profile"), Path(scratch, "pdf")
        for batch in _batches(sources):
            _run(soffice, profile, out, batch)
            for source in batch:
                made = out / f"{source.stem}.pdf"
                if not made.is_file():
                    raise CsacError(f"{source} : LibreOffice n’a pas produit de PDF pour ce document.")
                target = source.with_suffix(".pdf")
                shutil.move(made, target)
                done.append(target)
    return done


def _run(soffice: str, profile: Path, out: Path, batch: list[Path]) -> None:
    command = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "pdf",
        "--outdir",
        str(out),
        *(str(p) for p in batch),
    ]
    env = os.environ | {"SAL_USE_VCLPLUGIN": "svp"}  # headless drawing: no display looked for
    try:
        subprocess.run(
            command, check=True, capture_output=True, timeout=60 + TIMEOUT_PER_FILE * len(batch), env=env
        )
    except subprocess.TimeoutExpired as exc:
        raise CsacError(f"LibreOffice n’a pas fini la conversion en PDF en {exc.timeout:.0f} s.") from exc
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip()[-300:]
        raise CsacError(
            f"LibreOffice a échoué à convertir en PDF (code {exc.returncode}) : {detail}"
        ) from exc
