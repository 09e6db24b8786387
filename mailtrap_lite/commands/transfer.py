"""``export`` and ``import``: mail in bulk between a running server and mbox, zip or ``.eml`` files.

An export walks the matches page by page, oldest first, and writes each message as it comes, so its
memory does not grow with the number of messages; an import posts each message of each file to
``POST /api/messages`` as it reads it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from mailtrap_lite.client import APIError, MailtrapClient
from mailtrap_lite.commands import common, mailfiles
from mailtrap_lite.commands.progress import Progress
from mailtrap_lite.model import rfc3339

PAGE = 500
PIN_WINDOW = 50
Write = Callable[[int, dict[str, Any], bytes], None]  # message number, summary, bytes
# A page whose listing moved under it (messages deleted meanwhile) is asked again this often at most.
MAX_RETRIES = 20
# What POST /api/messages answers about one message; an import goes on with the next.
REFUSED_MESSAGE = frozenset({400, 413})


def register(commands: Any) -> None:
    export = common.add_command(
        commands,
        "export",
        "write the messages matching QUERY to an mbox or a zip of .eml files",
        "Write the messages matching QUERY (all without one), oldest first, to FILE: an mboxrd file (.mbox) "
        "or a zip of .eml files (.zip) whose entries keep each envelope. Messages that arrive during the "
        "export are left out.",
    )
    common.add_query(export)
    export.add_argument("-o", "--output", required=True, type=Path, metavar="FILE", help="the file to write")
    export.add_argument("--format", choices=mailfiles.FORMATS, help="default: by FILE's extension")
    export.set_defaults(run=run_export)

    load = common.add_command(
        commands,
        "import",
        "store the messages of .eml, mbox and zip files through the API",
        "Post every message of every FILE to POST /api/messages. The envelope comes from the file where it "
        "says (an mbox's From line, a zip entry's comment), else from the headers.",
    )
    load.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".eml, .mbox or .zip")
    load.add_argument("--format", choices=(*mailfiles.FORMATS, "eml"), help="default: by extension")
    load.set_defaults(run=run_import)


def pages(client: MailtrapClient, query: str | None, size: int = PAGE) -> Iterator[list[dict[str, Any]]]:
    """The summaries matching ``query`` when called, oldest first, one page at a time.

    The listing is newest first, so pages are taken from its end. Messages that arrive later are kept out
    by a ``before:`` term; when the count changes anyway (deletions), the page is asked again."""
    newest = client.search(query, limit=min(size, PIN_WINDOW))["messages"]
    if not newest:
        return
    # The latest time among the newest few: a small message can be stored, with a later time, while a
    # large one that arrived before it is still being parsed.
    received = max(_received(summary) for summary in newest)
    pinned = f"{query or ''} before:{rfc3339(received + timedelta(milliseconds=1))}".strip()
    total = client.search(pinned, limit=1)["total"]
    done = 0
    previous: set[str] = set()
    retries = 0
    while done < total:
        take = min(size, total - done)
        page = client.search(pinned, limit=take, offset=total - done - take)
        if page["total"] != total and retries < MAX_RETRIES:
            retries += 1
            total = page["total"]
            continue
        batch = [m for m in reversed(page["messages"]) if m["id"] not in previous]
        previous = {m["id"] for m in batch}
        done += take
        yield batch


def run_export(arguments: argparse.Namespace) -> int:
    path: Path = arguments.output
    kind = arguments.format or mailfiles.format_of(path)
    if kind not in mailfiles.FORMATS:
        raise common.CommandError(
            f"cannot tell the format from {path.name!r}: name it .mbox or .zip, or give --format",
            common.EXIT_USAGE,
        )
    client = common.connect(arguments)
    query = common.query_text(arguments.query)
    with common.api_errors():
        total = client.search(query, limit=1)["total"]
    progress = Progress(f"exporting to {path.name}", total)
    written = vanished = 0
    try:
        with common.api_errors(), _writer(path, kind) as write:
            for batch in pages(client, query):
                for summary in batch:
                    try:
                        raw = client.raw(summary["id"])
                    except APIError as error:
                        if error.status != 404:
                            raise
                        vanished += 1  # deleted since it was listed
                        continue
                    written += 1
                    write(written, summary, raw)
                    progress.advance()
    finally:
        progress.finish()
    report = {"written": written, "vanished": vanished, "file": str(path), "format": kind}
    if arguments.json:
        common.print_json(report)
    else:
        gone = f" ({vanished} deleted during the export)" if vanished else ""
        print(f"exported {written} message{'' if written == 1 else 's'} to {path}{gone}")
    return common.EXIT_OK


@contextlib.contextmanager
def _writer(path: Path, kind: str) -> Iterator[Write]:
    """A function writing one message (number, summary, raw) to the file; the file is whole at the end."""
    partial = path.with_name(path.name + ".partial")
    try:
        if kind == "mbox":
            with partial.open("wb") as stream:
                yield _mbox_writer(stream)
        else:
            with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
                yield _zip_writer(archive)
        partial.replace(path)
    except OSError as error:
        raise common.CommandError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)


def _received(summary: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(summary["received_at"].replace("Z", "+00:00"))


def _mbox_writer(stream: BinaryIO) -> Write:
    def write(number: int, summary: dict[str, Any], raw: bytes) -> None:
        stream.write(mailfiles.mbox_entry(raw, summary["envelope"]["mail_from"], _received(summary)))

    return write


def _zip_writer(archive: zipfile.ZipFile) -> Write:
    def write(number: int, summary: dict[str, Any], raw: bytes) -> None:
        envelope = summary["envelope"]
        accepted = [r["address"] for r in envelope["recipients"] if 200 <= r["code"] < 300]
        info = mailfiles.zip_entry(
            number, summary["id"], _received(summary), {"mail_from": envelope["mail_from"], "rcpt": accepted}
        )
        archive.writestr(info, raw)

    return write


def run_import(arguments: argparse.Namespace) -> int:
    missing = [str(path) for path in arguments.files if not path.is_file()]
    if missing:
        raise common.CommandError(f"no such file: {', '.join(missing)}", common.EXIT_USAGE)
    client = common.connect(arguments)
    progress = Progress("importing")
    stored: list[str] = []
    failed: list[dict[str, str]] = []
    try:
        for path in arguments.files:
            try:
                for mail in mailfiles.read_any(path, arguments.format):
                    try:
                        summary = client.submit(mail.raw, mail.mail_from, mail.recipients or None)
                    except APIError as error:
                        if error.status not in REFUSED_MESSAGE:  # the server, not this message
                            raise common.command_error(error) from None
                        failed.append({"file": mail.name, "error": error.message})
                        print(f"mailtrap-lite import: {mail.name}: {error.message}", file=sys.stderr)
                        continue
                    stored.append(summary["id"])
                    progress.advance()
            except (OSError, ValueError, zipfile.BadZipFile) as error:
                failed.append({"file": path.name, "error": str(error)})
                print(f"mailtrap-lite import: {path}: {error}", file=sys.stderr)
    finally:
        progress.finish()
    if arguments.json:
        common.print_json({"imported": len(stored), "ids": stored, "failed": failed})
    else:
        print(f"imported {len(stored)} message{'' if len(stored) == 1 else 's'}, {len(failed)} failed")
    return common.EXIT_FAILED if failed else common.EXIT_OK
