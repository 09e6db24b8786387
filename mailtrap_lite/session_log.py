"""The live record of one connection, owned by the protocol that serves it.

The protocol writes to it (transcript lines through its recorder, HELO, TLS, login, the error, the end);
everyone else gets immutable ``Session`` snapshots. The transcript and the delivered message ids only
ever grow, so a snapshot is a ``Prefix`` of them: O(1) to take, however long the session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mailtrap_lite import ids
from mailtrap_lite.model import AuthInfo, Prefix, Session, TLSInfo, utcnow
from mailtrap_lite.smtp.transcript import TranscriptRecorder

# A transport's or a stream writer's ``get_extra_info``.
ExtraInfo = Callable[[str], Any]


def peer_text(peer: object) -> str:
    """A socket's ``peername`` as sessions show it: ``host:port``."""
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


class SessionLog:
    def __init__(self, peer: str, transcript: TranscriptRecorder, protocol: str = "smtp") -> None:
        self.id = ids.new_id()
        self.protocol = protocol
        self.peer = peer
        self.started_at = utcnow()
        self.helo: str | None = None
        self.tls: TLSInfo | None = None
        self.auth: AuthInfo | None = None
        self.error: str | None = None
        self._ended_at: datetime | None = None
        self._transcript = transcript
        self._message_ids: list[str] = []

    @property
    def ended(self) -> bool:
        return self._ended_at is not None

    def note_tls(self, extra_info: ExtraInfo) -> None:
        """Record the protocol version and cipher of the connection, now encrypted."""
        cipher = extra_info("cipher")
        if cipher:
            self.tls = TLSInfo(version=str(cipher[1]), cipher=str(cipher[0]))

    def fail(self, reason: str) -> None:
        """Record why the session went wrong; the first reason is the one kept."""
        if self.error is None:
            self.error = reason

    def delivered(self, message_id: str) -> None:
        """A message of this session is stored (and about to be acknowledged)."""
        self._message_ids.append(message_id)

    def end(self) -> Session:
        """The connection is gone: nothing changes any more. Returns the final snapshot."""
        if self._ended_at is None:
            self._ended_at = utcnow()
        return self.snapshot()

    def snapshot(self, *, message_ids: bool = True) -> Session:
        """The session as it is now. Without ``message_ids`` (what an ``Arrival`` carries) it is O(1)."""
        lines = self._transcript.lines
        return Session(
            id=self.id,
            peer=self.peer,
            started_at=self.started_at,
            ended_at=self._ended_at,
            helo=self.helo,
            tls=self.tls,
            auth=self.auth,
            transcript=Prefix(lines, len(lines)),
            message_ids=tuple(self._message_ids) if message_ids else (),
            error=self.error,
            transcript_truncated=self._transcript.truncated,
            protocol=self.protocol,
        )
