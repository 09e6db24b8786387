"""``ls``, ``show``, ``links``, ``clear`` and ``wait``: reading and deleting caught mail from a shell."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from mailtrap_lite.client import MailtrapClient
from mailtrap_lite.commands import common
from mailtrap_lite.commands.links import links_in

PAGE = 1000
# The server answers a long poll after at most this many seconds; a longer --timeout asks again.
MAX_POLL = 300.0
MAX_LISTED = 20


def register(commands: Any) -> None:
    wait = common.add_command(
        commands,
        "wait",
        "wait until messages matching QUERY arrive",
        'Wait until COUNT messages match QUERY ("" for any message) and print them; on timeout list the '
        "newest messages the server holds and exit 1.",
    )
    common.add_query(wait, required=True)
    wait.add_argument("--count", type=_positive_int, default=1, help="how many messages (default 1)")
    wait.add_argument("--timeout", type=common.seconds, default=30.0, help="seconds to wait (default 30)")
    wait.set_defaults(run=run_wait)

    ls = common.add_command(commands, "ls", "list messages, newest first")
    common.add_query(ls)
    ls.add_argument(
        "--limit", type=_count, default=50, help="at most this many (default 50; 0 lists every match)"
    )
    ls.set_defaults(run=run_ls)

    show = common.add_command(commands, "show", "print one message")
    show.add_argument("id", metavar="ID", help="a message id, or latest")
    views = show.add_mutually_exclusive_group()
    for view, text in (
        ("text", "the plain-text body"),
        ("html", "the HTML body"),
        ("raw", "the bytes as received"),
        ("headers", "the headers, one a line"),
    ):
        views.add_argument(f"--{view}", dest="view", action="store_const", const=view, help=text)
    show.set_defaults(run=run_show, view=None)

    links = common.add_command(commands, "links", "print the links in a message's bodies, one a line")
    links.add_argument("id", metavar="ID", help="a message id, or latest")
    links.set_defaults(run=run_links)

    clear = common.add_command(
        commands, "clear", "delete the messages matching QUERY (every message without one)"
    )
    common.add_query(clear)
    clear.set_defaults(run=run_clear)


def _positive_int(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def print_summaries(arguments: argparse.Namespace, listing: dict[str, Any]) -> None:
    if arguments.json:
        common.print_json(listing)
        return
    for summary in listing["messages"]:
        print(common.summary_line(summary))


def run_wait(arguments: argparse.Namespace) -> int:
    query = common.query_text(arguments.query)
    client = common.connect(arguments)
    deadline = time.monotonic() + arguments.timeout
    with common.api_errors():
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            listing, enough = client.wait(query, arguments.count, min(remaining, MAX_POLL))
            if enough or remaining <= MAX_POLL:
                break
    if enough:
        print_summaries(arguments, listing)
        return common.EXIT_OK
    with common.api_errors():
        received = client.search(None, limit=MAX_LISTED)
    if arguments.json:
        common.print_json({**listing, "error": "timed out", "received": received})
    print(
        f"timed out after {arguments.timeout:g}s: {listing['total']} of {arguments.count} messages "
        f"matched {query or 'any message'!r}",
        file=sys.stderr,
    )
    print(_received_text(received), file=sys.stderr)
    return common.EXIT_FAILED


def _received_text(received: dict[str, Any]) -> str:
    """What the server holds, newest first: often the message waited for, sent to the wrong address."""
    if not received["total"]:
        return "The server holds no message."
    lines = [f"The server holds {received['total']}, newest first:"]
    lines += [f"  {common.summary_line(summary)}" for summary in received["messages"]]
    if received["total"] > len(received["messages"]):
        lines.append(f"  ... and {received['total'] - len(received['messages'])} more")
    return "\n".join(lines)


def run_ls(arguments: argparse.Namespace) -> int:
    query = common.query_text(arguments.query)
    client = common.connect(arguments)
    wanted = arguments.limit  # 0: every match
    messages: list[dict[str, Any]] = []
    with common.api_errors():
        while True:
            size = min(PAGE, wanted - len(messages)) if wanted else PAGE
            listing = client.search(query, limit=size, offset=len(messages))
            messages += listing["messages"]
            if not listing["messages"] or len(messages) >= (wanted or listing["total"]):
                break
    result = {**listing, "count": len(messages), "messages": messages}
    print_summaries(arguments, result)
    if not arguments.json and result["total"] > len(messages):
        print(f"({len(messages)} of {result['total']} shown; --limit 0 lists all)", file=sys.stderr)
    return common.EXIT_OK


def _message(client: MailtrapClient, message_id: str) -> dict[str, Any]:
    with common.api_errors(not_found=f"no message {message_id!r}"):
        found = client.message(message_id)
    return found


def run_show(arguments: argparse.Namespace) -> int:
    client = common.connect(arguments)
    if arguments.view == "raw":
        with common.api_errors(not_found=f"no message {arguments.id!r}"):
            raw = client.raw(arguments.id)
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        return common.EXIT_OK
    message = _message(client, arguments.id)
    if arguments.json:
        common.print_json(message)
    elif arguments.view == "headers":
        for name, value in message["headers"]:
            print(f"{name}: {value}")
    elif arguments.view in ("text", "html"):
        body = message[arguments.view]
        if body is None:
            raise common.CommandError(f"message {message['id']} has no {arguments.view} body")
        print(body, end="" if body.endswith("\n") else "\n")
    else:
        print(_human(message), end="")
    return common.EXIT_OK


def _human(message: dict[str, Any]) -> str:
    lines = [
        f"Id:       {message['id']}",
        f"Received: {message['received_at']}",
        f"From:     {common.address_text(message.get('from'))}",
        f"To:       {', '.join(common.address_text(a) for a in message['to']) or '-'}",
    ]
    if message["cc"]:
        lines.append(f"Cc:       {', '.join(common.address_text(a) for a in message['cc'])}")
    if message["bcc"]:
        lines.append(f"Bcc:      {', '.join(common.address_text(a) for a in message['bcc'])}")
    lines.append(f"Subject:  {message['subject']}")
    for attachment in message["attachments"]:
        lines.append(
            f"Attached: {attachment['filename'] or '(no name)'} ({attachment['content_type']}, "
            f"{attachment['size']} bytes)"
        )
    body: str | None = message["text"]
    if body is None:
        body = "(no text body; --html shows the HTML one)" if message["html"] is not None else "(no body)"
    return "\n".join(lines) + "\n\n" + body + ("" if body.endswith("\n") else "\n")


def run_links(arguments: argparse.Namespace) -> int:
    message = _message(common.connect(arguments), arguments.id)
    found = links_in(message["text"], message["html"])
    if arguments.json:
        common.print_json({"id": message["id"], "links": found})
    else:
        for link in found:
            print(link)
    return common.EXIT_OK


def run_clear(arguments: argparse.Namespace) -> int:
    with common.api_errors():
        deleted = common.connect(arguments).delete_matching(common.query_text(arguments.query))
    if arguments.json:
        common.print_json(deleted)
    else:
        print(f"deleted {deleted['deleted']} message{'' if deleted['deleted'] == 1 else 's'}")
    return common.EXIT_OK
