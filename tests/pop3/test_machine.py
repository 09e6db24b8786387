"""The POP3 state machine without sockets: every command, in and out of its state, with good and bad input."""

from __future__ import annotations

import base64

import pytest

from mailtrap_lite.pop3 import replies
from mailtrap_lite.pop3.machine import MASK, Fetch, Login, Machine, Reply, StartTLS, State, Update
from mailtrap_lite.pop3.maildrop import Entry

DROP = (Entry("01aaa", 100), Entry("01bbb", 250), Entry("01ccc", 50))


def machine(*, tls_available: bool = False, tls_active: bool = False, require_tls: bool = False) -> Machine:
    return Machine(
        hostname="mailtrap-lite", tls_available=tls_available, tls_active=tls_active, require_tls=require_tls
    )


def reply(action: object) -> Reply:
    assert isinstance(action, Reply), action
    return action


def status(pop: Machine, line: bytes) -> str:
    return reply(pop.receive(line)).status


def logged_in(drop: tuple[Entry, ...] = DROP) -> Machine:
    pop = machine()
    assert status(pop, b"USER Ann") == replies.USER_OK
    login = pop.receive(b"PASS secret words")
    assert login == Login("Ann", b"secret words", "USER", "ann")
    assert pop.logged_in("ann", drop).status == "+OK ann has 3 messages (400 octets)"
    assert pop.state is State.TRANSACTION
    return pop


def plain(authzid: bytes, user: bytes, password: bytes) -> bytes:
    return base64.b64encode(authzid + b"\0" + user + b"\0" + password)


def test_capa_lists_what_the_state_allows() -> None:
    pop = machine(tls_available=True)
    capa = reply(pop.receive(b"CAPA"))
    assert capa.status == replies.CAPA
    assert capa.lines is not None
    assert {"TOP", "UIDL", "USER", "SASL PLAIN", "STLS", "RESP-CODES", "PIPELINING"} <= set(capa.lines)
    after_login = logged_in()
    lines = reply(after_login.receive(b"capa")).lines
    assert lines is not None and "USER" not in lines and "STLS" not in lines and "TOP" in lines


def test_capa_hides_login_until_tls_when_tls_is_required() -> None:
    pop = machine(tls_available=True, require_tls=True)
    lines = reply(pop.receive(b"CAPA")).lines
    assert lines is not None and "STLS" in lines and "USER" not in lines and "SASL PLAIN" not in lines
    assert status(pop, b"USER ann") == replies.TLS_REQUIRED
    assert status(pop, b"AUTH PLAIN " + plain(b"", b"ann", b"x")) == replies.TLS_REQUIRED
    assert isinstance(pop.receive(b"STLS"), StartTLS)
    pop.tls_started()
    lines = reply(pop.receive(b"CAPA")).lines
    assert lines is not None and "STLS" not in lines and "USER" in lines
    assert status(pop, b"USER ann") == replies.USER_OK


def test_stls_without_tls_or_twice_is_refused() -> None:
    assert status(machine(), b"STLS") == replies.STLS_UNAVAILABLE
    assert status(machine(tls_available=True, tls_active=True), b"STLS") == replies.STLS_ACTIVE
    assert status(logged_in(), b"STLS") == replies.WRONG_STATE.format(command="STLS")


def test_user_names_a_valid_mailbox() -> None:
    pop = machine()
    assert status(pop, b"USER ann@example.com") == replies.NO_SUCH_MAILBOX.format(name="ann@example.com")
    assert status(pop, b"PASS x") == replies.PASS_WITHOUT_USER
    assert status(pop, b"USER") == replies.BAD_ARGUMENT.format(usage="USER name")
    assert status(pop, b"USER Default") == replies.USER_OK
    assert pop.receive(b"PASS ") == Login("Default", b"", "USER", "default")
    assert status(pop, b"PASS again") == replies.PASS_WITHOUT_USER  # USER is needed again after a PASS


def test_a_failed_login_stays_in_authorization() -> None:
    pop = machine()
    pop.receive(b"USER ann")
    assert isinstance(pop.receive(b"PASS wrong"), Login)
    assert pop.login_failed().status == replies.LOGIN_FAILED
    assert pop.state is State.AUTHORIZATION
    assert status(pop, b"STAT") == replies.WRONG_STATE.format(command="STAT")


