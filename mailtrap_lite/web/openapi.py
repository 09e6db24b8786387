"""The OpenAPI 3.1 description of the HTTP API, served at ``/api/openapi.json``.

The paths are written by hand from one table so that they say what the routes do, not what a framework
guessed; the response schemas come from ``mailtrap_lite.wire``, which also encodes the bodies. A test
checks every route's real answers against this document.
"""

from __future__ import annotations

from typing import Any

from mailtrap_lite import compat_mailhog, compat_mailpit, wire
from mailtrap_lite.faults import (
    MAX_DELAY_MS,
    MAX_MATCH_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_RULES,
    MAX_TIMES,
    STAGES,
)
from mailtrap_lite.relay.policy import MAX_RECIPIENTS as MAX_RELEASE_RECIPIENTS
from mailtrap_lite.search import MAX_QUERY_CHARS, MAX_QUERY_TERMS
from mailtrap_lite.tags import MAX_TAG_CHARS, MAX_TAGS
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
    "has:attachment is:read is:unread is:tagged is:untagged before: after: larger: smaller: tag: "
    "warning:, "
    f"a leading - negates; terms are ANDed. At most {MAX_QUERY_CHARS} characters and {MAX_QUERY_TERMS} "
    "terms (else 400).",
}
_MAILBOX = {
    "name": "mailbox",
    "in": "query",
    "schema": {"type": "string"},
    "description": "Only this mailbox (case-insensitive); an unknown one matches nothing.",
}
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
_TAG_PATTERN = "^[^,\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$"
_TAG_RULES = (
    "Tags are stored trimmed, inner whitespace collapsed, lower-cased, each once; a tag is "
    f"1-{MAX_TAG_CHARS} characters without commas or control characters, else 400 naming it."
)
_TAG = {
    "name": "tag",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A tag, compared case-insensitively (URL-encoded; it may hold a /).",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_404 = {"404": _json(_ref("Error"), "No such message, part or session")}
_400 = {"400": _json(_ref("Error"), "Bad parameter or query")}
_503 = {"503": _json(_ref("Error"), "The store cannot write for now (disk full, writer restarting)")}

SCHEMAS: dict[str, Any] = {
    **wire.SCHEMAS,
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
    "MarkRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": "The messages to mark: `ids`, or those matching `query` and/or in `mailbox`; `{}` "
        "marks every message (every one the user may see, with --mailbox-access).",
        "properties": {
            "query": {"type": ["string", "null"], "maxLength": MAX_QUERY_CHARS},
            "mailbox": {"type": ["string", "null"]},
            "ids": {"type": ["array", "null"], "items": {"type": "string"}, "maxItems": MAX_PAGE},
        },
    },
    "ReleaseRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "to": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_RELEASE_RECIPIENTS,
                "items": {
                    "type": "string",
                    "pattern": "^[^\\u0000-\\u0020\\u007f<>@]+@[^\\u0000-\\u0020\\u007f<>@]+$",
                },
                "description": "Recipients; absent: the message's accepted envelope recipients.",
            }
        },
    },
    "MessagePatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "read": {"type": "boolean"},
            "tags": {"type": "array", "items": _ref("Tag"), "maxItems": MAX_TAGS, "description": _TAG_RULES},
        },
    },
    "Tag": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS, "pattern": _TAG_PATTERN},
    "TagRename": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": _ref("Tag")},
    },
    "MessagesRetag": {
        "type": "object",
        "required": ["query"],
        "additionalProperties": False,
        "description": "At least one of add and remove is not empty. Each matching message loses the tags of "
        f"remove, then gains each tag of add it lacks (a message keeps at most {MAX_TAGS}).",
        "properties": {
            "query": {
                "type": ["string", "null"],
                "maxLength": MAX_QUERY_CHARS,
                "description": 'The messages to change, as q selects them; "" or null: every message.',
            },
            "add": {"type": "array", "items": _ref("Tag"), "maxItems": MAX_TAGS},
            "remove": {"type": "array", "items": _ref("Tag"), "maxItems": MAX_TAGS},
        },
    },
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
                "200": _json(_ref("Deleted")),
                **_400,
                **_503,
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
            {"200": _json(_ref("MessageList")), **_400, "408": _json(_ref("WaitTimedOut"), "Timed out")},
        ),
    },
    "/api/messages/tags": {
        "post": (
            "Add and remove tags on every message matching a query (JSON body: MessagesRetag); one "
            "messages.tagged event lists the messages that changed",
            [],
            {"200": _json(_ref("Retagged")), "400": _json(_ref("Error"), "A bad query or tag"), **_503},
        ),
    },
    "/api/tags": {
        "get": (
            "Every tag of the messages matching q (all when absent), with how many messages carry it, by "
            "name",
            [_Q, _MAILBOX],
            {"200": _json(_ref("TagList")), **_400},
        ),
    },
    "/api/tags/{tag}": {
        "put": (
            "Rename a tag on every message (JSON body: TagRename); where a message has both, they merge",
            [_TAG],
            {
                "200": _json(_ref("Retagged")),
                "400": _json(_ref("Error"), "A bad tag"),
                "404": _json(_ref("Error"), "No message has the tag"),
                **_503,
            },
        ),
        "delete": (
            "Remove a tag from every message",
            [_TAG],
            {
                "200": _json(_ref("Retagged")),
                "400": _json(_ref("Error"), "A bad tag"),
                "404": _json(_ref("Error"), "No message has the tag"),
                **_503,
            },
        ),
    },
    "/api/messages/{id}": {
        "get": ("The full message", [_ID], {"200": _json(_ref("Message")), **_404}),
        "patch": (
            "Mark read or unread, set tags",
            [_ID],
            {"200": _json(_ref("MessageSummary")), **_400, **_404, **_503},
        ),
        "delete": ("Delete one message", [_ID], {"204": {"description": "Deleted"}, **_404, **_503}),
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
    "/api/messages/read": {
        "post": (
            "Mark messages read in bulk (JSON body: MarkRequest); answers those whose flag changed",
            [],
            {"200": _json(_ref("Marked")), **_400, **_404, **_503},
        ),
    },
    "/api/messages/unread": {
        "post": (
            "Mark messages unread in bulk (JSON body: MarkRequest); answers those whose flag changed",
            [],
            {"200": _json(_ref("Marked")), **_400, **_404, **_503},
        ),
    },
    "/api/mailboxes": {
        "get": (
            "Every mailbox holding mail or named by --mailbox (default always), by name, with its total, "
            "unread and size in bytes and when its newest message arrived; with --mailbox-access, only "
            "the user's",
            [],
            {"200": _json(_ref("MailboxList"))},
        ),
    },
    "/api/messages/{id}/release": {
        "post": (
            "Forward the message through the relay (--relay) as it was captured, behind one Received "
            "line, to `to` (JSON body ReleaseRequest; an empty body releases to the accepted envelope "
            "recipients). SENDS REAL MAIL. Answers the release record: the next hop's reply to every "
            "command, the final code and the outbound transcript; the message's `releases` keeps it "
            "and a message.released event announces it.",
            [_ID],
            {
                "200": _json(_ref("Release"), "Sent: the next hop answered 250 to DATA"),
                "400": _json(
                    _ref("Error"), "An invalid address (CR, LF, no @ ...), or several domains with --relay mx"
                ),
                "403": _json(_ref("Error"), "Recipients outside --relay-allow or on --relay-deny, named"),
                "404": _json(_ref("Error"), "No such message"),
                "409": _json(_ref("Error"), "No relay is configured (--relay)"),
                "502": _json(
                    _ref("Release"),
                    "The next hop refused the message or could not be reached: the record says what happened",
                ),
            },
        ),
    },
    "/api/relay/queue": {
        "get": (
            "Automatic relays (--relay-auto) waiting for a retry after a 4xx or no answer, and those "
            "that failed (a 5xx, or the retry limit); oldest first",
            [],
            {"200": _json(_ref("RelayQueue")), "409": _json(_ref("Error"), "No relay is configured")},
        ),
    },
    "/api/relay/queue/{id}/retry": {
        "post": (
            "Try a queued or failed relay now (a failed one gets its tries back)",
            [_PATH_ID],
            {
                "200": _json(_ref("RelayItem")),
                "404": _json(_ref("Error"), "No such queue item"),
                "409": _json(_ref("Error"), "No relay is configured"),
            },
        ),
    },
    "/api/relay/queue/{id}": {
        "delete": (
            "Drop a queued or failed relay",
            [_PATH_ID],
            {
                "204": {"description": "Dropped"},
                "404": _json(_ref("Error"), "No such queue item"),
                "409": _json(_ref("Error"), "No relay is configured"),
            },
        ),
    },
    "/api/sessions": {
        "get": (
            "Sessions, newest first: SMTP ones (including those that delivered nothing) and POP3 ones; "
            "`protocol` says which; with mailbox, those that delivered a message still stored in that "
            "mailbox",
            [_LIMIT, _OFFSET, _MAILBOX],
            {"200": _json(_ref("SessionList")), **_400},
        ),
    },
    "/api/sessions/{id}": {
        "get": (
            "One session (SMTP or POP3) with its transcript",
            [_PATH_ID],
            {"200": _json(_ref("Session")), **_404},
        ),
    },
    "/api/ws": {
        "get": (
            "Live events over a websocket (OpenAPI cannot attach the frames to the path; each JSON text "
            "frame the server sends fits the Event schema). "
            'The server sends {"type": ..., "data": ...} with type message.new (a MessageSummary), '
            "message.updated (a MessageSummary), messages.updated ({ids, read}: marked in bulk), "
            "message.deleted ({ids, reason?}), messages.cleared "
            "({ids}), messages.tagged ({mailbox, ids, add, remove}, one per mailbox: these messages lost the "
            "tags of remove, then gained those of add they lacked), session.ended (a Session without "
            "transcript), message.released ({id, release}), "
            "ping (every 20 s when idle), "
            "and answers to the client: subscribed ({q, mailbox}), error ({error}), pong. The client may "
            'send {"subscribe": "<query>", "mailbox": "<name>"} to receive only the message.new events '
            'matching that query (null or "" for all) and only message.new and message.updated of that '
            "mailbox (null for all; ?mailbox= on the URL sets it at connect; with --mailbox-access, "
            "only the user's mailboxes ever, and no session.ended), and "
            '{"type": "ping"}. A browser may connect only from this server\'s '
            "own origin or a --trusted-origin (else the handshake is refused with 403). A client that "
            "falls too far behind is closed with code 1013 and a reason, never allowed to slow SMTP "
            f"down. At most {MAX_SUBSCRIBERS} subscribers at once: one more is closed with code 1008 "
            "and a reason; a subscribe query has the limits of q (else an error frame), and a client "
            f"frame is at most {MAX_CLIENT_FRAME // 1024} KiB.",
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
            {"200": _json(_ref("FaultList"))},
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
            {"200": _json(_ref("FaultsDeleted"))},
        ),
    },
    "/api/faults/{id}": {
        "delete": (
            "Remove one fault rule",
            [_PATH_ID],
            {"204": {"description": "Removed"}, "404": _json(_ref("Error"), "No such rule")},
        ),
    },
    "/api/webhooks": {
        "get": (
            "The --webhook URLs, their --webhook-query, how many deliveries wait, and the latest "
            "deliveries (newest first) with their status, attempts and the receiver's last answer",
            [],
            {"200": _json(_ref("WebhookStatus"))},
        )
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


PATHS["/api/messages"]["post"] = (
    "Store a message as if it came over SMTP (in a session of protocol http). The body is the raw "
    "message; the envelope comes from mail_from and rcpt, else from the From (or Sender) and To, Cc and "
    "Bcc headers. Answers the stored message's summary.",
    [
        {
            "name": "mail_from",
            "in": "query",
            "schema": {"type": "string"},
            "description": "Envelope sender (empty or <> for the null sender); default: the From header.",
        },
        {
            "name": "rcpt",
            "in": "query",
            "schema": {"type": "array", "items": {"type": "string"}},
            "explode": True,
            "description": "Envelope recipients, repeated or comma-separated; default: To, Cc and Bcc "
            "(else X-Original-To and Delivered-To).",
        },
    ],
    {
        "201": _json(_ref("MessageSummary"), "Stored"),
        "400": _json(
            _ref("Error"),
            "An empty body, a bad address, no recipients, an unknown parameter, or (for a user confined by "
            "--mailbox-access) a message that routing would put in another user's mailbox",
        ),
        "413": _json(_ref("Error"), "The message is larger than --max-message-size"),
        "415": _json(_ref("Error"), "The body's Content-Type is not message/rfc822"),
        **_503,
    },
)

# Every request's Host is checked, and every state-changing one's Origin; a JSON body needs its media type.
_GUARD = {"421": _json(_ref("Error"), "Host not served here: a name outside --trusted-host")}
_FOREIGN = {
    "403": _json(_ref("Error"), "Cross-origin request refused: Origin not ours nor a --trusted-origin")
}
_NOT_JSON = {"415": _json(_ref("Error"), "The body's Content-Type is not application/json")}

# (path, method) -> the JSON body it takes
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/messages/{id}", "patch"): _body("MessagePatch"),
    ("/api/messages/{id}/release", "post"): {**_body("ReleaseRequest"), "required": False},
    ("/api/faults", "post"): _body("FaultRuleRequest"),
    ("/api/messages", "post"): {
        "required": True,
        "description": "The message's bytes, at most --max-message-size.",
        "content": {"message/rfc822": {"schema": {"type": "string", "contentMediaType": "message/rfc822"}}},
    },
    ("/api/messages/read", "post"): _body("MarkRequest"),
    ("/api/messages/unread", "post"): _body("MarkRequest"),
    ("/api/tags/{tag}", "put"): _body("TagRename"),
    ("/api/messages/tags", "post"): _body("MessagesRetag"),
}


# --- Mailpit's and MailHog's APIs (web/compat_mailpit.py, web/compat_mailhog.py) --------------------------

_START = {
    "name": "start",
    "in": "query",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
}
_LIMIT_50 = {**_LIMIT, "description": f"At most {MAX_PAGE} (else 400)."}
_TZ = {
    "name": "tz",
    "in": "query",
    "schema": {"type": "string"},
    "description": "An IANA time zone (e.g. Europe/Paris) for before: and after: dates without an offset "
    "(else UTC); an unknown zone is a 400.",
}
_MAILPIT_QUERY = {
    "name": "query",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
    "description": 'Mailpit\'s search: words, "phrases", from: to: cc: bcc: (any envelope recipient) '
    "subject: tag: is:read is:unread has:attachment before: after: larger: smaller:, a leading - or ! "
    "negates; reply-to:, addressed: and message-id: are a 400.",
}
_OK = {"200": {"description": 'The text "ok"', "content": {"text/plain": {}}}}
_TEXT = {"200": {"description": "OK", "content": {"text/plain": {}}}}
_RELEASE_ERRORS = {
    **_400,
    "403": _json(_ref("Error"), "Recipients the relay lists (--relay-allow, --relay-deny) refuse"),
    **_404,
    "409": _json(_ref("Error"), "No relay is configured (--relay)"),
    "502": _json(_ref("Error"), "The next hop refused the message or could not be reached"),
}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_MAILPIT_ADDRESS = {
    "type": "object",
    "required": ["Email"],
    "properties": {"Email": {"type": "string"}, "Name": {"type": "string"}},
}
_TAG = {"name": "tag", "in": "path", "required": True, "schema": {"type": "string"}}
SCHEMAS.update(wire.schemas_for(compat_mailpit.RECORDS + compat_mailhog.RECORDS))
SCHEMAS.update(
    {
        "MailpitReadStatus": {
            "type": "object",
            "properties": {
                "IDs": _STRINGS,
                "Read": {"type": "boolean", "default": False},
                "Search": {"type": "string"},
            },
        },
        "MailpitIDs": {"type": "object", "properties": {"IDs": _STRINGS}},
        "MailpitRelease": {"type": "object", "properties": {"To": _STRINGS}},
        "MailhogRelease": {
            "type": "object",
            "required": ["Email"],
            "properties": {
                "Email": {"type": "string"},
                "Host": {"type": "string"},
                "Port": {"type": ["string", "integer"]},
            },
        },
        "MailpitSendRequest": {
            "type": "object",
            "required": ["From"],
            "additionalProperties": False,
            "properties": {
                "From": _MAILPIT_ADDRESS,
                "To": {"type": "array", "items": _MAILPIT_ADDRESS},
                "Cc": {"type": "array", "items": _MAILPIT_ADDRESS},
                "ReplyTo": {"type": "array", "items": _MAILPIT_ADDRESS},
                "Bcc": _STRINGS,
                "Subject": {"type": "string"},
                "Text": {"type": "string"},
                "HTML": {"type": "string"},
                "Headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "Tags": _STRINGS,
                "Attachments": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Content", "Filename"],
                        "properties": {
                            "Content": {"type": "string", "description": "base64"},
                            "Filename": {"type": "string"},
                            "ContentType": {"type": "string"},
                            "ContentID": {"type": "string", "description": "Set: the part is inline"},
                        },
                    },
                },
            },
        },
        "MailpitRenameTag": {
            "type": "object",
            "required": ["Name"],
            "properties": {"Name": {"type": "string"}},
        },
        "MailpitSetTags": {
            "type": "object",
            "required": ["IDs"],
            "properties": {"IDs": _STRINGS, "Tags": _STRINGS},
        },
    }
)
PATHS.update(
    {
        "/api/v1/messages": {
            "get": (
                "Mailpit: list messages, newest first",
                [_START, _LIMIT_50],
                {"200": _json(_ref("MailpitList")), **_400},
            ),
            "put": (
                "Mailpit: mark the messages with these IDs, else those matching Search, else all, read "
                "(Read true) or unread; ids not stored are ignored",
                [_TZ],
                {**_OK, **_400, **_503},
            ),
            "delete": (
                "Mailpit: delete the messages with these IDs (ids not stored are ignored), or all when the "
                "body is absent or names none",
                [],
                {**_OK, **_400, **_503},
            ),
        },
        "/api/v1/search": {
            "get": (
                "Mailpit: the messages matching a Mailpit search, newest first",
                [_MAILPIT_QUERY, _START, _LIMIT_50, _TZ],
                {"200": _json(_ref("MailpitList")), **_400},
            ),
            "delete": (
                "Mailpit: delete the messages matching a Mailpit search (one without terms is a 400)",
                [_MAILPIT_QUERY, _TZ],
                {**_OK, **_400, **_503},
            ),
        },
        "/api/v1/message/{id}": {
            "get": (
                "Mailpit: the message, which this marks read",
                [_ID],
                {"200": _json(_ref("MailpitMessage")), **_404},
            )
        },
        "/api/v1/message/{id}/headers": {
            "get": (
                "Mailpit: the headers, decoded, by name (sorted) with every value",
                [_ID],
                {"200": _json({"type": "object", "additionalProperties": _STRINGS}), **_404},
            )
        },
        "/api/v1/message/{id}/raw": {
            "get": ("Mailpit: the message bytes as received, as text/plain", [_ID], {**_TEXT, **_404})
        },
        "/api/v1/message/{id}/part/{part_id}": {
            "get": (
                "Mailpit: one MIME part's decoded bytes (as /api/messages/{id}/parts/{part_id})",
                [_ID, _PART_ID],
                {"200": {"description": "OK", "content": {"application/octet-stream": {}}}, **_404},
            )
        },
        "/api/v1/message/{id}/release": {
            "post": (
                "Mailpit: release a message through --relay to To (absent: its envelope recipients), as "
                "/api/messages/{id}/release does",
                [_ID],
                {**_OK, **_RELEASE_ERRORS},
            )
        },
        "/api/v1/send": {
            "post": (
                "Mailpit: store a message given as JSON (SendRequest: From, To, Cc, Bcc, ReplyTo, Subject, "
                "Text, HTML, Headers, Tags, Attachments) as if it came over SMTP, in a session of its own "
                "(protocol http); answers its ID",
                [],
                {
                    "200": _json(_ref("MailpitSendConfirmation")),
                    **_400,
                    "413": _json(_ref("Error"), "The message is larger than --max-message-size"),
                    **_503,
                },
            )
        },
        "/api/v1/tags": {
            "get": ("Mailpit: every tag in use, sorted", [], {"200": _json(_STRINGS)}),
            "put": (
                "Mailpit: set the tags of the messages with these IDs (Tags absent or empty: none); ids "
                "not stored are ignored",
                [],
                {**_OK, **_400, **_503},
            ),
        },
        "/api/v1/tags/{tag}": {
            "put": (
                "Mailpit: rename a tag on every message that carries it (JSON body: {Name}); tags are "
                "stored lower-cased",
                [_TAG],
                {**_OK, **_400, "404": _json(_ref("Error"), "No message has the tag"), **_503},
            ),
            "delete": (
                "Mailpit: remove a tag from every message; no message is deleted",
                [_TAG],
                {**_OK, "404": _json(_ref("Error"), "No message has the tag"), **_503},
            ),
        },
        "/api/v1/info": {
            "get": (
                "Mailpit: version, message counts, tags with their counts, runtime counters (Memory is "
                "the peak resident size; MessagesDeleted and SMTPIgnored are not counted here: 0)",
                [],
                {"200": _json(_ref("MailpitInfo"))},
            )
        },
        "/api/v1/webui": {
            "get": ("Mailpit: the web UI's settings", [], {"200": _json(_ref("MailpitWebUI"))})
        },
        "/view/{id}.html": {
            "get": (
                "Mailpit: the HTML body, by a redirect (307, to a relative Location) to "
                "/api/messages/{id}/html with the same query: sandboxed, cid: rewritten, remote content "
                "blocked unless remote=1",
                [_ID, {"name": "remote", "in": "query", "schema": {"enum": [0, 1], "default": 0}}],
                {"307": {"description": "To the preview of this message"}, **_404},
            )
        },
        "/view/{id}.txt": {
            "get": ("Mailpit: the text body (empty when there is none)", [_ID], {**_TEXT, **_404})
        },
        "/view/{id}.raw": {
            "get": ("Mailpit: the message bytes as received, as text/plain", [_ID], {**_TEXT, **_404})
        },
        "/api/v2/messages": {
            "get": (
                "MailHog: messages, newest first, with their raw content and MIME parts",
                [_START, _LIMIT_50],
                {"200": _json(_ref("MailhogList")), **_400},
            )
        },
        "/api/v2/search": {
            "get": (
                "MailHog: search by envelope sender (kind=from), envelope recipient (kind=to) or text "
                "(kind=containing); an empty query matches all",
                [
                    {"name": "kind", "in": "query", "schema": {"enum": ["from", "to", "containing"]}},
                    {
                        "name": "query",
                        "in": "query",
                        "schema": {"type": "string", "maxLength": MAX_QUERY_CHARS},
                    },
                    _START,
                    _LIMIT_50,
                ],
                {"200": _json(_ref("MailhogList")), **_400},
            )
        },
        "/api/v1/messages/{id}": {
            "get": ("MailHog: one message", [_ID], {"200": _json(_ref("MailhogMessage")), **_404}),
            "delete": (
                "MailHog: delete one message",
                [_ID],
                {"200": {"description": "Deleted"}, **_404, **_503},
            ),
        },
        "/api/v1/messages/{id}/download": {
            "get": (
                "MailHog: the message as an .eml download",
                [_ID],
                {"200": {"description": "OK", "content": {"message/rfc822": {}}}, **_404},
            )
        },
        "/api/v1/messages/{id}/release": {
            "post": (
                "MailHog: release a message through --relay to Email; a Host and Port other than the "
                "relay's are a 400 (this server sends nowhere else)",
                [_ID],
                {"200": {"description": "Released"}, **_RELEASE_ERRORS},
            )
        },
    }
)


