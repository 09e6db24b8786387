"""TLS material: the generated certificate names the host and the loopback addresses; bad files refused."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from mailtrap_lite.config import Config, build_config
from mailtrap_lite.errors import ConfigError
from mailtrap_lite.smtp.tls import self_signed, server_context


def test_self_signed_certificate_names() -> None:
    certificate_pem, key_pem = self_signed("mail.test")
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["mail.test", "localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert b"PRIVATE KEY" in key_pem


def test_an_ip_host_name_becomes_an_ip_san() -> None:
    certificate = x509.load_pem_x509_certificate(self_signed("10.1.2.3")[0])
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.1.2.3") in names.get_values_for_type(x509.IPAddress)


def test_no_tls_unless_configured() -> None:
    assert server_context(Config()) is None


def test_self_signed_context_is_a_server_context() -> None:
    material = server_context(Config(tls_self_signed=True))
    assert material is not None
    assert material.context.verify_mode == ssl.CERT_NONE  # clients are not asked for certificates
    assert material.certificate_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_given_files_are_loaded(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    material = server_context(Config(tls_cert=cert, tls_key=key))
    assert material is not None and material.certificate_pem == cert.read_bytes()


def test_a_key_that_does_not_fit_is_a_config_error(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.issue_cert("localhost").cert_chain_pems[0].write_to_path(str(cert))
    ca.issue_cert("other").private_key_pem.write_to_path(str(key))
    with pytest.raises(ConfigError, match="--tls-cert/--tls-key: cannot load"):
        server_context(Config(tls_cert=cert, tls_key=key))


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"smtps": "127.0.0.1:0"}, "needs TLS material: --tls-cert/--tls-key or --tls-self-signed"),
        ({"require_tls": True}, "needs TLS material: --tls-cert/--tls-key or --tls-self-signed"),
        ({"tls_self_signed": True, "tls_cert": __file__, "tls_key": __file__}, "cannot be combined"),
        ({"tls_cert": __file__}, "go together"),
    ],
)
def test_tls_options_that_cannot_work_are_refused(values: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        build_config(values, environ={})
