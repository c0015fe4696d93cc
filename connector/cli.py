"""``audiohook-connector``: ``serve`` runs the server, ``simulate`` runs the AudioHook client."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

import trio

from .asr import EngineConfigError, EngineRegistry, load_engine
from .config import ConfigError, Settings, load_environment
from .gc_tuning import tune_gc
from .logs import configure_logging

if TYPE_CHECKING:
    from .server import ConnectorServer

__all__ = ["main"]

log = logging.getLogger("connector")


def build_server(settings: Settings, env: Mapping[str, str]) -> ConnectorServer:
    """The server with the engines (and translator) the environment enables."""
    from .wiring import build_extensions

    engines = EngineRegistry([load_engine(name, env) for name in settings.engines], settings.default_engine)
    return build_extensions(settings, env).server(settings, engines)


async def _serve(settings: Settings, env: Mapping[str, str]) -> int:
    """Serve until a signal; 0 after a complete drain, 128 + the signal's number when a second one cut it short."""
    server = build_server(settings, env)
    forced: list[int] = []
    # The receiver outlives the nursery: leaving it restores the default handlers, and a
    # signal arriving during shutdown must still be ours.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                count = 0
                async for signum in signals:
                    count += 1
                    name = signal.Signals(signum).name
                    if count == 1:
                        log.info("signal received: draining", extra={"signal": name})
                        server.request_stop()
                    elif count == 2:
                        # Stop now: sessions and their decodes are cancelled; sockets, services and
                        # engines are still closed in the server's shielded cleanup.
                        log.warning("second signal: stopping now", extra={"signal": name})
                        forced.append(signum)
                        nursery.cancel_scope.cancel()

            async def serve(*, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
                await server.serve(task_status=task_status)
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            await nursery.start(serve)  # returns once engines are loaded and the port is open
            tune_gc()
    return 128 + forced[0] if forced else 0


def _cmd_serve(args: argparse.Namespace) -> int:
    env = load_environment(args.env_file)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if not settings.api_keys:
        log.warning("CONNECTOR_ALLOW_ANONYMOUS is on: upgrades are not authenticated; do not expose this server")
    try:
        return trio.run(_serve, settings, env)
    except (EngineConfigError, ConfigError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the store's migrations (also done at start-up): run it before rolling out a new version."""
    from .store import Database
    from .store.settings import StoreSettings

    env = load_environment(args.env_file)
    try:
        settings = StoreSettings.from_env(env)
        if settings.url is None:
            print("CONNECTOR_STORE_URL is off: there is no store to migrate", file=sys.stderr)
            return 2
        database = Database(settings.url)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        before = database.current_revision()
        database.migrate()
        after = database.current_revision()
    except Exception as exc:
        print(f"migration failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        database.close()
    print(f"store {database.backend}: revision {before or 'none'} -> {after}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="audiohook-connector", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the AudioHook server (configured from the environment)")
    serve.add_argument("--env-file", default=".env", help="optional dotenv file (default: .env)")
    migrate = sub.add_parser("migrate", help="apply the transcript store's migrations (CONNECTOR_STORE_URL)")
    migrate.add_argument("--env-file", default=".env", help="optional dotenv file (default: .env)")
    sub.add_parser("receive", help="a webhook receiver to try webhooks with (see 'receive --help')", add_help=False)
    sub.add_parser("simulate", help="stream a WAV to an AudioHook server (see 'simulate --help')", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "receive":
        from .simulator.receiver import main as receive_main

        return receive_main(rest)
    if args.command == "simulate":
        from .simulator.cli import main as simulate_main

        return simulate_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "migrate":
        return _cmd_migrate(args)
    return _cmd_serve(args)


if __name__ == "__main__":
    sys.exit(main())
