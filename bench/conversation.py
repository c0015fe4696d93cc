"""The benchmark's calls: customer and agent take turns saying known sentences, in espeak-ng speech.

Because the audio is made here, the benchmark knows where every utterance's first and last
speech sample is (:class:`Utterance`), which is what its latencies are measured from
(``bench/speech.py``, ``bench/speech_score.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from connector.simulator import AudioSource
from connector.testing.speech import RATE, silence, synthesize

__all__ = ["AGENT", "CUSTOMER", "Conversation", "Utterance", "build_conversation"]

CUSTOMER = (
    "hello i would like to check the balance on my account",
    "my account number is four seven two nine one",
    "i have been waiting for over an hour and nobody has called me back",
    "the package was supposed to arrive on monday but it never came",
    "i would like to cancel my subscription",
    "yes that is correct",
    "my phone number is five five five one two three four",
    "i need to change the address on my account",
    "the internet connection keeps dropping every evening",
    "no that is all thank you",
    "i was charged twice for the same order",
    "please send me a confirmation email",
    "my name is john smith",
    "it started happening last tuesday after the update",
    "can i pay with a credit card",
    "the tracking number does not work on your website",
)
AGENT = (
    "thank you for calling how can i help you today",
    "can you transfer me to the billing department please",
    "could you please repeat that",
    "thank you very much for your help today",
    "is there anything else i can help you with",
    "let me look that up for you one moment please",
    "i can see the order here on my screen",
    "can you confirm the postcode for the account",
    "i have sent the refund it will take three to five days",
    "i am sorry for the trouble this has caused",
    "your reference number is eight one six",
    "would you like me to book an engineer visit",
    "i will put a note on your account",
    "the new plan starts on the first of next month",
    "have you tried restarting the router",
    "please stay on the line while i check",
)


@dataclass(frozen=True)
class Utterance:
    text: str
    start: int  # sample index of the first speech sample
    end: int  # sample index just after the last speech sample

    @property
    def start_s(self) -> float:
        return self.start / RATE

    @property
    def last_sample_s(self) -> float:
        return (self.end - 1) / RATE


@dataclass
class Conversation:
    """One call's audio and where each channel's utterances are (channel 0 external, 1 internal)."""

    source: AudioSource
    utterances: tuple[list[Utterance], list[Utterance]]


def build_conversation(rng: random.Random, seconds: float) -> Conversation:
    """Customer and agent take turns: one sentence each, the next starting 0-1.2 s after the last
    ended (or up to 0.2 s before: a slight overlap), each channel with its own shuffled
    sentences, voice and speaking rates."""
    lists = [list(CUSTOMER), list(AGENT)]
    for sentences in lists:
        rng.shuffle(sentences)
    voices = ("en-us", "en-gb")
    channels: list[list[npt.NDArray[np.int16]]] = [[], []]
    lengths = [0, 0]
    utterances: tuple[list[Utterance], list[Utterance]] = ([], [])
    t = round(rng.uniform(0.3, 2.0) * RATE)
    speaker = rng.randrange(2)
    limit = round((seconds - 2.0) * RATE)  # leave trailing silence so the last final comes on its own
    turn = 0
    while True:
        text = lists[speaker][(turn // 2) % len(lists[speaker])]
        pcm = synthesize(text, voice=voices[speaker], rate=rng.choice((150, 165, 175)))
        if t + len(pcm) > limit:
            break
        start = max(t, lengths[speaker])
        channels[speaker].append(silence((start - lengths[speaker]) / RATE))
        channels[speaker].append(pcm)
        lengths[speaker] = start + len(pcm)
        utterances[speaker].append(Utterance(text, start, start + len(pcm)))
        t = start + len(pcm) + round(rng.uniform(-0.2, 1.2) * RATE)
        speaker = 1 - speaker
        turn += 1
    total = round(seconds * RATE)
    for c in (0, 1):
        channels[c].append(silence((total - lengths[c]) / RATE))
    external, internal = (np.concatenate(parts)[:total] for parts in channels)
    return Conversation(AudioSource.from_pcm(external, internal, name="conversation"), utterances)
