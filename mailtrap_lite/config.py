"""One configuration object, built from CLI flags, MAILTRAP_LITE_* environment variables, or code.

Each option is declared once in ``OPTIONS``; the CLI, the environment reader and ``--help`` are generated
from that table, so a flag can never exist without its variable or its documentation.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mailtrap_lite.errors import ConfigError
from mailtrap_lite.faults import MAX_RULES, STAGES
from mailtrap_lite.mailboxes import MailboxError, Route, mailbox_name, parse_route
from mailtrap_lite.search import QueryError, parse_query
from mailtrap_lite.tags import TagRule, parse_rule

ENV_PREFIX = "MAILTRAP_LITE_"
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault rule as given on the command line: ``STAGE:CODE[:MATCH[:TIMES]]``."""

    stage: str
    code: int
    match: str | None = None
    times: int | None = None


@dataclass(frozen=True, slots=True)
class MailboxRetention:
    """``--mailbox-retention NAME=MAX_MESSAGES[/MAX_AGE]``: one mailbox's own retention."""

    mailbox: str
    max_messages: int | None
    max_age: float | None


@dataclass(frozen=True, slots=True)
class MailboxAccess:
    """``--mailbox-access USER=MBOX[,MBOX...]``: the only mailboxes a --ui-auth user sees."""

    user: str
    mailboxes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Config:
    smtp: HostPort = HostPort("127.0.0.1", 1025)
    http: HostPort = HostPort("127.0.0.1", 8025)
    smtps: HostPort | None = None
    pop3: HostPort | None = None
    pop3s: HostPort | None = None
    imap: HostPort | None = None
    imaps: HostPort | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_self_signed: bool = False
    require_tls: bool = False
    auth_file: Path | None = None
    require_auth: bool = False
    db: Path | str | None = None  # a SQLite file, or a PostgreSQL URL (postgresql://...)
    max_messages: int = 10_000
    max_age: float | None = None
    max_message_size: int = 50 * MIB
    max_recipients: int = 1000
    idle_timeout: float = 300.0
    ui_auth: tuple[str, str] | Path | None = None  # USER:PASS, or a file of user:password lines
    trusted_host: tuple[str, ...] = ()
    trusted_origin: tuple[str, ...] = ()
    cors_origin: tuple[str, ...] = ()
    base_path: str = ""
    fault: tuple[FaultSpec, ...] = ()
    hostname: str = "mailtrap-lite"
    quiet: bool = False
    # Relay and release (mailtrap_lite.relay): off unless ``relay`` is set.
    relay: RelayTarget | None = None
    relay_dns: HostPort | None = None
    relay_tls: str = "starttls"
    relay_insecure: bool = False
    relay_user: str | None = None
    relay_password_file: Path | None = None
    relay_password: str | None = field(default=None, repr=False)  # from the file or the environment
    relay_allow: tuple[str, ...] = ()
    relay_deny: tuple[str, ...] = ()
    relay_mail_from: str | None = None
    relay_return_path: str | None = None
    relay_auto: str | None = None
    relay_retries: int = 5
    relay_retry_base: float = 60.0
    mailbox: tuple[Route, ...] = ()
    mailbox_per_user: bool = False
    mailbox_retention: tuple[MailboxRetention, ...] = ()
    mailbox_access: tuple[MailboxAccess, ...] = ()
    webhook: tuple[str, ...] = ()
    webhook_query: str | None = None
    webhook_secret_file: Path | None = None
    webhook_retry: float = 1.0
    webhook_attempts: int = 6
    tag: tuple[TagRule, ...] = ()
    tags_from_plus: bool = False
    tags_from_auth: bool = False

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    @property
    def tls_enabled(self) -> bool:
        return self.tls_self_signed or self.tls_cert is not None


def parse_host_port(text: str) -> HostPort:
    match = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]*):(\d+)|:?(\d+)", text.strip())
    if not match:
        raise ConfigError(f"expected HOST:PORT, got {text!r}")
    host = match.group(1) or match.group(3) or "127.0.0.1"
    port = int(match.group(2) or match.group(4) or match.group(5))
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range 0-65535")
    return HostPort(host, port)


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": MIB,
    "mb": MIB,
    "mib": MIB,
    "g": 1024 * MIB,
    "gb": 1024 * MIB,
    "gib": 1024 * MIB,
}


_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@-]+")


@dataclass(frozen=True, slots=True)
class RelayTarget:
    """``--relay``: a smarthost, or (``host`` None) the MX hosts of each recipient's domain on ``port``."""

    host: str | None
    port: int

    def __str__(self) -> str:
        return f"mx:{self.port}" if self.host is None else str(HostPort(self.host, self.port))


