"""Speech engines behind one small interface (:mod:`connector.asr.base`)."""

from .base import (
    SAMPLE_RATE,
    AudioChunk,
    EngineConfigError,
    EngineError,
    EngineFactory,
    Flush,
    Hypothesis,
    Recognizer,
    RecognizerInput,
    RecognizerSpec,
    Word,
)
from .registry import EngineRegistry, load_engine

__all__ = [
    "SAMPLE_RATE",
    "AudioChunk",
    "EngineConfigError",
    "EngineError",
    "EngineFactory",
    "EngineRegistry",
    "Flush",
    "Hypothesis",
    "Recognizer",
    "RecognizerInput",
    "RecognizerSpec",
    "Word",
    "load_engine",
]
