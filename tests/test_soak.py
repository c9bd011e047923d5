"""Crash soak, small: 40 deposits, the watcher SIGKILLed 3 times. bench/soak.py runs 200 and 10."""

import random

import pytest

from pipeline.soak import make_drops, soak


@pytest.mark.slow
def test_every_dropped_file_has_exactly_one_outcome_across_kills(tmp_path, renderer, resources):
    drops = make_drops(renderer, resources, 40, random.Random(7))
    # What never reads as a ZIP is taken 2 s after it stops changing (30 s by default, bench/soak.py's):
    # longer than any pause of a slow writer (0.25 s), so still never while being written.
    result = soak(tmp_path, drops, kills=3, seed=7, timeout=300, corrupt_grace=2)
    assert result.ok, result
    assert sum(result.outcomes.values()) == 40
    assert result.follow_ups_completing > 0  # orders sent alone joined the signatory's dossier
