"""SessionLog hands out snapshots that later changes to the live session do not reach."""

from __future__ import annotations

import pickle

import pytest

from mailtrap_lite.model import Prefix, to_json
from mailtrap_lite.session_log import SessionLog
from mailtrap_lite.smtp.transcript import TranscriptRecorder


def test_a_prefix_is_the_list_as_it_was() -> None:
    items = list(range(10))
    prefix = Prefix(items, 6)
    items.append(99)
    assert len(prefix) == 6 and list(prefix) == [0, 1, 2, 3, 4, 5] and prefix[-1] == 5
    assert prefix[2:] == (2, 3, 4, 5) and prefix[-2:] == (4, 5) and prefix[:100] == tuple(range(6))
    assert prefix[::-1] == (5, 4, 3, 2, 1, 0)
    assert prefix == tuple(range(6)) and tuple(range(6)) == prefix and list(range(6)) == prefix
    assert prefix != tuple(range(7)) and hash(prefix) == hash(tuple(range(6)))
    with pytest.raises(IndexError):
        prefix[6]
    assert pickle.loads(pickle.dumps(prefix)) == (0, 1, 2, 3, 4, 5)


def test_snapshots_do_not_follow_the_log() -> None:
    transcript = TranscriptRecorder()
    log = SessionLog("127.0.0.1:1", transcript)
    transcript.server("220 hi")
    log.helo = "client.example"
    first = log.snapshot(message_ids=False)
    transcript.client(b"MAIL FROM:<a@b.example>\r\n")
    log.delivered("m1")
    log.fail("timeout")
    log.fail("later reason")
    second = log.snapshot()
    final = log.end()
    transcript.client(b"after the end\r\n")
    assert [line.line for line in first.transcript] == ["220 hi"] and first.message_ids == ()
    assert first.error is None and first.ended_at is None
    assert len(second.transcript) == 2 and second.message_ids == ("m1",) and second.error == "timeout"
    assert final.ended_at is not None and log.ended and log.end().ended_at == final.ended_at
    assert to_json(first)["transcript"] == [
        {"t_ms": first.transcript[0].t_ms, "dir": "S", "line": "220 hi", "fault_id": None}
    ]
