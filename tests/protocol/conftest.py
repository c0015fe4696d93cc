"""Fixtures for the sans-IO protocol tests."""

from __future__ import annotations

import pytest

from connector.protocol import SessionMachine
from tests.protocol.machine_client import ORG, SID, Client, Policy


@pytest.fixture
def machine() -> SessionMachine:
    return SessionMachine(session_id=SID, organization_id=ORG, policy=Policy())


@pytest.fixture
def client(machine: SessionMachine) -> Client:
    return Client(machine)
