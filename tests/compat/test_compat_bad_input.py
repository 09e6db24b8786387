"""Bad input to the Mailpit- and MailHog-compatible routes: a 4xx (or, for what this build lacks, a 501)
with a JSON error that says what is wrong, never a 500."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "says"),
    [
        ("GET", "/api/v1/messages", {"params": {"limit": "1001"}}, 400, "limit must be between"),
        ("GET", "/api/v1/messages", {"params": {"start": "x"}}, 400, "start must be a whole number"),
        ("GET", "/api/v1/search", {}, 400, "query is required"),
        ("GET", "/api/v1/search", {"params": {"query": "after:soon"}}, 400, "bad date 'soon'"),
        ("GET", "/api/v1/search", {"params": {"query": "x", "tz": "Mars/Base"}}, 400, "unknown time zone"),
        ("DELETE", "/api/v1/search", {"params": {"query": "!!"}}, 400, "query has no search terms"),
        ("PUT", "/api/v1/messages", {"json": {"Read": 1}}, 400, "Read must be true or false"),
        ("PUT", "/api/v1/messages", {"json": {"Search": ["x"]}}, 400, "Search must be a string"),
        ("PUT", "/api/v1/messages", {"json": ["x"]}, 400, "must be a JSON object"),
        (
            "PUT",
            "/api/v1/messages",
            {"content": b"{", "headers": {"content-type": "application/json"}},
            400,
            "JSON",
        ),
        (
            "PUT",
            "/api/v1/tags",
            {"content": b"{}", "headers": {"content-type": "text/plain"}},
            415,
            "Content-Type",
        ),
        ("PUT", "/api/v1/tags", {"json": {"IDs": [], "Tags": ["x"]}}, 400, "IDs is required"),
        # Only MailHog's release reads a body sent without a Content-Type (its npm client sends none).
        ("PUT", "/api/v1/tags", {"content": b'{"IDs": ["x"]}'}, 415, "Content-Type"),
        ("PUT", "/api/v1/tags", {"json": {"IDs": ["x"], "Tags": [1]}}, 400, "Tags must be a list of strings"),
        ("DELETE", "/api/v1/messages", {"json": {"IDs": [None]}}, 400, "IDs must be a list of strings"),
        ("GET", "/api/v1/message/latest", {}, 404, "no messages stored"),
        ("GET", "/view/nope.txt", {}, 404, "no message 'nope'"),
        ("GET", "/api/v2/search", {"params": {"kind": "body"}}, 400, "kind must be one of"),
        ("GET", "/api/v2/messages", {"params": {"limit": "0"}}, 400, "limit must be between"),
        ("DELETE", "/api/v1/messages/nope", {}, 404, "no message 'nope'"),
        ("POST", "/api/v1/send", {"json": {}}, 400, "From is required"),
        ("POST", "/api/v1/send", {"json": {"From": {"Email": "a@b"}}}, 400, "no recipients"),
        ("POST", "/api/v1/message/latest/release", {"json": {}}, 409, "no relay is configured"),
        ("POST", "/api/v1/messages/x/release", {"content": b"{}"}, 409, "no relay is configured"),
        ("PATCH", "/api/v1/messages", {}, 405, "method PATCH not allowed"),
    ],
)
def test_bad_input_is_a_json_error(
    api: httpx.Client, method: str, path: str, kwargs: dict[str, object], status: int, says: str
) -> None:
    answer = api.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]