def test_auth_plain_with_and_without_an_initial_response() -> None:
    pop = machine()
    assert pop.receive(b"AUTH PLAIN " + plain(b"", b"Bob", b"pw")) == Login("Bob", b"pw", "PLAIN", "bob")
    assert status(pop, b"AUTH PLAIN") == replies.AUTH_CHALLENGE
    assert pop.loggable(plain(b"bob", b"bob", b"pw")) == MASK
    assert pop.receive(plain(b"bob", b"bob", b"pw")) == Login("bob", b"pw", "PLAIN", "bob")
    assert status(pop, b"AUTH PLAIN") == replies.AUTH_CHALLENGE
    assert pop.loggable(b"*") == "*"
    assert status(pop, b"*") == replies.AUTH_CANCELLED


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"AUTH PLAIN !!!", replies.AUTH_MALFORMED),
        (b"AUTH PLAIN =", replies.AUTH_MALFORMED),
        (b"AUTH PLAIN " + base64.b64encode(b"no separators"), replies.AUTH_MALFORMED),
        (b"AUTH PLAIN " + plain(b"", b"", b"pw"), replies.AUTH_MALFORMED),
        (b"AUTH PLAIN " + plain(b"", b"\xff", b"pw"), replies.AUTH_MALFORMED),
        (b"AUTH PLAIN " + plain(b"eve", b"bob", b"pw"), replies.LOGIN_FAILED),
        (b"AUTH PLAIN " + plain(b"", b"a b", b"pw"), replies.NO_SUCH_MAILBOX.format(name="a b")),
        (b"AUTH CRAM-MD5", replies.AUTH_UNSUPPORTED),
    ],
)
def test_bad_auth_plain(line: bytes, expected: str) -> None:
    assert status(machine(), line) == expected


def test_auth_without_a_mechanism_lists_plain() -> None:
    listed = reply(machine().receive(b"AUTH"))
    assert (listed.status, listed.lines) == (replies.AUTH_MECHANISMS, ("PLAIN",))


def test_secrets_are_masked_in_the_transcript() -> None:
    pop = machine()
    assert pop.loggable(b"PASS hunter2 with spaces") == f"PASS {MASK}"
    assert pop.loggable(b"pass hunter2") == f"pass {MASK}"
    assert pop.loggable(b"AUTH PLAIN AGFubgBwdw==") == f"AUTH PLAIN {MASK}"
    assert pop.loggable(b"USER ann") == "USER ann"


def test_stat_list_and_uidl() -> None:
    pop = logged_in()
    assert status(pop, b"STAT") == "+OK 3 400"
    listing = reply(pop.receive(b"LIST"))
    assert (listing.status, listing.lines) == ("+OK 3 messages (400 octets)", ("1 100", "2 250", "3 50"))
    assert status(pop, b"LIST 2") == "+OK 2 250"
    uidl = reply(pop.receive(b"UIDL"))
    assert uidl.lines == ("1 01aaa", "2 01bbb", "3 01ccc")
    assert status(pop, b"uidl 3") == "+OK 3 01ccc"
    for bad in (b"LIST 0", b"LIST 4", b"LIST x", b"UIDL \xb2", b"LIST -1"):
        assert status(pop, bad) == replies.NO_SUCH_MESSAGE
    assert status(pop, b"LIST 1 2").startswith("-ERR bad argument")
    assert status(pop, b"STAT 1").startswith("-ERR bad argument")


def test_retr_and_top_ask_the_server_for_the_message() -> None:
    pop = logged_in()
    assert pop.receive(b"RETR 2") == Fetch(2, DROP[1], None)
    assert pop.receive(b"TOP 3 0") == Fetch(3, DROP[2], 0)
    assert status(pop, b"RETR 9") == replies.NO_SUCH_MESSAGE
    assert status(pop, b"RETR").startswith("-ERR bad argument")
    assert status(pop, b"TOP 1").startswith("-ERR bad argument")
    assert status(pop, b"TOP 1 -5").startswith("-ERR bad argument")


def test_dele_marks_and_rset_unmarks_and_quit_deletes() -> None:
    pop = logged_in()
    assert status(pop, b"DELE 2") == replies.DELETED.format(number=2)
    assert status(pop, b"DELE 2") == replies.ALREADY_DELETED.format(number=2)
    assert status(pop, b"RETR 2") == replies.ALREADY_DELETED.format(number=2)
    assert status(pop, b"STAT") == "+OK 2 150"
    assert reply(pop.receive(b"LIST")).lines == ("1 100", "3 50")
    assert status(pop, b"RSET") == "+OK maildrop has 3 messages (400 octets)"
    pop.receive(b"DELE 3")
    pop.receive(b"DELE 1")
    assert status(pop, b"NOOP") == replies.NOOP
    assert pop.receive(b"QUIT") == Update(("01aaa", "01ccc"))
    assert pop.state is State.UPDATE


def test_quit_before_login_closes_without_update() -> None:
    bye = reply(machine().receive(b"QUIT"))
    assert bye.close and bye.status == replies.BYE.format(host="mailtrap-lite")
    assert logged_in().receive(b"QUIT") == Update(())


@pytest.mark.parametrize("line", [b"", b"HELO x", b"RETRX 1", b"\xff\xfe", b" STAT"])
def test_unknown_commands(line: bytes) -> None:
    assert status(logged_in(), line) == replies.UNKNOWN


@pytest.mark.parametrize("command", [b"USER ann", b"PASS x", b"AUTH PLAIN"])
def test_authorization_commands_after_login(command: bytes) -> None:
    assert status(logged_in(), command).startswith("-ERR ") and "not valid in this state" in status(
        logged_in(), command
    )


@pytest.mark.parametrize("command", [b"STAT", b"LIST", b"RETR 1", b"DELE 1", b"NOOP", b"RSET", b"TOP 1 1"])
def test_transaction_commands_before_login(command: bytes) -> None:
    assert status(machine(), command) == replies.WRONG_STATE.format(command=command.split()[0].decode())
