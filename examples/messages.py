"""Write one message of each kind, as csac sends them, from real deposits: `make messages`.

The README's examples come from here: a complete deposit (acknowledgement and regional
summary), the same without its EJ (incomplete notice), a damaged ZIP (rejection notice),
and the region's digest. Everything runs through `csac`, as a clerk would run it, in a
throwaway folder; the messages are printed as a mail client shows them.
"""

from __future__ import annotations

import email
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email import policy
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSAC = str(Path(sys.executable).with_name("csac"))
BENEFICIARY = HERE / "beneficiaire.yaml"
EMAIL = "commande-publique@bethunebruay.example"


def csac(*args: str | Path) -> None:
    subprocess.run([CSAC, *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def without_order(source: Path, target: Path) -> None:
    """The same deposit, its EJ left out: what a depositor in a hurry sends."""
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if "ej" not in info.filename.lower() and "commande" not in info.filename.lower():
                zout.writestr(info, zin.read(info))
    target.write_bytes(out.getvalue())
    shutil.copy(source.with_suffix(".json"), target.with_suffix(".json"))


def damaged(source: Path, target: Path) -> None:
    """The same deposit cut in half, as an interrupted upload leaves it."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    shutil.copy(source.with_suffix(".json"), target.with_suffix(".json"))


def shown(path: Path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    head = [f"{name}: {msg[name]}" for name in ("From", "To", "Reply-To", "Subject") if msg[name]]
    attached = [f"[pièce jointe : {part.get_filename()}]" for part in msg.iter_attachments()]
    body = msg.get_body(preferencelist=("plain",)).get_content().rstrip()
    return "\n".join([*head, "", body, *([""] + attached if attached else [])])


def messages(outbox: Path) -> list[Path]:
    """Every message written, oldest first (Maildir names start with the time they were written)."""
    found = [p for new in outbox.glob("*/new") for p in new.iterdir()]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        outbox, state, inbox = root / "outbox", root / "var", root / "inbox"
        inbox.mkdir()
        complete = inbox / "convention-signee.zip"
        csac("sample-deposit", "-b", BENEFICIARY, "-o", complete, "--email", EMAIL)
        other = inbox / "lot4.zip"  # another convention of the same signatory: a dossier of its own
        csac("sample-deposit", "-b", BENEFICIARY, "--variant", "2021-045-lot4", "-o", other, "--email", EMAIL)
        without_order(other, inbox / "sans-ej.zip")
        damaged(complete, inbox / "envoi-interrompu.zip")
        for name in ("convention-signee.zip", "sans-ej.zip", "envoi-interrompu.zip"):
            csac("intake", inbox / name, "--outbox", outbox, "--state", state)
        csac(
            "digest",
            "--region",
            "hauts de france",
            "--since",
            "7j",
            "--send",
            "--outbox",
            outbox,
            "--state",
            state,
        )
        for path in messages(outbox):
            print("=" * 78)
            print(f"Boîte : {path.parent.parent.name}")
            print(shown(path))


if __name__ == "__main__":
    main()
