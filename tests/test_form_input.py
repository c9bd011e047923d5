"""The deposit form is written by anyone: hostile or careless forms end as a verdict, never an exception.

Each class of input is taken in by take_in with a real deposit beside it. The
checks: a verdict (form_invalid where the form is at fault), and the mail in
the outbox goes to valid addresses only, has one-line headers, and quotes no
raw, oversized or link-bearing text.
"""

import email
import io
import json
import mailbox
import os
import time
import unicodedata
import zipfile
from decimal import Decimal
from email import policy
from email.utils import getaddresses
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from email_validator import validate_email

from pipeline.config import Config, Relay
from pipeline.deliver import new_message
from pipeline.form import MAX_BYTES, read_form
from pipeline.intake import IntakeContext, take_in
from pipeline.mailqueue import MailQueue
from pipeline.report import IntakeReport
from tests import builders as b
from tests.test_hostile import intake
from tests.test_smtp import Recorder, free_port
from tests.test_watch import WatchProcess, rows, wait_for

ENTITY = b.Entity()
SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "deposit-form.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
MAX_LENGTH = {name: spec["maxLength"] for name, spec in SCHEMA["properties"].items()}
LABEL = {name: f"« {spec['title']} »" for name, spec in SCHEMA["properties"].items()}  # as the portal says it
CONTROLS = {
    "CR LF and a header": "\r\nBcc: victime@exemple.fr",
    "LF": "\n",
    "CR": "\r",
    "NUL": "\x00",
    "ESC sequence": "\x1b[2J",
    "DEL": "\x7f",
    "C1 CSI": "\x9b",
    "NEL U+0085": "\x85",
    "LINE SEPARATOR U+2028": "\u2028",
    "PARAGRAPH SEPARATOR U+2029": "\u2029",
    "RIGHT-TO-LEFT OVERRIDE U+202E": "\u202e",
}
HEADER_FIELDS = ("raison_sociale", "email", "numero_marche", "reference_commande", "code_service_chorus")


@pytest.fixture(scope="module")
def order_only() -> bytes:
    """A readable, incomplete deposit (the EJ alone): routed by its postal code, the depositor told."""
    return b.zip_of([("EJ.pdf", b.order_pdf(ENTITY, Decimal("1000")))])


@pytest.fixture(scope="module")
def complete(renderer, resources) -> bytes:
    docs = b.rendered(renderer, resources, ENTITY, "2021-045-lot2")
    return b.zip_of(
        [
            ("Convention.pdf", b.convention_pdf(docs["convention"])),
            ("Annexe.xlsx", docs["annex"]),
            ("EJ.pdf", b.order_pdf(ENTITY, Decimal("1000"))),
        ]
    )


def form(**changes) -> dict:
    return b.form(ENTITY, code_service_chorus="factures@test-sur-mer.example") | changes


def codes(report) -> list[str]:
    return [p.code for p in report.problems]


def mail(ctx) -> dict[str, list[email.message.EmailMessage]]:
    """Every message in the outbox, by Maildir."""
    outbox = ctx.workspace.outbox
    return {
        box.name: [
            email.message_from_bytes(m.as_bytes(), policy=policy.default) for m in mailbox.Maildir(box)
        ]
        for box in (outbox.iterdir() if outbox.exists() else [])
        if (box / "new").is_dir()  # Maildirs, not the quarantine or the archive of originals
    }


def clean(text: str) -> bool:
    return all(unicodedata.category(c)[0] != "C" for c in text)


def assert_safe_mail(ctx, *raw: str, cap: int = 60) -> None:
    """One-line headers, recipients that are single valid addresses, and no raw value in any
    message: a value with control characters never, a long one never beyond `cap` characters."""
    for messages in mail(ctx).values():
        for msg in messages:
            for name, value in msg.items():
                assert clean(str(value)) and len(str(value)) <= 256, (name, value)
            for header in ("To", "Cc", "Reply-To"):
                for _, addr in getaddresses(msg.get_all(header, [])):
                    assert validate_email(addr, check_deliverability=False).ascii_email == addr
            text = msg.as_string() + msg.get_body(("plain",)).get_content()
            for value in raw:
                if clean(value) and len(value) <= cap:
                    continue  # short and on one line: it may be quoted
                assert (value[: cap + 1] if clean(value) else value) not in text


