"""Genesys' own AudioHook compliance suite, run unmodified against the real server and the default engine.

``test_reference_client_scenarios.py`` re-enacts the suite in Python against a scripted engine; it is
fast but it is our reading of the suite. This test runs the real thing: the jest suite of Genesys'
MIT-licensed reference implementation (``test/audiohook-api-messages.test.ts``, 20 tests: open and
media negotiation, ping, update, discarded, error, pause/resume, close, supported languages, and
transcript events with their count, offsets and durations on Genesys' own recording), through its
``run.sh``, against this server on 127.0.0.1 with the embedded ``local`` engine on **default**
settings. What operators deploy is what must pass, so no ``LOCAL_*`` value is taken from the
environment here.

The suite lives outside the repository: ``$AUDIOHOOK_REFSUITE`` or ``<repo>/../shared/refsuite``.
Without it the test is skipped with the reason on a developer machine, and fails under CI (``CI``
set), where it must always run. It needs node >= 16 and npm (``./dev test`` installs them). The
first run installs the suite's npm dependencies into ``$REFSUITE_WORK`` (default
``~/.cache/audiohook-refsuite``, outside the repository), later runs reuse them. The transcript
tests stream their 11 s recording in real time, so the suite takes a couple of minutes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import trio

from connector.asr.local import LocalEngine
from connector.asr.local.config import LocalSettings
from connector.config import Settings
from connector.security import parse_api_keys
from connector.testing.server import StartServer, assert_nothing_left
from connector.testing.skips import skip_or_fail

# The key pair hard-wired in the suite's run.sh, configured the way an operator would
# (CONNECTOR_API_KEYS=key:base64secret).
SUITE_API_KEYS = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh:TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="
SUITE_TESTS = 20
SUITE_TIMEOUT = 600.0  # first run: npm install (~20 s); then ~7 real-time 11 s calls plus the rest
REPO_ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def refsuite_dir() -> Path:
    configured = os.environ.get("AUDIOHOOK_REFSUITE")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "refsuite"


def node_version() -> int | None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        return None
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"v(\d+)\.", out.strip())
    return int(match.group(1)) if match else None


def jest_summary(output: str) -> dict[str, int]:
    """``Tests:       4 failed, 16 passed, 20 total`` -> ``{"failed": 4, "passed": 16, "total": 20}``."""
    lines = re.findall(r"^Tests:\s+(.+)$", output, flags=re.MULTILINE)
    if not lines:
        return {}
    return {word: int(count) for count, word in re.findall(r"(\d+) (\w+)", lines[-1])}


def failure_report(output: str, tail: int = 40) -> str:
    """Which tests failed and why (jest's ``✕`` lines, each ``●`` block's first message), then its tail."""
    lines = output.splitlines()
    failed = [line.strip() for line in lines if "✕" in line]
    reasons = []
    for n, line in enumerate(lines):
        if line.strip().startswith("●"):
            message = next((m.strip() for m in lines[n + 1 : n + 4] if m.strip()), "")
            reasons.append(f"{line.strip()}: {message}")
    return "\n".join(
        ["failed tests:", *failed, "why:", *reasons, f"--- last {tail} lines of the suite's output ---", *lines[-tail:]]
    )


async def kill_process_group(process: trio.Process) -> None:
    """On timeout, end run.sh *and* the npx/jest processes it started (they share its new session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def run_sh() -> Path:
    """The suite's ``run.sh``, once its prerequisites are there (checked outside trio so a skip keeps its reason)."""
    script = refsuite_dir() / "run.sh"
    if not script.is_file():
        skip_or_fail(
            f"Genesys' AudioHook compliance suite not found at {script.parent} "
            "(set AUDIOHOOK_REFSUITE to the folder holding its run.sh)"
        )
    version = node_version()
    if version is None or version < 16:
        skip_or_fail("node >= 16 and npm are required for Genesys' compliance suite (./dev test installs them)")
    return script


@pytest.mark.slow
async def test_genesys_compliance_suite_passes_with_default_engine(start_server: StartServer, run_sh: Path) -> None:
    defaults = Settings()
    running = await start_server(
        engine=LocalEngine(LocalSettings.from_env({})),  # defaults only: no LOCAL_* overrides
        api_keys=parse_api_keys(SUITE_API_KEYS),
        worker_threads=defaults.worker_threads,
    )
    url = f"ws://127.0.0.1:{running.port}{defaults.path}"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    env = {**os.environ, "REFSUITE_WORK": os.environ.get("REFSUITE_WORK") or str(cache / "audiohook-refsuite")}

    with trio.fail_after(SUITE_TIMEOUT):
        result = await trio.run_process(
            ["bash", str(run_sh), url],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_stdout=True,
            stderr=subprocess.STDOUT,
            check=False,
            start_new_session=True,
            deliver_cancel=kill_process_group,
        )
    status, output = result.returncode, ANSI.sub("", result.stdout.decode(errors="replace"))

    summary = jest_summary(output)
    assert status == 0, f"the suite exited with {status}\n{failure_report(output)}"
    assert summary == {"passed": SUITE_TESTS, "total": SUITE_TESTS}, (
        f"expected 'Tests: {SUITE_TESTS} passed, {SUITE_TESTS} total', got {summary}\n{failure_report(output)}"
    )
    await assert_nothing_left(running)