RELAY_TLS_MODES = ("none", "starttls", "tls")
RELAY_PASSWORD_ENV = ENV_PREFIX + "RELAY_PASSWORD"


def parse_relay(text: str) -> RelayTarget:
    if text.strip().lower() == "mx":
        return RelayTarget(None, 25)  # RFC 5321 §4.5.4.2: port 25 toward MX hosts
    if text.strip().lower().startswith("mx:"):
        return RelayTarget(None, parse_host_port(text.strip()[3:]).port)
    target = parse_host_port(text)
    return RelayTarget(target.host, target.port)


def parse_relay_tls(text: str) -> str:
    mode = text.strip().lower()
    if mode not in RELAY_TLS_MODES:
        raise ConfigError(f"expected one of {', '.join(RELAY_TLS_MODES)}, got {text!r}")
    return mode


def parse_relay_address(text: str) -> str:
    from mailtrap_lite.relay.policy import check_address

    return check_address(text, allow_null=True)


def parse_search_query(text: str) -> str:
    """A query of the search language, checked and kept as text."""
    try:
        parse_query(text)
    except QueryError as error:
        raise ConfigError(str(error)) from None
    return text


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text.strip().lower())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise ConfigError(f"expected a size such as 52428800, 512k or 50MiB, got {text!r}")
    size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    if size <= 0:
        raise ConfigError(f"size must be positive, got {text!r}")
    return size


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", text.strip().lower())
    if not match:
        raise ConfigError(f"expected a duration such as 90s, 30m, 12h or 7d, got {text!r}")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ConfigError(f"duration must be positive, got {text!r}")
    return seconds


def parse_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise ConfigError(f"expected a number of at least 1, got {value}")
    return value


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"expected true or false, got {text!r}")


def parse_db(text: str) -> Path | str:
    """A ``postgresql://`` or ``postgres://`` URL stays a URL; anything else is a SQLite file."""
    return text if text.startswith(("postgresql://", "postgres://")) else Path(text).expanduser()


def parse_existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"no such file: {text}")
    return path


