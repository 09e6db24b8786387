"""The transcript of an IMAP session: each command as one line, each response line, secrets masked.

A literal a client sends, and one a response carries (a message body), shows as its size only. LOGIN
keeps its username and masks the password; AUTHENTICATE keeps its mechanism and masks the rest, and so
is every line that answers its ``+`` challenge.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailtrap_lite.imap.strings import Piece, summary
from mailtrap_lite.smtp.transcript import MASK, TranscriptRecorder


class IMAPTranscript(TranscriptRecorder):
    def command(self, lines: Sequence[bytes], literals: Sequence[int]) -> None:
        """A command read as ``lines``, each but the last followed by a literal of the size given."""
        text = ""
        for index, line in enumerate(lines):
            text += line.rstrip(b"\r\n").decode("utf-8", "replace")
            if index < len(literals):
                text += f" <{literals[index]} bytes>"
        words = text.split(" ", 3)
        secret_from = {"LOGIN": 3, "AUTHENTICATE": 4}.get(words[1].upper() if len(words) > 1 else "")
        if secret_from is not None and len(words) >= secret_from:
            text = f"{words[0]} {words[1]} {words[2]} {MASK}"
        self._add("C", text)

    def secret(self) -> None:
        """A client line that answers an AUTHENTICATE challenge."""
        self._add("C", MASK)

    def line(self, text: str) -> None:
        """A client line outside a command (``DONE`` ending IDLE)."""
        self._add("C", text)

    def response(self, pieces: Sequence[Piece]) -> None:
        for line in summary(pieces).split("\r\n"):
            self._add("S", line)
