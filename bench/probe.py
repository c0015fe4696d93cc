"""What a benchmark reads from outside the server: ``/proc`` and ``/metrics``.

CPU, RSS and threads come from ``/proc/<pid>`` (Linux), not from the server's own metrics, so
the numbers do not depend on the code being measured. Event-loop lag, audio received and
outcomes come from ``/metrics``; quantiles of a histogram between two scrapes are computed
the way PromQL's ``histogram_quantile`` does (linear inside a bucket), so the benchmark and a
Grafana panel agree.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import trio
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "Metrics",
    "ProcSample",
    "cpu_busy_seconds",
    "histogram_quantile",
    "sample_process",
    "sample_tree",
    "scrape",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    """One reading of a process: CPU seconds used so far, resident memory, live threads."""

    at: float
    cpu_seconds: float
    rss_bytes: int
    threads: int


def sample_process(pid: int) -> ProcSample:
    with open(f"/proc/{pid}/stat") as f:
        # the command name may contain spaces and parentheses: split after the last ')'
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return ProcSample(trio.current_time(), (utime + stime) / _CLOCK_TICKS, rss, threads)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                found.append(int(entry))
    return found


def sample_tree(pid: int) -> ProcSample:
    """:func:`sample_process` summed over ``pid`` and all its descendants (servers that fork)."""
    pending, samples = [pid], []
    while pending:
        current = pending.pop()
        try:
            samples.append(sample_process(current))
        except OSError:
            continue  # exited meanwhile
        pending += _children(current)
    return ProcSample(
        trio.current_time(),
        sum(s.cpu_seconds for s in samples),
        sum(s.rss_bytes for s in samples),
        sum(s.threads for s in samples),
    )


def cpu_busy_seconds() -> dict[int, float]:
    """Busy (non-idle) seconds per CPU since boot, from ``/proc/stat``: used to spot other
    processes competing for the benchmark's cores (a shared machine makes numbers noisy)."""
    busy: dict[int, float] = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks = [int(v) for v in values[:8]]
                busy[int(name[3:])] = (sum(ticks) - ticks[3] - ticks[4]) / _CLOCK_TICKS
    return busy


class Metrics:
    """One ``/metrics`` scrape, as samples keyed by name and labels."""

    def __init__(self, text: str, at: float) -> None:
        self.at = at
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str) -> float:
        """Sum over every label set (e.g. all outcomes)."""
        return sum(v for (n, _), v in self.samples.items() if n == name)

    def buckets(self, name: str, **labels: str) -> list[tuple[float, float]]:
        """Cumulative ``(le, count)`` of histogram ``name`` (without ``_bucket``), ascending."""
        wanted = set(labels.items())
        out = [
            (float(dict(key)["le"]), v)
            for (n, key), v in self.samples.items()
            if n == f"{name}_bucket" and wanted <= set(key)
        ]
        return sorted(out)


def histogram_quantile(q: float, after: Sequence[tuple[float, float]], before: Sequence[tuple[float, float]] = ()
                       ) -> float | None:
    """The ``q`` quantile of the observations made between two scrapes (``None`` if there were none)."""
    earlier: Mapping[float, float] = dict(before)
    buckets = [(le, count - earlier.get(le, 0.0)) for le, count in after]
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le  # above the highest finite bucket: that bound is all we know
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


async def scrape(port: int, token: str | None = None, *, host: str = "127.0.0.1", within: float = 10.0) -> Metrics:
    """``GET /metrics`` over a plain socket (the server answers with ``Connection: close``)."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET /metrics HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}Connection: close\r\n\r\n"
    chunks: list[bytes] = []
    with trio.fail_after(within):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            await stream.send_all(request.encode("latin-1"))
            while data := await stream.receive_some(65536):
                chunks.append(bytes(data))
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}: {body[:200]!r}")
    return Metrics(body.decode(), trio.current_time())
