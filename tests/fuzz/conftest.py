"""Hypothesis profiles for the fuzzers in this directory (docs/testing.md, "Fuzzing").

``ci`` (the default) runs a bounded number of examples per test, so the whole directory stays
under about 30 s on a loaded 2-core machine; ``long`` runs over thirty times as many and keeps
failing examples in a database outside the work tree, so a rerun replays them first:

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/fuzz -p no:cacheprovider

``deadline=None`` everywhere: a busy machine must not turn a slow example into a failure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into the work tree; a failure prints its reproduction blob
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "long",
    max_examples=5_000,
    deadline=None,
    database=DirectoryBasedExampleDatabase(
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "audiohook-connector" / "hypothesis"
    ),
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    """Violations are logged at WARNING; thousands of examples would only slow the run down."""
    logger = logging.getLogger("connector")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
