"""A bare IMAP client over a socket, for tests that need to send exactly what a client would not."""

from __future__ import annotations

import socket
import ssl


class Wire:
    def __init__(self, address: tuple[str, int], context: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection(address, timeout=30)
        self.sock: socket.socket = context.wrap_socket(sock, server_hostname="localhost") if context else sock
        self.buffer = b""
        self.greeting = self.line()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; unfinished: {self.buffer!r}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line + b"\r\n"

    def until_tagged(self, tag: str) -> list[bytes]:
        """Every line up to and including the tagged reply."""
        lines = []
        while True:
            lines.append(self.line())
            if lines[-1].startswith(f"{tag} ".encode()):
                return lines

    def ask(self, tag: str, command: str) -> list[bytes]:
        self.send(f"{tag} {command}\r\n".encode())
        return self.until_tagged(tag)

    def closed(self) -> bool:
        """Whether the server closed the connection (after whatever it still sent)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
