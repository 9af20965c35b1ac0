"""``pandora-emulator`` / ``python -m airflow_provider_pandora.emulator``: serve until SIGINT or SIGTERM.

The first line on stdout is ``PANDORA_EMULATOR_URL=http://HOST:PORT`` (flushed), so scripts can start
it with ``--port 0`` and read where it listens.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from airflow_provider_pandora.emulator.delivery.export_allow import parse_allow
from airflow_provider_pandora.emulator.http.server import (
    DEMO_ACCESS_KEY,
    DEMO_SECRET_KEY,
    MIN_BODY_RATE,
    READ_TIMEOUT,
    EmulatorServer,
)


def _credential(value: str) -> tuple[str, str]:
    access_key, sep, secret_key = value.partition(":")
    if not sep or not access_key or not secret_key:
        raise argparse.ArgumentTypeError(f"{value.split(':', 1)[0]!r}...: credentials must be AK:SK")
    return access_key, secret_key


def _export_allow(value: str) -> str:
    try:
        return str(parse_allow(value))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``pandora-emulator`` command line; ``--help`` is the reference for its flags."""
    parser = argparse.ArgumentParser(
        prog="pandora-emulator",
        description="A local Qiniu Pandora pipeline v2 server for demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--data-dir", type=Path, help="SQLite folder, kept across restarts (default: a fresh temp dir)")
    parser.add_argument(
        "--credentials",
        type=_credential,
        action="append",
        metavar="AK:SK",
        help=f"accepted key pair, repeatable (default {DEMO_ACCESS_KEY}:{DEMO_SECRET_KEY})",
    )
    parser.add_argument("--kodo-root", type=Path, help="folder standing in for Kodo buckets (default DATA_DIR/kodo)")
    parser.add_argument("--sink", action="store_true", help="count pushed points without storing them (benchmarks)")
    parser.add_argument("--tick", type=float, default=0.5, help="seconds between transform/export/schedule passes")
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("PANDORA_EMULATOR_ADMIN_TOKEN") or None,
        metavar="TOKEN",
        help="let clients beyond loopback call /_emulator/... when they send X-Emulator-Admin-Token: TOKEN "
        "(default $PANDORA_EMULATOR_ADMIN_TOKEN; without one, loopback clients only)",
    )
    parser.add_argument(
        "--export-allow",
        type=_export_allow,
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="a destination http exports may deliver to, repeatable; without PORT every port of HOST. Hosts match "
        "as export specs write them (no resolving); none is allowed by default, and the emulator's own address "
        "never is",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=READ_TIMEOUT,
        metavar="S",
        help=f"seconds to send a request line and headers; the least for a body (default {READ_TIMEOUT:g})",
    )
    parser.add_argument(
        "--min-body-rate",
        type=float,
        default=MIN_BODY_RATE,
        metavar="BYTES_PER_S",
        help=f"average rate a body must keep beyond --read-timeout (default {MIN_BODY_RATE})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM, first printing ``PANDORA_EMULATOR_URL=...``; a temporary data dir is removed."""
    args = build_parser().parse_args(argv)
    own_dir = args.data_dir is None
    data_dir: Path = args.data_dir or Path(tempfile.mkdtemp(prefix="pandora-emulator-"))
    credentials = dict(args.credentials or [(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)])
    server = EmulatorServer(
        host=args.host,
        port=args.port,
        data_dir=data_dir,
        kodo_root=args.kodo_root or data_dir / "kodo",
        credentials=credentials,
        sink=args.sink,
        tick=args.tick,
        read_timeout=args.read_timeout,
        min_body_rate=args.min_body_rate,
        admin_token=args.admin_token,
        export_allow=args.export_allow,
    )
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server.start()
    print(f"PANDORA_EMULATOR_URL={server.url}", flush=True)
    mode = " (sink mode: points are counted, not stored)" if args.sink else ""
    print(f"data dir {data_dir}, kodo root {server.engine.kodo_root}{mode}", file=sys.stderr, flush=True)
    allowed = ", ".join(args.export_allow) or "none (--export-allow HOST[:PORT] allows one)"
    print(f"http exports may deliver to: {allowed}", file=sys.stderr, flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
