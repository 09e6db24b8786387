"""The Mailbox API over a real server, each test run in-process and over HTTP (the ``backend`` fixture)."""

from __future__ import annotations

import asyncio
import smtplib
import threading

import pytest

from mailtrap_lite.testing import APIError, Mailbox, MailtrapAssertionError, Message, Messages
from tests.conftest import free_config
from tests.testing.conftest import email, send

HTML = '<p>Hi</p><a href="https://example.com/x?a=1&amp;b=2">go</a> <a href="mailto:x@example.com">m</a>'


def send_later(box: Mailbox, seconds: float, *subjects: str) -> threading.Timer:
    def deliver() -> None:
        for subject in subjects:
            send(box, email(subject))

    timer = threading.Timer(seconds, deliver)
    timer.start()
    return timer


def test_a_message_as_tests_see_it(mailbox: Mailbox) -> None:
    message = email(html=HTML, attachment=("invoice.pdf", b"%PDF-1.4 fake"))
    message["Cc"] = "Carl <carl@example.com>"
    send(mailbox, message, "ann@example.com", "carl@example.com", "boss@example.com")

    msg = mailbox.wait_for(to="ann@example.com", subject="Welcome")
    assert isinstance(msg, Message)
    assert msg.subject == "Welcome"
    assert msg.from_ is not None and (msg.from_.name, msg.from_.address) == ("App", "app@example.com")
    assert msg.to_addresses == ("ann@example.com",)
    assert [a.address for a in msg.cc] == ["carl@example.com"]
    assert [a.address for a in msg.bcc] == ["boss@example.com"]
    assert msg.mail_from == "app@example.com"
    assert msg.recipients == ("ann@example.com", "carl@example.com", "boss@example.com")
    assert [r.code for r in msg.envelope.recipients] == [250, 250, 250]
    assert msg.text is not None and "https://example.com/verify/abc123" in msg.text
    assert msg.html is not None and "<p>Hi</p>" in msg.html
    assert msg.header("subject") == "Welcome" and msg.header("X-Nope") is None
    assert ("To", "ann@example.com") in msg.headers
    [attachment] = msg.attachments
    assert (attachment.filename, attachment.content_type) == ("invoice.pdf", "application/pdf")
    assert attachment.content == b"%PDF-1.4 fake"
    assert msg.links() == ["https://example.com/verify/abc123", "https://example.com/x?a=1&b=2"]
    assert msg.raw.startswith(b"From: App <app@example.com>") or b"Subject: Welcome" in msg.raw
    assert msg.email["Subject"] == "Welcome" and msg.email.is_multipart()
    commands = msg.session.commands
    assert any(c.lower().startswith("ehlo") for c in commands)
    assert any(c.startswith("<DATA") for c in commands)
    assert msg.transcript == msg.session.transcript
    assert msg.session.message_ids == (msg.id,)
    assert {w.code for w in msg.warnings} >= {"missing-date", "missing-message-id"}


def test_messages_are_oldest_first_and_emptied_by_reset(mailbox: Mailbox) -> None:
    for subject in ("one", "two", "three"):
        send(mailbox, email(subject))
    assert mailbox.messages.subjects == ["one", "two", "three"]
    assert isinstance(mailbox.messages[1:], Messages) and mailbox.messages[1:].subjects == ["two", "three"]
    assert mailbox.messages.filter(subject_contains="T").subjects == ["two", "three"]
    mailbox.reset()
    assert len(mailbox.messages) == 0 and mailbox.sessions == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"to": "ann@example.com"}, ["plain", "with pdf"]),
        ({"to": "Ann <ANN@example.com>"}, ["plain", "with pdf"]),
        ({"to": "ann@example"}, []),  # exact, not a substring
        ({"rcpt": "boss@example.com"}, ["plain"]),  # an envelope (Bcc) recipient
        ({"from_": "app@example.com"}, ["plain", "with pdf", "for bob"]),
        ({"subject": "plain"}, ["plain"]),
        ({"subject": "Plain"}, []),  # exact
        ({"subject_contains": "WITH"}, ["with pdf"]),
        ({"text_contains": "only in html"}, ["for bob"]),  # the HTML alternative is searched too
        ({"text_contains": "verify  AT"}, ["plain", "with pdf"]),  # case and whitespace do not matter
        ({"has_attachment": True}, ["with pdf"]),
        ({"has_attachment": False, "to": "ann@example.com"}, ["plain"]),
        ({"q": "-subject:plain to:example.com"}, ["with pdf", "for bob"]),
        ({"q": 'subject:"for bob"', "to": "bob@example.com"}, ["for bob"]),
    ],
)
def test_filters(mailbox: Mailbox, filters: dict[str, object], expected: list[str]) -> None:
    send(mailbox, email("plain"), "ann@example.com", "boss@example.com")
    send(mailbox, email("with pdf", attachment=("a.pdf", b"%PDF")))
    send(mailbox, email("for bob", to="bob@example.com", text="Hi Bob.\n", html="<p>only in <b>HTML</b></p>"))
    assert mailbox.filter(**filters).subjects == expected  # type: ignore[arg-type]


