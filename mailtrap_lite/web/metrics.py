"""``/metrics`` in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from mailtrap_lite.web.api import stats_data
from mailtrap_lite.web.context import context

# (name, type, help, key in stats_data)
_METRICS = (
    ("mailtrap_messages_received_total", "counter", "Messages accepted with 250.", "received_total"),
    (
        "mailtrap_messages_rejected_total",
        "counter",
        "DATA transfers answered with an error.",
        "rejected_total",
    ),
    ("mailtrap_received_bytes_total", "counter", "Bytes of accepted messages.", "received_bytes_total"),
    ("mailtrap_smtp_sessions_total", "counter", "SMTP connections accepted.", "sessions_total"),
    ("mailtrap_smtp_sessions_open", "gauge", "SMTP connections open now.", "open_sessions"),
    ("mailtrap_messages_stored", "gauge", "Messages held by the store.", "messages"),
    ("mailtrap_messages_unread", "gauge", "Stored messages not yet read.", "unread"),
    ("mailtrap_stored_bytes", "gauge", "Bytes of the stored messages.", "bytes"),
    (
        "mailtrap_database_bytes",
        "gauge",
        "Size of the database: the SQLite files, or the PostgreSQL database.",
        "db_size",
    ),
    ("mailtrap_store_writable", "gauge", "1 when the store takes messages, 0 when they get 451.", "writable"),
    ("mailtrap_event_subscribers", "gauge", "Websocket and long-poll subscribers.", "subscribers"),
    ("mailtrap_uptime_seconds", "gauge", "Seconds since start.", "uptime_seconds"),
)


async def metrics(request: Request) -> Response:
    data = await stats_data(context(request))
    lines = []
    for name, kind, help_text, key in _METRICS:
        value = data.get(key)
        if value is None:
            continue
        lines += [
            f"# HELP {name} {help_text}",
            f"# TYPE {name} {kind}",
            f"{name} {int(value) if isinstance(value, bool) else value}",
        ]
    name = "mailtrap_messages_rejected_by_reason_total"
    lines += [f"# HELP {name} DATA transfers answered with an error, by reason.", f"# TYPE {name} counter"]
    for reason, count in sorted(data["rejected_by_reason"].items()):
        lines.append(f'{name}{{reason="{reason}"}} {count}')
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
