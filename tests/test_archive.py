"""Safe archive reading: names as the depositor saw them, hostile archives refused."""

import io
import zipfile

import pytest

from pipeline.archive import ArchiveRejected, Limits, read_archive
from tests.builders import Raw, explorer_zip, raw_zip, unicode_path_extra, zip_of

PDF = b"%PDF-1.4\n% a document\n"


def names(data: bytes, limits: Limits = Limits()) -> list[str]:
    return [m.name for m in read_archive(data, limits).members]


def rejected(data: bytes, limits: Limits = Limits()) -> ArchiveRejected:
    with pytest.raises(ArchiveRejected) as exc:
        read_archive(data, limits)
    return exc.value


def test_windows_explorer_cp850_names_are_decoded():
    data = explorer_zip([("Dépôt/Convention signée À ÉTÉ Ô.pdf", PDF), ("Annexe besoins ç.xlsx", PDF)])
    assert names(data) == ["Dépôt/Convention signée À ÉTÉ Ô.pdf", "Annexe besoins ç.xlsx"]


def test_utf8_names_without_the_flag_are_decoded_as_utf8():
    data = raw_zip([Raw("Convention signée.pdf".encode(), PDF)])
    assert names(data) == ["Convention signée.pdf"]


def test_the_unicode_path_extra_field_wins_over_the_raw_name():
    raw = "Convention sign?e.pdf".encode("cp850")
    data = raw_zip([Raw(raw, PDF, extra=unicode_path_extra(raw, "Convention signée — 2024.pdf"))])
    assert names(data) == ["Convention signée — 2024.pdf"]


def test_names_are_nfc_normalised():
    decomposed = "Conventio\u0301n.pdf"  # o + combining acute, as macOS writes it
    data = zip_of([(decomposed, PDF)])
    assert names(data) == ["Conventión.pdf"]


def test_system_litter_is_ignored():
    data = zip_of(
        [
            ("__MACOSX/._conv.pdf", b"x"),
            ("Thumbs.db", b"x"),
            ("scans/desktop.ini", b"x"),
            (".DS_Store", b"x"),
            ("conv.pdf", PDF),
        ]
    )
    archive = read_archive(data)
    assert [m.name for m in archive.members] == ["conv.pdf"]
    assert len(archive.ignored) == 4


def test_a_nested_zip_is_opened():
    inner = zip_of([("EJ.pdf", PDF)])
    assert names(zip_of([("conv.pdf", PDF), ("pièces/autres.zip", inner)])) == [
        "conv.pdf",
        "pièces/autres.zip/EJ.pdf",
    ]


def test_a_docx_is_a_document_not_a_nested_archive(renderer, parse, bethune):
    import datetime as dt

    docx = renderer.package(parse(bethune, ["2021-063-002"]), dt.date(2024, 3, 1), ("convention",))[0].data
    assert names(zip_of([("convention.docx", docx)])) == ["convention.docx"]


@pytest.mark.parametrize(
    "bad_name", [b"../../etc/passwd", b"dossier/../../x.pdf", b"/etc/cron.d/x", b"C:/Windows/x.pdf"]
)
def test_paths_leaving_the_archive_are_refused(bad_name):
    assert rejected(raw_zip([Raw(bad_name, PDF)])).code == "archive_unsafe"


def test_symlink_members_are_refused():
    link = Raw(b"lien.pdf", b"/etc/passwd", method=0, external_attr=(0o120777 << 16))
    assert rejected(raw_zip([link])).code == "archive_unsafe"


def test_encrypted_members_are_refused():
    assert "chiffré" in rejected(raw_zip([Raw(b"conv.pdf", PDF, flags=0x1)])).reason


def test_a_ratio_bomb_is_refused_after_reading_at_most_the_budget():
    bomb = zip_of([("bombe.pdf", b"\0" * (50 * 2**20))])
    assert len(bomb) < 100_000
    assert rejected(bomb).code == "archive_unsafe"


def test_a_member_lying_about_its_size_is_bounded_by_bytes_actually_inflated():
    liar = raw_zip([Raw(b"a.pdf", b"\0" * (3 * 2**20), announced_size=100)])
    limits = Limits(max_total_bytes=2 * 2**20, max_ratio=10**6)
    assert rejected(liar, limits).code in ("archive_unsafe", "archive_corrupt")


def test_the_total_inflated_size_is_capped_across_members():
    data = zip_of(
        [(f"{i}.pdf", bytes(range(256)) * 4096) for i in range(4)]
    )  # 4 MB, compressible but not a bomb
    assert rejected(data, Limits(max_total_bytes=3 * 2**20)).code == "archive_unsafe"


def test_too_many_members_are_refused():
    assert rejected(zip_of([(f"{i}.txt", b"x") for i in range(600)])).code == "archive_unsafe"


def test_deep_nesting_is_refused():
    data = zip_of([("conv.pdf", PDF)])
    for level in range(5):
        data = zip_of([(f"niveau{level}.zip", data)])
    assert "imbriquées" in rejected(data).reason


def test_too_long_names_are_refused():
    assert rejected(zip_of([("x" * 300 + ".pdf", PDF)])).code == "archive_unsafe"


def test_a_truncated_zip_is_corrupt():
    data = zip_of([("conv.pdf", PDF * 1000)])
    assert rejected(data[: len(data) // 2]).code == "archive_corrupt"


def test_a_file_that_is_not_a_zip_is_corrupt():
    assert rejected(PDF).code == "archive_corrupt"


def test_a_corrupt_member_is_corrupt_not_a_crash():
    data = bytearray(zip_of([("conv.pdf", PDF * 1000)]))
    data[40:60] = b"\xff" * 20  # inside the deflated stream
    assert rejected(bytes(data)).code == "archive_corrupt"


def test_an_unsupported_zip_version_is_corrupt_not_a_crash():
    """Found by atheris: zipfile raises NotImplementedError for version 25.5."""
    data = bytearray(zip_of([("conv.pdf", PDF)]))
    central = data.index(b"PK\x01\x02")
    data[central + 6] = 255  # "version needed to extract" in the central directory
    assert rejected(bytes(data)).code == "archive_corrupt"


def test_an_empty_member_name_is_not_a_crash():
    """Found by atheris: ZipInfo.is_dir() raises IndexError on an empty name."""
    assert names(raw_zip([Raw(b"", PDF), Raw(b"conv.pdf", PDF)])) == ["conv.pdf"]


def test_overlapping_entries_give_a_verdict_not_a_crash():
    """The CPython #109858 kind: many central entries pointing at one local entry."""
    single = zip_of([("a.pdf", b"\0" * 2**20)])
    with zipfile.ZipFile(io.BytesIO(single)) as zf:
        info = zf.infolist()[0]
    cd_start = single.index(b"PK\x01\x02")
    entry = single[cd_start : single.index(b"PK\x05\x06")]
    copies = [entry.replace(b"a.pdf", f"{i:05d}".encode()) for i in range(200)]
    central = b"".join(copies)
    end = zipfile.structEndArchive
    import struct

    tail = struct.pack(end, zipfile.stringEndArchive, 0, 0, 200, 200, len(central), cd_start, 0)
    bomb = single[:cd_start] + central + tail
    assert info.file_size == 2**20
    assert rejected(bomb).code in ("archive_unsafe", "archive_corrupt")