def test_tag_filter_finds_tagged_messages_and_says_why_others_do_not(mailbox: Mailbox) -> None:
    tagged = email("tagged")
    tagged["X-Tags"] = "Signup, eu"
    send(mailbox, tagged)
    send(mailbox, email("untagged"))
    assert mailbox.filter(tag="SIGNUP").subjects == ["tagged"]
    assert mailbox.wait_for(tag="eu", timeout=10).tags == ("signup", "eu")
    assert mailbox.filter(tag="sign").subjects == []  # a whole tag, not a part of one
    with pytest.raises(MailtrapAssertionError, match="tags are signup, eu, not missing"):
        mailbox.get(tag="missing", subject="tagged")


def test_bad_filters_are_clear_errors(mailbox: Mailbox) -> None:
    with pytest.raises(TypeError, match=r"unknown mail filter.*subjekt.*use to, from_"):
        mailbox.filter(subjekt="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="has_attachment takes a bool"):
        mailbox.filter(has_attachment="yes")  # type: ignore[arg-type]
    with pytest.raises(APIError, match=r"400: .*unknown field"):
        mailbox.filter(q="nosuchfield:x")


def test_get_wants_exactly_one(mailbox: Mailbox) -> None:
    send(mailbox, email("Reset your password"), "ann@example.com")
    send(mailbox, email("Welcome"), "ann@example.com")
    send(mailbox, email("Welcome", to="bob@example.com"))
    assert mailbox.get(subject="Reset your password").subject == "Reset your password"
    with pytest.raises(MailtrapAssertionError) as raised:
        mailbox.get(subject="Welcome")
    text = str(raised.value)
    assert text.startswith("expected exactly one message matching subject='Welcome', found 2")
    assert "Received during this test (3):" in text
    assert "does not match: subject is 'Reset your password', not 'Welcome'" in text
    with pytest.raises(MailtrapAssertionError, match="found 0"):
        mailbox.get(to="carl@example.com")


def test_wait_for_is_woken_by_arrivals(mailbox: Mailbox) -> None:
    timer = send_later(mailbox, 0.3, "Not it", "Welcome")
    try:
        msg = mailbox.wait_for(subject="Welcome", timeout=20)
    finally:
        timer.join()
    assert msg.subject == "Welcome"


def test_wait_for_a_count_returns_the_list(mailbox: Mailbox) -> None:
    timer = send_later(mailbox, 0.2, "a 1", "b", "a 2", "a 3")
    try:
        found = mailbox.wait_for(3, subject_contains="a ", timeout=20)
    finally:
        timer.join()
    assert isinstance(found, Messages) and found.subjects == ["a 1", "a 2", "a 3"]


def test_wait_for_timeout_lists_what_arrived(mailbox: Mailbox) -> None:
    send(mailbox, email("Welcome!"), "ann@example.com", "boss@example.com")
    with pytest.raises(MailtrapAssertionError) as raised:
        mailbox.wait_for(subject="Welcome", to="ann@example.com", timeout=0.3)
    lines = str(raised.value).splitlines()
    assert lines[0] == (
        "timed out after 0.3s waiting for 1 message(s) matching to='ann@example.com', subject='Welcome' "
        "(none arrived)"
    )
    assert lines[1] == "Received during this test (1):"
    assert "'Welcome!'  from app@example.com  to ann@example.com, boss@example.com" in lines[2]
    assert lines[3].strip() == "does not match: subject is 'Welcome!', not 'Welcome'"
    assert lines[-1] == f"Web UI: {mailbox.url}"


def test_wait_for_several_says_how_many_came(mailbox: Mailbox) -> None:
    send(mailbox, email("Welcome"))
    with pytest.raises(MailtrapAssertionError, match=r"waiting for 2 message\(s\).*\(1 of 2 arrived\)"):
        mailbox.wait_for(2, subject="Welcome", timeout=0.2)


def test_wait_for_async_lets_the_loop_send(mailbox: Mailbox) -> None:
    async def scenario() -> Message:
        async def send_soon() -> None:
            await asyncio.sleep(0.1)
            await asyncio.to_thread(send, mailbox, email("from a task"))

        task = asyncio.create_task(send_soon())
        msg = await mailbox.wait_for_async(subject="from a task", timeout=20)
        await task
        return msg

    assert asyncio.run(scenario()).subject == "from a task"


def test_a_blocking_wait_in_async_code_says_what_to_use(mailbox: Mailbox) -> None:
    async def scenario() -> None:
        mailbox.wait_for(subject="never", timeout=0.1)

    with pytest.raises(MailtrapAssertionError, match=r"await mailtrap.wait_for_async"):
        asyncio.run(scenario())


def test_assert_sent_and_nothing_sent(mailbox: Mailbox) -> None:
    mailbox.assert_nothing_sent()
    send(mailbox, email("Welcome"))
    send(mailbox, email("Welcome", to="bob@example.com"))
    assert mailbox.assert_sent(subject="Welcome").subjects == ["Welcome", "Welcome"]
    mailbox.assert_sent(2, subject="Welcome")
    mailbox.assert_nothing_sent(subject="Invoice")
    with pytest.raises(
        MailtrapAssertionError, match=r"expected 1 message\(s\) matching subject='Welcome', found 2"
    ):
        mailbox.assert_sent(1, subject="Welcome")
    with pytest.raises(
        MailtrapAssertionError, match="expected a message matching subject='Invoice', found none"
    ):
        mailbox.assert_sent(subject="Invoice")
    with pytest.raises(MailtrapAssertionError, match="expected no mail, found 2"):
        mailbox.assert_nothing_sent()


def test_assert_nothing_sent_within_fails_as_soon_as_one_arrives(mailbox: Mailbox) -> None:
    timer = send_later(mailbox, 0.2, "unwanted")
    try:
        with pytest.raises(MailtrapAssertionError, match="expected no message matching subject='unwanted'"):
            mailbox.assert_nothing_sent(within=30, subject="unwanted")
    finally:
        timer.join()
    mailbox.assert_nothing_sent(within=0.2, subject="something else")


def test_sessions_include_the_ones_that_delivered_nothing(mailbox: Mailbox) -> None:
    with smtplib.SMTP(mailbox.host, mailbox.port, timeout=30) as client:
        client.ehlo("quitter.example")
    # The server stores a session when it ends, on its loop: before it answers this later one's DATA.
    send(mailbox, email("kept"))
    sessions = mailbox.sessions
    assert len(sessions) == 2
    assert sessions[0].helo == "quitter.example" and sessions[0].message_ids == ()
    assert sessions[0].transcript_text.startswith("S: 220 ")
    assert sessions[1].message_ids == (mailbox.get(subject="kept").id,)
    report = mailbox.report()
    assert "SMTP sessions that delivered nothing (1):" in report
    assert "session from 127.0.0.1:" in report and "(HELO quitter.example)" in report


@pytest.mark.parametrize("server_config", [free_config(max_recipients=2)])
def test_refused_recipients_show_with_their_codes(mailbox: Mailbox) -> None:
    with smtplib.SMTP(mailbox.host, mailbox.port, timeout=30) as client:
        refused = client.sendmail("app@example.com", ["a@x.test", "b@x.test", "c@x.test"], email().as_bytes())
    assert refused["c@x.test"][0] == 452
    msg = mailbox.wait_for()
    assert [(r.address, r.code) for r in msg.envelope.recipients] == [
        ("a@x.test", 250),
        ("b@x.test", 250),
        ("c@x.test", 452),
    ]
    assert msg.recipients == ("a@x.test", "b@x.test")
    assert msg.describe().endswith("to a@x.test, b@x.test  refused c@x.test (452)")


def test_server_details_for_the_application(mailbox: Mailbox) -> None:
    assert mailbox.smtp_url == f"smtp://{mailbox.host}:{mailbox.port}"
    settings = mailbox.django_settings()
    assert (settings["EMAIL_HOST"], settings["EMAIL_PORT"]) == (mailbox.host, mailbox.port)
    assert settings["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert mailbox.env("MAIL_") == {
        "MAIL_HOST": mailbox.host,
        "MAIL_PORT": str(mailbox.port),
        "MAIL_URL": mailbox.smtp_url,
    }
