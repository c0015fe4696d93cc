"""A test client for the sans-IO session machine: builds client messages with correct
seq/serverseq/position and takes what the machine queued out of its outbox, as the writer would."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from connector.audio.codecs import encode_ulaw
from connector.protocol import Audio, AwaitClose, Closing, Opened, Outgoing, SessionMachine, format_duration

SID = "06b64c57-4430-46c9-a004-3a58a6f8e948"
ORG = "53a7bf9b-3a96-4409-a4d2-e3d5495da915"
NIL = "00000000-0000-0000-0000-000000000000"
STEREO = {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}
INVERTED = {"type": "audio", "format": "PCMU", "channels": ["internal", "external"], "rate": 8000}
MONO = {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}


class Policy:
    def supported_languages(self, engine: str | None) -> Sequence[str]:
        return ["en-US", "es-ES"]

    def language_supported(self, engine: str | None, language: str) -> bool:
        return language.lower() in ("en-us", "es-es")

    def check_call(self, engine: str | None, language: str, options: Mapping[str, Any]) -> str | None:
        if engine not in (None, "scripted"):
            return f"transcriptionVendor {engine!r} is not enabled on this server"
        return None


class Client:
    """Builds client messages with correct seq/serverseq/position, tracking what was sent."""

    def __init__(self, machine: SessionMachine) -> None:
        self.machine = machine
        self.seq = 0
        self.position = 0.0
        self.sent: list[dict[str, Any]] = []

    def text(self, msg_type: str, params: dict[str, Any] | None = None, **overrides: Any) -> list[Any]:
        return self.deliver(self.receive(msg_type, params, **overrides))

    def receive(self, msg_type: str, params: dict[str, Any] | None = None, **overrides: Any) -> list[Any]:
        """Hand the machine a message and return its raw effects, leaving its outbox alone."""
        self.seq += 1
        message = {
            "version": "2",
            "type": msg_type,
            "id": SID,
            "seq": self.seq,
            "serverseq": self.machine.server_seq,
            "position": format_duration(self.position),
            "parameters": params if params is not None else {},
        }
        message.update(overrides)
        return self.machine.receive_text(json.dumps(message))

    def deliver(self, effects: list[Any]) -> Step:
        """Take what the machine queued out of its outbox as the writer would, so server seq
        advances; the lifecycle effects (``Opened``, ``Closing``, ``AwaitClose``) and counted
        audio are left out of the returned step, which holds the effects the tests look at."""
        step = Step(e for e in effects if not isinstance(e, _BOOKKEEPING) and not _silent_audio(e))
        while isinstance(outgoing := self.machine.next_message(0.0), Outgoing):
            message = json.loads(outgoing.text)
            self.sent.append(message)
            step.sent.append(message["type"])
        return step

    def open(self, media: list[Any] | None = None, language: str | None = "en-US", **extra: Any) -> list[Any]:
        params: dict[str, Any] = {
            "organizationId": ORG,
            "conversationId": "14b5152d-4700-4969-b721-e3f004eb8b62",
            "participant": {"id": "fd0821cc-12cb-4a04-9321-f634e703c271", "ani": "", "aniName": "", "dnis": ""},
            "media": media if media is not None else [STEREO, MONO],
        }
        if language is not None:
            params["language"] = language
        params.update(extra)
        return self.text("open", params)

    def audio(self, seconds: float, channels: int = 2) -> list[Any]:
        samples = round(seconds * 8000)
        self.position += samples / 8000
        return self.deliver(self.machine.receive_binary(encode_ulaw(np.zeros(samples * channels, np.int16))))

    def last(self) -> dict[str, Any]:
        return self.sent[-1]


class Step(list[Any]):
    """The effects of one input, and the types of the messages written after it."""

    def __init__(self, effects: Any = ()) -> None:
        super().__init__(effects)
        self.sent: list[str] = []


_BOOKKEEPING = (Opened, Closing, AwaitClose)


def _silent_audio(effect: Any) -> bool:
    return isinstance(effect, Audio) and not effect.channels


def sends(step: Step) -> list[str]:
    return step.sent
