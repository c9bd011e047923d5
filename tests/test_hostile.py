"""Hostile input: each case ends as a verdict, within bounded memory and time.

Every input is built here and taken in by a real `csac intake` process;
os.wait4 gives that process's own peak memory. Nothing may be written
outside the work folder.
"""

import functools
import json
import os
import struct
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests import builders as b
from tests import warm

pytestmark = pytest.mark.slow  # each case a real `csac intake`, measured

PEAK_MB = 200
SECONDS = 30
REPO = Path(__file__).resolve().parent.parent
GB = 1 << 30


TOOL_CACHES = {".hypothesis", ".pytest_cache", ".ruff_cache"}  # made by the tools, in parallel with this test


def repository_entries() -> set[Path]:
    """What the repository's top folder holds, beside what the test tools themselves keep there."""
    return {p for p in REPO.iterdir() if p.name not in TOOL_CACHES}


def intake(work: Path, data: bytes, name: str = "depot.zip"):
    """(report, peak MB, seconds) of one `csac intake` process, its peak from os.wait4.

    The process is forked from the warm server (tests/warm.py): its peak counts the libraries the
    server imported, about 100 MB, what a cold `csac intake` of a signed PDF holds too.
    """
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    path = work / name
    path.write_bytes(data)
    env = os.environ | {"TMPDIR": str(work / "tmp"), "HOME": str(work), "CSAC_HOME": str(REPO)}
    args = [sys.executable, "-m", "pipeline", "intake", str(path), "--json",
            "--outbox", str(work / "outbox"), "--state", str(work / "var")]  # fmt: skip
    start = time.monotonic()
    with warm.Popen(args, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        out, err = proc.communicate(timeout=SECONDS * 2)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out), proc.rusage.ru_maxrss / 1024, seconds


PDF = b"%PDF-1.4\n"


def _good(renderer, resources) -> dict[str, bytes]:
    entity = b.Entity()
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    return {
        "c.pdf": b.convention_pdf(docs["convention"]),
        "a.xlsx": docs["annex"],
        "o.pdf": b.order_pdf(entity, Decimal("1000")),
    }


def _nested(levels: int) -> bytes:
    nested = b.zip_of([("c.pdf", PDF)])
    for level in range(levels):
        nested = b.zip_of([(f"n{level}.zip", nested)])
    return nested


def _corrupt_central_directory(valid: bytes) -> bytes:
    corrupt_cd = bytearray(valid)
    cd = valid.index(b"PK\x01\x02")
    corrupt_cd[cd : cd + 40] = b"\xee" * 40
    return bytes(corrupt_cd)


def _overlapping_entries() -> bytes:
    single = b.zip_of([("a.pdf", b"\0" * (1 << 20))])
    start, end = single.index(b"PK\x01\x02"), single.index(b"PK\x05\x06")
    entry = single[start:end]
    central = b"".join(entry.replace(b"a.pdf", f"{i:05d}".encode()) for i in range(3000))
    return (
        single[:start]
        + central
        + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 3000, 3000, len(central), start, 0)
    )


