"""The export half of the store benchmark: fill a store with a day of utterances, then stream it over HTTP.

:func:`fill` writes ``rows`` realistic utterances (12 words with timings, two channels, about ten
minutes per conversation, conversations starting at random over one day) through the store's own
:meth:`Database.write`, in ``sent_at`` order as a live server would, so the table and its indexes
are laid out as in production. :func:`export_once` starts nothing: it streams one
``GET /v1/export`` from a running server, counting rows and bytes as they arrive (the body is
never kept), while :class:`RssWatch` reads the server's ``/proc/<pid>/status``: ``VmHWM``, reset
just before the request through ``/proc/<pid>/clear_refs``, is the exact peak of the export.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import trio

from connector.store import Database, SessionRecord, UtteranceRecord, WordRecord

__all__ = ["DAY", "FillPlan", "RssWatch", "export_once", "fill", "free_port", "proc_status", "wait_healthy"]

DAY = datetime(2026, 1, 15, tzinfo=UTC)
"""The day the filled utterances were "sent" (fixed, so runs are comparable; the export server
runs with retention off so the purge never touches it)."""
_VOCABULARY = (
    "the a to and of I you it that is in we for this your on have can be with my what will not please "
    "account order number payment card call today help thank just so there now do about if they one "
    "would like get check again time back need want see know right okay yes no could let me make sure "
    "address email phone last name date delivery refund week month price plan service problem working "
    "still since update team send information moment minute wait transfer line understand issue fixed"
)
WORDS = tuple(_VOCABULARY.split())
WORDS_PER_UTTERANCE = 12
UTTERANCE_EVERY = 6.0
"""Seconds between the starts of a conversation's utterances (channels alternate)."""


