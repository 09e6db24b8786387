"""The fault engine as plain logic: validation, matching, order, counting."""

from __future__ import annotations

import threading

import pytest

from mailtrap_lite.errors import BadRequest
from mailtrap_lite.faults import FAULT_MARK, MAX_RULES, FaultEngine, rule_arguments


def test_a_rule_gets_an_id_and_a_default_reply_per_code() -> None:
    engine = FaultEngine()
    rule = engine.add("rcpt", 550, match="bounce@*")
    assert rule.id and rule.action == "reply" and rule.times is None
    assert rule.reply == f"550 5.1.1 Mailbox unavailable {FAULT_MARK}"
    assert engine.add("data", 451).reply.startswith("451 4.3.0 Temporary failure")
    assert engine.add("auth", 534).reply.startswith("534 5.7.9 Application-specific password required")
    assert engine.add("auth", 535).reply.startswith("535 5.7.8 ")
    assert engine.add("mail", 552).reply.startswith("552 5.3.4 ")
    assert engine.add("data", 554).reply.startswith("554 5.7.1 ")
    assert engine.add("rcpt", 421).reply.startswith("421 4.4.2 ")
    # Codes without a table entry still get a valid enhanced code of their class.
    assert engine.add("rcpt", 499).reply.startswith("499 4.0.0 ")
    assert engine.add("rcpt", 599).reply.startswith("599 5.0.0 ")
    assert len({r.id for r in engine.rules()}) == len(engine.rules())


def test_greeting_and_helo_replies_carry_no_enhanced_code() -> None:
    engine = FaultEngine()
    assert engine.add("connect", 554, message="No SMTP service here").reply == "554 No SMTP service here"
    assert engine.add("helo", 550, enhanced="5.7.1", message="go away").reply == "550 go away"
    assert engine.add("mail", 550, enhanced="5.7.1", message="go away").reply == "550 5.7.1 go away"


def test_first_matching_rule_fires_and_globs_are_case_insensitive() -> None:
    engine = FaultEngine()
    bounce = engine.add("rcpt", 550, match="bounce@*")
    everyone = engine.add("rcpt", 451)
    firing = engine.fire("rcpt", "<Bounce@Example.COM>")
    assert firing is not None and firing.rule == bounce
    firing = engine.fire("rcpt", "ann@example.com")
    assert firing is not None and firing.rule == everyone
    assert engine.fire("mail", "ann@example.com") is None  # another stage


def test_times_counts_down_then_the_rule_stops_firing() -> None:
    engine = FaultEngine()
    rule = engine.add("data", 451, times=2)
    first, second = engine.fire("data", "a@x"), engine.fire("data", "a@x")
    assert first is not None and first.remaining == 1
    assert second is not None and second.remaining == 0
    assert engine.fire("data", "a@x") is None
    [state] = engine.states()
    assert (state.rule, state.remaining, state.fired) == (rule, 0, 2)


def test_an_exhausted_rule_lets_the_next_one_fire() -> None:
    engine = FaultEngine()
    engine.add("rcpt", 451, times=1)
    later = engine.add("rcpt", 550)
    engine.fire("rcpt", "x@y")
    firing = engine.fire("rcpt", "x@y")
    assert firing is not None and firing.rule == later


def test_any_argument_may_match() -> None:
    engine = FaultEngine()
    engine.add("data", 554, match="*@blocked.example")
    assert engine.fire("data", "app@example.com", "ann@example.com") is None
    assert engine.fire("data", "app@example.com", "bob@blocked.example") is not None


def test_remove_and_clear() -> None:
    engine = FaultEngine()
    one, two = engine.add("rcpt", 550), engine.add("mail", 451)
    assert engine.remove(one.id) is True
    assert engine.remove(one.id) is False
    assert engine.rules() == [two]
    engine.clear()
    assert engine.rules() == [] and engine.fire("mail", "a@b") is None
    assert engine.add("rcpt", 550).id not in {one.id, two.id}  # ids are never reused


