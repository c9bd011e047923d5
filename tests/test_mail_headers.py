"""Headers every message carries: the From a relay is configured with, and a Date, digest included."""

from __future__ import annotations

import datetime as dt
import email
from decimal import Decimal
from email import policy

import pytest

from pipeline import digest
from pipeline.config import Config, Relay, Retry
from pipeline.deliver import SENDER, put
from pipeline.intake import IntakeContext, take_in
from tests import builders as b
from tests.test_smtp import smtp  # noqa: F401  (the aiosmtpd fixture)

CORSICA = b.Entity(postal_code="20000", city="AJACCIO")


@pytest.mark.parametrize(
    "configured, shown",
    [
        ("conventions@centrale.example", "Resah — dépôts des conventions <conventions@centrale.example>"),
        ("Centrale Resah <depots@centrale.example>", "Centrale Resah <depots@centrale.example>"),
    ],
    ids=["address alone", "with its name"],
)
def test_every_message_through_the_relay_is_from_the_configured_sender(
    smtp,  # noqa: F811
    resources,
    workspace,
    drop,
    configured,
    shown,
):
    relay = Relay("127.0.0.1", configured, smtp.controller.port, "none", timeout=5)
    config = Config(workspace, relay, retry=Retry(first_seconds=0.01, max_seconds=0.02))
    data = b.zip_of(
        [("EJ.pdf", b.order_pdf(CORSICA, Decimal("1000")))]
    )  # incomplete: region and depositor told
    take_in(drop(data, form=b.form(CORSICA)), IntakeContext.build(resources, workspace, config=config))
    assert sorted(m["To"] for m in smtp.received) == ["Corse@resah.fr", "achats@test-sur-mer.example"]
    assert {m["From"] for m in smtp.received} == {shown}


def test_a_digest_is_dated_when_it_is_built_and_delivered_from_csac(tmp_path, regions):
    corsica = regions.by_id("corse")
    before = dt.datetime.now().astimezone().replace(microsecond=0)
    put(tmp_path, digest.message(digest.Digest(corsica, dt.date(2024, 1, 1), ()), dt.date.today()))
    [path] = (tmp_path / corsica.mailbox / "new").iterdir()
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert before <= msg["Date"].datetime <= dt.datetime.now().astimezone()
    assert msg["From"] == SENDER and msg.get_body(("html",)) is not None