def cases(good):
    """Each case as a builder, called only for the case a test takes in: a worker builds what it runs."""

    def with_doc(name, data):
        return b.zip_of([*good().items(), (name, data)])

    def valid():
        return b.zip_of(list(good().items()))

    return {
        "ratio bomb (1 GB of zeros)": lambda: b.raw_zip([b.bomb_member("bombe.pdf", GB)]),
        "announced size lies": lambda: b.raw_zip(
            [b.Raw(b"menteur.pdf", b"", payload=b.deflated_zeros(256 << 20)[0], announced_size=1000)]
        ),
        "overlapping entries (CPython #109858)": _overlapping_entries,
        "zips nested 12 deep": lambda: _nested(12),
        "dot-dot path": lambda: b.raw_zip([b.Raw(b"../../../../tmp/evil.pdf", PDF)]),
        "absolute path": lambda: b.raw_zip([b.Raw(b"/tmp/evil.pdf", PDF)]),
        "symlink member": lambda: b.raw_zip(
            [b.Raw(b"lien", b"/etc/passwd", method=0, external_attr=0o120777 << 16)]
        ),
        "encrypted member": lambda: b.raw_zip([b.Raw(b"c.pdf", PDF, flags=0x1)]),
        "20,000 members": lambda: b.zip_of([(f"f{i}.txt", b"x") for i in range(20_000)]),
        "very long name": lambda: b.raw_zip([b.Raw(("x" * 5000 + ".pdf").encode(), PDF)]),
        "corrupt central directory": lambda: _corrupt_central_directory(valid()),
        "truncated archive": lambda: valid()[: len(valid()) // 3],
        "docx that is a zip bomb": lambda: with_doc("piège.docx", b.ooxml_bomb("docx", GB)),
        "xlsx that is a zip bomb": lambda: with_doc("piège.xlsx", b.ooxml_bomb("xlsx", GB)),
        "entity expansion in a docx": lambda: with_doc("rire.docx", b.entity_bomb("docx")),
        "entity expansion in an xlsx": lambda: with_doc("rire.xlsx", b.entity_bomb("xlsx")),
        "pdf with a huge compressed stream": lambda: with_doc("flux.pdf", b.pdf_stream_bomb(GB)),
        "pdf with cyclic references": lambda: with_doc("cycle.pdf", b.pdf_cycle()),
        "pdf whose object streams inflate to 1 GB": lambda: with_doc(
            "objets.pdf", b.pdf_object_streams(1, GB)
        ),
        "pdf with many object streams: 20,000": lambda: with_doc(
            "objets.pdf", b.pdf_object_streams(20_000, 4096)
        ),
        "pdf with many object streams: 20,000 unclosed": lambda: with_doc(
            "objets.pdf", b.pdf_object_streams(20_000, 64, closed=False)
        ),
        "a pdf named .xlsx and an xlsx named .pdf": lambda: b.zip_of(
            [("c.pdf", good()["c.pdf"]), ("annexe.pdf", good()["a.xlsx"]), ("ej.xlsx", good()["o.pdf"])]
        ),
        "a pdf named .zip": lambda: good()["c.pdf"],
    }


@pytest.fixture(scope="module")
def hostile(renderer, resources):
    """The case a test names, built on first use; the good deposit's documents rendered and signed once."""
    good = functools.cache(lambda: _good(renderer, resources))
    builders = cases(good)
    return functools.cache(lambda case: builders[case]())


@pytest.mark.parametrize(
    "case",
    [
        "ratio bomb (1 GB of zeros)",
        "announced size lies",
        "overlapping entries (CPython #109858)",
        "zips nested 12 deep",
        "dot-dot path",
        "absolute path",
        "symlink member",
        "encrypted member",
        "20,000 members",
        "very long name",
        "corrupt central directory",
        "truncated archive",
        "docx that is a zip bomb",
        "xlsx that is a zip bomb",
        "entity expansion in a docx",
        "entity expansion in an xlsx",
        "pdf with a huge compressed stream",
        "pdf with cyclic references",
        "pdf whose object streams inflate to 1 GB",
        "pdf with many object streams: 20,000",
        "pdf with many object streams: 20,000 unclosed",
        "a pdf named .xlsx and an xlsx named .pdf",
        "a pdf named .zip",
    ],
)
def test_hostile_input_ends_as_a_verdict_within_bounds(tmp_path, hostile, case):
    work = tmp_path / "work"
    before = repository_entries()
    report, peak_mb, seconds = intake(work, hostile(case))
    assert peak_mb < PEAK_MB, f"{case}: {peak_mb:.0f} MB"
    assert seconds < SECONDS, f"{case}: {seconds:.1f} s"
    set_aside = [d for d in report["documents"] if (d.get("note") or "").startswith("mis de côté")]
    codes = [p["code"] for p in report["problems"]]
    if report["status"] == "rejected":
        assert codes and codes[0] in ("archive_unsafe", "archive_corrupt"), codes
    elif case.startswith(("a pdf named", "pdf with many")):  # nothing hostile for a reader here
        assert report["status"] == "complete", report
    else:
        assert report["status"] == "incomplete" and set_aside, report
    assert repository_entries() == before
    assert not (Path("/tmp") / "evil.pdf").exists()
    print(f"{case}: {report['status']} {codes} {peak_mb:.0f} MB {seconds:.2f} s")
