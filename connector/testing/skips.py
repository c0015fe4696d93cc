"""A missing test prerequisite (espeak-ng, node, Genesys' suite...): skipped on a developer machine,
a failure under CI, where ``CI`` is set and everything a test needs must be installed.

    from connector.testing.skips import skip_or_fail

    if shutil.which("node") is None:
        skip_or_fail("node is not installed")

Needs pytest (the ``test`` extra); only tests import this module.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["in_ci", "skip_or_fail"]


def in_ci() -> bool:
    """``CI`` is set to anything but empty (GitHub Actions, GitLab and most others set ``CI=true``)."""
    return bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test, or under CI fail it: a missing prerequisite there is never a silent skip."""
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)
