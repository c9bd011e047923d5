"""Where the data files live, resolved once and passed around explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("convention", "annex", "bulletin")  # the documents rendered for a signatory


@dataclass(frozen=True)
class Resources:
    """The read-only inputs of csac: templates, variants, regions, schemas."""

    root: Path

    @classmethod
    def default(cls) -> Resources:
        return cls(Path(os.environ.get("CSAC_HOME", ROOT)))

    @property
    def templates(self) -> Path:
        return self.root / "templates" / "csac"

    @property
    def variants_dir(self) -> Path:
        return self.templates / "variants"

    @property
    def regions_file(self) -> Path:
        return self.templates / "regions.yaml"

    @property
    def membership_file(self) -> Path:
        return self.templates / "membership.yaml"

    @property
    def resah_file(self) -> Path:
        """The Resah's own SIRET and address."""
        return self.templates / "resah.yaml"

    @property
    def problems_file(self) -> Path:
        return self.templates / "problems.yaml"

    @property
    def convention_template(self) -> Path:
        return self.templates / "convention.docx"

    @property
    def bulletin_template(self) -> Path:
        return self.templates / "bulletin.docx"

    def schema(self, name: str) -> Path:
        return self.root / "schemas" / f"{name}.schema.json"


@dataclass(frozen=True)
class Workspace:
    """The folders csac reads and writes at run time."""

    inbox: Path = Path("inbox")
    outbox: Path = Path("outbox")
    state: Path = Path("var")

    @property
    def journal(self) -> Path:
        return self.state / "journal.sqlite"

    @property
    def register(self) -> Path:
        return self.state / "register.sqlite"

    @property
    def documents(self) -> Path:
        """The documents of the dossiers, kept once each by their sha256 (pipeline/dossiers.py)."""
        return self.state / "documents"

    @property
    def queue(self) -> Path:
        """The messages waiting for the relay, one .eml each; their rows are in the journal."""
        return self.state / "queue"

    @property
    def processing(self) -> Path:
        return self.inbox / "processing"

    @property
    def done(self) -> Path:
        return self.inbox / "done"

    @property
    def quarantine(self) -> Path:
        return self.outbox / "quarantine"

    @property
    def archive(self) -> Path:
        """Originals of deposits whose files were not all forwarded (a program, an unread format)."""
        return self.outbox / "archive"
