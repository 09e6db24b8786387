"""SMTP reply texts in one place, and the enhanced status codes (RFC 2034, RFC 3463) they carry."""

from __future__ import annotations

import re

# After "220 <hostname> " (RFC 5321 §4.3.1); the hostname defaults to mailtrap-lite, so no name here.
GREETING_IDENT = "ESMTP ready: accepts everything, delivers nothing"
START_DATA = "354 End data with <CR><LF>.<CR><LF>"
QUEUED = "250 2.0.0 Ok: queued as {id}"
TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"  # RFC 5321 §4.5.3.1.8
STORE_FAILED = "451 4.3.0 Error: could not store the message, try again later"
BARE_LF_END = "550 5.6.11 Bare LF line ending: DATA must end with <CRLF>.<CRLF> (RFC 5321 section 4.1.1.4)"
IDLE_TIMEOUT = "421 4.4.2 {host} Error: timeout exceeded"
SHUTTING_DOWN = "421 4.3.2 {host} Service shutting down, closing connection"
NEED_RCPT = "503 5.5.1 Error: need RCPT command"
DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
MAIL_OK = "250 2.1.0 Ok"
RCPT_OK = "250 2.1.5 Ok"
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
AUTH_REQUIRED = "530 5.7.0 Authentication required"  # RFC 4954 §6
AUTH_NO_INITIAL_RESPONSE = "501 5.5.4 CRAM-MD5 takes no initial response"
AUTH_CANNOT_SPLIT = "501 5.5.2 Can't split auth value"
# RFC 5321 §3.1: after a refusing greeting, only QUIT.
CONNECTION_REFUSED = "503 5.5.1 Error: this connection was refused, only QUIT is accepted"

# Default enhanced codes for replies that aiosmtpd sends without one.
_ENHANCED_BY_CODE = {
    "221": "2.0.0",
    "235": "2.7.0",
    "250": "2.0.0",
    "251": "2.1.5",
    "252": "2.1.5",
    "421": "4.3.0",
    "450": "4.2.0",
    "451": "4.3.0",
    "452": "4.3.1",
    "454": "4.7.0",
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "530": "5.7.0",
    "535": "5.7.8",
    "538": "5.7.11",
    "550": "5.0.0",
    "552": "5.3.4",
    "553": "5.1.3",
    "554": "5.0.0",
    "555": "5.5.4",
}
_HAS_ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}(?: |$)")


def with_enhanced_code(reply: str) -> str:
    """Insert an enhanced status code into a reply that lacks one (RFC 2034 §3: all 2xx/4xx/5xx replies)."""
    code = reply[:3]
    if len(reply) < 3 or code[0] not in "245" or _HAS_ENHANCED.match(reply):
        return reply
    enhanced = _ENHANCED_BY_CODE.get(code, f"{code[0]}.0.0")
    separator = reply[3:4] or " "
    return f"{code}{separator}{enhanced} {reply[4:]}".rstrip()


def reply_code(reply: str) -> int:
    try:
        return int(reply[:3])
    except ValueError:
        return 0
