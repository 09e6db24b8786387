"""The OpenAPI 3.1 description of the HTTP API, served at ``/api/openapi.json``.

Written by hand from one table so that it says what the routes do, not what a framework guessed; a test
checks that every route the app serves is described here.
"""

from __future__ import annotations

from typing import Any

from mailtrap_lite.faults import (
    MAX_DELAY_MS,
    MAX_MATCH_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_RULES,
    MAX_TIMES,
    STAGES,
)
from mailtrap_lite.search import MAX_QUERY_CHARS, MAX_QUERY_TERMS
from mailtrap_lite.web.params import MAX_BODY_BYTES, MAX_OFFSET, MAX_PAGE
from mailtrap_lite.web.ws import MAX_CLIENT_FRAME, MAX_SUBSCRIBERS

_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A message id, or `latest` for the newest message.",
}
_PATH_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_PART_ID = {
    "name": "part_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The part's position in the MIME tree: `0` is the root, `1.2` the second child "
    "of the first child.",
}
_Q = {
    "name": "q",
    "in": "query",
    "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
    "description": 'A search query: words, "phrases", from: to: cc: subject: rcpt: mail-from: mailbox: '
    "has:attachment is:read is:unread before: after: larger: smaller: tag: warning:, "
    f"a leading - negates; terms are ANDed. At most {MAX_QUERY_CHARS} characters and {MAX_QUERY_TERMS} "
    "terms (else 400).",
}
_MAILBOX = {"name": "mailbox", "in": "query", "schema": {"type": "string"}}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50},
}
_OFFSET = {
    "name": "offset",
    "in": "query",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
}
# One line of text, as in an SMTP reply: no control characters (C0, DEL, C1).
_ONE_LINE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json(_ref("Error"), "Error")
_404 = {"404": _json(_ref("Error"), "No such message, part or session")}
_400 = {"400": _json(_ref("Error"), "Bad parameter or query")}

