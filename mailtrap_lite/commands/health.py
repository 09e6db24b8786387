"""``status`` and ``readyz``: is the server up and able to store mail (for scripts and compose health
checks)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from mailtrap_lite.client import APIError
from mailtrap_lite.commands import common

POLL_INTERVAL = 0.25  # seconds between two tries of readyz --wait


READYZ_EXIT_CODES = """exit codes:
  0  ready
  1  not ready, or the server cannot be reached (with --wait: not before the timeout)
  2  bad usage"""


def register(commands: Any) -> None:
    status = common.add_command(commands, "status", "the server's version, store, counts and readiness")
    status.set_defaults(run=run_status)
    readyz = common.add_command(
        commands,
        "readyz",
        "exit 0 when the server can store messages, 1 when not (or unreachable)",
        "Ask /readyz once, or with --wait until it is ready or the timeout passes (for compose health "
        "checks).",
        epilog=READYZ_EXIT_CODES,
    )
    readyz.add_argument("--wait", action="store_true", help="keep asking until ready or --timeout")
    readyz.add_argument(
        "--timeout", type=common.seconds, default=30.0, help="seconds to keep asking with --wait (default 30)"
    )
    readyz.set_defaults(run=run_readyz)


def run_status(arguments: argparse.Namespace) -> int:
    client = common.connect(arguments)
    with common.api_errors():
        stats = client.stats()
        ready, answer = client.ready()
    if arguments.json:
        common.print_json({"url": client.url, "ready": ready, "readiness": answer, "stats": stats})
    else:
        state = "ready" if ready else f"NOT READY ({answer.get('error', 'unknown')})"
        print(f"mailtrap-lite {stats['version']} at {client.url}: {state}")
        print(f"  messages {stats['messages']} ({stats['unread']} unread), {stats['bytes']} bytes")
        print(f"  store    {stats['store']}")
        print(f"  received {stats['received_total']} since start, {stats['rejected_total']} rejected")
        print(f"  sessions {stats['sessions_total']} since start, {stats['open_sessions']} open")
        print(f"  uptime   {stats['uptime_seconds']:.0f}s")
    return common.EXIT_OK if ready else common.EXIT_FAILED


def run_readyz(arguments: argparse.Namespace) -> int:
    client = common.connect(arguments, timeout=5.0)
    deadline = time.monotonic() + arguments.timeout
    while True:
        try:
            ready, answer = client.ready()
            problem = answer.get("error", "not ready")
        except APIError as error:
            ready, problem = False, error.message
        if ready or not arguments.wait or time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
    if arguments.json:
        common.print_json({"ready": ready, "error": None if ready else problem})
    elif ready:
        print("ready")
    else:
        print(f"not ready: {problem}", file=sys.stderr)
    return common.EXIT_OK if ready else common.EXIT_FAILED
