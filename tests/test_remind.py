"""Reminders: the depositor of a dossier still incomplete after N days is told again what is missing.

The dossiers come from real deposits taken in by intake (a signed convention and its annex, without
the order; the order alone, days later). Each test sets the clock (`now`) relative to the day the
dossier opened: 10 days later by default. Messages land in real Maildirs, or go through a real SMTP
relay on loopback (aiosmtpd).
"""

from __future__ import annotations

import datetime as dt
import email
import itertools
import json
import re
import threading
from dataclasses import replace
from decimal import Decimal
from email import policy

import pytest
from typer.testing import CliRunner

from pipeline import remind
from pipeline.cli import app
from pipeline.config import Config, Relay, Retry, load_config
from pipeline.dates import local_day
from pipeline.deliver import Courier
from pipeline.dossiers import Dossier, DossierBook, DossierStatus
from pipeline.errors import ConfigError
from pipeline.intake import take_in
from pipeline.mailqueue import MailQueue
from pipeline.watch import Watcher, WatchSettings
from tests import builders as b
from tests.relays import relay_starter

EMAIL = "achats@test-sur-mer.example"  # the form's (builders.form)
REGION = "Hauts-de-France@resah.fr"  # Arras, 62000
COMMUNE = b.Entity()
OTHER = b.Entity("Commune de Test-les-Bains", b.make_siret(4243))
DUE = Decimal("1000")  # the contribution of a commune of 60,000 on lot 2
FRENCH_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                 "octobre", "novembre", "décembre")  # fmt: skip


# -- dossiers, from real deposits ---------------------------------------------------------------


@pytest.fixture
def deposit(renderer, resources, intake_ctx, drop):
    """Take in a real deposit for an entity: its convention (`signed` or not) and annex, without the order;
    or, `order_only`, the order alone, as a follow-up. The dossier it opened or updated."""
    count = itertools.count()

    def _deposit(entity=COMMUNE, order_only=False, signed=True, form=True) -> Dossier:
        docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
        convention = b.convention_pdf(docs["convention"], "valid" if signed else "none")
        members = [("convention.pdf", convention), ("annexe.xlsx", docs["annex"])]
        if order_only:
            members = [("EJ.pdf", b.order_pdf(entity, DUE))]
        path = drop(b.zip_of(members), f"depot-{next(count)}.zip", form=b.form(entity) if form else None)
        [dossier] = take_in(path, intake_ctx).dossiers
        return DossierBook(intake_ctx.workspace.journal).get(dossier.dossier_id)

    return _deposit


@pytest.fixture
def config(intake_ctx) -> Config:
    return intake_ctx.config


def day(dossier: Dossier, days: float, hour: int = 9) -> dt.datetime:
    """`days` days after the day the dossier opened, at `hour`, in the machine's time zone."""
    opened = local_day(dossier.opened_at)
    return dt.datetime.combine(opened, dt.time(hour)).astimezone() + dt.timedelta(days=days)


def received(config: Config) -> list[email.message.EmailMessage]:
    """The reminders in the depositors' Maildir (intake's notices land there too), oldest first."""
    box = config.workspace.outbox / "depositors" / "new"
    files = sorted(box.iterdir(), key=lambda p: p.stat().st_mtime_ns) if box.is_dir() else []
    messages = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]
    return [m for m in messages if ".reminder-" in m["Message-ID"]]


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def notices(config: Config) -> list[email.message.EmailMessage]:
    box = config.workspace.outbox / "depositors" / "new"
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in box.iterdir()]


def reminders(config: Config, dossier: Dossier) -> int:
    return DossierBook(config.workspace.journal).get(dossier.id).reminders


# -- when -----------------------------------------------------------------------------------------


def test_no_reminder_is_sent_before_the_dossier_has_been_incomplete_for_ten_days(config, deposit):
    dossier = deposit()
    assert remind.remind(config, day(dossier, 9, hour=23)).reminders == ()
    assert received(config) == []


def test_the_depositor_is_reminded_ten_days_after_the_dossier_opened(config, deposit):
    dossier = deposit()
    run = remind.remind(config, day(dossier, 10, hour=8))
    [msg] = received(config)
    assert [r.dossier.id for r in run.reminders] == [dossier.id] and msg["To"] == EMAIL
    assert reminders(config, dossier) == 1


def test_a_reminders_subject_names_the_convention_the_organisation_and_the_dossier(config, deposit):
    dossier = deposit()
    remind.remind(config, day(dossier, 10))
    [msg] = received(config)
    assert msg["Subject"] == (
        f"Convention 2021-045 lot 2 — {COMMUNE.name} — relance : dossier incomplet (dossier n° {dossier.id})"
    )


