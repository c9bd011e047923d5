"""A form still being written is never read half-written (the class of b_lateform).

The deposit's form must be as settled as the deposit itself: unchanged (size,
times, inode) for `settle` seconds. A JSON form that stops short of its end is
waited for even when its writer pauses longer than that (a slow share, a
person typing); YAML cannot tell, so its quiet time alone decides. A form
rewritten, in place or by a rename, is read in its final version. Each writer
below drops the ZIP first, then the form in its own way, to a real
`csac watch`; the verdict must be the one the final form earns.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from tests.test_watch import full_deposit, rows, wait_for, watcher  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # a real `csac watch` and forms written slowly

FINAL_EMAIL = "achats@test-sur-mer.example"
WRONG = {"numero_marche": "2099-999", "email": "ancienne-adresse@test-sur-mer.example"}


def _yaml(form: dict) -> bytes:
    return yaml.safe_dump(form, allow_unicode=True, sort_keys=False).encode()


def _json(form: dict) -> bytes:
    return json.dumps(form, ensure_ascii=False, indent=1).encode()


def _in_chunks(encode, chunks: int, pause: float, first_pause: float = 0.5) -> Callable:
    """The form written through one open file, in `chunks` parts, `pause` seconds apart."""

    def write(inbox: Path, form: dict, suffix: str) -> None:
        data = encode(form)
        time.sleep(first_pause)
        step = len(data) // chunks + 1
        with (inbox / f"d{suffix}").open("wb") as fh:
            for i in range(0, len(data), step):
                fh.write(data[i : i + step])
                fh.flush()
                if i + step < len(data):
                    time.sleep(pause)

    return write


def _cut_at(marker: bytes, pause: float) -> Callable:
    """The JSON form written up to just after `marker`, then the rest after a long pause."""

    def write(inbox: Path, form: dict, suffix: str) -> None:
        data = _json(form)
        cut = data.index(marker) + len(marker)
        with (inbox / f"d{suffix}").open("wb") as fh:
            fh.write(data[:cut])
            fh.flush()
            time.sleep(pause)
            fh.write(data[cut:])

    return write


def _rewritten(encode, by_rename: bool = False) -> Callable:
    """A whole first version with a wrong market and address, then the corrected one."""

    def write(inbox: Path, form: dict, suffix: str) -> None:
        time.sleep(0.7)
        (inbox / f"d{suffix}").write_bytes(encode(form | WRONG))
        time.sleep(0.6)
        if by_rename:  # an editor's save: a temporary file renamed over the first version
            (inbox / f"d{suffix}.tmp").write_bytes(encode(form))
            os.replace(inbox / f"d{suffix}.tmp", inbox / f"d{suffix}")
        else:
            (inbox / f"d{suffix}").write_bytes(encode(form))

    return write


WRITERS = {  # writer, form suffix, the watcher's settle time
    "json-in-chunks-pausing-less-than-settle": (_in_chunks(_json, 5, 0.3), ".json", 1.0),
    "yaml-in-chunks-pausing-less-than-settle": (_in_chunks(_yaml, 5, 0.3), ".yaml", 1.5),
    "json-cut-inside-a-string-pausing-longer-than-settle": (_cut_at(b'"achats@test', 1.5), ".json", 0.3),
    "json-cut-after-a-key-pausing-longer-than-settle": (_cut_at(b'"email":', 1.5), ".json", 0.3),
    "json-cut-after-a-value-pausing-longer-than-settle": (_cut_at(b'"2021-045 lot 2"', 1.5), ".json", 0.3),
    "json-cut-before-its-last-brace-pausing-longer-than-settle": (
        _cut_at(b'"SERVICE-ACHATS"', 1.5),
        ".json",
        0.3,
    ),
    "json-rewritten-in-place": (_rewritten(_json), ".json", 1.0),
    "yaml-rewritten-in-place": (_rewritten(_yaml), ".yaml", 1.0),
    "json-replaced-by-a-rename": (_rewritten(_json, by_rename=True), ".json", 1.0),
}


def reports(root: Path) -> list[dict]:
    with closing(sqlite3.connect(root / "var" / "journal.sqlite")) as conn:
        return [json.loads(r[0]) for r in conn.execute("SELECT report FROM deposits WHERE state = 'done'")]


@pytest.mark.parametrize("writer", list(WRITERS))
def test_the_verdict_uses_the_form_as_its_writer_left_it(tmp_path, watcher, full_deposit, writer):  # noqa: F811
    write, suffix, settle = WRITERS[writer]
    watch = watcher("--settle", str(settle))
    data, form = full_deposit
    (tmp_path / "inbox" / "d.zip").write_bytes(data)
    write(tmp_path / "inbox", form, suffix)
    wait_for(lambda: len(rows(tmp_path)) == 1, "the deposit")
    [report] = reports(tmp_path)
    assert (report["status"], report["problems"], report["email"]) == ("complete", [], FINAL_EMAIL)
    watch.stop()
    assert sorted(p.name for p in (tmp_path / "inbox" / "done").iterdir()) == sorted(["d.zip", f"d{suffix}"])


def test_a_json_form_that_never_ends_is_judged_once_its_writer_has_been_gone_long_enough(
    tmp_path,
    watcher,  # noqa: F811
    full_deposit,  # noqa: F811
):
    """Waiting has a bound: a form cut short for good gets its verdict (form_invalid), not an endless wait."""
    watcher("--settle", "0.3")
    data, form = full_deposit
    (tmp_path / "inbox" / "d.json").write_bytes(_json(form)[:40])
    (tmp_path / "inbox" / "d.zip").write_bytes(data)
    start = time.monotonic()
    wait_for(lambda: len(rows(tmp_path)) == 1, "the deposit", 40)
    assert 9 < time.monotonic() - start < 20
    assert "form_invalid" in rows(tmp_path)[0]["problems"]


def _cpu_seconds(pid: int) -> float:
    """User and system time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_watcher_waiting_for_a_form_cut_short_sleeps_between_its_looks(
    tmp_path,
    watcher,  # noqa: F811
    full_deposit,  # noqa: F811
):
    """Reading the waiting form must not wake the watcher again: it would look at it without pause."""
    watch = watcher("--settle", "0.3")
    data, form = full_deposit
    (tmp_path / "inbox" / "d.json").write_bytes(_json(form)[:40])
    (tmp_path / "inbox" / "d.zip").write_bytes(data)
    time.sleep(1.0)  # settled: from now on each look finds the form still unfinished
    before = _cpu_seconds(watch.proc.pid)
    time.sleep(3.0)
    assert _cpu_seconds(watch.proc.pid) - before < 0.5  # 2 s and more when each look woke it again
    assert rows(tmp_path) == []  # still waiting for the form
