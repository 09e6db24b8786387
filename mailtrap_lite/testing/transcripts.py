"""What a recorded conversation's transcript tells, for the plugin's sessions and releases."""

from __future__ import annotations

from mailtrap_lite.model import TranscriptLine


class Transcribed:
    __slots__ = ()
    transcript: tuple[TranscriptLine, ...]

    @property
    def commands(self) -> tuple[str, ...]:
        """Every line the client side sent (DATA as one ``<DATA n bytes>`` line, AUTH secrets masked)."""
        return tuple(line.line for line in self.transcript if line.dir == "C")

    @property
    def transcript_text(self) -> str:
        return "\n".join(f"{line.dir}: {line.line}" for line in self.transcript)
