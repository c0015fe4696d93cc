"""The engine contract checks (connector.testing.contract) hold for the scripted engine, with and without threads."""

from __future__ import annotations

import numpy as np
import pytest
import trio

from connector.testing.contract import check_engine
from connector.testing.scripted_engine import ScriptedEngine, ScriptedOptions
from connector.testing.speech import silence, tone


def _words() -> np.ndarray:
    """What the scripted engine hears as speech: two loud stretches, a pause between them."""
    return np.concatenate([tone(440, 0.8), silence(0.5), tone(660, 0.8), silence(0.1)])


@pytest.mark.parametrize("use_threads", [False, True])
async def test_the_scripted_engine_keeps_the_contract(use_threads: bool) -> None:
    engine = ScriptedEngine(options=ScriptedOptions(use_threads=use_threads, partial_after=0.3))
    await engine.start()
    try:
        await check_engine(engine, _words(), deadline=10)
    finally:
        await engine.aclose()


async def test_a_broken_engine_fails_the_contract() -> None:
    engine = ScriptedEngine(options=ScriptedOptions(hang_on_close=True))
    await engine.start()
    with pytest.raises(trio.TooSlowError):
        await check_engine(engine, _words(), deadline=1)