_ADDRESS = {"type": "object", "properties": {"name": {"type": "string"}, "address": {"type": "string"}}}
_ADDRESSES = {"type": "array", "items": _ADDRESS}
_REPLY = {"type": "object", "properties": {"code": {"type": "integer"}, "reply": {"type": "string"}}}
_WARNING = {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
_ATTACHMENT = {
    "type": "object",
    "properties": {
        "part_id": {"type": "string"},
        "filename": {"type": ["string", "null"]},
        "content_type": {"type": "string"},
        "size": {"type": "integer"},
        "content_id": {"type": ["string", "null"]},
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Envelope": {
        "type": "object",
        "properties": {
            "mail_from": {"type": "string", "description": '"" for the null sender'},
            "mail_options": {"type": "array", "items": {"type": "string"}},
            "recipients": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "address": {"type": "string"},
                        "code": {"type": "integer"},
                        "reply": {"type": "string"},
                    },
                },
            },
            "data": {"oneOf": [_REPLY, {"type": "null"}]},
        },
    },
    "MessageSummary": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "session_id": {"type": "string"},
            "mailbox": {"type": "string"},
            "received_at": {"type": "string", "format": "date-time"},
            "size": {"type": "integer"},
            "read": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "subject": {"type": "string"},
            "from": {"oneOf": [_ADDRESS, {"type": "null"}]},
            "to": _ADDRESSES,
            "cc": _ADDRESSES,
            "bcc": _ADDRESSES,
            "reply_to": _ADDRESSES,
            "date": {"type": ["string", "null"]},
            "message_id": {"type": ["string", "null"]},
            "snippet": {"type": "string"},
            "attachments": {"type": "integer"},
            "warnings": {"type": "array", "items": _WARNING},
            "envelope": _ref("Envelope"),
        },
    },
    "Message": {
        "allOf": [
            _ref("MessageSummary"),
            {
                "type": "object",
                "properties": {
                    "headers": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
                    "text": {"type": ["string", "null"]},
                    "html": {"type": ["string", "null"]},
                    "parts": {
                        "type": "object",
                        "description": "The MIME tree: part_id, content_type, charset, "
                        "disposition, filename, content_id, size, children",
                    },
                    "attachments": {"type": "array", "items": _ATTACHMENT},
                    "inline": {"type": "array", "items": _ATTACHMENT},
                },
            },
        ]
    },
    "MessageList": {
        "type": "object",
        "properties": {
            "total": {"type": "integer"},
            "unread": {"type": "integer"},
            "count": {"type": "integer"},
            "messages": {"type": "array", "items": _ref("MessageSummary")},
        },
    },
    "Session": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "peer": {"type": "string"},
            "started_at": {"type": "string", "format": "date-time"},
            "ended_at": {"type": ["string", "null"], "format": "date-time"},
            "helo": {"type": ["string", "null"]},
            "tls": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "properties": {"version": {"type": "string"}, "cipher": {"type": "string"}},
                    },
                ]
            },
            "auth": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "properties": {"mechanism": {"type": "string"}, "username": {"type": "string"}},
                    },
                ]
            },
            "message_ids": {"type": "array", "items": {"type": "string"}},
            "error": {"type": ["string", "null"]},
            "transcript_truncated": {"type": "boolean"},
            "transcript": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "t_ms": {"type": "integer"},
                        "dir": {"enum": ["C", "S"]},
                        "line": {"type": "string"},
                        "fault_id": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
    # Every field but stage may be null, which means the same as leaving it out.
    "FaultRuleInput": {
        "type": "object",
        "required": ["stage"],
        "properties": {
            "stage": {"enum": list(STAGES)},
            "action": {"enum": ["reply", "disconnect", "delay", None], "default": "reply"},
            "code": {
                "type": ["integer", "null"],
                "minimum": 400,
                "maximum": 599,
                "description": "The reply code; required for action reply, not allowed otherwise.",
            },
            "enhanced": {
                "type": ["string", "null"],
                "pattern": "^[245]\\.[0-9]{1,3}\\.[0-9]{1,3}$",
                "description": "RFC 3463 code, e.g. 5.1.1, whose first digit is the code's; a default "
                "per code.",
            },
            "message": {
                "type": ["string", "null"],
                "maxLength": MAX_MESSAGE_CHARS,
                "pattern": _ONE_LINE,
                "description": "The reply text; a default per code.",
            },
            "match": {
                "type": ["string", "null"],
                "maxLength": MAX_MATCH_CHARS,
                "pattern": "^[^\\u0000-\\u0020\\u007f-\\u009f]*$",
                "description": "Case-insensitive glob on the stage's argument: the peer IP (connect), "
                "the HELO name (helo), the username (auth), the sender (mail), the recipient (rcpt), "
                "the sender or any recipient (data). Absent: every command of the stage.",
            },
            "times": {
                "type": ["integer", "null"],
                "minimum": 1,
                "maximum": MAX_TIMES,
                "description": "Fire this often; absent: always.",
            },
            "delay_ms": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": MAX_DELAY_MS,
                "default": 0,
                "description": "Wait first.",
            },
        },
    },
    # What POST /api/faults accepts: the fields above and no others, with the rules between them.
    "FaultRuleRequest": {
        "allOf": [_ref("FaultRuleInput")],
        "unevaluatedProperties": False,
        "if": {"properties": {"action": {"enum": ["reply", None]}}},
        "then": {"required": ["code"], "properties": {"code": {"type": "integer"}}},
        "else": {
            "properties": {name: {"type": "null"} for name in ("code", "message", "enhanced")},
            "if": {"properties": {"action": {"const": "delay"}}},
            "then": {"required": ["delay_ms"], "properties": {"delay_ms": {"type": "integer", "minimum": 1}}},
        },
    },
    "MessagePatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"read": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}}},
    },
    "FaultRule": {
        "allOf": [
            _ref("FaultRuleInput"),
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "reply": {"type": ["string", "null"], "description": "The reply line it sends."},
                    "remaining": {"type": ["integer", "null"], "description": "Firings left; null: always."},
                    "fired": {"type": "integer"},
                },
            },
        ]
    },
    "SessionList": {
        "type": "object",
        "properties": {
            "total": {"type": "integer"},
            "count": {"type": "integer"},
            "sessions": {"type": "array", "items": _ref("Session")},
        },
    },
    "Stats": {"type": "object", "additionalProperties": True},
}