def parse_user_pass(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ConfigError("expected USER:PASS with both parts non-empty")
    return user, password


def parse_ui_auth(text: str) -> tuple[str, str] | Path:
    """USER:PASS, or the path of an existing file of ``user:password`` lines (read when the server starts)."""
    path = Path(text).expanduser()
    if path.is_file():
        return path
    try:
        return parse_user_pass(text)
    except ConfigError:
        raise ConfigError("expected USER:PASS with both parts non-empty, or a users FILE") from None


def _mailbox_setting(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def checked(text: str) -> Any:
        try:
            return parse(text)
        except MailboxError as error:
            raise ConfigError(str(error)) from None

    return checked


def _parse_mailbox_retention(text: str) -> MailboxRetention:
    name, equals, limits = text.partition("=")
    count, slash, age = limits.partition("/")
    if not equals or not (count or age):
        raise ConfigError(f"expected NAME=MAX_MESSAGES[/MAX_AGE] (e.g. ci=100/1h or ci=/1h), got {text!r}")
    return MailboxRetention(
        mailbox_name(name),
        parse_count(count) if count else None,
        parse_duration(age) if slash and age else None,
    )


def _parse_mailbox_access(text: str) -> MailboxAccess:
    user, equals, names = text.partition("=")
    if not equals or not user or not names:
        raise ConfigError(f"expected USER=MAILBOX[,MAILBOX...], got {text!r}")
    return MailboxAccess(user, tuple(dict.fromkeys(mailbox_name(name) for name in names.split(","))))


parse_mailbox_route = _mailbox_setting(parse_route)
parse_mailbox_retention = _mailbox_setting(_parse_mailbox_retention)
parse_mailbox_access = _mailbox_setting(_parse_mailbox_access)


_HOST_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*")
DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_host_name(text: str) -> str:
    """A host name or IP address as a Host header carries it, lower-cased, without port or brackets."""
    host = text.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not _HOST_NAME.fullmatch(host):
        raise ConfigError(f"expected a host name such as mail.example.com (no scheme or port), got {text!r}")
    return host


def parse_origin(text: str) -> str:
    """``scheme://host[:port]`` as a browser's Origin header spells it: lower case, default port left out."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ConfigError(f"expected an origin such as https://mail.example.com:8443, got {text!r}")
    host = parse_host_name(parts.hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}"


def parse_tag_rule(text: str) -> TagRule:
    try:
        return parse_rule(text)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def parse_base_path(text: str) -> str:
    """``/mail/`` → ``/mail``; ``/`` → "" (no prefix)."""
    path = text.strip()
    inner = path.strip("/")
    if not path.startswith("/") or any(
        s in (".", "..") or not _PATH_SEGMENT.fullmatch(s) for s in inner.split("/") if inner
    ):
        raise ConfigError(f"expected a path such as /mail/, got {text!r}")
    return "/" + inner if inner else ""


def parse_webhook_url(text: str) -> str:
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"expected an http:// or https:// URL, got {text!r}")
    return text.strip()


def parse_fault(text: str) -> FaultSpec:
    pieces = text.split(":")
    if len(pieces) < 2 or len(pieces) > 4:
        raise ConfigError(f"expected STAGE:CODE[:MATCH[:TIMES]], got {text!r}")
    stage = pieces[0].lower()
    if stage not in STAGES:
        raise ConfigError(f"unknown fault stage {pieces[0]!r} (one of {', '.join(STAGES)})")
    if not pieces[1].isdigit() or not 400 <= int(pieces[1]) <= 599:
        raise ConfigError(f"fault code must be 400-599, got {pieces[1]!r}")
    match = pieces[2] if len(pieces) > 2 and pieces[2] not in ("", "*") else None
    times = parse_count(pieces[3]) if len(pieces) > 3 and pieces[3] else None
    return FaultSpec(stage, int(pieces[1]), match, times)


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # the Config field; the flag is --name-with-dashes, the variable MAILTRAP_LITE_NAME
    help: str
    metavar: str | None = None  # None: a switch without a value
    parse: Callable[[str], Any] = str
    repeatable: bool = False
    default_text: str = field(default="")
    env_separator: str = ","  # between the values of a repeatable option in its variable

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("smtp", "SMTP listener (STARTTLS offered when TLS is configured)", "HOST:PORT", parse_host_port),
    Option("http", "web UI, JSON API and websocket", "HOST:PORT", parse_host_port),
    Option(
        "smtps",
        "implicit-TLS SMTP listener (needs TLS material)",
        "HOST:PORT",
        parse_host_port,
        default_text="off",
    ),
    Option(
        "pop3",
        "POP3 listener (STLS offered when TLS is configured); the username names the mailbox",
        "HOST:PORT",
        parse_host_port,
        default_text="off",
    ),
    Option(
        "pop3s",
        "implicit-TLS POP3 listener (needs TLS material)",
        "HOST:PORT",
        parse_host_port,
        default_text="off",
    ),
    Option(
        "imap",
        "IMAP listener (STARTTLS offered when TLS is configured); the username names the mailbox",
        "HOST:PORT",
        parse_host_port,
        default_text="off",
    ),
    Option(
        "imaps",
        "implicit-TLS IMAP listener (needs TLS material)",
        "HOST:PORT",
        parse_host_port,
        default_text="off",
    ),
    Option("tls_cert", "PEM certificate chain for STARTTLS and --smtps", "FILE", parse_existing_file),
    Option("tls_key", "PEM private key for --tls-cert", "FILE", parse_existing_file),
    Option("tls_self_signed", "generate a self-signed certificate at start"),
    Option("require_tls", "refuse MAIL before STARTTLS (530)"),
    Option("auth_file", "user:password lines; wrong credentials then get 535", "FILE", parse_existing_file),
    Option("require_auth", "refuse MAIL before AUTH (530)"),
    Option(
        "db",
        "SQLite database file (created if missing), or a postgresql:// URL (password from PGPASSWORD or "
        "~/.pgpass)",
        "PATH|URL",
        parse_db,
        default_text="in memory",
    ),
    Option("max_messages", "keep at most this many messages, oldest pruned first", "N", parse_count),
    Option(
        "max_age",
        "prune messages older than this (e.g. 7d, 12h)",
        "DURATION",
        parse_duration,
        default_text="off",
    ),
    Option(
        "max_message_size",
        "largest message accepted (advertised with SIZE); larger gets 552",
        "BYTES",
        parse_size,
    ),
    Option("max_recipients", "RCPT commands accepted per message; more get 452", "N", parse_count),
    Option("idle_timeout", "close an SMTP connection idle this long (421)", "DURATION", parse_duration),
    Option(
        "ui_auth",
        "HTTP basic auth on the UI, API and websocket: one user, or a file of user:password lines",
        "USER:PASS|FILE",
        parse_ui_auth,
        default_text="off",
    ),
    Option(
        "trusted_host",
        "one more name the web side answers to (a proxy's or the LAN's), repeatable",
        "NAME",
        parse_host_name,
        repeatable=True,
        default_text="loopback names, IP addresses, this machine's name",
    ),
    Option(
        "trusted_origin",
        "a page origin allowed to change state (a proxy's public origin), repeatable",
        "ORIGIN",
        parse_origin,
        repeatable=True,
        default_text="the server's own origin",
    ),
    Option(
        "cors_origin",
        "a page origin allowed to call the API from its own pages (CORS), repeatable",
        "ORIGIN",
        parse_origin,
        repeatable=True,
        default_text="none",
    ),
    Option(
        "base_path",
        "serve the UI, API and websocket under this path (behind a proxy, e.g. /mail/)",
        "PATH",
        parse_base_path,
        default_text="/",
    ),
    Option(
        "fault",
        "a fault rule at start-up, repeatable (e.g. rcpt:550:bounce@*)",
        "STAGE:CODE[:MATCH[:TIMES]]",
        parse_fault,
        repeatable=True,
        default_text="none",
    ),
    Option("hostname", "name in the SMTP greeting, EHLO reply and self-signed certificate", "NAME"),
    Option("quiet", "print nothing but errors"),
    Option(
        "relay",
        "forward released mail to this smarthost, or to each recipient domain's MX hosts (mx, mx:PORT); "
        "sends REAL mail",
        "HOST:PORT|mx",
        parse_relay,
        default_text="off",
    ),
    Option(
        "relay_dns", "DNS server for --relay mx", "HOST:PORT", parse_host_port, default_text="the system's"
    ),
    Option("relay_tls", "TLS toward the next hop: none, starttls or tls (implicit)", "MODE", parse_relay_tls),
    Option("relay_insecure", "do not verify the next hop's certificate"),
    Option(
        "relay_user",
        f"AUTH username at the next hop; the password from --relay-password-file or {RELAY_PASSWORD_ENV}",
        "NAME",
    ),
    Option("relay_password_file", "file holding the relay AUTH password", "FILE", parse_existing_file),
    Option(
        "relay_allow",
        "recipient glob that may be relayed, repeatable (none given: every recipient not denied)",
        "GLOB",
        str.lower,
        repeatable=True,
        default_text="all",
    ),
    Option("relay_deny", "recipient glob never relayed, repeatable", "GLOB", str.lower, repeatable=True),
    Option("relay_mail_from", "envelope sender (MAIL FROM) of relayed mail", "ADDRESS", parse_relay_address),
    Option(
        "relay_return_path", "a Return-Path header prepended to relayed mail", "ADDRESS", parse_relay_address
    ),
    Option(
        "relay_auto",
        "relay every stored message matching this query (e.g. rcpt:*@example.com)",
        "QUERY",
        parse_search_query,
        default_text="off",
    ),
    Option("relay_retries", "attempts of an automatic relay before it fails", "N", parse_count),
    Option(
        "relay_retry_base",
        "wait before the first retry; each next wait doubles",
        "DURATION",
        parse_duration,
    ),
    Option(
        "mailbox",
        "route mail that a rule matches (rcpt:GLOB, auth:GLOB, header:NAME:GLOB) to mailbox NAME; "
        "repeatable, the first match wins (';' between them in the variable)",
        "NAME=RULE[,RULE...]",
        parse_mailbox_route,
        repeatable=True,
        default_text="none: everything in default",
        env_separator=";",
    ),
    Option("mailbox_per_user", "an authenticated session's mail goes to the mailbox named after its user"),
    Option(
        "mailbox_retention",
        "a mailbox's own --max-messages and/or --max-age (which otherwise apply to each mailbox), repeatable",
        "NAME=MAX_MESSAGES[/MAX_AGE]",
        parse_mailbox_retention,
        repeatable=True,
        default_text="none",
    ),
    Option(
        "mailbox_access",
        "restrict a --ui-auth user to these mailboxes, repeatable (';' between them in the variable)",
        "USER=MAILBOX[,MAILBOX...]",
        parse_mailbox_access,
        repeatable=True,
        default_text="every user sees every mailbox",
        env_separator=";",
    ),
    Option(
        "tag",
        "tag NAME every message that the search QUERY matches, repeatable (';' between them in the variable)",
        "NAME=QUERY",
        parse_tag_rule,
        repeatable=True,
        default_text="none",
        env_separator=";",
    ),
    Option("tags_from_plus", "tag a message with its recipients' sub-addresses (ann+signup@x: signup)"),
    Option("tags_from_auth", "tag a message with the SMTP AUTH username that sent it"),
    Option(
        "webhook",
        "POST each new message's summary to this URL, repeatable (queued, retried, never delays the 250)",
        "URL",
        parse_webhook_url,
        repeatable=True,
        default_text="none",
    ),
    Option(
        "webhook_query",
        "only messages matching this search query go to the webhooks",
        "QUERY",
        parse_search_query,
    ),
    Option(
        "webhook_secret_file",
        "sign webhook requests with HMAC-SHA256 under the secret in this file",
        "FILE",
        parse_existing_file,
    ),
    Option(
        "webhook_retry", "wait before a webhook's first retry; doubles each time", "DURATION", parse_duration
    ),
    Option("webhook_attempts", "tries per webhook delivery before it is failed", "N", parse_count),
)


def _convert(option: Option, raw: str | bool | Sequence[str]) -> Any:
    if option.metavar is None:
        return raw if isinstance(raw, bool) else parse_bool(str(raw))
    if option.repeatable:
        items = [raw] if isinstance(raw, str) else list(raw)  # type: ignore[arg-type]
        return tuple(option.parse(item) for item in items)
    return option.parse(str(raw))


def build_config(values: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Merge flag values (already split per option; None when absent) over environment variables.

    Raises ConfigError naming the flag or variable whose value is bad.
    """
    environ = os.environ if environ is None else environ
    changes: dict[str, Any] = {}
    for option in OPTIONS:
        given = values.get(option.name)
        if given is not None and given != []:
            source, raw = option.flag, given
        elif option.env in environ:
            # Repeatable options come from the environment comma-separated.
            text = environ[option.env]
            items = [t.strip() for t in text.split(option.env_separator) if t.strip()]
            source, raw = option.env, (items if option.repeatable else text)
        else:
            continue
        try:
            changes[option.name] = _convert(option, raw)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    changes["relay_password"] = _relay_password(changes.get("relay_password_file"), environ)
    return validate(Config(**changes))


def _relay_password(path: Path | None, environ: Mapping[str, str]) -> str | None:
    """Never a flag: a flag's value shows in ``ps``."""
    if path is None:
        return environ.get(RELAY_PASSWORD_ENV)
    try:
        return path.read_text().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--relay-password-file: cannot read {path}: {error}") from None


def validate(config: Config) -> Config:
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together")
    if config.tls_cert is not None and config.tls_self_signed:
        raise ConfigError("--tls-self-signed cannot be combined with --tls-cert/--tls-key")
    for name in ("smtps", "pop3s", "imaps", "require_tls"):
        if getattr(config, name) and not config.tls_enabled:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} needs TLS material: --tls-cert/--tls-key or --tls-self-signed")
    if len(config.fault) > MAX_RULES:
        raise ConfigError(f"at most {MAX_RULES} --fault rules, got {len(config.fault)}")
    if config.mailbox_access and not isinstance(config.ui_auth, Path):
        raise ConfigError("--mailbox-access needs --ui-auth given as a users FILE")
    for flag, names in (
        ("--mailbox-retention", [r.mailbox for r in config.mailbox_retention]),
        ("--mailbox-access", [a.user for a in config.mailbox_access]),
    ):
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ConfigError(f"{flag}: {', '.join(twice)} given twice")
    _validate_relay(config)
    return config


def _validate_relay(config: Config) -> None:
    if config.relay is None:
        for name in ("relay_dns", "relay_user", "relay_allow", "relay_deny", "relay_mail_from", "relay_auto"):
            if getattr(config, name) not in (None, ()):
                raise ConfigError(f"--{name.replace('_', '-')} needs --relay HOST:PORT or --relay mx")
        return
    if config.relay_dns is not None and config.relay.host is not None:
        raise ConfigError("--relay-dns is for --relay mx; a smarthost is reached by its own name")
    if config.relay_user is not None and not config.relay_password:
        raise ConfigError(f"--relay-user needs a password: --relay-password-file or {RELAY_PASSWORD_ENV}")
    if config.relay_user is None and config.relay_password_file is not None:
        raise ConfigError("--relay-password-file needs --relay-user")
    if config.relay_tls not in RELAY_TLS_MODES:
        raise ConfigError(f"--relay-tls must be one of {', '.join(RELAY_TLS_MODES)}")


def exposure_warning(config: Config) -> str | None:
    """What to warn about when the web side listens beyond this machine with no password on it."""
    if config.ui_auth is not None or _is_loopback(config.http.host):
        return None
    return (
        f"the web UI and API listen on {config.http} without --ui-auth: anyone who can reach that address "
        "can read every captured message (password-reset links, tokens) and change or delete them"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
