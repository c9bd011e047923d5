"""A trouble that recurs is said, not repeated (pipeline/logs.py, on every csac command's log handler).

The watcher retries what waits every rescan, and its sender every round: a
line for each would bury the one that matters. A warning or an error is said
its first two times, then at most once a minute with how many times it came.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from pathlib import Path

import pytest

from pipeline.logs import Throttle, handler


@pytest.fixture
def said():
    """A logger whose handler carries the throttle; what it printed, line by line."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger(f"csac.essai.{time.monotonic_ns()}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def _with(throttle: Throttle):
        handler.filters.clear()
        handler.addFilter(throttle)
        return logger, lambda: out.getvalue().splitlines()

    return _with


@pytest.mark.parametrize("level", [logging.WARNING, logging.ERROR])
def test_a_line_said_again_and_again_is_let_through_twice(said, level):
    logger, lines = said(Throttle())
    for _ in range(50):
        logger.log(level, "remise impossible dans %s", "outbox")
    assert lines() == ["remise impossible dans outbox"] * 2


def test_once_its_minute_is_over_it_is_said_again_with_how_many_times_it_came(said):
    logger, lines = said(Throttle(every=0.3))
    for _ in range(10):
        logger.error("relais injoignable")
    time.sleep(0.35)
    logger.error("relais injoignable")
    assert lines()[2].startswith("relais injoignable (répété 8 fois en ")


def test_different_lines_are_each_said(said):
    logger, lines = said(Throttle())
    for i in range(5):
        logger.error("fichier d%d.zip : illisible", i)
    assert len(lines()) == 5


def test_information_lines_are_never_held(said):
    logger, lines = said(Throttle())
    for _ in range(5):
        logger.info("dépôt reçu")
    assert len(lines()) == 5


# -- what a clerk reads in the log is French ---------------------------------------------------------


@pytest.fixture
def log_of():
    """What the handler of `csac watch` and `csac serve` prints for lines logged under a name."""
    out = io.StringIO()
    made = []

    def _log(name: str) -> logging.Logger:
        logger = logging.getLogger(f"{name}.essai{time.monotonic_ns()}" if name.startswith("csac") else name)
        logger.propagate, logger.level = False, logging.INFO
        logger.addHandler(handler(out))
        made.append(logger)
        return logger

    yield _log, lambda: out.getvalue().splitlines()
    for logger in made:
        logger.handlers.clear()
        logger.propagate, logger.level = True, logging.NOTSET


def test_a_log_line_gives_its_level_in_french(log_of):
    log, lines = log_of
    log("csac.watch").info("veille de inbox")
    log("csac.watch").error("fichier a.zip : accès refusé")
    assert [line.split(" ", 3)[2:] for line in lines()] == [
        ["info", "veille de inbox"],
        ["ERREUR", "fichier a.zip : accès refusé"],
    ]


@pytest.mark.parametrize(
    ("english", "french"),
    [
        (("Started server process [%d]", 4242), "guichet web : processus 4242 démarré"),
        (("Uvicorn running on %s (Press CTRL+C to quit)", "http://127.0.0.1:8000"),
         "guichet web ouvert sur http://127.0.0.1:8000 (Ctrl-C pour arrêter)"),
        (("Shutting down",), "guichet web : arrêt"),
        (("Finished server process [%d]", 4242), "guichet web : processus 4242 arrêté"),
    ],
    ids=["started", "running", "shutting down", "finished"],
)  # fmt: skip
def test_the_web_server_s_lines_are_said_in_french(log_of, english, french):
    log, lines = log_of
    log("uvicorn.error").info(*english)
    assert [line.split(" ", 3)[3] for line in lines()] == [french]


def test_library_chatter_no_one_needs_is_left_out(log_of):
    log, lines = log_of
    log("uvicorn.error").info("Waiting for application startup.")
    log("uvicorn.error").info("Application shutdown complete.")
    log("pikepdf._core").info("pikepdf C++ to Python logger bridge initialized")
    assert lines() == []


def test_a_deposit_s_steps_are_logged_in_french_and_its_codes_kept_in_json(tmp_path, monkeypatch):
    """`csac watch` said "received", "assessed — incomplete", "done — rejected → quarantaine"."""
    from typer.testing import CliRunner

    from pipeline.cli import app
    from tests import builders as b

    monkeypatch.chdir(tmp_path)
    Path("a.zip").write_bytes(b.zip_of([("note.txt", b"une note")]))
    Path("b.zip").write_bytes(b"pas une archive")
    text, json_lines = io.StringIO(), io.StringIO()
    logger = logging.getLogger("csac.journal")
    handlers = [handler(text), handler(json_lines, json_lines=True)]
    logger.handlers[:0], level = handlers, logger.level
    logger.setLevel(logging.INFO)
    try:
        CliRunner().invoke(app, ["intake", "a.zip", "b.zip", "--outbox", "courrier", "--state", "var"])
    finally:
        for h in handlers:
            logger.removeHandler(h)
        logger.setLevel(level)
    said = [line.split(" : ", 1)[1] for line in text.getvalue().splitlines()]
    assert said[:2] == ["reçu — a.zip", "examiné — incomplet"], said
    assert "examiné — refusé" in said and any(s.startswith("terminé — refusé → quarantaine") for s in said), (
        said
    )
    assert not re.search(
        r"\b(received|assessed|done|quarantined|delivered|incomplete|rejected)\b", " ".join(said)
    )
    states = {json.loads(line)["state"] for line in json_lines.getvalue().splitlines()}
    assert {"received", "assessed", "done"} <= states  # the interface of log collectors keeps its codes
