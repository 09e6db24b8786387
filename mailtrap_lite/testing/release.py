"""A release as test code sees it: what the next hop answered, the outbound transcript, and assertions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailtrap_lite import model, wire
from mailtrap_lite.model import TranscriptLine, UpstreamReply
from mailtrap_lite.testing.transcripts import Transcribed

__all__ = ["Release"]


@dataclass(frozen=True, slots=True)
class Release(Transcribed):
    """One forward of a captured message through the relay (``Message.release`` or ``--relay-auto``).

    ``result`` is ``sent``, ``refused`` (a 5xx, or no route) or ``deferred`` (a 4xx, or the next hop could
    not be reached); ``code`` is the reply that decided it."""

    at: datetime
    to: tuple[str, ...]
    relay: str
    result: str
    code: int | None
    trigger: str
    mail_from: str
    error: str | None
    replies: tuple[UpstreamReply, ...]
    transcript: tuple[TranscriptLine, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Release:
        found = wire.decode(model.Release, data)
        return cls(
            at=found.at,
            to=found.to,
            relay=found.relay,
            result=found.result,
            code=found.code,
            trigger=found.trigger,
            mail_from=found.mail_from,
            error=found.error,
            replies=found.replies,
            transcript=found.transcript,
        )

    @property
    def sent(self) -> bool:
        return self.result == "sent"

    def describe(self) -> str:
        code = "no reply" if self.code is None else str(self.code)
        problem = f": {self.error}" if self.error else ""
        via = self.relay or "(no next hop)"
        return f"release to {', '.join(self.to)} via {via} {self.result} ({code}){problem}"

    def assert_sent(self) -> Release:
        """Fail, showing the outbound conversation, unless the next hop answered 250 to DATA."""
        return self._expect("sent", None)

    def assert_refused(self, code: int | None = None) -> Release:
        """Fail unless the next hop refused the message for good (a 5xx; ``code``: that very one)."""
        return self._expect("refused", code)

    def assert_deferred(self, code: int | None = None) -> Release:
        """Fail unless the release failed for now (a 4xx, ``code`` if given, or no connection)."""
        return self._expect("deferred", code)

    def _expect(self, result: str, code: int | None) -> Release:
        from mailtrap_lite.testing.mailbox import MailtrapAssertionError

        if self.result != result or (code is not None and self.code != code):
            wanted = result if code is None else f"{result} ({code})"
            raise MailtrapAssertionError(
                f"expected the release to be {wanted}, but it was: {self.describe()}\n"
                f"outbound transcript:\n{self.transcript_text or '(no connection)'}"
            )
        return self
