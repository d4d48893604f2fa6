"""`python -m dds.gateway --config /path/gateway.json [--loop auto|asyncio|uvloop]`: run one instance gateway."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from dds.gateway.config import ConfigError
from dds.gateway.server import serve


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop to run on. uvloop, when installed, takes ~20-40 µs off each proxied round trip
    (bench/bench_gateway.py); `auto` uses it if it is importable and the standard loop otherwise."""
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise SystemExit("dds.gateway: --loop uvloop, but uvloop is not installed") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dds.gateway", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="gateway JSON config file")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="event loop")
    args = parser.parse_args(argv)
    try:
        with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
            return runner.run(serve(args.config))
    except ConfigError as exc:
        print(f"dds.gateway: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the listen port is taken
        print(f"dds.gateway: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
