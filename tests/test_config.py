from __future__ import annotations

from pathlib import Path

import pytest

from mailtrap_lite.config import (
    OPTIONS,
    Config,
    FaultSpec,
    HostPort,
    build_config,
    exposure_warning,
    parse_duration,
    parse_fault,
    parse_host_port,
    parse_size,
)
from mailtrap_lite.errors import ConfigError


def test_defaults_listen_on_loopback() -> None:
    config = build_config({}, environ={})
    assert config.smtp == HostPort("127.0.0.1", 1025)
    assert config.http == HostPort("127.0.0.1", 8025)
    assert config.db is None and config.max_messages > 0


def test_flag_wins_over_environment() -> None:
    environ = {"MAILTRAP_LITE_SMTP": "0.0.0.0:2525", "MAILTRAP_LITE_HTTP": "0.0.0.0:9000"}
    config = build_config({"smtp": "127.0.0.1:3000"}, environ=environ)
    assert config.smtp == HostPort("127.0.0.1", 3000)
    assert config.http == HostPort("0.0.0.0", 9000)


def test_every_option_has_a_config_field_flag_and_variable() -> None:
    fields = set(Config.__dataclass_fields__)
    for option in OPTIONS:
        assert option.name in fields
        assert option.flag.startswith("--") and option.env.startswith("MAILTRAP_LITE_")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:25", HostPort("127.0.0.1", 25)),
        (":25", HostPort("127.0.0.1", 25)),
        ("[::1]:8025", HostPort("::1", 8025)),
        ("0.0.0.0:0", HostPort("0.0.0.0", 0)),
    ],
)
def test_host_port(text: str, expected: HostPort) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["nope", "1.2.3.4:99999", "host:", "a:b:c"])
def test_bad_host_port(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_host_port(text)


def test_sizes_and_durations() -> None:
    assert parse_size("50MiB") == 50 * 1024 * 1024
    assert parse_size("512k") == 512 * 1024
    assert parse_size("1000") == 1000
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("90") == 90
    for bad in ("-1", "lots", "0"):
        with pytest.raises(ConfigError):
            parse_size(bad)
    with pytest.raises(ConfigError):
        parse_duration("soon")


def test_fault_spec() -> None:
    assert parse_fault("rcpt:550:bounce@*") == FaultSpec("rcpt", 550, "bounce@*", None)
    assert parse_fault("data:451::2") == FaultSpec("data", 451, None, 2)
    for bad in ("rcpt", "later:451", "rcpt:250", "rcpt:abc"):
        with pytest.raises(ConfigError):
            parse_fault(bad)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MAILTRAP_LITE_MAX_MESSAGES"):
        build_config({}, environ={"MAILTRAP_LITE_MAX_MESSAGES": "many"})


def test_ui_auth_needs_both_parts() -> None:
    with pytest.raises(ConfigError, match="--ui-auth"):
        build_config({"ui_auth": "admin"}, environ={})
    assert build_config({"ui_auth": "admin:pw"}, environ={}).ui_auth == ("admin", "pw")


def test_missing_tls_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        build_config({"tls_cert": str(tmp_path / "nope.pem")}, environ={})


@pytest.mark.parametrize(
    ("http", "ui_auth", "warned"),
    [
        ("127.0.0.1:8025", None, False),
        ("[::1]:8025", None, False),
        ("localhost:8025", None, False),
        ("0.0.0.0:8025", None, True),
        ("[::]:8025", None, True),
        ("192.0.2.7:8025", None, True),
        ("0.0.0.0:8025", "ann:secret", False),
    ],
)
def test_a_web_side_open_beyond_loopback_without_a_password_is_warned_about(
    http: str, ui_auth: str | None, warned: bool
) -> None:
    values = {"http": http} if ui_auth is None else {"http": http, "ui_auth": ui_auth}
    warning = exposure_warning(build_config(values, environ={}))
    assert (warning is not None) == warned
    if warning is not None:
        assert "--ui-auth" in warning and "anyone who can reach" in warning