def strings(value):
    """Every string in a report."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def notice_text(ctx) -> str:
    [notice] = mail(ctx)["depositors"]
    return notice.get_body(("plain",)).get_content()


def take_in_with_form(ctx, drop, data: bytes, content: str | bytes, suffix: str = ".json") -> IntakeReport:
    path = drop(data)
    sidecar = path.with_suffix(suffix)
    sidecar.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return take_in(path, ctx)


# -- item 5: control characters in what becomes a header ----------------------------------------


@pytest.mark.parametrize("control", CONTROLS.values(), ids=CONTROLS.keys())
@pytest.mark.parametrize("field", HEADER_FIELDS)
def test_a_control_character_in_a_header_bound_field_is_form_invalid_and_the_field_unused(
    intake_ctx, drop, order_only, field, control
):
    value = form()[field]
    hostile = value[:3] + control + value[3:]
    report = take_in(drop(order_only, form=form(**{field: hostile})), intake_ctx)
    assert "form_invalid" in codes(report) and LABEL[field] in report.problems[-1].message
    assert not any(hostile in s for s in strings(report.to_json()))
    if field == "email":
        assert "depositors" not in mail(intake_ctx)
    assert_safe_mail(intake_ctx, hostile)


NAME_CONTROLS = {k: v for k, v in CONTROLS.items() if v != "\x00"}  # the only byte a file name cannot hold
NAME_CONTROLS["a byte that is not UTF-8"] = os.fsdecode(b"\xe9")


@pytest.mark.parametrize("control", NAME_CONTROLS.values(), ids=NAME_CONTROLS.keys())
def test_a_control_character_in_the_file_name_reaches_no_header(intake_ctx, drop, order_only, control):
    report = take_in(drop(order_only, name=f"dépôt{control}mairie.zip"), intake_ctx)  # no signatory
    assert report.status == "incomplete" and report.delivered_to
    [region] = mail(intake_ctx)["Hauts-de-France@resah.fr"]
    assert "dépôt" in region["Subject"] and control not in region["Subject"]
    assert_safe_mail(intake_ctx, f"dépôt{control}mairie.zip")


@pytest.mark.parametrize(
    "subject",
    [*(f"Commune{c}de Test" for c in CONTROLS.values()), "x" * 100_000, "é" * 100_000, "mot " * 30_000],
    ids=[*CONTROLS.keys(), "100,000-character word", "100,000 accented letters", "30,000 words"],
)
def test_a_header_built_from_any_text_is_one_short_line(subject):
    msg = new_message("Corse@resah.fr", subject, "corps", "2024-0001", "region", "2024-03-01T10:00:00+01:00")
    text = msg.as_string()
    parsed = email.message_from_string(text, policy=policy.default)
    assert len(str(parsed["Subject"])) <= 256 and clean(str(parsed["Subject"]))
    assert parsed["Bcc"] is None and parsed.get_content() == "corps\n"


# -- item 5: long names --------------------------------------------------------------------------


def name_of(size: int, letter: str) -> str:
    """A deposit name of exactly `size` bytes in UTF-8, made of `letter` (1 to 4 bytes each)."""
    width = len(letter.encode())
    count, rest = divmod(size - len(".zip"), width)
    return letter * count + "x" * rest + ".zip"


@pytest.mark.parametrize("letter", ["a", "é", "€", "😀"], ids=["ascii", "2-byte", "3-byte", "4-byte"])
@pytest.mark.parametrize("size", [250, 251, 254, 255])
def test_a_deposit_named_up_to_255_bytes_gets_a_verdict(intake_ctx, drop, order_only, size, letter):
    name = name_of(size, letter)
    assert len(name.encode()) == size
    path = drop(order_only, name=name)
    sidecar = path.parent / (name[: -len(".zip")] + ".json")
    fits = len(sidecar.name.encode()) <= 255  # NAME.json is one byte longer than NAME.zip
    if fits:
        sidecar.write_text(json.dumps(form()), encoding="utf-8")
    report = take_in(path, intake_ctx)
    assert report.status == "incomplete" and report.file == name
    assert ("depositors" in mail(intake_ctx)) is fits
    assert_safe_mail(intake_ctx, name, cap=120)


# -- item 5 and 6: nesting, aliases, size --------------------------------------------------------


def deep(fmt: str, shape: str, depth: int) -> str:
    if fmt == "json":
        opened, closed = ("[", "]") if shape == "list" else ('{"a":', "}")
    else:
        opened, closed = ("[", "]") if shape == "list" else ("{a: ", "}")
    return opened * depth + "1" + closed * depth


@pytest.mark.parametrize("depth", [1_000, 30_000, 100_000])
@pytest.mark.parametrize("shape", ["list", "mapping"])
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_a_deeply_nested_form_is_form_invalid(intake_ctx, drop, order_only, fmt, shape, depth):
    report = take_in_with_form(intake_ctx, drop, order_only, deep(fmt, shape, depth), f".{fmt}")
    assert codes(report)[-1] == "form_invalid" and report.email is None
    assert "depositors" not in mail(intake_ctx)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_a_nested_value_in_one_field_refuses_that_field_only(intake_ctx, drop, order_only, fmt):
    good = form()
    if fmt == "json":
        text = json.dumps(good)[:-1] + ', "raison_sociale": ' + deep("json", "list", 400) + "}"
    else:
        text = "".join(f"{k}: {json.dumps(v)}\n" for k, v in good.items() if k != "raison_sociale")
        text += "raison_sociale: " + deep("yaml", "mapping", 15) + "\n"
    report = take_in_with_form(intake_ctx, drop, order_only, text, f".{fmt}")
    assert "form_invalid" in codes(report) and LABEL["raison_sociale"] in report.problems[-1].message
    assert report.email == good["email"]  # the other fields are still used
    assert_safe_mail(intake_ctx)


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
ALIASES = {
    "billion laughs": LAUGHS,
    "one big anchor referenced 10,000 times": "a: &a "
    + "x" * 5000
    + "\nb: ["
    + ", ".join(["*a"] * 10_000)
    + "]\n",
    "merge key": "base: &base {email: achats@test-sur-mer.example}\nform:\n  <<: *base\n",
    "one harmless alias": "email: &e achats@test-sur-mer.example\ncopie: *e\n",
    "an anchor alone": 'raison_sociale: &r "Commune de Test"\n',
}


@pytest.mark.parametrize("text", ALIASES.values(), ids=ALIASES.keys())
def test_a_yaml_form_with_anchors_or_aliases_is_form_invalid(intake_ctx, drop, order_only, text):
    clean = "".join(f"{k}: {json.dumps(v)}\n" for k, v in form().items() if k not in text)
    report = take_in_with_form(intake_ctx, drop, order_only, clean + text, ".yaml")
    assert codes(report)[-1] == "form_invalid" and "alias" in report.problems[-1].message
    assert report.email is None and "depositors" not in mail(intake_ctx)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_500_mb_form_is_refused_without_being_read(intake_ctx, drop, order_only, suffix):
    path = drop(order_only)
    with path.with_suffix(suffix).open("wb") as fh:
        fh.write(json.dumps(form()).encode())
        fh.truncate(500 << 20)  # sparse: nothing is written
    report = take_in(path, intake_ctx)
    assert codes(report)[-1] == "form_invalid" and "64 Ko" in report.problems[-1].message
    assert report.email is None


@pytest.mark.parametrize("extra, refused", [(0, False), (1, True)], ids=["exactly 64 KB", "64 KB and 1 byte"])
def test_a_form_of_up_to_64_kb_is_read(intake_ctx, drop, order_only, extra, refused):
    text = json.dumps(form())
    text += " " * (MAX_BYTES - len(text.encode()) + extra)
    report = take_in_with_form(intake_ctx, drop, order_only, text)
    assert ("form_invalid" in codes(report)) is refused
    assert (report.email is None) is refused


# -- item 6: every field has a maximum length, checked before it is used -------------------------


def at_length(field: str, size: int) -> str:
    """A plausible value of `field`, exactly `size` characters long."""
    if field == "email":
        local = "a" * 64
        labels, left = [], size - len(local) - 1 - len(".example")
        while left > 0:
            part = min(63, left - 1 if left > 63 else left)
            labels.append("d" * part)
            left -= part + 1
        return f"{local}@{'.'.join(labels)}.example"
    if field == "telephone":
        return ("03 21 00 00 00 00 00 00")[:size]
    if field == "siret":
        return b.spaced(ENTITY.siret) + " " * (size - 17)
    start = {"numero_marche": "2021-045 lot 2 ", "reference_commande": "1300012345 "}.get(field, "")
    return (start + "x" * size)[:size]


@pytest.mark.parametrize("field", sorted(MAX_LENGTH))
def test_a_field_at_its_maximum_length_is_accepted(intake_ctx, drop, order_only, field):
    value = at_length(field, MAX_LENGTH[field])
    assert len(value) == MAX_LENGTH[field]
    path = drop(order_only, form=form(**{field: value}))
    report = take_in(path, intake_ctx)
    assert "form_invalid" not in codes(report), report.problems
    assert read_form(path.with_suffix(".json"), SCHEMA_PATH).get(field) == value.strip()


@pytest.mark.parametrize("field", sorted(MAX_LENGTH))
def test_a_field_past_its_maximum_length_is_form_invalid_and_never_used(intake_ctx, drop, order_only, field):
    value = at_length(field, MAX_LENGTH[field] + 1)
    path = drop(order_only, form=form(**{field: value}))
    report = take_in(path, intake_ctx)
    assert codes(report)[-1] == "form_invalid" and LABEL[field] in report.problems[-1].message
    assert read_form(path.with_suffix(".json"), SCHEMA_PATH).get(field) is None
    assert_safe_mail(intake_ctx, value)


def test_a_100_000_character_raison_sociale_is_refused_quickly(intake_ctx, drop, order_only):
    start = time.monotonic()
    report = take_in(drop(order_only, form=form(raison_sociale="R" * 100_000)), intake_ctx)
    assert time.monotonic() - start < 20 and codes(report)[-1] == "form_invalid"
    assert_safe_mail(intake_ctx, "R" * 61)


# -- item 7: e-mail addresses ----------------------------------------------------------------------

INVALID_ADDRESSES = [
    "@",
    "",
    "achats",
    "achats@",
    "@test-sur-mer.example",
    "achats@test-sur-mer.example,pirate@exemple.fr",
    "achats@test-sur-mer.example, pirate@exemple.fr",
    "achats@test-sur-mer.example;pirate@exemple.fr",
    "achats@test-sur-mer.example pirate@exemple.fr",
    "Achats <achats@test-sur-mer.example>",
    '"Service achats" <achats@test-sur-mer.example>',
    "achats(service)@test-sur-mer.example",
    "ach ats@test-sur-mer.example",
    "achats@mairie",
    "achats@mairie.",
    "achats@.fr",
    "achats@mairie..fr",
    "achats@[192.0.2.1]",
    "achats@localhost",
    "achats@test-sur-mer.example\r\nBcc: pirate@exemple.fr",
    "achats@test-sur-mer.example\n",
    "a" * 300 + "@test-sur-mer.example",
    "achats@" + "d" * 300 + ".fr",
    "mailto:achats@test-sur-mer.example",
]


@pytest.mark.parametrize("address", INVALID_ADDRESSES)
def test_an_invalid_email_is_form_invalid_and_gets_no_notice(intake_ctx, drop, order_only, address):
    report = take_in(drop(order_only, form=form(email=address)), intake_ctx)
    assert codes(report)[-1] == "form_invalid" and LABEL["email"] in report.problems[-1].message
    assert report.email is None
    boxes = mail(intake_ctx)
    assert "depositors" not in boxes and list(boxes) == ["Hauts-de-France@resah.fr"]
    assert_safe_mail(intake_ctx, address)


@pytest.mark.parametrize(
    "address",
    [
        "factures@test-sur-mer.example, pirate@exemple.fr",
        "Factures <factures@test-sur-mer.example>",
        "URGENT : réglez sur https://paiement.exemple.fr @ avant ce soir",
        "factures@test-sur-mer.example\r\nBcc: pirate@exemple.fr",
        "@",
    ],
)
def test_an_invalid_invoice_address_is_form_invalid_and_never_written_to(
    intake_ctx, drop, order_only, address
):
    report = take_in(drop(order_only, form=form(code_service_chorus=address)), intake_ctx)
    assert codes(report)[-1] == "form_invalid" and LABEL["code_service_chorus"] in report.problems[-1].message
    assert report.code_service is None
    text = notice_text(intake_ctx)
    assert "titre de recettes vous sera adressé" not in text and "https://" not in text
    assert_safe_mail(intake_ctx, address)


@pytest.mark.parametrize(
    "address, ascii_form",
    [
        ("achats@mairie-évry.fr", "achats@xn--mairie-vry-h7a.fr"),
        ("achats@Mairie-Arras.FR", "achats@mairie-arras.fr"),
        ("commande.publique@ville-de-sète.fr", "commande.publique@xn--ville-de-ste-6db.fr"),
        (" achats@test-sur-mer.example ", "achats@test-sur-mer.example"),
    ],
)
def test_a_valid_address_gets_the_notice_in_its_ascii_form(intake_ctx, drop, order_only, address, ascii_form):
    report = take_in(drop(order_only, form=form(email=address)), intake_ctx)
    assert "form_invalid" not in codes(report) and report.email == ascii_form
    [notice] = mail(intake_ctx)["depositors"]
    assert notice["To"] == ascii_form
    assert_safe_mail(intake_ctx)


ACCENTED = "élodie.bégué@test-sur-mer.example"


def test_an_address_with_accents_is_refused_when_the_relay_cannot_carry_it(
    resources, workspace, drop, order_only
):
    """Without `smtp.smtputf8: true`, the notice could never leave: the depositor is told through the form."""
    relay = Relay("127.0.0.1", "csac@resah.fr", 2525, "none")
    ctx = IntakeContext.build(resources, workspace, config=Config(workspace, relay))
    report = take_in(drop(order_only, form=form(email=ACCENTED)), ctx)
    assert (
        codes(report)[-1] == "form_invalid"
        and "lettres accentuées avant le « @ »" in report.problems[-1].message
    )
    assert report.email is None
    assert [m["recipients"] for m in MailQueue(workspace.state).all()] == ["Hauts-de-France@resah.fr"]


def test_an_address_with_accents_gets_its_notice_in_utf8_in_the_maildir(intake_ctx, drop, order_only):
    report = take_in(drop(order_only, form=form(email=ACCENTED)), intake_ctx)
    assert "form_invalid" not in codes(report) and report.email == ACCENTED
    [notice] = mail(intake_ctx)["depositors"]
    assert notice["To"] == ACCENTED
    raw = next((intake_ctx.workspace.outbox / "depositors" / "new").iterdir()).read_bytes()
    assert f"To: {ACCENTED}".encode() in raw  # RFC 6532, not an encoded word that no server would know


def test_an_address_with_accents_reaches_a_relay_that_carries_smtputf8(
    resources, workspace, drop, order_only
):
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)
    controller.start()
    try:
        relay = Relay("127.0.0.1", "csac@resah.fr", controller.port, "none", timeout=5, smtputf8=True)
        ctx = IntakeContext.build(resources, workspace, config=Config(workspace, relay))
        take_in(drop(order_only, form=form(email=ACCENTED)), ctx)
    finally:
        controller.stop()
    assert [rcpt for _, rcpts in recorder.envelopes for rcpt in rcpts if "@test-sur-mer" in rcpt] == [
        ACCENTED
    ]


PHISHING = "URGENT : réglez 1 500 € sur https://paiement-resah.exemple.fr/iban avant ce soir"


@pytest.mark.parametrize(
    "field, value",
    [
        ("numero_marche", PHISHING),
        ("numero_marche", "2021-063 — URGENT appelez le 08 99 00 00 00, www.resah-paiement.exemple.fr"),
        ("reference_commande", "URGENT https://paiement-resah.exemple.fr/" + "x" * 80),
        ("message", f"{PHISHING}\n\nLe Resah vous remercie.\n" + "bla " * 1000),
        ("raison_sociale", PHISHING),
        ("telephone", PHISHING),
    ],
)
def test_free_text_in_the_form_is_never_the_resahs_own_words(intake_ctx, drop, complete, field, value):
    report = take_in(drop(complete, form=form(**{field: value})), intake_ctx)
    assert report.email == form()["email"]
    text = notice_text(intake_ctx)
    assert "https://" not in text and "www." not in text and "Le Resah vous remercie" not in text
    for line in text.splitlines():
        if "URGENT" in line:  # quoted as what the form said, capped
            assert "formulaire" in line and "« " in line and len(line.split("« ", 1)[1].split(" »")[0]) <= 60
    assert_safe_mail(intake_ctx, value[:61])


# -- bounds of the whole process, and the watcher going on -----------------------------------------


def write_sparse(path: Path) -> None:
    with path.open("wb") as fh:
        fh.truncate(500 << 20)


HOSTILE_FORMS = {
    "500 MB sparse form": (".json", write_sparse),
    "billion laughs": (".yaml", LAUGHS),
    "one big anchor referenced 10,000 times": (".yaml", ALIASES["one big anchor referenced 10,000 times"]),
    "30,000-deep JSON": (".json", deep("json", "list", 30_000)),
    "30,000-deep YAML": (".yaml", deep("yaml", "list", 30_000)),
    "100,000-deep JSON": (".json", deep("json", "mapping", 100_000)),
    "60,000-character raison sociale": (".json", json.dumps(form(raison_sociale="R" * 60_000))),
}


def place(folder: Path, stem: str, case: str) -> None:
    """The hostile form `case`, as STEM.json or STEM.yaml in `folder`."""
    suffix, content = HOSTILE_FORMS[case]
    path = folder / f"{stem}{suffix}"
    content(path) if callable(content) else path.write_text(content, encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("case", HOSTILE_FORMS)
def test_a_hostile_form_is_taken_in_within_200_mb_and_20_s(tmp_path, order_only, case):
    work = tmp_path / "work"
    work.mkdir()
    place(work, "depot", case)
    report, peak_mb, seconds = intake(work, order_only)
    assert peak_mb < 200, f"{case}: {peak_mb:.0f} MB"
    assert seconds < 20, f"{case}: {seconds:.1f} s"
    assert report["problems"][-1]["code"] == "form_invalid"
    assert all(len(s) < 2000 for s in strings(report))  # nothing of the form is kept whole
    print(f"{case}: {peak_mb:.0f} MB {seconds:.2f} s")


POISON = {
    "CR LF in the e-mail": lambda: {"email": "achats@test-sur-mer.example\r\nBcc: pirate@exemple.fr"},
    "U+2028 in the raison sociale": lambda: {"raison_sociale": "Commune\u2028de Test"},
    "100,000-character raison sociale": lambda: {"raison_sociale": "R" * 100_000},
    "comma list of addresses": lambda: {"email": "achats@test-sur-mer.example, pirate@exemple.fr"},
}


@pytest.mark.slow
def test_the_watcher_takes_a_good_deposit_within_5_s_after_poison_forms(tmp_path, order_only, complete):
    watch = WatchProcess(tmp_path)
    inbox = tmp_path / "inbox"

    def one_of_a_kind(i: int) -> bytes:  # not a duplicate of the others
        return b.zip_of([("EJ.pdf", b.order_pdf(ENTITY, Decimal("1000"))), (f"note{i}.txt", b"-")])

    try:
        for i, case in enumerate(HOSTILE_FORMS):
            place(inbox, f"poison{i}", case)
            (inbox / f"poison{i}.zip").write_bytes(one_of_a_kind(i))
        for i, changes in enumerate(POISON.values()):
            (inbox / f"mal{i}.json").write_text(json.dumps(form(**changes())), encoding="utf-8")
            (inbox / f"mal{i}.zip").write_bytes(one_of_a_kind(100 + i))
        (inbox / (name_of(255, "é"))).write_bytes(one_of_a_kind(200))
        poisoned = len(HOSTILE_FORMS) + len(POISON) + 1
        wait_for(lambda: len(rows(tmp_path)) == poisoned, "a verdict for every poison deposit", 120)
        (inbox / "bon.json").write_text(json.dumps(form()), encoding="utf-8")
        (inbox / "bon.zip").write_bytes(complete)
        dropped = time.monotonic()
        wait_for(lambda: len(rows(tmp_path)) == poisoned + 1, "the good deposit")
        elapsed = time.monotonic() - dropped
        assert elapsed < 5
        print(f"the good deposit was taken in {elapsed:.2f} s after {poisoned} poison deposits")
        assert watch.proc.poll() is None
    finally:
        err = watch.stop()
    assert "Traceback" not in err and "échec du traitement" not in err
    statuses = {r["file"]: r["status"] for r in rows(tmp_path)}
    assert statuses["bon.zip"] == "complete" and set(statuses.values()) <= {"complete", "incomplete"}


@pytest.mark.parametrize(
    "text",
    [
        "reference_commande: 1300012345\ntelephone: 0321000000\n",
        "reference_commande: 0012345\ntelephone: 03 21 00 00 00\n",
    ],
    ids=["unquoted numbers", "leading zeros"],
)
def test_numbers_typed_without_quotes_in_a_yaml_form_are_read_as_written(tmp_path, resources, text):
    """YAML would make 1300012345 a number and 0321000000 an octal one; a form is text as typed."""
    base = "raison_sociale: Mairie\nnumero_marche: 2021-045 lot 2\nemail: achats@mairie.fr\ncode_service_chorus: S1\n"
    path = tmp_path / "depot.yaml"
    path.write_text(base + text, encoding="utf-8")
    form = read_form(path, resources.schema("deposit-form"))
    expected = dict(line.split(": ", 1) for line in text.strip().splitlines())
    assert form.problems == () and {k: form.get(k) for k in expected} == expected


def test_a_whole_number_in_a_json_form_is_read_as_its_text(tmp_path, resources):
    path = tmp_path / "depot.json"
    path.write_text(json.dumps(form(reference_commande=1300012345)), encoding="utf-8")
    assert read_form(path, resources.schema("deposit-form")).get("reference_commande") == "1300012345"


ODD_VALUES = {
    "lone surrogate in a value": ('{"raison_sociale": "\\ud800x"}', ".json"),
    "lone surrogate in a name": ('{"\\udfff": "x"}', ".json"),
    "hexadecimal number of 20,000 digits": ("raison_sociale: 0x" + "f" * 20_000, ".yaml"),
    "sexagesimal number of 3,000 parts": ("raison_sociale: " + ":".join(["1"] * 3000), ".yaml"),
}


@pytest.mark.parametrize("case", ODD_VALUES)
def test_a_value_that_is_not_text_as_typed_is_form_invalid_never_a_crash(intake_ctx, drop, order_only, case):
    text, suffix = ODD_VALUES[case]
    path = drop(order_only)
    path.with_suffix(suffix).write_text(text, encoding="utf-8", errors="surrogatepass")
    report = take_in(path, intake_ctx)
    assert "form_invalid" in codes(report)


PHISHING_NAME = (
    "» . URGENT - Votre adhésion au Resah est suspendue. Réglez 8 500 € sous 48 h sur "
    "https://resah-paiement.example/pay. Le Resah - centrale d'achat «"
)
NAMED_MEMBERS = {
    "a document that cannot be read": lambda: (PHISHING_NAME + ".pdf", b"%PDF-1.7\n garbage"),
    "a document with a wrong SIRET": lambda: (
        PHISHING_NAME + ".pdf",
        b.order_pdf(ENTITY, Decimal("1000"), siret=ENTITY.siret[:-1] + str((int(ENTITY.siret[-1]) + 1) % 10)),
    ),
    "a document naming another SIRET": lambda: (
        PHISHING_NAME + ".pdf",
        b.order_pdf(ENTITY, Decimal("1000"), siret=b.make_siret(31)),
    ),
}


@pytest.mark.parametrize("case", NAMED_MEMBERS)
def test_a_name_inside_the_zip_is_quoted_capped_and_unlinked_in_every_message(
    intake_ctx, drop, order_only, case
):
    name, data = NAMED_MEMBERS[case]()
    with zipfile.ZipFile(io.BytesIO(order_only)) as zf:
        members = [(i.filename, zf.read(i)) for i in zf.infolist()]
    take_in(drop(b.zip_of([*members, (name, data)]), form=form()), intake_ctx)
    text = notice_text(intake_ctx)
    assert (
        "https://" not in text
        and "Réglez 8 500 €" not in text
        and "[lien retiré]" in text
        or name[:20] not in text
    )
    assert_safe_mail(intake_ctx, name)
