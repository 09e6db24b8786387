"""Fault rules: which SMTP command gets which injected answer, as plain logic without sockets.

A rule names a stage, an optional glob on that stage's argument, and what happens when it fires:

- ``reply``: the command is answered with the rule's code, enhanced status code and text instead of being
  carried out (a ``421`` also closes the connection, as RFC 5321 §3.8 says it does);
- ``disconnect``: the line is dropped without a reply, as when a server crashes or a network path dies;
- ``delay``: nothing is injected but time; the command then goes on as usual.

``delay_ms`` applies to every action, so ``reply`` with a delay is a slow rejection. Rules are tried in
the order they were added; the first one that matches and has firings left fires, once per command. At
most ``MAX_RULES`` rules are in force at once: every command of every session tries its stage's rules.

Instances that share a store (PostgreSQL) share their rules through a ``FaultLedger``: the API and SMTP
then use the coroutines ``put``, ``drop``, ``drop_all`` and ``take``, which keep the ledger and this
engine's copy of it in step; a rule's ``times`` then counts its firings on every instance together.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

from mailtrap_lite.errors import BadRequest

Stage = Literal["connect", "helo", "auth", "mail", "rcpt", "data"]
Action = Literal["reply", "disconnect", "delay"]
STAGES: tuple[Stage, ...] = get_args(Stage)
ACTIONS: tuple[Action, ...] = get_args(Action)

MAX_RULES = 100
MAX_DELAY_MS = 3_600_000
MAX_TIMES = 1_000_000
MAX_MATCH_CHARS = 320  # RFC 5321 §4.5.3.1.3: a path is at most 256 octets; leave room for a glob
MAX_MESSAGE_CHARS = 400  # a reply line stays within RFC 5321 §4.5.3.1.5's 512 octets
# Stages whose replies carry no enhanced status code: the greeting and HELO/EHLO (RFC 2034 §3).
_PLAIN_STAGES = frozenset({"connect", "helo"})
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})")
_PRINTABLE = re.compile(r"[\x20-\x7e\u00a0-\U0010ffff]*")

# What a real server says with each code; "(fault injected)" keeps a test log honest about where it came from.
DEFAULT_REPLIES: dict[int, tuple[str, str]] = {
    421: ("4.4.2", "Service not available, closing transmission channel"),
    450: ("4.2.1", "Mailbox temporarily unavailable, try again later"),
    451: ("4.3.0", "Temporary failure, try again later"),
    452: ("4.3.1", "Insufficient system storage"),
    454: ("4.7.0", "Temporary authentication failure"),
    530: ("5.7.0", "Authentication required"),
    # Gmail's answer to a plain password on an account with 2-step verification.
    534: (
        "5.7.9",
        "Application-specific password required. Learn more at "
        "https://support.google.com/mail/?p=InvalidSecondFactor",
    ),
    535: ("5.7.8", "Username and Password not accepted"),
    550: ("5.1.1", "Mailbox unavailable"),
    551: ("5.1.6", "User not local"),
    552: ("5.3.4", "Message size exceeds fixed maximum message size"),
    553: ("5.1.3", "Mailbox name not allowed"),
    554: ("5.7.1", "Transaction failed"),
}
FAULT_MARK = "(fault injected)"


@dataclass(frozen=True, slots=True)
class FaultRule:
    id: str
    stage: Stage
    match: str | None  # a case-insensitive glob on the stage's argument; None matches everything
    code: int | None  # None for the disconnect and delay actions
    message: str
    enhanced: str | None
    times: int | None  # how many times it fires; None: always
    delay_ms: int
    action: Action

    @property
    def reply(self) -> str:
        """The reply line this rule sends (empty when its action sends none)."""
        if self.code is None:
            return ""
        if self.enhanced is None or self.stage in _PLAIN_STAGES:
            return f"{self.code} {self.message}"
        return f"{self.code} {self.enhanced} {self.message}"


@dataclass(frozen=True, slots=True)
class FaultState:
    """A rule with its counters, as listed by the API."""

    rule: FaultRule
    remaining: int | None
    fired: int


@dataclass(frozen=True, slots=True)
class Firing:
    rule: FaultRule
    remaining: int | None  # firings left after this one


@dataclass(slots=True)
class _Entry:
    rule: FaultRule
    remaining: int | None
    # The glob compiled once, as fnmatch.fnmatchcase would compile it on each call.
    match: Callable[[str], re.Match[str] | None] | None
    fired: int = 0


def default_reply(code: int) -> tuple[str, str]:
    """The enhanced status code and text a rule with this code says unless told otherwise."""
    enhanced, text = DEFAULT_REPLIES.get(
        code, (f"{code // 100}.0.0", "Temporary failure" if code < 500 else "Permanent failure")
    )
    return enhanced, f"{text} {FAULT_MARK}"


class FaultLedger(Protocol):
    """Where rules live when several instances share them; each instance's engine keeps a copy."""

    async def added(self, rule: FaultRule) -> str:
        """Store a new rule; returns its id, unique across the instances."""

    async def removed(self, rule_id: str | None) -> int:
        """Remove one rule (None: all of them); returns how many were removed."""

    async def claim(self, rule_id: str) -> tuple[bool, int | None]:
        """Count one firing if the rule has firings left: (whether it fires, firings left after it)."""

    async def current(self) -> list[FaultState]:
        """Every rule with what it has left and how often it fired, on all instances together."""


