"""Batch campaigns: every row for every requested variant, past the bad rows.

Rows are rendered in worker processes, each of which compiles the templates
once. A bad row is reported with its number and every problem, and the
campaign goes on; manifest.json lists every file written with its sha256.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import register
from .errors import InputError, Problem
from .reading import unreadable
from .render import Renderer, write_atomic, write_documents
from .request import parse_request, read_data_file
from .resources import KINDS, Resources
from .schemas import check
from .sirets import compact
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
    rows: tuple[Row, ...]


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
    outputs: tuple[dict, ...]
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


def _read_csv(path: Path) -> list[Row]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # Excel's "CSV (séparateur : point-virgule)"
    dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=";,\t")
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    rows = []
    for record in reader:
        if any((v or "").strip() for v in record.values() if isinstance(v, str)):
            rows.append(Row(reader.line_num, csv_row(record), _columns(record, reader.fieldnames)))
    return rows


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


def load_campaign(path: Path, resources: Resources) -> Campaign:
    if path.suffix.lower() == ".csv":
        try:
            return Campaign(path, path.stem, None, tuple(_read_csv(path)))
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
    if isinstance(sig, dict):
        return f"{sig.get('denomination', '?')} ({sig.get('siret', '?')})"
    return "?"


def render_rows(root, variant_ids, rows: list[Row], out: str, on: dt.date, kinds=KINDS):
    """Worker task: render and write a chunk of rows; return entries, failures and the requests
    rendered, for the parent to register (one writer: workers never wait on each other's locks)."""
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
        write_documents(Path(out), docs)
        rendered.append(request)
        entries += [d.manifest_entry() for d in docs]
    return entries, failures, rendered


def _duplicates(rows: tuple[Row, ...]) -> tuple[list[Row], list[RowFailure]]:
    """A second row for the same SIRET would overwrite the first one's files."""
    first: dict[str, int] = {}
    kept, failures = [], []
    for row in rows:
        sig = row.data.get("signataire") if isinstance(row.data, dict) else None
        siret = compact(str(sig.get("siret", ""))) if isinstance(sig, dict) else ""
        if siret and siret in first:
            message = f"SIRET {siret} déjà présent ligne {first[siret]} : fusionnez les deux lignes"
            failures.append(RowFailure(row.number, _label(row), (Problem("signataire.siret", message),)))
            continue
        first.setdefault(siret, row.number)
        kept.append(row)
    return kept, failures


def _chunks(rows: list[Row], size: int) -> Iterator[list[Row]]:
    for i in range(0, len(rows), size):
        yield list(rows[i : i + size])


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
    `progress(n)` is called as rows complete."""
    variants = select(load_variants(resources), variant_ids)  # unknown ids fail before any work
    on = on or campaign.date or dt.date.today()
    args = (str(resources.root), tuple(variant_ids))
    rows, failures = _duplicates(campaign.rows)
    entries = []
    if progress and failures:
        progress(len(failures))
    chunks = list(_chunks(rows, 8))
    workers = max(1, min(jobs, len(chunks)))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            (len(chunk), pool.submit(render_rows, *args, chunk, str(out), on, kinds)) for chunk in chunks
        ]
        for size, future in futures:
            chunk_entries, chunk_failures, rendered = future.result()
            entries += chunk_entries
            failures += chunk_failures
            for request in rendered if register_db else ():
                register.record(register_db, request, variants)
            if progress:
                progress(size)
    return _finish(campaign, variant_ids, out, on, entries, failures, workers)


def _finish(campaign, variant_ids, out, on, entries, failures, workers) -> BatchResult:
    outputs = tuple(sorted(entries, key=lambda e: e["path"]))
    failures = sorted(failures, key=lambda f: f.number)
    manifest = {
        "campaign": campaign.name,
        "source": campaign.source.name,
        "date": on.isoformat(),
        "variants": list(variant_ids),
        "rows": len(campaign.rows),
        "outputs": list(outputs),
        "rejected": [f.as_dict() for f in failures],
    }
    path = out / "manifest.json"
    write_atomic(path, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    return BatchResult(outputs, tuple(failures), path, len(campaign.rows), workers)