@dataclass(frozen=True)
class FillPlan:
    rows: int = 1_000_000
    conversations: int = 10_000
    batch: int = 5000
    seed: int = 1

    def per_conversation(self) -> np.ndarray:
        counts = np.full(self.conversations, self.rows // self.conversations, dtype=np.int64)
        counts[: self.rows % self.conversations] += 1
        return counts


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _records(plan: FillPlan) -> Iterator[tuple[SessionRecord | None, UtteranceRecord]]:
    """Every utterance in ``sent_at`` order, with its session the first time that session appears."""
    rng = random.Random(plan.seed)
    numbers = np.random.default_rng(plan.seed)
    counts = plan.per_conversation()
    longest = float(counts.max()) * UTTERANCE_EVERY + 10
    starts = numbers.uniform(0, 86_400 - longest, plan.conversations)
    conversation = np.repeat(np.arange(plan.conversations), counts)
    index = np.arange(plan.rows) - np.repeat(np.cumsum(counts) - counts, counts)  # k within its conversation
    offset = index * UTTERANCE_EVERY + numbers.uniform(0, 1, plan.rows)
    duration = numbers.uniform(2.5, 4.5, plan.rows)
    sent = starts[conversation] + offset + duration + 0.3  # increasing within a conversation
    order = np.argsort(sent, kind="stable")
    sessions: list[SessionRecord] = []
    for c in range(plan.conversations):
        started = DAY + timedelta(seconds=float(starts[c]))
        ended = started + timedelta(seconds=float(counts[c]) * UTTERANCE_EVERY + 5)
        sessions.append(SessionRecord(
            session_id=_uuid(rng), conversation_id=_uuid(rng), organization_id="bench-org",
            correlation_id=_uuid(rng), started_at=started, participant={"ani": "tel:+15550100", "dnis": "tel:+1800"},
            channels=("external", "internal"), media_format="PCMU", language="en-US", engine="bench",
            audio_seconds=float(counts[c]) * UTTERANCE_EVERY, transcripts=int(counts[c]), ended_at=ended,
            outcome="completed", updated_at=ended,
        ))  # fmt: skip
    announced = [False] * plan.conversations
    for i in order.tolist():
        c = int(conversation[i])
        session = sessions[c]
        new, announced[c] = (None if announced[c] else session), True
        start, length = float(offset[i]), float(duration[i])
        step = length / WORDS_PER_UTTERANCE
        words = rng.choices(WORDS, k=WORDS_PER_UTTERANCE)
        yield new, UtteranceRecord(
            session_id=session.session_id, conversation_id=session.conversation_id, utterance_id=_uuid(rng),
            channel=int(index[i]) % 2, role=("external", "internal")[int(index[i]) % 2], offset=round(start, 3),
            duration=round(length, 3), text=" ".join(words), confidence=0.9, language="en-US",
            sent_at=DAY + timedelta(seconds=float(sent[i])), engine="bench",
            words=tuple(WordRecord(w, round(start + n * step, 3), round(step * 0.9, 3), 0.9)
                        for n, w in enumerate(words)),
        )  # fmt: skip


def _timed_write(database: Database, sessions: list[SessionRecord], utterances: list[UtteranceRecord]) -> float:
    started = time.perf_counter()
    database.write(sessions, utterances)
    return time.perf_counter() - started


def fill(url: str, plan: FillPlan) -> dict[str, Any]:
    """Migrate the store at ``url`` and write ``plan.rows`` utterances; how long it took in all
    (``seconds``, making the records included) and in :meth:`Database.write` alone (``write_seconds``)."""
    database = Database(url)
    try:
        database.migrate()
        started = time.perf_counter()
        writing = 0.0
        sessions: list[SessionRecord] = []
        utterances: list[UtteranceRecord] = []
        for session, utterance in _records(plan):
            if session is not None:
                sessions.append(session)
            utterances.append(utterance)
            if len(utterances) >= plan.batch:
                writing += _timed_write(database, sessions, utterances)
                sessions, utterances = [], []
        writing += _timed_write(database, sessions, utterances)
        seconds = time.perf_counter() - started
    finally:
        database.close()
    return {
        "rows": plan.rows,
        "conversations": plan.conversations,
        "seconds": round(seconds, 1),
        "rows_per_s": round(plan.rows / seconds),
        "write_seconds": round(writing, 1),
        "write_rows_per_s": round(plan.rows / writing),
        "batch": plan.batch,
        "day": DAY.date().isoformat(),
    }


def sqlite_size_mb(path: Path) -> float:
    """The database file and its write-ahead log, in MB (2^20 bytes)."""
    return round(sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()) / 2**20, 1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def proc_status(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS since start or since the last reset) in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssWatch:
    """The server's RSS through one export: reset the peak, sample ``VmRSS``, read ``VmHWM`` at the end."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.sampled_peak = 0
        try:  # "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0, the process's owner)
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            self.exact = True
        except OSError:
            self.exact = False  # then VmHWM is the peak since start, and the sampled peak is reported too
        self.before = proc_status(pid)["VmRSS"]

    async def run(self) -> None:
        while True:
            self.sampled_peak = max(self.sampled_peak, proc_status(self.pid)["VmRSS"])
            await trio.sleep(self.interval)

    def result(self) -> dict[str, Any]:
        status = proc_status(self.pid)
        peak = status["VmHWM"]
        return {
            "rss_before_mb": round(self.before / 2**20, 1),
            "peak_rss_mb": round(peak / 2**20, 1),
            "peak_over_before_mb": round((peak - self.before) / 2**20, 1),
            "peak_source": "VmHWM reset before the export" if self.exact else "VmHWM since start",
            "sampled_peak_rss_mb": round(self.sampled_peak / 2**20, 1),
            "rss_after_mb": round(status["VmRSS"] / 2**20, 1),
        }


async def wait_healthy(port: int, within: float = 60.0) -> None:
    """Until the control API answers ``/v1/health`` (it starts beside the AudioHook port)."""
    async with httpx2.AsyncClient(timeout=5) as client:
        with trio.fail_after(within):
            while True:
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/v1/health")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await trio.sleep(0.2)


async def export_once(port: int, token: str, pid: int, fmt: str, start: datetime, end: datetime) -> dict[str, Any]:
    """One ``GET /v1/export`` read to the end in chunks: rows, bytes, rates, the server's CPU and peak RSS."""
    watch = RssWatch(pid)
    params = {"from": start.isoformat(), "to": end.isoformat(), "format": fmt}
    lines = size = chunks = 0
    cpu_before = _cpu_seconds(pid)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch.run)
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(120.0)) as client:
            began = time.perf_counter()
            first_byte = None
            headers = {"Authorization": f"Bearer {token}"}
            async with client.stream("GET", f"http://127.0.0.1:{port}/v1/export", params=params,
                                     headers=headers) as response:  # fmt: skip
                if response.status_code != 200:
                    await response.aread()
                    raise RuntimeError(f"export answered {response.status_code}: {response.text[:300]}")
                async for chunk in response.aiter_raw():
                    if first_byte is None:
                        first_byte = time.perf_counter() - began
                    lines += chunk.count(b"\n")
                    size += len(chunk)
                    chunks += 1
            seconds = time.perf_counter() - began
        nursery.cancel_scope.cancel()
    rows = lines - 1 if fmt == "csv" else lines  # the CSV header
    return {
        "format": fmt,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "mb": round(size / 2**20, 1),
        "mb_per_s": round(size / 2**20 / seconds, 1),
        "bytes_per_row": round(size / max(1, rows)),
        "first_byte_ms": None if first_byte is None else round(first_byte * 1000, 1),
        "chunks": chunks,
        "server_cpu_percent": round((_cpu_seconds(pid) - cpu_before) / seconds * 100, 1),
        **watch.result(),
    }
