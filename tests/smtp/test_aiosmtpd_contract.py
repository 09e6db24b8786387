"""The names of aiosmtpd's internals that mailtrap_lite/smtp/protocol.py relies on.

aiosmtpd has no hooks for a transcript, a chunked DATA reader or per-connection limits, so the protocol
subclass uses private methods and attributes of ``aiosmtpd.smtp.SMTP``. pyproject.toml pins aiosmtpd to
the minor version they were read from; this test fails loudly, naming the missing one, if an upgrade
drops or changes any of them.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import aiosmtpd
from aiosmtpd.smtp import SMTP

# Methods called or overridden, with the parameters the protocol passes or expects.
METHODS = {
    "_reset_timeout": ["self", "duration"],
    "_timeout_cb": ["self"],
    "_set_post_data_state": ["self"],
    "_getaddr": ["self", "arg"],
    "_strip_command_keyword": ["self", "keyword", "arg"],
    "_create_envelope": ["self"],
    "check_helo_needed": ["self", "helo"],
    "check_auth_needed": ["self", "caller_method"],
    "challenge_auth": ["self", "challenge", "encode_to_b64", "log_client_response"],
    "handle_exception": ["self", "error"],
    "push": ["self", "status"],
}
# Instance attributes read or replaced, with their type once a connection is made.
ATTRIBUTES: dict[str, type | tuple[type, ...]] = {
    "_original_transport": type(None),  # set to the plaintext transport by STARTTLS
    "_smtp_methods": dict,  # command name -> bound method; replaced to refuse all but QUIT
    "_timeout_duration": (int, float),
    "_reader": asyncio.StreamReader,  # the DATA reader reads from it directly
    "command_size_limits": dict,  # a class-level dict that EHLO grows; made per connection
    "__ident__": str,  # the greeting's text after the host name
    "local_part_limit": int,
}
CLASS_ATTRIBUTES: dict[str, type] = {"command_size_limit": int, "line_length_limit": int}


def test_aiosmtpd_is_the_pinned_minor_version() -> None:
    assert aiosmtpd.__version__.startswith("1.4."), aiosmtpd.__version__


def test_every_private_method_used_still_exists_with_its_parameters() -> None:
    for name, parameters in METHODS.items():
        method = getattr(SMTP, name, None)
        assert callable(method), f"aiosmtpd.smtp.SMTP.{name} is gone"
        assert list(inspect.signature(method).parameters) == parameters, f"SMTP.{name} changed"
    for name, kind in CLASS_ATTRIBUTES.items():
        assert isinstance(getattr(SMTP, name, None), kind), f"aiosmtpd.smtp.SMTP.{name} is gone"


def test_every_instance_attribute_used_is_set_by_a_real_connection() -> None:
    seen: dict[str, Any] = {}

    class Probe(SMTP):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            seen.update({name: getattr(self, name, seen) for name in ATTRIBUTES})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Probe(object()), "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"220 ")
            writer.close()
            await writer.wait_closed()
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    for name, kind in ATTRIBUTES.items():
        assert seen.get(name, seen) is not seen, f"aiosmtpd no longer sets SMTP.{name}"
        assert isinstance(seen[name], kind), f"SMTP.{name} is now {type(seen[name]).__name__}"