def _optional_body(schema: str) -> dict[str, Any]:
    return {**_body(schema), "required": False}


BODIES.update(
    {
        ("/api/v1/messages", "put"): _optional_body("MailpitReadStatus"),
        ("/api/v1/messages", "delete"): _optional_body("MailpitIDs"),
        ("/api/v1/tags", "put"): _body("MailpitSetTags"),
        ("/api/v1/message/{id}/release", "post"): _optional_body("MailpitRelease"),
        ("/api/v1/messages/{id}/release", "post"): _body("MailhogRelease"),
        ("/api/v1/send", "post"): {
            **_body("MailpitSendRequest"),
            "description": "A JSON object; the message it makes is at most --max-message-size bytes.",
        },
        ("/api/v1/tags/{tag}", "put"): _body("MailpitRenameTag"),
    }
)


def document(version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in PATHS.items():
        paths[path] = {}
        for method, (summary, parameters, responses) in methods.items():
            # Any other answer (401 with --ui-auth, 405 for a method the path lacks) is an Error too.
            guarded = {**responses, **_GUARD, "default": _json(_ref("Error"), "Error")}
            if method in ("post", "put", "patch", "delete"):
                guarded.update(_FOREIGN)
            operation = {"summary": summary, "parameters": parameters, "responses": guarded}
            if (path, method) in BODIES:
                operation["requestBody"] = BODIES[path, method]
                for status, answer in _NOT_JSON.items():
                    guarded.setdefault(status, answer)
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
