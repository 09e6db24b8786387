"""The API and capture tests again, with the server on a SQLite database (``--db``), plus what only it shows.

The imported tests run here a second time under this module's ``server_config``.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from mailtrap_lite.config import Config
from tests.conftest import free_config
from tests.e2e.test_bad_input import test_corpus_messages_are_listed_viewable_and_byte_identical
from tests.e2e.test_capture import (
    test_every_rcpt_reply_and_bcc,
    test_message_is_listed_viewable_and_byte_identical,
    test_rejected_rcpt_is_recorded_with_its_code,
    test_session_that_delivers_nothing_is_kept,
    test_transcript_records_every_line_and_masks_auth,
)
from tests.web.test_api import (
    deliver,
    test_attachment_part_download,
    test_bad_parameters_are_400_with_a_json_error,
    test_delete_one,
    test_list_paging_and_totals,
    test_mark_read_and_tags,
    test_search_and_delete_matching,
    test_wait_returns_when_a_message_arrives,
)

__all__ = [
    "test_attachment_part_download",
    "test_bad_parameters_are_400_with_a_json_error",
    "test_corpus_messages_are_listed_viewable_and_byte_identical",
    "test_delete_one",
    "test_every_rcpt_reply_and_bcc",
    "test_list_paging_and_totals",
    "test_mark_read_and_tags",
    "test_message_is_listed_viewable_and_byte_identical",
    "test_rejected_rcpt_is_recorded_with_its_code",
    "test_search_and_delete_matching",
    "test_session_that_delivers_nothing_is_kept",
    "test_transcript_records_every_line_and_masks_auth",
    "test_wait_returns_when_a_message_arrives",
]


@pytest.fixture
def server_config(tmp_path: Path) -> Config:
    return free_config(db=tmp_path / "box.db")


def test_stats_and_metrics_report_the_database(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    deliver(smtp_address, "counted")
    stats = api.get("/api/stats").json()
    assert stats["store"] == "sqlite" and stats["messages"] == 1 and stats["sessions"] == 1
    assert stats["db_size"] > stats["bytes"] > 0
    metrics = api.get("/metrics").text
    reported = re.search(r"^mailtrap_database_bytes (\d+)$", metrics, re.M)
    assert reported and int(reported.group(1)) > stats["bytes"]
    assert "mailtrap_messages_stored 1" in metrics
    assert api.get("/readyz").status_code == 200


def test_search_goes_through_the_full_text_index(smtp_address: tuple[str, int], api: httpx.Client) -> None:
    for word in ("alpha", "bravo", "charlie"):
        deliver(smtp_address, f"Report {word} weekly", to=f"{word}@example.com")
    found = api.get("/api/messages", params={"q": '"bravo weekly" to:bravo@'}).json()
    assert [m["subject"] for m in found["messages"]] == ["Report bravo weekly"]
    assert api.get("/api/messages", params={"q": "-bravo repo"}).json()["total"] == 2
    bad = api.get("/api/messages", params={"q": 'subject:"unclosed'})
    assert bad.status_code == 400 and "unterminated quote" in bad.json()["error"]
    deleted = api.delete("/api/messages", params={"q": "to:alpha@ zulu"}).json()
    assert deleted["deleted"] == 0  # every term must hold: nothing has the word "zulu"
    deleted = api.delete("/api/messages", params={"q": "weekly -to:charlie"}).json()
    assert deleted["deleted"] == 2
    assert [m["subject"] for m in api.get("/api/messages").json()["messages"]] == ["Report charlie weekly"]
