"""The embedded engine (tiny.en) keeps the engine contract (connector.testing.contract) on synthesised speech."""

from __future__ import annotations

import numpy as np

from connector.asr.local import LocalEngine
from connector.testing.contract import check_engine
from connector.testing.speech import silence, synthesize


async def test_the_local_engine_keeps_the_contract(local_engine: LocalEngine) -> None:
    speech = np.concatenate([synthesize("please check the balance of my account"), silence(1.0)])
    await check_engine(local_engine, speech)
