"""Batch campaigns: every row for every requested variant, past the bad rows.

Rows are rendered in worker processes, each of which compiles the templates
once. A bad row is reported with its number and every problem, and the
campaign goes on; manifest.json lists every file written with its sha256.
The parent holds a few chunks of rows at a time, whatever the campaign's size.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from difflib import get_close_matches
from functools import lru_cache
from pathlib import Path

from . import register
from .errors import InputError, Problem
from .reading import unreadable
from .render import Renderer, atomic_file, sync_filesystem, write_documents
from .request import parse_request, read_data_file
from .resources import KINDS, Resources
from .schemas import check
from .sirets import compact
from .untrusted import one_line, quoted
from .variants import load_variants, select

CSV_FIELDS = {
    "denomination",
    "siret",
    "typologie",
    "population",
    "adresse",
    "code_postal",
    "ville",
    "representant",
    "email",
    "telephone",
    "finess",
    "medico_social",
    "montant_maximum",
}
TRUE = {"1", "oui", "true", "vrai", "x", "yes"}
CSV_HELP = "aucun séparateur « ; », « , » ni tabulation dans la ligne d'en-tête"


@dataclass(frozen=True)
class Row:
    number: int  # the line in a CSV (header is line 1), the entry in a YAML list
    data: dict
    problems: tuple[Problem, ...] = ()  # what is wrong with the line itself (its number of columns)


@dataclass(frozen=True)
class Campaign:
    source: Path
    name: str
    date: dt.date | None
    rows: tuple[Row, ...] | CsvRows


@dataclass(frozen=True)
class RowFailure:
    number: int
    label: str
    problems: tuple[Problem, ...]

    def as_dict(self) -> dict:
        errors = [{"path": p.path, "message": p.message} for p in self.problems]
        return {"row": self.number, "label": self.label, "errors": errors}


@dataclass(frozen=True)
class BatchResult:
    files: int  # files written, each listed in the manifest
    failures: tuple[RowFailure, ...]
    manifest: Path
    rows: int = 0  # rows in the campaign, good and bad
    workers: int = 1  # worker processes used: never more than chunks of rows to render


def _number(text: str):
    """'250 000,50' or '250000.5' as a number; anything else stays text for the schema to refuse."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        return int(cleaned) if cleaned.isdigit() else float(cleaned)
    except ValueError:
        return text


def csv_row(record: dict[str, str]) -> dict:
    """A CSV line (one signatory acting on its own account) as beneficiary data."""
    record = {k.strip().lower(): (v or "").strip() for k, v in record.items() if k}
    sig = {k: v for k, v in record.items() if k in CSV_FIELDS and v}
    if "population" in sig:
        sig["population"] = _number(sig["population"])
    if "medico_social" in sig:
        sig["medico_social"] = sig["medico_social"].lower() in TRUE
    per_variant = {
        k.removeprefix("montant_maximum_"): _number(v)
        for k, v in record.items()
        if k.startswith("montant_maximum_") and v
    }
    if per_variant:
        sig["montant_maximum"] = per_variant
    elif "montant_maximum" in sig:
        sig["montant_maximum"] = _number(sig["montant_maximum"])
    return {"signataire": sig, "mode": record.get("mode") or "compte_propre"}


