"""The relay options: parsed, validated together, the password never from a flag, one line on error."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailtrap_lite.config import HostPort, RelayTarget, build_config
from mailtrap_lite.errors import ConfigError
from tests.test_cli import run_cli


def test_relay_targets() -> None:
    assert build_config({"relay": "smtp.example.com:587"}, environ={}).relay == RelayTarget(
        "smtp.example.com", 587
    )
    assert build_config({"relay": "mx"}, environ={}).relay == RelayTarget(None, 25)
    config = build_config({"relay": "MX:2525", "relay_dns": "127.0.0.1:5353"}, environ={})
    assert (config.relay, config.relay_dns) == (RelayTarget(None, 2525), HostPort("127.0.0.1", 5353))
    assert str(config.relay) == "mx:2525"


def test_everything_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "MAILTRAP_LITE_RELAY": "127.0.0.1:2525",
        "MAILTRAP_LITE_RELAY_TLS": "TLS",
        "MAILTRAP_LITE_RELAY_INSECURE": "1",
        "MAILTRAP_LITE_RELAY_USER": "me",
        "MAILTRAP_LITE_RELAY_PASSWORD": "from-env",
        "MAILTRAP_LITE_RELAY_ALLOW": "*@Corp.example,dev@*",
        "MAILTRAP_LITE_RELAY_DENY": "ceo@*",
        "MAILTRAP_LITE_RELAY_MAIL_FROM": "bounce@corp.example",
        "MAILTRAP_LITE_RELAY_AUTO": "rcpt:@corp.example",
        "MAILTRAP_LITE_RELAY_RETRIES": "3",
        "MAILTRAP_LITE_RELAY_RETRY_BASE": "30s",
    }
    config = build_config({}, environ=environ)
    assert (config.relay_tls, config.relay_insecure, config.relay_user) == ("tls", True, "me")
    assert config.relay_password == "from-env"
    assert config.relay_allow == ("*@corp.example", "dev@*") and config.relay_deny == ("ceo@*",)
    assert (config.relay_mail_from, config.relay_auto) == ("bounce@corp.example", "rcpt:@corp.example")
    assert (config.relay_retries, config.relay_retry_base) == (3, 30.0)
    assert "from-env" not in repr(config)


def test_the_password_file_wins_and_loses_its_line_end(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    values = {"relay": "mx", "relay_user": "me", "relay_password_file": str(secret)}
    config = build_config(values, environ={"MAILTRAP_LITE_RELAY_PASSWORD": "from-env"})
    assert config.relay_password == "from-file"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"relay_auto": ""}, "--relay-auto needs --relay"),
        ({"relay_allow": ["*@x"]}, "--relay-allow needs --relay"),
        ({"relay": "a:1", "relay_dns": "127.0.0.1:53"}, "--relay-dns is for --relay mx"),
        ({"relay": "a:1", "relay_user": "me"}, "needs a password"),
        ({"relay": "a:1", "relay_tls": "ssl"}, "--relay-tls: expected one of none, starttls, tls"),
        ({"relay": "a:1", "relay_mail_from": "x@y\r\nRCPT TO:<z@w>"}, "--relay-mail-from: not a mail"),
        ({"relay": "a:1", "relay_return_path": "no at"}, "--relay-return-path: not a mail"),
        ({"relay": "a:1", "relay_auto": 'subject:"open'}, "--relay-auto"),
        ({"relay": "a"}, "--relay: expected HOST:PORT"),
        ({"relay": "a:1", "relay_retries": "0"}, "--relay-retries"),
    ],
)
def test_bad_combinations_fail_with_one_line(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as raised:
        build_config(values, environ={})
    assert "\n" not in str(raised.value)


def test_the_cli_says_what_is_wrong_and_exits_2() -> None:
    result = run_cli("--relay-user", "me", "--relay", "127.0.0.1:2525")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mailtrap-lite: error: --relay-user needs a password: --relay-password-file or "
        "MAILTRAP_LITE_RELAY_PASSWORD"
    ]


def test_there_is_no_password_flag() -> None:
    result = run_cli("--relay", "127.0.0.1:2525", "--relay-password", "visible-in-ps")
    assert result.returncode == 2
