"""A testing kit shipped with the connector: what the test suite, the benchmarks and an engine author share.

* :mod:`connector.testing.speech` — espeak-ng speech synthesis at 8 kHz and WER scoring
  (``normalize_words``, ``word_errors``); espeak-ng is a system binary, needed only at call time.
* :mod:`connector.testing.scripted_engine` — a small deterministic engine (energy → "segment <n>")
  with knobs to inject faults.
* :mod:`connector.testing.realspeech` — the loader of the real-speech regression set (its data lives
  in the repository's ``tests/realspeech/``; point the loader elsewhere with ``set_dir``).
* :mod:`connector.testing.drive` — drive a recognizer as a session does; check no thread outlives a test.
* :mod:`connector.testing.server` — a real server on 127.0.0.1, port 0, with any engine (``tests/conftest.py``
  wraps it as fixtures).
* :mod:`connector.testing.recording` — an observer that remembers what the server counted.
* :mod:`connector.testing.skips` — a missing prerequisite skips a test here and fails it under CI.
* :mod:`connector.testing.contract` — the engine contract of :mod:`connector.asr.base` as checks to run
  against your own engine (README, "Adding an engine").

Nothing here imports ``tests``: the kit is part of the product and is type-checked with it.
"""