def _encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), else Excel's cp1252 ("CSV (séparateur : point-virgule)"):
    decided block by block, never the whole file in memory."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    with path.open("rb") as fh:
        try:
            for block in iter(lambda: fh.read(1 << 16), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def _read_csv(path: Path, encoding: str) -> Iterator[Row]:
    """The rows, read line by line from the file."""
    with path.open(encoding=encoding, newline="") as fh:
        dialect = csv.Sniffer().sniff(fh.readline(), delimiters=";,\t")
        fh.seek(0)
        reader = csv.DictReader(fh, dialect=dialect)
        for record in reader:
            if any((v or "").strip() for v in record.values() if isinstance(v, str)):
                yield Row(reader.line_num, csv_row(record), _columns(record, reader.fieldnames))


@dataclass(frozen=True)
class CsvRows:
    """A CSV's rows, read again from the file at each pass: 50,000 parsed rows weigh 100 MB."""

    path: Path
    encoding: str
    count: int

    def __iter__(self) -> Iterator[Row]:
        return _read_csv(self.path, self.encoding)

    def __len__(self) -> int:
        return self.count


def _columns(record: dict, header: list[str]) -> tuple[Problem, ...]:
    """A line with more or fewer cells than the header: its values are under the wrong names."""
    count = sum(v is not None for k, v in record.items() if k is not None) + len(record.get(None) or ())
    if count == len(header):
        return ()
    return (
        Problem(
            "", f"{count} colonnes au lieu de {len(header)} (celles de l'en-tête) : vérifiez les séparateurs"
        ),
    )


def _header_problems(path: Path, encoding: str) -> list[Problem]:
    """Columns csac does not know, each with the one probably meant: a misspelt "sirett" would
    otherwise leave every row without its SIRET, and a misspelt optional column go unread."""
    with path.open(encoding=encoding, newline="") as fh:
        line = fh.readline()
    if not line.strip():
        return [Problem("ligne 1", "fichier vide : la première ligne est l'en-tête (denomination;siret;…)")]
    header = next(csv.reader([line], csv.Sniffer().sniff(line, delimiters=";,\t")))
    known = sorted(CSV_FIELDS | {"mode"})
    problems = []
    for name in (h.strip() for h in header):
        if name and name.lower() not in known and not name.lower().startswith("montant_maximum_"):
            near = get_close_matches(name.lower(), known, n=1)
            hint = (
                f" (vouliez-vous dire {near[0]} ?)" if near else f" ; colonnes possibles : {', '.join(known)}"
            )
            problems.append(Problem("ligne 1", f"colonne inconnue : {quoted(name)}{hint}"))
    return problems


def load_campaign(path: Path, resources: Resources) -> Campaign:
    if path.suffix.lower() == ".csv":
        try:
            encoding = _encoding(path)
            if problems := _header_problems(path, encoding):
                raise InputError(str(path), problems)
            count = sum(1 for _ in _read_csv(path, encoding))
            return Campaign(path, path.stem, None, CsvRows(path, encoding, count))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(str(path), [Problem("", unreadable(exc))]) from exc
        except csv.Error as exc:  # the sniffer finds no separator in the header
            raise InputError(str(path), [Problem("", f"CSV illisible : {CSV_HELP}")]) from exc
    data = read_data_file(path)
    problems = check(resources.schema("campaign"), data)
    if problems:
        raise InputError(str(path), problems)
    meta = data.get("campagne", {})
    date = dt.date.fromisoformat(meta["date"]) if "date" in meta else None
    rows = tuple(Row(i + 1, entry) for i, entry in enumerate(data["signataires"]))
    return Campaign(path, meta.get("nom", path.stem), date, rows)


@lru_cache(maxsize=4)
def _renderer(root: str, variant_ids: tuple[str, ...]) -> tuple[Renderer, Resources]:
    """One compiled renderer per worker process, built on its first task."""
    resources = Resources(Path(root))
    variants = select(load_variants(resources), list(variant_ids))
    return Renderer.build(resources, variants), resources


def _label(row: Row) -> str:
    sig = row.data.get("signataire") if isinstance(row.data, dict) else None
    if isinstance(
        sig, dict
    ):  # as the row wrote it: printable, on one line (no escape sequence reaches a terminal)
        return one_line(f"{sig.get('denomination', '?')} ({sig.get('siret', '?')})", 200)
    return "?"


def render_rows(root, variant_ids, rows: list[Row], out: str, on: dt.date, kinds=KINDS):
    """Worker task: render and write a chunk of rows, then sync them to disk at once; return entries,
    failures and the requests rendered, for the parent to register (one writer: workers never wait
    on each other's locks)."""
    renderer, resources = _renderer(root, variant_ids)
    schema = resources.schema("beneficiary")
    entries, failures, rendered = [], [], []
    for row in rows:
        try:
            source = f"ligne {row.number}"
            request = parse_request(row.data, source, renderer.regions, schema, renderer.variants)
            if row.problems:
                raise InputError(source, ())
            docs = renderer.package(request, on, kinds)
        except InputError as exc:  # every problem of the row: its own and its data's
            failures.append(RowFailure(row.number, _label(row), row.problems + exc.problems))
            continue
        write_documents(Path(out), docs, sync=False)
        rendered.append(request)
        entries += [d.manifest_entry() for d in docs]
    if entries:
        sync_filesystem(Path(out))
    return entries, failures, rendered


def _duplicate(row: Row, first: dict[str, int]) -> Row:
    """A second row for the same SIRET would overwrite the first one's files: it is refused, with
    every other problem it has (render_rows checks it like any row)."""
    sig = row.data.get("signataire") if isinstance(row.data, dict) else None
    siret = compact(str(sig.get("siret", ""))) if isinstance(sig, dict) else ""
    if siret and siret in first:
        message = f"SIRET {siret} déjà présent ligne {first[siret]} : fusionnez les deux lignes"
        return replace(row, problems=(*row.problems, Problem("signataire.siret", message)))
    first.setdefault(siret, row.number)
    return row


CHUNK = 8  # rows per worker task
WINDOW = 4  # tasks in flight per worker: enough to keep it busy, few enough to keep memory flat


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """The rows to render, CHUNK at a time, a second row for a SIRET marked as such."""
    first: dict[str, int] = {}
    chunk = []
    for row in rows:
        chunk.append(_duplicate(row, first))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Manifest:
    """manifest.json, built on disk as chunks complete, never whole in memory.

    Each chunk's entries are appended to `manifest.partial.jsonl` (a first line for the campaign,
    then one line per file) and synced once, after the chunk's files themselves: after a crash it
    names every file complete on disk. The end writes manifest.json from it and removes it.
    """

    JOURNAL = "manifest.partial.jsonl"

    def __init__(self, out: Path, header: dict):
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.files = out, 0
        fd = os.open(out / self.JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # as manifest.json
        self._journal = os.fdopen(fd, "w", encoding="utf-8")
        self._line(header)

    def _line(self, record: dict) -> None:
        self._journal.write(json.dumps(record, ensure_ascii=False) + "\n")

    def add(self, entries: list[dict]) -> None:
        for entry in entries:
            self._line(entry)
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self.files += len(entries)

    def finish(self, failures: list[RowFailure]) -> Path:
        """manifest.json: the campaign's fields, its outputs one per line, then the rows refused."""
        self._journal.close()
        journal, path = self.out / self.JOURNAL, self.out / "manifest.json"
        with journal.open(encoding="utf-8") as lines, atomic_file(path) as fh:
            head = json.dumps(json.loads(next(lines)), ensure_ascii=False, indent=2)
            fh.write(head.removesuffix("\n}").encode() + b',\n  "outputs": [')
            for i, line in enumerate(lines):
                fh.write((",\n    " if i else "\n    ").encode() + line.rstrip("\n").encode())
            rejected = json.dumps([f.as_dict() for f in failures], ensure_ascii=False, indent=2)
            fh.write(f'\n  ],\n  "rejected": {rejected.replace(chr(10), chr(10) + "  ")}\n}}\n'.encode())
        journal.unlink()
        return path

    def abandon(self) -> None:
        self._journal.close()


def manifest_paths(manifest: Path) -> Iterator[str]:
    """The files a manifest.json lists, read a line at a time (it holds one output a line, as
    `Manifest.finish` writes it): a 50,000-signatory campaign's list is never loaded whole."""
    with manifest.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("    {"):
                yield json.loads(line.strip().removesuffix(","))["path"]


def run_campaign(
    campaign: Campaign,
    variant_ids: list[str],
    out: Path,
    resources: Resources,
    jobs: int = 2,
    on: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
    kinds: tuple[str, ...] = KINDS,
    register_db: Path | None = None,
) -> BatchResult:
    """Render the whole campaign, registering each signatory rendered in `register_db` if given;
    `progress(n)` is called as rows complete. Rows are read, submitted and forgotten a window of
    chunks at a time: the parent's memory does not grow with the campaign."""
    variants = select(load_variants(resources), variant_ids)  # unknown ids fail before any work
    on = on or campaign.date or dt.date.today()
    args = (str(resources.root), tuple(variant_ids))
    workers = max(1, min(jobs, -(-len(campaign.rows) // CHUNK)))
    header = {
        "campaign": campaign.name,
        "source": campaign.source.name,
        "date": on.isoformat(),
        "variants": list(variant_ids),
        "rows": len(campaign.rows),
    }
    manifest, failures, pending = Manifest(out, header), [], deque()

    def collect() -> None:
        size, future = pending.popleft()
        entries, chunk_failures, rendered = future.result()
        manifest.add(entries)
        failures.extend(chunk_failures)
        for request in rendered if register_db else ():
            register.record(register_db, request, variants)
        if progress:
            progress(size)

    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for chunk in _chunks(campaign.rows):
                pending.append((len(chunk), pool.submit(render_rows, *args, chunk, str(out), on, kinds)))
                if len(pending) >= WINDOW * workers:
                    collect()
            while pending:
                collect()
    except BaseException:
        manifest.abandon()  # the journal stays: it names the files complete (README)
        raise
    path = manifest.finish(failures)
    return BatchResult(manifest.files, tuple(failures), path, len(campaign.rows), workers)