def test_actions_disconnect_and_delay_send_no_reply() -> None:
    engine = FaultEngine()
    drop = engine.add("data", action="disconnect")
    slow = engine.add("rcpt", action="delay", delay_ms=250)
    assert drop.code is None and drop.reply == ""
    assert slow.delay_ms == 250 and slow.reply == ""


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"stage": "quit", "code": 550}, "unknown stage 'quit'"),
        ({"stage": "rcpt", "code": 250}, "code must be between 400 and 599"),
        ({"stage": "rcpt", "code": 600}, "code must be between 400 and 599"),
        ({"stage": "rcpt", "code": "550"}, "code must be a whole number"),
        ({"stage": "rcpt", "code": True}, "code must be a whole number"),
        ({"stage": "rcpt"}, "action reply needs a code"),
        ({"stage": "rcpt", "code": 550, "action": "explode"}, "unknown action 'explode'"),
        ({"stage": "rcpt", "code": 550, "times": 0}, "times must be between 1"),
        ({"stage": "rcpt", "code": 550, "delay_ms": -1}, "delay_ms must be between 0"),
        ({"stage": "rcpt", "action": "delay"}, "action delay needs a delay_ms"),
        ({"stage": "rcpt", "action": "disconnect", "code": 421}, "action disconnect sends no reply"),
        ({"stage": "rcpt", "code": 550, "enhanced": "4.1.1"}, "enhanced must look like 5.1.1"),
        ({"stage": "rcpt", "code": 550, "enhanced": "5.1"}, "enhanced must look like 5.1.1"),
        ({"stage": "rcpt", "code": 550, "message": "two\r\nlines"}, "message must be one line"),
        ({"stage": "rcpt", "code": 550, "match": "a b@c"}, "match must be an address or glob"),
        ({"stage": "rcpt", "code": 550, "match": "x" * 400}, "match must be an address or glob"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(arguments: dict[str, object], fragment: str) -> None:
    engine = FaultEngine()
    with pytest.raises(BadRequest, match=fragment):
        engine.add(**arguments)  # type: ignore[arg-type]
    assert engine.rules() == []


def test_rule_arguments_from_json() -> None:
    assert rule_arguments({"stage": "rcpt", "code": 550, "match": None}) == {"stage": "rcpt", "code": 550}
    with pytest.raises(BadRequest, match="unknown fields: colour"):
        rule_arguments({"stage": "rcpt", "colour": "red"})
    with pytest.raises(BadRequest, match="stage is required"):
        rule_arguments({"code": 550})
    with pytest.raises(BadRequest, match="match must be a string"):
        rule_arguments({"stage": "rcpt", "match": 5})


def test_firing_is_counted_exactly_under_concurrency() -> None:
    engine = FaultEngine()
    engine.add("rcpt", 451, times=500)
    fired: list[int] = []

    def worker() -> None:
        fired.append(sum(engine.fire("rcpt", "a@b") is not None for _ in range(200)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fired) == 500


def test_rules_are_capped_and_each_stage_fires_its_own_in_order() -> None:
    engine = FaultEngine()
    for index in range(MAX_RULES - 2):
        engine.add("rcpt", 550, match=f"r{index}@x")
    first = engine.add("data", 451, times=1)
    second = engine.add("data", 554)
    with pytest.raises(BadRequest, match=f"at most {MAX_RULES}"):
        engine.add("data", 452)
    assert [firing.rule.id for firing in (engine.fire("data"), engine.fire("data"))] == [first.id, second.id]
    assert engine.fire("mail", "a@x") is None
    assert engine.remove(second.id)
    assert engine.fire("data") is None  # the first one has no firings left
    assert engine.add("data", 452).stage == "data"  # room again after a removal
    engine.clear()
    assert engine.fire("rcpt", "r0@x") is None
