"""How fast redaction is on typical contact-centre utterances (docs/redaction.md, "Cost").

    .venv/bin/python -m tests.redaction.bench_redaction

Not a test (pytest collects only ``test_*.py``): it prints utterances per second for three mixes.
"""

from __future__ import annotations

import time

from connector.redaction import redact_text

ORDINARY = [
    "Hi, thanks for calling, how can I help you today?",
    "I'd like to check the status of my order please.",
    "Sure, can you give me a moment while I pull that up?",
    "It says it was shipped yesterday and should arrive on Friday.",
    "Okay great, and is there anything else I can help you with?",
    "No, that's all, thank you so much for your help.",
    "I have two items in my cart but only one shows up.",
    "The meeting is at 3:30 pm in room 101.",
    "It costs $45.99 plus shipping, so about fifty dollars.",
    "Can you call me back at five?",
]
WITH_PII = [
    "My card number is 4111 1111 1111 1111 and it expires in December.",
    "my pin is one two three four",
    "you can reach me at john dot smith at example dot com",
    "my number is (415) 555-2671, call me any time",
    "four one five five five five two six seven one",
]


def rate(texts: list[str], seconds: float = 1.0) -> float:
    done = 0
    began = time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        for text in texts:
            redact_text(text)
        done += len(texts)
    return done / elapsed


if __name__ == "__main__":
    print(f"ordinary utterances:     {rate(ORDINARY):>9,.0f} /s")
    print(f"utterances with PII:     {rate(WITH_PII):>9,.0f} /s")
    mixed = ORDINARY[:9] + WITH_PII[:1]  # one utterance in ten has PII in it
    print(f"mixed (1 in 10 has PII): {rate(mixed):>9,.0f} /s")