def test_the_number_of_days_comes_from_the_configuration(config, deposit):
    dossier = deposit()
    assert len(remind.remind(replace(config, reminder_days=4), day(dossier, 4)).reminders) == 1


def test_the_number_of_days_given_wins_over_the_configuration(config, deposit):
    dossier = deposit()
    assert remind.remind(config, day(dossier, 4), days=5).reminders == ()
    assert len(remind.remind(config, day(dossier, 5), days=5).reminders) == 1


def test_a_second_reminder_waits_ten_days_after_the_first(config, deposit):
    dossier = deposit()
    counts = [len(remind.remind(config, day(dossier, d)).reminders) for d in (10, 11, 19, 20)]
    assert counts == [1, 0, 0, 1] and len(received(config)) == 2


def test_a_dossier_is_reminded_three_times_at_most(config, deposit):
    dossier = deposit()
    for d in range(10, 80):
        remind.remind(config, day(dossier, d))
    assert len(received(config)) == 3 and reminders(config, dossier) == 3
    assert "c'est la dernière relance automatique" in body(received(config)[-1])


def test_each_reminder_has_its_own_message_id(config, deposit):
    dossier = deposit()
    for d in (10, 20, 30):
        remind.remind(config, day(dossier, d))
    assert len({m["Message-ID"] for m in received(config)}) == 3


def test_a_run_that_reminded_late_counts_the_next_interval_from_its_own_day(config, deposit):
    """The watcher was down: the reminder went on day 14; the next one is due on day 24, not 20."""
    dossier = deposit()
    remind.remind(config, day(dossier, 14))
    assert remind.remind(config, day(dossier, 23)).reminders == ()
    assert len(remind.remind(config, day(dossier, 24)).reminders) == 1


# -- what it says, and to whom ------------------------------------------------------------------


def listed(msg) -> list[str]:
    return [line for line in body(msg).splitlines() if line.startswith("  – ")]


def test_the_reminder_names_exactly_what_is_missing_as_the_notice_words_it(config, deposit):
    dossier = deposit(signed=False)  # an unsigned convention, and no order
    remind.remind(config, day(dossier, 10))
    [msg] = received(config)
    [notice] = [m for m in notices(config) if ".notice@" in m["Message-ID"]]
    assert dossier.codes == ["purchase_order_missing", "convention_unsigned"]
    assert listed(msg) == [f"  – {p.ask}" for p in dossier.problems] == listed(notice)


def test_the_reminder_is_copied_to_the_region_which_the_depositor_answers(config, deposit):
    dossier = deposit()
    remind.remind(config, day(dossier, 10))
    [msg] = received(config)
    assert (msg["Cc"], msg["Reply-To"]) == (REGION, REGION)


def test_the_reminder_says_in_french_when_the_dossier_opened_and_which_reminder_it_is(config, deposit):
    dossier = deposit()
    remind.remind(config, day(dossier, 10))
    text = body(received(config)[0])
    opened = local_day(dossier.opened_at)
    assert (
        f"ouvert le {'1er' if opened.day == 1 else opened.day} {FRENCH_MONTHS[opened.month - 1]} {opened.year}"
        in text
    )
    assert "Relance n° 1 sur 3." in text


def test_a_dossier_without_the_depositors_address_is_reported_not_reminded(config, deposit):
    dossier = deposit(form=False)  # no form: nobody's address
    run = remind.remind(config, day(dossier, 10))
    assert run.reminders == () and [d.id for d in run.unreachable] == [dossier.id]


# -- when it stops --------------------------------------------------------------------------------


def test_reminders_stop_when_a_follow_up_deposit_completes_the_dossier(config, deposit):
    dossier = deposit()
    remind.remind(config, day(dossier, 10))
    assert deposit(order_only=True).status == DossierStatus.COMPLETE
    assert remind.remind(config, day(dossier, 20)).reminders == ()
    assert len(received(config)) == 1


@pytest.mark.parametrize("decision", [DossierStatus.ACCEPTED, DossierStatus.REFUSED])
def test_a_dossier_a_person_decided_gets_no_reminder(config, decision, deposit):
    dossier = deposit()
    DossierBook(config.workspace.journal).decide(dossier.id, decision, "Agent Régional", "vu sur le scan")
    assert remind.remind(config, day(dossier, 10)).reminders == ()
    assert received(config) == []


# -- once -----------------------------------------------------------------------------------------


