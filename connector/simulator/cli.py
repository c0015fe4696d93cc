"""``audiohook-connector simulate``: place simulated Genesys calls from the command line.

    simulate ws://127.0.0.1:8080/audiohook --wav call.wav --api-key K --client-secret B64
    simulate wss://host/path --probe --api-key K --json
    simulate ws://... --wav call.wav --sessions 50 --ramp-up 10 --speed 1 --json
    simulate --demo [URL]

Transcripts are printed as they arrive (channel, offset, final/partial, text), then a summary.
The exit status is 0 only if every call opened, closed cleanly and saw no protocol error.
Without ``--wav`` the call streams silence for ``--duration`` seconds (10 by default).
``--demo`` plays the built-in two-party call (``connector/simulator/demo/``) to ``URL`` (default
``ws://127.0.0.1:8080/audiohook``), prints the conversation id it uses, and after the call the
command that fetches its transcript from the control API (``--api-port``, default 8081).
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import trio

from .config import CallConfig, DiscardAt, ErrorAt, Injection, PauseAt, UpdateAt
from .demo import DEFAULT_API_PORT, DEMO_URL, demo_source, transcript_command
from .load import LoadResult, run_load
from .result import CallResult, Transcript
from .source import AudioSource
from .wav import WavError

__all__ = ["build_parser", "main"]


def _split(value: str, what: str) -> tuple[float, str]:
    at, sep, rest = value.partition(":")
    try:
        if not sep or not rest:
            raise ValueError
        return float(at), rest
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected AT:{what}, got {value!r}") from None


def _pause(value: str) -> PauseAt:
    at, rest = _split(value, "SECONDS")
    try:
        return PauseAt(at, float(rest))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected AT:SECONDS, got {value!r}") from None


def _discard(value: str) -> DiscardAt:
    at, rest = _split(value, "SECONDS")
    try:
        return DiscardAt(at, float(rest))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected AT:SECONDS, got {value!r}") from None


def _update(value: str) -> UpdateAt:
    at, language = _split(value, "LANGUAGE")
    return UpdateAt(at, language)


def _error(value: str) -> ErrorAt:
    at, rest = _split(value, "CODE[:RETRY_AFTER]")
    code, _, retry = rest.partition(":")
    try:
        return ErrorAt(at, code=int(code), retry_after=float(retry) if retry else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected AT:CODE[:RETRY_AFTER], got {value!r}") from None


def _json_object(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError("--custom-config must be a JSON object")
    return parsed


def build_parser(prog: str = "audiohook-connector simulate") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Simulate Genesys AudioHook calls against a server.")
    p.add_argument("url", nargs="?", help=f"ws:// or wss:// Connection URI (with --demo: default {DEMO_URL})")
    p.add_argument("--wav", help="WAV file: µ-law or PCM16, mono or stereo (external, internal)")
    p.add_argument("--demo", action="store_true",
                   help="play the built-in two-party call (customer on channel 0, agent on channel 1), then print "
                        "the command that fetches its transcript")
    p.add_argument("--api-port", type=int, default=DEFAULT_API_PORT,
                   help=f"the server's control API port, for the command --demo prints (default {DEFAULT_API_PORT})")
    p.add_argument("--mono-channel", choices=["external", "internal", "both"], default="external",
                   help="which side of the call a mono WAV is (default: external)")
    p.add_argument("--api-key", help="sent as X-API-KEY")
    p.add_argument("--client-secret", help="base64 client secret: sign the upgrade request")
    p.add_argument("--org-id", help="organization id (default: random)")
    p.add_argument("--language", default="en-US", help="open.language (default en-US; '' to omit)")
    p.add_argument("--supported-languages", action="store_true", help="ask for opened.supportedLanguages")
    p.add_argument("--custom-config", type=_json_object, help="open.customConfig as a JSON object")
    p.add_argument("--probe", action="store_true", help="connection probe: null ids, open then close")
    p.add_argument("--media", choices=["stereo", "inverted", "mono-external", "mono-internal"], default="stereo")
    p.add_argument("--sessions", type=int, default=1, help="concurrent calls (default 1)")
    p.add_argument("--ramp-up", type=float, default=0.0, help="seconds over which to start the calls")
    p.add_argument("--speed", type=float, default=1.0, help="1 = real time, 0 = as fast as possible")
    p.add_argument("--frame-ms", type=int, default=100, help="audio frame length, 20-200 ms (default 100)")
    p.add_argument("--duration", type=float, help="stop streaming after this many seconds")
    p.add_argument("--pause", type=_pause, action="append", default=[], metavar="AT:SECONDS",
                   help="client pause at stream position AT (repeatable)")
    p.add_argument("--pause-mode", choices=["advance", "freeze"], default="advance",
                   help="advance: paused audio is lost, position jumps (live call); freeze: resume where it stopped")
    p.add_argument("--discard", type=_discard, action="append", default=[], metavar="AT:SECONDS",
                   help="skip audio at AT and send discarded (repeatable)")
    p.add_argument("--update", type=_update, action="append", default=[], metavar="AT:LANGUAGE",
                   help="send update {language} at AT (repeatable)")
    p.add_argument("--error", type=_error, action="append", default=[], metavar="AT:CODE[:RETRY]",
                   help="send a client error (e.g. 3:429:2.5) at AT (repeatable)")
    p.add_argument("--ping-interval", type=float, default=5.0, help="seconds between pings (0: no pings)")
    p.add_argument("--open-timeout", type=float, default=5.0)
    p.add_argument("--close-timeout", type=float, default=10.0)
    p.add_argument("--cafile", help="CA bundle to trust for wss:// (e.g. a test CA)")
    p.add_argument("--insecure", action="store_true", help="wss:// without certificate verification")
    p.add_argument("--json", action="store_true", help="print only a JSON report")
    p.add_argument("--quiet", action="store_true", help="do not print transcripts as they arrive")
    return p


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.url.startswith("wss:"):
        return None
    context = ssl.create_default_context(cafile=args.cafile)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _config(args: argparse.Namespace) -> CallConfig:
    injections: list[Injection] = [*args.pause, *args.discard, *args.update, *args.error]
    extra: dict[str, Any] = {"organization_id": args.org_id} if args.org_id else {}
    return CallConfig(
        url=args.url,
        api_key=args.api_key,
        client_secret=args.client_secret,
        language=args.language or None,
        supported_languages=True if args.supported_languages else None,
        custom_config=args.custom_config,
        media=args.media,
        probe=args.probe,
        speed=args.speed,
        frame_ms=args.frame_ms,
        duration=args.duration,
        pause_mode=args.pause_mode,
        injections=tuple(injections),
        ping_interval=args.ping_interval or None,
        open_timeout=args.open_timeout,
        close_timeout=args.close_timeout,
        ssl_context=_ssl_context(args),
        **extra,
    )


def _print_transcript(out: TextIO, index: int, multi: bool, t: Transcript) -> None:
    prefix = f"[{index}] " if multi else ""
    channel = f"ch{t.channel_id} {t.channel or '?'}"
    offset = f"{t.offset:7.2f}s" if t.offset is not None else "      ?"
    length = f"+{t.duration:.2f}s" if t.duration is not None else ""
    kind = "FINAL  " if t.is_final else "partial"
    print(f"{prefix}{channel:<12} {offset} {length:<7} {kind} {t.text}", file=out, flush=True)


def _check_demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill in ``--demo``'s default URL; refuse what cannot go with it."""
    if args.demo:
        if args.wav:
            parser.error("--demo plays its own recording: drop --wav (or drop --demo to play yours)")
        if args.probe:
            parser.error("--demo places a call: it cannot be a --probe")
        args.url = args.url or DEMO_URL
    elif not args.url:
        parser.error("the URL is required (ws://host:port/path), or --demo to call ws://127.0.0.1:8080/audiohook")
    if not 0 < args.api_port < 65536:
        parser.error("--api-port must be between 1 and 65535")


