"""The authenticator every test of it starts from (tests/security/authenticator_kit.py builds it)."""

from __future__ import annotations

import pytest

from connector.security import Authenticator
from tests.security.authenticator_kit import authenticator


@pytest.fixture
def auth() -> Authenticator:
    return authenticator()
