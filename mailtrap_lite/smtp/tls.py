"""TLS for STARTTLS and implicit TLS: the server's SSLContext from PEM files or a generated certificate.

The standard library cannot make a certificate, so ``--tls-self-signed`` uses ``cryptography``: an ECDSA
P-256 key (generated in a millisecond, unlike RSA) and a certificate for the configured host name,
``localhost``, ``127.0.0.1`` and ``::1``, valid from a day ago for a year.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mailtrap_lite.config import Config
from mailtrap_lite.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TLSMaterial:
    context: ssl.SSLContext
    certificate_pem: bytes  # what a client may trust (cafile=...) to verify the server


def server_context(config: Config) -> TLSMaterial | None:
    """The TLS context the configuration asks for, or None; raises ConfigError on unusable material."""
    if config.tls_self_signed:
        certificate, key = self_signed(config.hostname)
        with tempfile.TemporaryDirectory(prefix="mailtrap-lite-tls-") as directory:
            # ssl loads keys from files only; the directory is private to this user and removed at once.
            cert_path, key_path = Path(directory, "cert.pem"), Path(directory, "key.pem")
            cert_path.write_bytes(certificate)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key)
            return TLSMaterial(_context(cert_path, key_path), certificate)
    if config.tls_cert is not None and config.tls_key is not None:
        return TLSMaterial(_context(config.tls_cert, config.tls_key), config.tls_cert.read_bytes())
    return None


def _context(cert: Path, key: Path) -> ssl.SSLContext:
    # A server context: clients are not asked for certificates (verify_mode stays CERT_NONE).
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(os.fspath(cert), os.fspath(key))
    except (ssl.SSLError, OSError) as error:
        raise ConfigError(f"--tls-cert/--tls-key: cannot load {cert} with {key}: {error}") from None
    return context


def self_signed(hostname: str) -> tuple[bytes, bytes]:
    """A PEM certificate and PEM private key for ``hostname``, localhost and the loopback addresses."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for name in (hostname, "localhost", "127.0.0.1", "::1"):
        try:
            general: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            general = x509.DNSName(name)
        if general not in names:
            names.append(general)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64] or "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