class FaultEngine:
    """The rules in force, shared by every SMTP session and the API; safe to use from any thread."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._by_stage: dict[str, list[_Entry]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.ledger: FaultLedger | None = None

    def add(
        self,
        stage: str,
        code: int | None = None,
        *,
        match: str | None = None,
        message: str | None = None,
        enhanced: str | None = None,
        times: int | None = None,
        delay_ms: int = 0,
        action: str = "reply",
    ) -> FaultRule:
        """Validate and append a rule; raises BadRequest saying what is wrong."""
        if stage not in STAGES:
            raise BadRequest(f"unknown stage {stage!r} (one of {', '.join(STAGES)})")
        if action not in ACTIONS:
            raise BadRequest(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        _check_int("times", times, 1, MAX_TIMES, optional=True)
        _check_int("delay_ms", delay_ms, 0, MAX_DELAY_MS)
        if action == "delay" and not delay_ms:
            raise BadRequest("action delay needs a delay_ms above 0")
        if action == "reply":
            if code is None:
                raise BadRequest("action reply needs a code (400-599)")
            _check_int("code", code, 400, 599)
            default_enhanced, default_message = default_reply(code)
            enhanced = _check_enhanced(enhanced, code) or default_enhanced
            message = _check_message(message) or default_message
        elif code is not None or message is not None or enhanced is not None:
            raise BadRequest(f"action {action} sends no reply: code, message and enhanced are not allowed")
        match = _check_match(match)
        with self._lock:
            if len(self._entries) >= MAX_RULES:
                raise BadRequest(f"too many fault rules: at most {MAX_RULES} at once; delete some first")
            rule = FaultRule(
                id=f"f{next(self._ids)}",
                stage=stage,
                match=match,
                code=code,
                message=message or "",
                enhanced=enhanced,
                times=times,
                delay_ms=delay_ms,
                action=action,
            )
            self._entries.append(_entry(rule, times))
            self._index()
        return rule

    async def put(self, stage: str, code: int | None = None, **options: Any) -> FaultRule:
        """``add``, and into the ledger when there is one (the rule then takes the ledger's id)."""
        rule = self.add(stage, code, **options)
        if self.ledger is None:
            return rule
        shared = dataclasses.replace(rule, id=await self.ledger.added(rule))
        with self._lock:
            self._entries = [_entry(shared, shared.times) if e.rule is rule else e for e in self._entries]
            self._index()
        return shared

    async def drop(self, rule_id: str) -> bool:
        """``remove``, and from the ledger when there is one."""
        removed = self.remove(rule_id)
        if self.ledger is not None:
            removed = bool(await self.ledger.removed(rule_id)) or removed
        return removed

    async def drop_all(self) -> int:
        """``clear``, and the ledger when there is one; returns how many rules were removed."""
        removed = len(self.rules())
        self.clear()
        if self.ledger is not None:
            removed = max(removed, await self.ledger.removed(None))
        return removed

    async def current_states(self) -> list[FaultState]:
        """``states``, as the ledger counts them when there is one."""
        if self.ledger is not None:
            self.mirror(await self.ledger.current())
        return self.states()

    def mirror(self, states: list[FaultState]) -> None:
        """Replace the rules with the ledger's, as another instance changed them."""
        with self._lock:
            self._entries = [_entry(s.rule, s.remaining, s.fired) for s in states]
            self._index()

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            kept = [entry for entry in self._entries if entry.rule.id != rule_id]
            removed = len(kept) < len(self._entries)
            self._entries = kept
            self._index()
        return removed

    def clear(self) -> None:
        with self._lock:
            self._entries = []
            self._index()

    def _index(self) -> None:
        """Group the rules by stage, in order, so a command tries only its own stage's rules."""
        by_stage: dict[str, list[_Entry]] = {}
        for entry in self._entries:
            by_stage.setdefault(entry.rule.stage, []).append(entry)
        self._by_stage = by_stage

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [entry.rule for entry in self._entries]

    def states(self) -> list[FaultState]:
        with self._lock:
            return [FaultState(entry.rule, entry.remaining, entry.fired) for entry in self._entries]

    def fire(self, stage: str, *arguments: str) -> Firing | None:
        """The first rule for this stage that matches any argument and has firings left; counts it."""
        with self._lock:
            for entry in self._candidates(stage, arguments):
                if entry.remaining is not None:
                    entry.remaining -= 1
                entry.fired += 1
                return Firing(entry.rule, entry.remaining)
        return None

    async def take(self, stage: str, *arguments: str) -> Firing | None:
        """``fire``, counted in the ledger when there is one: a rule fires only while it has firings left
        on every instance together."""
        if self.ledger is None:
            return self.fire(stage, *arguments)
        with self._lock:
            candidates = list(self._candidates(stage, arguments))
        for entry in candidates:
            fires, remaining = await self.ledger.claim(entry.rule.id)
            with self._lock:
                entry.remaining = remaining if fires else 0
                entry.fired += fires
            if fires:
                return Firing(entry.rule, remaining)
        return None

    def _candidates(self, stage: str, arguments: tuple[str, ...]) -> Iterator[_Entry]:
        """This stage's rules that match any argument and have firings left, in order (hold the lock)."""
        entries = self._by_stage.get(stage)
        if not entries:
            return
        addresses = [_address(argument) for argument in arguments]
        for entry in entries:
            if entry.remaining == 0:
                continue
            if entry.match is not None and not any(map(entry.match, addresses)):
                continue
            yield entry


def _entry(rule: FaultRule, remaining: int | None, fired: int = 0) -> _Entry:
    matcher = None if rule.match is None else re.compile(fnmatch.translate(rule.match)).match
    return _Entry(rule, remaining, matcher, fired)


def rule_arguments(data: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``FaultEngine.add`` from a JSON object, type-checked."""
    allowed = {"stage", "code", "match", "message", "enhanced", "times", "delay_ms", "action"}
    unknown = set(data) - allowed
    if unknown:
        raise BadRequest(
            f"unknown fields: {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})"
        )
    if "stage" not in data:
        raise BadRequest("stage is required (one of " + ", ".join(STAGES) + ")")
    arguments = {key: value for key, value in data.items() if value is not None}
    for key in ("code", "times", "delay_ms"):
        # JSON has one number type: 550.0 is the integer 550 (and JSON Schema agrees).
        if isinstance(arguments.get(key), float) and arguments[key].is_integer():
            arguments[key] = int(arguments[key])
    for key in ("stage", "match", "message", "enhanced", "action"):
        if key in arguments and not isinstance(arguments[key], str):
            raise BadRequest(f"{key} must be a string")
    return arguments


def _address(argument: str) -> str:
    """An argument as globs see it: lowercased, without the angle brackets of a path."""
    address = argument.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    return address.lower()


def _check_int(name: str, value: object, low: int, high: int, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")


def _check_match(match: str | None) -> str | None:
    if match is None or match in ("", "*"):
        return None
    if len(match) > MAX_MATCH_CHARS or not _PRINTABLE.fullmatch(match) or " " in match:
        raise BadRequest(
            f"match must be an address or glob of at most {MAX_MATCH_CHARS} printable characters "
            f"without spaces, got {match!r:.80}"
        )
    return match.lower()


def _check_enhanced(enhanced: str | None, code: int) -> str | None:
    if enhanced is None:
        return None
    found = _ENHANCED.fullmatch(enhanced)
    # RFC 3463 §2: the class digit of the enhanced code is the first digit of the reply code.
    if not found or found.group(1) != str(code)[0]:
        raise BadRequest(f"enhanced must look like {str(code)[0]}.1.1 for code {code}, got {enhanced!r}")
    return enhanced


def _check_message(message: str | None) -> str | None:
    if message is None or not message.strip():
        return None
    if len(message) > MAX_MESSAGE_CHARS or not _PRINTABLE.fullmatch(message):
        raise BadRequest(
            f"message must be one line of at most {MAX_MESSAGE_CHARS} printable characters, "
            f"got {message!r:.80}"
        )
    return message.strip()
