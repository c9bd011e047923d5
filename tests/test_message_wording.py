"""Every message csac sends is French written for a person: no problem code, schema key, None or library English.

Each case takes real deposits in, then reads every message intake wrote, in every
Maildir of the outbox, as a person would: the subject and the text body.
"""

import datetime as dt
import email
import mailbox
import re
from decimal import Decimal
from email import policy
from pathlib import Path

import pytest

from pipeline.intake import take_in
from tests import builders as b

FORBIDDEN = {
    "a problem code in brackets": r"\[[a-z]+(?:_[a-z]+)+\]",
    "a problem code": r"\b(?:archive_corrupt|archive_unsafe|convention_missing|convention_unknown|"
    r"convention_unsigned|annex_missing|purchase_order_missing|siret_invalid|siret_mismatch|"
    r"contract_mismatch|amount_mismatch|region_unknown|form_invalid|form_conflict|depositor_message)\b",
    "a schema key": r"\b(?:raison_sociale|numero_marche|reference_commande|code_service_chorus|"
    r"deposit_id|dossier_id|contribution_due|amount_paid)\b",
    "None": r"\bNone\b",
    "an empty value": r"\b(?:null|nan|undefined)\b",
    "a Python or library English sentence": r"(?i)\b(?:is not a zip file|bad magic number|is too long|"
    r"is not of type|is a required property|does not match|errno|traceback|"
    r"bad zip|not a valid|no such file|permission denied|decimal\.|invalid literal|"
    r"encrypted|truncated|unexpected)\b",
    "an ISO date": r"\b20\d\d-\d\d-\d\d(?:T|\b)",
}


def messages(outbox: Path) -> list:
    """Every message of every Maildir under the outbox, as a mail client reads it."""
    found = []
    for folder in sorted(p.parent for p in outbox.rglob("cur")):
        for msg in mailbox.Maildir(folder, create=False):
            found.append(email.message_from_bytes(msg.as_bytes(), policy=policy.default))
    return found


def text_of(msg) -> str:
    body = msg.get_body(preferencelist=("plain",))
    return f"{msg['Subject']}\n{body.get_content() if body else ''}"


def offences(text: str) -> list[str]:
    return [f"{what}: {m.group(0)!r}" for what, rx in FORBIDDEN.items() for m in re.finditer(rx, text)]


@pytest.fixture
def commune():
    return b.Entity()


@pytest.fixture
def documents(renderer, resources, commune):
    docs = b.rendered(renderer, resources, commune, "2021-045-lot2")
    return {
        "convention": ("Convention.pdf", b.convention_pdf(docs["convention"])),
        "annex": ("Annexe.xlsx", docs["annex"]),
        "order": ("EJ.pdf", b.order_pdf(commune, Decimal("1000"))),
        "wrong_order": ("EJ.pdf", b.order_pdf(commune, Decimal("10"))),
    }


def _complete(docs, form):
    return b.zip_of([docs["convention"], docs["annex"], docs["order"]]), form


def _no_order(docs, form):
    return b.zip_of([docs["convention"], docs["annex"]]), {**form, "reference_commande": "1300012345"}


def _wrong_amount(docs, form):
    return b.zip_of([docs["convention"], docs["annex"], docs["wrong_order"]]), form


def _form_invalid(docs, form):
    return b.zip_of([docs["convention"], docs["annex"], docs["order"]]), {
        **form,
        "code_service_chorus": "X" * 400,
        "telephone": None,
    }


def _other_market(docs, form):
    return b.zip_of([docs["convention"], docs["annex"], docs["order"]]), {
        **form,
        "numero_marche": "2021-063-002",
    }


def _truncated(docs, form):
    data = b.zip_of([docs["convention"], docs["annex"], docs["order"]])
    return data[: len(data) // 2], form


def _not_a_zip(docs, form):
    return b"%PDF-1.4 ceci n'est pas une archive", form


def _traversal(docs, form):
    return b.raw_zip([b.Raw(b"../../etc/Convention.pdf", docs["convention"][1])]), form


def _depositor_message(docs, form):
    message = "l'EJ joint est annulé, merci d'utiliser l'EJ 1300099999"
    return b.zip_of([docs["convention"], docs["annex"], docs["order"]]), {
        **form,
        "message": message,
        "raison_sociale": "Commune de Tout-Autre-Lieu",
    }


CASES = {
    "complete": _complete,
    "order missing, EJ number in the form": _no_order,
    "order of the wrong amount": _wrong_amount,
    "form with a field too long and an empty one": _form_invalid,
    "form naming another accord-cadre": _other_market,
    "truncated ZIP": _truncated,
    "not a ZIP at all": _not_a_zip,
    "path traversal": _traversal,
    "depositor's message about a cancelled EJ": _depositor_message,
}


@pytest.mark.parametrize("case", list(CASES))
def test_no_message_shows_a_code_a_key_none_or_library_english(case, intake_ctx, drop, documents, commune):
    data, form = CASES[case](documents, b.form(commune))
    take_in(drop(data, form=form), intake_ctx)
    sent = messages(intake_ctx.workspace.outbox)
    assert sent, "intake wrote no message at all"
    found = {msg["Subject"]: offences(text_of(msg)) for msg in sent}
    assert not {k: v for k, v in found.items() if v}


def test_a_duplicate_deposit_tells_the_depositor_in_words_only(intake_ctx, drop, documents, commune):
    data, form = _complete(documents, b.form(commune))
    take_in(drop(data, form=form), intake_ctx)
    take_in(drop(data, "encore.zip", form=form), intake_ctx)
    found = {msg["Subject"]: offences(text_of(msg)) for msg in messages(intake_ctx.workspace.outbox)}
    assert not {k: v for k, v in found.items() if v}


def test_the_forbidden_patterns_catch_what_they_name():
    """The list itself is checked: each pattern finds the text it names, and plain French passes."""
    for sample in (
        "  - [amount_mismatch] montant",
        "champ obligatoire manquant : code_service_chorus",
        "Téléphone : None",
        "(File is not a zip file)",
        "'XXXX' is too long",
        "reçu le 2026-12-02",
    ):
        assert offences(sample), sample
    assert not offences("Votre dossier est complet (n° 20261202-0001), reçu le 02/12/2026 à 09:30.")


def test_a_reminder_and_a_refusal_are_written_in_words_only(intake_ctx, drop, documents, commune):
    from pipeline import decide, remind
    from pipeline.deliver import Courier
    from pipeline.dossiers import DossierBook

    data, form = _no_order(documents, b.form(commune))
    report = take_in(drop(data, form=form), intake_ctx)
    later = dt.datetime.now().astimezone() + dt.timedelta(days=11)
    assert remind.remind(intake_ctx.config, later).reminders, "no reminder was due"
    book = DossierBook(intake_ctx.workspace.journal)
    decide.refuse(book, Courier(intake_ctx.config), report.dossiers[0].dossier_id, "Mme Durand", "hors délai")
    sent = messages(intake_ctx.workspace.outbox)
    found = {msg["Subject"]: offences(text_of(msg)) for msg in sent}
    assert len(found) >= 4 and not {k: v for k, v in found.items() if v}
