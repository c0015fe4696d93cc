"""What every benchmark's ``main`` does around its trio run: pin the load generator, log, save."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

import trio

__all__ = ["run_benchmark"]


def run_benchmark(
    args: argparse.Namespace, run: Callable[[argparse.Namespace, IO[bytes] | None], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Pin this process to ``args.client_cpu`` (unless ``--no-pin``), run, write ``--json``."""
    if not args.no_pin:
        os.sched_setaffinity(0, {args.client_cpu})
    if args.server_log:
        with open(args.server_log, "ab") as log:
            result = trio.run(run, args, log)
    else:
        result = trio.run(run, args, None)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result