def test_a_reminder_sent_but_not_journalled_is_not_sent_again(config, deposit):
    """A run cut between the send and the record: the next run sends the same Message-ID, delivered once."""
    dossier = deposit()
    now = day(dossier, 10)
    Courier(config).send(remind.reminder(dossier, 1, [], now).outgoing, None)  # sent, then the crash
    run = remind.remind(config, now + dt.timedelta(hours=1))
    assert [r.number for r in run.reminders] == [1]
    assert len(received(config)) == 1 and reminders(config, dossier) == 1


def test_a_reminder_recorded_by_two_runs_at_once_counts_once(config, deposit):
    dossier = deposit()
    now = day(dossier, 10)
    runs = [threading.Thread(target=remind.remind, args=(config, now)) for _ in range(4)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert len(received(config)) == 1 and reminders(config, dossier) == 1
    kinds = [e.kind for e in DossierBook(config.workspace.journal).events(dossier.id)]
    assert kinds.count("reminded") == 1


def test_each_reminder_is_journalled_in_the_dossiers_history(config, deposit):
    dossier = deposit()
    remind.remind(config, day(dossier, 10))
    [event] = [e for e in DossierBook(config.workspace.journal).events(dossier.id) if e.kind == "reminded"]
    assert "relance 1/3" in event.detail and "purchase_order_missing" in event.detail


def test_a_dry_run_lists_the_reminders_due_and_sends_nothing(config, deposit):
    dossier = deposit()
    run = remind.remind(config, day(dossier, 10), dry_run=True)
    assert [r.dossier.id for r in run.reminders] == [dossier.id]
    assert received(config) == [] and reminders(config, dossier) == 0


# -- through a real relay -------------------------------------------------------------------------

start_relay = pytest.fixture(relay_starter)


def relay_config(config: Config, port: int) -> Config:
    relay = Relay("127.0.0.1", "csac@resah.fr", port, "none", timeout=5)
    return replace(config, relay=relay, retry=Retry(first_seconds=0.01, max_seconds=0.02))


def test_a_reminder_through_the_relay_reaches_the_depositor_and_the_region_once(config, start_relay, deposit):
    dossier = deposit()  # intake's own messages go to the Maildir
    relay = start_relay()
    config = relay_config(config, relay.port)
    now = day(dossier, 10)
    Courier(config).send(remind.reminder(dossier, 1, [], now).outgoing, None)  # queued, then the crash
    remind.remind(config, now)
    [accepted] = relay.accepted
    assert sorted(accepted.rcpt_tos) == sorted([EMAIL, REGION]) and accepted.message["Cc"] == REGION
    assert [m["state"] for m in MailQueue(config.workspace.state).all()] == ["sent"]


# -- the command ----------------------------------------------------------------------------------

runner = CliRunner(env={"COLUMNS": "1000"})


def cli(config: Config, *args: str):
    ws = config.workspace
    result = runner.invoke(app, ["remind", "--state", str(ws.state), "--outbox", str(ws.outbox), *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_csac_remind_sends_what_is_due_at_the_moment_given(config, deposit):
    dossier = deposit()
    result = cli(config, "--now", f"{day(dossier, 10):%Y-%m-%dT%H:%M}")
    assert "relances envoyées : 1" in result.stdout and dossier.id in result.stdout
    assert len(received(config)) == 1


def test_csac_remind_says_what_each_dossier_lacks_in_words_not_codes(config, deposit):
    dossier = deposit()
    result = cli(config, "--now", f"{day(dossier, 10):%Y-%m-%d}", "--dry-run")
    line = next(line for line in result.stdout.splitlines() if dossier.id in line)
    assert "à régulariser : " in line and "purchase_order_missing" not in line, line


def test_csac_remind_days_overrides_the_configuration(config, deposit):
    dossier = deposit()
    cli(config, "--now", f"{day(dossier, 3):%Y-%m-%d}", "--days", "3")
    assert len(received(config)) == 1


def test_csac_remind_dry_run_json_lists_the_reminders_due_and_sends_nothing(config, deposit):
    dossier = deposit()
    result = cli(config, "--now", f"{day(dossier, 10):%Y-%m-%d}", "--dry-run", "--json")
    [listed] = json.loads(result.stdout)["reminders"]
    assert (listed["dossier_id"], listed["number"], listed["missing"]) == (
        dossier.id,
        1,
        ["purchase_order_missing"],
    )
    assert received(config) == []


@pytest.mark.parametrize(("value", "says"), [("0", "trop petite (minimum 1)"), ("dix", "un nombre entier")])
def test_reminder_days_in_the_configuration_is_checked_in_french(tmp_path, resources, value, says):
    path = tmp_path / "csac.yaml"
    path.write_text(f"reminder_days: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"reminder_days : .*{re.escape(says)}"):
        load_config(path, resources, env={})


def test_reminder_days_is_read_from_the_configuration(tmp_path, resources):
    path = tmp_path / "csac.yaml"
    path.write_text("reminder_days: 15\n", encoding="utf-8")
    assert load_config(path, resources, env={}).reminder_days == 15


# -- the watcher, once a day ----------------------------------------------------------------------


def watcher(
    intake_ctx, config: Config, now: dt.datetime, settings: WatchSettings = WatchSettings()
) -> Watcher:
    ctx = replace(intake_ctx, config=config)
    return Watcher(ctx, settings, clock=lambda: now)


@pytest.mark.parametrize("per_chore", [1, 2])
def test_a_backlog_of_reminders_goes_a_slice_per_chore_and_the_day_is_kept_after_the_last(
    intake_ctx, config, deposit, per_chore
):
    """Thousands due at once (a migrated journal) would hold the inbox for minutes: the watcher sends
    `reminders_per_chore` of them, takes its deposits, and sends the next slice at its next chore."""
    first = deposit()
    deposit(OTHER), deposit(b.Entity("Commune de Test-le-Haut", b.make_siret(4244)))
    w = watcher(intake_ctx, config, day(first, 10), WatchSettings(reminders_per_chore=per_chore))
    slices = []
    while (run := w.remind_daily()) is not None:
        slices.append(len(run.reminders))
        assert (remind.last_run(config) is None) == bool(run.left)  # the day kept with its last slice
    assert slices == [per_chore] * (3 // per_chore) + ([3 % per_chore] if 3 % per_chore else [])
    assert len(received(config)) == 3 and remind.last_run(config) == day(first, 10).date()


def test_the_watcher_sends_the_days_reminders_once_even_across_a_restart(intake_ctx, config, deposit):
    dossier = deposit()
    now = day(dossier, 10, hour=9)
    assert len(watcher(intake_ctx, config, now).remind_daily().reminders) == 1
    another = deposit(OTHER)  # due too, but taken in after the day's run
    assert watcher(intake_ctx, config, now + dt.timedelta(hours=2)).remind_daily() is None  # restarted
    assert reminders(config, another) == 0 and len(received(config)) == 1


def test_the_watcher_sends_no_reminder_before_eight_in_the_morning(intake_ctx, config, deposit):
    dossier = deposit()
    assert watcher(intake_ctx, config, day(dossier, 10, hour=7)).remind_daily() is None
    assert received(config) == []


def test_the_watcher_runs_a_missed_day_when_it_starts_later(intake_ctx, config, deposit):
    """Down at 8 o'clock: the day's reminders go when it starts, at 15 o'clock."""
    dossier = deposit()
    assert len(watcher(intake_ctx, config, day(dossier, 10, hour=15)).remind_daily().reminders) == 1
    assert remind.last_run(config) == day(dossier, 10).date()


def test_the_watcher_runs_the_reminders_again_the_next_day(intake_ctx, config, deposit):
    dossier = deposit()
    watcher(intake_ctx, config, day(dossier, 10)).remind_daily()
    deposit(OTHER)  # taken in after the day's run
    assert watcher(intake_ctx, config, day(dossier, 10, hour=18)).remind_daily() is None
    assert len(watcher(intake_ctx, config, day(dossier, 11)).remind_daily().reminders) == 1


def test_a_failed_reminder_run_is_logged_and_tried_again_later_not_the_next_second(
    intake_ctx, config, caplog, deposit
):
    from tests.test_faults import read_only

    dossier = deposit()
    folder = config.workspace.outbox / "depositors" / "new"  # where intake put its notice
    w = watcher(intake_ctx, config, day(dossier, 10))
    with read_only(folder):
        run = w.remind_daily()
        assert [d.id for d, _ in run.failed] == [dossier.id] and w.remind_daily() is None
    assert "relance du dossier" in caplog.text and remind.last_run(config) is None
    assert received(config) == []


def test_the_running_watcher_sends_the_days_reminders(intake_ctx, config, deposit):
    dossier = deposit()
    w = watcher(intake_ctx, config, day(dossier, 10))
    stop = threading.Event()
    thread = threading.Thread(target=w.run, args=(stop,))
    thread.start()
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        while not received(config) and dt.datetime.now() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert len(received(config)) == 1 and remind.last_run(config) == day(dossier, 10).date()
