"""What is kept in quarantine: every rejected deposit, under a name the file system takes, never a disk's worth."""

from pipeline.intake import take_in


def codes(report) -> list[str]:
    return [p.code for p in report.problems]


def test_a_rejected_deposit_with_a_name_too_long_once_printable_is_kept_in_quarantine(intake_ctx, drop):
    """251 bytes that are not UTF-8 become 251 replacement characters (753 bytes): the kept copy is shortened."""
    path = drop(b"pas une archive", "depot.zip")
    report = take_in(path, intake_ctx, name="\ufffd" * 251 + ".zip")
    assert (report.status, codes(report)) == ("rejected", ["archive_corrupt"])
    [kept] = [
        p for p in (intake_ctx.workspace.quarantine / report.deposit_id).iterdir() if p.suffix == ".zip"
    ]
    assert kept.read_bytes() == b"pas une archive" and len(kept.name.encode()) <= 200


def test_a_deposit_past_the_size_limit_is_not_copied_into_quarantine(intake_ctx, tmp_path):
    path = tmp_path / "enorme.zip"
    with path.open("wb") as fh:
        fh.write(b"PK\x03\x04")
        fh.truncate(200 << 20)  # sparse: 200 MB announced, nothing written
    report = take_in(path, intake_ctx)
    folder = intake_ctx.workspace.quarantine / report.deposit_id
    assert (report.status, codes(report)) == ("rejected", ["archive_unsafe"])
    assert sorted(p.name for p in folder.iterdir()) == ["original-non-copie.txt", "reason.txt", "report.json"]
    assert "200 Mo" in (folder / "original-non-copie.txt").read_text()
