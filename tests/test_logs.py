"""A trouble that recurs is said, not repeated (pipeline/logs.py, on every csac command's log handler).

The watcher retries what waits every rescan, and its sender every round: a
line for each would bury the one that matters. A warning or an error is said
its first two times, then at most once a minute with how many times it came.
"""

from __future__ import annotations

import io
import logging
import time

import pytest

from pipeline.logs import Throttle


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
