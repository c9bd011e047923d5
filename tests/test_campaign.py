"""Campaigns: a manifest built on disk, rows read a window at a time, what an interruption leaves."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from pipeline import campaign as cp
from pipeline.campaign import Campaign, load_campaign, run_campaign
from tests.builders import make_siret

DAY = dt.date(2024, 3, 1)
VARIANT = ["2021-063-002"]
FIELDS = ["denomination", "siret", "typologie", "adresse", "code_postal", "ville", "montant_maximum"]


def write_csv(path: Path, count: int, duplicate_every: int = 0) -> Path:
    """`count` signatories; with duplicate_every=n, every n-th line repeats the SIRET of the line before."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(FIELDS)
        for i in range(count):
            n = i - 1 if duplicate_every and i and i % duplicate_every == 0 else i
            name = f"Commune n° {i} « Les Étangs » & <associés>"
            writer.writerow(
                [name, make_siret(500 + n), "region", f"{i} rue Haute", "62411", "BETHUNE", 1000 + i]
            )
    return path


def files_on_disk(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in out.rglob("*")
        if p.is_file() and p.parent != out
    }


@pytest.mark.parametrize("count, duplicate_every", [(1, 0), (9, 0), (40, 7)])
def test_the_manifest_lists_every_file_written_in_row_order(tmp_path, resources, count, duplicate_every):
    source = write_csv(tmp_path / "c.csv", count, duplicate_every)
    result = run_campaign(load_campaign(source, resources), VARIANT, tmp_path / "out", resources, on=DAY)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert {e["path"]: e["sha256"] for e in manifest["outputs"]} == files_on_disk(tmp_path / "out")
    sirets = [e["siret"] for e in manifest["outputs"] if e["kind"] == "convention"]
    assert sirets == sorted(sirets, key=lambda s: int(s[1:8]))  # the CSV's order: make_siret(500 + n)
    assert result.files == len(manifest["outputs"]) == 3 * len(sirets)
    assert [r["row"] for r in manifest["rejected"]] == sorted(r["row"] for r in manifest["rejected"])
    assert len(manifest["rejected"]) == ((count - 1) // duplicate_every if duplicate_every else 0)
    assert manifest["rows"] == count and not (tmp_path / "out" / cp.Manifest.JOURNAL).exists()


class Counted:
    """A campaign's rows that count how many were read: the campaign must not read ahead."""

    def __init__(self, rows):
        self.rows, self.read = rows, 0

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        for row in self.rows:
            self.read += 1
            yield row


def test_a_campaign_reads_its_rows_a_window_of_chunks_ahead(tmp_path, resources):
    loaded = load_campaign(write_csv(tmp_path / "c.csv", 200), resources)
    rows = Counted(list(loaded.rows))
    ahead, done = [], [0]

    def progress(n):
        done[0] += n
        ahead.append(rows.read - done[0])  # rows read but not yet rendered

    campaign = Campaign(loaded.source, loaded.name, None, rows)
    run_campaign(campaign, VARIANT, tmp_path / "out", resources, jobs=2, on=DAY, progress=progress)
    assert 0 < max(ahead) <= cp.WINDOW * 2 * cp.CHUNK < 200  # a window of chunks, never the campaign
    assert rows.read == 200


def test_an_interrupted_campaign_leaves_a_journal_of_the_files_complete(tmp_path, resources):
    campaign = load_campaign(write_csv(tmp_path / "c.csv", 120), resources)
    done = []

    def interrupt(n):
        done.append(n)
        if len(done) == 3:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_campaign(campaign, VARIANT, out, resources, on=DAY, progress=interrupt)
    lines = (out / cp.Manifest.JOURNAL).read_text(encoding="utf-8").splitlines()
    header, entries = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["rows"] == 120 and not (out / "manifest.json").exists()
    assert len(entries) == 3 * cp.CHUNK * 3  # three chunks collected, three files per row
    on_disk = files_on_disk(out)
    assert all(on_disk[e["path"]] == e["sha256"] for e in entries)


def test_a_csv_campaign_is_read_from_its_file_at_each_pass(tmp_path, resources):
    campaign = load_campaign(write_csv(tmp_path / "c.csv", 30), resources)
    assert len(campaign.rows) == 30 and not isinstance(campaign.rows, tuple)
    assert [r.number for r in campaign.rows] == list(range(2, 32)) == [r.number for r in campaign.rows]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_a_csv_from_excel_or_elsewhere_reads_the_same_rows(tmp_path, resources, encoding, delimiter):
    """UTF-8 with or without BOM, or Excel's cp1252; semicolons, commas or tabs; \r\n line ends."""
    reference = load_campaign(write_csv(tmp_path / "ref.csv", 12), resources)
    text = (tmp_path / "ref.csv").read_text(encoding="utf-8").replace(";", delimiter)
    other = tmp_path / "other.csv"
    other.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode(encoding))
    campaign = load_campaign(other, resources)
    assert len(campaign.rows) == 12 and list(campaign.rows) == list(reference.rows)