# path -> method -> (summary, parameters, responses)
PATHS: dict[str, dict[str, tuple[str, list[dict[str, Any]], dict[str, Any]]]] = {
    "/api/messages": {
        "get": (
            "List message summaries, newest first",
            [_Q, _MAILBOX, _LIMIT, _OFFSET],
            {"200": _json(_ref("MessageList")), **_400},
        ),
        "delete": (
            "Delete every message matching q (all when q is absent)",
            [_Q, _MAILBOX],
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "deleted": {"type": "integer"},
                            "ids": {"type": "array", "items": {"type": "string"}},
                        },
                    }
                ),
                **_400,
            },
        ),
    },
    "/api/messages/wait": {
        "get": (
            "Wait until `count` messages match q",
            [
                _Q,
                _MAILBOX,
                {
                    "name": "count",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
                },
                {
                    "name": "timeout",
                    "in": "query",
                    "description": "Seconds to wait before answering 408.",
                    "schema": {"type": "number", "minimum": 0, "maximum": 300, "default": 10},
                },
            ],
            {"200": _json(_ref("MessageList")), **_400, "408": _ERROR},
        ),
    },
    "/api/messages/{id}": {
        "get": ("The full message", [_ID], {"200": _json(_ref("Message")), **_404}),
        "patch": (
            "Mark read or unread, set tags",
            [_ID],
            {"200": _json(_ref("MessageSummary")), **_400, **_404},
        ),
        "delete": ("Delete one message", [_ID], {"204": {"description": "Deleted"}, **_404}),
    },
    "/api/messages/{id}/raw": {
        "get": (
            "The message bytes exactly as received",
            [_ID],
            {"200": {"description": "OK", "content": {"message/rfc822": {}}}, **_404},
        ),
    },
    "/api/messages/{id}/html": {
        "get": (
            "The HTML body for the sandboxed preview, served with a strict Content-Security-Policy "
            "(sandbox, no scripts, no remote fetches); cid: references rewritten to part URLs; remote "
            "images and stylesheets blocked unless remote=1. X-Blocked-Remote says how many were "
            "blocked, X-Remote-Content how many the HTML references.",
            [_ID, {"name": "remote", "in": "query", "schema": {"enum": [0, 1], "default": 0}}],
            {
                "200": {"description": "OK", "content": {"text/html": {}}},
                **_400,
                "404": _json(_ref("Error"), "No such message, or it has no HTML body"),
            },
        ),
    },
    "/api/messages/{id}/parts/{part_id}": {
        "get": (
            "One MIME part's decoded bytes, as a download (Content-Disposition: attachment with the file "
            "name's control characters replaced by _, as filename and as RFC 8187 filename*)",
            [_ID, _PART_ID],
            {"200": {"description": "OK", "content": {"application/octet-stream": {}}}, **_404},
        ),
    },
    "/api/messages/{id}/session": {
        "get": (
            "The SMTP session (with transcript) that carried the message",
            [_ID],
            {"200": _json(_ref("Session")), **_404},
        ),
    },
    "/api/sessions": {
        "get": (
            "SMTP sessions, newest first, including those that delivered nothing",
            [_LIMIT, _OFFSET],
            {"200": _json(_ref("SessionList")), **_400},
        ),
    },
    "/api/sessions/{id}": {
        "get": (
            "One SMTP session with its transcript",
            [_PATH_ID],
            {"200": _json(_ref("Session")), **_404},
        ),
    },
    "/api/ws": {
        "get": (
            "Live events over a websocket (OpenAPI cannot describe the frames; they are JSON text). "
            'The server sends {"type": ..., "data": ...} with type message.new (a MessageSummary), '
            "message.updated (a MessageSummary), message.deleted ({ids, reason?}), messages.cleared "
            "({ids}), session.ended (a Session without transcript), ping (every 20 s when idle), "
            "and answers to the client: subscribed ({q}), error ({error}), pong. The client may send "
            '{"subscribe": "<query>"} to receive only the message.new events matching that query '
            '(null or "" for all), and {"type": "ping"}. A browser may connect only from this server\'s '
            "own origin (else the handshake is refused with 403). A client that falls too far behind "
            "is closed with code 1013 and a reason, never allowed to slow SMTP down. At most "
            f"{MAX_SUBSCRIBERS} subscribers at once: one more is closed with code 1008 and a reason; a "
            "subscribe query has the limits of q (else an error frame), and a client frame is at most "
            f"{MAX_CLIENT_FRAME // 1024} KiB.",
            [],
            {
                "101": {"description": "Switching Protocols: the websocket is open"},
                "403": {"description": "Cross-origin handshake refused"},
                "426": _json(_ref("Error"), "A plain HTTP request, not a websocket handshake"),
            },
        ),
    },
    "/api/faults": {
        "get": (
            "The fault rules in force, in the order they are tried",
            [],
            {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"faults": {"type": "array", "items": _ref("FaultRule")}},
                    }
                )
            },
        ),
        "post": (
            "Add a fault rule (JSON body: FaultRuleInput); answers the rule with its id",
            [],
            {
                "201": _json(_ref("FaultRule"), "Created"),
                "400": _json(_ref("Error"), f"An invalid rule, or {MAX_RULES} rules in force already"),
            },
        ),
        "delete": (
            "Remove every fault rule",
            [],
            {"200": _json({"type": "object", "properties": {"deleted": {"type": "integer"}}})},
        ),
    },
    "/api/faults/{id}": {
        "delete": (
            "Remove one fault rule",
            [_PATH_ID],
            {"204": {"description": "Removed"}, "404": _json(_ref("Error"), "No such rule")},
        ),
    },
    "/api/stats": {
        "get": (
            "Counts, sizes, uptime, version, store kind, event-loop lag",
            [],
            {"200": _json(_ref("Stats"))},
        )
    },
    "/api/openapi.json": {"get": ("This document", [], {"200": _json({"type": "object"})})},
    "/livez": {"get": ("Liveness", [], {"200": _json({"type": "object"})})},
    "/readyz": {
        "get": (
            "Readiness: the store answers and can take messages",
            [],
            {"200": _json({"type": "object"}), "503": _json({"type": "object"}, "Not ready")},
        )
    },
    "/metrics": {
        "get": ("Prometheus metrics", [], {"200": {"description": "OK", "content": {"text/plain": {}}}})
    },
}


def _body(schema: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": f"A JSON object of at most {MAX_BODY_BYTES} bytes.",
        "content": {"application/json": {"schema": _ref(schema)}},
    }


# (path, method) -> the JSON body it takes
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/messages/{id}", "patch"): _body("MessagePatch"),
    ("/api/faults", "post"): _body("FaultRuleRequest"),
}


def document(version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in PATHS.items():
        paths[path] = {}
        for method, (summary, parameters, responses) in methods.items():
            operation = {"summary": summary, "parameters": parameters, "responses": responses}
            if (path, method) in BODIES:
                operation["requestBody"] = BODIES[path, method]
            paths[path][method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailtrap-lite",
            "version": version,
            "description": "Every message and SMTP conversation that mailtrap-lite caught.",
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