def _follow_up(r: CallResult, url: str, api_port: int) -> dict[str, Any]:
    return {"conversationId": r.conversation_id, "command": transcript_command(url, r.conversation_id, api_port)}


def _print_demo_follow_up(out: TextIO, load: LoadResult, args: argparse.Namespace) -> None:
    """After a ``--demo`` call: the command that fetches each call's transcript from the control API."""
    done = [r for r in load.results if r.opened]
    if not done:
        if any(r.connected or r.rejected_status is not None for r in load.results):
            print("\nThe demo call did not open: see the error above.", file=out)
        else:
            print(f"\nNo server answered at {args.url}. Start one in another terminal (./dev serve in the "
                  "repository, or audiohook-connector serve) and run this again.", file=out)
        return
    print("\nThe call's transcript, as the server stored it:", file=out)
    for r in done:
        print(f"  {transcript_command(args.url, r.conversation_id, args.api_port)}", file=out)
    if args.api_key or args.client_secret:
        print("  (add -H 'Authorization: Bearer TOKEN' with a read token from CONNECTOR_API_TOKENS unless the API "
              "is open)", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator; ``argv`` excludes the ``simulate`` sub-command word."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_demo(parser, args)
    out = sys.stdout
    try:
        config = _config(args)
        if args.demo:
            audio = demo_source()
        elif args.wav:
            audio = AudioSource.from_wav(args.wav, mono_channel=args.mono_channel)
        else:
            audio = AudioSource.silence(args.duration if args.duration is not None else 10.0)
    except (OSError, WavError, ValueError) as exc:
        parser.error(str(exc))
    if args.sessions < 1:
        parser.error("--sessions must be >= 1")
    multi = args.sessions > 1
    show = not (args.json or args.quiet)

    def on_transcript(index: int, transcript: Transcript) -> None:
        if show:
            _print_transcript(out, index, multi, transcript)

    if args.demo and not args.json:
        print(f"Demo call to {args.url} ({audio.duration:.0f} s): customer on channel 0 (external), "
              "agent on channel 1 (internal).", file=out)
        if not multi:
            print(f"conversation {config.conversation_id}", file=out, flush=True)
    load = trio.run(lambda: run_load(config, args.sessions, audio, ramp_up=args.ramp_up, on_transcript=on_transcript))
    summary = load.summary()
    if args.json:
        report: dict[str, Any] = {"summary": summary}
        if not multi:
            report["call"] = load.results[0].to_dict()
        if args.demo:
            report["follow_up"] = [_follow_up(r, args.url, args.api_port) for r in load.results if r.opened]
        print(json.dumps(report, indent=2), file=out)
    else:
        for i, r in enumerate(load.results):
            if multi and r.ok:
                continue
            status = "ok" if r.ok else "FAILED"
            print(f"{'[' + str(i) + '] ' if multi else ''}session {r.session_id}: {status}", file=out)
            for err in ([r.error] if r.error else []) + [f"timeout: {t}" for t in r.timeouts]:
                print(f"  {err}", file=out)
            for e in r.protocol_errors:
                print(f"  protocol error{f' {e.code}' if e.code else ''}: {e.message}", file=out)
            for w in r.warnings:
                print(f"  warning: {w}", file=out)
            if r.disconnect_reason:
                print(f"  disconnect: {r.disconnect_reason} {r.disconnect_info or ''}".rstrip(), file=out)
        print(json.dumps(summary), file=out)
        if args.demo:
            _print_demo_follow_up(out, load, args)
    return 0 if load.failed == 0 else 1
